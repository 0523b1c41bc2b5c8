/**
 * Tensor-level reference kernels of the linalg acc ops: linear, matmul, transposed_matmul,
 * einsum and scaled_dot_product_attention, all on the raw `sgemm`/`batchedMatmul` of gemm.ts.
 *
 * Each op has a `...Meta` function (shape/dtype inference and validation, used by the acc op's
 * infer and by the kernel itself) and a kernel on Tensors. Float32 inputs are read without copies;
 * float16/bfloat16 compute in float32 and round the output once.
 */
import { broadcastShapes, contiguousStrides, formatShape, numelOf } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { expectRank, floatDType, floatResult, sameDType, type FloatDType, type ResultInfo, type TensorInfo } from './float_io.js';
import { batchedMatmul, sgemm } from './gemm.js';

// ---------------------------------------------------------------- linear

/**
 * Shape/dtype of `linear(input, weight, bias)`: input [..., in], weight [out, in], bias [out].
 * @example
 *   linearMeta({ shape: [8, 5, 3], dtype: 'float32' }, { shape: [4, 3], dtype: 'float32' }, null).shape // [8, 5, 4]
 */
export function linearMeta(input: TensorInfo, weight: TensorInfo, bias: TensorInfo | null): ResultInfo {
  const op = 'acc.linear';
  const dtype = floatDType(op, 'input', input);
  sameDType(op, 'weight', weight, 'input', dtype);
  const x = input.shape;
  const w = weight.shape;
  expectRank(op, 'weight', w, 2, '[out_features, in_features]');
  if (x.length === 0) throw new RangeError(`${op}: argument 'input' must have at least 1 dim [..., in_features], got a scalar`);
  const [outF, inF] = [w[0]!, w[1]!];
  if (x[x.length - 1] !== inF) {
    throw new RangeError(`${op}: input has ${x[x.length - 1]} features (shape ${formatShape(x)}), weight ${formatShape(w)} expects ${inF}`);
  }
  if (bias) {
    sameDType(op, 'bias', bias, 'input', dtype);
    const n = numelOf(bias.shape);
    if (bias.shape.length > 1 || (n !== outF && n !== 1)) {
      throw new RangeError(`${op}: argument 'bias' must have shape [${outF}] (one value per output feature), got ${formatShape(bias.shape)}`);
    }
  }
  return { shape: [...x.slice(0, -1), outF], dtype };
}

/**
 * `x @ weight^T + bias` over any leading dims, as one GEMM over the flattened rows.
 * @example
 *   // x [2, 7, 16], w [32, 16], b [32]
 *   linear(x, w, b).shape // [2, 7, 32]
 */
export function linear(input: Tensor, weight: Tensor, bias: Tensor | null): Tensor {
  const { shape, dtype } = linearMeta(input, weight, bias);
  const outF = shape[shape.length - 1]!;
  const inF = weight.shape[1]!;
  const rows = numelOf(shape.slice(0, -1));
  const out = new Float32Array(rows * outF);
  let beta = 0;
  if (bias) {
    const b = bias.toFloat32();
    if (b.length === outF) for (let r = 0; r < rows; r++) out.set(b, r * outF);
    else out.fill(b[0]!);
    beta = 1;
  }
  const ld = Math.max(1, inF);
  sgemm(false, true, rows, outF, inF, 1, input.toFloat32(), 0, ld, weight.toFloat32(), 0, ld, beta, out, 0, Math.max(1, outF));
  return floatResult(out, shape, dtype);
}

// ---------------------------------------------------------------- matmul

/** torch.matmul's result shape of `a @ b` (1-D promotion, broadcast batch dims), errors naming `op`. */
function matmulShape(op: string, a: readonly number[], b: readonly number[], names: readonly [string, string]): number[] {
  if (a.length === 0 || b.length === 0) {
    throw new RangeError(`${op}: both operands need at least 1 dim, got ${names[0]} ${formatShape(a)} and ${names[1]} ${formatShape(b)}`);
  }
  const K = a[a.length - 1]!;
  const Kb = b.length === 1 ? b[0]! : b[b.length - 2]!;
  if (K !== Kb) {
    throw new RangeError(`${op}: inner dims differ: ${names[0]} ${formatShape(a)} @ ${names[1]} ${formatShape(b)} (${K} vs ${Kb})`);
  }
  const batch = broadcastBatch(op, a.slice(0, -2), b.slice(0, -2), names);
  if (a.length > 1) batch.push(a[a.length - 2]!);
  if (b.length > 1) batch.push(b[b.length - 1]!);
  return batch;
}

