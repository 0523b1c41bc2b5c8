/**
 * TensorRT's Q/DQ rules in the builder: propagation across the layers that commute with Q/DQ,
 * fusion into int8 steps, and the build report's reasons for every Q/DQ that stays. Each network
 * is built with optimizations on (fused) and off (unfused) and run on the reference backend.
 * Propagation, int8 pointwise steps and requantization are bit-exact: the int8 form does the same
 * float32 operations. A fused convolution or GEMM replaces the float GEMM of dequantized values by
 * an exact int32 sum rescaled once, and an int8 average pool divides the exact integer window sum
 * instead of summing rounded floats: their requantized results may differ by one quantization step
 * where the two roundings fall on either side of a rounding boundary (their float results by float
 * rounding only).
 */
import { describe, expect, it } from 'vitest';
import type { Engine } from '../src/engine/engine.js';
import { formatReport } from '../src/engine/report.js';
import type { NetTensor } from '../src/engine/network.js';
import type { NetworkDefinition } from '../src/engine/network_definition.js';
import { Tensor } from '../src/tensor/tensor.js';
import { buildBoth, constant, conv2d, layer, newNet, randn, relu, run } from './engine_helpers.js';

const NO_TRANSPOSE = { transpose0: false, transpose1: false, vector0: false, vector1: false } as const;
const maxPool2 = {
  type: 'max', windowSize: [2, 2], stride: [2, 2], prePadding: [0, 0], postPadding: [0, 0], dilation: [1, 1],
  roundUp: false, averageCountExcludesPadding: false, divisor: null,
} as const;

/** x → quantize → dequantize with a constant per-tensor scale (layers `${name}_q`, `${name}_dq`). */
function qdq(net: NetworkDefinition, x: NetTensor, scale: number, name: string): NetTensor {
  const s = constant(net, Tensor.fromArray([scale]), `${name}_scale`);
  return layer(net, 'dequantize', [quantize(net, x, s, name), s], { axis: null, toType: 'float32' }, `${name}_dq`);
}

function quantize(net: NetworkDefinition, x: NetTensor, s: NetTensor, name: string): NetTensor {
  return layer(net, 'quantize', [x, s], { axis: null, toType: 'int8' }, `${name}_q`);
}

/** A constant weight quantized symmetrically (max |w| / 127), per tensor or along `axis` (layer `${name}_dq`). */
function weight(net: NetworkDefinition, w: Tensor, axis: number | null, name: string): NetTensor {
  const v = w.toFloat32();
  const count = axis === null ? 1 : w.shape[axis]!;
  const inner = axis === null ? v.length : w.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const amax = new Float32Array(count);
  v.forEach((x, i) => {
    const c = Math.floor(i / inner) % count;
    amax[c] = Math.max(amax[c]!, Math.abs(x));
  });
  const scales = constant(net, Tensor.fromStorage(amax.map((a) => a / 127), axis === null ? [1] : [count], 'float32'), `${name}_scale`);
  const q = layer(net, 'quantize', [constant(net, w, name), scales], { axis, toType: 'int8' }, `${name}_q`);
  return layer(net, 'dequantize', [q, scales], { axis, toType: 'float32' }, `${name}_dq`);
}

/** Each step as 'kind:storage', with ' int8' when it is an int8 (fused Q/DQ) step. */
function steps(e: Engine): string[] {
  return e.plan.steps.map((s) => `${s.kind}:${s.precision.storage}${s.quant ? ' int8' : ''}`);
}

/** The build report's reasons, by Q/DQ layer. */
function reasons(e: Engine): Record<string, string> {
  return Object.fromEntries(e.report.unfusedQdq.map((r) => [r.layer, r.reason]));
}

async function outputs(net: NetworkDefinition, inputs: readonly Tensor[]): Promise<{ fused: Engine; unfused: Engine; a: Tensor; b: Tensor }> {
  const { fused, unfused } = await buildBoth(net, { precision: 'int8' });
  const [a] = await run(fused, inputs);
  const [b] = await run(unfused, inputs);
  return { fused, unfused, a: a!, b: b! };
}

function expectBitExact(a: Tensor, b: Tensor): void {
  expect(a.shape).toEqual(b.shape);
  expect(Array.from(a.toFloat32())).toEqual(Array.from(b.toFloat32()));
}

