/**
 * The int8 GEMM kernel (native/src/kernels/igemm.cu) against the reference backend's int8 steps:
 * convolutions and matrix products with DQ(x), DQ(w) fused (TensorRT's Q/DQ rules), their biases,
 * residuals (int8 and float), activations, and requantizing or float outputs. The plan's int8
 * arithmetic is exact apart from transcendental activations, so outputs must be identical: the
 * same bytes for int8 outputs, the same values for float ones. Each case also checks that the CUDA
 * plan really runs the step on the int8 kernel (so the test cannot pass on an unfused plan).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cudaAvailable, cudaDeviceInfo } from '../../src/backends/cuda/index.js';
import { decodeTimingCache, encodeTimingCache } from '../../src/backends/cuda/timing_cache.js';
import { Builder } from '../../src/engine/builder.js';
import type { Engine } from '../../src/engine/engine.js';
import type { LayerParamsMap, NetTensor } from '../../src/engine/network.js';
import { NetworkDefinition } from '../../src/engine/network_definition.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { expectSameValues } from './compare.js';
import { constant, layer } from './engine_harness.js';

type FloatOut = 'float32' | 'float16' | 'bfloat16';

/** Normal random values times `k`. */
function randn(shape: readonly number[], seed: number, k: number): Tensor {
  return Tensor.fromNumbers(Array.from(Tensor.randn(shape, { seed }).toFloat32(), (v) => v * k), shape);
}

/** x → Q(s) → DQ(s): an int8 activation. */
function int8Act(net: NetworkDefinition, x: NetTensor, s: number, name: string, toType: FloatOut = 'float32'): NetTensor {
  const scale = constant(net, Tensor.fromArray([s]), `${name}_s`);
  const q = layer(net, 'quantize', [x, scale], { axis: null, toType: 'int8' }, `${name}_q`);
  return layer(net, 'dequantize', [q, scale], { axis: null, toType }, `${name}_dq`);
}

/** A random weight quantized per channel along `axis` (or per tensor), as Q → DQ of a constant. */
function int8Weight(net: NetworkDefinition, shape: readonly number[], axis: number | null, seed: number, name: string, toType: FloatOut = 'float32'): NetTensor {
  const w = randn(shape, seed, 0.1);
  const count = axis === null ? 1 : shape[axis]!;
  const scales = Tensor.fromNumbers(Array.from({ length: count }, (_, c) => 0.0015 + 0.0002 * (c % 7)), [count]);
  const s = constant(net, scales, `${name}_s`);
  const q = layer(net, 'quantize', [constant(net, w, name), s], { axis, toType: 'int8' }, `${name}_q`);
  return layer(net, 'dequantize', [q, s], { axis, toType }, `${name}_dq`);
}

function conv(out: number, k: readonly number[], o: Partial<LayerParamsMap['convolution']> = {}): LayerParamsMap['convolution'] {
  const zeros = k.map(() => 0);
  const ones = k.map(() => 1);
  return { kernelSize: k, numOutputMaps: out, stride: ones, prePadding: zeros, postPadding: zeros, dilation: ones, groups: 1, ...o };
}

interface Int8Case {
  readonly name: string;
  readonly inputs: readonly (readonly number[])[];
  readonly build: (net: NetworkDefinition, xs: readonly NetTensor[]) => void;
  /** The int8 step's kind and whether its output is int8. */
  readonly kind: 'convolution' | 'deconvolution' | 'matrix_multiply';
  readonly int8Out: boolean;
  /** Whether the warp-specialized TMA tiles run it on Hopper (matrix form, 16-byte rows, relu, one residual). */
  readonly tma?: boolean;
  /** How many TMA tiles run their last wave in 64-row units on an H100 (132 multiprocessors; kernels::IgemmTmaTailParts). */
  readonly tailSplit?: number;
  /** Whether the implicit form applies (default true; a 3-D convolution runs in the im2col form only). */
  readonly implicit?: boolean;
  /** Whether the im2col form applies (default true; one group only). */
  readonly im2col?: boolean;
  /** Whether the stride-phase form applies (a transposed convolution with stride > 1, dilation 1, kernel at least the stride). */
  readonly phases?: boolean;
  /** Whether the space-to-depth form applies (one group, channels not a multiple of 16, equal strides, dilation 1). */
  readonly spaceToDepth?: boolean;
  /** Whether the unfolded space-to-depth form applies too (a kernel row's packed channels a multiple of 64). */
  readonly spaceToDepthUnfolded?: boolean;
  /**
   * Whether the convolution takes over the quantize step of its input (lower/igemm.ts
   * quantizeTakeover: a strided convolution on channels that are not a multiple of 16, right after
   * a quantize only it reads).
   */
  readonly quantizeFused?: boolean;
  /** The kernel of a taken-over quantize that runs before the GEMM (not fused into a packing): kernels::QuantKernelName. */
  readonly quantizeKernel?: string;
}

/** Checks that the int8 GEMM tactic says whether the op runs the input quantize (taken over) itself. */
function expectTakeover(c: Int8Case, tactic: string): void {
  if (c.quantizeFused === true) {
    expect(tactic, `${c.name}: the taken-over input quantize`).toMatch(/, (input quantize fused into the packing|after the input quantize: \w+\[[^\]]+\])( \+ |$)/);
    if (c.quantizeKernel !== undefined && tactic.includes('after the input quantize')) expect(tactic, `${c.name}: the input quantize's kernel`).toContain(`after the input quantize: ${c.quantizeKernel}`);
  } else {
    expect(tactic, `${c.name}: no input quantize taken over`).not.toContain('input quantize');
  }
}

async function buildFor(c: Int8Case, backend: 'cuda' | 'reference', timingCache?: string): Promise<Engine> {
  const net = new NetworkDefinition(c.name);
  const xs = c.inputs.map((shape, i) => net.addInput(`x${i}`, 'float32', shape));
  c.build(net, xs);
  return new Builder().build(net, { precision: 'int8', backend, ...(timingCache !== undefined ? { timingCache } : {}) });
}

async function expectSameAsReference(c: Int8Case): Promise<void> {
  const inputs = c.inputs.map((shape, i) => Tensor.randn(shape, { seed: 11 + i }));
  const cuda = await buildFor(c, 'cuda');
  const reference = await buildFor(c, 'reference');
  const steps = cuda.plan.steps.filter((s) => s.quant !== undefined && s.kind === c.kind);
  expect(steps.length, `${c.name}: int8 ${c.kind} steps in the CUDA plan`).toBeGreaterThan(0);
  const info = cuda.layerInfo().filter((l) => steps.some((s) => s.name === l.name));
  for (const l of info) {
    expect(l.tactic, `${c.name}: step '${l.name}' tactic`).toMatch(/^igemm:/);
    expectTakeover(c, l.tactic);
  }
  const got = await cuda.createExecutionContext().execute(inputs);
  const want = await reference.createExecutionContext().execute(inputs);
  expect(got.length).toBe(want.length);
  got.forEach((g, i) => {
    expect(g.dtype, `${c.name}: output ${i} dtype`).toBe(c.int8Out ? 'int8' : want[i]!.dtype);
    expectSameValues(g, want[i]!, `${c.name} output ${i}`);
  });
}

