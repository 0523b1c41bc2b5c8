/**
 * One benchmark workload on the CUDA backend, without the PyTorch peers: compiles it (fp16 or
 * int8), times the awaited device-in/device-out call as scripts/bench_gpu.ts does, and prints every
 * step's GPU time (an eager run with events around each step) with the implementation chosen.
 * For finding where a workload's time goes, alone or under a kernel profiler (ncu). GPU machine only.
 *
 * Run: node node_modules/vite-node/vite-node.mjs scripts/profile_workload.ts --model bertEncoderLayer --shape 32,128,768
 *        [--precision fp16|int8|fp8] [--iters N] [--top N] [--timing-cache FILE]
 * (a warm timing cache leaves no tactic timing launches before the timed calls: for ncu's --launch-skip).
 */
import { CudaEngineRunner, DeviceTensor } from '../src/backends/cuda/index.js';
import { compile } from '../src/compile.js';
import { modelZoo, type ModelName } from '../src/models/index.js';
import { Tensor } from '../src/tensor/tensor.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

const name = arg('model', 'bertEncoderLayer');
if (!(name in modelZoo)) throw new Error(`--model: unknown model '${name}' (one of ${Object.keys(modelZoo).join(', ')})`);
const entry = modelZoo[name as ModelName];
const shape = arg('shape', entry.inputShape.join(',')).split(',').map(Number);
const precision = arg('precision', 'fp16');
if (precision !== 'fp16' && precision !== 'int8' && precision !== 'fp8') throw new Error(`--precision: expected fp16, int8 or fp8, got '${precision}'`);
const iters = Number(arg('iters', '200'));
const top = Number(arg('top', '20'));
const timingCache = arg('timing-cache', '');

const model = entry.create().eval().half();
const x = Tensor.randn(shape, { seed: 1, dtype: 'float16' });
const concreteArgs = entry.traceOptions.concreteArgs;
const calibration = precision !== 'fp16'
  ? { calibration: { data: [[Tensor.randn([Math.min(shape[0]!, 8), ...shape.slice(1)], { seed: 50, dtype: 'float16' })]], method: precision === 'int8' ? 'entropy' as const : 'minmax' as const } }
  : {};
const lowered = await compile(model, [x], { device: 'cuda', precision, ...(timingCache ? { timingCache } : {}), ...(concreteArgs ? { concreteArgs } : {}), ...calibration });
const engines = [...lowered.engines.values()];
if (engines.length !== 1 || lowered.cpuParts.size !== 0) throw new Error(`${name}: expected the whole model in one engine`);
const engine = engines[0]!.engine;
const runner = CudaEngineRunner.of(engine);
const dx = DeviceTensor.upload(x);
async function medianMs(fn: () => Promise<void>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < iters + 10; i++) {
    const t0 = performance.now();
    await fn();
    if (i >= 10) times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[times.length >> 1]!;
}
const freshMs = await medianMs(async () => {
  for (const y of await runner.run([dx])) y.dispose();
});
const freshSlots = runner.boundSlots([shape]);
const freshGraph = runner.graphState([shape]);
const bound = await runner.run([dx]);
const boundMs = await medianMs(async () => {
  await runner.run([dx], { outputs: bound });
});
for (const y of bound) y.dispose();
const tactics = new Map<number, string[]>();
for (const t of runner.tactics()) tactics.set(t.step, [...(tactics.get(t.step) ?? []), t.tactic]);
console.log(`${name} [${shape.join(', ')}] ${precision}: ${freshMs.toFixed(4)} ms per call (median of ${iters}; a new output per call, ` +
  `bound slots ${JSON.stringify(freshSlots)}, ${freshGraph}), ${boundMs.toFixed(4)} ms into bound outputs (${runner.graphState([shape])})`);
dx.dispose();
runner.dispose();

const ctx = engine.createExecutionContext();
ctx.profile = true;
for (let i = 0; i < 5; i++) await ctx.execute([x]);
const profile = ctx.profileData().map((p, i) => ({ ...p, i, ms: p.totalMs / p.calls }));
const total = profile.reduce((a, p) => a + p.ms, 0);
console.log(`steps: ${profile.length}, sum of step GPU times (eager, events) ${total.toFixed(4)} ms`);
const byKind = new Map<string, number>();
for (const p of profile) byKind.set(p.kind, (byKind.get(p.kind) ?? 0) + p.ms);
console.log([...byKind].sort((a, b) => b[1] - a[1]).map(([k, ms]) => `${k} ${ms.toFixed(4)}`).join(', '));
for (const p of [...profile].sort((a, b) => b.ms - a.ms).slice(0, top)) {
  console.log(`${p.ms.toFixed(4).padStart(8)} ms  ${p.step} (${p.kind}): ${(tactics.get(p.i) ?? ['no kernel']).join(' + ')}`);
}
