/**
 * `fxrt demo`: compiles a bundled model, then prints the split preview, each engine's layers
 * after fusion, the accuracy against the reference interpreter, the latency, and which backend
 * ran it (the reference TypeScript backend on the CPU unless a GPU backend is present).
 */
import { benchmark, type BenchmarkResult } from '../benchmark.js';
import { compile } from '../compile.js';
import type { BuilderPrecision } from '../engine/plan.js';
import { formatReport } from '../engine/report.js';
import { symbolicTrace } from '../ir/tracer.js';
import type { Device } from '../lowering/device.js';
import type { LoweredModule } from '../lowering/lowered_module.js';
import { modelZoo, type ModelName } from '../models/index.js';
import { formatShape } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';

/** Input shapes small enough for a quick run on the reference backend (the zoo's are benchmark sizes). */
export const DEMO_SHAPES: Readonly<Record<ModelName, readonly number[]>> = {
  mlp: [64, 512],
  resnet18: [1, 3, 64, 64],
  resnet50: [1, 3, 64, 64],
  resnet18Cifar: [1, 3, 32, 32],
  mobilenetV2: [1, 3, 64, 64],
  bertEncoderLayer: [1, 8, 768],
  bertEncoder: [1, 8, 768],
  centerNetHead: [1, 512, 4, 4],
};

/** What `fxrt demo` compiles and how. */
export interface DemoOptions {
  readonly model: ModelName;
  readonly precision: BuilderPrecision;
  readonly device: Device;
  /** Overrides DEMO_SHAPES[model]. */
  readonly shape?: readonly number[];
  readonly iterations: number;
}

/** Where the demo writes its lines. */
export type Print = (line: string) => void;

function ms(v: number): string {
  return v < 10 ? v.toFixed(3) : v.toFixed(1);
}

/** One line of latency statistics. */
export function formatLatency(label: string, r: BenchmarkResult): string {
  return `${label}: median ${ms(r.median)} ms (min ${ms(r.min)}, mean ${ms(r.mean)}, p99 ${ms(r.p99)}, max ${ms(r.max)}; ` +
    `${r.iterations} runs), ${r.throughput.toFixed(1)} items/s at batch ${r.batchSize}`;
}

function printEngines(lowered: LoweredModule, print: Print): void {
  for (const [name, engine] of lowered.engines) {
    const info = engine.layerInfo();
    print(`\n== engine ${name}: ${engine.report.layersBefore} network layers -> ${info.length} steps after fusion ==`);
    for (const step of info) {
      const precision = step.precision.storage === step.precision.compute ? step.precision.storage : `${step.precision.storage}/${step.precision.compute}`;
      const outs = step.outputs.map((o) => `${o.dtype}${formatShape(o.shape)}`).join(', ');
      print(`  ${step.name}  <${step.kind}, ${precision}, tactic ${step.tactic}> -> ${outs}`);
      if (step.layers.length > 1) print(`      fuses: ${step.layers.join(' + ')}`);
    }
    // The fusions are listed above with their steps; the rest of the report follows.
    for (const line of formatReport(engine.report).split('\n')) if (!line.startsWith('  fused ')) print(`  ${line}`);
  }
}

/**
 * Runs the demo and prints its report.
 *
 * @example
 * await runDemo({ model: 'mlp', precision: 'fp32', device: 'auto', iterations: 10 }, console.log);
 */
export async function runDemo(opts: DemoOptions, print: Print): Promise<void> {
  const entry = modelZoo[opts.model];
  const shape = opts.shape ?? DEMO_SHAPES[opts.model];
  const model = entry.create().eval();
  const x = Tensor.randn(shape, { seed: 0 });
  print(`fxrt demo: ${opts.model} (${entry.description})`);
  print(`input float32${formatShape(shape)}, precision ${opts.precision}, device ${opts.device}`);
  print('\n== compile ==');
  const lowered = await compile(model, [x], {
    precision: opts.precision,
    device: opts.device,
    validate: true,
    ...(entry.traceOptions.concreteArgs ? { concreteArgs: entry.traceOptions.concreteArgs } : {}),
    onProgress: (stage, info) => print(`  ${stage.padEnd(8)} ${info.part ? `${info.part}: ` : ''}${info.message} (${ms(info.ms)} ms)`),
  });
  print(`backend: ${lowered.backendDescription}`);

  print('\n== split preview ==');
  print(lowered.splitPreview.toString());
  printEngines(lowered, print);

  print('\n== accuracy against the reference interpreter ==');
  const v = lowered.validation;
  if (v) {
    for (const o of v.outputs) {
      print(`  output ${o.index}: max abs err ${o.maxAbsError.toExponential(3)}, rel err ${o.relError.toExponential(3)}, cosine similarity ${o.cosineSimilarity.toFixed(6)}`);
    }
    print(`  tolerance ${v.tolerance} (relative): ${v.passed ? 'passed' : 'FAILED'}`);
  }

  print('\n== latency ==');
  const batch = shape[0] ?? 1;
  const lowRes = await benchmark(lowered, [x], { warmup: 2, iterations: opts.iterations, batchSize: batch });
  print(`  ${formatLatency('lowered module', lowRes)}`);
  const reference = symbolicTrace(model, entry.traceOptions);
  const refRes = await benchmark(reference, [x], { warmup: 1, iterations: opts.iterations, batchSize: batch });
  print(`  ${formatLatency('reference interpreter (unlowered)', refRes)}`);
  print(`\nran on: ${lowered.backendDescription}`);
}
