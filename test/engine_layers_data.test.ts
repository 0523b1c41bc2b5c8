import { describe, expect, it } from 'vitest';
import type { ActivationOp, LayerParamsMap, SliceMode } from '../src/engine/network.js';
import { erf } from '../src/kernels/reference/elementwise.js';
import { Tensor } from '../src/tensor/tensor.js';
import { build, constant, expectClose, layer, newNet, randn, run } from './engine_helpers.js';

/** Runs a one-layer network (the first `nInputs` tensors are network inputs, the rest constants), fused or not. */
async function runLayer<K extends keyof LayerParamsMap>(type: K, inputs: Tensor[], params: LayerParamsMap[K], nInputs = 1, optimizations = false): Promise<Tensor[]> {
  const net = newNet(type);
  const ts = inputs.map((t, i) => (i < nInputs ? net.addInput(`in${i}`, t.dtype, t.shape) : constant(net, t, `c${i}`)));
  net.addLayer(type, ts, params, type).forEach((o, i) => net.markOutput(o, `out${i}`));
  const precision = type === 'quantize' || type === 'dequantize' ? 'int8' : 'fp32';
  return run(await build(net, { optimizations, precision }), inputs.slice(0, nInputs));
}

describe('data movement layers', () => {
  it('slice in every mode, with negative and zero strides', async () => {
    const x = Tensor.fromArray([0, 1, 2, 3, 4]);
    const slice = async (start: number, size: number, stride: number, mode: SliceMode) =>
      (await runLayer('slice', [x], { start: [start], size: [size], stride: [stride], mode, fillValue: -1 }))[0]!.toArray();
    expect(await slice(4, 5, -1, 'default')).toEqual([4, 3, 2, 1, 0]);
    expect(await slice(2, 3, 0, 'default')).toEqual([2, 2, 2]);
    expect(await slice(-2, 9, 1, 'fill')).toEqual([-1, -1, 0, 1, 2, 3, 4, -1, -1]);
    expect(await slice(-2, 9, 1, 'clamp')).toEqual([0, 0, 0, 1, 2, 3, 4, 4, 4]);
    expect(await slice(-2, 9, 1, 'reflect')).toEqual([2, 1, 0, 1, 2, 3, 4, 3, 2]);
    expect(await slice(-2, 9, 1, 'wrap')).toEqual([3, 4, 0, 1, 2, 3, 4, 0, 1]);
    const m = Tensor.fromArray([[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]], 'int32');
    const [s] = await runLayer('slice', [m], { start: [2, 1], size: [2, 2], stride: [-2, 2], mode: 'default', fillValue: 0 });
    expect([s!.toArray(), s!.dtype]).toEqual([[[10, 12], [2, 4]], 'int32']);
    const [whole] = await runLayer('slice', [m], { start: [0, 1], size: [-1, 3], stride: [1, 1], mode: 'default', fillValue: 0 });
    expect(whole!.toArray()).toEqual([[2, 3, 4], [6, 7, 8], [10, 11, 12]]);
  });

  it('gather in default and element modes; shuffle; concatenation; padding', async () => {
    const data = Tensor.fromArray([[1, 2, 3], [4, 5, 6]]);
    const [g] = await runLayer('gather', [data, Tensor.fromArray([[2n, 0n], [1n, 1n]])], { axis: 1, mode: 'default' }, 2);
    expect(g!.toArray()).toEqual([[[3, 1], [2, 2]], [[6, 4], [5, 5]]]);
    const [e] = await runLayer('gather', [data, Tensor.fromArray([[1, 0, 1]], 'int32')], { axis: 0, mode: 'element' }, 2);
    expect(e!.toArray()).toEqual([[4, 2, 6]]);
    const [sh] = await runLayer('shuffle', [data], { firstTranspose: [1, 0], reshape: [0, 1, -1], secondTranspose: [2, 1, 0] });
    expect(sh!.toArray()).toEqual([[[1, 2, 3]], [[4, 5, 6]]]);
    const [cat] = await runLayer('concatenation', [data, Tensor.fromArray([[7], [8]])], { axis: 1 }, 2);
    expect(cat!.toArray()).toEqual([[1, 2, 3, 7], [4, 5, 6, 8]]);
    const [pad] = await runLayer('padding', [data], { prePadding: [1, -1], postPadding: [0, 1], value: 9 });
    expect(pad!.toArray()).toEqual([[9, 9, 9], [2, 3, 9], [5, 6, 9]]);
  });

  it('resize: nearest (floor, asymmetric), nearest-exact, linear with align corners or half pixel', async () => {
    const x = Tensor.fromArray([[[[1, 2], [3, 4]]]]);
    const resize = async (mode: LayerParamsMap['resize']['mode'], coordinates: LayerParamsMap['resize']['coordinates'], round: LayerParamsMap['resize']['round'], out: number[], scales: number[] | null = null) =>
      (await runLayer('resize', [x], { outputShape: [-1, -1, ...out], mode, coordinates, round, cubicCoeff: -0.75, scales }))[0]!;
    expect((await resize('nearest', 'asymmetric', 'floor', [4, 4])).toArray()).toEqual([[[[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]]]);
    expect((await resize('nearest', 'half_pixel', 'half_up', [3, 3])).toArray()).toEqual([[[[1, 2, 2], [3, 4, 4], [3, 4, 4]]]]);
    expect((await resize('linear', 'align_corners', 'floor', [3, 3])).toArray()).toEqual([[[[1, 1.5, 2], [2, 2.5, 3], [3, 3.5, 4]]]]);
    const half = await resize('linear', 'half_pixel', 'floor', [4, 4], [1, 1, 2, 2]);
    expect(Array.from(half.toFloat64().subarray(0, 4))).toEqual([1, 1.25, 1.75, 2]);
  });

  it('quantize and dequantize per tensor and per channel (round half to even, saturating)', async () => {
    const x = Tensor.fromArray([[0.25, -0.25, 12.7], [0.75, 1.25, -300]]);
    const [q] = await runLayer('quantize', [x, Tensor.fromArray([0.5]), Tensor.fromArray([1], 'int8')], { axis: null, toType: 'int8' });
    expect([q!.toArray(), q!.dtype]).toEqual([[[1, 1, 26], [3, 3, -128]], 'int8']);
    const [qc] = await runLayer('quantize', [x, Tensor.fromArray([0.5, 0.25])], { axis: 0, toType: 'int8' });
    expect(qc!.toArray()).toEqual([[0, 0, 25], [3, 5, -128]]);
    const [d] = await runLayer('dequantize', [Tensor.fromArray([[2, -4], [6, 8]], 'int8'), Tensor.fromArray([0.5, 2]), Tensor.fromArray([0, 2], 'int8')], { axis: 1, toType: 'float16' });
    expect([d!.toArray(), d!.dtype]).toEqual([[[1, -12], [3, 12]], 'float16']);
  });
});

describe('pointwise semantics, single and fused', () => {
  const xs = [-3, -1.5, -0.25, 0, 0.3, 1, 2.5, 40];

  it('activations compute their TensorRT definitions with alpha and beta', async () => {
    const sig = (v: number) => 1 / (1 + Math.exp(-v));
    const table: [ActivationOp, number, number, (v: number) => number][] = [
      ['relu', 0, 0, (v) => Math.max(v, 0)],
      ['sigmoid', 0, 0, sig],
      ['tanh', 0, 0, Math.tanh],
      ['leaky_relu', 0.1, 0, (v) => (v >= 0 ? v : Math.fround(0.1) * v)],
      ['elu', 1.5, 0, (v) => (v > 0 ? v : 1.5 * (Math.exp(v) - 1))],
      ['selu', 1.6732632423543772, 1.0507009873554805, (v) => Math.fround(1.0507009873554805) * (v > 0 ? v : Math.fround(1.6732632423543772) * (Math.exp(v) - 1))],
      ['softsign', 0, 0, (v) => v / (1 + Math.abs(v))],
      ['softplus', 0.5, 2, (v) => 0.5 * Math.log(1 + Math.exp(2 * v))],
      ['clip', -1, 2, (v) => Math.min(Math.max(v, -1), 2)],
      ['hard_sigmoid', 0.2, 0.5, (v) => Math.max(0, Math.min(1, Math.fround(0.2) * v + 0.5))],
      ['gelu_erf', 0, 0, (v) => v * 0.5 * (1 + erf(v / Math.SQRT2))],
      ['gelu_tanh', 0, 0, (v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)))],
      ['silu', 0, 0, (v) => v * sig(v)],
    ];
    const x = Tensor.fromArray(xs);
    for (const [op, alpha, beta, f] of table) {
      const [y] = await runLayer('activation', [x], { op, alpha, beta });
      expectClose(y!, Tensor.fromArray(xs.map(f)), 1e-6, 1e-7);
    }
  });

  it('integer elementwise: truncating div, floor_div, Python mod, pow, comparisons and logic', async () => {
    const a = Tensor.fromArray([7, -7, 7, -7, 2], 'int32');
    const b = Tensor.fromArray([2, 2, -2, -2, 10], 'int32');
    const ew = async (op: LayerParamsMap['elementwise']['op'], x = a, y = b, fused = false) => (await runLayer('elementwise', [x, y], { op }, 2, fused))[0]!;
    expect((await ew('div')).toArray()).toEqual([3, -3, -3, 3, 0]);
    expect((await ew('floor_div')).toArray()).toEqual([3, -4, -4, 3, 0]);
    expect((await ew('mod')).toArray()).toEqual([1, 1, -1, -1, 2]);
    expect((await ew('pow')).toArray()).toEqual([49, 49, 0, 0, 1024]);
    expect((await ew('greater')).toArray()).toEqual([true, false, true, false, false]);
    const t = Tensor.fromArray([true, true, false]);
    const f = Tensor.fromArray([true, false, false]);
    expect((await ew('xor', t, f)).toArray()).toEqual([false, true, false]);
    await expect(ew('div', a, Tensor.fromArray([1, 0, 1, 1, 1], 'int32'))).rejects.toThrow(/step 'elementwise' \(elementwise\): .*integer division by zero/);
  });

  it('fused programs compute the same integer, bool and float results as single steps', async () => {
    const net = newNet('mixed');
    const x = net.addInput('x', 'float32', [8]);
    const i = layer(net, 'cast', [layer(net, 'unary', [x], { op: 'round' }, 'round')], { toType: 'int8' }, 'to_int8');
    const sq = layer(net, 'elementwise', [i, i], { op: 'prod' }, 'square'); // wraps in int8
    const m = layer(net, 'elementwise', [sq, constant(net, Tensor.fromArray([3], 'int8'), 'three')], { op: 'mod' }, 'mod');
    const nan = layer(net, 'unary', [layer(net, 'unary', [x], { op: 'log' }, 'log')], { op: 'isnan' }, 'isnan');
    const nb = layer(net, 'cast', [nan], { toType: 'int8' }, 'nan_int');
    const s = layer(net, 'elementwise', [m, nb], { op: 'sum' }, 'sum');
    net.markOutput(layer(net, 'cast', [s], { toType: 'float16' }, 'out'), 'y');
    const input = Tensor.fromArray([-13.5, -2.5, -0.5, 0.5, 1.5, 2.5, 12.6, 200]);
    const [fused] = await run(await build(net, { precision: 'fp16' }), [input]);
    const [plain] = await run(await build(net, { precision: 'fp16', optimizations: false }), [input]);
    expect(Array.from(fused!.toFloat64())).toEqual(Array.from(plain!.toFloat64()));
    // Round half to even, int8 wraps (200 -> -56, (-14)^2 -> -60, 13^2 -> -87, (-56)^2 -> 64), Python mod 3, +1 where log is NaN.
    expect(fused!.toArray()).toEqual([1, 2, 1, 0, 1, 1, 0, 1]);
  });

  it('unary ops, scale, select and parametric relu', async () => {
    const x = Tensor.fromArray([-2.5, -0.5, 0.5, 1.5, 4, NaN]);
    const un = async (op: LayerParamsMap['unary']['op']) => (await runLayer('unary', [x], { op }))[0]!.toArray();
    expect(await un('round')).toEqual([-2, -0, 0, 2, 4, NaN]);
    expect(await un('sign')).toEqual([-1, -1, 1, 1, 1, 0]);
    expect(await un('isnan')).toEqual([false, false, false, false, false, true]);
    expect((await runLayer('unary', [x], { op: 'rsqrt' }))[0]!.toFloat64()[4]).toBe(0.5);
    const [sc] = await runLayer('scale', [randn([2, 3], 1), Tensor.fromArray([2]), Tensor.fromArray([1]), Tensor.fromArray([2])], { mode: 'uniform', channelAxis: 0 }, 1);
    const [src] = [randn([2, 3], 1).toFloat64()];
    expectClose(sc!, Tensor.fromArray(Array.from(src, (v) => (2 * v + 1) ** 2)).withShape([2, 3]), 1e-6, 1e-6);
    const [sel] = await runLayer('select', [Tensor.fromArray([[true], [false]]), Tensor.fromArray([[1, 2]]), Tensor.fromArray([[5, 6], [7, 8]])], {}, 3);
    expect(sel!.toArray()).toEqual([[1, 2], [7, 8]]);
    const [pr] = await runLayer('parametric_relu', [Tensor.fromArray([[-1, 2], [-3, 4]]), Tensor.fromArray([[0.5], [2]])], {}, 1);
    expect(pr!.toArray()).toEqual([[-0.5, 2], [-6, 4]]);
  });
});
