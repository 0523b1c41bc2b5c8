import type { GraphFunction } from '../ir/function.js';
import { findTracer, TraceProxy } from '../ir/proxy.js';
import { splitCallArgs, type Kwargs, type Signature } from '../ir/signature.js';
import { Tensor } from '../tensor/tensor.js';
import { applyMapping, eagerEmitter, registerMapping, type AccMapping, type MappingRule } from './mapping.js';

/**
 * The single entry point of every source-level call. A call that involves a traced value
 * goes to that value's tracer (recorded, or mapped to acc ops); otherwise it runs eagerly.
 */
export function invokeFunction(fn: GraphFunction, args: readonly unknown[], kwargs: Kwargs): unknown {
  const tracer = findTracer(args, kwargs);
  if (tracer) return tracer.onFunction(fn, args, kwargs);
  return fn.invoke(args, kwargs);
}

/** Calls `fn` with a raw JS argument list (positional args, then an optional options object). */
export function callFunction(fn: GraphFunction, raw: readonly unknown[]): unknown {
  const [args, kwargs] = splitCallArgs(fn.signature, raw);
  return invokeFunction(fn, args, kwargs);
}

interface MethodDef {
  readonly name: string;
  readonly signature: Signature;
  readonly mapping?: AccMapping;
  /** For in-place methods (`add_`): the functional method whose result is written back into self. */
  readonly inplaceOf?: string;
}

const methods = new Map<string, MethodDef>();

/**
 * Defines a tensor method by its acc mapping; the signature's first parameter is the receiver ('input').
 * In-place variants are defined with `{ inplaceOf: 'add' }`.
 */
export function defineMethod(name: string, signature: Signature, rule: MappingRule | { inplaceOf: string }): void {
  if (methods.has(name)) throw new Error(`tensor method '${name}' is defined twice`);
  if ('inplaceOf' in rule) methods.set(name, { name, signature, inplaceOf: rule.inplaceOf });
  else methods.set(name, { name, signature, mapping: registerMapping(`method:${name}`, signature, rule) });
}

export function getMethod(name: string): MethodDef | undefined {
  return methods.get(name);
}

export function methodNames(): string[] {
  return [...methods.keys()];
}

/** Calls tensor method `name` on `self` with already split args (self not included). */
export function invokeMethod(name: string, self: unknown, args: readonly unknown[], kwargs: Kwargs): unknown {
  const tracer = self instanceof TraceProxy ? self.tracer : findTracer(args, kwargs);
  if (tracer) {
    if (!(self instanceof TraceProxy)) {
      throw new TypeError(`method '${name}' called on a concrete ${describeSelf(self)} with traced arguments; call the function form instead`);
    }
    return tracer.onMethod(name, self, args, kwargs);
  }
  const def = methods.get(name);
  if (!def) throw new TypeError(`unknown tensor method '${name}'`);
  if (!(self instanceof Tensor)) throw new TypeError(`method '${name}': receiver must be a Tensor, got ${describeSelf(self)}`);
  if (def.inplaceOf) {
    const result = invokeMethod(def.inplaceOf, self, args, kwargs);
    if (!(result instanceof Tensor)) throw new TypeError(`in-place method '${name}' expected '${def.inplaceOf}' to return a tensor`);
    const s = self.shape;
    const r = result.shape;
    if (s.length !== r.length || s.some((d, i) => d !== r[i])) {
      throw new RangeError(`in-place ${name}: result shape [${r.join(', ')}] does not match the receiver's shape [${s.join(', ')}]`);
    }
    self.setData(result.dtype === self.dtype ? result.data : result.castTo(self.dtype).data);
    return self;
  }
  return applyMapping(def.mapping!, [self, ...args], kwargs, eagerEmitter);
}

/** Calls tensor method `name` with a raw JS argument list. */
export function callMethod(name: string, self: unknown, raw: readonly unknown[]): unknown {
  const def = methods.get(name);
  if (!def) throw new TypeError(`unknown tensor method '${name}'`);
  const [args, kwargs] = splitCallArgs(def.signature, raw);
  return invokeMethod(name, self, args, kwargs);
}

function describeSelf(x: unknown): string {
  return x === null ? 'null' : typeof x === 'object' ? (x.constructor?.name ?? 'object') : typeof x;
}
