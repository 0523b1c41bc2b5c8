import { describe, expect, it } from 'vitest';
import { Engine, getBackend } from '../src/engine/engine.js';
import { EngineInputError } from '../src/engine/execution_context.js';
import { BuildError } from '../src/engine/builder.js';
import { YIELD_AFTER_MS } from '../src/engine/reference/backend.js';
import { formatReport } from '../src/engine/report.js';
import { roundTo } from '../src/tensor/dtype.js';
import { Tensor } from '../src/tensor/tensor.js';
import { build, buildBoth, constant, conv2d, expectClose, layer, maxAbsDiff, newNet, randn, relu, run } from './engine_helpers.js';

/** x [-1, 4] (batch 1..8) and mask [4] (bool) → relu(x @ w + b) masked. */
async function mlpEngine(): Promise<Engine> {
  const net = newNet('mlp');
  const x = net.addInput('x', 'float32', [-1, 4], { min: [1, 4], opt: [2, 4], max: [8, 4] });
  const mask = net.addInput('mask', 'bool', [1, 3]);
  const w = constant(net, randn([4, 3], 1), 'w');
  const mm = layer(net, 'matrix_multiply', [x, w], { transpose0: false, transpose1: false, vector0: false, vector1: false }, 'fc');
  const h = layer(net, 'activation', [layer(net, 'elementwise', [mm, constant(net, randn([1, 3], 2), 'b')], { op: 'sum' }, 'bias')], relu, 'relu');
  net.markOutput(layer(net, 'select', [mask, h, constant(net, Tensor.zeros([1, 1]), 'zero')], {}, 'masked'), 'y');
  return build(net);
}

describe('input checks', () => {
  it('names the input and what was expected', async () => {
    const engine = await mlpEngine();
    const ctx = engine.createExecutionContext();
    const mask = Tensor.fromArray([[true, false, true]]);
    const fail = (inputs: Tensor[], message: RegExp) => expect(ctx.execute(inputs)).rejects.toThrow(message);
    await fail([randn([2, 4], 1)], /engine 'mlp' expects 2 input\(s\) \('x', 'mask'\), got 1/);
    await fail([randn([2, 4], 1, 'float16'), mask], /input 0 \('x'\) must be float32, got float16/);
    await fail([randn([2, 4, 1], 1), mask], /input 0 \('x'\) must have rank 2 \[-1, 4\], got rank 3 \[2, 4, 1\]/);
    await fail([randn([2, 5], 1), mask], /input 0 \('x'\) must have shape \[-1, 4\], got \[2, 5\] \(dim 1 is 5, expected 4\)/);
    await fail([randn([9, 4], 1), mask], /input 0 \('x'\) has shape \[9, 4\] outside the optimization profile: dim 0 is 9, the profile allows 1\.\.8/);
    await fail([randn([2, 4], 1), Tensor.zeros([1, 3])], /input 1 \('mask'\) must be bool, got float32/);
    await expect(ctx.execute([randn([2, 4], 1), mask])).resolves.toHaveLength(1);
    await expect(ctx.execute([randn([0, 4], 1), mask])).rejects.toBeInstanceOf(EngineInputError);
  });
});

