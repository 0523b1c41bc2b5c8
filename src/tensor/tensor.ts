import {
  allocStorage, bf16BitsToF32, decodeF8e4m3, decodeHalf, encodeF8e4m3, encodeHalf, f16BitsToF32, isFloating, itemSize, storageFromBytes,
  type DType, type Storage, type StorageMap,
} from './dtype.js';
import { contiguousStrides, formatShape, numelOf, type Shape } from './shape.js';
import { mulberry32, normalPair } from './random.js';

/**
 * Quantization parameters carried in a tensor's metadata. Per-tensor when `axis`
 * is undefined (scale and zeroPoint have one element), per-channel along `axis` otherwise.
 */
export interface QuantParams {
  readonly scale: Float32Array;
  readonly zeroPoint: Int32Array;
  readonly axis?: number;
}

export type NestedArray = number | boolean | bigint | NestedArray[];

/**
 * A dense, contiguous, row-major tensor over a typed array.
 *
 * Storage is never strided: views that reorder elements (permute, expand) copy, and
 * reshape shares the storage. Ops on tensors compute eagerly with the reference kernels;
 * under `symbolicTrace` the same calls are recorded into a graph.
 *
 * @example
 * const x = Tensor.fromArray([[1, 2], [3, 4]]);
 * x.add(1).relu().toArray(); // [[2, 3], [4, 5]]
 */
export class Tensor {
  readonly #dtype: DType;
  readonly #shape: number[];
  #data: Storage;
  /** Quantization parameters when this tensor holds quantized integers. */
  qparams: QuantParams | undefined;

