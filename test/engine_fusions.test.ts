import { describe, expect, it } from 'vitest';
import { roundTo } from '../src/tensor/dtype.js';
import { Tensor } from '../src/tensor/tensor.js';
import {
  build, buildBoth, constant, conv2d, expectFusedMatchesUnfused, layer, newNet, randn, relu, run,
} from './engine_helpers.js';

const tanh = { op: 'tanh', alpha: 0, beta: 0 } as const;

describe('constant folding', () => {
  it('evaluates layers whose inputs are all constants at build time', async () => {
    const net = newNet('fold');
    const x = net.addInput('x', 'float32', [3, 2]);
    const a = constant(net, randn([2, 3], 1), 'a');
    const b = constant(net, randn([3, 2], 2), 'b');
    const t = layer(net, 'shuffle', [a], { firstTranspose: [1, 0], reshape: null, secondTranspose: null }, 'transpose_a');
    const s = layer(net, 'elementwise', [t, b], { op: 'sum' }, 'a_plus_b');
    const e = layer(net, 'unary', [s], { op: 'exp' }, 'exp');
    net.markOutput(layer(net, 'elementwise', [x, e], { op: 'prod' }, 'scale'), 'y');
    const engine = await expectFusedMatchesUnfused(net, [randn([3, 2], 3)], {}, 0);
    expect(engine.plan.steps.map((s) => s.name)).toEqual(['scale']);
    const folded = engine.report.eliminated.filter((r) => r.rule === 'constantFolding').map((r) => r.layer);
    expect(folded).toEqual(['transpose_a', 'a_plus_b', 'exp']);
    expect(engine.report.passes.find((p) => p.name === 'constantFolding')!.rewrites).toBe(3);
  });

  it('folds shape() of a static input but keeps it for a dynamic one', async () => {
    for (const dynamic of [false, true]) {
      const net = newNet('shape');
      const x = dynamic
        ? net.addInput('x', 'float32', [-1, 4], { min: [1, 4], opt: [2, 4], max: [8, 4] })
        : net.addInput('x', 'float32', [2, 4]);
      net.markOutput(layer(net, 'shape', [x], {}, 'shape'), 'dims');
      const engine = await build(net);
      expect(engine.plan.steps.length).toBe(dynamic ? 1 : 0);
      const [dims] = await run(engine, [randn([2, 4], 1)]);
      expect(dims!.toArray()).toEqual([2, 4]);
    }
  });

  it('keeps dequantize of constant weights (a backend fuses it into an int8 kernel) but folds quantize', async () => {
    const net = newNet('qdq');
    const x = net.addInput('x', 'float32', [2, 4]);
    const w = constant(net, randn([4, 3], 1), 'w');
    const scale = constant(net, Tensor.fromArray([0.02]), 'scale');
    const q = layer(net, 'quantize', [w, scale], { axis: null, toType: 'int8' }, 'q');
    const dq = layer(net, 'dequantize', [q, scale], { axis: null, toType: 'float32' }, 'dq');
    net.markOutput(layer(net, 'matrix_multiply', [x, dq], { transpose0: false, transpose1: false, vector0: false, vector1: false }, 'mm'), 'y');
    const engine = await expectFusedMatchesUnfused(net, [randn([2, 4], 2)], { precision: 'int8' }, 0);
    expect(engine.plan.steps.map((s) => s.kind)).toEqual(['dequantize', 'matrix_multiply']);
    const qConst = engine.plan.constants.find((c) => c.dtype === 'int8');
    expect(qConst?.shape).toEqual([4, 3]);
  });
});

