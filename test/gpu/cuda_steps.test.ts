/**
 * Every plan step kind the CUDA backend implements, against the reference backend: fp32 tightly,
 * fp16/bf16 within their precision; data movement bit-exact. Each case runs fused (default
 * optimizations: conv/gemm epilogues, pointwise regions) and, where it matters, unfused.
 */
import { describe, expect, it } from 'vitest';
import { Builder } from '../../src/engine/builder.js';
import type { ActivationOp, ElementWiseOp, LayerParamsMap, UnaryOp } from '../../src/engine/network.js';
import { NetworkDefinition } from '../../src/engine/network_definition.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { CudaEngineRunner } from '../../src/backends/cuda/index.js';
import { expectSameValues } from './compare.js';
import { buildPair, constant, expectMatchesReference, FLOATS, layer, randn, type FloatDType, type StepCase } from './engine_harness.js';

/** a * x + b elementwise, as a tensor of `dtype`. */
function affine(x: Tensor, a: number, b: number, dtype: FloatDType = 'float32'): Tensor {
  return Tensor.fromNumbers(Array.from(x.toFloat64(), (v) => a * v + b), x.shape, dtype);
}

const relu = { op: 'relu', alpha: 0, beta: 0 } as const;

function conv(out: number, k: number, opts: { pad?: number; stride?: number; groups?: number; dilation?: number } = {}): LayerParamsMap['convolution'] {
  const pad = opts.pad ?? 0;
  const s = opts.stride ?? 1;
  const d = opts.dilation ?? 1;
  return { kernelSize: [k, k], numOutputMaps: out, stride: [s, s], prePadding: [pad, pad], postPadding: [pad, pad], dilation: [d, d], groups: opts.groups ?? 1 };
}

describe('convolution (cuDNN, NHWC)', () => {
  const shapes = [
    { name: '3x3 pad 1', c: 8, p: conv(16, 3, { pad: 1 }) },
    { name: '3x3 stride 2', c: 8, p: conv(16, 3, { pad: 1, stride: 2 }) },
    { name: '1x1', c: 16, p: conv(32, 1) },
    { name: '7x7 stride 2 on 3 channels', c: 3, p: conv(8, 7, { pad: 3, stride: 2 }) },
    { name: 'grouped', c: 8, p: conv(16, 3, { pad: 1, groups: 2 }) },
    { name: 'depthwise', c: 8, p: conv(8, 3, { pad: 1, groups: 8 }) },
    { name: 'dilated', c: 8, p: conv(8, 3, { pad: 2, dilation: 2 }) },
  ];
  for (const s of shapes) {
    it(`${s.name}: conv + bias + relu fused`, async () => {
      await expectMatchesReference({
        name: `conv ${s.name}`,
        inputs: (dt) => [randn([2, s.c, 12, 12], 1, dt)],
        build: (net, [x], dt) => {
          const w = constant(net, randn([s.p.numOutputMaps, s.c / s.p.groups, ...s.p.kernelSize], 2, dt), 'w');
          const b = constant(net, randn([s.p.numOutputMaps], 3, dt), 'b');
          const y = layer(net, 'convolution', [x!, w, b], s.p, 'conv');
          net.markOutput(layer(net, 'activation', [y], relu, 'relu'), 'y');
        },
      });
    });
  }

  it('conv + bias + residual + relu (ResNet block) fused, conv without bias, and an unfusable clip epilogue', async () => {
    await expectMatchesReference({
      name: 'conv residual',
      inputs: (dt) => [randn([2, 8, 10, 10], 4, dt)],
      build: (net, [x], dt) => {
        const w1 = constant(net, randn([8, 8, 3, 3], 5, dt), 'w1');
        const w2 = constant(net, randn([8, 8, 3, 3], 6, dt), 'w2');
        const b1 = constant(net, randn([8], 7, dt), 'b1');
        const h = layer(net, 'activation', [layer(net, 'convolution', [x!, w1, b1], conv(8, 3, { pad: 1 }), 'c1')], relu, 'r1');
        const y = layer(net, 'convolution', [h, w2], conv(8, 3, { pad: 1 }), 'c2');
        const sum = layer(net, 'elementwise', [y, x!], { op: 'sum' }, 'add');
        net.markOutput(layer(net, 'activation', [sum], relu, 'r2'), 'block');
        const w3 = constant(net, randn([4, 8, 1, 1], 8, dt), 'w3');
        const c3 = layer(net, 'convolution', [h, w3], conv(4, 1), 'c3');
        net.markOutput(layer(net, 'activation', [c3], { op: 'clip', alpha: 0, beta: 6 }, 'relu6'), 'clipped');
      },
    });
  });

  it('unfused (optimizations off): conv then separate bias, residual and activation steps', async () => {
    await expectMatchesReference({
      name: 'conv unfused',
      optimizations: false,
      inputs: (dt) => [randn([1, 8, 9, 9], 9, dt)],
      build: (net, [x], dt) => {
        const w = constant(net, randn([8, 8, 3, 3], 10, dt), 'w');
        const y = layer(net, 'convolution', [x!, w], conv(8, 3, { pad: 1 }), 'c');
        const b = constant(net, randn([1, 8, 1, 1], 11, dt), 'b');
        const s = layer(net, 'elementwise', [layer(net, 'elementwise', [y, b], { op: 'sum' }, 'bias'), x!], { op: 'sum' }, 'res');
        net.markOutput(layer(net, 'activation', [s], { op: 'silu', alpha: 0, beta: 0 }, 'act'), 'y');
      },
    });
  });
});

