/**
 * compile(): the whole lowering pipeline (fx2trt's Lowerer) in one call —
 *
 *   symbolicTrace → accTrace → PassManager(defaultPasses) → splitModule
 *   → NetworkInterpreter per acc part → Builder per acc part → LoweredModule
 *
 * with an optional accuracy check against the reference interpreter.
 */
import { accTrace } from './acc_ops/acc_tracer.js';
import type { FloatPrecision } from './converters/context.js';
import { NetworkInterpreter } from './converters/index.js';
import { Builder, type BuilderConfig } from './engine/builder.js';
import { INT8_FALLBACKS, type Int8Fallback } from './engine/optimize/precision.js';
import type { TacticStats } from './engine/engine.js';
import { isQuantizedPrecision, type BuilderPrecision } from './engine/plan.js';
import { GraphModule } from './ir/graph_module.js';
import { symbolicTrace, type LeafSpec } from './ir/tracer.js';
import type { Module } from './nn/module.js';
import { defaultPasses, PassManager, type DefaultPassOptions, type DynamicQuantizeOptions, type NamedPass } from './passes/index.js';
import { singleTensorMeta } from './splitter/fusion_groups.js';
import { SplitPreview } from './splitter/preview.js';
import { splitModule } from './splitter/splitter.js';
import type { Tensor } from './tensor/tensor.js';
import { AccuracyError, compareWithReference, formatAccuracy, type AccuracyReport } from './lowering/accuracy.js';
import { resolveDevice, type Device } from './lowering/device.js';
import { EngineModule } from './lowering/engine_module.js';
import { engineInputSpecs, modelInputSpecs, type InputShapeRange } from './lowering/input_ranges.js';
import { LoweredModule } from './lowering/lowered_module.js';
import { flattenTensors } from './lowering/split_runner.js';
import { carriesQdq, enginePrecision, quantizeOptionsOf, warnUnusedQuantization } from './quantization/compile_step.js';
import { engineObserver } from './quantization/observe.js';
import { quantizeGraph, type CalibrationOptions, type QuantizationOptions } from './quantization/quantize.js';
import { formatQuantizationReport, type QuantizationReport } from './quantization/report.js';

/** The stages compile reports through `onProgress`, in order ('quantize' for int8 only; 'convert' and 'build' once per acc part). */
export type CompileStage = 'trace' | 'accTrace' | 'passes' | 'quantize' | 'split' | 'convert' | 'build' | 'validate' | 'done';

/** What a progress callback receives after each stage. */
export interface CompileProgress {
  /** One line saying what the stage did. */
  readonly message: string;
  /** Wall time of the stage, in ms ('done': of the whole compile). */
  readonly ms: number;
  /** The acc part, for 'convert' and 'build'. */
  readonly part?: string;
}

/**
 * Dynamic quantization (seed 004): linear/matmul layers with constant weights get INT8 weights
 * (symmetric, per output channel) and an INT8 activation whose scale is computed at run time (per
 * tensor, or per token with granularity 'token'); the rest of the model stays in `precision`, a
 * float one. See dynamicQuantize.
 */
export interface DynamicQuantization extends DynamicQuantizeOptions {
  readonly mode: 'dynamic';
}

