import { describe, expect, it } from 'vitest';
import { convNd, convTransposeNd } from '../src/kernels/reference/conv.js';
import { mulberry32 } from '../src/tensor/random.js';


const prod = (v: readonly number[]): number => v.reduce((a, b) => a * b, 1);

function randArray(rng: () => number, n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng() * 2 - 1;
  return a;
}

function randInt(rng: () => number, lo: number, hi: number): number {
  return lo + Math.floor(rng() * (hi - lo + 1));
}

/** Every multi-index of `shape`, last dim fastest. */
function* indices(shape: readonly number[]): Generator<number[]> {
  const idx = new Array<number>(shape.length).fill(0);
  if (shape.some((d) => d === 0)) return;
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
  let f = 0;
  for (let i = 0; i < shape.length; i++) f = f * shape[i]! + idx[i]!;
  return f;
}

interface Cfg { stride: number[]; padding: number[]; dilation: number[]; groups: number }

/** Direct definition of PyTorch's convNd: a gather over input channels of the group and kernel taps. */
function naiveConv(x: Float32Array, xs: number[], w: Float32Array, ws: number[], b: Float32Array | null, c: Cfg) {
  const N = xs[0]!;
  const [O, Cg] = [ws[0]!, ws[1]!];
  const sp = xs.slice(2);
  const k = ws.slice(2);
  const os = sp.map((n, i) => Math.floor((n + 2 * c.padding[i]! - c.dilation[i]! * (k[i]! - 1) - 1) / c.stride[i]!) + 1);
  const outShape = [N, O, ...os];
  const out = new Float32Array(prod(outShape));
  const Og = O / c.groups;
  for (const oi of indices(outShape)) {
    const [n, o] = [oi[0]!, oi[1]!];
    const g = Math.floor(o / Og);
    let s = b ? b[o]! : 0;
    for (let ci = 0; ci < Cg; ci++) {
      for (const ki of indices(k)) {
        const ii = ki.map((kk, d) => oi[2 + d]! * c.stride[d]! - c.padding[d]! + kk * c.dilation[d]!);
        if (ii.some((v, d) => v < 0 || v >= sp[d]!)) continue;
        s += x[flat([n, g * Cg + ci, ...ii], xs)]! * w[flat([o, ci, ...ki], ws)]!;
      }
    }
    out[flat(oi, outShape)] = s;
  }
  return { data: out, shape: outShape };
}

/** Direct definition of conv_transposeNd: every input element scatters x*w to out = i*s - p + k*d. */
function naiveConvT(x: Float32Array, xs: number[], w: Float32Array, ws: number[], b: Float32Array | null, c: Cfg & { outputPadding: number[] }) {
  const [N, Cin] = [xs[0]!, xs[1]!];
  const Cog = ws[1]!;
  const Cout = Cog * c.groups;
  const Cig = Cin / c.groups;
  const sp = xs.slice(2);
  const k = ws.slice(2);
  const os = sp.map((n, i) => (n - 1) * c.stride[i]! - 2 * c.padding[i]! + c.dilation[i]! * (k[i]! - 1) + c.outputPadding[i]! + 1);
  const outShape = [N, Cout, ...os];
  const acc = new Float64Array(prod(outShape));
  if (b) for (const oi of indices(outShape)) acc[flat(oi, outShape)] = b[oi[1]!]!;
  for (const xi of indices(xs)) {
    const [n, ci] = [xi[0]!, xi[1]!];
    const g = Math.floor(ci / Cig);
    for (let co = 0; co < Cog; co++) {
      for (const ki of indices(k)) {
        const oo = ki.map((kk, d) => xi[2 + d]! * c.stride[d]! - c.padding[d]! + kk * c.dilation[d]!);
        if (oo.some((v, d) => v < 0 || v >= os[d]!)) continue;
        acc[flat([n, g * Cog + co, ...oo], outShape)] += x[flat(xi, xs)]! * w[flat([ci, co, ...ki], ws)]!;
      }
    }
  }
  return { data: Float32Array.from(acc), shape: outShape };
}

function expectClose(got: { data: Float32Array; shape: number[] }, want: { data: Float32Array; shape: number[] }, what: string): void {
  expect(got.shape, what).toEqual(want.shape);
  let worst = 0;
  for (let i = 0; i < want.data.length; i++) {
    worst = Math.max(worst, Math.abs(got.data[i]! - want.data[i]!) / (1 + Math.abs(want.data[i]!)));
  }
  expect(worst, what).toBeLessThan(1e-5);
}