function broadcastBatch(op: string, a: readonly number[], b: readonly number[], names: readonly [string, string]): number[] {
  try {
    return broadcastShapes(a, b);
  } catch {
    throw new RangeError(`${op}: batch dims of ${names[0]} ${formatShape(a)} and ${names[1]} ${formatShape(b)} do not broadcast`);
  }
}

/**
 * Shape/dtype of `matmul(input, other)` with torch.matmul semantics.
 * @example
 *   matmulMeta({ shape: [3], dtype: 'float32' }, { shape: [2, 3, 4], dtype: 'float32' }).shape // [2, 4]
 */
export function matmulMeta(input: TensorInfo, other: TensorInfo): ResultInfo {
  const op = 'acc.matmul';
  // Integer matmul is allowed, as in PyTorch (exact, wrapping like the integer type).
  const dtype = INTEGER_DTYPES.has(input.dtype) ? input.dtype : floatDType(op, 'input', input);
  sameDType(op, 'other', other, 'input', dtype);
  return { shape: matmulShape(op, input.shape, other.shape, ['input', 'other']), dtype: dtype as FloatDType };
}

const INTEGER_DTYPES: ReadonlySet<string> = new Set(['int8', 'uint8', 'int32', 'int64']);

/** Exact integer matmul on BigInts, wrapping to the dtype's width like PyTorch's integer kernels. */
function integerMatmul(input: Tensor, other: Tensor, outShape: readonly number[]): Tensor {
  const dtype = input.dtype;
  const a = input.rank === 1 ? [1, input.shape[0]!] : input.shape;
  const b = other.rank === 1 ? [other.shape[0]!, 1] : other.shape;
  const [m, k] = [a[a.length - 2]!, a[a.length - 1]!];
  const n = b[b.length - 1]!;
  const batch = broadcastShapes(a.slice(0, -2), b.slice(0, -2));
  const aBatch = a.slice(0, -2);
  const bBatch = b.slice(0, -2);
  const av = toBigInts(input);
  const bv = toBigInts(other);
  const bits = dtype === 'int64' ? 64 : dtype === 'int32' ? 32 : 8;
  const out = new Float64Array(numelOf(batch) * m * n);
  const big = dtype === 'int64' ? new BigInt64Array(out.length) : null;
  const offsetIn = (bIdx: readonly number[], shape: readonly number[]): number => {
    let off = 0;
    const r = bIdx.length - shape.length;
    for (let i = 0; i < shape.length; i++) off = off * shape[i]! + (shape[i] === 1 ? 0 : bIdx[i + r]!);
    return off;
  };
  const strides = contiguousStrides(batch);
  for (let p = 0; p < numelOf(batch); p++) {
    const idx = strides.map((s, i) => Math.floor(p / s) % batch[i]!);
    const ao = offsetIn(idx, aBatch) * m * k;
    const bo = offsetIn(idx, bBatch) * k * n;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let acc = 0n;
        for (let t = 0; t < k; t++) acc += av[ao + i * k + t]! * bv[bo + t * n + j]!;
        const o = (p * m + i) * n + j;
        const w = dtype === 'uint8' ? BigInt.asUintN(8, acc) : BigInt.asIntN(bits, acc);
        if (big) big[o] = w; else out[o] = Number(w);
      }
    }
  }
  if (big) return Tensor.fromStorage(big, outShape, 'int64');
  return Tensor.fromNumbers(out, outShape, dtype);
}

function toBigInts(t: Tensor): bigint[] {
  if (t.dtype === 'int64') return Array.from(t.data as BigInt64Array);
  return Array.from(t.toFloat64(), (v) => BigInt(v));
}

/**
 * torch.matmul: batched, broadcasting, with 1-D operands promoted and their dim dropped again.
 * @example
 *   // a [4, 5, 3], b [3, 2]
 *   matmul(a, b).shape // [4, 5, 2]
 */
export function matmul(input: Tensor, other: Tensor): Tensor {
  const { dtype, shape } = matmulMeta(input, other);
  if (INTEGER_DTYPES.has(dtype)) return integerMatmul(input, other, shape);
  const r = batchedMatmul(input.toFloat32(), input.shape, other.toFloat32(), other.shape);
  return floatResult(r.data, r.shape, dtype);
}

