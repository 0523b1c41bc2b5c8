/**
 * Converters of the linalg acc ops: linear (matrix_multiply with the weight transposed, then an
 * elementwise sum of the bias, which the builder fuses), matmul and transposed_matmul (1-D
 * operands as vector operands), einsum, and scaled_dot_product_attention (an attention layer).
 */
import type { NetTensor } from '../engine/network.js';
import { Tensor } from '../tensor/tensor.js';
import type { ConversionContext } from './context.js';
import { argMeta, argValue } from './node_meta.js';
import { registerConverter } from './registry.js';

type LinearArgs = { input: NetTensor; weight: NetTensor | Tensor; bias: NetTensor | Tensor | null };

/** A weight or bias viewed with leading 1s up to `rank` (a constant view, or an unsqueeze). */
function lifted(ctx: ConversionContext, t: NetTensor | Tensor, rank: number): NetTensor {
  if (!(t instanceof Tensor)) return ctx.unsqueezeTo(t, rank);
  const shape = t.shape;
  return ctx.constant(t, { shape: [...new Array<number>(Math.max(rank - shape.length, 0)).fill(1), ...shape] });
}

// input [..., in] @ weight[out, in]^T (+ bias[out]); a 1-D input is a vector operand.
registerConverter<LinearArgs>('linear', (ctx, _node, { input, weight, bias }) => {
  const rank = input.shape.length;
  const w = lifted(ctx, weight, Math.max(rank, 2));
  const y = ctx.layer1('matrix_multiply', [input, w], { transpose0: false, transpose1: true, vector0: rank === 1, vector1: false });
  if (bias === null) return y;
  return ctx.elementwise('sum', y, lifted(ctx, bias, y.shape.length));
}, { weights: ['weight', 'bias'] });

/** torch.matmul on operands whose last two dims are swapped when flagged. */
function matmul(ctx: ConversionContext, a: NetTensor, b: NetTensor, transpose0: boolean, transpose1: boolean): NetTensor {
  const ra = a.shape.length;
  const rb = b.shape.length;
  if (ra === 1 && rb === 1) return ctx.layer1('matrix_multiply', [a, b], { transpose0: false, transpose1: false, vector0: true, vector1: true });
  // A 1-D operand is a batch of one vector: [K] beside [..., K, N] becomes [1, ..., K] (rank one less).
  if (ra === 1) {
    return ctx.layer1('matrix_multiply', [ctx.unsqueezeTo(a, rb - 1), b], { transpose0: false, transpose1, vector0: true, vector1: false });
  }
  if (rb === 1) {
    return ctx.layer1('matrix_multiply', [a, ctx.unsqueezeTo(b, ra - 1)], { transpose0, transpose1: false, vector0: false, vector1: true });
  }
  const [x, y] = ctx.broadcastRank(a, b);
  return ctx.layer1('matrix_multiply', [x, y], { transpose0, transpose1, vector0: false, vector1: false });
}

registerConverter<{ input: NetTensor; other: NetTensor }>('matmul', (ctx, _node, { input, other }) => matmul(ctx, input, other, false, false));

type TransposedMatmulArgs = { input: NetTensor; other: NetTensor; transpose_input: boolean; transpose_other: boolean };
registerConverter<TransposedMatmulArgs>('transposed_matmul', (ctx, _node, { input, other, transpose_input, transpose_other }) =>
  matmul(ctx, input, other, transpose_input, transpose_other));

registerConverter<{ equation: string; operands: NetTensor[] }>('einsum', (ctx, _node, { equation, operands }) =>
  ctx.layer1('einsum', operands, { equation }));

type SdpaArgs = {
  query: NetTensor; key: NetTensor; value: NetTensor; attn_mask: NetTensor | null;
  dropout_p: number; is_causal: boolean; scale: number | null;
};

// softmax(q k^T * scale + mask) v with scale defaulting to 1/sqrt(E); a float mask moves to the precision.
registerConverter<SdpaArgs>('scaled_dot_product_attention', (ctx, _node, { query, key, value, attn_mask, is_causal, scale }) => {
  const E = query.shape[query.shape.length - 1]!;
  if (scale === null && E === -1) return ctx.fail('the default scale 1/sqrt(E) needs a static feature dim of query');
  const ts = ctx.equalRanks(attn_mask === null ? [query, key, value] : [query, key, value, attn_mask]);
  if (attn_mask !== null && attn_mask.dtype !== 'bool') ts[3] = ctx.cast(ts[3]!, query.dtype);
  return ctx.layer1('attention', ts, { scale: scale ?? 1 / Math.sqrt(E), causal: is_causal });
}, {
  supports: (node) => {
    const p = argValue(node, 'dropout_p');
    if (p !== 0) return `dropout_p must be 0 at inference, got ${String(p)}`;
    const q = argMeta(node, 'query');
    return q === undefined || q.shape.length >= 2 ? true : 'query needs at least 2 dims';
  },
});
