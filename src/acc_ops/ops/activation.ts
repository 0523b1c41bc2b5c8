/**
 * Activation acc ops. hardswish, relu6 and mish are source forms that map onto these
 * (x * hardsigmoid(x), hardtanh(x, 0, 6), x * tanh(softplus(x))).
 */
import { isFloating, isIntegral, type DType } from '../../tensor/dtype.js';
import { formatShape, numelOf } from '../../tensor/shape.js';
import type { Tensor } from '../../tensor/tensor.js';
import { describeOperand, scalarAs, type ShapedType } from '../../kernels/reference/broadcast.js';
import {
  activationKernel, dropoutKernel, eluKernel, geluKernel, hardtanhKernel, leakyReluKernel, preluKernel, softplusKernel,
  type ActivationMathName,
} from '../../kernels/reference/activation.js';
import { defineAccOp, meta } from '../registry.js';

/**
 * Which inputs an activation takes: 'float' only floating tensors (PyTorch has no integer kernel);
 * 'to_float' also integers and bools, computed and returned as float32 (sigmoid, tanh);
 * 'int_to_float' integers as float32 but not bools; 'int' keeps integer dtypes, rejects bools.
 */
type InputRule = 'float' | 'to_float' | 'int_to_float' | 'int';

/** Compute/output dtype of an activation on `input`, or an error naming the op and the dtype. */
function activationType(op: string, input: ShapedType, rule: InputRule): DType {
  const dt = input.dtype;
  if (isFloating(dt)) return dt;
  if (rule === 'to_float') return 'float32';
  if (dt === 'bool' && rule !== 'float') throw new TypeError(`acc.${op}: bool inputs are not supported, got ${describeOperand(input)}`);
  if (rule === 'int_to_float') return 'float32';
  if (rule === 'int') return dt;
  throw new TypeError(`acc.${op}: expected a floating-point input (float32, float16 or bfloat16), got ${describeOperand(input)}`);
}

const ACTIVATIONS: readonly (readonly [ActivationMathName, InputRule])[] = [
  ['relu', 'int'], // max(x, 0); integers stay integers
  ['sigmoid', 'to_float'],
  ['tanh', 'to_float'],
  ['silu', 'float'], // x * sigmoid(x)
  ['selu', 'float'], // scale * elu(x, alpha) with SELU's fixed constants
  ['softsign', 'int_to_float'], // x / (1 + |x|)
  ['hardsigmoid', 'float'], // relu6(x + 3) / 6
];

for (const [name, rule] of ACTIVATIONS) {
  defineAccOp<{ input: Tensor }>({
    name,
    args: { input: { type: 'Tensor' } },
    properties: ['pointwise', 'unary'],
    infer: ({ input }) => meta(input.shape, activationType(name, input, rule)),
    kernel: ({ input }) => {
      const dt = activationType(name, input, rule);
      return activationKernel(input, name, dt, dt);
    },
  });
}

/** x for x > 0, negative_slope * x otherwise. */
export const accLeakyRelu = defineAccOp<{ input: Tensor; negative_slope: number }>({
  name: 'leaky_relu',
  args: { input: { type: 'Tensor' }, negative_slope: { type: 'float', default: 0.01 } },
  properties: ['pointwise', 'unary'],
  infer: ({ input }) => meta(input.shape, activationType('leaky_relu', input, 'float')),
  kernel: ({ input, negative_slope }) => {
    activationType('leaky_relu', input, 'float');
    return leakyReluKernel(input, Number(negative_slope));
  },
});

/** x for x > 0, alpha * (exp(x) - 1) otherwise. */
export const accElu = defineAccOp<{ input: Tensor; alpha: number }>({
  name: 'elu',
  args: { input: { type: 'Tensor' }, alpha: { type: 'float', default: 1 } },
  properties: ['pointwise', 'unary'],
  infer: ({ input }) => meta(input.shape, activationType('elu', input, 'float')),
  kernel: ({ input, alpha }) => {
    activationType('elu', input, 'float');
    return eluKernel(input, Number(alpha));
  },
});

/** x * Φ(x), exact ('none') or with the tanh approximation ('tanh'). */
export const accGelu = defineAccOp<{ input: Tensor; approximate: 'none' | 'tanh' }>({
  name: 'gelu',
  args: { input: { type: 'Tensor' }, approximate: { type: 'str', default: 'none', choices: ['none', 'tanh'] } },
  properties: ['pointwise', 'unary'],
  infer: ({ input }) => meta(input.shape, activationType('gelu', input, 'float')),
  kernel: ({ input, approximate }) => {
    activationType('gelu', input, 'float');
    return geluKernel(input, approximate);
  },
});

