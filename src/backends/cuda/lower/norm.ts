/** Lowering of normalization (layer / group norm with a broadcast affine) and softmax to the row kernels. */
import type { LayerStepOf } from '../../../engine/plan.js';
import { contiguousStrides, normDim, numelOf } from '../../../tensor/shape.js';
import type { NativeOpSpec } from '../exec_spec.js';
import { broadcastView, coalesce } from '../strided.js';
import { floatOf, viewOf, type Operands } from './operands.js';

/** (x - mean) / sqrt(var + eps) * scale + bias over trailing dims, or over each channel group. */
export function lowerNormalization(ops: Operands, index: number, step: LayerStepOf<'normalization'>): NativeOpSpec[] {
  const x = ops.input(index, 0);
  const scale = ops.input(index, 1);
  const bias = ops.input(index, 2);
  const out = ops.output(index);
  const shape = out.shape;
  const numel = numelOf(shape);
  const { numGroups, axes, eps } = step.params;
  let rows: number;
  if (numGroups > 1) rows = shape[0]! * numGroups;
  else {
    const normalized = new Set(axes.map((a) => normDim(a, shape.length, `step '${step.name}': axis`)));
    rows = numelOf(shape.filter((_, d) => !normalized.has(d)));
  }
  const cols = rows === 0 ? 0 : numel / rows;
  const what = `step '${step.name}'`;
  const c = coalesce(shape, [
    contiguousStrides(shape),
    broadcastView(viewOf(scale), shape, `${what}: scale`).strides,
    broadcastView(viewOf(bias), shape, `${what}: bias`).strides,
  ]);
  if (scale.dtype !== bias.dtype) throw new TypeError(`${what}: scale and bias must share a dtype, got ${scale.dtype} and ${bias.dtype}`);
  return [{
    step: index, op: 'layernorm', dtype: floatOf(out.dtype, what), affineDtype: floatOf(scale.dtype, `${what}: scale`),
    rows, cols, eps, x: x.ref, y: out.ref, scale: scale.ref, bias: bias.ref,
    scaleView: { shape: c.shape, strides: c.strides[1]! }, biasView: { shape: c.shape, strides: c.strides[2]! },
  }];
}

/** Softmax / log-softmax along one dim. */
export function lowerSoftmax(ops: Operands, index: number, step: LayerStepOf<'softmax'>): NativeOpSpec[] {
  const x = ops.input(index, 0);
  const out = ops.output(index);
  const axis = normDim(step.params.axis, x.shape.length, `step '${step.name}': axis`);
  const dtype = floatOf(out.dtype, `step '${step.name}'`);
  return [{
    step: index, op: 'softmax', xDtype: floatOf(x.dtype, `step '${step.name}'`), yDtype: dtype, x: x.ref, y: out.ref,
    outer: numelOf(x.shape.slice(0, axis)), size: x.shape[axis]!, inner: numelOf(x.shape.slice(axis + 1)),
    scale: 1, log: step.params.log, causalRows: 0,
  }];
}
