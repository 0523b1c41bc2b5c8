/**
 * The int8 pooling and pointwise steps of the Q/DQ fusion (plan.ts StepQuantization) on the CUDA
 * backend against the reference backend, bit for bit (int8 and float outputs alike):
 *   - pooling: 2-D average with padding counted or not, uneven padding, ceil mode, a divisor; max
 *     with padding and dilation; 1-D and 3-D averages; int8, float32 and float16 outputs; rounding
 *     ties and saturation; a channels-last input (a convolution output) read and written in both
 *     layouts; scales computed at run time (float16 too) that change between runs of one context
 *     (eager, CUDA graph capture, replay);
 *   - pointwise: the int8 residual add DQ(a) + DQ(b) (→ relu) → Q with ties and saturation, float32
 *     and float16 outputs, broadcast operands and a float constant beside an int8 one, a requantize
 *     (Q(DQ(q)) with another scale), a channels-last input, a per-channel int8 operand (a plan
 *     edited by hand: the builder quantizes pointwise operands per tensor), run-time scales.
 * Every case checks that the plans hold the int8 steps and that the CUDA ops running them are the
 * int8 forms of the kernels, so that no case passes by running unfused Q/DQ layers.
 */
import { describe, expect, it } from 'vitest';
import { CudaEngineRunner } from '../../src/backends/cuda/index.js';
import { planLayout } from '../../src/backends/cuda/plan_layout.js';
import { Builder, type BuilderConfig } from '../../src/engine/builder.js';
import { Engine, getBackend } from '../../src/engine/engine.js';
import type { LayerParamsMap, NetTensor } from '../../src/engine/network.js';
import { NetworkDefinition } from '../../src/engine/network_definition.js';
import type { Plan } from '../../src/engine/plan.js';
import { numelOf } from '../../src/tensor/shape.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { expectSameBytes } from './compare.js';
import { constant, layer, randn } from './engine_harness.js';
import { dequantize, quantize, scalar } from '../int8_layers.js';

/** A network over int8 (or float) inputs x0, x1, ... and the int8 steps its plan must hold. */
interface Int8Case {
  readonly name: string;
  /** One input set per run of one execution context (the second run captures a CUDA graph, later ones replay it). */
  readonly runs: readonly (readonly Tensor[])[];
  readonly build: (net: NetworkDefinition, xs: readonly NetTensor[]) => void;
  /** The plan's int8 steps in order, as 'kind:output dtype'. */
  readonly steps: readonly string[];
  readonly config?: BuilderConfig;
}

/** The int8 steps of `plan` as 'kind:output dtype'. */
function int8Steps(plan: Plan): string[] {
  return plan.steps.filter((s) => s.quant !== undefined).map((s) => `${s.kind}:${plan.values[s.outputs[0]!]!.dtype}`);
}

async function buildBoth(c: Int8Case): Promise<{ cuda: Engine; reference: Engine }> {
  const make = (): NetworkDefinition => {
    const net = new NetworkDefinition(c.name.replace(/\W+/g, '_'));
    const xs = c.runs[0]!.map((t, i) => net.addInput(`x${i}`, t.dtype, t.shape));
    c.build(net, xs);
    return net;
  };
  const config: BuilderConfig = { precision: 'int8', ...c.config };
  return {
    cuda: await new Builder().build(make(), { ...config, backend: 'cuda' }),
    reference: await new Builder().build(make(), { ...config, backend: 'reference' }),
  };
}

/** Expects every op of an int8 step of `engine` to be the int8 form of its kernel (native tactic names, ops_compute.cc). */
function expectInt8Kernels(engine: Engine, what: string): void {
  const runner = CudaEngineRunner.of(engine);
  try {
    const tactics = runner.tactics();
    engine.plan.steps.forEach((s, i) => {
      if (s.quant === undefined) return;
      const ops = tactics.filter((t) => t.step === i).map((t) => t.tactic);
      expect(ops.length, `${what}: step '${s.name}' ops ${ops.join(', ')}`).toBe(1);
      const pattern = s.kind === 'pooling' ? /^(max|avg)_pool[123]d_int8( \(16-byte channel runs\))?$/ : /^pointwise_f(32|64)\[\d+ instr, int8\]$/;
      expect(ops[0], `${what}: step '${s.name}'`).toMatch(pattern);
    });
  } finally {
    runner.dispose();
  }
}

