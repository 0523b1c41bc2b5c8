/**
 * Operands of one program (a plan at concrete input shapes): where each value's elements are for
 * the consumer asking — its home storage (arena slot, input/output slot, constant, or region) or
 * its converted copy — with the strides of that storage.
 */
import { byteSizeOf, type Plan, type PlanStep } from '../../../engine/plan.js';
import { itemSize, type DType } from '../../../tensor/dtype.js';
import type { DeviceConstants } from '../device_constants.js';
import type { FloatDType } from '../native.js';
import { CONSTANT_MEMORY, CONTEXT_MEMORY, type MemRef, type View } from '../exec_spec.js';
import { inputLayout, type ContextMemory, type PlanLayout } from '../plan_layout.js';
import { channelsLastRank, layoutStrides, type Layout } from '../strided.js';

/** A value as one op reads or writes it. */
export interface Operand {
  readonly id: number;
  readonly ref: MemRef;
  readonly dtype: DType;
  readonly shape: readonly number[];
  /** Element strides per logical dim. */
  readonly strides: readonly number[];
  readonly layout: Layout;
}

/** `dtype` as one of the float dtypes the libraries compute on; the error names `what`. */
export function floatOf(dtype: DType, what: string): FloatDType {
  if (dtype !== 'float32' && dtype !== 'float16' && dtype !== 'bfloat16') throw new TypeError(`${what} must be float32, float16 or bfloat16, got ${dtype}`);
  return dtype;
}

/** The operand's logical view. */
export function viewOf(o: Operand): View {
  return { shape: o.shape, strides: o.strides };
}

/** `ref` moved by `elements` elements of `dtype`. */
export function offsetRef(ref: MemRef, elements: number, dtype: DType): MemRef {
  return { mem: ref.mem, offset: ref.offset + elements * itemSize(dtype) };
}

/** Resolves values to operands for one set of shapes. */
export class Operands {
  readonly plan: Plan;
  readonly layout: PlanLayout;
  readonly memory: ContextMemory;
  readonly constants: DeviceConstants;
  readonly shapes: readonly (readonly number[])[];

  constructor(plan: Plan, layout: PlanLayout, memory: ContextMemory, constants: DeviceConstants, shapes: readonly (readonly number[])[]) {
    this.plan = plan;
    this.layout = layout;
    this.memory = memory;
    this.constants = constants;
    this.shapes = shapes;
  }

  /** The home storage of value `id` (where its producer writes it; the root's, for a shared value). */
  home(id: number): Operand {
    const v = this.plan.values[id]!;
    const layout = this.layout.home[id]!;
    const root = this.layout.shared.get(id);
    if (root !== undefined) return this.#operand(id, this.home(root).ref, layout);
    const region = this.layout.relocated.get(id);
    let ref: MemRef;
    if (region !== undefined) ref = { mem: CONTEXT_MEMORY, offset: this.memory.regions[region]! };
    else {
      const loc = v.location;
      switch (loc.kind) {
        case 'arena': ref = { mem: CONTEXT_MEMORY, offset: loc.offset }; break;
        case 'input': ref = { mem: CONTEXT_MEMORY, offset: this.memory.inputs[loc.index]! }; break;
        case 'output': ref = { mem: CONTEXT_MEMORY, offset: this.memory.outputs[loc.index]! }; break;
        case 'constant': {
          const offset = this.constants.rowMajor[loc.index]!;
          if (offset < 0) throw new Error(`constant '${v.name}' has no row-major copy on the device`);
          ref = { mem: CONSTANT_MEMORY, offset };
          break;
        }
      }
    }
    return this.#operand(id, ref, layout);
  }

  /** Value `id` in `layout`: its home, or the converted copy made for consumers of that layout. */
  inLayout(id: number, layout: Layout): Operand {
    if (this.layout.home[id] === layout) return this.home(id);
    const region = this.layout.conversions.get(id)?.get(layout);
    if (region === undefined) throw new Error(`value '${this.plan.values[id]!.name}' has no ${layout} copy`);
    return this.#operand(id, { mem: CONTEXT_MEMORY, offset: this.memory.regions[region]! }, layout);
  }

  /** Input `position` of step `index`, in the layout that step reads it in. */
  input(index: number, position: number): Operand {
    const step = this.plan.steps[index]!;
    const id = step.inputs[position]!;
    const want = inputLayout(step, position, this.layout.epilogues.get(index));
    return want === null ? this.home(id) : this.inLayout(id, want);
  }

  /** Output `k` of step `index`, at its home. */
  output(index: number, k = 0): Operand {
    return this.home(this.plan.steps[index]!.outputs[k]!);
  }

  /** Scratch region `j` of step `index`. */
  scratch(index: number, j: number): MemRef {
    const region = this.layout.scratch.get(index)?.[j];
    if (region === undefined) throw new Error(`step ${index} has no scratch region ${j}`);
    return { mem: CONTEXT_MEMORY, offset: this.memory.regions[region]! };
  }

  /**
   * Whether step `index` is the last to read value `id`'s storage: an activation of the arena
   * (not a plan input or output, not a constant) that no later step reads, neither as itself nor
   * as a value sharing or aliasing its storage. A hint for cache policies, nothing more.
   */
  lastRead(index: number, id: number): boolean {
    const root = (v: number): number => this.layout.shared.get(v) ?? this.layout.aliases.get(v)?.root ?? v;
    const r = root(id);
    if (this.plan.values[r]!.location.kind !== 'arena' || this.plan.outputs.some((o) => root(o.value) === r)) return false;
    for (let i = index + 1; i < this.plan.steps.length; i++) {
      if (this.plan.steps[i]!.inputs.some((v) => root(v) === r)) return false;
    }
    return true;
  }

  /** Bytes of value `id` at these shapes. */
  bytes(id: number): number {
    return byteSizeOf(this.plan.values[id]!.dtype, this.shapes[id]!);
  }

  /** Step `index` of the plan. */
  step(index: number): PlanStep {
    return this.plan.steps[index]!;
  }

  #operand(id: number, ref: MemRef, layout: Layout): Operand {
    const v = this.plan.values[id]!;
    const shape = this.shapes[id]!;
    const l = channelsLastRank(shape.length) ? layout : 'rowmajor';
    return { id, ref, dtype: v.dtype, shape, strides: layoutStrides(shape, l), layout: l };
  }
}
