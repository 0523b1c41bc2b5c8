// Graph passes that repair Q/DQ placements blocking INT8 fusion: the Q/DQ between a conv(+bn) and
// the residual add (seed 002), batch norm after a (de)convolution folded as if before quantization,
// and the uint8 Cast between Q and DQ (seed 003). Structure before/after and numerical agreement
// within the quantization's own error.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import '../src/acc_ops/ops/index.js';
import { getAccOp } from '../src/acc_ops/registry.js';
import { compile, type CompileStage } from '../src/compile.js';
import { Graph } from '../src/ir/graph.js';
import { GraphModule } from '../src/ir/graph_module.js';
import type { AnyNode, Argument } from '../src/ir/node.js';
import { importOnnx } from '../src/onnx/index.js';
import {
  accOpName, defaultPasses, foldBatchNorm, PassManager, qdqCastRepair, qdqResidualRepair, ShapeProp,
} from '../src/passes/index.js';
import { Tensor } from '../src/tensor/tensor.js';

const call = (g: Graph, op: string, kwargs: Record<string, Argument>, name?: string): AnyNode => g.callFunction(getAccOp(op), [], kwargs, name);
const ops = (gm: GraphModule): string[] => gm.graph.nodeList().filter((n) => n.op === 'call_function').map((n) => accOpName(n) ?? n.name);
const conv2dKw = { stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1 };

function maxAbs(t: Tensor): number {
  return Math.max(...Array.from(t.toFloat64(), Math.abs));
}

/** Per-channel symmetric int8 scales of `w` along `axis` (max |w| / 127). */
function channelScales(w: Tensor, axis: number): Tensor {
  const c = w.shape[axis]!;
  let inner = 1;
  for (let d = axis + 1; d < w.rank; d++) inner *= w.shape[d]!;
  const m = new Float64Array(c);
  w.toFloat64().forEach((v, i) => { const ch = Math.floor(i / inner) % c; m[ch] = Math.max(m[ch]!, Math.abs(v) / 127); });
  return Tensor.fromNumbers(m, [c]);
}

/** Adds dequantize(quantize_per_channel(w)) for constant `w`, registering the attributes. */
function quantizedWeight(g: Graph, attrs: Record<string, Tensor>, name: string, w: Tensor, axis: number): AnyNode {
  attrs[name] = w;
  attrs[`${name}_scales`] = channelScales(w, axis);
  attrs[`${name}_zp`] = Tensor.fromStorage(new BigInt64Array(w.shape[axis]!), [w.shape[axis]!], 'int64');
  const q = call(g, 'quantize_per_channel', {
    input: g.getAttr(name), scales: g.getAttr(`${name}_scales`), zero_points: g.getAttr(`${name}_zp`), axis, dtype: 'int8',
  });
  return call(g, 'dequantize', { input: q });
}

/** dequantize(quantize_per_tensor(x, scale)). */
function qdq(g: Graph, x: AnyNode, scale: number, name?: string): AnyNode {
  return call(g, 'dequantize', { input: call(g, 'quantize_per_tensor', { input: x, scale, zero_point: 0, dtype: 'int8' }, name ? `${name}_q` : undefined) }, name);
}

interface BnStats { mean: Tensor; var: Tensor; gamma: Tensor; beta: Tensor }
function stats(c: number, seed: number, negative = false): BnStats {
  const gamma = Tensor.randn([c], { seed: seed + 2 }).toFloat64().map((v, i) => (negative && i % 2 === 1 ? -1 : 1) * (0.5 + Math.abs(v)));
  return {
    mean: Tensor.randn([c], { seed }),
    var: Tensor.rand([c], { seed: seed + 1, low: 0.5, high: 2 }),
    gamma: Tensor.fromNumbers(gamma, [c]),
    beta: Tensor.randn([c], { seed: seed + 3 }),
  };
}

