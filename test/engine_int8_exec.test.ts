/**
 * Execution of int8 steps on the reference backend: the arithmetic plan.ts specifies (exact int32
 * sums of int8 products, one float32 rescale per output channel, round half to even, saturation)
 * checked against sums computed here by hand; the int8 plan format (serialization, validation),
 * the int8 float fallback, the CUDA backend's int8 tactics and refusals, and a whole ResNet-18 with
 * Q/DQ inserted by hand compiled to int8-in, int8-out convolutions.
 */
import { describe, expect, it } from 'vitest';
import { accTrace } from '../src/acc_ops/acc_tracer.js';
import { CudaNotImplementedError, cudaTactic } from '../src/backends/cuda/step_support.js';
import { NetworkInterpreter } from '../src/converters/index.js';
import { BuildError } from '../src/engine/builder.js';
import { Engine } from '../src/engine/engine.js';
import type { LayerParamsMap, NetTensor } from '../src/engine/network.js';
import type { NetworkDefinition } from '../src/engine/network_definition.js';
import { anchorInputCount, deserializePlan, fusedRequantizeRange, PLAN_VERSION, PlanFormatError, validatePlan, type LayerStepOf, type Plan, type PlanStep } from '../src/engine/plan.js';
import { resnet18 } from '../src/models/resnet.js';
import { defaultPasses, PassManager } from '../src/passes/index.js';
import { fmaF32 } from '../src/kernels/reference/quant.js';
import { cosineSimilarity } from '../src/tensor/compare.js';
import { roundTo } from '../src/tensor/dtype.js';
import { Tensor } from '../src/tensor/tensor.js';
import { build, buildBoth, constant, conv2d, layer, newNet, randn, run } from './engine_helpers.js';

const f = Math.fround;

/** Deterministic int8 values in [lo, hi]. */
function ints(n: number, seed: number, lo = -128, hi = 127): number[] {
  let s = seed * 2654435761 % 4294967296;
  return Array.from({ length: n }, () => {
    s = (s * 1664525 + 1013904223) % 4294967296;
    return lo + (s % (hi - lo + 1));
  });
}

/** A float input holding q·s exactly where quantizing with s gives back q, quantized and dequantized with s. */
function int8Input(net: NetworkDefinition, name: string, shape: readonly number[], s: NetTensor): NetTensor {
  const q = layer(net, 'quantize', [net.addInput(name, 'float32', shape), s], { axis: null, toType: 'int8' }, `${name}_q`);
  return layer(net, 'dequantize', [q, s], { axis: null, toType: 'float32' }, `${name}_dq`);
}

/** Constant int8 weights `q` (as float q·s[c]) quantized along `axis` with scales `s`. */
function int8Weight(
  net: NetworkDefinition, q: readonly number[], shape: readonly number[], s: readonly number[], axis: number | null, name: string,
  toType: 'float32' | 'float16' | 'bfloat16' = 'float32',
): NetTensor {
  const inner = axis === null ? q.length : shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const count = axis === null ? 1 : shape[axis]!;
  const w = Tensor.fromNumbers(q.map((v, i) => f(v * s[Math.floor(i / inner) % count]!)), shape);
  const scales = constant(net, Tensor.fromNumbers(s, [s.length]), `${name}_scale`);
  const wq = layer(net, 'quantize', [constant(net, w, name), scales], { axis, toType: 'int8' }, `${name}_q`);
  return layer(net, 'dequantize', [wq, scales], { axis, toType }, `${name}_dq`);
}

function scalar(net: NetworkDefinition, v: number, name: string): NetTensor {
  return constant(net, Tensor.fromArray([v]), name);
}

/** Inputs holding q·s for int8 values q. */
function asInput(q: readonly number[], shape: readonly number[], s: number): Tensor {
  return Tensor.fromNumbers(q.map((v) => f(v * s)), shape);
}

function int8Step(e: Engine): PlanStep {
  const s = e.plan.steps.find((st) => st.quant !== undefined);
  if (!s) throw new Error(`engine '${e.name}' has no int8 step`);
  return s;
}

type ConvCase = { readonly name: string; readonly x: readonly number[]; readonly w: readonly number[]; readonly p: LayerParamsMap['convolution'] };

