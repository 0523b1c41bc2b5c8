import { describe, expect, it } from 'vitest';
import { adaptiveAvgPoolNd, adaptiveMaxPoolNd, avgPoolNd, maxPoolNd } from '../src/kernels/reference/pool.js';
import { mulberry32 } from '../src/tensor/random.js';


const prod = (v: readonly number[]): number => v.reduce((a, b) => a * b, 1);
const randInt = (rng: () => number, lo: number, hi: number): number => lo + Math.floor(rng() * (hi - lo + 1));

function randArray(rng: () => number, n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.round((rng() * 2 - 1) * 64) / 8; // coarse values make ties
  return a;
}

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

const flat = (idx: readonly number[], shape: readonly number[]): number => idx.reduce((f, v, i) => f * shape[i]! + v, 0);

/** Output length from the documented formula; in ceil mode the last window must start inside input or left padding. */
function docOutSize(n: number, k: number, s: number, p: number, d: number, ceil: boolean): number {
  const q = (n + 2 * p - d * (k - 1) - 1) / s;
  let out = (ceil ? Math.ceil(q) : Math.floor(q)) + 1;
  if (ceil && (out - 1) * s >= n + p) out--;
  return out;
}

interface Win { k: number[]; s: number[]; p: number[]; d: number[]; ceil: boolean }

/** Direct max pool: visit kernel taps in order, skip padding; a NaN or a strictly larger value wins. */
function naiveMax(x: Float32Array, xs: number[], w: Win) {
  const nSp = w.k.length;
  const sp = xs.slice(-nSp);
  const lead = xs.slice(0, -nSp);
  const os = sp.map((n, i) => docOutSize(n, w.k[i]!, w.s[i]!, w.p[i]!, w.d[i]!, w.ceil));
  const out = new Float32Array(prod(lead) * prod(os));
  const idx = new Float64Array(out.length);
  let q = 0;
  for (let pl = 0; pl < prod(lead); pl++) {
    for (const oi of indices(os)) {
      let best = -Infinity;
      // PyTorch reports the first non-negative tap of an all-padding window (whose max is -inf).
      let at = flat(oi.map((o, d) => {
        let c = o * w.s[d]! - w.p[d]!;
        while (c < 0) c += w.d[d]!;
        return c;
      }), sp);
      for (const ki of indices(w.k)) {
        const ii = ki.map((kk, d) => oi[d]! * w.s[d]! - w.p[d]! + kk * w.d[d]!);
        if (ii.some((v, d) => v < 0 || v >= sp[d]!)) continue;
        const v = x[pl * prod(sp) + flat(ii, sp)]!;
        if (v > best || Number.isNaN(v)) {
          best = v;
          at = flat(ii, sp);
        }
      }
      idx[q] = at;
      out[q++] = best;
    }
  }
  return { data: out, shape: [...lead, ...os], indices: idx };
}

/** Direct average pool: taps inside the input add up; taps inside the padded input count when includePad. */
function naiveAvg(x: Float32Array, xs: number[], w: Win, includePad: boolean, override: number | null) {
  const nSp = w.k.length;
  const sp = xs.slice(-nSp);
  const lead = xs.slice(0, -nSp);
  const os = sp.map((n, i) => docOutSize(n, w.k[i]!, w.s[i]!, w.p[i]!, 1, w.ceil));
  const out = new Float32Array(prod(lead) * prod(os));
  let q = 0;
  for (let pl = 0; pl < prod(lead); pl++) {
    for (const oi of indices(os)) {
      let sum = 0;
      let real = 0;
      let padded = 0;
      for (const ki of indices(w.k)) {
        const ii = ki.map((kk, d) => oi[d]! * w.s[d]! - w.p[d]! + kk);
        if (ii.every((v, d) => v < sp[d]! + w.p[d]!)) padded++;
        if (ii.some((v, d) => v < 0 || v >= sp[d]!)) continue;
        real++;
        sum += x[pl * prod(sp) + flat(ii, sp)]!;
      }
      out[q++] = real === 0 ? 0 : sum / (override ?? (includePad ? padded : real));
    }
  }
  return { data: out, shape: [...lead, ...os] };
}

function expectClose(got: Float32Array, want: Float32Array, what: string): void {
  expect(got.length, what).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    if (Number.isNaN(want[i]!)) expect(Number.isNaN(got[i]!), `${what} [${i}]`).toBe(true);
    else if (got[i] !== want[i]) expect(Math.abs(got[i]! - want[i]!), `${what} [${i}]`).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(want[i]!)));
  }
}

function randomWindow(rng: () => number, nSp: number, dilated: boolean): { xs: number[]; w: Win } {
  const k = Array.from({ length: nSp }, () => randInt(rng, 1, 4));
  const d = k.map(() => (dilated ? randInt(rng, 1, 3) : 1));
  const s = k.map(() => randInt(rng, 1, 3));
  const p = k.map((kk, i) => randInt(rng, 0, Math.floor(((kk - 1) * d[i]! + 1) / 2)));
  const sp = k.map((kk, i) => Math.max(1, d[i]! * (kk - 1) + 1 - 2 * p[i]!) + randInt(rng, 0, nSp === 3 ? 4 : 8));
  const lead = rng() < 0.3 ? [randInt(rng, 1, 3)] : [randInt(rng, 1, 2), randInt(rng, 1, 3)];
  return { xs: [...lead, ...sp], w: { k, s, p, d, ceil: rng() < 0.5 } };
}

