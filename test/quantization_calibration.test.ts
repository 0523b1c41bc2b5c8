import { describe, expect, it } from 'vitest';
import { accTrace } from '../src/acc_ops/acc_tracer.js';
import '../src/acc_ops/ops/index.js';
import { nn } from '../src/nn/index.js';
import { symbolicTrace } from '../src/ir/tracer.js';
import { AbsHistogram } from '../src/quantization/histogram.js';
import { entropyAmax, entropyDivergences } from '../src/quantization/entropy.js';
import { percentileAmax } from '../src/quantization/percentile.js';
import { MIN_SCALE, perChannelAmax, perChannelScales, scaleOf } from '../src/quantization/scales.js';
import { CalibrationError, collectAmax, methodSpec, type CalibrationBatch, type CalibrationProgress } from '../src/quantization/calibrator.js';
import { interpreterObserver } from '../src/quantization/observe.js';
import { Tensor } from '../src/tensor/tensor.js';

/** A histogram with `bins` bins holding exactly `values`. */
function histogramOf(values: readonly number[], bins = 2048): AbsHistogram {
  const h = new AbsHistogram(bins);
  h.add(Float64Array.from(values));
  return h;
}

/**
 * KL(P‖Q) of keeping i bins, written straight from the description in "8-bit Inference with
 * TensorRT" with explicit arrays (no prefix sums): P is h[0..i) with the tail added to the last
 * bin; Q merges h[0..i) into `levels` groups and gives every bin of a group where P > 0 the
 * group's mean over those bins.
 */
function referenceDivergence(h: readonly number[], i: number, levels: number): number {
  const p = h.slice(0, i);
  for (let b = i; b < h.length; b++) p[i - 1]! += h[b]!;
  const q = new Array<number>(i).fill(0);
  for (let j = 0; j < levels; j++) {
    const lo = Math.floor((j * i) / levels);
    const hi = Math.floor(((j + 1) * i) / levels);
    let sum = 0;
    let support = 0;
    for (let b = lo; b < hi; b++) {
      sum += h[b]!;
      if (p[b]! > 0) support++;
    }
    for (let b = lo; b < hi; b++) if (p[b]! > 0) q[b] = sum / support;
  }
  const ps = p.reduce((a, b) => a + b, 0);
  const qs = q.reduce((a, b) => a + b, 0);
  let kl = 0;
  for (let b = 0; b < i; b++) {
    if (p[b] === 0) continue;
    if (q[b] === 0) return Infinity;
    kl += (p[b]! / ps) * Math.log((p[b]! / ps) / (q[b]! / qs));
  }
  return kl;
}

/** The reference threshold: the largest i of least divergence, from the counts without exact zeros. */
function referenceEntropyAmax(h: AbsHistogram, levels: number): number {
  const counts = [...h.counts];
  counts[0]! -= h.zeros;
  let best = counts.length;
  let least = Infinity;
  const kl: number[] = [];
  for (let i = levels; i <= counts.length; i++) {
    kl[i] = referenceDivergence(counts, i, levels);
    least = Math.min(least, kl[i]!);
  }
  while (best > levels && kl[best]! - least > 1e-9) best--;
  return best * h.binWidth;
}

