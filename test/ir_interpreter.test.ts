import { describe, expect, it } from 'vitest';
import '../src/acc_ops/ops/index.js';
import { callFunction, callMethod, defineMethod } from '../src/acc_ops/dispatch.js';
import { defineSourceFunction } from '../src/acc_ops/mapping.js';
import { defineAccOp } from '../src/acc_ops/registry.js';
import { registerFunction, type GraphFunction } from '../src/ir/function.js';
import { Graph } from '../src/ir/graph.js';
import { GraphModule } from '../src/ir/graph_module.js';
import { Interpreter, InterpreterError } from '../src/ir/interpreter.js';
import type { AnyNode } from '../src/ir/node.js';
import { TraceError } from '../src/ir/proxy.js';
import { sig, type Kwargs } from '../src/ir/signature.js';
import { symbolicTrace } from '../src/ir/tracer.js';
import { Module, Parameter } from '../src/nn/module.js';
import { Tensor } from '../src/tensor/tensor.js';

// Ops of this file: an acc op, its F-style source function, and a tensor method (unique names).
const mapValues = (t: Tensor, f: (v: number) => number): Tensor => Tensor.fromNumbers(t.toFloat64().map(f), t.shape, t.dtype);
defineAccOp<{ input: Tensor; other: Tensor | number }>({
  name: 'itest_add', args: { input: { type: 'Tensor' }, other: { type: 'Tensor|scalar' } }, properties: ['pointwise'],
  infer: ({ input }) => input,
  kernel: ({ input, other }) => {
    if (typeof other === 'number') return mapValues(input, (v) => v + other);
    const o = other.toFloat64();
    return mapValues(input, ((i) => (v: number) => v + o[i++]!)(0));
  },
});
defineAccOp<{ input: Tensor }>({
  name: 'itest_double', args: { input: { type: 'Tensor' } }, properties: ['pointwise', 'unary'],
  infer: ({ input }) => input,
  kernel: ({ input }) => mapValues(input, (v) => 2 * v),
});
const addFn = defineSourceFunction('itest.add', sig('input', 'other'), { to: 'itest_add' });
defineMethod('itest_double', sig('input'), { to: 'itest_double' });
const failing: GraphFunction = registerFunction({
  name: 'itest.fail', signature: sig('input'),
  invoke: () => { throw new RangeError('deliberate failure'); },
});

const add = (a: Tensor, b: Tensor | number): Tensor => callFunction(addFn, [a, b]) as Tensor;
const double = (t: Tensor): Tensor => callMethod('itest_double', t, []) as Tensor;
const values = (v: unknown): number[] => Array.from((v as Tensor).toFloat64());

class Scale extends Module {
  factor = new Parameter(Tensor.fromArray([3]));
  override forward(x: Tensor): Tensor { return callFunction(addFn, [x, x]) as Tensor; }
}

/** forward(x) = [scale(double(x + w)), {w}] built by hand: one node of every kind. */
function handBuilt(): GraphModule {
  const g = new Graph();
  const x = g.placeholder('x');
  const w = g.getAttr('w');
  const s = g.callFunction(addFn, [x, w]);
  const d = g.callMethod('itest_double', [s]);
  const m = g.callModule('scale', [d]);
  g.output([m, { w }]);
  const root = new Module();
  root.setAttr('w', new Parameter(Tensor.fromArray([10, 20])));
  root.setAttr('scale', new Scale());
  return new GraphModule(root, g);
}

describe('Interpreter: running graphs', () => {
  it('runs every node kind and returns nested outputs', () => {
    const gm = handBuilt();
    const [y, rest] = gm.forward(Tensor.fromArray([1, 2])) as [Tensor, { w: Tensor }];
    expect(values(y)).toEqual([44, 88]);
    expect(rest.w).toBe(gm.getAttr('w'));
  });

  it('fills placeholder defaults', () => {
    const g = new Graph();
    const x = g.placeholder('x');
    const k = g.placeholder('k', 5);
    g.output(g.callFunction(addFn, [x, k]));
    const gm = new GraphModule(new Module(), g);
    expect(values(gm.forward(Tensor.fromArray([1])))).toEqual([6]);
    expect(values(gm.forward(Tensor.fromArray([1]), 2))).toEqual([3]);
    expect(() => gm.forward()).toThrow('graph expects 1 to 2 input(s) (x, k), got 0');
  });

  it('reports a wrong number of inputs', () => {
    const gm = handBuilt();
    expect(() => gm.forward()).toThrow(new TypeError('graph expects 1 input(s) (x), got 0'));
    expect(() => gm.forward(Tensor.fromArray([1, 2]), Tensor.fromArray([1]))).toThrow('graph expects 1 input(s) (x), got 2');
  });
});