/** `shape` with its last two dims swapped. */
function swapLast(shape: readonly number[]): number[] {
  const s = shape.slice();
  const r = s.length;
  [s[r - 2], s[r - 1]] = [s[r - 1]!, s[r - 2]!];
  return s;
}

/**
 * Shape/dtype of `transposed_matmul`: matmul of the operands, each with its last two dims swapped
 * when its flag is set (a swapped operand needs at least 2 dims).
 * @example
 *   const m = { shape: [2, 8, 16], dtype: 'float32' } as const;
 *   transposedMatmulMeta(m, m, false, true).shape // [2, 8, 8]
 */
export function transposedMatmulMeta(input: TensorInfo, other: TensorInfo, transposeInput: boolean, transposeOther: boolean): ResultInfo {
  const op = 'acc.transposed_matmul';
  const dtype = floatDType(op, 'input', input);
  sameDType(op, 'other', other, 'input', dtype);
  const a = effectiveShape(op, 'input', input.shape, transposeInput);
  const b = effectiveShape(op, 'other', other.shape, transposeOther);
  return { shape: matmulShape(op, a, b, ['input', 'other']), dtype };
}

function effectiveShape(op: string, arg: string, shape: readonly number[], transpose: boolean): readonly number[] {
  if (!transpose) return shape;
  if (shape.length < 2) {
    throw new RangeError(`${op}: argument '${arg}' needs at least 2 dims to transpose its last two, got shape ${formatShape(shape)}`);
  }
  return swapLast(shape);
}

/**
 * `matmul(transpose_input ? input^T : input, transpose_other ? other^T : other)`, where ^T swaps the
 * last two dims; the transposes are folded into the GEMMs, nothing is copied.
 * @example
 *   // q, k [2, 8, 16]: q @ k^T
 *   transposedMatmul(q, k, false, true).shape // [2, 8, 8]
 */
export function transposedMatmul(input: Tensor, other: Tensor, transposeInput: boolean, transposeOther: boolean): Tensor {
  const { shape, dtype } = transposedMatmulMeta(input, other, transposeInput, transposeOther);
  if (!transposeInput && !transposeOther) return matmul(input, other);
  // A 1-D operand is never the transposed one here: promote it to a matrix as matmul does.
  const a = input.shape.length === 1 ? [1, input.shape[0]!] : input.shape;
  const b = other.shape.length === 1 ? [other.shape[0]!, 1] : other.shape;
  const M = a[a.length - (transposeInput ? 1 : 2)]!;
  const K = a[a.length - (transposeInput ? 2 : 1)]!;
  const N = b[b.length - (transposeOther ? 2 : 1)]!;
  const r = gemmBatched(input.toFloat32(), a.slice(0, -2), transposeInput, other.toFloat32(), b.slice(0, -2), transposeOther, M, N, K, 1);
  return floatResult(r.data, shape, dtype);
}

// ---------------------------------------------------------------- batched GEMM with transposes

/**
 * Offset of each broadcast batch item's matrix in an operand with batch dims `own` (right-aligned
 * against `full`, size-1 dims broadcast), for matrices of `matSize` elements.
 */
function batchOffsets(own: readonly number[], full: readonly number[], matSize: number): Float64Array {
  const strides = new Array<number>(full.length).fill(0);
  let s = matSize;
  for (let i = own.length - 1; i >= 0; i--) {
    strides[full.length - own.length + i] = own[i] === 1 ? 0 : s;
    s *= own[i]!;
  }
  const count = numelOf(full);
  const out = new Float64Array(count);
  const idx = new Array<number>(full.length).fill(0);
  let off = 0;
  for (let t = 0; t < count; t++) {
    out[t] = off;
    for (let d = full.length - 1; d >= 0; d--) {
      off += strides[d]!;
      if (++idx[d]! < full[d]!) break;
      off -= idx[d]! * strides[d]!;
      idx[d] = 0;
    }
  }
  return out;
}

/**
 * op(A) @ op(B) for every item of the broadcast batch: A holds [aBatch..., M, K] matrices
 * ([aBatch..., K, M] when transA), B holds [bBatch..., K, N] ([..., N, K] when transB).
 */