describe('maxPoolNd', () => {
  it('matches the direct definition, indices included, on random 1-D/2-D/3-D windows', () => {
    const rng = mulberry32(2024);
    for (let trial = 0; trial < 150; trial++) {
      const { xs, w } = randomWindow(rng, 1 + (trial % 3), true);
      const x = randArray(rng, prod(xs));
      if (trial % 5 === 0) x[randInt(rng, 0, x.length - 1)] = NaN;
      const got = maxPoolNd(x, xs, { kernel: w.k, stride: w.s, padding: w.p, dilation: w.d, ceilMode: w.ceil, returnIndices: true });
      const want = naiveMax(x, xs, w);
      const what = `trial ${trial}: x ${xs} ${JSON.stringify(w)}`;
      expect(got.shape, what).toEqual(want.shape);
      expectClose(got.data, want.data, what);
      expect(Array.from(got.indices ?? []), what).toEqual(Array.from(want.indices));
    }
  });

  it('computes ceil-mode cases by hand', () => {
    // L=5, k=2, s=2: floor gives 2 windows; ceil gives 3, the last one [4, 6) starting inside the input.
    const x = Float32Array.of(1, 3, 2, 5, 4);
    expect(Array.from(maxPoolNd(x, [1, 1, 5], { kernel: [2] }).data)).toEqual([3, 5]);
    const c = maxPoolNd(x, [1, 1, 5], { kernel: [2], ceilMode: true, returnIndices: true });
    expect(c.shape).toEqual([1, 1, 3]);
    expect(Array.from(c.data)).toEqual([3, 5, 4]);
    expect(Array.from(c.indices ?? [])).toEqual([1, 3, 4]);
    // L=5, k=2, s=2, p=1: ceil((5+2-1-1)/2)+1 = 4, but window 3 would start at 5 = L+p-1+1, in the right padding: 3.
    const d = maxPoolNd(x, [1, 5], { kernel: [2], stride: [2], padding: [1], ceilMode: true });
    expect(d.shape).toEqual([1, 3]);
    expect(Array.from(d.data)).toEqual([1, 3, 5]);
  });

  it('pads with -inf and reports indices within each plane (2-D, by hand)', () => {
    const x = Float32Array.from({ length: 32 }, (_, i) => i % 16); // two 4x4 planes 0..15
    const y = maxPoolNd(x, [2, 4, 4], { kernel: [3, 3], stride: [2, 2], padding: [1, 1], returnIndices: true });
    expect(y.shape).toEqual([2, 2, 2]);
    expect(Array.from(y.data)).toEqual([5, 7, 13, 15, 5, 7, 13, 15]);
    expect(Array.from(y.indices ?? [])).toEqual([5, 7, 13, 15, 5, 7, 13, 15]);
    const neg = maxPoolNd(Float32Array.of(-3, -1, -2, -4), [1, 1, 4], { kernel: [3], stride: [3], padding: [1] });
    expect(Array.from(neg.data)).toEqual([-1, -2]);
  });

  it('keeps the first of equal maxima and propagates NaN', () => {
    const y = maxPoolNd(Float32Array.of(2, 2, 1, NaN, 7, 1), [1, 6], { kernel: [3], returnIndices: true });
    expect(Array.from(y.indices ?? [])).toEqual([0, 3]);
    expect(y.data[0]).toBe(2);
    expect(Number.isNaN(y.data[1]!)).toBe(true);
    expect(maxPoolNd(Float32Array.of(1, 2), [1, 2], { kernel: [2] }).indices).toBeUndefined();
  });

  it('rejects padding above half the effective kernel and bad ranks', () => {
    expect(() => maxPoolNd(new Float32Array(16), [1, 4, 4], { kernel: [2, 2], padding: [2, 2] })).toThrow(
      'max_pool2d: pad should be at most half of effective kernel size, but got pad=2, kernel_size=2 and dilation=1',
    );
    expect(maxPoolNd(new Float32Array(16), [1, 4, 4], { kernel: [2, 2], padding: [2, 2], dilation: [3, 3] }).shape).toEqual([1, 3, 3]);
    expect(() => maxPoolNd(new Float32Array(16), [16], { kernel: [2, 2] })).toThrow(/max_pool2d: input must have rank 3 or 4/);
    expect(() => maxPoolNd(new Float32Array(4), [1, 4], { kernel: [2, 2] })).toThrow(/input must have rank/);
  });
});

