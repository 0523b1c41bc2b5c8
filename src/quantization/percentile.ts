/**
 * Percentile calibration: the clipping threshold below which `percentile` percent of the observed
 * |x| lie, read from the calibration histogram (so resolved to one bin's width).
 */
import type { AbsHistogram } from './histogram.js';

/** Default percentile of the 'percentile' method. */
export const DEFAULT_PERCENTILE = 99.99;

/** Rejects a percentile outside (0, 100]. */
export function checkPercentile(percentile: number): void {
  if (!(percentile > 0 && percentile <= 100)) {
    throw new RangeError(`calibration: percentile must be in (0, 100], got ${percentile}`);
  }
}

/**
 * The upper edge of the first bin at which the cumulative count reaches `percentile` percent of
 * all values, capped at the largest |x| seen (so 100 gives exactly the max).
 *
 * @example
 * const h = new AbsHistogram();
 * h.add(Float32Array.from({ length: 2048 }, (_, i) => i + 1)); // 1..2048: bin width 1
 * percentileAmax(h, 50); // 1025: values 1..1024 fill bins 1..1024, whose upper edge is 1025
 */
export function percentileAmax(hist: AbsHistogram, percentile: number): number {
  checkPercentile(percentile);
  if (hist.total === 0 || hist.range === 0) return 0;
  const counts = hist.counts;
  // 100 * cumulative >= percentile * total, in exact-enough products rather than a rounded fraction.
  const needed = percentile * hist.total;
  let cumulative = 0;
  for (let b = 0; b < counts.length; b++) {
    cumulative += counts[b]!;
    if (100 * cumulative >= needed) return Math.min((b + 1) * hist.binWidth, hist.max);
  }
  return hist.max;
}