/** Options of compile(); everything is optional. */
export interface CompileOptions {
  /**
   * Engine precision (default 'fp32'); 'int8' calibrates and inserts int8 Q/DQ, 'fp8' FP8 (e4m3)
   * Q/DQ around the matrix products (a graph that already has Q/DQ keeps its own).
   */
  readonly precision?: BuilderPrecision;
  /** int8 / fp8: the calibration data, method, cache and progress (without data: the example inputs, with a warning). */
  readonly calibration?: CalibrationOptions;
  /**
   * int8 / fp8: the float precision of the layers that do not run quantized (default 'fp16': TensorRT's
   * INT8 engines with FP16 fallback; float32 inputs and outputs are cast at the engine's edges).
   */
  readonly int8Fallback?: Int8Fallback;
  /**
   * int8: layers kept in float, accuracy target with sensitivity fallback, the report callback;
   * or `{ mode: 'dynamic' }` with a float `precision`: dynamic quantization of linear/matmul layers.
   */
  readonly quantization?: QuantizationOptions | DynamicQuantization;
  /** 'cpu': the reference backend; 'cuda': the CUDA backend (fails when absent); 'auto' (default): the best available, saying which. */
  readonly device?: Device;
  /** Acc parts with fewer compute nodes run on the interpreter (default 1). */
  readonly minAccModuleSize?: number;
  /** Acc ops ('acc.gelu'), functions or node names that must not run in an engine. */
  readonly excludeOps?: readonly string[];
  /** Per model input, the min/opt/max shapes the engines must accept (default: the example's shape only). */
  readonly inputSpecs?: readonly (InputShapeRange | null | undefined)[];
  /** Compare the lowered module with the reference interpreter on the example inputs; a number sets the relative tolerance. */
  readonly validate?: boolean | { readonly tolerance?: number };
  /** Called after every stage. */
  readonly onProgress?: (stage: CompileStage, info: CompileProgress) => void;
  /** Modules kept as calls (run on the interpreter): classes, dotted paths or a predicate. */
  readonly leafModules?: readonly LeafSpec[];
  /** forward parameters bound to fixed values while tracing (e.g. `{ attentionMask: null }`). */
  readonly concreteArgs?: Record<string, unknown>;
  /** Graph passes to run instead of defaultPasses(). */
  readonly passes?: readonly NamedPass[];
  /** Most activation memory per engine, in bytes. */
  readonly workspaceLimit?: number;
  /** Builder optimizations: all on (default), all off, or per optimization. */
  readonly optimizations?: BuilderConfig['optimizations'];
  /** Timing cache file shared by every engine's build (see BuilderConfig.timingCache): a warm one makes the build time nothing. */
  readonly timingCache?: string;
}

