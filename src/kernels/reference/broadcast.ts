/**
 * Shared machinery of the pointwise and reduction reference kernels:
 * - PyTorch's result-type computation over tensors, 0-dim tensors and scalars;
 * - reading operands as numbers in the precision of a compute dtype, writing results in a dtype;
 * - broadcasting plans: the output shape coalesced into rows, with each input's start offset
 *   per row and stride along it (0 for a broadcast input), built iteratively;
 * - reduction plans: dims normalized, the input split into outer / reduced / inner offsets.
 */
import { isFloating, promoteTypes, roundArrayTo, roundTo, type DType } from '../../tensor/dtype.js';
import { broadcastShapes, contiguousStrides, formatShape, normDim, numelOf, type Shape } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';

/** A Python-like scalar operand (a "wrapped number" in PyTorch's promotion rules). */
export type Scalar = number | boolean;
/** An operand of a pointwise op: a tensor or a scalar. */
export type Operand = Tensor | Scalar;
/** What promotion and shape checks need of a tensor: a Tensor or a TensorMeta both fit. */
export interface ShapedType {
  readonly shape: readonly number[];
  readonly dtype: DType;
}
/** An operand as seen by shape inference (tensors replaced by their metadata). */
export type OperandMeta = ShapedType | Scalar;
/** Element values read from a tensor: float32 where the compute dtype is a float, float64 otherwise. */
export type Values = Float32Array | Float64Array;
/** A writable array of elements (a typed array): kernels write their results through it. */
export interface Writable<T> {
  readonly length: number;
  [index: number]: T;
}

// ---- type promotion ----

/** The dtype PyTorch gives a Python scalar: bool, int64 for integers, the default float32 otherwise. */
export function scalarDType(v: Scalar): DType {
  if (typeof v === 'boolean') return 'bool';
  return Number.isInteger(v) ? 'int64' : 'float32';
}

/**
 * PyTorch's `result_type` over operands: tensors with dims decide first, then 0-dim tensors,
 * then scalars, and a lower-priority group only counts when it is of a higher category
 * (bool < integer < float). So int8 tensor + int32 0-dim tensor is int8, int8 + 2.5 is float32.
 * @example resultType([{ shape: [2], dtype: 'int8' }, 1.5]) // 'float32'
 */
export function resultType(operands: readonly OperandMeta[]): DType {
  let dims: DType | undefined;
  let zeroDim: DType | undefined;
  let wrapped: DType | undefined;
  for (const o of operands) {
    if (typeof o === 'object') {
      if (o.shape.length > 0) dims = dims === undefined ? o.dtype : promoteTypes(dims, o.dtype);
      else zeroDim = zeroDim === undefined ? o.dtype : promoteTypes(zeroDim, o.dtype);
    } else {
      const d = scalarDType(o);
      wrapped = wrapped === undefined ? d : promoteTypes(wrapped, d);
    }
  }
  const r = combineCategories(dims, combineCategories(zeroDim, wrapped));
  if (r === undefined) throw new TypeError('resultType: no operands');
  return r;
}

/** c10's combine_categories: `lower` only wins when it is of a higher category than `higher`. */
function combineCategories(higher: DType | undefined, lower: DType | undefined): DType | undefined {
  if (higher === undefined) return lower;
  if (lower === undefined || isFloating(higher)) return higher;
  if (higher === 'bool' || isFloating(lower)) return promoteTypes(higher, lower);
  return higher;
}

/** Shape of an operand; scalars are 0-dim. */
export function operandShape(o: OperandMeta): readonly number[] {
  return typeof o === 'object' ? o.shape : [];
}

/** Number of elements of an operand (1 for scalars). */
export function operandNumel(o: OperandMeta): number {
  return typeof o === 'object' ? numelOf(o.shape) : 1;
}

/** Broadcast shape of several shapes; the error names `op`. */
export function broadcastAll(op: string, shapes: readonly Shape[]): number[] {
  let out: number[] = [];
  try {
    for (const s of shapes) out = broadcastShapes(out, s);
  } catch (e) {
    throw new RangeError(`${op}: ${e instanceof Error ? e.message : String(e)}`);
  }
  return out;
}

// ---- reading and writing values ----

/**
 * Elements of `t` converted to `dtype` the way PyTorch casts an input to the common dtype before
 * computing: float dtypes give a Float32Array holding values rounded to that dtype (a zero-copy
 * view when `t` is float32 and `dtype` is float32: do not mutate it), integer and bool dtypes a
 * Float64Array. Casts only go up the promotion lattice here, so integer targets never truncate.
 */