describe('Interpreter: overriding op kinds', () => {
  class Counting extends Interpreter {
    readonly calls: string[] = [];
    override getAttr(n: AnyNode, path: string): unknown { this.calls.push(`get_attr ${path}`); return super.getAttr(n, path); }
    override callFunction(n: AnyNode, fn: GraphFunction, args: unknown[], kwargs: Kwargs): unknown {
      this.calls.push(`call_function ${fn.name}`);
      return super.callFunction(n, fn, args, kwargs);
    }
    override callMethod(n: AnyNode, method: string, args: unknown[], kwargs: Kwargs): unknown {
      this.calls.push(`call_method ${method}`);
      return super.callMethod(n, method, args, kwargs);
    }
    override callModule(n: AnyNode, path: string, args: unknown[], kwargs: Kwargs): unknown {
      this.calls.push(`call_module ${path}`);
      return super.callModule(n, path, args, kwargs);
    }
    override output(n: AnyNode, value: unknown): unknown { this.calls.push('output'); return super.output(n, value); }
  }

  it('calls the method of each node kind, in order', () => {
    const it = new Counting(handBuilt());
    it.run(Tensor.fromArray([1, 2]));
    expect(it.calls).toEqual(['get_attr w', 'call_function itest.add', 'call_method itest_double', 'call_module scale', 'output']);
    // A call_module is one call: the submodule's own ops do not reach the interpreter.
    expect(it.calls.filter((c) => c.startsWith('call_function'))).toHaveLength(1);
  });

  it('lets a subclass change what a node computes', () => {
    class Doubling extends Interpreter {
      override callMethod(n: AnyNode, method: string, args: unknown[], kwargs: Kwargs): unknown {
        const r = super.callMethod(n, method, args, kwargs);
        return method === 'itest_double' ? double(r as Tensor) : r;
      }
    }
    const [y] = new Doubling(handBuilt()).run(Tensor.fromArray([1, 2])) as [Tensor];
    expect(values(y)).toEqual([88, 176]);
  });
});

describe('Interpreter: memory', () => {
  /** x -> a -> b -> c -> d, with x also used by d. */
  function longChain(): GraphModule {
    const g = new Graph();
    const x = g.placeholder('x');
    let prev = g.callMethod('itest_double', [x]).self;
    for (let i = 0; i < 3; i++) prev = g.callMethod('itest_double', [prev]).self;
    g.output(g.callFunction(addFn, [prev, x]));
    return new GraphModule(new Module(), g);
  }

  class EnvSize extends Interpreter {
    readonly sizes: number[] = [];
    override runNode(n: AnyNode): unknown {
      this.sizes.push(this.env.size);
      return super.runNode(n);
    }
  }

  it('frees each value right after its last use', () => {
    const it = new EnvSize(longChain());
    expect(values(it.run(Tensor.fromArray([1])))).toEqual([17]);
    // Before each node: x plus the one live intermediate.
    expect(it.sizes).toEqual([1, 2, 2, 2, 2, 1]);
    expect(it.env.size).toBe(0);
  });

  it('keeps every value when garbage collection is off', () => {
    const it = new EnvSize(longChain(), { garbageCollectValues: false });
    it.run(Tensor.fromArray([1]));
    expect(it.sizes).toEqual([1, 2, 3, 4, 5, 6]);
  });
});

