/**
 * `acc`: every acc op as a callable taking its keyword arguments, for traced code and for
 * replacement patterns: `acc.relu({ input: x })` runs the reference kernel on tensors and records
 * a call_function[target=acc.relu] node on traced values.
 */
import './ops/index.js';
import type { DType } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Kwargs } from '../ir/signature.js';
import { callFunction } from './dispatch.js';
import { accOps, getAccOp, hasAccOp } from './registry.js';

type T = Tensor;
type OptT = Tensor | null;
type Scalar = number | boolean;
type Operand = Tensor | Scalar;
type Ints = readonly number[];
type Dims = number | Ints | null;

interface Unary { input: T }
interface Binary { input: T; other: Operand }
interface Reduce { input: T; dim?: Dims; keepdim?: boolean; dtype?: DType | null }
interface Extremum { input: T; dim?: Dims; keepdim?: boolean }
interface ArgExtremum { input: T; dim?: number | null; keepdim?: boolean }
interface AlongDim { input: T; dim: number }
interface Conv { input: T; weight: T; bias?: OptT; stride: Ints; padding: Ints; dilation: Ints; groups?: number }
interface ConvTranspose { input: T; weight: T; bias?: OptT; stride: Ints; padding: Ints; output_padding: Ints; groups?: number; dilation: Ints }
interface MaxPool { input: T; kernel_size: Ints; stride: Ints; padding: Ints; dilation: Ints; ceil_mode?: boolean }
interface AvgPool {
  input: T; kernel_size: Ints; stride: Ints; padding: Ints; ceil_mode?: boolean; count_include_pad?: boolean; divisor_override?: number | null;
}
interface Adaptive { input: T; output_size: Ints }
interface Join { tensors: readonly T[]; dim?: number }

/** Keyword arguments of each catalogued acc op (docs/ACC_OPS.md). */
export interface AccKwargs {
  add: Binary; sub: Binary; mul: Binary; div: Binary & { rounding_mode?: 'trunc' | 'floor' | null }; floor_div: Binary;
  pow: { input: T; exponent: Operand }; maximum: Binary; minimum: Binary; fmod: Binary; remainder: Binary;
  eq: Binary; ne: Binary; gt: Binary; ge: Binary; lt: Binary; le: Binary;
  logical_and: Binary; logical_or: Binary; logical_xor: Binary; logical_not: Unary;
  abs: Unary; neg: Unary; exp: Unary; log: Unary; sqrt: Unary; rsqrt: Unary; reciprocal: Unary;
  sin: Unary; cos: Unary; tan: Unary; asin: Unary; acos: Unary; atan: Unary; sinh: Unary; cosh: Unary; erf: Unary;
  floor: Unary; ceil: Unary; round: Unary; trunc: Unary; sign: Unary; isnan: Unary;
  where: { condition: T; input: Operand; other: Operand };
  clamp: { input: T; min?: Scalar | null; max?: Scalar | null };
  to_dtype: { input: T; dtype: DType };
  relu: Unary; sigmoid: Unary; tanh: Unary; silu: Unary; selu: Unary; softsign: Unary; hardsigmoid: Unary;
  leaky_relu: { input: T; negative_slope?: number };
  elu: { input: T; alpha?: number };
  gelu: { input: T; approximate?: 'none' | 'tanh' };
  softplus: { input: T; beta?: number; threshold?: number };
  hardtanh: { input: T; min_val?: number; max_val?: number };
  prelu: { input: T; weight: T };
  dropout: { input: T; p?: number; training?: boolean };
  sum: Reduce; mean: Reduce; prod: Reduce;
  amax: Extremum; amin: Extremum; argmax: ArgExtremum; argmin: ArgExtremum;
  softmax: AlongDim; log_softmax: AlongDim; cumsum: AlongDim;
  topk: { input: T; k: number; dim?: number; largest?: boolean; sorted?: boolean };
  batch_norm: { input: T; running_mean: T; running_var: T; weight?: OptT; bias?: OptT; eps?: number };
  layer_norm: { input: T; normalized_shape: Ints; weight?: OptT; bias?: OptT; eps?: number };
  group_norm: { input: T; num_groups: number; weight?: OptT; bias?: OptT; eps?: number };
  instance_norm: { input: T; weight?: OptT; bias?: OptT; eps?: number };
  linear: { input: T; weight: T; bias?: OptT };
  matmul: { input: T; other: T };
  einsum: { equation: string; operands: readonly T[] };
  scaled_dot_product_attention: {
    query: T; key: T; value: T; attn_mask?: OptT; dropout_p?: number; is_causal?: boolean; scale?: number | null;
  };
  conv1d: Conv; conv2d: Conv; conv3d: Conv;
  conv_transpose1d: ConvTranspose; conv_transpose2d: ConvTranspose; conv_transpose3d: ConvTranspose;
  max_pool1d: MaxPool; max_pool2d: MaxPool; max_pool3d: MaxPool;
  avg_pool1d: AvgPool; avg_pool2d: AvgPool; avg_pool3d: AvgPool;
  adaptive_avg_pool1d: Adaptive; adaptive_avg_pool2d: Adaptive; adaptive_avg_pool3d: Adaptive; adaptive_max_pool2d: Adaptive;
  pad: { input: T; pad: Ints; mode?: 'constant' | 'reflect' | 'replicate' | 'circular'; value?: number };
  interpolate: {
    input: T; size?: Ints | null; scale_factor?: readonly number[] | null;
    mode?: 'nearest' | 'nearest-exact' | 'linear' | 'bilinear' | 'bicubic' | 'trilinear'; align_corners?: boolean | null;
  };
  reshape: { input: T; shape: Ints };
  permute: { input: T; permutation: Ints };
  flatten: { input: T; start_dim?: number; end_dim?: number };
  squeeze: { input: T; dim?: number | null };
  unsqueeze: { input: T; dim: number };
  expand: { input: T; sizes: Ints };
  tile: { input: T; dims: Ints };
  cat: Join; stack: Join;
  split: { input: T; split_size_or_sections: number | Ints; dim?: number };
  chunk: { input: T; chunks: number; dim?: number };
  slice: { input: T; dim?: number; start?: number | null; end?: number | null; step?: number };
  size: { input: T; dim?: number | null };
  getitem: { input: readonly unknown[]; index: number };
  index_select: { input: T; dim: number; index: T };
  gather: { input: T; dim: number; index: T };
  embedding: { input: T; weight: T; padding_idx?: number | null };
  quantize_per_tensor: { input: T; scale: number | T; zero_point: number | T; dtype: 'int8' | 'uint8' | 'int32' | 'float8e4m3' };
  quantize_per_channel: { input: T; scales: T; zero_points: T; axis: number; dtype: 'int8' | 'uint8' | 'int32' | 'float8e4m3' };
  dequantize: Unary;
}

