import type { DType } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';

/**
 * A TensorRT-shaped network definition: typed tensors produced by typed layers.
 * Strongly typed: every tensor has a dtype fixed at construction, and only cast,
 * quantize and dequantize layers change it. Weights enter as constant layers, so a
 * quantized weight is an ordinary constant → dequantize chain as in TensorRT's explicit
 * quantization. Dynamic dims are -1 with a min/opt/max range on the network input.
 */

export type ElementWiseOp =
  | 'sum' | 'prod' | 'sub' | 'div' | 'pow' | 'max' | 'min' | 'floor_div' | 'mod'
  | 'and' | 'or' | 'xor' | 'equal' | 'greater' | 'less';
export type ActivationOp =
  | 'relu' | 'sigmoid' | 'tanh' | 'leaky_relu' | 'elu' | 'selu' | 'softsign' | 'softplus' | 'clip'
  | 'hard_sigmoid' | 'gelu_erf' | 'gelu_tanh' | 'silu';
export type UnaryOp =
  | 'exp' | 'log' | 'sqrt' | 'recip' | 'abs' | 'neg' | 'sin' | 'cos' | 'tan' | 'sinh' | 'cosh'
  | 'asin' | 'acos' | 'atan' | 'ceil' | 'floor' | 'erf' | 'not' | 'sign' | 'round' | 'trunc' | 'isnan' | 'rsqrt';
export type ReduceOp = 'sum' | 'prod' | 'max' | 'min' | 'avg';
export type PoolingType = 'max' | 'average';
export type ResizeMode = 'nearest' | 'linear' | 'cubic';
/** How output coordinates map to input coordinates (TensorRT's ResizeCoordinateTransformation). */
export type ResizeCoordinates = 'align_corners' | 'asymmetric' | 'half_pixel';
/** Nearest rounding (TensorRT's ResizeRoundMode): 'floor' is PyTorch 'nearest', 'half_up' is 'nearest-exact'. */
export type ResizeRound = 'floor' | 'half_up';
export type SliceMode = 'default' | 'fill' | 'clamp' | 'reflect' | 'wrap';
export type GatherMode = 'default' | 'element';
export type TopKOp = 'max' | 'min';

export interface LayerParamsMap {
  constant: { readonly value: Tensor };
  convolution: {
    readonly kernelSize: readonly number[]; readonly numOutputMaps: number;
    readonly stride: readonly number[]; readonly prePadding: readonly number[]; readonly postPadding: readonly number[];
    readonly dilation: readonly number[]; readonly groups: number;
  };
  deconvolution: {
    readonly kernelSize: readonly number[]; readonly numOutputMaps: number;
    readonly stride: readonly number[]; readonly prePadding: readonly number[]; readonly postPadding: readonly number[];
    readonly dilation: readonly number[]; readonly groups: number;
  };
  matrix_multiply: { readonly transpose0: boolean; readonly transpose1: boolean; readonly vector0: boolean; readonly vector1: boolean };
  elementwise: { readonly op: ElementWiseOp };
  activation: { readonly op: ActivationOp; readonly alpha: number; readonly beta: number };
  unary: { readonly op: UnaryOp };
  /** Per-channel (or uniform) `(x * scale + shift) ^ power` along `channelAxis`. */
  scale: { readonly mode: 'uniform' | 'channel' | 'elementwise'; readonly channelAxis: number };
  pooling: {
    readonly type: PoolingType; readonly windowSize: readonly number[]; readonly stride: readonly number[];
    readonly prePadding: readonly number[]; readonly postPadding: readonly number[]; readonly dilation: readonly number[];
    /** PyTorch's ceil_mode (TensorRT's EXPLICIT_ROUND_UP): output size rounds up, but a last window starting at or after size + prePadding is dropped. */
    readonly roundUp: boolean;
    readonly averageCountExcludesPadding: boolean; readonly divisor: number | null;
  };
  reduce: { readonly op: ReduceOp; readonly axes: readonly number[]; readonly keepDims: boolean };
  softmax: { readonly axis: number; readonly log: boolean };
  /** TensorRT's shuffle: transpose, then reshape (0 copies a dim, -1 is inferred), then transpose. */
  shuffle: { readonly firstTranspose: readonly number[] | null; readonly reshape: readonly number[] | null; readonly secondTranspose: readonly number[] | null };
  concatenation: { readonly axis: number };
  /** A size of -1 keeps the whole dim (start 0, stride 1). */
  slice: { readonly start: readonly number[]; readonly size: readonly number[]; readonly stride: readonly number[]; readonly mode: SliceMode; readonly fillValue: number };
  gather: { readonly axis: number; readonly mode: GatherMode };
  padding: { readonly prePadding: readonly number[]; readonly postPadding: readonly number[]; readonly value: number };
  resize: {
    readonly outputShape: readonly number[]; readonly mode: ResizeMode; readonly coordinates: ResizeCoordinates;
    readonly round: ResizeRound; readonly cubicCoeff: number;
    /** PyTorch passes scale factors through to the index computation when given. */
    readonly scales: readonly number[] | null;
  };
  /** Normalizes over `axes` ((x - mean) / sqrt(var + eps) * scale + bias), in `numGroups` channel groups. */
  normalization: { readonly axes: readonly number[]; readonly eps: number; readonly numGroups: number };
  select: Record<string, never>;
  cast: { readonly toType: DType };
  topk: { readonly op: TopKOp; readonly k: number; readonly axis: number };
  /** Output = round_half_even(x * fround(1 / scale)) (+ zero point), saturated to the output type (PyTorch CPU's arithmetic). */
  quantize: { readonly axis: number | null; readonly toType: 'int8' | 'uint8' | 'int32' | 'float8e4m3' };
  dequantize: { readonly axis: number | null; readonly toType: 'float32' | 'float16' | 'bfloat16' };
  identity: Record<string, never>;
  shape: Record<string, never>;
  parametric_relu: Record<string, never>;
  cumulative: { readonly axis: number; readonly op: 'sum'; readonly exclusive: boolean; readonly reverse: boolean };
  einsum: { readonly equation: string };
  /** Fused scaled-dot-product attention (q, k, v[, mask]). */
  attention: { readonly scale: number; readonly causal: boolean };
}

export type LayerType = keyof LayerParamsMap;

export interface NetTensor {
  readonly id: number;
  name: string;
  readonly dtype: DType;
  /** -1 marks a dynamic dim. */
  readonly shape: readonly number[];
  /** The producing layer; null for network inputs. */
  readonly producer: Layer | null;
  /** Min/opt/max dims for dynamic network inputs. */
  readonly profile?: ShapeRange;
}

export interface ShapeRange {
  readonly min: readonly number[];
  readonly opt: readonly number[];
  readonly max: readonly number[];
}

/** One layer; `type` discriminates `params`. */
export type Layer = { [K in LayerType]: LayerOf<K> }[LayerType];

export interface LayerOf<K extends LayerType> {
  readonly id: number;
  name: string;
  readonly type: K;
  readonly inputs: readonly NetTensor[];
  readonly outputs: readonly NetTensor[];
  readonly params: LayerParamsMap[K];
  /** The graph node this layer came from, for error messages and layer info. */
  readonly source?: string;
}