function batchNorm(g: Graph, attrs: Record<string, Tensor>, name: string, x: AnyNode, s: BnStats): AnyNode {
  Object.assign(attrs, { [`${name}_mean`]: s.mean, [`${name}_var`]: s.var, [`${name}_gamma`]: s.gamma, [`${name}_beta`]: s.beta });
  return call(g, 'batch_norm', {
    input: x, running_mean: g.getAttr(`${name}_mean`), running_var: g.getAttr(`${name}_var`),
    weight: g.getAttr(`${name}_gamma`), bias: g.getAttr(`${name}_beta`), eps: 1e-5,
  }, name);
}

/** BN's per-channel multiplier gamma / sqrt(var + eps). */
function bnScale(s: BnStats): Float64Array {
  const v = s.var.toFloat64();
  return s.gamma.toFloat64().map((g, i) => g / Math.sqrt(v[i]! + 1e-5));
}

/** A module over `g` with metadata from one run on `x`. */
function moduleOf(attrs: Record<string, Tensor>, g: Graph, x: Tensor): GraphModule {
  const gm = new GraphModule(attrs, g);
  gm.training = false;
  new ShapeProp(gm).propagate(x);
  gm.lint();
  return gm;
}

/** Expects |a - b| <= bound(i) everywhere. */
function expectWithin(a: Tensor, b: Tensor, bound: (i: number) => number): void {
  expect(a.shape).toEqual(b.shape);
  const x = a.toFloat64();
  const y = b.toFloat64();
  for (let i = 0; i < x.length; i++) {
    if (!(Math.abs(x[i]! - y[i]!) <= bound(i))) expect(x[i], `element ${i} (bound ${bound(i)})`).toBe(y[i]);
  }
}

/**
 * Seed 002's block: DQ(x) → conv2d(DQ(w)) → batch_norm → Q → DQ → add(·, DQ(x)) → relu, with the
 * conv output's pair scaled so that it never clips; returns the module and that pair's scale.
 */
function residualBlock(seed: number): { gm: GraphModule; x: Tensor; pairScale: number } {
  const x = Tensor.randn([1, 4, 6, 6], { seed });
  const build = (pairScale: number): GraphModule => {
    const g = new Graph();
    const attrs: Record<string, Tensor> = { b: Tensor.randn([4], { seed: seed + 1 }) };
    const dqx = qdq(g, g.placeholder('x'), maxAbs(x) / 127, 'x_dq');
    const w = quantizedWeight(g, attrs, 'w', Tensor.randn([4, 4, 3, 3], { seed: seed + 2, std: 0.3 }), 0);
    const conv = call(g, 'conv2d', { input: dqx, weight: w, bias: g.getAttr('b'), ...conv2dKw }, 'conv');
    const bn = batchNorm(g, attrs, 'bn', conv, stats(4, seed + 3));
    const add = call(g, 'add', { input: qdq(g, bn, pairScale, 'bn_dq'), other: dqx }, 'add');
    g.output(call(g, 'relu', { input: add }, 'relu'));
    return moduleOf(attrs, g, x);
  };
  // The pair's scale from the norm's output on x: max |bn| maps to 127.
  const pairScale = maxOutputOf(build(1), x, 'bn') / 127;
  return { gm: build(pairScale), x, pairScale };
}

/** max |value of node `name`| on x, computed by a copy of the graph up to that node. */
function maxOutputOf(gm: GraphModule, x: Tensor, name: string): number {
  const g = new Graph();
  const env = new Map<AnyNode, AnyNode>();
  for (const n of gm.graph.nodes()) {
    const copy = g.nodeCopy(n, (a) => env.get(a)!);
    env.set(n, copy);
    if (n.name === name) {
      g.output(copy);
      break;
    }
  }
  return maxAbs(new GraphModule(gm, g).forward(x) as Tensor);
}