/** Runs every input set of `c` on one context per backend and expects the same bytes each time. */
async function expectRunsIdentical(c: Int8Case, cuda: Engine, reference: Engine): Promise<void> {
  const got = cuda.createExecutionContext();
  const want = reference.createExecutionContext();
  for (const [r, inputs] of c.runs.entries()) {
    const g = await got.execute(inputs);
    const w = await want.execute(inputs);
    expect(g.length).toBe(w.length);
    g.forEach((t, i) => expectSameBytes(t, w[i]!, `${c.name}, run ${r}, output ${i} '${cuda.outputs[i]!.name}'`));
  }
}

/** Builds `c` for both backends, checks the int8 steps and kernels, and expects identical bytes. */
async function expectBitIdentical(c: Int8Case): Promise<Engine> {
  const { cuda, reference } = await buildBoth(c);
  expect(int8Steps(cuda.plan), c.name).toEqual(c.steps);
  expect(int8Steps(reference.plan), c.name).toEqual(c.steps);
  expectInt8Kernels(cuda, c.name);
  await expectRunsIdentical(c, cuda, reference);
  return cuda;
}

// ---------------------------------------------------------------- inputs and layers

/** Deterministic int8 values spread over the whole range; every 13th is -128 or 127. */
function int8Values(shape: readonly number[], seed: number): Tensor {
  return Tensor.fromNumbers(Array.from({ length: numelOf(shape) }, (_, i) => {
    if (i % 13 === 5) return i % 2 === 0 ? 127 : -128;
    return ((i * 71 + seed * 113) % 256) - 128;
  }), shape, 'int8');
}

/** Pooling over `n` spatial dims: window k, stride s, padding p on both sides, then `extra`. */
function pool(n: number, type: 'max' | 'average', k: number, s: number, p: number, extra: Partial<LayerParamsMap['pooling']> = {}): LayerParamsMap['pooling'] {
  const all = (v: number): number[] => new Array<number>(n).fill(v);
  return {
    type, windowSize: all(k), stride: all(s), prePadding: all(p), postPadding: all(p), dilation: all(1),
    roundUp: false, averageCountExcludesPadding: false, divisor: null, ...extra,
  };
}

/** Pools `x` by each of `cases` and quantizes each result with `so` (outputs named by the cases). */
function pooledOutputs(net: NetworkDefinition, x: NetTensor, cases: readonly (readonly [string, LayerParamsMap['pooling']])[], so: number): void {
  for (const [name, p] of cases) net.markOutput(quantize(net, layer(net, 'pooling', [x], p, name), scalar(net, so, `${name}_so`), `${name}_q`), name);
}

/** Without Q/DQ propagation, a dequantize stays in front of a max pooling, which then fuses into an int8 step. */
const NO_PROPAGATION: BuilderConfig = { optimizations: { qdqPropagation: false } };

/** A 1x1 convolution of small integers by small integer weights: its float result is exact on any backend and precision. */
function exactConv(net: NetworkDefinition, x: NetTensor, c: number, k: number): NetTensor {
  const w = Tensor.fromNumbers(Array.from({ length: k * c }, (_, i) => ((i * 7) % 4) - 1), [k, c, 1, 1]);
  return layer(net, 'convolution', [x, constant(net, w, 'w')], {
    kernelSize: [1, 1], numOutputMaps: k, stride: [1, 1], prePadding: [0, 0], postPadding: [0, 0], dilation: [1, 1], groups: 1,
  }, 'conv');
}