const CASES: readonly Int8Case[] = [
  {
    name: 'linear 37x96 -> 40, per-channel weight, bias, relu, requantized',
    inputs: [[37, 96]], kind: 'matrix_multiply', int8Out: true,
    build: (net, [x]) => {
      const mm = layer(net, 'matrix_multiply', [int8Act(net, x!, 0.02, 'x'), int8Weight(net, [40, 96], 0, 1, 'w')],
        { transpose0: false, transpose1: true, vector0: false, vector1: false }, 'mm');
      const b = layer(net, 'elementwise', [mm, constant(net, randn([1, 40], 2, 1), 'b')], { op: 'sum' }, 'bias');
      const r = layer(net, 'activation', [b], { op: 'relu', alpha: 0, beta: 0 }, 'relu');
      net.markOutput(layer(net, 'quantize', [r, constant(net, Tensor.fromArray([0.01]), 'so')], { axis: null, toType: 'int8' }, 'y_q'), 'y');
    },
  },
  {
    // The fused requantize without a relu (R 255: the result's offset of 128), its bias one value.
    name: 'linear 200x256 -> 256, per-channel weight, a one-value bias, requantized (no relu)',
    inputs: [[200, 256]], kind: 'matrix_multiply', int8Out: true, tma: true,
    build: (net, [x]) => {
      const mm = layer(net, 'matrix_multiply', [int8Act(net, x!, 0.02, 'x'), int8Weight(net, [256, 256], 0, 41, 'w')],
        { transpose0: false, transpose1: true, vector0: false, vector1: false }, 'mm');
      const b = layer(net, 'elementwise', [mm, constant(net, Tensor.fromNumbers([-0.3], [1, 1]), 'b')], { op: 'sum' }, 'bias');
      net.markOutput(layer(net, 'quantize', [b, constant(net, Tensor.fromArray([0.004]), 'so')], { axis: null, toType: 'int8' }, 'y_q'), 'y');
    },
  },
  {
    name: 'matmul [2, 30, 50] x [1, 50, 24] (K not a multiple of 16: bytewise loads; weight transposed at load), float output',
    inputs: [[2, 30, 50]], kind: 'matrix_multiply', int8Out: false,
    build: (net, [x]) => {
      net.markOutput(layer(net, 'matrix_multiply', [int8Act(net, x!, 0.03, 'x'), int8Weight(net, [1, 50, 24], 2, 3, 'w')],
        { transpose0: false, transpose1: false, vector0: false, vector1: false }, 'mm'), 'y');
    },
  },
  {
    name: 'linear 300x512 -> 200 (several tiles), float16 output',
    inputs: [[300, 512]], kind: 'matrix_multiply', int8Out: false, tma: true,
    build: (net, [x]) => {
      net.markOutput(layer(net, 'matrix_multiply', [int8Act(net, x!, 0.02, 'x', 'float16'), int8Weight(net, [200, 512], 0, 4, 'w', 'float16')],
        { transpose0: false, transpose1: true, vector0: false, vector1: false }, 'mm'), 'y');
    },
  },
  {
    name: 'conv 3x3 pad 1, 32 -> 48 channels, bias, int8 residual add, relu, requantized (ResNet block tail)',
    inputs: [[2, 32, 9, 11], [2, 48, 9, 11]], kind: 'convolution', int8Out: true,
    build: (net, [x, r]) => {
      const c = layer(net, 'convolution', [int8Act(net, x!, 0.02, 'x'), int8Weight(net, [48, 32, 3, 3], 0, 5, 'w'),
        constant(net, randn([48], 6, 0.1), 'bias')], conv(48, [3, 3], { prePadding: [1, 1], postPadding: [1, 1] }), 'conv');
      const sum = layer(net, 'elementwise', [c, int8Act(net, r!, 0.05, 'r')], { op: 'sum' }, 'add');
      const relu = layer(net, 'activation', [sum], { op: 'relu', alpha: 0, beta: 0 }, 'relu');
      net.markOutput(layer(net, 'quantize', [relu, constant(net, Tensor.fromArray([0.04]), 'so')], { axis: null, toType: 'int8' }, 'y_q'), 'y');
    },
  },
  {
    name: 'conv 3x3, 24 -> 40 channels, int8 residual read directly (40-byte rows: no 16-byte prefetch), relu, requantized',
    inputs: [[2, 24, 7, 9], [2, 40, 7, 9]], kind: 'convolution', int8Out: true,
    build: (net, [x, r]) => {
      const c = layer(net, 'convolution', [int8Act(net, x!, 0.02, 'x'), int8Weight(net, [40, 24, 3, 3], 0, 14, 'w')],
        conv(40, [3, 3], { prePadding: [1, 1], postPadding: [1, 1] }), 'conv');
      const sum = layer(net, 'elementwise', [c, int8Act(net, r!, 0.05, 'r')], { op: 'sum' }, 'add');
      const relu = layer(net, 'activation', [sum], { op: 'relu', alpha: 0, beta: 0 }, 'relu');
      net.markOutput(layer(net, 'quantize', [relu, constant(net, Tensor.fromArray([0.04]), 'so')], { axis: null, toType: 'int8' }, 'y_q'), 'y');
    },
  },
  {
    name: 'conv -> Q -> DQ -> max pool 3x3/2 -> Q -> DQ -> conv: the pool runs on the channels-last int8 tensor (32 channels, 16 per thread)',
    inputs: [[2, 32, 12, 10]], kind: 'convolution', int8Out: false, tma: true,
    build: (net, [x]) => {
      const c1 = layer(net, 'convolution', [int8Act(net, x!, 0.02, 'x'), int8Weight(net, [32, 32, 1, 1], 0, 12, 'w1')], conv(32, [1, 1]), 'conv1');
      const pooled = layer(net, 'pooling', [int8Act(net, c1, 0.01, 'c1')], {
        type: 'max', windowSize: [3, 3], stride: [2, 2], prePadding: [1, 1], postPadding: [1, 1], dilation: [1, 1],
        averageCountExcludesPadding: false, roundUp: false, divisor: null,
      }, 'pool');
      net.markOutput(layer(net, 'convolution', [int8Act(net, pooled, 0.01, 'p'), int8Weight(net, [16, 32, 1, 1], 0, 13, 'w2')], conv(16, [1, 1]), 'conv2'), 'y');
    },
  },
  {
    name: 'conv 7x7 stride 2 pad 3 on 3 channels (bytewise loads), float output',
    inputs: [[1, 3, 23, 20]], kind: 'convolution', int8Out: false, spaceToDepth: true, spaceToDepthUnfolded: true, quantizeFused: true,
    quantizeKernel: 'quantize_rows[3 values per row]',
    build: (net, [x]) => {
      net.markOutput(layer(net, 'convolution', [int8Act(net, x!, 0.03, 'x'), int8Weight(net, [16, 3, 7, 7], 0, 7, 'w')],
        conv(16, [7, 7], { stride: [2, 2], prePadding: [3, 3], postPadding: [3, 3] }), 'conv'), 'y');
    },
  },
  {
    name: 'conv groups 2 (16 channels each), dilation 2, uneven padding, per-tensor weight, requantized',
    inputs: [[1, 32, 10, 12]], kind: 'convolution', int8Out: true,
    build: (net, [x]) => {
      const c = layer(net, 'convolution', [int8Act(net, x!, 0.02, 'x'), int8Weight(net, [64, 16, 3, 3], null, 8, 'w')],
        conv(64, [3, 3], { dilation: [2, 2], prePadding: [2, 1], postPadding: [1, 2], groups: 2 }), 'conv');
      net.markOutput(layer(net, 'quantize', [c, constant(net, Tensor.fromArray([0.03]), 'so')], { axis: null, toType: 'int8' }, 'y_q'), 'y');
    },
  },
  {
    name: '1-D conv (k 5, stride 2) with a float residual, float output',
    inputs: [[3, 16, 40], [3, 32, 18]], kind: 'convolution', int8Out: false,
    build: (net, [x, r]) => {
      const c = layer(net, 'convolution', [int8Act(net, x!, 0.02, 'x'), int8Weight(net, [32, 16, 5], 0, 9, 'w')],
        conv(32, [5], { stride: [2] }), 'conv');
      net.markOutput(layer(net, 'elementwise', [c, r!], { op: 'sum' }, 'add'), 'y');
    },
  },
  {
    name: 'conv 1x1, 64 -> 256 over 2x28x28 (many row tiles), requantized',
    inputs: [[2, 64, 28, 28]], kind: 'convolution', int8Out: true, tma: true,
    build: (net, [x]) => {
      const c = layer(net, 'convolution', [int8Act(net, x!, 0.02, 'x'), int8Weight(net, [256, 64, 1, 1], 0, 10, 'w')], conv(256, [1, 1]), 'conv');
      net.markOutput(layer(net, 'quantize', [c, constant(net, Tensor.fromArray([0.005]), 'so')], { axis: null, toType: 'int8' }, 'y_q'), 'y');
    },
  },
  {
    // 9000 rows: 71 row tiles by 2 to 4 column tiles, more than one per multiprocessor, so the
    // persistent TMA kernel's blocks take several tiles each (its residual buffers alternate).
    name: 'conv 1x1, 64 -> 512 over 2x75x60 (tiles beyond the multiprocessors), bias, int8 residual add, relu, requantized (ResNet bottleneck end)',
    inputs: [[2, 64, 75, 60], [2, 512, 75, 60]], kind: 'convolution', int8Out: true, tma: true,
    build: (net, [x, r]) => {
      const c = layer(net, 'convolution', [int8Act(net, x!, 0.02, 'x'), int8Weight(net, [512, 64, 1, 1], 0, 21, 'w'),
        constant(net, randn([512], 22, 0.1), 'bias')], conv(512, [1, 1]), 'conv');
      const sum = layer(net, 'elementwise', [c, int8Act(net, r!, 0.05, 'r')], { op: 'sum' }, 'add');
      const relu = layer(net, 'activation', [sum], { op: 'relu', alpha: 0, beta: 0 }, 'relu');
      net.markOutput(layer(net, 'quantize', [relu, constant(net, Tensor.fromArray([0.04]), 'so')], { axis: null, toType: 'int8' }, 'y_q'), 'y');
    },
  },
  // Convolutions over multiples of 128 channels: the TMA tiles gather A with the im2col mode (64
  // output pixels by 128 channels of one tap per load, zeros in the padding), the tiles crossing
  // output rows and images.
  {
    name: 'conv 3x3 pad 1, 128 -> 128 over 2x14x13 (TMA im2col mode), bias, int8 residual add, relu, requantized',
    inputs: [[2, 128, 14, 13], [2, 128, 14, 13]], kind: 'convolution', int8Out: true, tma: true,
    build: (net, [x, r]) => {
      const c = layer(net, 'convolution', [int8Act(net, x!, 0.02, 'x'), int8Weight(net, [128, 128, 3, 3], 0, 26, 'w'),
        constant(net, randn([128], 27, 0.1), 'bias')], conv(128, [3, 3], { prePadding: [1, 1], postPadding: [1, 1] }), 'conv');
      const sum = layer(net, 'elementwise', [c, int8Act(net, r!, 0.05, 'r')], { op: 'sum' }, 'add');
      const relu = layer(net, 'activation', [sum], { op: 'relu', alpha: 0, beta: 0 }, 'relu');
      net.markOutput(layer(net, 'quantize', [relu, constant(net, Tensor.fromArray([0.04]), 'so')], { axis: null, toType: 'int8' }, 'y_q'), 'y');
    },
  },
  {
    name: 'conv 3x3 stride 2 pad 1, 256 -> 192 over 3x15x17 (TMA im2col mode, traversal stride 2, a partial column tile), float16 output',
    inputs: [[3, 256, 15, 17]], kind: 'convolution', int8Out: false, tma: true,
    build: (net, [x]) => {
      net.markOutput(layer(net, 'convolution', [int8Act(net, x!, 0.02, 'x', 'float16'), int8Weight(net, [192, 256, 3, 3], 0, 28, 'w', 'float16')],
        conv(192, [3, 3], { stride: [2, 2], prePadding: [1, 1], postPadding: [1, 1] }), 'conv'), 'y');
    },
  },
  {
    name: 'conv 3x3 dilation 2, uneven padding, 128 -> 128 over 1x11x9 (TMA im2col mode), relu, requantized',
    inputs: [[1, 128, 11, 9]], kind: 'convolution', int8Out: true, tma: true,
    build: (net, [x]) => {
      const c = layer(net, 'convolution', [int8Act(net, x!, 0.02, 'x'), int8Weight(net, [128, 128, 3, 3], 0, 29, 'w')],
        conv(128, [3, 3], { dilation: [2, 2], prePadding: [2, 1], postPadding: [1, 2] }), 'conv');
      const relu = layer(net, 'activation', [c], { op: 'relu', alpha: 0, beta: 0 }, 'relu');
      net.markOutput(layer(net, 'quantize', [relu, constant(net, Tensor.fromArray([0.03]), 'so')], { axis: null, toType: 'int8' }, 'y_q'), 'y');
    },
  },
  // 64-channel multiples: 64-byte K slices (one tap's channels) in the 64-byte swizzle.
  {
    name: 'conv 3x3 pad 1, 64 -> 64 over 2x10x11 (TMA im2col mode, 64-byte slices), bias, int8 residual add, relu, requantized',
    inputs: [[2, 64, 10, 11], [2, 64, 10, 11]], kind: 'convolution', int8Out: true, tma: true,
    build: (net, [x, r]) => {
      const c = layer(net, 'convolution', [int8Act(net, x!, 0.02, 'x'), int8Weight(net, [64, 64, 3, 3], 0, 30, 'w'),
        constant(net, randn([64], 31, 0.1), 'bias')], conv(64, [3, 3], { prePadding: [1, 1], postPadding: [1, 1] }), 'conv');
      const sum = layer(net, 'elementwise', [c, int8Act(net, r!, 0.05, 'r')], { op: 'sum' }, 'add');
      const relu = layer(net, 'activation', [sum], { op: 'relu', alpha: 0, beta: 0 }, 'relu');
      net.markOutput(layer(net, 'quantize', [relu, constant(net, Tensor.fromArray([0.04]), 'so')], { axis: null, toType: 'int8' }, 'y_q'), 'y');
    },
  },
  {
    name: 'conv 3x3 stride 2 pad 1, 192 -> 128 over 2x17x16 (TMA im2col mode, 64-byte slices, traversal stride 2), float output',
    inputs: [[2, 192, 17, 16]], kind: 'convolution', int8Out: false, tma: true,
    build: (net, [x]) => {
      net.markOutput(layer(net, 'convolution', [int8Act(net, x!, 0.02, 'x'), int8Weight(net, [128, 192, 3, 3], 0, 32, 'w')],
        conv(128, [3, 3], { stride: [2, 2], prePadding: [1, 1], postPadding: [1, 1] }), 'conv'), 'y');
    },
  },
  {
    // x scaled per row (dynamic quantization's form: the kernels multiply each row's scale in).
    name: 'linear 300x512 -> 256 with a scale per row of x, per-channel weight, float16 output',
    inputs: [[300, 512]], kind: 'matrix_multiply', int8Out: false, tma: true,
    build: (net, [x]) => {
      const sx = constant(net, Tensor.fromNumbers(Array.from({ length: 300 }, (_, i) => 0.01 + 0.0007 * (i % 13)), [300]), 'sx');
      const q = layer(net, 'quantize', [x!, sx], { axis: 0, toType: 'int8' }, 'x_q');
      const dq = layer(net, 'dequantize', [q, sx], { axis: 0, toType: 'float16' }, 'x_dq');
      net.markOutput(layer(net, 'matrix_multiply', [dq, int8Weight(net, [256, 512], 0, 25, 'w', 'float16')],
        { transpose0: false, transpose1: true, vector0: false, vector1: false }, 'mm'), 'y');
    },
  },
  // The largest sums: every input saturates to 127 (|x| / 1e-4) and the weight is ±127, so the
  // sums are ±127 · 127 · K (a few smaller where |x| < 0.0127): 4 129 024 for K 256 and 4 387 088
  // for K 272, either side of 2^22.
  ...[256, 272].map((k): Int8Case => ({
    name: `linear 96x${k} -> 128, sums of ±127 · 127 · ${k}, float output`,
    inputs: [[96, k]], kind: 'matrix_multiply', int8Out: false, tma: true,
    build: (net, [x]) => {
      const abs = layer(net, 'unary', [x!], { op: 'abs' }, 'abs');
      const w = Tensor.fromNumbers(Array.from({ length: 128 * k }, (_, i) => (Math.floor(i / k) % 3 === 1 ? -1 : 1)), [128, k]);
      const s = constant(net, Tensor.fromArray([1 / 127]), 'w_s');
      const wq = layer(net, 'dequantize', [layer(net, 'quantize', [constant(net, w, 'w'), s], { axis: null, toType: 'int8' }, 'w_q'), s],
        { axis: null, toType: 'float32' }, 'w_dq');
      net.markOutput(layer(net, 'matrix_multiply', [int8Act(net, abs, 1e-4, 'x'), wq],
        { transpose0: false, transpose1: true, vector0: false, vector1: false }, 'mm'), 'y');
    },
  })),
  {
    // K 1024: eight K slices of 128, more than the TMA kernel's shared-memory stages, so its ring wraps.
    name: 'linear 600x1024 -> 384, bias, float16 residual add, relu, float16 output (K longer than the stage ring)',
    inputs: [[600, 1024], [600, 384]], kind: 'matrix_multiply', int8Out: false, tma: true,
    build: (net, [x, r]) => {
      const mm = layer(net, 'matrix_multiply', [int8Act(net, x!, 0.02, 'x', 'float16'), int8Weight(net, [384, 1024], 0, 23, 'w', 'float16')],
        { transpose0: false, transpose1: true, vector0: false, vector1: false }, 'mm');
      const b = layer(net, 'elementwise', [mm, constant(net, randn([1, 384], 24, 1).castTo('float16'), 'b')], { op: 'sum' }, 'bias');
      const sum = layer(net, 'elementwise', [b, layer(net, 'cast', [r!], { toType: 'float16' }, 'r16')], { op: 'sum' }, 'add');
      net.markOutput(layer(net, 'activation', [sum], { op: 'relu', alpha: 0, beta: 0 }, 'relu'), 'y');
    },
  },
  // The TMA tiles of two 64-row blocks or more run a short last wave in 64-row units
  // (kernels::IgemmTmaTailParts) where they fit the multiprocessors. On an H100 (132): 6400 x 384
  // in 128x128 tiles is 150 tiles, a wave and 18 (36 units); in 128x64 tiles (2 or 3 consumers)
  // 300, two waves and 36 (72 units); in 256x64 tiles 150, a wave and 18 (72 units). 1216 x 512 in
  // 128x128 tiles is 40 (80 units), in 128x64 and 256x64 tiles 80 and 40 (160 units: whole).
  {
    name: 'linear 6400x512 -> 384, bias, relu, requantized (a short last wave of tiles, in 64-row units)',
    inputs: [[6400, 512]], kind: 'matrix_multiply', int8Out: true, tma: true, tailSplit: 4,
    build: (net, [x]) => {
      const mm = layer(net, 'matrix_multiply', [int8Act(net, x!, 0.02, 'x'), int8Weight(net, [384, 512], 0, 33, 'w')],
        { transpose0: false, transpose1: true, vector0: false, vector1: false }, 'mm');
      const b = layer(net, 'elementwise', [mm, constant(net, randn([1, 384], 34, 1), 'b')], { op: 'sum' }, 'bias');
      const relu = layer(net, 'activation', [b], { op: 'relu', alpha: 0, beta: 0 }, 'relu');
      net.markOutput(layer(net, 'quantize', [relu, constant(net, Tensor.fromArray([0.1]), 'so')], { axis: null, toType: 'int8' }, 'y_q'), 'y');
    },
  },
  {
    name: 'linear 1216x2048 -> 512, float16 output (a short last wave of tiles, in 64-row units)',
    inputs: [[1216, 2048]], kind: 'matrix_multiply', int8Out: false, tma: true, tailSplit: 1,
    build: (net, [x]) => {
      net.markOutput(layer(net, 'matrix_multiply', [int8Act(net, x!, 0.02, 'x', 'float16'), int8Weight(net, [512, 2048], 0, 35, 'w', 'float16')],
        { transpose0: false, transpose1: true, vector0: false, vector1: false }, 'mm'), 'y');
    },
  },
];

