import { describe, expect, it } from 'vitest';
import { registerFunction, type GraphFunction } from '../src/ir/function.js';
import { Graph, LintError, defaultIsImpure } from '../src/ir/graph.js';
import { GraphModule } from '../src/ir/graph_module.js';
import type { AnyNode } from '../src/ir/node.js';
import { sig } from '../src/ir/signature.js';
import { Module, Parameter } from '../src/nn/module.js';
import { Tensor } from '../src/tensor/tensor.js';

// Graph functions of this file; names are unique across the test suite.
const add: GraphFunction = registerFunction({
  name: 'test_graph.add', signature: sig('input', 'other'),
  invoke: ([a, b]) => [a, b],
});
const effect: GraphFunction = registerFunction({
  name: 'test_graph.print', signature: sig('input'), impure: true,
  invoke: () => null,
});

/** x -> relu -> neg -> output, plus an unused placeholder y. */
function chain(): { g: Graph; x: AnyNode; relu: AnyNode; neg: AnyNode; out: AnyNode } {
  const g = new Graph();
  const x = g.placeholder('x').self;
  const relu = g.callMethod('relu', [x]).self;
  const neg = g.callMethod('neg', [relu]).self;
  const out = g.output(neg).self;
  return { g, x, relu, neg, out };
}

const names = (g: Graph): string[] => g.nodeList().map((n) => n.name);
const userNames = (n: AnyNode): string[] => [...n.users].map((u) => u.name);

describe('Graph: nodes of each kind', () => {
  it('creates placeholder, get_attr, call_function, call_method, call_module and output nodes', () => {
    const g = new Graph();
    const x = g.placeholder('x');
    const w = g.getAttr('linear.weight');
    const f = g.callFunction(add, [x, w], {}, 'sum');
    const m = g.callMethod('relu', [f], { inplace: false });
    const c = g.callModule('block.conv', [m]);
    const o = g.output([c, { a: m }]);
    expect([x.op, w.op, f.op, m.op, c.op, o.op]).toEqual(['placeholder', 'get_attr', 'call_function', 'call_method', 'call_module', 'output']);
    expect(x.target).toBe('x');
    expect(w.target).toBe('linear.weight');
    expect(w.name).toBe('linear_weight');
    expect(f.target).toBe(add);
    expect(f.name).toBe('sum');
    expect(m.target).toBe('relu');
    expect(m.kwargs).toEqual({ inplace: false });
    expect(c.name).toBe('block_conv');
    expect(o.name).toBe('output_1');
    expect(o.args[0]).toEqual([c, { a: m }]);
    expect(g.outputNode).toBe(o);
    expect(g.placeholders).toEqual([x]);
    expect(userNames(m.self)).toEqual(['block_conv', 'output_1']);
    expect(o.allInputNodes.map((n) => n.name)).toEqual(['block_conv', 'relu']);
    g.lint();
  });

  it('names a call_function node after the last part of the function name', () => {
    const g = new Graph();
    const x = g.placeholder('x');
    expect(g.callFunction(add, [x, 1]).name).toBe('add');
  });

  it('keeps a placeholder default in args[0]', () => {
    const g = new Graph();
    const p = g.placeholder('scale', 2);
    expect(p.args).toEqual([2]);
  });
});