function gemmBatched(
  a: Float32Array, aBatch: readonly number[], transA: boolean, b: Float32Array, bBatch: readonly number[], transB: boolean,
  M: number, N: number, K: number, alpha: number,
): { data: Float32Array; batch: number[] } {
  const batch = broadcastShapes(aBatch, bBatch);
  const count = numelOf(batch);
  const out = new Float32Array(count * M * N);
  const lda = Math.max(1, transA ? M : K);
  const ldb = Math.max(1, transB ? K : N);
  const ldc = Math.max(1, N);
  if (!transA && numelOf(bBatch) === 1 && numelOf(aBatch) === count) {
    // One B for the whole batch and A's matrices stacked row-wise: a single tall GEMM.
    sgemm(false, transB, count * M, N, K, alpha, a, 0, lda, b, 0, ldb, 0, out, 0, ldc);
    return { data: out, batch };
  }
  const aOffs = batchOffsets(aBatch, batch, M * K);
  const bOffs = batchOffsets(bBatch, batch, K * N);
  for (let t = 0; t < count; t++) {
    sgemm(transA, transB, M, N, K, alpha, a, aOffs[t]!, lda, b, bOffs[t]!, ldb, 0, out, t * M * N, ldc);
  }
  return { data: out, batch };
}

/** Copies `src` read with element `strides` into a contiguous array of `shape` (permutes, diagonals). */
function stridedCopy(src: Float32Array, shape: readonly number[], strides: readonly number[]): Float32Array {
  const n = numelOf(shape);
  const out = new Float32Array(n);
  const r = shape.length;
  if (n === 0) return out;
  if (r === 0) {
    out[0] = src[0]!;
    return out;
  }
  const inner = shape[r - 1]!;
  const innerStride = strides[r - 1]!;
  const idx = new Array<number>(r - 1).fill(0);
  let base = 0;
  for (let o = 0; o < n; o += inner) {
    for (let i = 0, s = base; i < inner; i++, s += innerStride) out[o + i] = src[s]!;
    for (let d = r - 2; d >= 0; d--) {
      base += strides[d]!;
      if (++idx[d]! < shape[d]!) break;
      base -= idx[d]! * strides[d]!;
      idx[d] = 0;
    }
  }
  return out;
}

// ---------------------------------------------------------------- einsum

/** Label ids: 'A'-'Z' are 0-25, 'a'-'z' 26-51, ellipsis dims 52+ (broadcast, right-aligned). */
const ELLIPSIS_BASE = 52;
const ELLIPSIS = -1;

/** A parsed einsum equation against concrete operand shapes. */
interface EinsumPlan {
  /** Labels of each operand's dims (ellipsis expanded; a label may repeat: a diagonal). */
  terms: number[][];
  output: number[];
  /** Size of each label after broadcasting. */
  sizes: Map<number, number>;
}

function labelName(l: number): string {
  if (l < 26) return String.fromCharCode(65 + l);
  if (l < ELLIPSIS_BASE) return String.fromCharCode(97 + l - 26);
  return '...';
}

function parseTerm(op: string, equation: string, term: string): number[] {
  const labels: number[] = [];
  for (let i = 0; i < term.length; i++) {
    const c = term.charCodeAt(i);
    if (c >= 65 && c <= 90) labels.push(c - 65);
    else if (c >= 97 && c <= 122) labels.push(c - 97 + 26);
    else if (term.startsWith('...', i)) {
      if (labels.includes(ELLIPSIS)) throw new SyntaxError(`${op}: more than one '...' in term '${term}' of equation '${equation}'`);
      labels.push(ELLIPSIS);
      i += 2;
    } else {
      throw new SyntaxError(`${op}: invalid subscript '${term[i]}' in equation '${equation}' (expected letters a-z, A-Z or '...')`);
    }
  }
  return labels;
}

