/**
 * Where the host time of one CUDA engine call goes: times each piece of an awaited
 * CudaEngineRunner.run on a one-step engine (a tiny relu) separately, so a change to the call path
 * can be judged by numbers. GPU machine only (needs the built addon).
 *
 *   completion     await stream.synchronize() on an idle stream: the completion round trip alone
 *                  (event record → waiter thread → thread-safe function → promise → await)
 *   alloc+free     DeviceTensor.empty + dispose of the output (stream-ordered pool)
 *   runner.run     the whole call as the benchmark times it
 *
 * Run: node node_modules/vite-node/vite-node.mjs scripts/profile_call_overhead.ts [--iters N]
 */
import { CudaEngineRunner, DeviceTensor, Stream } from '../src/backends/cuda/index.js';
import { compile } from '../src/compile.js';
import { nn } from '../src/nn/index.js';
import { Tensor } from '../src/tensor/tensor.js';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

async function timeUs(iters: number, fn: () => unknown): Promise<number> {
  for (let i = 0; i < 50; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < iters; i++) {
    const t0 = performance.now();
    await fn();
    times.push((performance.now() - t0) * 1000);
  }
  return median(times);
}

const iters = Number(process.argv[process.argv.indexOf('--iters') + 1] ?? 0) || 2000;
const x = Tensor.randn([1, 8], { seed: 2, dtype: 'float16' });
const lowered = await compile(new nn.ReLU(), [x], { device: 'cuda', precision: 'fp16' });
const runner = CudaEngineRunner.of([...lowered.engines.values()][0]!.engine);
const dx = DeviceTensor.upload(x);
const stream = Stream.create();
const rows: [string, number][] = [];
rows.push(['completion (await stream.synchronize, idle stream)', await timeUs(iters, () => stream.synchronize())]);
rows.push(['alloc+free (DeviceTensor.empty + dispose)', await timeUs(iters, () => DeviceTensor.empty([1, 8], 'float16').dispose())]);
rows.push(['runner.run (one relu step, device in/out)', await timeUs(iters, async () => {
  for (const y of await runner.run([dx])) y.dispose();
})]);
rows.push(['lowered.run (host in/out)', await timeUs(iters >> 2, () => lowered.run([x]))]);
for (const [name, us] of rows) console.log(`${us.toFixed(1).padStart(8)} µs  ${name}`);
dx.dispose();
runner.dispose();
stream.dispose();
