/**
 * Reference kernels of the pad_resize family: `pad` (PyTorch F.pad) and `interpolate` (F.interpolate).
 *
 * Both reduce to index maps along each padded/resized dim. pad and the nearest modes then copy raw
 * words through the maps (any dtype, bit for bit). The linear and cubic modes run one separable pass
 * per spatial dim, last dim first, in float32 with every product and sum rounded to float32: the same
 * operations in the same order as PyTorch's CPU kernel (nested sums, innermost dim first), with its
 * source-index and weight computations. (A PyTorch build that contracts them into FMAs can differ in
 * the last bit.) Weights are rounded to the input dtype, as PyTorch stores them.
 */
import type { TensorMeta } from '../../ir/node.js';
import { allocStorage, isFloating, roundTo } from '../../tensor/dtype.js';
import { formatShape, numelOf } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { isQuantDType, quantizeScalar } from './quant.js';
import { carryQParams, copyRun, tensorMeta, wordsOf, type WordArray, type Words } from './shape.js';

// ---- gather through per-dim index maps ----

/**
 * Fills `dst` [batch, ...out dims] from `src` [batch, ...inDims]: output index j of dim t reads
 * input index maps[t][j], or writes `fill` where that is -1. Iterative. Rows of the last dim are
 * copied as runs when the map has long runs of consecutive sources (pads), element by element
 * otherwise (resizes); an output row with the same source row as the previous one is copied from it.
 */
function gatherByMaps(src: Words, inDims: readonly number[], maps: readonly Int32Array[], batch: number, dst: Words, fill: WordArray | null): void {
  const p = maps.length;
  const k = src.perElement;
  const outDims = maps.map((m) => m.length);
  if (batch === 0 || outDims.some((n) => n === 0)) return;
  const inStrides = new Array<number>(p);
  let inBlock = k;
  for (let t = p - 1; t >= 0; t--) {
    inStrides[t] = inBlock;
    inBlock *= inDims[t]!;
  }
  const last = maps[p - 1]!;
  const rowWords = last.length * k;
  const runs = rowRuns(last);
  const byRuns = runs.length / 3 <= last.length / 8;
  let rows = batch;
  for (let t = 0; t < p - 1; t++) rows *= outDims[t]!;
  const idx = new Array<number>(Math.max(p - 1, 0)).fill(0);
  const s = src.data;
  const d = dst.data;
  let b = 0;
  let prevRow = -2;
  for (let r = 0, o = 0; r < rows; r++, o += rowWords) {
    let row = b * inBlock;
    for (let t = 0; t < p - 1; t++) {
      const m = maps[t]![idx[t]!]!;
      if (m < 0) {
        row = -1;
        break;
      }
      row += m * inStrides[t]!;
    }
    if (row === prevRow) copyRun(d, o - rowWords, d, o, rowWords);
    else if (row < 0) fillRun(d, o, rowWords, fill!);
    else if (byRuns) {
      for (let q = 0, at = o; q < runs.length; q += 3) {
        const len = runs[q + 1]! * k;
        const from = runs[q + 2]!;
        if (from < 0) fillRun(d, at, len, fill!);
        else copyRun(s, row + from * k, d, at, len);
        at += len;
      }
    } else if (k === 1) {
      for (let j = 0; j < last.length; j++) {
        const m = last[j]!;
        d[o + j] = m < 0 ? fill![0]! : s[row + m]!;
      }
    } else {
      for (let j = 0; j < last.length; j++) {
        const m = last[j]!;
        if (m < 0) fillRun(d, o + 2 * j, 2, fill!);
        else {
          d[o + 2 * j] = s[row + 2 * m]!;
          d[o + 2 * j + 1] = s[row + 2 * m + 1]!;
        }
      }
    }
    prevRow = row;
    // Advance the odometer over the outer output dims; wrapping all of them moves to the next batch item.
    let t = p - 2;
    for (; t >= 0; t--) {
      if (++idx[t]! < outDims[t]!) break;
      idx[t] = 0;
    }
    if (t < 0) {
      b++;
      prevRow = -2;
    }
  }
}