describe('shuffle elimination', () => {
  const dyn = { min: [1, 3, 4, 5], opt: [2, 3, 4, 5], max: [4, 3, 4, 5] };

  it('removes identity shuffles and identity layers', async () => {
    const net = newNet('identity');
    const x = net.addInput('x', 'float32', [-1, 3, 4, 5], dyn);
    const a = layer(net, 'shuffle', [x], { firstTranspose: [0, 1, 2, 3], reshape: [0, 0, 0, -1], secondTranspose: null }, 'noop_shuffle');
    const b = layer(net, 'identity', [a], {}, 'copy');
    net.markOutput(layer(net, 'activation', [b], relu, 'relu'), 'y');
    const engine = await expectFusedMatchesUnfused(net, [randn([3, 3, 4, 5], 1)], {}, 0);
    expect(engine.plan.steps.map((s) => s.name)).toEqual(['relu']);
    expect(engine.report.eliminated.map((e) => [e.layer, e.rule])).toEqual([['noop_shuffle', 'shuffleElimination'], ['copy', 'shuffleElimination']]);
  });

  it('removes pairs that cancel: a transpose and its inverse, a flatten and the reshape back', async () => {
    const net = newNet('cancel');
    const x = net.addInput('x', 'float32', [-1, 3, 4, 5], dyn);
    const t1 = layer(net, 'shuffle', [x], { firstTranspose: [0, 2, 3, 1], reshape: null, secondTranspose: null }, 'nchw_to_nhwc');
    const t2 = layer(net, 'shuffle', [t1], { firstTranspose: [0, 3, 1, 2], reshape: null, secondTranspose: null }, 'nhwc_to_nchw');
    const f = layer(net, 'shuffle', [t2], { firstTranspose: null, reshape: [0, -1], secondTranspose: null }, 'flatten');
    const u = layer(net, 'shuffle', [f], { firstTranspose: null, reshape: [0, 3, 4, 5], secondTranspose: null }, 'unflatten');
    net.markOutput(layer(net, 'unary', [u], { op: 'abs' }, 'abs'), 'y');
    const engine = await expectFusedMatchesUnfused(net, [randn([2, 3, 4, 5], 1)], {}, 0);
    expect(engine.plan.steps.map((s) => s.name)).toEqual(['abs']);
    expect(engine.report.eliminated.filter((e) => e.rule === 'shuffleElimination').map((e) => e.layer).sort())
      .toEqual(['flatten', 'nchw_to_nhwc', 'nhwc_to_nchw', 'unflatten']);
  });

  it('merges consecutive shuffles into one step with the same result', async () => {
    const net = newNet('merge');
    const x = net.addInput('x', 'float32', [2, 3, 4, 5]);
    const a = layer(net, 'shuffle', [x], { firstTranspose: [0, 2, 1, 3], reshape: [2, 4, 15], secondTranspose: null }, 'a');
    const b = layer(net, 'shuffle', [a], { firstTranspose: [0, 2, 1], reshape: null, secondTranspose: null }, 'b');
    const c = layer(net, 'shuffle', [b], { firstTranspose: [0, 2, 1], reshape: [0, 5, 12], secondTranspose: [0, 2, 1] }, 'c');
    net.markOutput(c, 'y');
    const engine = await expectFusedMatchesUnfused(net, [randn([2, 3, 4, 5], 1)], {}, 0);
    expect(engine.plan.steps.length).toBe(1);
    expect(engine.report.fusions).toEqual([{ step: 'c', rule: 'shuffleElimination', layers: ['a', 'b', 'c'] }]);
  });

  it('merged random shuffle pairs compute what the pair computes', async () => {
    const perms = [[0, 1, 2], [2, 0, 1], [1, 2, 0], [0, 2, 1], null];
    const reshapes = [null, [0, -1, 2], [6, 0, -1], [0, 0, 0], [-1, 4, 0]];
    let trials = 0;
    for (let seed = 0; seed < 40; seed++) {
      const pick = <T>(xs: readonly T[], k: number): T => xs[(seed * 7 + k * 13 + (seed >> 2)) % xs.length]!;
      const net = newNet('pair');
      const x = net.addInput('x', 'float32', [2, 6, 4]);
      let a;
      let b;
      try {
        a = layer(net, 'shuffle', [x], { firstTranspose: pick(perms, 1), reshape: pick(reshapes, 2), secondTranspose: pick(perms, 3) }, 'a');
        b = layer(net, 'shuffle', [a], { firstTranspose: pick(perms, 4), reshape: pick(reshapes, 5), secondTranspose: pick(perms, 6) }, 'b');
      } catch {
        continue; // a reshape that does not fit this intermediate shape
      }
      net.markOutput(b, 'y');
      await expectFusedMatchesUnfused(net, [randn([2, 6, 4], seed)], {}, 0);
      trials++;
    }
    expect(trials).toBeGreaterThan(10);
  });
});

