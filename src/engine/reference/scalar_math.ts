/**
 * Scalar semantics of the network's pointwise layers (elementwise, unary, activation, cast) on
 * the reference backend, shared by the single-layer steps and the fused pointwise programs so
 * that both compute exactly the same function. Math tables come from the reference kernels
 * (BINARY_MATH, UNARY_MATH, ACTIVATION_MATH); this file maps TensorRT-style ops onto them and
 * adds the activations whose TensorRT form takes alpha/beta.
 */
import { BINARY_MATH, erf, UNARY_MATH, type BinaryMath, type BinaryMathName, type UnaryMathName } from '../../kernels/reference/elementwise.js';
import { ACTIVATION_MATH } from '../../kernels/reference/activation.js';
import { f32ToF8e4m3Bits, f8e4m3BitsToF32, isFloating, isIntegral, roundTo, type DType } from '../../tensor/dtype.js';
import type { ActivationOp, ElementWiseOp, UnaryOp } from '../network.js';

/** A unary scalar function on numbers in the compute precision. */
export type ScalarFn1 = (x: number) => number;
/** A binary scalar function on numbers in the compute precision. */
export type ScalarFn2 = (a: number, b: number) => number;

/**
 * The reference math of each elementwise op. Integer `div` truncates (C / TensorRT), `mod` is
 * Python's remainder (sign of the divisor), `floor_div` floors; comparisons give 0/1.
 */
const ELEMENTWISE_MATH: Record<ElementWiseOp, BinaryMathName> = {
  sum: 'add', prod: 'mul', sub: 'sub', pow: 'pow', max: 'maximum', min: 'minimum', floor_div: 'div_floor', mod: 'remainder',
  div: 'div', and: 'logical_and', or: 'logical_or', xor: 'logical_xor', equal: 'eq', greater: 'gt', less: 'lt',
};

/** Name of the BINARY_MATH entry computing `op` on operands of dtype `input`. */
export function elementwiseMathName(op: ElementWiseOp, input: DType): BinaryMathName {
  return op === 'div' && !isFloating(input) ? 'div_trunc' : ELEMENTWISE_MATH[op];
}

/** The scalar function of elementwise `op` on operands of dtype `input` (wrapping int32 products). */
export function elementwiseFn(op: ElementWiseOp, input: DType): ScalarFn2 {
  const math: BinaryMath = BINARY_MATH[elementwiseMathName(op, input)];
  if (!isIntegral(input)) return math.float;
  if (input !== 'int64' && math.int32) return math.int32;
  return math.int ?? math.float;
}

const UNARY_NAMES: Record<UnaryOp, UnaryMathName> = {
  exp: 'exp', log: 'log', sqrt: 'sqrt', recip: 'reciprocal', abs: 'abs', neg: 'neg', sin: 'sin', cos: 'cos', tan: 'tan',
  sinh: 'sinh', cosh: 'cosh', asin: 'asin', acos: 'acos', atan: 'atan', ceil: 'ceil', floor: 'floor', erf: 'erf',
  not: 'logical_not', sign: 'sign', round: 'round', trunc: 'trunc', isnan: 'isnan', rsqrt: 'rsqrt',
};

/** The scalar function of unary `op`. */
export function unaryFn(op: UnaryOp): ScalarFn1 {
  return UNARY_MATH[UNARY_NAMES[op]];
}

const SQRT1_2 = Math.SQRT1_2;
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/**
 * The scalar function of activation `op` with TensorRT's alpha/beta: leaky_relu(alpha = slope),
 * elu(alpha), selu(alpha, beta = scale), softplus alpha * log(1 + exp(beta x)), clip to
 * [alpha, beta], hard_sigmoid max(0, min(1, alpha x + beta)). Parameters are float32, as in the
 * kernels; NaN inputs stay NaN.
 */
export function activationFn(op: ActivationOp, alphaArg: number, betaArg: number): ScalarFn1 {
  const alpha = Math.fround(alphaArg);
  const beta = Math.fround(betaArg);
  switch (op) {
    case 'relu': case 'sigmoid': case 'tanh': case 'silu': case 'softsign': return ACTIVATION_MATH[op];
    case 'leaky_relu': return (x) => (x > 0 ? x : x * alpha);
    case 'elu': return (x) => (x <= 0 ? Math.expm1(x) * alpha : x);
    case 'selu': return (x) => (x <= 0 ? Math.expm1(x) * alpha * beta : x * beta);
    // log1p(exp(v)) = max(v, 0) + log1p(exp(-|v|)): no overflow for large v.
    case 'softplus': return (x) => {
      const v = beta * x;
      return alpha * (Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v))));
    };
    case 'clip': return (x) => {
      const t = x < alpha ? alpha : x;
      return beta < t ? beta : t;
    };
    case 'hard_sigmoid': return (x) => Math.min(Math.max(alpha * x + beta, 0), 1);
    case 'gelu_erf': return (x) => x * 0.5 * (1 + erf(x * SQRT1_2));
    case 'gelu_tanh': return (x) => 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)));
  }
}

/**
 * How a computed number is stored as `dtype`, exactly like Tensor.fromNumbers: floats round to
 * nearest even, integers truncate toward zero and wrap (non-finite → 0), bool is "nonzero".
 */
export function storeFn(dtype: DType): ScalarFn1 {
  switch (dtype) {
    case 'float32': return Math.fround;
    case 'float16': case 'bfloat16': return (v) => roundTo(dtype, Math.fround(v));
    case 'float8e4m3': return (v) => f8e4m3BitsToF32(f32ToF8e4m3Bits(v));
    case 'bool': return (v) => (v !== 0 ? 1 : 0);
    case 'int32': return (v) => (Number.isFinite(v) ? Math.trunc(v) | 0 : 0);
    case 'int8': return (v) => (Number.isFinite(v) ? ((Math.trunc(v) << 24) >> 24) : 0);
    case 'uint8': return (v) => (Number.isFinite(v) ? Math.trunc(v) & 0xff : 0);
    case 'int64': return (v) => (Number.isFinite(v) ? Math.trunc(v) : 0);
  }
}

/**
 * How an intermediate result of dtype `dtype` is kept in a register of a fused step: floats
 * in the compute precision (float32, never narrower: no intermediate rounding), integers and
 * bools as their stored value.
 */
export function registerFn(dtype: DType): ScalarFn1 {
  return isFloating(dtype) ? Math.fround : storeFn(dtype);
}