/** A row map as runs (start, length, first source or -1): consecutive sources become one copy. */
function rowRuns(map: Int32Array): Int32Array {
  const runs: number[] = [];
  for (let j = 0; j < map.length;) {
    const from = map[j]!;
    let len = 1;
    while (j + len < map.length && (from < 0 ? map[j + len]! < 0 : map[j + len] === from + len)) len++;
    runs.push(j, len, from);
    j += len;
  }
  return Int32Array.from(runs);
}

function fillRun(d: WordArray, o: number, len: number, fill: WordArray): void {
  if (fill.length === 1) d.fill(fill[0]!, o, o + len);
  else for (let i = 0; i < len; i += fill.length) for (let w = 0; w < fill.length; w++) d[o + i + w] = fill[w]!;
}

// ---- pad ----

/** Modes of F.pad. */
export type PadMode = 'constant' | 'reflect' | 'replicate' | 'circular';
const PAD_MODES: readonly string[] = ['constant', 'reflect', 'replicate', 'circular'] satisfies readonly PadMode[];

interface PadDim {
  readonly size: number;
  readonly before: number;
  readonly after: number;
  readonly out: number;
}

/** Padded dims, innermost last; validates like PyTorch (reflect pads below the size, circular wraps at most once). */
function padDims(input: TensorMeta, pad: readonly number[], mode: PadMode, value: number): PadDim[] {
  const rank = input.shape.length;
  const where = `pad [${pad.join(', ')}] on input ${formatShape(input.shape)}`;
  if (!PAD_MODES.includes(mode)) throw new TypeError(`acc.pad: mode must be one of ${PAD_MODES.join(', ')}, got '${String(mode)}'`);
  if (pad.length % 2 !== 0) throw new RangeError(`acc.pad: padding length must be even, got ${pad.length} (${where})`);
  if (pad.length > 2 * rank) throw new RangeError(`acc.pad: ${pad.length / 2} padded dims exceed the input rank ${rank} (${where})`);
  if (mode !== 'constant' && value !== 0) throw new RangeError(`acc.pad: mode '${mode}' takes no value, got ${value}`);
  const dims: PadDim[] = [];
  for (let j = pad.length / 2 - 1; j >= 0; j--) {
    const dim = rank - 1 - j;
    const size = input.shape[dim]!;
    const before = pad[2 * j]!;
    const after = pad[2 * j + 1]!;
    const out = size + before + after;
    const at = `dim ${dim} (size ${size}, padding (${before}, ${after}); ${where})`;
    if (out < 0) throw new RangeError(`acc.pad: padding gives a negative output size ${out} at ${at}`);
    if ((mode === 'reflect' || mode === 'replicate') && (size === 0 || out === 0)) {
      throw new RangeError(`acc.pad: mode '${mode}' needs non-empty input and output at ${at}`);
    }
    if (mode === 'reflect' && (before >= size || after >= size)) {
      throw new RangeError(`acc.pad: reflect padding must be smaller than the input size at ${at}`);
    }
    if (mode === 'circular') {
      const kept = size + Math.min(before, 0) + Math.min(after, 0);
      if (before > kept || after > kept) throw new RangeError(`acc.pad: circular padding wraps around more than once at ${at}`);
    }
    dims.push({ size, before, after, out });
  }
  return dims;
}

/** Output of `pad` (PyTorch F.pad): `pad` holds (before, after) pairs, last dim first; negative pads crop. */
export function padMeta(input: TensorMeta, pad: readonly number[], mode: PadMode, value: number): TensorMeta {
  const dims = padDims(input, pad, mode, value);
  const lead = input.shape.length - dims.length;
  if (mode === 'constant' && input.qparams?.axis !== undefined) {
    throw new RangeError('acc.pad: constant padding of a per-channel quantized input is not supported (only per-tensor)');
  }
  const unchanged = (axis: number): boolean => axis < lead || (dims[axis - lead]!.before === 0 && dims[axis - lead]!.after === 0);
  const qparams = carryQParams('acc.pad', input.qparams, (axis) => (unchanged(axis) ? axis : null));
  return tensorMeta([...input.shape.slice(0, lead), ...dims.map((d) => d.out)], input.dtype, qparams);
}

