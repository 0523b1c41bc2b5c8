/** Indexing F functions (gather, indexSelect, embedding), mapped onto the index acc ops. */
import type { MappingRule } from '../../acc_ops/mapping.js';
import { describeValue } from '../../acc_ops/registry.js';
import { sig } from '../../ir/signature.js';
import type { Tensor } from '../../tensor/tensor.js';
import { defineF, type FArgs } from './define.js';

/** out[i][j][k] = input[i][index[i][j][k]][k] for dim 1 (torch.gather). @example F.gather(x, 1, idx) */
export const gather = defineF<FArgs<[input: Tensor, dim: number, index: Tensor], [], { sparseGrad?: boolean }>>(
  'gather', sig('input', 'dim', 'index', '*', ['sparseGrad', false]), { to: 'gather', ignore: ['sparseGrad'] });

/** The entries of `input` at the positions `index` (1-D) along `dim`. @example F.indexSelect(x, 0, idx) */
export const indexSelect = defineF<[input: Tensor, dim: number, index: Tensor]>(
  'indexSelect', sig('input', 'dim', 'index'), { to: 'index_select' });

export interface EmbeddingOpts {
  paddingIdx?: number | null; maxNorm?: number | null; normType?: number; scaleGradByFreq?: boolean; sparse?: boolean;
}
/**
 * Rows of `weight` at the integer indices `input`. `maxNorm` (which renormalizes the weight in
 * place) is not supported; `paddingIdx` only affects training.
 *
 * @example F.embedding(ids, table)
 */
export const embedding = defineF<FArgs<[input: Tensor, weight: Tensor], [paddingIdx?: number | null], EmbeddingOpts>>(
  'embedding', sig('input', 'weight', ['paddingIdx', null], ['maxNorm', null], ['normType', 2], ['scaleGradByFreq', false], ['sparse', false]),
  (what): MappingRule => ({
    custom: (kw, e) => {
      if (kw['maxNorm'] !== null) {
        throw new TypeError(`${what}: 'maxNorm' is not supported (it renormalizes the weight in place), got ${describeValue(kw['maxNorm'])}`);
      }
      return e.tensor('embedding', { input: kw['input'], weight: kw['weight'], padding_idx: kw['paddingIdx'] });
    },
  }));