describe('dynamic shapes', () => {
  it('resolves shapes per call within the profile, matching per-row results', async () => {
    const engine = await mlpEngine();
    const ctx = engine.createExecutionContext();
    const mask = Tensor.fromArray([[true, false, true]]);
    const all = randn([8, 4], 5);
    const [full] = await ctx.execute([all, mask]);
    for (const n of [1, 3, 8]) {
      const rows = Tensor.fromNumbers(all.toFloat32().subarray(0, n * 4), [n, 4]);
      const [y] = await ctx.execute([rows, mask]);
      expect(y!.shape).toEqual([n, 3]);
      expect(Array.from(y!.toFloat32())).toEqual(Array.from(full!.toFloat32().subarray(0, n * 3)));
      expect(Array.from(y!.toFloat32()).filter((_, i) => i % 3 === 1).every((v) => v === 0)).toBe(true);
    }
  });

  it('takes profiles from the config, checking them', async () => {
    const net = newNet('prof');
    const x = net.addInput('x', 'float32', [-1, 2], { min: [1, 2], opt: [1, 2], max: [2, 2] });
    net.markOutput(layer(net, 'unary', [x], { op: 'neg' }, 'neg'), 'y');
    const engine = await build(net, { profile: { x: { min: [4, 2], opt: [8, 2], max: [16, 2] } } });
    expect(engine.inputs[0]!.profile.max).toEqual([16, 2]);
    await expect(run(engine, [randn([2, 2], 1)])).rejects.toThrow(/dim 0 is 2, the profile allows 4\.\.16/);
    expect((await run(engine, [randn([16, 2], 1)]))[0]!.shape).toEqual([16, 2]);
    await expect(build(net, { profile: { y: { min: [1, 2], opt: [1, 2], max: [1, 2] } } })).rejects.toThrow(/profile names input 'y', which network 'prof' does not have \(inputs: x\)/);
    await expect(build(net, { profile: { x: { min: [4, 2], opt: [2, 2], max: [8, 2] } } })).rejects.toThrow(/dim 0 needs 0 <= min <= opt <= max, got 4 \/ 2 \/ 8/);
    await expect(build(net, { profile: { x: { min: [1, 3], opt: [1, 3], max: [1, 3] } } })).rejects.toThrow(/min dim 1 is 3 but the input's static dim is 2/);
  });
});

describe('profiling, layer info and report', () => {
  it('collects per-step wall times only while profiling', async () => {
    const engine = await mlpEngine();
    const ctx = engine.createExecutionContext();
    const inputs = [randn([2, 4], 1), Tensor.fromArray([[true, true, true]])];
    await ctx.execute(inputs);
    expect(ctx.profileData().every((p) => p.calls === 0)).toBe(true);
    ctx.profile = true;
    await ctx.execute(inputs);
    await ctx.execute(inputs);
    const prof = ctx.profileData();
    expect(prof.map((p) => p.step)).toEqual(engine.plan.steps.map((s) => s.name));
    expect(prof.every((p) => p.calls === 2 && p.totalMs >= p.lastMs && p.lastMs >= 0)).toBe(true);
    ctx.resetProfile();
    expect(ctx.profileData().every((p) => p.calls === 0 && p.totalMs === 0)).toBe(true);
  });

  it('describes every step as JSON: kind, fused layers, precision, tactic, shapes', async () => {
    const engine = await mlpEngine();
    const info = JSON.parse(JSON.stringify(engine.layerInfo())) as ReturnType<Engine['layerInfo']>;
    expect(info.map((i) => [i.name, i.kind, i.layers])).toEqual([['fc', 'matrix_multiply', ['fc', 'bias', 'relu']], ['masked', 'select', ['masked']]]);
    expect(info[0]).toMatchObject({
      precision: { storage: 'float32', compute: 'float32' }, tactic: 'reference', fused: ['+ bias in2', 'relu[0, 0]'],
      inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 4] }, { name: 'w_out', shape: [4, 3] }, { name: 'b_out', shape: [1, 3] }],
      outputs: [{ name: 'relu_out', dtype: 'float32', shape: [-1, 3] }],
    });
  });

  it('reports layers before and after, fusions and memory', async () => {
    const engine = await mlpEngine();
    const r = engine.report;
    expect([r.layersBefore, r.stepsAfter, r.precision, r.backend]).toEqual([4, 2, 'fp32', 'reference']);
    expect(r.precisions.map((p) => p.step)).toEqual(['fc', 'masked']);
    expect(r.memory.arenaBytes).toBe(256);
    const text = formatReport(r);
    expect(text).toContain("engine 'mlp' (reference, precision fp32): 4 layers -> 2 steps");
    expect(text).toContain('fused [epilogueFusion] fc: fc + bias + relu');
    expect(text).toContain('memory: arena 256 bytes');
  });
});

