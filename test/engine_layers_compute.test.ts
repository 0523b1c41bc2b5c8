import { describe, expect, it } from 'vitest';
import type { LayerParamsMap } from '../src/engine/network.js';
import { groupNorm, instanceNorm } from '../src/kernels/reference/norm.js';
import { Tensor } from '../src/tensor/tensor.js';
import { build, constant, expectClose, newNet, randn, run } from './engine_helpers.js';

/** Runs a one-layer network on `inputs` (the first `nInputs` as network inputs, the rest as constants). */
async function runLayer<K extends keyof LayerParamsMap>(type: K, inputs: Tensor[], params: LayerParamsMap[K], nInputs = 1): Promise<Tensor[]> {
  const net = newNet(type);
  const ts = inputs.map((t, i) => (i < nInputs ? net.addInput(`in${i}`, t.dtype, t.shape) : constant(net, t, `c${i}`)));
  const outs = net.addLayer(type, ts, params, type);
  outs.forEach((o, i) => net.markOutput(o, `out${i}`));
  return run(await build(net, { optimizations: false }), inputs.slice(0, nInputs));
}

/** Naive NCHW convolution/deconvolution in float64, with TensorRT's pre/post paddings. */
function naiveConv(x: Tensor, w: Tensor, bias: Tensor | null, p: LayerParamsMap['convolution'], transposed: boolean): { data: number[]; shape: number[] } {
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const [kH, kW] = p.kernelSize as [number, number];
  const g = p.groups;
  const O = p.numOutputMaps;
  const xv = x.toFloat64();
  const wv = w.toFloat64();
  const size = (s: number, i: number) => (transposed
    ? (s - 1) * p.stride[i]! + p.dilation[i]! * (p.kernelSize[i]! - 1) + 1 - p.prePadding[i]! - p.postPadding[i]!
    : Math.floor((s + p.prePadding[i]! + p.postPadding[i]! - p.dilation[i]! * (p.kernelSize[i]! - 1) - 1) / p.stride[i]!) + 1);
  const [oH, oW] = [size(H, 0), size(W, 1)];
  const out = new Array<number>(N * O * oH * oW).fill(0);
  const Cg = C / g;
  const Og = O / g;
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) {
      const grp = Math.floor(o / Og);
      for (let c = 0; c < Cg; c++) {
        const ci = grp * Cg + c;
        for (let ky = 0; ky < kH; ky++) {
          for (let kx = 0; kx < kW; kx++) {
            const wIdx = transposed ? (((ci * Og + (o % Og)) * kH + ky) * kW + kx) : (((o * Cg + c) * kH + ky) * kW + kx);
            for (let a = 0; a < (transposed ? H : oH); a++) {
              for (let b = 0; b < (transposed ? W : oW); b++) {
                let [iy, ix, oy, ox] = [a, b, a, b];
                if (transposed) {
                  oy = a * p.stride[0]! + ky * p.dilation[0]! - p.prePadding[0]!;
                  ox = b * p.stride[1]! + kx * p.dilation[1]! - p.prePadding[1]!;
                  if (oy < 0 || oy >= oH || ox < 0 || ox >= oW) continue;
                } else {
                  iy = a * p.stride[0]! + ky * p.dilation[0]! - p.prePadding[0]!;
                  ix = b * p.stride[1]! + kx * p.dilation[1]! - p.prePadding[1]!;
                  if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                }
                out[((n * O + o) * oH + oy) * oW + ox]! += xv[((n * C + ci) * H + iy) * W + ix]! * wv[wIdx]!;
              }
            }
          }
        }
      }
      if (bias) for (let i = 0; i < oH * oW; i++) out[(n * O + o) * oH * oW + i]! += bias.toFloat64()[o]!;
    }
  }
  return { data: out, shape: [N, O, oH, oW] };
}

function expectNear(t: Tensor, ref: { data: ArrayLike<number>; shape: number[] }, tol = 1e-5): void {
  expectClose(t, Tensor.fromNumbers(ref.data, ref.shape, t.dtype), tol, tol);
}

