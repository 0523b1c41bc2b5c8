/**
 * Reference kernels of the shape family: ops that only move elements (reshape, permute, flatten,
 * squeeze, unsqueeze, expand, tile, cat, stack, split, chunk, slice).
 *
 * Every op has a `...Meta` function (output metadata from input metadata, validating like PyTorch;
 * acc-op shape inference calls it) and a kernel on Tensors that calls the same function. Elements
 * move as raw words (1, 2 or 4 bytes, int64 as two 32-bit words), so every dtype is copied bit for
 * bit: float16/bfloat16 patterns and NaN payloads included. Per-tensor quantization parameters
 * carry over; per-channel ones follow their axis, and an op that changes that axis is refused.
 */
import type { TensorMeta } from '../../ir/node.js';
import { allocStorage, promoteTypes, type DType, type Storage } from '../../tensor/dtype.js';
import { contiguousStrides, formatShape, normDim, numelOf, type Shape } from '../../tensor/shape.js';
import { Tensor, type QuantParams } from '../../tensor/tensor.js';

// ---- raw element words ----

/** A typed array of raw element words. */
export type WordArray = Uint8Array | Uint16Array | Uint32Array;

/** The storage of a tensor as raw words: one word per element, or two for int64. */
export interface Words {
  readonly data: WordArray;
  readonly perElement: 1 | 2;
}

/** Views a storage as raw words (no copy); moving words never converts values. */
export function wordsOf(data: Storage): Words {
  const { buffer, byteOffset, length } = data;
  if (data instanceof BigInt64Array) return { data: new Uint32Array(buffer, byteOffset, length * 2), perElement: 2 };
  switch (data.BYTES_PER_ELEMENT) {
    case 1: return { data: new Uint8Array(buffer, byteOffset, length), perElement: 1 };
    case 2: return { data: new Uint16Array(buffer, byteOffset, length), perElement: 1 };
    default: return { data: new Uint32Array(buffer, byteOffset, length), perElement: 1 };
  }
}

/** Below this many words a plain loop beats `set` + `subarray`. */
const RUN_SET_MIN = 16;

/** Copies `n` words from `src[s..]` to `dst[d..]`. */
export function copyRun(src: WordArray, s: number, dst: WordArray, d: number, n: number): void {
  if (n >= RUN_SET_MIN) {
    dst.set(src.subarray(s, s + n), d);
    return;
  }
  for (let i = 0; i < n; i++) dst[d + i] = src[s + i]!;
}

/** Side of the square tiles of the blocked transpose (32x32 words stay in L1). */
const TILE = 32;

/**
 * Fills contiguous `dst` from a strided view of `src`: dst[i0, ..., iN] = src[offset + sum(ik * strides[k])]
 * over output `shape`. Strides may be 0 (broadcast) or in any order (permute). Iterative: size-1
 * dims are dropped and dims that stay contiguous are merged; then, when the source's contiguous dim
 * is not the innermost output dim, a tiled transpose between the two, else an odometer over the
 * outer dims with a tight inner loop (a memcpy where the inner dim is contiguous).
 */
export function stridedCopy(src: Words, offset: number, shape: Shape, strides: readonly number[], dst: Words): void {
  const k = src.perElement;
  // Dims and source strides in words; an element is k words.
  const dims: number[] = [];
  const st: number[] = [];
  for (let i = 0; i < shape.length; i++) {
    if (shape[i] === 0) return;
    if (shape[i] === 1) continue;
    const last = dims.length - 1;
    // Merge into the previous dim when stepping it is the same as running over this one.
    if (last >= 0 && st[last] === strides[i]! * k * shape[i]!) {
      dims[last] = dims[last]! * shape[i]!;
      st[last] = strides[i]! * k;
    } else {
      dims.push(shape[i]!);
      st.push(strides[i]! * k);
    }
  }
  const s = src.data;
  const d = dst.data;
  const base = offset * k;
  const unit = st.indexOf(k);
  if (unit >= 0 && unit < dims.length - 1) {
    tiledCopy(s, base, dims, st, unit, k, d);
    return;
  }
  // From here on an element's words form the innermost dim (merged when elements are contiguous).
  if (k === 2) {
    const last = dims.length - 1;
    if (last >= 0 && st[last] === 2) {
      dims[last] = dims[last]! * 2;
      st[last] = 1;
    } else {
      dims.push(2);
      st.push(1);
    }
  }
  const r = dims.length;
  if (r === 0) {
    d[0] = s[base]!;
    return;
  }
  const inner = dims[r - 1]!;
  const innerStride = st[r - 1]!;
  let outer = 1;
  for (let i = 0; i < r - 1; i++) outer *= dims[i]!;
  const idx = new Array<number>(r - 1).fill(0);
  let off = base;
  let o = 0;
  for (let n = 0; n < outer; n++) {
    if (innerStride === 1) copyRun(s, off, d, o, inner);
    else for (let j = 0, p = off; j < inner; j++, p += innerStride) d[o + j] = s[p]!;
    o += inner;
    for (let a = r - 2; a >= 0; a--) {
      off += st[a]!;
      if (++idx[a]! < dims[a]!) break;
      off -= st[a]! * dims[a]!;
      idx[a] = 0;
    }
  }
}

