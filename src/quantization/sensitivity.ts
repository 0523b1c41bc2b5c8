/**
 * Mixed precision by sensitivity: measure how far the quantized model's outputs drift from fp32
 * on calibration batches, rank layers by the drift their quantization alone causes (one layer
 * quantized, all others float), and fall back the worst layers to float until an accuracy
 * target holds. Every measurement runs the graph with Q/DQ on the reference interpreter
 * (simulated quantization), so a ranking costs one model run per layer and batch.
 */
import type { GraphModule } from '../ir/graph_module.js';
import { flattenTensors } from '../lowering/split_runner.js';
import type { Tensor } from '../tensor/tensor.js';
import type { CalibrationBatch, CalibrationProgress } from './calibrator.js';
import { copyGraphModule } from './graph_copy.js';
import { insertQdq } from './insert_qdq.js';
import type { LayerPlan } from './placement.js';
import type { QuantFormat } from './scales.js';

/** The agreement with fp32 that quantization must keep: a cosine floor or a relative-error ceiling. */
export type AccuracyTarget =
  | { readonly metric: 'cosine'; readonly min: number }
  | { readonly metric: 'relativeError'; readonly max: number };

/** How close outputs are to fp32 over the evaluation batches, for the worst output. */
export interface Agreement {
  /** Cosine similarity of all values of the output with fp32's. */
  readonly cosine: number;
  /** ‖quantized − fp32‖₂ / ‖fp32‖₂. */
  readonly relativeError: number;
}

/** The agreement of the model with one layer quantized. */
export interface LayerSensitivity extends Agreement {
  readonly node: string;
  readonly op: string;
}

/** Rejects a malformed target. */
export function checkAccuracyTarget(t: AccuracyTarget): void {
  if (t.metric === 'cosine') {
    if (!(t.min >= -1 && t.min <= 1)) throw new RangeError(`quantization.accuracyTarget: cosine min must be in [-1, 1], got ${t.min}`);
  } else if (t.metric === 'relativeError') {
    if (!(t.max >= 0)) throw new RangeError(`quantization.accuracyTarget: relativeError max must be >= 0, got ${t.max}`);
  } else {
    throw new RangeError(`quantization.accuracyTarget: metric must be 'cosine' or 'relativeError', got '${String((t as { metric: unknown }).metric)}'`);
  }
}

/** Whether `a` satisfies `target`. */
export function meetsTarget(a: Agreement, target: AccuracyTarget): boolean {
  return target.metric === 'cosine' ? a.cosine >= target.min : a.relativeError <= target.max;
}

/** How bad `a` is by `metric` (higher is worse), for ranking. */
function badness(a: Agreement, metric: AccuracyTarget['metric']): number {
  return metric === 'cosine' ? -a.cosine : a.relativeError;
}

/** The agreement in words: 'cosine 0.9312, relative error 0.3412'. */
export function formatAgreement(a: Agreement): string {
  return `cosine ${a.cosine.toFixed(4)}, relative error ${a.relativeError.toPrecision(3)}`;
}

/** Sums over all batches for one output: Σxy, Σx², Σy², Σ(x−y)². */
class OutputSums {
  dot = 0;
  xx = 0;
  yy = 0;
  diff = 0;
  add(actual: Tensor, expected: Tensor): void {
    const x = actual.toFloat32();
    const y = expected.toFloat32();
    for (let i = 0; i < y.length; i++) {
      const a = x[i]!;
      const b = y[i]!;
      this.dot += a * b;
      this.xx += a * a;
      this.yy += b * b;
      this.diff += (a - b) * (a - b);
    }
  }
  agreement(): Agreement {
    const cosine = this.xx === 0 && this.yy === 0 ? 1 : this.dot / Math.sqrt(this.xx * this.yy);
    const relativeError = this.diff === 0 ? 0 : Math.sqrt(this.diff / this.yy);
    return { cosine: Number.isNaN(cosine) ? -1 : cosine, relativeError: Number.isNaN(relativeError) ? Infinity : relativeError };
  }
}

/**
 * Measures quantized variants of one float acc graph against its fp32 outputs on fixed batches.
 *
 * @example
 * const ev = new QuantizationEvaluator(gm, batches, amax);
 * ev.measure(planLayers(gm)); // { cosine: 0.998, relativeError: 0.061 }
 */
