/**
 * TensorProto → Tensor. Native types in `raw_data` become the tensor's storage without a copy (a
 * view of the model bytes when aligned); other types and the typed fields (float_data, int32_data,
 * ...) are converted once. Every length is checked against the shape before anything is allocated.
 */
import { allocStorage, type DType, type Storage } from '../tensor/dtype.js';
import { formatShape } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import { miniFloatTable, onnxTypeInfo, onnxTypeName, type OnnxTypeInfo } from './dtypes.js';
import { OnnxError } from './errors.js';
import type { ExternalDataReader } from './external_data.js';
import { TensorProto_DataLocation, type TensorProto } from './proto/onnx_model_pb.js';

/** Tensors above this many elements are refused (2^31: the largest typed array Node allocates). */
const MAX_ELEMENTS = 2 ** 31 - 1;

/** Dims as numbers; throws for negative or oversized dims. */
export function dimsOf(dims: readonly bigint[], what: { tensor: string }): number[] {
  const out: number[] = [];
  let numel = 1;
  for (const d of dims) {
    if (d < 0n || d > BigInt(MAX_ELEMENTS)) throw new OnnxError(`invalid dim ${d} in shape [${dims.join(', ')}]`, what);
    const n = Number(d);
    out.push(n);
    numel *= n;
  }
  if (numel > MAX_ELEMENTS) throw new OnnxError(`shape [${dims.join(', ')}] has ${numel} elements, more than fxrt can hold (${MAX_ELEMENTS})`, what);
  return out;
}

/** Bytes of `numel` elements of a type in raw_data (sub-byte types are packed). */
export function rawByteLength(info: OnnxTypeInfo, numel: number): number {
  return Math.ceil((numel * info.bits) / 8);
}

/**
 * Decodes a TensorProto into a Tensor (see the module comment for the type mapping).
 *
 * @example
 * const w = tensorFromProto(model.graph!.initializer[0]!, new ExternalDataReader(dirname(path)));
 */
export function tensorFromProto(t: TensorProto, external: ExternalDataReader): Tensor {
  const where = { tensor: t.name };
  const info = onnxTypeInfo(t.dataType);
  if (!info) throw new OnnxError(`data type ${onnxTypeName(t.dataType)} is not supported (fxrt holds numeric and bool tensors)`, where);
  if (t.segment !== undefined) throw new OnnxError('segmented tensors (TensorProto.segment) are not supported', where);
  const shape = dimsOf(t.dims, where);
  const numel = shape.reduce((a, b) => a * b, 1);
  const bytes = rawByteLength(info, numel);
  if (t.dataLocation === TensorProto_DataLocation.EXTERNAL) {
    return fromRaw(external.read(t, bytes), info, shape, numel, t.name);
  }
  if (t.rawData.byteLength > 0 || (numel === 0 && typedFieldLength(t) === 0)) {
    if (t.rawData.byteLength !== bytes) {
      throw new OnnxError(`raw_data has ${t.rawData.byteLength} bytes, but ${info.name}${formatShape(shape)} needs ${bytes}`, where);
    }
    return fromRaw(t.rawData, info, shape, numel, t.name);
  }
  return fromTypedFields(t, info, shape, numel);
}

function typedFieldLength(t: TensorProto): number {
  return t.floatData.length + t.int32Data.length + t.int64Data.length + t.doubleData.length + t.uint64Data.length + t.stringData.length;
}

/** An aligned view (or copy, when unaligned) of `raw` as a typed array constructor's elements. */
function view<T>(raw: Uint8Array, size: number, make: (buf: ArrayBufferLike, off: number, n: number) => T): T {
  const n = raw.byteLength / size;
  if (raw.byteOffset % size === 0) return make(raw.buffer, raw.byteOffset, n);
  return make(raw.slice().buffer, 0, n);
}

function fromRaw(raw: Uint8Array, info: OnnxTypeInfo, shape: number[], numel: number, name: string): Tensor {
  switch (info.kind) {
    case 'native':
      return Tensor.fromBytes(raw, shape, info.dtype);
    case 'double': {
      const src = view(raw, 8, (b, o, n) => new Float64Array(b, o, n));
      return Tensor.fromStorage(Float32Array.from(src), shape, 'float32');
    }
    case 'minifloat': {
      const table = miniFloatTable(info.code);
      const out = new Float32Array(numel);
      if (info.bits === 4) for (let i = 0; i < numel; i++) out[i] = table[(raw[i >> 1]! >> ((i & 1) * 4)) & 0xf]!;
      else for (let i = 0; i < numel; i++) out[i] = table[raw[i]!]!;
      return Tensor.fromStorage(out, shape, 'float32');
    }
    case 'int':
      return intFromRaw(raw, info, shape, numel, name);
  }
}

