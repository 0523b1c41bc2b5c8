/**
 * INT8 models on the CUDA backend (issue #6's proof on the GPU):
 *   - the trained digits CNN: post-training INT8 (calibrated on the GPU) keeps held-out top-1
 *     within 1 point of fp32, and so does the Q/DQ ONNX model compiled as it is;
 *   - ResNet-50 with random weights, calibrated on random data: INT8 output cosine similarity with
 *     fp32 of at least 0.99 (seed 002's check);
 *   - the CIFAR ResNet-18 with the same calibration (one cache) on both backends: the CUDA int8
 *     engine against the reference one; the same for CenterNet's head (int8 deconvolutions).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CudaEngineRunner, cudaAvailable } from '../../src/backends/cuda/index.js';
import { compile } from '../../src/compile.js';
import { centerNetHead, modelZoo } from '../../src/models/index.js';
import { importOnnx } from '../../src/onnx/index.js';
import { cosineSimilarity } from '../../src/tensor/compare.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { DIGITS_DIR, digitsCalibrationBatches, digitsImages, digitsMeta, digitsTop1 } from '../digits_fixture.js';

const dir = mkdtempSync(join(tmpdir(), 'fxrt-int8-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The int8 steps of a lowered module's engines. */
function int8Steps(lowered: Awaited<ReturnType<typeof compile>>): number {
  let n = 0;
  for (const { engine } of lowered.engines.values()) n += engine.plan.steps.filter((s) => s.quant !== undefined).length;
  return n;
}

describe('INT8 on the CUDA backend: trained digits CNN (held-out top-1)', () => {
  const shape = digitsImages.shape;

  it('post-training INT8 calibrated on the GPU stays within 1 point of fp32', async () => {
    const gm = importOnnx(join(DIGITS_DIR, digitsMeta.models.fp32), { inputShapes: { x: shape } });
    const int8 = await compile(gm, [digitsImages], { device: 'cuda', precision: 'int8', calibration: { data: digitsCalibrationBatches(), method: 'entropy' } });
    expect(int8.backend).toBe('cuda');
    expect(int8Steps(int8)).toBeGreaterThanOrEqual(5);
    const [logits] = await int8.run([digitsImages]);
    const acc = digitsTop1(logits!);
    console.log(`digits on CUDA: fp32 ${digitsMeta.top1.torch_fp32}, int8 PTQ ${acc}`);
    expect(acc).toBeGreaterThanOrEqual(digitsMeta.top1.torch_fp32 - 0.01);
  });

  it('the Q/DQ ONNX model compiled for int8 stays within 1 point of fp32', async () => {
    const gm = importOnnx(join(DIGITS_DIR, digitsMeta.models.qdq), { inputShapes: { x: shape } });
    const int8 = await compile(gm, [digitsImages], { device: 'cuda', precision: 'int8' });
    expect(int8.backend).toBe('cuda');
    expect(int8Steps(int8)).toBeGreaterThan(0);
    const [logits] = await int8.run([digitsImages]);
    const acc = digitsTop1(logits!);
    console.log(`digits on CUDA: QDQ ONNX int8 ${acc} (onnxruntime ${digitsMeta.top1.onnxruntime_qdq})`);
    expect(acc).toBeGreaterThanOrEqual(digitsMeta.top1.torch_fp32 - 0.01);
  });
});

