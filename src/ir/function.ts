import { bindArgs, sig, type Kwargs, type Signature } from './signature.js';

/**
 * The target of a call_function node: a named function with a signature.
 * Names are globally unique ('F.relu', 'acc.conv2d', 'getitem', 'user.myOp') so that
 * graphs print, generate code and serialize by name, and load back to the same function.
 */
export interface GraphFunction {
  readonly name: string;
  readonly signature: Signature;
  /** Has side effects: never removed by dead-code elimination, never constant-folded. */
  readonly impure?: boolean;
  /** Runs the function on concrete values (args already split from options). */
  invoke(args: readonly unknown[], kwargs: Kwargs): unknown;
}

const registry = new Map<string, GraphFunction>();

/** Registers a function under its unique name; re-registering the same name with another function throws. */
export function registerFunction<F extends GraphFunction>(fn: F): F {
  const prev = registry.get(fn.name);
  if (prev && prev !== fn) throw new Error(`a graph function named '${fn.name}' is already registered`);
  registry.set(fn.name, fn);
  return fn;
}

export function lookupFunction(name: string): GraphFunction | undefined {
  return registry.get(name);
}

export function getFunction(name: string): GraphFunction {
  const f = registry.get(name);
  if (!f) throw new Error(`unknown graph function '${name}' (is the module that defines it imported / registered with wrap()?)`);
  return f;
}

export function registeredFunctions(): GraphFunction[] {
  return [...registry.values()];
}

/** Built-in: element `index` of a tuple/list value (fx's operator.getitem). */
export const getitem: GraphFunction = registerFunction({
  name: 'getitem',
  signature: sig('input', 'index'),
  invoke(args, kwargs) {
    const b = bindArgs(this.signature, args, kwargs, 'getitem');
    const seq = b['input'];
    const idx = b['index'];
    if (!Array.isArray(seq)) throw new TypeError(`getitem: expected a list or tuple, got ${describe(seq)}`);
    if (typeof idx !== 'number' || !Number.isInteger(idx)) throw new TypeError(`getitem: index must be an integer, got ${describe(idx)}`);
    const i = idx < 0 ? idx + seq.length : idx;
    if (i < 0 || i >= seq.length) throw new RangeError(`getitem: index ${idx} out of range for length ${seq.length}`);
    return seq[i];
  },
});

export function describe(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return `array(${x.length})`;
  if (typeof x === 'object') return x.constructor?.name ?? 'object';
  return `${typeof x} ${String(x)}`;
}
