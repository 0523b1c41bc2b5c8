/**
 * The CUDA backend object (registered with the engine runtime as 'cuda' when CUDA can run here)
 * and direct access to an engine's device execution: device-tensor inputs and outputs, and the
 * tactics the libraries chose.
 */
import { getBackend, registerBackend, type Backend, type Engine } from '../../engine/engine.js';
import type { Plan } from '../../engine/plan.js';
import { formatShape } from '../../tensor/shape.js';
import type { Tensor } from '../../tensor/tensor.js';
import { cudaAvailable } from './availability.js';
import type { DeviceTensor } from './device_tensor.js';
import { CudaLoadedPlan, type CudaContext, type CudaExecutionOptions, type CudaOpTactic } from './executor.js';
import { cudaTactic } from './step_support.js';

const loaded = new WeakMap<Plan, CudaLoadedPlan>();

function executionOptions(): CudaExecutionOptions {
  return { graphs: process.env.FXRT_CUDA_GRAPHS !== '0', graphCopies: process.env.FXRT_CUDA_GRAPH_COPIES !== '0', bindIo: process.env.FXRT_CUDA_BIND_IO !== '0', deterministic: process.env.FXRT_CUDA_DETERMINISTIC === '1', fp8FastAccumulation: process.env.FXRT_CUDA_FP8_FAST_ACCUM !== '0' };
}

/**
 * The CUDA backend: steps lower to cuDNN, cuBLASLt and the addon's kernels; weights are uploaded
 * once at load, when the library algorithms are also timed (or taken from the timing cache);
 * each execution context has its own stream and device memory; a run is one native call,
 * replayed as a CUDA graph after a warm-up.
 * @example
 *   const engine = await new Builder().build(network, { precision: 'fp16', backend: 'cuda', timingCache: 'model.cache' });
 *   console.log(engine.tacticStats); // { hits, misses, timed, rejected, ... }: timed is 0 the second time
 */
export const cudaBackend: Backend = {
  name: 'cuda',
  tactic: cudaTactic,
  load: (plan, options) => {
    const l = new CudaLoadedPlan(plan, executionOptions(), options);
    loaded.set(plan, l);
    return l;
  },
};

/**
 * Registers the CUDA backend when the addon loads and a device can run it; returns whether it is
 * registered. The backend module does this once when it is imported.
 * @example
 *   if (!registerCudaBackend()) console.log(cudaAvailable().reason);
 */
export function registerCudaBackend(): boolean {
  if (!cudaAvailable().available) return false;
  registerBackend(cudaBackend);
  return getBackend('cuda') === cudaBackend;
}

function describeShape(t: Tensor | DeviceTensor): string {
  return `${t.dtype}${formatShape(t.shape)}`;
}

/**
 * An engine's execution on the device with inputs and outputs kept there: a pipeline of engines
 * (or a benchmark) never copies through the host. Owns one execution context.
 * @example
 *   const runner = CudaEngineRunner.of(lowered.engines.get('_run_on_acc_0')!.engine);
 *   const [y] = await runner.run([DeviceTensor.upload(x)]);
 *   const host = await y.download();
 *   y.dispose(); runner.dispose();
 */
export class CudaEngineRunner {
  readonly engine: Engine;
  readonly #context: CudaContext;

  private constructor(engine: Engine, context: CudaContext) {
    this.engine = engine;
    this.#context = context;
  }

  /** A runner for an engine built for (or loaded on) the CUDA backend. */
  static of(engine: Engine): CudaEngineRunner {
    const l = loaded.get(engine.plan);
    if (engine.backend !== cudaBackend || !l) {
      throw new Error(`CudaEngineRunner: engine '${engine.name}' runs on the '${engine.backend.name}' backend, not on CUDA (build it with device 'cuda')`);
    }
    return new CudaEngineRunner(engine, l.createContext());
  }