describe('INT8 on the CUDA backend: whole networks', () => {
  it('ResNet-50 (random weights, calibrated on random data): cosine similarity with fp32 >= 0.99', async () => {
    const model = modelZoo.resnet50.create().eval();
    const x = Tensor.randn([2, 3, 224, 224], { seed: 21 });
    const calibration = [0, 1, 2].map((i) => [Tensor.randn([2, 3, 224, 224], { seed: 30 + i })]);
    const fp32 = await compile(model, [x], { device: 'cuda', precision: 'fp32' });
    const int8 = await compile(model, [x], { device: 'cuda', precision: 'int8', calibration: { data: calibration, method: 'entropy' } });
    expect(int8Steps(int8)).toBeGreaterThanOrEqual(50);
    const [want] = await fp32.run([x]);
    const [got] = await int8.run([x]);
    const cos = cosineSimilarity(got!.castTo('float32'), want!);
    console.log(`resnet50 int8 vs fp32 on CUDA: cosine ${cos.toFixed(5)}`);
    expect(cos).toBeGreaterThanOrEqual(0.99);
  });

  it('CIFAR ResNet-18 with one calibration cache: the CUDA int8 engine matches the reference int8 engine', async () => {
    const model = modelZoo.resnet18Cifar.create().eval();
    const x = Tensor.randn([2, 3, 32, 32], { seed: 22 });
    const cache = join(dir, 'cifar.calib.json');
    const calibration = { data: [[Tensor.randn([4, 3, 32, 32], { seed: 40 })]], method: 'minmax' as const, cache };
    const cuda = await compile(model, [x], { device: 'cuda', precision: 'int8', calibration });
    const cpu = await compile(model, [x], { device: 'cpu', precision: 'int8', calibration });
    expect(int8Steps(cuda)).toBeGreaterThanOrEqual(15);
    const [got] = await cuda.run([x]);
    const [want] = await cpu.run([x]);
    const cos = cosineSimilarity(got!, want!);
    console.log(`resnet18-cifar int8: CUDA vs reference cosine ${cos.toFixed(7)}`);
    expect(cos).toBeGreaterThanOrEqual(0.999);

    // Its CUDA graph chains the short int8 launches to the kernels before them (programmatic
    // dependent launch) on compute capability 9.0 and later, unless FXRT_CUDA_PDL=0; a chained
    // graph replays the same output.
    const engines = [...cuda.engines.values()];
    expect(engines).toHaveLength(1);
    const runner = CudaEngineRunner.of(engines[0]!.engine);
    const [eager] = await runner.run([x]);
    expect(runner.chainedLaunches([[2, 3, 32, 32]])).toBe(-1);  // one run: no graph yet
    const [replayed] = await runner.run([x]);
    await runner.run([x]);
    expect(runner.graphState([[2, 3, 32, 32]])).toBe('graph');
    const chained = runner.chainedLaunches([[2, 3, 32, 32]]);
    const avail = cudaAvailable();
    const cuda9 = avail.available && avail.computeCapability[0] >= 9 && process.env.FXRT_CUDA_PDL !== '0';
    console.log(`resnet18-cifar int8: ${chained} chained launches in the CUDA graph`);
    if (cuda9) expect(chained).toBeGreaterThanOrEqual(10);
    else expect(chained).toBe(0);
    expect((await replayed!.download()).toArray()).toEqual((await eager!.download()).toArray());
    eager!.dispose();
    replayed!.dispose();
    runner.dispose();
  });

  it('CenterNet head (three ConvTranspose2d + BN + ReLU, then the branches): int8 deconvolutions on the GPU match the reference int8 engine', async () => {
    // Narrower than the zoo's (64 channels) so that the reference engine runs in seconds.
    const small = centerNetHead({ inChannels: 64, deconvChannels: [64, 64, 64], headConv: 32, numClasses: 8, seed: 3 }).eval();
    const x = Tensor.randn([1, 64, 4, 4], { seed: 23 });
    const cache = join(dir, 'centernet.calib.json');
    const calibration = { data: [[Tensor.randn([2, 64, 4, 4], { seed: 41 })]], method: 'minmax' as const, cache };
    const cuda = await compile(small, [x], { device: 'cuda', precision: 'int8', calibration });
    const cpu = await compile(small, [x], { device: 'cpu', precision: 'int8', calibration });
    const engines = [...cuda.engines.values()].map((e) => e.engine);
    expect(engines).toHaveLength(1);
    const deconvs = engines[0]!.plan.steps.filter((s) => s.kind === 'deconvolution');
    expect(deconvs.map((s) => s.quant !== undefined)).toEqual([true, true, true]);
    const tactics = engines[0]!.layerInfo().filter((l) => deconvs.some((s) => s.name === l.name)).map((l) => l.tactic);
    expect(tactics).toHaveLength(3);
    for (const t of tactics) expect(t).toMatch(/^igemm:/);
    const got = await cuda.run([x]);
    const want = await cpu.run([x]);
    expect(got).toHaveLength(3);
    got.forEach((g, i) => {
      const cos = cosineSimilarity(g.castTo('float32'), want[i]!.castTo('float32'));
      console.log(`centernet head int8 output ${i}: CUDA vs reference cosine ${cos.toFixed(7)}`);
      expect(cos).toBeGreaterThanOrEqual(0.999);
    });
  });
});
