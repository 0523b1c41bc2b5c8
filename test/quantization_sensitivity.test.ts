import { describe, expect, it } from 'vitest';
import { accTrace } from '../src/acc_ops/acc_tracer.js';
import { compile } from '../src/compile.js';
import { symbolicTrace } from '../src/ir/tracer.js';
import { nn } from '../src/nn/index.js';
import { defaultPasses } from '../src/passes/index.js';
import { PassManager } from '../src/passes/pass_manager.js';
import { collectAmax, methodSpec, type CalibrationBatch, type CalibrationProgress } from '../src/quantization/calibrator.js';
import { interpreterObserver } from '../src/quantization/observe.js';
import { activationTensors, planLayers } from '../src/quantization/placement.js';
import type { QuantizationOptions } from '../src/quantization/quantize.js';
import type { QuantizationReport } from '../src/quantization/report.js';
import { fallBackUntil, QuantizationEvaluator, rankLayers } from '../src/quantization/sensitivity.js';
import { cosineSimilarity } from '../src/tensor/compare.js';
import { Tensor } from '../src/tensor/tensor.js';

/**
 * linear → relu → linear_1 → relu → linear_2, where unit 0 of the first layer's output is a
 * constant 1000 (a bias) that linear_1 ignores (zero weights): linear_1's input has a huge
 * outlier, so with minmax thresholds its other inputs (~1) all quantize to 0.
 */
function sensitiveModel(): nn.Sequential {
  const m = new nn.Sequential(new nn.Linear(8, 16), new nn.ReLU(), new nn.Linear(16, 16), new nn.ReLU(), new nn.Linear(16, 4)).eval();
  (m.getSubmodule('0') as nn.Linear).bias!.toFloat32()[0] = 1000;
  const w = (m.getSubmodule('2') as nn.Linear).weight.toFloat32();
  for (let row = 0; row < 16; row++) w[row * 16] = 0;
  return m;
}

const data: CalibrationBatch[] = [1, 2, 3, 4].map((s) => [Tensor.randn([8, 8], { seed: s })]);
const x = data[0]![0]!;

/** Compiles the sensitive model for int8 with minmax calibration; `cosine`: the worst over the batches vs fp32. */
async function quantize(quantization: QuantizationOptions, extra: { excludeOps?: string[] } = {}):
Promise<{ report: QuantizationReport; progress: CalibrationProgress[]; cosine: number }> {
  const model = sensitiveModel();
  let report: QuantizationReport | undefined;
  const progress: CalibrationProgress[] = [];
  const lowered = await compile(model, [x], {
    device: 'cpu', precision: 'int8', ...extra,
    calibration: { data, method: 'minmax', onProgress: (p) => progress.push(p) },
    quantization: { ...quantization, onReport: (r) => { report = r; } },
  });
  const cosines: number[] = [];
  for (const [b] of data) cosines.push(cosineSimilarity((await lowered.run([b!]))[0]!, model.forward(b!) as Tensor));
  return { report: report!, progress, cosine: Math.min(...cosines) };
}

const precisions = (r: QuantizationReport): string[] => r.layers.map((l) => `${l.node}: ${l.precision}${l.reason ? ` (${l.reason})` : ''}`);