/**
 * The innermost output dim is not contiguous in the source but dim `a` is: a transpose between dim
 * `a` and the last one, in TILE x TILE tiles so that reads and writes both stay in cache, with an
 * odometer over the other dims. Strides are in words; elements are `k` words.
 */
function tiledCopy(s: WordArray, base: number, dims: readonly number[], st: readonly number[], a: number, k: 1 | 2, d: WordArray): void {
  const r = dims.length;
  const outStrides = contiguousStrides(dims).map((x) => x * k);
  const A = dims[a]!;
  const B = dims[r - 1]!;
  const sB = st[r - 1]!;
  const oA = outStrides[a]!;
  const rest = dims.map((_, i) => i).filter((i) => i !== a && i !== r - 1);
  let outer = 1;
  for (const i of rest) outer *= dims[i]!;
  const idx = new Array<number>(rest.length).fill(0);
  let off = base;
  let o = 0;
  for (let n = 0; n < outer; n++) {
    for (let a0 = 0; a0 < A; a0 += TILE) {
      const a1 = Math.min(a0 + TILE, A);
      for (let b0 = 0; b0 < B; b0 += TILE) {
        const b1 = Math.min(b0 + TILE, B);
        for (let ia = a0; ia < a1; ia++) {
          let q = o + ia * oA + b0 * k;
          let p = off + ia * k + b0 * sB;
          if (k === 1) for (let ib = b0; ib < b1; ib++, p += sB) d[q++] = s[p]!;
          else {
            for (let ib = b0; ib < b1; ib++, p += sB) {
              d[q++] = s[p]!;
              d[q++] = s[p + 1]!;
            }
          }
        }
      }
    }
    for (let j = rest.length - 1; j >= 0; j--) {
      const i = rest[j]!;
      off += st[i]!;
      o += outStrides[i]!;
      if (++idx[j]! < dims[i]!) break;
      off -= st[i]! * dims[i]!;
      o -= outStrides[i]! * dims[i]!;
      idx[j] = 0;
    }
  }
}

/** A fresh tensor of `meta`'s shape and dtype filled by `fill` with raw words. */
function produce(meta: TensorMeta, fill: (dst: Words) => void): Tensor {
  const data = allocStorage(meta.dtype, numelOf(meta.shape));
  fill(wordsOf(data));
  return new Tensor(data, meta.shape, meta.dtype, meta.qparams);
}

// ---- quantization parameters through data movement ----

/**
 * Quantization parameters of a shape op's result. Per-tensor ones carry over unchanged; per-channel
 * ones move to `axisMap(axis)`, and an op that changes the channel axis itself (null) is refused.
 */
export function carryQParams(op: string, q: QuantParams | undefined, axisMap: (axis: number) => number | null): QuantParams | undefined {
  if (q === undefined || q.axis === undefined) return q;
  const axis = axisMap(q.axis);
  if (axis === null) {
    throw new RangeError(`${op}: cannot change dim ${q.axis}, the channel axis of a per-channel quantized input`);
  }
  return axis === q.axis ? q : { scale: q.scale, zeroPoint: q.zeroPoint, axis };
}