/** |a - b| is 0 or one quantization step `step` everywhere, and 0 almost everywhere (ties are rare). */
function expectWithinOneStep(a: Tensor, b: Tensor, step: number): void {
  expect(a.shape).toEqual(b.shape);
  const [x, y] = [a.toFloat32(), b.toFloat32()];
  let off = 0;
  for (let i = 0; i < x.length; i++) {
    const d = Math.abs(x[i]! - y[i]!);
    if (d > 0) off++;
    expect(d, `element ${i}`).toBeLessThanOrEqual(step * (1 + 1e-6));
  }
  expect(off / x.length).toBeLessThan(0.02);
}

describe('Q/DQ propagation', () => {
  it('moves dequantize forward across max pooling, shuffle, slice, zero padding and relu: the data movement runs in int8, bit-exact', async () => {
    const net = newNet('dq_forward');
    const x = net.addInput('x', 'float32', [2, 4, 8, 8]);
    let t = qdq(net, x, 0.05, 'x');
    t = layer(net, 'pooling', [t], maxPool2, 'pool');
    t = layer(net, 'shuffle', [t], { firstTranspose: [0, 2, 3, 1], reshape: null, secondTranspose: null }, 'nhwc');
    t = layer(net, 'slice', [t], { start: [0, 1, 0, 0], size: [2, 3, 4, 3], stride: [1, 1, 1, 1], mode: 'default', fillValue: 0 }, 'slice');
    t = layer(net, 'padding', [t], { prePadding: [1, 0], postPadding: [0, 2], value: 0 }, 'pad');
    net.markOutput(layer(net, 'activation', [t], relu, 'relu'), 'y');
    const { fused, a, b } = await outputs(net, [randn([2, 4, 8, 8], 1)]);
    expectBitExact(a, b);
    expect(steps(fused)).toEqual(['quantize:int8', 'pooling:int8', 'shuffle:int8', 'slice:int8', 'padding:int8', 'activation:int8', 'dequantize:float32']);
    expect(fused.plan.steps.at(-1)!.name).toBe('x_dq');
    expect(reasons(fused)).toEqual({
      x_q: "it quantizes the network input 'x': no step before it can write int8, so it runs as its own step",
      x_dq: "its float result is the network output 'y'",
    });
  });

  it('moves quantize backward across the same layers (relu only after one of them: a conv keeps relu + Q as its epilogue)', async () => {
    const net = newNet('q_backward');
    const x = net.addInput('x', 'float32', [2, 4, 8, 8]);
    let t = layer(net, 'pooling', [x], maxPool2, 'pool');
    t = layer(net, 'shuffle', [t], { firstTranspose: null, reshape: [2, 4, 16], secondTranspose: null }, 'flatten');
    t = layer(net, 'slice', [t], { start: [0, 0, 2], size: [2, 4, 12], stride: [1, 1, 1], mode: 'default', fillValue: 0 }, 'slice');
    t = layer(net, 'padding', [t], { prePadding: [2], postPadding: [1], value: 0 }, 'pad');
    t = layer(net, 'activation', [t], relu, 'relu');
    net.markOutput(qdq(net, t, 0.04, 'y'), 'y');
    const { fused, a, b } = await outputs(net, [randn([2, 4, 8, 8], 2)]);
    expectBitExact(a, b);
    expect(steps(fused)).toEqual(['quantize:int8', 'pooling:int8', 'shuffle:int8', 'slice:int8', 'padding:int8', 'activation:int8', 'dequantize:float32']);
    expect(fused.plan.steps[0]!.name).toBe('y_q');
    expect(fused.report.passes.find((p) => p.name === 'qdqPropagation')!.rewrites).toBe(5);
  });

  it('moves quantize backward across a concat into each branch: both convs write int8, the concat runs on int8', async () => {
    const net = newNet('inception');
    const x = qdq(net, net.addInput('x', 'float32', [1, 4, 6, 6]), 0.05, 'x');
    const branches = [1, 3].map((k, i) => layer(net, 'convolution', [x, weight(net, randn([4, 4, k, k], 16 + i), 0, `w${i}`)], conv2d(4, k, (k - 1) / 2), `conv${i}`));
    const cat = qdq(net, layer(net, 'concatenation', branches, { axis: 1 }, 'cat'), 0.1, 'cat');
    net.markOutput(layer(net, 'convolution', [cat, weight(net, randn([2, 8, 1, 1], 18), 0, 'w2')], conv2d(2, 1), 'conv2'), 'y');
    const { fused, a, b } = await outputs(net, [randn([1, 4, 6, 6], 19)]);
    expect(steps(fused)).toEqual(['quantize:int8', 'convolution:int8 int8', 'convolution:int8 int8', 'concatenation:int8', 'convolution:float32 int8']);
    expect(fused.plan.steps[1]!.layers).toEqual(['x_dq', 'w0_dq', 'conv0', 'cat_q']);
    expect(reasons(fused)).toEqual({ x_q: "it quantizes the network input 'x': no step before it can write int8, so it runs as its own step" });
    // One int8 step apart at most before conv2, which weighs 8 of them: a loose bound on its float output.
    for (let i = 0; i < a.numel; i++) expect(Math.abs(a.toFloat32()[i]! - b.toFloat32()[i]!)).toBeLessThan(0.1 * 8 * 0.05);
  });

  it('moves a per-channel dequantize of weights across a transpose (axis remapped) and folds the int8 transpose', async () => {
    const net = newNet('wt');
    const x = net.addInput('x', 'float32', [4, 8]);
    const w = weight(net, randn([16, 8], 3), 0, 'w');
    const wt = layer(net, 'shuffle', [w], { firstTranspose: [1, 0], reshape: null, secondTranspose: null }, 'w_t');
    net.markOutput(layer(net, 'matrix_multiply', [qdq(net, x, 0.03, 'x'), wt], NO_TRANSPOSE, 'mm'), 'y');
    const { fused, a, b } = await outputs(net, [randn([4, 8], 4)]);
    expect(steps(fused)).toEqual(['quantize:int8', 'matrix_multiply:float32 int8']);
    expect(fused.plan.steps[1]!.quant!.operands[1]).toEqual({ input: 1, scale: 3, axis: 1 });
    expect(fused.report.eliminated.find((e) => e.layer === 'w_t')?.rule).toBe('constantFolding');
    for (let i = 0; i < a.numel; i++) expect(Math.abs(a.toFloat32()[i]! - b.toFloat32()[i]!)).toBeLessThan(1e-5);
  });

  it('moves a dequantize into each slice of a split: every part runs on int8', async () => {
    const net = newNet('split');
    const x = qdq(net, net.addInput('x', 'float32', [2, 6]), 0.05, 'x');
    for (const [i, start] of [0, 3].entries()) {
      net.markOutput(layer(net, 'slice', [x], { start: [0, start], size: [2, 3], stride: [1, 1], mode: 'default', fillValue: 0 }, `part${i}`), `y${i}`);
    }
    const { fused, unfused } = await buildBoth(net, { precision: 'int8' });
    const input = [randn([2, 6], 9)];
    const [a, b] = [await run(fused, input), await run(unfused, input)];
    a.forEach((t, i) => expectBitExact(t, b[i]!));
    expect(steps(fused)).toEqual(['quantize:int8', 'slice:int8', 'dequantize:float32', 'slice:int8', 'dequantize:float32']);
    expect(fused.plan.steps.map((s) => s.name)).toEqual(['x_q', 'part0', 'x_dq_part0', 'part1', 'x_dq']);
  });

  it('runs a concat of inputs with one scale in int8; with different scales it stays float and the report says which', async () => {
    for (const scales of [[0.1, 0.1], [0.1, 0.2]]) {
      const net = newNet('cat');
      const xs = scales.map((s, i) => qdq(net, net.addInput(`x${i}`, 'float32', [2, 3, 4]), s, `x${i}`));
      const cat = layer(net, 'concatenation', xs, { axis: 1 }, 'cat');
      net.markOutput(layer(net, 'activation', [cat], relu, 'relu'), 'y');
      const inputs = [randn([2, 3, 4], 5), randn([2, 3, 4], 6)];
      const { fused, a, b } = await outputs(net, inputs);
      expectBitExact(a, b);
      if (scales[0] === scales[1]) {
        expect(steps(fused)).toEqual(['quantize:int8', 'quantize:int8', 'concatenation:int8', 'activation:int8', 'dequantize:float32']);
        continue;
      }
      expect(steps(fused)).toEqual(['quantize:int8', 'dequantize:float32', 'quantize:int8', 'dequantize:float32', 'concatenation:float32', 'activation:float32']);
      const why = "it feeds 'cat' (concatenation), which it cannot move past: input 1 of 'cat' (concatenation) ('x1_dq', scale 0.20000000298023224) "
        + "is quantized unlike input 0 ('x0_dq', scale 0.10000000149011612): a concat runs in int8 only when all its inputs share one scale (give them one scale)";
      expect(reasons(fused).x0_dq).toBe(why);
      expect(reasons(fused).x1_dq).toBe(why);
    }
  });

  it('moves dequantize across a clip whose bounds are on the int8 grid (relu6 at scale 0.05), else fuses it into an int8 pointwise step', async () => {
    for (const scale of [0.05, 0.07]) {
      const net = newNet('clip');
      const x = net.addInput('x', 'float32', [64]);
      net.markOutput(layer(net, 'activation', [qdq(net, x, scale, 'x')], { op: 'clip', alpha: 0, beta: 6 }, 'relu6'), 'y');
      const input = Tensor.fromNumbers(Array.from({ length: 64 }, (_, i) => (i - 20) * 0.13), [64]);
      const { fused, a, b } = await outputs(net, [input]);
      expectBitExact(a, b);
      if (scale === 0.05) {
        expect(steps(fused)).toEqual(['quantize:int8', 'activation:int8', 'dequantize:float32']);
        expect(fused.plan.steps[1]!.kind === 'activation' && fused.plan.steps[1]!.params).toEqual({ op: 'clip', alpha: 0, beta: 120 });
      } else {
        expect(steps(fused)).toEqual(['quantize:int8', 'pointwise:float32 int8']);
      }
    }
  });

  it('removes dequantize → quantize with one scale, and turns it into one int8 requantize step with another scale', async () => {
    for (const second of [0.1, 0.25]) {
      const net = newNet('dq_q');
      const x = net.addInput('x', 'float32', [40]);
      net.markOutput(qdq(net, qdq(net, x, 0.1, 'a'), second, 'b'), 'y');
      const input = Tensor.fromNumbers(Array.from({ length: 40 }, (_, i) => (i - 20) * 0.173), [40]);
      const { fused, a, b } = await outputs(net, [input]);
      expectBitExact(a, b);
      expect(steps(fused)).toEqual(second === 0.1 ? ['quantize:int8', 'dequantize:float32'] : ['quantize:int8', 'pointwise:int8 int8', 'dequantize:float32']);
      if (second === 0.1) {
        expect(fused.report.eliminated.filter((e) => e.rule === 'qdqPropagation').map((e) => e.layer).sort()).toEqual(['a_dq', 'b_q']);
      } else {
        expect(fused.report.fusions).toContainEqual({ step: 'b_q', rule: 'qdqFusion', layers: ['a_dq', 'b_q'] });
      }
    }
  });

  it('merges quantize layers of one tensor with the same parameters', async () => {
    const net = newNet('twins');
    const x = net.addInput('x', 'float32', [2, 8]);
    const s = constant(net, Tensor.fromArray([0.05]), 's');
    const branches = ['a', 'b'].map((n) => layer(net, 'dequantize', [quantize(net, x, s, n), s], { axis: null, toType: 'float32' }, `${n}_dq`));
    net.markOutput(layer(net, 'elementwise', [branches[0]!, branches[1]!], { op: 'sum' }, 'add'), 'y');
    const { fused, a, b } = await outputs(net, [randn([2, 8], 7)]);
    expectBitExact(a, b);
    expect(steps(fused)).toEqual(['quantize:int8', 'pointwise:float32 int8']);
    expect(fused.report.eliminated.map((e) => [e.layer, e.rule])).toEqual([['b_q', 'qdqPropagation'], ['b_dq', 'qdqPropagation']]);
  });
});