/** log(1 + exp(beta * x)) / beta, linear above `threshold` (in units of beta * x). */
export const accSoftplus = defineAccOp<{ input: Tensor; beta: number; threshold: number }>({
  name: 'softplus',
  args: { input: { type: 'Tensor' }, beta: { type: 'float', default: 1 }, threshold: { type: 'float', default: 20 } },
  properties: ['pointwise', 'unary'],
  infer: ({ input }) => meta(input.shape, activationType('softplus', input, 'float')),
  kernel: ({ input, beta, threshold }) => {
    activationType('softplus', input, 'float');
    return softplusKernel(input, Number(beta), Number(threshold));
  },
});

/**
 * Bounds of hardtanh in the input's dtype. Integer inputs keep their dtype and take the bounds
 * truncated to integers (PyTorch's legacy rule: the bounds do not promote); uint8 rejects negative bounds.
 */
function hardtanhBounds(input: ShapedType, minVal: number, maxVal: number): [number, number] {
  const dt = activationType('hardtanh', input, 'int');
  if (!isIntegral(dt)) return [scalarAs(minVal, dt), scalarAs(maxVal, dt)];
  const lo = Math.trunc(minVal);
  const hi = Math.trunc(maxVal);
  if (dt === 'uint8' && (lo < 0 || hi < 0)) {
    throw new RangeError(`acc.hardtanh: cannot clamp an unsigned uint8 input to negative limits (min_val ${minVal}, max_val ${maxVal})`);
  }
  return [lo, hi];
}

/** clamp(x, min_val, max_val); relu6 is hardtanh(x, 0, 6). */
export const accHardtanh = defineAccOp<{ input: Tensor; min_val: number; max_val: number }>({
  name: 'hardtanh',
  args: { input: { type: 'Tensor' }, min_val: { type: 'float', default: -1 }, max_val: { type: 'float', default: 1 } },
  properties: ['pointwise', 'unary'],
  infer: ({ input, min_val, max_val }) => {
    hardtanhBounds(input, Number(min_val), Number(max_val));
    return meta(input.shape, input.dtype);
  },
  kernel: ({ input, min_val, max_val }) => {
    const [lo, hi] = hardtanhBounds(input, Number(min_val), Number(max_val));
    return hardtanhKernel(input, lo, hi);
  },
});

/** PyTorch's prelu checks: same dtype, weight of one element or one per channel (dim 1), weight rank ≤ 1. */
function checkPrelu(input: ShapedType, weight: ShapedType): DType {
  const dt = activationType('prelu', input, 'float');
  if (weight.dtype !== dt) {
    throw new TypeError(`acc.prelu: weight must have the input's dtype ${dt} (no type promotion), got ${describeOperand(weight)}`);
  }
  if (weight.shape.length > 1) {
    throw new RangeError(`acc.prelu: weight must be a scalar or 1-D tensor, got shape ${formatShape(weight.shape)}`);
  }
  const n = numelOf(weight.shape);
  if (n !== 1) {
    if (input.shape.length === 0) throw new RangeError(`acc.prelu: a 0-dim input takes a one-element weight, got ${n} elements`);
    const channels = input.shape.length > 1 ? input.shape[1]! : 1;
    if (n !== channels) {
      throw new RangeError(
        `acc.prelu: weight has ${n} elements but the input ${formatShape(input.shape)} has ${channels} channels (dim 1); expected 1 or ${channels}`);
    }
  }
  return dt;
}

/** x for x > 0, weight[channel] * x otherwise. */
export const accPrelu = defineAccOp<{ input: Tensor; weight: Tensor }>({
  name: 'prelu',
  args: { input: { type: 'Tensor' }, weight: { type: 'Tensor' } },
  properties: ['pointwise'],
  infer: ({ input, weight }) => meta(input.shape, checkPrelu(input, weight)),
  kernel: ({ input, weight }) => {
    checkPrelu(input, weight);
    return preluKernel(input, weight);
  },
});

function checkDropout(input: ShapedType, p: number, training: boolean): void {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`acc.dropout: probability p must be between 0 and 1, got ${p}`);
  if (training && p > 0) activationType('dropout', input, 'float');
}

/** Identity unless training; then zeroes elements with probability p and scales the rest by 1 / (1 - p). */
export const accDropout = defineAccOp<{ input: Tensor; p: number; training: boolean }>({
  name: 'dropout',
  args: { input: { type: 'Tensor' }, p: { type: 'float', default: 0.5 }, training: { type: 'bool', default: false } },
  properties: ['pointwise', 'unary'],
  infer: ({ input, p, training }) => {
    checkDropout(input, Number(p), training);
    return meta(input.shape, input.dtype);
  },
  kernel: ({ input, p, training }) => {
    checkDropout(input, Number(p), training);
    return dropoutKernel(input, Number(p), training);
  },
});