describe('Interpreter: errors', () => {
  it('wraps a failing node in an InterpreterError naming node, op and target', () => {
    const g = new Graph();
    const x = g.placeholder('x');
    const bad = g.callFunction(failing, [x], {}, 'boom');
    g.output(bad);
    const gm = new GraphModule(new Module(), g);
    let err: unknown;
    try { gm.forward(Tensor.fromArray([1])); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(InterpreterError);
    const ie = err as InterpreterError;
    expect(ie.message).toBe("node 'boom' (call_function itest.fail): deliberate failure");
    expect(ie.node).toBe('boom');
    expect(ie.cause).toBeInstanceOf(RangeError);
  });

  it('names a call_method and a missing get_attr target', () => {
    const g = new Graph();
    const x = g.placeholder('x');
    g.output(g.callMethod('itest_no_such_method', [x]));
    expect(() => new GraphModule(new Module(), g).forward(Tensor.fromArray([1])))
      .toThrow("node 'itest_no_such_method' (call_method itest_no_such_method): unknown tensor method 'itest_no_such_method'");
    const gm = handBuilt();
    Reflect.deleteProperty(gm, 'w');
    expect(() => gm.forward(Tensor.fromArray([1, 2]))).toThrow("node 'w' (get_attr w): get_attr target 'w' does not exist on the module");
  });
});

describe('symbolicTrace', () => {
  class Branchy extends Module {
    override forward(x: Tensor): Tensor {
      if (x.shape[0]! > 2) return double(x);
      return x;
    }
  }

  it('refuses control flow on a traced value and names the user location', () => {
    let err: unknown;
    try { symbolicTrace(new Branchy()); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(TraceError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/^traced value 'size' was used as a number at /);
    expect(msg).toContain('ir_interpreter.test.ts');
    expect(msg).toContain('control flow');
  });

  it('refuses arithmetic that turns a traced tensor into a number', () => {
    const fn = (x: Tensor): Tensor => (+add(x, 1) > 0 ? x : double(x));
    expect(() => symbolicTrace(fn)).toThrow(/traced value 'add' was used as a number at .*ir_interpreter\.test\.ts/);
  });

  it('binds concreteArgs instead of making placeholders', () => {
    class Flagged extends Module {
      override forward(x: Tensor, twice: boolean): Tensor { return twice ? double(double(x)) : double(x); }
    }
    const gm = symbolicTrace(new Flagged(), { concreteArgs: { twice: true } });
    expect(gm.graph.placeholders.map((p) => p.name)).toEqual(['x']);
    expect(gm.graph.nodeList().filter((n) => n.op === 'call_method')).toHaveLength(2);
    expect(values(gm.forward(Tensor.fromArray([1])))).toEqual([4]);
    expect(() => symbolicTrace(new Flagged(), { concreteArgs: { thrice: true } }))
      .toThrow("concreteArgs: 'thrice' is not a parameter of forward (x, twice)");
  });

  class Inner extends Module {
    override forward(x: Tensor): Tensor { return double(x); }
  }
  class Other extends Module {
    override forward(x: Tensor): Tensor { return add(x, 1); }
  }
  class Outer extends Module {
    a = new Inner();
    b = new Inner();
    c = new Other();
    override forward(x: Tensor): Tensor {
      return this.c.forward(this.b.forward(this.a.forward(x)));
    }
  }
  const called = (gm: GraphModule): string[] => gm.graph.nodeList().filter((n) => n.op === 'call_module').map((n) => String(n.target));
  const input = Tensor.fromArray([1, 2]);

  it('traces through user modules by default', () => {
    const gm = symbolicTrace(new Outer());
    expect(called(gm)).toEqual([]);
    expect(values(gm.forward(input))).toEqual([5, 9]);
  });

  it('keeps leaf modules given by class, by path and by predicate', () => {
    expect(called(symbolicTrace(new Outer(), { leafModules: [Inner] }))).toEqual(['a', 'b']);
    expect(called(symbolicTrace(new Outer(), { leafModules: ['b'] }))).toEqual(['b']);
    const gm = symbolicTrace(new Outer(), { leafModules: [(m, path) => m instanceof Other || path === 'a'] });
    expect(called(gm)).toEqual(['a', 'c']);
    expect(values(gm.forward(input))).toEqual([5, 9]);
    gm.lint();
  });

  it('traces a plain function', () => {
    function affine(x: Tensor, y: Tensor): Tensor { return add(double(x), y); }
    const gm = symbolicTrace(affine);
    expect(gm.className).toBe('affine');
    expect(gm.graph.placeholders.map((p) => p.name)).toEqual(['x', 'y']);
    expect(values(gm.forward(Tensor.fromArray([1]), Tensor.fromArray([5])))).toEqual([7]);
  });

  it('turns tensors made inside forward into constants without touching the user module', () => {
    class WithConstant extends Module {
      w = new Parameter(Tensor.fromArray([1, 1]));
      inner = new Inner();
      override forward(x: Tensor): Tensor {
        return add(add(this.inner.forward(x), Tensor.fromArray([100, 200])), this.w);
      }
    }
    const m = new WithConstant();
    const keysBefore = Object.keys(m);
    const gm = symbolicTrace(m);
    expect(gm.graph.nodeList().filter((n) => n.op === 'get_attr').map((n) => n.target)).toEqual(['_tensor_constant0', 'w']);
    expect(values(gm.getAttr('_tensor_constant0'))).toEqual([100, 200]);
    expect(gm.getAttr('w')).toBe(m.w);
    expect(Object.keys(m)).toEqual(keysBefore);
    expect(m.getAttr('_tensor_constant0')).toBeUndefined();
    expect(Object.getOwnPropertyNames(m.inner)).not.toContain('forward');
    expect(values(gm.forward(input))).toEqual([103, 205]);
    expect(values(m.forward(input))).toEqual([103, 205]);
  });
});