describe('avgPoolNd', () => {
  it('matches the direct definition on random windows, with and without padding counted', () => {
    const rng = mulberry32(77);
    for (let trial = 0; trial < 150; trial++) {
      const { xs, w } = randomWindow(rng, 1 + (trial % 3), false);
      const x = randArray(rng, prod(xs));
      const includePad = rng() < 0.5;
      const override = trial % 7 === 0 ? randInt(rng, 1, 5) : null;
      const got = avgPoolNd(x, xs, { kernel: w.k, stride: w.s, padding: w.p, ceilMode: w.ceil, countIncludePad: includePad, divisorOverride: override });
      const want = naiveAvg(x, xs, w, includePad, override);
      const what = `trial ${trial}: x ${xs} ${JSON.stringify(w)} includePad=${includePad} override=${override}`;
      expect(got.shape, what).toEqual(want.shape);
      expectClose(got.data, want.data, what);
    }
  });

  it('computes ceil-mode windows clipped to the padded input by hand', () => {
    const x = Float32Array.of(1, 2, 3, 4, 5);
    // k=2, s=2, ceil: last window [4, 6) is clipped to input+padding = [4, 5): divisor 1.
    expect(Array.from(avgPoolNd(x, [1, 5], { kernel: [2], ceilMode: true }).data)).toEqual([1.5, 3.5, 5]);
    const y = Float32Array.of(1, 2, 3, 4, 5, 6);
    // L=6, k=3, s=2, p=1, ceil: 4 windows starting at -1, 1, 3, 5; the last spans [5, 7) of the padded input.
    const opts = { kernel: [3], stride: [2], padding: [1], ceilMode: true };
    expect(Array.from(avgPoolNd(y, [1, 6], opts).data)).toEqual([1, 3, 5, 3]);
    expect(Array.from(avgPoolNd(y, [1, 6], { ...opts, countIncludePad: false }).data)).toEqual([1.5, 3, 5, 6]);
    expect(Array.from(avgPoolNd(Float32Array.of(1, 2, 3, 4), [1, 1, 2, 2], { kernel: [2, 2], divisorOverride: 2 }).data)).toEqual([5]);
  });

  it('rejects a zero divisor override and too much padding', () => {
    expect(() => avgPoolNd(new Float32Array(4), [1, 4], { kernel: [2], divisorOverride: 0 })).toThrow(/divisorOverride must be a non-zero/);
    expect(() => avgPoolNd(new Float32Array(4), [1, 4], { kernel: [3], padding: [2] })).toThrow(/avg_pool1d: pad should be at most half/);
  });
});

describe('adaptive pooling', () => {
  it('uses windows [floor(i*in/out), ceil((i+1)*in/out))', () => {
    const x = Float32Array.of(1, 2, 3, 4, 5);
    // in=5, out=3: [0,2), [1,4), [3,5)
    expect(Array.from(adaptiveAvgPoolNd(x, [1, 5], [3]).data)).toEqual([1.5, 3, 4.5]);
    const m = adaptiveMaxPoolNd(x, [1, 5], [3], true);
    expect(Array.from(m.data)).toEqual([2, 4, 5]);
    expect(Array.from(m.indices ?? [])).toEqual([1, 3, 4]);
  });

  it('matches a direct definition in 1-D/2-D/3-D, null keeping a dim', () => {
    const rng = mulberry32(5150);
    for (let trial = 0; trial < 60; trial++) {
      const nSp = 1 + (trial % 3);
      const sp = Array.from({ length: nSp }, () => randInt(rng, 1, 9));
      const os = sp.map((n) => (rng() < 0.15 ? null : randInt(rng, 1, n + 2)));
      const xs = [2, randInt(rng, 1, 3), ...sp];
      const x = randArray(rng, prod(xs));
      const outSp = os.map((o, i) => o ?? sp[i]!);
      const avg = new Float32Array(prod(xs.slice(0, 2)) * prod(outSp));
      const mx = new Float32Array(avg.length);
      const at = new Float64Array(avg.length);
      let q = 0;
      for (let pl = 0; pl < prod(xs.slice(0, 2)); pl++) {
        for (const oi of indices(outSp)) {
          const lo = oi.map((o, d) => Math.floor((o * sp[d]!) / outSp[d]!));
          const hi = oi.map((o, d) => Math.ceil(((o + 1) * sp[d]!) / outSp[d]!));
          const win = hi.map((h, d) => h - lo[d]!);
          let sum = 0;
          let best = -Infinity;
          for (const wi of indices(win)) {
            const ii = wi.map((v, d) => v + lo[d]!);
            const v = x[pl * prod(sp) + flat(ii, sp)]!;
            sum += v;
            if (v > best) {
              best = v;
              at[q] = flat(ii, sp);
            }
          }
          avg[q] = sum / prod(win);
          mx[q++] = best;
        }
      }
      const what = `trial ${trial}: x ${xs} out ${os}`;
      const a = adaptiveAvgPoolNd(x, xs, os);
      expect(a.shape, what).toEqual([...xs.slice(0, 2), ...outSp]);
      expectClose(a.data, avg, what);
      const m = adaptiveMaxPoolNd(x, xs, os, true);
      expectClose(m.data, mx, what);
      expect(Array.from(m.indices ?? []), what).toEqual(Array.from(at));
    }
  });
});
