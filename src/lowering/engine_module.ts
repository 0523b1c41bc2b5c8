/**
 * EngineModule (fx2trt's TRTModule): a built engine as a module of the split graph, with its
 * input/output names, dtypes and shapes, an asynchronous `run` (host tensors, or device tensors
 * in and out on the CUDA backend), per-layer profiling, layer info and save/load of the
 * serialized engine.
 */
import { CudaEngineRunner, DeviceTensor } from '../backends/cuda/index.js';
import { Engine, type LayerInfo, type LoadOptions } from '../engine/engine.js';
import { checkInputs, EngineInputError, type ExecutionContext, type StepProfile } from '../engine/execution_context.js';
import type { BackendName, PlanInput, PlanOutput } from '../engine/plan.js';
import type { BuildReport } from '../engine/report.js';
import { Module } from '../nn/module.js';
import type { DType } from '../tensor/dtype.js';
import { Tensor } from '../tensor/tensor.js';
import { readFrame, SavedFormatError, writeFrame } from './container.js';
import { DeviceError } from './device.js';

const MAGIC = 'FXEM';
/** Format version of `EngineModule.save()`. */
export const ENGINE_MODULE_VERSION = 1;

/** Where `EngineModule.run` leaves its outputs. */
export type OutputPlacement = 'host' | 'device';

/** Options of `EngineModule.run`. */
export interface EngineRunOptions {
  /**
   * 'host' (default): Tensors. 'device': DeviceTensors that stay on the GPU (the caller disposes
   * them); only for engines on the CUDA backend.
   */
  readonly outputs?: OutputPlacement;
}

const RUN_OPTION_KEYS: readonly string[] = ['outputs'] satisfies readonly (keyof EngineRunOptions)[];

/** The placement `options` ask for; a TypeError names what is wrong with them. */
function outputPlacement(module: string, options: EngineRunOptions | undefined): OutputPlacement {
  const raw: unknown = options;
  if (raw === undefined) return 'host';
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new TypeError(`EngineModule '${module}': run options must be an object such as { outputs: 'device' }, got ${raw === null ? 'null' : Array.isArray(raw) ? 'an array' : typeof raw}`);
  }
  for (const key of Object.keys(raw)) {
    if (!RUN_OPTION_KEYS.includes(key)) throw new TypeError(`EngineModule '${module}': unknown run option '${key}' (expected ${RUN_OPTION_KEYS.join(', ')})`);
  }
  const outputs: unknown = Reflect.get(raw, 'outputs');
  if (outputs === undefined) return 'host';
  if (outputs === 'host' || outputs === 'device') return outputs;
  throw new TypeError(`EngineModule '${module}': run option 'outputs' must be 'host' or 'device', got ${typeof outputs === 'string' ? `'${outputs}'` : String(outputs)}`);
}

function stringList(v: unknown, what: string): string[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new SavedFormatError(`saved engine module: '${what}' is not a list of names`);
  return v;
}

/**
 * Runs one engine as a module. `forward` is synchronous in Module, engines are not: call
 * `await run(inputs)`. Calls on one EngineModule execute one after another on its execution
 * context (the reference backend's arena is per context). On the CUDA backend, inputs may be
 * DeviceTensors and `{ outputs: 'device' }` keeps the outputs on the GPU, so a pipeline of
 * engines never copies through the host.
 *
 * @example
 * const m = new EngineModule(await new Builder().build(network, { precision: 'fp32' }));
 * const [y] = await m.run([x]);
 * console.log(m.layerInfoJSON());
 * const copy = EngineModule.load(m.save());
 */