/** Few output tiles and a long K: the cases split-K is for (a late ResNet convolution at batch 1); LONG_K: their K. */
const LONG_K = [4608, 2000, 2048];
const LONG_K_CASES: readonly Int8Case[] = [
  {
    name: 'conv 3x3 pad 1, 512 -> 512 over 1x4x4 (16 rows, K 4608), bias, int8 residual add, relu, requantized',
    inputs: [[1, 512, 4, 4], [1, 512, 4, 4]], kind: 'convolution', int8Out: true,
    build: (net, [x, r]) => {
      const c = layer(net, 'convolution', [int8Act(net, x!, 0.02, 'x'), int8Weight(net, [512, 512, 3, 3], 0, 15, 'w'),
        constant(net, randn([512], 16, 0.1), 'bias')], conv(512, [3, 3], { prePadding: [1, 1], postPadding: [1, 1] }), 'conv');
      const sum = layer(net, 'elementwise', [c, int8Act(net, r!, 0.05, 'r')], { op: 'sum' }, 'add');
      const relu = layer(net, 'activation', [sum], { op: 'relu', alpha: 0, beta: 0 }, 'relu');
      net.markOutput(layer(net, 'quantize', [relu, constant(net, Tensor.fromArray([0.06]), 'so')], { axis: null, toType: 'int8' }, 'y_q'), 'y');
    },
  },
  {
    name: 'linear 5x2000 -> 90 (K 2000: a partial last K tile), bias, float16 output',
    inputs: [[5, 2000]], kind: 'matrix_multiply', int8Out: false,
    build: (net, [x]) => {
      const mm = layer(net, 'matrix_multiply', [int8Act(net, x!, 0.02, 'x', 'float16'), int8Weight(net, [90, 2000], 0, 17, 'w', 'float16')],
        { transpose0: false, transpose1: true, vector0: false, vector1: false }, 'mm');
      net.markOutput(layer(net, 'elementwise', [mm, constant(net, randn([1, 90], 18, 1).castTo('float16'), 'b')], { op: 'sum' }, 'bias'), 'y');
    },
  },
  {
    name: 'linear 130x2048 -> 200 (row tiles of 64 and 128 with a partial last one, a partial column tile), relu, requantized',
    inputs: [[130, 2048]], kind: 'matrix_multiply', int8Out: true,
    build: (net, [x]) => {
      const mm = layer(net, 'matrix_multiply', [int8Act(net, x!, 0.02, 'x'), int8Weight(net, [200, 2048], 0, 19, 'w')],
        { transpose0: false, transpose1: true, vector0: false, vector1: false }, 'mm');
      const relu = layer(net, 'activation', [mm], { op: 'relu', alpha: 0, beta: 0 }, 'relu');
      net.markOutput(layer(net, 'quantize', [relu, constant(net, Tensor.fromArray([0.08]), 'so')], { axis: null, toType: 'int8' }, 'y_q'), 'y');
    },
  },
];