describe('epilogue fusion', () => {
  it('fuses conv + bias + relu into one step', async () => {
    const net = newNet('cbr');
    const x = net.addInput('x', 'float32', [-1, 3, 9, 9], { min: [1, 3, 9, 9], opt: [2, 3, 9, 9], max: [4, 3, 9, 9] });
    const w = constant(net, randn([8, 3, 3, 3], 1), 'w');
    const b = constant(net, randn([1, 8, 1, 1], 2), 'b');
    const c = layer(net, 'convolution', [x, w], conv2d(8, 3, 1, 2), 'conv');
    const s = layer(net, 'elementwise', [b, c], { op: 'sum' }, 'bias');
    net.markOutput(layer(net, 'activation', [s], relu, 'relu'), 'y');
    const engine = await expectFusedMatchesUnfused(net, [randn([3, 3, 9, 9], 3)]);
    expect(engine.plan.steps.length).toBe(1);
    expect(engine.report.fusions).toEqual([{ step: 'conv', rule: 'epilogueFusion', layers: ['conv', 'bias', 'relu'] }]);
    const step = engine.plan.steps[0]!;
    expect(step.kind === 'convolution' && step.epilogue.map((e) => e.op)).toEqual(['bias', 'activation']);
  });

  it('fuses a residual block: conv (+ its own bias input) + residual + relu', async () => {
    const net = newNet('residual');
    const x = net.addInput('x', 'float32', [1, 4, 6, 6]);
    const w1 = constant(net, randn([4, 4, 3, 3], 1), 'w1');
    const b1 = constant(net, randn([4], 2), 'b1');
    const w2 = constant(net, randn([4, 4, 3, 3], 3), 'w2');
    const h = layer(net, 'activation', [layer(net, 'convolution', [x, w1, b1], conv2d(4, 3, 1), 'conv1')], relu, 'relu1');
    const c2 = layer(net, 'convolution', [h, w2], conv2d(4, 3, 1), 'conv2');
    const sum = layer(net, 'elementwise', [c2, x], { op: 'sum' }, 'add');
    net.markOutput(layer(net, 'activation', [sum], relu, 'relu2'), 'y');
    const engine = await expectFusedMatchesUnfused(net, [randn([1, 4, 6, 6], 4)]);
    expect(engine.report.fusions.map((f) => f.layers)).toEqual([['conv1', 'relu1'], ['conv2', 'add', 'relu2']]);
    const conv2 = engine.plan.steps[1]!;
    expect(conv2.kind === 'convolution' && conv2.epilogue.map((e) => e.op)).toEqual(['residual', 'activation']);
  });

  it('fuses matrix multiply + bias + gelu and deconvolution + bias', async () => {
    const net = newNet('gemm');
    const x = net.addInput('x', 'float32', [-1, 5, 6], { min: [1, 5, 6], opt: [2, 5, 6], max: [3, 5, 6] });
    const w = constant(net, randn([1, 7, 6], 1), 'w');
    const bias = constant(net, randn([1, 1, 7], 2), 'bias');
    const mm = layer(net, 'matrix_multiply', [x, w], { transpose0: false, transpose1: true, vector0: false, vector1: false }, 'mm');
    const s = layer(net, 'elementwise', [mm, bias], { op: 'sum' }, 'mm_bias');
    net.markOutput(layer(net, 'activation', [s], { op: 'gelu_erf', alpha: 0, beta: 0 }, 'gelu'), 'y');
    const img = net.addInput('img', 'float32', [1, 2, 3, 3]);
    const k = constant(net, randn([2, 3, 2, 2], 3), 'k');
    const d = layer(net, 'deconvolution', [img, k], {
      kernelSize: [2, 2], numOutputMaps: 3, stride: [2, 2], prePadding: [0, 0], postPadding: [0, 0], dilation: [1, 1], groups: 1,
    }, 'deconv');
    net.markOutput(layer(net, 'elementwise', [d, constant(net, randn([1, 3, 1, 1], 4), 'db')], { op: 'sum' }, 'deconv_bias'), 'z');
    const engine = await expectFusedMatchesUnfused(net, [randn([2, 5, 6], 5), randn([1, 2, 3, 3], 6)]);
    expect(engine.report.fusions.map((f) => f.layers)).toEqual([['mm', 'mm_bias', 'gelu'], ['deconv', 'deconv_bias']]);
  });

  it('does not fuse when the conv output has another reader, or the addend would broadcast the result', async () => {
    const net = newNet('nofuse');
    const x = net.addInput('x', 'float32', [1, 2, 4, 4]);
    const w = constant(net, randn([2, 2, 1, 1], 1), 'w');
    const c = layer(net, 'convolution', [x, w], conv2d(2, 1), 'conv');
    net.markOutput(layer(net, 'activation', [c], relu, 'relu'), 'a');
    net.markOutput(layer(net, 'unary', [c], { op: 'neg' }, 'neg'), 'b');
    const c2 = layer(net, 'convolution', [x, w], conv2d(2, 1), 'conv_b');
    net.markOutput(layer(net, 'elementwise', [c2, constant(net, randn([3, 2, 4, 4], 2), 'big')], { op: 'sum' }, 'expand'), 'c');
    const engine = await expectFusedMatchesUnfused(net, [randn([1, 2, 4, 4], 3)]);
    expect(engine.report.fusions).toEqual([]);
  });

  it('applies the epilogue in registers: fp16 rounds once, where the result is stored', async () => {
    const net = newNet('fp16');
    const x = net.addInput('x', 'float16', [1, 2]);
    const w = constant(net, Tensor.fromArray([[1.001], [0.999]], 'float16'), 'w');
    const b = constant(net, Tensor.fromArray([0.0004], 'float16'), 'b');
    const mm = layer(net, 'matrix_multiply', [x, w], { transpose0: false, transpose1: false, vector0: false, vector1: false }, 'mm');
    net.markOutput(layer(net, 'elementwise', [mm, layer(net, 'shuffle', [b], { firstTranspose: null, reshape: [1, 1], secondTranspose: null }, 'b2')], { op: 'sum' }, 'add'), 'y');
    const xs = Tensor.fromArray([[1.5, 2.25]], 'float16');
    const { fused, unfused } = await buildBoth(net, { precision: 'fp16' });
    const [yf] = await run(fused, [xs]);
    const [yu] = await run(unfused, [xs]);
    const [w0, w1, bb] = [roundTo('float16', 1.001), roundTo('float16', 0.999), roundTo('float16', 0.0004)];
    const acc = Math.fround(1.5 * w0 + 2.25 * w1);
    expect(yf!.item()).toBe(roundTo('float16', Math.fround(acc + bb)));
    expect(yu!.item()).toBe(roundTo('float16', roundTo('float16', acc) + bb));
    expect(fused.plan.steps.length).toBe(1);
  });
});

