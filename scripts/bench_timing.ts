/**
 * The benchmarks' timing statistics (scripts/bench_gpu.ts and the other GPU scripts): the median,
 * a timed loop of awaited calls after a warm-up, and the paired timing of two calls in alternating
 * rounds that the quantized engines' ratios to our fp16 engine come from. A module of its own, so
 * CI tests the arithmetic the committed ratios rest on (test/bench_timing.test.ts).
 */

/** The median of `xs` (the mean of the middle two for an even count). */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new RangeError('median: no values');
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Warm-up before every timed loop, at least: the GPU's clocks ramp up under load (bench_gpu_peers.py warms up as long). */
export const WARMUP_MS = 300;

/** At least `warmup` awaited calls of `fn`, and calls for at least `warmupMs` ms. */
export async function warmUp(warmup: number, fn: () => Promise<void>, warmupMs = WARMUP_MS): Promise<void> {
  const start = performance.now();
  for (let i = 0; i < warmup || performance.now() - start < warmupMs; i++) await fn();
}

/**
 * Median ms of `iters` (at least 1) awaited calls of `fn`, after warmUp(warmup, fn, warmupMs)
 * (0 ms: the warm-up count alone).
 */
export async function timeMs(iters: number, warmup: number, fn: () => Promise<void>, warmupMs = WARMUP_MS): Promise<number> {
  if (!(iters >= 1)) throw new RangeError(`timeMs: at least one timed call, got ${iters}`);
  await warmUp(warmup, fn, warmupMs);
  const times: number[] = [];
  for (let i = 0; i < iters; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return median(times);
}

/** Rounds of the paired timing of a quantized engine against our fp16 one. */
export const PAIRED_ROUNDS = 7;

/** The warm-up and the timed loop pairedMs runs (warmUp and timeMs; a parameter, for tests). */
export interface Timer {
  readonly warmUp: (warmup: number, fn: () => Promise<void>, warmupMs?: number) => Promise<void>;
  readonly timeMs: (iters: number, warmup: number, fn: () => Promise<void>, warmupMs?: number) => Promise<number>;
}

/**
 * Paired timing of two calls `a` and `b` (a quantized engine and our fp16 engine of one
 * workload): after both are warmed up (warmUp's default), PAIRED_ROUNDS rounds each time
 * both (`iters` calls after 10 warm-up calls), `a` first in even rounds and `b` first in odd ones,
 * so the drift of the host and the GPU's clocks over a run falls on both alike and one disturbed
 * loop does not decide the ratio. Each call's median of its round medians, and the median of the
 * rounds' ratios b / a.
 */
export async function pairedMs(iters: number, a: () => Promise<void>, b: () => Promise<void>, timer: Timer = { warmUp, timeMs }): Promise<{ a: number; b: number; ratio: number }> {
  await timer.warmUp(10, a);
  await timer.warmUp(10, b);
  return pairedRounds(() => timer.timeMs(iters, 10, a, 0), () => timer.timeMs(iters, 10, b, 0));
}

/**
 * The rounds of a paired timing: PAIRED_ROUNDS rounds each measuring `a` and `b` once (ms; e.g. a
 * timed loop, or the median GPU time of runs enqueued back to back), `a` first in even rounds and
 * `b` first in odd ones. Each side's median of its round measures, and the median of the rounds'
 * ratios b / a.
 */
export async function pairedRounds(a: () => Promise<number>, b: () => Promise<number>): Promise<{ a: number; b: number; ratio: number }> {
  const as: number[] = [];
  const bs: number[] = [];
  for (let r = 0; r < PAIRED_ROUNDS; r++) {
    for (const first of r % 2 === 0 ? [true, false] : [false, true]) {
      if (first) as.push(await a());
      else bs.push(await b());
    }
  }
  return { a: median(as), b: median(bs), ratio: median(as.map((t, i) => bs[i]! / t)) };
}

/** How long an engine runs before and while its steady-state GPU time is taken (steadyGpuMs). */
export interface SteadyOptions {
  /** Ms of runs enqueued back to back, untimed, so the GPU's clock settles at this engine's power draw. */
  readonly settleMs: number;
  /** Ms of runs timed after that. */
  readonly windowMs: number;
  /** About how many ms of runs each gpuTimes call enqueues (its run count from a first short call). */
  readonly chunkMs: number;
}

/** The settling time and window of a --steady SETTLE_MS,WINDOW_MS argument (gpuTimes calls of about 50 ms each). */
export function parseSteady(text: string): SteadyOptions {
  const parts = text.split(',');
  const [settleMs, windowMs] = parts.map((s) => (s.trim() === '' ? NaN : Number(s)));
  if (parts.length !== 2 || !(Number.isFinite(settleMs) && settleMs! >= 0 && Number.isFinite(windowMs) && windowMs! > 0)) {
    throw new Error(`--steady takes SETTLE_MS,WINDOW_MS (settle >= 0, window > 0), got '${text}'`);
  }
  return { settleMs: settleMs!, windowMs: windowMs!, chunkMs: 50 };
}

/**
 * trtexec's GPU compute time over a duration rather than a count: runs one engine back to back,
 * untimed for `settleMs` and timed for `windowMs`, in calls of `gpuTimes(runs)` (GPU ms of each of
 * that many runs enqueued back to back, CudaEngineRunner.gpuTimes) of about `chunkMs` each. Under
 * a power cap the GPU's clock follows the power the running engine draws within tens of ms, so a
 * count of runs that lasts a few ms is timed partly at the clock the work before it left; after the
 * settling time the window sees the engine's own. The median ms per run over the window, the runs
 * timed, and the window's start and end on `now`'s clock (Date.now by default: the clock sampler's).
 */
export async function steadyGpuMs(gpuTimes: (runs: number) => Promise<readonly number[]>, options: SteadyOptions, now: () => number = Date.now): Promise<{ ms: number; runs: number; start: number; end: number }> {
  const { settleMs, windowMs, chunkMs } = options;
  if (!(settleMs >= 0 && windowMs > 0 && chunkMs > 0)) {
    throw new RangeError(`steadyGpuMs: settleMs >= 0, windowMs > 0 and chunkMs > 0, got ${settleMs}, ${windowMs}, ${chunkMs}`);
  }
  const first = await gpuTimes(10);
  const perRun = median(first);
  const runs = Math.min(100_000, Math.max(1, Math.round(chunkMs / Math.max(perRun, 1e-6))));
  const settled = now();
  while (now() - settled < settleMs) await gpuTimes(runs);
  const start = now();
  const times: number[] = [];
  do {
    for (const t of await gpuTimes(runs)) times.push(t);
  } while (now() - start < windowMs);
  return { ms: median(times), runs: times.length, start, end: now() };
}
