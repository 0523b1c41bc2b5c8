/**
 * Shape acc ops: reshape, permute, flatten, squeeze, unsqueeze, expand, tile, cat, stack, split,
 * chunk, slice (size and getitem live in structural.ts). Shape rules and kernels are in
 * src/kernels/reference/shape.ts; infer and kernel call the same `...Meta` validation.
 */
import {
  cat, catMeta, chunk, chunkMeta, expand, expandMeta, flatten, flattenMeta, permute, permuteMeta, reshape, reshapeMeta,
  slice, sliceMeta, split, splitMeta, squeeze, squeezeMeta, stack, stackMeta, tile, tileMeta, unsqueeze, unsqueezeMeta,
} from '../../kernels/reference/shape.js';
import type { Tensor } from '../../tensor/tensor.js';
import { defineAccOp } from '../registry.js';

/** The same elements in a new shape (one -1 inferred); shares the input's storage. */
export const accReshape = defineAccOp<{ input: Tensor; shape: number[] }>({
  name: 'reshape',
  args: { input: { type: 'Tensor' }, shape: { type: 'int[]' } },
  properties: ['shape', 'unary'],
  doc: 'The same elements in a new shape; one dim may be -1.',
  infer: ({ input, shape }) => reshapeMeta(input, shape),
  kernel: ({ input, shape }) => reshape(input, shape),
});

/** Reorders dims by a permutation of 0..rank-1 (transpose maps here). */
export const accPermute = defineAccOp<{ input: Tensor; permutation: number[] }>({
  name: 'permute',
  args: { input: { type: 'Tensor' }, permutation: { type: 'int[]' } },
  properties: ['shape', 'unary'],
  doc: 'Reorders dims; output dim i is input dim permutation[i].',
  infer: ({ input, permutation }) => permuteMeta(input, permutation),
  kernel: ({ input, permutation }) => permute(input, permutation),
});

/** Merges dims start_dim..end_dim into one. */
export const accFlatten = defineAccOp<{ input: Tensor; start_dim: number; end_dim: number }>({
  name: 'flatten',
  args: { input: { type: 'Tensor' }, start_dim: { type: 'int', default: 0 }, end_dim: { type: 'int', default: -1 } },
  properties: ['shape', 'unary'],
  doc: 'Merges dims start_dim..end_dim into one.',
  infer: ({ input, start_dim, end_dim }) => flattenMeta(input, start_dim, end_dim),
  kernel: ({ input, start_dim, end_dim }) => flatten(input, start_dim, end_dim),
});

/** Removes every size-1 dim, or only `dim` when it has size 1. */
export const accSqueeze = defineAccOp<{ input: Tensor; dim: number | null }>({
  name: 'squeeze',
  args: { input: { type: 'Tensor' }, dim: { type: 'int?', default: null } },
  properties: ['shape', 'unary'],
  doc: 'Removes size-1 dims: all of them, or `dim` if its size is 1.',
  infer: ({ input, dim }) => squeezeMeta(input, dim),
  kernel: ({ input, dim }) => squeeze(input, dim),
});

/** Inserts a size-1 dim at `dim`. */
export const accUnsqueeze = defineAccOp<{ input: Tensor; dim: number }>({
  name: 'unsqueeze',
  args: { input: { type: 'Tensor' }, dim: { type: 'int' } },
  properties: ['shape', 'unary'],
  doc: 'Inserts a size-1 dim at `dim` (in -rank-1..rank).',
  infer: ({ input, dim }) => unsqueezeMeta(input, dim),
  kernel: ({ input, dim }) => unsqueeze(input, dim),
});

/** Broadcasts size-1 dims to `sizes`; -1 keeps a dim, extra leading sizes add dims. */
export const accExpand = defineAccOp<{ input: Tensor; sizes: number[] }>({
  name: 'expand',
  args: { input: { type: 'Tensor' }, sizes: { type: 'int[]' } },
  properties: ['shape', 'unary'],
  doc: 'Broadcasts size-1 dims to `sizes`; -1 keeps a dim; new leading dims may be added.',
  infer: ({ input, sizes }) => expandMeta(input, sizes),
  kernel: ({ input, sizes }) => expand(input, sizes),
});