describe('pointwise fusion', () => {
  it('fuses a chain into one program and keeps values read twice out of registers', async () => {
    const net = newNet('chain');
    const x = net.addInput('x', 'float32', [-1, 8], { min: [1, 8], opt: [4, 8], max: [16, 8] });
    const a = constant(net, randn([1, 8], 1), 'a');
    const m = layer(net, 'elementwise', [x, a], { op: 'prod' }, 'mul');
    const t = layer(net, 'activation', [m], tanh, 'tanh');
    const s = layer(net, 'activation', [t], { op: 'sigmoid', alpha: 0, beta: 0 }, 'sigmoid');
    // s has two readers: the first region ends at s.
    const p = layer(net, 'elementwise', [s, s], { op: 'prod' }, 'square');
    const n = layer(net, 'unary', [s], { op: 'neg' }, 'neg');
    net.markOutput(layer(net, 'elementwise', [p, n], { op: 'sub' }, 'sub'), 'y');
    const engine = await expectFusedMatchesUnfused(net, [randn([5, 8], 2)], {}, 0);
    expect(engine.report.fusions.map((f) => f.layers)).toEqual([['mul', 'tanh', 'sigmoid'], ['square', 'neg', 'sub']]);
    const last = engine.plan.steps[1]!;
    expect(last.kind === 'pointwise' && last.program.instrs.map((i) => i.op)).toEqual(['elementwise', 'unary', 'elementwise']);
    expect(last.inputs.length).toBe(1); // s, read three times
  });

  it('fuses DAG regions (x * sigmoid(x)) with broadcast inputs, casts and comparisons', async () => {
    const net = newNet('dag');
    const x = net.addInput('x', 'float32', [2, 3, 4]);
    const sig = layer(net, 'activation', [x], { op: 'sigmoid', alpha: 0, beta: 0 }, 'sig');
    const silu = layer(net, 'elementwise', [x, sig], { op: 'prod' }, 'silu');
    const gt = layer(net, 'elementwise', [silu, constant(net, Tensor.zeros([1, 1, 4]), 'zero')], { op: 'greater' }, 'positive');
    const asInt = layer(net, 'cast', [gt], { toType: 'int32' }, 'as_int');
    const twice = layer(net, 'elementwise', [asInt, constant(net, Tensor.fromArray([[[2]]], 'int32'), 'two')], { op: 'prod' }, 'twice');
    net.markOutput(layer(net, 'cast', [twice], { toType: 'float32' }, 'back'), 'y');
    const engine = await expectFusedMatchesUnfused(net, [randn([2, 3, 4], 1)], {}, 0);
    expect(engine.plan.steps.length).toBe(1);
    expect(engine.plan.steps[0]!.layers).toEqual(['sig', 'silu', 'positive', 'as_int', 'twice', 'back']);
  });

  it('turns a per-channel scale layer into program instructions with channel views', async () => {
    const net = newNet('scale');
    const x = net.addInput('x', 'float32', [2, 3, 2, 2]);
    const scale = constant(net, Tensor.fromArray([0.5, -1, 2]), 's');
    const shift = constant(net, Tensor.fromArray([0.1, 0.2, 0.3]), 't');
    const power = constant(net, Tensor.fromArray([1, 2, 1]), 'p');
    const y = layer(net, 'scale', [x, scale, shift, power], { mode: 'channel', channelAxis: 1 }, 'scale');
    net.markOutput(layer(net, 'activation', [y], relu, 'relu'), 'y');
    const input = randn([2, 3, 2, 2], 1);
    const engine = await expectFusedMatchesUnfused(net, [input], {}, 0);
    const step = engine.plan.steps[0]!;
    expect(step.kind === 'pointwise' && step.program.views).toEqual([null, [3, 1, 1], [3, 1, 1], [3, 1, 1]]);
    const [out] = await run(engine, [input]);
    const xv = input.toFloat64();
    const yv = out!.toFloat64();
    const [s, t, p] = [[0.5, -1, 2], [0.1, 0.2, 0.3], [1, 2, 1]];
    for (let i = 0; i < xv.length; i++) {
      const c = Math.floor(i / 4) % 3;
      expect(yv[i]).toBeCloseTo(Math.max((xv[i]! * s[c]! + Math.fround(t[c]!)) ** p[c]!, 0), 5);
    }
  });

  it('stops a region at network outputs', async () => {
    const net = newNet('outputs');
    const x = net.addInput('x', 'float32', [4]);
    const e = layer(net, 'unary', [x], { op: 'exp' }, 'exp');
    net.markOutput(e, 'e');
    net.markOutput(layer(net, 'unary', [layer(net, 'unary', [e], { op: 'log' }, 'log')], { op: 'neg' }, 'neg'), 'y');
    const engine = await expectFusedMatchesUnfused(net, [randn([4], 1)], {}, 0);
    expect(engine.report.fusions.map((f) => f.layers)).toEqual([['log', 'neg']]);
  });
});