function planEinsum(op: string, equation: string, shapes: readonly (readonly number[])[]): EinsumPlan {
  const eq = equation.replace(/\s+/g, '');
  const arrow = eq.indexOf('->');
  const lhs = arrow < 0 ? eq : eq.slice(0, arrow);
  const rhs = arrow < 0 ? null : eq.slice(arrow + 2);
  if (rhs !== null && rhs.includes('->')) throw new SyntaxError(`${op}: more than one '->' in equation '${equation}'`);
  const raw = lhs.split(',').map((t) => parseTerm(op, equation, t));
  if (raw.length !== shapes.length) {
    throw new RangeError(`${op}: equation '${equation}' has ${raw.length} operand term(s), got ${shapes.length} operand(s)`);
  }
  const ellDims = raw.map((labels, i) => {
    const explicit = labels.filter((l) => l !== ELLIPSIS).length;
    const rank = shapes[i]!.length;
    const hasEll = labels.includes(ELLIPSIS);
    if (hasEll ? rank < explicit : rank !== explicit) {
      throw new RangeError(`${op}: operand ${i} has shape ${formatShape(shapes[i]!)}, but its term in '${equation}' has ${explicit} subscript(s)${hasEll ? ' and an ellipsis' : ''}`);
    }
    return rank - explicit;
  });
  const ellRank = Math.max(0, ...ellDims);
  const ellLabels = Array.from({ length: ellRank }, (_, j) => ELLIPSIS_BASE + j);
  const terms = raw.map((labels, i) =>
    labels.flatMap((l) => (l === ELLIPSIS ? ellLabels.slice(ellRank - ellDims[i]!) : [l])));

  const sizes = new Map<number, number>();
  terms.forEach((labels, i) => {
    const own = new Map<number, number>();
    labels.forEach((l, d) => {
      const n = shapes[i]![d]!;
      const mine = own.get(l);
      if (mine !== undefined && mine !== n) {
        throw new RangeError(`${op}: subscript ${labelName(l)} is repeated for operand ${i} with different sizes (${mine} vs ${n})`);
      }
      own.set(l, n);
      const prev = sizes.get(l);
      if (prev === undefined || prev === 1) sizes.set(l, n);
      else if (n !== 1 && n !== prev) {
        throw new RangeError(`${op}: subscript ${labelName(l)} has size ${prev} in an earlier operand but ${n} in operand ${i} (sizes must match or be 1)`);
      }
    });
  });

  let output: number[];
  if (rhs === null) {
    const count = new Map<number, number>();
    for (const labels of raw) for (const l of labels) if (l !== ELLIPSIS) count.set(l, (count.get(l) ?? 0) + 1);
    output = [...ellLabels, ...[...count.keys()].filter((l) => count.get(l) === 1).sort((x, y) => x - y)];
  } else {
    output = parseTerm(op, equation, rhs).flatMap((l) => (l === ELLIPSIS ? ellLabels : [l]));
    const seen = new Set<number>();
    for (const l of output) {
      if (seen.has(l)) throw new SyntaxError(`${op}: output subscript ${labelName(l)} appears more than once in '${equation}'`);
      if (!sizes.has(l)) throw new SyntaxError(`${op}: output subscript ${labelName(l)} does not appear in any input term of '${equation}'`);
      seen.add(l);
    }
  }
  return { terms, output, sizes };
}

/**
 * Shape/dtype of `einsum(equation, operands)`; validates the equation against the shapes.
 * @example
 *   einsumMeta('bij,bjk->bik', [{ shape: [2, 3, 4], dtype: 'float32' }, { shape: [2, 4, 5], dtype: 'float32' }]).shape
 *   // [2, 3, 5]
 */
export function einsumMeta(equation: string, operands: readonly TensorInfo[]): ResultInfo {
  const { plan, dtype } = checkEinsum(equation, operands);
  return { shape: plan.output.map((l) => plan.sizes.get(l)!), dtype };
}

function checkEinsum(equation: string, operands: readonly TensorInfo[]): { plan: EinsumPlan; dtype: FloatDType } {
  const op = 'acc.einsum';
  if (operands.length === 0) throw new RangeError(`${op}: needs at least one operand, got none`);
  const dtype = floatDType(op, 'operands[0]', operands[0]!);
  operands.forEach((t, i) => sameDType(op, `operands[${i}]`, t, 'operands[0]', dtype));
  return { plan: planEinsum(op, equation, operands.map((t) => t.shape)), dtype };
}

/** A float32 array with one label per dim. */
interface Labeled {
  data: Float32Array;
  shape: number[];
  labels: number[];
}

/** Takes the diagonal over repeated labels (`ii` → `i`). */
function diagonal(x: Labeled): Labeled {
  const unique = [...new Set(x.labels)];
  if (unique.length === x.labels.length) return x;
  const src = contiguousStrides(x.shape);
  const strides = unique.map((l) => x.labels.reduce((s, m, d) => (m === l ? s + src[d]! : s), 0));
  const shape = unique.map((l) => x.shape[x.labels.indexOf(l)]!);
  return { data: stridedCopy(x.data, shape, strides), shape, labels: unique };
}