/** Source index of each output index of one padded dim (-1: the constant). */
function padMap(d: PadDim, mode: PadMode): Int32Array {
  const map = new Int32Array(d.out);
  const { size, before } = d;
  const start = Math.max(-before, 0);
  const kept = size - start - Math.max(-d.after, 0);
  const lead = Math.max(before, 0);
  for (let j = 0; j < d.out; j++) {
    const p = j - before;
    switch (mode) {
      case 'constant': map[j] = p >= 0 && p < size ? p : -1; break;
      case 'reflect': map[j] = p < 0 ? -p : p >= size ? 2 * (size - 1) - p : p; break;
      case 'replicate': map[j] = p < 0 ? 0 : p >= size ? size - 1 : p; break;
      // PyTorch crops negative sides first, then wraps around what is left.
      case 'circular': map[j] = start + ((((j - lead) % kept) + kept) % kept); break;
    }
  }
  return map;
}

/**
 * `pad`: PyTorch F.pad in modes constant (with `value`), reflect, replicate and circular, over any
 * number of trailing dims; negative pads crop. A quantized input pads with the quantized value.
 * @example pad(Tensor.fromArray([1, 2, 3]), [2, 1], 'reflect', 0).toArray() // [3, 2, 1, 2, 3, 2]
 */
export function pad(input: Tensor, padding: readonly number[], mode: PadMode, value: number): Tensor {
  const meta = padMeta(input, padding, mode, value);
  const dims = padDims(input, padding, mode, value);
  const data = allocStorage(meta.dtype, numelOf(meta.shape));
  const out = new Tensor(data, meta.shape, meta.dtype, meta.qparams);
  if (dims.length === 0) {
    wordsOf(data).data.set(wordsOf(input.data).data);
    return out;
  }
  const batch = numelOf(input.shape.slice(0, input.rank - dims.length));
  const fill = mode === 'constant' ? fillWords(input, value) : null;
  gatherByMaps(wordsOf(input.data), dims.map((d) => d.size), dims.map((d) => padMap(d, mode)), batch, wordsOf(data), fill);
  return out;
}

/** The constant of a constant pad as raw words of the input's dtype (quantized with its qparams, if any). */
function fillWords(input: Tensor, value: number): WordArray {
  const q = input.qparams;
  if (q !== undefined) {
    if (!isQuantDType(input.dtype)) throw new TypeError(`acc.pad: a quantized input must be int8, uint8, int32 or float8e4m3, got ${input.dtype}`);
    const words = allocStorage(input.dtype, 1) as Int8Array | Uint8Array | Int32Array;
    words[0] = quantizeScalar(value, input.dtype, q.scale[0]!, q.zeroPoint[0]!);
    return wordsOf(words).data;
  }
  return wordsOf(Tensor.fromNumbers([value], [1], input.dtype).data).data;
}

// ---- interpolate ----

/** Modes of F.interpolate. */
export type InterpolateMode = 'nearest' | 'nearest-exact' | 'linear' | 'bilinear' | 'bicubic' | 'trilinear';
const INTERPOLATE_MODES: readonly string[] = ['nearest', 'nearest-exact', 'linear', 'bilinear', 'bicubic', 'trilinear'] satisfies readonly InterpolateMode[];

/** Arguments of `interpolate`, as F.interpolate's (recompute_scale_factor unset, no antialias). */
export interface InterpolateArgs {
  readonly size: readonly number[] | null;
  readonly scaleFactor: readonly number[] | null;
  readonly mode: InterpolateMode;
  readonly alignCorners: boolean | null;
}

const MODE_RANK: Partial<Record<InterpolateMode, number>> = { linear: 3, bilinear: 4, bicubic: 4, trilinear: 5 };

