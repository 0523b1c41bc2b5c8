/**
 * Latency and throughput of a module, a lowered module or a function, timed with
 * performance.now(). Bounded: a time budget stops the loop early, and each awaited call races
 * a timeout, so a benchmark never blocks forever.
 */
import type { Module } from './nn/module.js';
import type { Tensor } from './tensor/tensor.js';

/** Anything that runs asynchronously on a list of tensors (LoweredModule, EngineModule). */
export interface AsyncRunnable {
  run(inputs: readonly Tensor[]): Promise<readonly Tensor[]>;
}

/** What `benchmark` times: a Module (its forward), an async runnable, or a function of the inputs. */
export type Benchmarkable = Module | AsyncRunnable | ((inputs: readonly Tensor[]) => unknown);

/** How many calls to make and how long to wait at most. */
export interface BenchmarkOptions {
  /** Untimed calls first (default 3). */
  readonly warmup?: number;
  /** Timed calls (default 20). */
  readonly iterations?: number;
  /** Items per call, for throughput (default 1: calls per second). */
  readonly batchSize?: number;
  /** Stop timing after this many ms of timed calls, keeping those done (default 60 000). */
  readonly maxTimeMs?: number;
  /** Fail when one awaited call takes longer than this (default 300 000 ms). */
  readonly callTimeoutMs?: number;
}

/** Latency statistics in milliseconds per call, and throughput in items per second. */
export interface BenchmarkResult {
  readonly min: number;
  readonly median: number;
  readonly mean: number;
  readonly p99: number;
  readonly max: number;
  /** batchSize / mean latency, in items per second. */
  readonly throughput: number;
  /** Timed calls actually made (fewer than asked when maxTimeMs ran out). */
  readonly iterations: number;
  readonly batchSize: number;
}

/** Raised when one call outlasts `callTimeoutMs`. */
export class BenchmarkTimeoutError extends Error {
  override name = 'BenchmarkTimeoutError';
}

function positiveInt(v: number, what: string, min: number): number {
  if (!Number.isInteger(v) || v < min) throw new RangeError(`benchmark: ${what} must be an integer >= ${min}, got ${v}`);
  return v;
}

function isAsyncRunnable(x: object): x is AsyncRunnable {
  return typeof Reflect.get(x, 'run') === 'function';
}

/** A runnable's `run` wins over a Module's forward: engine-backed modules only run asynchronously. */
function toCall(target: Benchmarkable, inputs: readonly Tensor[]): () => unknown {
  if (typeof target === 'function') return () => target(inputs);
  if (isAsyncRunnable(target)) return () => target.run(inputs);
  return () => target.forward(...inputs);
}

async function settle(value: unknown, timeoutMs: number, index: number): Promise<void> {
  if (!(value instanceof Promise)) return;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new BenchmarkTimeoutError(`benchmark: call ${index} did not finish within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([value, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Nearest-rank percentile of sorted samples. */
function percentile(sorted: Float64Array, p: number): number {
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

/**
 * Times `target` on `inputs`: `warmup` untimed calls, then up to `iterations` timed ones.
 *
 * @example
 * const r = await benchmark(lowered, [x], { warmup: 2, iterations: 10, batchSize: 1 });
 * console.log(`median ${r.median.toFixed(2)} ms, ${r.throughput.toFixed(1)} items/s`);
 */
export async function benchmark(target: Benchmarkable, inputs: readonly Tensor[], opts: BenchmarkOptions = {}): Promise<BenchmarkResult> {
  const warmup = positiveInt(opts.warmup ?? 3, 'warmup', 0);
  const iterations = positiveInt(opts.iterations ?? 20, 'iterations', 1);
  const batchSize = opts.batchSize ?? 1;
  if (!(batchSize > 0)) throw new RangeError(`benchmark: batchSize must be positive, got ${batchSize}`);
  const maxTimeMs = opts.maxTimeMs ?? 60_000;
  const callTimeoutMs = opts.callTimeoutMs ?? 300_000;
  const call = toCall(target, inputs);
  for (let i = 0; i < warmup; i++) await settle(call(), callTimeoutMs, i);
  const samples = new Float64Array(iterations);
  let done = 0;
  let spent = 0;
  while (done < iterations && (done === 0 || spent < maxTimeMs)) {
    const t0 = performance.now();
    await settle(call(), callTimeoutMs, warmup + done);
    const ms = performance.now() - t0;
    samples[done++] = ms;
    spent += ms;
  }
  const timed = samples.subarray(0, done).sort();
  const mean = spent / done;
  return {
    min: timed[0]!,
    median: done % 2 === 1 ? timed[(done - 1) / 2]! : (timed[done / 2 - 1]! + timed[done / 2]!) / 2,
    mean,
    p99: percentile(timed, 99),
    max: timed[done - 1]!,
    throughput: mean > 0 ? (batchSize * 1000) / mean : Infinity,
    iterations: done,
    batchSize,
  };
}
