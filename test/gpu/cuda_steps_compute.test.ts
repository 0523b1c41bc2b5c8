/**
 * The reduction-like steps on the CUDA backend against the reference backend:
 *   - reduce: sum, prod, max, min, avg over leading, middle, last, several and all axes, keepDims
 *     both ways, odd sizes, one long row, many short rows, columns, integer dtypes, NaN and signed
 *     zeros, and a channels-last convolution output;
 *   - standalone quantize / dequantize (Q/DQ that did not fuse): per tensor and per channel along
 *     axes 0 and 1, int8 / uint8 / int32, rounding ties, saturation, infinities and NaN, constant
 *     and run-time scales; bit-identical to the reference;
 *   - pooling over 1 and 3 spatial dims: max / average, padding (uneven too), ceil mode, dilation,
 *     padding excluded from the count, a divisor, int8 max pooling, channels-last between convolutions;
 *   - einsum: plain contractions (cuBLASLt batched GEMM after strided copies) and the rest (the
 *     generic kernel, the reduce kernel, a copy).
 * fp32 tightly, fp16/bf16 within their precision; max/min, data movement and Q/DQ exactly.
 */
import { describe, expect, it } from 'vitest';
import { CudaEngineRunner } from '../../src/backends/cuda/index.js';
import { Builder, type BuilderConfig } from '../../src/engine/builder.js';
import type { LayerParamsMap, NetTensor, ReduceOp } from '../../src/engine/network.js';
import { NetworkDefinition } from '../../src/engine/network_definition.js';
import type { DType } from '../../src/tensor/dtype.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { expectSameBytes } from './compare.js';
import { buildPair, constant, expectMatchesReference, FLOATS, layer, randn, type FloatDType, type StepCase } from './engine_harness.js';

/** a * x + b elementwise, as a tensor of `dtype`. */
function affine(x: Tensor, a: number, b: number, dtype: DType = 'float32'): Tensor {
  return Tensor.fromNumbers(Array.from(x.toFloat64(), (v) => a * v + b), x.shape, dtype);
}

/** Runs `c` on both backends at each dtype and expects every output byte for byte. */
async function expectBitIdentical(c: StepCase, dtypes: readonly FloatDType[], extra: BuilderConfig = {}): Promise<void> {
  for (const dtype of dtypes) {
    const { cuda, reference, inputs } = await buildPair(c, dtype, extra);
    const got = await cuda.createExecutionContext().execute(inputs);
    const want = await reference.createExecutionContext().execute(inputs);
    expect(got.length).toBe(want.length);
    got.forEach((g, i) => expectSameBytes(g, want[i]!, `${c.name} (${dtype}) output ${i} '${cuda.outputs[i]!.name}'`));
  }
}

/** The native tactics of the CUDA engine of `c` at `dtype`. */
async function tacticsOf(c: StepCase, dtype: FloatDType, extra: BuilderConfig = {}): Promise<string[]> {
  const { cuda } = await buildPair(c, dtype, extra);
  const runner = CudaEngineRunner.of(cuda);
  try {
    return runner.tactics().map((t) => t.tactic);
  } finally {
    runner.dispose();
  }
}