interface ResizePlan {
  readonly out: number[];
  /** The scale factor of each spatial dim when given (PyTorch then uses 1 / it, not in / out). */
  readonly scales: (number | null)[];
  readonly alignCorners: boolean;
}

function planResize(input: TensorMeta, args: InterpolateArgs): ResizePlan {
  const { size, scaleFactor, mode, alignCorners } = args;
  const rank = input.shape.length;
  if (!INTERPOLATE_MODES.includes(mode)) throw new TypeError(`acc.interpolate: mode must be one of ${INTERPOLATE_MODES.join(', ')}, got '${String(mode)}'`);
  if (rank < 3 || rank > 5) throw new RangeError(`acc.interpolate: input must be 3-d, 4-d or 5-d ([N, C, ...spatial]), got shape ${formatShape(input.shape)}`);
  const needed = MODE_RANK[mode];
  if (needed !== undefined && needed !== rank) throw new RangeError(`acc.interpolate: mode '${mode}' needs a ${needed}-d input, got shape ${formatShape(input.shape)}`);
  if (alignCorners !== null && typeof alignCorners !== 'boolean') throw new TypeError(`acc.interpolate: align_corners must be a boolean or null, got ${String(alignCorners)}`);
  if (alignCorners !== null && needed === undefined) {
    throw new RangeError(`acc.interpolate: align_corners can only be set with the interpolating modes linear, bilinear, bicubic and trilinear, not '${mode}'`);
  }
  if (needed !== undefined && !isFloating(input.dtype)) throw new TypeError(`acc.interpolate: mode '${mode}' needs a floating-point input, got ${input.dtype}`);
  if (needed !== undefined && input.qparams !== undefined) throw new TypeError(`acc.interpolate: mode '${mode}' does not take quantized input`);
  const nSp = rank - 2;
  const spatial = input.shape.slice(2);
  if ((size === null) === (scaleFactor === null)) {
    throw new RangeError(`acc.interpolate: exactly one of size and scale_factor must be given, got ${size === null ? 'neither' : 'both'}`);
  }
  const given = size ?? scaleFactor!;
  if (given.length !== nSp) {
    const what = size !== null ? 'size' : 'scale_factor';
    throw new RangeError(`acc.interpolate: ${what} [${given.join(', ')}] must have one entry per spatial dim of input ${formatShape(input.shape)} (${nSp})`);
  }
  const out = size !== null ? [...size] : spatial.map((s, i) => Math.floor(s * scaleFactor![i]!));
  if (spatial.some((s) => s <= 0) || out.some((s) => !(s > 0) || !Number.isInteger(s))) {
    throw new RangeError(`acc.interpolate: input and output spatial sizes must be positive, got input ${formatShape(spatial)} and output ${formatShape(out)}`);
  }
  return { out, scales: spatial.map((_, i) => scaleFactor?.[i] ?? null), alignCorners: alignCorners ?? false };
}

/** Output of `interpolate`: size, or floor(in * scale_factor), per spatial dim. */
export function interpolateMeta(input: TensorMeta, args: InterpolateArgs): TensorMeta {
  const plan = planResize(input, args);
  const qparams = carryQParams('acc.interpolate', input.qparams, (axis) => (axis < 2 ? axis : null));
  return tensorMeta([...input.shape.slice(0, 2), ...plan.out], input.dtype, qparams);
}

/** PyTorch's compute_scales_value: 1 / scale_factor when given, else in / out, in float32. */
function scaleValue(inSize: number, outSize: number, scale: number | null): number {
  return scale !== null && scale > 0 ? Math.fround(1 / scale) : Math.fround(inSize / outSize);
}

/** PyTorch's area_pixel_compute_scale (the CUDA lowering passes the same ratios to its kernel). */
export function areaScale(inSize: number, outSize: number, alignCorners: boolean, scale: number | null): number {
  if (alignCorners) return outSize > 1 ? Math.fround((inSize - 1) / (outSize - 1)) : 0;
  return scaleValue(inSize, outSize, scale);
}

