import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { accTrace } from '../src/acc_ops/acc_tracer.js';
import { compile } from '../src/compile.js';
import { LoweredModule } from '../src/lowering/lowered_module.js';
import type { GraphModule } from '../src/ir/graph_module.js';
import { symbolicTrace } from '../src/ir/tracer.js';
import { resnet18Cifar } from '../src/models/resnet.js';
import { nn } from '../src/nn/index.js';
import { importOnnx } from '../src/onnx/index.js';
import { defaultPasses } from '../src/passes/index.js';
import { PassManager } from '../src/passes/pass_manager.js';
import { collectAmax, methodSpec, type CalibrationBatch } from '../src/quantization/calibrator.js';
import { engineObserver, interpreterObserver } from '../src/quantization/observe.js';
import { activationTensors, planLayers } from '../src/quantization/placement.js';
import { formatQuantizationReport, type QuantizationReport } from '../src/quantization/report.js';
import { quantizationReportFromJSON } from '../src/quantization/report_json.js';
import { cosineSimilarity } from '../src/tensor/compare.js';
import { Tensor as T, type Tensor } from '../src/tensor/tensor.js';

describe('int8 end to end on the reference backend', () => {
  it('ResNet-18 (CIFAR stem) calibrated with entropy keeps cosine >= 0.99 with fp32 on unseen inputs', async () => {
    const model = resnet18Cifar();
    model.eval();
    const calibration: CalibrationBatch[] = [11, 12, 13].map((s) => [T.randn([1, 3, 16, 16], { seed: s })]);
    let report: QuantizationReport | undefined;
    const lowered = await compile(model, calibration[0]!, {
      device: 'cpu', precision: 'int8', calibration: { data: calibration, method: 'entropy' }, quantization: { onReport: (r) => { report = r; } },
    });
    // 20 convs, the fc, 8 residual adds and the average pool in front of the fc.
    expect(report!.layers).toHaveLength(30);
    expect(report!.layers.every((l) => l.precision === 'int8')).toBe(true);
    expect([...lowered.engines.values()].map((e) => e.engine.plan.precision)).toEqual(['int8']);
    for (const seed of [98, 99]) {
      const x = T.randn([1, 3, 16, 16], { seed });
      const [y] = await lowered.run([x]);
      expect(cosineSimilarity(y!, model.forward(x) as Tensor)).toBeGreaterThanOrEqual(0.99);
    }
  });
});

describe('observing on engines', () => {
  const model = new nn.Sequential(new nn.Conv2d(3, 4, 3, { padding: 1 }), new nn.ReLU(), new nn.Conv2d(4, 4, 3), new nn.Sigmoid(), new nn.Flatten(), new nn.Linear(64, 5)).eval();
  const x = T.randn([1, 3, 6, 6], { seed: 1 });
  const gm: GraphModule = new PassManager(defaultPasses()).run(accTrace(symbolicTrace(model), [x])).gm;
  const tensors = activationTensors(planLayers(gm));

  it('an fp32 engine with the observed tensors as extra outputs sees what the interpreter sees', async () => {
    // compile() passes a `lower` that builds on the CUDA backend; the reference backend runs the same path here.
    const lowered: string[] = [];
    const onEngines = engineObserver(async (g, example) => {
      lowered.push(example.map((t) => t.shape.join('x')).join());
      return compile(g, example, { device: 'cpu', passes: [] });
    }, 'fp32 engines on the reference backend');
    // Two batch shapes: one engine each.
    const data: CalibrationBatch[] = [[T.randn([2, 3, 6, 6], { seed: 2 })], [T.randn([1, 3, 6, 6], { seed: 3 })], [T.randn([2, 3, 6, 6], { seed: 4 })]];
    const opts = { spec: methodSpec('minmax'), example: [x] };
    const viaEngine = await collectAmax(gm, tensors, data, { ...opts, observer: onEngines(gm, tensors) });
    const viaInterpreter = await collectAmax(gm, tensors, data, { ...opts, observer: interpreterObserver(gm, tensors) });
    expect(tensors).toEqual([gm.graph.placeholders[0]!.name, 'relu', 'flatten']);
    expect(lowered).toEqual(['2x3x6x6', '1x3x6x6']);
    for (const t of tensors) expect(viaEngine.amax.get(t)).toBeCloseTo(viaInterpreter.amax.get(t)!, 5);
    expect(onEngines(gm, tensors).where).toBe('fp32 engines on the reference backend');
  });
});

