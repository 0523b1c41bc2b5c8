import { Tensor } from './tensor.js';
import { shapesEqual } from './shape.js';

/**
 * Whether `|a - b| <= atol + rtol * |b|` holds elementwise (NumPy's allclose), with equal
 * shapes; NaNs are equal only with `equalNan`.
 *
 * @example
 * allClose(Tensor.fromArray([1, 2]), Tensor.fromArray([1, 2.000001])); // true
 */
export function allClose(a: Tensor, b: Tensor, opts: { rtol?: number; atol?: number; equalNan?: boolean } = {}): boolean {
  if (!shapesEqual(a.shape, b.shape)) return false;
  const rtol = opts.rtol ?? 1e-5;
  const atol = opts.atol ?? 1e-8;
  const x = a.toFloat64();
  const y = b.toFloat64();
  for (let i = 0; i < x.length; i++) {
    const u = x[i]!;
    const v = y[i]!;
    if (Number.isNaN(u) || Number.isNaN(v)) {
      if (!(opts.equalNan && Number.isNaN(u) && Number.isNaN(v))) return false;
      continue;
    }
    if (u === v) continue; // equal infinities
    if (!(Math.abs(u - v) <= atol + rtol * Math.abs(v))) return false;
  }
  return true;
}

/** Largest elementwise |a - b| (NaN if any element is NaN in one and not the other). */
export function maxAbsDiff(a: Tensor, b: Tensor): number {
  if (!shapesEqual(a.shape, b.shape)) throw new RangeError(`maxAbsDiff: shapes [${a.shape.join(', ')}] and [${b.shape.join(', ')}] differ`);
  const x = a.toFloat64();
  const y = b.toFloat64();
  let m = 0;
  for (let i = 0; i < x.length; i++) {
    const d = Math.abs(x[i]! - y[i]!);
    if (Number.isNaN(d) && !(Number.isNaN(x[i]!) && Number.isNaN(y[i]!))) return NaN;
    if (d > m) m = d;
  }
  return m;
}

/** Cosine similarity of the two tensors flattened (1 for identical directions). */
export function cosineSimilarity(a: Tensor, b: Tensor): number {
  if (a.numel !== b.numel) throw new RangeError(`cosineSimilarity: ${a.numel} vs ${b.numel} elements`);
  const x = a.toFloat64();
  const y = b.toFloat64();
  let dot = 0, nx = 0, ny = 0;
  for (let i = 0; i < x.length; i++) {
    dot += x[i]! * y[i]!;
    nx += x[i]! * x[i]!;
    ny += y[i]! * y[i]!;
  }
  if (nx === 0 && ny === 0) return 1;
  return dot / Math.sqrt(nx * ny);
}