/** Repeats the tensor along each dim (`x.repeat(*dims)` and `torch.tile` map here). */
export const accTile = defineAccOp<{ input: Tensor; dims: number[] }>({
  name: 'tile',
  args: { input: { type: 'Tensor' }, dims: { type: 'int[]' } },
  properties: ['shape', 'unary'],
  doc: 'Repeats the tensor dims[i] times along dim i; more repeats than dims add leading dims, fewer are padded with 1s.',
  infer: ({ input, dims }) => tileMeta(input, dims),
  kernel: ({ input, dims }) => tile(input, dims),
});

/** Concatenates along `dim`, promoting dtypes like torch.cat (1-d empty tensors are skipped). */
export const accCat = defineAccOp<{ tensors: Tensor[]; dim: number }>({
  name: 'cat',
  args: { tensors: { type: 'Tensor[]' }, dim: { type: 'int', default: 0 } },
  properties: ['shape'],
  doc: 'Concatenates along an existing dim; shapes match except on `dim`; dtypes are promoted.',
  infer: ({ tensors, dim }) => catMeta(tensors, dim),
  kernel: ({ tensors, dim }) => cat(tensors, dim),
});

/** Joins equal-shape tensors along a new dim, promoting dtypes. */
export const accStack = defineAccOp<{ tensors: Tensor[]; dim: number }>({
  name: 'stack',
  args: { tensors: { type: 'Tensor[]' }, dim: { type: 'int', default: 0 } },
  properties: ['shape'],
  doc: 'Joins equal-shape tensors along a new dim; dtypes are promoted.',
  infer: ({ tensors, dim }) => stackMeta(tensors, dim),
  kernel: ({ tensors, dim }) => stack(tensors, dim),
});

/** Splits into parts of a size (the last may be smaller) or of the listed sizes; a tuple. */
export const accSplit = defineAccOp<{ input: Tensor; split_size_or_sections: number | number[]; dim: number }>({
  name: 'split',
  args: { input: { type: 'Tensor' }, split_size_or_sections: { type: 'int|int[]' }, dim: { type: 'int', default: 0 } },
  properties: ['shape', 'unary'],
  doc: 'A tuple of parts along `dim`: of split_size elements (the last may be smaller), or of the listed sizes.',
  infer: ({ input, split_size_or_sections, dim }) => splitMeta(input, split_size_or_sections, dim),
  kernel: ({ input, split_size_or_sections, dim }) => split(input, split_size_or_sections, dim),
});

/** Splits into parts of ceil(size / chunks) elements (PyTorch sizing: possibly fewer than `chunks`); a tuple. */
export const accChunk = defineAccOp<{ input: Tensor; chunks: number; dim: number }>({
  name: 'chunk',
  args: { input: { type: 'Tensor' }, chunks: { type: 'int' }, dim: { type: 'int', default: 0 } },
  properties: ['shape', 'unary'],
  doc: 'A tuple of parts of ceil(size / chunks) elements along `dim`; there may be fewer than `chunks`.',
  infer: ({ input, chunks, dim }) => chunkMeta(input, chunks, dim),
  kernel: ({ input, chunks, dim }) => chunk(input, chunks, dim),
});

/** `x[..., start:end:step, ...]` along `dim`, with Python's bounds (negative from the end, clamped). */
export const accSlice = defineAccOp<{ input: Tensor; dim: number; start: number | null; end: number | null; step: number }>({
  name: 'slice',
  args: {
    input: { type: 'Tensor' }, dim: { type: 'int', default: 0 }, start: { type: 'int?', default: null },
    end: { type: 'int?', default: null }, step: { type: 'int', default: 1 },
  },
  properties: ['shape', 'unary'],
  doc: 'Python slicing start:end:step (step >= 1) along `dim`; negative and out-of-range bounds clamp like Python.',
  infer: ({ input, dim, start, end, step }) => sliceMeta(input, dim, start, end, step),
  kernel: ({ input, dim, start, end, step }) => slice(input, dim, start, end, step),
});