/** Convolutions whose channels keep the implicit form to bytewise loads: they may run in the im2col form. */
const STEM_CASES: readonly Int8Case[] = [
  CASES.find((c) => c.name.startsWith('conv 7x7 stride 2 pad 3 on 3 channels'))!,
  {
    name: 'conv 3x3 pad 1 on 3 channels (a CIFAR stem), bias, relu, requantized',
    inputs: [[2, 3, 16, 16]], kind: 'convolution', int8Out: true, spaceToDepth: true, quantizeFused: true,
    quantizeKernel: 'quantize_rows[3 values per row]',
    build: (net, [x]) => {
      const c = layer(net, 'convolution', [int8Act(net, x!, 0.03, 'x'), int8Weight(net, [64, 3, 3, 3], 0, 19, 'w'),
        constant(net, randn([64], 20, 0.1), 'bias')], conv(64, [3, 3], { prePadding: [1, 1], postPadding: [1, 1] }), 'conv');
      const relu = layer(net, 'activation', [c], { op: 'relu', alpha: 0, beta: 0 }, 'relu');
      net.markOutput(layer(net, 'quantize', [relu, constant(net, Tensor.fromArray([0.02]), 'so')], { axis: null, toType: 'int8' }, 'y_q'), 'y');
    },
  },
];