/** Whether two sets of quantization parameters are identical. */
export function sameQParams(a: QuantParams | undefined, b: QuantParams | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a.axis !== b.axis) return false;
  if (a.scale.length !== b.scale.length || a.zeroPoint.length !== b.zeroPoint.length) return false;
  for (let i = 0; i < a.scale.length; i++) if (!Object.is(a.scale[i], b.scale[i])) return false;
  for (let i = 0; i < a.zeroPoint.length; i++) if (a.zeroPoint[i] !== b.zeroPoint[i]) return false;
  return true;
}

/** A TensorMeta, with `qparams` only when there are some. */
export function tensorMeta(shape: Shape, dtype: DType, qparams?: QuantParams): TensorMeta {
  return qparams === undefined ? { shape: [...shape], dtype } : { shape: [...shape], dtype, qparams };
}

// ---- reshape ----

/** `input`'s storage under `meta`'s shape and qparams (no copy, like a PyTorch view). */
function viewAs(input: Tensor, meta: TensorMeta): Tensor {
  const out = input.withShape(meta.shape);
  out.qparams = meta.qparams;
  return out;
}

/** Output of `reshape`: one -1 is inferred; the error names both shapes. */
export function reshapeMeta(input: TensorMeta, shape: readonly number[]): TensorMeta {
  const n = numelOf(input.shape);
  const bad = (why: string): RangeError =>
    new RangeError(`acc.reshape: shape ${formatShape(shape)} is invalid for input of shape ${formatShape(input.shape)} (${n} elements): ${why}`);
  let known = 1;
  let hole = -1;
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i]!;
    if (d === -1) {
      if (hole >= 0) throw bad('only one dimension can be -1');
      hole = i;
    } else if (!Number.isInteger(d) || d < 0) throw bad(`size ${d} at position ${i} is not a valid size`);
    else known *= d;
  }
  const out = [...shape];
  if (hole >= 0) {
    if (known === 0) throw bad('the -1 is ambiguous when the other sizes multiply to 0');
    if (n % known !== 0) throw bad(`${n} is not divisible by ${known}`);
    out[hole] = n / known;
  } else if (known !== n) throw bad(`it has ${known} elements`);
  const qparams = carryQParams('acc.reshape', input.qparams, (axis) => reshapedAxis(input.shape, out, axis));
  return tensorMeta(out, input.dtype, qparams);
}

/** The dim of `to` that holds dim `axis` of `from` unchanged (same size, same elements before it), or null. */
function reshapedAxis(from: Shape, to: Shape, axis: number): number | null {
  let before = 1;
  for (let i = 0; i < axis; i++) before *= from[i]!;
  let acc = 1;
  for (let j = 0; j < to.length; j++) {
    if (acc === before && to[j] === from[axis]) return j;
    acc *= to[j]!;
  }
  return null;
}

/**
 * `reshape`: the same storage under a new shape (one -1 allowed).
 * @example reshape(Tensor.arange(6), [2, -1]).shape // [2, 3]
 */
export function reshape(input: Tensor, shape: readonly number[]): Tensor {
  return viewAs(input, reshapeMeta(input, shape));
}

// ---- permute ----

/** Output of `permute`; `permutation` must order 0..rank-1 (negative dims allowed). */
export function permuteMeta(input: TensorMeta, permutation: readonly number[]): TensorMeta {
  const perm = normPermutation(input.shape, permutation);
  const qparams = carryQParams('acc.permute', input.qparams, (axis) => perm.indexOf(axis));
  return tensorMeta(perm.map((p) => input.shape[p]!), input.dtype, qparams);
}

function normPermutation(shape: Shape, permutation: readonly number[]): number[] {
  const rank = shape.length;
  if (permutation.length !== rank) {
    throw new RangeError(`acc.permute: permutation [${permutation.join(', ')}] has ${permutation.length} dims, input ${formatShape(shape)} has ${rank}`);
  }
  const seen = new Array<boolean>(rank).fill(false);
  return permutation.map((p) => {
    const d = normDim(p, rank, 'acc.permute: dim');
    if (seen[d]) throw new RangeError(`acc.permute: [${permutation.join(', ')}] is not a permutation of 0..${rank - 1} (dim ${d} repeats)`);
    seen[d] = true;
    return d;
  });
}

