/**
 * linalg acc ops: linear, matmul, transposed_matmul, einsum, scaled_dot_product_attention.
 * Kernels and shape rules live in src/kernels/reference/linalg.ts.
 */
import {
  einsum, einsumMeta, linear, linearMeta, matmul, matmulMeta, scaledDotProductAttention, sdpaMeta,
  transposedMatmul, transposedMatmulMeta,
} from '../../kernels/reference/linalg.js';
import type { Tensor } from '../../tensor/tensor.js';
import { defineAccOp } from '../registry.js';

/** `input @ weight^T + bias` over the last dim (F.linear). */
export const accLinear = defineAccOp<{ input: Tensor; weight: Tensor; bias: Tensor | null }>({
  name: 'linear',
  args: { input: { type: 'Tensor' }, weight: { type: 'Tensor' }, bias: { type: 'Tensor?', default: null } },
  doc: 'input [..., in] @ weight[out, in]^T + bias[out].',
  infer: ({ input, weight, bias }) => linearMeta(input, weight, bias),
  kernel: ({ input, weight, bias }) => linear(input, weight, bias),
});

/** torch.matmul: batched, broadcasting, 1-D promotion. */
export const accMatmul = defineAccOp<{ input: Tensor; other: Tensor }>({
  name: 'matmul',
  args: { input: { type: 'Tensor' }, other: { type: 'Tensor' } },
  doc: 'torch.matmul: batched, broadcasting batch dims, 1-D operands promoted.',
  infer: ({ input, other }) => matmulMeta(input, other),
  kernel: ({ input, other }) => matmul(input, other),
});

/** matmul with the last two dims of either operand swapped: the target of permute-into-matmul fusion. */
export const accTransposedMatmul = defineAccOp<{ input: Tensor; other: Tensor; transpose_input: boolean; transpose_other: boolean }>({
  name: 'transposed_matmul',
  args: {
    input: { type: 'Tensor' }, other: { type: 'Tensor' },
    transpose_input: { type: 'bool', default: false }, transpose_other: { type: 'bool', default: false },
  },
  doc: 'matmul(input^T?, other^T?) where ^T swaps the last two dims of an operand whose flag is set.',
  infer: ({ input, other, transpose_input, transpose_other }) => transposedMatmulMeta(input, other, transpose_input, transpose_other),
  kernel: ({ input, other, transpose_input, transpose_other }) => transposedMatmul(input, other, transpose_input, transpose_other),
});

/** torch.einsum over a list of operands. */
export const accEinsum = defineAccOp<{ equation: string; operands: Tensor[] }>({
  name: 'einsum',
  args: { equation: { type: 'str' }, operands: { type: 'Tensor[]' } },
  doc: "torch.einsum: explicit or implicit output, '...', diagonals ('ii->i'), size-1 broadcasting.",
  infer: ({ equation, operands }) => einsumMeta(equation, operands),
  kernel: ({ equation, operands }) => einsum(equation, operands),
});

interface SdpaArgs {
  query: Tensor;
  key: Tensor;
  value: Tensor;
  attn_mask: Tensor | null;
  dropout_p: number;
  is_causal: boolean;
  scale: number | null;
}

/** F.scaled_dot_product_attention at inference (dropout_p must be 0). */
export const accScaledDotProductAttention = defineAccOp<SdpaArgs>({
  name: 'scaled_dot_product_attention',
  args: {
    query: { type: 'Tensor' }, key: { type: 'Tensor' }, value: { type: 'Tensor' },
    attn_mask: { type: 'Tensor?', default: null }, dropout_p: { type: 'float', default: 0 },
    is_causal: { type: 'bool', default: false }, scale: { type: 'float?', default: null },
  },
  doc: 'softmax(query @ key^T * scale + mask) @ value; bool masks keep true, is_causal keeps j <= i.',
  infer: (a) => sdpaMeta(a.query, a.key, a.value, { attnMask: a.attn_mask, dropoutP: a.dropout_p, isCausal: a.is_causal, scale: a.scale }),
  kernel: (a) => scaledDotProductAttention(a.query, a.key, a.value, { attnMask: a.attn_mask, dropoutP: a.dropout_p, isCausal: a.is_causal, scale: a.scale }),
});
