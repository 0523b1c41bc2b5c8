// importOnnx beyond op semantics: names and metadata, zero-copy weights, external data, element types,
// dynamic dims and their ranges, unsupported ops, the Q→Cast→DQ repair and clear errors for bad files.
import { create, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { getMapping } from '../src/acc_ops/mapping.js';
import { isAccOp } from '../src/acc_ops/registry.js';
import { GraphModule } from '../src/ir/graph_module.js';
import {
  DEFAULT_DIM_RANGE, importOnnx, OnnxError, OnnxUnsupportedOpError, registerOnnxFallback, supportedOnnxOps, type OnnxNodeInfo,
} from '../src/onnx/index.js';
import { AttributeProto_AttributeType, ModelProtoSchema, NodeProtoSchema, TensorProto_DataLocation, type NodeProto } from '../src/onnx/proto/onnx_model_pb.js';
import { dequantize, quantizePerChannel } from '../src/kernels/reference/quant.js';
import { Tensor } from '../src/tensor/tensor.js';

const DIR = join(import.meta.dirname, 'fixtures', 'onnx');
const fixture = (name: string): string => join(DIR, name);
const FLOAT = 1;

type TensorInit = MessageInitShape<typeof ModelProtoSchema>['graph'] extends infer G
  ? G extends { initializer?: (infer T)[] } ? T : never : never;

interface ModelSpec {
  nodes: NodeProto[];
  inputs?: { name: string; elemType?: number; dims: (number | string)[] }[];
  outputs: string[];
  initializers?: TensorInit[];
  opset?: number;
  valueInfo?: { name: string; dims: number[] }[];
}

function valueInfo(name: string, elemType: number, dims: (number | string)[] | null): MessageInitShape<typeof ModelProtoSchema>['graph'] extends infer G ? G extends { input?: (infer V)[] } ? V : never : never {
  return {
    name,
    type: {
      value: {
        case: 'tensorType',
        value: {
          elemType,
          ...(dims === null ? {} : { shape: { dim: dims.map((d) => ({ value: typeof d === 'number' ? { case: 'dimValue' as const, value: BigInt(d) } : { case: 'dimParam' as const, value: d } })) } }),
        },
      },
    },
  };
}

function modelBytes(spec: ModelSpec): Uint8Array {
  return toBinary(ModelProtoSchema, create(ModelProtoSchema, {
    irVersion: 8n,
    opsetImport: [{ domain: '', version: BigInt(spec.opset ?? 13) }],
    graph: {
      name: 'test',
      node: spec.nodes,
      input: (spec.inputs ?? []).map((i) => valueInfo(i.name, i.elemType ?? FLOAT, i.dims)),
      output: spec.outputs.map((o) => valueInfo(o, FLOAT, null)),
      initializer: spec.initializers ?? [],
      valueInfo: (spec.valueInfo ?? []).map((v) => valueInfo(v.name, FLOAT, v.dims)),
    },
  }));
}

function nodeOf(opType: string, input: string[], output: string[], name = `${opType.toLowerCase()}_0`, domain = ''): NodeProto {
  return create(NodeProtoSchema, { opType, input, output, name, domain });
}

function floatRaw(values: number[]): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}