describe('qdqResidualRepair', () => {
  it('lets the conv(+bn) output feed the residual add in float; the other input keeps its Q/DQ (seed 002)', () => {
    const { gm, x, pairScale } = residualBlock(10);
    const before = gm.forward(x) as Tensor;
    expect(ops(gm)).toEqual([
      'quantize_per_tensor', 'dequantize', 'quantize_per_channel', 'dequantize', 'conv2d', 'batch_norm',
      'quantize_per_tensor', 'dequantize', 'add', 'relu',
    ]);
    expect(qdqResidualRepair(gm).modified).toBe(true);
    gm.lint();
    expect(ops(gm)).toEqual(['quantize_per_tensor', 'dequantize', 'quantize_per_channel', 'dequantize', 'conv2d', 'batch_norm', 'add', 'relu']);
    const add = gm.graph.nodeList().find((n) => n.name === 'add')!;
    expect((add.kwargs['input'] as AnyNode).name).toBe('bn');
    expect((add.kwargs['other'] as AnyNode).name).toBe('x_dq');
    // One quantization step less: within half the removed pair's step (ReLU is 1-Lipschitz; no clipping).
    const after = gm.forward(x) as Tensor;
    expectWithin(after, before, () => pairScale / 2 + 1e-6);
    expect(Math.max(...Array.from(after.toFloat64(), (v, i) => Math.abs(v - before.toFloat64()[i]!)))).toBeGreaterThan(0);
    // foldBatchNorm then folds the norm into the conv's quantized weight: DQ(x) → conv(DQ(w')) → add.
    expect(foldBatchNorm(gm).modified).toBe(true);
    expect(ops(gm)).toEqual(['quantize_per_tensor', 'dequantize', 'dequantize', 'conv2d', 'add', 'relu']);
    expectWithin(gm.forward(x) as Tensor, after, (i) => 1e-5 * (1 + Math.abs(after.toFloat64()[i]!)));
  });

  it('runs by default for precision int8, before the build', async () => {
    const { gm, x, pairScale } = residualBlock(20);
    const expected = gm.forward(x) as Tensor;
    const messages: string[] = [];
    const lowered = await compile(gm, [x], {
      precision: 'int8', device: 'cpu', onProgress: (stage: CompileStage, { message }) => { if (stage === 'passes') messages.push(message); },
    });
    expect(messages.join()).toMatch(/qdqCastRepair, qdqResidualRepair, foldBatchNorm/);
    const [y] = await lowered.run([x]);
    const tol = 1e-4 * maxAbs(expected);
    expectWithin(y!, expected, () => pairScale / 2 + tol);
    expect(defaultPasses().map((p) => p.passName)).not.toContain('qdqResidualRepair');
  });

  it('repairs one side of an add of two quantized convs: the input side (PyTorch `out += identity`)', () => {
    const x = Tensor.randn([1, 3, 5, 5], { seed: 30 });
    const g = new Graph();
    const attrs: Record<string, Tensor> = {};
    const dqx = qdq(g, g.placeholder('x'), maxAbs(x) / 127);
    const main = call(g, 'conv2d', { input: dqx, weight: quantizedWeight(g, attrs, 'wa', Tensor.randn([3, 3, 3, 3], { seed: 31 }), 0), ...conv2dKw }, 'main');
    const short = call(g, 'conv2d', { input: dqx, weight: quantizedWeight(g, attrs, 'wb', Tensor.randn([3, 3, 3, 3], { seed: 32 }), 0), ...conv2dKw }, 'short');
    g.output(call(g, 'add', { input: qdq(g, main, 0.1, 'main_dq'), other: qdq(g, short, 0.1, 'short_dq') }, 'add'));
    const gm = moduleOf(attrs, g, x);
    expect(qdqResidualRepair(gm).modified).toBe(true);
    const add = gm.graph.nodeList().find((n) => n.name === 'add')!;
    expect((add.kwargs['input'] as AnyNode).name).toBe('main');
    expect((add.kwargs['other'] as AnyNode).name).toBe('short_dq');
    expect(qdqResidualRepair(gm).modified).toBe(false);
  });

  it('leaves pairs that something else sees, broadcasting adds and float convs', () => {
    const x = Tensor.randn([1, 3, 5, 5], { seed: 40 });
    const variants: Record<string, (g: Graph, attrs: Record<string, Tensor>, dqx: AnyNode, rawX: AnyNode) => Argument> = {
      'the conv output has another user': (g, attrs, dqx) => {
        const conv = call(g, 'conv2d', { input: dqx, weight: quantizedWeight(g, attrs, 'w', Tensor.randn([3, 3, 3, 3], { seed: 41 }), 0), ...conv2dKw });
        return [call(g, 'add', { input: qdq(g, conv, 0.1), other: dqx }), conv];
      },
      'the dequantize has another user': (g, attrs, dqx) => {
        const conv = call(g, 'conv2d', { input: dqx, weight: quantizedWeight(g, attrs, 'w', Tensor.randn([3, 3, 3, 3], { seed: 41 }), 0), ...conv2dKw });
        const dq = qdq(g, conv, 0.1);
        return [call(g, 'add', { input: dq, other: dqx }), call(g, 'relu', { input: dq })];
      },
      'the add broadcasts the other input': (g, attrs, dqx) => {
        attrs['bias'] = Tensor.randn([1, 3, 1, 1], { seed: 42 });
        const conv = call(g, 'conv2d', { input: dqx, weight: quantizedWeight(g, attrs, 'w', Tensor.randn([3, 3, 3, 3], { seed: 41 }), 0), ...conv2dKw });
        return call(g, 'add', { input: qdq(g, conv, 0.1), other: g.getAttr('bias') });
      },
      'the conv is not quantized (float input)': (g, attrs, dqx, rawX) => {
        const conv = call(g, 'conv2d', { input: rawX, weight: quantizedWeight(g, attrs, 'w', Tensor.randn([3, 3, 3, 3], { seed: 41 }), 0), ...conv2dKw });
        return call(g, 'add', { input: qdq(g, conv, 0.1), other: dqx });
      },
    };
    for (const [why, body] of Object.entries(variants)) {
      const g = new Graph();
      const attrs: Record<string, Tensor> = {};
      const raw = g.placeholder('x');
      g.output(body(g, attrs, qdq(g, raw, maxAbs(x) / 127), raw));
      const gm = moduleOf(attrs, g, x);
      const text = gm.graph.toString();
      expect(qdqResidualRepair(gm).modified, why).toBe(false);
      expect(gm.graph.toString(), why).toBe(text);
    }
  });

  it('removes the pair between a deconvolution and its batch norm, which then folds into the int8 weights', () => {
    const x = Tensor.randn([1, 4, 3, 3], { seed: 50 });
    const s = stats(6, 51, true);
    const build = (pairScale: number): GraphModule => {
      const g = new Graph();
      const attrs: Record<string, Tensor> = { b: Tensor.randn([6], { seed: 52 }) };
      const input = g.placeholder('x');
      const w = quantizedWeight(g, attrs, 'w', Tensor.randn([4, 6, 2, 2], { seed: 53, std: 0.5 }), 1); // [in, out, k, k]: out is dim 1
      const up = call(g, 'conv_transpose2d', {
        input: qdq(g, input, maxAbs(x) / 127), weight: w, bias: g.getAttr('b'),
        stride: [2, 2], padding: [0, 0], output_padding: [0, 0], dilation: [1, 1], groups: 1,
      }, 'up');
      g.output(call(g, 'relu', { input: batchNorm(g, attrs, 'bn', qdq(g, up, pairScale, 'up_dq'), s) }));
      return moduleOf(attrs, g, x);
    };
    const pairScale = maxOutputOf(build(1), x, 'up') / 127;
    const gm = build(pairScale);
    const before = gm.forward(x) as Tensor;
    const { gm: repaired } = new PassManager(defaultPasses({ qdqRepairs: true })).run(gm);
    expect(ops(repaired)).toEqual(['dequantize', 'quantize_per_tensor', 'dequantize', 'conv_transpose2d', 'relu']);
    const up = repaired.graph.nodeList().find((n) => n.name === 'up')!;
    const codes = repaired.getAttr(((up.kwargs['weight'] as AnyNode).kwargs['input'] as AnyNode).target as string) as Tensor;
    expect(codes.dtype).toBe('int8');
    expect(codes.qparams?.axis).toBe(1);
    // The removed pair rounded the deconv output by at most pairScale / 2, which the norm scales per channel.
    const m = bnScale(s);
    const after = repaired.forward(x) as Tensor;
    expectWithin(after, before, (i) => Math.abs(m[Math.floor(i / 36) % 6]!) * pairScale / 2 + 1e-5 * (1 + Math.abs(before.toFloat64()[i]!)));
  });
});

