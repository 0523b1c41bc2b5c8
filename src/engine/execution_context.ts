/**
 * Execution of an engine: input checks against the plan's inputs and optimization profile,
 * per-call shape resolution (dynamic dims), dispatch to the backend, per-step profiling.
 *
 * Shapes are resolved by replaying each step's layer through the network's own shape rules
 * (NetworkDefinition.addLayer on inputs of the concrete shapes), so the runtime and the network
 * agree by construction; fused pointwise regions and epilogues broadcast their inputs.
 */
import { broadcastAll } from '../kernels/reference/broadcast.js';
import type { Tensor } from '../tensor/tensor.js';
import { formatShape, shapesEqual } from '../tensor/shape.js';
import type { BackendContext, Engine } from './engine.js';
import { NetworkDefinition } from './network_definition.js';
import './layer_inference.js';
import { anchorInputCount, quantInputCount, type LayerStep, type Plan, type PlanStep, type PlanValue } from './plan.js';


/** A call's inputs do not match the engine: names the input and says what was expected. */
export class EngineInputError extends Error {
  override name = 'EngineInputError';
}

/** Accumulated wall time of one step while `context.profile` is on. */
export interface StepProfile {
  readonly step: string;
  readonly kind: string;
  readonly layers: readonly string[];
  calls: number;
  totalMs: number;
  lastMs: number;
}

/**
 * Checks a call's inputs: count, dtype, rank, static dims, and dynamic dims within the profile.
 * Only dtype and shape are read, so device tensors are checked the same way.
 * @example
 * checkInputs(engine.plan, [x]); // throws EngineInputError naming the input at fault
 */
export function checkInputs(plan: Plan, inputs: readonly Pick<Tensor, 'dtype' | 'shape'>[]): void {
  const names = plan.inputs.map((i) => `'${i.name}'`).join(', ');
  if (inputs.length !== plan.inputs.length) {
    throw new EngineInputError(`engine '${plan.name}' expects ${plan.inputs.length} input(s) (${names}), got ${inputs.length}`);
  }
  plan.inputs.forEach((spec, i) => {
    const t = inputs[i]!;
    const what = `engine '${plan.name}': input ${i} ('${spec.name}')`;
    if (t.dtype !== spec.dtype) throw new EngineInputError(`${what} must be ${spec.dtype}, got ${t.dtype}`);
    const shape = t.shape;
    if (shape.length !== spec.shape.length) {
      throw new EngineInputError(`${what} must have rank ${spec.shape.length} ${formatShape(spec.shape)}, got rank ${shape.length} ${formatShape(shape)}`);
    }
    const { min, max } = spec.profile;
    for (let d = 0; d < shape.length; d++) {
      if (spec.shape[d] !== -1 && shape[d] !== spec.shape[d]) {
        throw new EngineInputError(`${what} must have shape ${formatShape(spec.shape)}, got ${formatShape(shape)} (dim ${d} is ${shape[d]}, expected ${spec.shape[d]})`);
      }
      if (shape[d]! < min[d]! || shape[d]! > max[d]!) {
        throw new EngineInputError(
          `${what} has shape ${formatShape(shape)} outside the optimization profile: dim ${d} is ${shape[d]}, the profile allows ${min[d]}..${max[d]} (min ${formatShape(min)}, max ${formatShape(max)})`,
        );
      }
    }
  });
}

/**
 * The shape of every plan value for concrete input shapes (indexed by value id).
 * @example
 * resolveShapes(plan, [[8, 512]])[plan.outputs[0]!.value] // e.g. [8, 10]
 */
export function resolveShapes(plan: Plan, inputShapes: readonly (readonly number[])[]): number[][] {
  const shapes: number[][] = new Array<number[]>(plan.values.length);
  for (const v of plan.values) if (v.location.kind === 'constant') shapes[v.id] = [...v.shape];
  plan.inputs.forEach((io, i) => {
    shapes[io.value] = [...inputShapes[i]!];
  });
  for (const step of plan.steps) {
    const ins = step.inputs.map((id) => {
      const s = shapes[id];
      if (!s) throw new Error(`step '${step.name}' reads value ${id} ('${plan.values[id]?.name}') before it is produced`);
      return s;
    });
    const outs = stepOutputShapes(step, ins, plan.values);
    step.outputs.forEach((id, k) => {
      shapes[id] = outs[k]!;
    });
  }
  return shapes;
}