/** A failure in one stage of compile; names the stage (and the acc part). */
export class CompileError extends Error {
  override name = 'CompileError';
  readonly stage: CompileStage;
  readonly part: string | undefined;
  constructor(stage: CompileStage, message: string, opts: { part?: string; cause?: unknown } = {}) {
    super(`compile failed at stage '${stage}'${opts.part ? ` (part '${opts.part}')` : ''}: ${message}`, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.stage = stage;
    this.part = opts.part;
  }
}

/** Default relative tolerance of `validate`, per precision. */
export function defaultTolerance(precision: BuilderPrecision): number {
  return precision === 'fp32' ? 1e-4 : 2e-2;
}

const FLOAT_PRECISION: Record<BuilderPrecision | Int8Fallback, FloatPrecision> = { fp32: 'float32', fp16: 'float16', bf16: 'bfloat16', int8: 'float16', fp8: 'float16' };

/** The float dtype of a network built at `precision` (int8, fp8: its fallback's, default float16). */
function networkFloat(precision: BuilderPrecision, options: CompileOptions): FloatPrecision {
  if (!isQuantizedPrecision(precision)) return FLOAT_PRECISION[precision];
  const fallback = options.int8Fallback ?? 'fp16';
  if (!INT8_FALLBACKS.includes(fallback)) {
    throw new CompileError('trace', `int8Fallback must be 'fp32', 'fp16' or 'bf16', got '${String(fallback)}'`);
  }
  return FLOAT_PRECISION[fallback];
}

/** ', tactics 3 timed, 40 reused' for an engine whose backend chose library tactics at load. */
function describeTactics(s: TacticStats | null): string {
  return s ? `, tactics ${s.timed} timed, ${s.hits} reused${s.timingCache !== null ? ` (timing cache ${s.timingCache})` : ''}` : '';
}

/** Runs `fn` as stage `stage`: times it, reports progress, and wraps failures in a CompileError. */
async function stage<T>(name: CompileStage, opts: CompileOptions, fn: () => T | Promise<T>, describe: (r: T) => string, part?: string): Promise<T> {
  const t0 = performance.now();
  let result: T;
  try {
    result = await fn();
  } catch (e) {
    if (e instanceof CompileError) throw e;
    throw new CompileError(name, e instanceof Error ? e.message : String(e), { cause: e, ...(part ? { part } : {}) });
  }
  opts.onProgress?.(name, { message: describe(result), ms: performance.now() - t0, ...(part ? { part } : {}) });
  return result;
}

/** The precision of calibration engines for `example`: fp32 unless the inputs are 16-bit floats. */
function observationPrecision(example: readonly Tensor[]): 'fp32' | 'fp16' | 'bf16' {
  if (example.some((t) => t.dtype === 'float16')) return 'fp16';
  return example.some((t) => t.dtype === 'bfloat16') ? 'bf16' : 'fp32';
}

/**
 * Lowers a model to engines: returns a LoweredModule whose `run` executes the engine parts on
 * the chosen backend and the rest on the interpreter.
 *
 * @example
 * const lowered = await compile(resnet18().eval(), [x], {
 *   precision: 'fp16', device: 'auto', validate: true,
 *   onProgress: (stage, { message }) => console.log(stage, message),
 * });
 * const [logits] = await lowered.run([x]);
 * console.log(lowered.splitPreview.toString(), lowered.validation);
 */
export async function compile(model: Module | GraphModule, inputs: readonly Tensor[], options: CompileOptions = {}): Promise<LoweredModule> {
  const start = performance.now();
  const precision = options.precision ?? 'fp32';
  if (!(precision in FLOAT_PRECISION)) {
    throw new CompileError('trace', `precision must be 'fp32', 'fp16', 'bf16', 'int8' or 'fp8', got '${String(precision)}'`);
  }
  const floatType = networkFloat(precision, options);
  const dynamic = dynamicQuantizationOf(precision, options.quantization);
  const device = resolveDevice(options.device ?? 'auto');
  const leafModules = options.leafModules ?? [];

  const traced = await stage('trace', options, () => (model instanceof GraphModule
    ? model
    : symbolicTrace(model, { leafModules, ...(options.concreteArgs ? { concreteArgs: options.concreteArgs } : {}) })),
  (gm) => `${gm.graph.length} nodes`);
  const acc = await stage('accTrace', options, () => accTrace(traced, inputs, { leafModules }), (gm) => `${gm.graph.length} nodes`);
  const passes = options.passes ?? defaultPasses(passOptions(precision, dynamic));
  if (dynamic && !passes.some((p) => p.passName === 'dynamicQuantize')) {
    throw new CompileError('passes', "quantization mode 'dynamic' needs the dynamicQuantize pass among `passes` (defaultPasses({ dynamicQuantization }) has it)");
  }
  const optimized = await stage('passes', options, () => new PassManager(passes).run(acc).gm,
    (gm) => `${gm.graph.length} nodes after ${passes.map((p) => p.passName).join(', ')}`);
  let quantization: QuantizationReport | undefined;
  if (isQuantizedPrecision(precision) && !carriesQdq(optimized)) {
    // Calibrates on float engines when the CUDA backend runs this compile (fp32, or the 16-bit type of
    // half-precision inputs, which an fp32 build refuses), else on the interpreter; rewrites `optimized` in place.
    const observer = device.backend === 'cuda' ? engineObserver((g, example) => compile(g, example, {
      device: 'cuda', passes: [], leafModules, precision: observationPrecision(example),
      ...(options.minAccModuleSize !== undefined ? { minAccModuleSize: options.minAccModuleSize } : {}),
      ...(options.excludeOps ? { excludeOps: options.excludeOps } : {}),
    }), 'float engines on the CUDA backend') : undefined;
    const quantized = await stage('quantize', options, () => quantizeGraph(optimized, inputs, { ...quantizeOptionsOf(options, observer), format: precision === 'fp8' ? 'float8e4m3' : 'int8' }),
      (r) => formatQuantizationReport(r.report).split('\n')[0]!);
    quantization = quantized.report;
  } else if (!dynamic) warnUnusedQuantization(precision, options);
  const { specs, specsOf, split } = await stage('split', options, () => {
    const modelSpecs = modelInputSpecs(optimized.graph.placeholders.map((p) => p.name), inputs, options.inputSpecs);
    return {
      specs: modelSpecs,
      specsOf: engineInputSpecs(optimized, modelSpecs),
      split: splitModule(optimized, {
        ...(options.minAccModuleSize !== undefined ? { minAccModuleSize: options.minAccModuleSize } : {}),
        ...(options.excludeOps ? { excludeOps: options.excludeOps } : {}),
      }),
    };
  }, (r) => `${r.split.parts.length} part(s): ${r.split.parts.map((p) => p.name).join(', ') || 'none'}`);

  for (const part of split.parts) {
    if (part.kind !== 'acc') continue;
    const dtypes = part.module.graph.placeholders.map((p) => {
      const m = singleTensorMeta(p);
      if (!m) throw new CompileError('convert', `engine input '${p.name}' is not a tensor of known shape`, { part: part.name });
      return m.dtype;
    });
    const converted = await stage('convert', options, () => new NetworkInterpreter(part.module, specsOf(part.inputs, dtypes), {
      precision: floatType, name: part.name,
    }).run(), (c) => `${c.network.layers.length} layers`, part.name);
    const engine = await stage('build', options, () => new Builder().build(converted.network, {
      precision: enginePrecision(precision, converted.network, options.int8Fallback), backend: device.backend,
      ...(isQuantizedPrecision(precision) ? { int8Fallback: options.int8Fallback ?? 'fp16' } : {}),
      ...(options.workspaceLimit !== undefined ? { workspaceLimit: options.workspaceLimit } : {}),
      ...(options.optimizations !== undefined ? { optimizations: options.optimizations } : {}),
      ...(options.timingCache !== undefined ? { timingCache: options.timingCache } : {}),
    }), (e) => `${e.report.layersBefore} layers -> ${e.report.stepsAfter} steps${describeTactics(e.tacticStats)}`, part.name);
    split.split.setAttr(part.name, new EngineModule(engine, part.name));
  }
  let lowered = new LoweredModule({
    split: split.split, inputs: specs, precision, backend: device.backend, backendDescription: device.description,
    splitPreview: SplitPreview.of(split), ...(quantization ? { quantization } : {}),
  });

  if (options.validate) {
    const tolerance = typeof options.validate === 'object' && options.validate.tolerance !== undefined ? options.validate.tolerance : defaultTolerance(precision);
    // Dynamic quantization is checked against the quantized graph on the interpreter: its distance to the float model is the quantization's own.
    const reference = dynamic ? optimized : traced;
    const report = await stage('validate', options, () => validate(reference, lowered, inputs, tolerance), formatAccuracy);
    if (!report.passed) {
      throw new CompileError('validate', `the lowered module differs from the reference interpreter beyond the tolerance: ${formatAccuracy(report)}`, { cause: new AccuracyError(formatAccuracy(report), report) });
    }
    lowered = lowered.withValidation(report);
  }
  options.onProgress?.('done', { message: `${lowered.engines.size} engine(s) on the ${device.description}`, ms: performance.now() - start });
  return lowered;
}

/**
 * The dynamic quantization compile's `quantization` asks for (undefined: none, or static int8
 * options), checked against the precision: dynamic quantization keeps the model in a float one.
 */
function dynamicQuantizationOf(precision: BuilderPrecision, q: CompileOptions['quantization']): DynamicQuantization | undefined {
  if (q === undefined || !('mode' in q)) return undefined;
  if (q.mode !== 'dynamic') throw new CompileError('trace', `quantization.mode must be 'dynamic', got '${String(q.mode)}'`);
  if (isQuantizedPrecision(precision)) {
    throw new CompileError('trace', `quantization mode 'dynamic' keeps the model in a float precision: use precision 'fp32', 'fp16' or 'bf16' ('${precision}' is static quantization)`);
  }
  return q;
}

/** The default pipeline's options: the Q/DQ repairs for int8, dynamic quantization when asked. */
function passOptions(precision: BuilderPrecision, dynamic: DynamicQuantization | undefined): DefaultPassOptions {
  if (!dynamic) return { qdqRepairs: isQuantizedPrecision(precision) };
  const { granularity, exclude } = dynamic;
  return { dynamicQuantization: { ...(granularity ? { granularity } : {}), ...(exclude ? { exclude } : {}) } };
}

/** Runs the reference interpreter and the lowered module on copies of the inputs and compares. */
async function validate(reference: GraphModule, lowered: LoweredModule, inputs: readonly Tensor[], tolerance: number): Promise<AccuracyReport> {
  const expected = flattenTensors(reference.forward(...inputs.map((t) => t.clone())), 'reference output');
  const actual = await lowered.run(inputs.map((t) => t.clone()));
  return compareWithReference(expected, actual, tolerance);
}
