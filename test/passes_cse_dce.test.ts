import { describe, expect, it } from 'vitest';
import '../src/acc_ops/ops/index.js';
import { getAccOp } from '../src/acc_ops/registry.js';
import { registerFunction } from '../src/ir/function.js';
import { Graph } from '../src/ir/graph.js';
import { GraphModule } from '../src/ir/graph_module.js';
import type { AnyNode, Argument } from '../src/ir/node.js';
import { sig } from '../src/ir/signature.js';
import { cse, isPureNode } from '../src/passes/cse.js';
import { eliminateDeadCode } from '../src/passes/dce.js';
import { Tensor } from '../src/tensor/tensor.js';

const call = (g: Graph, op: string, kwargs: Record<string, Argument>, name?: string): AnyNode =>
  g.callFunction(getAccOp(op), [], kwargs, name);
const names = (gm: GraphModule): string => gm.graph.nodeList().map((n) => n.name).join(' ');

/** Counts calls, so a test can tell whether an impure node was kept. */
let sideEffects = 0;
const record = registerFunction({
  name: 'test.passes_cse_record',
  signature: sig('input'),
  impure: true,
  invoke(args) { sideEffects++; return args[0]; },
});

function run(gm: GraphModule, ...xs: Tensor[]): Float64Array[] {
  const out = gm.forward(...xs);
  return (Array.isArray(out) ? out : [out]).map((t) => (t as Tensor).toFloat64());
}

describe('cse', () => {
  it('merges identical pure calls and then their identical users', () => {
    const g = new Graph();
    const x = g.placeholder('x');
    const w = g.getAttr('w');
    const a = call(g, 'matmul', { input: x, other: w }, 'a');
    const b = call(g, 'matmul', { other: w, input: x }, 'b'); // keyword order does not matter
    const la = call(g, 'linear', { input: a, weight: w }, 'la');
    const lb = call(g, 'linear', { input: b, weight: w }, 'lb');
    g.output([la, lb, b]);
    const gm = new GraphModule({ w: Tensor.randn([3, 3], { seed: 1 }) }, g);
    const x0 = Tensor.randn([2, 3], { seed: 2 });
    const before = run(gm, x0);
    const r = cse(gm);
    expect(r.modified).toBe(true);
    gm.lint();
    expect(names(gm)).toBe('x w a la output_1');
    expect(gm.graph.describeOutput()).toBe('[%la, %la, %a]');
    expect(run(gm, x0)).toEqual(before);
    expect(cse(gm).modified).toBe(false);
  });

  it('merges get_attr nodes of the same target', () => {
    const g = new Graph();
    const x = g.placeholder('x');
    const w1 = g.getAttr('w');
    const w2 = g.getAttr('w');
    g.output([call(g, 'matmul', { input: x, other: w1 }), call(g, 'matmul', { input: w2, other: x })]);
    const gm = new GraphModule({ w: Tensor.randn([2, 2], { seed: 3 }) }, g);
    const x0 = Tensor.randn([2, 2], { seed: 4 });
    const before = run(gm, x0);
    expect(cse(gm).modified).toBe(true);
    gm.lint();
    expect(gm.graph.toString()).toBe([
      'graph(x):',
      '    %x : [num_users=2] = placeholder[target=x]',
      '    %w : [num_users=2] = get_attr[target=w]',
      '    %matmul : [num_users=1] = call_function[target=acc.matmul](args = (), kwargs = {input: %x, other: %w})',
      '    %matmul_1 : [num_users=1] = call_function[target=acc.matmul](args = (), kwargs = {input: %w, other: %x})',
      '    return [%matmul, %matmul_1]',
    ].join('\n'));
    expect(run(gm, x0)).toEqual(before);
  });

  it('compares literal arguments by structure and keeps calls that differ', () => {
    const g = new Graph();
    const x = g.placeholder('x');
    const w = g.getAttr('w');
    const conv = (stride: number[], name: string) =>
      call(g, 'conv2d', { input: x, weight: w, stride, padding: [0, 0], dilation: [1, 1], groups: 1 }, name);
    const s11 = conv([1, 1], 's11');
    const s11b = conv([1, 1], 's11b');
    const s21 = conv([2, 1], 's21');
    const s12 = conv([1, 2], 's12');
    const tm = (ti: boolean, name: string) => call(g, 'transposed_matmul', { input: x, other: x, transpose_input: ti }, name);
    g.output([s11, s11b, s21, s12, tm(true, 't1'), tm(false, 't0'), tm(true, 't1b')]);
    const gm = new GraphModule({ w: Tensor.randn([1, 1, 1, 1], { seed: 5 }) }, g);
    const x0 = Tensor.randn([1, 1, 3, 3], { seed: 6 });
    const before = run(gm, x0);
    expect(cse(gm).modified).toBe(true);
    gm.lint();
    expect(names(gm)).toBe('x w s11 s21 s12 t1 t0 output_1');
    expect(gm.graph.describeOutput()).toBe('[%s11, %s11, %s21, %s12, %t1, %t0, %t1]');
    expect(run(gm, x0)).toEqual(before);
  });

  it('never merges impure calls or in-place methods', () => {
    const g = new Graph();
    const x = g.placeholder('x');
    const r1 = g.callFunction(record, [x]);
    const r2 = g.callFunction(record, [x]);
    g.output([r1, r2]);
    const gm = new GraphModule({}, g);
    expect(cse(gm).modified).toBe(false);
    gm.lint();
    expect(names(gm)).toBe('x passes_cse_record passes_cse_record_1 output_1');
    sideEffects = 0;
    run(gm, Tensor.ones([1]));
    expect(sideEffects).toBe(2);

    const h = new Graph();
    const y = h.placeholder('y');
    const m1 = h.callMethod('add_', [y, 1]);
    const m2 = h.callMethod('add_', [y, 1]);
    const f1 = h.callMethod('add', [y, 1]);
    h.output([m1, m2, f1]);
    expect([m1, m2, f1].map(isPureNode)).toEqual([false, false, true]);
    expect(isPureNode(y)).toBe(false);
    expect(cse(new GraphModule({}, h)).modified).toBe(false);
  });
});

describe('eliminateDeadCode', () => {
  it('removes unused nodes and the attributes only they read, keeping impure calls', () => {
    const g = new Graph();
    const x = g.placeholder('x');
    const w = g.getAttr('w');
    const unused = g.getAttr('unused');
    const dead = call(g, 'matmul', { input: x, other: unused }, 'dead');
    call(g, 'linear', { input: dead, weight: w }, 'dead2');
    g.callFunction(record, [x], {}, 'kept');
    g.output(call(g, 'matmul', { input: x, other: w }, 'live'));
    const gm = new GraphModule({ w: Tensor.randn([2, 2], { seed: 7 }), unused: Tensor.randn([2, 2], { seed: 8 }) }, g);
    const x0 = Tensor.randn([2, 2], { seed: 9 });
    const before = run(gm, x0);
    const r = eliminateDeadCode(gm);
    expect(r.modified).toBe(true);
    gm.lint();
    expect(names(gm)).toBe('x w kept live output_1');
    expect(gm.getAttr('unused')).toBeUndefined();
    expect(gm.getAttr('w')).toBeInstanceOf(Tensor);
    expect(run(gm, x0)).toEqual(before);
    expect(eliminateDeadCode(gm).modified).toBe(false);
  });
});