describe('convolution and deconvolution', () => {
  const base = { stride: [1, 1], dilation: [1, 1], groups: 1 };

  it('convolution with uneven padding, stride, dilation and groups', async () => {
    for (const p of [
      { ...base, kernelSize: [3, 3], numOutputMaps: 4, prePadding: [1, 0], postPadding: [0, 2] },
      { ...base, kernelSize: [2, 3], numOutputMaps: 4, prePadding: [0, 1], postPadding: [1, 1], stride: [2, 1], dilation: [1, 2], groups: 2 },
    ]) {
      const x = randn([2, 4, 6, 7], 1);
      const w = randn([4, 4 / p.groups, ...p.kernelSize], 2);
      const b = randn([4], 3);
      const [y] = await runLayer('convolution', [x, w, b], p);
      expectNear(y!, naiveConv(x, w, b, p, false));
    }
  });

  it('deconvolution: output_padding form, cropping form and zero extension with bias', async () => {
    for (const [pre, post, stride] of [[1, 0, 2], [0, 2, 1], [1, -1, 1], [2, 1, 3]] as const) {
      const p = { ...base, kernelSize: [3, 2], numOutputMaps: 6, prePadding: [pre, 0], postPadding: [post, 0], stride: [stride, 1], groups: 2 };
      const x = randn([1, 4, 3, 3], 4);
      const w = randn([4, 3, 3, 2], 5);
      const b = randn([6], 6);
      const [y] = await runLayer('deconvolution', [x, w, b], p);
      expectNear(y!, naiveConv(x, w, b, p, true));
    }
  });
});

describe('matrix multiply', () => {
  function naive(a: Tensor, b: Tensor, p: LayerParamsMap['matrix_multiply']): { data: number[]; shape: number[] } {
    const mat = (t: Tensor, vector: boolean, trans: boolean, first: boolean) => {
      const s = t.shape;
      const v = t.toFloat64();
      if (vector) {
        const k = s[s.length - 1]!;
        return { batch: s.slice(0, -1), r: first ? 1 : k, c: first ? k : 1, at: (bi: number, i: number, j: number) => v[bi * k + (first ? j : i)]! };
      }
      const [r, c] = [s[s.length - 2]!, s[s.length - 1]!];
      return { batch: s.slice(0, -2), r: trans ? c : r, c: trans ? r : c, at: (bi: number, i: number, j: number) => v[bi * r * c + (trans ? j * c + i : i * c + j)]! };
    };
    const A = mat(a, p.vector0, p.transpose0, true);
    const B = mat(b, p.vector1, p.transpose1, false);
    const batch = A.batch.map((d, i) => Math.max(d, B.batch[i]!));
    const count = batch.reduce((x, y) => x * y, 1);
    const flat = (own: number[], idx: number) => {
      let off = 0;
      let rest = idx;
      let stride = 1;
      for (let d = batch.length - 1; d >= 0; d--) {
        const i = rest % batch[d]!;
        rest = Math.floor(rest / batch[d]!);
        off += (own[d] === 1 ? 0 : i) * stride;
        stride *= own[d]!;
      }
      return off;
    };
    const out: number[] = [];
    for (let t = 0; t < count; t++) {
      for (let i = 0; i < A.r; i++) {
        for (let j = 0; j < B.c; j++) {
          let s = 0;
          for (let k = 0; k < A.c; k++) s += A.at(flat(A.batch, t), i, k) * B.at(flat(B.batch, t), k, j);
          out.push(s);
        }
      }
    }
    return { data: out, shape: [...batch, ...(p.vector0 ? [] : [A.r]), ...(p.vector1 ? [] : [B.c])] };
  }

  it('covers transposes, vectors and batch broadcasting', async () => {
    const cases: [number[], number[], Partial<LayerParamsMap['matrix_multiply']>][] = [
      [[2, 3, 4], [2, 4, 5], {}],
      [[2, 4, 3], [1, 5, 4], { transpose0: true, transpose1: true }],
      [[3, 1, 4, 2], [3, 2, 4, 5], { transpose0: true }],
      [[2, 3, 4], [2, 4], { vector1: true }],
      [[2, 4], [2, 4, 5], { vector0: true }],
      [[3, 4], [3, 4], { vector0: true, vector1: true }],
      [[1, 4, 6], [3, 6, 5], {}],
    ];
    for (const [sa, sb, flags] of cases) {
      const p = { transpose0: false, transpose1: false, vector0: false, vector1: false, ...flags };
      const a = randn(sa, 1);
      const b = randn(sb, 2);
      const [y] = await runLayer('matrix_multiply', [a, b], p, 2);
      expectNear(y!, naive(a, b, p));
    }
  });
});

