/**
 * Where the host time of one CUDA engine call goes: times each piece of an awaited
 * CudaEngineRunner.run on a one-step engine (a tiny relu) separately, so a change to the call path
 * can be judged by numbers. GPU machine only (needs the built addon).
 *
 *   completion     await stream.synchronize() on an idle stream: the completion round trip alone
 *                  (event record → waiter thread → thread-safe function → promise → await)
 *   relu + sync    a one-kernel relu (cudaRelu, a new output) then await stream.synchronize()
 *   relu + poll    the same relu, then stream.query() polled from setImmediate until it is done:
 *                  the completion without the waiter thread and the callback onto the JS thread
 *   alloc+free     DeviceTensor.empty + dispose of the output (stream-ordered pool)
 *   runner.run     the whole call as the benchmark times it (a new output per call)
 *   run into       the same with the output bound once (runner.run(x, { outputs }))
 *   pipelined      8 such runs started before awaiting them all, per run (the runner still runs
 *                  them one after another, each after the one before has finished: not the GPU
 *                  time of a replay, about the awaited call's time)
 *   pieces         one addon.pollCompletions() with nothing pending, one stream.query() on an idle
 *                  stream (means of synchronous loops), one event-loop turn, one awaited resolved
 *                  promise; a one-kernel relu then stream.query() spun on synchronously (no event
 *                  loop, no promise: the device round trip of a launch as the JS thread sees it);
 *                  the idle stream's completion with polling off (the waiter thread's callback)
 * and the same calls on the MLP workload (10240x512) in fp16 and in int8, built as the benchmark
 * builds them (scripts/bench_workloads.ts), with their GPU time per run (CudaEngineRunner.gpuTimes)
 * and each step's GPU time profiled eagerly (events around each step: host launch gaps included).
 *
 * Completions are polled from the JS thread for FXRT_CUDA_POLL_US (default 1000 µs; src/backends/cuda/completion.ts);
 * --poll-us N sets that window (0: the waiter thread's callback alone).
 *
 * Run: node node_modules/vite-node/vite-node.mjs scripts/profile_call_overhead.ts [--iters N] [--poll-us N]
 */
import { loadedAddon } from '../src/backends/cuda/availability.js';
import { setCompletionPolling } from '../src/backends/cuda/completion.js';
import { CudaEngineRunner, cudaRelu, DeviceTensor, Stream } from '../src/backends/cuda/index.js';
import { compile } from '../src/compile.js';
import { nn } from '../src/nn/index.js';
import { Tensor } from '../src/tensor/tensor.js';
import { median, timeMs } from './bench_timing.js';
import { compileWorkload, WORKLOADS } from './bench_workloads.js';

/** Mean µs per call of a synchronous `fn`, over n calls after n / 10 warm-up calls. */
function syncUs(n: number, fn: () => unknown): number {
  for (let i = 0; i < n / 10; i++) fn();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) fn();
  return ((performance.now() - t0) * 1000) / n;
}

/** Median µs of `iters` awaited calls of `fn` after 50 warm-up calls (bench_timing.ts timeMs). */
async function timeUs(iters: number, fn: () => unknown): Promise<number> {
  return 1000 * (await timeMs(iters, 50, async () => {
    await fn();
  }, 0));
}