describe('foldBatchNorm through quantized weights', () => {
  /** x → layer(DQ(weight)) → batch_norm, the weight given by `weight`. */
  function layerBn(op: string, kw: Record<string, Argument>, x: Tensor, s: BnStats, weight: (g: Graph, attrs: Record<string, Tensor>) => AnyNode): GraphModule {
    const g = new Graph();
    const attrs: Record<string, Tensor> = {};
    const layer = call(g, op, { input: g.placeholder('x'), weight: weight(g, attrs), ...kw }, 'layer');
    g.output(batchNorm(g, attrs, 'bn', layer, s));
    return moduleOf(attrs, g, x);
  }
  const deconvKw = { stride: [2, 2], padding: [0, 0], output_padding: [0, 0], dilation: [1, 1], groups: 1 };

  it('scales per-channel scales by |s| and flips the codes of channels with s < 0: the same dequantized weight times s', () => {
    const x = Tensor.randn([2, 4, 3, 3], { seed: 60 });
    const w = Tensor.randn([4, 6, 2, 2], { seed: 61 });
    const s = stats(6, 62, true);
    const gm = layerBn('conv_transpose2d', deconvKw, x, s, (g, attrs) => quantizedWeight(g, attrs, 'w', w, 1));
    const before = gm.forward(x) as Tensor;
    expect(foldBatchNorm(gm).modified).toBe(true);
    gm.lint();
    expect(ops(gm)).toEqual(['dequantize', 'conv_transpose2d']);
    expectWithin(gm.forward(x) as Tensor, before, (i) => 1e-5 * (1 + Math.abs(before.toFloat64()[i]!)));
    const dq = gm.graph.nodeList().find((n) => accOpName(n) === 'dequantize')!;
    const codes = gm.getAttr((dq.kwargs['input'] as AnyNode).target as string) as Tensor;
    const original = quantizedCodes(w, 1);
    const m = bnScale(s);
    const scales = channelScales(w, 1).toFloat64();
    codes.toFloat64().forEach((q, i) => expect(q).toBe(Math.sign(m[Math.floor(i / 4) % 6]!) * original[i]! + 0)); // + 0: no -0
    Array.from(codes.qparams!.scale).forEach((sc, c) => expect(sc).toBe(Math.fround(scales[c]! * Math.abs(m[c]!))));
    expect(gm.getAttr('w')).toBeUndefined(); // the float weight and its quantize are gone
  });

  it('folds a conv2d with int8 constant codes per tensor into per-channel codes', () => {
    const x = Tensor.randn([1, 3, 5, 5], { seed: 63 });
    const w = Tensor.randn([4, 3, 3, 3], { seed: 64 });
    const scale = maxAbs(w) / 127;
    const codes = new Tensor(Tensor.fromNumbers(w.toFloat64().map((v) => Math.round(v / scale)), w.shape, 'int8').data, w.shape, 'int8',
      { scale: Float32Array.of(scale), zeroPoint: Int32Array.of(0) });
    const gm = layerBn('conv2d', conv2dKw, x, stats(4, 65, true), (g, attrs) => {
      attrs['codes'] = codes;
      return call(g, 'dequantize', { input: g.getAttr('codes') });
    });
    const before = gm.forward(x) as Tensor;
    expect(foldBatchNorm(gm).modified).toBe(true);
    expectWithin(gm.forward(x) as Tensor, before, (i) => 1e-5 * (1 + Math.abs(before.toFloat64()[i]!)));
    const dq = gm.graph.nodeList().find((n) => accOpName(n) === 'dequantize')!;
    expect((gm.getAttr((dq.kwargs['input'] as AnyNode).target as string) as Tensor).qparams?.axis).toBe(0);
  });

  it('does not fold when the codes cannot absorb s exactly', () => {
    const x = Tensor.randn([1, 4, 3, 3], { seed: 66 });
    const w = Tensor.randn([4, 6, 2, 2], { seed: 67 });
    const withMinus128 = (g: Graph, attrs: Record<string, Tensor>): AnyNode => {
      const q = quantizedCodes(w, 1);
      q[4] = -128; // element 4 is in channel 1 (dim 1 of [4, 6, 2, 2]), whose s is negative: -(-128) is not an int8
      attrs['codes'] = new Tensor(Tensor.fromNumbers(q, w.shape, 'int8').data, w.shape, 'int8',
        { scale: Float32Array.from(channelScales(w, 1).toFloat32()), zeroPoint: new Int32Array(6), axis: 1 });
      return call(g, 'dequantize', { input: g.getAttr('codes') });
    };
    const cases: Record<string, GraphModule> = {
      'quantized along the input channels (dim 0)': layerBn('conv_transpose2d', deconvKw, x, stats(6, 68), (g, attrs) => quantizedWeight(g, attrs, 'w', w, 0)),
      'a grouped deconvolution quantized along dim 1': layerBn('conv_transpose2d', { ...deconvKw, groups: 2 }, x, stats(12, 69),
        (g, attrs) => quantizedWeight(g, attrs, 'w', w, 1)),
      'a -128 code in a channel whose sign flips': layerBn('conv_transpose2d', deconvKw, x, stats(6, 70, true), withMinus128),
    };
    for (const [why, gm] of Object.entries(cases)) {
      const text = gm.graph.toString();
      expect(foldBatchNorm(gm).modified, why).toBe(false);
      expect(gm.graph.toString(), why).toBe(text);
    }
  });
});

