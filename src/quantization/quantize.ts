/**
 * Post-training quantization of an acc graph, the step compile() runs for precision 'int8' on a
 * float graph:
 *
 *   plan layers (placement.ts) → thresholds from the cache, or calibrate on the data (or, with
 *   a warning, the example inputs) and write the cache → decide each layer's precision
 *   (exclusions, layers outside the engines, sensitivity fallback to an accuracy target)
 *   → insert Q/DQ (insert_qdq.ts) → report.
 */
import { hasAccOp } from '../acc_ops/registry.js';
import type { GraphModule } from '../ir/graph_module.js';
import { PassManager } from '../passes/pass_manager.js';
import { decideSupport } from '../splitter/operator_support.js';
import type { Tensor } from '../tensor/tensor.js';
import { graphStructureHash, readCalibrationCache, writeCalibrationCache, type CalibrationCache } from './cache.js';
import {
  checkBatch, checkData, collectAmax, methodSpec, type CalibrationBatch, type CalibrationData, type CalibrationMethod, type CalibrationProgress,
} from './calibrator.js';
import { interpreterObserver, type ObserverFactory } from './observe.js';
import { activationTensors, planLayers, type LayerPlan } from './placement.js';
import { insertQdqPass } from './insert_qdq.js';
import type { CalibrationRecord, FloatReasonKind, LayerPrecisionRecord, QuantizationReport } from './report.js';
import { scaleOf, type QuantFormat } from './scales.js';
import {
  checkAccuracyTarget, fallBackUntil, meetsTarget, QuantizationEvaluator, rankLayers, type AccuracyTarget, type Agreement,
  type LayerSensitivity,
} from './sensitivity.js';

/** compile's `calibration` option. */
export interface CalibrationOptions {
  /** Batches of model inputs (an array or an async iterable); absent: the example inputs, with a warning. */
  readonly data?: CalibrationData;
  /** How activation thresholds are chosen (default 'entropy'). */
  readonly method?: CalibrationMethod;
  /** The percentile of |x| for method 'percentile' (default 99.99). */
  readonly percentile?: number;
  /** A file path (or store) holding thresholds by tensor name: read when it matches, written after calibrating. */
  readonly cache?: CalibrationCache;
  /** Called after each batch, threshold and sensitivity measurement. */
  readonly onProgress?: (p: CalibrationProgress) => void;
}

/** compile's `quantization` option. */
export interface QuantizationOptions {
  /** Layers kept in float: node names of the acc graph, or acc op kinds ('conv2d' or 'acc.conv2d'). */
  readonly exclude?: readonly string[];
  /** Puts the most sensitive layers back to float until the outputs agree with fp32 this well on calibration batches. */
  readonly accuracyTarget?: AccuracyTarget;
  /** Rank every layer's sensitivity even when no target needs it (default false). */
  readonly sensitivity?: boolean;
  /** How many of the first calibration batches accuracy is measured on (default 4). */
  readonly evaluationBatches?: number;
  /** Receives the report: which layers run in int8, which stayed in float and why, the scales. */
  readonly onReport?: (report: QuantizationReport) => void;
}

/** Options of quantizeGraph. */
export interface QuantizeGraphOptions {
  readonly calibration?: CalibrationOptions;
  readonly quantization?: QuantizationOptions;
  /** compile's excludeOps: layers kept out of the engines stay in float. */
  readonly excludeOps?: readonly string[];
  /** Where the float model runs to be observed (default: the reference interpreter). */
  readonly observer?: ObserverFactory;
  /**
   * What to quantize to (default 'int8'). 'float8e4m3' (compile's precision 'fp8'): matrix
   * products only, scales amax / 448, weights per tensor, calibration method 'minmax' by default.
   */
  readonly format?: QuantFormat;
}

/** The quantized graph and what was done to it. */
export interface QuantizeGraphResult {
  readonly gm: GraphModule;
  readonly report: QuantizationReport;
}

/** Warning code of calibrating on the example inputs. */
export const EXAMPLE_INPUTS_WARNING = 'FXRT_CALIBRATION_EXAMPLE_INPUTS';

const DEFAULT_EVALUATION_BATCHES = 4;

interface Thresholds {
  readonly amax: ReadonlyMap<string, number>;
  readonly record: CalibrationRecord;
  /** Leading calibration batches kept for accuracy measurements (empty when read from the cache). */
  readonly kept: readonly CalibrationBatch[];
}