describe('sensitivity analysis and fallback to an accuracy target', () => {
  it('ranks the layer with the outlier input worst and puts it back to float until cosine >= 0.99', async () => {
    const { report, progress, cosine } = await quantize({ accuracyTarget: { metric: 'cosine', min: 0.99 } });
    expect(report.sensitivity!.map((s) => s.node)[0]).toBe('linear_1');
    expect(report.sensitivity![0]!.cosine).toBeLessThan(0.99);
    expect(report.sensitivity!.slice(1).every((s) => s.cosine > 0.999)).toBe(true);
    expect(report.accuracy!.allQuantized.cosine).toBeLessThan(0.99);
    expect(report.accuracy!.final.cosine).toBeGreaterThanOrEqual(0.99);
    const s = report.sensitivity![0]!;
    expect(precisions(report)).toEqual([
      'linear: int8',
      `linear_1: float (sensitivity: cosine ${s.cosine.toFixed(4)} when quantized alone (relative error ${s.relativeError.toPrecision(3)}))`,
      'linear_2: int8',
    ]);
    expect(report.layers[1]!.reasonKind).toBe('sensitivity');
    expect(progress.filter((p) => p.phase === 'sensitivity').map((p) => `${p.index}/${p.total}`)).toEqual(['1/3', '2/3', '3/3']);
    expect(progress.filter((p) => p.phase === 'fallback').map((p) => p.message)).toEqual([expect.stringMatching(/^'linear_1' back to float: cosine 0\.99\d\d|^'linear_1' back to float: cosine 1\.0000/)]);
    // The compiled model meets the target too.
    expect(cosine).toBeGreaterThanOrEqual(0.99);
  });

  it('takes a relative-error target as well, and leaves everything in int8 when it already holds', async () => {
    const strict = await quantize({ accuracyTarget: { metric: 'relativeError', max: 0.05 } });
    expect(precisions(strict.report).map((p) => p.split(' (')[0])).toEqual(['linear: int8', 'linear_1: float', 'linear_2: int8']);
    expect(strict.report.accuracy!.final.relativeError).toBeLessThanOrEqual(0.05);
    const loose = await quantize({ accuracyTarget: { metric: 'relativeError', max: 0.9 } });
    expect(loose.report.layers.every((l) => l.precision === 'int8')).toBe(true);
    expect(loose.report.sensitivity).toBeUndefined(); // nothing needed ranking
    expect(loose.progress.some((p) => p.phase === 'sensitivity')).toBe(false);
  });

  it('ranks without falling back when only the analysis is asked for', async () => {
    const { report, cosine } = await quantize({ sensitivity: true });
    expect(report.sensitivity!.map((s) => s.node).sort()).toEqual(['linear', 'linear_1', 'linear_2']);
    expect(report.sensitivity![0]!.node).toBe('linear_1');
    expect(report.layers.every((l) => l.precision === 'int8')).toBe(true);
    expect(cosine).toBeLessThan(0.99); // the outlier layer is still quantized
  });

  it('rejects a malformed target', async () => {
    await expect(quantize({ accuracyTarget: { metric: 'cosine', min: 2 } })).rejects.toThrow('quantization.accuracyTarget: cosine min must be in [-1, 1], got 2');
    await expect(quantize({ evaluationBatches: 0 })).rejects.toThrow('quantization.evaluationBatches must be a positive integer, got 0');
    await expect(quantize({ exclude: ['linear_9'] })).rejects.toThrow(
      "quantization.exclude: 'linear_9' is neither a node of the acc graph nor an acc op kind (layers: linear, linear_1, linear_2)");
  });
});

describe('layers kept in float by the user', () => {
  it('exclude by node name or op kind, with the reason in the report', async () => {
    const byName = await quantize({ exclude: ['linear_1'] });
    expect(precisions(byName.report)).toEqual(['linear: int8', 'linear_1: float (excluded by the user)', 'linear_2: int8']);
    expect(byName.cosine).toBeGreaterThanOrEqual(0.99);
    for (const kind of ['linear', 'acc.linear']) {
      const all = await quantize({ exclude: [kind] });
      expect(all.report.layers.map((l) => l.reasonKind)).toEqual(['excluded', 'excluded', 'excluded']);
      expect(all.cosine).toBeGreaterThan(0.99999); // nothing quantized: the engine runs fp32
    }
  });

  it('layers that run outside the engines (excludeOps) stay in float, saying so', async () => {
    const { report } = await quantize({}, { excludeOps: ['linear_2'] });
    expect(precisions(report)[2]).toBe("linear_2: float (runs outside the engines: excluded by the user (excludeOps: 'linear_2'))");
    expect(report.layers[2]!.reasonKind).toBe('outside-engine');
  });
});

describe('QuantizationEvaluator', () => {
  it('measures variants against fp32 outputs computed once, and fallBackUntil stops as soon as the target holds', async () => {
    const gm = new PassManager(defaultPasses()).run(accTrace(symbolicTrace(sensitiveModel()), [x])).gm;
    const layers = planLayers(gm);
    const tensors = activationTensors(layers);
    const { amax } = await collectAmax(gm, tensors, data, { spec: methodSpec('minmax'), observer: interpreterObserver(gm, tensors), example: [x] });
    const ev = new QuantizationEvaluator(gm, data.slice(0, 2), amax);
    expect(ev.runs).toBe(2);
    expect(ev.measure([])).toEqual({ cosine: 1, relativeError: 0 });
    const target = { metric: 'cosine' as const, min: 0.99 };
    const ranking = rankLayers(ev, layers, 'cosine');
    expect(ev.runs).toBe(2 + 2 + 3 * 2);
    expect(ranking[0]!.node).toBe('linear_1');
    const all = ev.measure(layers);
    const none = fallBackUntil(ev, layers, ranking, { metric: 'cosine', min: -1 }, all);
    expect(none).toEqual({ quantized: layers, fellBack: [], agreement: all });
    const some = fallBackUntil(ev, layers, ranking, target, all);
    expect(some.fellBack.map((f) => f.node)).toContain('linear_1');
    expect(some.agreement.cosine).toBeGreaterThanOrEqual(0.99);
    expect(some.quantized.map((l) => l.node)).toEqual(layers.map((l) => l.node).filter((n) => !some.fellBack.some((f) => f.node === n)));
  });
});