describe('builder checks', () => {
  it('rejects inconsistent or disallowed types, naming the layer', async () => {
    const mixed = newNet('mixed');
    const x = mixed.addInput('x', 'float16', [2]);
    const f = layer(mixed, 'cast', [x], { toType: 'float32' }, 'up');
    mixed.markOutput(f, 'y');
    await expect(build(mixed)).rejects.toThrow(/input 'x' is float16, which precision 'fp32' does not allow \(build with precision 'fp16'\)/);
    await expect(build(mixed, { precision: 'bf16' })).rejects.toThrow(BuildError);
    await expect(build(mixed, { precision: 'fp16' })).resolves.toBeInstanceOf(Engine);

    const noQdq = newNet('plain');
    noQdq.markOutput(layer(noQdq, 'unary', [noQdq.addInput('x', 'float32', [2])], { op: 'abs' }, 'abs'), 'y');
    await expect(build(noQdq, { precision: 'int8' })).rejects.toThrow(/precision 'int8' needs explicit quantization, but the network has no quantize\/dequantize layers/);

    const qdq = newNet('qdq');
    const q = layer(qdq, 'quantize', [qdq.addInput('x', 'float32', [2]), constant(qdq, Tensor.fromArray([0.1]), 's')], { axis: null, toType: 'int8' }, 'q');
    qdq.markOutput(q, 'y');
    await expect(build(qdq)).rejects.toThrow(/quantize\/dequantize layers \(q\) need precision 'int8' or 'fp8', got 'fp32'/);
    expect((await run(await build(qdq, { precision: 'int8' }), [Tensor.fromArray([0.26, -20])]))[0]!.toArray()).toEqual([3, -128]);
  });

  it('needs outputs, a profile for dynamic inputs, known optimizations and an available backend', async () => {
    const net = newNet('empty');
    const x = net.addInput('x', 'float32', [2]);
    await expect(build(net)).rejects.toThrow(/network 'empty' has no outputs/);
    net.markOutput(layer(net, 'unary', [x], { op: 'abs' }, 'abs'), 'y');
    await expect(build(net, { optimizations: { shuffleElimination: false, bogus: true } as never })).rejects.toThrow(/unknown optimization 'bogus'/);
    await expect(build(net, { backend: 'cuda' })).rejects.toThrow(/backend 'cuda' is not available in this process \(available: reference\)/);
    await expect(build(net, { precision: 'int4' as never })).rejects.toThrow(/precision must be one of fp32, fp16, bf16, int8, fp8, got 'int4'/);
    expect(getBackend('reference').name).toBe('reference');
    const engine = await build(net, { optimizations: { shuffleElimination: false } });
    expect(engine.report.passes.find((p) => p.name === 'shuffleElimination')).toEqual({ name: 'shuffleElimination', enabled: false, rewrites: 0 });
  });

  it('returns inputs, constants and duplicated values as outputs', async () => {
    const net = newNet('passthrough');
    const x = net.addInput('x', 'float32', [3]);
    const n = layer(net, 'unary', [x], { op: 'neg' }, 'neg');
    net.markOutput(x, 'same');
    net.markOutput(constant(net, Tensor.fromArray([1, 2]), 'c'), 'const');
    net.markOutput(n, 'neg_out');
    const [same, c, neg] = await run(await build(net), [Tensor.fromArray([1, -2, 3])]);
    expect([same!.toArray(), c!.toArray(), neg!.toArray()]).toEqual([[1, -2, 3], [1, 2], [-1, 2, -3]]);
  });

  it('removes layers no output depends on', async () => {
    const net = newNet('dead');
    const x = net.addInput('x', 'float32', [3]);
    layer(net, 'unary', [x], { op: 'exp' }, 'unused');
    net.markOutput(layer(net, 'unary', [x], { op: 'neg' }, 'neg'), 'y');
    const engine = await build(net, { optimizations: false });
    expect(engine.plan.steps.map((s) => s.name)).toEqual(['neg']);
    expect(engine.report.eliminated).toEqual([{ layer: 'unused', rule: 'deadCode', detail: 'no network output depends on it' }]);
  });
});

