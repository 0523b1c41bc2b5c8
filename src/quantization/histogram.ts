/**
 * The statistics calibration keeps per observed tensor: the largest |x| seen and a histogram of
 * |x| with a fixed number of equal-width bins over [0, range]. Batches arrive one at a time and
 * the range is not known in advance, so when a batch exceeds it the range doubles and adjacent
 * bins merge pairwise (TensorRT's calibrator does the same): re-binning stays exact (values equal
 * to the old range, which the last bin holds, move to the middle bin), at most half of the bins
 * go unused, and one pass over the data suffices (an async iterable may be one-shot).
 */

/** Bins of a calibration histogram (TensorRT's and pytorch-quantization's default). */
export const HISTOGRAM_BINS = 2048;

/**
 * A histogram of |x| over [0, range] that grows its range by doubling.
 *
 * @example
 * const h = new AbsHistogram();
 * h.add(Float32Array.of(-1, 0.5, 2));
 * h.max;      // 2
 * h.binWidth; // 2 / 2048
 */
export class AbsHistogram {
  /** Counts per bin; bin b covers [b, b + 1) × binWidth, the last bin also its upper edge. */
  readonly counts: Float64Array;
  #range = 0;
  #max = 0;
  #total = 0;
  #zeros = 0;
  /** Values at exactly the range (clamped into the last bin), which a doubling must move up. */
  #atRange = 0;

  constructor(readonly bins: number = HISTOGRAM_BINS) {
    if (!Number.isInteger(bins) || bins < 2 || (bins & (bins - 1)) !== 0) {
      throw new RangeError(`AbsHistogram: bins must be a power of two >= 2, got ${bins}`);
    }
    this.counts = new Float64Array(bins);
  }

  /** Upper edge of the last bin (0 until a non-zero value has been seen). */
  get range(): number { return this.#range; }
  get binWidth(): number { return this.#range / this.bins; }
  /** Largest |x| added so far. */
  get max(): number { return this.#max; }
  /** Number of values added so far. */
  get total(): number { return this.#total; }
  /** How many of them were exactly 0 (all counted in bin 0 too). */
  get zeros(): number { return this.#zeros; }

  /** Adds the absolute values of `values`; throws a RangeError at the first NaN or infinity. */
  add(values: ArrayLike<number>): void {
    let m = 0;
    let zeros = 0;
    for (let i = 0; i < values.length; i++) {
      const a = Math.abs(values[i]!);
      if (!(a <= Number.MAX_VALUE)) throw new RangeError(`element ${i} is ${values[i]} (calibration needs finite values)`);
      if (a > m) m = a;
      if (a === 0) zeros++;
    }
    this.#zeros += zeros;
    if (m > this.#max) this.#max = m;
    this.#grow(m);
    this.#total += values.length;
    if (this.#range === 0) {
      this.counts[0]! += values.length; // all zeros so far
      return;
    }
    const perUnit = this.bins / this.#range;
    const last = this.bins - 1;
    const counts = this.counts;
    let atRange = 0;
    for (let i = 0; i < values.length; i++) {
      const b = Math.floor(Math.abs(values[i]!) * perUnit);
      if (b > last) atRange++;
      counts[b < last ? b : last]!++;
    }
    this.#atRange += atRange;
  }

  /** Widens the range to cover `m`: the first non-zero value sets it, later ones double it. */
  #grow(m: number): void {
    if (m <= this.#range) return;
    if (this.#range === 0) {
      this.#range = m; // every earlier value was 0, which stays in bin 0
      return;
    }
    const counts = this.counts;
    const half = this.bins / 2;
    while (this.#range < m) {
      counts[this.bins - 1]! -= this.#atRange; // x = range belongs to bin `half` of the doubled range
      for (let b = 0; b < half; b++) counts[b] = counts[2 * b]! + counts[2 * b + 1]!;
      counts.fill(0, half);
      counts[half]! += this.#atRange;
      this.#atRange = 0;
      this.#range *= 2;
    }
  }
}
