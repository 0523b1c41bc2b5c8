/**
 * Reference kernels of the quant family: affine quantization per tensor or per channel, and
 * dequantization by the parameters a quantized tensor carries.
 *
 * Bit-exact with PyTorch on CPU (FBGEMM's `Quantize`): in float32, q = clamp(zp + nearbyint(x * (1 / scale)), qmin, qmax),
 * rounding half to even. PyTorch multiplies by the float32 reciprocal of the scale rather than dividing
 * (e.g. x = 0.273939937, scale = 0.00214854861 gives 127.5 -> 128, where x / scale gives 127.49999 -> 127).
 * Dequantization is float32(scale * float32(q - zp)).
 * float8e4m3 (FP8 quantization, zero point 0): q = e4m3(float32(x * (1 / scale))), rounding to
 * nearest even and saturating at ±448 (ONNX QuantizeLinear's saturate=1); dequantization is
 * float32(scale * q).
 */
import type { TensorMeta } from '../../ir/node.js';
import { f32ToF8e4m3Bits, f8e4m3BitsToF32, FLOAT8E4M3_MAX, isFloating, isIntegral, type DType } from '../../tensor/dtype.js';
import { formatShape, normDim, numelOf } from '../../tensor/shape.js';
import { Tensor, type QuantParams } from '../../tensor/tensor.js';
import { tensorMeta } from './shape.js';

/** The types a tensor can be quantized to: integers, and FP8 (float8e4m3, zero point 0). */
export type QuantDType = 'int8' | 'uint8' | 'int32' | 'float8e4m3';

/** Representable range [qmin, qmax] of each quantized dtype. */
export const QUANT_RANGES: Readonly<Record<QuantDType, readonly [number, number]>> = {
  int8: [-128, 127],
  uint8: [0, 255],
  int32: [-2147483648, 2147483647],
  float8e4m3: [-FLOAT8E4M3_MAX, FLOAT8E4M3_MAX],
};

export function isQuantDType(d: DType): d is QuantDType {
  return d === 'int8' || d === 'uint8' || d === 'int32' || d === 'float8e4m3';
}

/** 1.5 * 2^52: adding and subtracting it rounds a double of magnitude below 2^51 to an integer, ties to even. */
const RNE_SHIFT = 6755399441055744;
const RNE_LIMIT = 2251799813685248; // 2^51; doubles at least this large are already integers

/** Round half to even (C's nearbyint in the default rounding mode); NaN and infinities pass through. */
export function roundHalfEven(v: number): number {
  return v < RNE_LIMIT && v > -RNE_LIMIT ? v + RNE_SHIFT - RNE_SHIFT : v;
}

const f32Bits = new Float32Array(1);
const u32Bits = new Uint32Array(f32Bits.buffer);

/** The next float32 above x (finite x). */
function nextUpF32(x: number): number {
  if (x === 0) return 1.401298464324817e-45; // 2^-149
  f32Bits[0] = x;
  u32Bits[0] = x > 0 ? u32Bits[0]! + 1 : u32Bits[0]! - 1;
  return f32Bits[0]!;
}

/**
 * fround(a * b + c) rounded once, as a float32 fused multiply-add (CUDA's __fmaf_rn), for float32
 * a, b, c: the product is exact in a double; where the double sum s lands exactly halfway between
 * two float32 values, the sum's rounding error (TwoSum) says which side the exact sum is on.
 * @example fmaF32(Math.fround(1 + 2 ** -12), Math.fround(1 + 2 ** -12), -1); // 2^-11 + 2^-24, exactly
 */
export function fmaF32(a: number, b: number, c: number): number {
  const p = a * b;
  const s = p + c;
  const r = Math.fround(s);
  if (r === s || !Number.isFinite(s)) return r;
  const bv = s - p;
  const err = p - (s - bv) + (c - bv);
  if (err === 0) return r;
  const other = s > r ? nextUpF32(r) : -nextUpF32(-r);
  if (s - r !== other - s) return r; // not a tie: the double sum rounds as the exact one does
  return (err > 0) === (other > r) ? other : r;
}

/**
 * Quantizes one float32 value with a float32 reciprocal scale, as FBGEMM does. NaN has no defined
 * result in PyTorch (its vector and scalar paths differ); here it saturates to qmax like +inf.
 */