describe('pooling', () => {
  function naivePool(x: Tensor, p: LayerParamsMap['pooling'], outShape: readonly number[]): { data: number[]; shape: number[] } {
    const [N, C, H, W] = x.shape as [number, number, number, number];
    const [oH, oW] = [outShape[2]!, outShape[3]!];
    const v = x.toFloat64();
    const out: number[] = [];
    for (let nc = 0; nc < N * C; nc++) {
      for (let a = 0; a < oH; a++) {
        for (let b = 0; b < oW; b++) {
          let best = -Infinity;
          let sum = 0;
          let valid = 0;
          let inWindow = 0;
          for (let ky = 0; ky < p.windowSize[0]!; ky++) {
            for (let kx = 0; kx < p.windowSize[1]!; kx++) {
              const iy = a * p.stride[0]! - p.prePadding[0]! + ky * p.dilation[0]!;
              const ix = b * p.stride[1]! - p.prePadding[1]! + kx * p.dilation[1]!;
              if (iy < H + p.postPadding[0]! && ix < W + p.postPadding[1]!) inWindow++;
              if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
              const e = v[(nc * H + iy) * W + ix]!;
              best = Math.max(best, e);
              sum += e;
              valid++;
            }
          }
          out.push(p.type === 'max' ? best : sum / (p.divisor ?? (p.averageCountExcludesPadding ? valid : inWindow)));
        }
      }
    }
    return { data: out, shape: [N, C, oH, oW] };
  }

  it('max and average pooling with even and uneven padding, ceil mode and divisors', async () => {
    const common = { stride: [2, 2], dilation: [1, 1], roundUp: false, averageCountExcludesPadding: false, divisor: null };
    const cases: LayerParamsMap['pooling'][] = [
      { ...common, type: 'max', windowSize: [3, 3], prePadding: [1, 1], postPadding: [1, 1] },
      { ...common, type: 'max', windowSize: [2, 3], prePadding: [0, 1], postPadding: [1, 0], dilation: [2, 1] },
      { ...common, type: 'max', windowSize: [3, 3], prePadding: [1, 0], postPadding: [0, 1], roundUp: true },
      { ...common, type: 'average', windowSize: [3, 3], prePadding: [1, 1], postPadding: [1, 1], roundUp: true },
      { ...common, type: 'average', windowSize: [3, 2], prePadding: [1, 0], postPadding: [0, 1] },
      { ...common, type: 'average', windowSize: [3, 2], prePadding: [1, 0], postPadding: [0, 1], averageCountExcludesPadding: true },
      { ...common, type: 'average', windowSize: [2, 2], prePadding: [0, 0], postPadding: [1, 1], divisor: 3 },
    ];
    for (const p of cases) {
      const x = randn([1, 2, 7, 6], 3);
      const [y] = await runLayer('pooling', [x], p);
      expectNear(y!, naivePool(x, p, y!.shape));
    }
  });
});

describe('normalization', () => {
  it('layer, group and instance forms, and non-trailing axes', async () => {
    const x = randn([2, 6, 3, 2], 1);
    const chan = (seed: number) => randn([1, 6, 1, 1], seed);
    const [gn] = await runLayer('normalization', [x, chan(2), chan(3)], { axes: [2, 3], eps: 1e-5, numGroups: 3 });
    expectClose(gn!, groupNorm(x, 3, chan(2).withShape([6]), chan(3).withShape([6]), 1e-5), 1e-5, 1e-5);
    const [inn] = await runLayer('normalization', [x, chan(4), chan(5)], { axes: [2, 3], eps: 1e-5, numGroups: 1 });
    expectClose(inn!, instanceNorm(x, chan(4).withShape([6]), chan(5).withShape([6]), 1e-5), 1e-5, 1e-5);
    // Normalizing over dim 1 only: per (n, h, w) across the 6 channels.
    const [mid] = await runLayer('normalization', [x, Tensor.ones([1, 1, 1, 1]), Tensor.zeros([1, 1, 1, 1])], { axes: [1], eps: 0, numGroups: 1 });
    const v = x.toFloat64();
    const m = mid!.toFloat64();
    for (let n = 0; n < 2; n++) {
      for (let s = 0; s < 6; s++) {
        const idx = Array.from({ length: 6 }, (_, c) => (n * 6 + c) * 6 + s);
        const mean = idx.reduce((a, i) => a + v[i]!, 0) / 6;
        const vari = idx.reduce((a, i) => a + (v[i]! - mean) ** 2, 0) / 6;
        for (const i of idx) expect(m[i]).toBeCloseTo((v[i]! - mean) / Math.sqrt(vari), 5);
      }
    }
  });
});