/** PyTorch's area_pixel_compute_source_index in float32 (clamped at 0 except for cubic). */
function sourceIndex(scale: number, dst: number, alignCorners: boolean, cubic: boolean): number {
  const f = Math.fround;
  if (alignCorners) return f(scale * dst);
  const src = f(f(scale * f(dst + 0.5)) - 0.5);
  return !cubic && src < 0 ? 0 : src;
}

/** Source index of each output index: PyTorch's legacy nearest (floor(dst * scale)) or nearest-exact. */
function nearestMap(mode: 'nearest' | 'nearest-exact', inSize: number, outSize: number, scale: number | null): Int32Array {
  const map = new Int32Array(outSize);
  const s = scaleValue(inSize, outSize, scale);
  for (let j = 0; j < outSize; j++) {
    if (mode === 'nearest-exact') map[j] = Math.min(Math.floor(Math.fround((j + 0.5) * s)), inSize - 1);
    else if (outSize === inSize) map[j] = j;
    else if (outSize === 2 * inSize) map[j] = j >> 1;
    else map[j] = Math.min(Math.floor(Math.fround(j * s)), inSize - 1);
  }
  return map;
}

/** Interpolation taps of one dim: `taps` source indices and weights per output index. */
interface Taps {
  readonly taps: number;
  readonly index: Int32Array;
  readonly weight: Float32Array;
}

type WeightRounding = (w: number) => number;

function linearTaps(inSize: number, outSize: number, alignCorners: boolean, scale: number | null, round: WeightRounding): Taps {
  const index = new Int32Array(2 * outSize);
  const weight = new Float32Array(2 * outSize);
  const ratio = areaScale(inSize, outSize, alignCorners, scale);
  for (let j = 0; j < outSize; j++) {
    if (outSize === inSize) {
      index[2 * j] = index[2 * j + 1] = j;
      weight[2 * j] = 1;
      continue;
    }
    const real = sourceIndex(ratio, j, alignCorners, false);
    const i0 = Math.min(Math.floor(real), inSize - 1);
    const w1 = round(Math.min(Math.max(Math.fround(real - i0), 0), 1));
    index[2 * j] = i0;
    index[2 * j + 1] = i0 < inSize - 1 ? i0 + 1 : i0;
    weight[2 * j] = round(1 - w1);
    weight[2 * j + 1] = w1;
  }
  return { taps: 2, index, weight };
}

const A = -0.75;
/** Keys' cubic kernel for |x| <= 1, in float32 like PyTorch's cubic_convolution1. */
function cubic1(x: number): number {
  const f = Math.fround;
  return f(f(f(f(f((A + 2) * x) - (A + 3)) * x) * x) + 1);
}
/** Keys' cubic kernel for 1 < |x| < 2 (cubic_convolution2). */
function cubic2(x: number): number {
  const f = Math.fround;
  return f(f(f(f(f(f(A * x) - 5 * A) * x) + 8 * A) * x) - 4 * A);
}

function cubicTaps(inSize: number, outSize: number, alignCorners: boolean, scale: number | null, round: WeightRounding): Taps {
  const index = new Int32Array(4 * outSize);
  const weight = new Float32Array(4 * outSize);
  const ratio = areaScale(inSize, outSize, alignCorners, scale);
  for (let j = 0; j < outSize; j++) {
    const real = sourceIndex(ratio, j, alignCorners, true);
    const i0 = Math.min(Math.floor(real), inSize - 1);
    const t = Math.min(Math.max(Math.fround(real - i0), 0), 1);
    const x2 = Math.fround(1 - t);
    const w = [cubic2(Math.fround(t + 1)), cubic1(t), cubic1(x2), cubic2(Math.fround(x2 + 1))];
    for (let k = 0; k < 4; k++) {
      index[4 * j + k] = Math.min(Math.max(i0 - 1 + k, 0), inSize - 1);
      weight[4 * j + k] = round(w[k]!);
    }
  }
  return { taps: 4, index, weight };
}

