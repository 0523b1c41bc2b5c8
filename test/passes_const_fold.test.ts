import { describe, expect, it } from 'vitest';
import '../src/acc_ops/ops/index.js';
import { getAccOp } from '../src/acc_ops/registry.js';
import { registerFunction } from '../src/ir/function.js';
import { Graph } from '../src/ir/graph.js';
import { GraphModule } from '../src/ir/graph_module.js';
import type { AnyNode, Argument } from '../src/ir/node.js';
import { sig } from '../src/ir/signature.js';
import { Module } from '../src/nn/module.js';
import { accTrace } from '../src/acc_ops/acc_tracer.js';
import { symbolicTrace } from '../src/ir/tracer.js';
import '../src/nn/tensor_methods.js';
import { constFold, foldStaticSizes } from '../src/passes/const_fold.js';
import { ShapeProp } from '../src/passes/shape_prop.js';
import { Tensor } from '../src/tensor/tensor.js';

const call = (g: Graph, op: string, kwargs: Record<string, Argument>, name?: string): AnyNode =>
  g.callFunction(getAccOp(op), [], kwargs, name);
const names = (gm: GraphModule): string => gm.graph.nodeList().map((n) => n.name).join(' ');

function values(out: unknown): unknown {
  if (out instanceof Tensor) return { shape: out.shape, dtype: out.dtype, data: [...out.toFloat64()] };
  return Array.isArray(out) ? out.map(values) : out;
}

let impureCalls = 0;
const noisy = registerFunction({
  name: 'test.passes_const_fold_noisy',
  signature: sig('input'),
  impure: true,
  invoke(args) { impureCalls++; return args[0]; },
});
/** A pure function returning a tuple of tensors (not expressible as one constant). */
const pair = registerFunction({
  name: 'test.passes_const_fold_pair',
  signature: sig('input'),
  invoke(args) { return [args[0], args[0]]; },
});

class Doubler extends Module {
  calls = 0;
  override forward(...args: unknown[]): unknown {
    this.calls++;
    const t = args[0] as Tensor;
    return Tensor.fromNumbers(t.toFloat64().map((v) => 2 * v), t.shape);
  }
}

describe('constFold', () => {
  it('folds a chain of weight transforms into one constant and deletes the unused weight', () => {
    const g = new Graph();
    const x = g.placeholder('x');
    const w = g.getAttr('w');
    const wt = call(g, 'permute', { input: w, permutation: [1, 0] }, 'wt');
    const scaled = call(g, 'mul', { input: wt, other: 2 }, 'scaled');
    g.output(call(g, 'matmul', { input: x, other: scaled }, 'y'));
    const wData = Tensor.randn([3, 4], { seed: 1 });
    const gm = new GraphModule({ w: wData }, g);
    const x0 = Tensor.randn([2, 4], { seed: 2 });
    const before = values(gm.forward(x0));
    const r = constFold(gm);
    expect(r.modified).toBe(true);
    gm.lint();
    expect(gm.graph.toString()).toBe([
      'graph(x):',
      '    %x : [num_users=1] = placeholder[target=x]',
      '    %_folded_scaled : [num_users=1] = get_attr[target=_folded_scaled]',
      '    %y : [num_users=1] = call_function[target=acc.matmul](args = (), kwargs = {input: %x, other: %_folded_scaled})',
      '    return %y',
    ].join('\n'));
    expect(gm.getAttr('w')).toBeUndefined();
    expect((gm.getAttr('_folded_scaled') as Tensor).shape).toEqual([4, 3]);
    expect(values(gm.forward(x0))).toEqual(before);
    expect(constFold(gm).modified).toBe(false);
  });

  it("folds what feeds a weight's quantize but keeps the quantize → dequantize pair", () => {
    const g = new Graph();
    const x = g.placeholder('x');
    const w = call(g, 'mul', { input: g.getAttr('w'), other: 0.5 }, 'w_half');
    const q = call(g, 'quantize_per_tensor', { input: w, scale: 0.05, zero_point: 0, dtype: 'int8' }, 'q');
    const dq = call(g, 'dequantize', { input: q }, 'dq');
    g.output(call(g, 'linear', { input: x, weight: dq }, 'y'));
    const gm = new GraphModule({ w: Tensor.randn([2, 3], { seed: 3 }) }, g);
    const x0 = Tensor.randn([1, 3], { seed: 4 });
    const before = values(gm.forward(x0));
    expect(constFold(gm).modified).toBe(true);
    gm.lint();
    expect(names(gm)).toBe('x _folded_w_half q dq y output_1');
    expect(values(gm.forward(x0))).toEqual(before);
  });

  it('never folds placeholder-dependent nodes, impure calls or module calls', () => {
    const g = new Graph();
    const x = g.placeholder('x');
    const w = g.getAttr('w');
    const viaModule = g.callModule('double', [w]);
    const viaImpure = g.callFunction(noisy, [w]);
    const dependent = call(g, 'matmul', { input: x, other: w }, 'dependent');
    g.output([viaModule, viaImpure, dependent]);
    const doubler = new Doubler();
    const gm = new GraphModule({ w: Tensor.randn([2, 2], { seed: 5 }), double: doubler }, g);
    const text = gm.graph.toString();
    const x0 = Tensor.randn([2, 2], { seed: 6 });
    const before = values(gm.forward(x0));
    impureCalls = 0;
    doubler.calls = 0;
    expect(constFold(gm).modified).toBe(false);
    expect(impureCalls).toBe(0);
    expect(doubler.calls).toBe(0);
    gm.lint();
    expect(gm.graph.toString()).toBe(text);
    expect(values(gm.forward(x0))).toEqual(before);
  });

  it('substitutes folded numbers as literals and removes dead constant subgraphs', () => {
    const g = new Graph();
    const x = g.placeholder('x');
    const w = g.getAttr('w');
    const rows = call(g, 'size', { input: w, dim: 0 }, 'rows');
    call(g, 'matmul', { input: w, other: w }, 'dead');
    g.output([x, rows]);
    const gm = new GraphModule({ w: Tensor.randn([5, 5], { seed: 7 }) }, g);
    const x0 = Tensor.randn([1], { seed: 8 });
    const before = values(gm.forward(x0));
    expect(constFold(gm).modified).toBe(true);
    gm.lint();
    expect(names(gm)).toBe('x output_1');
    expect(gm.graph.describeOutput()).toBe('[%x, 5]');
    expect(gm.getAttr('w')).toBeUndefined();
    expect(values(gm.forward(x0))).toEqual(before);
  });

  it('keeps a tuple-valued constant computed and folds its inputs instead', () => {
    const g = new Graph();
    const x = g.placeholder('x');
    const w = call(g, 'mul', { input: g.getAttr('w'), other: 3 }, 'w3');
    const p = g.callFunction(pair, [w], {}, 'p');
    g.output([x, p]);
    const gm = new GraphModule({ w: Tensor.randn([2], { seed: 9 }) }, g);
    const x0 = Tensor.randn([1], { seed: 10 });
    const before = values(gm.forward(x0));
    expect(constFold(gm).modified).toBe(true);
    gm.lint();
    expect(names(gm)).toBe('x _folded_w3 p output_1');
    expect(values(gm.forward(x0))).toEqual(before);
  });

  it('names the node whose evaluation fails', () => {
    const g = new Graph();
    const x = g.placeholder('x');
    const bad = call(g, 'matmul', { input: g.getAttr('a'), other: g.getAttr('b') }, 'bad');
    g.output(call(g, 'matmul', { input: x, other: bad }));
    const gm = new GraphModule({ a: Tensor.ones([2, 3]), b: Tensor.ones([2, 3]) }, g);
    expect(() => constFold(gm)).toThrow(/^constFold: evaluating constant node 'bad' failed: /);
  });
});