/** The exact integer convolution (or its transpose, `transposed`), computed element by element. */
function referenceConv(xq: readonly number[], xs: readonly number[], wq: readonly number[], ws: readonly number[], p: LayerParamsMap['convolution'], os: readonly number[], transposed: boolean): number[] {
  const nSp = p.kernelSize.length;
  const pad = (v: readonly number[], fill: number): number[] => [...new Array<number>(3 - nSp).fill(fill), ...v];
  const [inSp, outSp, k, s, d, pre] = [pad(xs.slice(2), 1), pad(os.slice(2), 1), pad(ws.slice(2), 1), pad(p.stride, 1), pad(p.dilation, 1), pad(p.prePadding, 0)];
  const [N, C] = [xs[0]!, xs[1]!];
  const O = os[1]!;
  const G = p.groups;
  const acc = new Array<number>(N * O * outSp[0]! * outSp[1]! * outSp[2]!).fill(0);
  const vol = (v: number[]): number => v[0]! * v[1]! * v[2]!;
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const g = Math.floor(c / (C / G));
      for (let oc = g * (O / G); oc < (g + 1) * (O / G); oc++) {
        for (let kz = 0; kz < k[0]!; kz++) for (let ky = 0; ky < k[1]!; ky++) for (let kx = 0; kx < k[2]!; kx++) {
          const wIdx = transposed
            ? (((c * (O / G) + (oc - g * (O / G))) * k[0]! + kz) * k[1]! + ky) * k[2]! + kx
            : (((oc * (C / G) + (c - g * (C / G))) * k[0]! + kz) * k[1]! + ky) * k[2]! + kx;
          const wv = wq[wIdx]!;
          for (let z = 0; z < (transposed ? inSp : outSp)[0]!; z++) for (let y = 0; y < (transposed ? inSp : outSp)[1]!; y++) for (let xx = 0; xx < (transposed ? inSp : outSp)[2]!; xx++) {
            const a = [z * s[0]! - pre[0]! + kz * d[0]!, y * s[1]! - pre[1]! + ky * d[1]!, xx * s[2]! - pre[2]! + kx * d[2]!];
            const [iPos, oPos] = transposed ? [[z, y, xx], a] : [a, [z, y, xx]];
            if (iPos.some((v, i) => v < 0 || v >= inSp[i]!) || oPos.some((v, i) => v < 0 || v >= outSp[i]!)) continue;
            const xi = ((n * C + c) * inSp[0]! + iPos[0]!) * inSp[1]! * inSp[2]! + iPos[1]! * inSp[2]! + iPos[2]!;
            acc[((n * O + oc) * vol(outSp) + (oPos[0]! * outSp[1]! + oPos[1]!) * outSp[2]! + oPos[2]!)] += xq[xi]! * wv;
          }
        }
      }
    }
  }
  return acc;
}

