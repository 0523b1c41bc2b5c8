/**
 * Accuracy of a lowered module against the reference interpreter: per output, the max absolute
 * error, the error relative to the reference's largest magnitude, and the cosine similarity
 * (seed 002 reports both: a large max error can coexist with a similarity of 1.0000).
 */
import { formatShape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';

/** How one output compares with the reference. */
export interface OutputAccuracy {
  readonly index: number;
  readonly maxAbsError: number;
  /** maxAbsError / max |reference| (0 when both are all zeros). */
  readonly relError: number;
  /** Cosine similarity of the flattened outputs (1 when both are all zeros). */
  readonly cosineSimilarity: number;
  /** Whether NaNs appear at the same places in both. */
  readonly nanMismatch: boolean;
}

/** The comparison of every output, against a relative tolerance. */
export interface AccuracyReport {
  readonly outputs: readonly OutputAccuracy[];
  readonly maxAbsError: number;
  readonly maxRelError: number;
  readonly minCosineSimilarity: number;
  readonly tolerance: number;
  readonly passed: boolean;
}

/** Raised when outputs cannot be compared (count, shape or dtype differ) or differ beyond the tolerance. */
export class AccuracyError extends Error {
  override name = 'AccuracyError';
  readonly report: AccuracyReport | undefined;
  constructor(message: string, report?: AccuracyReport) {
    super(message);
    this.report = report;
  }
}

function compareOne(index: number, ref: Tensor, got: Tensor): OutputAccuracy {
  if (ref.shape.length !== got.shape.length || ref.shape.some((d, i) => d !== got.shape[i])) {
    throw new AccuracyError(`output ${index}: shape ${formatShape(got.shape)} differs from the reference ${formatShape(ref.shape)}`);
  }
  if (ref.dtype !== got.dtype) throw new AccuracyError(`output ${index}: dtype ${got.dtype} differs from the reference ${ref.dtype}`);
  const a = ref.toFloat64();
  const b = got.toFloat64();
  let maxAbs = 0;
  let maxRef = 0;
  let dot = 0;
  let na = 0;
  let nb = 0;
  let nanMismatch = false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (Number.isNaN(x) || Number.isNaN(y)) {
      if (Number.isNaN(x) !== Number.isNaN(y)) nanMismatch = true;
      continue;
    }
    const d = x === y ? 0 : Math.abs(x - y);
    if (d > maxAbs) maxAbs = d;
    const m = Math.abs(x);
    if (m > maxRef) maxRef = m;
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  const relError = maxAbs === 0 ? 0 : maxRef === 0 ? Infinity : maxAbs / maxRef;
  const cosineSimilarity = na === 0 && nb === 0 ? 1 : na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
  return { index, maxAbsError: maxAbs, relError, cosineSimilarity, nanMismatch };
}

/**
 * Compares outputs with the reference; `passed` when every output's relative error is within
 * `tolerance` and NaNs agree.
 *
 * @example
 * const r = compareWithReference(refOutputs, await lowered.run([x]), 1e-4);
 * r.maxAbsError; r.minCosineSimilarity; r.passed;
 */
export function compareWithReference(reference: readonly Tensor[], actual: readonly Tensor[], tolerance: number): AccuracyReport {
  if (reference.length !== actual.length) {
    throw new AccuracyError(`the lowered module returned ${actual.length} output(s), the reference ${reference.length}`);
  }
  const outputs = reference.map((r, i) => compareOne(i, r, actual[i]!));
  let maxAbsError = 0;
  let maxRelError = 0;
  let minCosineSimilarity = 1;
  for (const o of outputs) {
    maxAbsError = Math.max(maxAbsError, o.maxAbsError);
    maxRelError = Math.max(maxRelError, o.relError);
    minCosineSimilarity = Math.min(minCosineSimilarity, o.cosineSimilarity);
  }
  const passed = outputs.every((o) => !o.nanMismatch && o.relError <= tolerance);
  return { outputs, maxAbsError, maxRelError, minCosineSimilarity, tolerance, passed };
}

/** One line: `max abs err 1.2e-6, rel 3.4e-7, cosine 1.000000 (tolerance 1e-4): ok`. */
export function formatAccuracy(r: AccuracyReport): string {
  const nan = r.outputs.some((o) => o.nanMismatch) ? ', NaNs differ' : '';
  return `max abs err ${r.maxAbsError.toExponential(3)}, rel ${r.maxRelError.toExponential(3)}, ` +
    `cosine similarity ${r.minCosineSimilarity.toFixed(6)}${nan} (tolerance ${r.tolerance}): ${r.passed ? 'ok' : 'FAILED'}`;
}

/** A number field of a JSON object; JSON writes ±Infinity as null, read back as Infinity. */
function jsonNumber(o: object, key: string, where: string): number {
  const v: unknown = Reflect.get(o, key);
  if (v === null) return Infinity;
  if (typeof v !== 'number') throw new TypeError(`${where}.${key} is not a number`);
  return v;
}

function jsonObject(v: unknown, where: string): object {
  if (v === null || typeof v !== 'object') throw new TypeError(`${where} is not an object`);
  return v;
}

/**
 * Reads an accuracy report back from JSON (a saved lowered module), checking every field.
 *
 * @example
 * const report = accuracyFromJSON(JSON.parse(JSON.stringify(lowered.validation)));
 */
export function accuracyFromJSON(raw: unknown): AccuracyReport {
  const o = jsonObject(raw, 'validation');
  const outs: unknown = Reflect.get(o, 'outputs');
  if (!Array.isArray(outs)) throw new TypeError('validation.outputs is not a list');
  const outputs = outs.map((v: unknown, i): OutputAccuracy => {
    const where = `validation.outputs[${i}]`;
    const e = jsonObject(v, where);
    const nan: unknown = Reflect.get(e, 'nanMismatch');
    if (typeof nan !== 'boolean') throw new TypeError(`${where}.nanMismatch is not a boolean`);
    return {
      index: jsonNumber(e, 'index', where), maxAbsError: jsonNumber(e, 'maxAbsError', where), relError: jsonNumber(e, 'relError', where),
      cosineSimilarity: jsonNumber(e, 'cosineSimilarity', where), nanMismatch: nan,
    };
  });
  const passed: unknown = Reflect.get(o, 'passed');
  if (typeof passed !== 'boolean') throw new TypeError('validation.passed is not a boolean');
  return {
    outputs, passed,
    maxAbsError: jsonNumber(o, 'maxAbsError', 'validation'), maxRelError: jsonNumber(o, 'maxRelError', 'validation'),
    minCosineSimilarity: jsonNumber(o, 'minCosineSimilarity', 'validation'), tolerance: jsonNumber(o, 'tolerance', 'validation'),
  };
}
