import { describe, expect, it } from 'vitest';
import '../src/acc_ops/ops/index.js';
import type { Kwargs } from '../src/ir/signature.js';
import { roundTo } from '../src/tensor/dtype.js';
import { Tensor } from '../src/tensor/tensor.js';
import { check as run } from './acc_helpers.js';


const randn = (shape: number[], seed: number): Tensor => Tensor.randn(shape, { seed });
const prod = (v: readonly number[]): number => v.reduce((a, b) => a * b, 1);

function expectClose(actual: Tensor, expected: { data: ArrayLike<number>; shape: number[] }, tol = 1e-5): void {
  expect(actual.shape).toEqual(expected.shape);
  const a = actual.toFloat64();
  for (let i = 0; i < a.length; i++) {
    expect(Math.abs(a[i]! - expected.data[i]!)).toBeLessThanOrEqual(tol * (1 + Math.abs(expected.data[i]!)));
  }
}

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

/** Per output position and dim: the input indices its window reads, and its divisor term. */
type Windows = { idx: number[]; div: number }[][];

/**
 * Naive pooling over the trailing spatial dims: `windows[d][o]` lists the input indices output o of
 * dim d reads; the reduction is max, or a sum divided by the product of the per-dim divisors.
 */
function naivePool(x: Tensor, windows: Windows, kind: 'max' | 'avg', override: number | null = null): { data: Float64Array; shape: number[] } {
  const nSp = windows.length;
  const xs = x.shape;
  const lead = xs.slice(0, -nSp);
  const sp = xs.slice(-nSp);
  const shape = [...lead, ...windows.map((w) => w.length)];
  const xv = x.toFloat64();
  const data = new Float64Array(prod(shape));
  let q = 0;
  for (let pl = 0; pl < prod(lead); pl++) {
    for (const o of indices(windows.map((w) => w.length))) {
      const ws = o.map((oi, d) => windows[d]![oi]!);
      let acc = kind === 'max' ? -Infinity : 0;
      for (const t of indices(ws.map((w) => w.idx.length))) {
        const at = t.reduce((f, ti, d) => f * sp[d]! + ws[d]!.idx[ti]!, 0);
        const v = xv[pl * prod(sp) + at]!;
        acc = kind === 'max' ? (Number.isNaN(v) || v > acc ? v : acc) : acc + v;
      }
      data[q++] = kind === 'max' ? acc : acc / (override ?? prod(ws.map((w) => w.div)));
    }
  }
  return { data, shape };
}

function outSize(n: number, k: number, s: number, p: number, d: number, ceil: boolean): number {
  let o = Math.floor((n + 2 * p - d * (k - 1) - 1 + (ceil ? s - 1 : 0)) / s) + 1;
  if (ceil && (o - 1) * s >= n + p) o--;
  return o;
}

function maxWindows(n: number, k: number, s: number, p: number, d: number, ceil: boolean): Windows[number] {
  return Array.from({ length: outSize(n, k, s, p, d, ceil) }, (_, o) => ({
    idx: Array.from({ length: k }, (_, j) => o * s - p + j * d).filter((i) => i >= 0 && i < n), div: 1,
  }));
}

function avgWindows(n: number, k: number, s: number, p: number, ceil: boolean, includePad: boolean): Windows[number] {
  return Array.from({ length: outSize(n, k, s, p, 1, ceil) }, (_, o) => {
    const start = o * s - p;
    const end = Math.min(start + k, n + p);
    const idx = Array.from({ length: end - start }, (_, j) => start + j).filter((i) => i >= 0 && i < n);
    return { idx, div: includePad ? end - start : idx.length };
  });
}

function adaptiveWindows(n: number, out: number): Windows[number] {
  return Array.from({ length: out }, (_, o) => {
    const lo = Math.floor((o * n) / out);
    const hi = Math.ceil(((o + 1) * n) / out);
    return { idx: Array.from({ length: hi - lo }, (_, j) => lo + j), div: hi - lo };
  });
}

