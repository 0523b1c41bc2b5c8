/**
 * The GPU time per run of one benchmark workload's engines, alone or side by side, and for a kernel
 * trace: builds our engine of the workload (scripts/bench_workloads.ts) at each precision given,
 * warms each up into bound outputs, then times --rounds rounds, each enqueueing --runs runs of
 * every engine back to back (CudaEngineRunner.gpuTimes; the engines' order alternating between
 * rounds, as the benchmark's paired rounds), and prints each round's and the overall median GPU ms
 * per run and each step's implementation. Run under Nsight Systems to see every kernel of those
 * graph replays, and summarize the last runs' kernels with scripts/gpu/trace_summary.py:
 *
 *   nsys profile --cuda-graph-trace=node -o /tmp/t node node_modules/vite-node/vite-node.mjs \
 *     scripts/gpu_trace.ts --only mlp --precision int8 [--runs 200] [--rounds 1]
 *   nsys stats -q --report cuda_gpu_trace --format csv -o /tmp/t /tmp/t.nsys-rep
 *   python3 scripts/gpu/trace_summary.py /tmp/t_cuda_gpu_trace.csv --runs 100
 *
 * Without Nsight Systems (the GPU machine has none), scripts/gpu/cupti_trace.sh runs this script
 * with a CUPTI library injected and summarizes its trace the same way.
 *
 * --precision int8,fp16 --rounds 7 times both engines in one process, as the benchmark does.
 * --steady SETTLE,WINDOW times each round in the steady state instead of --runs runs (steadyGpuMs:
 * the engine run back to back SETTLE ms untimed, then WINDOW ms timed), as the benchmark's steady
 * pairs do: under a power cap the clock follows the running engine's power.
 */
import { CudaEngineRunner, DeviceTensor } from '../src/backends/cuda/index.js';
import { median, parseSteady, steadyGpuMs, warmUp } from './bench_timing.js';
import { compileWorkload, WORKLOADS } from './bench_workloads.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function positive(name: string, fallback: number): number {
  const v = Number(arg(name) ?? fallback);
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a positive integer, got '${arg(name)}'`);
  return v;
}

const only = arg('--only') ?? 'mlp';
const precisions = (arg('--precision') ?? 'fp16').split(',');
const runs = positive('--runs', 200);
const rounds = positive('--rounds', 1);
const w = WORKLOADS.find((v) => v.name.startsWith(only));
if (!w) throw new Error(`--only ${only}: no workload of that name (${WORKLOADS.map((v) => v.name).join(', ')})`);
const steadyArg = arg('--steady');
const steady = steadyArg !== undefined ? parseSteady(steadyArg) : undefined;
for (const p of precisions) if (p !== 'fp16' && p !== 'int8' && p !== 'fp8') throw new Error(`--precision takes fp16, int8 or fp8 (comma-separated), got '${p}'`);

const engines = [];
for (const precision of precisions as ('fp16' | 'int8' | 'fp8')[]) {
  const { lowered, x } = await compileWorkload(w, precision);
  const runner = CudaEngineRunner.of([...lowered.engines.values()][0]!.engine);
  const dx = DeviceTensor.upload(x);
  const outputs = await runner.run([dx]);
  engines.push({ precision, runner, dx, outputs, ms: [] as number[] });
}
for (const e of engines) {
  await warmUp(0, async () => {
    await e.runner.run([e.dx], { outputs: e.outputs });
  });
}
for (let r = 0; r < rounds; r++) {
  const order = r % 2 === 0 ? engines : [...engines].reverse();
  const line: string[] = [];
  for (const e of order) {
    const gpuTimes = (n: number) => e.runner.gpuTimes([e.dx], { outputs: e.outputs, runs: n });
    const m = steady ? (await steadyGpuMs(gpuTimes, steady)).ms : median(await gpuTimes(runs));
    e.ms.push(m);
    line.push(`${e.precision} ${m.toFixed(4)}`);
  }
  if (rounds > 1) console.log(`round ${r}: ${line.join(', ')}`);
}
for (const e of engines) {
  console.log(`${w.name} ${e.precision}: GPU ms per run ${median(e.ms).toFixed(4)} (median over ${rounds} round(s) of the median of ${steady ? `the runs of a ${steady.windowMs} ms window after ${steady.settleMs} ms of settling` : `${runs} runs`} enqueued back to back; graph: ${e.runner.graphState([w.shape])})`);
  for (const t of e.runner.tactics()) console.log(`  step ${t.step}: ${t.tactic}`);
}
for (const e of engines) {
  for (const y of e.outputs) y.dispose();
  e.dx.dispose();
  e.runner.dispose();
}
