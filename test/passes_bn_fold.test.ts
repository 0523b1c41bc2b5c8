import { describe, expect, it } from 'vitest';
import '../src/acc_ops/ops/index.js';
import { getAccOp } from '../src/acc_ops/registry.js';
import { Graph } from '../src/ir/graph.js';
import { GraphModule } from '../src/ir/graph_module.js';
import type { AnyNode, Argument } from '../src/ir/node.js';
import { targetName } from '../src/ir/print.js';
import { accTrace } from '../src/acc_ops/acc_tracer.js';
import { Module, nn, Parameter } from '../src/nn/index.js';
import { foldBatchNorm } from '../src/passes/fold_batch_norm.js';
import { defaultPasses } from '../src/passes/index.js';
import { PassManager } from '../src/passes/pass_manager.js';
import { ShapeProp } from '../src/passes/shape_prop.js';
import { Tensor } from '../src/tensor/tensor.js';

const call = (g: Graph, op: string, kwargs: Record<string, Argument>): AnyNode => g.callFunction(getAccOp(op), [], kwargs);
const listing = (gm: GraphModule): string[] => gm.graph.nodeList().map((n) => `${n.name}=${n.op}:${targetName(n)}`);

function maxAbsDiff(a: unknown, b: unknown): number {
  if (!(a instanceof Tensor) || !(b instanceof Tensor)) throw new Error('expected tensors');
  expect(b.shape).toEqual(a.shape);
  expect(b.dtype).toBe(a.dtype);
  const x = a.toFloat64();
  const y = b.toFloat64();
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
  return m;
}

interface BnStats { mean: Tensor; var: Tensor; gamma: Tensor | null; beta: Tensor | null }
function stats(c: number, seed: number, affine = true): BnStats {
  return {
    mean: Tensor.randn([c], { seed }),
    var: Tensor.rand([c], { seed: seed + 1, low: 0.5, high: 2 }),
    gamma: affine ? Tensor.randn([c], { seed: seed + 2 }) : null,
    beta: affine ? Tensor.randn([c], { seed: seed + 3 }) : null,
  };
}

/** x → layer(x, w, b?, ...layerKw) → batch_norm → output, with metadata from one run. */
function layerThenBn(op: string, weight: Tensor, bias: Tensor | null, bn: BnStats, layerKw: Record<string, Argument>, x: Tensor) {
  const g = new Graph();
  const attrs: Record<string, Tensor> = { w: weight, mean: bn.mean, var: bn.var };
  const xi = g.placeholder('x');
  const kw: Record<string, Argument> = { input: xi, weight: g.getAttr('w'), ...layerKw };
  if (bias) { attrs['b'] = bias; kw['bias'] = g.getAttr('b'); }
  const layer = call(g, op, kw);
  const bnKw: Record<string, Argument> = { input: layer, running_mean: g.getAttr('mean'), running_var: g.getAttr('var'), eps: 1e-3 };
  if (bn.gamma) { attrs['gamma'] = bn.gamma; bnKw['weight'] = g.getAttr('gamma'); }
  if (bn.beta) { attrs['beta'] = bn.beta; bnKw['bias'] = g.getAttr('beta'); }
  g.output(call(g, 'batch_norm', bnKw));
  const gm = new GraphModule(attrs, g);
  gm.training = false;
  new ShapeProp(gm).propagate(x);
  gm.lint();
  return gm;
}

const conv2dKw = { stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1 };

