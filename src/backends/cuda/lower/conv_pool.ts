/**
 * Lowering of convolutions and transposed convolutions (cuDNN, channels-last, fused epilogue) and
 * pooling (own kernel, any layout; int8 steps of the Q/DQ fusion too).
 */
import type { LayerStepOf } from '../../../engine/plan.js';
import { CONSTANT_MEMORY, type ConvGeometrySpec, type NativeOpSpec } from '../exec_spec.js';
import { epilogueOp, quantOf, scaleOperand, scaleRef } from './pointwise.js';
import { floatOf, type Operands } from './operands.js';

/**
 * What a convolution and a transposed convolution op share: the geometry on channels-last x and
 * y, the filter, the residual and ReLU the library call applies, and the op applying the rest of
 * the step's epilogue (if any) after it.
 */
function convGeometry(
  ops: Operands, index: number, step: LayerStepOf<'convolution'> | LayerStepOf<'deconvolution'>, what: string,
): { geometry: ConvGeometrySpec; rest: NativeOpSpec[] } {
  const x = ops.input(index, 0);
  const y = ops.output(index);
  if (x.layout !== 'nhwc' || y.layout !== 'nhwc') throw new Error(`step '${step.name}': the ${what} needs channels-last operands, got ${x.layout} -> ${y.layout}`);
  const epilogue = ops.layout.epilogues.get(index);
  const filter = ops.constants.filters.get(index);
  if (epilogue === undefined || filter === undefined) throw new Error(`step '${step.name}': ${what} constants were not prepared`);
  const p = step.params;
  const geometry: ConvGeometrySpec = {
    dtype: floatOf(y.dtype, `step '${step.name}': the ${what}`),
    n: x.shape[0]!, c: x.shape[1]!, k: y.shape[1]!, groups: p.groups,
    inSpatial: x.shape.slice(2), outSpatial: y.shape.slice(2), kernel: p.kernelSize,
    stride: p.stride, dilation: p.dilation, prePadding: p.prePadding, postPadding: p.postPadding,
    x: x.ref, filter: { mem: CONSTANT_MEMORY, offset: filter },
    ...(epilogue.residual !== null ? { z: ops.input(index, epilogue.residual).ref } : {}),
    y: y.ref, relu: epilogue.act === 'relu',
  };
  return { geometry, rest: epilogue.rest.length === 0 ? [] : [epilogueOp(ops, index, epilogue.rest, y)] };
}

/**
 * Convolution (1 to 3 spatial dims, any padding) + bias (+ residual) (+ relu) in one cuDNN call,
 * or the conv then one epilogue kernel.
 */
export function lowerConvolution(ops: Operands, index: number, step: LayerStepOf<'convolution'>): NativeOpSpec[] {
  const { geometry, rest } = convGeometry(ops, index, step, 'convolution');
  const bias = ops.constants.biases.get(index);
  if (bias === undefined) throw new Error(`step '${step.name}': the convolution bias was not prepared`);
  return [{ step: index, op: 'conv', ...geometry, bias: { mem: CONSTANT_MEMORY, offset: bias } }, ...rest];
}

/** Transposed convolution (cuDNN backward data) then bias (+ residual) (+ relu) in one kernel, where the step has them. */
export function lowerDeconvolution(ops: Operands, index: number, step: LayerStepOf<'deconvolution'>): NativeOpSpec[] {
  const { geometry, rest } = convGeometry(ops, index, step, 'transposed convolution');
  const bias = ops.constants.biases.get(index);
  return [{ step: index, op: 'deconv', ...geometry, ...(bias !== undefined ? { bias: { mem: CONSTANT_MEMORY, offset: bias } } : {}) }, ...rest];
}

/** The pool op of a pooling step whose input has dtype `dtype`: its geometry, operands in any layout. */
function poolOp(ops: Operands, index: number, step: LayerStepOf<'pooling'>, dtype: Extract<NativeOpSpec, { op: 'pool' }>['dtype']): Extract<NativeOpSpec, { op: 'pool' }> {
  const x = ops.input(index, 0);
  const y = ops.output(index);
  const p = step.params;
  return {
    step: index, op: 'pool', dtype, type: p.type,
    x: x.ref, inShape: x.shape, xStrides: x.strides, y: y.ref, outShape: y.shape, yStrides: y.strides,
    window: p.windowSize, stride: p.stride, prePadding: p.prePadding, postPadding: p.postPadding, dilation: p.dilation,
    excludePadding: p.averageCountExcludesPadding, divisor: p.divisor ?? 0, channelsLast: y.layout === 'nhwc',
  };
}

/**
 * Max / average pooling over the trailing 1 to 3 spatial dims of [N, C, ...], reading and writing
 * any layout; max pooling also of int8 (quantized values, which it commutes with).
 */
export function lowerPooling(ops: Operands, index: number, step: LayerStepOf<'pooling'>): NativeOpSpec[] {
  const y = ops.output(index);
  const p = step.params;
  const dtype = p.type === 'max' && y.dtype === 'int8' ? 'int8' : floatOf(y.dtype, `step '${step.name}': ${p.type} pooling`);
  return [poolOp(ops, index, step, dtype)];
}

/**
 * An int8 pooling step (plan.ts StepQuantization): max or average of the int8 input's integers
 * (the average: the exact window sum over the divisor), times the input's per-tensor scale, then
 * requantized with the output scale or stored in the output's float dtype.
 */
export function lowerInt8Pooling(ops: Operands, index: number, step: LayerStepOf<'pooling'>): NativeOpSpec[] {
  const q = quantOf(step);
  const x = q.operands[0];
  if (q.operands.length !== 1 || x === undefined || x.input !== 0) {
    throw new RangeError(`step '${step.name}': an int8 pooling step has one int8 operand, its input 0, got inputs [${q.operands.map((o) => o.input).join(', ')}]`);
  }
  if (x.axis !== null) throw new RangeError(`step '${step.name}' (int8 pooling): the input must be quantized per tensor, got axis ${x.axis}`);
  const input = ops.input(index, 0);
  if (input.dtype !== 'int8') throw new TypeError(`step '${step.name}': the input of an int8 pooling step must be int8, got ${input.dtype}`);
  const xScale = scaleRef(ops, index, scaleOperand(ops, index, x.scale, 1, 'the input scale'));
  const y = ops.output(index);
  if (q.outputScale === null) {
    const yDtype = floatOf(y.dtype, `step '${step.name}': the output of an int8 pooling step without an output scale`);
    return [{ ...poolOp(ops, index, step, 'int8'), xScale, yDtype }];
  }
  if (y.dtype !== 'int8') throw new TypeError(`step '${step.name}': an output with a scale must be int8, got ${y.dtype}`);
  const yScale = scaleRef(ops, index, scaleOperand(ops, index, q.outputScale, 1, 'the output scale'));
  return [{ ...poolOp(ops, index, step, 'int8'), xScale, yDtype: 'int8', yScale }];
}