/** The int8 codes quantize_per_channel gives `w` with channelScales along `axis`. */
function quantizedCodes(w: Tensor, axis: number): Float64Array {
  const g = new Graph();
  const attrs: Record<string, Tensor> = {};
  g.output(call(g, 'quantize_per_channel', { input: g.placeholder('w'), scales: g.getAttr('s'), zero_points: g.getAttr('z'), axis, dtype: 'int8' }));
  attrs['s'] = channelScales(w, axis);
  attrs['z'] = Tensor.fromStorage(new BigInt64Array(w.shape[axis]!), [w.shape[axis]!], 'int64');
  return (new GraphModule(attrs, g).forward(w) as Tensor).toFloat64();
}

describe('qdqCastRepair', () => {
  const DIR = join(import.meta.dirname, 'fixtures', 'onnx');

  it('repairs an ONNX QDQ model imported as written exactly as the importer repairs it (seed 003)', () => {
    const asWritten = importOnnx(join(DIR, 'net_qdq_cnn_uint8cast_o13.onnx'), { repairQdqCasts: false });
    const twin = importOnnx(join(DIR, 'net_qdq_cnn_o13.onnx')); // the same model exported without the casts
    const x = Tensor.rand([1, 3, 8, 8], { seed: 3, low: -3, high: 3 });
    const wrong = asWritten.forward(x) as Tensor;
    const right = twin.forward(x) as Tensor;
    expect(maxAbs(Tensor.fromNumbers(wrong.toFloat64().map((v, i) => v - right.toFloat64()[i]!), wrong.shape))).toBeGreaterThan(1e-2);
    const casts = (gm: GraphModule): number => gm.graph.nodeList().filter((n) => accOpName(n) === 'to_dtype' && n.kwargs['dtype'] === 'uint8').length;
    expect(casts(asWritten)).toBe(6);
    const { gm, modified } = new PassManager([qdqCastRepair]).run(asWritten);
    expect(modified).toBe(true);
    expect(casts(gm)).toBe(0);
    expect(ops(gm).filter((o) => o === 'dequantize')).toHaveLength(6);
    expect(ops(gm).filter((o) => o === 'sub' || o === 'mul' || o === 'to_dtype')).toEqual([]);
    expect(Array.from((gm.forward(x) as Tensor).toFloat32())).toEqual(Array.from(right.toFloat32()));
  });

  it('repairs dequantize(cast) and the arithmetic form, int8 → uint8 and uint8 → int8', () => {
    const x = Tensor.randn([2, 5], { seed: 80 });
    const forms: Record<string, { dtype: 'int8' | 'uint8'; zp: number; runs: boolean; tail: (g: Graph, c: AnyNode) => AnyNode }> = {
      'dequantize of the cast': { dtype: 'int8', zp: 0, runs: false, tail: (g, c) => call(g, 'dequantize', { input: c }) },
      'arithmetic, uint8 codes read as int8': {
        dtype: 'uint8', zp: 128, runs: true,
        tail: (g, c) => call(g, 'mul', { input: g.getAttr('scale'), other: call(g, 'sub', { input: call(g, 'to_dtype', { input: c, dtype: 'float32' }), other: -128 }) }),
      },
    };
    for (const [why, { dtype, zp, runs, tail }] of Object.entries(forms)) {
      const g = new Graph();
      const q = call(g, 'quantize_per_tensor', { input: g.placeholder('x'), scale: 0.05, zero_point: zp, dtype }, 'q');
      g.output(tail(g, call(g, 'to_dtype', { input: q, dtype: dtype === 'int8' ? 'uint8' : 'int8' })));
      const gm = new GraphModule({ scale: Tensor.fromNumbers([0.05], []) }, g);
      let before: Tensor | undefined;
      if (runs) {
        new ShapeProp(gm).propagate(x);
        before = gm.forward(x) as Tensor;
      } else {
        // As written the dequantize has no parameters to use; the pass needs only the quantize's shape.
        expect(() => gm.forward(x), why).toThrow(/carries no quantization parameters/);
        q.meta.tensorMeta = { shape: [2, 5], dtype };
      }
      expect(qdqCastRepair(gm).modified, why).toBe(true);
      gm.lint();
      expect(ops(gm), why).toEqual(['quantize_per_tensor', 'dequantize']);
      const expected = fakeQuant(x, 0.05, zp, dtype);
      expect(Array.from((gm.forward(x) as Tensor).toFloat32()), why).toEqual(Array.from(expected.toFloat32()));
      if (before) expect(Array.from(before.toFloat32()), why).not.toEqual(Array.from(expected.toFloat32()));
    }
  });

  it('leaves dequantizations that do not undo the cast, and casts to other types', () => {
    const x = Tensor.randn([2, 5], { seed: 81 });
    const arithmetic = (zd: number, sd: number, cast: string, widen = false) => (): GraphModule => {
      const g = new Graph();
      const q = call(g, 'quantize_per_tensor', { input: g.placeholder('x'), scale: 0.05, zero_point: 0, dtype: 'int8' });
      const f = call(g, 'to_dtype', { input: call(g, 'to_dtype', { input: q, dtype: cast }), dtype: 'float32' });
      const other: Argument = widen ? g.getAttr('wide') : sd;
      g.output(call(g, 'mul', { input: call(g, 'sub', { input: f, other: zd }), other }));
      const gm = new GraphModule({ wide: Tensor.full([3, 2, 5], 0.05) }, g);
      new ShapeProp(gm).propagate(x);
      return gm;
    };
    const cases: Record<string, () => GraphModule> = {
      'another zero point': arithmetic(5, 0.05, 'uint8'),
      'another scale': arithmetic(0, 0.1, 'uint8'),
      'a widening cast': arithmetic(0, 0.05, 'int32'),
      'a scale that broadcasts to a bigger shape': arithmetic(0, 0.05, 'uint8', true),
    };
    for (const [why, make] of Object.entries(cases)) {
      const gm = make();
      const text = gm.graph.toString();
      expect(qdqCastRepair(gm).modified, why).toBe(false);
      expect(gm.graph.toString(), why).toBe(text);
    }
  });
});

/** dequantize(quantize_per_tensor(x)) computed by the acc ops themselves. */
function fakeQuant(x: Tensor, scale: number, zp: number, dtype: 'int8' | 'uint8'): Tensor {
  const g = new Graph();
  g.output(call(g, 'dequantize', { input: call(g, 'quantize_per_tensor', { input: g.placeholder('x'), scale, zero_point: zp, dtype }) }));
  return new GraphModule({}, g).forward(x) as Tensor;
}
