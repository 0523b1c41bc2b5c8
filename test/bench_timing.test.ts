/**
 * The benchmarks' timing statistics (scripts/bench_timing.ts): the median, the timed loop's warm-up
 * and count, and the paired timing whose median of round ratios is the quantized engines' committed
 * "vs fp16" figure.
 */
import { describe, expect, it } from 'vitest';
import { median, pairedMs, pairedRounds, PAIRED_ROUNDS, parseSteady, steadyGpuMs, timeMs, type Timer } from '../scripts/bench_timing.js';

describe('bench timing (scripts/bench_timing.ts)', () => {
  it('takes the median: the middle value, or the mean of the middle two; no values is an error', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([5])).toBe(5);
    expect(() => median([])).toThrow('median: no values');
  });

  it('times iters calls after the warm-up calls, and warms up for at least warmupMs; no timed call is an error', async () => {
    let calls = 0;
    const fn = async () => {
      calls++;
    };
    const ms = await timeMs(5, 3, fn, 0);
    expect(calls).toBe(8);
    expect(ms).toBeGreaterThanOrEqual(0);
    calls = 0;
    const t0 = performance.now();
    await timeMs(1, 0, fn, 20);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(20);
    expect(calls).toBeGreaterThan(1);
    await expect(timeMs(0, 3, fn, 0)).rejects.toThrow('timeMs: at least one timed call, got 0');
  });

  /** A fake timer: records which call each warm-up and loop ran and answers from `ms` per call in turn. */
  function fakeLoop(ms: Record<'a' | 'b', number[]>, a: () => Promise<void>): { time: Timer; order: string[] } {
    const order: string[] = [];
    const next = { a: 0, b: 0 };
    const time: Timer = {
      warmUp: async (warmup, fn, warmupMs) => {
        order.push(`warm ${fn === a ? 'a' : 'b'} (${warmup}, ${warmupMs ?? 'default'} ms)`);
      },
      timeMs: async (iters, warmup, fn, warmupMs) => {
        const which = fn === a ? 'a' : 'b';
        order.push(`${which} (${iters} after ${warmup}, ${warmupMs} ms)`);
        return ms[which][next[which]++]!;
      },
    };
    return { time, order };
  }

  it('pairs the two calls in alternating rounds after warming both up', async () => {
    const a = async () => {};
    const b = async () => {};
    const rounds = Array.from({ length: PAIRED_ROUNDS }, () => 1);
    const { time, order } = fakeLoop({ a: rounds, b: rounds }, a);
    await pairedMs(200, a, b, time);
    expect(order.slice(0, 2)).toEqual(['warm a (10, default ms)', 'warm b (10, default ms)']);
    const timed = order.slice(2).map((o) => o[0]);
    expect(timed).toHaveLength(2 * PAIRED_ROUNDS);
    for (let r = 0; r < PAIRED_ROUNDS; r++) expect(timed.slice(2 * r, 2 * r + 2), `round ${r}`).toEqual(r % 2 === 0 ? ['a', 'b'] : ['b', 'a']);
    expect(order[2]).toBe('a (200 after 10, 0 ms)');
  });

  it('pairs two measures (e.g. GPU times) in alternating rounds without warm-up, with the median of the rounds\' ratios', async () => {
    const order: string[] = [];
    const as = [0.050, 0.052, 0.051, 0.049, 0.053, 0.050, 0.052];
    const ratios = [1.40, 1.38, 1.41, 1.39, 2.5, 1.37, 1.42];
    let i = 0;
    let j = 0;
    const got = await pairedRounds(
      async () => {
        order.push('a');
        return as[i++]!;
      },
      async () => {
        order.push('b');
        return as[j]! * ratios[j++]!;
      },
    );
    expect(order).toEqual(Array.from({ length: PAIRED_ROUNDS }, (_, r) => (r % 2 === 0 ? ['a', 'b'] : ['b', 'a'])).flat());
    expect(got.a).toBeCloseTo(0.051, 12);
    expect(got.ratio).toBeCloseTo(1.40, 12);
  });

  it('reports each call\'s median of its rounds and the median of the rounds\' ratios b / a, so one disturbed loop does not decide it', async () => {
    const a = async () => {};
    const b = async () => {};
    // Round ratios b / a: 1.5, 1.2, 1.4, 3.0 (b's loop disturbed), 1.3, 1.6, 1.45: median 1.45.
    const as = [0.060, 0.070, 0.065, 0.060, 0.070, 0.060, 0.064];
    const ratios = [1.5, 1.2, 1.4, 3.0, 1.3, 1.6, 1.45];
    const bs = as.map((t, i) => t * ratios[i]!);
    expect(as).toHaveLength(PAIRED_ROUNDS);
    const { time } = fakeLoop({ a: as, b: bs }, a);
    const got = await pairedMs(200, a, b, time);
    expect(got.a).toBeCloseTo(0.064, 12);
    expect(got.b).toBeCloseTo(median(bs), 12);
    expect(got.ratio).toBeCloseTo(1.45, 12);
    // The ratio of the medians would be another figure: the test tells them apart.
    expect(got.b / got.a).not.toBeCloseTo(1.45, 3);
  });

  it('times the steady state: a short call sizes the chunks, runs settle untimed, then the window is timed to its end', async () => {
    let clock = 0;
    const calls: number[] = [];
    // Each run takes 0.5 ms of the fake clock; the first 30 runs after the sizing call are slow (the clock settling).
    let done = 0;
    const gpuTimes = async (runs: number) => {
      calls.push(runs);
      const out: number[] = [];
      for (let i = 0; i < runs; i++, done++) out.push(done >= 10 && done < 40 ? 0.9 : 0.5);
      clock += runs * 0.5;
      return out;
    };
    const r = await steadyGpuMs(gpuTimes, { settleMs: 20, windowMs: 30, chunkMs: 5 }, () => clock);
    expect(calls[0]).toBe(10); // sizing: 0.5 ms per run, so 10 runs per 5 ms chunk
    expect(calls.slice(1).every((n) => n === 10)).toBe(true);
    expect(calls.length).toBe(1 + 4 + 6); // 20 ms settling, then 30 ms timed
    expect(r.runs).toBe(60);
    expect(r.ms).toBe(0.5); // the slow runs fell in the settling time
    expect([r.start, r.end]).toEqual([25, 55]);
  });

  it('times at least one chunk in the window and refuses settings that time nothing', async () => {
    let clock = 0;
    const slow = async (runs: number) => {
      clock += 2 * runs;
      return new Array<number>(runs).fill(2);
    };
    const r = await steadyGpuMs(slow, { settleMs: 0, windowMs: 1e-9, chunkMs: 1 }, () => clock);
    expect(r.runs).toBe(1); // 2 ms per run: chunks of one run
    expect(r.ms).toBe(2);
    const none = async (runs: number) => new Array<number>(runs).fill(1);
    await expect(steadyGpuMs(none, { settleMs: 0, windowMs: 0, chunkMs: 1 })).rejects.toThrow('steadyGpuMs: settleMs >= 0, windowMs > 0 and chunkMs > 0, got 0, 0, 1');
    await expect(steadyGpuMs(none, { settleMs: -1, windowMs: 5, chunkMs: 1 })).rejects.toThrow('got -1, 5, 1');
  });

  it('reads --steady SETTLE_MS,WINDOW_MS and refuses anything else, naming the argument', () => {
    expect(parseSteady('500,1000')).toEqual({ settleMs: 500, windowMs: 1000, chunkMs: 50 });
    expect(parseSteady('0,1')).toEqual({ settleMs: 0, windowMs: 1, chunkMs: 50 });
    for (const bad of ['500', '500,0', '-1,1000', 'a,1000', ',1000', '1,2,3', '']) {
      expect(() => parseSteady(bad)).toThrow(`--steady takes SETTLE_MS,WINDOW_MS (settle >= 0, window > 0), got '${bad}'`);
    }
  });
});
