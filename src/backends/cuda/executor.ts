/**
 * The CUDA backend's engine side: a loaded plan (layouts, device constants, context memory
 * layout; the first context's program tuned at load, through the timing cache when one is given)
 * and execution contexts that run programs, one per distinct set of input shapes, each in one
 * native call resolved by a completion callback.
 */
import type { BackendContext, LoadedPlan, LoadOptions, RunRequest, StepTactic, TacticSource, TacticStats } from '../../engine/engine.js';
import { resolveShapes } from '../../engine/execution_context.js';
import type { Plan } from '../../engine/plan.js';
import { itemSize, storageFromBytes, type DType } from '../../tensor/dtype.js';
import { formatShape, numelOf } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { requireCuda } from './availability.js';
import { settleSoon } from './completion.js';
import { deviceConstants, type DeviceConstants } from './device_constants.js';
import { DeviceTensor, type DeviceRecycler } from './device_tensor.js';
import type { ProgramSpec } from './exec_spec.js';
import { programSpec } from './lower/program.js';
import type { NativeBuffer, NativeExecContext, NativeExecPlan, NativeExecProgram, NativeRunResult } from './native.js';
import { contextMemory, planLayout, type ContextMemory, type PlanLayout } from './plan_layout.js';
import { Stream } from './stream.js';
import { TimingCache } from './timing_cache.js';

/** Options of the CUDA backend's execution. */
export interface CudaExecutionOptions {
  /** Capture each program into a CUDA graph after one warm-up run and replay it (default true; FXRT_CUDA_GRAPHS=0 turns it off). */
  readonly graphs: boolean;
  /**
   * Capture the input and output copies into the graph as well (default true; FXRT_CUDA_GRAPH_COPIES=0
   * keeps them beside it, as separate copies each run).
   */
  readonly graphCopies: boolean;
  /**
   * Read and write device tensors that fill the same I/O slots run after run in place
   * (default true; FXRT_CUDA_BIND_IO=0 always copies them).
   */
  readonly bindIo: boolean;
  /**
   * Only library algorithms whose results do not depend on GPU scheduling, so that contexts
   * running concurrently give bit-identical results (default false, as PyTorch's
   * cudnn.deterministic; FXRT_CUDA_DETERMINISTIC=1 turns it on). Some are slower.
   */
  readonly deterministic: boolean;
  /**
   * FP8 GEMMs accumulate in the tensor cores' own accumulator, without cuBLASLt's periodic
   * promotion to float32 (CUBLASLT_MATMUL_DESC_FAST_ACCUM): about 20% faster on the MLP's GEMMs,
   * less precise over long sums. Default true, as inference (forward) FP8 GEMMs are usually run
   * (Transformer Engine's forward GEMMs, for one); FXRT_CUDA_FP8_FAST_ACCUM=0 promotes.
   */
  readonly fp8FastAccumulation: boolean;
}

/** What the library chose for one op of a prepared program. */
export interface CudaOpTactic {
  /** The plan step (-1: copies of network inputs/outputs). */
  readonly step: number;
  readonly tactic: string;
  readonly source: TacticSource;
}

/** The device tensors in a context's I/O slots at some input shapes, and the program bound to them. */
interface BoundIo {
  readonly tensors: readonly (WeakRef<DeviceTensor> | null)[];
  program: NativeExecProgram | null;
  /** The bound prepare was refused (an op reaches across a slot): copy at these tensors. */
  failed: boolean;
  /** Outputs the runs allocated themselves: the device addresses of the last run's (0: not bindable). */
  addresses: readonly number[] | null;
  /** The program bound to the inputs above and to outputs at those addresses, once two runs in a row allocated there. */
  full: NativeExecProgram | null;
  fullFailed: boolean;
  /** How often `full` was dropped because the outputs moved; from MAX_FULL_DROPS on it is not prepared again. */
  fullDrops: number;
  /** Whether the last run used `full`. */
  usedFull: boolean;
}

/** Times outputs allocated by the runs may move away from a bound program before binding them stops (no re-preparing in a loop). */
const MAX_FULL_DROPS = 2;

/** Bounds on the programs a context keeps (one per distinct input shapes). */
const PROGRAM_CACHE_SIZE = 8;

/** The most runs one timeDevice call enqueues (the addon's limit: native/src/exec/executor.cc kMaxTimedRuns). */
const MAX_TIMED_RUNS = 100_000;

function shapeKey(shapes: readonly (readonly number[])[]): string {
  return shapes.map((s) => s.join(',')).join(';');
}