describe('int8 arithmetic of the reference backend', () => {
  it('sums int8 products exactly in int32 (beyond float32 integers), then rescales per channel: fround(fround(acc) * fround(sx * sw[c])) + b[c]', async () => {
    const [M, K, N] = [3, 2048, 4];
    const sx = 0.5;
    const sw = [0.01, 0.02, 0.003, 0.37];
    const xq = ints(M * K, 1, 100, 127);
    const wq = ints(N * K, 2, 90, 127).map((v, i) => (i % 7 === 0 ? -v : v));
    const bias = [0.25, -1.5, 3.125, 0];
    const net = newNet('exact_gemm');
    const x = int8Input(net, 'x', [M, K], scalar(net, sx, 'sx'));
    const mm = layer(net, 'matrix_multiply', [x, int8Weight(net, wq, [N, K], sw, 0, 'w')], { transpose0: false, transpose1: true, vector0: false, vector1: false }, 'mm');
    net.markOutput(layer(net, 'elementwise', [mm, constant(net, Tensor.fromNumbers(bias, [1, N]), 'b')], { op: 'sum' }, 'bias'), 'y');
    const engine = await build(net, { precision: 'int8' });
    expect(int8Step(engine).kind).toBe('matrix_multiply');
    const [y] = await run(engine, [asInput(xq, [M, K], sx)]);
    const expected: number[] = [];
    for (let i = 0; i < M; i++) {
      for (let c = 0; c < N; c++) {
        let acc = 0;
        for (let k = 0; k < K; k++) acc += xq[i * K + k]! * wq[c * K + k]!;
        expect(Math.abs(acc)).toBeGreaterThan(2 ** 24); // float32 cannot hold these sums exactly
        expected.push(f(f(f(acc) * f(sx * sw[c]!)) + bias[c]!));
      }
    }
    expect(Array.from(y!.toFloat32())).toEqual(expected);
  });

  it('requantizes with round half to even and saturates to [-128, 127] (the general form: an epilogue the fused requantize does not take)', async () => {
    const rows = [[1, 0, 0], [3, 0, 0], [5, 0, 0], [-1, 0, 0], [-3, 0, 0], [127, 127, 127], [-128, -128, -128], [7, -2, 0]];
    const net = newNet('requantize');
    const one = scalar(net, 1, 'one');
    const x = int8Input(net, 'x', [rows.length, 3], one);
    const mm = layer(net, 'matrix_multiply', [x, int8Weight(net, [1, 1, 1], [1, 3], [1], null, 'w')], { transpose0: false, transpose1: true, vector0: false, vector1: false }, 'mm');
    // A clip wider than every value: an activation other than relu keeps the general arithmetic.
    const clip = layer(net, 'activation', [mm], { op: 'clip', alpha: -1000, beta: 1000 }, 'clip');
    net.markOutput(layer(net, 'quantize', [clip, scalar(net, 2, 'two')], { axis: null, toType: 'int8' }, 'y_q'), 'y');
    const engine = await build(net, { precision: 'int8' });
    expect(engine.plan.steps.map((s) => s.kind)).toEqual(['quantize', 'matrix_multiply']);
    const step = int8Step(engine) as LayerStepOf<'matrix_multiply'>;
    expect(step.epilogue.map((op) => op.op)).toEqual(['activation']);
    expect(fusedRequantizeRange(step, anchorInputCount(step))).toBeNull();
    const [y] = await run(engine, [Tensor.fromNumbers(rows.flat(), [rows.length, 3])]);
    expect(y!.dtype).toBe('int8');
    // acc / 2 = 0.5, 1.5, 2.5, -0.5, -1.5, 190.5, -192, 2.5
    expect(Array.from(y!.toFloat32())).toEqual([0, 2, 2, 0, -2, 127, -128, 2]);
  });

  // The fused requantize (plan.ts StepQuantization), computed here from its definition: with small
  // sums, fround(acc) * alpha + beta is exact in a double, so fround of it is the fused multiply-add.
  const fusedExpected = (acc: number, m: number, b: number, so: number, relu: boolean): number => {
    const [r, o] = relu ? [127, 0] : [255, 128];
    const k = f(f(1 / so) / r);
    const sum = acc * f(m * k) + f(f(b * k) + f(o / r));
    const u = Math.min(1, Math.max(0, f(sum)));
    const t = u * r;
    const rounded = Math.abs(t - Math.trunc(t)) === 0.5 ? 2 * Math.round(t / 2) : Math.round(t);
    return rounded - o;
  };
  it('fmaF32 is a float32 fused multiply-add: rounded once, also where the double sum lands on a float32 tie', () => {
    // a * b = 2^-24 - 2^-54 exactly; + c = 1 + 2^-23 lies just below the tie between 1 + 2^-23 and
    // 1 + 2^-22, but the double sum is the tie itself, which fround alone rounds to even (up).
    const a = f(2 ** -24 * (1 + 2 ** -15));
    const b = f(1 - 2 ** -15);
    const c = f(1 + 2 ** -23);
    expect(f(a * b + c)).toBe(1 + 2 ** -22);
    expect(fmaF32(a, b, c)).toBe(1 + 2 ** -23);
    expect(fmaF32(-a, -b, -c)).toBe(-(1 + 2 ** -23));
    // c - a * b = 1 + 2^-24 + 2^-54: just above the tie between 1 and 1 + 2^-23, the other way.
    expect(f(a * -b + c)).toBe(1);
    expect(fmaF32(a, -b, c)).toBe(1 + 2 ** -23);
    expect(fmaF32(3, 5, 0.5)).toBe(15.5);
    expect(fmaF32(f(1 + 2 ** -12), f(1 + 2 ** -12), -1)).toBe(2 ** -11 + 2 ** -24);
    expect(fmaF32(2 ** 100, 2 ** 100, 0)).toBe(Infinity);
    expect(fmaF32(NaN, 1, 0)).toBeNaN();
  });

  for (const relu of [false, true]) {
    it(`a matrix product + bias${relu ? ' + relu' : ''} → int8 requantizes in the fused form: one fused multiply-add, saturated, then rounded (R = ${relu ? 127 : 255})`, async () => {
      const [M, K, N] = [6, 8, 5];
      const sx = 0.05;
      const sw = [0.01, 0.02, 0.003, 0.07, 0.011];
      const so = 0.0731;
      const xq = ints(M * K, 7);
      const wq = ints(N * K, 8);
      const bias = [0.25, -1.5, 3.125, 0, -0.0625];
      const net = newNet('fused_requantize');
      const x = int8Input(net, 'x', [M, K], scalar(net, sx, 'sx'));
      const mm = layer(net, 'matrix_multiply', [x, int8Weight(net, wq, [N, K], sw, 0, 'w')], { transpose0: false, transpose1: true, vector0: false, vector1: false }, 'mm');
      let t = layer(net, 'elementwise', [mm, constant(net, Tensor.fromNumbers(bias, [1, N]), 'b')], { op: 'sum' }, 'bias');
      if (relu) t = layer(net, 'activation', [t], { op: 'relu', alpha: 0, beta: 0 }, 'relu');
      net.markOutput(layer(net, 'quantize', [t, scalar(net, so, 'so')], { axis: null, toType: 'int8' }, 'y_q'), 'y');
      const engine = await build(net, { precision: 'int8' });
      const step = int8Step(engine) as LayerStepOf<'matrix_multiply'>;
      expect(step.epilogue.map((op) => op.op)).toEqual(relu ? ['bias', 'activation'] : ['bias']);
      expect(fusedRequantizeRange(step, anchorInputCount(step))).toBe(relu ? 127 : 255);
      const [y] = await run(engine, [asInput(xq, [M, K], sx)]);
      expect(y!.dtype).toBe('int8');
      const expected: number[] = [];
      let saturated = 0;
      for (let i = 0; i < M; i++) {
        for (let c = 0; c < N; c++) {
          let acc = 0;
          for (let k = 0; k < K; k++) acc += xq[i * K + k]! * wq[c * K + k]!;
          const q = fusedExpected(acc, f(sx * sw[c]!), bias[c]!, so, relu);
          if (q === 127 || q === (relu ? 0 : -128)) saturated++;
          expected.push(q);
        }
      }
      expect(saturated).toBeGreaterThan(0); // the clamp is exercised
      expect(saturated).toBeLessThan(M * N);
      expect(Array.from(y!.toFloat32())).toEqual(expected);
    });
  }

  it('a convolution with its own bias + relu → int8 requantizes in the fused form (R = 127), per output channel', async () => {
    const xs = [2, 4, 5, 5];
    const ws = [6, 4, 3, 3];
    const p = conv2d(6, 3, 1);
    const sx = 0.04;
    const sw = [0.01, 0.02, 0.004, 0.03, 0.015, 0.007];
    const bias = [0.5, -0.75, 0.125, 0, -2, 1.25];
    const so = 0.0517;
    const xq = ints(xs.reduce((a, b) => a * b, 1), 9);
    const wq = ints(ws.reduce((a, b) => a * b, 1), 10);
    const net = newNet('fused_conv');
    const x = int8Input(net, 'x', xs, scalar(net, sx, 'sx'));
    const c = layer(net, 'convolution', [x, int8Weight(net, wq, ws, sw, 0, 'w'), constant(net, Tensor.fromNumbers(bias, [6]), 'b')], p, 'conv');
    const r = layer(net, 'activation', [c], { op: 'relu', alpha: 0, beta: 0 }, 'relu');
    net.markOutput(layer(net, 'quantize', [r, scalar(net, so, 'so')], { axis: null, toType: 'int8' }, 'y_q'), 'y');
    const engine = await build(net, { precision: 'int8' });
    const step = int8Step(engine) as LayerStepOf<'convolution'>;
    expect(step.kind).toBe('convolution');
    expect(fusedRequantizeRange(step, anchorInputCount(step))).toBe(127);
    const [y] = await run(engine, [asInput(xq, xs, sx)]);
    expect(y!.dtype).toBe('int8');
    const acc = referenceConv(xq, xs, wq, ws, p, y!.shape, false);
    const inner = y!.shape.slice(2).reduce((a, b) => a * b, 1);
    const expected = acc.map((v, i) => {
      const ch = Math.floor(i / inner) % 6;
      return fusedExpected(v, f(sx * sw[ch]!), bias[ch]!, so, true);
    });
    expect(expected.filter((q) => q === 0).length).toBeGreaterThan(0); // the relu's clamp is exercised
    expect(Array.from(y!.toFloat32())).toEqual(expected);
  });

  it('the fused form rounds u * R, so results where y / so is exactly a tie follow its roundings, not ties to even', async () => {
    // x · [1] with every scale 1 and a bias of 0.5: y = acc + 0.5, a tie for the general form.
    const accs = Array.from({ length: 41 }, (_, i) => i - 20);
    const net = newNet('fused_ties');
    const x = int8Input(net, 'x', [accs.length, 1], scalar(net, 1, 'sx'));
    const mm = layer(net, 'matrix_multiply', [x, int8Weight(net, [1], [1, 1], [1], 0, 'w')], { transpose0: false, transpose1: true, vector0: false, vector1: false }, 'mm');
    const b = layer(net, 'elementwise', [mm, constant(net, Tensor.fromNumbers([0.5], [1, 1]), 'b')], { op: 'sum' }, 'bias');
    net.markOutput(layer(net, 'quantize', [b, scalar(net, 1, 'so')], { axis: null, toType: 'int8' }, 'y_q'), 'y');
    const engine = await build(net, { precision: 'int8' });
    const step = int8Step(engine) as LayerStepOf<'matrix_multiply'>;
    expect(fusedRequantizeRange(step, anchorInputCount(step))).toBe(255);
    const [y] = await run(engine, [asInput(accs, [accs.length, 1], 1)]);
    const expected = accs.map((a) => fusedExpected(a, 1, 0.5, 1, false));
    const tiesToEven = accs.map((a) => 2 * Math.round((a + 0.5) / 2) + 0);
    // The two forms differ here (so the test tells them apart), by one step at most.
    expect(expected.filter((q, i) => q !== tiesToEven[i]).length).toBeGreaterThan(0);
    expect(expected.every((q, i) => Math.abs(q - tiesToEven[i]!) <= 1)).toBe(true);
    expect(Array.from(y!.toFloat32())).toEqual(expected);
  });

  const convCases: ConvCase[] = [
    { name: '2-D, groups 2, strided, dilated, uneven padding', x: [2, 4, 7, 6], w: [6, 2, 3, 2],
      p: { kernelSize: [3, 2], numOutputMaps: 6, stride: [2, 1], prePadding: [1, 0], postPadding: [0, 2], dilation: [1, 2], groups: 2 } },
    { name: '1-D', x: [1, 3, 9], w: [4, 3, 3], p: { kernelSize: [3], numOutputMaps: 4, stride: [2], prePadding: [1], postPadding: [1], dilation: [1], groups: 1 } },
    { name: '3-D depthwise', x: [1, 3, 4, 4, 3], w: [3, 1, 2, 2, 2],
      p: { kernelSize: [2, 2, 2], numOutputMaps: 3, stride: [1, 1, 1], prePadding: [1, 0, 1], postPadding: [0, 1, 0], dilation: [1, 1, 1], groups: 3 } },
  ];

  for (const transposed of [false, true]) {
    for (const c of convCases) {
      it(`${transposed ? 'deconvolution' : 'convolution'} ${c.name}: exact int32 sums, per-channel rescale, float output`, async () => {
        const O = transposed ? c.w[1]! * c.p.groups : c.w[0]!;
        const p = { ...c.p, numOutputMaps: O };
        const wShape = transposed ? [c.x[1]!, ...c.w.slice(1)] : c.w;
        const xq = ints(c.x.reduce((a, b) => a * b, 1), 3);
        const wq = ints(wShape.reduce((a, b) => a * b, 1), 4);
        const sw = Array.from({ length: transposed ? wShape[1]! : O }, (_, i) => 0.013 * (i + 1));
        const axis = transposed && c.p.groups > 1 ? null : transposed ? 1 : 0;
        const scales = axis === null ? [0.017] : sw;
        const net = newNet('conv_exact');
        const x = int8Input(net, 'x', c.x, scalar(net, 0.25, 'sx'));
        const y = layer(net, transposed ? 'deconvolution' : 'convolution', [x, int8Weight(net, wq, wShape, scales, axis, 'w')], p, 'conv');
        net.markOutput(y, 'y');
        const engine = await build(net, { precision: 'int8' });
        expect(int8Step(engine).precision).toEqual({ storage: 'float32', compute: 'int32' });
        const [out] = await run(engine, [asInput(xq, c.x, 0.25)]);
        const acc = referenceConv(xq, c.x, wq, wShape, p, out!.shape, transposed);
        const inner = out!.shape.slice(2).reduce((a, b) => a * b, 1);
        const expected = acc.map((v, i) => f(f(v) * f(0.25 * scales[axis === null ? 0 : Math.floor(i / inner) % O]!)));
        expect(Array.from(out!.toFloat32())).toEqual(expected);
      });
    }
  }

  it('batched int8 matrix products broadcast their batch dims and take vector operands', async () => {
    const cases = [
      { a: [2, 1, 3, 5], b: [1, 4, 5, 2], p: { transpose0: false, transpose1: false, vector0: false, vector1: false } },
      { a: [2, 5, 3], b: [2, 4, 5], p: { transpose0: true, transpose1: true, vector0: false, vector1: false } },
      { a: [3, 5], b: [5], p: { transpose0: false, transpose1: false, vector0: false, vector1: true } },
    ];
    for (const { a, b, p } of cases) {
      const net = newNet('bmm');
      const s = scalar(net, 0.5, 's');
      net.markOutput(layer(net, 'matrix_multiply', [int8Input(net, 'a', a, s), int8Input(net, 'b', b, s)], p, 'mm'), 'y');
      const { fused, unfused } = await buildBoth(net, { precision: 'int8' });
      expect(int8Step(fused).kind).toBe('matrix_multiply');
      const inputs = [asInput(ints(a.reduce((x, y) => x * y, 1), 5), a, 0.5), asInput(ints(b.reduce((x, y) => x * y, 1), 6), b, 0.5)];
      // Small integer products times 0.25: the float GEMM of the unfused plan is exact too.
      expect(Array.from((await run(fused, inputs))[0]!.toFloat32())).toEqual(Array.from((await run(unfused, inputs))[0]!.toFloat32()));
    }
  });
});