describe('Graph: use-def links', () => {
  it('updates users when args are set, per position and per keyword', () => {
    const g = new Graph();
    const a = g.placeholder('a').self;
    const b = g.placeholder('b').self;
    const n = g.callFunction(add, [a, a]).self;
    expect(userNames(a)).toEqual(['add']);
    expect(n.allInputNodes).toEqual([a]);
    n.updateArg(1, b);
    expect(userNames(a)).toEqual(['add']);
    expect(userNames(b)).toEqual(['add']);
    n.args = [b, 3];
    expect(a.users.size).toBe(0);
    expect(n.allInputNodes).toEqual([b]);
    n.updateKwarg('extra', [a, { deep: a }]);
    expect(userNames(a)).toEqual(['add']);
    expect(n.allInputNodes).toEqual([b, a]);
    n.kwargs = {};
    expect(a.users.size).toBe(0);
  });

  it('replaceInputWith swaps every occurrence, nested ones included', () => {
    const g = new Graph();
    const a = g.placeholder('a').self;
    const b = g.placeholder('b').self;
    const n = g.callFunction(add, [a, [a, { k: a }]], { other: a }).self;
    n.replaceInputWith(a, b);
    expect(n.args).toEqual([b, [b, { k: b }]]);
    expect(n.kwargs).toEqual({ other: b });
    expect(a.users.size).toBe(0);
    expect(userNames(b)).toEqual(['add']);
  });

  it('replaceAllUsesWith moves users, honouring a filter, and skips the replacement itself', () => {
    const g = new Graph();
    const x = g.placeholder('x').self;
    const u1 = g.callMethod('relu', [x]).self;
    const u2 = g.callMethod('neg', [x]).self;
    const r = g.callMethod('abs', [x]).self;
    const changed = x.replaceAllUsesWith(r, (u) => u !== u2);
    expect(changed.map((n) => n.name)).toEqual(['relu']);
    expect(u1.args).toEqual([r]);
    expect(u2.args).toEqual([x]);
    expect(r.args).toEqual([x]);
    expect(userNames(x).sort()).toEqual(['abs', 'neg']);
    expect(userNames(r)).toEqual(['relu']);
  });

  it('refuses inputs from another graph and erased inputs', () => {
    const g1 = new Graph();
    const g2 = new Graph();
    const foreign = g2.placeholder('z');
    const x = g1.placeholder('x');
    expect(() => g1.callMethod('relu', [foreign])).toThrow(/input 'z' belongs to a different graph/);
    const dead = g1.callMethod('neg', [x]);
    g1.eraseNode(dead.self);
    expect(() => g1.callMethod('relu', [dead])).toThrow(/input 'neg' has been erased/);
    // The failed creations left nothing behind.
    expect(names(g1)).toEqual(['x']);
  });
});

describe('Graph: erasing', () => {
  it('refuses to erase a node that still has users and names them', () => {
    const { g, relu } = chain();
    expect(() => g.eraseNode(relu)).toThrow("eraseNode: node 'relu' still has 1 user(s): neg");
    expect(g.length).toBe(4);
  });

  it('erases an unused node, frees its name and detaches it from its inputs', () => {
    const { g, x, relu, neg, out } = chain();
    out.updateArg(0, relu);
    g.eraseNode(neg);
    expect(neg.isErased).toBe(true);
    expect(names(g)).toEqual(['x', 'relu', 'output_1']);
    expect(userNames(relu)).toEqual(['output_1']);
    expect(g.callMethod('neg', [x]).name).toBe('neg');
    expect(() => g.eraseNode(neg)).toThrow("eraseNode: node 'neg' was already erased");
    expect(() => new Graph().eraseNode(relu)).toThrow("eraseNode: node 'relu' is not in this graph");
  });
});

describe('Graph: dead-code elimination', () => {
  it('removes unused chains in one pass and keeps placeholders, output and impure nodes', () => {
    const g = new Graph();
    const x = g.placeholder('x');
    g.placeholder('unused');
    const a = g.callMethod('relu', [x]);
    const b = g.callMethod('neg', [a]);
    g.callMethod('abs', [b]);
    g.callMethod('add_', [x, 1]);
    g.callMethod('_private_', [x]);
    g.callFunction(effect, [x]);
    g.output(x);
    expect(g.eliminateDeadCode()).toBe(true);
    expect(names(g)).toEqual(['x', 'unused', 'add_', 'print', 'output_1']);
    expect(g.eliminateDeadCode()).toBe(false);
    g.lint();
  });

  it('classifies impurity by op kind', () => {
    const g = new Graph();
    const x = g.placeholder('x').self;
    expect(defaultIsImpure(x)).toBe(true);
    expect(defaultIsImpure(g.callMethod('mul_', [x]).self)).toBe(true);
    expect(defaultIsImpure(g.callMethod('mul', [x]).self)).toBe(false);
    expect(defaultIsImpure(g.callFunction(effect, [x]).self)).toBe(true);
    expect(defaultIsImpure(g.callFunction(add, [x, x]).self)).toBe(false);
    expect(defaultIsImpure(g.getAttr('w').self)).toBe(false);
  });

  it('accepts a custom impurity predicate', () => {
    const { g } = chain();
    g.callMethod('abs', [g.placeholders[0]!]);
    g.eliminateDeadCode((n) => n.op !== 'call_method');
    expect(names(g)).toEqual(['x', 'relu', 'neg', 'output_1']);
  });
});