/** Integer types fxrt does not hold natively, converted exactly to the next wider one. */
function intFromRaw(raw: Uint8Array, info: OnnxTypeInfo, shape: number[], numel: number, name: string): Tensor {
  const out = allocStorage(info.dtype, numel);
  if (info.bits < 8) {
    unpackSubByte(raw, info, out as Int8Array | Uint8Array, numel);
  } else if (info.bits === 16) {
    const src = info.signed ? view(raw, 2, (b, o, n) => new Int16Array(b, o, n)) : view(raw, 2, (b, o, n) => new Uint16Array(b, o, n));
    (out as Int32Array).set(src);
  } else if (info.bits === 32) {
    const src = view(raw, 4, (b, o, n) => new Uint32Array(b, o, n));
    const dst = out as BigInt64Array;
    for (let i = 0; i < numel; i++) dst[i] = BigInt(src[i]!);
  } else {
    const src = view(raw, 8, (b, o, n) => new BigUint64Array(b, o, n));
    copyUint64(src, out as BigInt64Array, name);
  }
  return new Tensor(out, shape, info.dtype);
}

function copyUint64(src: ArrayLike<bigint>, dst: BigInt64Array, name: string): void {
  const limit = 2n ** 63n;
  for (let i = 0; i < src.length; i++) {
    const v = src[i]!;
    if (v >= limit) throw new OnnxError(`UINT64 value ${v} at index ${i} does not fit in int64`, { tensor: name });
    dst[i] = v;
  }
}

/** 4-bit and 2-bit elements, packed from the least significant bits up; sign-extended for signed types. */
function unpackSubByte(packed: ArrayLike<number>, info: OnnxTypeInfo, out: Int8Array | Uint8Array, numel: number): void {
  const bits = info.bits;
  const perByte = 8 / bits;
  const mask = (1 << bits) - 1;
  const signBit = 1 << (bits - 1);
  for (let i = 0; i < numel; i++) {
    const byte = packed[Math.floor(i / perByte)]! & 0xff;
    const v = (byte >> ((i % perByte) * bits)) & mask;
    out[i] = info.signed && v & signBit ? v - (1 << bits) : v;
  }
}

/** Elements stored in the type-specific repeated fields instead of raw_data. */
function fromTypedFields(t: TensorProto, info: OnnxTypeInfo, shape: number[], numel: number): Tensor {
  const where = { tensor: t.name };
  const code = info.name;
  const expect = (have: number, field: string, need: number): void => {
    if (have !== need) throw new OnnxError(`${field} has ${have} values, but ${code}${formatShape(shape)} needs ${need}`, where);
  };
  switch (code) {
    case 'FLOAT':
      expect(t.floatData.length, 'float_data', numel);
      return Tensor.fromStorage(Float32Array.from(t.floatData), shape, 'float32');
    case 'DOUBLE':
      expect(t.doubleData.length, 'double_data', numel);
      return Tensor.fromStorage(Float32Array.from(t.doubleData), shape, 'float32');
    case 'INT64':
      expect(t.int64Data.length, 'int64_data', numel);
      return Tensor.fromStorage(BigInt64Array.from(t.int64Data), shape, 'int64');
    case 'UINT32': case 'UINT64': {
      expect(t.uint64Data.length, 'uint64_data', numel);
      const out = new BigInt64Array(numel);
      copyUint64(t.uint64Data, out, t.name);
      return Tensor.fromStorage(out, shape, 'int64');
    }
    default:
      return fromInt32Data(t, info, shape, numel, expect);
  }
}

/** Types stored one (or, for 4-bit and 2-bit types, several) per int32_data entry. */
function fromInt32Data(t: TensorProto, info: OnnxTypeInfo, shape: number[], numel: number,
  expect: (have: number, field: string, need: number) => void): Tensor {
  const src = t.int32Data;
  if (info.bits < 8) {
    const perEntry = 8 / info.bits;
    expect(src.length, 'int32_data', Math.ceil(numel / perEntry));
    if (info.kind === 'minifloat') {
      const table = miniFloatTable(info.code);
      const out = new Float32Array(numel);
      for (let i = 0; i < numel; i++) out[i] = table[(src[i >> 1]! >> ((i & 1) * 4)) & 0xf]!;
      return Tensor.fromStorage(out, shape, 'float32');
    }
    const out = allocStorage(info.dtype, numel) as Int8Array | Uint8Array;
    unpackSubByte(src, info, out, numel);
    return new Tensor(out, shape, info.dtype);
  }
  expect(src.length, 'int32_data', numel);
  if (info.kind === 'minifloat') {
    const table = miniFloatTable(info.code);
    const out = new Float32Array(numel);
    for (let i = 0; i < numel; i++) out[i] = table[src[i]! & 0xff]!;
    return Tensor.fromStorage(out, shape, 'float32');
  }
  const dtype: DType = info.dtype;
  const out: Storage = allocStorage(dtype, numel);
  // float16/bfloat16 entries are bit patterns; integer entries are values (typed-array set wraps like a C cast).
  if (dtype === 'bool') for (let i = 0; i < numel; i++) (out as Uint8Array)[i] = src[i] !== 0 ? 1 : 0;
  else if (dtype === 'int64') for (let i = 0; i < numel; i++) (out as BigInt64Array)[i] = BigInt(src[i]!);
  else (out as Exclude<Storage, BigInt64Array>).set(src);
  return new Tensor(out, shape, dtype);
}