export function quantizeValue(x: number, invScale: number, zeroPoint: number, qmin: number, qmax: number): number {
  const q = Math.fround(zeroPoint + roundHalfEven(Math.fround(x * invScale)));
  if (q >= qmax || Number.isNaN(q)) return qmax;
  return q <= qmin ? qmin : q;
}

/**
 * One value quantized to `dtype` with a scale and zero point: quantizeValue for the integer types,
 * an e4m3 bit pattern for float8e4m3. The result is what the dtype's storage holds.
 * @example quantizeScalar(0.26, 'uint8', 0.1, 3); // 6
 */
export function quantizeScalar(value: number, dtype: QuantDType, scale: number, zeroPoint: number): number {
  const inv = Math.fround(1 / scale);
  if (dtype === 'float8e4m3') return f32ToF8e4m3Bits(Math.fround(value * inv));
  const [qmin, qmax] = QUANT_RANGES[dtype];
  return quantizeValue(value, inv, zeroPoint, qmin, qmax);
}

/** quantizeValue over x[start..end) into `out` (kept as one loop so the engine can inline it); e4m3 bit patterns when `fp8`. */
function quantizeRun(x: Float32Array, start: number, end: number, out: Int8Array | Uint8Array | Int32Array,
  invScale: number, zeroPoint: number, qmin: number, qmax: number, fp8 = false): void {
  if (fp8) {
    for (let i = start; i < end; i++) out[i] = f32ToF8e4m3Bits(Math.fround(x[i]! * invScale));
    return;
  }
  for (let i = start; i < end; i++) {
    const v = Math.fround(x[i]! * invScale);
    const q = Math.fround(zeroPoint + (v < RNE_LIMIT && v > -RNE_LIMIT ? v + RNE_SHIFT - RNE_SHIFT : v));
    out[i] = q >= qmax || q !== q ? qmax : q <= qmin ? qmin : q;
  }
}

function checkScale(op: string, scale: number, where = ''): number {
  const s = Math.fround(scale);
  if (!(s > 0) || !Number.isFinite(s) || !Number.isFinite(1 / s)) {
    throw new RangeError(`${op}: scale${where} must be a positive finite float32, got ${scale}`);
  }
  return s;
}

function checkZeroPoint(op: string, zp: number, dtype: QuantDType, where = ''): void {
  if (dtype === 'float8e4m3' && zp !== 0) throw new RangeError(`${op}: zero_point${where} must be 0 for float8e4m3 (FP8 quantization is symmetric), got ${zp}`);
  const [qmin, qmax] = QUANT_RANGES[dtype];
  if (!Number.isInteger(zp) || zp < qmin || zp > qmax) {
    throw new RangeError(`${op}: zero_point${where} ${zp} is out of range for ${dtype} (expected ${qmin}..${qmax})`);
  }
}

function checkFloatInput(op: string, input: TensorMeta): void {
  if (!isFloating(input.dtype)) throw new TypeError(`${op}: input must be a floating-point tensor, got ${input.dtype}`);
}

function checkQuantDType(op: string, dtype: DType): asserts dtype is QuantDType {
  if (!isQuantDType(dtype)) throw new TypeError(`${op}: dtype must be int8, uint8, int32 or float8e4m3, got ${dtype}`);
}

// ---- quantize_per_tensor ----

/**
 * Output of `quantize_per_tensor`: the input's shape in `dtype`. A number scale and zero point are
 * checked here and carried as its qparams; a scale or zero point given as a tensor (torch's tensor
 * qparams, e.g. a scale the model computes) must hold one element, and its value is known only
 * when the op runs.
 */
export function quantizePerTensorMeta(input: TensorMeta, scale: number | TensorMeta, zeroPoint: number | TensorMeta, dtype: DType): TensorMeta {
  const op = 'acc.quantize_per_tensor';
  checkFloatInput(op, input);
  checkQuantDType(op, dtype);
  if (typeof scale === 'number') checkScale(op, scale);
  else checkOneElement(op, 'scale', scale, isFloating(scale.dtype), 'a floating-point');
  if (typeof zeroPoint === 'number') checkZeroPoint(op, zeroPoint, dtype);
  else checkOneElement(op, 'zero_point', zeroPoint, isIntegral(zeroPoint.dtype), 'an integer');
  if (typeof scale !== 'number' || typeof zeroPoint !== 'number') return tensorMeta(input.shape, dtype);
  return tensorMeta(input.shape, dtype, { scale: Float32Array.of(Math.fround(scale)), zeroPoint: Int32Array.of(zeroPoint) });
}