/**
 * Space-to-depth packings with more than one 16-channel run and a block of 3 (the stem cases above
 * have one run of 16 from blocks of 2 and 1): odd sizes, so the packed input's last rows and
 * columns read padding. A stem over rows of 75 output pixels, more than one packing block (64
 * pixels) each; and a kernel row of 64 packed pixels, whose unfolded packing tile would pass the
 * 48 KB of shared memory the kernel takes (that form is refused, the packed one runs).
 */
const SPACE_TO_DEPTH_CASES: readonly Int8Case[] = [
  {
    name: 'conv 7x7 stride 2 pad 3 on 3 channels over 9x150 (rows of 75 packed pixels), float output',
    inputs: [[1, 3, 9, 150]], kind: 'convolution', int8Out: false, spaceToDepth: true, spaceToDepthUnfolded: true, quantizeFused: true,
    quantizeKernel: 'quantize_rows[3 values per row]',
    build: (net, [x]) => {
      net.markOutput(layer(net, 'convolution', [int8Act(net, x!, 0.03, 'x'), int8Weight(net, [16, 3, 7, 7], 0, 33, 'w')],
        conv(16, [7, 7], { stride: [2, 2], prePadding: [3, 3], postPadding: [3, 3] }), 'conv'), 'y');
    },
  },
  {
    name: 'conv 1x64 on 3 channels (a kernel row of 64 packed pixels: an unfolded view of 1024 channels), float output',
    inputs: [[1, 3, 4, 80]], kind: 'convolution', int8Out: false, spaceToDepth: true, spaceToDepthUnfolded: true, quantizeFused: true,
    quantizeKernel: 'quantize_rows[3 values per row]',
    build: (net, [x]) => {
      net.markOutput(layer(net, 'convolution', [int8Act(net, x!, 0.03, 'x'), int8Weight(net, [16, 3, 1, 64], 0, 34, 'w')],
        conv(16, [1, 64]), 'conv'), 'y');
    },
  },
  {
    name: 'conv 3x3 stride 2 pad 1 on 5 channels (4 blocks of 5 packed into 32), bias, relu, requantized',
    inputs: [[2, 5, 13, 11]], kind: 'convolution', int8Out: true, spaceToDepth: true, spaceToDepthUnfolded: true, quantizeFused: true,
    quantizeKernel: 'quantize_rows[5 values per row]',
    build: (net, [x]) => {
      const c = layer(net, 'convolution', [int8Act(net, x!, 0.03, 'x'), int8Weight(net, [24, 5, 3, 3], 0, 23, 'w'),
        constant(net, randn([24], 24, 0.1), 'bias')], conv(24, [3, 3], { stride: [2, 2], prePadding: [1, 1], postPadding: [1, 1] }), 'conv');
      const relu = layer(net, 'activation', [c], { op: 'relu', alpha: 0, beta: 0 }, 'relu');
      net.markOutput(layer(net, 'quantize', [relu, constant(net, Tensor.fromArray([0.02]), 'so')], { axis: null, toType: 'int8' }, 'y_q'), 'y');
    },
  },
  {
    name: 'conv 5x5 stride 3, uneven padding, on 1 channel (9 blocks packed into 16), float output',
    inputs: [[3, 1, 17, 14]], kind: 'convolution', int8Out: false, spaceToDepth: true, quantizeFused: true,
    quantizeKernel: 'quantize_contiguous[32 values per thread]',
    build: (net, [x]) => {
      net.markOutput(layer(net, 'convolution', [int8Act(net, x!, 0.03, 'x'), int8Weight(net, [16, 1, 5, 5], 0, 25, 'w')],
        conv(16, [5, 5], { stride: [3, 3], prePadding: [2, 1], postPadding: [0, 2] }), 'conv'), 'y');
    },
  },
  {
    name: 'conv 7x7 stride 2 pad 3 on 3 float16 channels (the quantize of a float16 tensor taken over), bias, relu, requantized',
    inputs: [[2, 3, 21, 18]], kind: 'convolution', int8Out: true, spaceToDepth: true, spaceToDepthUnfolded: true, quantizeFused: true,
    quantizeKernel: 'quantize_rows[3 values per row]',
    build: (net, [x]) => {
      const h = layer(net, 'cast', [x!], { toType: 'float16' }, 'half');
      const c = layer(net, 'convolution', [int8Act(net, h, 0.03, 'x', 'float16'), int8Weight(net, [32, 3, 7, 7], 0, 35, 'w', 'float16'),
        constant(net, randn([32], 36, 0.1).castTo('float16'), 'bias')], conv(32, [7, 7], { stride: [2, 2], prePadding: [3, 3], postPadding: [3, 3] }), 'conv');
      const relu = layer(net, 'activation', [c], { op: 'relu', alpha: 0, beta: 0 }, 'relu');
      net.markOutput(layer(net, 'quantize', [relu, constant(net, Tensor.fromArray([0.02]), 'so')], { axis: null, toType: 'int8' }, 'y_q'), 'y');
    },
  },
  {
    name: 'conv 7x7 stride 2 pad 3 on 3 channels whose quantized input is a network output too (no takeover), float output',
    inputs: [[1, 3, 19, 22]], kind: 'convolution', int8Out: false, spaceToDepth: true, spaceToDepthUnfolded: true, quantizeFused: false,
    build: (net, [x]) => {
      const scale = constant(net, Tensor.fromArray([0.03]), 'x_s');
      const q = layer(net, 'quantize', [x!, scale], { axis: null, toType: 'int8' }, 'x_q');
      const dq = layer(net, 'dequantize', [q, scale], { axis: null, toType: 'float32' }, 'x_dq');
      net.markOutput(layer(net, 'convolution', [dq, int8Weight(net, [16, 3, 7, 7], 0, 37, 'w')],
        conv(16, [7, 7], { stride: [2, 2], prePadding: [3, 3], postPadding: [3, 3] }), 'conv'), 'y');
      net.markOutput(q, 'x_q');
    },
  },
];

function deconv(out: number, k: readonly number[], o: Partial<LayerParamsMap['deconvolution']> = {}): LayerParamsMap['deconvolution'] {
  return conv(out, k, o);
}

/**
 * Deconvolutions (transposed convolutions): the int8 GEMM gathers each output pixel's taps from
 * the input (IgemmConv::transposed: a tap lands where (o + pad - k * dilation) divides by the
 * stride), over the filter regrouped to [K, kernel..., C/groups]; the implicit form (any tile but
 * the TMA ones) and the im2col form (one group; the TMA tiles take it where the rows allow). With
 * a stride above 1 (dilation 1), the stride-phase form: one forward convolution per phase of
 * output pixels with that phase's taps, a residual gathered into phase order first and the outputs
 * scattered after (unequal phases where the kernel or the output is not a multiple of the stride).
 */