describe('reductions, softmax, topk, cumulative', () => {
  it('reduce ops over several axes, softmax and log-softmax', async () => {
    const x = Tensor.fromArray([[[1, 2], [3, -4]], [[0.5, 6], [-1, 2]]]);
    const red = async (op: LayerParamsMap['reduce']['op'], axes: number[], keepDims: boolean) =>
      (await runLayer('reduce', [x], { op, axes, keepDims }))[0]!.toArray();
    expect(await red('sum', [0, 2], false)).toEqual([9.5, 0]);
    expect(await red('max', [1], true)).toEqual([[[3, 2]], [[0.5, 6]]]);
    expect(await red('min', [2], false)).toEqual([[1, -4], [0.5, -1]]);
    expect(await red('prod', [0, 1, 2], false)).toEqual(1 * 2 * 3 * -4 * 0.5 * 6 * -1 * 2);
    expect(await red('avg', [1, 2], false)).toEqual([0.5, 1.875]);
    const [sm] = await runLayer('softmax', [x], { axis: 2, log: false });
    const [ls] = await runLayer('softmax', [x], { axis: 2, log: true });
    const e = [Math.exp(1), Math.exp(2)];
    expect(sm!.toFloat64()[0]).toBeCloseTo(e[0]! / (e[0]! + e[1]!), 6);
    expect(ls!.toFloat64()[1]).toBeCloseTo(Math.log(e[1]! / (e[0]! + e[1]!)), 6);
  });

  it('topk returns values and int64 indices; cumulative sums exclusive and reversed', async () => {
    const x = Tensor.fromArray([[3, 1, 4, 1, 5], [9, 2, 6, 5, 3]]);
    const [v, i] = await runLayer('topk', [x], { op: 'max', k: 2, axis: 1 });
    expect([v!.toArray(), i!.toArray(), i!.dtype]).toEqual([[[5, 4], [9, 6]], [[4, 2], [0, 2]], 'int64']);
    const [lo] = await runLayer('topk', [x], { op: 'min', k: 1, axis: 0 });
    expect(lo!.toArray()).toEqual([[3, 1, 4, 1, 3]]);
    const row = Tensor.fromArray([1, 2, 3, 4]);
    const cum = async (exclusive: boolean, reverse: boolean) => (await runLayer('cumulative', [row], { axis: 0, op: 'sum', exclusive, reverse }))[0]!.toArray();
    expect(await cum(false, false)).toEqual([1, 3, 6, 10]);
    expect(await cum(true, false)).toEqual([0, 1, 3, 6]);
    expect(await cum(false, true)).toEqual([10, 9, 7, 4]);
    expect(await cum(true, true)).toEqual([9, 7, 4, 0]);
  });
});

describe('attention and einsum', () => {
  it('attention: softmax(q k^T scale + mask) v, causal', async () => {
    const [q, k, v] = [randn([1, 3, 4], 1), randn([1, 3, 4], 2), randn([1, 3, 2], 3)];
    const ref = (causal: boolean) => {
      const [qv, kv, vv] = [q.toFloat64(), k.toFloat64(), v.toFloat64()];
      const out: number[] = [];
      for (let i = 0; i < 3; i++) {
        const s = [0, 1, 2].map((j) => (causal && j > i ? -Infinity : [0, 1, 2, 3].reduce((a, d) => a + qv[i * 4 + d]! * kv[j * 4 + d]!, 0) * 0.5));
        const mx = Math.max(...s);
        const w = s.map((z) => Math.exp(z - mx));
        const sum = w.reduce((a, b) => a + b, 0);
        for (let c = 0; c < 2; c++) out.push([0, 1, 2].reduce((a, j) => a + (w[j]! / sum) * vv[j * 2 + c]!, 0));
      }
      return { data: out, shape: [1, 3, 2] };
    };
    for (const causal of [false, true]) {
      const [y] = await runLayer('attention', [q, k, v], { scale: 0.5, causal }, 3);
      expectNear(y!, ref(causal));
    }
  });

  it('einsum by equation', async () => {
    const [a, b] = [randn([2, 3], 1), randn([3, 4], 2)];
    const [y] = await runLayer('einsum', [a, b], { equation: 'ij,jk->ki' }, 2);
    const [av, bv] = [a.toFloat64(), b.toFloat64()];
    const ref: number[] = [];
    for (let kk = 0; kk < 4; kk++) for (let i = 0; i < 2; i++) ref.push([0, 1, 2].reduce((s, j) => s + av[i * 3 + j]! * bv[j * 4 + kk]!, 0));
    expectNear(y!, { data: ref, shape: [4, 2] });
  });
});
