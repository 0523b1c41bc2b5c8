/**
 * Element types. Storage is always a typed array; float16 and bfloat16 are kept
 * as their 16-bit patterns in a Uint16Array and converted with round-to-nearest-even.
 * float8e4m3 (OCP E4M3, PyTorch's float8_e4m3fn, ONNX FLOAT8E4M3FN: 4 exponent bits, 3 mantissa
 * bits, no infinities, ±448 at most) holds 8-bit patterns in a Uint8Array; like int8 it is a
 * storage type for quantized values (FP8 quantization), not one the arithmetic runs in.
 */
export type DType = 'float32' | 'float16' | 'bfloat16' | 'float8e4m3' | 'int8' | 'uint8' | 'int32' | 'int64' | 'bool';

export const DTYPES: readonly DType[] = ['float32', 'float16', 'bfloat16', 'float8e4m3', 'int8', 'uint8', 'int32', 'int64', 'bool'];

/** The typed array that holds each dtype's elements. */
export interface StorageMap {
  float32: Float32Array;
  float16: Uint16Array;
  bfloat16: Uint16Array;
  float8e4m3: Uint8Array;
  int8: Int8Array;
  uint8: Uint8Array;
  int32: Int32Array;
  int64: BigInt64Array;
  bool: Uint8Array;
}
export type Storage = StorageMap[DType];

export function isDType(x: unknown): x is DType {
  return typeof x === 'string' && (DTYPES as readonly string[]).includes(x);
}

export function itemSize(dtype: DType): number {
  switch (dtype) {
    case 'float32': case 'int32': return 4;
    case 'float16': case 'bfloat16': return 2;
    case 'float8e4m3': case 'int8': case 'uint8': case 'bool': return 1;
    case 'int64': return 8;
  }
}

export function isFloating(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float16' || dtype === 'bfloat16';
}

export function isIntegral(dtype: DType): boolean {
  return dtype === 'int8' || dtype === 'uint8' || dtype === 'int32' || dtype === 'int64';
}

export function allocStorage(dtype: DType, n: number): Storage {
  switch (dtype) {
    case 'float32': return new Float32Array(n);
    case 'float16': case 'bfloat16': return new Uint16Array(n);
    case 'int8': return new Int8Array(n);
    case 'float8e4m3': case 'uint8': case 'bool': return new Uint8Array(n);
    case 'int32': return new Int32Array(n);
    case 'int64': return new BigInt64Array(n);
  }
}

/** Wraps raw little-endian bytes as the dtype's storage (copies when unaligned). */
export function storageFromBytes(dtype: DType, bytes: Uint8Array, n: number): Storage {
  const size = itemSize(dtype);
  if (bytes.byteLength !== n * size) {
    throw new RangeError(`${dtype} storage of ${n} elements needs ${n * size} bytes, got ${bytes.byteLength}`);
  }
  let buf = bytes.buffer;
  let off = bytes.byteOffset;
  if (off % size !== 0) {
    const copy = new Uint8Array(bytes.byteLength);
    copy.set(bytes);
    buf = copy.buffer;
    off = 0;
  }
  switch (dtype) {
    case 'float32': return new Float32Array(buf, off, n);
    case 'float16': case 'bfloat16': return new Uint16Array(buf, off, n);
    case 'int8': return new Int8Array(buf, off, n);
    case 'float8e4m3': case 'uint8': case 'bool': return new Uint8Array(buf, off, n);
    case 'int32': return new Int32Array(buf, off, n);
    case 'int64': return new BigInt64Array(buf, off, n);
  }
}

// ---- 16-bit float conversion (round to nearest, ties to even) ----

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 value → IEEE binary16 bit pattern, round to nearest even, overflow to ±inf. */
export function f32ToF16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // underflows to zero even after rounding
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let r = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    if (rem > half || (rem === half && (r & 1) === 1)) r++;
    return sign | r;
  }
  let r = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (r & 1) === 1)) r++; // may carry into the exponent: correct
  return sign | r;
}

/** binary16 bit pattern → value, via a 64K-entry table built on first use (10x faster than decoding). */
export function f16BitsToF32(h: number): number {
  return (f16Table ??= buildF16Table())[h & 0xffff]!;
}
let f16Table: Float32Array | undefined;
function buildF16Table(): Float32Array {
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) t[h] = decodeF16(h);
  return t;
}

function decodeF16(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** float32 value → bfloat16 bit pattern, round to nearest even. */
export function f32ToBf16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) return ((x >>> 16) | 0x40) & 0xffff; // quiet NaN
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

export function bf16BitsToF32(h: number): number {
  u32[0] = (h & 0xffff) << 16;
  return f32[0]!;
}

/** Rounds a number to the nearest value representable in `dtype` (floats) – used to emulate fp16/bf16. */
export function roundTo(dtype: 'float32' | 'float16' | 'bfloat16', v: number): number {
  if (dtype === 'float32') return Math.fround(v);
  if (dtype === 'float16') return f16BitsToF32(f32ToF16Bits(v));
  return bf16BitsToF32(f32ToBf16Bits(v));
}

/** Rounds every element of a float32 array in place to fp16 or bf16 precision. */
export function roundArrayTo(dtype: 'float16' | 'bfloat16', a: Float32Array): Float32Array {
  const bits = new Uint16Array(a.length);
  encodeHalf(dtype, a, bits);
  decodeHalf(dtype, bits, a);
  return a;
}

