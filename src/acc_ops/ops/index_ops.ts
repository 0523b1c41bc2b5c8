/**
 * Index acc ops: index_select, gather and embedding. Shape rules and kernels are in
 * src/kernels/reference/index.ts; indices are int64 or int32 and bounds-checked.
 */
import { embedding, embeddingMeta, gather, gatherMeta, indexSelect, indexSelectMeta } from '../../kernels/reference/index.js';
import type { Tensor } from '../../tensor/tensor.js';
import { defineAccOp } from '../registry.js';

/** The slices of `input` along `dim` named by the 0-d or 1-d `index`. */
export const accIndexSelect = defineAccOp<{ input: Tensor; dim: number; index: Tensor }>({
  name: 'index_select',
  args: { input: { type: 'Tensor' }, dim: { type: 'int' }, index: { type: 'Tensor' } },
  doc: 'The slices of `input` along `dim` at the (0-d or 1-d, int64/int32) `index`.',
  infer: ({ input, dim, index }) => indexSelectMeta(input, dim, index),
  kernel: ({ input, dim, index }) => indexSelect(input, dim, index),
});

/** torch.gather: out[i][j] = input[index[i][j]][j] along dim 0 (and likewise for other dims). */
export const accGather = defineAccOp<{ input: Tensor; dim: number; index: Tensor }>({
  name: 'gather',
  args: { input: { type: 'Tensor' }, dim: { type: 'int' }, index: { type: 'Tensor' } },
  doc: 'torch.gather: picks along `dim` by an index of the same rank, no larger than input on the other dims.',
  infer: ({ input, dim, index }) => gatherMeta(input, dim, index),
  kernel: ({ input, dim, index }) => gather(input, dim, index),
});

/** Rows of `weight` [num_embeddings, dim] at the indices in `input`; padding_idx does not change the forward. */
export const accEmbedding = defineAccOp<{ input: Tensor; weight: Tensor; padding_idx: number | null }>({
  name: 'embedding',
  args: { input: { type: 'Tensor' }, weight: { type: 'Tensor' }, padding_idx: { type: 'int?', default: null } },
  doc: 'Looks up rows of `weight` by the indices in `input`; padding_idx only affects training in PyTorch.',
  infer: ({ input, weight, padding_idx }) => embeddingMeta(input, weight, padding_idx),
  kernel: ({ input, weight, padding_idx }) => embedding(input, weight, padding_idx),
});