/**
 * `permute`: reorders dims (a copy). 2-D transposes and transposes of the innermost dims run in cache tiles.
 * @example permute(Tensor.fromArray([[1, 2], [3, 4]]), [1, 0]).toArray() // [[1, 3], [2, 4]]
 */
export function permute(input: Tensor, permutation: readonly number[]): Tensor {
  const meta = permuteMeta(input, permutation);
  const perm = normPermutation(input.shape, permutation);
  const inStrides = input.strides;
  return produce(meta, (dst) => stridedCopy(wordsOf(input.data), 0, meta.shape, perm.map((p) => inStrides[p]!), dst));
}

// ---- flatten / squeeze / unsqueeze ----

/** Output of `flatten`: dims start_dim..end_dim become one (a 0-d input becomes [1]). */
export function flattenMeta(input: TensorMeta, startDim: number, endDim: number): TensorMeta {
  const rank = input.shape.length;
  const s = normDim(startDim, rank, 'acc.flatten: start_dim');
  const e = normDim(endDim, rank, 'acc.flatten: end_dim');
  if (s > e) throw new RangeError(`acc.flatten: start_dim ${startDim} comes after end_dim ${endDim} for input of shape ${formatShape(input.shape)}`);
  if (rank === 0) return tensorMeta([1], input.dtype, input.qparams);
  let merged = 1;
  for (let i = s; i <= e; i++) merged *= input.shape[i]!;
  const out = [...input.shape.slice(0, s), merged, ...input.shape.slice(e + 1)];
  const qparams = carryQParams('acc.flatten', input.qparams, (axis) => (axis < s ? axis : axis > e ? axis - (e - s) : s === e ? axis : null));
  return tensorMeta(out, input.dtype, qparams);
}

/**
 * `flatten`: merges a range of dims (shares storage).
 * @example flatten(Tensor.zeros([2, 3, 4]), 1, -1).shape // [2, 12]
 */
export function flatten(input: Tensor, startDim: number, endDim: number): Tensor {
  return viewAs(input, flattenMeta(input, startDim, endDim));
}

/** Output of `squeeze`: drops every size-1 dim, or only `dim` when it has size 1. */
export function squeezeMeta(input: TensorMeta, dim: number | null): TensorMeta {
  const rank = input.shape.length;
  const drop = new Array<boolean>(rank).fill(false);
  if (dim === null) for (let i = 0; i < rank; i++) drop[i] = input.shape[i] === 1;
  else {
    const d = normDim(dim, rank, 'acc.squeeze: dim');
    if (rank > 0) drop[d] = input.shape[d] === 1;
  }
  const out = input.shape.filter((_, i) => !drop[i]);
  const qparams = carryQParams('acc.squeeze', input.qparams, (axis) => {
    if (drop[axis]) return null;
    let removed = 0;
    for (let i = 0; i < axis; i++) if (drop[i]) removed++;
    return axis - removed;
  });
  return tensorMeta(out, input.dtype, qparams);
}

/**
 * `squeeze`: removes size-1 dims (shares storage).
 * @example squeeze(Tensor.zeros([1, 3, 1]), null).shape // [3]
 */
export function squeeze(input: Tensor, dim: number | null): Tensor {
  return viewAs(input, squeezeMeta(input, dim));
}

/** Output of `unsqueeze`: a size-1 dim inserted at `dim` (in -rank-1..rank). */
export function unsqueezeMeta(input: TensorMeta, dim: number): TensorMeta {
  const rank = input.shape.length;
  const d = normDim(dim, rank + 1, 'acc.unsqueeze: dim');
  const out = [...input.shape.slice(0, d), 1, ...input.shape.slice(d)];
  return tensorMeta(out, input.dtype, carryQParams('acc.unsqueeze', input.qparams, (axis) => (axis >= d ? axis + 1 : axis)));
}

/**
 * `unsqueeze`: inserts a size-1 dim (shares storage).
 * @example unsqueeze(Tensor.zeros([3]), -1).shape // [3, 1]
 */
export function unsqueeze(input: Tensor, dim: number): Tensor {
  return viewAs(input, unsqueezeMeta(input, dim));
}

// ---- expand / tile ----

