/**
 * EngineModule (fx2trt's TRTModule): a built engine as a module of the split graph, with its
 * input/output names, dtypes and shapes, an asynchronous `run`, per-layer profiling, layer info
 * and save/load of the serialized engine.
 */
import { Engine, type LayerInfo, type LoadOptions } from '../engine/engine.js';
import { checkInputs, type ExecutionContext, type StepProfile } from '../engine/execution_context.js';
import type { BackendName, PlanInput, PlanOutput } from '../engine/plan.js';
import type { BuildReport } from '../engine/report.js';
import { Module } from '../nn/module.js';
import type { DType } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';
import { readFrame, SavedFormatError, writeFrame } from './container.js';

const MAGIC = 'FXEM';
/** Format version of `EngineModule.save()`. */
export const ENGINE_MODULE_VERSION = 1;

function stringList(v: unknown, what: string): string[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new SavedFormatError(`saved engine module: '${what}' is not a list of names`);
  return v;
}

/**
 * Runs one engine as a module. `forward` is synchronous in Module, engines are not: call
 * `await run(inputs)`. Calls on one EngineModule execute one after another on its execution
 * context (the reference backend's arena is per context).
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
   * optimization profile does not match.
   */
  run(inputs: readonly Tensor[]): Promise<Tensor[]> {
    try {
      checkInputs(this.engine.plan, inputs);
    } catch (e) {
      return Promise.reject(e);
    }
    const result = this.#queue.then(() => this.#ctx().execute(inputs));
    this.#queue = result.catch(() => undefined);
    return result;
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
