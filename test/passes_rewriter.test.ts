import { describe, expect, it } from 'vitest';
import { callFunction } from '../src/acc_ops/dispatch.js';
import { getAccOp } from '../src/acc_ops/registry.js';
import { getFunction } from '../src/ir/function.js';
import { Graph } from '../src/ir/graph.js';
import { GraphModule } from '../src/ir/graph_module.js';
import type { AnyNode } from '../src/ir/node.js';
import { targetName } from '../src/ir/print.js';
import { symbolicTrace } from '../src/ir/tracer.js';
import { F } from '../src/nn/functional.js';
import { PassManager } from '../src/passes/pass_manager.js';
import { definePatternPass, replacePattern } from '../src/passes/subgraph_rewriter.js';
import { Tensor } from '../src/tensor/tensor.js';

/** An acc call inside traced pattern code. */
const acc = (op: string, kwargs: Record<string, unknown>): Tensor => callFunction(getAccOp(op), [kwargs]) as Tensor;

const calls = (gm: GraphModule): string[] =>
  gm.graph.nodeList().filter((n) => n.op.startsWith('call_')).map((n) => `${n.name}=${targetName(n)}`);

function values(out: unknown): number[][] {
  return (Array.isArray(out) ? out : [out]).map((t) => [...(t as Tensor).toFloat64()]);
}
function expectClose(a: number[][], b: number[][]): void {
  expect(a.length).toBe(b.length);
  a.forEach((row, i) => row.forEach((v, j) => expect(v).toBeCloseTo(b[i]![j]!, 5)));
}

/** x → relu ×4 (acc graph), returning every relu as well when `expose` names one. */
function reluChain(expose?: number): GraphModule {
  const g = new Graph();
  let v: AnyNode = g.placeholder('x');
  const relus: AnyNode[] = [];
  for (let i = 0; i < 4; i++) relus.push((v = g.callFunction(getAccOp('relu'), [], { input: v })));
  g.output(expose === undefined ? v : [v, relus[expose]!]);
  return new GraphModule({}, g);
}

const x0 = Tensor.fromArray([[-1, 2, -3], [4, -5, 6]]);

