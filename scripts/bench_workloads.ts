/**
 * The GPU benchmark's workloads and how our engines of them are built (scripts/bench_gpu.ts, and
 * scripts/gpu_trace.ts for a kernel trace of one of them).
 */
import { compile } from '../src/compile.js';
import type { LoweredModule } from '../src/lowering/lowered_module.js';
import { modelZoo, type ModelName } from '../src/models/index.js';
import { Tensor } from '../src/tensor/tensor.js';

export interface Workload {
  readonly name: string;
  readonly model: ModelName;
  readonly shape: readonly number[];
}

export const WORKLOADS: readonly Workload[] = [
  { name: 'mlp 10240x512', model: 'mlp', shape: [10240, 512] },
  { name: 'resnet18 1x3x224x224', model: 'resnet18', shape: [1, 3, 224, 224] },
  { name: 'resnet18 128x3x224x224', model: 'resnet18', shape: [128, 3, 224, 224] },
  { name: 'resnet50 1x3x224x224', model: 'resnet50', shape: [1, 3, 224, 224] },
  { name: 'resnet50 128x3x224x224', model: 'resnet50', shape: [128, 3, 224, 224] },
  { name: 'resnet18-cifar 1x3x32x32', model: 'resnet18Cifar', shape: [1, 3, 32, 32] },
  { name: 'bert-base 32x128', model: 'bertEncoder', shape: [32, 128, 768] },
  { name: 'bert-layer 32x128', model: 'bertEncoderLayer', shape: [32, 128, 768] },
  { name: 'centernet-head 8x512x16x16', model: 'centerNetHead', shape: [8, 512, 16, 16] },
];

/** Workloads with INT8 targets (issue #6): timed again as int8 engines with --int8. */
export const INT8_WORKLOADS: readonly string[] = ['mlp 10240x512', 'resnet50 128x3x224x224', 'resnet18-cifar 1x3x32x32', 'centernet-head 8x512x16x16'];
/** Workloads with FP8 targets (issue #6: the MLP faster than our fp16): timed as FP8 engines with --fp8. */
export const FP8_WORKLOADS: readonly string[] = ['mlp 10240x512'];

/** Calibration batches for an int8 build of `w`: two random batches of at most 8 images (or 1024 rows). */
function calibrationBatches(w: Workload): Tensor[][] {
  const rows = Math.min(w.shape[0]!, w.shape.length === 2 ? 1024 : 8);
  return [0, 1].map((i) => [Tensor.randn([rows, ...w.shape.slice(1)], { seed: 50 + i, dtype: 'float16' })]);
}

/** Our engine of `w` at `precision` (in half precision, int8 and FP8 calibrated on calibrationBatches), and its input. */
export async function compileWorkload(w: Workload, precision: 'fp16' | 'int8' | 'fp8'): Promise<{ lowered: LoweredModule; x: Tensor }> {
  const entry = modelZoo[w.model];
  const x = Tensor.randn(w.shape, { seed: 1, dtype: 'float16' });
  const concreteArgs = entry.traceOptions.concreteArgs;
  const lowered = await compile(entry.create().eval().half(), [x], {
    device: 'cuda', precision, ...(concreteArgs ? { concreteArgs } : {}),
    ...(precision === 'int8' ? { calibration: { data: calibrationBatches(w), method: 'entropy' as const } } : {}),
    ...(precision === 'fp8' ? { calibration: { data: calibrationBatches(w), method: 'minmax' as const } } : {}),
  });
  if (lowered.engines.size !== 1 || lowered.cpuParts.size !== 0) throw new Error(`${w.name}: expected the whole model in one engine`);
  return { lowered, x };
}