describe('Graph: insertion point', () => {
  it('insertingBefore puts new nodes before the given node and restores the point', () => {
    const { g, relu, neg } = chain();
    g.insertingBefore(neg, () => {
      const a = g.callMethod('abs', [relu]);
      g.callMethod('sin', [a]);
    });
    g.callMethod('cos', [neg]);
    expect(names(g)).toEqual(['x', 'relu', 'abs', 'sin', 'neg', 'output_1', 'cos']);
  });

  it('insertingAfter keeps creation order and nests', () => {
    const { g, relu } = chain();
    g.insertingAfter(relu, () => {
      const a = g.callMethod('abs', [relu]);
      g.insertingAfter(a, () => g.callMethod('exp', [a]));
      g.callMethod('sin', [a]);
    });
    expect(names(g)).toEqual(['x', 'relu', 'abs', 'exp', 'sin', 'neg', 'output_1']);
  });

  it('keeps inserting at the right place when the anchor is erased', () => {
    const g = new Graph();
    const x = g.placeholder('x');
    const dead = g.callMethod('neg', [x]);
    g.output(x);
    g.insertingBefore(dead.self, () => {
      g.eraseNode(dead.self);
      g.callMethod('relu', [x]);
    });
    expect(names(g)).toEqual(['x', 'relu', 'output_1']);
  });

  it('refuses an anchor from another graph', () => {
    const other = new Graph().placeholder('z').self;
    const g = new Graph();
    expect(() => g.insertingBefore(other, () => 0)).toThrow("insertingBefore: node 'z' is not in this graph");
    expect(() => g.insertingAfter(other, () => 0)).toThrow("insertingAfter: node 'z' is not in this graph");
  });
});

describe('Graph: names', () => {
  it('makes names unique with numeric suffixes', () => {
    const g = new Graph();
    const x = g.placeholder('x');
    const made = [1, 2, 3].map(() => g.callMethod('relu', [x]).name);
    expect(made).toEqual(['relu', 'relu_1', 'relu_2']);
    expect(g.callMethod('relu', [x], {}, 'relu_1').name).toBe('relu_3');
  });

  it('avoids reserved words and names the generated code uses', () => {
    const g = new Graph();
    const x = g.placeholder('x');
    expect(g.callMethod('class', [x]).name).toBe('class_1');
    expect(g.callMethod('new', [x]).name).toBe('new_1');
    expect(g.callMethod('F', [x]).name).toBe('F_1');
    expect(g.callMethod('fns', [x]).name).toBe('fns_1');
    expect(g.callMethod('x', [x], {}, 'this').name).toBe('this_1');
  });

  it('turns targets into identifiers', () => {
    const g = new Graph();
    expect(g.getAttr('layer1.0.weight').name).toBe('layer1_0_weight');
    expect(g.getAttr('0.bias').name).toBe('_0_bias');
    expect(g.getAttr('a-b').name).toBe('a_b');
  });

  it('renames keeping names unique, and reuses a freed name', () => {
    const { g, relu, neg, out } = chain();
    expect(g.rename(neg, 'relu')).toBe('relu_1');
    expect(g.rename(relu, 'act')).toBe('act');
    expect(g.insertingBefore(out, () => g.callMethod('relu', [relu])).name).toBe('relu');
    g.lint();
  });
});

describe('Graph: lint', () => {
  it('accepts a well-formed graph', () => {
    expect(() => chain().g.lint()).not.toThrow();
    expect(() => new Graph().lint()).not.toThrow();
  });

  it('catches use before definition after a node move', () => {
    const { g, relu, neg } = chain();
    relu.prepend(neg);
    expect(() => g.lint()).toThrow(new LintError("node 'neg' (call_method) uses 'relu' before it is defined (not in topological order)"));
  });

  it('catches a placeholder after other nodes', () => {
    const g = new Graph();
    const x = g.placeholder('x');
    const y = g.placeholder('y');
    const r = g.callMethod('relu', [x]);
    g.output([r, y]);
    r.append(y.self);
    expect(() => g.lint()).toThrow("node 'y' (placeholder): placeholders must come before every other node");
  });

  it('catches an output node that is not last, and a graph without output', () => {
    const { g, out, relu } = chain();
    const extra = g.callMethod('abs', [relu]);
    expect(() => g.lint()).toThrow("node 'output_1' (output): the output node must be the last node");
    g.eraseNode(extra.self);
    g.eraseNode(out);
    expect(() => g.lint()).toThrow('graph: has no output node');
  });

  it('catches an output with the wrong number of arguments', () => {
    const { g, out, relu } = chain();
    out.args = [relu, relu];
    expect(() => g.lint()).toThrow("node 'output_1' (output): output takes exactly one argument");
  });

  it('catches a placeholder whose target differs from its name', () => {
    const { g } = chain();
    g.placeholders[0]!.target = 'input';
    expect(() => g.lint()).toThrow("node 'x' (placeholder): placeholder target 'input' differs from its name");
  });

  it('catches a method call without a receiver', () => {
    const g = new Graph();
    g.callMethod('relu', []);
    g.output(null);
    expect(() => g.lint()).toThrow("node 'relu' (call_method): a method call needs its receiver as args[0]");
  });

  it('checks get_attr and call_module targets against the owning module', () => {
    class Holder extends Module {
      w = new Parameter(Tensor.ones([2]));
      sub = new Module();
    }
    const g = new Graph();
    const w = g.getAttr('w');
    g.output(g.callModule('sub', [w]));
    const gm = new GraphModule(new Holder(), g);
    gm.lint();
    const broken = new Graph();
    broken.output(broken.getAttr('missing'));
    gm.graph = broken;
    expect(() => gm.lint()).toThrow("node 'missing' (get_attr): target 'missing' does not resolve to a parameter, buffer or constant of the module");
    const broken2 = new Graph();
    broken2.output(broken2.callModule('w', []));
    gm.graph = broken2;
    expect(() => gm.lint()).toThrow("node 'w' (call_module): target 'w' does not resolve to a submodule");
  });
});