export class QuantizationEvaluator {
  readonly #gm: GraphModule;
  readonly #batches: readonly CalibrationBatch[];
  readonly #amax: ReadonlyMap<string, number>;
  readonly #format: QuantFormat;
  readonly #reference: Tensor[][];
  /** Model runs so far (fp32 references included). */
  runs = 0;

  constructor(gm: GraphModule, batches: readonly CalibrationBatch[], amax: ReadonlyMap<string, number>, format: QuantFormat = 'int8') {
    if (batches.length === 0) throw new RangeError('QuantizationEvaluator: needs at least one batch');
    this.#format = format;
    this.#gm = gm;
    this.#batches = batches;
    this.#amax = amax;
    this.#reference = batches.map((b) => this.#run(gm, b));
  }

  #run(gm: GraphModule, batch: CalibrationBatch): Tensor[] {
    this.runs++;
    return flattenTensors(gm.forward(...batch.map((t) => t.clone())), 'model output');
  }

  /** The agreement of the model with exactly `layers` quantized (worst output over all batches). */
  measure(layers: readonly LayerPlan[]): Agreement {
    const variant = copyGraphModule(this.#gm);
    insertQdq(variant, layers, this.#amax, this.#format);
    const sums: OutputSums[] = [];
    this.#batches.forEach((batch, b) => {
      const outs = this.#run(variant, batch);
      const ref = this.#reference[b]!;
      ref.forEach((expected, i) => (sums[i] ??= new OutputSums()).add(outs[i]!, expected));
    });
    const all = sums.map((s) => s.agreement());
    return {
      cosine: Math.min(...all.map((a) => a.cosine)),
      relativeError: Math.max(...all.map((a) => a.relativeError)),
    };
  }
}

/**
 * Each layer's sensitivity (the model with only that layer quantized), worst first by `metric`.
 *
 * @example
 * rankLayers(ev, planLayers(gm), 'cosine')[0]; // { node: 'linear_1', op: 'linear', cosine: 0.94, relativeError: 0.35 }
 */
export function rankLayers(ev: QuantizationEvaluator, layers: readonly LayerPlan[], metric: AccuracyTarget['metric'] = 'cosine',
  onProgress?: (p: CalibrationProgress) => void): LayerSensitivity[] {
  const out = layers.map((l, i) => {
    const a = ev.measure([l]);
    onProgress?.({ phase: 'sensitivity', index: i + 1, total: layers.length, message: `'${l.node}' alone quantized: ${formatAgreement(a)}` });
    return { node: l.node, op: l.op, ...a };
  });
  return out.sort((x, y) => badness(y, metric) - badness(x, metric));
}

/** What falling back reached. */
export interface FallbackResult {
  /** The layers still quantized. */
  readonly quantized: readonly LayerPlan[];
  /** The layers put back to float, in the order they were. */
  readonly fellBack: readonly LayerSensitivity[];
  /** The agreement of the final mix. */
  readonly agreement: Agreement;
}

/**
 * Puts layers back to float, worst of `ranking` first, until the model with the remaining
 * layers quantized meets `target` (`start` is the agreement with all of `layers` quantized).
 * With every layer in float the model is fp32 itself, so the loop always ends at the target.
 */
export function fallBackUntil(ev: QuantizationEvaluator, layers: readonly LayerPlan[], ranking: readonly LayerSensitivity[],
  target: AccuracyTarget, start: Agreement, onProgress?: (p: CalibrationProgress) => void): FallbackResult {
  let agreement = start;
  const fellBack: LayerSensitivity[] = [];
  const floatNodes = new Set<string>();
  for (const worst of ranking) {
    if (meetsTarget(agreement, target)) break;
    fellBack.push(worst);
    floatNodes.add(worst.node);
    const remaining = layers.filter((l) => !floatNodes.has(l.node));
    agreement = remaining.length > 0 ? ev.measure(remaining) : { cosine: 1, relativeError: 0 };
    onProgress?.({ phase: 'fallback', index: fellBack.length, total: ranking.length, message: `'${worst.node}' back to float: ${formatAgreement(agreement)}` });
  }
  return { quantized: layers.filter((l) => !floatNodes.has(l.node)), fellBack, agreement };
}