describe('matrix_multiply (cuBLASLt)', () => {
  const cases: { name: string; a: number[]; b: number[]; p: LayerParamsMap['matrix_multiply'] }[] = [
    { name: 'linear over a batch', a: [4, 6, 32], b: [1, 64, 32], p: { transpose0: false, transpose1: true, vector0: false, vector1: false } },
    { name: 'batched', a: [3, 16, 32], b: [3, 32, 8], p: { transpose0: false, transpose1: false, vector0: false, vector1: false } },
    { name: 'shared a', a: [1, 16, 32], b: [3, 32, 8], p: { transpose0: false, transpose1: false, vector0: false, vector1: false } },
    { name: 'transposed a', a: [2, 32, 16], b: [2, 32, 8], p: { transpose0: true, transpose1: false, vector0: false, vector1: false } },
    { name: 'matrix x vector', a: [5, 32], b: [32], p: { transpose0: false, transpose1: false, vector0: false, vector1: true } },
    { name: 'vector x matrix', a: [32], b: [32, 7], p: { transpose0: false, transpose1: false, vector0: true, vector1: false } },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      await expectMatchesReference({
        name: `matmul ${c.name}`,
        inputs: (dt) => [randn(c.a, 12, dt), randn(c.b, 13, dt)],
        build: (net, [a, b]) => net.markOutput(layer(net, 'matrix_multiply', [a!, b!], c.p, 'mm'), 'y'),
      });
    });
  }

  const linear = { transpose0: false, transpose1: true, vector0: false, vector1: false };
  const epilogues: { name: string; act: ActivationOp | null; residual: boolean }[] = [
    { name: '+ bias + relu', act: 'relu', residual: false },
    { name: '+ bias + gelu (tanh), fused', act: 'gelu_tanh', residual: false },
    { name: '+ bias + gelu (erf), epilogue kernel', act: 'gelu_erf', residual: false },
    { name: '+ bias + residual', act: null, residual: true },
    { name: '+ bias + residual + sigmoid', act: 'sigmoid', residual: true },
  ];
  for (const e of epilogues) {
    it(`epilogue ${e.name}`, async () => {
      await expectMatchesReference({
        name: `linear ${e.name}`,
        inputs: (dt) => [randn([2, 24, 64], 14, dt), randn([2, 24, 48], 15, dt)],
        build: (net, [x, r], dt) => {
          const w = constant(net, randn([1, 48, 64], 16, dt), 'w');
          const b = constant(net, randn([1, 1, 48], 17, dt), 'b');
          let y = layer(net, 'elementwise', [layer(net, 'matrix_multiply', [x!, w], linear, 'mm'), b], { op: 'sum' }, 'bias');
          if (e.residual) y = layer(net, 'elementwise', [y, r!], { op: 'sum' }, 'res');
          if (e.act) y = layer(net, 'activation', [y], { op: e.act, alpha: 0, beta: 0 }, 'act');
          net.markOutput(y, 'y');
        },
      });
    });
  }
});