describe('Q/DQ fusion', () => {
  /** x → Q/DQ → conv(per-channel int8 weights) + bias + relu [→ Q/DQ]. */
  function convNet(withOutputQ: boolean): NetworkDefinition {
    const net = newNet('conv');
    const x = net.addInput('x', 'float32', [2, 4, 7, 7]);
    const c = layer(net, 'convolution', [qdq(net, x, 0.04, 'x'), weight(net, randn([8, 4, 3, 3], 11), 0, 'w')], conv2d(8, 3, 1), 'conv');
    const biased = layer(net, 'elementwise', [c, constant(net, randn([1, 8, 1, 1], 12), 'b')], { op: 'sum' }, 'bias');
    const y = layer(net, 'activation', [biased], relu, 'relu');
    net.markOutput(withOutputQ ? qdq(net, y, 0.08, 'y') : y, 'y');
    return net;
  }

  it('fuses DQ(x), DQ(w) → conv + bias + relu → Q into one int8-in, int8-out step (int32 accumulation, per-channel rescale)', async () => {
    const { fused, a, b } = await outputs(convNet(true), [randn([2, 4, 7, 7], 13)]);
    expectWithinOneStep(a, b, 0.08);
    expect(steps(fused)).toEqual(['quantize:int8', 'convolution:int8 int8', 'dequantize:float32']);
    const conv = fused.plan.steps[1]!;
    expect(conv.precision).toEqual({ storage: 'int8', compute: 'int32' });
    expect(conv.layers).toEqual(['x_dq', 'w_dq', 'conv', 'bias', 'relu', 'y_q']);
    expect(conv.quant).toEqual({ operands: [{ input: 0, scale: 3, axis: null }, { input: 1, scale: 4, axis: 0 }], outputScale: 5 });
    expect(fused.plan.values[conv.inputs[1]!]!.dtype).toBe('int8');
  });

  it('without a quantize after it, the int8 convolution writes float (the network float type)', async () => {
    const { fused, a, b } = await outputs(convNet(false), [randn([2, 4, 7, 7], 14)]);
    expect(steps(fused)).toEqual(['quantize:int8', 'convolution:float32 int8']);
    const [x, y] = [a.toFloat32(), b.toFloat32()];
    for (let i = 0; i < x.length; i++) expect(Math.abs(x[i]! - y[i]!)).toBeLessThan(2e-5);
  });

  it('folds a dequantized int32 bias (ONNX QDQ models) into the float bias of the int8 convolution', async () => {
    const net = newNet('int32_bias');
    const x = net.addInput('x', 'float32', [1, 4, 5, 5]);
    const bs = constant(net, Tensor.fromArray([0.04 * 0.01]), 'b_scale');
    const b = layer(net, 'dequantize', [constant(net, Tensor.fromNumbers([100, -2000, 35, 0], [4], 'int32'), 'b_int32'), bs], { axis: null, toType: 'float32' }, 'b_dq');
    const c = layer(net, 'convolution', [qdq(net, x, 0.04, 'x'), weight(net, randn([4, 4, 3, 3], 15), 0, 'w'), b], conv2d(4, 3, 1), 'conv');
    net.markOutput(qdq(net, c, 0.05, 'y'), 'y');
    const { fused, a, b: reference } = await outputs(net, [randn([1, 4, 5, 5], 16)]);
    expectWithinOneStep(a, reference, 0.05);
    expect(steps(fused)).toEqual(['quantize:int8', 'convolution:int8 int8', 'dequantize:float32']);
    expect(fused.report.eliminated.find((e) => e.layer === 'b_dq')?.rule).toBe('constantFolding');
  });

  it('fuses an int8 residual: conv + DQ(r) + relu → Q', async () => {
    const net = newNet('residual');
    const x = net.addInput('x', 'float32', [1, 8, 5, 5]);
    const xdq = qdq(net, x, 0.03, 'x');
    const c = layer(net, 'convolution', [xdq, weight(net, randn([8, 8, 3, 3], 21), 0, 'w')], conv2d(8, 3, 1), 'conv');
    const sum = layer(net, 'elementwise', [c, xdq], { op: 'sum' }, 'add');
    net.markOutput(qdq(net, layer(net, 'activation', [sum], relu, 'relu'), 0.1, 'y'), 'y');
    const { fused, a, b } = await outputs(net, [randn([1, 8, 5, 5], 22)]);
    expectWithinOneStep(a, b, 0.1);
    expect(steps(fused)).toEqual(['quantize:int8', 'convolution:int8 int8', 'dequantize:float32']);
    const conv = fused.plan.steps[1]!;
    expect(conv.kind === 'convolution' && conv.epilogue).toEqual([{ op: 'residual', input: 2 }, { op: 'activation', fn: 'relu', alpha: 0, beta: 0 }]);
    expect(conv.quant!.operands.map((o) => o.input)).toEqual([0, 1, 2]);
    expect(conv.inputs[0]).toBe(conv.inputs[2]);
  });

  it('fuses deconvolutions with per-tensor and per-output-channel (axis 1) weights', async () => {
    for (const axis of [null, 1] as const) {
      const net = newNet('deconv');
      const x = net.addInput('x', 'float32', [1, 6, 4, 4]);
      const params = { kernelSize: [3, 3], numOutputMaps: 5, stride: [2, 2], prePadding: [1, 1], postPadding: [0, 0], dilation: [1, 1], groups: 1 };
      const d = layer(net, 'deconvolution', [qdq(net, x, 0.05, 'x'), weight(net, randn([6, 5, 3, 3], 31), axis, 'w')], params, 'deconv');
      net.markOutput(qdq(net, d, 0.1, 'y'), 'y');
      const { fused, a, b } = await outputs(net, [randn([1, 6, 4, 4], 32)]);
      expectWithinOneStep(a, b, 0.1);
      expect(steps(fused)).toEqual(['quantize:int8', 'deconvolution:int8 int8', 'dequantize:float32']);
      expect(fused.plan.steps[1]!.quant!.operands[1]!.axis).toBe(axis);
    }
  });

  it('fuses a linear layer (x @ W^T + bias, per-output-channel weights) and a product of two activations into int8 GEMMs', async () => {
    const net = newNet('gemm');
    const x = net.addInput('x', 'float32', [2, 3, 16]);
    const w = weight(net, randn([1, 12, 16], 41), 1, 'w');
    const mm = layer(net, 'matrix_multiply', [qdq(net, x, 0.03, 'x'), w], { ...NO_TRANSPOSE, transpose1: true }, 'fc');
    const fc = layer(net, 'elementwise', [mm, constant(net, randn([1, 1, 12], 42), 'b')], { op: 'sum' }, 'fc_bias');
    const h = qdq(net, fc, 0.06, 'h');
    const scores = layer(net, 'matrix_multiply', [h, h], { ...NO_TRANSPOSE, transpose1: true }, 'scores');
    net.markOutput(qdq(net, scores, 0.5, 'y'), 'y');
    const { fused, a, b } = await outputs(net, [randn([2, 3, 16], 43)]);
    expectWithinOneStep(a, b, 0.5);
    expect(steps(fused)).toEqual(['quantize:int8', 'matrix_multiply:int8 int8', 'matrix_multiply:int8 int8', 'dequantize:float32']);
    expect(fused.plan.steps[1]!.quant!.operands[1]!.axis).toBe(1);
  });

  it('takes activation scales computed at run time (dynamic quantization: max|x| / 127 per tensor, or per row)', async () => {
    for (const perRow of [false, true]) {
      const net = newNet('dynamic');
      const x = net.addInput('x', 'float32', [4, 32]);
      const abs = layer(net, 'unary', [x], { op: 'abs' }, 'abs');
      const amax = layer(net, 'reduce', [abs], { op: 'max', axes: perRow ? [1] : [0, 1], keepDims: false }, 'amax');
      const s = layer(net, 'elementwise', [amax, constant(net, Tensor.fromNumbers([1 / 127], perRow ? [1] : [], 'float32'), 'inv127')], { op: 'prod' }, 'x_scale');
      const axis = perRow ? 0 : null;
      const xq = layer(net, 'quantize', [x, s], { axis, toType: 'int8' }, 'x_q');
      const xdq = layer(net, 'dequantize', [xq, s], { axis, toType: 'float32' }, 'x_dq');
      const w = weight(net, randn([8, 32], 51), 0, 'w');
      net.markOutput(layer(net, 'matrix_multiply', [xdq, w], { ...NO_TRANSPOSE, transpose1: true }, 'mm'), 'y');
      const { fused, a, b } = await outputs(net, [randn([4, 32], 52)]);
      expect(steps(fused)).toEqual(['unary:float32', 'reduce:float32', 'elementwise:float32', 'quantize:int8', 'matrix_multiply:float32 int8']);
      const mm = fused.plan.steps.at(-1)!;
      expect(mm.quant!.operands[0]!.axis).toBe(axis);
      expect(fused.plan.values[mm.inputs[mm.quant!.operands[0]!.scale]!]!.location.kind).toBe('arena');
      const [p, r] = [a.toFloat32(), b.toFloat32()];
      for (let i = 0; i < p.length; i++) expect(Math.abs(p[i]! - r[i]!)).toBeLessThan(2e-5);
    }
  });

  it('runs DQ → add → relu → Q as one int8 pointwise step, bit-exact', async () => {
    const net = newNet('add');
    const [a0, b0] = [net.addInput('a', 'float32', [3, 10]), net.addInput('b', 'float32', [3, 10])];
    const sum = layer(net, 'elementwise', [qdq(net, a0, 0.05, 'a'), qdq(net, b0, 0.07, 'b')], { op: 'sum' }, 'add');
    net.markOutput(qdq(net, layer(net, 'activation', [sum], relu, 'relu'), 0.1, 'y'), 'y');
    const { fused, unfused } = await buildBoth(net, { precision: 'int8' });
    const inputs = [randn([3, 10], 61), randn([3, 10], 62)];
    expectBitExact((await run(fused, inputs))[0]!, (await run(unfused, inputs))[0]!);
    expect(steps(fused)).toEqual(['quantize:int8', 'quantize:int8', 'pointwise:int8 int8', 'dequantize:float32']);
    expect(fused.plan.steps[2]!.layers).toEqual(['a_dq', 'b_dq', 'add', 'relu', 'y_q']);
  });

  it('runs DQ → average pooling → Q in int8 (the window sum is exact)', async () => {
    const net = newNet('avg');
    const x = net.addInput('x', 'float32', [1, 3, 6, 6]);
    const avg = { ...maxPool2, type: 'average', windowSize: [3, 3], stride: [2, 2], prePadding: [1, 1], postPadding: [1, 1] } as const;
    net.markOutput(qdq(net, layer(net, 'pooling', [qdq(net, x, 0.05, 'x')], avg, 'avg'), 0.02, 'y'), 'y');
    const { fused, a, b } = await outputs(net, [randn([1, 3, 6, 6], 71)]);
    expectWithinOneStep(a, b, 0.02);
    expect(steps(fused)).toEqual(['quantize:int8', 'pooling:int8 int8', 'dequantize:float32']);
  });
});