const DECONV_CASES: readonly Int8Case[] = [
  {
    name: 'deconv 4x4 stride 2 pad 1, 64 -> 64 channels (CenterNet), bias, relu, requantized',
    inputs: [[2, 64, 8, 7]], kind: 'deconvolution', int8Out: true, phases: true,
    build: (net, [x]) => {
      const d = layer(net, 'deconvolution', [int8Act(net, x!, 0.02, 'x'), int8Weight(net, [64, 64, 4, 4], 1, 41, 'w'),
        constant(net, randn([64], 42, 0.1), 'bias')], deconv(64, [4, 4], { stride: [2, 2], prePadding: [1, 1], postPadding: [1, 1] }), 'deconv');
      const relu = layer(net, 'activation', [d], { op: 'relu', alpha: 0, beta: 0 }, 'relu');
      net.markOutput(layer(net, 'quantize', [relu, constant(net, Tensor.fromArray([0.03]), 'so')], { axis: null, toType: 'int8' }, 'y_q'), 'y');
    },
  },
  {
    name: 'deconv 3x3 stride 2 pad 1 output padding 1, 24 -> 40 channels (bytewise loads), int8 residual add, relu, requantized',
    inputs: [[2, 24, 5, 6], [2, 40, 10, 12]], kind: 'deconvolution', int8Out: true, phases: true,
    build: (net, [x, r]) => {
      const d = layer(net, 'deconvolution', [int8Act(net, x!, 0.02, 'x'), int8Weight(net, [24, 40, 3, 3], 1, 43, 'w')],
        deconv(40, [3, 3], { stride: [2, 2], prePadding: [1, 1], postPadding: [0, 0] }), 'deconv');
      const sum = layer(net, 'elementwise', [d, int8Act(net, r!, 0.05, 'r')], { op: 'sum' }, 'add');
      const relu = layer(net, 'activation', [sum], { op: 'relu', alpha: 0, beta: 0 }, 'relu');
      net.markOutput(layer(net, 'quantize', [relu, constant(net, Tensor.fromArray([0.04]), 'so')], { axis: null, toType: 'int8' }, 'y_q'), 'y');
    },
  },
  {
    name: 'deconv groups 2 (16 channels each), dilation 2, strides 3 and 2, uneven padding and output padding, per-tensor weight, float output',
    inputs: [[1, 32, 6, 5]], kind: 'deconvolution', int8Out: false, im2col: false,
    build: (net, [x]) => {
      net.markOutput(layer(net, 'deconvolution', [int8Act(net, x!, 0.02, 'x'), int8Weight(net, [32, 24, 3, 3], null, 44, 'w')],
        deconv(48, [3, 3], { stride: [3, 2], dilation: [2, 2], prePadding: [2, 0], postPadding: [-1, 1], groups: 2 }), 'deconv'), 'y');
    },
  },
  {
    name: 'deconv groups 4 (8 channels each), 4x4 stride 2 pad 1 output padding 1 (11x13: unequal phases), per-tensor weight, float output',
    inputs: [[1, 32, 5, 6]], kind: 'deconvolution', int8Out: false, im2col: false, phases: true,
    build: (net, [x]) => {
      net.markOutput(layer(net, 'deconvolution', [int8Act(net, x!, 0.02, 'x'), int8Weight(net, [32, 8, 4, 4], null, 47, 'w')],
        deconv(32, [4, 4], { stride: [2, 2], prePadding: [1, 1], postPadding: [0, 0], groups: 4 }), 'deconv'), 'y');
    },
  },
  {
    // A 1x1 output at stride 2: phases (0, 1), (1, 0) and (1, 1) have no pixels.
    name: 'deconv 3x3 stride 2 pad 1 on a 1x1 input (a 1x1 output: empty phases), 16 -> 16 channels, bias, requantized',
    inputs: [[2, 16, 1, 1]], kind: 'deconvolution', int8Out: true, phases: true,
    build: (net, [x]) => {
      const d = layer(net, 'deconvolution', [int8Act(net, x!, 0.02, 'x'), int8Weight(net, [16, 16, 3, 3], 1, 48, 'w'),
        constant(net, randn([16], 49, 0.1), 'bias')], deconv(16, [3, 3], { stride: [2, 2], prePadding: [1, 1], postPadding: [1, 1] }), 'deconv');
      net.markOutput(layer(net, 'quantize', [d, constant(net, Tensor.fromArray([0.01]), 'so')], { axis: null, toType: 'int8' }, 'y_q'), 'y');
    },
  },
  {
    name: '1-D deconv (k 5, stride 2) with a float residual, float16 output',
    inputs: [[3, 16, 20], [3, 32, 41]], kind: 'deconvolution', int8Out: false, phases: true,
    build: (net, [x, r]) => {
      const d = layer(net, 'deconvolution', [int8Act(net, x!, 0.02, 'x', 'float16'), int8Weight(net, [16, 32, 5], 1, 45, 'w', 'float16')],
        deconv(32, [5], { stride: [2], prePadding: [1], postPadding: [1] }), 'deconv');
      net.markOutput(layer(net, 'elementwise', [d, layer(net, 'cast', [r!], { toType: 'float16' }, 'r16')], { op: 'sum' }, 'add'), 'y');
    },
  },
  {
    name: 'deconv 4x4 stride 2 pad 1, 128 -> 64 channels over 2x16x16 (many row tiles), requantized',
    inputs: [[2, 128, 16, 16]], kind: 'deconvolution', int8Out: true, phases: true,
    build: (net, [x]) => {
      const d = layer(net, 'deconvolution', [int8Act(net, x!, 0.02, 'x'), int8Weight(net, [128, 64, 4, 4], 1, 46, 'w')],
        deconv(64, [4, 4], { stride: [2, 2], prePadding: [1, 1], postPadding: [1, 1] }), 'deconv');
      net.markOutput(layer(net, 'quantize', [d, constant(net, Tensor.fromArray([0.02]), 'so')], { axis: null, toType: 'int8' }, 'y_q'), 'y');
    },
  },
];

/** 3-D convolutions and deconvolutions: the im2col form only (its kernel walks the depth axis too), then any tile's matrix product. */
const CASES_3D: readonly Int8Case[] = [
  {
    name: '3-D conv 3x3x3 pad 1, 16 -> 32 channels over 2x6x8x8 (16-byte im2col chunks), bias, relu, requantized',
    inputs: [[2, 16, 6, 8, 8]], kind: 'convolution', int8Out: true, implicit: false,
    build: (net, [x]) => {
      const c = layer(net, 'convolution', [int8Act(net, x!, 0.02, 'x'), int8Weight(net, [32, 16, 3, 3, 3], 0, 51, 'w'),
        constant(net, randn([32], 52, 0.1), 'bias')], conv(32, [3, 3, 3], { prePadding: [1, 1, 1], postPadding: [1, 1, 1] }), 'conv');
      const relu = layer(net, 'activation', [c], { op: 'relu', alpha: 0, beta: 0 }, 'relu');
      net.markOutput(layer(net, 'quantize', [relu, constant(net, Tensor.fromArray([0.05]), 'so')], { axis: null, toType: 'int8' }, 'y_q'), 'y');
    },
  },
  {
    name: '3-D conv k 2x3x3, strides 1/2/2, dilation 2 in depth, 5 -> 8 channels (bytewise im2col), per-tensor weight, float output',
    inputs: [[1, 5, 7, 9, 10]], kind: 'convolution', int8Out: false, implicit: false,
    build: (net, [x]) => {
      net.markOutput(layer(net, 'convolution', [int8Act(net, x!, 0.02, 'x'), int8Weight(net, [8, 5, 2, 3, 3], null, 53, 'w')],
        conv(8, [2, 3, 3], { stride: [1, 2, 2], dilation: [2, 1, 1], prePadding: [0, 1, 1], postPadding: [1, 1, 0] }), 'conv'), 'y');
    },
  },
  {
    name: '3-D deconv k2 stride 2, 32 -> 16 channels over 1x4x5x6, int8 residual add, relu, requantized',
    inputs: [[1, 32, 4, 5, 6], [1, 16, 8, 10, 12]], kind: 'deconvolution', int8Out: true, implicit: false,
    build: (net, [x, r]) => {
      const d = layer(net, 'deconvolution', [int8Act(net, x!, 0.02, 'x'), int8Weight(net, [32, 16, 2, 2, 2], 1, 54, 'w')],
        deconv(16, [2, 2, 2], { stride: [2, 2, 2] }), 'deconv');
      const sum = layer(net, 'elementwise', [d, int8Act(net, r!, 0.05, 'r')], { op: 'sum' }, 'add');
      const relu = layer(net, 'activation', [sum], { op: 'relu', alpha: 0, beta: 0 }, 'relu');
      net.markOutput(layer(net, 'quantize', [relu, constant(net, Tensor.fromArray([0.04]), 'so')], { axis: null, toType: 'int8' }, 'y_q'), 'y');
    },
  },
];