const iters = Number(process.argv[process.argv.indexOf('--iters') + 1] ?? 0) || 2000;
const pollUs = process.argv.indexOf('--poll-us');
if (pollUs >= 0) setCompletionPolling(Number(process.argv[pollUs + 1]));
const x = Tensor.randn([1, 8], { seed: 2, dtype: 'float16' });
const lowered = await compile(new nn.ReLU(), [x], { device: 'cuda', precision: 'fp16' });
const runner = CudaEngineRunner.of([...lowered.engines.values()][0]!.engine);
const dx = DeviceTensor.upload(x);
const stream = Stream.create();
const rows: [string, number][] = [];
rows.push(['completion (await stream.synchronize, idle stream)', await timeUs(iters, () => stream.synchronize())]);
rows.push(['relu + sync (a one-kernel op, then await stream.synchronize)', await timeUs(iters, async () => {
  const y = cudaRelu(dx, { stream });
  await stream.synchronize();
  y.dispose();
})]);
rows.push(['relu + poll (stream.query from setImmediate until done)', await timeUs(iters, async () => {
  const y = cudaRelu(dx, { stream });
  while (!stream.query()) await new Promise((r) => setImmediate(r));
  y.dispose();
})]);
// The pieces of a completion, each alone.
const addon = loadedAddon()!;
rows.push(['piece: addon.pollCompletions(), nothing pending (mean of a loop)', syncUs(iters * 10, () => addon.pollCompletions())]);
rows.push(['piece: stream.query(), idle stream (mean of a loop)', syncUs(iters * 10, () => stream.query())]);
rows.push(['piece: an event-loop turn (await setImmediate)', await timeUs(iters, () => new Promise((r) => setImmediate(r)))]);
rows.push(['piece: an awaited resolved promise', await timeUs(iters, () => Promise.resolve())]);
rows.push(['relu + spin (stream.query in a synchronous loop until done)', await timeUs(iters, () => {
  const y = cudaRelu(dx, { stream });
  while (!stream.query());
  y.dispose();
})]);
setCompletionPolling(0);
rows.push(['completion, polling off (the waiter thread alone)', await timeUs(iters, () => stream.synchronize())]);
setCompletionPolling(undefined);
rows.push(['alloc+free (DeviceTensor.empty + dispose)', await timeUs(iters, () => DeviceTensor.empty([1, 8], 'float16').dispose())]);
rows.push(['runner.run (one relu step, device in/out)', await timeUs(iters, async () => {
  for (const y of await runner.run([dx])) y.dispose();
})]);
const [bound] = await runner.run([dx]);
rows.push(['runner.run into a bound output', await timeUs(iters, () => runner.run([dx], { outputs: [bound!] }))]);
rows.push(['pipelined: 8 runs into a bound output, then await all (per run)', (await timeUs(iters >> 3, () =>
  Promise.all(Array.from({ length: 8 }, () => runner.run([dx], { outputs: [bound!] }))))) / 8]);
bound!.dispose();
rows.push(['lowered.run (host in/out)', await timeUs(iters >> 2, () => lowered.run([x]))]);
const mlp = WORKLOADS.find((w) => w.model === 'mlp')!;
for (const precision of ['fp16', 'int8'] as const) {
  const { lowered: lm, x: xm } = await compileWorkload(mlp, precision);
  const engine = [...lm.engines.values()][0]!.engine;
  const r = CudaEngineRunner.of(engine);
  const dm = DeviceTensor.upload(xm);
  rows.push([`mlp ${precision}: runner.run`, await timeUs(iters >> 2, async () => {
    for (const y of await r.run([dm])) y.dispose();
  })]);
  const [out] = await r.run([dm]);
  rows.push([`mlp ${precision}: runner.run into a bound output`, await timeUs(iters >> 2, () => r.run([dm], { outputs: [out!] }))]);
  rows.push([`mlp ${precision}: GPU time per run (runs into the bound output back to back)`, 1000 * median(await r.gpuTimes([dm], { outputs: [out!], runs: iters >> 2 }))]);
  out!.dispose();
  const ctx = engine.createExecutionContext();
  ctx.profile = true;
  for (let i = 0; i < 5; i++) await ctx.execute([xm]);
  for (const p of ctx.profileData()) rows.push([`mlp ${precision}: step ${p.kind} ${p.step} (eager, events)`, (p.totalMs / p.calls) * 1000]);
  const gpuMs = ctx.profileData().reduce((a, p) => a + p.totalMs / p.calls, 0);
  rows.push([`mlp ${precision}: sum of step GPU times (eager, events)`, gpuMs * 1000]);
  dm.dispose();
  r.dispose();
}
// Polling off against on, interleaved in rounds (machine noise drifts over seconds).
if (pollUs < 0) {
  const ab: Record<string, number[]> = { off: [], on: [] };
  const [y] = await runner.run([dx]);
  for (let round = 0; round < 6; round++) {
    for (const [label, us] of [['off', 0], ['on', undefined]] as const) {
      setCompletionPolling(us);
      ab[label]!.push(await timeUs(iters >> 2, () => runner.run([dx], { outputs: [y!] })));
    }
  }
  setCompletionPolling(undefined);
  y!.dispose();
  for (const [label, xs] of Object.entries(ab)) rows.push([`runner.run into a bound output, polling ${label} (median of 6 interleaved rounds)`, median(xs)]);
}
console.log(`completion polling window: ${pollUs >= 0 ? process.argv[pollUs + 1] : process.env.FXRT_CUDA_POLL_US ?? 'default'} µs`);
for (const [name, us] of rows) console.log(`${us.toFixed(1).padStart(8)} µs  ${name}`);
dx.dispose();
runner.dispose();
stream.dispose();