describe('int8 plans', () => {
  async function fusedConv(): Promise<Engine> {
    const net = newNet('conv');
    const x = int8Input(net, 'x', [1, 4, 6, 6], scalar(net, 0.05, 'sx'));
    const c = layer(net, 'convolution', [x, int8Weight(net, ints(4 * 4 * 9, 7), [4, 4, 3, 3], [0.01, 0.02, 0.03, 0.04], 0, 'w')], conv2d(4, 3, 1), 'conv');
    net.markOutput(layer(net, 'quantize', [c, scalar(net, 0.2, 'sy')], { axis: null, toType: 'int8' }, 'y_q'), 'y');
    return build(net, { precision: 'int8' });
  }

  it('serializes int8 steps (format version 3) and executes the deserialized plan bit for bit', async () => {
    const engine = await fusedConv();
    expect(PLAN_VERSION).toBe(3);
    const again = Engine.deserialize(engine.serialize());
    expect(again.plan.steps).toEqual(engine.plan.steps);
    const x = randn([1, 4, 6, 6], 8);
    const [a] = await run(engine, [x]);
    const [b] = await run(again, [x]);
    expect(a!.dtype).toBe('int8');
    expect(Array.from(b!.toFloat32())).toEqual(Array.from(a!.toFloat32()));
  });

  it('rejects a plan whose int8 step is malformed, naming the step', async () => {
    const plan = (await fusedConv()).plan;
    const withStep = (change: (s: PlanStep) => PlanStep): Plan => ({ ...plan, steps: plan.steps.map((s) => (s.quant ? change(s) : s)) });
    expect(() => validatePlan(withStep((s) => ({ ...s, quant: { ...s.quant!, outputScale: 0 } })))).toThrow(
      /step 1 \('conv', int8 convolution\): scales must be the last 3 inputs, in operand order/,
    );
    expect(() => validatePlan(withStep((s) => ({ ...s, quant: { operands: [{ input: 5, scale: 3, axis: null }], outputScale: 4 } })))).toThrow(
      /operand input 5 is not a data input \(0\.\.2\)/,
    );
    expect(() => validatePlan({ ...plan, steps: [{ ...plan.steps[0]!, quant: plan.steps[1]!.quant! }, ...plan.steps.slice(1)] })).toThrow(
      /kind 'quantize' has no int8 form/,
    );
    expect(() => deserializePlan(new Uint8Array(16))).toThrow(PlanFormatError);
  });

  it('names the CUDA backend\'s int8 kernel for each int8 step and refuses the forms it lacks, naming the step', async () => {
    const step = int8Step(await fusedConv());
    expect(cudaTactic(step)).toBe('int8 implicit-gemm conv kernel (s8 mma, int32 accumulate), int8 out');
    expect(cudaTactic({ ...step, kind: 'deconvolution' } as PlanStep)).toBe('int8 implicit-gemm deconv kernel (s8 mma, int32 accumulate), int8 out');
    const conv3d = { ...step, params: { ...(step as LayerStepOf<'convolution'>).params, kernelSize: [1, 3, 3] } } as PlanStep;
    expect(cudaTactic(conv3d)).toBe('int8 im2col + gemm conv3d kernel (s8 mma, int32 accumulate), int8 out');
    const grouped3d = { ...step, params: { ...(step as LayerStepOf<'convolution'>).params, kernelSize: [1, 3, 3], groups: 2 } } as PlanStep;
    expect(() => cudaTactic(grouped3d)).toThrow(/a grouped 3-D int8 convolution \(groups 2; the 3-D form is one im2col matrix, one group\) is not implemented on the CUDA backend yet/);
    const twoResiduals = { ...step, epilogue: [{ op: 'residual', input: 2 }, { op: 'residual', input: 3 }] } as PlanStep;
    expect(() => cudaTactic(twoResiduals)).toThrow(CudaNotImplementedError);
    expect(() => cudaTactic(twoResiduals)).toThrow("step 'conv' (convolution covering x_dq, w_dq, conv, y_q): an int8 epilogue with more than one residual is not implemented on the CUDA backend yet");
  });
});

