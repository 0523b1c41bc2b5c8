/** Linear algebra F functions (linear, matmul, einsum, attention, ...), mapped onto the linalg acc ops. */
import type { MappingRule } from '../../acc_ops/mapping.js';
import { sig } from '../../ir/signature.js';
import type { Tensor } from '../../tensor/tensor.js';
import { numberArg, tensorArg } from './args.js';
import { defineF, type FArgs, type RuleFactory } from './define.js';

/** x Wᵀ + b with W of shape [out, in]. @example F.linear(x, w, b) */
export const linear = defineF<FArgs<[input: Tensor, weight: Tensor], [bias?: Tensor | null], { bias?: Tensor | null }>>(
  'linear', sig('input', 'weight', ['bias', null]), { to: 'linear' });

/** Matrix product with batch broadcasting and 1-D promotion (torch.matmul). @example F.matmul(q, k) */
export const matmul = defineF<[input: Tensor, other: Tensor]>('matmul', sig('input', 'other'), { to: 'matmul' });

/** A matmul restricted to operands of one rank, as torch.mm (2-D) and torch.bmm (3-D) are. */
const fixedRankMatmul = (rank: number): RuleFactory => (what): MappingRule => ({
  custom: (kw, e) => {
    const input = tensorArg(kw, 'input', what);
    const mat2 = tensorArg(kw, 'mat2', what);
    for (const [name, t] of [['input', input], ['mat2', mat2]] as const) {
      const s = e.meta(t).shape;
      if (s.length !== rank) throw new RangeError(`${what}: '${name}' must be a ${rank}-D tensor, got shape [${s.join(', ')}]`);
    }
    return e.tensor('matmul', { input, other: mat2 });
  },
});
/** Product of two matrices. @example F.mm(a, b) */
export const mm = defineF<[input: Tensor, mat2: Tensor]>('mm', sig('input', 'mat2'), fixedRankMatmul(2));
/** Batched product of two [b, n, m] × [b, m, p] tensors. @example F.bmm(a, b) */
export const bmm = defineF<[input: Tensor, mat2: Tensor]>('bmm', sig('input', 'mat2'), fixedRankMatmul(3));

/**
 * beta × input + alpha × (mat1 @ mat2) (torch.addmm); with beta = 0 the input is ignored, NaN included.
 *
 * @example F.addmm(bias, x, w, { alpha: 1, beta: 1 })
 */
export const addmm = defineF<[input: Tensor, mat1: Tensor, mat2: Tensor, opts?: { beta?: number; alpha?: number }]>(
  'addmm', sig('input', 'mat1', 'mat2', '*', ['beta', 1], ['alpha', 1]),
  (what): MappingRule => ({
    custom: (kw, e) => {
      const beta = numberArg(kw, 'beta', what);
      const alpha = numberArg(kw, 'alpha', what);
      let prod = e.tensor('matmul', { input: tensorArg(kw, 'mat1', what), other: tensorArg(kw, 'mat2', what) });
      if (alpha !== 1) prod = e.tensor('mul', { input: prod, other: alpha });
      const input = tensorArg(kw, 'input', what);
      if (beta === 0) return prod;
      const scaled = beta === 1 ? input : e.tensor('mul', { input, other: beta });
      return e.tensor('add', { input: scaled, other: prod });
    },
  }));

/**
 * Einstein summation; operands are given one by one or as a list.
 *
 * @example F.einsum('bhqd,bhkd->bhqk', q, k)
 */
export const einsum = defineF<[equation: string, ...operands: Tensor[]] | [equation: string, operands: readonly Tensor[]]>(
  'einsum', sig('equation', '...operands'), { to: 'einsum' });

export interface AttentionOpts { attnMask?: Tensor | null; dropoutP?: number; isCausal?: boolean; scale?: number | null }
/**
 * softmax(q kᵀ × scale + mask) v, with a boolean (keep where true) or additive mask, or a causal mask.
 *
 * @example F.scaledDotProductAttention(q, k, v, { isCausal: true })
 */
export const scaledDotProductAttention = defineF<FArgs<[query: Tensor, key: Tensor, value: Tensor],
  [attnMask?: Tensor | null, dropoutP?: number, isCausal?: boolean], AttentionOpts>>(
  'scaledDotProductAttention',
  sig('query', 'key', 'value', ['attnMask', null], ['dropoutP', 0], ['isCausal', false], '*', ['scale', null]),
  { to: 'scaled_dot_product_attention', rename: { attnMask: 'attn_mask', dropoutP: 'dropout_p', isCausal: 'is_causal' } });