export class EngineModule extends Module {
  readonly engine: Engine;
  /** The part of the split module (or model) this engine computes. */
  readonly name: string;
  #context: ExecutionContext | undefined;
  /** Runs with device tensors (CUDA engines only); its own execution context, made on first use. */
  #runner: CudaEngineRunner | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(engine: Engine, name: string = engine.name) {
    super();
    this.engine = engine;
    this.name = name;
    this.training = false;
  }

  get inputNames(): string[] { return this.engine.inputs.map((i) => i.name); }
  get outputNames(): string[] { return this.engine.outputs.map((o) => o.name); }
  get inputDtypes(): DType[] { return this.engine.inputs.map((i) => i.dtype); }
  get outputDtypes(): DType[] { return this.engine.outputs.map((o) => o.dtype); }
  /** Input shapes, -1 for dims that the optimization profile lets vary. */
  get inputShapes(): (readonly number[])[] { return this.engine.inputs.map((i) => i.shape); }
  /** Output shapes, -1 for dims that depend on dynamic input dims. */
  get outputShapes(): (readonly number[])[] { return this.engine.outputs.map((o) => o.shape); }
  /** The engine's inputs with their optimization profiles (min/opt/max). */
  get inputs(): readonly PlanInput[] { return this.engine.inputs; }
  get outputs(): readonly PlanOutput[] { return this.engine.outputs; }
  /** The build report: layers before/after fusion, fusions, precisions, memory plan. */
  get report(): BuildReport { return this.engine.report; }

  #ctx(): ExecutionContext {
    this.#context ??= this.engine.createExecutionContext();
    return this.#context;
  }

  /**
   * Runs the engine; resolves to its outputs in `outputNames` order. Rejects with an
   * EngineInputError naming the input when the count, dtype, rank or a dim outside the
   * optimization profile does not match (or a DeviceTensor was disposed), a TypeError for bad
   * options, and a DeviceError when device tensors meet an engine that does not run on CUDA.
   *
   * Inputs may be host Tensors or (CUDA engines) DeviceTensors, which are read where they are;
   * `{ outputs: 'device' }` resolves to new DeviceTensors that the caller disposes. Runs with
   * device tensors use an execution context of their own (made on first use) and are not
   * counted by `profile()`.
   *
   * @example
   * const [h] = await m.run([x]);                                                  // host in, host out
   * const [d] = await m.run([DeviceTensor.upload(x)], { outputs: 'device' });     // stays on the GPU
   * const [z] = await next.run([d], { outputs: 'device' });
   * console.log((await z!.download()).toArray());
   * d!.dispose(); z!.dispose();
   */
  run(inputs: readonly (Tensor | DeviceTensor)[], options?: EngineRunOptions & { readonly outputs?: 'host' }): Promise<Tensor[]>;
  run(inputs: readonly (Tensor | DeviceTensor)[], options: EngineRunOptions & { readonly outputs: 'device' }): Promise<DeviceTensor[]>;
  run(inputs: readonly (Tensor | DeviceTensor)[], options?: EngineRunOptions): Promise<Tensor[] | DeviceTensor[]>;
  run(inputs: readonly (Tensor | DeviceTensor)[], options?: EngineRunOptions): Promise<Tensor[] | DeviceTensor[]> {
    let placement: OutputPlacement;
    let host: Tensor[] | null;
    try {
      placement = outputPlacement(this.name, options);
      this.#checkKinds(inputs);
      checkInputs(this.engine.plan, inputs);
      host = this.#hostInputs(inputs, placement);
    } catch (e) {
      return Promise.reject(e);
    }
    const result: Promise<Tensor[] | DeviceTensor[]> = host !== null
      ? this.#queue.then(() => this.#ctx().execute(host))
      : this.#queue.then(() => this.#runDevice(inputs, placement));
    this.#queue = result.catch(() => undefined);
    return result;
  }

  /** Every input is a Tensor or a DeviceTensor (callers from JavaScript may pass anything). */
  #checkKinds(inputs: readonly unknown[]): void {
    const raw: unknown = inputs;
    if (!Array.isArray(raw)) throw new EngineInputError(`EngineModule '${this.name}': inputs must be an array of tensors, got ${raw === null ? 'null' : typeof raw}`);
    inputs.forEach((t: unknown, i) => {
      if (t instanceof Tensor || t instanceof DeviceTensor) return;
      const name = this.inputNames[i];
      throw new EngineInputError(`EngineModule '${this.name}': input ${i}${name === undefined ? '' : ` ('${name}')`} must be a Tensor or a DeviceTensor, got ${t === null ? 'null' : typeof t}`);
    });
  }

  /**
   * The inputs as host tensors when the run needs no device (host tensors in and out), else null
   * after checking that the engine runs on CUDA and no device tensor was disposed.
   */
  #hostInputs(inputs: readonly (Tensor | DeviceTensor)[], placement: OutputPlacement): Tensor[] | null {
    const host = inputs.filter((t): t is Tensor => t instanceof Tensor);
    if (host.length === inputs.length && placement === 'host') return host;
    const backend = this.engine.backend.name;
    const onDevice = inputs.findIndex((t) => t instanceof DeviceTensor);
    if (backend !== 'cuda') {
      const why = onDevice >= 0
        ? `input ${onDevice} ('${this.inputNames[onDevice]}') is a DeviceTensor`
        : `run option outputs: 'device' was given`;
      throw new DeviceError(`EngineModule '${this.name}': ${why}, but the engine runs on the '${backend}' backend, not on CUDA: ` +
        `pass host tensors (await t.download()) and host outputs, or build the engine for device 'cuda'`);
    }
    inputs.forEach((t, i) => {
      if (t instanceof DeviceTensor && t.disposed) {
        throw new EngineInputError(`EngineModule '${this.name}': input ${i} ('${this.inputNames[i]}') is a DeviceTensor that was disposed`);
      }
    });
    return null;
  }

  /** One run through the device runner; host outputs are downloaded and their device copies freed. */
  async #runDevice(inputs: readonly (Tensor | DeviceTensor)[], placement: OutputPlacement): Promise<Tensor[] | DeviceTensor[]> {
    this.#runner ??= CudaEngineRunner.of(this.engine);
    const outs = await this.#runner.run(inputs);
    if (placement === 'device') return outs;
    try {
      return await Promise.all(outs.map((t) => t.download()));
    } finally {
      for (const t of outs) t.dispose();
    }
  }

  /** Engines run asynchronously: use `await run(inputs)`. */
  override forward(...args: unknown[]): never {
    throw new TypeError(`EngineModule '${this.name}' runs asynchronously: call \`await module.run([...])\` instead of forward (${args.length} argument(s) given)`);
  }

  /** Starts collecting per-step wall times on later runs. */
  enableProfiling(): void {
    this.#ctx().profile = true;
  }

  /** Stops collecting per-step times (what was collected stays until resetProfile). */
  disableProfiling(): void {
    this.#ctx().profile = false;
  }

  /** Per-step timings (calls, total and last ms, the layers each step covers). */
  profile(): StepProfile[] {
    return this.#ctx().profileData();
  }

  resetProfile(): void {
    this.#ctx().resetProfile();
  }

  /** Per step of the engine: kind, fused layers, precision, tactic, input/output shapes. */
  layerInfo(): LayerInfo[] {
    return this.engine.layerInfo();
  }

  /** `layerInfo()` as a JSON document (TensorRT's engine inspector output). */
  layerInfoJSON(): string {
    return JSON.stringify({ engine: this.name, backend: this.engine.backend.name, layers: this.layerInfo() }, null, 2);
  }

  /** The serialized engine plus this module's names, in a checksummed frame. */
  save(): Uint8Array {
    return writeFrame(MAGIC, ENGINE_MODULE_VERSION, { name: this.name, inputNames: this.inputNames, outputNames: this.outputNames }, [this.engine.serialize()]);
  }

  /**
   * Loads a module saved with `save()` (optionally with a timing cache for a backend that times
   * tactics at load). Truncated or corrupted bytes are rejected with a SavedFormatError (or the
   * plan's PlanFormatError) saying what is wrong.
   *
   * @example
   * const m = EngineModule.load(readFileSync('part.fxem'));
   */
  static load(bytes: Uint8Array, opts: { backend?: BackendName } & LoadOptions = {}): EngineModule {
    const { header, sections } = readFrame(bytes, MAGIC, ENGINE_MODULE_VERSION, 'saved engine module');
    const name = header['name'];
    if (typeof name !== 'string') throw new SavedFormatError(`saved engine module: 'name' is missing`);
    const inputNames = stringList(header['inputNames'], 'inputNames');
    const outputNames = stringList(header['outputNames'], 'outputNames');
    if (sections.length !== 1) throw new SavedFormatError(`saved engine module '${name}': expected 1 section (the plan), got ${sections.length}`);
    const engine = Engine.deserialize(sections[0]!, opts);
    const m = new EngineModule(engine, name);
    const same = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);
    if (!same(m.inputNames, inputNames) || !same(m.outputNames, outputNames)) {
      throw new SavedFormatError(`saved engine module '${name}': the header's inputs/outputs (${inputNames.join(', ')} → ${outputNames.join(', ')}) ` +
        `differ from the plan's (${m.inputNames.join(', ')} → ${m.outputNames.join(', ')})`);
    }
    return m;
  }

  override extraRepr(): string {
    return `'${this.name}', ${this.engine.backend.name}, precision=${this.engine.plan.precision}, inputs=[${this.inputNames.join(', ')}], steps=${this.engine.plan.steps.length}`;
  }
}