/** Output of `expand`: -1 keeps a dim, size-1 dims broadcast, new leading dims may be added. */
export function expandMeta(input: TensorMeta, sizes: readonly number[]): TensorMeta {
  const rank = input.shape.length;
  const lead = sizes.length - rank;
  const where = `target sizes [${sizes.join(', ')}], input shape ${formatShape(input.shape)}`;
  if (lead < 0) throw new RangeError(`acc.expand: got ${sizes.length} sizes for an input of rank ${rank} (${where})`);
  const out = sizes.map((s, i) => {
    if (!Number.isInteger(s) || s < -1) throw new RangeError(`acc.expand: invalid size ${s} at dim ${i} (${where})`);
    if (i < lead) {
      if (s === -1) throw new RangeError(`acc.expand: -1 is not allowed in the new leading dim ${i} (${where})`);
      return s;
    }
    const have = input.shape[i - lead]!;
    if (s === -1) return have;
    if (have !== 1 && s !== have) {
      throw new RangeError(`acc.expand: size ${s} must match the existing size ${have} at non-singleton dim ${i} (${where})`);
    }
    return s;
  });
  const qparams = carryQParams('acc.expand', input.qparams, (axis) => (out[axis + lead] === input.shape[axis] ? axis + lead : null));
  return tensorMeta(out, input.dtype, qparams);
}

/**
 * `expand`: broadcasts size-1 dims to `sizes` (a copy; -1 keeps a dim).
 * @example expand(Tensor.fromArray([[1], [2]]), [-1, 3]).toArray() // [[1, 1, 1], [2, 2, 2]]
 */
export function expand(input: Tensor, sizes: readonly number[]): Tensor {
  const meta = expandMeta(input, sizes);
  const lead = meta.shape.length - input.rank;
  const inShape = input.shape;
  const inStrides = input.strides;
  const strides = meta.shape.map((s, i) => (i < lead || (inShape[i - lead] === 1 && s !== 1) ? 0 : inStrides[i - lead]!));
  return produce(meta, (dst) => stridedCopy(wordsOf(input.data), 0, meta.shape, strides, dst));
}

/** Output of `tile` (PyTorch `repeat`/`tile`): fewer repeats than dims are padded with 1s in front, more add dims. */
export function tileMeta(input: TensorMeta, dims: readonly number[]): TensorMeta {
  for (const r of dims) {
    if (!Number.isInteger(r) || r < 0) throw new RangeError(`acc.tile: repeats must be non-negative integers, got [${dims.join(', ')}]`);
  }
  const { shape, reps } = tileOperands(input.shape, dims);
  const lead = shape.length - input.shape.length;
  const out = shape.map((s, i) => s * reps[i]!);
  const qparams = carryQParams('acc.tile', input.qparams, (axis) => (reps[axis + lead] === 1 ? axis + lead : null));
  return tensorMeta(out, input.dtype, qparams);
}

function tileOperands(inShape: Shape, dims: readonly number[]): { shape: number[]; reps: number[] } {
  const rank = Math.max(inShape.length, dims.length);
  const shape = [...new Array<number>(rank - inShape.length).fill(1), ...inShape];
  const reps = [...new Array<number>(rank - dims.length).fill(1), ...dims];
  return { shape, reps };
}

/**
 * `tile`: repeats the whole tensor along each dim (PyTorch `x.repeat(*dims)` / `torch.tile`).
 * @example tile(Tensor.fromArray([1, 2]), [2, 2]).toArray() // [[1, 2, 1, 2], [1, 2, 1, 2]]
 */
export function tile(input: Tensor, dims: readonly number[]): Tensor {
  const meta = tileMeta(input, dims);
  const { shape, reps } = tileOperands(input.shape, dims);
  const inStrides = contiguousStrides(shape);
  // out viewed as [r0, s0, r1, s1, ...]: the repeat dims have stride 0.
  const viewShape: number[] = [];
  const viewStrides: number[] = [];
  for (let i = 0; i < shape.length; i++) {
    viewShape.push(reps[i]!, shape[i]!);
    viewStrides.push(0, inStrides[i]!);
  }
  return produce(meta, (dst) => stridedCopy(wordsOf(input.data), 0, viewShape, viewStrides, dst));
}

// ---- cat / stack ----

