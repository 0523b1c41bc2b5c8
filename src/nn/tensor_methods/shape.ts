/** Shape tensor methods: variadic reshape/view/permute/expand/repeat, transpose, size, chunk, ... */
import type { MappingRule } from '../../acc_ops/mapping.js';
import { describeValue } from '../../acc_ops/registry.js';
import { sig } from '../../ir/signature.js';
import { isIntList, tensorArg } from '../functional/args.js';
import '../functional/shape.js';
import { functionalSpec } from '../functional/define.js';
import { installFromF, installMethod } from './define.js';

for (const name of ['transpose', 'flatten', 'squeeze', 'unsqueeze', 'chunk', 'split', 'narrow'] as const) installFromF(name);

// Variadic forms: x.reshape(2, 3) and x.reshape([2, 3]) bind the same list.
installMethod('reshape', sig('input', '...shape'), { to: 'reshape' });
installMethod('view', sig('input', '...shape'), { to: 'reshape' });
installMethod('permute', sig('input', '...dims'), { to: 'permute', rename: { dims: 'permutation' } });
installMethod('expand', sig('input', '...sizes'), { to: 'expand' });
installMethod('tile', sig('input', '...dims'), functionalSpec('tile').rule);

/** Tensor.repeat: like tile, but `repeats` must cover every dim. */
installMethod('repeat', sig('input', '...repeats'), (what): MappingRule => ({
  custom: (kw, e) => {
    const input = tensorArg(kw, 'input', what);
    const repeats = kw['repeats'];
    if (!isIntList(repeats)) throw new TypeError(`${what}: expects ints, got ${describeValue(repeats)}`);
    const rank = e.meta(input).shape.length;
    if (repeats.length < rank) {
      throw new RangeError(`${what}: the number of repeat dims (${repeats.length}) can not be smaller than the tensor's rank (${rank})`);
    }
    return e.tensor('tile', { input, dims: repeats });
  },
}));

installMethod('expandAs', sig('input', 'other'), (what): MappingRule => ({
  custom: (kw, e) => e.tensor('expand', { input: kw['input'], sizes: [...e.meta(tensorArg(kw, 'other', what)).shape] }),
}));

/** Storage is always contiguous: the receiver itself (no node under accTrace). */
installMethod('contiguous', sig('input'), (what): MappingRule => ({ custom: (kw) => tensorArg(kw, 'input', what) }));

/** The 2-D transpose; tensors of rank 0 and 1 are returned as they are (Tensor.t). */
installMethod('t', sig('input'), (what): MappingRule => ({
  custom: (kw, e) => {
    const input = tensorArg(kw, 'input', what);
    const rank = e.meta(input).shape.length;
    if (rank > 2) throw new RangeError(`${what}: expects a tensor of rank 2 or less, got rank ${rank}`);
    return rank < 2 ? input : e.tensor('permute', { input, permutation: [1, 0] });
  },
}));

installMethod('size', sig('input', ['dim', null]), { to: 'size' });