/** What each acc op returns where it is not one tensor. */
interface AccResults {
  topk: [Tensor, Tensor];
  split: Tensor[];
  chunk: Tensor[];
  size: number | number[];
  getitem: unknown;
}
export type AccResultOf<K extends keyof AccKwargs> = K extends keyof AccResults ? AccResults[K] : Tensor;

/** The type of `acc`: one typed callable per catalogued acc op. */
export type AccNamespace = { readonly [K in keyof AccKwargs]: (kwargs: AccKwargs[K]) => AccResultOf<K> };

/**
 * Calls the acc op `name` (any registered op, including ones defined outside the catalogue).
 *
 * @example callAcc('my_op', { input: x })
 */
export function callAcc(name: string, kwargs: Kwargs): unknown {
  return callFunction(getAccOp(name), [kwargs]);
}

const callers = new Map<string, (kwargs: Kwargs) => unknown>();
function callerOf(name: string): (kwargs: Kwargs) => unknown {
  let f = callers.get(name);
  if (!f) {
    const op = getAccOp(name);
    f = (kwargs) => callFunction(op, [kwargs]);
    callers.set(name, f);
  }
  return f;
}

// Resolved lazily, so ops registered after this module loads are callable too; unknown names read as undefined.
const target: Partial<AccNamespace> = {};
const handler: ProxyHandler<Partial<AccNamespace>> = {
  get: (_, key) => (typeof key === 'string' && hasAccOp(key) ? callerOf(key) : undefined),
  has: (_, key) => typeof key === 'string' && hasAccOp(key),
  ownKeys: () => accOps().map((op) => op.accName),
  getOwnPropertyDescriptor: (_, key) => (typeof key === 'string' && hasAccOp(key)
    ? { value: callerOf(key), writable: false, enumerable: true, configurable: true }
    : undefined),
};

/**
 * Every acc op as a function of its keyword arguments.
 *
 * @example
 * const y = acc.relu({ input: acc.conv2d({ input: x, weight: w, stride: [1, 1], padding: [1, 1], dilation: [1, 1] }) });
 */
export const acc = new Proxy(target, handler) as AccNamespace;
