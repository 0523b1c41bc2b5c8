/**
 * FP8 (float8e4m3) on the reference path: the e4m3 conversions against PyTorch's float8_e4m3fn
 * (test/fixtures/fp8_e4m3.json, scripts/gen_fp8_golden.py), FP8 Q/DQ, the builder's FP8
 * matrix-product fusion and its report reasons, and compile's precision 'fp8'.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compile } from '../src/compile.js';
import type { Engine } from '../src/engine/engine.js';
import type { NetTensor } from '../src/engine/network.js';
import type { NetworkDefinition } from '../src/engine/network_definition.js';
import { dequantize, quantizePerTensor } from '../src/kernels/reference/quant.js';
import { nn } from '../src/nn/index.js';
import { f32ToF8e4m3Bits, f8e4m3BitsToF32, promoteTypes } from '../src/tensor/dtype.js';
import { Tensor } from '../src/tensor/tensor.js';
import { buildBoth, constant, layer, maxAbsDiff, newNet, randn, run } from './engine_helpers.js';

const fixture = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', 'fp8_e4m3.json'), 'utf8')) as {
  torch_version: string; decode: string[]; encode: [string, number][];
};
const fromBits = (hex: string): number => new Float32Array(Uint32Array.of(parseInt(hex, 16)).buffer)[0]!;

describe('float8e4m3 conversions (PyTorch float8_e4m3fn goldens)', () => {
  it('decodes all 256 codes as PyTorch does', () => {
    expect(fixture.decode).toHaveLength(256);
    fixture.decode.forEach((want, code) => {
      const got = f8e4m3BitsToF32(code);
      if (want === 'nan') expect(got, `code 0x${code.toString(16)}`).toBeNaN();
      else expect(Object.is(got, fromBits(want)), `code 0x${code.toString(16)}: ${got} vs ${fromBits(want)}`).toBe(true);
    });
  });

  it('encodes every golden input (ties, subnormals, saturation) to PyTorch\'s bits', () => {
    expect(fixture.encode.length).toBeGreaterThan(9000);
    const wrong = fixture.encode.filter(([hex, bits]) => f32ToF8e4m3Bits(fromBits(hex)) !== bits);
    expect(wrong.slice(0, 5).map(([hex, bits]) => `${fromBits(hex)}: want 0x${bits.toString(16)}, got 0x${f32ToF8e4m3Bits(fromBits(hex)).toString(16)}`)).toEqual([]);
  });

  it('rounds ties to even, saturates at ±448, keeps NaN (with its sign) and signed zero', () => {
    expect(f32ToF8e4m3Bits(1.0625)).toBe(0x38); // halfway between 1 and 1.125: to even (1)
    expect(f32ToF8e4m3Bits(1.1875)).toBe(0x3a); // halfway between 1.125 and 1.25: to even (1.25)
    expect(f32ToF8e4m3Bits(448)).toBe(0x7e);
    expect(f32ToF8e4m3Bits(1e9)).toBe(0x7e);
    expect(f32ToF8e4m3Bits(-Infinity)).toBe(0xfe);
    expect(f32ToF8e4m3Bits(NaN)).toBe(0x7f);
    expect(f32ToF8e4m3Bits(-0)).toBe(0x80);
    expect(f32ToF8e4m3Bits(2 ** -10)).toBe(0); // halfway between 0 and the smallest subnormal: to even (0)
    expect(f32ToF8e4m3Bits(1.5 * 2 ** -10)).toBe(1);
    expect(Tensor.fromArray([0.3, -500, 17]).castTo('float8e4m3').toArray()).toEqual([0.3125, -448, 16]);
  });

  it('quantize_per_tensor to float8e4m3 and back: x / scale rounded to e4m3, zero point 0 only', () => {
    const x = Tensor.fromArray([0.3, -1.7, 90, -1e6]);
    const q = quantizePerTensor(x, 0.5, 0, 'float8e4m3');
    expect(q.dtype).toBe('float8e4m3');
    expect(Array.from(q.data as Uint8Array)).toEqual([0.6, -3.4, 180, -2e6].map((v) => f32ToF8e4m3Bits(Math.fround(v))));
    expect(Array.from(dequantize(q).toFloat32())).toEqual([0.625 * 0.5, -3.5 * 0.5, 176 * 0.5, -448 * 0.5]);
    expect(() => quantizePerTensor(x, 0.5, 3, 'float8e4m3')).toThrow(/zero_point must be 0 for float8e4m3/);
  });

  it('refuses arithmetic on float8e4m3 tensors, naming the dtype', () => {
    expect(() => promoteTypes('float8e4m3', 'float32')).toThrow(/no arithmetic on float8e4m3 tensors \(float8e4m3 with float32\)/);
  });
});

/** x → quantize(float8e4m3) → dequantize with a constant per-tensor scale. */
function qdq8(net: NetworkDefinition, x: NetTensor, scale: number, name: string, toType: 'float8e4m3' | 'int8' = 'float8e4m3'): NetTensor {
  const s = constant(net, Tensor.fromArray([scale]), `${name}_scale`);
  const q = layer(net, 'quantize', [x, s], { axis: null, toType }, `${name}_q`);
  return layer(net, 'dequantize', [q, s], { axis: null, toType: 'float32' }, `${name}_dq`);
}

