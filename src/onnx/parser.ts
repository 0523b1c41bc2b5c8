/**
 * Reads the ONNX protobuf wire format into typed messages.
 *
 * Why @bufbuild/protobuf (protobuf-es v2) and not protobufjs, google-protobuf or a hand decoder:
 * - it is maintained (Buf), passes the protobuf conformance suite, has no dependencies and is about
 *   250 kB packed; only the runtime ships, the message code is generated once from our own schema
 *   (proto/onnx_model.proto: just the messages and fields the importer reads, numbered as on the wire;
 *   the decoder skips everything else);
 * - `bytes` fields decode as `subarray` views of the input, so `raw_data` (the weights) is never
 *   copied, and reads are bounds-checked (a truncated file throws instead of reading garbage);
 * - int64 fields (dims, int64_data) decode as bigint, so large dims are detected, not rounded;
 * - element types are plain int32 fields, so every code (up to int2/uint2, and newer ones) decodes
 *   and dtypes.ts decides which fxrt can hold.
 * protobufjs would also slice `bytes` without copying, but brings `long` and a reflection runtime
 * four times the size; google-protobuf copies bytes and is in maintenance mode.
 */
import { fromBinary } from '@bufbuild/protobuf';
import { OnnxError } from './errors.js';
import { ModelProtoSchema, type ModelProto } from './proto/onnx_model_pb.js';

/** The largest model file read whole (protobuf messages are limited to 2 GiB; larger weights go in external data). */
const MAX_MODEL_BYTES = 2 ** 31 - 1;

/**
 * Decodes a serialized ONNX ModelProto. Weights in `raw_data` stay views of `bytes`.
 * Throws an OnnxError for anything that is not a well-formed model with a graph.
 *
 * @example
 * const model = parseOnnxModel(readFileSync('model.onnx'));
 * console.log(model.graph?.node.length, model.opsetImport);
 */
export function parseOnnxModel(bytes: Uint8Array): ModelProto {
  if (bytes.byteLength === 0) throw new OnnxError('the model file is empty');
  if (bytes.byteLength > MAX_MODEL_BYTES) {
    throw new OnnxError(`the model is ${bytes.byteLength} bytes; protobuf messages are limited to 2 GiB (store the weights as external data)`);
  }
  let model: ModelProto;
  try {
    model = fromBinary(ModelProtoSchema, bytes, { readUnknownFields: false });
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new OnnxError(`not a valid ONNX model (protobuf decoding failed: ${why}); the file may be truncated or corrupted`, {}, { cause: e });
  }
  if (model.graph === undefined) {
    throw new OnnxError('not a valid ONNX model: it has no graph (is this an ONNX file? it may be truncated or corrupted)');
  }
  if (model.irVersion <= 0n) {
    throw new OnnxError(`not a valid ONNX model: ir_version is ${model.irVersion}, expected 3 or later`);
  }
  return model;
}

/** The opset version of each operator domain ('' is the default ONNX domain, also spelled 'ai.onnx'). */
export function opsetVersions(model: ModelProto): Map<string, number> {
  const out = new Map<string, number>();
  for (const o of model.opsetImport) {
    const domain = o.domain === 'ai.onnx' ? '' : o.domain;
    const v = Number(o.version);
    if (!Number.isSafeInteger(v) || v <= 0) throw new OnnxError(`opset_import for domain '${o.domain}' has invalid version ${o.version}`);
    out.set(domain, v);
  }
  // IR version 3 models without opset_import use opset 1, which predates what the importer supports.
  if (!out.has('')) throw new OnnxError('the model imports no version of the default ONNX opset (opset_import has no entry for domain \'\')');
  return out;
}
