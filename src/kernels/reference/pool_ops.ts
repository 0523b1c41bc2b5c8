/**
 * Tensor-level reference kernels of the pool acc ops (max_pool, avg_pool, adaptive_avg_pool,
 * adaptive_max_pool) on the raw kernels of pool.ts, with PyTorch's shape rules in `...Meta`.
 */
import { formatShape } from '../../tensor/shape.js';
import type { Tensor } from '../../tensor/tensor.js';
import { spatialInput, spatialList, type SpatialRank } from './conv_ops.js';
import { floatDType, floatResult, type FloatDType, type ResultInfo, type TensorInfo } from './float_io.js';
import { adaptiveAvgPoolNd, adaptiveMaxPoolNd, avgPoolNd, maxPoolNd } from './pool.js';

/** Attributes of max_pool{n}d: one entry per spatial dim. */
export interface MaxPoolAttrs {
  readonly kernelSize: readonly number[];
  readonly stride: readonly number[];
  readonly padding: readonly number[];
  readonly dilation: readonly number[];
  readonly ceilMode: boolean;
}

/** Attributes of avg_pool{n}d: one entry per spatial dim. */
export interface AvgPoolAttrs {
  readonly kernelSize: readonly number[];
  readonly stride: readonly number[];
  readonly padding: readonly number[];
  readonly ceilMode: boolean;
  readonly countIncludePad: boolean;
  readonly divisorOverride: number | null;
}

interface Window {
  readonly kernelSize: readonly number[];
  readonly stride: readonly number[];
  readonly padding: readonly number[];
  readonly dilation: readonly number[];
  readonly ceilMode: boolean;
}

/** PyTorch's pooling_output_shape: in ceil mode a last window starting in the right padding is dropped. */
function pooledSize(size: number, k: number, s: number, p: number, d: number, ceil: boolean): number {
  let n = Math.floor((size + 2 * p - d * (k - 1) - 1 + (ceil ? s - 1 : 0)) / s) + 1;
  if (ceil && (n - 1) * s >= size + p) n--;
  return n;
}

function checkInput(op: string, n: SpatialRank, input: TensorInfo): FloatDType {
  const dtype = floatDType(op, 'input', input);
  spatialInput(op, input.shape, n);
  if (input.shape.slice(-n).some((d) => d === 0)) {
    throw new RangeError(`${op}: argument 'input' must have non-empty spatial dims, got shape ${formatShape(input.shape)}`);
  }
  return dtype;
}

function windowMeta(op: string, n: SpatialRank, input: TensorInfo, w: Window): ResultInfo {
  const dtype = checkInput(op, n, input);
  spatialList(op, 'kernel_size', w.kernelSize, n, 1);
  spatialList(op, 'stride', w.stride, n, 1);
  spatialList(op, 'padding', w.padding, n, 0);
  spatialList(op, 'dilation', w.dilation, n, 1);
  w.padding.forEach((p, i) => {
    const span = (w.kernelSize[i]! - 1) * w.dilation[i]! + 1;
    if (p > Math.floor(span / 2)) {
      throw new RangeError(`${op}: padding ${formatShape(w.padding)} must be at most half of the effective kernel size (kernel_size ${formatShape(w.kernelSize)}, dilation ${formatShape(w.dilation)})`);
    }
  });
  const x = input.shape;
  const out = x.slice(-n).map((s, i) => pooledSize(s, w.kernelSize[i]!, w.stride[i]!, w.padding[i]!, w.dilation[i]!, w.ceilMode));
  if (out.some((v) => v < 1)) {
    throw new RangeError(`${op}: output size ${formatShape(out)} is too small for input ${formatShape(x)} (kernel_size ${formatShape(w.kernelSize)}, stride ${formatShape(w.stride)}, padding ${formatShape(w.padding)})`);
  }
  return { shape: [...x.slice(0, -n), ...out], dtype };
}

/**
 * Shape/dtype of `max_pool{n}d`.
 * @example
 *   maxPoolMeta(2, { shape: [1, 64, 112, 112], dtype: 'float32' },
 *     { kernelSize: [3, 3], stride: [2, 2], padding: [1, 1], dilation: [1, 1], ceilMode: false }).shape // [1, 64, 56, 56]
 */
export function maxPoolMeta(n: SpatialRank, input: TensorInfo, attrs: MaxPoolAttrs): ResultInfo {
  return windowMeta(`acc.max_pool${n}d`, n, input, attrs);
}