  #shapes(inputs: readonly (Tensor | DeviceTensor)[]): number[][] {
    const plan = this.engine.plan;
    if (inputs.length !== plan.inputs.length) throw new Error(`engine '${plan.name}' expects ${plan.inputs.length} input(s), got ${inputs.length}`);
    plan.inputs.forEach((spec, i) => {
      const t = inputs[i]!;
      const { min, max } = spec.profile;
      const ok = t.dtype === spec.dtype && t.shape.length === spec.shape.length &&
        t.shape.every((d, j) => (spec.shape[j] === -1 || d === spec.shape[j]) && d >= min[j]! && d <= max[j]!);
      if (!ok) {
        throw new Error(`engine '${plan.name}': input ${i} ('${spec.name}') must be ${spec.dtype}${formatShape(spec.shape)} within the profile ` +
          `${formatShape(min)}..${formatShape(max)}, got ${describeShape(t)}`);
      }
    });
    return this.engine.resolveShapes(inputs.map((t) => t.shape));
  }

  /**
   * Runs the engine; outputs are new DeviceTensors (dispose them: the runner keeps the memory of
   * the last one disposed per output for its next run's, and frees it with itself), or, with `options.outputs`,
   * written into the DeviceTensors given (as TensorRT's bound output buffers: no allocation per
   * call) and returned. Device inputs and given outputs that fill the
   * same slots as in the run before are read and written in place (see boundSlots; FXRT_CUDA_BIND_IO=0
   * turns that off), else copied. Never blocks the event loop; bad arguments reject, naming what is wrong.
   * @example
   *   const [y] = await runner.run([dx]);                 // a new tensor
   *   await runner.run([dx], { outputs: [y] });           // into y again
   */
  async run(inputs: readonly (Tensor | DeviceTensor)[], options: { readonly outputs?: readonly DeviceTensor[] } = {}): Promise<DeviceTensor[]> {
    return this.#context.runDevice(inputs, this.#shapes(inputs), options.outputs);
  }

  /**
   * The engine's GPU time per run, as trtexec reports it (GPU compute time): `runs` runs into
   * `options.outputs` (as run with bound outputs) enqueued back to back, the host waiting for none
   * of them, with an event on the stream before each run and after the last. Each run's ms, in
   * order; what a call costs the host beyond that (launch, completion) is not in it.
   * @example
   *   await runner.run([dx], { outputs: [y] }); // warm up: bind, capture the graph
   *   const ms = await runner.gpuTimes([dx], { outputs: [y], runs: 100 });
   */
  async gpuTimes(inputs: readonly (Tensor | DeviceTensor)[], options: { readonly outputs: readonly DeviceTensor[]; readonly runs: number }): Promise<number[]> {
    return this.#context.timeDevice(inputs, this.#shapes(inputs), options.outputs, options.runs);
  }

  /** Per op: the plan step and the implementation chosen, for inputs of these shapes (default: the profile's opt). */
  tactics(inputShapes?: readonly (readonly number[])[]): CudaOpTactic[] {
    const shapes = inputShapes ?? this.engine.plan.inputs.map((i) => i.profile.opt);
    return this.#context.tactics(this.engine.resolveShapes(shapes));
  }

  /** Whether runs at these input shapes replay a CUDA graph ('graph'), run eagerly, or why capture failed. */
  graphState(inputShapes: readonly (readonly number[])[]): string {
    return this.#context.graphState(this.engine.resolveShapes(inputShapes));
  }

  /**
   * How many launches in the CUDA graph of runs at these input shapes are chained to the kernel
   * before them (programmatic dependent launch: Hopper and later; FXRT_CUDA_PDL=0 turns it off);
   * -1 while those runs have no graph.
   */
  chainedLaunches(inputShapes: readonly (readonly number[])[]): number {
    return this.#context.chainedLaunches(this.engine.resolveShapes(inputShapes));
  }

  /**
   * Which inputs and outputs runs at these input shapes read or write in place, without copies
   * (unless FXRT_CUDA_BIND_IO=0): device tensors that filled the same slots two runs in a row get a
   * program bound to them; outputs the runner allocates count as the same when they land at the
   * last run's addresses (the loop disposed the last outputs, whose memory the runner reuses).
   * @example
   *   await runner.run([dx], { outputs: [y] }); await runner.run([dx], { outputs: [y] });
   *   runner.boundSlots([dx.shape]); // { inputs: [0], outputs: [0] }
   */
  boundSlots(inputShapes: readonly (readonly number[])[]): { inputs: number[]; outputs: number[] } {
    return this.#context.boundSlots(this.engine.resolveShapes(inputShapes));
  }

  /** Frees the runner's context. */
  dispose(): void {
    this.#context.dispose();
  }
}