describe('pattern rules', () => {
  const scalar = (net: ReturnType<typeof newNet>, v: number, rank: number, name: string) =>
    constant(net, Tensor.full(new Array<number>(rank).fill(1), v), name);

  it('turns the exported erf GELU into one gelu_erf activation', async () => {
    const net = newNet('gelu_erf');
    const x = net.addInput('x', 'float32', [3, 8]);
    // ONNX export: Div(x, sqrt2) -> Erf -> Add(1) -> Mul(x) -> Mul(0.5)
    const erf = layer(net, 'unary', [layer(net, 'elementwise', [x, scalar(net, Math.SQRT2, 2, 'sqrt2')], { op: 'div' }, 'div')], { op: 'erf' }, 'erf');
    const one = layer(net, 'elementwise', [erf, scalar(net, 1, 2, 'one')], { op: 'sum' }, 'plus1');
    const mx = layer(net, 'elementwise', [x, one], { op: 'prod' }, 'mul_x');
    net.markOutput(layer(net, 'elementwise', [mx, scalar(net, 0.5, 2, 'half')], { op: 'prod' }, 'mul_half'), 'y');
    const engine = await expectFusedMatchesUnfused(net, [randn([3, 8], 1)]);
    expect(engine.plan.steps.map((s) => s.kind === 'activation' && s.params.op)).toEqual(['gelu_erf']);
    expect(engine.report.fusions).toEqual([{ step: 'mul_half', rule: 'geluPattern', layers: ['div', 'erf', 'plus1', 'mul_x', 'mul_half'] }]);
  });

  it('turns the tanh GELU approximation into one gelu_tanh activation', async () => {
    const net = newNet('gelu_tanh');
    const x = net.addInput('x', 'float32', [4, 6]);
    const cube = layer(net, 'elementwise', [x, scalar(net, 3, 2, 'three')], { op: 'pow' }, 'cube');
    const inner = layer(net, 'elementwise', [x, layer(net, 'elementwise', [scalar(net, 0.044715, 2, 'c'), cube], { op: 'prod' }, 'scaled_cube')], { op: 'sum' }, 'inner');
    const th = layer(net, 'activation', [layer(net, 'elementwise', [inner, scalar(net, Math.sqrt(2 / Math.PI), 2, 'k')], { op: 'prod' }, 'times_k')], tanh, 'tanh');
    const one = layer(net, 'elementwise', [scalar(net, 1, 2, 'one'), th], { op: 'sum' }, 'plus1');
    const half = layer(net, 'elementwise', [scalar(net, 0.5, 2, 'half'), x], { op: 'prod' }, 'half_x');
    net.markOutput(layer(net, 'elementwise', [half, one], { op: 'prod' }, 'gelu'), 'y');
    const engine = await expectFusedMatchesUnfused(net, [randn([4, 6], 2)]);
    expect(engine.plan.steps.map((s) => s.kind === 'activation' && s.params.op)).toEqual(['gelu_tanh']);
    expect(engine.report.fusions[0]!.layers.length).toBe(8);
  });

  it('turns stable and unstable decomposed softmaxes into softmax layers, unless exp is read elsewhere', async () => {
    const net = newNet('softmax');
    const x = net.addInput('x', 'float32', [2, 5]);
    const m = layer(net, 'reduce', [x], { op: 'max', axes: [1], keepDims: true }, 'max');
    const e = layer(net, 'unary', [layer(net, 'elementwise', [x, m], { op: 'sub' }, 'shift')], { op: 'exp' }, 'exp');
    const s = layer(net, 'reduce', [e], { op: 'sum', axes: [1], keepDims: true }, 'sum');
    net.markOutput(layer(net, 'elementwise', [e, s], { op: 'div' }, 'stable'), 'a');
    const e2 = layer(net, 'unary', [x], { op: 'exp' }, 'exp2');
    net.markOutput(layer(net, 'elementwise', [e2, layer(net, 'reduce', [e2], { op: 'sum', axes: [1], keepDims: true }, 'sum2')], { op: 'div' }, 'unstable'), 'b');
    const e3 = layer(net, 'unary', [x], { op: 'exp' }, 'exp3');
    net.markOutput(e3, 'exp_out');
    net.markOutput(layer(net, 'elementwise', [e3, layer(net, 'reduce', [e3], { op: 'sum', axes: [1], keepDims: true }, 'sum3')], { op: 'div' }, 'kept'), 'c');
    const engine = await expectFusedMatchesUnfused(net, [randn([2, 5], 3)]);
    expect(engine.report.fusions.filter((f) => f.rule === 'softmaxPattern').map((f) => f.layers))
      .toEqual([['max', 'shift', 'exp', 'sum', 'stable'], ['exp2', 'sum2', 'unstable']]);
    expect(engine.plan.steps.filter((s) => s.kind === 'softmax').length).toBe(2);
  });

  it('turns a decomposed layer norm (with and without affine) into normalization layers', async () => {
    const net = newNet('layernorm');
    const x = net.addInput('x', 'float32', [2, 3, 8]);
    const norm = (input: typeof x, tag: string, viaPow: boolean) => {
      const mean = layer(net, 'reduce', [input], { op: 'avg', axes: [2], keepDims: true }, `mean${tag}`);
      const d = layer(net, 'elementwise', [input, mean], { op: 'sub' }, `d${tag}`);
      const sq = viaPow
        ? layer(net, 'elementwise', [d, scalar(net, 2, 3, `two${tag}`)], { op: 'pow' }, `sq${tag}`)
        : layer(net, 'elementwise', [d, d], { op: 'prod' }, `sq${tag}`);
      const v = layer(net, 'reduce', [sq], { op: 'avg', axes: [2], keepDims: true }, `var${tag}`);
      const ve = layer(net, 'elementwise', [v, scalar(net, 1e-5, 3, `eps${tag}`)], { op: 'sum' }, `eps_add${tag}`);
      return viaPow
        ? layer(net, 'elementwise', [d, layer(net, 'unary', [ve], { op: 'rsqrt' }, `rsqrt${tag}`)], { op: 'prod' }, `n${tag}`)
        : layer(net, 'elementwise', [d, layer(net, 'unary', [ve], { op: 'sqrt' }, `sqrt${tag}`)], { op: 'div' }, `n${tag}`);
    };
    const n1 = norm(x, '1', false);
    const scaled = layer(net, 'elementwise', [n1, constant(net, randn([1, 1, 8], 1), 'gamma')], { op: 'prod' }, 'gamma_mul');
    net.markOutput(layer(net, 'elementwise', [scaled, constant(net, randn([8], 2).withShape([1, 1, 8]), 'beta')], { op: 'sum' }, 'beta_add'), 'a');
    net.markOutput(norm(x, '2', true), 'b');
    const engine = await expectFusedMatchesUnfused(net, [randn([2, 3, 8], 3)], {}, 2e-6);
    expect(engine.plan.steps.map((s) => s.kind)).toEqual(['normalization', 'normalization']);
    expect(engine.report.fusions.map((f) => f.layers.length)).toEqual([9, 7]);
  });
});