  constructor(data: Storage, shape: Shape, dtype: DType, qparams?: QuantParams) {
    const n = numelOf(shape);
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) throw new RangeError(`invalid tensor shape ${formatShape(shape)}`);
    }
    if (data.length !== n) {
      throw new RangeError(`tensor of shape ${formatShape(shape)} needs ${n} elements, storage has ${data.length}`);
    }
    this.#data = data;
    this.#shape = [...shape];
    this.#dtype = dtype;
    this.qparams = qparams;
  }

  get dtype(): DType { return this.#dtype; }
  /** Element storage; float16/bfloat16 hold bit patterns. Shared by reshapes of this tensor. */
  get data(): Storage { return this.#data; }
  /** Replaces the storage in place (in-place ops); the element count must not change. */
  setData(data: Storage): void {
    if (data.length !== this.#data.length) throw new RangeError(`setData: ${data.length} elements for a tensor of ${this.#data.length}`);
    this.#data = data;
  }
  /** The shape as a fresh array (mutating it does not change the tensor). */
  get shape(): number[] { return [...this.#shape]; }
  get rank(): number { return this.#shape.length; }
  get ndim(): number { return this.#shape.length; }
  get numel(): number { return numelOf(this.#shape); }
  /** Element strides of the (always contiguous) storage. */
  get strides(): number[] { return contiguousStrides(this.#shape); }
  /** Size of one dim (negative counts from the end), like `x.shape[dim]`. */
  dimSize(dim: number): number {
    const r = this.#shape.length;
    const d = dim < 0 ? dim + r : dim;
    if (d < 0 || d >= r) throw new RangeError(`dim ${dim} out of range for rank ${r}`);
    return this.#shape[d]!;
  }

  // ---- factories ----

  static empty(shape: Shape, dtype: DType = 'float32'): Tensor {
    return new Tensor(allocStorage(dtype, numelOf(shape)), shape, dtype);
  }
  static zeros(shape: Shape, dtype: DType = 'float32'): Tensor {
    return Tensor.empty(shape, dtype);
  }
  static ones(shape: Shape, dtype: DType = 'float32'): Tensor {
    return Tensor.full(shape, 1, dtype);
  }
  static full(shape: Shape, value: number | boolean, dtype: DType = typeof value === 'boolean' ? 'bool' : 'float32'): Tensor {
    const n = numelOf(shape);
    return Tensor.fromNumbers(new Float64Array(n).fill(Number(value)), shape, dtype);
  }
  /** Values start, start+step, ... below end; int64 when every argument is an integer, like torch.arange. */
  static arange(start: number, end?: number, step = 1, dtype?: DType): Tensor {
    if (end === undefined) { end = start; start = 0; }
    if (step === 0) throw new RangeError('arange: step must be nonzero');
    const n = Math.max(0, Math.ceil((end - start) / step));
    const vals = new Float64Array(n);
    for (let i = 0; i < n; i++) vals[i] = start + i * step;
    const dt = dtype ?? (Number.isInteger(start) && Number.isInteger(end) && Number.isInteger(step) ? 'int64' : 'float32');
    return Tensor.fromNumbers(vals, [n], dt);
  }
  /** From nested JS arrays; dtype defaults to float32 (bool for booleans, int64 for bigints). */
  static fromArray(values: NestedArray, dtype?: DType): Tensor {
    const shape: number[] = [];
    let probe: NestedArray = values;
    while (Array.isArray(probe)) {
      shape.push(probe.length);
      if (probe.length === 0) break;
      probe = probe[0]!;
    }
    const flat: NestedArray[] = Array.isArray(values) ? (values as NestedArray[]).flat(Infinity as 1) : [values];
    if (flat.length !== numelOf(shape)) throw new RangeError(`fromArray: ragged nested array for shape ${formatShape(shape)}`);
    const dt = dtype ?? (typeof probe === 'boolean' ? 'bool' : typeof probe === 'bigint' ? 'int64' : 'float32');
    if (dt === 'int64' && flat.every((v) => typeof v === 'bigint')) {
      return new Tensor(BigInt64Array.from(flat as bigint[]), shape, dt);
    }
    const nums = new Float64Array(flat.length);
    for (let i = 0; i < flat.length; i++) nums[i] = Number(flat[i]);
    return Tensor.fromNumbers(nums, shape, dt);
  }
  /** From any array of numbers, converting to `dtype` (floats round to nearest even, ints truncate and wrap). */
  static fromNumbers(values: ArrayLike<number>, shape: Shape, dtype: DType = 'float32'): Tensor {
    const n = numelOf(shape);
    if (values.length !== n) throw new RangeError(`fromNumbers: ${values.length} values for shape ${formatShape(shape)}`);
    const data = allocStorage(dtype, n);
    writeNumbers(dtype, data, values);
    return new Tensor(data, shape, dtype);
  }
  /** Wraps an existing typed array of the dtype's storage type without copying. */
  static fromStorage<D extends DType>(data: StorageMap[D], shape: Shape, dtype: D): Tensor {
    return new Tensor(data, shape, dtype);
  }
  /** From little-endian raw bytes (zero-copy when aligned). */
  static fromBytes(bytes: Uint8Array, shape: Shape, dtype: DType): Tensor {
    return new Tensor(storageFromBytes(dtype, bytes, numelOf(shape)), shape, dtype);
  }
  /** Uniform [0, 1) from a seeded generator (deterministic across runs and machines). */
  static rand(shape: Shape, opts: { seed?: number; dtype?: DType; low?: number; high?: number } = {}): Tensor {
    const rng = mulberry32(opts.seed ?? 0);
    const lo = opts.low ?? 0;
    const hi = opts.high ?? 1;
    const n = numelOf(shape);
    const v = new Float64Array(n);
    for (let i = 0; i < n; i++) v[i] = lo + (hi - lo) * rng();
    return Tensor.fromNumbers(v, shape, opts.dtype ?? 'float32');
  }
  /** Standard normal from a seeded generator (Box–Muller). */
  static randn(shape: Shape, opts: { seed?: number; dtype?: DType; std?: number; mean?: number } = {}): Tensor {
    const rng = mulberry32(opts.seed ?? 0);
    const n = numelOf(shape);
    const v = new Float64Array(n);
    const std = opts.std ?? 1;
    const mean = opts.mean ?? 0;
    for (let i = 0; i < n; i += 2) {
      const [a, b] = normalPair(rng);
      v[i] = mean + std * a;
      if (i + 1 < n) v[i + 1] = mean + std * b;
    }
    return Tensor.fromNumbers(v, shape, opts.dtype ?? 'float32');
  }
  /** Random integers in [low, high). */
  static randint(low: number, high: number, shape: Shape, opts: { seed?: number; dtype?: DType } = {}): Tensor {
    const rng = mulberry32(opts.seed ?? 0);
    const n = numelOf(shape);
    const v = new Float64Array(n);
    for (let i = 0; i < n; i++) v[i] = low + Math.floor(rng() * (high - low));
    return Tensor.fromNumbers(v, shape, opts.dtype ?? 'int64');
  }

  // ---- element access ----

  /** Elements as float32 (a view for float32 tensors: do not mutate unless you own it). */
  toFloat32(): Float32Array {
    if (this.dtype === 'float32') return this.data as Float32Array;
    const out = new Float32Array(this.numel);
    readNumbersInto(this, out);
    return out;
  }
  /** Elements as float64 numbers (exact for every dtype but int64 beyond 2^53). */
  toFloat64(): Float64Array {
    const out = new Float64Array(this.numel);
    readNumbersInto(this, out);
    return out;
  }
  /** The single value of a one-element tensor. */
  item(): number {
    if (this.numel !== 1) throw new RangeError(`item() needs a tensor with one element, got shape ${formatShape(this.#shape)}`);
    return this.toFloat64()[0]!;
  }
  /** Nested JS arrays of numbers (booleans for bool tensors). */
  toArray(): NestedArray {
    const flat = this.toFloat64();
    const isBool = this.dtype === 'bool';
    const build = (dim: number, off: number): NestedArray => {
      if (dim === this.#shape.length) return isBool ? flat[off] !== 0 : flat[off]!;
      const stride = numelOf(this.#shape.slice(dim + 1));
      const out: NestedArray[] = [];
      for (let i = 0; i < this.#shape[dim]!; i++) out.push(build(dim + 1, off + i * stride));
      return out;
    };
    return build(0, 0);
  }
  /** Little-endian bytes of the storage (a view, not a copy). */
  bytes(): Uint8Array {
    return new Uint8Array(this.data.buffer, this.data.byteOffset, this.numel * itemSize(this.dtype));
  }

  /** A copy with its own storage. */
  clone(): Tensor {
    const data = this.data.slice() as Storage;
    return new Tensor(data, this.#shape, this.dtype, this.qparams);
  }
  /** Same storage, new shape (element count must match). */
  withShape(shape: Shape): Tensor {
    return new Tensor(this.data, shape, this.dtype, this.qparams);
  }
  /** Converts element type; floats round to nearest even (float8e4m3 from the float32 value, saturating at ±448), float→int truncates toward zero. */
  castTo(dtype: DType): Tensor {
    if (dtype === this.dtype) return this;
    if (this.dtype === 'int64' && !isFloating(dtype) && dtype !== 'float8e4m3') return new Tensor(castInt64(this.data as BigInt64Array, dtype), this.#shape, dtype);
    return Tensor.fromNumbers(this.toFloat64(), this.#shape, dtype);
  }

  toString(): string {
    return formatTensor(this);
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return formatTensor(this);
  }
}

/** int64 → integer/bool casts on BigInts, exact for the whole int64 range (wrapping like a C cast). */
function castInt64(src: BigInt64Array, dtype: DType): Storage {
  const out = allocStorage(dtype, src.length);
  if (dtype === 'int64') { (out as BigInt64Array).set(src); return out; }
  const bits = dtype === 'int32' ? 32 : 8;
  const d = out as Int32Array | Int8Array | Uint8Array;
  for (let i = 0; i < src.length; i++) {
    const v = src[i]!;
    d[i] = dtype === 'bool' ? (v !== 0n ? 1 : 0) : Number(dtype === 'uint8' ? BigInt.asUintN(8, v) : BigInt.asIntN(bits, v));
  }
  return out;
}

/** Writes numbers into storage with the dtype's conversion: RNE for floats, truncate-and-wrap for ints. */
export function writeNumbers(dtype: DType, data: Storage, values: ArrayLike<number>): void {
  switch (dtype) {
    case 'float32': (data as Float32Array).set(values); return;
    case 'float16': case 'bfloat16': encodeHalf(dtype, values, data as Uint16Array); return;
    case 'float8e4m3': encodeF8e4m3(values, data as Uint8Array); return;
    case 'bool': {
      const d = data as Uint8Array;
      for (let i = 0; i < values.length; i++) d[i] = values[i] !== 0 ? 1 : 0;
      return;
    }
    case 'int64': {
      const d = data as BigInt64Array;
      for (let i = 0; i < values.length; i++) {
        const v = values[i]!;
        d[i] = Number.isFinite(v) ? BigInt(Math.trunc(v)) : 0n;
      }
      return;
    }
    default: {
      // Typed-array assignment truncates toward zero and wraps modulo 2^bits, like a C cast.
      const d = data as Int8Array | Uint8Array | Int32Array;
      for (let i = 0; i < values.length; i++) {
        const v = values[i]!;
        d[i] = Number.isFinite(v) ? Math.trunc(v) : 0;
      }
    }
  }
}

export function readNumbersInto(t: Tensor, out: Float32Array | Float64Array): void {
  switch (t.dtype) {
    case 'float16': case 'bfloat16': decodeHalf(t.dtype, t.data as Uint16Array, out); return;
    case 'float8e4m3': decodeF8e4m3(t.data as Uint8Array, out); return;
    case 'int64': {
      const d = t.data as BigInt64Array;
      for (let i = 0; i < d.length; i++) out[i] = Number(d[i]!);
      return;
    }
    default: out.set(t.data as Float32Array); return;
  }
}

// ---- printing ----

function formatNumber(v: number, dtype: DType): string {
  if (dtype === 'bool') return v ? 'true' : 'false';
  if (!isFloating(dtype) && dtype !== 'float8e4m3') return String(v);
  if (Number.isNaN(v)) return 'nan';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  if (Number.isInteger(v) && Math.abs(v) < 1e8) return `${v}.`;
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-4 || a >= 1e8) ? v.toExponential(4) : v.toFixed(4);
}

/** PyTorch-like printing, summarizing (…) dims longer than 6 elements. */
export function formatTensor(t: Tensor): string {
  const shape = t.shape;
  const flat = t.toFloat64();
  const strides = contiguousStrides(shape);
  const summarize = t.numel > 1000;
  const rec = (dim: number, off: number, indent: string): string => {
    if (dim === shape.length) return formatNumber(flat[off]!, t.dtype);
    const n = shape[dim]!;
    const idx: (number | null)[] = [];
    if (summarize && n > 6) idx.push(0, 1, 2, null, n - 3, n - 2, n - 1);
    else for (let i = 0; i < n; i++) idx.push(i);
    const parts = idx.map((i) => (i === null ? '...' : rec(dim + 1, off + i * strides[dim]!, indent + ' ')));
    const sep = dim === shape.length - 1 ? ', ' : ',\n' + indent + ' ';
    return '[' + parts.join(sep) + ']';
  };
  const body = shape.length === 0 ? formatNumber(flat[0]!, t.dtype) : rec(0, 0, '       ');
  const extra = [`shape=${formatShape(shape)}`, `dtype=${t.dtype}`];
  if (t.qparams) {
    const q = t.qparams;
    extra.push(q.axis === undefined ? `scale=${q.scale[0]}, zero_point=${q.zeroPoint[0]}` : `per-channel axis=${q.axis}`);
  }
  return `tensor(${body}, ${extra.join(', ')})`;
}

export { bf16BitsToF32, f16BitsToF32 };
