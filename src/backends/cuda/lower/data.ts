/**
 * Lowering of the steps that move elements (shuffle, concatenation, slice) and of the backend's
 * own copies (layout conversions, network outputs) to the strided copy kernel: the source and
 * destination are views walked in the same row-major order of their own shapes.
 */
import type { LayerStepOf } from '../../../engine/plan.js';
import { itemSize } from '../../../tensor/dtype.js';
import { normDim } from '../../../tensor/shape.js';
import type { MemRef, NativeOpSpec, View } from '../exec_spec.js';
import { coalesceView, permuteView } from '../strided.js';
import { offsetRef, viewOf, type Operand, type Operands } from './operands.js';

/** A copy of `src` into `dst` (same element count), each view walked in its own row-major order. */
export function copyOp(step: number, elemBytes: number, src: MemRef, srcView: View, dst: MemRef, dstView: View): NativeOpSpec {
  return { step, op: 'copy', elemBytes, src, srcView: coalesceView(srcView), dst, dstView: coalesceView(dstView) };
}

/** Copies value operand `from` into operand `to` (same logical shape, any layouts). */
export function convertOp(step: number, from: Operand, to: Operand): NativeOpSpec {
  return copyOp(step, itemSize(from.dtype), from.ref, viewOf(from), to.ref, viewOf(to));
}

/**
 * TensorRT's shuffle: out = transpose₂(reshape(transpose₁(x))). The source is x's view permuted
 * by the first transpose; the destination is the output viewed in the reshaped shape, i.e. the
 * output's strides permuted back through the second transpose.
 */
export function lowerShuffle(ops: Operands, index: number, step: LayerStepOf<'shuffle'>): NativeOpSpec[] {
  const x = ops.input(index, 0);
  const out = ops.output(index);
  const { firstTranspose, secondTranspose } = step.params;
  const src = firstTranspose ? permuteView(viewOf(x), firstTranspose) : viewOf(x);
  let dst: View = viewOf(out);
  if (secondTranspose) {
    const shape = new Array<number>(out.shape.length);
    const strides = new Array<number>(out.shape.length);
    secondTranspose.forEach((p, i) => {
      shape[p] = out.shape[i]!;
      strides[p] = out.strides[i]!;
    });
    dst = { shape, strides };
  }
  return [copyOp(index, itemSize(x.dtype), x.ref, src, out.ref, dst)];
}

/** Each input copied into its slice of the output along the axis. */
export function lowerConcatenation(ops: Operands, index: number, step: LayerStepOf<'concatenation'>): NativeOpSpec[] {
  const out = ops.output(index);
  const axis = normDim(step.params.axis, out.shape.length, `step '${step.name}': axis`);
  let at = 0;
  return step.inputs.map((_, p) => {
    const x = ops.input(index, p);
    const dst = offsetRef(out.ref, at * out.strides[axis]!, out.dtype);
    at += x.shape[axis]!;
    return copyOp(index, itemSize(x.dtype), x.ref, viewOf(x), dst, { shape: x.shape, strides: out.strides });
  });
}

/** TensorRT's slice in 'default' mode: output index i of dim d reads start[d] + i * stride[d]. */
export function lowerSlice(ops: Operands, index: number, step: LayerStepOf<'slice'>): NativeOpSpec[] {
  const x = ops.input(index, 0);
  const out = ops.output(index);
  const { start, stride, size } = step.params;
  let offset = 0;
  const strides = out.shape.map((n, d) => {
    const whole = size[d] === -1;
    const s0 = whole ? 0 : start[d]!;
    const st = whole ? 1 : stride[d]!;
    const lastIndex = s0 + (n - 1) * st;
    if (n > 0 && (s0 < 0 || s0 >= x.shape[d]! || lastIndex < 0 || lastIndex >= x.shape[d]!)) {
      throw new RangeError(`step '${step.name}': slice reads index ${s0 < 0 || s0 >= x.shape[d]! ? s0 : lastIndex} of dim ${d} (size ${x.shape[d]}) with mode 'default'`);
    }
    offset += s0 * x.strides[d]!;
    return st * x.strides[d]!;
  });
  return [copyOp(index, itemSize(x.dtype), offsetRef(x.ref, offset, x.dtype), { shape: out.shape, strides }, out.ref, viewOf(out))];
}

/**
 * The shape layer: the input's dims at run time as int64 words. They are known when the program
 * for these shapes is prepared, so each is a one-word fill.
 */
export function lowerShape(ops: Operands, index: number, step: LayerStepOf<'shape'>): NativeOpSpec[] {
  const x = ops.input(index, 0);
  const out = ops.output(index);
  if (out.dtype !== 'int64') throw new TypeError(`step '${step.name}': the shape layer writes int64, the plan records ${out.dtype}`);
  return x.shape.map((dim, d) => ({
    step: index, op: 'fill', elemBytes: 8, dst: offsetRef(out.ref, d * (out.strides[0] ?? 1), out.dtype),
    dstView: { shape: [1], strides: [1] }, wordLo: dim % 2 ** 32, wordHi: Math.floor(dim / 2 ** 32),
  }));
}