describe('the quantization report on the compiled module', () => {
  const model = new nn.Sequential(new nn.Conv2d(3, 4, 3, { padding: 1 }), new nn.ReLU(), new nn.Conv2d(4, 4, 3), new nn.Flatten(), new nn.Linear(64, 5)).eval();
  const data: CalibrationBatch[] = [1, 2].map((seed) => [T.randn([1, 3, 6, 6], { seed })]);

  it('an int8 compile carries what the onReport callback receives: calibration, layers kept in float and why; save/load keeps it', async () => {
    let reported: QuantizationReport | undefined;
    // validate attaches its report to a copy of the module, which keeps the quantization report.
    const lowered = await compile(model, data[0]!, {
      device: 'cpu', precision: 'int8', calibration: { data, method: 'minmax' }, validate: { tolerance: 1 },
      quantization: { exclude: ['linear'], onReport: (r) => { reported = r; } },
    });
    expect(lowered.validation).toBeDefined();
    const report = lowered.quantization!;
    expect(report).toBe(reported);
    expect(report.calibration).toEqual({ method: 'minmax', params: {}, source: 'data', batches: 2, where: 'the reference interpreter' });
    expect(report.layers.map((l) => [l.op, l.precision, l.reasonKind])).toEqual([
      ['conv2d', 'int8', undefined], ['conv2d', 'int8', undefined], ['linear', 'float', 'excluded'],
    ]);
    expect(formatQuantizationReport(report)).toMatch(/int8: 2 of 3 layer\(s\) quantized; minmax thresholds from 2 batch\(es\) of calibration data[^]*float linear \(linear\): excluded by the user/);
    const again = LoweredModule.load(lowered.save());
    expect(again.quantization).toEqual(report);
  });

  it('keeps the sensitivity ranking and the accuracy target through JSON', async () => {
    const lowered = await compile(model, data[0]!, {
      device: 'cpu', precision: 'int8', calibration: { data, method: 'minmax' }, quantization: { accuracyTarget: { metric: 'cosine', min: 0.5 }, sensitivity: true },
    });
    const report = lowered.quantization!;
    expect(report.sensitivity?.map((l) => l.op).sort()).toEqual(['conv2d', 'conv2d', 'linear']);
    expect(report.accuracy?.target).toEqual({ metric: 'cosine', min: 0.5 });
    expect(quantizationReportFromJSON(JSON.parse(JSON.stringify(report)))).toEqual(report);
  });

  it('is absent from float compiles and from graphs that carry their own Q/DQ', async () => {
    expect((await compile(model, data[0]!, { device: 'cpu' })).quantization).toBeUndefined();
    const qdq = importOnnx(join(import.meta.dirname, 'fixtures', 'onnx', 'net_qdq_cnn_o13.onnx'));
    const explicit = await compile(qdq, [T.rand([1, 3, 8, 8], { seed: 3 })], { device: 'cpu', precision: 'int8' });
    expect(explicit.precision).toBe('int8');
    expect(explicit.quantization).toBeUndefined();
  });

  it('reading a malformed report names the field at fault', () => {
    const good = {
      calibration: { method: 'entropy', params: { bins: 2048 }, source: 'cache', batches: 3, where: 'cache' },
      layers: [{ node: 'fc', op: 'linear', precision: 'float', reason: 'excluded by the user', reasonKind: 'excluded', quantizedInputs: [] }],
      scales: { x: 0.01 },
    };
    // a report saved before FP8 existed has no format: it reads as int8
    expect(quantizationReportFromJSON(good)).toEqual({ format: 'int8', ...good });
    expect(quantizationReportFromJSON({ format: 'float8e4m3', ...good })).toEqual({ format: 'float8e4m3', ...good });
    expect(() => quantizationReportFromJSON({ format: 'int4', ...good })).toThrow(/format/);
    expect(() => quantizationReportFromJSON({ ...good, calibration: { ...good.calibration, method: 'kl' } }))
      .toThrow(/quantization\.calibration\.method is 'kl', expected one of 'entropy', 'minmax', 'percentile'/);
    expect(() => quantizationReportFromJSON({ ...good, layers: [{ ...good.layers[0], reasonKind: 'tired' }] }))
      .toThrow(/quantization\.layers\[0\]\.reasonKind is 'tired'/);
    expect(() => quantizationReportFromJSON({ ...good, scales: { x: '0.01' } })).toThrow(/quantization\.scales\.x is not a number/);
    expect(() => quantizationReportFromJSON({ ...good, layers: undefined })).toThrow(/quantization\.layers is not a list/);
  });
});