describe('AbsHistogram', () => {
  it('doubles its range when a batch exceeds it and re-bins exactly', () => {
    const h = new AbsHistogram(8);
    h.add(Float32Array.of(0.1, -0.6, 1)); // range 1: bin width 0.125
    expect(h.range).toBe(1);
    h.add(Float32Array.of(3, -2.2)); // range 1 → 2 → 4: bin width 0.5
    expect(h.range).toBe(4);
    expect(h.max).toBe(3);
    expect(h.total).toBe(5);
    // |x| / 0.5: 0.1 → 0, 0.6 → 1, 1 → 2, 3 → 6, 2.2 → 4
    expect([...h.counts]).toEqual([1, 1, 1, 0, 1, 0, 1, 0]);
  });

  it('counts exact zeros (before and after the first non-zero value) in bin 0', () => {
    const h = new AbsHistogram(4);
    h.add(Float32Array.of(0, 0));
    expect(h.range).toBe(0);
    h.add(Float32Array.of(0, 2, -0.5));
    expect([...h.counts]).toEqual([3, 1, 0, 1]);
    expect(h.zeros).toBe(3);
  });

  it('rejects NaN and infinities, and bin counts that are not powers of two', () => {
    expect(() => new AbsHistogram().add(Float32Array.of(1, NaN))).toThrow('element 1 is NaN (calibration needs finite values)');
    expect(() => new AbsHistogram().add(Float32Array.of(-Infinity))).toThrow('element 0 is -Infinity');
    expect(() => new AbsHistogram(100)).toThrow('bins must be a power of two >= 2, got 100');
  });
});

describe('entropy calibration', () => {
  it('matches divergences computed by hand on a 4-bin histogram with 2 levels', () => {
    // h = [4, 2, 1, 1]. i = 2: P = [4, 4]/8, Q = [4, 2]/6. i = 3: P = [4, 2, 2]/8, Q = [4, 1.5, 1.5]/7.
    // i = 4: P = [4, 2, 1, 1]/8, Q = [3, 3, 1, 1]/8.
    const kl = entropyDivergences(Float64Array.of(4, 2, 1, 1), 2);
    expect(kl[0]).toBeNaN();
    expect(kl[1]).toBeNaN();
    expect(kl[2]).toBeCloseTo(0.5 * Math.log(0.5 / (4 / 6)) + 0.5 * Math.log(0.5 / (2 / 6)), 12);
    expect(kl[3]).toBeCloseTo(0.5 * Math.log(0.5 / (4 / 7)) + 2 * 0.25 * Math.log(0.25 / (1.5 / 7)), 12);
    expect(kl[4]).toBeCloseTo(0.5 * Math.log(0.5 / 0.375) + 0.25 * Math.log(0.25 / 0.375), 12);
    // The least is i = 3 (0.0103 < 0.0425 < 0.0589): with bin width 1 the threshold is 3.
    const h = histogramOf([0.5, 0.5, 0.5, 0.5, 1.5, 1.5, 2.5, 4], 4);
    expect([...h.counts]).toEqual([4, 2, 1, 1]);
    expect(entropyAmax(h, 2)).toBe(3);
  });

  it('is infinite where the clipped mass lands in a group without in-range values, and keeps every bin then', () => {
    // Mass at 1 and one far outlier: every clipping candidate puts the outlier in an empty last group.
    const h = histogramOf([...new Array<number>(1000).fill(1), 100]);
    const kl = entropyDivergences(h.counts);
    expect(kl[128]).toBe(Infinity);
    expect(kl[2047]).toBe(Infinity);
    expect(Number.isFinite(kl[2048]!)).toBe(true);
    expect(entropyAmax(h)).toBe(100);
  });

  it('agrees with a straightforward implementation on skewed 256-bin histograms', () => {
    for (const seed of [1, 2, 3]) {
      const g = Tensor.randn([4000], { seed }).toFloat32();
      // A heavy tail (x³) and a ReLU's exact zeros.
      const h = histogramOf([...g].map((v, i) => (i % 3 === 0 ? 0 : v * v * v)), 256);
      const counts = [...h.counts];
      counts[0]! -= h.zeros;
      const kl = entropyDivergences(Float64Array.from(counts), 16);
      for (let i = 16; i <= 256; i++) {
        const want = referenceDivergence(counts, i, 16);
        if (want === Infinity) expect(kl[i]).toBe(Infinity);
        else expect(Math.abs(kl[i]! - want)).toBeLessThan(1e-10);
      }
      expect(entropyAmax(h, 16)).toBe(referenceEntropyAmax(h, 16));
    }
  });

  it('agrees with the straightforward implementation at 2048 bins and 128 levels, clipping a heavy tail', () => {
    const h = new AbsHistogram();
    h.add(Tensor.randn([20000], { seed: 7 }).toFloat32().map((v) => v * v * v));
    const amax = entropyAmax(h);
    expect(amax).toBe(referenceEntropyAmax(h, 128));
    expect(amax).toBeLessThan(0.2 * h.max); // max ≈ 98 (a 4.6σ sample cubed); most of the mass is below 5
  });

  it('ignores exact zeros: a ReLU output clips where its non-zero half alone would', () => {
    const g = Tensor.randn([20000], { seed: 9 }).toFloat32();
    const relu = histogramOf([...g].map((v) => Math.max(v, 0)));
    const positive = histogramOf([...g].filter((v) => v > 0));
    expect(relu.range).toBe(positive.range);
    expect(entropyAmax(relu)).toBe(entropyAmax(positive));
  });

  it('rejects levels outside 1..bins', () => {
    expect(() => entropyDivergences(Float64Array.of(1, 2), 3)).toThrow('levels must be an integer in 1..2 (the bin count), got 3');
  });
});