const tmp = mkdtempSync(join(tmpdir(), 'fxrt-onnx-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('importOnnx: structure and names', () => {
  it('maps every registered ONNX op through the shared acc mapping table', () => {
    const ops = supportedOnnxOps();
    for (const op of ['Conv', 'Gemm', 'Resize', 'QuantizeLinear', 'DequantizeLinear', 'TopK', 'Split', 'Slice', 'LayerNormalization']) expect(ops).toContain(op);
    for (const op of ops) expect(getMapping(`onnx:${op}`), op).toBeDefined();
  });

  it('keeps ONNX node names, op types and opsets on the graph nodes, and initializer names on the weights', () => {
    const gm = importOnnx(fixture('op_Conv_o13.onnx'));
    const conv = gm.graph.nodeList().find((n) => n.op === 'call_function' && n.target.name === 'acc.conv2d')!;
    expect(conv.name).toBe('conv_0');
    expect(conv.meta['onnxNode'] as OnnxNodeInfo).toEqual({ name: 'conv_0', opType: 'Conv', opset: 13 });
    expect(conv.meta['onnxOutput']).toBe('y');
    expect(gm.graph.nodeList().filter((n) => n.op === 'get_attr').map((n) => n.target)).toEqual(['w', 'b']);
    for (const n of gm.graph.nodes()) if (n.op === 'call_function') expect(isAccOp(n.target)).toBe(true);
  });

  it('folds shape subgraphs (Shape → Gather → Unsqueeze → Concat → Reshape) to a constant reshape', () => {
    const gm = importOnnx(fixture('op_shape_subgraph_o13.onnx'));
    const calls = gm.graph.nodeList().filter((n) => n.op === 'call_function');
    expect(calls.map((n) => n.op === 'call_function' && n.target.name)).toEqual(['acc.reshape']);
    expect(calls[0]!.kwargs['shape']).toEqual([2, -1]);
  });

  it('saves and loads like any GraphModule', () => {
    const gm = importOnnx(fixture('net_qdq_cnn_o13.onnx'));
    const x = Tensor.rand([1, 3, 8, 8], { seed: 5, low: -3, high: 3 });
    const copy = GraphModule.load(gm.save());
    expect((copy.forward(x) as Tensor).toArray()).toEqual((gm.forward(x) as Tensor).toArray());
  });

  it('keeps quantized weights as integer constants with their per-axis qparams, dequantized in the graph', () => {
    const gm = importOnnx(fixture('op_QDQ_conv_o13.onnx'));
    const dq = gm.graph.nodeList().filter((n) => n.op === 'call_function' && n.target.name === 'acc.dequantize');
    expect(dq.length).toBe(2);
    const w = gm.getAttr('wq');
    expect(w).toBeInstanceOf(Tensor);
    expect((w as Tensor).dtype).toBe('int8');
    expect((w as Tensor).qparams?.axis).toBe(0);
    expect((w as Tensor).qparams?.scale.length).toBe(4);
  });
});