describe('pooling', () => {
  const pool = (type: 'max' | 'average', k: number, s: number, pad: number, extra: Partial<LayerParamsMap['pooling']> = {}): LayerParamsMap['pooling'] => ({
    type, windowSize: [k, k], stride: [s, s], prePadding: [pad, pad], postPadding: [pad, pad], dilation: [1, 1],
    roundUp: false, averageCountExcludesPadding: false, divisor: null, ...extra,
  });
  const cases: { name: string; p: LayerParamsMap['pooling'] }[] = [
    { name: 'max 3x3 s2 p1', p: pool('max', 3, 2, 1) },
    { name: 'max ceil mode', p: pool('max', 3, 2, 0, { roundUp: true }) },
    { name: 'max dilated', p: pool('max', 2, 1, 0, { dilation: [2, 2] }) },
    { name: 'average 2x2', p: pool('average', 2, 2, 0) },
    { name: 'average padded, count includes padding', p: pool('average', 3, 2, 1) },
    { name: 'average padded, count excludes padding', p: pool('average', 3, 2, 1, { averageCountExcludesPadding: true }) },
    { name: 'average with a divisor', p: pool('average', 3, 1, 1, { divisor: 5 }) },
  ];
  for (const c of cases) {
    it(`${c.name}, on a row-major input and between convolutions (NHWC, 8 channels per thread)`, async () => {
      await expectMatchesReference({
        name: `pool ${c.name}`,
        inputs: (dt) => [randn([2, 8, 11, 11], 18, dt)],
        build: (net, [x], dt) => {
          net.markOutput(layer(net, 'pooling', [x!], c.p, 'direct'), 'direct');
          const w = constant(net, randn([16, 8, 1, 1], 19, dt), 'w');
          const y = layer(net, 'convolution', [x!, w], conv(16, 1), 'conv');
          const pooled = layer(net, 'pooling', [y], c.p, 'between');
          const w2 = constant(net, randn([4, 16, 1, 1], 20, dt), 'w2');
          net.markOutput(layer(net, 'convolution', [pooled, w2], conv(4, 1), 'conv2'), 'between_convs');
        },
      });
    });
  }
});

