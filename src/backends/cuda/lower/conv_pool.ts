/** Lowering of 2-D convolutions (cuDNN, NHWC, fused epilogue) and 2-D pooling (own kernel, any layout). */
import type { LayerStepOf } from '../../../engine/plan.js';
import { CONSTANT_MEMORY, type NativeOpSpec } from '../exec_spec.js';
import { epilogueOp } from './pointwise.js';
import { floatOf, type Operands } from './operands.js';

/** conv2d + bias (+ residual) (+ relu) in one cuDNN call, or the conv then one epilogue kernel. */
export function lowerConvolution(ops: Operands, index: number, step: LayerStepOf<'convolution'>): NativeOpSpec[] {
  const x = ops.input(index, 0);
  const y = ops.output(index);
  const p = step.params;
  const epilogue = ops.layout.epilogues.get(index);
  const filter = ops.constants.filters.get(index);
  const bias = ops.constants.biases.get(index);
  if (epilogue === undefined || filter === undefined || bias === undefined) throw new Error(`step '${step.name}': convolution constants were not prepared`);
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const [, k, oh, ow] = y.shape as [number, number, number, number];
  const conv: NativeOpSpec = {
    step: index, op: 'conv2d', dtype: floatOf(y.dtype, `step '${step.name}': the convolution`),
    n, c, h, w, k, r: p.kernelSize[0]!, s: p.kernelSize[1]!, oh, ow,
    padH: p.prePadding[0]!, padW: p.prePadding[1]!, strideH: p.stride[0]!, strideW: p.stride[1]!,
    dilH: p.dilation[0]!, dilW: p.dilation[1]!, groups: p.groups,
    x: x.ref, filter: { mem: CONSTANT_MEMORY, offset: filter }, bias: { mem: CONSTANT_MEMORY, offset: bias },
    ...(epilogue.residual !== null ? { z: ops.input(index, epilogue.residual).ref } : {}),
    y: y.ref, relu: epilogue.act === 'relu',
  };
  if (epilogue.rest.length === 0) return [conv];
  return [conv, epilogueOp(ops, index, epilogue.rest, y)];
}

/** Max / average pooling over the last two dims, reading and writing any layout. */
export function lowerPooling(ops: Operands, index: number, step: LayerStepOf<'pooling'>): NativeOpSpec[] {
  const x = ops.input(index, 0);
  const y = ops.output(index);
  const p = step.params;
  return [{
    step: index, op: 'pool2d', dtype: floatOf(y.dtype, `step '${step.name}': pooling`), type: p.type,
    x: x.ref, inShape: x.shape, xStrides: x.strides, y: y.ref, outShape: y.shape, yStrides: y.strides,
    window: p.windowSize, stride: p.stride, prePadding: p.prePadding, postPadding: p.postPadding, dilation: p.dilation,
    excludePadding: p.averageCountExcludesPadding, divisor: p.divisor ?? 0, channelsLast: y.layout === 'nhwc',
  }];
}
