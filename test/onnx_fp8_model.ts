/** An FP8 Q/DQ ONNX model built in memory (opset 19, FLOAT8E4M3FN), for the CPU and GPU tests. */
import { create, toBinary } from '@bufbuild/protobuf';
import { AttributeProto_AttributeType, ModelProtoSchema, NodeProtoSchema } from '../src/onnx/proto/onnx_model_pb.js';
import { f32ToF8e4m3Bits } from '../src/tensor/dtype.js';
import type { Tensor } from '../src/tensor/tensor.js';

const FLOAT = 1;
const FLOAT8E4M3FN = 17;

function valueInfo(name: string, dims: number[]) {
  return { name, type: { value: { case: 'tensorType' as const, value: { elemType: FLOAT, shape: { dim: dims.map((d) => ({ value: { case: 'dimValue' as const, value: BigInt(d) } })) } } } } };
}

function node(opType: string, input: string[], output: string[], saturate?: number) {
  const attribute = saturate === undefined ? [] : [{ name: 'saturate', type: AttributeProto_AttributeType.INT, i: BigInt(saturate) }];
  return create(NodeProtoSchema, { opType, input, output, name: output[0]!, attribute });
}

const scalar = (name: string, v: number) => ({ name, dims: [], dataType: FLOAT, floatData: [v] });
const zeroFp8 = (name: string) => ({ name, dims: [], dataType: FLOAT8E4M3FN, rawData: Uint8Array.of(0) });

/** x [8, 32] → Q/DQ (FP8) → MatMul(DQ(w8 [32, 16])) → + b → Relu → y. */
export function fp8MlpModel(w: Tensor, b: Tensor, saturate?: number): Uint8Array {
  const amax = w.toFloat32().reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const sw = Math.fround(amax / 448);
  const w8 = Uint8Array.from(w.toFloat32(), (v) => f32ToF8e4m3Bits(Math.fround(v / sw)));
  return toBinary(ModelProtoSchema, create(ModelProtoSchema, {
    irVersion: 9n, opsetImport: [{ domain: '', version: 19n }],
    graph: {
      name: 'fp8_mlp',
      node: [
        node('QuantizeLinear', ['x', 'sx', 'zx'], ['xq'], saturate),
        node('DequantizeLinear', ['xq', 'sx', 'zx'], ['xd']),
        node('DequantizeLinear', ['w8', 'sw', 'zw'], ['wd']),
        node('MatMul', ['xd', 'wd'], ['mm']),
        node('Add', ['mm', 'b'], ['biased']),
        node('Relu', ['biased'], ['y']),
      ],
      input: [valueInfo('x', [8, 32])], output: [valueInfo('y', [8, 16])],
      initializer: [
        scalar('sx', 3 / 448), zeroFp8('zx'), scalar('sw', sw), zeroFp8('zw'),
        { name: 'w8', dims: [32n, 16n], dataType: FLOAT8E4M3FN, rawData: w8 },
        { name: 'b', dims: [16n], dataType: FLOAT, floatData: Array.from(b.toFloat32()) },
      ],
    },
  }));
}

