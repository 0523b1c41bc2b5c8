/**
 * Reference kernels of the activation acc ops. Formulas are PyTorch's CPU kernels, evaluated in
 * float64 on inputs converted to the compute dtype and rounded once to the output dtype.
 * Float parameters (slopes, alpha, beta) are rounded to float32 first, as PyTorch converts them
 * to the kernel's float type.
 */
import type { DType } from '../../tensor/dtype.js';
import { mulberry32 } from '../../tensor/random.js';
import { numelOf } from '../../tensor/shape.js';
import type { Tensor } from '../../tensor/tensor.js';
import { allocValues, readAs, scalarAs, toTensor } from './broadcast.js';
import { erf, unaryInt64Kernel, unaryKernel } from './elementwise.js';

const SELU_ALPHA = 1.6732632423543772848170429916717;
const SELU_SCALE = 1.0507009873554804934193349852946;
const SQRT1_2 = Math.SQRT1_2;
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** The activations without parameters, on values in the compute dtype. */
export const ACTIVATION_MATH = {
  relu: (x: number) => Math.max(x, 0), // NaN stays NaN
  sigmoid: (x: number) => 1 / (1 + Math.exp(-x)),
  tanh: Math.tanh,
  silu: (x: number) => x / (1 + Math.exp(-x)), // x * sigmoid(x)
  selu: (x: number) => (x <= 0 ? Math.expm1(x) * SELU_ALPHA * SELU_SCALE : x * SELU_SCALE), // elu with SELU's alpha and scale
  softsign: (x: number) => x / (1 + Math.abs(x)),
  hardsigmoid: (x: number) => Math.min(Math.max(Math.fround(x + 3), 0), 6) / 6, // relu6(x + 3) / 6, x + 3 in float32
} satisfies Record<string, (x: number) => number>;

export type ActivationMathName = keyof typeof ACTIVATION_MATH;

/** An activation without parameters, computed in `compute` and written as `out`. */
export function activationKernel(input: Tensor, name: ActivationMathName, compute: DType, out: DType): Tensor {
  if (name === 'relu' && compute === 'int64') return unaryInt64Kernel(input, 'int64', (x) => (x > 0n ? x : 0n));
  if (name === 'softsign') {
    // PyTorch composes x / (abs(x) + 1) from tensor ops, so 1 + |x| is rounded to the dtype first.
    return unaryKernel(input, compute, out, (x) => x / scalarAs(1 + Math.abs(x), compute));
  }
  return unaryKernel(input, compute, out, ACTIVATION_MATH[name]);
}

/** x > 0 ? x : x * negativeSlope. */
export function leakyReluKernel(input: Tensor, negativeSlope: number): Tensor {
  const slope = Math.fround(negativeSlope);
  return unaryKernel(input, input.dtype, input.dtype, (x) => (x > 0 ? x : x * slope));
}

/** x > 0 ? x : alpha * (exp(x) - 1), with expm1 as PyTorch's elu kernel. */
export function eluKernel(input: Tensor, alpha: number): Tensor {
  const a = Math.fround(alpha);
  return unaryKernel(input, input.dtype, input.dtype, (x) => (x <= 0 ? Math.expm1(x) * a : x));
}

/**
 * x * Φ(x) exactly (erf), or PyTorch's tanh approximation 0.5x(1 + tanh(√(2/π)(x + 0.044715x³))).
 * 1 + erf(..) and 1 + tanh(..) are rounded to float32 as PyTorch computes them: far in the negative
 * tail they cancel to exactly 0, so gelu(-6) is 0 rather than a tiny negative number.
 */
export function geluKernel(input: Tensor, approximate: 'none' | 'tanh'): Tensor {
  const f = approximate === 'tanh'
    ? (x: number) => 0.5 * x * Math.fround(1 + Math.fround(Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x))))
    : (x: number) => x * 0.5 * Math.fround(1 + Math.fround(erf(x * SQRT1_2)));
  return unaryKernel(input, input.dtype, input.dtype, f);
}

/** log(1 + exp(beta x)) / beta, and x itself where beta x > threshold (PyTorch's overflow guard). */
export function softplusKernel(input: Tensor, beta: number, threshold: number): Tensor {
  const b = Math.fround(beta);
  const t = Math.fround(threshold);
  return unaryKernel(input, input.dtype, input.dtype, (x) => (x * b > t ? x : Math.log1p(Math.exp(x * b)) / b));
}

/** clamp(x, minVal, maxVal) with clamp's NaN behaviour (NaN inputs stay NaN); integer bounds for integer inputs. */
export function hardtanhKernel(input: Tensor, minVal: number, maxVal: number): Tensor {
  if (input.dtype === 'int64') {
    const lo = BigInt(minVal);
    const hi = BigInt(maxVal);
    return unaryInt64Kernel(input, 'int64', (x) => {
      const t = x < lo ? lo : x;
      return hi < t ? hi : t;
    });
  }
  return unaryKernel(input, input.dtype, input.dtype, (x) => {
    const t = x < minVal ? minVal : x;
    return maxVal < t ? maxVal : t;
  });
}

/**
 * x > 0 ? x : w[c] * x where c is the channel (dim 1) of the element; a one-element weight
 * applies to every element. Shapes are validated by the op.
 */
export function preluKernel(input: Tensor, weight: Tensor): Tensor {
  const dtype = input.dtype;
  const x = readAs(input, dtype);
  const w = readAs(weight, dtype);
  const y = allocValues(dtype, x.length);
  const shape = input.shape;
  const channels = w.length === 1 ? 1 : shape[1]!;
  const inner = w.length === 1 ? x.length : numelOf(shape.slice(2));
  for (let start = 0, c = 0; start < x.length; start += inner, c = (c + 1) % channels) {
    const wc = w[c]!;
    for (let i = start; i < start + inner; i++) {
      const v = x[i]!;
      y[i] = v > 0 ? v : wc * v;
    }
  }
  return toTensor(y, shape, dtype);
}

// Dropout draws from one process-wide generator, like torch's default generator: reseed it for reproducible masks.
let dropoutRng = mulberry32(0);

/**
 * Reseeds the generator behind training-mode dropout (torch.manual_seed's role for dropout).
 * @example seedDropout(42); // the next dropout masks are the same on every run
 */
export function seedDropout(seed: number): void {
  dropoutRng = mulberry32(seed);
}

/**
 * Identity unless `training` (and p > 0); otherwise each element is kept with probability 1 - p
 * and scaled by 1 / (1 - p), or multiplied by 0 (so NaN and ±inf inputs give NaN, as in PyTorch).
 * p = 1 zeroes everything. The mask comes from the generator set by `seedDropout`.
 */
export function dropoutKernel(input: Tensor, p: number, training: boolean): Tensor {
  if (!training || p === 0 || input.numel === 0) return input;
  const dtype = input.dtype;
  const keep = 1 - p;
  const scale = Math.fround(keep === 0 ? 0 : 1 / keep); // PyTorch multiplies by the scale as a float scalar
  const x = readAs(input, dtype);
  const y = allocValues(dtype, x.length);
  for (let i = 0; i < x.length; i++) y[i] = x[i]! * (dropoutRng() < keep ? scale : 0);
  return toTensor(y, input.shape, dtype);
}
