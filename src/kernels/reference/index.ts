/**
 * Reference kernels of the index family: index_select, gather and embedding.
 *
 * Index tensors are int64 or int32; every index is range-checked once up front (an error names the
 * op, the bad value, its position and the valid range), then elements move as raw words like the
 * shape kernels, so every data dtype is copied bit for bit.
 */
import type { TensorMeta } from '../../ir/node.js';
import { allocStorage } from '../../tensor/dtype.js';
import { contiguousStrides, formatShape, normDim, numelOf, type Shape } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { carryQParams, copyRun, tensorMeta, wordsOf } from './shape.js';

function checkIndexDType(op: string, index: TensorMeta, what = 'index'): void {
  if (index.dtype !== 'int64' && index.dtype !== 'int32') {
    throw new TypeError(`${op}: ${what} must be an int64 or int32 tensor, got ${index.dtype}`);
  }
}

/** Position of flat element `i` of `shape`, for error messages. */
function positionOf(i: number, shape: Shape): string {
  const pos = new Array<number>(shape.length);
  for (let a = shape.length - 1; a >= 0; a--) {
    pos[a] = i % shape[a]!;
    i = Math.floor(i / shape[a]!);
  }
  return `[${pos.join(', ')}]`;
}

/**
 * The values of an int64/int32 index tensor as an Int32Array, each checked to lie in 0..size-1
 * (`what` says which dim they index). int64 is read as 32-bit word pairs: no BigInt per element.
 */
export function readIndices(op: string, index: Tensor, size: number, what: string): Int32Array {
  const n = index.numel;
  const out = new Int32Array(n);
  const fail = (i: number, v: number): never => {
    throw new RangeError(`${op}: index ${v} at position ${positionOf(i, index.shape)} is out of range for ${what} (expected 0..${size - 1})`);
  };
  if (index.dtype === 'int32') {
    const d = index.data as Int32Array;
    for (let i = 0; i < n; i++) {
      const v = d[i]!;
      if (v < 0 || v >= size) fail(i, v);
      out[i] = v;
    }
    return out;
  }
  const d = index.data as BigInt64Array;
  const w = new Int32Array(d.buffer, d.byteOffset, 2 * n);
  for (let i = 0; i < n; i++) {
    const lo = w[2 * i]! >>> 0;
    const hi = w[2 * i + 1]!;
    if (hi !== 0 || lo >= size) fail(i, hi * 4294967296 + lo);
    out[i] = lo;
  }
  return out;
}

// ---- index_select ----

/** Output of `index_select`: `dim` of `input` replaced by the length of the 0-d or 1-d `index`. */
export function indexSelectMeta(input: TensorMeta, dim: number, index: TensorMeta): TensorMeta {
  checkIndexDType('acc.index_select', index);
  if (index.shape.length > 1) throw new RangeError(`acc.index_select: index must be 0-d or 1-d, got shape ${formatShape(index.shape)}`);
  const rank = input.shape.length;
  const d = normDim(dim, rank, 'acc.index_select: dim');
  const count = numelOf(index.shape);
  if (rank === 0) {
    if (count !== 1) throw new RangeError(`acc.index_select: indexing a 0-d input needs exactly one index, got ${count}`);
    return tensorMeta([], input.dtype, input.qparams);
  }
  const out = [...input.shape];
  out[d] = count;
  return tensorMeta(out, input.dtype, carryQParams('acc.index_select', input.qparams, (axis) => (axis === d ? null : axis)));
}

/**
 * `index_select`: the slices `index` (0-based, no negatives) of `input` along `dim`.
 * @example indexSelect(Tensor.fromArray([[1, 2], [3, 4]]), 1, Tensor.fromArray([1n, 0n])).toArray() // [[2, 1], [4, 3]]
 */
export function indexSelect(input: Tensor, dim: number, index: Tensor): Tensor {
  const meta = indexSelectMeta(input, dim, index);
  const rank = input.rank;
  const d = rank === 0 ? 0 : normDim(dim, rank);
  const inShape = rank === 0 ? [1] : input.shape;
  const size = inShape[d]!;
  const idx = readIndices('acc.index_select', index, size, `dim ${d} of size ${size}`);
  const data = allocStorage(meta.dtype, numelOf(meta.shape));
  const src = wordsOf(input.data);
  const dst = wordsOf(data).data;
  const inner = numelOf(inShape.slice(d + 1)) * src.perElement;
  const outer = numelOf(inShape.slice(0, d));
  let o = 0;
  for (let a = 0; a < outer; a++) {
    const base = a * size * inner;
    for (let j = 0; j < idx.length; j++) {
      copyRun(src.data, base + idx[j]! * inner, dst, o, inner);
      o += inner;
    }
  }
  return new Tensor(data, meta.shape, meta.dtype, meta.qparams);
}

// ---- gather ----