describe('Graph: printing', () => {
  it('prints a small graph as exact, deterministic text', () => {
    const g = new Graph();
    const x = g.placeholder('x');
    const w = g.getAttr('fc.weight');
    const s = g.callFunction(add, [x, w], { alpha: -0 });
    const r = g.callMethod('relu', [s]);
    r.meta.tensorMeta = { shape: [2, 3], dtype: 'float32' };
    const m = g.callModule('fc', [r, 'mean', null, [1, NaN]]);
    g.output([m, r]);
    const text = [
      'graph(x):',
      '    %x : [num_users=1] = placeholder[target=x]',
      '    %fc_weight : [num_users=1] = get_attr[target=fc.weight]',
      '    %add : [num_users=1] = call_function[target=test_graph.add](args = (%x, %fc_weight), kwargs = {alpha: -0})',
      '    %relu : float32[2, 3] [num_users=2] = call_method[target=relu](args = (%add,), kwargs = {})',
      '    %fc : [num_users=1] = call_module[target=fc](args = (%relu, "mean", null, [1, NaN]), kwargs = {})',
      '    return [%fc, %relu]',
    ].join('\n');
    expect(g.toString()).toBe(text);
    expect(g.toString()).toBe(text);
  });
});

describe('Graph: counts and iteration', () => {
  it('tracks the node count through creation and erasure', () => {
    const { g, neg, out, relu } = chain();
    expect(g.length).toBe(4);
    out.updateArg(0, relu);
    g.eraseNode(neg);
    expect(g.length).toBe(3);
    expect(g.nodeList()).toHaveLength(3);
    expect([...g]).toHaveLength(3);
  });

  it('iterates in reverse while erasing the current node', () => {
    const g = new Graph();
    const x = g.placeholder('x');
    let prev = x.self;
    for (let i = 0; i < 5; i++) prev = g.callMethod('relu', [prev]).self;
    g.output(x);
    const visited: string[] = [];
    for (const n of g.reversed()) {
      visited.push(n.name);
      if (n.op === 'call_method') g.eraseNode(n);
    }
    expect(visited).toEqual(['output_1', 'relu_4', 'relu_3', 'relu_2', 'relu_1', 'relu', 'x']);
    expect(names(g)).toEqual(['x', 'output_1']);
    g.lint();
  });

  it('iterates forward while erasing the current node', () => {
    const g = new Graph();
    const x = g.placeholder('x');
    for (let i = 0; i < 3; i++) g.callMethod('abs', [x]);
    g.output(x);
    const visited: string[] = [];
    for (const n of g.nodes()) {
      visited.push(n.name);
      if (n.op === 'call_method') g.eraseNode(n);
    }
    expect(visited).toEqual(['x', 'abs', 'abs_1', 'abs_2', 'output_1']);
    expect(g.length).toBe(2);
  });
});

describe('Graph: scale', () => {
  it('builds, lints, prints and dead-code-eliminates a 50,000-node chain quickly', () => {
    const N = 50_000;
    const start = performance.now();
    const g = new Graph();
    const x = g.placeholder('x');
    let prev = x.self;
    for (let i = 0; i < N; i++) prev = g.callMethod('relu', [prev]).self;
    const out = g.output(prev);
    expect(g.length).toBe(N + 2);
    g.lint();
    const text = g.toString();
    expect(text.split('\n')).toHaveLength(N + 3);
    expect(text).toContain(`%relu_${N - 1} : [num_users=1]`);
    out.updateArg(0, x);
    expect(g.eliminateDeadCode()).toBe(true);
    expect(names(g)).toEqual(['x', 'output_1']);
    g.lint();
    expect(performance.now() - start).toBeLessThan(10_000);
  });
});
