// The acc op set must be registered before any mapping below is validated against it.
import '../../acc_ops/ops/index.js';
import { callFunction } from '../../acc_ops/dispatch.js';
import { defineSourceFunction, type MappingRule } from '../../acc_ops/mapping.js';
import { getitem } from '../../ir/function.js';
import { TraceProxy } from '../../ir/proxy.js';
import { bindArgs, isPlainObject, splitCallArgs, type Kwargs, type Signature } from '../../ir/signature.js';
import { formatShape, shapesEqual } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';

/** A mapping rule built for a display name ('F.max', 'Tensor.max'), so its errors name the form the user called. */
export type RuleFactory = (what: string) => MappingRule;

/**
 * How many values a tuple-valued call returns, from its bound arguments (undefined: a single value,
 * or a count not known before running). Used to unpack a symbolically traced tuple into getitem nodes.
 */
export type Arity = (bound: Kwargs) => number | undefined;

/** The definition of an F function, reused by tensor methods of the same meaning. */
export interface FunctionalSpec {
  readonly signature: Signature;
  readonly rule: RuleFactory;
  readonly arity?: Arity;
}

const specs = new Map<string, FunctionalSpec>();

/**
 * The argument lists of a call: required positionals `R`, then any prefix of the optional
 * positionals `P`, then an optional options object `O` naming any optional parameter, as in
 * `F.layerNorm(x, [768], w, b, { eps: 1e-12 })` or `F.conv2d(x, w, { stride: 2 })`.
 */
export type FArgs<R extends readonly unknown[], P extends readonly unknown[], O> = WithOpts<R, Prefixes<Required<P>>, O>;
type Prefixes<P extends readonly unknown[]> = P extends readonly [...infer Init, unknown] ? Prefixes<Init> | P : [];
type Loose<Q extends readonly unknown[]> = { [K in keyof Q]: Q[K] | undefined };
type WithOpts<R extends readonly unknown[], Q, O> = Q extends readonly unknown[] ? [...R, ...Loose<Q>, O?] : never;

/**
 * Defines `F.<name>`: a GraphFunction whose eager behaviour is its acc mapping, and the typed
 * wrapper users call (positional arguments, then an optional options object).
 *
 * @example
 * export const relu = defineF<[input: Tensor]>('relu', sig('input'), { to: 'relu' });
 */
export function defineF<A extends unknown[], R = Tensor>(
  name: string, signature: Signature, rule: MappingRule | RuleFactory, opts: DefineOpts = {},
): (...args: A) => R {
  const make: RuleFactory = typeof rule === 'function' ? rule : () => rule;
  const what = `F.${name}`;
  if (specs.has(name)) throw new Error(`${what} is defined twice`);
  specs.set(name, { signature, rule: make, ...(opts.arity ? { arity: opts.arity } : {}) });
  const fn = defineSourceFunction(what, signature, make(what));
  const { arity, inplace } = opts;
  return (...raw: A): R => {
    const args = cleanCallArgs(raw);
    const result = callFunction(fn, args);
    if (result instanceof TraceProxy) return (arity ? unpackTraced(result, arity, signature, args, what) : result) as R;
    if (inplace && result instanceof Tensor) return writeBackIfInplace(result, bindRaw(signature, args, what), what) as R;
    return result as R;
  };
}

export interface DefineOpts {
  /** The tuple length of the result, for unpacking a symbolically traced call. */
  arity?: Arity;
  /** The signature has an `inplace` flag: when set in eager mode, the result is written into `input`, which is returned. */
  inplace?: boolean;
}

function bindRaw(signature: Signature, raw: readonly unknown[], what: string): Kwargs {
  const [args, kwargs] = splitCallArgs(signature, raw);
  return bindArgs(signature, args, kwargs, what);
}

/** PyTorch's `inplace=True` on concrete tensors: the input takes the result's values (in its own dtype). */
function writeBackIfInplace(result: Tensor, bound: Kwargs, what: string): Tensor {
  const input = bound['input'];
  if (bound['inplace'] !== true || !(input instanceof Tensor) || input === result) return result;
  if (!shapesEqual(input.shape, result.shape)) {
    throw new RangeError(`${what}: inplace result shape ${formatShape(result.shape)} does not match the input's ${formatShape(input.shape)}`);
  }
  input.setData(result.dtype === input.dtype ? result.data : result.castTo(input.dtype).data);
  return input;
}

/** The signature and rule of `F.<name>` (for a tensor method with the same meaning). */
export function functionalSpec(name: string): FunctionalSpec {
  const s = specs.get(name);
  if (!s) throw new Error(`no F function named '${name}'`);
  return s;
}

/**
 * Drops what JS callers leave unset: `undefined` option values, an emptied options object and
 * trailing `undefined` positionals, so `F.conv2d(x, w, undefined, { stride: 2 })` records the
 * same call as `F.conv2d(x, w, { stride: 2 })`.
 */
export function cleanCallArgs(raw: readonly unknown[]): unknown[] {
  const out = [...raw];
  let opts: Kwargs | undefined;
  const last = out[out.length - 1];
  if (out.length > 0 && isPlainObject(last)) {
    out.pop();
    opts = {};
    for (const [k, v] of Object.entries(last)) if (v !== undefined) opts[k] = v;
  }
  while (out.length > 0 && out[out.length - 1] === undefined) out.pop();
  if (opts && Object.keys(opts).length > 0) out.push(opts);
  return out;
}

/**
 * A symbolic trace records a tuple-valued call as one node; when the tuple's length is known
 * from the arguments, it is unpacked into getitem nodes so `const [v, i] = F.topk(x, 2)` traces.
 */
export function unpackTraced(result: TraceProxy, arity: Arity, signature: Signature, raw: readonly unknown[], what: string): unknown {
  const n = arity(bindRaw(signature, raw, what));
  if (n === undefined) return result;
  const parts: unknown[] = [];
  for (let i = 0; i < n; i++) parts.push(callFunction(getitem, [result, i]));
  return parts;
}