describe('pointwise', () => {
  const binary: ElementWiseOp[] = ['sum', 'prod', 'sub', 'div', 'pow', 'max', 'min', 'floor_div', 'mod'];
  it('single elementwise steps with broadcasting (optimizations off)', async () => {
    await expectMatchesReference({
      name: 'elementwise',
      optimizations: false,
      inputs: (dt) => [
        Tensor.fromNumbers(Array.from(randn([15], 20).toFloat64(), (v) => Math.abs(v) + 0.5), [1, 3, 5], dt),
        // Divisors away from zero, of both signs.
        Tensor.fromNumbers(Array.from({ length: 20 }, (_, i) => (i % 3 === 0 ? -1 : 1) * (0.5 + ((i * 0.37) % 2))), [4, 1, 5], dt),
      ],
      build: (net, [a, b]) => {
        for (const op of binary) net.markOutput(layer(net, 'elementwise', [a!, b!], { op }, op), op);
      },
    });
  });

  it('comparisons and logic to bool, selects and casts', async () => {
    await expectMatchesReference({
      name: 'compare',
      inputs: (dt) => [randn([6, 7], 22, dt), randn([6, 7], 23, dt)],
      build: (net, [a, b], dt) => {
        const gt = layer(net, 'elementwise', [a!, b!], { op: 'greater' }, 'gt');
        const lt = layer(net, 'elementwise', [a!, b!], { op: 'less' }, 'lt');
        const either = layer(net, 'elementwise', [gt, lt], { op: 'or' }, 'or');
        net.markOutput(either, 'either');
        net.markOutput(layer(net, 'select', [gt, a!, b!], {}, 'where'), 'max');
        const i = layer(net, 'cast', [layer(net, 'elementwise', [a!, constant(net, Tensor.full([1, 1], 8, dt), 'k')], { op: 'prod' }, 'scaled')], { toType: 'int32' }, 'to_int');
        const m = layer(net, 'elementwise', [i, constant(net, Tensor.fromNumbers([3], [1, 1], 'int32'), 'three')], { op: 'mod' }, 'mod');
        const d = layer(net, 'elementwise', [i, constant(net, Tensor.fromNumbers([-4], [1, 1], 'int32'), 'minus4')], { op: 'floor_div' }, 'fdiv');
        net.markOutput(m, 'mod');
        net.markOutput(layer(net, 'elementwise', [d, i], { op: 'prod' }, 'iprod'), 'iprod');
        net.markOutput(layer(net, 'cast', [m], { toType: dt }, 'back'), 'back');
      },
    });
  });

  const unary: UnaryOp[] = ['exp', 'log', 'sqrt', 'recip', 'abs', 'neg', 'sin', 'cos', 'tan', 'sinh', 'cosh', 'asin', 'acos', 'atan',
    'ceil', 'floor', 'erf', 'sign', 'round', 'trunc', 'rsqrt'];
  it('unary functions', async () => {
    await expectMatchesReference({
      name: 'unary',
      optimizations: false,
      inputs: (dt) => [affine(Tensor.rand([64], { seed: 24 }), 0.9, 0.05, dt)],
      build: (net, [x]) => {
        for (const op of unary) net.markOutput(layer(net, 'unary', [x!], { op }, op), op);
      },
    });
  });

  const acts: [ActivationOp, number, number][] = [['relu', 0, 0], ['sigmoid', 0, 0], ['tanh', 0, 0], ['leaky_relu', 0.1, 0], ['elu', 1.5, 0],
    ['selu', 1.67, 1.05], ['softsign', 0, 0], ['softplus', 1, 2], ['clip', -0.5, 0.7], ['hard_sigmoid', 0.2, 0.5], ['gelu_erf', 0, 0],
    ['gelu_tanh', 0, 0], ['silu', 0, 0]];
  it('activations', async () => {
    await expectMatchesReference({
      name: 'activations',
      optimizations: false,
      inputs: (dt) => [affine(randn([3, 40], 25), 3, 0, dt)],
      build: (net, [x]) => {
        for (const [op, alpha, beta] of acts) net.markOutput(layer(net, 'activation', [x!], { op, alpha, beta }, op), op);
      },
    });
  });

  it('a single function over a dense tensor runs on the specialized kernel, vectorized and with a tail, bit-exact', async () => {
    const c: StepCase = {
      name: 'map',
      optimizations: false,
      exact: true,
      inputs: (dt) => [affine(randn([7, 1001], 33), 2, 0, dt)],
      build: (net, [x]) => {
        net.markOutput(layer(net, 'activation', [x!], { op: 'gelu_erf', alpha: 0, beta: 0 }, 'gelu'), 'gelu');
        net.markOutput(layer(net, 'activation', [x!], { op: 'silu', alpha: 0, beta: 0 }, 'silu'), 'silu');
        net.markOutput(layer(net, 'unary', [x!], { op: 'exp' }, 'exp'), 'exp');
      },
    };
    for (const dtype of FLOATS) {
      const { cuda, inputs } = await buildPair(c, dtype);
      const tactics = CudaEngineRunner.of(cuda).tactics().map((t) => t.tactic);
      expect(tactics).toEqual(expect.arrayContaining(['pointwise_map[gelu_erf]', 'pointwise_map[silu]', 'pointwise_map[exp]']));
      // The same functions through the interpreter (a two-instruction program: f(x) * 1) agree bit for bit.
      const viaInterpreter = await buildPair({
        ...c,
        optimizations: true,
        build: (net, [x], dt) => {
          const one = constant(net, Tensor.full([1, 1], 1, dt), 'one');
          for (const [name, l] of [['gelu', layer(net, 'activation', [x!], { op: 'gelu_erf', alpha: 0, beta: 0 }, 'gelu')],
            ['silu', layer(net, 'activation', [x!], { op: 'silu', alpha: 0, beta: 0 }, 'silu')],
            ['exp', layer(net, 'unary', [x!], { op: 'exp' }, 'exp')]] as const) {
            net.markOutput(layer(net, 'elementwise', [l, one], { op: 'prod' }, `${name}_x1`), name);
          }
        },
      }, dtype);
      const fast = await cuda.createExecutionContext().execute(inputs);
      const interpreted = await viaInterpreter.cuda.createExecutionContext().execute(inputs);
      fast.forEach((t, i) => expectSameValues(t, interpreted[i]!, `map output ${i} (${dtype})`));
    }
    await expectMatchesReference({ ...c, exact: false });
  });

  it('a fused region (pointwise step) with a per-channel constant, and scale / prelu steps', async () => {
    await expectMatchesReference({
      name: 'fused region',
      inputs: (dt) => [randn([2, 6, 5, 5], 26, dt), randn([2, 6, 5, 5], 27, dt)],
      build: (net, [x, y], dt) => {
        const c = constant(net, randn([1, 6, 1, 1], 28, dt), 'c');
        const t = layer(net, 'elementwise', [layer(net, 'elementwise', [x!, c], { op: 'prod' }, 'mul'), y!], { op: 'sub' }, 'sub');
        net.markOutput(layer(net, 'activation', [layer(net, 'unary', [t], { op: 'abs' }, 'abs')], { op: 'tanh', alpha: 0, beta: 0 }, 'tanh'), 'region');
        const sc = layer(net, 'scale', [x!, constant(net, randn([6], 29, dt), 's'), constant(net, randn([6], 30, dt), 'sh'), constant(net, Tensor.full([6], 2, dt), 'pw')],
          { mode: 'channel', channelAxis: 1 }, 'scale');
        net.markOutput(sc, 'scale');
        net.markOutput(layer(net, 'parametric_relu', [y!, constant(net, randn([1, 6, 1, 1], 31, dt), 'slope')], {}, 'prelu'), 'prelu');
      },
    });
  });

  it('casts between float dtypes', async () => {
    await expectMatchesReference({
      name: 'casts',
      dtypes: ['float16', 'bfloat16'],
      inputs: () => [affine(randn([5, 33], 32), 1000, 0)],
      build: (net, [x], dt) => {
        const h = layer(net, 'cast', [x!], { toType: dt }, 'down');
        net.markOutput(layer(net, 'cast', [layer(net, 'activation', [h], relu, 'relu')], { toType: 'float32' }, 'up'), 'y');
      },
    });
  });
});