describe('importOnnx: weights', () => {
  it('uses raw_data as the weight storage without copying when it is aligned', () => {
    // The initializer's name length moves raw_data in the file; find a layout where it lands 4-aligned.
    for (let pad = 0; pad < 4; pad++) {
      const name = `w${'x'.repeat(pad)}`;
      const bytes = modelBytes({
        nodes: [nodeOf('Add', ['x', name], ['y'])], inputs: [{ name: 'x', dims: [4] }], outputs: ['y'],
        initializers: [{ name, dims: [4n], dataType: FLOAT, rawData: floatRaw([1, 2, 3, 4]) }],
      });
      const gm = importOnnx(bytes);
      const w = gm.getAttr(name) as Tensor;
      expect(w.toArray()).toEqual([1, 2, 3, 4]);
      if (w.data.byteOffset % 4 === 0 && w.data.buffer === bytes.buffer) return;
    }
    throw new Error('no layout gave a zero-copy weight');
  });

  it('always shares byte-sized weights with the model bytes', () => {
    const bytes = modelBytes({
      nodes: [nodeOf('Add', ['x', 'w'], ['y'])], inputs: [{ name: 'x', elemType: 2, dims: [3] }], outputs: ['y'],
      initializers: [{ name: 'w', dims: [3n], dataType: 2, rawData: Uint8Array.of(1, 2, 250) }],
    });
    const gm = importOnnx(bytes);
    expect((gm.getAttr('w') as Tensor).data.buffer).toBe(bytes.buffer);
    expect((gm.forward(Tensor.fromArray([1, 1, 1], 'uint8')) as Tensor).toArray()).toEqual([2, 3, 251]);
  });

  it('decodes recent element types: float8 (E4M3FN, E5M2), int4, uint4, double, uint16, bfloat16', () => {
    const cases: [number, Uint8Array, number[], number[]][] = [
      [17, Uint8Array.of(0x38, 0xb8, 0x7e, 0x01), [4], [1, -1, 448, 2 ** -9]],
      [19, Uint8Array.of(0x3c, 0x7b, 0x7c, 0x80), [4], [1, 57344, Infinity, -0]],
      [22, Uint8Array.of(0x7f, 0x98), [3], [-1, 7, -8]],
      [21, Uint8Array.of(0xf3), [2], [3, 15]],
      [11, new Uint8Array(Float64Array.of(0.5, -2.25).buffer), [2], [0.5, -2.25]],
      [4, new Uint8Array(Uint16Array.of(65535, 7).buffer), [2], [65535, 7]],
      [16, new Uint8Array(Uint16Array.of(0x3f80, 0xc020).buffer), [2], [1, -2.5]],
    ];
    for (const [dataType, rawData, dims, expected] of cases) {
      const bytes = modelBytes({ nodes: [nodeOf('Identity', ['w'], ['y'])], outputs: ['y'], initializers: [{ name: 'w', dims: dims.map(BigInt), dataType, rawData }] });
      const y = importOnnx(bytes).forward() as Tensor;
      expect(Array.from(y.toFloat64()), `type ${dataType}`).toEqual(expected);
    }
  });

  it('reads typed fields (float_data, int32_data for float16, int64_data) as well as raw_data', () => {
    const bytes = modelBytes({
      nodes: [nodeOf('Identity', ['a'], ['ya']), nodeOf('Identity', ['b'], ['yb'], 'i2'), nodeOf('Identity', ['c'], ['yc'], 'i3')], outputs: ['ya', 'yb', 'yc'],
      initializers: [
        { name: 'a', dims: [2n], dataType: FLOAT, floatData: [1.5, -2] },
        { name: 'b', dims: [2n], dataType: 10, int32Data: [0x3c00, 0xc000] },
        { name: 'c', dims: [1n, 2n], dataType: 7, int64Data: [5n, -9n] },
      ],
    });
    const [a, b, c] = importOnnx(bytes).forward() as Tensor[];
    expect(a!.toArray()).toEqual([1.5, -2]);
    expect([b!.dtype, ...b!.toFloat64()]).toEqual(['float16', 1, -2]);
    expect([c!.dtype, c!.shape]).toEqual(['int64', [1, 2]]);
  });

  it('rejects data whose length does not match the shape, naming the tensor and the sizes', () => {
    const bytes = modelBytes({ nodes: [nodeOf('Identity', ['w'], ['y'])], outputs: ['y'], initializers: [{ name: 'weights', dims: [5n], dataType: FLOAT, rawData: floatRaw([1, 2, 3]) }] });
    expect(() => importOnnx(bytes)).toThrow(/tensor 'weights': raw_data has 12 bytes, but FLOAT\[5\] needs 20/);
    const typed = modelBytes({ nodes: [nodeOf('Identity', ['w'], ['y'])], outputs: ['y'], initializers: [{ name: 'w', dims: [3n], dataType: FLOAT, floatData: [1] }] });
    expect(() => importOnnx(typed)).toThrow(/float_data has 1 values, but FLOAT\[3\] needs 3/);
    const big = modelBytes({ nodes: [nodeOf('Identity', ['w'], ['y'])], outputs: ['y'], initializers: [{ name: 'w', dims: [2n], dataType: 13, rawData: new Uint8Array(new BigUint64Array([1n, 2n ** 64n - 1n]).buffer) }] });
    expect(() => importOnnx(big)).toThrow(/does not fit in int64/);
    const str = modelBytes({ nodes: [nodeOf('Identity', ['w'], ['y'])], outputs: ['y'], initializers: [{ name: 'w', dims: [1n], dataType: 8, stringData: [Uint8Array.of(65)] }] });
    expect(() => importOnnx(str)).toThrow(/data type STRING is not supported/);
  });
});