describe('foldStaticSizes', () => {
  it('turns sizes of statically shaped values into literals, through getitem', () => {
    const g = new Graph();
    const x = g.placeholder('x');
    const n = call(g, 'size', { input: x, dim: 0 }, 'n');
    const shape = call(g, 'size', { input: x }, 'shape');
    const last = call(g, 'getitem', { input: shape, index: -1 }, 'last');
    const flat = call(g, 'reshape', { input: x, shape: [n, -1] }, 'flat');
    g.output(call(g, 'reshape', { input: flat, shape: [last, n, -1] }, 'back'));
    const gm = new GraphModule({}, g);
    const x0 = Tensor.randn([2, 3, 4], { seed: 11 });
    new ShapeProp(gm).propagate(x0);
    const before = values(gm.forward(x0));
    expect(foldStaticSizes(gm).modified).toBe(true);
    gm.lint();
    expect(gm.graph.toString()).toBe([
      'graph(x):',
      '    %x : float32[2, 3, 4] [num_users=1] = placeholder[target=x]',
      '    %flat : float32[2, 12] [num_users=1] = call_function[target=acc.reshape](args = (), kwargs = {input: %x, shape: [2, -1]})',
      '    %back : float32[4, 2, 3] [num_users=1] = call_function[target=acc.reshape](args = (), kwargs = {input: %flat, shape: [4, 2, -1]})',
      '    return %back',
    ].join('\n'));
    expect(values(gm.forward(x0))).toEqual(before);
    expect(foldStaticSizes(gm).modified).toBe(false);
  });

  it('makes reshape(x, [x.shape[0], -1]) of an acc trace static', () => {
    const x0 = Tensor.randn([3, 2, 2], { seed: 12 });
    const gm = accTrace(symbolicTrace((x: Tensor) => x.reshape(x.shape[0], -1).relu()), [x0]);
    expect(gm.graph.toString()).toContain('kwargs = {input: %x, shape: [%size, -1]})');
    const before = values(gm.forward(x0));
    expect(foldStaticSizes(gm).modified).toBe(true);
    gm.lint();
    expect(gm.graph.nodeList().map((n) => n.name)).toEqual(['x', 'reshape', 'relu', 'output_1']);
    expect(gm.graph.toString()).toContain('%reshape : float32[3, 4] [num_users=1] = call_function[target=acc.reshape](args = (), kwargs = {input: %x, shape: [3, -1]})');
    expect(values(gm.forward(x0))).toEqual(before);
  });

  it('leaves sizes of values without metadata alone', () => {
    const g = new Graph();
    const x = g.placeholder('x');
    g.output(call(g, 'size', { input: x, dim: 1 }));
    const gm = new GraphModule({}, g);
    expect(foldStaticSizes(gm).modified).toBe(false);
    gm.lint();
    expect(gm.forward(Tensor.zeros([2, 7]))).toBe(7);
  });
});
