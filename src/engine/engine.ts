/**
 * A built engine: a Plan bound to a backend that executes it (TensorRT's ICudaEngine). Backends
 * are plain objects registered by name; the reference backend (TypeScript kernels) is always
 * present, the CUDA backend registers itself when its addon loads.
 */
import type { DType } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';
import { ExecutionContext, resolveShapes } from './execution_context.js';
import { deserializePlan, serializePlan, type BackendName, type Plan, type PlanInput, type PlanOutput, type PlanStep, type StepPrecision } from './plan.js';
import { referenceBackend } from './reference/backend.js';
import type { BuildReport } from './report.js';

/** One execution request handed to a backend context; shapes are resolved per value id. */
export interface RunRequest {
  readonly inputs: readonly Tensor[];
  readonly shapes: readonly (readonly number[])[];
  /** Called after each step with its index and wall time (only while profiling). */
  readonly onStep: ((index: number, ms: number) => void) | null;
}

/** The per-context state of a backend (its memory); one execution at a time. */
export interface BackendContext {
  run(request: RunRequest): Promise<Tensor[]>;
}

/** Where a step's implementation came from when a backend loaded the plan. */
export type TacticSource =
  /** Library candidates timed on the device during this load. */
  | 'timed'
  /** A timed choice reused: from the timing cache, or an identical op timed earlier in the load. */
  | 'cache'
  /** The library's heuristic, untimed. */
  | 'heuristic'
  /** The backend's own kernels: nothing to choose. */
  | 'fixed';

/** The implementation a backend chose for one step when it loaded the plan. */
export interface StepTactic {
  readonly tactic: string;
  readonly source: TacticSource;
}

/**
 * How a backend chose library tactics when it loaded a plan (TensorRT's timing cache
 * statistics): a second build of one model on one device with the same timing cache times nothing.
 */
export interface TacticStats {
  /** Library ops whose choice was a timed one reused (timing cache, or an identical op earlier). */
  readonly hits: number;
  /** Library ops chosen without one: timed now, or by the heuristic. */
  readonly misses: number;
  /** Library ops whose candidates were timed on the device. */
  readonly timed: number;
  /** Cached choices refused (malformed, or the library no longer accepts them) and chosen again. */
  readonly rejected: number;
  /** The timing cache file used, if any. */
  readonly timingCache: string | null;
  /** What was wrong with the timing cache file (ignored entries, unreadable file), if anything. */
  readonly warnings: readonly string[];
}

/** A plan loaded by a backend (constants uploaded, kernels prepared). */
export interface LoadedPlan {
  createContext(): BackendContext;
  /** Per step, the implementation chosen at load, for backends that choose then (undefined: the builder's tactic stands). */
  stepTactics?(): readonly (StepTactic | undefined)[];
  /** How library tactics were chosen at load, for backends that time them. */
  tacticStats?(): TacticStats;
}

/** How a backend loads a plan. */
export interface LoadOptions {
  /**
   * Timing cache file (TensorRT's ITimingCache): tactics timed before on this device are reused
   * instead of timed again; the file is created if missing and updated when new ones were timed.
   */
  readonly timingCache?: string;
}

/** An executor of plans. */
export interface Backend {
  readonly name: BackendName;
  /** The implementation the backend picks for a step at build time. */
  tactic(step: PlanStep): string;
  load(plan: Plan, options?: LoadOptions): LoadedPlan;
}

const backends = new Map<BackendName, Backend>([['reference', referenceBackend]]);

/**
 * Makes a backend available to builds and engines (the CUDA addon calls this when it loads).
 * @example
 * registerBackend(cudaBackend);
 */
export function registerBackend(backend: Backend): void {
  backends.set(backend.name, backend);
}

/** The backend registered under `name`; the error lists the available ones. */
export function getBackend(name: BackendName): Backend {
  const b = backends.get(name);
  if (!b) throw new Error(`backend '${name}' is not available in this process (available: ${[...backends.keys()].join(', ')})`);
  return b;
}

/** A tensor in layer info. */
export interface LayerInfoTensor {
  readonly name: string;
  readonly dtype: DType;
  /** -1 marks a dynamic dim. */
  readonly shape: readonly number[];
}

/** What `Engine.layerInfo()` reports for each step. */
export interface LayerInfo {
  readonly name: string;
  readonly kind: string;
  /** The network layers the step executes (several when fused). */
  readonly layers: readonly string[];
  readonly precision: StepPrecision;
  /** The implementation: what the backend chose at load where it chooses then (CUDA: the library algorithms), else the builder's tactic. */
  readonly tactic: string;
  /** Where the backend's choice came from (absent when the backend chooses nothing at load). */
  readonly tacticSource?: TacticSource;
  readonly inputs: readonly LayerInfoTensor[];
  readonly outputs: readonly LayerInfoTensor[];
  /** Fused epilogue or pointwise program, one readable line per operation. */
  readonly fused: readonly string[];
}