describe('int8 GEMM kernel (convolution, deconvolution and matrix product) matches the reference bit for bit', () => {
  for (const c of [...CASES, ...LONG_K_CASES, STEM_CASES[1]!, ...SPACE_TO_DEPTH_CASES, ...DECONV_CASES, ...CASES_3D]) it(c.name, () => expectSameAsReference(c));
});

/** The native tactic record with its algorithm (for igemm: the tile configuration) replaced. */
function withAlgo(data: Uint8Array, algo: number): Uint8Array {
  const out = new Uint8Array(data);
  new DataView(out.buffer).setInt32(2, algo, true);  // u8 format, u8 kind, i32 algo (little-endian)
  return out;
}

/** The same with the igemm split of K (the record's first 64-bit word, after u8 fused) replaced. */
function withSplits(data: Uint8Array, splits: number): Uint8Array {
  const out = new Uint8Array(data);
  new DataView(out.buffer).setBigUint64(7, BigInt(splits), true);
  return out;
}

/** The igemm forms of a convolution's A operand (native/src/exec/op_igemm.cc, Form), by tactic record value. */
const FORMS = ['implicit', 'im2col', 'space-to-depth', 'space-to-depth unfolded', 'stride phases'] as const;

/** The same with the igemm form (the record's second 64-bit word: an index of FORMS) replaced. */
function withForm(data: Uint8Array, form: number): Uint8Array {
  const out = new Uint8Array(data);
  new DataView(out.buffer).setBigUint64(15, BigInt(form), true);
  return out;
}

const cacheDir = mkdtempSync(join(tmpdir(), 'fxrt-igemm-tiles-'));

/**
 * Each case once per tile configuration: the build records its int8 GEMM entries in a timing
 * cache, the test rewrites their tile and builds again (the entries are reused, not timed), until
 * the addon rejects the index as past its last tile. Every configuration (the mma.sync tiles, and
 * on Hopper the wgmma ones) must give the reference's bytes.
 */
describe('int8 GEMM kernel: every tile configuration, forced through the timing cache, gives the same bytes', () => {
  const hopper = (() => {
    const a = cudaAvailable();
    return a.available && a.computeCapability[0] === 9 && a.computeCapability[1] === 0;
  })();
  [...CASES, ...DECONV_CASES].forEach((c, ci) => it(c.name, async () => {
    const path = join(cacheDir, `case${ci}.cache`);
    const inputs = c.inputs.map((shape, i) => Tensor.randn(shape, { seed: 11 + i }));
    await buildFor(c, 'cuda', path);
    const want = await (await buildFor(c, 'reference')).createExecutionContext().execute(inputs);
    const sections = decodeTimingCache(readFileSync(path));
    expect(sections.flatMap((s) => s.entries).filter((e) => e.tactic.startsWith('igemm:')).length, 'igemm entries in the cache').toBeGreaterThan(0);
    const tiles = new Set<string>();
    const splitTiles = new Set<string>();  // tiles whose tactic says their last wave ran in 64-row units
    const evictTiles = new Set<string>();  // tiles whose tactic says they loaded A evict-first
    // A rejected index is past the last tile configuration, or one that does not run this problem
    // (the TMA tiles take only some): the loop ends after 8 rejections in a row. No split of K (the
    // timed build may have chosen one, which the TMA tiles do not run; split-K has its own tests),
    // and the implicit form, which every tile runs (the timed build may have chosen the unfolded
    // space-to-depth form, which only the TMA tiles read; the forms have their own tests).
    for (let tile = 0, rejectedInARow = 0; tile < 64 && rejectedInARow < 8; tile++) {
      writeFileSync(path, encodeTimingCache(sections.map((s) => ({
        device: s.device,
        entries: s.entries.map((e) => (e.tactic.startsWith('igemm:') ? { ...e, data: withForm(withSplits(withAlgo(e.data, tile), 1), 0) } : e)),
      }))));
      const engine = await buildFor(c, 'cuda', path);
      if (engine.tacticStats!.rejected > 0) {
        rejectedInARow++;
        continue;
      }
      rejectedInARow = 0;
      expect(engine.tacticStats!.timed, `tile ${tile}: nothing timed`).toBe(0);
      // The tile configurations named in the layers' tactics ('igemm:<tile>[ (bytewise loads)]').
      const used = new Set(engine.layerInfo().flatMap((l) => [...l.tactic.matchAll(/igemm:(\d+x\d+ tile, [^+(),]*[^+(), ])/g)].map((m) => m[1]!)));
      expect([...used], `tile ${tile}: one configuration`).toHaveLength(1);
      const [name] = used;
      tiles.add(name!);
      if (engine.layerInfo().some((l) => /igemm:[^+]*, last wave in 64-row tiles/.test(l.tactic))) splitTiles.add(name!);
      if (engine.layerInfo().some((l) => /igemm:[^+]*, A evict-first/.test(l.tactic))) evictTiles.add(name!);
      const got = await engine.createExecutionContext().execute(inputs);
      got.forEach((g, i) => expectSameValues(g, want[i]!, `${c.name}, ${name!}, output ${i}`));
    }
    expect(tiles.size, `tile configurations run: ${[...tiles].join('; ')}`).toBeGreaterThanOrEqual(5);
    if (hopper) expect([...tiles].filter((t) => t.includes('wgmma')).length, 'wgmma tiles on Hopper').toBeGreaterThanOrEqual(4);
    if (hopper && c.tma === true) expect([...tiles].filter((t) => t.includes('TMA')).length, 'warp-specialized TMA tiles on Hopper').toBe(8);
    // Only TMA tiles split their last wave; the cases made for it have some that do on an H100.
    expect([...splitTiles].filter((t) => !t.includes('TMA')), 'tiles other than the TMA ones never split their last wave').toEqual([]);
    // The matrix products read their quantized input last (Operands.lastRead): the TMA tiles, and only
    // they, load it evict-first.
    expect([...evictTiles].filter((t) => !t.includes('TMA')), 'tiles other than the TMA ones never load A evict-first').toEqual([]);
    if (hopper && c.tma === true && c.kind === 'matrix_multiply') expect(evictTiles.size, 'TMA tiles loading A evict-first').toBe(8);
    if (hopper && c.tailSplit !== undefined && cudaDeviceInfo().multiprocessors === 132) {
      expect(splitTiles.size, `TMA tiles whose last wave ran in 64-row units: ${[...splitTiles].join('; ')}`).toBe(c.tailSplit);
    }
  }));
});

/**
 * Split-K: the long-K cases once per split of K (1 to 32 parts, forced through the timing cache
 * as above). Up to 16 parts on a device that launches clusters (Hopper), the parts of a tile are one
 * cluster whose first block adds the others' sums from their shared memory; more parts add theirs
 * into the workspace, and the last to arrive at a tile (its counter) finishes it. Integer sums are
 * exact in any order, so every split gives the reference's bytes. Then splits of 2, 16 and 32 on
 * every tile configuration that splits (the mma.sync and wgmma tiles hold their accumulators in
 * different fragment layouts; 32 parts meet in global memory everywhere).
 */
