// ONNX GatherND beyond the ORT comparison (test/onnx_ort.test.ts): the acc ops it becomes for constant
// and runtime indices, values on hand-checked cases, out-of-range indices and malformed shapes.
import { create, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import type { GraphModule } from '../src/ir/graph_module.js';
import { importOnnx } from '../src/onnx/index.js';
import { AttributeProto_AttributeType, ModelProtoSchema, NodeProtoSchema } from '../src/onnx/proto/onnx_model_pb.js';
import { Tensor } from '../src/tensor/tensor.js';

const FLOAT = 1;
const INT32 = 6;
const INT64 = 7;

type GraphInit = NonNullable<MessageInitShape<typeof ModelProtoSchema>['graph']>;
type ValueInfoInit = NonNullable<GraphInit['input']>[number];

interface Spec {
  /** data [shape]: a graph input (float32). */
  dataShape: number[];
  /** Constant indices (an int64 initializer), or the shape of a runtime int64 input 'i'. */
  indices: { values: number[][] | number[][][]; shape?: never } | { shape: number[]; values?: never };
  batchDims?: number;
  opset?: number;
  /** Element type of runtime indices (default int64). */
  indexType?: number;
}

function valueInfo(name: string, elemType: number, dims: number[] | null): ValueInfoInit {
  const shape = dims === null ? {} : { shape: { dim: dims.map((d) => ({ value: { case: 'dimValue' as const, value: BigInt(d) } })) } };
  return { name, type: { value: { case: 'tensorType', value: { elemType, ...shape } } } };
}

/** One GatherND node: y = GatherND(x, i). */
function gatherNd(spec: Spec): Uint8Array {
  const inputs = [valueInfo('x', FLOAT, spec.dataShape)];
  const initializer: { name: string; dims: bigint[]; dataType: number; int64Data: bigint[] }[] = [];
  if (spec.indices.values !== undefined) {
    const rows = spec.indices.values;
    const dims = Array.isArray(rows[0]![0]) ? [rows.length, rows[0]!.length, (rows[0]![0] as number[]).length] : [rows.length, rows[0]!.length];
    initializer.push({ name: 'i', dims: dims.map(BigInt), dataType: INT64, int64Data: rows.flat(2).map(BigInt) });
  } else {
    inputs.push(valueInfo('i', spec.indexType ?? INT64, spec.indices.shape));
  }
  const attribute = spec.batchDims === undefined ? [] : [{ name: 'batch_dims', type: AttributeProto_AttributeType.INT, i: BigInt(spec.batchDims) }];
  const node = create(NodeProtoSchema, { opType: 'GatherND', input: ['x', 'i'], output: ['y'], name: 'gnd', attribute });
  return toBinary(ModelProtoSchema, create(ModelProtoSchema, {
    irVersion: 7n,
    opsetImport: [{ domain: '', version: BigInt(spec.opset ?? 13) }],
    graph: { name: 'gather_nd', node: [node], input: inputs, output: [valueInfo('y', FLOAT, null)], initializer },
  }));
}

function accOps(gm: GraphModule): string[] {
  return gm.graph.nodeList().flatMap((n) => (n.op === 'call_function' ? [n.target.name] : []));
}

/** 0, 1, 2, ... in the given shape. */
const iota = (shape: number[]): Tensor => Tensor.fromNumbers(Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => i), shape);
const int64 = (values: number[], shape: number[]): Tensor => Tensor.fromNumbers(values, shape, 'int64');