describe('replacePattern', () => {
  it('replaces non-overlapping matches of an acc pattern, in graph order', () => {
    const gm = reluChain();
    const before = values(gm.forward(x0));
    const matches = replacePattern(gm,
      (x: Tensor) => acc('relu', { input: acc('relu', { input: x }) }),
      (x: Tensor) => acc('abs', { input: acc('relu', { input: x }) }));
    gm.lint();
    expect(matches).toEqual([
      { anchor: 'relu_1', nodes: ['relu', 'relu_1'], bindings: { x: '%x' }, replacements: ['relu_4', 'abs'] },
      { anchor: 'relu_3', nodes: ['relu_2', 'relu_3'], bindings: { x: '%abs' }, replacements: ['relu', 'abs_1'] },
    ]);
    expect(gm.graph.toString()).toBe([
      'graph(x):',
      '    %x : [num_users=1] = placeholder[target=x]',
      '    %relu_4 : [num_users=1] = call_function[target=acc.relu](args = (), kwargs = {input: %x})',
      '    %abs : [num_users=1] = call_function[target=acc.abs](args = (), kwargs = {input: %relu_4})',
      '    %relu : [num_users=1] = call_function[target=acc.relu](args = (), kwargs = {input: %abs})',
      '    %abs_1 : [num_users=1] = call_function[target=acc.abs](args = (), kwargs = {input: %relu})',
      '    return %abs_1',
    ].join('\n'));
    expect(values(gm.forward(x0))).toEqual(before);
  });

  it('does not match when an inner node is used outside the match', () => {
    const gm = reluChain(0);
    const text = gm.graph.toString();
    const matches = replacePattern(gm,
      (x: Tensor) => acc('relu', { input: acc('relu', { input: x }) }),
      (x: Tensor) => acc('relu', { input: x }));
    gm.lint();
    // relu (exposed) cannot be inside a match; relu_1 → relu_2 → relu_3 holds one, relu_2 → relu_3 overlaps it.
    expect(matches.map((m) => m.nodes)).toEqual([['relu_1', 'relu_2']]);
    expect(gm.graph.toString()).not.toBe(text);
    expect(calls(gm)).toEqual(['relu=acc.relu', 'relu_4=acc.relu', 'relu_3=acc.relu']);
    expect(gm.graph.describeOutput()).toBe('[%relu_3, %relu]');
    expect(values(gm.forward(x0))).toEqual(values(reluChain(0).forward(x0)));
  });

  it('rewrites a source graph: sigmoid(x) * x → silu(x), with methods and F functions', () => {
    const model = (a: Tensor, b: Tensor) => F.add(a.sigmoid().mul(a), F.relu(b).sigmoid().mul(F.relu(b)));
    const gm = symbolicTrace(model);
    const a0 = Tensor.randn([3], { seed: 1 });
    const b0 = Tensor.randn([3], { seed: 2 });
    const before = values(gm.forward(a0, b0));
    const matches = replacePattern(gm, (x: Tensor) => x.sigmoid().mul(x), (x: Tensor) => F.silu(x));
    gm.lint();
    expect(matches.map((m) => [m.anchor, m.bindings])).toEqual([['mul', { x: '%a' }]]);
    // The second product multiplies by a different relu node than the one inside the sigmoid: no match.
    expect(calls(gm)).toEqual(['silu=F.silu', 'relu=F.relu', 'sigmoid_1=sigmoid', 'relu_1=F.relu', 'mul_1=mul', 'add=F.add']);
    expectClose(values(gm.forward(a0, b0)), before);
  });

  it('binds literals to pattern parameters and requires equal literals elsewhere', () => {
    const gm = symbolicTrace((x: Tensor) => [x.relu().mul(3).add(1), x.neg().mul(4).add(2)]);
    const before = values(gm.forward(x0));
    const matches = replacePattern(gm,
      (x: Tensor, c: Tensor) => x.mul(c).add(1),
      (x: Tensor, c: Tensor) => x.add(x.mul(c)).sub(x).add(1));
    gm.lint();
    expect(matches.map((m) => m.bindings)).toEqual([{ x: '%relu', c: '3' }]);
    expect(calls(gm).map((c) => c.split('=')[1])).toEqual(['relu', 'mul', 'add', 'sub', 'add', 'neg', 'mul', 'add']);
    expectClose(values(gm.forward(x0)), before);
  });

  it('requires a repeated parameter to match the same value', () => {
    const gm = symbolicTrace((x: Tensor, y: Tensor) => [x.add(x), x.add(y)]);
    const matches = replacePattern(gm, (x: Tensor) => x.add(x), (x: Tensor) => x.mul(2));
    gm.lint();
    expect(matches.map((m) => m.anchor)).toEqual(['add']);
    expect(calls(gm).map((c) => c.split('=')[1])).toEqual(['mul', 'add']);
    const y0 = Tensor.randn([2, 3], { seed: 3 });
    expect(values(gm.forward(x0, y0))).toEqual([[...x0.toFloat64()].map((v) => 2 * v), [...x0.add(y0).toFloat64()]]);
  });

  it('matches arguments by parameter, with defaults filled (positional, keyword and omitted spellings)', () => {
    const g = new Graph();
    const x = g.placeholder('x');
    const d = g.callFunction(getAccOp('dropout'), [], { input: x, p: 0.5, training: false });
    const e = g.callFunction(getAccOp('dropout'), [], { input: d, p: 0.1 });
    g.output(g.callFunction(getAccOp('relu'), [], { input: e }));
    const gm = new GraphModule({}, g);
    const matches = replacePattern(gm, (v: Tensor) => acc('dropout', { input: v }), (v: Tensor) => acc('neg', { input: acc('neg', { input: v }) }));
    gm.lint();
    expect(matches.map((m) => m.anchor)).toEqual(['dropout']);
    expect(calls(gm)).toEqual(['neg=acc.neg', 'neg_1=acc.neg', 'dropout_1=acc.dropout', 'relu=acc.relu']);
    expect(values(gm.forward(x0))).toEqual([[...x0.relu().toFloat64()]]);

    const h = new Graph();
    const [a, b] = [h.placeholder('a'), h.placeholder('b')];
    const fAdd = getFunction('F.add');
    h.output([h.callFunction(fAdd, [a, b]), h.callFunction(fAdd, [a], { other: b }), h.callFunction(fAdd, [a, b], { alpha: 2 })]);
    const src = new GraphModule({}, h);
    const a0 = Tensor.randn([3], { seed: 4 });
    const b0 = Tensor.randn([3], { seed: 5 });
    const before = values(src.forward(a0, b0));
    const m2 = replacePattern(src, (p: Tensor, q: Tensor) => F.add(p, q), (p: Tensor, q: Tensor) => F.sub(p, F.neg(q)));
    src.lint();
    expect(m2.map((m) => m.anchor)).toEqual(['add', 'add_1']);
    expect(calls(src).map((c) => c.split('=')[1])).toEqual(['F.neg', 'F.sub', 'F.neg', 'F.sub', 'F.add']);
    expectClose(values(src.forward(a0, b0)), before);
  });

  it('inlines constants of the replacement as new attributes', () => {
    const gm = symbolicTrace((x: Tensor) => x.relu().neg());
    const matches = replacePattern(gm, (x: Tensor) => x.neg(), (x: Tensor) => x.mul(Tensor.fromArray([-1])));
    gm.lint();
    expect(matches[0]!.replacements).toEqual(['_tensor_constant0', 'mul']);
    expect(gm.getAttr('_tensor_constant0')).toBeInstanceOf(Tensor);
    expect(values(gm.forward(x0))).toEqual([[...x0.relu().neg().toFloat64()]]);
  });

  it('rejects patterns it cannot match', () => {
    const gm = reluChain();
    expect(() => replacePattern(gm, (x: Tensor) => x, (x: Tensor) => x))
      .toThrow('replacePattern: the pattern must return the result of one operation, got %x');
    expect(() => replacePattern(gm, (x: Tensor) => acc('relu', { input: x }), (x: Tensor, y: Tensor) => F.add(x, y)))
      .toThrow('replacePattern: the replacement takes 2 parameter(s), the pattern 1; they are bound positionally and must agree');
    expect(() => replacePattern(gm, (x: Tensor) => x.mul(Tensor.ones([1])), (x: Tensor) => x))
      .toThrow("replacePattern: pattern node '_tensor_constant0' is a get_attr; patterns may only contain function and method calls");
    expect(() => replacePattern(gm, (x: Tensor, _y: Tensor) => x.relu(), (x: Tensor, _y: Tensor) => x))
      .toThrow("replacePattern: pattern parameter '_y' is not used by its result");
  });

  it('is a pass for the PassManager (lint and validation after it)', () => {
    const fold = definePatternPass('reluReluToRelu',
      (x: Tensor) => acc('relu', { input: acc('relu', { input: x }) }),
      (x: Tensor) => acc('relu', { input: x }));
    const r = new PassManager([fold, fold], { validate: { inputs: [x0] } }).run(reluChain());
    expect(r.modified).toBe(true);
    r.gm.lint();
    expect(calls(r.gm).map((c) => c.split('=')[1])).toEqual(['acc.relu']);
    expect(values(r.gm.forward(x0))).toEqual([[...x0.relu().toFloat64()]]);
  });
});