/** Output shapes of one step for concrete input shapes. */
export function stepOutputShapes(step: PlanStep, inputs: readonly (readonly number[])[], values: readonly PlanValue[]): number[][] {
  if (step.kind === 'pointwise') {
    return [broadcastAll(`step '${step.name}'`, inputs.slice(0, step.program.views.length).map((s, i) => step.program.views[i] ?? s))];
  }
  const n = anchorInputCount(step);
  const shapes = layerOutputShapes(step, inputs.slice(0, n), values);
  if (step.epilogue.length > 0) shapes[0] = broadcastAll(`step '${step.name}'`, [shapes[0]!, ...inputs.slice(n, inputs.length - quantInputCount(step.quant))]);
  return shapes;
}

/**
 * The network's shape rule of the step's layer, applied to inputs of the given shapes (for the
 * int8 form of a layer, to float32 inputs: its shapes are the float layer's).
 */
function layerOutputShapes(step: LayerStep, inputs: readonly (readonly number[])[], values: readonly PlanValue[]): number[][] {
  const net = new NetworkDefinition(step.name);
  const tensors = inputs.map((s, i) => net.addInput(`input${i}`, step.quant ? 'float32' : values[step.inputs[i]!]!.dtype, s));
  const outs = net.addLayer(step.kind, tensors, step.params, step.name);
  return outs.map((o, k) => {
    const expected = values[step.outputs[k]!]!;
    if (o.dtype !== expected.dtype && !step.quant) {
      throw new Error(`step '${step.name}': the network's shape rule gives output ${k} dtype ${o.dtype}, the plan records ${expected.dtype}`);
    }
    return [...o.shape];
  });
}

/**
 * One execution context of an engine (TensorRT's IExecutionContext): owns the backend state of
 * one concurrent execution (on the reference backend, its activation arena).
 *
 * @example
 * const ctx = engine.createExecutionContext();
 * ctx.profile = true;
 * const [y] = await ctx.execute([x]);
 * console.table(ctx.profileData());
 */
export class ExecutionContext {
  /** Collect per-step wall times during `execute`. */
  profile = false;
  readonly #engine: Engine;
  readonly #backend: BackendContext;
  readonly #profile: StepProfile[];

  constructor(engine: Engine, backend: BackendContext) {
    this.#engine = engine;
    this.#backend = backend;
    this.#profile = engine.plan.steps.map((s) => ({ step: s.name, kind: s.kind, layers: s.layers, calls: 0, totalMs: 0, lastMs: 0 }));
  }

  get engine(): Engine {
    return this.#engine;
  }

  /**
   * Runs the engine on `inputs` (in the order of engine.inputs) and resolves to its outputs.
   * Throws EngineInputError when an input does not match its name's dtype, rank, shape or profile.
   */
  async execute(inputs: readonly Tensor[]): Promise<Tensor[]> {
    const plan = this.#engine.plan;
    checkInputs(plan, inputs);
    const shapes = this.#engine.resolveShapes(inputs.map((t) => t.shape));
    const onStep = this.profile
      ? (index: number, ms: number): void => {
        const p = this.#profile[index]!;
        p.calls++;
        p.totalMs += ms;
        p.lastMs = ms;
      }
      : null;
    const outputs = await this.#backend.run({ inputs, shapes, onStep });
    plan.outputs.forEach((o, i) => {
      const t = outputs[i]!;
      if (t.dtype !== o.dtype || !shapesEqual(t.shape, shapes[o.value]!)) {
        throw new Error(`engine '${plan.name}': backend returned output '${o.name}' as ${t.dtype}${formatShape(t.shape)}, expected ${o.dtype}${formatShape(shapes[o.value]!)}`);
      }
    });
    return outputs;
  }

  /** Per-step timings collected while `profile` was on (a copy). */
  profileData(): StepProfile[] {
    return this.#profile.map((p) => ({ ...p }));
  }

  /** Clears the collected timings. */
  resetProfile(): void {
    for (const p of this.#profile) {
      p.calls = 0;
      p.totalMs = 0;
      p.lastMs = 0;
    }
  }
}
