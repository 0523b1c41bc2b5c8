/**
 * Entropy calibration (TensorRT's entropy calibrator, as NVIDIA describes it in "8-bit Inference
 * with TensorRT", GTC 2017): pick the clipping threshold whose int8 representation loses the least
 * information, measured as the KL divergence between the clipped distribution and its quantized
 * version.
 *
 * Given a histogram h[0..B) of |x| (B = 2048 bins of width w) and L = 128 levels (int8's
 * non-negative half), for every candidate i = L..B (keep the first i bins, threshold i·w):
 *   - reference P: h[0..i) with the clipped mass Σ h[i..B) added to bin i-1 (values above the
 *     threshold saturate to it);
 *   - candidate Q: h[0..i) (the clipped mass excluded) merged into L contiguous groups — group j
 *     covers bins [⌊j·i/L⌋, ⌊(j+1)·i/L⌋) — and expanded back to i bins by spreading each group's
 *     total evenly over the group's bins where P is non-zero (bins where P is zero stay zero);
 *   - divergence(i) = KL(P‖Q) = Σ P(b)·ln(P(b)/Q(b)) with P and Q each normalized to sum 1.
 * The threshold is i·w for the i of least divergence; on ties the largest such i (clip only when
 * it pays). Where P is non-zero but Q is zero — the clipped mass lands in a group that holds no
 * in-range value — the divergence is infinite and the candidate is never chosen (keeping every
 * bin, i = B, is always finite). The slides write the threshold as (m + 0.5)·w; here it is the
 * upper edge i·w of the last kept bin, half a bin (≤ 0.025% of the range) apart.
 *
 * One departure: values that are exactly 0 are left out of the histogram first. Zero is a level
 * of every symmetric scale, so they are represented exactly whatever the threshold, but after a
 * ReLU they are about half of all values, and spreading that spike of bin 0 over its group in Q
 * would dominate the divergence and push the threshold far too low (on a ResNet's ReLU outputs,
 * to about 45% of the range instead of about 90%).
 */
import type { AbsHistogram } from './histogram.js';

/** Quantization levels of one sign of int8. */
export const ENTROPY_LEVELS = 128;

/** Divergences closer than this (in nats) tie: rounding in the prefix sums is far below it. */
const TIE = 1e-9;

/**
 * KL divergence of every candidate: element i is divergence(i) for i = levels..bins (Infinity
 * where Q misses some of P's mass), NaN below `levels`.
 *
 * @example
 * entropyDivergences(Float64Array.of(4, 2, 1, 1), 2); // [NaN, NaN, 0.0589, 0.0103, 0.0425]
 */
export function entropyDivergences(counts: ArrayLike<number>, levels: number = ENTROPY_LEVELS): Float64Array {
  const bins = counts.length;
  if (!Number.isInteger(levels) || levels < 1 || levels > bins) {
    throw new RangeError(`entropy calibration: levels must be an integer in 1..${bins} (the bin count), got ${levels}`);
  }
  const sums = new PrefixSums(counts);
  const out = new Float64Array(bins + 1).fill(NaN);
  for (let i = levels; i <= bins; i++) out[i] = divergence(counts, sums, i, levels);
  return out;
}

/** Prefix sums over the bins, so that each group of a candidate costs O(1). */
class PrefixSums {
  /** Σ c over bins [0, b). */
  readonly count: Float64Array;
  /** Number of non-zero bins in [0, b). */
  readonly nonzero: Int32Array;
  /** Σ c·ln c over bins [0, b). */
  readonly cLogC: Float64Array;
  constructor(counts: ArrayLike<number>) {
    const n = counts.length;
    this.count = new Float64Array(n + 1);
    this.nonzero = new Int32Array(n + 1);
    this.cLogC = new Float64Array(n + 1);
    for (let b = 0; b < n; b++) {
      const c = counts[b]!;
      if (!(c >= 0 && c < Infinity)) throw new RangeError(`entropy calibration: count ${b} is ${c}, expected a finite non-negative number`);
      this.count[b + 1] = this.count[b]! + c;
      this.nonzero[b + 1] = this.nonzero[b]! + (c > 0 ? 1 : 0);
      this.cLogC[b + 1] = this.cLogC[b]! + (c > 0 ? c * Math.log(c) : 0);
    }
  }
  get total(): number { return this.count[this.count.length - 1]!; }
}

/**
 * KL(P‖Q) of candidate i. Within a group Q is one value q per supported bin, so the group adds
 * Σ (P_b/T)·ln(P_b/(T·q)) = (Σ P_b ln P_b − (Σ P_b)·(ln T + ln q)) / T over its non-zero P_b,
 * with T = Σ P = Σ h (clipping moves mass to bin i-1, it never drops it).
 */
function divergence(counts: ArrayLike<number>, s: PrefixSums, i: number, levels: number): number {
  const total = s.total;
  if (total === 0) return 0;
  const qTotal = s.count[i]!;
  const clipped = total - qTotal;
  const lnTotal = Math.log(total);
  let kl = 0;
  for (let j = 0; j < levels; j++) {
    const start = Math.floor((j * i) / levels);
    const end = Math.floor(((j + 1) * i) / levels);
    if (start === end) continue;
    const qSum = s.count[end]! - s.count[start]!;
    let pSum = qSum;
    let pLogP = s.cLogC[end]! - s.cLogC[start]!;
    let support = s.nonzero[end]! - s.nonzero[start]!;
    if (end === i && clipped > 0) {
      const last = counts[i - 1]!;
      const withClipped = last + clipped;
      pSum += clipped;
      pLogP += withClipped * Math.log(withClipped) - (last > 0 ? last * Math.log(last) : 0);
      if (last === 0) support++;
    }
    if (pSum === 0) continue;
    if (qSum === 0) return Infinity; // P has mass where Q has none
    const lnQ = Math.log(qSum / support / qTotal);
    kl += (pLogP - pSum * (lnTotal + lnQ)) / total;
  }
  return kl;
}

/**
 * The entropy-calibrated amax of a histogram without its exact zeros: i·binWidth for the
 * candidate i of least KL divergence (the largest i among those within 1e-9 of the least).
 * 0 for an empty or all-zero histogram.
 *
 * @example
 * const h = new AbsHistogram();
 * h.add(activations.toFloat32());
 * const scale = entropyAmax(h) / 127;
 */
export function entropyAmax(hist: AbsHistogram, levels: number = ENTROPY_LEVELS): number {
  if (hist.total === 0 || hist.range === 0) return 0;
  const counts = Float64Array.from(hist.counts);
  counts[0] = counts[0]! - hist.zeros; // exact zeros: represented exactly at any threshold
  const kl = entropyDivergences(counts, levels);
  let least = Infinity;
  for (let i = levels; i <= hist.bins; i++) least = Math.min(least, kl[i]!);
  let best = hist.bins;
  while (best > levels && !(kl[best]! - least <= TIE)) best--;
  return best * hist.binWidth;
}
