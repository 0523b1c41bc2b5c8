/**
 * Operands of pointwise converters: PyTorch's type promotion on network dtypes, and turning
 * scalars and mixed-dtype tensors into equal-dtype network tensors (layers never promote).
 */
import type { NetTensor } from '../engine/network.js';
import { resultType } from '../kernels/reference/broadcast.js';
import type { DType } from '../tensor/dtype.js';
import type { ConversionContext } from './context.js';

/** A pointwise operand after resolution: a network tensor or a Python-like scalar. */
export type Operand = NetTensor | number | boolean;

/** The dtype PyTorch computes `operands` in, as a network dtype (floats in the precision). */
export function computeType(ctx: ConversionContext, operands: readonly Operand[]): DType {
  return ctx.netType(resultType(operands));
}

/** The highest rank among the tensor operands (scalars become constants of this rank). */
export function maxRank(operands: readonly Operand[]): number {
  let r = 0;
  for (const o of operands) if (typeof o === 'object') r = Math.max(r, o.shape.length);
  return r;
}

/**
 * The operands as tensors of `dtype` and one rank (the highest, at least `minRank`): tensors are
 * cast and unsqueezed, scalars become [1, ..., 1] constants.
 * @example
 * const [a, b] = materialize(ctx, [x, 2], 'float32'); // x and a constant 2 of x's rank
 */
export function materialize(ctx: ConversionContext, operands: readonly Operand[], dtype: DType, minRank = 0): NetTensor[] {
  const rank = Math.max(maxRank(operands), minRank);
  return operands.map((o) => (typeof o === 'object' ? ctx.unsqueezeTo(ctx.cast(o, dtype), rank) : ctx.scalarConstant(o, dtype, rank)));
}