describe('reduce', () => {
  const axesList = [[0], [1], [2], [0, 2], [1, 2], [0, 1, 2]];
  const ops: ReduceOp[] = ['sum', 'prod', 'max', 'min', 'avg'];
  for (const op of ops) {
    it(`${op} over leading, middle, last, several and all axes, keepDims both ways (odd sizes)`, async () => {
      await expectMatchesReference({
        name: `reduce ${op}`,
        exact: op === 'max' || op === 'min',
        // Products of values near 1 stay in range over all 1155 elements.
        inputs: (dt) => [op === 'prod' ? affine(Tensor.rand([5, 7, 33], { seed: 1 }), 0.2, 0.9, dt) : randn([5, 7, 33], 1, dt)],
        build: (net, [x]) => {
          for (const axes of axesList) {
            for (const keepDims of [false, true]) {
              const name = `${op}_${axes.join('')}_${keepDims ? 'keep' : 'drop'}`;
              net.markOutput(layer(net, 'reduce', [x!], { op, axes, keepDims }, name), name);
            }
          }
        },
      });
    });
  }

  it('one long row, a few long rows, many short rows, and columns (each kernel path)', async () => {
    await expectMatchesReference({
      name: 'reduce paths',
      inputs: (dt) => [randn([1, 50000], 2, dt), randn([3, 5000], 3, dt), randn([20000, 20], 4, dt), randn([4096, 7], 5, dt), randn([50000, 3], 6, dt)],
      build: (net, [long, few, short, narrow, tall]) => {
        const add = (x: NetTensor, op: ReduceOp, axes: number[], name: string): void => {
          net.markOutput(layer(net, 'reduce', [x], { op, axes, keepDims: false }, name), name);
        };
        for (const op of ['sum', 'avg', 'max'] as const) add(long!, op, [1], `long_${op}`);
        add(few!, 'sum', [1], 'few_sum');
        add(short!, 'sum', [1], 'short_sum');
        add(short!, 'min', [1], 'short_min');
        add(short!, 'avg', [0], 'short_columns');
        add(narrow!, 'avg', [1], 'narrow_rows');
        add(tall!, 'sum', [0], 'tall_sum');
        add(tall!, 'max', [0], 'tall_max');
      },
    });
  });

  it('integer dtypes: int8, uint8 and int32 wrap like the reference stores them, int64 exactly', async () => {
    const ints = (shape: number[], dtype: DType, f: (i: number) => number): Tensor =>
      Tensor.fromNumbers(Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => f(i)), shape, dtype);
    await expectMatchesReference({
      name: 'reduce ints',
      dtypes: ['float32'],
      inputs: () => [
        ints([4, 9], 'int32', (i) => ((i * 7) % 19) - 9),
        ints([4, 9], 'int8', (i) => ((i * 37) % 255) - 127),
        ints([4, 9], 'uint8', (i) => (i * 53) % 256),
        ints([3, 5], 'int64', (i) => (i % 2 === 0 ? 1 : -1) * (2 ** 40 + i * 12345)),
      ],
      build: (net, xs) => {
        xs.forEach((x, k) => {
          const ops: [ReduceOp, number[]][] = [['sum', [1]], ['prod', [0]], ['max', [1]], ['min', [0, 1]], ['sum', [0]]];
          for (const [op, axes] of ops) {
            const name = `${x.dtype}_${op}_${axes.join('')}_${k}`;
            net.markOutput(layer(net, 'reduce', [x], { op, axes, keepDims: false }, name), name);
          }
        });
      },
    });
  });

  it('max and min: NaN propagates, and among equal values the first wins (signed zeros bit for bit)', async () => {
    // NaN in some rows and columns.
    await expectMatchesReference({
      name: 'reduce nan',
      exact: true,
      inputs: (dt) => [Tensor.fromNumbers(Array.from(randn([6, 40], 7).toFloat64(), (v, i) => (i % 53 === 11 ? NaN : v)), [6, 40], dt)],
      build: (net, [x]) => {
        for (const op of ['max', 'min'] as const) {
          for (const axis of [0, 1]) net.markOutput(layer(net, 'reduce', [x!], { op, axes: [axis], keepDims: true }, `${op}${axis}`), `${op}${axis}`);
        }
      },
    });
    // Rows and columns whose extremum is a zero of either sign, first seen at different positions.
    const zeros = (sign: number): Tensor => Tensor.fromNumbers(Array.from({ length: 6 * 40 }, (_, i) => {
      const r = Math.floor(i / 40), c = i % 40;
      if ((r * 7 + c * 3) % 5 === 0) return -0;
      if ((r + c) % 3 === 0) return 0;
      return sign * (1 + (c % 4));
    }), [6, 40], 'float32');
    await expectBitIdentical({
      name: 'reduce signed zeros',
      inputs: (dt) => [affine(zeros(-1), 1, 0, dt), affine(zeros(1), 1, 0, dt)],
      build: (net, [neg, pos]) => {
        for (const axis of [0, 1]) {
          net.markOutput(layer(net, 'reduce', [neg!], { op: 'max', axes: [axis], keepDims: false }, `max${axis}`), `max${axis}`);
          net.markOutput(layer(net, 'reduce', [pos!], { op: 'min', axes: [axis], keepDims: false }, `min${axis}`), `min${axis}`);
        }
      },
    }, FLOATS);
  });

  it('over the spatial dims and the channels of a convolution output (channels-last on the device)', async () => {
    await expectMatchesReference({
      name: 'reduce nhwc',
      inputs: (dt) => [randn([2, 8, 9, 11], 8, dt)],
      build: (net, [x], dt) => {
        const p: LayerParamsMap['convolution'] = {
          kernelSize: [1, 1], numOutputMaps: 16, stride: [1, 1], prePadding: [0, 0], postPadding: [0, 0], dilation: [1, 1], groups: 1,
        };
        const y = layer(net, 'convolution', [x!, constant(net, randn([16, 8, 1, 1], 9, dt), 'w')], p, 'conv');
        net.markOutput(layer(net, 'reduce', [y], { op: 'avg', axes: [2, 3], keepDims: true }, 'gap'), 'global_avg');
        net.markOutput(layer(net, 'reduce', [y], { op: 'max', axes: [1], keepDims: true }, 'cmax'), 'channel_max');
        net.markOutput(layer(net, 'reduce', [y], { op: 'sum', axes: [0, 3], keepDims: false }, 'nsum'), 'n_w_sum');
      },
    });
  });
});