/** torch.cat skips 1-D empty tensors whatever the other shapes are (legacy behaviour). */
function skippedInCat(t: TensorMeta): boolean {
  return t.shape.length === 1 && t.shape[0] === 0;
}

function commonQParams(op: string, tensors: readonly TensorMeta[]): QuantParams | undefined {
  const q = tensors[0]!.qparams;
  tensors.forEach((t, i) => {
    if (!sameQParams(q, t.qparams)) throw new RangeError(`${op}: tensor ${i} has other quantization parameters than tensor 0`);
  });
  return q;
}

/** Output of `cat`: shapes match except on `dim`; the dtype is promoted across all inputs like torch.cat. */
export function catMeta(tensors: readonly TensorMeta[], dim: number): TensorMeta {
  if (tensors.length === 0) throw new RangeError('acc.cat: expected a non-empty list of tensors');
  tensors.forEach((t, i) => {
    if (t.shape.length === 0) throw new RangeError(`acc.cat: zero-dimensional tensor (at position ${i}) cannot be concatenated`);
  });
  const dtype = tensors.map((t) => t.dtype).reduce(promoteTypes);
  const valid = tensors.findIndex((t) => !skippedInCat(t));
  const qp = commonQParams('acc.cat', tensors);
  if (valid < 0) return tensorMeta([0], dtype, qp);
  const ref = tensors[valid]!.shape;
  const d = normDim(dim, ref.length, 'acc.cat: dim');
  let total = 0;
  tensors.forEach((t, i) => {
    if (skippedInCat(t)) return;
    if (t.shape.length !== ref.length) {
      throw new RangeError(`acc.cat: tensors must have the same number of dims: tensor ${valid} is ${formatShape(ref)}, tensor ${i} is ${formatShape(t.shape)}`);
    }
    for (let a = 0; a < ref.length; a++) {
      if (a !== d && t.shape[a] !== ref[a]) {
        throw new RangeError(`acc.cat: sizes must match except in dim ${d}: tensor ${valid} is ${formatShape(ref)}, tensor ${i} is ${formatShape(t.shape)}`);
      }
    }
    total += t.shape[d]!;
  });
  const out = [...ref];
  out[d] = total;
  return tensorMeta(out, dtype, carryQParams('acc.cat', qp, (axis) => (axis === d ? null : axis)));
}

/**
 * `cat`: concatenates along `dim`, promoting dtypes; 1-D empty tensors are skipped like torch.cat.
 * @example cat([Tensor.fromArray([1]), Tensor.fromArray([2, 3])], 0).toArray() // [1, 2, 3]
 */
export function cat(tensors: readonly Tensor[], dim: number): Tensor {
  const meta = catMeta(tensors, dim);
  const parts = tensors.filter((t) => !skippedInCat(t));
  if (parts.length === 0) return produce(meta, () => {});
  const d = normDim(dim, meta.shape.length);
  return produce(meta, (dst) => {
    const k = dst.perElement;
    const inner = numelOf(meta.shape.slice(d + 1)) * k;
    const outer = numelOf(meta.shape.slice(0, d));
    const row = meta.shape[d]! * inner;
    let at = 0;
    for (const t of parts) {
      const src = wordsOf(t.dtype === meta.dtype ? t.data : t.castTo(meta.dtype).data).data;
      const run = t.dimSize(d) * inner;
      for (let o = 0; o < outer; o++) copyRun(src, o * run, dst.data, o * row + at, run);
      at += run;
    }
  });
}

/** Output of `stack`: equal shapes, a new dim at `dim` (in -rank-1..rank), dtype promoted. */
export function stackMeta(tensors: readonly TensorMeta[], dim: number): TensorMeta {
  if (tensors.length === 0) throw new RangeError('acc.stack: expected a non-empty list of tensors');
  const ref = tensors[0]!.shape;
  tensors.forEach((t, i) => {
    if (t.shape.length !== ref.length || t.shape.some((s, a) => s !== ref[a])) {
      throw new RangeError(`acc.stack: expects tensors of equal shape, got ${formatShape(ref)} at entry 0 and ${formatShape(t.shape)} at entry ${i}`);
    }
  });
  const d = normDim(dim, ref.length + 1, 'acc.stack: dim');
  const dtype = tensors.map((t) => t.dtype).reduce(promoteTypes);
  const out = [...ref.slice(0, d), tensors.length, ...ref.slice(d)];
  const qp = commonQParams('acc.stack', tensors);
  return tensorMeta(out, dtype, carryQParams('acc.stack', qp, (axis) => (axis >= d ? axis + 1 : axis)));
}

