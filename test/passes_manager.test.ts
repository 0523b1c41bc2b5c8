import { describe, expect, it } from 'vitest';
import '../src/acc_ops/ops/index.js';
import { getAccOp } from '../src/acc_ops/registry.js';
import { Graph } from '../src/ir/graph.js';
import { GraphModule } from '../src/ir/graph_module.js';
import { targetName } from '../src/ir/print.js';
import { constFold } from '../src/passes/const_fold.js';
import { eliminateDeadCode } from '../src/passes/dce.js';
import { defaultPasses } from '../src/passes/index.js';
import { definePass, PassError, PassManager, type NamedPass, type Pass } from '../src/passes/pass_manager.js';
import { replaceMutableOps } from '../src/passes/replace_mutable_ops.js';
import { Tensor } from '../src/tensor/tensor.js';

const linear = getAccOp('linear');
const matmul = getAccOp('matmul');

/** y = linear(x, w, b); plus a dead matmul(x, x). */
function model(): GraphModule {
  const g = new Graph();
  const x = g.placeholder('x');
  const y = g.callFunction(linear, [], { input: x, weight: g.getAttr('w'), bias: g.getAttr('b') });
  g.callFunction(matmul, [], { input: x, other: g.getAttr('w') }, 'dead');
  g.output(y);
  return new GraphModule({ w: Tensor.randn([3, 3], { seed: 1 }), b: Tensor.randn([3], { seed: 2 }) }, g);
}

const noop = definePass('noop', (gm) => ({ gm, modified: false }));
const named = (name: string): NamedPass => definePass(name, (gm) => ({ gm, modified: false }));

/** Replaces the linear's bias by `bias + delta` (an output-changing pass). */
function perturbBias(delta: number): Pass {
  return definePass('perturbBias', (gm) => {
    const b = gm.getAttr('b');
    if (!(b instanceof Tensor)) throw new Error('no bias');
    const path = gm.addConstant('b_perturbed', Tensor.fromNumbers(b.toFloat64().map((v) => v + delta), b.shape));
    const lin = gm.graph.nodeList().find((n) => targetName(n) === 'acc.linear')!;
    lin.updateKwarg('bias', gm.graph.insertingBefore(lin, () => gm.graph.getAttr(path)));
    return { gm, modified: true };
  });
}

describe('PassManager', () => {
  it('runs passes in order, reports modification and calls onPass after each step', () => {
    const gm = model();
    const x = Tensor.randn([2, 3], { seed: 3 });
    const before = (gm.forward(x) as Tensor).toFloat64();
    const steps: string[] = [];
    const pm = new PassManager([noop, eliminateDeadCode], {
      onPass: (name, g, ms, modified) => {
        expect(ms).toBeGreaterThanOrEqual(0);
        steps.push(`${name}:${modified}:${g.graph.nodeList().map((n) => n.name).join(',')}`);
      },
    });
    expect(pm.passes.map((p) => p.passName)).toEqual(['noop', 'eliminateDeadCode']);
    const r = pm.run(gm);
    expect(r.modified).toBe(true);
    expect(steps).toEqual(['noop:false:x,w,b,linear,w_1,dead,output_1', 'eliminateDeadCode:true:x,w,b,linear,output_1']);
    r.gm.lint();
    expect((r.gm.forward(x) as Tensor).toFloat64()).toEqual(before);
    expect(new PassManager([noop]).run(model()).modified).toBe(false);
  });

  it('names plain functions by their own name', () => {
    const myPass: Pass = (gm) => ({ gm, modified: false });
    expect(new PassManager([myPass]).passes[0]!.passName).toBe('myPass');
  });

  it('checks ordering constraints at construction, naming both passes', () => {
    const a = named('a');
    const b = named('b');
    expect(() => new PassManager([a, b], { constraints: [{ before: 'a', after: 'b' }] })).not.toThrow();
    expect(() => new PassManager([b, a], { constraints: [{ before: 'a', after: 'b' }] }))
      .toThrow("pass ordering constraint violated: 'a' must run before 'b', but 'b' is at position 0 and 'a' at position 1");
    expect(() => new PassManager([b, a], { constraints: [[a, b]] })).toThrow(/'a' must run before 'b'/);
    expect(() => new PassManager([a, b, a], { constraints: [['a', 'b']] })).toThrow(/'a' must run before 'b'/);
    // A constraint on a pass that is not in the pipeline holds.
    expect(() => new PassManager([b], { constraints: [['a', 'b']] })).not.toThrow();
    // Passes declare their own dependencies.
    expect(() => new PassManager([constFold, replaceMutableOps]))
      .toThrow("'replaceMutableOps' must run before 'constFold'");
    expect(() => new PassManager(defaultPasses())).not.toThrow();
  });

  it('lints after every pass and names the pass whose output is malformed', () => {
    const breakIt = definePass('breakIt', (gm) => {
      const lin = gm.graph.nodeList().find((n) => targetName(n) === 'acc.linear')!;
      lin.updateKwarg('bias', gm.graph.insertingBefore(lin, () => gm.graph.getAttr('missing')));
      return { gm, modified: true };
    });
    const run = () => new PassManager([noop, breakIt, noop]).run(model());
    expect(run).toThrow(PassError);
    expect(run).toThrow(/^pass 'breakIt' produced a malformed graph: node 'missing' \(get_attr\): target 'missing' does not resolve/);
    try { run(); } catch (e) { expect(e instanceof PassError && e.passName).toBe('breakIt'); }
    expect(() => new PassManager([breakIt], { lint: false }).run(model())).not.toThrow();
  });

  it('wraps an error thrown inside a pass with the pass name', () => {
    const failing = definePass('failing', () => { throw new Error('boom'); });
    expect(() => new PassManager([noop, failing]).run(model())).toThrow("pass 'failing' failed: boom");
  });

  it('validates inference: a pass that changes outputs beyond tolerance is named with its errors', () => {
    const x = Tensor.randn([4, 3], { seed: 4 });
    const pm = new PassManager([noop, perturbBias(0.5), eliminateDeadCode], { validate: { inputs: [x] } });
    expect(() => pm.run(model())).toThrow(
      /^pass 'perturbBias' changed the module's outputs: output: max abs error 0\.5\d*, max rel error [\d.e-]+ \(rtol=0\.0001, atol=0\.00001\); first mismatch at flat index 0/);
    // Within tolerance (and the passes that do not change values) it runs through.
    const ok = new PassManager([perturbBias(1e-7), eliminateDeadCode], { validate: { inputs: [x], atol: 1e-6, rtol: 0 } }).run(model());
    expect(ok.modified).toBe(true);
    ok.gm.lint();
    expect(ok.gm.graph.nodeList().map((n) => n.name)).toEqual(['x', 'w', 'b_perturbed', 'linear', 'output_1']);
    expect(() => new PassManager([perturbBias(1e-5)], { validate: { inputs: [x], atol: 1e-6, rtol: 0 } }).run(model()))
      .toThrow(/pass 'perturbBias' changed the module's outputs: output: max abs error/);
    const wrongShape = definePass('wrongShape', (gm) => {
      gm.setAttr('b', Tensor.zeros([7]));
      return { gm, modified: true };
    });
    expect(() => new PassManager([wrongShape], { validate: { inputs: [x] } }).run(model()))
      .toThrow(/^pass 'wrongShape' produced a module that fails to run: node 'linear' \(call_function acc.linear\): /);
  });

  it('rejects invalid pass names', () => {
    expect(() => definePass('two words', (gm) => ({ gm, modified: false }))).toThrow("a pass name must be a non-empty word, got 'two words'");
  });
});