describe('fp16 and bf16 emulation', () => {
  it('rounds at step outputs: unfused equals rounding after each layer, fused rounds once', async () => {
    const net = newNet('half');
    const x = net.addInput('x', 'float16', [4]);
    const av = Tensor.fromArray([1.1, 1.7, -3.3, 0.01], 'float16');
    const bv = Tensor.fromArray([0.3, -0.0007, 2.2, 1000.5], 'float16');
    const a = constant(net, av, 'a');
    const b = constant(net, bv, 'b');
    const m = layer(net, 'elementwise', [x, a], { op: 'prod' }, 'mul');
    net.markOutput(layer(net, 'elementwise', [m, b], { op: 'sum' }, 'add'), 'y');
    const xs = Tensor.fromArray([3.3, 0.77, 1.01, 7.9], 'float16');
    const { fused, unfused } = await buildBoth(net, { precision: 'fp16' });
    const [yf] = await run(fused, [xs]);
    const [yu] = await run(unfused, [xs]);
    const [x64, a64, b64] = [xs.toFloat64(), av.toFloat64(), bv.toFloat64()];
    const h = (v: number) => roundTo('float16', v);
    expect(Array.from(yu!.toFloat64())).toEqual(Array.from(x64, (v, i) => h(h(v * a64[i]!) + b64[i]!)));
    expect(Array.from(yf!.toFloat64())).toEqual(Array.from(x64, (v, i) => h(Math.fround(Math.fround(v * a64[i]!) + b64[i]!))));
    expect(yf!.toFloat64()).not.toEqual(yu!.toFloat64());
    expect(yf!.dtype).toBe('float16');
  });

  it('an fp16 conv network differs from fp32 by a small, nonzero amount (bf16 by more)', async () => {
    const make = (dtype: 'float32' | 'float16' | 'bfloat16') => {
      const net = newNet(dtype);
      const x = net.addInput('x', dtype, [1, 3, 8, 8]);
      const w = constant(net, randn([8, 3, 3, 3], 1).castTo(dtype), 'w');
      const h = layer(net, 'activation', [layer(net, 'convolution', [x, w], conv2d(8, 3, 1), 'conv')], relu, 'relu');
      net.markOutput(layer(net, 'reduce', [h], { op: 'avg', axes: [2, 3], keepDims: false }, 'pool'), 'y');
      return net;
    };
    const x = randn([1, 3, 8, 8], 2);
    const [y32] = await run(await build(make('float32')), [x]);
    const [y16] = await run(await build(make('float16'), { precision: 'fp16' }), [x.castTo('float16')]);
    const [ybf] = await run(await build(make('bfloat16'), { precision: 'bf16' }), [x.castTo('bfloat16')]);
    const d16 = maxAbsDiff(y16!.castTo('float32'), y32!);
    const dbf = maxAbsDiff(ybf!.castTo('float32'), y32!);
    expect(d16).toBeGreaterThan(0);
    expect(d16).toBeLessThan(1e-2);
    expect(dbf).toBeGreaterThan(d16);
    expect(dbf).toBeLessThan(1e-1);
    expectClose(y16!.castTo('float32'), y32!, 1e-2, 1e-2);
  });
});

describe('reference runs and the event loop', () => {
  /** x [192, 192] → 24 chained matmuls with tanh (each matmul milliseconds of reference compute). */
  async function chainEngine(): Promise<Engine> {
    const net = newNet('chain');
    let h = net.addInput('x', 'float32', [192, 192]);
    for (let i = 0; i < 24; i++) {
      const w = constant(net, Tensor.randn([192, 192], { seed: 10 + i, std: 0.1 }), `w${i}`);
      const mm = layer(net, 'matrix_multiply', [h, w], { transpose0: false, transpose1: false, vector0: false, vector1: false }, `mm${i}`);
      h = layer(net, 'activation', [mm], { op: 'tanh', alpha: 0, beta: 0 }, `tanh${i}`);
    }
    net.markOutput(h, 'y');
    return build(net);
  }

  it('a long run yields between steps: timers fire before it resolves', async () => {
    const engine = await chainEngine();
    const ctx = engine.createExecutionContext();
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const started = performance.now();
    await ctx.execute([randn([192, 192], 1)]);
    const elapsed = performance.now() - started;
    clearInterval(timer);
    // The run is long enough to have crossed several yield points (else the test proves nothing).
    expect(elapsed).toBeGreaterThan(4 * YIELD_AFTER_MS);
    expect(ticks).toBeGreaterThan(0);
  });

  it('concurrent runs on one context share its arena one at a time, giving the results of sequential runs', async () => {
    const engine = await chainEngine();
    const ctx = engine.createExecutionContext();
    const xs = [1, 2, 3].map((s) => randn([192, 192], s));
    const sequential: Tensor[] = [];
    for (const x of xs) sequential.push((await ctx.execute([x]))[0]!);
    const concurrent = await Promise.all(xs.map((x) => ctx.execute([x])));
    concurrent.forEach(([y], i) => expect(maxAbsDiff(y!, sequential[i]!)).toBe(0));
  });
});
