import { getitem } from '../../ir/function.js';
import type { ValueMeta } from '../../ir/node.js';
import { normDim } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { registerMapping } from '../mapping.js';
import { defineAccOp, type AccResult } from '../registry.js';

/** Element `index` of a tuple value (results of split, chunk, topk, size). */
export const accGetitem = defineAccOp<{ input: readonly unknown[]; index: number }>({
  name: 'getitem',
  args: { input: { type: 'any' }, index: { type: 'int' } },
  doc: 'Element of a tuple-valued input.',
  infer: ({ input, index }) => pick(input as readonly ValueMeta[], index, 'acc.getitem') as ValueMeta,
  kernel: ({ input, index }) => pick(input, index, 'acc.getitem') as AccResult,
});

function pick<T>(seq: readonly T[], index: number, what: string): T {
  if (!Array.isArray(seq)) throw new TypeError(`${what}: input is not a tuple`);
  const i = index < 0 ? index + seq.length : index;
  if (i < 0 || i >= seq.length) throw new RangeError(`${what}: index ${index} out of range for a tuple of ${seq.length}`);
  return seq[i]!;
}

// The builtin getitem: a JS array of traced values is indexed directly; a traced tuple becomes acc.getitem.
registerMapping('getitem', getitem.signature, {
  custom: (kw, e) => (Array.isArray(kw['input']) ? pick(kw['input'], kw['index'] as number, 'getitem') : e.call('getitem', kw)),
});

/** `x.size()` / `x.size(dim)` / `x.shape[dim]`. */
export const accSize = defineAccOp<{ input: Tensor; dim: number | null }>({
  name: 'size',
  args: { input: { type: 'Tensor' }, dim: { type: 'int?', default: null } },
  properties: ['shape'],
  infer: ({ input, dim }) => (dim === null ? [...input.shape] : input.shape[normDim(dim, input.shape.length)]!),
  kernel: ({ input, dim }) => (dim === null ? input.shape : input.shape[normDim(dim, input.rank)]!),
});
