/**
 * Tensor-level reference kernels of the conv acc ops (conv1d/2d/3d, conv_transpose1d/2d/3d) on the
 * raw `convNd`/`convTransposeNd` of conv.ts, with PyTorch's shape rules and errors in `...Meta`.
 */
import { formatShape } from '../../tensor/shape.js';
import type { Tensor } from '../../tensor/tensor.js';
import { convNd, convTransposeNd } from './conv.js';
import { expectRank, floatDType, floatResult, sameDType, type FloatDType, type ResultInfo, type TensorInfo } from './float_io.js';

/** Number of spatial dims of a conv or pool op. */
export type SpatialRank = 1 | 2 | 3;

/** Attributes of convNd: one entry per spatial dim. */
export interface ConvAttrs {
  readonly stride: readonly number[];
  readonly padding: readonly number[];
  readonly dilation: readonly number[];
  readonly groups: number;
}

/** Attributes of conv_transposeNd; `outputPadding` adds to one side of each output dim. */
export interface ConvTransposeAttrs extends ConvAttrs {
  readonly outputPadding: readonly number[];
}

const SPATIAL = ['', 'L', 'H, W', 'D, H, W'] as const;
const KERNEL = ['', 'kL', 'kH, kW', 'kD, kH, kW'] as const;

/**
 * Checks a per-spatial-dim list: exactly `n` integers >= `min`.
 * @example
 *   spatialList('acc.max_pool2d', 'stride', [2, 2], 2, 1);
 */
export function spatialList(op: string, arg: string, v: readonly number[], n: number, min: number): void {
  if (v.length !== n || v.some((x) => !Number.isInteger(x) || x < min)) {
    throw new RangeError(`${op}: argument '${arg}' must be ${n} integer(s) >= ${min} (one per spatial dim), got ${formatShape(v)}`);
  }
}

/**
 * Checks the input of a spatial op: [N, C, spatial...] or unbatched [C, spatial...].
 * @example
 *   spatialInput('acc.conv2d', [1, 3, 32, 32], 2); // true (batched)
 */
export function spatialInput(op: string, shape: readonly number[], n: SpatialRank): boolean {
  if (shape.length !== n + 2 && shape.length !== n + 1) {
    throw new RangeError(`${op}: argument 'input' must be [N, C, ${SPATIAL[n]}] or unbatched [C, ${SPATIAL[n]}], got shape ${formatShape(shape)}`);
  }
  return shape.length === n + 2;
}

interface Checked {
  dtype: FloatDType;
  batched: boolean;
  x: readonly number[];
  w: readonly number[];
}

function checkCommon(op: string, n: SpatialRank, input: TensorInfo, weight: TensorInfo, bias: TensorInfo | null, attrs: ConvAttrs, wLayout: string): Checked {
  const dtype = floatDType(op, 'input', input);
  sameDType(op, 'weight', weight, 'input', dtype);
  if (bias) sameDType(op, 'bias', bias, 'input', dtype);
  const x = input.shape;
  const w = weight.shape;
  const batched = spatialInput(op, x, n);
  expectRank(op, 'weight', w, n + 2, `[${wLayout}, ${KERNEL[n]}]`);
  spatialList(op, 'stride', attrs.stride, n, 1);
  spatialList(op, 'padding', attrs.padding, n, 0);
  spatialList(op, 'dilation', attrs.dilation, n, 1);
  if (!Number.isInteger(attrs.groups) || attrs.groups < 1) throw new RangeError(`${op}: argument 'groups' must be a positive integer, got ${attrs.groups}`);
  return { dtype, batched, x, w };
}

function checkBias(op: string, bias: TensorInfo | null, channels: number): void {
  if (bias && (bias.shape.length !== 1 || bias.shape[0] !== channels)) {
    throw new RangeError(`${op}: argument 'bias' must have shape [${channels}] (one value per output channel), got ${formatShape(bias.shape)}`);
  }
}

/**
 * Shape/dtype of `conv{n}d`, validated as PyTorch does (channels vs groups, kernel vs padded input).
 * @example
 *   convMeta(2, { shape: [1, 3, 224, 224], dtype: 'float32' }, { shape: [64, 3, 7, 7], dtype: 'float32' }, null,
 *     { stride: [2, 2], padding: [3, 3], dilation: [1, 1], groups: 1 }).shape // [1, 64, 112, 112]
 */