/** `x` with its dims reordered to `order` (a permutation of its labels); no copy when already so. */
function permuteTo(x: Labeled, order: readonly number[]): Labeled {
  if (order.every((l, i) => x.labels[i] === l)) return x;
  const src = contiguousStrides(x.shape);
  const pos = order.map((l) => x.labels.indexOf(l));
  const shape = pos.map((p) => x.shape[p]!);
  return { data: stridedCopy(x.data, shape, pos.map((p) => src[p]!)), shape, labels: [...order] };
}

/** Sums `x` over the labels in `drop` (float64 accumulation). */
function sumOut(x: Labeled, drop: readonly number[]): Labeled {
  if (drop.length === 0) return x;
  const kept = x.labels.filter((l) => !drop.includes(l));
  const p = permuteTo(x, [...kept, ...drop]);
  const shape = p.shape.slice(0, kept.length);
  const outer = numelOf(shape);
  const inner = numelOf(p.shape.slice(kept.length));
  const data = new Float32Array(outer);
  for (let o = 0, s = 0; o < outer; o++) {
    let acc = 0;
    for (const end = s + inner; s < end; s++) acc += p.data[s]!;
    data[o] = acc;
  }
  return { data, shape, labels: kept };
}

function sizeOf(x: Labeled, l: number): number {
  return x.shape[x.labels.indexOf(l)]!;
}

/** `x` laid out as [g1, g2, g3], or as [g1, g3, g2] (reported as transposed) when that needs no copy. */
function arrange(x: Labeled, g1: readonly number[], g2: readonly number[], g3: readonly number[]): { data: Float32Array; trans: boolean } {
  const swapped = [...g1, ...g3, ...g2];
  if (g2.length > 0 && g3.length > 0 && swapped.every((l, i) => x.labels[i] === l)) return { data: x.data, trans: true };
  return { data: permuteTo(x, [...g1, ...g2, ...g3]).data, trans: false };
}

/** Contracts two operands, keeping the labels in `keep` (output and later operands) as dims. */
function contract(a0: Labeled, b0: Labeled, keep: ReadonlySet<number>): Labeled {
  let a = a0;
  let b = b0;
  // A contracted label of size 1 on one side broadcasts: drop it there, the other side sums it.
  for (const l of a.labels) {
    if (keep.has(l) || !b.labels.includes(l) || sizeOf(a, l) === sizeOf(b, l)) continue;
    if (sizeOf(a, l) === 1) a = squeeze(a, l);
    else b = squeeze(b, l);
  }
  a = sumOut(a, a.labels.filter((l) => !keep.has(l) && !b.labels.includes(l)));
  b = sumOut(b, b.labels.filter((l) => !keep.has(l) && !a.labels.includes(l)));
  const batch = a.labels.filter((l) => b.labels.includes(l) && keep.has(l));
  const inner = a.labels.filter((l) => b.labels.includes(l) && !keep.has(l));
  const rows = a.labels.filter((l) => !b.labels.includes(l));
  const cols = b.labels.filter((l) => !a.labels.includes(l));
  const A = arrange(a, batch, rows, inner);
  const B = arrange(b, batch, inner, cols);
  const rowSizes = rows.map((l) => sizeOf(a, l));
  const colSizes = cols.map((l) => sizeOf(b, l));
  const r = gemmBatched(
    A.data, batch.map((l) => sizeOf(a, l)), A.trans, B.data, batch.map((l) => sizeOf(b, l)), B.trans,
    numelOf(rowSizes), numelOf(colSizes), numelOf(inner.map((l) => sizeOf(a, l))), 1,
  );
  return { data: r.data, shape: [...r.batch, ...rowSizes, ...colSizes], labels: [...batch, ...rows, ...cols] };
}

function squeeze(x: Labeled, l: number): Labeled {
  const d = x.labels.indexOf(l);
  return { data: x.data, shape: x.shape.filter((_, i) => i !== d), labels: x.labels.filter((_, i) => i !== d) };
}

/**
 * torch.einsum: explicit ('ij,jk->ik') or implicit ('ij,jk') output, '...' broadcast dims,
 * repeated subscripts in one operand take the diagonal ('ii->i'), size-1 dims broadcast.
 * Operands are contracted left to right, each step one batched GEMM.
 * @example
 *   einsum('bhqd,bhkd->bhqk', [q, k]).shape // [b, h, q_len, k_len]
 */