function checkOneElement(op: string, name: string, t: TensorMeta, typeOk: boolean, kind: string): void {
  if (!typeOk || numelOf(t.shape) !== 1) {
    throw new TypeError(`${op}: a tensor ${name} must be ${kind} tensor of one element, got ${t.dtype}${formatShape(t.shape)}`);
  }
}

/**
 * `quantize_per_tensor`: q = clamp(round_half_even(x / scale) + zero_point, qmin, qmax), the scale
 * applied as PyTorch does (times its float32 reciprocal); the result carries its qparams. The scale
 * and zero point are numbers or one-element tensors (their value is read, as torch's `item()`).
 * @example quantizePerTensor(Tensor.fromArray([0.5, 1.5, 300]), 1, 0, 'int8').toArray() // [0, 2, 127]
 * @example quantizePerTensor(Tensor.fromArray([0.5, 1.5]), Tensor.fromArray([0.5]), Tensor.fromArray([1], 'int32'), 'uint8').toArray() // [2, 4]
 */
export function quantizePerTensor(input: Tensor, scale: number | Tensor, zeroPoint: number | Tensor, dtype: DType): Tensor {
  const metaOf = (v: number | Tensor): number | TensorMeta => (typeof v === 'number' ? v : { shape: v.shape, dtype: v.dtype });
  const valueOf = (v: number | Tensor): number => (typeof v === 'number' ? v : v.toFloat64()[0]!);
  if (typeof scale !== 'number' || typeof zeroPoint !== 'number') quantizePerTensorMeta(input, metaOf(scale), metaOf(zeroPoint), dtype);
  const zp = valueOf(zeroPoint);
  const meta = quantizePerTensorMeta(input, valueOf(scale), zp, dtype);
  const q = meta.qparams!;
  const [qmin, qmax] = QUANT_RANGES[meta.dtype as QuantDType];
  const inv = Math.fround(1 / q.scale[0]!);
  const x = input.toFloat32();
  const out = allocQuant(meta.dtype as QuantDType, x.length);
  quantizeRun(x, 0, x.length, out, inv, zp, qmin, qmax, meta.dtype === 'float8e4m3');
  return new Tensor(out, meta.shape, meta.dtype, q);
}

function allocQuant(dtype: QuantDType, n: number): Int8Array | Uint8Array | Int32Array {
  return dtype === 'int8' ? new Int8Array(n) : dtype === 'uint8' || dtype === 'float8e4m3' ? new Uint8Array(n) : new Int32Array(n);
}

// ---- quantize_per_channel ----

/** Output of `quantize_per_channel`: scales (float) and zero_points (int) are 1-d, one per slice of `axis`. */
export function quantizePerChannelMeta(input: TensorMeta, scales: TensorMeta, zeroPoints: TensorMeta, axis: number, dtype: DType): TensorMeta {
  const op = 'acc.quantize_per_channel';
  checkFloatInput(op, input);
  checkQuantDType(op, dtype);
  if (input.shape.length === 0) throw new RangeError(`${op}: input must have at least 1 dim, got a 0-d tensor`);
  const a = normDim(axis, input.shape.length, `${op}: axis`);
  if (!isFloating(scales.dtype)) throw new TypeError(`${op}: scales must be a floating-point tensor, got ${scales.dtype}`);
  if (!isIntegral(zeroPoints.dtype)) throw new TypeError(`${op}: zero_points must be an integer tensor, got ${zeroPoints.dtype}`);
  const channels = input.shape[a]!;
  for (const [name, t] of [['scales', scales], ['zero_points', zeroPoints]] as const) {
    if (t.shape.length !== 1 || t.shape[0] !== channels) {
      throw new RangeError(`${op}: ${name} must have shape [${channels}] (dim ${a} of input ${formatShape(input.shape)}), got ${formatShape(t.shape)}`);
    }
  }
  return tensorMeta(input.shape, dtype);
}

/** The per-channel parameters of concrete scales and zero points, validated. */
function channelParams(op: string, scales: Tensor, zeroPoints: Tensor, axis: number, dtype: QuantDType): QuantParams {
  const scale = new Float32Array(scales.toFloat32());
  const zeroPoint = new Int32Array(zeroPoints.numel);
  const zps = zeroPoints.toFloat64();
  for (let c = 0; c < scale.length; c++) {
    scale[c] = checkScale(op, scale[c]!, ` of channel ${c}`);
    checkZeroPoint(op, zps[c]!, dtype, ` of channel ${c}`);
    zeroPoint[c] = zps[c]!;
  }
  return { scale, zeroPoint, axis };
}

