/**
 * Lowering of reductions to the reduce kernel (native/src/kernels/reduce.h): the input's dims
 * split into kept dims (one output element each, ordered as the output is laid out, so threads
 * write consecutive addresses) and reduced dims (largest stride first), each group with its
 * contiguous runs merged. Any input and output layout; any set of axes.
 */
import type { ReduceOp } from '../../../engine/network.js';
import type { LayerStepOf } from '../../../engine/plan.js';
import type { DType } from '../../../tensor/dtype.js';
import { normDim } from '../../../tensor/shape.js';
import type { MemRef, NativeOpSpec, View } from '../exec_spec.js';
import { coalesce, walkOrder } from '../strided.js';
import type { Operands } from './operands.js';

/** The kept dims of a reduction: sizes with the input's and the output's strides. */
export interface KeptDims {
  readonly shape: readonly number[];
  readonly xStrides: readonly number[];
  readonly yStrides: readonly number[];
}

/**
 * One reduce op: y[kept] = fn over `reduced` of x[kept]. Kept dims are walked in the output's
 * memory order; both groups are coalesced.
 * @example
 *   // sum over the last dim of a row-major [4, 5] x into a [4] y
 *   reduceOp(0, 'sum', 'float32', x, y, { shape: [4], xStrides: [5], yStrides: [1] }, { shape: [5], strides: [1] })
 */
export function reduceOp(step: number, fn: ReduceOp, dtype: DType, x: MemRef, y: MemRef, kept: KeptDims, reduced: View): NativeOpSpec {
  const order = walkOrder(kept.yStrides);
  const k = coalesce(order.map((d) => kept.shape[d]!), [order.map((d) => kept.yStrides[d]!), order.map((d) => kept.xStrides[d]!)]);
  const rOrder = walkOrder(reduced.strides);
  const r = coalesce(rOrder.map((d) => reduced.shape[d]!), [rOrder.map((d) => reduced.strides[d]!)]);
  return {
    step, op: 'reduce', fn, dtype, x, y,
    kept: { shape: k.shape, strides: k.strides[1]! }, yStrides: k.strides[0]!,
    reduced: { shape: r.shape, strides: r.strides[0]! },
  };
}

/** TensorRT's reduce layer: sum, prod, max, min or avg over `axes`, removed or kept as size 1. */
export function lowerReduce(ops: Operands, index: number, step: LayerStepOf<'reduce'>): NativeOpSpec[] {
  const x = ops.input(index, 0);
  const y = ops.output(index);
  const { op, axes, keepDims } = step.params;
  const reducedDims = new Set(axes.map((a) => normDim(a, x.shape.length, `step '${step.name}': axis`)));
  const keptDims = x.shape.map((_, d) => d).filter((d) => !reducedDims.has(d));
  const reduced = [...reducedDims].sort((a, b) => a - b);
  const kept: KeptDims = {
    shape: keptDims.map((d) => x.shape[d]!),
    xStrides: keptDims.map((d) => x.strides[d]!),
    // Without keepDims, output dim i is the i-th kept dim.
    yStrides: keptDims.map((d, i) => y.strides[keepDims ? d : i]!),
  };
  const view: View = { shape: reduced.map((d) => x.shape[d]!), strides: reduced.map((d) => x.strides[d]!) };
  return [reduceOp(index, op, y.dtype, x.ref, y.ref, kept, view)];
}