describe('percentile and minmax calibration', () => {
  // 1..2048: range 2048, bin width 1; value v sits in bin v (2048 in the last bin, 2047).
  const h = histogramOf(Array.from({ length: 2048 }, (_, i) => i + 1));

  it('percentile is the upper edge of the bin where the cumulative count reaches it, capped at the max', () => {
    expect(percentileAmax(h, 50)).toBe(1025); // 1024 values in bins 1..1024
    expect(percentileAmax(h, 99.9)).toBe(2047); // 2045.952 values needed: bin 2046
    expect(percentileAmax(h, 100)).toBe(2048);
    expect(() => percentileAmax(h, 0)).toThrow('percentile must be in (0, 100], got 0');
    expect(() => methodSpec('percentile', 101)).toThrow('percentile must be in (0, 100], got 101');
  });

  it('methodSpec fills in the defaults that a cache records', () => {
    expect(methodSpec()).toEqual({ method: 'entropy', params: { bins: 2048, levels: 128 } });
    expect(methodSpec('percentile')).toEqual({ method: 'percentile', params: { percentile: 99.99, bins: 2048 } });
    expect(methodSpec('minmax')).toEqual({ method: 'minmax', params: {} });
    const bad: string = 'kl';
    expect(() => methodSpec(bad as 'entropy')).toThrow("method must be 'entropy', 'minmax' or 'percentile', got 'kl'");
  });
});

describe('scales', () => {
  it('activation scale is amax / 127, floored at float32 epsilon', () => {
    expect(scaleOf(12.7)).toBeCloseTo(0.1, 15);
    expect(scaleOf(0)).toBe(MIN_SCALE);
    expect(() => scaleOf(NaN)).toThrow('amax must be finite and >= 0, got NaN');
  });

  it('weights are scaled per output channel: dim 0 of conv/linear weights, dim 1 of deconv weights', () => {
    const linear = Tensor.fromArray([[1, -3, 0.5], [0, 0, 0]]);
    expect([...perChannelAmax(linear, 0)]).toEqual([3, 0]);
    expect([...perChannelScales(linear, 0)]).toEqual([Math.fround(3 / 127), Math.fround(MIN_SCALE)]);
    // conv_transpose weight [in=2, out=3, k=2]
    const deconv = Tensor.fromArray([[[1, -2], [0.5, 0], [4, 1]], [[-6, 0], [1, 1], [0, -0.25]]]);
    expect([...perChannelAmax(deconv, 1)]).toEqual([6, 1, 4]);
    expect([...perChannelAmax(deconv, -1)]).toEqual([6, 2]);
    expect(() => perChannelAmax(Tensor.fromArray([1, NaN]), 0)).toThrow('weight element 1 is NaN (weights must be finite)');
  });
});

