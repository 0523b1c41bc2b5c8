/**
 * Converters of the norm acc ops: batch_norm folds its constant statistics into a per-channel
 * scale layer; layer_norm, group_norm and instance_norm become normalization layers.
 */
import type { NetTensor } from '../engine/network.js';
import type { Node } from '../ir/node.js';
import { Tensor } from '../tensor/tensor.js';
import type { ConversionContext } from './context.js';
import { isConstantArg } from './node_meta.js';
import { registerConverter } from './registry.js';

type Weight = NetTensor | Tensor | null;

type BatchNormArgs = { input: NetTensor; running_mean: Weight; running_var: Weight; weight: Weight; bias: Weight; eps: number };

const BN_WEIGHTS = ['running_mean', 'running_var', 'weight', 'bias'] as const;

function constantParams(node: Node<'call_function'>): true | string {
  const bad = BN_WEIGHTS.filter((k) => !isConstantArg(node, k));
  return bad.length === 0 ? true : `${bad.join(', ')} must be constants (module attributes) to fold into a scale layer`;
}

function values(t: Weight, fill: number, n: number): Float64Array {
  return t instanceof Tensor ? t.toFloat64() : new Float64Array(n).fill(fill);
}

// y = x * s + t per channel with s = weight / sqrt(var + eps), t = bias - mean * s (folded in float64).
registerConverter<BatchNormArgs>('batch_norm', (ctx, _node, { input, running_mean, running_var, weight, bias, eps }) => {
  const known = (w: Weight): boolean => w === null || w instanceof Tensor;
  if (!(running_mean instanceof Tensor) || !(running_var instanceof Tensor) || !known(weight) || !known(bias)) {
    return ctx.fail('batch_norm needs constant running statistics, weight and bias to fold into a scale layer');
  }
  const C = running_mean.numel;
  const mean = running_mean.toFloat64();
  const variance = running_var.toFloat64();
  const w = values(weight, 1, C);
  const b = values(bias, 0, C);
  const scale = new Float64Array(C);
  const shift = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    scale[c] = w[c]! / Math.sqrt(variance[c]! + eps);
    shift[c] = b[c]! - mean[c]! * scale[c]!;
  }
  const dt = input.dtype;
  const s = ctx.constant(Tensor.fromNumbers(scale, [C], dt), { suffix: 'scale' });
  const t = ctx.constant(Tensor.fromNumbers(shift, [C], dt), { suffix: 'shift' });
  const p = ctx.constant(Tensor.ones([C], dt), { suffix: 'power' });
  return ctx.layer1('scale', [input, s, t, p], { mode: 'channel', channelAxis: 1 });
}, { weights: [...BN_WEIGHTS], supports: constantParams });

/** An affine parameter viewed as `view` (x's rank): a constant, a reshaped tensor, or `fill` when absent. */
function affine(ctx: ConversionContext, t: Weight, view: readonly number[], fill: number, dtype: NetTensor['dtype'], suffix: string): NetTensor {
  if (t instanceof Tensor) return ctx.constant(t, { shape: view });
  if (t === null) return ctx.constant(Tensor.full(view, fill, dtype), { suffix });
  return ctx.reshape(ctx.cast(t, dtype), view);
}

function channelView(x: NetTensor): number[] {
  const view = new Array<number>(x.shape.length).fill(1);
  view[1] = x.shape[1]!;
  return view;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(to - from, 0) }, (_, i) => from + i);
}

type LayerNormArgs = { input: NetTensor; normalized_shape: number[]; weight: Weight; bias: Weight; eps: number };
registerConverter<LayerNormArgs>('layer_norm', (ctx, _node, { input, normalized_shape, weight, bias, eps }) => {
  const rank = input.shape.length;
  const k = normalized_shape.length;
  const view = [...new Array<number>(rank - k).fill(1), ...normalized_shape];
  const scale = affine(ctx, weight, view, 1, input.dtype, 'scale');
  const shift = affine(ctx, bias, view, 0, input.dtype, 'bias');
  return ctx.layer1('normalization', [input, scale, shift], { axes: range(rank - k, rank), eps, numGroups: 1 });
}, { weights: ['weight', 'bias'] });

type GroupNormArgs = { input: NetTensor; num_groups: number; weight: Weight; bias: Weight; eps: number };
// One group is normalized over every dim but the batch; G > 1 groups over each group's channels and the spatial dims.
registerConverter<GroupNormArgs>('group_norm', (ctx, _node, { input, num_groups, weight, bias, eps }) => {
  const rank = input.shape.length;
  const view = channelView(input);
  const scale = affine(ctx, weight, view, 1, input.dtype, 'scale');
  const shift = affine(ctx, bias, view, 0, input.dtype, 'bias');
  const axes = num_groups === 1 ? range(1, rank) : range(2, rank);
  return ctx.layer1('normalization', [input, scale, shift], { axes, eps, numGroups: num_groups });
}, { weights: ['weight', 'bias'] });

type InstanceNormArgs = { input: NetTensor; weight: Weight; bias: Weight; eps: number };
registerConverter<InstanceNormArgs>('instance_norm', (ctx, _node, { input, weight, bias, eps }) => {
  const view = channelView(input);
  const scale = affine(ctx, weight, view, 1, input.dtype, 'scale');
  const shift = affine(ctx, bias, view, 0, input.dtype, 'bias');
  return ctx.layer1('normalization', [input, scale, shift], { axes: range(2, input.shape.length), eps, numGroups: 1 });
}, { weights: ['weight', 'bias'] });
