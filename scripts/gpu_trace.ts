/**
 * The GPU time per run of one benchmark workload's engine, for a kernel trace: builds our engine of
 * the workload (scripts/bench_workloads.ts) at the precision given, warms it up into bound outputs,
 * then enqueues --runs runs back to back (CudaEngineRunner.gpuTimes) and prints the median GPU ms
 * per run and each step's implementation. Run under Nsight Systems to see every kernel of those
 * graph replays, and summarize the last runs' kernels with scripts/gpu/trace_summary.py:
 *
 *   nsys profile --cuda-graph-trace=node -o /tmp/t node node_modules/vite-node/vite-node.mjs \
 *     scripts/gpu_trace.ts --only mlp --precision int8 [--runs 200]
 *   nsys stats -q --report cuda_gpu_trace --format csv -o /tmp/t /tmp/t.nsys-rep
 *   python3 scripts/gpu/trace_summary.py /tmp/t_cuda_gpu_trace.csv --runs 100
 */
import { CudaEngineRunner, DeviceTensor } from '../src/backends/cuda/index.js';
import { median } from './bench_timing.js';
import { compileWorkload, WORKLOADS } from './bench_workloads.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const only = arg('--only') ?? 'mlp';
const precision = arg('--precision') ?? 'fp16';
const runs = Number(arg('--runs') ?? 200);
const w = WORKLOADS.find((v) => v.name.startsWith(only));
if (!w) throw new Error(`--only ${only}: no workload of that name (${WORKLOADS.map((v) => v.name).join(', ')})`);
if (precision !== 'fp16' && precision !== 'int8' && precision !== 'fp8') throw new Error(`--precision must be fp16, int8 or fp8, got '${precision}'`);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer, got '${arg('--runs')}'`);

const { lowered, x } = await compileWorkload(w, precision);
const runner = CudaEngineRunner.of([...lowered.engines.values()][0]!.engine);
const dx = DeviceTensor.upload(x);
const outputs = await runner.run([dx]);
const start = performance.now();
while (performance.now() - start < 300) await runner.run([dx], { outputs });
const ms = await runner.gpuTimes([dx], { outputs, runs });
console.log(`${w.name} ${precision}: GPU ms per run ${median(ms).toFixed(4)} (median of ${runs} runs enqueued back to back; graph: ${runner.graphState([w.shape])})`);
for (const t of runner.tactics()) console.log(`  step ${t.step}: ${t.tactic}`);
for (const y of outputs) y.dispose();
dx.dispose();
runner.dispose();