describe('collectAmax', () => {
  const model = new nn.Sequential(new nn.Linear(4, 6), new nn.ReLU(), new nn.Linear(6, 2)).eval();
  const x = Tensor.randn([3, 4], { seed: 1 });
  const gm = accTrace(symbolicTrace(model), [x]);
  const names = ['input', 'relu'];
  const batches: CalibrationBatch[] = [1, 2, 3].map((s) => [Tensor.randn([3, 4], { seed: s * 10 })]);
  const maxAbs = (ts: readonly Tensor[]): number => Math.max(...ts.flatMap((t) => [...t.toFloat32()].map(Math.abs)));

  it('minmax: the largest |x| over every batch, for model inputs and computed tensors', async () => {
    const progress: CalibrationProgress[] = [];
    const r = await collectAmax(gm, names, batches, {
      spec: methodSpec('minmax'), observer: interpreterObserver(gm, names), example: [x], keep: 2, onProgress: (p) => progress.push(p),
    });
    const reluOut = batches.map((b) => {
      const probe = new nn.Sequential(model.getSubmodule('0'), new nn.ReLU());
      return probe.forward(b[0]!) as Tensor;
    });
    expect(r.amax.get('input')).toBe(maxAbs(batches.map((b) => b[0]!)));
    expect(r.amax.get('relu')).toBe(maxAbs(reluOut));
    expect(r.batches).toBe(3);
    expect(r.kept).toEqual(batches.slice(0, 2));
    expect(progress.map((p) => `${p.phase} ${p.index}/${p.total}`)).toEqual(['collect 1/3', 'collect 2/3', 'collect 3/3', 'thresholds 1/2', 'thresholds 2/2']);
    expect(progress[0]!.message).toBe('batch 1/3 on the reference interpreter');
  });

  it('reads an async iterable once, reporting batches without a total', async () => {
    let pulled = 0;
    async function* stream(): AsyncGenerator<CalibrationBatch> {
      for (const b of batches) {
        pulled++;
        yield b;
      }
    }
    const totals: (number | undefined)[] = [];
    const r = await collectAmax(gm, names, stream(), {
      spec: methodSpec('percentile', 100), observer: interpreterObserver(gm, names), example: [x], onProgress: (p) => { if (p.phase === 'collect') totals.push(p.total); },
    });
    expect(pulled).toBe(3);
    expect(totals).toEqual([undefined, undefined, undefined]);
    expect(r.amax.get('input')).toBe(maxAbs(batches.map((b) => b[0]!))); // the 100th percentile is the max
  });

  it('names the batch and input of malformed data, and the tensor of non-finite values', async () => {
    const opts = { spec: methodSpec('minmax'), observer: interpreterObserver(gm, names), example: [x] };
    await expect(collectAmax(gm, names, [[x], [x, x]], opts)).rejects.toThrow('calibration batch 1: expected 1 input tensor(s), got 2');
    await expect(collectAmax(gm, names, [[x.castTo('float16')]], opts)).rejects.toThrow('calibration batch 0, input 0: dtype float16 differs from the example input\'s float32');
    await expect(collectAmax(gm, names, [[Tensor.randn([4])]], opts)).rejects.toThrow('calibration batch 0, input 0: rank 1 [4] differs from the example input\'s rank 2 [3, 4]');
    const notTensor: unknown = [[1]];
    await expect(collectAmax(gm, names, notTensor as CalibrationBatch[], opts)).rejects.toThrow('calibration batch 0, input 0: expected a Tensor, got number');
    await expect(collectAmax(gm, names, [x] as unknown[] as CalibrationBatch[], opts)).rejects.toThrow(CalibrationError);
    await expect(collectAmax(gm, names, [], opts)).rejects.toThrow('calibration: data has no batches');
    const nan = Tensor.fromNumbers([1, NaN, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], [3, 4]);
    await expect(collectAmax(gm, names, [[nan]], opts)).rejects.toThrow("calibration: tensor 'input': element 1 is NaN (calibration needs finite values)");
  });
});
