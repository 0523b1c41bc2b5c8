/**
 * Converters of the index acc ops onto gather layers: index_select (default mode along dim),
 * gather (element mode, torch.gather) and embedding (default mode on the weight, axis 0).
 */
import type { NetTensor } from '../engine/network.js';
import { normDim } from '../tensor/shape.js';
import { registerConverter } from './registry.js';

type IndexArgs = { input: NetTensor; dim: number; index: NetTensor };

// A 0-d index still keeps the dim (as size 1) in index_select; a 0-d input is viewed as [1].
registerConverter<IndexArgs>('index_select', (ctx, _node, { input, dim, index }) => {
  const rank = input.shape.length;
  const data = rank === 0 ? ctx.reshape(input, [1]) : input;
  const idx = index.shape.length === 0 ? ctx.reshape(index, [1]) : index;
  const out = ctx.layer1('gather', [data, idx], { axis: normDim(dim, Math.max(rank, 1), 'acc.index_select: dim'), mode: 'default' });
  return rank === 0 ? ctx.reshape(out, []) : out;
});

registerConverter<IndexArgs>('gather', (ctx, _node, { input, dim, index }) => {
  const rank = input.shape.length;
  if (rank === 0) return ctx.reshape(ctx.layer1('gather', [ctx.reshape(input, [1]), ctx.reshape(index, [1])], { axis: 0, mode: 'element' }), []);
  return ctx.layer1('gather', [input, index], { axis: normDim(dim, rank, 'acc.gather: dim'), mode: 'element' });
});

registerConverter<{ input: NetTensor; weight: NetTensor; padding_idx: number | null }>('embedding', (ctx, _node, { input, weight }) =>
  ctx.layer1('gather', [weight, input], { axis: 0, mode: 'default' }));
