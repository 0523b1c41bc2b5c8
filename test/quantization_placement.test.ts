import { describe, expect, it } from 'vitest';
import { accTrace } from '../src/acc_ops/acc_tracer.js';
import '../src/acc_ops/ops/index.js';
import { getAccOp } from '../src/acc_ops/registry.js';
import { Graph } from '../src/ir/graph.js';
import { GraphModule } from '../src/ir/graph_module.js';
import type { AnyNode, Argument } from '../src/ir/node.js';
import { symbolicTrace } from '../src/ir/tracer.js';
import { resnet18Cifar } from '../src/models/resnet.js';
import { F } from '../src/nn/functional.js';
import { Module, nn } from '../src/nn/index.js';
import { defaultPasses } from '../src/passes/index.js';
import { accOpName, PassManager } from '../src/passes/pass_manager.js';
import { ShapeProp } from '../src/passes/shape_prop.js';
import { insertQdq, insertQdqPass } from '../src/quantization/insert_qdq.js';
import { activationTensors, planLayers } from '../src/quantization/placement.js';
import { cosineSimilarity } from '../src/tensor/compare.js';
import { Tensor } from '../src/tensor/tensor.js';

/** conv → relu → conv → add(·, relu) → relu: the smallest residual block. */
class Block extends Module {
  conv1 = new nn.Conv2d(3, 4, 3, { padding: 1 });
  relu = new nn.ReLU();
  conv2 = new nn.Conv2d(4, 4, 3, { padding: 1 });
  override forward(x: Tensor): Tensor {
    const a = this.relu.forward(this.conv1.forward(x));
    return this.relu.forward(F.add(this.conv2.forward(a), a));
  }
}

function optimized(model: Module, x: Tensor): GraphModule {
  return new PassManager(defaultPasses()).run(accTrace(symbolicTrace(model.eval()), [x])).gm;
}

/** Every amax = 4 (placement does not depend on the values). */
function fourFor(names: readonly string[]): Map<string, number> {
  return new Map(names.map((n) => [n, 4]));
}

const byOp = (gm: GraphModule, op: string): AnyNode[] => gm.graph.nodeList().filter((n) => accOpName(n) === op);
const source = (n: AnyNode, slot: string): string => {
  const v = n.kwargs[slot];
  return v !== null && typeof v === 'object' && 'name' in v ? String(v.name) : String(v);
};
/** The float value a dequantize reads back: dequantize ← quantize ← value. */
const dequantized = (gm: GraphModule, n: AnyNode, slot: string): string | undefined => {
  const dq = gm.graph.nodeList().find((m) => m.name === source(n, slot));
  if (!dq || accOpName(dq) !== 'dequantize') return undefined;
  const q = gm.graph.nodeList().find((m) => m.name === source(dq, 'input'))!;
  return source(q, 'input');
};

