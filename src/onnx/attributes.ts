/**
 * AttributeProto → plain values: numbers, number lists, strings and tensors. Graph-valued attributes
 * (If, Loop, Scan bodies) and sparse tensors are not supported and raise an OnnxError naming them.
 */
import type { Tensor } from '../tensor/tensor.js';
import { OnnxError, type OnnxLocation } from './errors.js';
import type { ExternalDataReader } from './external_data.js';
import { AttributeProto_AttributeType as AttrType, type AttributeProto } from './proto/onnx_model_pb.js';
import { tensorFromProto } from './tensor_proto.js';

/** The value of one attribute. */
export type AttributeValue = number | string | Tensor | readonly number[] | readonly string[];

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** An int64 attribute as a number; values beyond ±2^53 (INT64_MAX as "to the end") saturate there. */
export function int64ToNumber(v: bigint): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) return Number.MAX_SAFE_INTEGER;
  if (v < BigInt(Number.MIN_SAFE_INTEGER)) return Number.MIN_SAFE_INTEGER;
  return Number(v);
}

/** Decodes one attribute; `where` names the node for errors. */
export function attributeValue(a: AttributeProto, external: ExternalDataReader, where: OnnxLocation): AttributeValue {
  if (a.refAttrName !== '') throw new OnnxError(`attribute '${a.name}' refers to a function attribute ('${a.refAttrName}'); functions are not supported`, where);
  switch (a.type) {
    case AttrType.FLOAT: return a.f;
    case AttrType.INT: return int64ToNumber(a.i);
    case AttrType.STRING: return utf8.decode(a.s);
    case AttrType.TENSOR:
      if (a.t === undefined) throw new OnnxError(`attribute '${a.name}' is of type TENSOR but holds no tensor`, where);
      return tensorFromProto(a.t, external);
    case AttrType.FLOATS: return a.floats;
    case AttrType.INTS: return a.ints.map(int64ToNumber);
    case AttrType.STRINGS: return a.strings.map((s) => utf8.decode(s));
    default:
      throw new OnnxError(`attribute '${a.name}' has type ${AttrType[a.type] ?? a.type}, which the importer does not support (graph and sparse-tensor attributes cannot be imported)`, where);
  }
}