describe('ONNX GatherND', () => {
  it('flattens constant indices at import into one index_select', () => {
    const gm = importOnnx(gatherNd({ dataShape: [2, 3, 4], indices: { values: [[0, 1, 2], [1, -1, -4], [1, 2, 3]] }, opset: 11 }));
    expect(accOps(gm)).toEqual(['acc.reshape', 'acc.index_select']);
    const y = gm.forward(iota([2, 3, 4])) as Tensor;
    expect(y.shape).toEqual([3]);
    // [0,1,2] → 6; [1,-1,-4] = [1,2,0] → 20; [1,2,3] → 23
    expect(Array.from(y.toFloat64())).toEqual([6, 20, 23]);
  });

  it('keeps the trailing dims of a partial index tuple, and offsets rows by the batch position', () => {
    const slices = importOnnx(gatherNd({ dataShape: [2, 3, 4], indices: { values: [[[0, 1]], [[1, -2]]] } }));
    const s = slices.forward(iota([2, 3, 4])) as Tensor;
    expect(s.shape).toEqual([2, 1, 4]);
    expect(Array.from(s.toFloat64())).toEqual([4, 5, 6, 7, 16, 17, 18, 19]);

    const batched = importOnnx(gatherNd({ dataShape: [2, 3, 4], indices: { values: [[[1], [-1]], [[0], [2]]] }, batchDims: 1, opset: 12 }));
    const b = batched.forward(iota([2, 3, 4])) as Tensor;
    expect(b.shape).toEqual([2, 2, 4]);
    // batch 0 rows 1 and 2, batch 1 rows 0 and 2
    expect(Array.from(b.toFloat64())).toEqual([4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 20, 21, 22, 23]);
  });

  it('flattens runtime indices in the graph, wrapping negatives, with and without batch dims', () => {
    const gm = importOnnx(gatherNd({ dataShape: [3, 4, 2], indices: { shape: [2, 2] } }));
    expect(accOps(gm)).toEqual(expect.arrayContaining(['acc.where', 'acc.lt', 'acc.add', 'acc.mul', 'acc.sum', 'acc.index_select']));
    const y = gm.forward(iota([3, 4, 2]), int64([2, -1, -3, 0], [2, 2])) as Tensor;
    expect(y.shape).toEqual([2, 2]);
    // [2,3] → row 11 → [22, 23]; [0,0] → row 0 → [0, 1]
    expect(Array.from(y.toFloat64())).toEqual([22, 23, 0, 1]);

    const batched = importOnnx(gatherNd({ dataShape: [2, 3, 4], indices: { shape: [2, 3, 1] }, batchDims: 2 }));
    const b = batched.forward(iota([2, 3, 4]), int64([0, -1, 2, 3, -4, 1], [2, 3, 1])) as Tensor;
    expect(b.shape).toEqual([2, 3]);
    expect(Array.from(b.toFloat64())).toEqual([0, 7, 10, 15, 16, 21]);
  });

  it('reports an out-of-range runtime index instead of reading a neighbouring cell', () => {
    const gm = importOnnx(gatherNd({ dataShape: [3, 4], indices: { shape: [1, 2] } }));
    // unchecked, [0, 5] would read row [1, 1] and [1, -5] (-5 wrapped to -1) row [0, 3]
    expect(() => gm.forward(iota([3, 4]), int64([0, 5], [1, 2]))).toThrow(/index_select/);
    expect(() => gm.forward(iota([3, 4]), int64([1, -5], [1, 2]))).toThrow(/index_select/);
    expect(Array.from((gm.forward(iota([3, 4]), int64([-3, -4], [1, 2])) as Tensor).toFloat64())).toEqual([0]);
  });

  it('rejects bad indices and shapes, naming the node and what was expected', () => {
    expect(() => importOnnx(gatherNd({ dataShape: [3, 4], indices: { values: [[0, 4]] } })))
      .toThrow(/node 'gnd'.*index 4 \(entry 1 of tuple 0\) is out of range for a dim of size 4 \(expected -4..3\)/);
    expect(() => importOnnx(gatherNd({ dataShape: [3, 4], indices: { values: [[0, 1, 2]] } })))
      .toThrow(/index tuple length\) must be in 1..2 for data of rank 2 with batch_dims 0, got 3/);
    expect(() => importOnnx(gatherNd({ dataShape: [2, 4], indices: { shape: [3, 1] }, batchDims: 1 })))
      .toThrow(/batch\) dims of 'data' \[2, 4\] and 'indices' \[3, 1\] must be equal/);
    expect(() => importOnnx(gatherNd({ dataShape: [2, 4], indices: { shape: [2, 1] }, batchDims: 2 })))
      .toThrow(/'batch_dims' must be in 0..1 .* got 2/);
    expect(() => importOnnx(gatherNd({ dataShape: [2, 4], indices: { shape: [2, 1] }, indexType: INT32 })))
      .toThrow(/input 'indices' must be an int64 tensor, got int32/);
    expect(() => importOnnx(gatherNd({ dataShape: [2, 4], indices: { shape: [2, 1] }, opset: 10 })))
      .toThrow(/GatherND is supported from opset 11, the model uses opset 10/);
  });
});
