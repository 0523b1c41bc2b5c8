import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { accTrace } from '../src/acc_ops/acc_tracer.js';
import { compile, CompileError, type CompileStage } from '../src/compile.js';
import { symbolicTrace } from '../src/ir/tracer.js';
import { nn, Parameter } from '../src/nn/index.js';
import type { CalibrationBatch, CalibrationProgress } from '../src/quantization/calibrator.js';
import { CALIBRATION_CACHE_FORMAT, CALIBRATION_CACHE_VERSION, type CalibrationCacheStore } from '../src/quantization/cache.js';
import type { QuantizationReport } from '../src/quantization/report.js';
import { defaultPasses } from '../src/passes/index.js';
import { PassManager } from '../src/passes/pass_manager.js';
import { insertQdq } from '../src/quantization/insert_qdq.js';
import { activationTensors, planLayers } from '../src/quantization/placement.js';
import { cosineSimilarity } from '../src/tensor/compare.js';
import { Tensor } from '../src/tensor/tensor.js';

const dir = mkdtempSync(join(tmpdir(), 'fxrt-calib-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

const convNet = (): nn.Sequential => new nn.Sequential(
  new nn.Conv2d(3, 4, 3, { padding: 1 }), new nn.ReLU(), new nn.Conv2d(4, 4, 3), new nn.ReLU(), new nn.Flatten(), new nn.Linear(64, 5),
).eval();
const mlp = (): nn.Sequential => new nn.Sequential(new nn.Linear(3, 8), new nn.ReLU(), new nn.Linear(8, 2)).eval();

const x = Tensor.randn([1, 3, 6, 6], { seed: 1 });
const batches: CalibrationBatch[] = [2, 3, 4].map((s) => [Tensor.randn([2, 3, 6, 6], { seed: s })]);

/** The batches as a one-shot async iterable that counts what is pulled from it. */
function counting(): { data: AsyncIterable<CalibrationBatch>; pulled: () => number } {
  let n = 0;
  async function* gen(): AsyncGenerator<CalibrationBatch> {
    for (const b of batches) {
      n++;
      yield b;
    }
  }
  return { data: gen(), pulled: () => n };
}

describe('calibration cache', () => {
  it('is written after calibration and makes a second compile skip calibration entirely', async () => {
    const cache = join(dir, 'sub', 'conv.calib.json');
    const model = convNet();
    const first = counting();
    const reports: QuantizationReport[] = [];
    const progress: CalibrationProgress[] = [];
    const a = await compile(model, [x], {
      device: 'cpu', precision: 'int8',
      calibration: { data: first.data, method: 'percentile', percentile: 99.9, cache, onProgress: (p) => progress.push(p) },
      quantization: { onReport: (r) => reports.push(r) },
    });
    expect(first.pulled()).toBe(3);
    expect(progress.filter((p) => p.phase === 'collect')).toHaveLength(3);
    const doc = JSON.parse(readFileSync(cache, 'utf8')) as Record<string, unknown>;
    expect(doc['format']).toBe(CALIBRATION_CACHE_FORMAT);
    expect(doc['version']).toBe(CALIBRATION_CACHE_VERSION);
    expect(doc['method']).toBe('percentile');
    expect(doc['params']).toEqual({ percentile: 99.9, bins: 2048 });
    expect(doc['graph']).toMatch(/^[0-9a-f]{64}$/);
    expect(doc['batches']).toBe(3);
    const tensors = doc['tensors'] as Record<string, { amax: number; scale: number }>;
    expect(Object.keys(tensors)).toEqual(Object.keys(reports[0]!.scales));
    for (const [name, t] of Object.entries(tensors)) {
      expect(t.scale).toBe(reports[0]!.scales[name]);
      expect(t.scale).toBeCloseTo(t.amax / 127, 15);
    }
    expect(reports[0]!.calibration).toEqual({ method: 'percentile', params: { percentile: 99.9, bins: 2048 }, source: 'data', batches: 3, where: 'the reference interpreter' });

    const second = counting();
    progress.length = 0;
    const b = await compile(model, [x], {
      device: 'cpu', precision: 'int8',
      calibration: { data: second.data, method: 'percentile', percentile: 99.9, cache, onProgress: (p) => progress.push(p) },
      quantization: { onReport: (r) => reports.push(r) },
    });
    expect(second.pulled()).toBe(0);
    expect(progress).toEqual([]);
    expect(reports[1]!.calibration).toEqual({ method: 'percentile', params: { percentile: 99.9, bins: 2048 }, source: 'cache', batches: 3, where: 'cache' });
    expect(reports[1]!.scales).toEqual(reports[0]!.scales);
    const [ya] = await a.run([x]);
    const [yb] = await b.run([x]);
    expect(yb!.toArray()).toEqual(ya!.toArray());
  });

  it('works with a store object instead of a file', async () => {
    let text: string | undefined;
    const store: CalibrationCacheStore = { read: () => text, write: (t) => { text = t; } };
    await compile(mlp(), [Tensor.randn([4, 3])], { device: 'cpu', precision: 'int8', calibration: { data: [[Tensor.randn([4, 3], { seed: 5 })]], method: 'minmax', cache: store } });
    expect(JSON.parse(text!)).toMatchObject({ method: 'minmax', params: {}, batches: 1 });
    const again = counting();
    await compile(mlp(), [Tensor.randn([4, 3])], { device: 'cpu', precision: 'int8', calibration: { data: again.data, method: 'minmax', cache: store } });
    expect(again.pulled()).toBe(0);
  });

  it('rejects a cache written for another model, another method, or that is malformed, naming the file', async () => {
    const cache = join(dir, 'mlp.calib.json');
    await compile(mlp(), [Tensor.randn([4, 3])], { device: 'cpu', precision: 'int8', calibration: { data: [[Tensor.randn([4, 3])]], cache } });
    const convCompile = (opts: { method?: 'entropy' | 'minmax'; cache?: string } = {}): Promise<unknown> =>
      compile(convNet(), [x], { device: 'cpu', precision: 'int8', calibration: { data: batches, cache: opts.cache ?? cache, ...(opts.method ? { method: opts.method } : {}) } });
    await expect(convCompile()).rejects.toThrow(CompileError);
    await expect(convCompile()).rejects.toThrow(new RegExp(
      `compile failed at stage 'quantize': calibration cache '${cache}' was written for a different model: its graph hash is [0-9a-f]{64}, this model's is [0-9a-f]{64}`));

    const methodCache = join(dir, 'conv.minmax.json');
    await convCompile({ method: 'minmax', cache: methodCache });
    await expect(convCompile({ cache: methodCache })).rejects.toThrow(
      `calibration cache '${methodCache}' holds thresholds of method 'minmax', this compile asks for 'entropy' (bins=2048, levels=128); delete it to recalibrate`);

    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '{ "format": ');
    await expect(convCompile({ cache: broken })).rejects.toThrow(`calibration cache '${broken}' is not valid JSON`);
    const partial = JSON.parse(readFileSync(methodCache, 'utf8')) as { tensors: Record<string, unknown> };
    delete partial.tensors['relu'];
    writeFileSync(broken, JSON.stringify(partial));
    await expect(convCompile({ method: 'minmax', cache: broken })).rejects.toThrow(`calibration cache '${broken}' has no valid threshold for tensor 'relu'`);
    writeFileSync(broken, JSON.stringify({ format: CALIBRATION_CACHE_FORMAT, version: 99 }));
    await expect(convCompile({ cache: broken })).rejects.toThrow(`calibration cache '${broken}' has version 99, this fxrt reads version 1`);
  });
});

describe('compile with precision int8', () => {
  it('without calibration data calibrates on the example inputs and warns that they may not be representative', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const stages: CompileStage[] = [];
    let report: QuantizationReport | undefined;
    await compile(convNet(), [x], { device: 'cpu', precision: 'int8', onProgress: (s) => stages.push(s), quantization: { onReport: (r) => { report = r; } } });
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('calibrating on the example inputs, which may not be representative'), { code: 'FXRT_CALIBRATION_EXAMPLE_INPUTS' });
    expect(report!.calibration).toMatchObject({ source: 'example-inputs', batches: 1 });
    expect(stages).toEqual(['trace', 'accTrace', 'passes', 'quantize', 'split', 'convert', 'build', 'done']);
  });

  it('warns that calibration options are ignored by a float compile', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    await compile(mlp(), [Tensor.randn([2, 3])], { device: 'cpu', calibration: { data: [[Tensor.randn([2, 3])]] } });
    expect(warn).toHaveBeenCalledWith("calibration/quantization options ignored: precision is 'fp32'; they apply to precisions 'int8' and 'fp8'", { code: 'FXRT_CALIBRATION_IGNORED' });
  });

  it('keeps the scales of a graph that already carries Q/DQ, warning that calibration options are not used', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const gm = new PassManager(defaultPasses()).run(accTrace(symbolicTrace(convNet()), [x])).gm;
    const layers = planLayers(gm);
    insertQdq(gm, layers, new Map(activationTensors(layers).map((t) => [t, 3])));
    const stages: CompileStage[] = [];
    const lowered = await compile(gm, [x], { device: 'cpu', precision: 'int8', int8Fallback: 'fp32', calibration: { data: batches }, onProgress: (s) => stages.push(s) });
    expect(stages).not.toContain('quantize');
    expect(warn).toHaveBeenCalledWith('calibration/quantization options ignored: the graph already carries quantize/dequantize ops (explicit quantization), so its own scales are used',
      { code: 'FXRT_CALIBRATION_IGNORED' });
    const [y] = await lowered.run([x]);
    expect(cosineSimilarity(y!, gm.forward(x) as Tensor)).toBeGreaterThan(0.9999);
  });

  it('builds the engines of parts without quantized layers in the float fallback (fp16 unless int8Fallback says otherwise)', async () => {
    // linear | softmax (kept out of the engines) | tanh: the last part has nothing to quantize.
    const model = new nn.Sequential(new nn.Linear(3, 4), new nn.Softmax(-1), new nn.Tanh()).eval();
    const input = Tensor.randn([2, 3], { seed: 6 });
    for (const [fallback, expected] of [[undefined, 'fp16'], ['fp32', 'fp32'], ['bf16', 'bf16']] as const) {
      const lowered = await compile(model, [input], {
        device: 'cpu', precision: 'int8', excludeOps: ['acc.softmax'], calibration: { data: [[input]] },
        ...(fallback ? { int8Fallback: fallback } : {}),
      });
      expect([...lowered.engines].map(([name, e]) => `${name}: ${e.engine.plan.precision}`)).toEqual(['_run_on_acc_0: int8', `_run_on_acc_2: ${expected}`]);
      const [y] = await lowered.run([input]);
      expect(y!.shape).toEqual([2, 4]);
      expect(y!.dtype).toBe('float32');
    }
  });

  it('runs the float layers of an int8 build in fp16 by default: float16 tensors between the int8 steps, no cast around float16 inputs', async () => {
    const model = new nn.Sequential(new nn.Linear(8, 16), new nn.ReLU(), new nn.Linear(16, 4), new nn.Tanh()).eval();
    const input = Tensor.randn([4, 8], { seed: 7 });
    const lowered = await compile(model, [input], { device: 'cpu', precision: 'int8', calibration: { data: [[input]], method: 'minmax' } });
    const [engine] = [...lowered.engines.values()];
    const steps = engine!.engine.layerInfo();
    // The second linear writes float (no Q follows it): float16, the tanh after it too.
    const floats = steps.flatMap((s) => s.outputs).filter((t) => t.dtype !== 'int8').map((t) => t.dtype);
    expect(new Set(floats.slice(0, -1))).toEqual(new Set(['float16']));
    expect(steps.at(-1)!.outputs[0]!.dtype).toBe('float32');  // cast back to the model's output type
    await expect(compile(model, [input], { device: 'cpu', precision: 'int8', int8Fallback: 'fp8' as never })).rejects.toThrow("int8Fallback must be 'fp32', 'fp16' or 'bf16', got 'fp8'");
    // With float16 inputs the engine starts with the quantize step itself.
    const model16 = new nn.Sequential(new nn.Linear(8, 16), new nn.ReLU(), new nn.Linear(16, 4), new nn.Tanh()).eval();
    for (const [, m] of model16.namedModules()) {
      for (const [k, v] of Object.entries(m)) if (v instanceof Parameter) Reflect.set(m, k, new Parameter(v.castTo('float16')));
    }
    const half = await compile(model16, [input.castTo('float16')], { device: 'cpu', precision: 'int8', calibration: { data: [[input.castTo('float16')]], method: 'minmax' } });
    const first = [...half.engines.values()][0]!.engine.layerInfo()[0]!;
    expect(first.kind).toBe('quantize');
    expect(first.inputs[0]!.dtype).toBe('float16');
  });
});