/**
 * `stack`: joins equal-shape tensors along a new dim, promoting dtypes.
 * @example stack([Tensor.fromArray([1, 2]), Tensor.fromArray([3, 4])], 1).toArray() // [[1, 3], [2, 4]]
 */
export function stack(tensors: readonly Tensor[], dim: number): Tensor {
  const meta = stackMeta(tensors, dim);
  const d = normDim(dim, meta.shape.length);
  return produce(meta, (dst) => {
    const k = dst.perElement;
    const run = numelOf(meta.shape.slice(d + 1)) * k;
    const outer = numelOf(meta.shape.slice(0, d));
    const srcs = tensors.map((t) => wordsOf(t.dtype === meta.dtype ? t.data : t.castTo(meta.dtype).data).data);
    let o = 0;
    for (let a = 0; a < outer; a++) {
      for (const src of srcs) {
        copyRun(src, a * run, dst.data, o, run);
        o += run;
      }
    }
  });
}

// ---- split / chunk / slice ----

/** Sizes of the parts of torch.split with an int size (the last part may be smaller). */
function splitSizes(size: number, splitSize: number, where: string): number[] {
  if (splitSize < 0) throw new RangeError(`acc.split: split_size must be non-negative, got ${splitSize} (${where})`);
  if (splitSize === 0 && size !== 0) throw new RangeError(`acc.split: split_size can only be 0 if the dim size is 0, got dim size ${size} (${where})`);
  const parts = splitSize === 0 ? 1 : Math.max(Math.ceil(size / splitSize), 1);
  const sizes = new Array<number>(parts).fill(splitSize);
  sizes[parts - 1] = size - splitSize * (parts - 1);
  return sizes;
}

function partsMeta(op: string, input: TensorMeta, d: number, sizes: readonly number[]): TensorMeta[] {
  const qparams = carryQParams(op, input.qparams, (axis) => (axis === d ? null : axis));
  return sizes.map((s) => {
    const out = [...input.shape];
    out[d] = s;
    return tensorMeta(out, input.dtype, qparams);
  });
}

function partsDim(op: string, input: TensorMeta, dim: number): number {
  if (input.shape.length === 0) throw new RangeError(`${op}: expects a tensor of at least 1 dim, got a 0-d tensor`);
  return normDim(dim, input.shape.length, `${op}: dim`);
}

/** Output of `split`: parts of `split_size` (last one smaller), or of the listed sizes, which must sum to the dim. */
export function splitMeta(input: TensorMeta, splitSizeOrSections: number | readonly number[], dim: number): TensorMeta[] {
  const d = partsDim('acc.split', input, dim);
  const size = input.shape[d]!;
  const where = `dim ${d} of input ${formatShape(input.shape)}`;
  if (typeof splitSizeOrSections === 'number') return partsMeta('acc.split', input, d, splitSizes(size, splitSizeOrSections, where));
  const sections = splitSizeOrSections;
  let sum = 0;
  for (const s of sections) {
    if (s < 0) throw new RangeError(`acc.split: sections must be non-negative, got [${sections.join(', ')}] (${where})`);
    sum += s;
  }
  if (sum !== size) throw new RangeError(`acc.split: sections [${sections.join(', ')}] must sum to ${size}, the size of ${where}, got ${sum}`);
  return partsMeta('acc.split', input, d, sections);
}

/** Output of `chunk`: PyTorch sizing, parts of ceil(size / chunks), so fewer than `chunks` parts may come back. */
export function chunkMeta(input: TensorMeta, chunks: number, dim: number): TensorMeta[] {
  const d = partsDim('acc.chunk', input, dim);
  if (!Number.isInteger(chunks) || chunks <= 0) throw new RangeError(`acc.chunk: chunks must be a positive integer, got ${chunks}`);
  const size = input.shape[d]!;
  const splitSize = Math.ceil(size / chunks);
  // An empty dim still gives `chunks` empty parts, as torch.chunk does.
  const sizes = size === 0 ? new Array<number>(chunks).fill(0) : splitSizes(size, splitSize, `dim ${d}`);
  return partsMeta('acc.chunk', input, d, sizes);
}

