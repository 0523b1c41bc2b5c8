/**
 * The reference backend: executes plans with the TypeScript reference kernels, on every machine.
 *
 * Each execution context owns one ArrayBuffer, the activation arena. Every value the plan puts in
 * the arena lives at its planned offset: a step reads its inputs as views of that memory, and its
 * results are stored there. So the memory plan is exercised for real: a plan that let two live
 * values overlap would corrupt results. fp16/bf16 values are rounded where they are stored.
 *
 * A run does not hold the event loop for long: after YIELD_AFTER_MS of computing it yields a turn
 * between steps; runs on one context wait for each other (they share its arena).
 */
import { formatShape, shapesEqual } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import type { Backend, BackendContext, LoadedPlan, RunRequest } from '../engine.js';
import { byteSizeOf, type Plan, type PlanStep } from '../plan.js';
import { runStep } from './kernels.js';
import { viewTensor, writeInto } from './tensors.js';

/** An error raised while executing a step; names the step, its kind and the layers it covers. */
export class StepExecutionError extends Error {
  override name = 'StepExecutionError';
}

/** Longest stretch (ms) a reference run computes before it yields to the event loop between steps. */
export const YIELD_AFTER_MS = 20;

class ReferenceContext implements BackendContext {
  readonly #plan: Plan;
  readonly #constants: readonly Tensor[];
  readonly #arena: ArrayBuffer;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(plan: Plan, constants: readonly Tensor[]) {
    this.#plan = plan;
    this.#constants = constants;
    this.#arena = new ArrayBuffer(plan.memory.arenaSize);
  }

  run(request: RunRequest): Promise<Tensor[]> {
    // Runs on one context share its arena: one at a time, in call order.
    const result = this.#queue.then(() => this.#run(request));
    this.#queue = result.catch(() => undefined);
    return result;
  }

  async #run({ inputs, shapes, onStep }: RunRequest): Promise<Tensor[]> {
    const plan = this.#plan;
    const outputs = plan.outputs.map((o) => Tensor.empty(shapes[o.value]!, o.dtype));
    const tensorOf = (id: number): Tensor => {
      const v = plan.values[id]!;
      const loc = v.location;
      switch (loc.kind) {
        case 'input': return inputs[loc.index]!;
        case 'constant': return this.#constants[loc.index]!;
        case 'output': return outputs[loc.index]!;
        case 'arena': {
          const shape = shapes[id]!;
          if (byteSizeOf(v.dtype, shape) > loc.size) {
            throw new StepExecutionError(`value '${v.name}' ${v.dtype}${formatShape(shape)} needs more than its ${loc.size}-byte arena slot (shapes beyond the build profile?)`);
          }
          return viewTensor(this.#arena, loc.offset, v.dtype, shape);
        }
      }
    };
    let slice = performance.now();
    for (const [index, step] of plan.steps.entries()) {
      // A long run hands the event loop a turn between steps (timers, I/O, other requests).
      if (performance.now() - slice > YIELD_AFTER_MS) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        slice = performance.now();
      }
      const start = onStep ? performance.now() : 0;
      const specs = step.outputs.map((id) => ({ dtype: plan.values[id]!.dtype, shape: shapes[id]! }));
      let results: Tensor[];
      try {
        results = runStep(step, step.inputs.map(tensorOf), specs);
      } catch (e) {
        throw new StepExecutionError(`${describe(step)}: ${(e as Error).message}`, { cause: e });
      }
      step.outputs.forEach((id, k) => {
        const r = results[k]!;
        if (!shapesEqual(r.shape, specs[k]!.shape)) {
          throw new StepExecutionError(`${describe(step)}: output ${k} has shape ${formatShape(r.shape)}, shape inference expects ${formatShape(specs[k]!.shape)}`);
        }
        writeInto(tensorOf(id), r);
      });
      if (onStep) onStep(index, performance.now() - start);
    }
    // Outputs that no step writes: network inputs, constants, or a value also returned under another name.
    plan.outputs.forEach((o, i) => {
      const loc = plan.values[o.value]!.location;
      if (loc.kind !== 'output' || loc.index !== i) writeInto(outputs[i]!, tensorOf(o.value));
    });
    return outputs;
  }
}

function describe(step: PlanStep): string {
  const layers = step.layers.length > 1 ? ` covering ${step.layers.join(', ')}` : '';
  return `step '${step.name}' (${step.kind}${layers})`;
}

class ReferenceLoadedPlan implements LoadedPlan {
  readonly #plan: Plan;
  readonly #constants: readonly Tensor[];

  constructor(plan: Plan) {
    this.#plan = plan;
    // Views of the blob: constants are never copied.
    this.#constants = plan.constants.map((c) => viewTensor(plan.blob.buffer, plan.blob.byteOffset + c.offset, c.dtype, c.shape));
  }

  createContext(): BackendContext {
    return new ReferenceContext(this.#plan, this.#constants);
  }
}

/**
 * The reference backend object (registered under 'reference').
 * @example
 * const engine = await new Builder().build(net, { backend: 'reference' });
 */
export const referenceBackend: Backend = {
  name: 'reference',
  tactic: () => 'reference',
  load: (plan) => new ReferenceLoadedPlan(plan),
};