describe('convNd', () => {
  it('matches the direct definition on random 1-D, 2-D and 3-D configurations', () => {
    const rng = mulberry32(1234);
    for (let trial = 0; trial < 90; trial++) {
      const nSp = 1 + (trial % 3);
      const groups = randInt(rng, 1, 3);
      const Cg = randInt(rng, 1, 4);
      const Og = randInt(rng, 1, 3);
      const N = randInt(rng, 1, 2);
      const maxK = nSp === 3 ? 2 : 3;
      const k = Array.from({ length: nSp }, () => randInt(rng, 1, maxK));
      const stride = Array.from({ length: nSp }, () => randInt(rng, 1, 3));
      const dilation = Array.from({ length: nSp }, () => randInt(rng, 1, 2));
      const padding = Array.from({ length: nSp }, () => randInt(rng, 0, 2));
      const maxS = nSp === 1 ? 17 : nSp === 2 ? 9 : 5;
      const sp = k.map((kk, i) => Math.max(dilation[i]! * (kk - 1) + 1 - 2 * padding[i]!, 1) + randInt(rng, 0, maxS));
      const xs = [N, groups * Cg, ...sp];
      const ws = [groups * Og, Cg, ...k];
      const x = randArray(rng, prod(xs));
      const w = randArray(rng, prod(ws));
      const b = rng() < 0.5 ? randArray(rng, groups * Og) : null;
      const cfg = { stride, padding, dilation, groups };
      expectClose(convNd(x, xs, w, ws, b, cfg), naiveConv(x, xs, w, ws, b, cfg), `trial ${trial}: x ${xs} w ${ws} ${JSON.stringify(cfg)}`);
    }
  });

  it('takes the 1x1 GEMM path, the depthwise path and channel multipliers correctly', () => {
    const rng = mulberry32(7);
    const cases: { xs: number[]; ws: number[]; cfg: Cfg }[] = [
      { xs: [2, 5, 7, 9], ws: [6, 5, 1, 1], cfg: { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 } },
      { xs: [1, 4, 6, 6], ws: [6, 2, 1, 1], cfg: { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 2 } },
      { xs: [2, 6, 11, 10], ws: [6, 1, 3, 3], cfg: { stride: [2, 1], padding: [1, 1], dilation: [1, 2], groups: 6 } },
      { xs: [1, 3, 8, 8], ws: [9, 1, 3, 3], cfg: { stride: [1, 1], padding: [2, 2], dilation: [2, 2], groups: 3 } },
      { xs: [1, 4, 9], ws: [8, 1, 5], cfg: { stride: [3], padding: [2], dilation: [1], groups: 4 } },
      { xs: [1, 2, 4, 5, 6], ws: [2, 1, 3, 3, 3], cfg: { stride: [1, 2, 1], padding: [1, 1, 1], dilation: [1, 1, 1], groups: 2 } },
      { xs: [1, 8, 9, 9], ws: [4, 8, 1, 1], cfg: { stride: [2, 2], padding: [0, 0], dilation: [1, 1], groups: 1 } },
    ];
    for (const { xs, ws, cfg } of cases) {
      const x = randArray(rng, prod(xs));
      const w = randArray(rng, prod(ws));
      const b = randArray(rng, ws[0]!);
      expectClose(convNd(x, xs, w, ws, b, cfg), naiveConv(x, xs, w, ws, b, cfg), `x ${xs} w ${ws}`);
    }
  });

  it('computes a small case by hand', () => {
    // 1x1x3x3 input 1..9, 2x2 kernel of ones, stride 1, no padding: sums of 2x2 windows.
    const x = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const w = new Float32Array(4).fill(1);
    const y = convNd(x, [1, 1, 3, 3], w, [1, 1, 2, 2], Float32Array.of(0.5), { stride: [1], padding: [0], dilation: [1], groups: 1 });
    expect(y.shape).toEqual([1, 1, 2, 2]);
    expect(Array.from(y.data)).toEqual([12.5, 16.5, 24.5, 28.5]);
    // Padding 1, stride 2: windows at (-1,-1), (-1,1), (1,-1), (1,1).
    const z = convNd(x, [1, 1, 3, 3], w, [1, 1, 2, 2], null, { stride: [2, 2], padding: [1, 1], dilation: [1, 1], groups: 1 });
    expect(Array.from(z.data)).toEqual([1, 5, 11, 28]);
  });

  it('accepts unbatched input', () => {
    const rng = mulberry32(3);
    const x = randArray(rng, 3 * 10);
    const w = randArray(rng, 4 * 3 * 3);
    const cfg = { stride: [1], padding: [1], dilation: [1], groups: 1 };
    const y = convNd(x, [3, 10], w, [4, 3, 3], null, cfg);
    const want = naiveConv(x, [1, 3, 10], w, [4, 3, 3], null, cfg);
    expect(y.shape).toEqual([4, 10]);
    expect(Array.from(y.data)).toEqual(Array.from(convNd(x, [1, 3, 10], w, [4, 3, 3], null, cfg).data));
    expectClose({ data: y.data, shape: [1, ...y.shape] }, want, 'unbatched');
  });

  it('splits the column buffer into chunks on large inputs', () => {
    // K = 64*9 = 576 rows times 128*128 columns is above the 8M-float column cap; conv is linear in
    // the input channels, so the sum of four unchunked 16-channel convs must give the same result.
    const rng = mulberry32(11);
    const [C, H, W] = [64, 128, 128];
    const x = randArray(rng, C * H * W);
    const w = randArray(rng, C * 9);
    const cfg = { stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1 };
    const full = convNd(x, [1, C, H, W], w, [1, C, 3, 3], null, cfg);
    const want = new Float32Array(H * W);
    for (let c0 = 0; c0 < C; c0 += 16) {
      const part = convNd(x.subarray(c0 * H * W, (c0 + 16) * H * W), [1, 16, H, W], w.subarray(c0 * 9, (c0 + 16) * 9), [1, 16, 3, 3], null, cfg);
      for (let i = 0; i < want.length; i++) want[i] += part.data[i]!;
    }
    expectClose(full, { data: want, shape: [1, 1, H, W] }, 'chunked');
  });

  it('rejects bad shapes with messages naming expected and actual', () => {
    const cfg = { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 };
    const x = new Float32Array(3 * 8 * 8);
    expect(() => convNd(x, [1, 3, 8, 8], new Float32Array(16 * 16 * 9), [16, 16, 3, 3], null, cfg)).toThrow(
      'conv2d: weight has 16 input channels per group, input has 3 channels with groups=1',
    );
    expect(() => convNd(x, [1, 3, 8, 8], new Float32Array(4 * 3 * 9), [4, 3, 3, 3], new Float32Array(3), cfg)).toThrow(
      'conv2d: bias has 3 elements, expected 4',
    );
    expect(() => convNd(x, [1, 3, 8, 8], new Float32Array(4 * 3 * 81), [4, 3, 9, 9], null, cfg)).toThrow(/output size \[0, 0\] is too small/);
    expect(() => convNd(x, [1, 3, 8, 8], new Float32Array(4 * 9), [4, 1, 3, 3], null, { ...cfg, groups: 2 })).toThrow(
      'conv2d: input has 3 channels, not divisible by groups=2',
    );
    expect(() => convNd(x, [3, 8, 8, 1, 1], new Float32Array(4 * 27), [4, 3, 3, 3], null, cfg)).toThrow(/input must be \[N, C, H, W\]/);
    expect(() => convNd(x, [1, 3, 8, 8], new Float32Array(4 * 27), [4, 3, 3, 3], null, { ...cfg, stride: [1, 1, 1] })).toThrow(/stride needs 2/);
    expect(() => convNd(x, [1, 3, 8, 9], new Float32Array(4 * 27), [4, 3, 3, 3], null, cfg)).toThrow(/input of shape \[1, 3, 8, 9\] needs 216 elements, got 192/);
  });
});