/** The thresholds of `tensors`: from the cache when it holds them, else by calibrating (and caching). */
async function thresholds(gm: GraphModule, tensors: readonly string[], example: readonly Tensor[], opts: QuantizeGraphOptions, keep: number): Promise<Thresholds> {
  const cal = opts.calibration ?? {};
  const format = opts.format ?? 'int8';
  // FP8 keeps a float's relative precision over its range, so clipping outliers (entropy) buys
  // little and costs their values: the maximum is FP8's usual calibration.
  const spec = methodSpec(cal.method ?? (format === 'float8e4m3' ? 'minmax' : undefined), cal.percentile);
  if (tensors.length === 0) return { amax: new Map(), kept: [], record: { ...spec, source: 'none', batches: 0, where: 'none' } };
  const graph = cal.cache === undefined ? '' : graphStructureHash(gm);
  if (cal.cache !== undefined) {
    const cached = await readCalibrationCache(cal.cache, { spec, graph, tensors });
    if (cached) return { amax: cached.amax, kept: [], record: { ...spec, source: 'cache', batches: cached.batches, where: 'cache' } };
  }
  const fromExamples = cal.data === undefined;
  if (fromExamples) {
    process.emitWarning(
      `precision '${format === 'float8e4m3' ? 'fp8' : 'int8'}' without calibration.data: calibrating on the example inputs, which may not be representative of real inputs; ` +
      'pass calibration: { data } with batches drawn from real inputs for accurate scales',
      { code: EXAMPLE_INPUTS_WARNING },
    );
  }
  const observer = (opts.observer ?? interpreterObserver)(gm, tensors);
  const collected = await collectAmax(gm, tensors, cal.data ?? [example], {
    spec, observer, example, keep, ...(cal.onProgress ? { onProgress: cal.onProgress } : {}),
  });
  if (cal.cache !== undefined) await writeCalibrationCache(cal.cache, { spec, graph, batches: collected.batches, amax: collected.amax, format });
  return {
    amax: collected.amax, kept: collected.kept,
    record: { ...spec, source: fromExamples ? 'example-inputs' : 'data', batches: collected.batches, where: observer.where },
  };
}

/** The first `n` batches of the calibration data (or the example inputs), for accuracy measurements. */
async function evaluationBatches(data: CalibrationData | undefined, example: readonly Tensor[], n: number): Promise<CalibrationBatch[]> {
  if (data === undefined) return [example];
  checkData(data);
  const out: CalibrationBatch[] = [];
  for await (const b of data) {
    if (out.length >= n) break;
    out.push(checkBatch(b, out.length, example));
  }
  return out.length > 0 ? out : [example];
}

/** Rejects exclusions that name neither a node of the graph nor an acc op (a typo would silently quantize). */
function checkExclusions(gm: GraphModule, exclude: readonly string[], format: QuantFormat): void {
  const names = new Set(gm.graph.nodeList().map((n) => n.name));
  for (const e of exclude) {
    if (names.has(e) || hasAccOp(e.startsWith('acc.') ? e.slice(4) : e)) continue;
    throw new RangeError(`quantization.exclude: '${e}' is neither a node of the acc graph nor an acc op kind ` +
      `(layers: ${planLayers(gm, format).map((l) => l.node).join(', ') || 'none'})`);
  }
}

interface FloatDecision { readonly kind: FloatReasonKind; readonly reason: string }

/** Why a layer stays in float before any measurement, or undefined when it is a candidate. */
function floatBeforeMeasuring(l: LayerPlan, exclude: ReadonlySet<string>, engine: ReadonlyMap<string, string>): FloatDecision | undefined {
  if (l.unsupported !== undefined) return { kind: 'unsupported', reason: l.unsupported };
  if (exclude.has(l.node) || exclude.has(l.op) || exclude.has(`acc.${l.op}`)) return { kind: 'excluded', reason: 'excluded by the user' };
  const outside = engine.get(l.node);
  if (outside !== undefined) return { kind: 'outside-engine', reason: `runs outside the engines: ${outside}` };
  return undefined;
}

/** What measuring decided: the layers left in int8, the ranking (when it ran), those put back to float. */
interface Measured {
  readonly quantized: readonly LayerPlan[];
  readonly sensitivity: readonly LayerSensitivity[] | undefined;
  readonly fellBack: readonly LayerSensitivity[];
  readonly accuracy: { readonly target?: AccuracyTarget; readonly allQuantized: Agreement; readonly final: Agreement };
}

/**
 * Measures the model with every candidate quantized; ranks the layers when the target is missed
 * (or the ranking is asked for) and falls back the worst until the target holds.
 */