describe('int8 float fallback', () => {
  /** An int8 conv in a network whose float type is `dtype` (the dequantize layers write it). */
  function halfNet(dtype: 'float16' | 'bfloat16'): NetworkDefinition {
    const net = newNet(`int8_${dtype}`);
    const x = net.addInput('x', 'float32', [1, 4, 5, 5]);
    const sx = scalar(net, 0.05, 'sx');
    const dq = layer(net, 'dequantize', [layer(net, 'quantize', [x, sx], { axis: null, toType: 'int8' }, 'x_q'), sx], { axis: null, toType: dtype }, 'x_dq');
    const w = int8Weight(net, ints(8 * 4 * 9, 9), [8, 4, 3, 3], [0.02], null, 'w', dtype);
    net.markOutput(layer(net, 'convolution', [dq, w], conv2d(8, 3, 1), 'conv'), 'y');
    return net;
  }

  it("allows float16 layers by default ('fp16', as TensorRT's INT8 builds) and only float32 with 'fp32'", async () => {
    const engine = await build(halfNet('float16'), { precision: 'int8' });
    // Without a quantize after it, the int8 conv writes the network's float type, rounded once.
    expect(int8Step(engine).precision).toEqual({ storage: 'float16', compute: 'int32' });
    const xq = ints(4 * 25, 10);
    const [y] = await run(engine, [asInput(xq, [1, 4, 5, 5], 0.05)]);
    expect(y!.dtype).toBe('float16');
    const acc = referenceConv(xq, [1, 4, 5, 5], ints(8 * 4 * 9, 9), [8, 4, 3, 3], conv2d(8, 3, 1), [1, 8, 5, 5], false);
    expect(Array.from(y!.toFloat32())).toEqual(acc.map((v) => roundTo('float16', f(f(v) * f(0.05 * 0.02)))));
    await expect(build(halfNet('float16'), { precision: 'int8', int8Fallback: 'fp32' })).rejects.toThrow(
      /layer 'x_dq' \(dequantize\) uses float16, which precision 'int8' with int8Fallback 'fp32' does not allow \(build with int8Fallback 'fp16'\)/,
    );
    await expect(build(halfNet('bfloat16'), { precision: 'int8' })).rejects.toThrow(BuildError);
    await expect(build(halfNet('bfloat16'), { precision: 'int8', int8Fallback: 'bf16' })).resolves.toBeInstanceOf(Engine);
    await expect(build(halfNet('float16'), { precision: 'int8', int8Fallback: 'fp8' as 'fp16' })).rejects.toThrow(/int8Fallback must be one of fp32, fp16, bf16, got 'fp8'/);
  });
});