describe('quantize and dequantize (standalone steps, bit-identical)', () => {
  const int8Build: BuilderConfig = { precision: 'int8' };
  const quantTypes = ['int8', 'uint8', 'int32'] as const;

  /** Values on a 1/8 grid (rounding ties for power-of-two scales), past every range, ±inf and NaN. */
  function grid(shape: readonly number[], seed: number, dtype: DType): Tensor {
    const n = shape.reduce((a, b) => a * b, 1);
    const v = Array.from({ length: n }, (_, i) => {
      if (i % 29 === 3) return NaN;
      if (i % 31 === 5) return i % 2 === 0 ? Infinity : -Infinity;
      if (i % 37 === 7) return (i % 2 === 0 ? 1 : -1) * 3e38;
      return Math.round(((i * 7919 + seed * 104729) % 4001) - 2000) / 8;
    });
    return Tensor.fromNumbers(v, shape, dtype);
  }

  const scalesOf = (values: number[]): Tensor => Tensor.fromNumbers(values, [values.length], 'float32');
  const zeroPointsOf = (values: number[], dtype: DType): Tensor => Tensor.fromNumbers(values, [values.length], dtype);
  /** Per-channel scales (powers of two keep ties) and zero points for `channels` channels. */
  const channelScales = (channels: number): number[] => Array.from({ length: channels }, (_, c) => [0.25, 0.5, 1, 2][c % 4]!);
  const channelZeroPoints = (channels: number, dtype: DType): number[] =>
    Array.from({ length: channels }, (_, c) => (dtype === 'uint8' ? 100 + 20 * c : c % 2 === 0 ? -3 * c : 2 * c));

  it('quantize per tensor and per channel (axes 0 and 1) to int8, uint8 and int32: ties to even, saturation, NaN and ±inf', async () => {
    await expectBitIdentical({
      name: 'quantize',
      optimizations: false,
      inputs: (dt) => [grid([3, 4, 10], 1, dt)],
      build: (net, [x]) => {
        for (const t of quantTypes) {
          const zp = (values: number[], name: string): NetTensor => constant(net, zeroPointsOf(values, t), name);
          const perTensor = layer(net, 'quantize', [x!, constant(net, scalesOf([0.5]), `s_${t}`), zp([t === 'uint8' ? 128 : 3], `zp_${t}`)],
            { axis: null, toType: t }, `q_${t}`);
          net.markOutput(perTensor, `tensor_${t}`);
          const noZeroPoint = layer(net, 'quantize', [x!, constant(net, scalesOf([0.25]), `s0_${t}`)], { axis: null, toType: t }, `q0_${t}`);
          net.markOutput(noZeroPoint, `tensor_nozp_${t}`);
          for (const axis of [0, 1]) {
            const c = axis === 0 ? 3 : 4;
            const q = layer(net, 'quantize', [x!, constant(net, scalesOf(channelScales(c)), `s${axis}_${t}`), zp(channelZeroPoints(c, t), `zp${axis}_${t}`)],
              { axis, toType: t }, `q${axis}_${t}`);
            net.markOutput(q, `axis${axis}_${t}`);
          }
        }
      },
    }, ['float32', 'float16'], int8Build);
  });

  it('quantize with a scale whose reciprocal is inexact (x * fround(1 / scale), not x / scale)', async () => {
    // 0.273939937 * fround(1 / 0.00214854861) is 127.5 in float32 (→ 128); 0.273939937 / 0.00214854861 is 127.49999 (→ 127).
    await expectBitIdentical({
      name: 'quantize reciprocal',
      optimizations: false,
      inputs: () => [Tensor.fromNumbers([0.273939937, -0.273939937, 0.1, 0.2, 0.3], [5], 'float32')],
      build: (net, [x]) => {
        const s = constant(net, scalesOf([0.00214854861]), 's');
        net.markOutput(layer(net, 'quantize', [x!, s], { axis: null, toType: 'int32' }, 'q'), 'q');
      },
    }, ['float32'], int8Build);
  });

  it("each quantize's tactic names the kernel its layout takes (kernels::QuantKernelName)", async () => {
    const c: StepCase = {
      name: 'quantize forms',
      optimizations: false,
      inputs: (dt) => [grid([3, 4, 10], 3, dt)],
      build: (net, [x]) => {
        net.markOutput(layer(net, 'quantize', [x!, constant(net, scalesOf([0.5]), 's')], { axis: null, toType: 'int8' }, 'q'), 'tensor');
        net.markOutput(layer(net, 'quantize', [x!, constant(net, scalesOf(channelScales(4)), 's1')], { axis: 1, toType: 'int8' }, 'q1'), 'axis1');
        net.markOutput(layer(net, 'quantize', [x!, constant(net, scalesOf([0.5]), 's32')], { axis: null, toType: 'int32' }, 'q32'), 'tensor_int32');
      },
    };
    for (const dt of ['float32', 'float16'] as const) {
      const tactics = await tacticsOf(c, dt, int8Build);
      // A per-tensor quantize of a contiguous input into a one-byte type: 4 groups of 8 values per
      // thread; per channel (the scale steps along axis 1, so no dims merge) or into int32: strided.
      expect(tactics, dt).toEqual(['quantize_contiguous[32 values per thread]', 'quantize_strided[rank 3, per channel]', 'quantize_strided[rank 1]']);
    }
  });

  it('a contiguous quantize past one grid of 8192 blocks (its grid-stride pass) and a tail of one value, bit-identical', async () => {
    // 4001 values, a 1/8 grid in range with ties at scale 2 and one past it, repeated over
    // 4101 x 16397 = 67,244,097 elements: more than one grid of the contiguous kernel covers
    // (8192 blocks x 256 threads x 32 values = 67,108,864), and 1 past a multiple of 8.
    const period = 4001;
    const pattern = Tensor.fromNumbers(Array.from({ length: period }, (_, i) => (i === period - 1 ? 1000 : (i - 2000) / 8)), [1, period], 'float16');
    const make = (shape: readonly number[]): NetworkDefinition => {
      const net = new NetworkDefinition('quantize, large');
      const x = net.addInput('x', 'float16', shape);
      net.markOutput(layer(net, 'quantize', [x, constant(net, scalesOf([2]), 's')], { axis: null, toType: 'int8' }, 'q'), 'q');
      return net;
    };
    const config: BuilderConfig = { precision: 'int8', optimizations: false };
    const reference = await new Builder().build(make([1, period]), { ...config, backend: 'reference' });
    const [want] = await reference.createExecutionContext().execute([pattern]);
    const wantBytes = want!.data as Int8Array;
    const shape = [4101, 16397];
    const n = shape[0]! * shape[1]!;
    const bits = pattern.data as Uint16Array;
    const big = new Uint16Array(n);
    for (let i = 0; i < n; i++) big[i] = bits[i % period]!;
    const cuda = await new Builder().build(make(shape), { ...config, backend: 'cuda' });
    const runner = CudaEngineRunner.of(cuda);
    try {
      expect(runner.tactics().map((t) => t.tactic)).toEqual(['quantize_contiguous[32 values per thread]']);
    } finally {
      runner.dispose();
    }
    const [got] = await cuda.createExecutionContext().execute([Tensor.fromStorage(big, shape, 'float16')]);
    const gotBytes = got!.data as Int8Array;
    expect(gotBytes.length).toBe(n);
    let bad = -1;
    for (let i = 0; i < n && bad < 0; i++) if (gotBytes[i] !== wantBytes[i % period]) bad = i;
    expect(bad, bad < 0 ? '' : `element ${bad}: got ${gotBytes[bad]}, the reference gives ${wantBytes[bad % period]}`).toBe(-1);
  });

  it('dequantize int8, uint8 and int32 per tensor and per channel (axes 0 and 1)', async () => {
    const qs = (dtype: DType, lo: number, hi: number): Tensor =>
      Tensor.fromNumbers(Array.from({ length: 120 }, (_, i) => (i === 0 ? lo : i === 1 ? hi : lo + ((i * 7919) % (hi - lo + 1)))), [3, 4, 10], dtype);
    await expectBitIdentical({
      name: 'dequantize',
      optimizations: false,
      inputs: () => [qs('int8', -128, 127), qs('uint8', 0, 255), qs('int32', -(2 ** 30), 2 ** 30)],
      build: (net, xs, dt) => {
        xs.forEach((q) => {
          const t = q.dtype;
          const zp = (values: number[], name: string): NetTensor => constant(net, zeroPointsOf(values, t), name);
          net.markOutput(layer(net, 'dequantize', [q, constant(net, scalesOf([0.0123]), `s_${t}`), zp([t === 'uint8' ? 128 : -5], `zp_${t}`)],
            { axis: null, toType: dt }, `dq_${t}`), `tensor_${t}`);
          net.markOutput(layer(net, 'dequantize', [q, constant(net, scalesOf([0.37]), `s0_${t}`)], { axis: null, toType: dt }, `dq0_${t}`), `tensor_nozp_${t}`);
          for (const axis of [0, 1]) {
            const c = axis === 0 ? 3 : 4;
            const scales = Array.from({ length: c }, (_, i) => 0.0123 * (i + 1) + 0.001);
            net.markOutput(layer(net, 'dequantize', [q, constant(net, scalesOf(scales), `s${axis}_${t}`), zp(channelZeroPoints(c, t), `zp${axis}_${t}`)],
              { axis, toType: dt }, `dq${axis}_${t}`), `axis${axis}_${t}`);
          }
        });
      },
    }, ['float32', 'float16'], int8Build);
  });

  it('dynamic quantization (scales computed at run time) in every float precision: quantize then dequantize', async () => {
    await expectBitIdentical({
      name: 'dynamic qdq',
      optimizations: false,
      inputs: (dt) => [grid([3, 4, 10], 2, dt), scalesOf([0.5]), scalesOf([0.25, 0.5, 1, 2]), zeroPointsOf([3], 'int8')],
      build: (net, [x, scale, channelScale, zp], dt) => {
        const q = layer(net, 'quantize', [x!, scale!, zp!], { axis: null, toType: 'int8' }, 'q');
        net.markOutput(q, 'q');
        net.markOutput(layer(net, 'dequantize', [q, scale!, zp!], { axis: null, toType: dt }, 'dq'), 'dq');
        const qc = layer(net, 'quantize', [x!, channelScale!], { axis: 1, toType: 'uint8' }, 'qc');
        net.markOutput(qc, 'qc');
        net.markOutput(layer(net, 'dequantize', [qc, channelScale!], { axis: 1, toType: dt }, 'dqc'), 'dqc');
      },
    }, FLOATS);
  });

  it('dequantize of constant int8 weights in every float precision', async () => {
    await expectBitIdentical({
      name: 'dequantize weights',
      optimizations: false,
      inputs: (dt) => [randn([4, 6], 3, dt)],
      build: (net, [x], dt) => {
        const w = constant(net, Tensor.fromNumbers(Array.from({ length: 24 }, (_, i) => ((i * 37) % 255) - 127), [4, 6], 'int8'), 'w');
        const dq = layer(net, 'dequantize', [w, constant(net, scalesOf([0.01, 0.02, 0.03, 0.04]), 'ws')], { axis: 0, toType: dt }, 'dqw');
        net.markOutput(dq, 'weights');
        net.markOutput(layer(net, 'elementwise', [x!, dq], { op: 'sum' }, 'add'), 'x_plus_w');
      },
    }, FLOATS);
  });

  it('a constant scale the reference rejects fails the load, naming the step', async () => {
    const net = new NetworkDefinition('bad_scale');
    const x = net.addInput('x', 'float32', [2, 3]);
    net.markOutput(layer(net, 'quantize', [x, constant(net, scalesOf([0]), 's')], { axis: null, toType: 'int8' }, 'q'), 'y');
    await expect(new Builder().build(net, { backend: 'cuda', precision: 'int8', optimizations: false })).rejects.toThrow(
      "step 'q': scale must be a positive finite float32 whose reciprocal is finite, got 0",
    );
  });
});