export function encodeHalf(dtype: 'float16' | 'bfloat16', src: ArrayLike<number>, dst: Uint16Array): void {
  const enc = dtype === 'float16' ? f32ToF16Bits : f32ToBf16Bits;
  for (let i = 0; i < src.length; i++) dst[i] = enc(src[i]!);
}

export function decodeHalf(dtype: 'float16' | 'bfloat16', src: Uint16Array, dst: Float32Array | Float64Array): void {
  if (dtype === 'bfloat16') {
    const view = new Uint32Array(src.length);
    for (let i = 0; i < src.length; i++) view[i] = src[i]! << 16;
    const f = new Float32Array(view.buffer);
    dst.set(f);
    return;
  }
  const table = (f16Table ??= buildF16Table());
  for (let i = 0; i < src.length; i++) dst[i] = table[src[i]!]!;
}

// ---- float8 e4m3 (OCP E4M3 / float8_e4m3fn) ----

/** The largest finite e4m3 magnitude. */
export const FLOAT8E4M3_MAX = 448;

/**
 * float32 value → e4m3 bit pattern, round to nearest even, saturating: magnitudes beyond 448
 * (infinities included) become ±448, as ONNX QuantizeLinear/Cast with saturate=1 (their default)
 * and TensorRT's FP8 quantize do; NaN → 0x7f (0xff when negative, as PyTorch).
 * @example f32ToF8e4m3Bits(1.0625); // 0x38 (1.0625 is halfway between 1 and 1.125: ties to even)
 */
export function f32ToF8e4m3Bits(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 24) & 0x80;
  const abs = x & 0x7fffffff;
  if (abs > 0x7f800000) return sign | 0x7f; // NaN keeps its sign, as PyTorch's float8_e4m3fn
  if (abs >= 0x43e00000) return sign | 0x7e; // >= 448 (and +inf): saturate
  const exp = abs >>> 23;
  const mant = abs & 0x7fffff;
  const e = exp - 127 + 7;
  if (e <= 0) {
    // subnormal e4m3: value = m * 2^-9, m in 0..7 (m = 8 rounds up into the smallest normal, 0x08)
    if (e < -3) return sign; // below 2^-10 rounds to zero
    const full = mant | 0x800000;
    const shift = 21 - e; // 24-bit significand → multiples of 2^-9
    const half = 1 << (shift - 1);
    let r = full >>> shift;
    const rem = full & ((1 << shift) - 1);
    if (rem > half || (rem === half && (r & 1) === 1)) r++;
    return sign | r;
  }
  let r = (e << 3) | (mant >>> 20);
  const rem = mant & 0xfffff;
  if (rem > 0x80000 || (rem === 0x80000 && (r & 1) === 1)) r++; // may carry into the exponent: correct
  return sign | (r > 0x7e ? 0x7e : r);
}

const f8Table = (() => {
  const t = new Float32Array(256);
  for (let b = 0; b < 256; b++) {
    const sign = b & 0x80 ? -1 : 1;
    const exp = (b >>> 3) & 0xf;
    const mant = b & 7;
    if (exp === 0xf && mant === 7) t[b] = NaN;
    else t[b] = sign * (exp === 0 ? mant * 2 ** -9 : (1 + mant / 8) * 2 ** (exp - 7));
  }
  return t;
})();

/** e4m3 bit pattern → value (0x7f and 0xff are NaN). */
export function f8e4m3BitsToF32(b: number): number {
  return f8Table[b & 0xff]!;
}

/** Rounds every element of `src` to e4m3 bit patterns into `dst` (f32ToF8e4m3Bits). */
export function encodeF8e4m3(src: ArrayLike<number>, dst: Uint8Array): void {
  for (let i = 0; i < src.length; i++) dst[i] = f32ToF8e4m3Bits(src[i]!);
}

/** Decodes e4m3 bit patterns into `dst`. */
export function decodeF8e4m3(src: Uint8Array, dst: Float32Array | Float64Array): void {
  for (let i = 0; i < src.length; i++) dst[i] = f8Table[src[i]!]!;
}

// ---- type promotion (PyTorch's rules) ----

const FLOAT_RANK: Record<string, number> = { bfloat16: 1, float16: 1, float32: 2 };
const INT_RANK: Record<string, number> = { bool: 0, uint8: 1, int8: 1, int32: 3, int64: 4 };

/** Result dtype of a binary op between two tensors. */
export function promoteTypes(a: DType, b: DType): DType {
  if (a === 'float8e4m3' || b === 'float8e4m3') {
    throw new TypeError(`no arithmetic on float8e4m3 tensors (${a} with ${b}): it is a storage type for quantized values; dequantize or cast to a float first`);
  }
  if (a === b) return a;
  const fa = isFloating(a);
  const fb = isFloating(b);
  if (fa && fb) {
    if (FLOAT_RANK[a]! === FLOAT_RANK[b]!) return 'float32'; // float16 with bfloat16
    return FLOAT_RANK[a]! > FLOAT_RANK[b]! ? a : b;
  }
  if (fa) return a;
  if (fb) return b;
  if (a === 'bool') return b;
  if (b === 'bool') return a;
  if ((a === 'uint8' && b === 'int8') || (a === 'int8' && b === 'uint8')) return 'int32';
  return INT_RANK[a]! >= INT_RANK[b]! ? a : b;
}

/** Result dtype of `tensor op scalar`: a scalar only changes the category (bool → int → float). */
export function promoteWithScalar(t: DType, scalar: number | boolean): DType {
  if (typeof scalar === 'boolean') return t;
  if (isFloating(t)) return t;
  if (!Number.isInteger(scalar)) return 'float32';
  if (t === 'bool') return 'int64';
  return t;
}