export function readAs(t: Tensor, dtype: DType): Values {
  if (dtype === 'float32') return t.toFloat32();
  if (dtype !== 'float16' && dtype !== 'bfloat16') return t.toFloat64();
  const v = t.toFloat32();
  if (t.dtype === dtype) return v;
  return roundArrayTo(dtype, v === t.data ? new Float32Array(v) : v);
}

/** A scalar converted to `dtype` (floats rounded to it, bools to 0/1). */
export function scalarAs(v: Scalar, dtype: DType): number {
  const n = Number(v);
  if (dtype === 'bool') return n !== 0 ? 1 : 0;
  if (dtype === 'float32' || dtype === 'float16' || dtype === 'bfloat16') return roundTo(dtype, n);
  return n;
}

/** An operand's values in `dtype` (see readAs); a scalar becomes a one-element array. */
export function operandValues(o: Operand, dtype: DType): Values {
  if (o instanceof Tensor) return readAs(o, dtype);
  return Float64Array.of(scalarAs(o, dtype));
}

/** Output buffer for `n` results of dtype `dtype`: written in place for float32, converted after for others. */
export function allocValues(dtype: DType, n: number): Values {
  return dtype === 'float32' ? new Float32Array(n) : new Float64Array(n);
}

/**
 * Wraps computed values as a tensor of `dtype`: a float32 buffer is adopted without copying; other
 * dtypes go through Tensor.fromNumbers (fp16/bf16 round to nearest even, ints truncate and wrap).
 */
export function toTensor(values: Values, shape: Shape, dtype: DType): Tensor {
  if (dtype === 'float32' && values instanceof Float32Array) return Tensor.fromStorage(values, shape, 'float32');
  return Tensor.fromNumbers(values, shape, dtype);
}

// ---- exact int64 ----
// int64 math runs on BigInt so that values beyond 2^53 stay exact and results wrap modulo 2^64
// (a BigInt64Array store wraps like a C cast). It allocates per element: int64 tensors are indices
// and sizes, small next to the float activations the Float32Array paths are built for.

/** Elements of an integer or bool tensor as int64 (a view of the storage for int64 tensors: do not mutate). */
export function readInt64(t: Tensor): BigInt64Array {
  if (t.data instanceof BigInt64Array) return t.data;
  const v = t.toFloat64();
  const out = new BigInt64Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = BigInt(v[i]!);
  return out;
}

/** An integer or bool operand as int64; a scalar becomes a one-element array. */
export function operandInt64(o: Operand): BigInt64Array {
  if (o instanceof Tensor) return readInt64(o);
  return BigInt64Array.of(BigInt(Number(o)));
}

/** Wraps int64 results as an int64 tensor, or as bool (nonzero is true). */
export function int64ToTensor(values: BigInt64Array, shape: Shape, dtype: 'int64' | 'bool'): Tensor {
  if (dtype === 'int64') return Tensor.fromStorage(values, shape, 'int64');
  const b = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) b[i] = values[i] !== 0n ? 1 : 0;
  return Tensor.fromStorage(b, shape, 'bool');
}

// ---- broadcasting ----

/**
 * How to walk a broadcast: the output (row-major) is a sequence of rows of `rowLength` elements;
 * input k's elements for row r start at `rowStarts[k][r]` and advance by `rowStrides[k]`
 * (0 when input k is broadcast along the row). Size-1 dims are dropped and neighbouring dims
 * that every input walks contiguously are merged, so equal shapes give a single row and a
 * scalar operand a zero stride.
 */
export interface BroadcastPlan {
  readonly shape: readonly number[];
  readonly numel: number;
  readonly rowLength: number;
  readonly rowStrides: readonly number[];
  readonly rowStarts: readonly Uint32Array[];
}

