import { describe, expect, it } from 'vitest';
import '../src/acc_ops/ops/index.js';
import type { Kwargs } from '../src/ir/signature.js';
import { roundTo } from '../src/tensor/dtype.js';
import { Tensor } from '../src/tensor/tensor.js';
import { check as run } from './acc_helpers.js';


const randn = (shape: number[], seed: number): Tensor => Tensor.randn(shape, { seed });

function expectClose(actual: Tensor, expected: { data: ArrayLike<number>; shape: number[] }, tol = 1e-4): void {
  expect(actual.shape).toEqual(expected.shape);
  const a = actual.toFloat64();
  for (let i = 0; i < a.length; i++) {
    expect(Math.abs(a[i]! - expected.data[i]!)).toBeLessThanOrEqual(tol * (1 + Math.abs(expected.data[i]!)));
  }
}

const prod = (v: readonly number[]): number => v.reduce((a, b) => a * b, 1);

/** Every multi-index of `shape`, last dim fastest. */
function* indices(shape: readonly number[]): Generator<number[]> {
  if (shape.some((d) => d === 0)) return;
  const idx = new Array<number>(shape.length).fill(0);
  for (;;) {
    yield idx.slice();
    let d = shape.length - 1;
    for (; d >= 0; d--) {
      if (++idx[d]! < shape[d]!) break;
      idx[d] = 0;
    }
    if (d < 0) return;
  }
}

function flat(idx: readonly number[], shape: readonly number[]): number {
  return idx.reduce((f, v, i) => f * shape[i]! + v, 0);
}

interface Attrs { stride: number[]; padding: number[]; dilation: number[]; groups: number }

/** PyTorch's convNd by definition: out[n, o, p] = b[o] + sum over c in o's group and taps k of x[n, c, p*s - pad + k*d] w[o, c, k]. */
function naiveConv(x: Tensor, w: Tensor, b: Tensor | null, a: Attrs): { data: Float64Array; shape: number[] } {
  const [xs, ws] = [x.shape, w.shape];
  const [xv, wv, bv] = [x.toFloat64(), w.toFloat64(), b?.toFloat64()];
  const [N, C] = [xs[0]!, xs[1]!];
  const [O, Cg] = [ws[0]!, ws[1]!];
  const sp = xs.slice(2);
  const k = ws.slice(2);
  const os = sp.map((n, i) => Math.floor((n + 2 * a.padding[i]! - a.dilation[i]! * (k[i]! - 1) - 1) / a.stride[i]!) + 1);
  const shape = [N, O, ...os];
  const data = new Float64Array(prod(shape));
  const Og = O / a.groups;
  for (const [n, o, ...p] of indices(shape)) {
    let s = bv ? bv[o!]! : 0;
    const g = Math.floor(o! / Og);
    for (let c = 0; c < Cg; c++) {
      for (const kk of indices(k)) {
        const pos = p.map((pi, i) => pi * a.stride[i]! - a.padding[i]! + kk[i]! * a.dilation[i]!);
        if (pos.some((v, i) => v < 0 || v >= sp[i]!)) continue;
        s += xv[flat([n!, g * Cg + c, ...pos], [N, C, ...sp])]! * wv[flat([o!, c, ...kk], ws)]!;
      }
    }
    data[flat([n!, o!, ...p], shape)] = s;
  }
  return { data, shape };
}

/** PyTorch's conv_transposeNd by definition: every input element scatters x * w into out[p*s - pad + k*d]. */
function naiveConvTranspose(x: Tensor, w: Tensor, b: Tensor | null, a: Attrs & { outputPadding: number[] }): { data: Float64Array; shape: number[] } {
  const [xs, ws] = [x.shape, w.shape];
  const [xv, wv, bv] = [x.toFloat64(), w.toFloat64(), b?.toFloat64()];
  const [N, Cin] = [xs[0]!, xs[1]!];
  const Cog = ws[1]!;
  const O = Cog * a.groups;
  const Cig = Cin / a.groups;
  const sp = xs.slice(2);
  const k = ws.slice(2);
  const os = sp.map((n, i) => (n - 1) * a.stride[i]! - 2 * a.padding[i]! + a.dilation[i]! * (k[i]! - 1) + a.outputPadding[i]! + 1);
  const shape = [N, O, ...os];
  const data = new Float64Array(prod(shape));
  if (bv) for (const [n, o, ...p] of indices(shape)) data[flat([n!, o!, ...p], shape)] = bv[o!]!;
  for (const [n, c, ...p] of indices(xs)) {
    const g = Math.floor(c! / Cig);
    for (let oc = 0; oc < Cog; oc++) {
      for (const kk of indices(k)) {
        const pos = p.map((pi, i) => pi * a.stride[i]! - a.padding[i]! + kk[i]! * a.dilation[i]!);
        if (pos.some((v, i) => v < 0 || v >= os[i]!)) continue;
        data[flat([n!, g * Cog + oc, ...pos], shape)] += xv[flat([n!, c!, ...p], xs)]! * wv[flat([c!, oc, ...kk], ws)]!;
      }
    }
  }
  return { data, shape };
}