/** Small integers in [-4, 4] as float32. */
function smallInts(shape: readonly number[], seed: number): Tensor {
  return Tensor.fromNumbers(Array.from({ length: numelOf(shape) }, (_, i) => ((i * 5 + seed) % 9) - 4), shape);
}

/** The home layout on the CUDA backend of the first input of the int8 step named `name`. */
function inputLayoutOf(engine: Engine, name: string): string {
  const step = engine.plan.steps.find((s) => s.name === name && s.quant !== undefined);
  if (step === undefined) throw new Error(`no int8 step '${name}'`);
  return planLayout(engine.plan).home[step.inputs[0]!]!;
}

// ---------------------------------------------------------------- pooling

describe('int8 pooling', () => {
  it('2-D average: padding counted or not, uneven padding, ceil mode, a divisor; int8 outputs', async () => {
    await expectBitIdentical({
      name: 'int8 avg pool 2d',
      runs: [[int8Values([2, 5, 9, 8], 1)], [int8Values([2, 5, 9, 8], 2)]],
      build: (net, [x]) => pooledOutputs(net, dequantize(net, x!, scalar(net, 0.05, 'sx'), 'x_dq'), [
        ['k3s2p1', pool(2, 'average', 3, 2, 1)],
        ['k3s2p1_excl', pool(2, 'average', 3, 2, 1, { averageCountExcludesPadding: true })],
        ['k2s2', pool(2, 'average', 2, 2, 0)],
        ['uneven_excl', pool(2, 'average', 3, 2, 1, { prePadding: [1, 0], postPadding: [2, 1], averageCountExcludesPadding: true })],
        ['uneven_incl', pool(2, 'average', 3, 2, 1, { prePadding: [0, 1], postPadding: [1, 2] })],
        ['ceil_excl', pool(2, 'average', 3, 2, 1, { roundUp: true, averageCountExcludesPadding: true })],
        ['divisor', pool(2, 'average', 3, 1, 1, { divisor: 7 })],
      ], 0.02),
      steps: new Array<string>(7).fill('pooling:int8'),
    });
  });

  it('2-D max with padding, uneven padding and dilation: int8 and float32 outputs', async () => {
    await expectBitIdentical({
      name: 'int8 max pool 2d',
      config: NO_PROPAGATION,
      runs: [[int8Values([2, 5, 9, 8], 3)]],
      build: (net, [x]) => {
        const dq = dequantize(net, x!, scalar(net, 0.05, 'sx'), 'x_dq');
        pooledOutputs(net, dq, [
          ['k3s2p1', pool(2, 'max', 3, 2, 1)],
          ['dilated', pool(2, 'max', 2, 1, 0, { dilation: [2, 3] })],
          ['uneven', pool(2, 'max', 3, 2, 1, { postPadding: [0, 1] })],
        ], 0.03);
        net.markOutput(layer(net, 'pooling', [dq], pool(2, 'max', 3, 2, 1), 'float_out'), 'float_out');
      },
      steps: ['pooling:int8', 'pooling:int8', 'pooling:int8', 'pooling:float32'],
    });
  });

  it('average with float32 and float16 outputs (no quantize after it), one of them with a float16 scale', async () => {
    await expectBitIdentical({
      name: 'int8 avg pool float out',
      runs: [[int8Values([2, 4, 7, 7], 4), int8Values([1, 16, 6, 5], 5)]],
      build: (net, [x, h]) => {
        const a = dequantize(net, x!, scalar(net, 0.037, 'sx'), 'x_dq');
        net.markOutput(layer(net, 'pooling', [a], pool(2, 'average', 3, 2, 1, { averageCountExcludesPadding: true }), 'f32'), 'f32');
        const b = dequantize(net, h!, scalar(net, 0.0123, 'sh', 'float16'), 'h_dq', 'float16');
        net.markOutput(layer(net, 'pooling', [b], pool(2, 'average', 2, 1, 0), 'f16'), 'f16');
      },
      steps: ['pooling:float32', 'pooling:float16'],
    });
  });

  it('1-D and 3-D averages', async () => {
    await expectBitIdentical({
      name: 'int8 avg pool 1d 3d',
      runs: [[int8Values([2, 3, 17], 6), int8Values([1, 3, 5, 6, 7], 7)]],
      build: (net, [x1, x3]) => {
        const a = dequantize(net, x1!, scalar(net, 0.1, 's1'), 'x1_dq');
        pooledOutputs(net, a, [['1d', pool(1, 'average', 3, 2, 1)], ['1d_excl', pool(1, 'average', 4, 3, 2, { averageCountExcludesPadding: true })]], 0.05);
        const b = dequantize(net, x3!, scalar(net, 0.1, 's3'), 'x3_dq');
        pooledOutputs(net, b, [['3d', pool(3, 'average', 3, 2, 1)], ['3d_excl', pool(3, 'average', 2, 2, 1, { averageCountExcludesPadding: true })]], 0.05);
      },
      steps: new Array<string>(4).fill('pooling:int8'),
    });
  });

  it('between int8 convolutions (channels-last, 32 channels): 16-byte channel runs, average and max, bit-identical', async () => {
    // conv (int8 out) → DQ → pool → Q → DQ → conv: the pooling reads and writes the convolutions'
    // channels-last int8 tensors, 16 channels a thread (ResNet's final average pool, its max pool).
    const convParams = (k: number): LayerParamsMap['convolution'] => ({
      kernelSize: [k, k], numOutputMaps: 32, stride: [1, 1], prePadding: [k >> 1, k >> 1], postPadding: [k >> 1, k >> 1], dilation: [1, 1], groups: 1,
    });
    const weight = (net: NetworkDefinition, cin: number, k: number, seed: number, name: string): NetTensor => {
      const s = constant(net, Tensor.fromNumbers(Array.from({ length: 32 }, (_, c) => 0.02 + 0.003 * (c % 5)), [32]), `${name}_s`);
      const q = layer(net, 'quantize', [constant(net, randn([32, cin, k, k], seed), name), s], { axis: 0, toType: 'int8' }, `${name}_q`);
      return layer(net, 'dequantize', [q, s], { axis: 0, toType: 'float32' }, `${name}_dq`);
    };
    const pools: readonly (readonly [string, LayerParamsMap['pooling']])[] = [
      ['global', pool(2, 'average', 7, 1, 0, { windowSize: [9, 8] })],
      ['k3s2p1_excl', pool(2, 'average', 3, 2, 1, { averageCountExcludesPadding: true })],
      ['k3s2p1', pool(2, 'average', 3, 2, 1)],
      ['max_k3s2p1', pool(2, 'max', 3, 2, 1)],
    ];
    for (const [name, params] of pools) {
      const c: Int8Case = {
        name: `int8 conv -> ${name} pool -> int8 conv`,
        // A 3x3 max pool moves through Q/DQ unless propagation is off; then it is an int8 step too.
        config: NO_PROPAGATION,
        runs: [[int8Values([2, 5, 9, 8], 8)], [int8Values([2, 5, 9, 8], 9)]],
        build: (net, [x]) => {
          const sx = scalar(net, 0.05, 'sx');
          const a = layer(net, 'convolution', [dequantize(net, x!, sx, 'x_dq'), weight(net, 5, 3, 30, 'w1'), constant(net, randn([32], 31), 'b1')], convParams(3), 'conv1');
          const s1 = scalar(net, 0.3, 's1');
          const a1 = dequantize(net, quantize(net, a, s1, 'conv1_q'), s1, 'conv1_dq');
          const p = layer(net, 'pooling', [a1], params, 'pool');
          const s2 = scalar(net, 0.2, 's2');
          const p1 = dequantize(net, quantize(net, p, s2, 'pool_q'), s2, 'pool_dq');
          const b = layer(net, 'convolution', [p1, weight(net, 32, 1, 32, 'w2'), constant(net, randn([32], 33), 'b2')], convParams(1), 'conv2');
          net.markOutput(quantize(net, b, scalar(net, 0.4, 'so'), 'y_q'), 'y');
        },
        steps: ['convolution:int8', 'pooling:int8', 'convolution:int8'],
      };
      const { cuda, reference } = await buildBoth(c);
      expect(int8Steps(cuda.plan), c.name).toEqual(c.steps);
      const runner = CudaEngineRunner.of(cuda);
      try {
        const index = cuda.plan.steps.findIndex((s) => s.kind === 'pooling');
        const ops = runner.tactics().filter((t) => t.step === index).map((t) => t.tactic);
        expect(ops, c.name).toEqual([`${params.type === 'max' ? 'max' : 'avg'}_pool2d_int8 (16-byte channel runs)`]);
      } finally {
        runner.dispose();
      }
      await expectRunsIdentical(c, cuda, reference);
    }
  });

  it('rounds ties to even and saturates to [-128, 127]', async () => {
    // 2x2 windows (stride 2) of one row-pair each: sums 2, 6, 10, -2, -6, 14, 4·127, 4·(-128), 1, -1.
    const windows = [[1, 1, 0, 0], [2, 2, 1, 1], [3, 3, 2, 2], [-1, -1, 0, 0], [-2, -2, -1, -1], [4, 4, 3, 3],
      [127, 127, 127, 127], [-128, -128, -128, -128], [1, 0, 0, 0], [-1, 0, 0, 0]];
    const w = windows.length;
    const values = new Array<number>(2 * 2 * w).fill(0);
    windows.forEach(([a, b, c, d], j) => {
      values[2 * j] = a!;
      values[2 * j + 1] = b!;
      values[2 * w + 2 * j] = c!;
      values[2 * w + 2 * j + 1] = d!;
    });
    await expectBitIdentical({
      name: 'int8 avg pool ties',
      runs: [[Tensor.fromNumbers(values, [1, 1, 2, 2 * w], 'int8')]],
      build: (net, [x]) => {
        const dq = dequantize(net, x!, scalar(net, 1, 'one'), 'x_dq');
        // sum / 4 at output scale 1: .5 ties; at 0.25: ±4·127 saturate; a divisor of 3: inexact quotients.
        pooledOutputs(net, dq, [['ties', pool(2, 'average', 2, 2, 0)]], 1);
        pooledOutputs(net, dq, [['saturate', pool(2, 'average', 2, 2, 0)]], 0.25);
        pooledOutputs(net, dq, [['thirds', pool(2, 'average', 2, 2, 0, { divisor: 3 })]], 0.125);
      },
      steps: ['pooling:int8', 'pooling:int8', 'pooling:int8'],
    });
  });

  it('reads a channels-last convolution output and writes row-major and channels-last outputs', async () => {
    const engine = await expectBitIdentical({
      name: 'int8 pool nhwc',
      config: NO_PROPAGATION,
      runs: [[smallInts([2, 6, 9, 7], 1)], [smallInts([2, 6, 9, 7], 2)]],
      build: (net, [x]) => {
        const y = exactConv(net, x!, 6, 16);
        const sx = scalar(net, 0.25, 'sx');
        const dq = dequantize(net, quantize(net, y, sx, 'conv_q'), sx, 'conv_dq');
        // A network output is row-major; a value only a dequantize reads stays channels-last.
        net.markOutput(quantize(net, layer(net, 'pooling', [dq], pool(2, 'average', 3, 2, 1), 'avg'), scalar(net, 0.2, 'so'), 'avg_q'), 'avg');
        const so = scalar(net, 0.3, 'so2');
        const max = quantize(net, layer(net, 'pooling', [dq], pool(2, 'max', 3, 2, 1), 'max'), so, 'max_q');
        net.markOutput(dequantize(net, max, so, 'max_dq'), 'max');
      },
      steps: ['pooling:int8', 'pooling:int8'],
    });
    expect([inputLayoutOf(engine, 'avg'), inputLayoutOf(engine, 'max')]).toEqual(['nhwc', 'nhwc']);
    const layout = planLayout(engine.plan);
    const outputLayout = (name: string): string => layout.home[engine.plan.steps.find((s) => s.name === name)!.outputs[0]!]!;
    expect([outputLayout('avg'), outputLayout('max')]).toEqual(['rowmajor', 'nhwc']);
  });

  it('max pooling of quantized values (the dequantize moved behind it): channels-last, 16 bytes of channels per thread', async () => {
    // The pooling runs on the int8 values themselves (no int8 step): 32 channels-last channels, so
    // the kernel compares four bytes per instruction; windows clipped by the padding on every side
    // (k3 s2 p1, and k2 s1 p1 with an uneven end).
    const engine = await expectBitIdentical({
      name: 'int8 values max pool nhwc',
      runs: [[smallInts([2, 6, 9, 7], 3)], [smallInts([2, 6, 9, 7], 4)]],
      build: (net, [x]) => {
        const y = exactConv(net, x!, 6, 32);
        const sx = scalar(net, 0.25, 'sx');
        const dq = dequantize(net, quantize(net, y, sx, 'conv_q'), sx, 'conv_dq');
        net.markOutput(layer(net, 'pooling', [dq], pool(2, 'max', 3, 2, 1), 'max'), 'max');
        net.markOutput(layer(net, 'pooling', [dq], pool(2, 'max', 2, 1, 1, { postPadding: [0, 1] }), 'max_padded'), 'max_padded');
      },
      steps: [],
    });
    for (const name of ['max', 'max_padded']) {
      const step = engine.plan.steps.find((s) => s.name === name)!;
      expect(engine.plan.values[step.inputs[0]!]!.dtype, `${name}: pooled dtype`).toBe('int8');
      expect(planLayout(engine.plan).home[step.inputs[0]!], `${name}: input layout`).toBe('nhwc');
    }
  });

  it('reads scales computed at run time (float16 and float32) anew on every run, CUDA graph replays included', async () => {
    const x = int8Values([2, 8, 6, 6], 8);
    const scales = (sx: number, so: number): Tensor[] => [x, Tensor.fromNumbers([sx], [1], 'float16'), Tensor.fromNumbers([so], [1])];
    await expectBitIdentical({
      name: 'int8 pool run-time scales',
      runs: [scales(0.05, 0.02), scales(0.125, 0.5), scales(0.0312, 0.007), scales(1, 1)],
      build: (net, [q, sx, so]) => {
        const pooled = layer(net, 'pooling', [dequantize(net, q!, sx!, 'x_dq')], pool(2, 'average', 3, 1, 1), 'avg');
        net.markOutput(quantize(net, pooled, so!, 'avg_q'), 'y');
      },
      steps: ['pooling:int8'],
    });
  });
});

