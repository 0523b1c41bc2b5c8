/**
 * The CUDA backend's runtime behaviour on a device: CUDA graph replay after a warm-up, per-step
 * GPU profiles, concurrent execution contexts, device-resident inputs and outputs, a JS thread
 * that keeps running while the GPU works, and no device memory left behind.
 */
import { describe, expect, it } from 'vitest';
import { setCompletionPolling } from '../../src/backends/cuda/completion.js';
import { CudaEngineRunner, cudaMemoryInUse, DeviceTensor, Stream } from '../../src/backends/cuda/index.js';
import { compile } from '../../src/compile.js';
import type { Engine } from '../../src/engine/engine.js';
import { modelZoo } from '../../src/models/index.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { expectSameBytes } from './compare.js';
import { settle } from './engine_harness.js';

async function cifarEngine(batch: number): Promise<Engine> {
  const lowered = await compile(modelZoo.resnet18Cifar.create().eval(), [Tensor.randn([batch, 3, 32, 32], { seed: 1 })], { device: 'cuda', precision: 'fp16' });
  const engine = [...lowered.engines.values()][0]?.engine;
  if (!engine || lowered.engines.size !== 1) throw new Error('expected one engine for the whole model');
  return engine;
}

describe('CUDA execution', () => {
  it('replays a CUDA graph from the second run on, with the same results as the eager first run', async () => {
    const engine = await cifarEngine(2);
    const runner = CudaEngineRunner.of(engine);
    const x = Tensor.randn([2, 3, 32, 32], { seed: 2 });
    const results: Tensor[] = [];
    for (let i = 0; i < 4; i++) {
      const [y] = await runner.run([x]);
      results.push(await y!.download());
      y!.dispose();
    }
    expect(runner.graphState([[2, 3, 32, 32]])).toBe('graph');
    for (const r of results.slice(1)) expectSameBytes(r, results[0]!, 'graph replay');
    const tactics = runner.tactics();
    expect(tactics.some((t) => t.tactic.startsWith('cudnn:'))).toBe(true);
    console.log('tactics:', tactics.map((t) => `${t.step}: ${t.tactic}`).join('; '));
    runner.dispose();
  });

  it('profiles every step with GPU event times', async () => {
    const engine = await cifarEngine(1);
    const ctx = engine.createExecutionContext();
    ctx.profile = true;
    await ctx.execute([Tensor.randn([1, 3, 32, 32], { seed: 3 })]);
    const profile = ctx.profileData();
    expect(profile.length).toBe(engine.plan.steps.length);
    for (const p of profile) {
      expect(p.calls).toBe(1);
      if (p.kind === 'convolution') expect(p.lastMs).toBeGreaterThan(0);
    }
  });

  it('runs several contexts concurrently with the results of one at a time (deterministic algorithms)', async () => {
    const saved = process.env.FXRT_CUDA_DETERMINISTIC;
    process.env.FXRT_CUDA_DETERMINISTIC = '1'; // read when the engine is loaded
    const engine = await cifarEngine(4).finally(() => {
      if (saved === undefined) delete process.env.FXRT_CUDA_DETERMINISTIC;
      else process.env.FXRT_CUDA_DETERMINISTIC = saved;
    });
    const inputs = [0, 1, 2].map((s) => Tensor.randn([4, 3, 32, 32], { seed: 10 + s }));
    const one = engine.createExecutionContext();
    const sequential: Tensor[] = [];
    for (const x of inputs) sequential.push((await one.execute([x]))[0]!);
    const contexts = inputs.map(() => engine.createExecutionContext());
    const concurrent = await Promise.all(contexts.map((c, i) => c.execute([inputs[i]!])));
    concurrent.forEach(([y], i) => expectSameBytes(y!, sequential[i]!, `context ${i}`));
  });

  it('takes device tensors in and gives device tensors out, matching the host path bit for bit', async () => {
    const engine = await cifarEngine(2);
    const x = Tensor.randn([2, 3, 32, 32], { seed: 4 });
    const [host] = await engine.createExecutionContext().execute([x]);
    const runner = CudaEngineRunner.of(engine);
    const dx = DeviceTensor.upload(x);
    const [dy] = await runner.run([dx]);
    expect(dy!.shape).toEqual([2, 10]);
    expectSameBytes(await dy!.download(), host!, 'device path');
    dx.dispose();
    dy!.dispose();
    runner.dispose();
  });

  it('times runs enqueued back to back on the GPU (gpuTimes), writing the bound outputs as a run does', async () => {
    const engine = await cifarEngine(2);
    const x = Tensor.randn([2, 3, 32, 32], { seed: 6 });
    const [host] = await engine.createExecutionContext().execute([x]);
    const runner = CudaEngineRunner.of(engine);
    const dx = DeviceTensor.upload(x);
    const other = DeviceTensor.upload(Tensor.randn([2, 3, 32, 32], { seed: 7 }));
    const [y] = await runner.run([other]);
    await runner.run([other], { outputs: [y!] }); // y holds another input's result
    const t0 = performance.now();
    const ms = await runner.gpuTimes([dx], { outputs: [y!], runs: 20 });
    const wallMs = performance.now() - t0;
    expect(ms).toHaveLength(20);
    for (const t of ms) expect(t).toBeGreaterThan(0);
    // The runs' GPU times lie within the call's wall time.
    expect(ms.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(wallMs);
    expectSameBytes(await y!.download(), host!, 'the output of timed runs');
    expect(runner.graphState([[2, 3, 32, 32]])).toBe('graph');
    await expect(runner.gpuTimes([dx], { outputs: [y!], runs: 0 })).rejects.toThrow(/timeDevice: runs must be an integer from 1 to 100000, got 0/);
    await expect(runner.gpuTimes([dx], { outputs: [y!], runs: 2.5 })).rejects.toThrow(/got 2\.5/);
    console.log(`cifar b2 GPU ms per run: ${[...ms].sort((a, b) => a - b)[10]!.toFixed(4)} (median of 20), wall ${wallMs.toFixed(3)} ms for all`);
    dx.dispose();
    other.dispose();
    y!.dispose();
    runner.dispose();
  });

  it('keeps the event loop running while the GPU works', async () => {
    const x = Tensor.randn([32768, 512], { seed: 5 });
    const lowered = await compile(modelZoo.mlp.create().eval(), [x], { device: 'cuda', precision: 'fp32' });
    const runner = CudaEngineRunner.of([...lowered.engines.values()][0]!.engine);
    const dx = DeviceTensor.upload(x);
    // Three runs first: the runner prepares the program bound to these tensors in its second and
    // third runs, synchronously (with two, the timed run saw 2 turns of the loop on the H100).
    for (let i = 0; i < 3; i++) (await runner.run([dx])).forEach((t) => t.dispose());
    let resolved = false;
    const pending = runner.run([dx]).then((ys) => {
      resolved = true;
      ys.forEach((t) => t.dispose());
    });
    let turns = 0;
    while (!resolved) {
      await new Promise((r) => setImmediate(r));
      turns++;
    }
    await pending;
    // run() returned at once and the loop kept turning (~140 GFLOP of fp32 GEMMs) until the
    // completion callback resolved it.
    expect(turns).toBeGreaterThan(10);
    dx.dispose();
    runner.dispose();
  });

  it('settles runs alike through the JS thread polling and through the waiter thread alone', async () => {
    const engine = await cifarEngine(1);
    const x = Tensor.randn([1, 3, 32, 32], { seed: 6 });
    const runner = CudaEngineRunner.of(engine);
    const dx = DeviceTensor.upload(x);
    const [want] = await runner.run([dx]);
    const expected = await want!.download();
    want!.dispose();
    try {
      for (const us of [0, 1000, 1e6]) {
        setCompletionPolling(us);
        const polledBefore = cudaMemoryInUse().polledCompletions;
        // One at a time (each settled by whichever sees it first), then many in flight at once.
        for (let i = 0; i < 200; i++) for (const y of await runner.run([dx])) y.dispose();
        const outs = await Promise.all(Array.from({ length: 64 }, () => runner.run([dx])));
        expectSameBytes(await outs[63]![0]!.download(), expected, `polling window ${us} µs`);
        for (const ys of outs) ys.forEach((t) => t.dispose());
        await Stream.default().synchronize();
        expect(cudaMemoryInUse().pendingCompletions, `polling window ${us} µs`).toBe(0);
        // The JS thread's poll settles some of them (it races the waiter thread) only when on.
        const polled = cudaMemoryInUse().polledCompletions - polledBefore;
        if (us === 0) expect(polled, 'polling off').toBe(0);
        else expect(polled, `polling window ${us} µs`).toBeGreaterThan(0);
      }
    } finally {
      setCompletionPolling(undefined);
    }
    dx.dispose();
    runner.dispose();
  });

  it('returns every byte of device memory when runners are disposed', async () => {
    const engine = await cifarEngine(2);
    const x = Tensor.randn([2, 3, 32, 32], { seed: 8 });
    const runner0 = CudaEngineRunner.of(engine);
    (await runner0.run([x])).forEach((t) => t.dispose());
    runner0.dispose();
    await settle(); // engines of earlier tests are collected first
    const baseline = cudaMemoryInUse().deviceBytes;
    for (let i = 0; i < 10; i++) {
      const runner = CudaEngineRunner.of(engine);
      for (let j = 0; j < 3; j++) (await runner.run([x])).forEach((t) => t.dispose());
      runner.dispose();
    }
    expect(cudaMemoryInUse().deviceBytes).toBe(baseline);
    expect(cudaMemoryInUse().pendingCompletions).toBe(0);
    await settle();
    expect(cudaMemoryInUse().deviceBytes).toBeLessThanOrEqual(baseline);
  });
});