export function einsum(equation: string, operands: readonly Tensor[]): Tensor {
  const { plan, dtype } = checkEinsum(equation, operands);
  const inputs = operands.map((t, i) => diagonal({ data: t.toFloat32(), shape: t.shape, labels: plan.terms[i]! }));
  let cur = inputs[0]!;
  for (let i = 1; i < inputs.length; i++) {
    const keep = new Set<number>(plan.output);
    for (const later of inputs.slice(i + 1)) for (const l of later.labels) keep.add(l);
    cur = contract(cur, inputs[i]!, keep);
  }
  cur = permuteTo(sumOut(cur, cur.labels.filter((l) => !plan.output.includes(l))), plan.output);
  // The result must own its storage: an identity equation would otherwise alias a float32 input.
  const data = operands.some((t) => t.data === cur.data) ? cur.data.slice() : cur.data;
  return floatResult(data, cur.shape, dtype);
}

// ---------------------------------------------------------------- scaled dot-product attention

/** Attributes of `scaledDotProductAttention` (PyTorch's keyword names, camel-cased). */
export interface SdpaOptions {
  /** Bool (false = masked out) or float (added to the scores), broadcastable to [..., L, S]. */
  attnMask: TensorInfo | null;
  /** Must be 0: attention dropout exists only in training. */
  dropoutP: number;
  /** Top-left aligned lower-triangular mask: query i sees keys 0..i. */
  isCausal: boolean;
  /** Defaults to 1/sqrt(E). */
  scale: number | null;
}

/**
 * Shape/dtype of `scaled_dot_product_attention`: query [..., L, E], key [..., S, E],
 * value [..., S, Ev] → [..., L, Ev]; batch dims (and the mask's) broadcast.
 * @example
 *   // q [2, 4, 10, 16], k [2, 4, 12, 16], v [2, 4, 12, 8]
 *   sdpaMeta(q, k, v, { attnMask: null, dropoutP: 0, isCausal: false, scale: null }).shape // [2, 4, 10, 8]
 */
export function sdpaMeta(query: TensorInfo, key: TensorInfo, value: TensorInfo, opts: SdpaOptions): ResultInfo {
  const op = 'acc.scaled_dot_product_attention';
  const dtype = floatDType(op, 'query', query);
  sameDType(op, 'key', key, 'query', dtype);
  sameDType(op, 'value', value, 'query', dtype);
  const [q, k, v] = [query.shape, key.shape, value.shape];
  for (const [name, s] of [['query', q], ['key', k], ['value', v]] as const) {
    if (s.length < 2) throw new RangeError(`${op}: argument '${name}' must have at least 2 dims [..., seq, features], got shape ${formatShape(s)}`);
  }
  const [L, E] = [q[q.length - 2]!, q[q.length - 1]!];
  const S = k[k.length - 2]!;
  if (k[k.length - 1] !== E) throw new RangeError(`${op}: key ${formatShape(k)} must have ${E} features in its last dim like query ${formatShape(q)}`);
  if (v[v.length - 2] !== S) throw new RangeError(`${op}: value ${formatShape(v)} must have ${S} positions in dim -2 like key ${formatShape(k)}`);
  if (opts.dropoutP !== 0) {
    throw new RangeError(`${op}: dropout_p must be 0 (attention dropout is training-only and not supported by the inference kernels), got ${opts.dropoutP}`);
  }
  if (opts.scale !== null && !Number.isFinite(opts.scale)) throw new RangeError(`${op}: scale must be a finite number or null, got ${opts.scale}`);
  let batch = broadcastBatch(op, q.slice(0, -2), k.slice(0, -2), ['query', 'key']);
  const mask = opts.attnMask;
  if (mask) {
    if (opts.isCausal) throw new RangeError(`${op}: attn_mask and is_causal=true cannot both be set`);
    if (mask.dtype !== 'bool' && mask.dtype !== 'float32' && mask.dtype !== dtype) {
      throw new TypeError(`${op}: argument 'attn_mask' must be bool, float32 or the dtype of 'query' (${dtype}), got ${mask.dtype}`);
    }
    const m = maskShape(mask.shape);
    const [mL, mS] = [m[m.length - 2]!, m[m.length - 1]!];
    if ((mL !== 1 && mL !== L) || (mS !== 1 && mS !== S)) {
      throw new RangeError(`${op}: attn_mask ${formatShape(mask.shape)} does not broadcast to the attention scores [..., ${L}, ${S}]`);
    }
    batch = broadcastBatch(op, batch, m.slice(0, -2), ['the attention scores', 'attn_mask']);
  }
  batch = broadcastBatch(op, batch, v.slice(0, -2), ['the attention weights', 'value']);
  return { shape: [...batch, L, v[v.length - 1]!], dtype };
}

