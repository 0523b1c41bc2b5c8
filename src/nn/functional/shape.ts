/** Shape F functions (reshape, permute, cat, split, narrow, ...), mapped onto the shape acc ops. */
import type { MappingRule } from '../../acc_ops/mapping.js';
import { describeValue } from '../../acc_ops/registry.js';
import { sig } from '../../ir/signature.js';
import type { Tensor } from '../../tensor/tensor.js';
import { dimOf, intArg, isInt, isIntList, tensorArg } from './args.js';
import { defineF, type FArgs, type RuleFactory } from './define.js';

/** The same elements in a new shape (one dim may be −1). @example F.reshape(x, [2, -1]) */
export const reshape = defineF<[input: Tensor, shape: readonly number[]]>('reshape', sig('input', 'shape'), { to: 'reshape' });
/** Reorders dims. @example F.permute(x, [0, 2, 3, 1]) */
export const permute = defineF<[input: Tensor, dims: readonly number[]]>('permute', sig('input', 'dims'), { to: 'permute', rename: { dims: 'permutation' } });

/** Swaps two dims, as a permute. */
const transposeRule: RuleFactory = (what): MappingRule => ({
  custom: (kw, e) => {
    const input = tensorArg(kw, 'input', what);
    const rank = e.meta(input).shape.length;
    const d0 = dimOf(e, input, kw['dim0'], what, 'dim0');
    const d1 = dimOf(e, input, kw['dim1'], what, 'dim1');
    const permutation = Array.from({ length: rank }, (_, i) => (i === d0 ? d1 : i === d1 ? d0 : i));
    return e.tensor('permute', { input, permutation });
  },
});
/** Swaps dims `dim0` and `dim1`. @example F.transpose(x, 1, 2) */
export const transpose = defineF<[input: Tensor, dim0: number, dim1: number]>('transpose', sig('input', 'dim0', 'dim1'), transposeRule);

/** Merges dims startDim..endDim into one. @example F.flatten(x, 1) */
export const flatten = defineF<FArgs<[input: Tensor], [startDim?: number, endDim?: number], { startDim?: number; endDim?: number }>>(
  'flatten', sig('input', ['startDim', 0], ['endDim', -1]), { to: 'flatten', rename: { startDim: 'start_dim', endDim: 'end_dim' } });

/** Removes size-1 dims: all of them, one, or each of a list (dims of other sizes stay). */
const squeezeRule: RuleFactory = (what): MappingRule => ({
  custom: (kw, e) => {
    const input = tensorArg(kw, 'input', what);
    const dim = kw['dim'];
    if (dim === null || isInt(dim)) return e.tensor('squeeze', { input, dim });
    if (!isIntList(dim)) throw new TypeError(`${what}: argument 'dim' expects an int, a list of ints or null, got ${describeValue(dim)}`);
    const dims = [...new Set(dim.map((d) => dimOf(e, input, d, what)))].sort((a, b) => b - a);
    let x = input;
    for (const d of dims) x = e.tensor('squeeze', { input: x, dim: d }); // from the last, so earlier dims keep their index
    return x;
  },
});
/** Removes size-1 dims (all, or those named). @example F.squeeze(x, 1) */
export const squeeze = defineF<FArgs<[input: Tensor], [dim?: number | readonly number[] | null], { dim?: number | readonly number[] | null }>>(
  'squeeze', sig('input', ['dim', null]), squeezeRule);
/** Inserts a size-1 dim at `dim`. @example F.unsqueeze(x, 0) */
export const unsqueeze = defineF<[input: Tensor, dim: number]>('unsqueeze', sig('input', 'dim'), { to: 'unsqueeze' });

/** Concatenates along an existing dim. @example F.cat([a, b], 1) */
export const cat = defineF<FArgs<[tensors: readonly Tensor[]], [dim?: number], { dim?: number }>>('cat', sig('tensors', ['dim', 0]), { to: 'cat' });
/** Stacks along a new dim. @example F.stack([a, b], 0) */
export const stack = defineF<FArgs<[tensors: readonly Tensor[]], [dim?: number], { dim?: number }>>('stack', sig('tensors', ['dim', 0]), { to: 'stack' });

/** Splits into pieces of a size (the last may be smaller) or of the listed sizes. @example const [a, b] = F.split(x, [2, 3], 1) */
export const split = defineF<FArgs<[tensor: Tensor, splitSizeOrSections: number | readonly number[]], [dim?: number], { dim?: number }>, Tensor[]>(
  'split', sig('tensor', 'splitSizeOrSections', ['dim', 0]),
  { to: 'split', rename: { tensor: 'input', splitSizeOrSections: 'split_size_or_sections' } },
  { arity: (kw) => (isIntList(kw['splitSizeOrSections']) ? kw['splitSizeOrSections'].length : undefined) });
/**
 * Splits into `chunks` pieces of equal size (the last may be smaller, and there may be fewer).
 * While symbolically tracing, the result is assumed to have exactly `chunks` pieces.
 *
 * @example const [q, k, v] = F.chunk(qkv, 3, -1)
 */
export const chunk = defineF<FArgs<[input: Tensor, chunks: number], [dim?: number], { dim?: number }>, Tensor[]>(
  'chunk', sig('input', 'chunks', ['dim', 0]), { to: 'chunk' },
  { arity: (kw) => (isInt(kw['chunks']) ? kw['chunks'] : undefined) });

/** Elements start..start+length of `dim` (start may be negative), as acc.slice. */
const narrowRule: RuleFactory = (what): MappingRule => ({
  custom: (kw, e) => {
    const input = tensorArg(kw, 'input', what);
    const dim = dimOf(e, input, kw['dim'], what);
    const size = e.meta(input).shape[dim]!;
    let start = intArg(kw, 'start', what);
    const length = intArg(kw, 'length', what);
    if (start < -size || start > size) throw new RangeError(`${what}: start ${start} is out of range for dim ${dim} of size ${size}`);
    if (start < 0) start += size;
    if (length < 0 || start + length > size) {
      throw new RangeError(`${what}: start (${start}) + length (${length}) exceeds dimension size (${size})`);
    }
    return e.tensor('slice', { input, dim, start, end: start + length, step: 1 });
  },
});
/** A view of `length` elements of `dim` from `start`. @example F.narrow(x, 1, 0, 2) */
export const narrow = defineF<[input: Tensor, dim: number, start: number, length: number]>('narrow', sig('input', 'dim', 'start', 'length'), narrowRule);

/** Broadcasts to `size` (−1 keeps a dim), as acc.expand. @example F.broadcastTo(x, [4, -1, 3]) */
export const broadcastTo = defineF<[input: Tensor, size: readonly number[]]>('broadcastTo', sig('input', 'size'), { to: 'expand', rename: { size: 'sizes' } });

/** Repeats the tensor `dims[i]` times along each dim; a shorter `dims` is padded with leading 1s (torch.tile). @example F.tile(x, [2, 1]) */
export const tile = defineF<[input: Tensor, dims: readonly number[]]>('tile', sig('input', 'dims'), { to: 'tile' });