describe('Q/DQ placement on conv → relu → conv → add', () => {
  const x = Tensor.randn([1, 3, 6, 6], { seed: 1 });

  it('quantizes conv inputs and weights and the residual input of the add, not the conv output it fuses', () => {
    const gm = optimized(new Block(), x);
    const input = gm.graph.placeholders[0]!.name;
    const layers = planLayers(gm);
    expect(layers).toEqual([
      { node: 'conv2d', op: 'conv2d', inputs: [
        { slot: 'input', tensor: input, kind: 'activation', axis: null }, { slot: 'weight', tensor: 'conv1_weight', kind: 'weight', axis: 0 },
      ] },
      { node: 'conv2d_1', op: 'conv2d', inputs: [
        { slot: 'input', tensor: 'relu', kind: 'activation', axis: null }, { slot: 'weight', tensor: 'conv2_weight', kind: 'weight', axis: 0 },
      ] },
      { node: 'add', op: 'add', inputs: [{ slot: 'other', tensor: 'relu', kind: 'activation', axis: null }] },
    ]);
    expect(activationTensors(layers)).toEqual([input, 'relu']);
  });

  it('inserts one Q/DQ pair per activation (shared by its quantized readers) and per-channel weight pairs', () => {
    const gm = optimized(new Block(), x);
    const reference = gm.forward(x.clone());
    const input = gm.graph.placeholders[0]!.name;
    const { modified } = new PassManager([insertQdqPass(planLayers(gm), new Map([[input, 3], ['relu', 2]]))]).run(gm);
    expect(modified).toBe(true);
    const q = byOp(gm, 'quantize_per_tensor');
    expect(q.map((n) => `${n.name}(${source(n, 'input')}, ${n.kwargs['scale']}, ${n.kwargs['zero_point']}, ${n.kwargs['dtype']})`))
      .toEqual([`${input}_quant(${input}, ${3 / 127}, 0, int8)`, `relu_quant(relu, ${2 / 127}, 0, int8)`]);
    expect(byOp(gm, 'quantize_per_channel').map((n) => `${source(n, 'input')} axis ${n.kwargs['axis']}`)).toEqual(['conv1_weight axis 0', 'conv2_weight axis 0']);
    const [conv1, conv2] = byOp(gm, 'conv2d');
    const add = byOp(gm, 'add')[0]!;
    expect(dequantized(gm, conv1!, 'input')).toBe(input);
    expect(dequantized(gm, conv1!, 'weight')).toBe('conv1_weight');
    expect(dequantized(gm, conv2!, 'input')).toBe('relu');
    expect(source(add, 'other')).toBe(source(conv2!, 'input')); // the same relu_dequant
    expect(source(add, 'input')).toBe('conv2d_1'); // conv → add stays float, so the add fuses into the conv
    expect(byOp(gm, 'relu')[1]!.kwargs['input']).toBe(add); // the output is never quantized here
    const scales = gm.getAttr('conv1_weight_scale');
    expect(scales).toBeInstanceOf(Tensor);
    const w = (gm.getAttr('conv1.weight') as Tensor).toFloat32();
    const perChannel = w.length / 4;
    const expected = [0, 1, 2, 3].map((c) => Math.fround(Math.max(...[...w.subarray(c * perChannel, (c + 1) * perChannel)].map(Math.abs)) / 127));
    expect([...(scales as Tensor).toFloat32()]).toEqual(expected);
    // Simulated int8 stays close to float.
    expect(cosineSimilarity(gm.forward(x.clone()) as Tensor, reference as Tensor)).toBeGreaterThan(0.999);
  });

  it('names the tensor whose threshold is missing and rejects a plan made for another graph', () => {
    const gm = optimized(new Block(), x);
    const layers = planLayers(gm);
    expect(() => insertQdq(gm, layers, new Map([['relu', 1]]))).toThrow(/no calibrated amax for tensor 'x\w*' \(input 'input' of layer 'conv2d'\)/);
    const other = optimized(new Block(), x);
    const stale = [{ node: 'conv2d_1', op: 'conv2d', inputs: [{ slot: 'input', tensor: 'conv2d', kind: 'activation' as const, axis: null }] }];
    expect(() => insertQdq(other, stale, fourFor(['conv2d']))).toThrow("input 'input' of layer 'conv2d_1' is not 'conv2d' (the plan is for another graph)");
  });
});

