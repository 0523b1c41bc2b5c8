/**
 * Argument checks and normalization shared by the F mappers (PyTorch's _single/_pair/_triple
 * and friends). Every error names the function and argument and says what was expected.
 */
import type { Emitter } from '../../acc_ops/mapping.js';
import { describeValue } from '../../acc_ops/registry.js';
import type { Kwargs } from '../../ir/signature.js';
import { isDType, type DType } from '../../tensor/dtype.js';
import { normDim } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';

/** An integer number. */
export function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v);
}

/** An array of integer numbers. */
export function isIntList(v: unknown): v is number[] {
  return Array.isArray(v) && v.every(isInt);
}

/** The tensor argument `name`; throws naming `what` otherwise. */
export function tensorArg(kw: Kwargs, name: string, what: string): Tensor {
  const v = kw[name];
  if (!(v instanceof Tensor)) throw new TypeError(`${what}: argument '${name}' expects a Tensor, got ${describeValue(v)}`);
  return v;
}

/** An optional tensor argument (null when absent). */
export function optTensorArg(kw: Kwargs, name: string, what: string): Tensor | null {
  const v = kw[name];
  if (v === null || v === undefined) return null;
  return tensorArg(kw, name, what);
}

/** The int argument `name`; throws naming `what` otherwise. */
export function intArg(kw: Kwargs, name: string, what: string): number {
  const v = kw[name];
  if (!isInt(v)) throw new TypeError(`${what}: argument '${name}' expects an int, got ${describeValue(v)}`);
  return v;
}

/** The number argument `name`; throws naming `what` otherwise. */
export function numberArg(kw: Kwargs, name: string, what: string): number {
  const v = kw[name];
  if (typeof v !== 'number') throw new TypeError(`${what}: argument '${name}' expects a number, got ${describeValue(v)}`);
  return v;
}

/** The boolean argument `name`; throws naming `what` otherwise. */
export function boolArg(kw: Kwargs, name: string, what: string): boolean {
  const v = kw[name];
  if (typeof v !== 'boolean') throw new TypeError(`${what}: argument '${name}' expects a boolean, got ${describeValue(v)}`);
  return v;
}

/** The dtype argument `name`; throws naming `what` otherwise. */
export function dtypeArg(kw: Kwargs, name: string, what: string): DType {
  const v = kw[name];
  if (!isDType(v)) throw new TypeError(`${what}: argument '${name}' expects a dtype, got ${describeValue(v)}`);
  return v;
}

/**
 * An int or a list of `n` ints → `n` ints (PyTorch's _ntuple); a one-element list is repeated,
 * as ATen does for stride/padding/dilation.
 */
export function ntuple(v: unknown, n: number, what: string, name: string): number[] {
  if (isInt(v)) return new Array<number>(n).fill(v);
  if (isIntList(v)) {
    if (v.length === n) return [...v];
    if (v.length === 1) return new Array<number>(n).fill(v[0]!);
  }
  throw new TypeError(`${what}: argument '${name}' expects an int or a list of ${n} ints, got ${describeValue(v)}`);
}

/** A dim normalized against the tensor's rank; the error names the function. */
export function dimOf(e: Emitter, x: Tensor, dim: unknown, what: string, name = 'dim'): number {
  if (!isInt(dim)) throw new TypeError(`${what}: argument '${name}' expects an int, got ${describeValue(dim)}`);
  return normDim(dim, e.meta(x).shape.length, `${what}: ${name}`);
}

/** Casts `x` to `dtype` unless it already has it. */
export function castTo(e: Emitter, x: Tensor, dtype: DType): Tensor {
  return e.meta(x).dtype === dtype ? x : e.tensor('to_dtype', { input: x, dtype });
}

/** The optional `dtype` argument of softmax/cumsum-like functions: cast the input first, as PyTorch does. */
export function withDtype(e: Emitter, kw: Kwargs, what: string): Tensor {
  const x = tensorArg(kw, 'input', what);
  return kw['dtype'] === null || kw['dtype'] === undefined ? x : castTo(e, x, dtypeArg(kw, 'dtype', what));
}
