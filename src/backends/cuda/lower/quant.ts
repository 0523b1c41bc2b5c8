/**
 * Lowering of standalone quantize / dequantize steps (Q/DQ that did not fuse into an int8 kernel)
 * to the quant kernel (native/src/kernels/quant.h): one pass over the output in its memory order,
 * the scale and zero point broadcast along every dim but the channel axis. Scales that are plan
 * constants are checked here as the reference checks them, since the kernel cannot report bad data.
 */
import type { LayerStep, LayerStepOf, Plan } from '../../../engine/plan.js';
import { numelOf } from '../../../tensor/shape.js';
import { Tensor } from '../../../tensor/tensor.js';
import type { NativeOpSpec } from '../exec_spec.js';
import { coalesce, walkOrder } from '../strided.js';
import type { Operand, Operands } from './operands.js';

/** The values of plan value `id` when it is a constant, else null. */
export function constantValues(plan: Plan, id: number): Float64Array | null {
  const loc = plan.values[id]!.location;
  if (loc.kind !== 'constant') return null;
  const c = plan.constants[loc.index]!;
  return Tensor.fromBytes(plan.blob.subarray(c.offset, c.offset + c.byteLength), [numelOf(c.shape)], c.dtype).toFloat64();
}

/** Rejects constant quantization scales the reference rejects: each must be a positive finite float32 with a finite reciprocal. */
export function checkScales(plan: Plan, step: LayerStepOf<'quantize'>): void {
  const scales = constantValues(plan, step.inputs[1]!);
  if (scales === null) return;
  scales.forEach((s, c) => {
    const f = Math.fround(s);
    if (!(f > 0) || !Number.isFinite(f) || !Number.isFinite(Math.fround(1 / f))) {
      const where = step.params.axis === null ? '' : ` of channel ${c}`;
      throw new RangeError(`step '${step.name}': scale${where} must be a positive finite float32 whose reciprocal is finite, got ${s}`);
    }
  });
}

/** Strides of the scale-shaped operand `p` broadcast over `shape`: 0 everywhere but along `axis`. */
function paramStrides(p: Operand, shape: readonly number[], axis: number | null): number[] {
  return shape.map((size, d) => (d === axis && size > 1 ? p.strides[p.strides.length - 1]! : 0));
}

/** A quantize or a dequantize step. */
type QdqStep = Extract<LayerStep, { readonly kind: 'quantize' | 'dequantize' }>;

/** quantize (float → int8/uint8/int32) or dequantize (int → float), per tensor or along `axis`. */
export function lowerQuantization(ops: Operands, index: number, step: QdqStep): NativeOpSpec[] {
  const x = ops.input(index, 0);
  const scale = ops.input(index, 1);
  const zeroPoint = step.inputs.length > 2 ? ops.input(index, 2) : null;
  const y = ops.output(index);
  if (step.kind === 'quantize') checkScales(ops.plan, step);
  const axis = step.params.axis;
  const order = walkOrder(y.strides);
  const shape = order.map((d) => y.shape[d]!);
  const perDim = (s: readonly number[]): number[] => order.map((d) => s[d]!);
  const strides = [y.strides, x.strides, paramStrides(scale, y.shape, axis), ...(zeroPoint ? [paramStrides(zeroPoint, y.shape, axis)] : [])];
  const c = coalesce(shape, strides.map(perDim));
  return [{
    step: index, op: step.kind, shape: c.shape,
    x: { ref: x.ref, dtype: x.dtype, strides: c.strides[1]! },
    y: { ref: y.ref, dtype: y.dtype, strides: c.strides[0]! },
    scale: { ref: scale.ref, dtype: scale.dtype, strides: c.strides[2]! },
    ...(zeroPoint ? { zeroPoint: { ref: zeroPoint.ref, dtype: zeroPoint.dtype, strides: c.strides[3]! } } : {}),
  }];
}