/** A constant [n, k] weight quantized to float8e4m3 per tensor (max |w| / 448). */
function weight8(net: NetworkDefinition, w: Tensor, name: string): NetTensor {
  const amax = w.toFloat32().reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  return qdq8(net, constant(net, w, name), amax / 448, name);
}

/** Each step as 'kind:storage', with ' fp8' / ' int8' for fused Q/DQ steps. */
function steps(e: Engine): string[] {
  return e.plan.steps.map((s) => `${s.kind}:${s.precision.storage}${s.quant ? (s.quant.format === 'float8e4m3' ? ' fp8' : ' int8') : ''}`);
}

const TRANSPOSED = { transpose0: false, transpose1: true, vector0: false, vector1: false } as const;

describe('builder: FP8 matrix products', () => {
  it('fuses Q(relu(DQ(x) · DQ(w)^T + b)) into one FP8 step writing e4m3, and a float-output one after it', async () => {
    const net = newNet('fp8_mlp');
    const x = net.addInput('x', 'float32', [8, 32]);
    const h = layer(net, 'matrix_multiply', [qdq8(net, x, 3 / 448, 'x'), weight8(net, randn([64, 32], 2), 'w1')], TRANSPOSED, 'fc1');
    const hb = layer(net, 'elementwise', [h, constant(net, randn([1, 64], 3), 'b1')], { op: 'sum' }, 'fc1_bias');
    const r = layer(net, 'activation', [hb], { op: 'relu', alpha: 0, beta: 0 }, 'relu');
    const y = layer(net, 'matrix_multiply', [qdq8(net, r, 12 / 448, 'r'), weight8(net, randn([16, 64], 4), 'w2')], TRANSPOSED, 'fc2');
    net.markOutput(y, 'y');
    const { fused, unfused } = await buildBoth(net, { precision: 'fp8', int8Fallback: 'fp32' });
    expect(steps(fused)).toEqual(['quantize:float8e4m3', 'matrix_multiply:float8e4m3 fp8', 'matrix_multiply:float32 fp8']);
    const fc1 = fused.plan.steps[1]!;
    expect(fc1.precision.compute).toBe('float32');
    expect(fc1.kind === 'matrix_multiply' && fc1.epilogue.map((op) => op.op)).toEqual(['bias', 'activation']);
    expect(fused.report.unfusedQdq.map((r) => r.layer)).toEqual(['x_q']);
    expect(fused.report.unfusedQdq[0]!.reason).toBe("it quantizes the network input 'x': no step before it can write FP8, so it runs as its own step");
    const input = randn([8, 32], 5);
    const [a] = await run(fused, [input]);
    const [b] = await run(unfused, [input]);
    // The fused form skips the float rounding between the GEMM and the e4m3 requantization only:
    // the outputs differ by float32 rounding, except where that moves a value across an e4m3
    // rounding boundary (one e4m3 step of the relu output, 1/8 relative at most, times |w2|).
    const scale = b!.toFloat32().reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    expect(maxAbsDiff(a!, b!)).toBeLessThan(0.05 * scale);
  });

  it('leaves FP8 Q/DQ around a convolution, a mixed int8/FP8 product and a per-channel FP8 weight in float, saying why', async () => {
    const net = newNet('fp8_refusals');
    const x = net.addInput('x', 'float32', [4, 32]);
    const xd = qdq8(net, x, 0.01, 'x');
    const mixed = layer(net, 'matrix_multiply', [xd, qdq8(net, constant(net, randn([16, 32], 1), 'wi'), 0.01, 'wi', 'int8')], TRANSPOSED, 'mixed');
    const wc = constant(net, randn([16, 32], 2), 'wc');
    const sc = constant(net, Tensor.fromArray(Array.from({ length: 16 }, () => 0.01)), 'wc_scale');
    const wq = layer(net, 'quantize', [wc, sc], { axis: 0, toType: 'float8e4m3' }, 'wc_q');
    const wdq = layer(net, 'dequantize', [wq, sc], { axis: 0, toType: 'float32' }, 'wc_dq');
    const perChannel = layer(net, 'matrix_multiply', [xd, wdq], TRANSPOSED, 'per_channel');
    net.markOutput(mixed, 'a');
    net.markOutput(perChannel, 'b');
    const { fused } = await buildBoth(net, { precision: 'fp8', int8Fallback: 'fp32' });
    expect(fused.plan.steps.filter((s) => s.quant !== undefined)).toEqual([]);
    const why = Object.fromEntries(fused.report.unfusedQdq.map((r) => [r.layer, r.reason]));
    expect(why['wi_dq']).toContain("the second operand of 'mixed' (matrix_multiply) ('wi_dq') cannot be an FP8 operand: it quantizes to int8, not float8e4m3");
    expect(why['wc_dq']).toContain('cannot be an FP8 operand: it is per-channel along axis 0 (FP8 operands take one per-tensor scale)');

    const conv = newNet('fp8_conv');
    const cx = conv.addInput('x', 'float32', [1, 2, 5, 5]);
    const cw = constant(conv, randn([3, 2, 3, 3], 3), 'cw');
    const p = { numOutputMaps: 3, kernelSize: [3, 3], stride: [1, 1], prePadding: [1, 1], postPadding: [1, 1], dilation: [1, 1], groups: 1 };
    conv.markOutput(layer(conv, 'convolution', [qdq8(conv, cx, 0.01, 'cx'), qdq8(conv, cw, 0.01, 'cw')], p, 'conv'), 'y');
    const built = (await buildBoth(conv, { precision: 'fp8', int8Fallback: 'fp32' })).fused;
    const reasons = Object.fromEntries(built.report.unfusedQdq.map((r) => [r.layer, r.reason]));
    expect(reasons['cx_dq']).toContain("has float8e4m3 operands, but FP8 runs matrix products only (a convolution runs in float)");
  });
});