describe('acc.max_pool1d/2d/3d', () => {
  it('computes hand-checked 1-D cases with and without ceil_mode', () => {
    const input = Tensor.fromArray([[[1, 3, 2, 5, 4]]]);
    const kw = { input, kernel_size: [2], stride: [2], padding: [0], dilation: [1] };
    expect(run('max_pool1d', kw).toArray()).toEqual([[[3, 5]]]);
    expect(run('max_pool1d', { ...kw, ceil_mode: true }).toArray()).toEqual([[[3, 5, 4]]]);
  });

  it('treats padding as -inf and propagates NaN', () => {
    const input = Tensor.fromArray([[[-1, -2, NaN, -4]]]);
    const out = run('max_pool1d', { input, kernel_size: [3], stride: [2], padding: [1], dilation: [1] });
    const v = out.toFloat64();
    expect(v[0]).toBe(-1);
    expect(v[1]).toBeNaN();
  });

  const cases: [number[], number[], number[], number[], number[], boolean][] = [
    [[2, 3, 9], [3], [2], [1], [2], false],
    [[1, 2, 7, 8], [3, 3], [2, 2], [1, 1], [1, 1], true],
    [[2, 2, 6, 7], [2, 3], [1, 2], [1, 0], [2, 1], false],
    [[3, 5, 5], [2, 2], [2, 2], [0, 1], [1, 1], true],
    [[1, 2, 5, 6, 7], [2, 3, 2], [2, 2, 3], [1, 1, 0], [1, 1, 2], true],
  ];
  for (const [xs, k, s, p, d, ceil] of cases) {
    it(`matches the definition for input ${JSON.stringify(xs)} kernel ${JSON.stringify(k)} ceil=${ceil}`, () => {
      const x = randn(xs, 1);
      const nSp = k.length;
      const windows = xs.slice(-nSp).map((n, i) => maxWindows(n, k[i]!, s[i]!, p[i]!, d[i]!, ceil));
      const out = run(`max_pool${nSp}d`, { input: x, kernel_size: k, stride: s, padding: p, dilation: d, ceil_mode: ceil });
      expectClose(out, naivePool(x, windows, 'max'));
    });
  }

  it('rejects too much padding, too small outputs, wrong lists and inputs', () => {
    const x = randn([1, 1, 4, 4], 1);
    const base = { input: x, kernel_size: [2, 2], stride: [2, 2], padding: [0, 0], dilation: [1, 1] };
    const call = (kw: Kwargs) => () => run('max_pool2d', { ...base, ...kw });
    expect(call({ padding: [2, 0] })).toThrow(/acc.max_pool2d: padding \[2, 0\] must be at most half of the effective kernel size/);
    expect(call({ kernel_size: [5, 5], padding: [0, 0] })).toThrow(/output size \[0, 0\] is too small for input \[1, 1, 4, 4\]/);
    expect(call({ kernel_size: [2] })).toThrow(/argument 'kernel_size' must be 2 integer\(s\) >= 1/);
    expect(call({ stride: [0, 1] })).toThrow(/argument 'stride' must be 2 integer\(s\) >= 1/);
    expect(call({ input: randn([4, 4], 1) })).toThrow(/argument 'input' must be \[N, C, H, W\] or unbatched \[C, H, W\]/);
    expect(call({ input: Tensor.zeros([1, 1, 0, 4]) })).toThrow(/must have non-empty spatial dims/);
    expect(call({ input: x.castTo('int32') })).toThrow(/'input' must be a floating tensor/);
  });
});

