/**
 * Post-training calibration (TensorRT's IInt8Calibrator): run the float model over batches of
 * representative inputs, collect per observed tensor the largest |x| and a histogram of |x|, then
 * turn each into a clipping threshold amax by the chosen method:
 *   - 'entropy': the threshold of least KL divergence (entropy.ts), TensorRT's default;
 *   - 'minmax': the largest |x| seen;
 *   - 'percentile': the given percentile of |x| (percentile.ts).
 * One pass over the data; batches are validated against the model's inputs.
 */
import type { GraphModule } from '../ir/graph_module.js';
import { isFloating } from '../tensor/dtype.js';
import { Tensor } from '../tensor/tensor.js';
import { entropyAmax, ENTROPY_LEVELS } from './entropy.js';
import { AbsHistogram, HISTOGRAM_BINS } from './histogram.js';
import type { TensorObserver } from './observe.js';
import { checkPercentile, DEFAULT_PERCENTILE, percentileAmax } from './percentile.js';

/** How activation thresholds are chosen. */
export type CalibrationMethod = 'entropy' | 'minmax' | 'percentile';

/** One set of model inputs, like the example inputs of compile. */
export type CalibrationBatch = readonly Tensor[];

/** Calibration batches: an array (or any iterable) or an async iterable, read once. */
export type CalibrationData = Iterable<CalibrationBatch> | AsyncIterable<CalibrationBatch>;

/** What calibration is doing: running batches, computing thresholds, measuring layers, falling back. */
export type CalibrationPhase = 'collect' | 'thresholds' | 'sensitivity' | 'fallback';

/** What a calibration progress callback receives after each step of a phase. */
export interface CalibrationProgress {
  readonly phase: CalibrationPhase;
  /** 1-based: the batch ('collect'), tensor ('thresholds') or evaluation ('sensitivity', 'fallback') just done. */
  readonly index: number;
  /** How many steps the phase has; undefined while reading batches of an async iterable. */
  readonly total: number | undefined;
  readonly message: string;
}

/** A bad calibration input or statistic; names the batch, input or tensor at fault. */
export class CalibrationError extends Error {
  override name = 'CalibrationError';
}

/** The method and its parameters, as recorded in a calibration cache. */
export interface MethodSpec {
  readonly method: CalibrationMethod;
  readonly params: Readonly<Record<string, number>>;
}

/**
 * The method with every parameter its thresholds depend on (defaults filled in).
 * @example methodSpec('percentile'); // { method: 'percentile', params: { percentile: 99.99, bins: 2048 } }
 */
export function methodSpec(method: CalibrationMethod = 'entropy', percentile?: number): MethodSpec {
  switch (method) {
    case 'entropy': return { method, params: { bins: HISTOGRAM_BINS, levels: ENTROPY_LEVELS } };
    case 'minmax': return { method, params: {} };
    case 'percentile': {
      const p = percentile ?? DEFAULT_PERCENTILE;
      checkPercentile(p);
      return { method, params: { percentile: p, bins: HISTOGRAM_BINS } };
    }
    default: throw new CalibrationError(`calibration: method must be 'entropy', 'minmax' or 'percentile', got '${String(method)}'`);
  }
}

/** Options of collectAmax. */
export interface CollectOptions {
  readonly spec: MethodSpec;
  readonly observer: TensorObserver;
  /** The model's example inputs: every batch must match their count, dtypes and ranks. */
  readonly example: readonly Tensor[];
  /** How many leading batches to keep for later evaluation (default 0). */
  readonly keep?: number;
  readonly onProgress?: (p: CalibrationProgress) => void;
}

/** Thresholds per tensor, and what produced them. */
export interface CollectedAmax {
  readonly amax: ReadonlyMap<string, number>;
  /** Batches the model ran on. */
  readonly batches: number;
  /** The first `keep` batches. */
  readonly kept: readonly CalibrationBatch[];
}

/** max |x| and, for the histogram methods, the histogram of one tensor. */
class TensorStatistics {
  max = 0;
  /** Batches this tensor was observed in. */
  seen = 0;
  readonly histogram: AbsHistogram | null;
  constructor(withHistogram: boolean) {
    this.histogram = withHistogram ? new AbsHistogram() : null;
  }
  add(values: Float32Array): void {
    this.seen++;
    if (this.histogram) {
      this.histogram.add(values);
      this.max = this.histogram.max;
      return;
    }
    let m = this.max;
    for (let i = 0; i < values.length; i++) {
      const a = Math.abs(values[i]!);
      if (!(a <= Number.MAX_VALUE)) throw new RangeError(`element ${i} is ${values[i]} (calibration needs finite values)`);
      if (a > m) m = a;
    }
    this.max = m;
  }
  amax(spec: MethodSpec): number {
    if (!this.histogram) return this.max;
    return spec.method === 'entropy' ? entropyAmax(this.histogram) : percentileAmax(this.histogram, spec.params['percentile']!);
  }
}