describe('builder: FP8 GEMM forms', () => {
  it('keeps a product with K or N off a multiple of 16 in float, and an FP8 product with a gelu (erf) epilogue writing float, saying why', async () => {
    const net = newNet('fp8_forms');
    const x = net.addInput('x', 'float32', [4, 32]);
    const narrow = layer(net, 'matrix_multiply', [qdq8(net, x, 0.01, 'x'), weight8(net, randn([20, 32], 1), 'w20')], TRANSPOSED, 'narrow');
    net.markOutput(narrow, 'a');
    const g = layer(net, 'matrix_multiply', [qdq8(net, x, 0.01, 'x2'), weight8(net, randn([32, 32], 2), 'w32')], TRANSPOSED, 'wide');
    const gelu = layer(net, 'activation', [g], { op: 'gelu_erf', alpha: 0, beta: 0 }, 'gelu');
    net.markOutput(layer(net, 'matrix_multiply', [qdq8(net, gelu, 0.05, 'g'), weight8(net, randn([16, 32], 3), 'w16')], TRANSPOSED, 'after'), 'b');
    const { fused, unfused } = await buildBoth(net, { precision: 'fp8', int8Fallback: 'fp32' });
    const why = Object.fromEntries(fused.report.unfusedQdq.map((r) => [r.layer, r.reason]));
    expect(why['w20_dq']).toContain("'narrow' (matrix_multiply) cannot run in FP8: FP8 GEMMs need K and N multiples of 16, got K = 32, N = 20");
    expect(why['g_q']).toBe("'wide' (matrix_multiply) runs in FP8 but writes float: its epilogue (gelu_erf) is more than the bias adds and relu or gelu_tanh an FP8 GEMM applies before writing e4m3");
    expect(steps(fused).filter((s) => s.endsWith(' fp8'))).toEqual(['matrix_multiply:float32 fp8', 'matrix_multiply:float32 fp8']);
    const input = randn([4, 32], 4);
    const [a1, b1] = await run(fused, [input]);
    const [a2, b2] = await run(unfused, [input]);
    expect(maxAbsDiff(a1!, a2!)).toBe(0); // the narrow product runs as its unfused layers
    expect(maxAbsDiff(b1!, b2!)).toBeLessThan(1e-3 * b2!.toFloat32().reduce((m, v) => Math.max(m, Math.abs(v)), 0));
  });
});