/** Output of `gather` (torch.gather): `index` has the rank of `input` and no larger size on dims other than `dim`. */
export function gatherMeta(input: TensorMeta, dim: number, index: TensorMeta): TensorMeta {
  checkIndexDType('acc.gather', index);
  const rank = input.shape.length;
  if (index.shape.length !== rank) {
    throw new RangeError(`acc.gather: index ${formatShape(index.shape)} must have the rank of input ${formatShape(input.shape)}`);
  }
  const d = normDim(dim, rank, 'acc.gather: dim');
  for (let a = 0; a < rank; a++) {
    if (a !== d && index.shape[a]! > input.shape[a]!) {
      throw new RangeError(`acc.gather: index ${formatShape(index.shape)} is larger than input ${formatShape(input.shape)} at dim ${a} (only dim ${d} may differ)`);
    }
  }
  const qparams = carryQParams('acc.gather', input.qparams, (axis) => (axis !== d && index.shape[axis] === input.shape[axis] ? axis : null));
  return tensorMeta(index.shape, input.dtype, qparams);
}

/**
 * `gather`: out[i][j][k] = input[index[i][j][k]][j][k] for dim 0 (likewise for other dims).
 * @example gather(Tensor.fromArray([[1, 2], [3, 4]]), 1, Tensor.fromArray([[1n, 1n], [0n, 1n]])).toArray() // [[2, 2], [3, 4]]
 */
export function gather(input: Tensor, dim: number, index: Tensor): Tensor {
  const meta = gatherMeta(input, dim, index);
  const rank = Math.max(input.rank, 1);
  const inShape = input.rank === 0 ? [1] : input.shape;
  const idxShape = index.rank === 0 ? [1] : index.shape;
  const d = normDim(dim, rank);
  const size = inShape[d]!;
  const idx = readIndices('acc.gather', index, size, `dim ${d} of size ${size}`);
  const data = allocStorage(meta.dtype, numelOf(meta.shape));
  const src = wordsOf(input.data);
  const dst = wordsOf(data).data;
  const s = src.data;
  const k = src.perElement;
  const inStrides = contiguousStrides(inShape).map((x) => x * k);
  const dimStride = inStrides[d]!;
  const n = idx.length;
  if (n === 0) return new Tensor(data, meta.shape, meta.dtype, meta.qparams);
  // Odometer over the index positions; `off` is the input offset without the `dim` term.
  const pos = new Array<number>(rank).fill(0);
  let off = 0;
  const last = rank - 1;
  const lastSize = idxShape[last]!;
  const lastStride = last === d ? 0 : inStrides[last]!;
  for (let i = 0; i < n; i += lastSize) {
    for (let j = 0; j < lastSize; j++) {
      const p = off + j * lastStride + idx[i + j]! * dimStride;
      const o = (i + j) * k;
      dst[o] = s[p]!;
      if (k === 2) dst[o + 1] = s[p + 1]!;
    }
    for (let a = last - 1; a >= 0; a--) {
      const step = a === d ? 0 : inStrides[a]!;
      off += step;
      if (++pos[a]! < idxShape[a]!) break;
      off -= step * idxShape[a]!;
      pos[a] = 0;
    }
  }
  return new Tensor(data, meta.shape, meta.dtype, meta.qparams);
}

// ---- embedding ----

/** Output of `embedding`: indices [...] into weight [num_embeddings, dim] give [..., dim]. */
export function embeddingMeta(input: TensorMeta, weight: TensorMeta, paddingIdx: number | null): TensorMeta {
  checkIndexDType('acc.embedding', input, 'input (the indices)');
  if (weight.shape.length !== 2) {
    throw new RangeError(`acc.embedding: weight must be 2-d [num_embeddings, embedding_dim], got shape ${formatShape(weight.shape)}`);
  }
  const num = weight.shape[0]!;
  if (paddingIdx !== null && (paddingIdx < -num || paddingIdx >= num)) {
    throw new RangeError(`acc.embedding: padding_idx ${paddingIdx} is out of range for ${num} embeddings (expected ${-num}..${num - 1})`);
  }
  const rank = input.shape.length;
  const qparams = carryQParams('acc.embedding', weight.qparams, (axis) => (axis === 1 ? rank : null));
  return tensorMeta([...input.shape, weight.shape[1]!], weight.dtype, qparams);
}

/**
 * `embedding`: rows of `weight` picked by the indices in `input`. `padding_idx` only matters for
 * training in PyTorch (its row gets no gradient), so the forward is a plain lookup.
 * @example embedding(Tensor.fromArray([2n, 0n]), Tensor.fromArray([[1, 1], [2, 2], [3, 3]]), null).toArray() // [[3, 3], [1, 1]]
 */
export function embedding(input: Tensor, weight: Tensor, paddingIdx: number | null): Tensor {
  const meta = embeddingMeta(input, weight, paddingIdx);
  const [num, width] = weight.shape as [number, number];
  const idx = readIndices('acc.embedding', input, num, `a weight of ${num} embeddings`);
  const data = allocStorage(meta.dtype, numelOf(meta.shape));
  const src = wordsOf(weight.data);
  const dst = wordsOf(data).data;
  const row = width * src.perElement;
  for (let i = 0; i < idx.length; i++) copyRun(src.data, idx[i]! * row, dst, i * row, row);
  return new Tensor(data, meta.shape, meta.dtype, meta.qparams);
}