describe('data movement (strided copies, bit-exact)', () => {
  it('shuffles: transpose, reshape, transpose; flatten of a permute', async () => {
    await expectMatchesReference({
      name: 'shuffle',
      exact: true,
      inputs: (dt) => [randn([2, 3, 4, 5], 33, dt)],
      build: (net, [x]) => {
        net.markOutput(layer(net, 'shuffle', [x!], { firstTranspose: [0, 2, 1, 3], reshape: [0, 4, -1], secondTranspose: [2, 0, 1] }, 's1'), 's1');
        net.markOutput(layer(net, 'shuffle', [x!], { firstTranspose: null, reshape: [6, 20], secondTranspose: [1, 0] }, 's2'), 's2');
        net.markOutput(layer(net, 'shuffle', [x!], { firstTranspose: [3, 1, 2, 0], reshape: [5, 24], secondTranspose: null }, 's3'), 's3');
      },
    });
  });

  it('concatenation and slices (strides, negative strides, whole dims)', async () => {
    await expectMatchesReference({
      name: 'concat slice',
      exact: true,
      inputs: (dt) => [randn([2, 3, 4, 5], 34, dt), randn([2, 2, 4, 5], 35, dt)],
      build: (net, [a, b]) => {
        net.markOutput(layer(net, 'concatenation', [a!, b!], { axis: 1 }, 'cat1'), 'cat1');
        net.markOutput(layer(net, 'concatenation', [a!, a!], { axis: 3 }, 'cat3'), 'cat3');
        net.markOutput(layer(net, 'slice', [a!], { start: [0, 2, 1, 4], size: [2, 2, 2, 3], stride: [1, -1, 2, -2], mode: 'default', fillValue: 0 }, 'sl'), 'slice');
        net.markOutput(layer(net, 'slice', [b!], { start: [1, 0, 0, 1], size: [1, -1, -1, 3], stride: [1, 1, 1, 1], mode: 'default', fillValue: 0 }, 'whole'), 'whole');
      },
    });
  });
});