/** Plans an N-ary broadcast of `shapes` (each contiguous); throws naming `op` when they do not broadcast. */
export function planBroadcast(op: string, shapes: readonly Shape[]): BroadcastPlan {
  const shape = broadcastAll(op, shapes);
  const numel = numelOf(shape);
  const rank = shape.length;
  const k = shapes.length;
  // Strides of each input aligned to the output dims; 0 where the input is broadcast.
  const aligned = shapes.map((s) => {
    const cs = contiguousStrides(s);
    const st = new Array<number>(rank).fill(0);
    for (let i = 0; i < s.length; i++) st[rank - s.length + i] = s[i] === 1 ? 0 : cs[i]!;
    return st;
  });
  const dims: number[] = [];
  const strides: number[][] = shapes.map(() => []);
  for (let d = 0; d < rank; d++) {
    const n = shape[d]!;
    if (n === 1) continue;
    const last = dims.length - 1;
    // Merge into the previous kept dim when every input steps over it as one contiguous run.
    if (last >= 0 && aligned.every((st, i) => strides[i]![last] === st[d]! * n)) {
      dims[last] = dims[last]! * n;
      for (let i = 0; i < k; i++) strides[i]![last] = aligned[i]![d]!;
    } else {
      dims.push(n);
      for (let i = 0; i < k; i++) strides[i]!.push(aligned[i]![d]!);
    }
  }
  if (numel === 0) {
    return { shape, numel, rowLength: 0, rowStrides: new Array<number>(k).fill(0), rowStarts: shapes.map(() => new Uint32Array(0)) };
  }
  const rowLength = dims.length > 0 ? dims[dims.length - 1]! : 1;
  const rowStrides = strides.map((st) => (st.length > 0 ? st[st.length - 1]! : 0));
  const rows = numel / rowLength;
  const outer = dims.length - 1;
  const rowStarts = shapes.map(() => new Uint32Array(rows));
  const idx = new Array<number>(Math.max(outer, 0)).fill(0);
  const cur = new Array<number>(k).fill(0);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < k; i++) rowStarts[i]![r] = cur[i]!;
    // Odometer over the outer dims, last fastest.
    for (let d = outer - 1; d >= 0; d--) {
      idx[d] = idx[d]! + 1;
      for (let i = 0; i < k; i++) cur[i] = cur[i]! + strides[i]![d]!;
      if (idx[d]! < dims[d]!) break;
      for (let i = 0; i < k; i++) cur[i] = cur[i]! - strides[i]![d]! * dims[d]!;
      idx[d] = 0;
    }
  }
  return { shape, numel, rowLength, rowStrides, rowStarts };
}

/** out[i] = f(a[i'], b[i'']) over a two-input broadcast plan. */
export function mapBinary<T, U>(plan: BroadcastPlan, a: ArrayLike<T>, b: ArrayLike<T>, out: Writable<U>, f: (x: T, y: T) => U): void {
  const len = plan.rowLength;
  const sa = plan.rowStrides[0]!;
  const sb = plan.rowStrides[1]!;
  const ra = plan.rowStarts[0]!;
  const rb = plan.rowStarts[1]!;
  let o = 0;
  for (let r = 0; r < ra.length; r++) {
    let ia = ra[r]!;
    let ib = rb[r]!;
    for (let j = 0; j < len; j++, ia += sa, ib += sb) out[o++] = f(a[ia]!, b[ib]!);
  }
}

/** out[i] = f(a[i'], b[i''], c[i''']) over a three-input broadcast plan. */
export function mapTernary<C, T, U>(
  plan: BroadcastPlan, a: ArrayLike<C>, b: ArrayLike<T>, c: ArrayLike<T>, out: Writable<U>, f: (x: C, y: T, z: T) => U,
): void {
  const len = plan.rowLength;
  const sa = plan.rowStrides[0]!;
  const sb = plan.rowStrides[1]!;
  const sc = plan.rowStrides[2]!;
  const ra = plan.rowStarts[0]!;
  const rb = plan.rowStarts[1]!;
  const rc = plan.rowStarts[2]!;
  let o = 0;
  for (let r = 0; r < ra.length; r++) {
    let ia = ra[r]!;
    let ib = rb[r]!;
    let ic = rc[r]!;
    for (let j = 0; j < len; j++, ia += sa, ib += sb, ic += sc) out[o++] = f(a[ia]!, b[ib]!, c[ic]!);
  }
}

// ---- reductions ----

/**
 * Normalized, sorted reduction dims. `null` and `[]` mean every dim (as in PyTorch); negative
 * dims count from the end; a repeated dim is an error. A 0-dim input accepts dim 0 / -1 and has
 * no dims to reduce.
 */
export function normalizeDims(op: string, dim: number | readonly number[] | null, rank: number): number[] {
  if (dim === null || (Array.isArray(dim) && dim.length === 0)) return Array.from({ length: rank }, (_, i) => i);
  const list: readonly number[] = typeof dim === 'number' ? [dim] : dim;
  const seen = new Set<number>();
  for (const d of list) {
    const n = normDim(d, rank, `${op}: dim`);
    if (seen.has(n)) throw new RangeError(`${op}: dim ${n} appears multiple times in the list of dims [${list.join(', ')}]`);
    seen.add(n);
  }
  return rank === 0 ? [] : [...seen].sort((x, y) => x - y);
}

/** Shape after reducing `dims`: removed, or kept as size 1 with `keepdim`. */
export function reducedShape(shape: Shape, dims: readonly number[], keepdim: boolean): number[] {
  const out: number[] = [];
  for (let d = 0; d < shape.length; d++) {
    if (!dims.includes(d)) out.push(shape[d]!);
    else if (keepdim) out.push(1);
  }
  return out;
}

