// Reference-backend speed on this machine: ResNet-18 at 1x3x224x224 on one core (JS is single-threaded).
// Run: npx vite-node scripts/bench_cpu.ts [--iterations N]
// Writes bench/results/cpu_resnet18.json and .md with the date and the machine.
import { writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import { accTrace, defaultPasses, modelZoo, PassManager, symbolicTrace, Tensor } from '../src/index.js';

const iterations = Number(process.argv[process.argv.indexOf('--iterations') + 1] || 5);

function time(fn: () => unknown): number {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}
function stats(ms: number[]): { min: number; median: number; max: number } {
  const s = [...ms].sort((a, b) => a - b);
  return { min: s[0]!, median: s[Math.floor(s.length / 2)]!, max: s[s.length - 1]! };
}

const model = modelZoo.resnet18.create().eval();
const x = Tensor.randn([1, 3, 224, 224], { seed: 1 });
const optimized = new PassManager(defaultPasses()).run(accTrace(symbolicTrace(model), [x])).gm;

const rows: { variant: string; min: number; median: number; max: number }[] = [];
for (const [variant, run] of [
  ['eager module (nn layers)', () => model.forward(x)],
  ['acc graph after default passes (BN folded)', () => optimized.forward(x)],
] as const) {
  run(); // warm-up: JIT and scratch buffers
  const ms = Array.from({ length: iterations }, () => time(run));
  rows.push({ variant, ...stats(ms) });
}

const machine = `${os.cpus()[0]?.model ?? 'unknown CPU'} (${os.cpus().length} cores, one used), Node ${process.version}`;
const date = new Date().toISOString().slice(0, 10);
const result = { benchmark: 'ResNet-18 1x3x224x224 fp32, reference TypeScript kernels', date, machine, iterations, target_ms: 3000, rows };
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/cpu_resnet18.json', JSON.stringify(result, null, 2) + '\n');
const md = [`# ResNet-18 on the reference backend (CPU)`, '', `${date}, ${machine}; ${iterations} timed runs after one warm-up. Target: under 3000 ms.`, '',
  '| variant | min ms | median ms | max ms |', '| --- | --- | --- | --- |',
  ...rows.map((r) => `| ${r.variant} | ${r.min.toFixed(0)} | ${r.median.toFixed(0)} | ${r.max.toFixed(0)} |`), ''].join('\n');
writeFileSync('bench/results/cpu_resnet18.md', md);
console.log(md);