describe('acc.conv1d/2d/3d', () => {
  it('computes a hand-checked 1-D case', () => {
    const input = Tensor.fromArray([[[1, 2, 3, 4, 5]]]);
    const weight = Tensor.fromArray([[[1, 0, -1]]]);
    const out = run('conv1d', { input, weight, stride: [1], padding: [1], dilation: [1] });
    expect(out.toArray()).toEqual([[[-2, -2, -2, -2, 4]]]);
  });

  const cases: [string, number[], number[], Attrs, boolean][] = [
    ['1-D stride/dilation/groups', [2, 4, 11], [6, 2, 3], { stride: [2], padding: [1], dilation: [2], groups: 2 }, true],
    ['2-D plain 3x3 with bias', [2, 3, 7, 6], [5, 3, 3, 3], { stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1 }, true],
    ['2-D strided 1x1', [1, 4, 5, 5], [3, 4, 1, 1], { stride: [2, 2], padding: [0, 0], dilation: [1, 1], groups: 1 }, false],
    ['2-D grouped, asymmetric attrs', [1, 6, 9, 8], [4, 3, 3, 2], { stride: [2, 1], padding: [1, 0], dilation: [1, 2], groups: 2 }, true],
    ['2-D depthwise', [2, 3, 6, 6], [3, 1, 3, 3], { stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 3 }, true],
    ['2-D depthwise with multiplier', [1, 2, 7, 5], [6, 1, 3, 3], { stride: [2, 2], padding: [2, 1], dilation: [2, 1], groups: 2 }, false],
    ['3-D strided/padded', [1, 2, 5, 6, 4], [3, 2, 3, 2, 3], { stride: [2, 1, 1], padding: [1, 0, 1], dilation: [1, 2, 1], groups: 1 }, true],
  ];
  for (const [label, xs, ws, attrs, withBias] of cases) {
    it(`matches the definition: ${label}`, () => {
      const input = randn(xs, 1);
      const weight = randn(ws, 2);
      const bias = withBias ? randn([ws[0]!], 3) : null;
      const op = `conv${xs.length - 2}d`;
      expectClose(run(op, { input, weight, bias, ...attrs }), naiveConv(input, weight, bias, attrs));
    });
  }

  it('accepts unbatched input and keeps it unbatched', () => {
    const x = randn([3, 6, 6], 1);
    const w = randn([4, 3, 3, 3], 2);
    const attrs = { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 };
    const out = run('conv2d', { input: x, weight: w, ...attrs });
    const ref = naiveConv(x.withShape([1, 3, 6, 6]), w, null, attrs);
    expectClose(out, { data: ref.data, shape: [4, 4, 4] });
  });

  it('computes float16 in float32 and rounds the output', () => {
    const x = randn([1, 2, 5, 5], 1).castTo('float16');
    const w = randn([2, 2, 3, 3], 2).castTo('float16');
    const attrs = { stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1 };
    const out = run('conv2d', { input: x, weight: w, ...attrs });
    expect(out.dtype).toBe('float16');
    const ref = naiveConv(x, w, null, attrs);
    expectClose(out, { data: ref.data.map((v) => roundTo('float16', v)), shape: ref.shape }, 2e-3);
  });

  it('rejects inconsistent channels, ranks, lists, sizes and dtypes', () => {
    const x = randn([1, 4, 5, 5], 1);
    const attrs = { stride: [1, 1], padding: [0, 0], dilation: [1, 1] };
    const call = (kw: Kwargs) => () => run('conv2d', { input: x, weight: randn([6, 2, 3, 3], 2), ...attrs, groups: 2, ...kw });
    expect(call({ groups: 1 })).toThrow(/acc.conv2d: input \[1, 4, 5, 5\] has 4 channels, but weight \[6, 2, 3, 3\] with groups=1 expects 2/);
    expect(call({ weight: randn([5, 2, 3, 3], 2) })).toThrow(/weight \[5, 2, 3, 3\] has 5 output channels, not divisible by groups=2/);
    expect(call({ weight: randn([6, 2, 3], 2) })).toThrow(/argument 'weight' must be a 4-D tensor \[out_channels, in_channels\/groups, kH, kW\]/);
    expect(call({ input: randn([4, 5], 1) })).toThrow(/argument 'input' must be \[N, C, H, W\] or unbatched \[C, H, W\], got shape \[4, 5\]/);
    expect(call({ stride: [1] })).toThrow(/argument 'stride' must be 2 integer\(s\) >= 1 .* got \[1\]/);
    expect(call({ padding: [-1, 0] })).toThrow(/argument 'padding' must be 2 integer\(s\) >= 0/);
    expect(call({ weight: randn([6, 2, 7, 3], 2) })).toThrow(/padded input size \[5, 5\] is smaller than the dilated kernel size \[7, 3\]/);
    expect(call({ dilation: [3, 1] })).toThrow(/padded input size \[5, 5\] is smaller than the dilated kernel size \[7, 3\]/);
    expect(call({ bias: randn([3], 3) })).toThrow(/argument 'bias' must have shape \[6\]/);
    expect(call({ groups: 0 })).toThrow(/argument 'groups' must be a positive integer, got 0/);
    expect(call({ weight: randn([6, 2, 3, 3], 2).castTo('bfloat16') })).toThrow(/'weight' must have the dtype of 'input' \(float32\), got bfloat16/);
    expect(call({ input: x.castTo('int64') })).toThrow(/'input' must be a floating tensor/);
  });
});