function narrowParts(input: Tensor, metas: readonly TensorMeta[], dim: number): Tensor[] {
  const d = normDim(dim, input.rank);
  let start = 0;
  return metas.map((m) => {
    const len = m.shape[d]!;
    const part = narrow(input, m, d, start, len);
    start += len;
    return part;
  });
}

/** Elements start..start+len-1 of dim `d`, as a new tensor of `meta`. */
function narrow(input: Tensor, meta: TensorMeta, d: number, start: number, len: number): Tensor {
  return produce(meta, (dst) => {
    const k = dst.perElement;
    const inShape = input.shape;
    const inner = numelOf(inShape.slice(d + 1)) * k;
    const outer = numelOf(inShape.slice(0, d));
    const srcRow = inShape[d]! * inner;
    const run = len * inner;
    const src = wordsOf(input.data).data;
    for (let o = 0; o < outer; o++) copyRun(src, o * srcRow + start * inner, dst.data, o * run, run);
  });
}

/**
 * `split`: parts of `split_size_or_sections` elements along `dim` (copies).
 * @example split(Tensor.arange(5), 2, 0).map((t) => t.shape) // [[2], [2], [1]]
 */
export function split(input: Tensor, splitSizeOrSections: number | readonly number[], dim: number): Tensor[] {
  return narrowParts(input, splitMeta(input, splitSizeOrSections, dim), dim);
}

/**
 * `chunk`: up to `chunks` parts of ceil(size / chunks) elements along `dim`.
 * @example chunk(Tensor.arange(6), 4, 0).map((t) => t.shape) // [[2], [2], [2]]
 */
export function chunk(input: Tensor, chunks: number, dim: number): Tensor[] {
  return narrowParts(input, chunkMeta(input, chunks, dim), dim);
}

/** Python's slice bounds on a dim of `size`: negatives count from the end, out-of-range values clamp. */
export function sliceBounds(size: number, start: number | null, end: number | null, step: number): { start: number; length: number } {
  let s = start ?? 0;
  let e = end ?? size;
  if (s < 0) s += size;
  if (e < 0) e += size;
  s = Math.min(Math.max(s, 0), size);
  e = Math.min(Math.max(e, s), size);
  return { start: s, length: Math.ceil((e - s) / step) };
}

/** Output of `slice` (dim, start, end, step >= 1), Python-style bounds. */
export function sliceMeta(input: TensorMeta, dim: number, start: number | null, end: number | null, step: number): TensorMeta {
  if (input.shape.length === 0) throw new RangeError('acc.slice: cannot slice a 0-d tensor');
  if (!Number.isInteger(step) || step < 1) throw new RangeError(`acc.slice: step must be a positive integer, got ${step}`);
  const d = normDim(dim, input.shape.length, 'acc.slice: dim');
  const size = input.shape[d]!;
  const b = sliceBounds(size, start, end, step);
  const out = [...input.shape];
  out[d] = b.length;
  const whole = b.start === 0 && b.length === size && (step === 1 || size <= 1);
  return tensorMeta(out, input.dtype, carryQParams('acc.slice', input.qparams, (axis) => (axis !== d || whole ? axis : null)));
}

/**
 * `slice`: `x[..., start:end:step, ...]` along `dim` (a copy).
 * @example slice(Tensor.arange(6), 0, -1, null, 2).toArray() // [5]
 */
export function slice(input: Tensor, dim: number, start: number | null, end: number | null, step: number): Tensor {
  const meta = sliceMeta(input, dim, start, end, step);
  const d = normDim(dim, input.rank);
  const b = sliceBounds(input.dimSize(d), start, end, step);
  if (step === 1) return narrow(input, meta, d, b.start, b.length);
  const strides = input.strides;
  const offset = b.start * strides[d]!;
  strides[d] = strides[d]! * step;
  return produce(meta, (dst) => stridedCopy(wordsOf(input.data), offset, meta.shape, strides, dst));
}