describe('pooling over 1 and 3 spatial dims', () => {
  const pool = (n: number, type: 'max' | 'average', k: number, s: number, pad: number, extra: Partial<LayerParamsMap['pooling']> = {}): LayerParamsMap['pooling'] => ({
    type, windowSize: new Array<number>(n).fill(k), stride: new Array<number>(n).fill(s), prePadding: new Array<number>(n).fill(pad),
    postPadding: new Array<number>(n).fill(pad), dilation: new Array<number>(n).fill(1), roundUp: false, averageCountExcludesPadding: false,
    divisor: null, ...extra,
  });
  const cases = (n: number): { name: string; p: LayerParamsMap['pooling'] }[] => [
    { name: 'max k3 s2 p1', p: pool(n, 'max', 3, 2, 1) },
    { name: 'max ceil mode', p: pool(n, 'max', 3, 2, 0, { roundUp: true }) },
    { name: 'max dilated', p: pool(n, 'max', 2, 1, 0, { dilation: new Array<number>(n).fill(2) }) },
    { name: 'max uneven padding', p: pool(n, 'max', 3, 2, 1, { postPadding: new Array<number>(n).fill(2) }) },
    { name: 'average k2 s2', p: pool(n, 'average', 2, 2, 0) },
    { name: 'average padded, count includes padding', p: pool(n, 'average', 3, 2, 1) },
    { name: 'average padded, count excludes padding', p: pool(n, 'average', 3, 2, 1, { averageCountExcludesPadding: true }) },
    { name: 'average ceil mode, count excludes padding', p: pool(n, 'average', 3, 2, 1, { roundUp: true, averageCountExcludesPadding: true }) },
    { name: 'average uneven padding, count excludes padding', p: pool(n, 'average', 3, 2, 1, { postPadding: new Array<number>(n).fill(2), averageCountExcludesPadding: true }) },
    { name: 'average with a divisor', p: pool(n, 'average', 3, 1, 1, { divisor: 5 }) },
  ];
  const shapes: Record<number, number[]> = { 1: [2, 3, 17], 3: [2, 3, 7, 8, 9] };

  for (const n of [1, 3]) {
    it(`${n}-D: max and average with padding, ceil mode, dilation, excluded padding and a divisor`, async () => {
      await expectMatchesReference({
        name: `pool${n}d`,
        inputs: (dt) => [randn(shapes[n]!, 10 + n, dt)],
        build: (net, [x]) => {
          cases(n).forEach((c, i) => net.markOutput(layer(net, 'pooling', [x!], c.p, `pool${i}`), c.name));
        },
      });
    });

    it(`${n}-D: max pooling of int8 (quantized) values`, async () => {
      const q = Tensor.fromNumbers(Array.from({ length: shapes[n]!.reduce((a, b) => a * b, 1) }, (_, i) => ((i * 37) % 256) - 128), shapes[n]!, 'int8');
      await expectMatchesReference({
        name: `int8 pool${n}d`,
        dtypes: ['float32'],
        inputs: () => [q],
        build: (net, [x]) => {
          cases(n).filter((c) => c.p.type === 'max').forEach((c, i) => net.markOutput(layer(net, 'pooling', [x!], c.p, `pool${i}`), c.name));
        },
      });
    });
  }

  it('1-D and 3-D between convolutions (channels-last, 8 channels per thread in fp16/bf16)', async () => {
    await expectMatchesReference({
      name: 'pool nd channels-last',
      inputs: (dt) => [randn([2, 8, 13], 12, dt), randn([1, 8, 5, 6, 7], 13, dt)],
      build: (net, [x1, x3], dt) => {
        for (const [x, n] of [[x1!, 1], [x3!, 3]] as const) {
          const ones = new Array<number>(n).fill(1);
          const zeros = new Array<number>(n).fill(0);
          const conv = (input: NetTensor, c: number, out: number, name: string): NetTensor => layer(net, 'convolution',
            [input, constant(net, randn([out, c, ...ones], 14 + out, dt), `${name}_w`)],
            { kernelSize: ones, numOutputMaps: out, stride: ones, prePadding: zeros, postPadding: zeros, dilation: ones, groups: 1 }, name);
          const y = conv(x, 8, 16, `conv${n}d`);
          cases(n).filter((c) => c.p.dilation.every((d) => d === 1)).forEach((c, i) => {
            const pooled = layer(net, 'pooling', [y], c.p, `pool${n}d_${i}`);
            net.markOutput(conv(pooled, 16, 8, `conv${n}d_${i}`), `${n}d ${c.name}`);
          });
        }
      },
    });
  });

  it('average pooling with dilation fails the build, naming the step', async () => {
    const net = new NetworkDefinition('dilated_avg');
    const x = net.addInput('x', 'float32', [1, 2, 9]);
    net.markOutput(layer(net, 'pooling', [x], pool(1, 'average', 2, 1, 0, { dilation: [2] }), 'avg'), 'y');
    await expect(new Builder().build(net, { backend: 'cuda' })).rejects.toThrow(
      "step 'avg' (pooling): average pooling with dilation [2] is not implemented on the CUDA backend yet",
    );
  });
});

