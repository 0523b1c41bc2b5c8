import { describe, expect, it } from 'vitest';
import { accTrace } from '../src/acc_ops/acc_tracer.js';
import { Graph } from '../src/ir/graph.js';
import { GraphModule } from '../src/ir/graph_module.js';
import { targetName } from '../src/ir/print.js';
import { symbolicTrace } from '../src/ir/tracer.js';
import { Module } from '../src/nn/module.js';
import '../src/nn/tensor_methods.js';
import '../src/passes/index.js';
import { functionalize, functionalMethodOf, isInplaceMethod, replaceMutableOps } from '../src/passes/replace_mutable_ops.js';
import { Tensor } from '../src/tensor/tensor.js';

/** op:target of every call node. */
const calls = (gm: GraphModule): string[] =>
  gm.graph.nodeList().filter((n) => n.op.startsWith('call_')).map((n) => `${n.op}:${targetName(n)}`);

function data(out: unknown): unknown {
  if (out instanceof Tensor) return { shape: out.shape, dtype: out.dtype, data: [...out.toFloat64()] };
  return Array.isArray(out) ? out.map(data) : out;
}

/** Traces `fn`, checks that the functional graph computes what eager execution does, and returns it. */
function checkFunctional(fn: (x: Tensor) => unknown, x: Tensor): GraphModule {
  const expected = data(fn(x.clone()));
  const gm = symbolicTrace(fn);
  gm.lint();
  expect(data(gm.forward(x.clone()))).toEqual(expected);
  const r = replaceMutableOps(gm);
  expect(r.modified).toBe(true);
  r.gm.lint();
  expect(data(r.gm.forward(x.clone()))).toEqual(expected);
  expect(calls(r.gm).some((c) => c.endsWith('_'))).toBe(false);
  return r.gm;
}

const x0 = Tensor.fromArray([[-1.5, 0.25, 2], [3, -4, 0.5]]);

describe('replaceMutableOps', () => {
  it('rewrites an in-place call whose result is used into the functional method', () => {
    const gm = checkFunctional((x) => x.relu().add_(1).mul(2), x0);
    expect(calls(gm)).toEqual(['call_method:relu', 'call_method:add', 'call_method:mul']);
    expect(gm.graph.toString()).toBe([
      'graph(x):',
      '    %x : [num_users=1] = placeholder[target=x]',
      '    %relu : [num_users=1] = call_method[target=relu](args = (%x,), kwargs = {})',
      '    %add : [num_users=1] = call_method[target=add](args = (%relu, 1), kwargs = {})',
      '    %mul : [num_users=1] = call_method[target=mul](args = (%add, 2), kwargs = {})',
      '    return %mul',
    ].join('\n'));
  });

  it('makes later reads of the mutated receiver read the functional result', () => {
    const gm = checkFunctional((x) => {
      const y = x.relu();
      y.add_(1);
      y.mul_(2);
      return [y, y.sub(x)];
    }, x0);
    expect(calls(gm)).toEqual(['call_method:relu', 'call_method:add', 'call_method:mul', 'call_method:sub']);
    expect(gm.graph.describeOutput()).toBe('[%mul, %sub]');
  });

  it('covers fill_, zero_, clamp_, sub_, div_ and sigmoid_', () => {
    const gm = checkFunctional((x) => {
      const a = x.mul(3);
      a.clamp_(-2, 2);
      a.sub_(0.5);
      a.div_(4);
      a.sigmoid_();
      const b = x.add(0);
      b.fill_(7);
      const c = x.abs();
      c.zero_();
      return [a, b, c];
    }, x0);
    expect(calls(gm).map((c) => c.split(':')[1])).toEqual(['mul', 'clamp', 'sub', 'div', 'sigmoid', 'add', 'fill', 'abs', 'zero']);
    expect(functionalMethodOf('fill_')).toBe('fill');
    expect(functionalMethodOf('maskedFill_')).toBe('maskedFill');
    expect([isInplaceMethod('add_'), isInplaceMethod('add'), isInplaceMethod('__add__'), isInplaceMethod('_')]).toEqual([true, false, false, false]);
  });

  it('leaves a graph without in-place calls unchanged', () => {
    const gm = symbolicTrace((x: Tensor) => x.relu().add(1));
    const text = gm.graph.toString();
    expect(replaceMutableOps(gm).modified).toBe(false);
    gm.lint();
    expect(gm.graph.toString()).toBe(text);
    expect(data(gm.forward(x0))).toEqual(data(x0.relu().add(1)));
  });

  it('refuses to mutate a graph input, naming the node, method and other users', () => {
    const gm = symbolicTrace((x: Tensor) => {
      const y = x.add_(1);
      return [y, x.neg()];
    });
    expect(() => replaceMutableOps(gm)).toThrow(
      "replaceMutableOps: cannot make in-place 'add_' at node 'add_' functional: it mutates graph input 'x', which the caller observes (other users of 'x': 'neg')");
  });

  it('refuses to mutate a weight', () => {
    // Traced code cannot reach this (a weight is concrete while tracing), but a built graph can.
    const g = new Graph();
    const x = g.placeholder('x');
    const w = g.getAttr('w');
    g.output(g.callMethod('add', [x, g.callMethod('mul_', [w, 2])]));
    const gm = new GraphModule({ w: Tensor.ones([2]) }, g);
    gm.lint();
    expect(() => replaceMutableOps(gm)).toThrow(
      "cannot make in-place 'mul_' at node 'mul_' functional: it mutates weight 'w' of the module, which outlives the call (other users of 'w': none)");
  });

  it('refuses when the receiver is read before the mutation', () => {
    const gm = symbolicTrace((x: Tensor) => {
      const y = x.relu();
      const s = y.sum();
      y.add_(1);
      return [s, y];
    });
    expect(() => replaceMutableOps(gm)).toThrow(
      "cannot make in-place 'add_' at node 'add_' functional: 'relu' is also used by 'sum' before the mutation (other users of 'relu': 'sum', 'output_1')");
  });

  it('names a missing functional form', () => {
    const g = new Graph();
    const x = g.placeholder('x');
    g.output(g.callMethod('frobnicate_', [g.callMethod('relu', [x])]));
    expect(() => replaceMutableOps(new GraphModule({}, g))).toThrow(
      "cannot make in-place 'frobnicate_' at node 'frobnicate_' functional: no functional tensor method 'frobnicate' is defined");
  });

  it('is the default preparation of accTrace', () => {
    class Block extends Module {
      override forward(x: Tensor) {
        const y = x.mul(2);
        y.relu_();
        return y.add(1);
      }
    }
    const m = new Block();
    const acc = accTrace(m, [x0]);
    acc.lint();
    expect(calls(acc)).toEqual(['call_function:acc.mul', 'call_function:acc.relu', 'call_function:acc.add']);
    expect(data(acc.forward(x0))).toEqual(data(m.forward(x0.clone())));
    // A traced module handed to accTrace is not modified: the preparation works on a copy.
    const traced = symbolicTrace(m);
    const text = traced.graph.toString();
    expect(calls(accTrace(traced, [x0]))).toEqual(calls(acc));
    expect(traced.graph.toString()).toBe(text);
    expect(calls(functionalize(traced))).toEqual(['call_method:mul', 'call_method:relu', 'call_method:add']);
    const plain = symbolicTrace((x: Tensor) => x.relu());
    expect(functionalize(plain)).toBe(plain);
  });
});