describe('int8 GEMM kernel: every split of K, forced through the timing cache, gives the same bytes', () => {
  // Hopper launches clusters (and the addon's sm_90a kernels reduce in them).
  const clusters = (() => {
    const a = cudaAvailable();
    return a.available && a.computeCapability[0] >= 9;
  })();
  LONG_K_CASES.forEach((c, ci) => it(c.name, async () => {
    const path = join(cacheDir, `split${ci}.cache`);
    const inputs = c.inputs.map((shape, i) => Tensor.randn(shape, { seed: 11 + i }));
    await buildFor(c, 'cuda', path);
    const want = await (await buildFor(c, 'reference')).createExecutionContext().execute(inputs);
    const sections = decodeTimingCache(readFileSync(path));
    for (const splits of [1, 2, 3, 8, 16, 32]) {
      writeFileSync(path, encodeTimingCache(sections.map((s) => ({
        device: s.device,
        // The 64x64 mma.sync tile (every device runs it; the timed build may have chosen a TMA tile, which does not split).
        entries: s.entries.map((e) => (e.tactic.startsWith('igemm:') ? { ...e, data: withForm(withSplits(withAlgo(e.data, 3), splits), 0) } : e)),
      }))));
      const engine = await buildFor(c, 'cuda', path);
      expect(engine.tacticStats!.timed, `${splits} splits: nothing timed`).toBe(0);
      const tactics = engine.layerInfo().map((l) => l.tactic).filter((t) => t.startsWith('igemm:'));
      expect(tactics.length).toBeGreaterThan(0);
      // The parts a split really makes: every part reduces ceil(kTiles / splits) tiles of 64.
      const kTiles = Math.ceil(LONG_K[ci]! / 64);
      const parts = Math.ceil(kTiles / Math.ceil(kTiles / splits));
      for (const tactic of tactics) {
        if (parts > 1) expect(tactic).toMatch(new RegExp(`split-k ${parts} ${clusters && parts <= 16 ? 'reduced in a cluster' : 'through global memory'}`));
        else expect(tactic).not.toMatch(/split-k/);
      }
      const got = await engine.createExecutionContext().execute(inputs);
      got.forEach((g, i) => expectSameValues(g, want[i]!, `${c.name}, ${splits} splits, output ${i}`));
    }
    const tiles = new Set<string>();
    for (let tile = 0, rejectedInARow = 0; tile < 64 && rejectedInARow < 8; tile++) {
      for (const splits of [2, 16, 32]) {
        writeFileSync(path, encodeTimingCache(sections.map((s) => ({
          device: s.device,
          entries: s.entries.map((e) => (e.tactic.startsWith('igemm:') ? { ...e, data: withForm(withSplits(withAlgo(e.data, tile), splits), 0) } : e)),
        }))));
        const engine = await buildFor(c, 'cuda', path);
        if (engine.tacticStats!.rejected > 0) {
          rejectedInARow++;
          break;
        }
        rejectedInARow = 0;
        const tactic = engine.layerInfo().map((l) => l.tactic).find((t) => t.startsWith('igemm:'))!;
        const kTiles = Math.ceil(LONG_K[ci]! / 64);
        const parts = Math.ceil(kTiles / Math.ceil(kTiles / splits));
        expect(tactic).toMatch(new RegExp(`split-k ${parts} ${clusters && parts <= 16 ? 'reduced in a cluster' : 'through global memory'}`));
        tiles.add(tactic.replace(/, split-k.*/, ''));
        const got = await engine.createExecutionContext().execute(inputs);
        got.forEach((g, i) => expectSameValues(g, want[i]!, `${c.name}, ${tactic}, output ${i}`));
      }
    }
    expect(tiles.size, `tiles that split: ${[...tiles].join('; ')}`).toBeGreaterThanOrEqual(clusters ? 9 : 5);
  }));
});

/**
 * The forms of a convolution's A operand: implicit; im2col (a matrix product over an explicit
 * im2col matrix with the weight padded alike, zeros past K on both sides: the untimed choice where
 * the channels keep the implicit form to bytewise loads, the 3-channel stem, a timed candidate
 * elsewhere, its 16-channel chunks copied whole); space-to-depth where the channels are not a
 * multiple of 16 (the input packed into 16-byte channel runs, a stride-1 convolution over it with the
 * weight packed alike), and unfolded where a kernel row's packed pixels side by side make a multiple
 * of 64 channels (the stem's 4x4 on 16 becomes 4x1 on 64, which the TMA tiles gather); stride
 * phases for a strided transposed convolution (DECONV_CASES). Every form that applies, forced
 * through the timing cache, gives the reference's bytes; one that does not is refused from the
 * cache (the build times again).
 */
const FORM_CASES: readonly Int8Case[] = [
  ...STEM_CASES, ...SPACE_TO_DEPTH_CASES, CASES.find((c) => c.name.startsWith('conv 3x3 pad 1, 32 -> 48 channels'))!,
  ...DECONV_CASES, ...CASES_3D,
];
describe('int8 GEMM kernel: the implicit, im2col, space-to-depth and stride-phase forms of a convolution give the same bytes', () => {
  const hopper = (() => {
    const a = cudaAvailable();
    return a.available && a.computeCapability[0] === 9 && a.computeCapability[1] === 0;
  })();
  FORM_CASES.forEach((c, ci) => it(c.name, async () => {
    const path = join(cacheDir, `forms${ci}.cache`);
    const inputs = c.inputs.map((shape, i) => Tensor.randn(shape, { seed: 11 + i }));
    await buildFor(c, 'cuda', path);
    const want = await (await buildFor(c, 'reference')).createExecutionContext().execute(inputs);
    const sections = decodeTimingCache(readFileSync(path));
    const tmaForms: string[] = [];
    for (let form = 0; form < FORMS.length; form++) {
      // Tile 0 (mma.sync) runs every form; tile 10 (TMA, Hopper) the matrix form and convolutions
      // over 64-channel multiples.
      for (const tile of [0, 10]) {
        writeFileSync(path, encodeTimingCache(sections.map((s) => ({
          device: s.device,
          entries: s.entries.map((e) => (e.tactic.startsWith('igemm:') ? { ...e, data: withAlgo(withForm(e.data, form), tile) } : e)),
        }))));
        const engine = await buildFor(c, 'cuda', path);
        // The unfolded form's overlapping view: only the TMA tiles read it.
        const applies = form === 0 ? c.implicit !== false : form === 1 ? c.im2col !== false : form === 2 ? c.spaceToDepth === true : form === 3 ? c.spaceToDepthUnfolded === true && tile !== 0
          : form === 4 ? c.phases === true : true;
        if (!applies || tile !== 0) {
          if (!applies) expect(engine.tacticStats!.rejected, `${FORMS[form]}: the cached entry should be refused`).toBeGreaterThan(0);
          if (engine.tacticStats!.rejected > 0) continue;
        }
        expect(engine.tacticStats!.timed, `${FORMS[form]}, tile ${tile}: nothing timed`).toBe(0);
        const tactics = engine.layerInfo().map((l) => l.tactic).filter((t) => t.startsWith('igemm:'));
        expect(tactics.length).toBeGreaterThan(0);
        for (const tactic of tactics) {
          expectTakeover(c, tactic);
          for (let other = 1; other < FORMS.length; other++) {
            if (other === form) expect(tactic).toContain(`(${FORMS[other]})`);
            else expect(tactic).not.toContain(`(${FORMS[other]})`);
          }
          if (tactic.includes('TMA')) tmaForms.push(FORMS[form]!);
        }
        const got = await engine.createExecutionContext().execute(inputs);
        got.forEach((g, i) => expectSameValues(g, want[i]!, `${c.name}, ${FORMS[form]} form, tile ${tile}, output ${i}`));
      }
    }
    // The TMA tiles run no implicit or packed space-to-depth form of these (channels not a multiple
    // of 64, or a transposed convolution's gather); the im2col and unfolded forms where the output
    // rows are 16-byte runs (the stem's 16 float columns; not the 5-channel case's 24 int8 ones);
    // the stride phases (forward convolutions) of the 64-channel deconvolutions in the TMA's im2col mode.
    if (hopper) {
      const others = tmaForms.filter((f) => f !== 'im2col' && f !== 'space-to-depth unfolded' && f !== 'stride phases');
      expect(others, 'forms the TMA tiles ran besides im2col, unfolded and stride phases').toEqual([]);
      if (c.name.startsWith('conv 7x7 stride 2')) expect(new Set(tmaForms)).toEqual(new Set(['im2col', 'space-to-depth unfolded']));
      if (c.name.startsWith('deconv 4x4 stride 2 pad 1, 64 -> 64')) expect(tmaForms, 'the stride phases on a TMA tile').toContain('stride phases');
    }
  }));
});
