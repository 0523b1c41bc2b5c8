/**
 * ONNX element types (TensorProto.DataType) and how each one is held in an fxrt tensor. Types fxrt
 * has natively map one to one (FLOAT8E4M3FN is fxrt's float8e4m3); the others are widened
 * exactly where possible (int16 → int32, uint32 → int64, the other float8 types / float4 / int4 /
 * int2 → float32 / int8 / uint8) and doubles are rounded to float32. Strings and complex numbers are not supported.
 */
import type { DType } from '../tensor/dtype.js';

/** TensorProto.DataType codes, as in proto/onnx_model.proto (the ONNX wire format). */
export const OnnxDataType = {
  UNDEFINED: 0, FLOAT: 1, UINT8: 2, INT8: 3, UINT16: 4, INT16: 5, INT32: 6, INT64: 7, STRING: 8, BOOL: 9,
  FLOAT16: 10, DOUBLE: 11, UINT32: 12, UINT64: 13, COMPLEX64: 14, COMPLEX128: 15, BFLOAT16: 16,
  FLOAT8E4M3FN: 17, FLOAT8E4M3FNUZ: 18, FLOAT8E5M2: 19, FLOAT8E5M2FNUZ: 20, UINT4: 21, INT4: 22,
  FLOAT4E2M1: 23, FLOAT8E8M0: 24, UINT2: 25, INT2: 26,
} as const;

/** How the elements of one ONNX type are stored in a file and held in fxrt. */
export interface OnnxTypeInfo {
  readonly code: number;
  readonly name: string;
  /** The fxrt dtype that holds the values. */
  readonly dtype: DType;
  /** Bits per element in raw_data. */
  readonly bits: number;
  /**
   * 'native': raw bytes are the dtype's storage; 'int': a wider or narrower integer, converted
   * exactly; 'float8' / 'float4': small floats decoded to float32; 'double': rounded to float32.
   */
  readonly kind: 'native' | 'int' | 'minifloat' | 'double';
  /** For 'int' kinds: whether the ONNX type is signed. */
  readonly signed?: boolean;
}

const TYPES: readonly OnnxTypeInfo[] = [
  { code: 1, name: 'FLOAT', dtype: 'float32', bits: 32, kind: 'native' },
  { code: 2, name: 'UINT8', dtype: 'uint8', bits: 8, kind: 'native' },
  { code: 3, name: 'INT8', dtype: 'int8', bits: 8, kind: 'native' },
  { code: 4, name: 'UINT16', dtype: 'int32', bits: 16, kind: 'int', signed: false },
  { code: 5, name: 'INT16', dtype: 'int32', bits: 16, kind: 'int', signed: true },
  { code: 6, name: 'INT32', dtype: 'int32', bits: 32, kind: 'native' },
  { code: 7, name: 'INT64', dtype: 'int64', bits: 64, kind: 'native' },
  { code: 9, name: 'BOOL', dtype: 'bool', bits: 8, kind: 'native' },
  { code: 10, name: 'FLOAT16', dtype: 'float16', bits: 16, kind: 'native' },
  { code: 11, name: 'DOUBLE', dtype: 'float32', bits: 64, kind: 'double' },
  { code: 12, name: 'UINT32', dtype: 'int64', bits: 32, kind: 'int', signed: false },
  { code: 13, name: 'UINT64', dtype: 'int64', bits: 64, kind: 'int', signed: false },
  { code: 16, name: 'BFLOAT16', dtype: 'bfloat16', bits: 16, kind: 'native' },
  { code: 17, name: 'FLOAT8E4M3FN', dtype: 'float8e4m3', bits: 8, kind: 'native' },
  { code: 18, name: 'FLOAT8E4M3FNUZ', dtype: 'float32', bits: 8, kind: 'minifloat' },
  { code: 19, name: 'FLOAT8E5M2', dtype: 'float32', bits: 8, kind: 'minifloat' },
  { code: 20, name: 'FLOAT8E5M2FNUZ', dtype: 'float32', bits: 8, kind: 'minifloat' },
  { code: 21, name: 'UINT4', dtype: 'uint8', bits: 4, kind: 'int', signed: false },
  { code: 22, name: 'INT4', dtype: 'int8', bits: 4, kind: 'int', signed: true },
  { code: 23, name: 'FLOAT4E2M1', dtype: 'float32', bits: 4, kind: 'minifloat' },
  { code: 24, name: 'FLOAT8E8M0', dtype: 'float32', bits: 8, kind: 'minifloat' },
  { code: 25, name: 'UINT2', dtype: 'uint8', bits: 2, kind: 'int', signed: false },
  { code: 26, name: 'INT2', dtype: 'int8', bits: 2, kind: 'int', signed: true },
];