describe('normalization and softmax', () => {
  it('layer norm over the last dims and group norm', async () => {
    await expectMatchesReference({
      name: 'norms',
      tolerance: { float32: 1e-5 },
      inputs: (dt) => [affine(randn([2, 6, 4, 8], 36), 2, 1, dt)],
      build: (net, [x], dt) => {
        const g = constant(net, randn([1, 1, 1, 8], 37, dt), 'g');
        const b = constant(net, randn([1, 1, 1, 8], 38, dt), 'b');
        net.markOutput(layer(net, 'normalization', [x!, g, b], { axes: [3], eps: 1e-5, numGroups: 1 }, 'ln'), 'ln');
        const g2 = constant(net, randn([1, 6, 1, 1], 39, dt), 'g2');
        const b2 = constant(net, randn([1, 6, 1, 1], 40, dt), 'b2');
        net.markOutput(layer(net, 'normalization', [x!, g2, b2], { axes: [2, 3], eps: 1e-5, numGroups: 3 }, 'gn'), 'gn');
        net.markOutput(layer(net, 'normalization', [x!, g2, b2], { axes: [2, 3], eps: 1e-5, numGroups: 1 }, 'inorm'), 'instance');
      },
    });
  });

  it('softmax and log-softmax along the last and a middle axis', async () => {
    await expectMatchesReference({
      name: 'softmax',
      optimizations: false,
      tolerance: { float32: 1e-5 },
      inputs: (dt) => [affine(randn([3, 7, 33], 41), 3, 0, dt)],
      build: (net, [x]) => {
        net.markOutput(layer(net, 'softmax', [x!], { axis: 2, log: false }, 'last'), 'last');
        net.markOutput(layer(net, 'softmax', [x!], { axis: 1, log: false }, 'middle'), 'middle');
        net.markOutput(layer(net, 'softmax', [x!], { axis: 2, log: true }, 'log'), 'log');
      },
    });
  });

  it('attention: plain, causal, and with a boolean key mask', async () => {
    await expectMatchesReference({
      name: 'attention',
      tolerance: { float32: 1e-5 },
      inputs: (dt) => [randn([2, 4, 16, 8], 42, dt), randn([2, 4, 12, 8], 43, dt), randn([2, 4, 12, 8], 44, dt)],
      build: (net, [q, k, v]) => {
        net.markOutput(layer(net, 'attention', [q!, k!, v!], { scale: 0.35, causal: false }, 'plain'), 'plain');
        net.markOutput(layer(net, 'attention', [q!, k!, v!], { scale: 0.35, causal: true }, 'causal'), 'causal');
        const keep = constant(net, Tensor.fromNumbers(Array.from({ length: 24 }, (_, i) => (i % 12 < 9 ? 1 : 0)), [2, 1, 1, 12], 'bool'), 'keep');
        net.markOutput(layer(net, 'attention', [q!, k!, v!, keep], { scale: 0.35, causal: false }, 'masked'), 'masked');
      },
    });
  });
});

describe('steps the CUDA backend does not implement', () => {
  it('fail the build naming the step and the form it cannot run', async () => {
    const net = new NetworkDefinition('cubic');
    const x = net.addInput('x', 'float32', [1, 1, 4, 4]);
    const params = { outputShape: [1, 1, 8, 8], mode: 'cubic', coordinates: 'half_pixel', round: 'floor', cubicCoeff: -0.5, scales: null } as const;
    net.markOutput(layer(net, 'resize', [x], params, 'up'), 'y');
    await expect(new Builder().build(net, { backend: 'cuda' })).rejects.toThrow(
      "step 'up' (resize): a cubic resize with coefficient -0.5 (only PyTorch's -0.75) is not implemented on the CUDA backend yet",
    );
  });

  it('the shape of a dynamic input is written at run time', async () => {
    const net = new NetworkDefinition('shape');
    const x = net.addInput('x', 'float32', [-1, 9], { min: [1, 9], opt: [4, 9], max: [8, 9] });
    net.markOutput(layer(net, 'shape', [x], {}, 'dims'), 'y');
    const engine = await new Builder().build(net, { backend: 'cuda' });
    const [y] = await engine.createExecutionContext().execute([Tensor.zeros([6, 9])]);
    expect(y!.dtype).toBe('int64');
    expect(Array.from(y!.toFloat64())).toEqual([6, 9]);
  });

  it('fail the load for forms the kernels do not take (a normalization over a middle axis)', async () => {
    const net = new NetworkDefinition('mid_norm');
    const x = net.addInput('x', 'float32', [2, 5, 3]);
    const one = constant(net, Tensor.ones([1, 1, 1]), 'one');
    const zero = constant(net, Tensor.zeros([1, 1, 1]), 'zero');
    net.markOutput(layer(net, 'normalization', [x, one, zero], { axes: [1], eps: 0, numGroups: 1 }, 'norm'), 'y');
    await expect(new Builder().build(net, { backend: 'cuda' })).rejects.toThrow(
      "step 'norm' (normalization): normalization over axes [1] that are not the trailing dims is not implemented on the CUDA backend yet",
    );
  });
});