/**
 * `quantize_per_channel`: quantize_per_tensor with each slice along `axis` using its own scale and zero point.
 * @example quantizePerChannel(Tensor.fromArray([[1, 2], [3, 4]]), Tensor.fromArray([1, 2]), Tensor.fromArray([0n, 0n]), 0, 'int8').toArray() // [[1, 2], [2, 2]]
 */
export function quantizePerChannel(input: Tensor, scales: Tensor, zeroPoints: Tensor, axis: number, dtype: DType): Tensor {
  const op = 'acc.quantize_per_channel';
  const meta = quantizePerChannelMeta(input, scales, zeroPoints, axis, dtype);
  const qd = meta.dtype as QuantDType;
  const a = normDim(axis, input.rank);
  const q = channelParams(op, scales, zeroPoints, a, qd);
  const [qmin, qmax] = QUANT_RANGES[qd];
  const x = input.toFloat32();
  const out = allocQuant(qd, x.length);
  forEachChannelRun(input.shape, a, (c, start, len) => {
    quantizeRun(x, start, start + len, out, Math.fround(1 / q.scale[c]!), q.zeroPoint[c]!, qmin, qmax, qd === 'float8e4m3');
  });
  return new Tensor(out, meta.shape, meta.dtype, q);
}

/** Calls `run(channel, start, length)` for every contiguous run of elements of one channel along `axis`. */
function forEachChannelRun(shape: readonly number[], axis: number, run: (c: number, start: number, len: number) => void): void {
  const channels = shape[axis]!;
  const inner = numelOf(shape.slice(axis + 1));
  const outer = numelOf(shape.slice(0, axis));
  if (inner === 0) return;
  let at = 0;
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      run(c, at, inner);
      at += inner;
    }
  }
}

// ---- dequantize ----

function checkQParams(op: string, input: TensorMeta, q: QuantParams): void {
  const count = q.axis === undefined ? 1 : input.shape[q.axis];
  if (count === undefined || q.scale.length !== count || q.zeroPoint.length !== count) {
    const where = q.axis === undefined ? 'per-tensor' : `per-channel along dim ${q.axis}`;
    throw new RangeError(`${op}: ${where} parameters (${q.scale.length} scales, ${q.zeroPoint.length} zero points) do not fit input ${formatShape(input.shape)}`);
  }
}

/** Output of `dequantize`: float32 of the input's shape; the input must be a quantized integer tensor. */
export function dequantizeMeta(input: TensorMeta): TensorMeta {
  if (!isQuantDType(input.dtype)) throw new TypeError(`acc.dequantize: input must be a quantized int8, uint8, int32 or float8e4m3 tensor, got ${input.dtype}`);
  if (input.qparams) checkQParams('acc.dequantize', input, input.qparams);
  return tensorMeta(input.shape, 'float32');
}

/**
 * `dequantize`: (q - zero_point) * scale in float32, per tensor or per channel by the input's qparams.
 * @example dequantize(quantizePerTensor(Tensor.fromArray([0.26]), 0.1, 3, 'uint8')).toArray() // [0.3] (as float32)
 */
export function dequantize(input: Tensor): Tensor {
  const meta = dequantizeMeta(input);
  const q = input.qparams;
  if (q === undefined) {
    throw new TypeError(`acc.dequantize: input (${input.dtype}${formatShape(input.shape)}) carries no quantization parameters; produce it with quantize_per_tensor or quantize_per_channel`);
  }
  const src = input.data as Int8Array | Uint8Array | Int32Array;
  const out = new Float32Array(src.length);
  const fp8 = input.dtype === 'float8e4m3';
  const apply = (scale: number, zp: number, start: number, len: number): void => {
    if (fp8) for (let i = start; i < start + len; i++) out[i] = scale * f8e4m3BitsToF32(src[i]!);
    else for (let i = start; i < start + len; i++) out[i] = scale * Math.fround(src[i]! - zp);
  };
  if (q.axis === undefined) apply(q.scale[0]!, q.zeroPoint[0]!, 0, src.length);
  else forEachChannelRun(input.shape, q.axis, (c, start, len) => apply(q.scale[c]!, q.zeroPoint[c]!, start, len));
  return new Tensor(out, meta.shape, 'float32');
}