const BY_CODE = new Map<number, OnnxTypeInfo>(TYPES.map((t) => [t.code, t]));
const NAMES: Record<number, string> = {
  0: 'UNDEFINED', 8: 'STRING', 14: 'COMPLEX64', 15: 'COMPLEX128',
  ...Object.fromEntries(TYPES.map((t) => [t.code, t.name])),
};

/** The name of an ONNX type code ('FLOAT', 'INT4', ... or 'unknown type 99'). */
export function onnxTypeName(code: number): string {
  return NAMES[code] ?? `unknown type ${code}`;
}

/** How ONNX type `code` is held, or undefined for types fxrt cannot hold (strings, complex, unknown). */
export function onnxTypeInfo(code: number): OnnxTypeInfo | undefined {
  return BY_CODE.get(code);
}

// ---- small floats ----

/** Layout of a float8 / float4 format: exponent and mantissa bits, bias, and how it spells NaN and infinity. */
interface MiniFloatFormat {
  readonly exp: number;
  readonly mant: number;
  readonly bias: number;
  /** 'ieee': all-ones exponent is inf/NaN; 'fn': only all-ones is NaN (no inf); 'fnuz': 0x80 is NaN (no -0, no inf); 'none': finite only. */
  readonly special: 'ieee' | 'fn' | 'fnuz' | 'none';
}

const MINI_FORMATS: Readonly<Record<number, MiniFloatFormat>> = {
  17: { exp: 4, mant: 3, bias: 7, special: 'fn' },
  18: { exp: 4, mant: 3, bias: 8, special: 'fnuz' },
  19: { exp: 5, mant: 2, bias: 15, special: 'ieee' },
  20: { exp: 5, mant: 2, bias: 16, special: 'fnuz' },
  23: { exp: 2, mant: 1, bias: 1, special: 'none' },
};

const miniTables = new Map<number, Float32Array>();

/** The value of every bit pattern of a small-float type (256 entries; float4 uses the low 16). */
export function miniFloatTable(code: number): Float32Array {
  let t = miniTables.get(code);
  if (t) return t;
  t = new Float32Array(256);
  if (code === OnnxDataType.FLOAT8E8M0) {
    for (let b = 0; b < 256; b++) t[b] = b === 255 ? NaN : 2 ** (b - 127);
  } else {
    const f = MINI_FORMATS[code];
    if (!f) throw new RangeError(`${onnxTypeName(code)} is not a small-float type`);
    const width = 1 + f.exp + f.mant;
    const expMax = (1 << f.exp) - 1;
    const mantMax = (1 << f.mant) - 1;
    for (let b = 0; b < 1 << width; b++) {
      const sign = (b >> (width - 1)) & 1 ? -1 : 1;
      const e = (b >> f.mant) & expMax;
      const m = b & mantMax;
      let v: number;
      if (f.special === 'fnuz' && b === 1 << (width - 1)) v = NaN;
      else if (f.special === 'ieee' && e === expMax) v = m === 0 ? sign * Infinity : NaN;
      else if (f.special === 'fn' && e === expMax && m === mantMax) v = NaN;
      else if (e === 0) v = sign * (m / (1 << f.mant)) * 2 ** (1 - f.bias);
      else v = sign * (1 + m / (1 << f.mant)) * 2 ** (e - f.bias);
      t[b] = v;
    }
  }
  miniTables.set(code, t);
  return t;
}