/** An execution context on the device: its own stream and memory; runs never overlap. */
export class CudaContext implements BackendContext {
  readonly #loaded: CudaLoadedPlan;
  readonly #native: NativeExecContext;
  readonly #programs = new Map<string, NativeExecProgram>();
  /** Per input shapes: the device tensors of the last device run's slots, and the program bound to them. */
  readonly #bound = new Map<string, BoundIo>();
  #queue: Promise<unknown> = Promise.resolve();
  #stream: Stream | undefined;
  /**
   * Per plan output: the memory of an output the caller disposed, kept for the next run's output
   * of that slot. A loop that disposes each result then gets its outputs at the same addresses
   * (written in place by the program bound to them) without a stream-ordered free and allocation
   * on the context's stream per call, which cost the H100 10-20 µs per call.
   */
  readonly #spare: (NativeBuffer | null)[] = [];
  /** Per plan output: what its tensors' dispose() calls, keeping the memory as the slot's spare (made once). */
  readonly #recyclers: DeviceRecycler[] = [];
  #disposed = false;

  constructor(loaded: CudaLoadedPlan, native: NativeExecContext) {
    this.#loaded = loaded;
    this.#native = native;
  }

  #spec(shapes: readonly (readonly number[])[], tune: boolean): ProgramSpec {
    const o = this.#loaded.options;
    return programSpec(this.#loaded.plan, this.#loaded.layout, this.#loaded.memory, this.#loaded.constants, shapes, {
      tune, graphs: o.graphs, graphCopies: o.graphCopies, deterministic: o.deterministic, fp8FastAccumulation: o.fp8FastAccumulation,
    });
  }

  /** The program for these value shapes, prepared on first use (with timing when `tune`). */
  program(shapes: readonly (readonly number[])[], tune = false): NativeExecProgram {
    const plan = this.#loaded.plan;
    const key = shapeKey(plan.inputs.map((io) => shapes[io.value]!));
    let p = this.#programs.get(key);
    if (!p) {
      p = this.#native.prepare(this.#spec(shapes, tune));
      if (this.#programs.size >= PROGRAM_CACHE_SIZE) {
        const [oldKey, old] = this.#programs.entries().next().value!;
        this.#programs.delete(oldKey);
        old.dispose();
      }
      this.#programs.set(key, p);
    }
    return p;
  }

  run(request: RunRequest): Promise<Tensor[]> {
    const result = this.#queue.then(() => this.#run(request));
    this.#queue = result.catch(() => undefined);
    return result;
  }

  async #run({ inputs, shapes, onStep }: RunRequest): Promise<Tensor[]> {
    const plan = this.#loaded.plan;
    const program = this.program(shapes);
    const r = await settleSoon(this.#native.run(program, inputs.map((t) => t.bytes()), [], onStep !== null));
    reportSteps(r, onStep);
    return plan.outputs.map((o, i) => {
      const bytes = r.outputs[i];
      if (!bytes) throw new Error(`engine '${plan.name}': the CUDA run returned no bytes for output '${o.name}'`);
      const shape = shapes[o.value]!;
      return new Tensor(storageFromBytes(o.dtype, new Uint8Array(bytes), numelOf(shape)), shape, o.dtype);
    });
  }

  /**
   * Runs on device tensors (or host tensors) and returns device tensors: nothing leaves the GPU.
   * Without `into`, outputs are new DeviceTensors that the caller disposes (in the memory of the
   * slot's last disposed output when it has the bytes, else allocated on the context's stream, so
   * the run waits on no other stream); with `into`, the outputs are written into
   * those tensors (checked against the outputs' dtypes and shapes) and returned.
   */
  runDevice(inputs: readonly (Tensor | DeviceTensor)[], shapes: readonly (readonly number[])[], into?: readonly DeviceTensor[]): Promise<DeviceTensor[]> {
    return this.#deviceCall('runDevice', inputs, shapes, into).then((r) => r.outputs);
  }

  /**
   * `runs` runs into `into` (as runDevice with `into`) enqueued back to back, the host waiting
   * for none of them, with an event before each and after the last: each run's GPU ms, in order
   * (what trtexec reports as GPU compute time: no launch or completion latency of the host).
   */
  timeDevice(inputs: readonly (Tensor | DeviceTensor)[], shapes: readonly (readonly number[])[], into: readonly DeviceTensor[], runs: number): Promise<number[]> {
    const op = `engine '${this.#loaded.plan.name}': timeDevice`;
    if (!Number.isInteger(runs) || runs < 1 || runs > MAX_TIMED_RUNS) {
      return Promise.reject(new RangeError(`${op}: runs must be an integer from 1 to ${MAX_TIMED_RUNS}, got ${runs}`));
    }
    return this.#deviceCall('timeDevice', inputs, shapes, into, runs).then((r) => {
      if (!r.runMs || r.runMs.length !== runs) throw new Error(`${op}: the CUDA run returned ${r.runMs?.length ?? 'no'} run times, expected ${runs}`);
      return [...r.runMs];
    });
  }

  #deviceCall(what: string, inputs: readonly (Tensor | DeviceTensor)[], shapes: readonly (readonly number[])[], into: readonly DeviceTensor[] | undefined, timedRuns?: number): Promise<{ outputs: DeviceTensor[]; runMs: Float64Array | null }> {
    const plan = this.#loaded.plan;
    const op = `engine '${plan.name}': ${what}`;
    if (into) checkOutputs(op, plan, shapes, into);
    const result = this.#queue.then(async () => {
      const stream = (this.#stream ??= Stream.fromNative(this.#native.stream));
      const outs = into ? [...into] : plan.outputs.map((o, i) => this.#freshOutput(i, shapes[o.value]!, o.dtype, stream, op));
      const program = this.#boundProgram(inputs, into, into ? null : outs, shapes, op) ?? this.program(shapes);
      try {
        const ins: (Uint8Array | NativeBuffer)[] = inputs.map((t) => (t instanceof DeviceTensor ? t.handle(op) : t.bytes()));
        const r = await settleSoon(this.#native.run(program, ins, outs.map((t) => t.handle(op)), false, timedRuns));
        return { outputs: outs, runMs: r.runMs };
      } catch (e) {
        if (!into) for (const t of outs) t.dispose();
        throw e;
      }
    });
    this.#queue = result.catch(() => undefined);
    return result;
  }

  /** A new tensor for output `slot`: in the memory the caller handed back by disposing an earlier one, when it has these bytes. */
  #freshOutput(slot: number, shape: readonly number[], dtype: DType, stream: Stream, op: string): DeviceTensor {
    const bytes = numelOf(shape) * itemSize(dtype);
    const spare = this.#spare[slot] ?? null;
    this.#spare[slot] = null;
    const recycle = (this.#recyclers[slot] ??= (buffer: NativeBuffer): boolean => {
      if (this.#disposed || (this.#spare[slot] ?? null) !== null) return false;
      this.#spare[slot] = buffer.take();
      return true;
    });
    if (spare !== null && spare.byteLength === bytes) return DeviceTensor.fromBuffer(spare, shape, dtype, recycle);
    spare?.free();
    return DeviceTensor.fromBuffer(requireCuda(op).allocBuffer(bytes, stream.handle(op)), shape, dtype, recycle);
  }

  /**
   * The program that reads the device inputs and writes the bound outputs of this run in place
   * (no copies), when the same tensors filled those slots in the previous run at these shapes
   * too: it is prepared then, once, and kept while they keep coming. A tensor that is both an
   * input and an output, or two outputs, is not bound (the ops would read what they overwrite).
   * Outputs the run allocated itself (`fresh`) are written in place too when they were allocated
   * at the same device addresses as the last run's (the caller disposed those before this run and
   * the runner took the memory back, #freshOutput): a loop that disposes each result runs as if
   * its outputs were bound. Null: the copying program.
   */
  #boundProgram(inputs: readonly (Tensor | DeviceTensor)[], into: readonly DeviceTensor[] | undefined, fresh: readonly DeviceTensor[] | null, shapes: readonly (readonly number[])[], op: string): NativeExecProgram | null {
    if (!this.#loaded.options.bindIo) return null;
    const plan = this.#loaded.plan;
    const key = shapeKey(plan.inputs.map((io) => shapes[io.value]!));
    const outs = into ?? [];
    const uses = new Map<DeviceTensor, number>();
    for (const t of [...inputs, ...outs]) if (t instanceof DeviceTensor) uses.set(t, (uses.get(t) ?? 0) + 1);
    const onlyRead = (t: DeviceTensor): boolean => !outs.includes(t);
    const slots = [
      ...inputs.map((t) => (t instanceof DeviceTensor && onlyRead(t) ? t : null)),
      ...plan.outputs.map((_, i) => (outs[i] !== undefined && uses.get(outs[i]!) === 1 ? outs[i]! : null)),
    ];
    const last = this.#bound.get(key);
    const same = last !== undefined && last.tensors.length === slots.length && last.tensors.every((w, i) => (w?.deref() ?? null) === slots[i]);
    const addresses = fresh?.map((t) => (t.numel > 0 ? t.handle(op).address : 0)) ?? null;
    if (!same) {
      last?.program?.dispose();
      last?.full?.dispose();
      this.#bound.set(key, { tensors: slots.map((t) => (t ? new WeakRef(t) : null)), program: null, failed: false, addresses, full: null, fullFailed: false, fullDrops: 0, usedFull: false });
      return null;
    }
    last.usedFull = false;
    if (fresh !== null && addresses !== null) {
      const again = last.addresses !== null && addresses.every((a, i) => a !== 0 && a === last.addresses![i]);
      last.addresses = addresses;
      if (!again) {
        if (last.full !== null) {
          last.full.dispose();
          last.full = null;
          last.fullDrops++;
        }
      } else {
        if (last.full === null && !last.fullFailed && last.fullDrops < MAX_FULL_DROPS) {
          last.full = this.#prepareBound(shapes, [...slots.slice(0, inputs.length), ...fresh], inputs.length, op);
          last.fullFailed = last.full === null;
        }
        if (last.full !== null) {
          last.usedFull = true;
          return last.full;
        }
      }
    }
    if (last.program === null && !last.failed && slots.some((t) => t !== null)) {
      last.program = this.#prepareBound(shapes, slots, inputs.length, op);
      last.failed = last.program === null;
    }
    return last.program;
  }

  /** A program addressing the non-null slots (inputs first) in those tensors; null when refused (an op reaches across a slot's bounds: keep copying). */
  #prepareBound(shapes: readonly (readonly number[])[], slots: readonly (DeviceTensor | null)[], inputCount: number, op: string): NativeExecProgram | null {
    const handles = slots.map((t) => t?.handle(op) ?? null);
    try {
      return this.#native.prepare({ ...this.#spec(shapes, false), bind: { inputs: handles.slice(0, inputCount), outputs: handles.slice(inputCount) } });
    } catch {
      return null;
    }
  }

  /** The I/O slots that device runs at these shapes read or write in place (a bound program), by index. */
  boundSlots(shapes: readonly (readonly number[])[]): { inputs: number[]; outputs: number[] } {
    const plan = this.#loaded.plan;
    const b = this.#bound.get(shapeKey(plan.inputs.map((io) => shapes[io.value]!)));
    const n = plan.inputs.length;
    if (!b || (b.usedFull ? b.full : b.program) === null) return { inputs: [], outputs: [] };
    const inputs = b.tensors.flatMap((t, i) => (t !== null && i < n ? [i] : []));
    const outputs = b.usedFull ? b.addresses!.flatMap((a, i) => (a !== 0 ? [i] : [])) : b.tensors.flatMap((t, i) => (t !== null && i >= n ? [i - n] : []));
    return { inputs, outputs };
  }

  /** Per op of the program for these shapes: the plan step and the implementation chosen. */
  tactics(shapes: readonly (readonly number[])[]): CudaOpTactic[] {
    return this.program(shapes).tactics();
  }

  /**
   * 'eager', 'graph', or why capture failed, for the program that device runs at these shapes
   * use: the bound one while its tensors keep coming, else the copying one.
   */
  graphState(shapes: readonly (readonly number[])[]): string {
    return this.#running(shapes).graphState;
  }

  /** The chained launches in that program's CUDA graph (-1: no graph yet). */
  chainedLaunches(shapes: readonly (readonly number[])[]): number {
    return this.#running(shapes).chainedLaunches;
  }

  #running(shapes: readonly (readonly number[])[]): NativeExecProgram {
    const plan = this.#loaded.plan;
    const b = this.#bound.get(shapeKey(plan.inputs.map((io) => shapes[io.value]!)));
    return (b?.usedFull ? b.full : b?.program) ?? this.program(shapes);
  }

  /** Frees the context's device memory once runs in flight are done. */
  dispose(): void {
    this.#disposed = true;
    for (const b of this.#spare) b?.free();
    this.#spare.length = 0;
    this.#stream?.dispose();
    for (const b of this.#bound.values()) {
      b.program?.dispose();
      b.full?.dispose();
    }
    this.#bound.clear();
    for (const p of this.#programs.values()) p.dispose();
    this.#programs.clear();
    this.#native.dispose();
  }
}

/** Throws naming the output when `into` does not match the plan's outputs at these shapes. */
function checkOutputs(op: string, plan: Plan, shapes: readonly (readonly number[])[], into: readonly DeviceTensor[]): void {
  if (into.length !== plan.outputs.length) throw new Error(`${op}: expected ${plan.outputs.length} output tensor(s), got ${into.length}`);
  plan.outputs.forEach((o, i) => {
    const t = into[i]!;
    const shape = shapes[o.value]!;
    if (t.dtype !== o.dtype || t.shape.length !== shape.length || t.shape.some((d, j) => d !== shape[j])) {
      throw new Error(`${op}: output ${i} ('${o.name}') is ${o.dtype}${formatShape(shape)}, the tensor given is ${t.dtype}${formatShape(t.shape)}`);
    }
    if (t.disposed) throw new Error(`${op}: output ${i} ('${o.name}'): the tensor given was disposed`);
  });
}

function reportSteps(r: NativeRunResult, onStep: RunRequest['onStep']): void {
  if (!onStep || !r.stepMs) return;
  r.stepMs.forEach((ms, i) => onStep(i, ms));
}

/** Order of precedence when a step's ops got their implementations in different ways. */
const SOURCE_RANK: Readonly<Record<TacticSource, number>> = { fixed: 0, heuristic: 1, cache: 2, timed: 3 };

/** A step lowered to no op (a view of its input, or an empty tensor). */
const NO_KERNEL: StepTactic = { tactic: 'no kernel (nothing to compute)', source: 'fixed' };

/** Per plan step: its ops' implementations joined, and the most telling source among them. */
function stepTactics(ops: readonly CudaOpTactic[], steps: number): StepTactic[] {
  const out: (StepTactic | undefined)[] = new Array<StepTactic | undefined>(steps).fill(undefined);
  for (const op of ops) {
    if (op.step < 0 || op.step >= steps) continue;
    const prev = out[op.step];
    out[op.step] = prev === undefined
      ? { tactic: op.tactic, source: op.source }
      : { tactic: `${prev.tactic} + ${op.tactic}`, source: SOURCE_RANK[op.source] > SOURCE_RANK[prev.source] ? op.source : prev.source };
  }
  return out.map((t) => t ?? NO_KERNEL);
}

/** A plan loaded on the device. */
export class CudaLoadedPlan implements LoadedPlan {
  readonly plan: Plan;
  readonly layout: PlanLayout;
  readonly memory: ContextMemory;
  readonly constants: DeviceConstants;
  readonly options: CudaExecutionOptions;
  readonly #native: NativeExecPlan;
  readonly #stepTactics: readonly StepTactic[];
  readonly #stats: TacticStats;
  #tuned: CudaContext | undefined;

  constructor(plan: Plan, options: CudaExecutionOptions, load: LoadOptions = {}) {
    const addon = requireCuda(`engine '${plan.name}': CUDA load`);
    this.plan = plan;
    this.options = options;
    this.layout = planLayout(plan);
    this.constants = deviceConstants(plan, this.layout);
    this.memory = contextMemory(plan, this.layout);
    this.#native = addon.loadPlan(this.constants.blob);
    const cache = load.timingCache !== undefined ? TimingCache.open(load.timingCache, this.#native.tacticDevice()) : null;
    if (cache) this.#native.importTactics(cache.entries);
    // Tactic selection: time the library algorithms once (those the timing cache does not hold),
    // at the shapes the plan was tuned for.
    const first = this.#newContext();
    const program = first.program(this.#optShapes(), true);
    this.#tuned = first;
    this.#stepTactics = stepTactics(program.tactics(), plan.steps.length);
    const timed = this.#native.exportTactics();
    if (cache && (timed.length > 0 || cache.stale)) cache.save(timed);
    this.#stats = { ...this.#native.tacticStats(), timingCache: cache?.path ?? null, warnings: cache ? [...cache.warnings] : [] };
  }

  /** Per step, what the libraries chose at load (at the profile's opt shapes) and how. */
  stepTactics(): readonly StepTactic[] {
    return this.#stepTactics;
  }

  /** How the library tactics were chosen at load. */
  tacticStats(): TacticStats {
    return this.#stats;
  }

  /** Value shapes at the optimization profile's opt input shapes. */
  #optShapes(): number[][] {
    return resolveOpt(this.plan);
  }

  #newContext(): CudaContext {
    return new CudaContext(this, this.#native.createContext(this.memory.bytes));
  }

  createContext(): CudaContext {
    const tuned = this.#tuned;
    this.#tuned = undefined;
    return tuned ?? this.#newContext();
  }
}

function resolveOpt(plan: Plan): number[][] {
  return resolveShapes(plan, plan.inputs.map((io) => io.profile.opt));
}