/** One separable pass: src [outer, inSize, inner] -> [outer, outSize, inner], sums rounded to float32 in tap order. */
function resizePass(src: Float32Array, outer: number, inSize: number, inner: number, t: Taps): Float32Array {
  const { taps, index, weight } = t;
  const outSize = index.length / taps;
  const dst = new Float32Array(outer * outSize * inner);
  const f = Math.fround;
  if (inner === 1) {
    // The last dim: one output element per tap set.
    for (let a = 0, o = 0; a < outer; a++) {
      const base = a * inSize;
      for (let j = 0; j < outSize * taps; j += taps, o++) {
        let acc = f(src[base + index[j]!]! * weight[j]!);
        for (let q = 1; q < taps; q++) acc = f(acc + f(src[base + index[j + q]!]! * weight[j + q]!));
        dst[o] = acc;
      }
    }
    return dst;
  }
  for (let a = 0; a < outer; a++) {
    for (let o = 0; o < outSize; o++) {
      const at = (a * outSize + o) * inner;
      for (let q = 0; q < taps; q++) {
        const from = (a * inSize + index[o * taps + q]!) * inner;
        const w = weight[o * taps + q]!;
        // Float32Array stores round each sum; the product is rounded first, as in float32 C++.
        if (q === 0) for (let i = 0; i < inner; i++) dst[at + i] = src[from + i]! * w;
        else for (let i = 0; i < inner; i++) dst[at + i] = dst[at + i]! + f(src[from + i]! * w);
      }
    }
  }
  return dst;
}

/**
 * `interpolate`: PyTorch F.interpolate for 3-d/4-d/5-d [N, C, ...] inputs in modes nearest (legacy
 * floor(dst * scale)), nearest-exact, linear, bilinear, trilinear (align_corners or half-pixel with the
 * source clamped at 0) and bicubic (A = -0.75, border-clamped taps). A given scale_factor is used as
 * the scale, as PyTorch does when recompute_scale_factor is not set.
 * @example interpolate(x, { size: [4, 4], scaleFactor: null, mode: 'bilinear', alignCorners: false }).shape // [N, C, 4, 4]
 */
export function interpolate(input: Tensor, args: InterpolateArgs): Tensor {
  const meta = interpolateMeta(input, args);
  const plan = planResize(input, args);
  const inShape = input.shape;
  const spatial = inShape.slice(2);
  const batch = inShape[0]! * inShape[1]!;
  if (args.mode === 'nearest' || args.mode === 'nearest-exact') {
    const mode = args.mode;
    const data = allocStorage(meta.dtype, numelOf(meta.shape));
    const maps = spatial.map((s, i) => nearestMap(mode, s, plan.out[i]!, plan.scales[i] ?? null));
    gatherByMaps(wordsOf(input.data), spatial, maps, batch, wordsOf(data), null);
    return new Tensor(data, meta.shape, meta.dtype, meta.qparams);
  }
  const dtype = input.dtype as 'float32' | 'float16' | 'bfloat16';
  const round: WeightRounding = dtype === 'float32' ? (w) => w : (w) => roundTo(dtype, w);
  const shape = [...inShape];
  let cur = input.toFloat32();
  for (let i = spatial.length - 1; i >= 0; i--) {
    const axis = i + 2;
    const taps = args.mode === 'bicubic'
      ? cubicTaps(spatial[i]!, plan.out[i]!, plan.alignCorners, plan.scales[i] ?? null, round)
      : linearTaps(spatial[i]!, plan.out[i]!, plan.alignCorners, plan.scales[i] ?? null, round);
    cur = resizePass(cur, numelOf(shape.slice(0, axis)), shape[axis]!, numelOf(shape.slice(axis + 1)), taps);
    shape[axis] = plan.out[i]!;
  }
  return dtype === 'float32' ? new Tensor(cur, meta.shape, dtype) : Tensor.fromNumbers(cur, meta.shape, dtype);
}