// ---------------------------------------------------------------- pointwise

describe('int8 pointwise', () => {
  /** Every pair (a, b) of int8 values on a grid, so that a + b/2 covers ties and both saturations. */
  function pairs(): Tensor[] {
    const a: number[] = [];
    const b: number[] = [];
    for (let i = -128; i < 128; i += 5) {
      for (let j = -128; j < 128; j += 3) {
        a.push(i);
        b.push(j);
      }
    }
    return [Tensor.fromNumbers(a, [a.length], 'int8'), Tensor.fromNumbers(b, [b.length], 'int8')];
  }

  it('DQ(a) + DQ(b) (→ relu) → Q: ties to even, saturation; a requantize to another scale', async () => {
    await expectBitIdentical({
      name: 'int8 residual add',
      runs: [pairs()],
      build: (net, [a, b]) => {
        // y / so = a + b / 2: odd b give ties, |a + b / 2| > 127.5 saturates.
        const sum = layer(net, 'elementwise', [dequantize(net, a!, scalar(net, 0.5, 'sa'), 'a_dq'), dequantize(net, b!, scalar(net, 0.25, 'sb'), 'b_dq')], { op: 'sum' }, 'add');
        net.markOutput(quantize(net, sum, scalar(net, 0.5, 'so'), 'add_q'), 'add');
        const a2 = dequantize(net, a!, scalar(net, 0.3, 'sa2'), 'a2_dq');
        const b2 = dequantize(net, b!, scalar(net, 0.7, 'sb2'), 'b2_dq');
        const relu = layer(net, 'activation', [layer(net, 'elementwise', [a2, b2], { op: 'sum' }, 'add2')], { op: 'relu', alpha: 0, beta: 0 }, 'relu');
        net.markOutput(quantize(net, relu, scalar(net, 0.9, 'so2'), 'relu_q'), 'add_relu');
        // Q(DQ(b)) with a scale 2x the dequantize's: b / 2, ties to even.
        const sb = scalar(net, 0.1, 'sb3');
        net.markOutput(quantize(net, dequantize(net, b!, sb, 'b3_dq'), scalar(net, 0.2, 'so3'), 'requant_q'), 'requant');
      },
      steps: ['pointwise:int8', 'pointwise:int8', 'pointwise:int8'],
    });
  });

  it('float32 and float16 outputs (no quantize after the program)', async () => {
    await expectBitIdentical({
      name: 'int8 add float out',
      runs: [pairs()],
      build: (net, [a, b]) => {
        const sum = layer(net, 'elementwise', [dequantize(net, a!, scalar(net, 0.013, 'sa'), 'a_dq'), dequantize(net, b!, scalar(net, 0.0071, 'sb'), 'b_dq')], { op: 'sum' }, 'add');
        net.markOutput(sum, 'f32');
        const ha = dequantize(net, a!, scalar(net, 0.013, 'ha_s', 'float16'), 'ha_dq', 'float16');
        const hb = dequantize(net, b!, scalar(net, 0.0071, 'hb_s', 'float16'), 'hb_dq', 'float16');
        net.markOutput(layer(net, 'elementwise', [ha, hb], { op: 'prod' }, 'mul'), 'f16');
      },
      steps: ['pointwise:float32', 'pointwise:float16'],
    });
  });

  it('broadcast int8 operands, and a float constant beside an int8 operand', async () => {
    await expectBitIdentical({
      name: 'int8 pointwise broadcast',
      runs: [[int8Values([2, 3, 4, 5], 9), int8Values([1, 3, 1, 1], 10), int8Values([1, 1, 1, 5], 11)]],
      build: (net, [a, b, c]) => {
        const da = dequantize(net, a!, scalar(net, 0.05, 'sa'), 'a_dq');
        const sum = layer(net, 'elementwise', [da, dequantize(net, b!, scalar(net, 0.2, 'sb'), 'b_dq')], { op: 'sum' }, 'add');
        net.markOutput(quantize(net, sum, scalar(net, 0.1, 'so'), 'add_q'), 'channel_bias');
        const sub = layer(net, 'elementwise', [dequantize(net, c!, scalar(net, 0.3, 'sc'), 'c_dq'), da], { op: 'sub' }, 'sub');
        net.markOutput(quantize(net, sub, scalar(net, 0.15, 'so2'), 'sub_q'), 'row_minus');
        const w = constant(net, Tensor.fromNumbers([0.5, -1.25, 3], [1, 3, 1, 1]), 'w');
        net.markOutput(quantize(net, layer(net, 'elementwise', [da, w], { op: 'prod' }, 'scale'), scalar(net, 0.05, 'so3'), 'scale_q'), 'scaled');
      },
      steps: ['pointwise:int8', 'pointwise:int8', 'pointwise:int8'],
    });
  });

  it('reads a channels-last convolution output', async () => {
    const engine = await expectBitIdentical({
      name: 'int8 pointwise nhwc',
      runs: [[smallInts([2, 6, 5, 7], 3)]],
      build: (net, [x]) => {
        const sx = scalar(net, 0.25, 'sx');
        const dq = dequantize(net, quantize(net, exactConv(net, x!, 6, 8), sx, 'conv_q'), sx, 'conv_dq');
        const scaled = layer(net, 'elementwise', [dq, constant(net, Tensor.fromNumbers([1.5], [1, 1, 1, 1]), 'k')], { op: 'prod' }, 'scale');
        net.markOutput(quantize(net, scaled, scalar(net, 0.375, 'so'), 'scale_q'), 'y');
      },
      steps: ['pointwise:int8'],
    });
    expect(inputLayoutOf(engine, 'scale')).toBe('nhwc');
  });

  it('dequantizes a per-channel int8 operand along its channel axis (a plan edited by hand)', async () => {
    const c: Int8Case = {
      name: 'int8 pointwise per channel',
      runs: [[int8Values([2, 3, 10], 12), int8Values([2, 3, 10], 13), Tensor.fromNumbers([0.25], [1])]],
      build: (net, [a, b, sb]) => {
        const sum = layer(net, 'elementwise', [dequantize(net, a!, scalar(net, 0.5, 'sa'), 'a_dq'), dequantize(net, b!, sb!, 'b_dq')], { op: 'sum' }, 'add');
        net.markOutput(quantize(net, sum, scalar(net, 0.5, 'so'), 'add_q'), 'y');
      },
      steps: ['pointwise:int8'],
    };
    const { cuda } = await buildBoth(c);
    // b's run-time scale x2 ([1]) becomes 3 scales along axis 1 of b.
    const io = cuda.plan.inputs[2]!;
    const shape = [3];
    const plan: Plan = {
      ...cuda.plan,
      inputs: cuda.plan.inputs.map((i) => (i === io ? { ...i, shape, profile: { min: shape, opt: shape, max: shape } } : i)),
      values: cuda.plan.values.map((v) => (v.id === io.value ? { ...v, shape } : v)),
      steps: cuda.plan.steps.map((s) => (s.quant === undefined ? s : {
        ...s, quant: { ...s.quant, operands: s.quant.operands.map((o) => (s.inputs[o.scale] === io.value ? { ...o, axis: 1 } : o)) },
      })),
    };
    const perChannel = new Engine(plan, getBackend('cuda'));
    expectInt8Kernels(perChannel, c.name);
    const runs = [0, 1].map((k) => [c.runs[0]![0]!, c.runs[0]![1]!, Tensor.fromNumbers([0.25, 0.375 + k, 1.5 * (k + 1)], [3])]);
    await expectRunsIdentical({ ...c, runs }, perChannel, new Engine(plan, getBackend('reference')));
  });

  it('reads scales computed at run time anew on every run, CUDA graph replays included', async () => {
    const [a, b] = pairs();
    const run = (sa: number, sb: number, so: number): Tensor[] => [a!, b!, Tensor.fromNumbers([sa], [1]), Tensor.fromNumbers([sb], [1], 'float16'), Tensor.fromNumbers([so], [1])];
    await expectBitIdentical({
      name: 'int8 pointwise run-time scales',
      runs: [run(0.5, 0.25, 0.5), run(0.1, 0.3, 0.2), run(2, 0.0625, 1), run(0.013, 0.5, 0.007)],
      build: (net, [qa, qb, sa, sb, so]) => {
        const sum = layer(net, 'elementwise', [dequantize(net, qa!, sa!, 'a_dq'), dequantize(net, qb!, sb!, 'b_dq')], { op: 'sum' }, 'add');
        net.markOutput(quantize(net, sum, so!, 'add_q'), 'y');
      },
      steps: ['pointwise:int8'],
    });
  });
});