describe("compile with precision 'fp8'", () => {
  it('quantizes the linear layers to FP8 (amax / 448, per-tensor weights, minmax), keeps the conv in float and agrees with fp32', async () => {
    const model = new nn.Sequential(new nn.Conv2d(2, 4, 3, { padding: 1 }), new nn.Flatten(), new nn.Linear(4 * 6 * 6, 64), new nn.ReLU(), new nn.Linear(64, 16)).eval();
    const x = Tensor.randn([8, 2, 6, 6], { seed: 7 });
    const data = [[Tensor.randn([8, 2, 6, 6], { seed: 8 })], [Tensor.randn([8, 2, 6, 6], { seed: 9 })]];
    const lowered = await compile(model, [x], { precision: 'fp8', calibration: { data } });
    const report = lowered.quantization!;
    expect(report.format).toBe('float8e4m3');
    expect(report.calibration.method).toBe('minmax');
    expect(report.layers.map((l) => `${l.op}:${l.precision}`)).toEqual(['conv2d:float', 'linear:fp8', 'linear:fp8']);
    expect(report.layers[0]!.reason).toBe('FP8 quantizes matrix products only (linear, matmul)');
    const [engine] = [...lowered.engines.values()];
    expect(engine!.engine.plan.steps.filter((s) => s.quant?.format === 'float8e4m3').map((s) => s.kind)).toEqual(['matrix_multiply', 'matrix_multiply']);
    const [got] = await lowered.run([x]);
    const want = model.forward(x) as Tensor;
    const [a, b] = [got!.toFloat64(), want.toFloat64()];
    let dot = 0, na = 0, nb = 0;
    for (let i = 0; i < a.length; i++) { dot += a[i]! * b[i]!; na += a[i]! ** 2; nb += b[i]! ** 2; }
    expect(dot / Math.sqrt(na * nb)).toBeGreaterThan(0.995);
    // The scales are FP8's: a threshold maps to 448.
    const [name, s] = Object.entries(report.scales)[0]!;
    expect(s).toBeGreaterThan(0);
    expect(name).toBeTruthy();
  });

  it('writes FP8 scales (amax / 448) to the calibration cache, and a second compile reads it instead of calibrating', async () => {
    let text: string | undefined;
    const store = { read: () => text, write: (t: string) => { text = t; } };
    const model = new nn.Sequential(new nn.Linear(32, 16), new nn.ReLU(), new nn.Linear(16, 16)).eval();
    const x = Tensor.randn([4, 32], { seed: 10 });
    const first = await compile(model, [x], { precision: 'fp8', calibration: { data: [[x]], cache: store } });
    expect(first.quantization!.calibration.source).toBe('data');
    const tensors = Object.values((JSON.parse(text!) as { tensors: Record<string, { amax: number; scale: number }> }).tensors);
    expect(tensors.length).toBe(2);
    for (const t of tensors) expect(t.scale).toBe(t.amax / 448);
    const second = await compile(model, [x], { precision: 'fp8', calibration: { data: [[x]], cache: store } });
    expect(second.quantization!.calibration.source).toBe('cache');
    expect(second.quantization!.scales).toEqual(first.quantization!.scales);
  });

  it('measures sensitivity with FP8 Q/DQ: the reported error of the all-quantized model is the FP8 engine\'s', async () => {
    const model = new nn.Sequential(new nn.Linear(64, 64), new nn.ReLU(), new nn.Linear(64, 32)).eval();
    const x = Tensor.randn([16, 64], { seed: 11 });
    const lowered = await compile(model, [x], { precision: 'fp8', int8Fallback: 'fp32', calibration: { data: [[x]] }, quantization: { sensitivity: true } });
    const report = lowered.quantization!;
    expect(report.sensitivity!.map((s) => s.op)).toEqual(['linear', 'linear']);
    const [got] = await lowered.run([x]);
    const want = (model.forward(x) as Tensor).toFloat64();
    const g = got!.toFloat64();
    let diff = 0, norm = 0;
    for (let i = 0; i < want.length; i++) { diff += (g[i]! - want[i]!) ** 2; norm += want[i]! ** 2; }
    // The evaluator simulates the same FP8 Q/DQ on the interpreter: the same error up to float rounding
    // (int8 Q/DQ, per-channel, would be several times smaller).
    expect(report.accuracy!.allQuantized.relativeError).toBeCloseTo(Math.sqrt(diff / norm), 3);
  });
});