describe('ResNet-18 with Q/DQ inserted by hand', () => {
  /** Copies `net` layer by layer; `input(layer, i, t)` may replace input i (already copied) of each layer. */
  function copyNetwork(net: NetworkDefinition, name: string, input: (l: NetworkDefinition['layers'][number], i: number, t: NetTensor, out: NetworkDefinition) => NetTensor): NetworkDefinition {
    const out = newNet(name);
    const map = new Map<NetTensor, NetTensor>();
    for (const t of net.inputs) map.set(t, out.addInput(t.name, t.dtype, t.shape));
    for (const l of net.layers) {
      const inputs = l.inputs.map((t, i) => input(l, i, map.get(t)!, out));
      out.addLayer(l.type, inputs, l.params, l.name).forEach((t, k) => map.set(l.outputs[k]!, t));
    }
    for (const t of net.outputs) out.markOutput(map.get(t)!, t.name);
    return out;
  }

  /** Which inputs get Q/DQ (TensorRT's placement): conv/GEMM data inputs, residual identities, average pooling inputs. */
  function quantizedInput(l: NetworkDefinition['layers'][number], i: number): boolean {
    switch (l.type) {
      case 'convolution': case 'matrix_multiply': return i === 0;
      case 'elementwise': return l.params.op === 'sum' && i === 1 && l.inputs.every((t) => t.producer?.type !== 'constant');
      case 'pooling': return l.params.type === 'average';
      default: return false;
    }
  }

  it('compiles to int8-in, int8-out convolutions and stays within cosine 0.99 of the float model', async () => {
    const model = resnet18({ seed: 3 }).eval();
    const x = Tensor.randn([1, 3, 64, 64], { seed: 4 });
    const gm = new PassManager(defaultPasses()).run(accTrace(model, [x])).gm;
    const fnet = new NetworkInterpreter(gm).run().network;

    // Calibration: max |activation| of every tensor to quantize, from a float32 forward pass.
    const calibrated: NetTensor[] = [];
    for (const l of fnet.layers) l.inputs.forEach((t, i) => quantizedInput(l, i) && !calibrated.includes(t) && calibrated.push(t));
    const probe = copyNetwork(fnet, 'probe', (_l, _i, t) => t);
    const probeTensors = new Map([...probe.inputs, ...probe.layers.flatMap((l) => l.outputs)].map((t) => [t.name, t]));
    calibrated.forEach((t, k) => probe.markOutput(probeTensors.get(t.name)!, `act${k}`));
    const [reference, ...acts] = await run(await build(probe), [x]);
    const scaleOf = new Map(calibrated.map((t, k) => [t.name, acts[k]!.toFloat32().reduce((m, v) => Math.max(m, Math.abs(v)), 0) / 127]));

    const dqOf = new Map<string, NetTensor>();
    const qnet = copyNetwork(fnet, 'resnet18_int8', (l, i, t, out) => {
      if (quantizedInput(l, i)) {
        const key = l.inputs[i]!.name;
        let dq = dqOf.get(key);
        if (!dq) {
          const s = constant(out, Tensor.fromArray([scaleOf.get(key)!]), `${key}_scale`);
          dq = layer(out, 'dequantize', [layer(out, 'quantize', [t, s], { axis: null, toType: 'int8' }, `${key}_q`), s], { axis: null, toType: 'float32' }, `${key}_dq`);
          dqOf.set(key, dq);
        }
        return dq;
      }
      if (i !== 1 || (l.type !== 'convolution' && l.type !== 'matrix_multiply')) return t;
      // Weights: symmetric per output channel (conv dim 0; the linear weight [.., out, in] dim rank - 2).
      const w = (l.inputs[1]!.producer as { params: { value: Tensor } }).params.value;
      const axis = l.type === 'convolution' ? 0 : w.rank - 2;
      const count = w.shape[axis]!;
      const inner = w.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
      const amax = new Float32Array(count);
      w.toFloat32().forEach((v, j) => {
        const c = Math.floor(j / inner) % count;
        amax[c] = Math.max(amax[c]!, Math.abs(v));
      });
      const s = constant(out, Tensor.fromStorage(amax.map((a) => Math.max(a, 1e-8) / 127), [count], 'float32'), `${l.name}_w_scale`);
      const q = layer(out, 'quantize', [t, s], { axis, toType: 'int8' }, `${l.name}_w_q`);
      return layer(out, 'dequantize', [q, s], { axis, toType: 'float32' }, `${l.name}_w_dq`);
    });

    const engine = await build(qnet, { precision: 'int8' });
    const convs = engine.plan.steps.filter((s) => s.kind === 'convolution');
    expect(convs.length).toBe(20);
    for (const c of convs) {
      expect(c.quant, c.name).toBeDefined();
      expect(engine.plan.values[c.inputs[0]!]!.dtype, c.name).toBe('int8');
      expect(c.precision, c.name).toEqual({ storage: 'int8', compute: 'int32' });
    }
    // Everything else: the input's quantize, the max pool and flatten moved onto int8, the int8
    // average pool and the int8 fc writing float logits.
    const others = engine.plan.steps.filter((s) => s.kind !== 'convolution').map((s) => `${s.kind}:${s.precision.storage}${s.quant ? ' int8' : ''}`);
    expect(others).toEqual(['quantize:int8', 'pooling:int8', 'pooling:int8 int8', 'shuffle:int8', 'matrix_multiply:float32 int8']);
    expect(engine.report.unfusedQdq.map((r) => r.layer)).toEqual([`${fnet.inputs[0]!.name}_q`]);
    const [y] = await run(engine, [x]);
    expect(cosineSimilarity(y!, reference!)).toBeGreaterThanOrEqual(0.99);
  }, 120_000);
});
