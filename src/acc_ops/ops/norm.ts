/**
 * norm acc ops: batch_norm (inference form), layer_norm, group_norm, instance_norm.
 * Kernels and shape rules live in src/kernels/reference/norm.ts.
 */
import {
  batchNorm, batchNormMeta, groupNorm, groupNormMeta, instanceNorm, instanceNormMeta, layerNorm, layerNormMeta,
} from '../../kernels/reference/norm.js';
import type { Tensor } from '../../tensor/tensor.js';
import { defineAccOp } from '../registry.js';

/** Inference batch norm over dim 1 with running statistics. */
export const accBatchNorm = defineAccOp<{
  input: Tensor; running_mean: Tensor; running_var: Tensor; weight: Tensor | null; bias: Tensor | null; eps: number;
}>({
  name: 'batch_norm',
  args: {
    input: { type: 'Tensor' }, running_mean: { type: 'Tensor' }, running_var: { type: 'Tensor' },
    weight: { type: 'Tensor?', default: null }, bias: { type: 'Tensor?', default: null }, eps: { type: 'float', default: 1e-5 },
  },
  doc: '(input - running_mean) / sqrt(running_var + eps) * weight + bias, per channel of dim 1.',
  infer: (a) => batchNormMeta(a.input, a.running_mean, a.running_var, a.weight, a.bias),
  kernel: (a) => batchNorm(a.input, a.running_mean, a.running_var, a.weight, a.bias, a.eps),
});

/** Layer norm over the trailing normalized_shape dims. */
export const accLayerNorm = defineAccOp<{
  input: Tensor; normalized_shape: number[]; weight: Tensor | null; bias: Tensor | null; eps: number;
}>({
  name: 'layer_norm',
  args: {
    input: { type: 'Tensor' }, normalized_shape: { type: 'int[]' },
    weight: { type: 'Tensor?', default: null }, bias: { type: 'Tensor?', default: null }, eps: { type: 'float', default: 1e-5 },
  },
  doc: 'Normalizes over the trailing normalized_shape dims (biased variance), then weight * x + bias.',
  infer: (a) => layerNormMeta(a.input, a.normalized_shape, a.weight, a.bias),
  kernel: (a) => layerNorm(a.input, a.normalized_shape, a.weight, a.bias, a.eps),
});

/** Group norm: statistics per sample over groups of channels. */
export const accGroupNorm = defineAccOp<{
  input: Tensor; num_groups: number; weight: Tensor | null; bias: Tensor | null; eps: number;
}>({
  name: 'group_norm',
  args: {
    input: { type: 'Tensor' }, num_groups: { type: 'int' },
    weight: { type: 'Tensor?', default: null }, bias: { type: 'Tensor?', default: null }, eps: { type: 'float', default: 1e-5 },
  },
  doc: 'Normalizes each group of C/num_groups channels per sample, then per-channel weight and bias.',
  infer: (a) => groupNormMeta(a.input, a.num_groups, a.weight, a.bias),
  kernel: (a) => groupNorm(a.input, a.num_groups, a.weight, a.bias, a.eps),
});

/** Instance norm with the statistics of the input (use_input_stats). */
export const accInstanceNorm = defineAccOp<{ input: Tensor; weight: Tensor | null; bias: Tensor | null; eps: number }>({
  name: 'instance_norm',
  args: {
    input: { type: 'Tensor' }, weight: { type: 'Tensor?', default: null }, bias: { type: 'Tensor?', default: null },
    eps: { type: 'float', default: 1e-5 },
  },
  doc: 'Normalizes each (sample, channel) plane by its own statistics, then per-channel weight and bias.',
  infer: (a) => instanceNormMeta(a.input, a.weight, a.bias),
  kernel: (a) => instanceNorm(a.input, a.weight, a.bias, a.eps),
});