describe('acc.conv_transpose1d/2d/3d', () => {
  const cases: [string, number[], number[], Attrs & { outputPadding: number[] }, boolean][] = [
    ['1-D stride 2 with output_padding', [2, 3, 5], [3, 2, 3], { stride: [2], padding: [1], outputPadding: [1], dilation: [1], groups: 1 }, true],
    ['2-D grouped, dilated', [1, 4, 4, 3], [4, 3, 3, 2], { stride: [2, 3], padding: [1, 0], outputPadding: [1, 2], dilation: [2, 1], groups: 2 }, true],
    ['2-D depthwise stride 2', [2, 3, 3, 3], [3, 1, 4, 4], { stride: [2, 2], padding: [1, 1], outputPadding: [0, 0], dilation: [1, 1], groups: 3 }, false],
    ['3-D', [1, 2, 3, 2, 3], [2, 2, 2, 3, 2], { stride: [2, 1, 2], padding: [0, 1, 1], outputPadding: [1, 0, 0], dilation: [1, 1, 2], groups: 1 }, true],
  ];
  for (const [label, xs, ws, attrs, withBias] of cases) {
    it(`matches the definition: ${label}`, () => {
      const input = randn(xs, 4);
      const weight = randn(ws, 5);
      const bias = withBias ? randn([ws[1]! * attrs.groups], 6) : null;
      const { outputPadding, ...rest } = attrs;
      const out = run(`conv_transpose${xs.length - 2}d`, { input, weight, bias, ...rest, output_padding: outputPadding });
      expectClose(out, naiveConvTranspose(input, weight, bias, attrs));
    });
  }

  it('computes a hand-checked 1-D case', () => {
    // Each input element stamps [1, 1] at stride 2: [1, 1, 2, 2, 3, 3] plus output_padding 1 → one more zero.
    const out = run('conv_transpose1d', {
      input: Tensor.fromArray([[[1, 2, 3]]]), weight: Tensor.fromArray([[[1, 1]]]),
      stride: [2], padding: [0], output_padding: [1], dilation: [1],
    });
    expect(out.toArray()).toEqual([[[1, 1, 2, 2, 3, 3, 0]]]);
  });

  it('rejects bad output_padding, channels and groups', () => {
    const x = randn([1, 4, 3, 3], 1);
    const base = { input: x, weight: randn([4, 2, 3, 3], 2), stride: [2, 2], padding: [0, 0], output_padding: [0, 0], dilation: [1, 1] };
    const call = (kw: Kwargs) => () => run('conv_transpose2d', { ...base, ...kw });
    expect(call({ output_padding: [2, 0] })).toThrow(/acc.conv_transpose2d: output_padding \[2, 0\] must be smaller than either stride \[2, 2\] or dilation \[1, 1\]/);
    expect(call({ weight: randn([3, 2, 3, 3], 2) })).toThrow(/weight \[3, 2, 3, 3\] has 3 input channels \(dim 0\), input \[1, 4, 3, 3\] has 4/);
    expect(call({ groups: 3 })).toThrow(/input has 4 channels, not divisible by groups=3/);
    expect(call({ bias: randn([4], 3) })).toThrow(/argument 'bias' must have shape \[2\]/);
    expect(call({ padding: [4, 4] })).toThrow(/computed output size \[-1, -1\] is too small/);
    expect(() => run('conv_transpose2d', { ...base, output_padding: [0] })).toThrow(/argument 'output_padding' must be 2 integer/);
  });
});
