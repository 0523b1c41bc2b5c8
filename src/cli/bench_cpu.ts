/**
 * `fxrt bench-cpu`: ResNet-18 at 1×3×224×224 on the reference backend (the TypeScript kernels,
 * one core: Node runs them on the main thread), lowered and unlowered, median latency.
 */
import { benchmark } from '../benchmark.js';
import { compile } from '../compile.js';
import { symbolicTrace } from '../ir/tracer.js';
import { resnet18 } from '../models/index.js';
import { formatShape } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import { formatLatency, type Print } from './demo.js';

/** What `fxrt bench-cpu` times. */
export interface BenchCpuOptions {
  /** Input shape (default [1, 3, 224, 224]). */
  readonly shape?: readonly number[];
  readonly iterations: number;
}

/**
 * Compiles ResNet-18 for the reference backend and times it against the interpreter.
 *
 * @example
 * await runBenchCpu({ iterations: 5 }, console.log);
 */
export async function runBenchCpu(opts: BenchCpuOptions, print: Print): Promise<void> {
  const shape = opts.shape ?? [1, 3, 224, 224];
  const model = resnet18().eval();
  const x = Tensor.randn(shape, { seed: 0 });
  print(`fxrt bench-cpu: ResNet-18, input float32${formatShape(shape)}, fp32, reference TypeScript backend (one CPU core)`);
  const t0 = performance.now();
  const lowered = await compile(model, [x], { precision: 'fp32', device: 'cpu' });
  print(`  compile: ${(performance.now() - t0).toFixed(0)} ms, ${lowered.engines.size} engine(s)`);
  const batch = shape[0] ?? 1;
  const lowRes = await benchmark(lowered, [x], { warmup: 1, iterations: opts.iterations, batchSize: batch });
  print(`  ${formatLatency('lowered module', lowRes)}`);
  const refRes = await benchmark(symbolicTrace(model), [x], { warmup: 1, iterations: opts.iterations, batchSize: batch });
  print(`  ${formatLatency('reference interpreter (unlowered)', refRes)}`);
  print(`median latency: ${lowRes.median.toFixed(1)} ms (lowered), ${refRes.median.toFixed(1)} ms (interpreter)`);
}
