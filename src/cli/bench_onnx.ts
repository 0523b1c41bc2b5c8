/**
 * `fxrt bench model.onnx [--precision fp16] [--batch 32] [--device auto] [--dims seq=128,...]
 * [--iterations 20] [--warmup 3]`: imports an ONNX file, compiles it with `compile` and times the
 * lowered module with `benchmark`, printing the import and compile times and the latency.
 */
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { benchmark } from '../benchmark.js';
import { compile } from '../compile.js';
import type { BuilderPrecision } from '../engine/plan.js';
import type { Device } from '../lowering/device.js';
import { importOnnx, OnnxError, parseOnnxModel } from '../onnx/index.js';
import { formatShape } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import { intFlag, parseFlags, stringFlag, UsageError } from './args.js';
import { formatLatency, type Print } from './demo.js';

const PRECISIONS = ['fp32', 'fp16', 'bf16', 'int8'] as const;
const DEVICES = ['auto', 'cpu', 'cuda'] as const;

/** What `fxrt bench` was asked to do. */
export interface BenchOnnxArgs {
  readonly model: string;
  readonly precision: BuilderPrecision;
  readonly device: Device;
  /** Size of every input's first dim when it is symbolic (undefined: the model's default). */
  readonly batch: number | undefined;
  /** Sizes of named symbolic dims (dim_param), e.g. { seq: 128 }. */
  readonly dims: Readonly<Record<string, number>>;
  readonly iterations: number;
  readonly warmup: number;
}

/** Parses `bench` arguments: the model path, then flags. Throws UsageError naming what is wrong. */
export function parseBenchOnnxArgs(argv: readonly string[]): BenchOnnxArgs {
  const [model, ...rest] = argv;
  if (model === undefined || model.startsWith('--')) throw new UsageError('bench needs a model file: fxrt bench model.onnx [--precision fp16] [--batch 32]');
  const dims: Record<string, number> = {};
  const flags: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    if (arg !== '--dims' && !arg.startsWith('--dims=')) { flags.push(arg); continue; }
    const list = arg === '--dims' ? rest[++i] : arg.slice('--dims='.length);
    if (list === undefined) throw new UsageError('--dims needs a value like seq=128,batch=8');
    for (const pair of list.split(',')) {
      const m = /^([^=]+)=(\d+)$/.exec(pair.trim());
      if (!m) throw new UsageError(`--dims expects name=size pairs like seq=128, got '${pair}'`);
      dims[m[1]!] = Number(m[2]);
    }
  }
  const f = parseFlags(flags, { precision: PRECISIONS, device: DEVICES, batch: 'int', iterations: 'int', warmup: 'int' });
  const batch = typeof f['batch'] === 'number' ? f['batch'] : undefined;
  if (batch === 0) throw new UsageError('--batch must be at least 1');
  return {
    model, dims, batch,
    precision: stringFlag(f, 'precision', 'fp32') as BuilderPrecision,
    device: stringFlag(f, 'device', 'auto') as Device,
    iterations: Math.max(1, intFlag(f, 'iterations', 20)),
    warmup: intFlag(f, 'warmup', 3),
  };
}

/** The symbolic dims to fix: --dims as given, plus the first dim of each input for --batch. */
function dimSizes(bytes: Uint8Array, args: BenchOnnxArgs): { dims: Record<string, number>; inputShapes: Record<string, number[]> } {
  const dims: Record<string, number> = { ...args.dims };
  const inputShapes: Record<string, number[]> = {};
  const graph = parseOnnxModel(bytes).graph!;
  const initializers = new Set(graph.initializer.map((t) => t.name));
  for (const v of graph.input) {
    if (initializers.has(v.name) || args.batch === undefined) continue;
    const t = v.type?.value;
    if (t?.case !== 'tensorType' || t.value.shape === undefined) continue;
    const first = t.value.shape.dim[0]?.value;
    if (first?.case === 'dimParam' && first.value !== '') dims[first.value] ??= args.batch;
    else if (first !== undefined && first.case !== 'dimValue') {
      // An unnamed symbolic batch dim: fix the whole shape, other symbolic dims from --dims or 1.
      inputShapes[v.name] = t.value.shape.dim.map((d, i) => (i === 0 ? args.batch! : d.value.case === 'dimValue' ? Number(d.value.value) : d.value.case === 'dimParam' ? args.dims[d.value.value] ?? 1 : 1));
    }
  }
  return { dims, inputShapes };
}

/**
 * Runs `fxrt bench`: import, compile, benchmark. `print` receives each output line.
 *
 * @example
 * await benchOnnx(['resnet50.onnx', '--precision', 'fp16', '--batch', '32']);
 */
export async function benchOnnx(argv: string[], print: Print = (line) => console.log(line)): Promise<void> {
  const args = parseBenchOnnxArgs(argv);
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(args.model);
  } catch (e) {
    throw new OnnxError(`cannot read model file '${args.model}': ${(e as Error).message}`);
  }
  const t0 = performance.now();
  const gm = importOnnx(bytes, { baseDir: dirname(args.model), ...dimSizes(bytes, args), onWarning: (w) => print(`  warning: ${w.node ? `node '${w.node}': ` : ''}${w.message}`) });
  const importMs = performance.now() - t0;
  const inputs = gm.inputSpecs.map((s, i) => {
    const shape = s.shapeRanges?.opt ?? s.shape;
    // Integer inputs (token ids, masks) get 1s: a valid index and an "attend" mask in every model.
    return s.dtype === 'float32' || s.dtype === 'float16' || s.dtype === 'bfloat16' ? Tensor.randn(shape, { seed: i, dtype: s.dtype }) : Tensor.ones(shape, s.dtype);
  });
  print(`fxrt bench: ${args.model} (opset ${gm.onnx.opset}, ${gm.graph.length} nodes), ${args.precision}, device ${args.device}`);
  print(`  inputs: ${gm.inputSpecs.map((s, i) => `${s.name} ${s.dtype}${formatShape(inputs[i]!.shape)}`).join(', ')}`);
  print(`  import: ${importMs.toFixed(0)} ms`);
  const t1 = performance.now();
  const lowered = await compile(gm, inputs, {
    precision: args.precision, device: args.device,
    inputSpecs: gm.inputSpecs.map((s) => s.shapeRanges ?? null),
  });
  print(`  compile: ${(performance.now() - t1).toFixed(0)} ms, ${lowered.engines.size} engine(s)`);
  const batchSize = inputs[0]?.shape[0] ?? 1;
  if (args.batch !== undefined && batchSize !== args.batch) print(`  note: the model's batch dim is fixed at ${batchSize}; --batch ${args.batch} was not applied`);
  const r = await benchmark(lowered, inputs, { warmup: args.warmup, iterations: args.iterations, batchSize });
  print(`  ${formatLatency('lowered module', r)}`);
}