describe('importOnnx: external data', () => {
  const externalModel = (location: string, offset: number, length: number | null): Uint8Array => modelBytes({
    nodes: [nodeOf('Add', ['x', 'w'], ['y'])], inputs: [{ name: 'x', dims: [3] }], outputs: ['y'],
    initializers: [{
      name: 'w', dims: [3n], dataType: FLOAT, dataLocation: TensorProto_DataLocation.EXTERNAL,
      externalData: [{ key: 'location', value: location }, { key: 'offset', value: String(offset) }, ...(length === null ? [] : [{ key: 'length', value: String(length) }])],
    }],
  });

  it('reads weights from a file beside the model, at an offset', () => {
    writeFileSync(join(tmp, 'weights.bin'), Buffer.concat([Buffer.alloc(16), Buffer.from(floatRaw([10, 20, 30]))]));
    writeFileSync(join(tmp, 'ext.onnx'), externalModel('weights.bin', 16, 12));
    const y = importOnnx(join(tmp, 'ext.onnx')).forward(Tensor.fromArray([1, 2, 3])) as Tensor;
    expect(y.toArray()).toEqual([11, 22, 33]);
    const noLength = importOnnx(externalModel('weights.bin', 16, null), { baseDir: tmp }).forward(Tensor.fromArray([0, 0, 0])) as Tensor;
    expect(noLength.toArray()).toEqual([10, 20, 30]);
  });

  it('says clearly when the file is missing, short, outside the folder, or the model came as bytes', () => {
    writeFileSync(join(tmp, 'short.bin'), Buffer.alloc(8));
    expect(() => importOnnx(externalModel('missing.bin', 0, 12), { baseDir: tmp })).toThrow(/tensor 'w': external data file 'missing.bin' does not exist/);
    expect(() => importOnnx(externalModel('short.bin', 0, 12), { baseDir: tmp })).toThrow(/'short.bin' is too short: the tensor needs bytes 0..12, the file has 8/);
    expect(() => importOnnx(externalModel('short.bin', 0, 8), { baseDir: tmp })).toThrow(/has length 8 bytes, but the tensor's type and shape need 12/);
    expect(() => importOnnx(externalModel('../etc/passwd', 0, 12), { baseDir: tmp })).toThrow(/points outside the model's folder/);
    expect(() => importOnnx(externalModel('weights.bin', 0, 12))).toThrow(/pass options.baseDir/);
  });
});

describe('importOnnx: dynamic input dims', () => {
  it('turns a symbolic batch dim into a dynamic input with the default range; the graph runs at other batch sizes', async () => {
    const gm = importOnnx(fixture('net_resnet_block_o13.onnx'));
    const spec = gm.inputSpecs[0]!;
    expect(spec.shape).toEqual([-1, 3, 32, 32]);
    expect(spec.dimNames).toEqual(['batch', null, null, null]);
    expect(spec.shapeRanges).toEqual({ min: [1, 3, 32, 32], opt: [DEFAULT_DIM_RANGE.opt, 3, 32, 32], max: [DEFAULT_DIM_RANGE.max, 3, 32, 32] });
    expect(gm.graph.placeholders[0]!.meta.tensorMeta).toEqual({ shape: [1, 3, 32, 32], dtype: 'float32' });
    const x = Tensor.rand([3, 3, 32, 32], { seed: 7, low: -1, high: 1 });
    const session = await ort.InferenceSession.create(fixture('net_resnet_block_o13.onnx'));
    const expected = (await session.run({ input: new ort.Tensor('float32', x.data as Float32Array, x.shape) }))['logits']!;
    await session.release();
    const y = gm.forward(x) as Tensor;
    expect(y.shape).toEqual([3, 5]);
    const ref = expected.data as Float32Array;
    const err = Math.max(...Array.from(y.toFloat32(), (v, i) => Math.abs(v - ref[i]!)));
    expect(err / Math.max(...Array.from(ref, Math.abs))).toBeLessThan(1e-4);
  });

  it('lets the user set ranges per symbolic dim or per input', () => {
    const byDim = importOnnx(fixture('net_resnet_block_o13.onnx'), { dims: { batch: { min: 2, opt: 8, max: 16 } } });
    expect(byDim.inputSpecs[0]!.shapeRanges?.opt).toEqual([8, 3, 32, 32]);
    expect(byDim.graph.placeholders[0]!.meta.tensorMeta).toEqual({ shape: [8, 3, 32, 32], dtype: 'float32' });
    const fixed = importOnnx(fixture('net_resnet_block_o13.onnx'), { inputShapes: { input: [4, 3, 32, 32] } });
    expect(fixed.inputSpecs[0]).toEqual({ name: 'input', shape: [4, 3, 32, 32], dtype: 'float32', dimNames: ['batch', null, null, null] });
    expect(() => importOnnx(fixture('net_resnet_block_o13.onnx'), { inputShapes: { input: [4, 3, 31, 32] } })).toThrow(/dim 2 must be 32/);
    expect(() => importOnnx(fixture('net_resnet_block_o13.onnx'), { dims: { batch: { min: 4, opt: 2, max: 8 } } })).toThrow(/min <= opt <= max/);
    expect(() => importOnnx(fixture('net_resnet_block_o13.onnx'), { inputShapes: { image: [1, 3, 32, 32] } })).toThrow(/'image', which is not an input/);
  });

  it('specializes the dims of an exported transformer whose reshapes are computed from its input shape', () => {
    const gm = importOnnx(fixture('net_tiny_bert_dynamic_o17.onnx'), { dims: { batch: { min: 1, opt: 2, max: 4 }, seq: { min: 1, opt: 8, max: 16 } } });
    expect(gm.inputSpecs.map((s) => s.dimNames)).toEqual([['batch', 'seq'], ['batch', 'seq']]);
    expect([...gm.onnx.specializedDims].sort()).toEqual(['batch', 'seq']);
    expect(gm.inputSpecs[0]!.shape).toEqual([2, 8]);
    const [hidden] = gm.forward(Tensor.randint(0, 20, [2, 8], { seed: 1 }), Tensor.ones([2, 8], 'int64')) as Tensor[];
    expect(hidden!.shape).toEqual([2, 8, 16]);
  });

  it('specializes a dim the shape computations depend on, and says so', () => {
    const bytes = modelBytes({
      nodes: [nodeOf('Shape', ['x'], ['s']), create(NodeProtoSchema, {
        opType: 'ConstantOfShape', input: ['s'], output: ['c'], name: 'zeros',
        attribute: [{ name: 'value', type: AttributeProto_AttributeType.TENSOR, t: { dims: [1n], dataType: FLOAT, floatData: [2] } }],
      }), nodeOf('Mul', ['x', 'c'], ['y'])],
      inputs: [{ name: 'x', dims: ['n', 4] }], outputs: ['y'],
    });
    const warnings: string[] = [];
    const gm = importOnnx(bytes, { dims: { n: { min: 1, opt: 3, max: 8 } }, onWarning: (w) => warnings.push(w.message) });
    expect(gm.onnx.specializedDims).toEqual(['n']);
    expect(gm.inputSpecs[0]!.shape).toEqual([3, 4]);
    expect(gm.inputSpecs[0]!.shapeRanges).toBeUndefined();
    expect(warnings.join('\n')).toMatch(/depend on dim 'n'; it was specialized to 3/);
  });
});

describe('importOnnx: unsupported ops and opsets', () => {
  const bytes = modelBytes({
    nodes: [nodeOf('Relu', ['x'], ['r']), nodeOf('NonZero', ['r'], ['y'], 'find_nonzero')],
    inputs: [{ name: 'x', dims: [2, 2] }], outputs: ['y'], opset: 17, valueInfo: [{ name: 'y', dims: [2, 3] }],
  });

  it('names the op type, the node and the opset', () => {
    expect(() => importOnnx(bytes)).toThrow(OnnxUnsupportedOpError);
    expect(() => importOnnx(bytes)).toThrow(/node 'find_nonzero' \(NonZero, opset 17\): op type NonZero is not supported/);
    const custom = modelBytes({ nodes: [nodeOf('Gelu', ['x'], ['y'], 'g', 'com.microsoft')], inputs: [{ name: 'x', dims: [2] }], outputs: ['y'] });
    expect(() => importOnnx(custom)).toThrow(/node 'g' \(com.microsoft.Gelu, opset 13\)/);
    const early = modelBytes({ nodes: [nodeOf('Gelu', ['x'], ['y'], 'g')], inputs: [{ name: 'x', dims: [2] }], outputs: ['y'], opset: 18 });
    expect(() => importOnnx(early)).toThrow(/op type Gelu is supported from opset 20, the model uses opset 18/);
    const old = modelBytes({ nodes: [nodeOf('Relu', ['x'], ['y'])], inputs: [{ name: 'x', dims: [2] }], outputs: ['y'], opset: 7 });
    expect(() => importOnnx(old)).toThrow(/opset 7; the importer supports opsets 9 to 21/);
  });

  it('keeps it as a fallback node with allowUnsupported, running a registered implementation', () => {
    const warnings: string[] = [];
    const gm = importOnnx(bytes, { allowUnsupported: true, onWarning: (w) => warnings.push(w.message) });
    const fallback = gm.graph.nodeList().find((n) => n.op === 'call_function' && n.target.name === 'onnx.NonZero')!;
    expect(fallback.meta.tensorMeta).toEqual({ shape: [2, 3], dtype: 'float32' });
    expect(warnings.join()).toMatch(/kept as a fallback node 'onnx.NonZero'/);
    expect(() => gm.forward(Tensor.fromArray([[1, 0], [0, 1]]))).toThrow(/has no reference implementation/);
    registerOnnxFallback('NonZero', ([x]) => [Tensor.fromArray([[0, 1], [0, 1]].map((r) => r.map((v) => v + x!.shape[0]!)))]);
    expect((gm.forward(Tensor.fromArray([[1, 0], [0, 1]])) as Tensor).toArray()).toEqual([[2, 3], [2, 3]]);
  });

  it('reports unknown attributes and bad attribute values with the node', () => {
    const bad = create(NodeProtoSchema, { opType: 'Relu', input: ['x'], output: ['y'], name: 'act', attribute: [{ name: 'slope', type: AttributeProto_AttributeType.FLOAT, f: 1 }] });
    expect(() => importOnnx(modelBytes({ nodes: [bad], inputs: [{ name: 'x', dims: [2] }], outputs: ['y'] }))).toThrow(/node 'act' \(Relu, opset 13\): .*unexpected argument 'slope'/);
    const pads = create(NodeProtoSchema, { opType: 'Conv', input: ['x', 'w'], output: ['y'], name: 'c', attribute: [{ name: 'pads', type: AttributeProto_AttributeType.INTS, ints: [1n] }] });
    const model = modelBytes({ nodes: [pads], inputs: [{ name: 'x', dims: [1, 1, 3, 3] }], outputs: ['y'], initializers: [{ name: 'w', dims: [1n, 1n, 1n, 1n], dataType: FLOAT, floatData: [1] }] });
    expect(() => importOnnx(model)).toThrow(/node 'c' \(Conv, opset 13\): attribute 'pads' needs 4 values/);
  });
});

describe('importOnnx: per-axis QuantizeLinear / DequantizeLinear', () => {
  const INT8 = 3;
  const axis1 = [{ name: 'axis', type: AttributeProto_AttributeType.INT, i: 1n }];
  const scales = [0.1, 0.2, 0.05];
  const zeroPoints = [0, 1, -2];
  /** x → QuantizeLinear(scales, axis 1) → DequantizeLinear(dqScales, axis 1), zero points int8. */
  function qdqModel(dqScales: number[], opset = 13, dqAttrs: { name: string; type: AttributeProto_AttributeType; i: bigint }[] = axis1): Uint8Array {
    return modelBytes({
      nodes: [
        create(NodeProtoSchema, { opType: 'QuantizeLinear', input: ['x', 's', 'zp'], output: ['q'], name: 'q', attribute: axis1 }),
        create(NodeProtoSchema, { opType: 'DequantizeLinear', input: ['q', 's_dq', 'zp'], output: ['y'], name: 'dq', attribute: dqAttrs }),
      ],
      inputs: [{ name: 'x', dims: [1, 3, 2, 2] }], outputs: ['y'], opset,
      initializers: [
        { name: 's', dims: [3n], dataType: FLOAT, floatData: scales },
        { name: 's_dq', dims: [BigInt(dqScales.length)], dataType: FLOAT, floatData: dqScales },
        { name: 'zp', dims: [3n], dataType: INT8, rawData: new Uint8Array(Int8Array.from(zeroPoints).buffer) },
      ],
    });
  }
  const calls = (gm: GraphModule): string[] => gm.graph.nodeList().flatMap((n) => (n.op === 'call_function' ? [n.target.name] : []));
  const x = Tensor.rand([1, 3, 2, 2], { seed: 9, low: -30, high: 30 });
  const codes = quantizePerChannel(x, Tensor.fromArray(scales), Tensor.fromStorage(BigInt64Array.from(zeroPoints, BigInt), [3], 'int64'), 1, 'int8');

  it('Q → DQ with the same scales is quantize_per_channel → dequantize (the engine fuses it), the Q carrying its qparams', () => {
    const gm = importOnnx(qdqModel(scales));
    expect(calls(gm)).toEqual(['acc.quantize_per_channel', 'acc.dequantize']);
    const q = gm.graph.nodeList().find((n) => n.name === 'q')!;
    expect(q.meta.tensorMeta).toMatchObject({ dtype: 'int8', qparams: { axis: 1, scale: Float32Array.from(scales), zeroPoint: Int32Array.from(zeroPoints) } });
    expect((gm.forward(x) as Tensor).toArray()).toEqual(dequantize(codes).toArray());
  });

  it('a DQ with other scales than its Q dequantizes by its own: (q - zp) * s per channel', () => {
    const other = [0.1, 0.25, 0.05];
    const gm = importOnnx(qdqModel(other));
    expect(calls(gm)).toContain('acc.mul');
    expect(calls(gm)).not.toContain('acc.dequantize');
    const q = codes.toFloat64();
    const want = Array.from(q, (v, i) => Math.fround(Math.fround(v - zeroPoints[Math.floor(i / 4)]!) * Math.fround(other[Math.floor(i / 4)]!)));
    expect(Array.from((gm.forward(x) as Tensor).toFloat32())).toEqual(want);
  });

  it('rejects blocked quantization (opset 21 block_size) and per-axis scales before opset 13, naming the node', () => {
    const blocked = qdqModel(scales, 21, [...axis1, { name: 'block_size', type: AttributeProto_AttributeType.INT, i: 2n }]);
    expect(() => importOnnx(blocked)).toThrow(/node 'dq' \(DequantizeLinear, opset 21\): blocked quantization \(block_size 2\) is not supported: expected block_size 0/);
    const old = modelBytes({
      nodes: [create(NodeProtoSchema, { opType: 'QuantizeLinear', input: ['x', 's'], output: ['y'], name: 'q10' })],
      inputs: [{ name: 'x', dims: [1, 3, 2, 2] }], outputs: ['y'], opset: 10,
      initializers: [{ name: 's', dims: [3n], dataType: FLOAT, floatData: scales }],
    });
    expect(() => importOnnx(old)).toThrow(/node 'q10' \(QuantizeLinear, opset 10\): y_scale has 3 values, but opset 10 takes one scale/);
  });
});

describe('importOnnx: Q → Cast(uint8) → DQ (seed 003)', () => {
  it('imports the chain as written when the repair is off, matching ONNX Runtime on it', async () => {
    const path = fixture('net_qdq_cnn_uint8cast_o13.onnx');
    const x = Tensor.rand([1, 3, 8, 8], { seed: 3, low: -3, high: 3 });
    const session = await ort.InferenceSession.create(path);
    const asWritten = (await session.run({ input: new ort.Tensor('float32', x.data as Float32Array, x.shape) }))['logits']!.data as Float32Array;
    await session.release();
    const raw = importOnnx(path, { repairQdqCasts: false }).forward(x) as Tensor;
    const repaired = importOnnx(path).forward(x) as Tensor;
    const maxDiff = (a: Float32Array, b: ArrayLike<number>): number => Math.max(...Array.from(a, (v, i) => Math.abs(v - b[i]!)));
    expect(maxDiff(raw.toFloat32(), asWritten)).toBeLessThan(1e-4 * Math.max(...Array.from(asWritten, Math.abs)));
    expect(maxDiff(repaired.toFloat32(), asWritten)).toBeGreaterThan(1e-2);
  });
});

describe('importOnnx: malformed files', () => {
  it('rejects empty, non-ONNX and graph-less inputs with an OnnxError', () => {
    expect(() => importOnnx(new Uint8Array(0))).toThrow(/the model file is empty/);
    expect(() => importOnnx(new TextEncoder().encode('not a model at all'))).toThrow(OnnxError);
    expect(() => importOnnx(toBinary(ModelProtoSchema, create(ModelProtoSchema, { irVersion: 8n })))).toThrow(/has no graph/);
    expect(() => importOnnx(join(tmp, 'nope.onnx'))).toThrow(/cannot read model file/);
  });

  it('rejects graphs that use a value before it is produced', () => {
    const bytes = modelBytes({ nodes: [nodeOf('Relu', ['t'], ['y']), nodeOf('Relu', ['x'], ['t'], 'r2')], inputs: [{ name: 'x', dims: [2] }], outputs: ['y'] });
    expect(() => importOnnx(bytes)).toThrow(/input 't' is not produced by any earlier node.*topologically sorted/);
  });

  it('reads a truncated committed model as an OnnxError, not a crash', () => {
    const bytes = readFileSync(fixture('net_resnet_block_o13.onnx'));
    expect(() => importOnnx(bytes.subarray(0, bytes.length - 100))).toThrow(OnnxError);
  });
});