/** Cached shape resolutions per engine (distinct input shapes seen). */
const SHAPE_CACHE_SIZE = 16;

/**
 * An executable engine.
 * @example
 * const engine = await new Builder().build(network, { precision: 'fp16' });
 * const [y] = await engine.createExecutionContext().execute([x]);
 * writeFileSync('model.fxrt', engine.serialize());
 */
export class Engine {
  readonly plan: Plan;
  readonly backend: Backend;
  readonly #loaded: LoadedPlan;
  readonly #shapes = new Map<string, number[][]>();

  constructor(plan: Plan, backend: Backend = getBackend(plan.backend), options: LoadOptions = {}) {
    this.plan = plan;
    this.backend = backend;
    this.#loaded = backend.load(plan, options);
  }

  /** Reads a serialized engine (see serializePlan), optionally onto another backend or with a timing cache. */
  static deserialize(bytes: Uint8Array, options: { backend?: BackendName } & LoadOptions = {}): Engine {
    const plan = deserializePlan(bytes);
    return new Engine(plan, getBackend(options.backend ?? plan.backend), options);
  }

  /** How the backend chose library tactics when it loaded the plan; null for backends that choose none. */
  get tacticStats(): TacticStats | null {
    return this.#loaded.tacticStats?.() ?? null;
  }

  get name(): string {
    return this.plan.name;
  }

  get inputs(): readonly PlanInput[] {
    return this.plan.inputs;
  }

  get outputs(): readonly PlanOutput[] {
    return this.plan.outputs;
  }

  /** The build report: layers before/after fusion, fusions, precisions, memory. */
  get report(): BuildReport {
    return this.plan.report;
  }

  /** A context with its own memory; contexts of one engine may run concurrently. */
  createExecutionContext(): ExecutionContext {
    return new ExecutionContext(this, this.#loaded.createContext());
  }

  /** The serialized plan (magic, version, JSON header, constant blob, CRC-32). */
  serialize(): Uint8Array {
    return serializePlan(this.plan);
  }

  /** Every value's shape for these input shapes (cached per distinct input shapes). */
  resolveShapes(inputShapes: readonly (readonly number[])[]): number[][] {
    const key = inputShapes.map((s) => s.join(',')).join(';');
    let shapes = this.#shapes.get(key);
    if (!shapes) {
      shapes = resolveShapes(this.plan, inputShapes);
      if (this.#shapes.size >= SHAPE_CACHE_SIZE) this.#shapes.delete(this.#shapes.keys().next().value!);
      this.#shapes.set(key, shapes);
    }
    return shapes;
  }

  /** Per step: kind, fused layers, precision, tactic (and its source), input/output names, dtypes and shapes (JSON-ready). */
  layerInfo(): LayerInfo[] {
    const tensor = (id: number): LayerInfoTensor => {
      const v = this.plan.values[id]!;
      return { name: v.name, dtype: v.dtype, shape: v.shape };
    };
    const chosen = this.#loaded.stepTactics?.() ?? [];
    return this.plan.steps.map((s, i) => {
      const c = chosen[i];
      return {
        name: s.name,
        kind: s.kind,
        layers: s.layers,
        precision: s.precision,
        tactic: c?.tactic ?? s.tactic,
        ...(c ? { tacticSource: c.source } : {}),
        inputs: s.inputs.map(tensor),
        outputs: s.outputs.map(tensor),
        fused: describeFused(s),
      };
    });
  }
}

/** Readable lines for a step's epilogue or pointwise program. */
function describeFused(s: PlanStep): string[] {
  if (s.kind === 'pointwise') {
    const n = s.inputs.length;
    return s.program.instrs.map((ins, k) => {
      const args = ins.args.map((a) => (a < n ? `in${a}` : `r${a - n}`)).join(', ');
      const fn = ins.op === 'cast' ? `cast<${ins.dtype}>` : ins.op === 'activation' ? `${ins.fn}[${ins.alpha}, ${ins.beta}]` : ins.fn;
      return `r${k} = ${fn}(${args})`;
    });
  }
  return s.epilogue.map((op) => (op.op === 'activation' ? `${op.fn}[${op.alpha}, ${op.beta}]` : `+ ${op.op} in${op.input}`));
}