describe('report of Q/DQ that did not fuse', () => {
  it('names a layer without an int8 implementation', async () => {
    const net = newNet('softmax');
    const x = net.addInput('x', 'float32', [2, 8]);
    net.markOutput(qdq(net, layer(net, 'softmax', [qdq(net, x, 0.05, 'x')], { axis: 1, log: false }, 'softmax'), 1 / 128, 'p'), 'y');
    const { fused, a, b } = await outputs(net, [randn([2, 8], 81)]);
    expectBitExact(a, b);
    expect(reasons(fused)).toEqual({
      x_q: "it quantizes the network input 'x': no step before it can write int8, so it runs as its own step",
      x_dq: "it feeds 'softmax' (softmax), which has no int8 implementation: it reads float32, so the dequantize runs as its own step",
      p_q: "it reads 'softmax' (softmax), which has no int8 output: it writes float32, so the quantize runs as its own step",
      p_dq: "its float result is the network output 'y'",
    });
  });

  it('says which layer a dequantize cannot move past and why (the printed report too)', async () => {
    const net = newNet('pad_one');
    const x = net.addInput('x', 'float32', [1, 2, 4, 4]);
    const padded = layer(net, 'padding', [qdq(net, x, 0.05, 'x')], { prePadding: [1, 1], postPadding: [1, 1], value: 1 }, 'pad');
    net.markOutput(layer(net, 'convolution', [padded, weight(net, randn([2, 2, 3, 3], 95), 0, 'w')], conv2d(2, 3), 'conv'), 'y');
    const { fused } = await outputs(net, [randn([1, 2, 4, 4], 96)]);
    expect(steps(fused)).toEqual(['quantize:int8', 'dequantize:float32', 'padding:float32', 'dequantize:float32', 'convolution:float32']);
    expect(reasons(fused).x_dq).toBe("it feeds 'pad' (padding), which it cannot move past: the padding value is 1, not 0");
    expect(reasons(fused).w_dq).toBe(
      "it feeds 'conv' (convolution), which runs in float: the input 'pad_out' of 'conv' (convolution) is float32, not dequantized from int8: "
      + 'quantize it (a quantize/dequantize pair in front of it) to run convolution in int8',
    );
    expect(formatReport(fused.report)).toContain("  unfused dequantize x_dq (step x_dq): it feeds 'pad' (padding), which it cannot move past: the padding value is 1, not 0");
  });

  it('says what is wrong with a weight: per-channel on the wrong axis, uint8, asymmetric', async () => {
    const cases: [string, (net: NetworkDefinition) => NetTensor, string][] = [
      ['axis 1', (net) => weight(net, randn([8, 4, 3, 3], 91), 1, 'w'),
        "it is per-channel along axis 1, not along the output channels (axis 0): the scales cannot be applied after the int32 sum"],
      ['uint8', (net) => {
        // A runtime weight: a dequantized uint8 constant would simply fold into a float constant.
        const s = constant(net, Tensor.fromArray([0.01]), 'w_scale');
        const q = layer(net, 'quantize', [net.addInput('w', 'float32', [8, 4, 3, 3]), s], { axis: null, toType: 'uint8' }, 'w_q');
        return layer(net, 'dequantize', [q, s], { axis: null, toType: 'float32' }, 'w_dq');
      }, 'it quantizes to uint8 (int8 kernels take int8; a uint8 or int32 quantization stays a float computation)'],
      ['asymmetric', (net) => {
        const s = constant(net, Tensor.fromArray([0.01]), 'w_scale');
        const zp = constant(net, Tensor.fromNumbers([3], [1], 'int8'), 'w_zp');
        const q = layer(net, 'quantize', [constant(net, randn([8, 4, 3, 3], 93), 'w'), s, zp], { axis: null, toType: 'int8' }, 'w_q');
        return layer(net, 'dequantize', [q, s, zp], { axis: null, toType: 'float32' }, 'w_dq');
      }, 'it is asymmetric (zero point 3; int8 kernels are symmetric: zero point 0)'],
    ];
    for (const [what, makeWeight, problem] of cases) {
      const net = newNet(what);
      const x = net.addInput('x', 'float32', [1, 4, 5, 5]);
      net.markOutput(layer(net, 'convolution', [qdq(net, x, 0.05, 'x'), makeWeight(net)], conv2d(8, 3), 'conv'), 'y');
      const inputs = net.inputs.map((t, i) => randn(t.shape, 94 + i));
      const { fused, a, b } = await outputs(net, inputs);
      expectBitExact(a, b);
      const why = `it feeds 'conv' (convolution), which runs in float: the weight of 'conv' (convolution) ('w_dq') cannot be an int8 operand: ${problem}`;
      expect(reasons(fused).w_dq, what).toBe(why);
      expect(reasons(fused).x_dq, what).toBe(why);
    }
  });

  it('says which operand of a GEMM is float (weight-only quantization keeps the dequantize step)', async () => {
    const net = newNet('weight_only');
    const x = net.addInput('x', 'float32', [2, 8]);
    net.markOutput(layer(net, 'matrix_multiply', [x, weight(net, randn([8, 4], 101), null, 'w')], NO_TRANSPOSE, 'mm'), 'y');
    const { fused, a, b } = await outputs(net, [randn([2, 8], 102)]);
    expectBitExact(a, b);
    expect(steps(fused)).toEqual(['dequantize:float32', 'matrix_multiply:float32']);
    expect(reasons(fused)).toEqual({
      w_dq: "it feeds 'mm' (matrix_multiply), which runs in float: the first operand 'x' of 'mm' (matrix_multiply) is float32, not dequantized from int8: "
        + 'quantize it (a quantize/dequantize pair in front of it) to run matrix_multiply in int8',
    });
  });

  it('says when a conv output is also read in float, so the quantize after it cannot fuse', async () => {
    const net = newNet('shared_output');
    const x = net.addInput('x', 'float32', [1, 4, 5, 5]);
    const c = layer(net, 'convolution', [qdq(net, x, 0.05, 'x'), weight(net, randn([4, 4, 1, 1], 111), 0, 'w')], conv2d(4, 1), 'conv');
    net.markOutput(qdq(net, c, 0.1, 'y'), 'y');
    net.markOutput(layer(net, 'unary', [c], { op: 'exp' }, 'exp'), 'z');
    const { fused } = await buildBoth(net, { precision: 'int8' });
    expect(steps(fused)).toEqual(['quantize:int8', 'convolution:float32 int8', 'quantize:int8', 'dequantize:float32', 'unary:float32']);
    expect(reasons(fused).y_q).toBe("the float32 output of 'conv' (convolution) is also read elsewhere, so 'conv' (convolution) cannot write int8 instead");
  });

  it('says that fusion is off when optimizations are off', async () => {
    const net = newNet('off');
    const x = net.addInput('x', 'float32', [4]);
    net.markOutput(qdq(net, x, 0.1, 'x'), 'y');
    const { unfused } = await buildBoth(net, { precision: 'int8' });
    expect(unfused.report.unfusedQdq.map((r) => [r.layer, r.kind, r.reason])).toEqual([
      ['x_q', 'quantize', 'Q/DQ fusion is off (BuilderConfig.optimizations)'],
      ['x_dq', 'dequantize', 'Q/DQ fusion is off (BuilderConfig.optimizations)'],
    ]);
  });
});