describe('foldBatchNorm', () => {
  it('folds batch norm into conv2d with a bias, without touching the original weights', () => {
    const x = Tensor.randn([2, 3, 5, 5], { seed: 1 });
    const w = Tensor.randn([4, 3, 3, 3], { seed: 2 });
    const b = Tensor.randn([4], { seed: 3 });
    const wBefore = w.toFloat64();
    const gm = layerThenBn('conv2d', w, b, stats(4, 10), conv2dKw, x);
    const before = gm.forward(x);
    const r = foldBatchNorm(gm);
    expect(r.modified).toBe(true);
    r.gm.lint();
    expect(listing(r.gm)).toEqual([
      'x=placeholder:x', 'conv2d_bn_weight=get_attr:conv2d_bn_weight', 'conv2d_bn_bias=get_attr:conv2d_bn_bias',
      'conv2d=call_function:acc.conv2d', 'output_1=output:output',
    ]);
    expect(r.gm.graph.toString()).toBe([
      'graph(x):',
      '    %x : float32[2, 3, 5, 5] [num_users=1] = placeholder[target=x]',
      '    %conv2d_bn_weight : float32[4, 3, 3, 3] [num_users=1] = get_attr[target=conv2d_bn_weight]',
      '    %conv2d_bn_bias : float32[4] [num_users=1] = get_attr[target=conv2d_bn_bias]',
      '    %conv2d : float32[2, 4, 5, 5] [num_users=1] = call_function[target=acc.conv2d](args = (), kwargs = {input: %x, ' +
        'weight: %conv2d_bn_weight, stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1, bias: %conv2d_bn_bias})',
      '    return %conv2d',
    ].join('\n'));
    expect(maxAbsDiff(before, r.gm.forward(x))).toBeLessThan(1e-4);
    expect(w.toFloat64()).toEqual(wBefore);
    // The old weights and statistics are no longer attributes of the module.
    expect(r.gm.getAttr('w')).toBeUndefined();
    expect(r.gm.getAttr('mean')).toBeUndefined();
    expect(r.gm.getAttr('conv2d_bn_weight')).toBeInstanceOf(Tensor);
  });

  it('folds into a bias-free conv and a non-affine norm', () => {
    const x = Tensor.randn([1, 2, 6, 6], { seed: 4 });
    const gm = layerThenBn('conv2d', Tensor.randn([3, 2, 3, 3], { seed: 5 }), null, stats(3, 20, false), conv2dKw, x);
    const before = gm.forward(x);
    expect(foldBatchNorm(gm).modified).toBe(true);
    gm.lint();
    expect(listing(gm).filter((l) => l.includes('batch_norm'))).toEqual([]);
    expect(maxAbsDiff(before, gm.forward(x))).toBeLessThan(1e-4);
  });

  it('folds into a grouped conv_transpose2d, whose weight is [in, out/groups, ...]', () => {
    const x = Tensor.randn([2, 4, 3, 3], { seed: 6 });
    const w = Tensor.randn([4, 3, 2, 2], { seed: 7 }); // 4 in, 2 groups → 6 out channels
    const kw = { stride: [2, 2], padding: [0, 0], output_padding: [0, 0], dilation: [1, 1], groups: 2 };
    const gm = layerThenBn('conv_transpose2d', w, Tensor.randn([6], { seed: 8 }), stats(6, 30), kw, x);
    const before = gm.forward(x);
    expect(foldBatchNorm(gm).modified).toBe(true);
    gm.lint();
    expect(listing(gm)).toContain('conv_transpose2d=call_function:acc.conv_transpose2d');
    expect(listing(gm).some((l) => l.includes('batch_norm'))).toBe(false);
    expect(maxAbsDiff(before, gm.forward(x))).toBeLessThan(1e-4);
  });

  it('folds into conv1d and conv3d', () => {
    const x1 = Tensor.randn([2, 3, 7], { seed: 9 });
    const gm1 = layerThenBn('conv1d', Tensor.randn([5, 3, 3], { seed: 10 }), null, stats(5, 40),
      { stride: [1], padding: [0], dilation: [1], groups: 1 }, x1);
    const before1 = gm1.forward(x1);
    expect(foldBatchNorm(gm1).modified).toBe(true);
    gm1.lint();
    expect(maxAbsDiff(before1, gm1.forward(x1))).toBeLessThan(1e-4);

    const x3 = Tensor.randn([1, 2, 3, 4, 4], { seed: 11 });
    const gm3 = layerThenBn('conv3d', Tensor.randn([2, 1, 2, 2, 2], { seed: 12 }), Tensor.randn([2], { seed: 13 }), stats(2, 50),
      { stride: [1, 1, 1], padding: [0, 1, 1], dilation: [1, 1, 1], groups: 2 }, x3);
    const before3 = gm3.forward(x3);
    expect(foldBatchNorm(gm3).modified).toBe(true);
    gm3.lint();
    expect(listing(gm3).some((l) => l.includes('batch_norm'))).toBe(false);
    expect(maxAbsDiff(before3, gm3.forward(x3))).toBeLessThan(1e-4);
  });

  it('folds into linear with a [N, features] output but not a [N, L, features] one (dim 1 is not the feature dim)', () => {
    const x = Tensor.randn([4, 3], { seed: 14 });
    const gm = layerThenBn('linear', Tensor.randn([5, 3], { seed: 15 }), Tensor.randn([5], { seed: 16 }), stats(5, 60), {}, x);
    const before = gm.forward(x);
    expect(foldBatchNorm(gm).modified).toBe(true);
    gm.lint();
    expect(listing(gm)).toEqual([
      'x=placeholder:x', 'linear_bn_weight=get_attr:linear_bn_weight', 'linear_bn_bias=get_attr:linear_bn_bias',
      'linear=call_function:acc.linear', 'output_1=output:output',
    ]);
    expect(maxAbsDiff(before, gm.forward(x))).toBeLessThan(1e-4);

    const x3 = Tensor.randn([2, 5, 3], { seed: 17 });
    const gm3 = layerThenBn('linear', Tensor.randn([4, 3], { seed: 18 }), null, stats(5, 70), {}, x3);
    const text = gm3.graph.toString();
    expect(foldBatchNorm(gm3).modified).toBe(false);
    expect(gm3.graph.toString()).toBe(text);
  });

  it('keeps the norm when the conv output has another user', () => {
    const x = Tensor.randn([1, 3, 4, 4], { seed: 19 });
    const gm = layerThenBn('conv2d', Tensor.randn([2, 3, 3, 3], { seed: 20 }), null, stats(2, 80), conv2dKw, x);
    const conv = gm.graph.nodeList().find((n) => targetName(n) === 'acc.conv2d')!;
    const out = gm.graph.outputNode!;
    out.args = [[out.args[0], conv]];
    gm.lint();
    const text = gm.graph.toString();
    const before = gm.forward(x);
    expect(foldBatchNorm(gm).modified).toBe(false);
    expect(gm.graph.toString()).toBe(text);
    gm.lint();
    expect(gm.forward(x)).toEqual(before);
  });

  it('keeps the norm when its statistics are not constants, or without shape metadata', () => {
    const g = new Graph();
    const x = g.placeholder('x');
    const mean = g.placeholder('mean');
    const conv = call(g, 'conv2d', { input: x, weight: g.getAttr('w'), ...conv2dKw });
    g.output(call(g, 'batch_norm', { input: conv, running_mean: mean, running_var: g.getAttr('var') }));
    const gm = new GraphModule({ w: Tensor.randn([2, 1, 3, 3], { seed: 21 }), var: Tensor.ones([2]) }, g);
    const xs = Tensor.randn([1, 1, 4, 4], { seed: 22 });
    const m = Tensor.zeros([2]);
    new ShapeProp(gm).propagate(xs, m);
    const text = gm.graph.toString();
    expect(foldBatchNorm(gm).modified).toBe(false);
    expect(gm.graph.toString()).toBe(text);

    const noMeta = layerThenBn('conv2d', Tensor.randn([2, 1, 3, 3], { seed: 23 }), null, stats(2, 90), conv2dKw, xs);
    for (const n of noMeta.graph.nodes()) delete n.meta.tensorMeta;
    expect(foldBatchNorm(noMeta).modified).toBe(false);
    noMeta.lint();
  });

  it('leaves a weight shared with another conv intact for that conv', () => {
    const g = new Graph();
    const x = g.placeholder('x');
    const w = g.getAttr('w');
    const a = call(g, 'conv2d', { input: x, weight: w, ...conv2dKw });
    const bn = call(g, 'batch_norm', { input: a, running_mean: g.getAttr('mean'), running_var: g.getAttr('var') });
    const b = call(g, 'conv2d', { input: x, weight: w, ...conv2dKw });
    g.output([bn, b]);
    const s = stats(2, 100);
    const gm = new GraphModule({ w: Tensor.randn([2, 2, 3, 3], { seed: 24 }), mean: s.mean, var: s.var }, g);
    const xs = Tensor.randn([1, 2, 5, 5], { seed: 25 });
    new ShapeProp(gm).propagate(xs);
    const before = gm.forward(xs) as Tensor[];
    expect(foldBatchNorm(gm).modified).toBe(true);
    gm.lint();
    expect(listing(gm)).toEqual([
      'x=placeholder:x', 'w=get_attr:w', 'conv2d_bn_weight=get_attr:conv2d_bn_weight', 'conv2d_bn_bias=get_attr:conv2d_bn_bias',
      'conv2d=call_function:acc.conv2d', 'conv2d_1=call_function:acc.conv2d', 'output_1=output:output',
    ]);
    const after = gm.forward(xs) as Tensor[];
    expect(maxAbsDiff(before[0], after[0])).toBeLessThan(1e-4);
    expect(after[1]!.toFloat64()).toEqual(before[1]!.toFloat64());
  });

  it('folds every norm of a traced conv / conv-transpose / linear model in the default pipeline', () => {
    const randomize = (bn: nn.BatchNorm1d | nn.BatchNorm2d, c: number, seed: number): void => {
      const st = stats(c, seed);
      bn.running_mean = st.mean;
      bn.running_var = st.var;
      bn.weight = new Parameter(st.gamma!);
      bn.bias = new Parameter(st.beta!);
    };
    class Net extends Module {
      conv = new nn.Conv2d(3, 8, 3, { padding: 1, bias: false });
      bn1 = new nn.BatchNorm2d(8);
      up = new nn.ConvTranspose2d(8, 4, 2, { stride: 2, groups: 2 });
      bn2 = new nn.BatchNorm2d(4);
      fc = new nn.Linear(4 * 8 * 8, 6);
      bn3 = new nn.BatchNorm1d(6);
      override forward(x: Tensor): Tensor {
        const h = (this.bn2.forward(this.up.forward((this.bn1.forward(this.conv.forward(x)) as Tensor).relu())) as Tensor).relu();
        return this.bn3.forward(this.fc.forward(h.flatten(1))) as Tensor;
      }
    }
    const net = new Net();
    randomize(net.bn1, 8, 200);
    randomize(net.bn2, 4, 210);
    randomize(net.bn3, 6, 220);
    net.eval();
    const x = Tensor.randn([2, 3, 4, 4], { seed: 26 });
    const expected = net.forward(x);
    const acc = accTrace(net, [x]);
    expect(acc.graph.nodeList().filter((n) => targetName(n) === 'acc.batch_norm')).toHaveLength(3);
    const { gm } = new PassManager(defaultPasses(), { validate: { inputs: [x] } }).run(acc);
    gm.lint();
    expect(gm.graph.nodeList().filter((n) => n.op === 'call_function').map((n) => targetName(n))).toEqual([
      'acc.conv2d', 'acc.relu', 'acc.conv_transpose2d', 'acc.relu', 'acc.flatten', 'acc.linear',
    ]);
    expect(maxAbsDiff(expected, gm.forward(x))).toBeLessThan(1e-4);
  });
});