describe('acc.avg_pool1d/2d/3d', () => {
  const input = Tensor.fromArray([[[1, 2, 3, 4, 5]]]);

  it('computes hand-checked ceil_mode, count_include_pad and divisor_override cases', () => {
    const kw = { input, kernel_size: [2], stride: [2], padding: [0] };
    expect(run('avg_pool1d', { ...kw, ceil_mode: true }).toArray()).toEqual([[[1.5, 3.5, 5]]]);
    const padded = { input, kernel_size: [3], stride: [2], padding: [1] };
    expect(run('avg_pool1d', padded).toArray()).toEqual([[[1, 3, 3]]]);
    expect(run('avg_pool1d', { ...padded, count_include_pad: false }).toArray()).toEqual([[[1.5, 3, 4.5]]]);
    expect(run('avg_pool1d', { ...padded, divisor_override: 2 }).toArray()).toEqual([[[1.5, 4.5, 4.5]]]);
  });

  const cases: [number[], number[], number[], number[], boolean, boolean, number | null][] = [
    [[2, 3, 10], [3], [2], [1], true, true, null],
    [[1, 2, 7, 8], [3, 3], [2, 2], [1, 1], true, false, null],
    [[2, 2, 6, 7], [2, 3], [2, 1], [1, 1], false, true, null],
    [[1, 3, 5, 5], [3, 2], [2, 2], [1, 1], true, true, 3],
    [[1, 2, 5, 6, 7], [2, 3, 2], [2, 2, 3], [1, 1, 0], true, false, null],
  ];
  for (const [xs, k, s, p, ceil, includePad, override] of cases) {
    it(`matches the definition for input ${JSON.stringify(xs)} ceil=${ceil} include_pad=${includePad} override=${override}`, () => {
      const x = randn(xs, 2);
      const nSp = k.length;
      const windows = xs.slice(-nSp).map((n, i) => avgWindows(n, k[i]!, s[i]!, p[i]!, ceil, includePad));
      const out = run(`avg_pool${nSp}d`, {
        input: x, kernel_size: k, stride: s, padding: p, ceil_mode: ceil, count_include_pad: includePad, divisor_override: override,
      });
      expectClose(out, naivePool(x, windows, 'avg', override));
    });
  }

  it('rounds float16 outputs', () => {
    const x = randn([1, 2, 4, 4], 3).castTo('float16');
    const out = run('avg_pool2d', { input: x, kernel_size: [2, 2], stride: [2, 2], padding: [0, 0] });
    expect(out.dtype).toBe('float16');
    const windows = [4, 4].map((n) => avgWindows(n, 2, 2, 0, false, true));
    const ref = naivePool(x, windows, 'avg');
    expectClose(out, { data: ref.data.map((v) => roundTo('float16', v)), shape: ref.shape }, 1e-3);
  });

  it('rejects a zero divisor_override and too much padding', () => {
    const kw = { input, kernel_size: [2], stride: [2], padding: [0] };
    expect(() => run('avg_pool1d', { ...kw, divisor_override: 0 })).toThrow(/acc.avg_pool1d: divisor_override must be a non-zero integer or null, got 0/);
    expect(() => run('avg_pool1d', { ...kw, padding: [2] })).toThrow(/acc.avg_pool1d: padding \[2\] must be at most half/);
  });
});

describe('adaptive pools', () => {
  it('computes a hand-checked 1-D average with overlapping windows', () => {
    const out = run('adaptive_avg_pool1d', { input: Tensor.fromArray([[[1, 2, 3, 4, 5]]]), output_size: [3] });
    expect(out.toArray()).toEqual([[[1.5, 3, 4.5]]]);
  });

  const cases: [string, number[], number[], 'avg' | 'max'][] = [
    ['adaptive_avg_pool1d', [2, 3, 10], [4], 'avg'],
    ['adaptive_avg_pool2d', [1, 2, 7, 5], [3, 2], 'avg'],
    ['adaptive_avg_pool2d', [2, 3, 3], [5, 4], 'avg'],
    ['adaptive_avg_pool3d', [1, 2, 5, 4, 7], [2, 3, 3], 'avg'],
    ['adaptive_max_pool2d', [2, 2, 7, 9], [3, 4], 'max'],
    ['adaptive_max_pool2d', [1, 3, 3], [5, 2], 'max'],
  ];
  for (const [op, xs, os, kind] of cases) {
    it(`${op} matches the definition for ${JSON.stringify(xs)} -> ${JSON.stringify(os)}`, () => {
      const x = randn(xs, 4);
      const windows = xs.slice(-os.length).map((n, i) => adaptiveWindows(n, os[i]!));
      expectClose(run(op, { input: x, output_size: os }), naivePool(x, windows, kind));
    });
  }

  it('rejects an output_size of the wrong length and a wrong input rank', () => {
    expect(() => run('adaptive_avg_pool2d', { input: randn([1, 2, 4, 4], 1), output_size: [2] }))
      .toThrow(/acc.adaptive_avg_pool2d: argument 'output_size' must be 2 integer\(s\) >= 0/);
    expect(() => run('adaptive_max_pool2d', { input: randn([4, 4], 1), output_size: [2, 2] }))
      .toThrow(/acc.adaptive_max_pool2d: argument 'input' must be \[N, C, H, W\]/);
  });
});