/**
 * PyTorch `max_pool{n}d`: padding counts as -inf, NaN propagates.
 * @example
 *   maxPool(2, x, { kernelSize: [2, 2], stride: [2, 2], padding: [0, 0], dilation: [1, 1], ceilMode: false })
 */
export function maxPool(n: SpatialRank, input: Tensor, attrs: MaxPoolAttrs): Tensor {
  const { shape, dtype } = maxPoolMeta(n, input, attrs);
  const r = maxPoolNd(input.toFloat32(), input.shape, {
    kernel: attrs.kernelSize, stride: attrs.stride, padding: attrs.padding, dilation: attrs.dilation, ceilMode: attrs.ceilMode,
  });
  return floatResult(r.data, shape, dtype);
}

/**
 * Shape/dtype of `avg_pool{n}d`.
 * @example
 *   avgPoolMeta(1, { shape: [1, 1, 5], dtype: 'float32' }, { kernelSize: [2], stride: [2], padding: [0],
 *     ceilMode: true, countIncludePad: true, divisorOverride: null }).shape // [1, 1, 3]
 */
export function avgPoolMeta(n: SpatialRank, input: TensorInfo, attrs: AvgPoolAttrs): ResultInfo {
  const op = `acc.avg_pool${n}d`;
  const d = attrs.divisorOverride;
  if (d !== null && (!Number.isInteger(d) || d === 0)) throw new RangeError(`${op}: divisor_override must be a non-zero integer or null, got ${d}`);
  return windowMeta(op, n, input, { ...attrs, dilation: new Array<number>(n).fill(1) });
}

/**
 * PyTorch `avg_pool{n}d` with count_include_pad and divisor_override.
 * @example
 *   avgPool(2, x, { kernelSize: [3, 3], stride: [2, 2], padding: [1, 1], ceilMode: true, countIncludePad: false, divisorOverride: null })
 */
export function avgPool(n: SpatialRank, input: Tensor, attrs: AvgPoolAttrs): Tensor {
  const { shape, dtype } = avgPoolMeta(n, input, attrs);
  const r = avgPoolNd(input.toFloat32(), input.shape, {
    kernel: attrs.kernelSize, stride: attrs.stride, padding: attrs.padding, ceilMode: attrs.ceilMode,
    countIncludePad: attrs.countIncludePad, divisorOverride: attrs.divisorOverride,
  });
  return floatResult(r.data, shape, dtype);
}

/**
 * Shape/dtype of `adaptive_{avg,max}_pool{n}d`: the spatial dims become `outputSize`.
 * @example
 *   adaptivePoolMeta('avg', 2, { shape: [1, 512, 7, 7], dtype: 'float32' }, [1, 1]).shape // [1, 512, 1, 1]
 */
export function adaptivePoolMeta(kind: 'avg' | 'max', n: SpatialRank, input: TensorInfo, outputSize: readonly number[]): ResultInfo {
  const op = `acc.adaptive_${kind}_pool${n}d`;
  const dtype = checkInput(op, n, input);
  spatialList(op, 'output_size', outputSize, n, 0);
  return { shape: [...input.shape.slice(0, -n), ...outputSize], dtype };
}

/**
 * PyTorch `adaptive_avg_pool{n}d`: output i averages input [floor(i*in/out), ceil((i+1)*in/out)).
 * @example
 *   adaptiveAvgPool(2, x, [1, 1]) // global average pooling
 */
export function adaptiveAvgPool(n: SpatialRank, input: Tensor, outputSize: readonly number[]): Tensor {
  const { shape, dtype } = adaptivePoolMeta('avg', n, input, outputSize);
  return floatResult(adaptiveAvgPoolNd(input.toFloat32(), input.shape, outputSize).data, shape, dtype);
}

/**
 * PyTorch `adaptive_max_pool{n}d` (values only), with the windows of adaptive_avg_pool.
 * @example
 *   adaptiveMaxPool(2, x, [3, 3])
 */
export function adaptiveMaxPool(n: SpatialRank, input: Tensor, outputSize: readonly number[]): Tensor {
  const { shape, dtype } = adaptivePoolMeta('max', n, input, outputSize);
  return floatResult(adaptiveMaxPoolNd(input.toFloat32(), input.shape, outputSize).data, shape, dtype);
}
