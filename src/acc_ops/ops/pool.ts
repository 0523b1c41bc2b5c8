/**
 * pool acc ops: max_pool1d/2d/3d, avg_pool1d/2d/3d, adaptive_avg_pool1d/2d/3d, adaptive_max_pool2d,
 * with normalized per-dim lists. Kernels and shape rules live in src/kernels/reference/pool_ops.ts.
 */
import type { SpatialRank } from '../../kernels/reference/conv_ops.js';
import {
  adaptiveAvgPool, adaptiveMaxPool, adaptivePoolMeta, avgPool, avgPoolMeta, maxPool, maxPoolMeta,
  type AvgPoolAttrs, type MaxPoolAttrs,
} from '../../kernels/reference/pool_ops.js';
import type { Tensor } from '../../tensor/tensor.js';
import { defineAccOp, type AccOp } from '../registry.js';

/** Keyword arguments of acc.max_pool{n}d. */
export interface MaxPoolArgs {
  input: Tensor;
  kernel_size: number[];
  stride: number[];
  padding: number[];
  dilation: number[];
  ceil_mode: boolean;
}

/** Keyword arguments of acc.avg_pool{n}d. */
export interface AvgPoolArgs {
  input: Tensor;
  kernel_size: number[];
  stride: number[];
  padding: number[];
  ceil_mode: boolean;
  count_include_pad: boolean;
  divisor_override: number | null;
}

/** Keyword arguments of the adaptive pools. */
export interface AdaptivePoolArgs {
  input: Tensor;
  output_size: number[];
}

const maxAttrs = (a: Omit<MaxPoolArgs, 'input'>): MaxPoolAttrs => ({
  kernelSize: a.kernel_size, stride: a.stride, padding: a.padding, dilation: a.dilation, ceilMode: a.ceil_mode,
});

const avgAttrs = (a: Omit<AvgPoolArgs, 'input'>): AvgPoolAttrs => ({
  kernelSize: a.kernel_size, stride: a.stride, padding: a.padding, ceilMode: a.ceil_mode,
  countIncludePad: a.count_include_pad, divisorOverride: a.divisor_override,
});

function defineMaxPool(n: SpatialRank): AccOp<MaxPoolArgs> {
  return defineAccOp<MaxPoolArgs>({
    name: `max_pool${n}d`,
    args: {
      input: { type: 'Tensor' }, kernel_size: { type: 'int[]' }, stride: { type: 'int[]' }, padding: { type: 'int[]' },
      dilation: { type: 'int[]' }, ceil_mode: { type: 'bool', default: false },
    },
    properties: ['unary'],
    doc: `${n}-D max pooling; padding counts as -inf, NaN propagates.`,
    infer: (a) => maxPoolMeta(n, a.input, maxAttrs(a)),
    kernel: (a) => maxPool(n, a.input, maxAttrs(a)),
  });
}

function defineAvgPool(n: SpatialRank): AccOp<AvgPoolArgs> {
  return defineAccOp<AvgPoolArgs>({
    name: `avg_pool${n}d`,
    args: {
      input: { type: 'Tensor' }, kernel_size: { type: 'int[]' }, stride: { type: 'int[]' }, padding: { type: 'int[]' },
      ceil_mode: { type: 'bool', default: false }, count_include_pad: { type: 'bool', default: true },
      divisor_override: { type: 'int?', default: null },
    },
    properties: ['unary'],
    doc: `${n}-D average pooling; the divisor is divisor_override, else the window size (with padding when count_include_pad).`,
    infer: (a) => avgPoolMeta(n, a.input, avgAttrs(a)),
    kernel: (a) => avgPool(n, a.input, avgAttrs(a)),
  });
}

function defineAdaptive(kind: 'avg' | 'max', n: SpatialRank): AccOp<AdaptivePoolArgs> {
  return defineAccOp<AdaptivePoolArgs>({
    name: `adaptive_${kind}_pool${n}d`,
    args: { input: { type: 'Tensor' }, output_size: { type: 'int[]' } },
    properties: ['unary'],
    doc: `${n}-D adaptive ${kind} pooling: output i covers input [floor(i*in/out), ceil((i+1)*in/out)).`,
    infer: (a) => adaptivePoolMeta(kind, n, a.input, a.output_size),
    kernel: (a) => (kind === 'avg' ? adaptiveAvgPool : adaptiveMaxPool)(n, a.input, a.output_size),
  });
}

/** PyTorch max_pool1d. */
export const accMaxPool1d = defineMaxPool(1);
/** PyTorch max_pool2d. */
export const accMaxPool2d = defineMaxPool(2);
/** PyTorch max_pool3d. */
export const accMaxPool3d = defineMaxPool(3);
/** PyTorch avg_pool1d. */
export const accAvgPool1d = defineAvgPool(1);
/** PyTorch avg_pool2d. */
export const accAvgPool2d = defineAvgPool(2);
/** PyTorch avg_pool3d. */
export const accAvgPool3d = defineAvgPool(3);
/** PyTorch adaptive_avg_pool1d. */
export const accAdaptiveAvgPool1d = defineAdaptive('avg', 1);
/** PyTorch adaptive_avg_pool2d. */
export const accAdaptiveAvgPool2d = defineAdaptive('avg', 2);
/** PyTorch adaptive_avg_pool3d. */
export const accAdaptiveAvgPool3d = defineAdaptive('avg', 3);
/** PyTorch adaptive_max_pool2d (values only). */
export const accAdaptiveMaxPool2d = defineAdaptive('max', 2);