describe('Q/DQ placement on ResNet-18 (CIFAR stem)', () => {
  const x = Tensor.randn([1, 3, 8, 8], { seed: 2 });
  const gm = optimized(resnet18Cifar(), x);
  const input = gm.graph.placeholders[0]!.name;
  const layers = planLayers(gm);

  it('finds 20 convs, the fc, 8 residual adds and the average pool; quantizes block inputs, downsample outputs, the pool input and the pooled features', () => {
    // In order of first quantized use: a downsample conv's output is first read by the add after the main branch.
    expect(layers.filter((l) => l.op === 'conv2d')).toHaveLength(20);
    expect(layers.filter((l) => l.op === 'linear')).toHaveLength(1);
    expect(layers.filter((l) => l.op === 'add')).toHaveLength(8);
    // The pooled features feed the fc (through flatten): the pool runs in int8, its input quantized.
    expect(layers.filter((l) => l.op === 'adaptive_avg_pool2d').map((l) => l.inputs.map((i) => `${i.slot}=${i.tensor}`).join())).toEqual(['input=relu_16']);
    expect(layers.every((l) => l.unsupported === undefined)).toBe(true);
    expect(activationTensors(layers)).toEqual([
      input, 'relu', 'relu_1', 'relu_2', 'relu_3', 'relu_4', 'relu_5', 'conv2d_5', 'relu_6', 'relu_7', 'relu_8', 'relu_9',
      'conv2d_10', 'relu_10', 'relu_11', 'relu_12', 'relu_13', 'conv2d_15', 'relu_14', 'relu_15', 'relu_16', 'flatten',
    ]);
    // The residual input of each add: the block input, or the downsample conv's output.
    expect(layers.filter((l) => l.op === 'add').map((l) => l.inputs.map((i) => `${i.slot}=${i.tensor}`).join())).toEqual([
      'other=relu', 'other=relu_2', 'other=conv2d_5', 'other=relu_6', 'other=conv2d_10', 'other=relu_10', 'other=conv2d_15', 'other=relu_14',
    ]);
  });

  it('after insertion every conv and the fc read dequantized inputs and weights, and every add reads its conv directly', () => {
    const q = optimized(resnet18Cifar(), x);
    insertQdq(q, planLayers(q), fourFor(activationTensors(planLayers(q))));
    q.lint();
    expect(byOp(q, 'quantize_per_tensor')).toHaveLength(22);
    expect(byOp(q, 'quantize_per_channel')).toHaveLength(21);
    expect(byOp(q, 'dequantize')).toHaveLength(43);
    expect(dequantized(q, byOp(q, 'adaptive_avg_pool2d')[0]!, 'input')).toBe('relu_16');
    for (const layer of [...byOp(q, 'conv2d'), ...byOp(q, 'linear')]) {
      expect(dequantized(q, layer, 'input'), layer.name).toBeDefined();
      expect(dequantized(q, layer, 'weight'), layer.name).toBeDefined();
    }
    for (const add of byOp(q, 'add')) {
      expect(accOpName(q.graph.nodeList().find((n) => n.name === source(add, 'input'))!), add.name).toBe('conv2d');
      expect(dequantized(q, add, 'other'), add.name).toBeDefined();
    }
  });
});

