import { describe, expect, it } from 'vitest';
import { benchmark, BenchmarkTimeoutError } from '../src/benchmark.js';
import { Module } from '../src/nn/module.js';
import { Tensor } from '../src/tensor/tensor.js';

const x = Tensor.fromArray([1, 2, 3]);

function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) { /* spin */ }
}

describe('benchmark', () => {
  it('times warmup + iterations calls and reports ordered statistics', async () => {
    let calls = 0;
    const r = await benchmark(() => { calls++; busy(calls % 2 === 0 ? 2 : 1); }, [x], { warmup: 2, iterations: 9, batchSize: 4 });
    expect(calls).toBe(11);
    expect(r.iterations).toBe(9);
    expect(r.min).toBeGreaterThanOrEqual(1);
    expect(r.min).toBeLessThanOrEqual(r.median);
    expect(r.median).toBeLessThanOrEqual(r.p99);
    expect(r.p99).toBe(r.max);
    expect(r.mean).toBeGreaterThanOrEqual(r.min);
    expect(r.mean).toBeLessThanOrEqual(r.max);
    expect(r.throughput).toBeCloseTo((4 * 1000) / r.mean, 6);
    expect(r.batchSize).toBe(4);
  });

  it('awaits asynchronous runnables, preferring run over a Module forward', async () => {
    let runs = 0;
    class AsyncOnly extends Module {
      override forward(): never { throw new Error('forward must not be called'); }
      async run(inputs: readonly Tensor[]): Promise<Tensor[]> {
        runs++;
        await new Promise((r) => setTimeout(r, 3));
        return [...inputs];
      }
    }
    const r = await benchmark(new AsyncOnly(), [x], { warmup: 1, iterations: 3 });
    expect(runs).toBe(4);
    expect(r.min).toBeGreaterThanOrEqual(2);
  });

  it('calls a Module forward with the inputs', async () => {
    const seen: unknown[][] = [];
    class Echo extends Module {
      override forward(...args: unknown[]): unknown { seen.push(args); return args[0]; }
    }
    await benchmark(new Echo(), [x, x], { warmup: 0, iterations: 2 });
    expect(seen).toEqual([[x, x], [x, x]]);
  });

  it('stops after maxTimeMs, keeping the runs done', async () => {
    const r = await benchmark(() => busy(10), [x], { warmup: 0, iterations: 1000, maxTimeMs: 35 });
    expect(r.iterations).toBeGreaterThanOrEqual(1);
    expect(r.iterations).toBeLessThanOrEqual(5);
  });

  it('never waits forever on a call that does not finish', async () => {
    const never = (): Promise<void> => new Promise<void>(() => undefined);
    await expect(benchmark(never, [x], { warmup: 0, iterations: 1, callTimeoutMs: 20 })).rejects.toThrow(BenchmarkTimeoutError);
    await expect(benchmark(never, [x], { warmup: 1, iterations: 1, callTimeoutMs: 20 })).rejects.toThrow('benchmark: call 0 did not finish within 20 ms');
  });

  it('rejects invalid options', async () => {
    await expect(benchmark(() => 0, [x], { iterations: 0 })).rejects.toThrow('benchmark: iterations must be an integer >= 1, got 0');
    await expect(benchmark(() => 0, [x], { warmup: -1 })).rejects.toThrow('benchmark: warmup must be an integer >= 0, got -1');
    await expect(benchmark(() => 0, [x], { batchSize: 0 })).rejects.toThrow('benchmark: batchSize must be positive, got 0');
  });
});