describe('einsum', () => {
  /** [equation, operand shapes]. */
  type EinsumCase = readonly [string, readonly (readonly number[])[]];
  const einsumCase = ([equation, shapes]: EinsumCase, seed: number): StepCase => ({
    name: `einsum ${equation}`,
    inputs: (dt) => shapes.map((s, i) => randn(s, seed + i, dt)),
    build: (net, xs) => net.markOutput(layer(net, 'einsum', xs, { equation }, 'einsum'), 'y'),
  });

  const contractions: readonly EinsumCase[] = [
    ['bij,bjk->bik', [[3, 5, 7], [3, 7, 6]]],
    ['bhqd,bhkd->bhqk', [[2, 3, 5, 8], [2, 3, 6, 8]]],
    ['ij,jk', [[5, 7], [7, 6]]],
    ['bi,bi->b', [[4, 9], [4, 9]]],
    ['ij,kj->ik', [[5, 7], [6, 7]]],
    ['ji,jk->ik', [[7, 5], [7, 6]]],
    ['bij,jk->bik', [[3, 5, 7], [7, 6]]],
    ['bij,bjk->bki', [[3, 5, 7], [3, 7, 6]]],
    ['i,i->', [[9], [9]]],
    ['i,j->ij', [[5], [6]]],
    ['ij,j->i', [[5, 7], [7]]],
    ['...ij,...jk->...ik', [[2, 3, 5, 7], [2, 3, 7, 6]]],
    ['abc,cd->dba', [[3, 4, 5], [5, 6]]],
    ['bxy,bzy->bzx', [[2, 4, 3], [2, 5, 3]]],
    ['jbi,bjk->bik', [[7, 3, 5], [3, 7, 6]]],
    ['bij,jbk->ibk', [[3, 5, 7], [7, 3, 6]]],
  ];
  for (const [i, c] of contractions.entries()) {
    it(`contraction ${c[0]} (batched GEMM)`, async () => {
      await expectMatchesReference(einsumCase(c, 20 + i));
    });
  }

  const others: readonly EinsumCase[] = [
    ['ii->i', [[6, 6]]],
    ['ii', [[6, 6]]],
    ['ij->', [[5, 7]]],
    ['ijk->ki', [[4, 5, 6]]],
    ['ij->ji', [[5, 7]]],
    ['iij,jk->ik', [[4, 4, 5], [5, 3]]],
    ['ij,jk->k', [[4, 5], [5, 3]]],
    ['ij,jk,kl->il', [[3, 4], [4, 5], [5, 2]]],
    ['bij,bjk->bik', [[1, 5, 7], [3, 7, 6]]],
  ];
  for (const [i, c] of others.entries()) {
    it(`${c[0]} on [${c[1].map((s) => s.join('x')).join(', ')}] (generic kernel, reduce or copy)`, async () => {
      await expectMatchesReference(einsumCase(c, 40 + i));
    });
  }

  it('runs a contraction on cuBLASLt and a diagonal on the generic kernel', async () => {
    const gemm = await tacticsOf(einsumCase(['bhqd,bhkd->bhqk', [[2, 3, 5, 8], [2, 3, 6, 8]]], 60), 'float32');
    expect(gemm.some((t) => t.startsWith('cublaslt'))).toBe(true);
    expect(gemm.some((t) => t.startsWith('einsum_generic'))).toBe(false);
    const diagonal = await tacticsOf(einsumCase(['iij,jk->ik', [[4, 4, 5], [5, 3]]], 61), 'float32');
    expect(diagonal).toContain('einsum_generic[2 operands]');
  });
});