export function convMeta(n: SpatialRank, input: TensorInfo, weight: TensorInfo, bias: TensorInfo | null, attrs: ConvAttrs): ResultInfo {
  const op = `acc.conv${n}d`;
  const { dtype, batched, x, w } = checkCommon(op, n, input, weight, bias, attrs, 'out_channels, in_channels/groups');
  const { groups, stride, padding, dilation } = attrs;
  const C = x[x.length - n - 1]!;
  const [O, Cg] = [w[0]!, w[1]!];
  if (Cg * groups !== C) {
    throw new RangeError(`${op}: input ${formatShape(x)} has ${C} channels, but weight ${formatShape(w)} with groups=${groups} expects ${Cg * groups} (${Cg} per group)`);
  }
  if (O % groups !== 0) throw new RangeError(`${op}: weight ${formatShape(w)} has ${O} output channels, not divisible by groups=${groups}`);
  checkBias(op, bias, O);
  const spatial = x.slice(-n);
  const padded = spatial.map((s, i) => s + 2 * padding[i]!);
  const span = w.slice(2).map((k, i) => dilation[i]! * (k - 1) + 1);
  if (padded.some((p, i) => p < span[i]!)) {
    throw new RangeError(`${op}: padded input size ${formatShape(padded)} is smaller than the dilated kernel size ${formatShape(span)} (input ${formatShape(x)}, weight ${formatShape(w)})`);
  }
  const out = padded.map((p, i) => Math.floor((p - span[i]!) / stride[i]!) + 1);
  return { shape: batched ? [x[0]!, O, ...out] : [O, ...out], dtype };
}

/**
 * PyTorch `conv{n}d` (cross-correlation) on tensors; half dtypes compute in float32.
 * @example
 *   conv(2, x, w, b, { stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1 })
 */
export function conv(n: SpatialRank, input: Tensor, weight: Tensor, bias: Tensor | null, attrs: ConvAttrs): Tensor {
  const { shape, dtype } = convMeta(n, input, weight, bias, attrs);
  const r = convNd(input.toFloat32(), input.shape, weight.toFloat32(), weight.shape, bias ? bias.toFloat32() : null, attrs);
  return floatResult(r.data, shape, dtype);
}

/**
 * Shape/dtype of `conv_transpose{n}d`: out = (in-1)*stride - 2*padding + dilation*(k-1) + output_padding + 1.
 * @example
 *   convTransposeMeta(2, { shape: [1, 8, 7, 7], dtype: 'float32' }, { shape: [8, 4, 4, 4], dtype: 'float32' }, null,
 *     { stride: [2, 2], padding: [1, 1], outputPadding: [0, 0], dilation: [1, 1], groups: 1 }).shape // [1, 4, 14, 14]
 */
export function convTransposeMeta(n: SpatialRank, input: TensorInfo, weight: TensorInfo, bias: TensorInfo | null, attrs: ConvTransposeAttrs): ResultInfo {
  const op = `acc.conv_transpose${n}d`;
  const { dtype, batched, x, w } = checkCommon(op, n, input, weight, bias, attrs, 'in_channels, out_channels/groups');
  const { groups, stride, padding, dilation, outputPadding } = attrs;
  spatialList(op, 'output_padding', outputPadding, n, 0);
  if (outputPadding.some((p, i) => p >= stride[i]! && p >= dilation[i]!)) {
    throw new RangeError(`${op}: output_padding ${formatShape(outputPadding)} must be smaller than either stride ${formatShape(stride)} or dilation ${formatShape(dilation)} in each dim`);
  }
  const C = x[x.length - n - 1]!;
  if (w[0] !== C) throw new RangeError(`${op}: weight ${formatShape(w)} has ${w[0]} input channels (dim 0), input ${formatShape(x)} has ${C}`);
  if (C % groups !== 0) throw new RangeError(`${op}: input has ${C} channels, not divisible by groups=${groups}`);
  const O = w[1]! * groups;
  checkBias(op, bias, O);
  const spatial = x.slice(-n);
  const out = spatial.map((s, i) => (s - 1) * stride[i]! - 2 * padding[i]! + dilation[i]! * (w[i + 2]! - 1) + outputPadding[i]! + 1);
  if (out.some((v) => v < 1)) {
    throw new RangeError(`${op}: computed output size ${formatShape(out)} is too small (input ${formatShape(x)}, weight ${formatShape(w)}, padding ${formatShape(padding)})`);
  }
  return { shape: batched ? [x[0]!, O, ...out] : [O, ...out], dtype };
}

/**
 * PyTorch `conv_transpose{n}d` on tensors; weight is [C_in, C_out/groups, k...].
 * @example
 *   convTranspose(2, x, w, null, { stride: [2, 2], padding: [1, 1], outputPadding: [1, 1], dilation: [1, 1], groups: 1 })
 */
export function convTranspose(n: SpatialRank, input: Tensor, weight: Tensor, bias: Tensor | null, attrs: ConvTransposeAttrs): Tensor {
  const { shape, dtype } = convTransposeMeta(n, input, weight, bias, attrs);
  const r = convTransposeNd(input.toFloat32(), input.shape, weight.toFloat32(), weight.shape, bias ? bias.toFloat32() : null, attrs);
  return floatResult(r.data, shape, dtype);
}