/** Rejects a batch that is not a list of tensors like the example inputs (count, dtypes, ranks), naming what differs. */
export function checkBatch(batch: unknown, index: number, example: readonly Tensor[]): CalibrationBatch {
  const where = `calibration batch ${index}`;
  if (!Array.isArray(batch)) throw new CalibrationError(`${where}: expected an array of ${example.length} tensor(s) (the model's inputs), got ${describe(batch)}`);
  if (batch.length !== example.length) throw new CalibrationError(`${where}: expected ${example.length} input tensor(s), got ${batch.length}`);
  const tensors: Tensor[] = [];
  batch.forEach((t: unknown, i) => {
    const want = example[i]!;
    if (!(t instanceof Tensor)) throw new CalibrationError(`${where}, input ${i}: expected a Tensor, got ${describe(t)}`);
    if (t.dtype !== want.dtype) throw new CalibrationError(`${where}, input ${i}: dtype ${t.dtype} differs from the example input's ${want.dtype}`);
    if (t.rank !== want.rank) throw new CalibrationError(`${where}, input ${i}: rank ${t.rank} [${t.shape.join(', ')}] differs from the example input's rank ${want.rank} [${want.shape.join(', ')}]`);
    tensors.push(t);
  });
  return tensors;
}

function describe(v: unknown): string {
  if (v instanceof Tensor) return `a Tensor of shape [${v.shape.join(', ')}]`;
  if (Array.isArray(v)) return `an array of ${v.length}`;
  return v === null ? 'null' : typeof v;
}

/** Rejects calibration data that is neither an array nor an (async) iterable. */
export function checkData(data: unknown): asserts data is CalibrationData {
  const iterable = data !== null && typeof data === 'object' && (Symbol.iterator in data || Symbol.asyncIterator in data);
  if (!iterable) throw new CalibrationError(`calibration: data must be an array or an (async) iterable of input batches, got ${describe(data)}`);
}

/**
 * Runs the model over `data` with `observer`, collecting statistics of `tensors` (node names of
 * the acc graph), and returns each one's amax by the method of `spec`.
 *
 * @example
 * const { amax } = await collectAmax(gm, ['x', 'relu'], batches, {
 *   spec: methodSpec('entropy'), observer: interpreterObserver(gm, ['x', 'relu']), example: [x],
 * });
 */
export async function collectAmax(gm: GraphModule, tensors: readonly string[], data: CalibrationData, opts: CollectOptions): Promise<CollectedAmax> {
  checkData(data);
  if (opts.example.length !== gm.graph.placeholders.length) {
    throw new CalibrationError(`calibration: the model takes ${gm.graph.placeholders.length} input(s), the example has ${opts.example.length}`);
  }
  const withHistogram = opts.spec.method !== 'minmax';
  const stats = new Map(tensors.map((t) => [t, new TensorStatistics(withHistogram)]));
  const total = Array.isArray(data) ? data.length : undefined;
  const keep = opts.keep ?? 0;
  const kept: CalibrationBatch[] = [];
  const sink = (name: string, value: Tensor): void => {
    const s = stats.get(name);
    if (!s) return;
    if (!isFloating(value.dtype)) throw new CalibrationError(`calibration: tensor '${name}' is ${value.dtype}; only floating-point tensors are calibrated`);
    try {
      s.add(value.toFloat32());
    } catch (e) {
      throw new CalibrationError(`calibration: tensor '${name}': ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
  };
  let count = 0;
  for await (const raw of data) {
    const batch = checkBatch(raw, count, opts.example);
    await opts.observer.observe(batch, sink);
    if (kept.length < keep) kept.push(batch);
    count++;
    opts.onProgress?.({ phase: 'collect', index: count, total, message: `batch ${count}${total === undefined ? '' : `/${total}`} on ${opts.observer.where}` });
  }
  if (count === 0) throw new CalibrationError('calibration: data has no batches');
  for (const [name, s] of stats) {
    if (s.seen !== count) throw new CalibrationError(`calibration: tensor '${name}' was observed in ${s.seen} of ${count} batch(es)`);
  }
  const amax = new Map<string, number>();
  let done = 0;
  for (const [name, s] of stats) {
    amax.set(name, s.amax(opts.spec));
    done++;
    opts.onProgress?.({ phase: 'thresholds', index: done, total: stats.size, message: `${opts.spec.method} threshold of '${name}'` });
  }
  return { amax, batches: count, kept };
}