function measure(ev: QuantizationEvaluator, candidates: readonly LayerPlan[], q: QuantizationOptions,
  onProgress: ((p: CalibrationProgress) => void) | undefined): Measured {
  const target = q.accuracyTarget;
  const all = ev.measure(candidates);
  const needed = target !== undefined && !meetsTarget(all, target);
  const sensitivity = needed || q.sensitivity ? rankLayers(ev, candidates, target?.metric ?? 'cosine', onProgress) : undefined;
  const r = needed && sensitivity ? fallBackUntil(ev, candidates, sensitivity, target, all, onProgress) : undefined;
  return {
    quantized: r?.quantized ?? candidates, sensitivity, fellBack: r?.fellBack ?? [],
    accuracy: { ...(target ? { target } : {}), allQuantized: all, final: r?.agreement ?? all },
  };
}

function checkEvaluationBatches(n: number): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`quantization.evaluationBatches must be a positive integer, got ${n}`);
  return n;
}

/**
 * Quantizes an optimized acc graph for an int8 build: calibrates activation thresholds (or reads
 * them from the cache), decides each layer's precision and inserts Q/DQ. Rewrites `gm` in place
 * and returns it with the report.
 *
 * @example
 * const { gm: q, report } = await quantizeGraph(optimized, [x], {
 *   calibration: { data: batches, method: 'entropy', cache: 'model.calib.json' },
 *   quantization: { exclude: ['linear'], accuracyTarget: { metric: 'cosine', min: 0.99 } },
 * });
 * console.log(formatQuantizationReport(report));
 */
export async function quantizeGraph(gm: GraphModule, example: readonly Tensor[], opts: QuantizeGraphOptions = {}): Promise<QuantizeGraphResult> {
  const q = opts.quantization ?? {};
  if (q.accuracyTarget) checkAccuracyTarget(q.accuracyTarget);
  const evalCount = checkEvaluationBatches(q.evaluationBatches ?? DEFAULT_EVALUATION_BATCHES);
  const measuring = q.accuracyTarget !== undefined || q.sensitivity === true;
  const format = opts.format ?? 'int8';
  if (format !== 'int8' && format !== 'float8e4m3') throw new RangeError(`quantizeGraph: format must be 'int8' or 'float8e4m3', got '${String(format)}'`);
  checkExclusions(gm, q.exclude ?? [], format);
  const layers = planLayers(gm, format);
  const { amax, kept, record } = await thresholds(gm, activationTensors(layers), example, opts, measuring ? evalCount : 0);

  const exclude = new Set(q.exclude ?? []);
  const engine = new Map<string, string>();
  for (const [n, d] of decideSupport(gm.graph, opts.excludeOps ? { excludeOps: opts.excludeOps } : {}).decisions) {
    if (!d.supported) engine.set(n.name, d.reason ?? 'unsupported');
  }
  const floats = new Map<string, FloatDecision>();
  for (const l of layers) {
    const d = floatBeforeMeasuring(l, exclude, engine);
    if (d) floats.set(l.node, d);
  }
  const candidates = layers.filter((l) => !floats.has(l.node));

  let mix: Measured | undefined;
  if (measuring && candidates.length > 0) {
    const batches = kept.length > 0 ? kept : await evaluationBatches(opts.calibration?.data, example, evalCount);
    mix = measure(new QuantizationEvaluator(gm, batches, amax, format), candidates, q, opts.calibration?.onProgress);
    for (const s of mix.fellBack) {
      floats.set(s.node, { kind: 'sensitivity', reason: `sensitivity: cosine ${s.cosine.toFixed(4)} when quantized alone (relative error ${s.relativeError.toPrecision(3)})` });
    }
  }
  const quantized = mix?.quantized ?? candidates;

  const result = new PassManager([insertQdqPass(quantized, amax, format)]).run(gm);
  const records = layers.map((l): LayerPrecisionRecord => {
    const f = floats.get(l.node);
    if (f) return { node: l.node, op: l.op, precision: 'float', reason: f.reason, reasonKind: f.kind, quantizedInputs: [] };
    return { node: l.node, op: l.op, precision: format === 'float8e4m3' ? 'fp8' : 'int8', quantizedInputs: l.inputs.map((i) => i.tensor) };
  });
  const scales: Record<string, number> = {};
  for (const [name, a] of amax) scales[name] = scaleOf(a, format);
  const report: QuantizationReport = {
    format, calibration: record, layers: records, scales, ...(mix?.sensitivity ? { sensitivity: mix.sensitivity } : {}), ...(mix ? { accuracy: mix.accuracy } : {}),
  };
  q.onReport?.(report);
  return { gm: result.gm, report };
}