/** The mask's shape with at least 2 dims (a 1-D mask applies to every query row). */
function maskShape(shape: readonly number[]): number[] {
  return shape.length >= 2 ? [...shape] : [...new Array<number>(2 - shape.length).fill(1), ...shape];
}

/** The mask as additive float32 values: bool false → -inf, true → 0; float masks as they are. */
function additiveMask(mask: Tensor): Float32Array {
  if (mask.dtype !== 'bool') return mask.toFloat32();
  const m = mask.data;
  const out = new Float32Array(m.length);
  for (let i = 0; i < m.length; i++) out[i] = m[i] ? 0 : -Infinity;
  return out;
}

/**
 * PyTorch's `scaled_dot_product_attention` (math path) at inference: softmax(Q K^T * scale + mask) V,
 * softmax in float64. Rows whose every score is masked yield 0 (PyTorch's safe softmax), not NaN.
 * @example
 *   scaledDotProductAttention(q, k, v, { attnMask: null, dropoutP: 0, isCausal: true, scale: null })
 */
export function scaledDotProductAttention(query: Tensor, key: Tensor, value: Tensor, opts: SdpaOptions & { attnMask: Tensor | null }): Tensor {
  const { shape, dtype } = sdpaMeta(query, key, value, opts);
  const [q, k, v] = [query.shape, key.shape, value.shape];
  const [L, E] = [q[q.length - 2]!, q[q.length - 1]!];
  const S = k[k.length - 2]!;
  const scale = opts.scale ?? 1 / Math.sqrt(E);
  const s = gemmBatched(query.toFloat32(), q.slice(0, -2), false, key.toFloat32(), k.slice(0, -2), true, L, S, E, scale);
  let scores = s.data;
  let batch = s.batch;
  const mask = opts.attnMask;
  const m = mask ? maskShape(mask.shape) : [1, 1];
  const mBatch = m.slice(0, -2);
  const full = broadcastShapes(batch, mBatch);
  if (numelOf(full) !== numelOf(batch)) {
    // The mask has batch dims the scores lack: materialize the scores at the broadcast batch.
    const offs = batchOffsets(batch, full, L * S);
    const grown = new Float32Array(offs.length * L * S);
    offs.forEach((o, t) => grown.set(scores.subarray(o, o + L * S), t * L * S));
    scores = grown;
    batch = full;
  }
  softmaxRows(scores, numelOf(batch), L, S, mask ? {
    data: additiveMask(mask), offsets: batchOffsets(mBatch, batch, m[m.length - 2]! * m[m.length - 1]!),
    rowStep: m[m.length - 2] === 1 ? 0 : m[m.length - 1]!, colStep: m[m.length - 1] === 1 ? 0 : 1,
  } : null, opts.isCausal);
  const out = gemmBatched(scores, batch, false, value.toFloat32(), v.slice(0, -2), false, L, v[v.length - 1]!, S, 1);
  return floatResult(out.data, shape, dtype);
}

/** An additive mask read with broadcast steps: row i, column j of batch item t is at offsets[t] + i*rowStep + j*colStep. */
interface MaskView {
  data: Float32Array;
  offsets: Float64Array;
  rowStep: number;
  colStep: number;
}

/** In-place masked softmax over each length-S row of [count, L, S] scores, in float64. */
function softmaxRows(scores: Float32Array, count: number, L: number, S: number, mask: MaskView | null, causal: boolean): void {
  const row = new Float64Array(S);
  for (let t = 0; t < count; t++) {
    for (let i = 0; i < L; i++) {
      const base = (t * L + i) * S;
      const mBase = mask ? mask.offsets[t]! + i * mask.rowStep : 0;
      let max = -Infinity;
      let nan = false;
      for (let j = 0; j < S; j++) {
        let x = scores[base + j]!;
        if (mask) x += mask.data[mBase + j * mask.colStep]!;
        if (causal && j > i) x = -Infinity;
        row[j] = x;
        if (x > max) max = x;
        else if (x !== x) nan = true;
      }
      if (nan || max === -Infinity) {
        scores.fill(nan ? NaN : 0, base, base + S);
        continue;
      }
      let sum = 0;
      for (let j = 0; j < S; j++) sum += row[j] = Math.exp(row[j]! - max);
      for (let j = 0; j < S; j++) scores[base + j] = row[j]! / sum;
    }
  }
}