describe('convTransposeNd', () => {
  it('matches the scatter definition on random 1-D, 2-D and 3-D configurations', () => {
    const rng = mulberry32(99);
    for (let trial = 0; trial < 60; trial++) {
      const nSp = 1 + (trial % 3);
      const groups = randInt(rng, 1, 3);
      const Cig = randInt(rng, 1, 3);
      const Cog = randInt(rng, 1, 3);
      const N = randInt(rng, 1, 2);
      const k = Array.from({ length: nSp }, () => randInt(rng, 1, nSp === 3 ? 2 : 3));
      const stride = Array.from({ length: nSp }, () => randInt(rng, 1, 3));
      const dilation = Array.from({ length: nSp }, () => randInt(rng, 1, 2));
      const padding = Array.from({ length: nSp }, (_, i) => randInt(rng, 0, Math.min(2, (dilation[i]! * (k[i]! - 1)) >> 1)));
      const outputPadding = stride.map((s, i) => randInt(rng, 0, Math.max(s, dilation[i]!) - 1));
      const sp = Array.from({ length: nSp }, () => randInt(rng, 1, nSp === 1 ? 9 : nSp === 2 ? 6 : 3));
      const xs = [N, groups * Cig, ...sp];
      const ws = [groups * Cig, Cog, ...k];
      const x = randArray(rng, prod(xs));
      const w = randArray(rng, prod(ws));
      const b = rng() < 0.5 ? randArray(rng, groups * Cog) : null;
      const cfg = { stride, padding, dilation, groups, outputPadding };
      expectClose(convTransposeNd(x, xs, w, ws, b, cfg), naiveConvT(x, xs, w, ws, b, cfg), `trial ${trial}: x ${xs} w ${ws} ${JSON.stringify(cfg)}`);
    }
  });

  it('gives PyTorch output sizes', () => {
    // (7-1)*2 - 2*1 + 1*(4-1) + 0 + 1 = 14; with outputPadding 1 and kernel 3: (7-1)*2 - 2 + 2 + 1 + 1 = 14.
    const x = new Float32Array(8 * 49);
    const base = { stride: [2, 2], padding: [1, 1], dilation: [1, 1], groups: 1 };
    expect(convTransposeNd(x, [1, 8, 7, 7], new Float32Array(8 * 4 * 16), [8, 4, 4, 4], null, { ...base, outputPadding: [0, 0] }).shape).toEqual([1, 4, 14, 14]);
    expect(convTransposeNd(x, [1, 8, 7, 7], new Float32Array(8 * 4 * 9), [8, 4, 3, 3], null, { ...base, outputPadding: [1, 0] }).shape).toEqual([1, 4, 14, 13]);
    expect(() => convTransposeNd(x, [1, 8, 7, 7], new Float32Array(8 * 4 * 9), [8, 4, 3, 3], null, { ...base, outputPadding: [2, 0] })).toThrow(
      /outputPadding \[2, 0\] must be smaller than either stride/,
    );
    expect(() => convTransposeNd(x, [1, 8, 7, 7], new Float32Array(4 * 4 * 9), [4, 4, 3, 3], null, { ...base, outputPadding: [0, 0] })).toThrow(
      'conv_transpose2d: weight has 4 input channels (dim 0), input has 8 channels',
    );
  });

  it('computes a small case by hand and chunks large inputs', () => {
    // 1-D, x = [1, 2], w = [1, 10, 100], stride 2: out = [1, 10, 100+2, 20, 200].
    const y = convTransposeNd(Float32Array.of(1, 2), [1, 1, 2], Float32Array.of(1, 10, 100), [1, 1, 3], null, {
      stride: [2], padding: [0], dilation: [1], groups: 1, outputPadding: [0],
    });
    expect(y.shape).toEqual([1, 1, 5]);
    expect(Array.from(y.data)).toEqual([1, 10, 102, 20, 200]);

    // 2 output channels x 9 taps = 18 column rows times 490000 positions exceeds the column cap;
    // each output channel alone (9 rows) does not, so computing them one by one must agree.
    const rng = mulberry32(5);
    const [Cin, H, W] = [2, 700, 700];
    const x = randArray(rng, Cin * H * W);
    const w = randArray(rng, Cin * 2 * 9);
    const cfg = { stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1, outputPadding: [0, 0] };
    const full = convTransposeNd(x, [1, Cin, H, W], w, [Cin, 2, 3, 3], null, cfg);
    const want = new Float32Array(2 * H * W);
    for (let co = 0; co < 2; co++) {
      const wc = new Float32Array(Cin * 9);
      for (let ci = 0; ci < Cin; ci++) wc.set(w.subarray((ci * 2 + co) * 9, (ci * 2 + co + 1) * 9), ci * 9);
      want.set(convTransposeNd(x, [1, Cin, H, W], wc, [Cin, 1, 3, 3], null, cfg).data, co * H * W);
    }
    expectClose(full, { data: want, shape: [1, 2, H, W] }, 'chunked');
  });
});