/**
 * A reduction of a contiguous input over a set of dims, as three nested loops: for each outer
 * position (the kept dims before the last reduced dim), for each reduced position, a contiguous
 * run of `inner` elements (the dims after the last reduced dim). Input element = outer[o] +
 * reduced[r] + i; output element = o * inner + i. Works for any dim set without transposing.
 */
export interface ReductionPlan {
  readonly dims: readonly number[];
  readonly outShape: readonly number[];
  readonly outer: Uint32Array;
  readonly reduced: Uint32Array;
  readonly inner: number;
}

/** Plans reducing `shape` over already-normalized `dims`. */
export function planReduction(shape: Shape, dims: readonly number[], keepdim: boolean): ReductionPlan {
  const strides = contiguousStrides(shape);
  const lastReduced = dims.length > 0 ? dims[dims.length - 1]! : -1;
  const outerDims: number[] = [];
  for (let d = 0; d < lastReduced; d++) if (!dims.includes(d)) outerDims.push(d);
  return {
    dims,
    outShape: reducedShape(shape, dims, keepdim),
    outer: offsetsOf(shape, strides, outerDims),
    reduced: offsetsOf(shape, strides, dims),
    inner: numelOf(shape.slice(lastReduced + 1)),
  };
}

/** Element offsets of every multi-index over `dims` (last fastest), iteratively. */
function offsetsOf(shape: Shape, strides: readonly number[], dims: readonly number[]): Uint32Array {
  const sizes = dims.map((d) => shape[d]!);
  const n = numelOf(sizes);
  const out = new Uint32Array(n);
  const idx = new Array<number>(dims.length).fill(0);
  let cur = 0;
  for (let i = 0; i < n; i++) {
    out[i] = cur;
    for (let j = dims.length - 1; j >= 0; j--) {
      const st = strides[dims[j]!]!;
      idx[j] = idx[j]! + 1;
      cur += st;
      if (idx[j]! < sizes[j]!) break;
      cur -= st * sizes[j]!;
      idx[j] = 0;
    }
  }
  return out;
}

/**
 * Folds the input over a reduction plan into `acc` (one element per output): each accumulator
 * starts at `init` and becomes step(acc, x) for each reduced element, in index order.
 */
export function reduceInto<T>(plan: ReductionPlan, x: ArrayLike<T>, acc: Writable<T>, init: T, step: (acc: T, v: T) => T): void {
  const { inner, outer, reduced } = plan;
  for (let i = 0; i < acc.length; i++) acc[i] = init;
  for (let o = 0; o < outer.length; o++) {
    const base = outer[o]!;
    if (inner === 1) {
      // Reducing trailing dims: keep the accumulator in a local.
      let a = init;
      for (let r = 0; r < reduced.length; r++) a = step(a, x[base + reduced[r]!]!);
      acc[o] = a;
      continue;
    }
    const ob = o * inner;
    for (let r = 0; r < reduced.length; r++) {
      const rb = base + reduced[r]!;
      for (let i = 0; i < inner; i++) acc[ob + i] = step(acc[ob + i]!, x[rb + i]!);
    }
  }
}

/** reduceInto over numbers, accumulating in float64. */
export function reduceValues(plan: ReductionPlan, x: Values, init: number, step: (acc: number, v: number) => number): Float64Array {
  const acc = new Float64Array(plan.outer.length * plan.inner);
  reduceInto(plan, x, acc, init, step);
  return acc;
}

/** reduceInto over int64 values, exactly; results wrap modulo 2^64 when stored. */
export function reduceInt64(plan: ReductionPlan, x: BigInt64Array, init: bigint, step: (acc: bigint, v: bigint) => bigint): BigInt64Array {
  const acc = new BigInt64Array(plan.outer.length * plan.inner);
  reduceInto(plan, x, acc, init, step);
  return acc;
}

/** A shape seen along one dim: `outer` slices of `size` elements, each `inner` apart (rank 0 counts as [1]). */
export interface DimSplit {
  readonly outer: number;
  readonly size: number;
  readonly inner: number;
}

/** Splits `shape` around the (normalized) dim `dim` for ops that work along one dim. */
export function splitAtDim(shape: Shape, dim: number): DimSplit {
  if (shape.length === 0) return { outer: 1, size: 1, inner: 1 };
  return { outer: numelOf(shape.slice(0, dim)), size: shape[dim]!, inner: numelOf(shape.slice(dim + 1)) };
}

/** `what` for error messages: an operand's dtype and shape. */
export function describeOperand(o: OperandMeta): string {
  return typeof o === 'object' ? `${o.dtype}${formatShape(o.shape)}` : `scalar ${String(o)}`;
}