describe('Q/DQ placement rules by op', () => {
  const call = (g: Graph, op: string, kwargs: Record<string, Argument>): AnyNode => g.callFunction(getAccOp(op), [], kwargs);

  function graphOf(build: (g: Graph) => AnyNode, attrs: Record<string, Tensor>, inputs: Tensor[]): GraphModule {
    const g = new Graph();
    g.output(build(g));
    const gm = new GraphModule(attrs, g);
    new ShapeProp(gm).propagate(...inputs);
    return gm;
  }

  it('matmul: activation operands per tensor, a constant operand per output channel (columns of other, rows of input)', () => {
    const w = Tensor.randn([4, 5], { seed: 3 });
    const gm = graphOf((g) => {
      const x = g.placeholder('x');
      const y = g.placeholder('y');
      const a = call(g, 'matmul', { input: x, other: g.getAttr('w') });
      const b = call(g, 'transposed_matmul', { input: g.getAttr('w2'), other: y, transpose_input: true, transpose_other: false });
      const c = call(g, 'matmul', { input: a, other: b });
      return call(g, 'matmul', { input: c, other: g.getAttr('v') });
    }, { w, w2: Tensor.randn([4, 5], { seed: 5 }), v: Tensor.randn([2], { seed: 4 }) }, [Tensor.randn([3, 4]), Tensor.randn([4, 2])]);
    expect(planLayers(gm).map((l) => l.inputs.map((i) => `${i.slot}:${i.tensor}:${i.kind}:${i.axis}`).join(' '))).toEqual([
      'input:x:activation:null other:w:weight:1',
      'input:w2:weight:1 other:y:activation:null', // w2 read transposed: the product's rows are its dim 1
      'input:matmul:activation:null other:transposed_matmul:activation:null',
      'input:matmul_1:activation:null other:v:weight:null', // a 1-d weight gets one scale
    ]);
    insertQdq(gm, planLayers(gm), fourFor(['x', 'y', 'matmul', 'transposed_matmul', 'matmul_1']));
    gm.lint();
    expect(byOp(gm, 'quantize_per_channel').map((n) => `${source(n, 'input')}:${n.kwargs['axis']}`)).toEqual(['w:1', 'w2:1']);
    expect(byOp(gm, 'quantize_per_tensor').map((n) => source(n, 'input'))).toEqual(['x', 'y', 'matmul', 'transposed_matmul', 'matmul_1', 'v']);
  });

  it('adds: both inputs when neither comes from a fusable layer; none of x + x, broadcasts or constants', () => {
    const gm = graphOf((g) => {
      const x = g.placeholder('x');
      const y = g.placeholder('y');
      const s = call(g, 'add', { input: call(g, 'relu', { input: x }), other: call(g, 'sigmoid', { input: y }) });
      const twice = call(g, 'add', { input: s, other: s });
      const bias = call(g, 'add', { input: twice, other: g.getAttr('b') });
      return call(g, 'add', { input: bias, other: g.placeholder('z') }); // [2, 3] + [3]
    }, { b: Tensor.randn([2, 3]) }, [Tensor.randn([2, 3]), Tensor.randn([2, 3]), Tensor.randn([3])]);
    expect(planLayers(gm)).toEqual([{ node: 'add', op: 'add', inputs: [
      { slot: 'input', tensor: 'relu', kind: 'activation', axis: null }, { slot: 'other', tensor: 'sigmoid', kind: 'activation', axis: null },
    ] }]);
  });

  it('average pooling: its input when its result reaches a weighted layer through shape ops, not when it stays float', () => {
    const gm = graphOf((g) => {
      const x = g.placeholder('x');
      const pooled = call(g, 'adaptive_avg_pool2d', { input: call(g, 'relu', { input: x }), output_size: [1, 1] });
      const fc = call(g, 'linear', { input: call(g, 'flatten', { input: pooled, start_dim: 1, end_dim: -1 }), weight: g.getAttr('w') });
      // A pool whose result is a float output, and one read by a weighted layer and another op.
      const out = call(g, 'avg_pool2d', { input: x, kernel_size: [2, 2], stride: [2, 2], padding: [0, 0] });
      const shared = call(g, 'adaptive_avg_pool2d', { input: x, output_size: [1, 1] });
      const both = call(g, 'add', { input: call(g, 'linear', { input: call(g, 'flatten', { input: shared, start_dim: 1, end_dim: -1 }), weight: g.getAttr('w') }),
        other: call(g, 'flatten', { input: shared, start_dim: 1, end_dim: -1 }) });
      return call(g, 'add', { input: call(g, 'add', { input: fc, other: both }), other: call(g, 'flatten', { input: out, start_dim: 1, end_dim: -1 }) });
    }, { w: Tensor.randn([4, 4]) }, [Tensor.randn([1, 4, 2, 2])]);
    const pools = planLayers(gm).filter((l) => l.op.includes('pool'));
    expect(pools).toEqual([{ node: 'adaptive_avg_pool2d', op: 'adaptive_avg_pool2d', inputs: [{ slot: 'input', tensor: 'relu', kind: 'activation', axis: null }] }]);
  });

  it('names the weight and layer of a weight that cannot be scaled', () => {
    const gm = graphOf((g) => call(g, 'linear', { input: g.placeholder('x'), weight: g.getAttr('w') }),
      { w: Tensor.fromArray([[1, 2], [NaN, 0]]) }, [Tensor.randn([1, 2])]);
    expect(() => insertQdq(gm, planLayers(gm), fourFor(['x']))).toThrow(
      "insertQdq: weight 'w' of layer 'linear': quantization: weight element 2 is NaN (weights must be finite)");
  });

  it('layers without an int8 form say why', () => {
    const gm = graphOf((g) => {
      const x = g.placeholder('x');
      const e = call(g, 'einsum', { equation: 'ij,jk->ik', operands: [x, g.getAttr('w')] });
      return call(g, 'matmul', { input: call(g, 'to_dtype', { input: e, dtype: 'int32' }), other: g.getAttr('k') });
    }, { w: Tensor.randn([3, 3]), k: Tensor.fromArray([[1, 2], [3, 4], [5, 6]], 'int32') }, [Tensor.randn([2, 3])]);
    expect(planLayers(gm)).toEqual([
      { node: 'einsum', op: 'einsum', inputs: [], unsupported: 'no int8 implementation' },
      { node: 'matmul', op: 'matmul', inputs: [], unsupported: "input 'to_dtype' is int32, not floating point" },
    ]);
  });
});
