/**
 * A plan at concrete input shapes → the native program spec: for every step its ops, with the
 * layout-conversion copies of its outputs right after it (and of inputs/constants at the start),
 * then the copies that put each network output into its output slot.
 */
import type { Plan, PlanStep } from '../../../engine/plan.js';
import type { DeviceConstants } from '../device_constants.js';
import type { NativeOpSpec, ProgramSpec } from '../exec_spec.js';
import type { ContextMemory, PlanLayout } from '../plan_layout.js';
import { notImplemented } from '../step_support.js';
import { lowerConvolution, lowerDeconvolution, lowerPooling } from './conv_pool.js';
import { convertOp, lowerConcatenation, lowerShape, lowerShuffle } from './data.js';
import { lowerCumulative, lowerGather, lowerPadding, lowerResize, lowerSliceStep, lowerTopk } from './index.js';
import { lowerEinsum } from './einsum.js';
import { isShuffleView, isSliceView, lowerAttention } from './attention.js';
import { quantizeTakeover } from './igemm.js';
import { lowerInt8Step } from './int8.js';
import { lowerMatrixMultiply } from './linear.js';
import { lowerNormalization, lowerSoftmax } from './norm.js';
import { Operands } from './operands.js';
import { lowerPointwiseStep, lowerSinglePointwise } from './pointwise.js';
import { lowerQuantization } from './quant.js';
import { lowerReduce } from './reduce.js';

/** The ops of one step. */
function lowerStep(ops: Operands, index: number, step: PlanStep): NativeOpSpec[] {
  if (step.quant !== undefined) return lowerInt8Step(ops, index, step);
  switch (step.kind) {
    case 'pointwise': return lowerPointwiseStep(ops, index, step);
    case 'elementwise': case 'unary': case 'activation': case 'cast': case 'identity': case 'scale': case 'select': case 'parametric_relu':
      return lowerSinglePointwise(ops, index, step);
    case 'convolution': return lowerConvolution(ops, index, step);
    case 'deconvolution': return lowerDeconvolution(ops, index, step);
    case 'pooling': return lowerPooling(ops, index, step);
    case 'matrix_multiply': return lowerMatrixMultiply(ops, index, step);
    case 'attention': return lowerAttention(ops, index, step);
    case 'normalization': return lowerNormalization(ops, index, step);
    case 'softmax': return lowerSoftmax(ops, index, step);
    case 'shuffle': return isShuffleView(ops, index) || ops.layout.shared.has(step.outputs[0]!) ? [] : lowerShuffle(ops, index, step);
    case 'concatenation': return lowerConcatenation(ops, index, step);
    case 'slice': return isSliceView(ops, index) ? [] : lowerSliceStep(ops, index, step);
    case 'shape': return lowerShape(ops, index, step);
    case 'padding': return lowerPadding(ops, index, step);
    case 'gather': return lowerGather(ops, index, step);
    case 'resize': return lowerResize(ops, index, step);
    case 'topk': return lowerTopk(ops, index, step);
    case 'cumulative': return lowerCumulative(ops, index, step);
    case 'reduce': return lowerReduce(ops, index, step);
    case 'quantize': return quantizeTakeover(ops, index) !== null ? [] : lowerQuantization(ops, index, step);
    case 'dequantize': return lowerQuantization(ops, index, step);
    case 'einsum': return lowerEinsum(ops, index, step);
    default: {
      // Every step kind has a lowering (a new kind fails to compile here until it gets one).
      const unhandled: never = step;
      return notImplemented(unhandled, 'this step kind');
    }
  }
}

/** Copies of value `id` into every other layout its consumers read it in. */
function conversions(ops: Operands, id: number, step: number): NativeOpSpec[] {
  const layouts = ops.layout.conversions.get(id);
  if (!layouts) return [];
  return [...layouts.keys()].map((l) => convertOp(step, ops.home(id), ops.inLayout(id, l)));
}

/** Everything prepare() needs to run `plan` at `shapes` (indexed by value id). */
export function programSpec(
  plan: Plan, layout: PlanLayout, memory: ContextMemory, constants: DeviceConstants, shapes: readonly (readonly number[])[],
  options: {
    readonly tune: boolean; readonly graphs: boolean; readonly graphCopies: boolean; readonly deterministic: boolean; readonly fp8FastAccumulation?: boolean;
  },
): ProgramSpec {
  const ops = new Operands(plan, layout, memory, constants, shapes);
  const specs: NativeOpSpec[] = [];
  plan.values.forEach((v, id) => {
    if (v.location.kind === 'input' || v.location.kind === 'constant') specs.push(...conversions(ops, id, -1));
  });
  plan.steps.forEach((step, index) => {
    specs.push(...lowerStep(ops, index, step));
    for (const id of step.outputs) specs.push(...conversions(ops, id, index));
  });
  plan.outputs.forEach((o, i) => {
    const src = ops.inLayout(o.value, 'rowmajor');
    const slot = memory.outputs[i]!;
    if (src.ref.mem === 0 && src.ref.offset === slot) return;
    specs.push(convertOp(-1, src, { ...src, ref: { mem: 0, offset: slot } }));
  });
  return {
    ops: specs,
    inputs: plan.inputs.map((io, i) => ({ offset: memory.inputs[i]!, bytes: ops.bytes(io.value) })),
    outputs: plan.outputs.map((io, i) => ({ offset: memory.outputs[i]!, bytes: ops.bytes(io.value) })),
    stepNames: plan.steps.map((s) => s.name),
    tune: options.tune,
    graphs: options.graphs,
    graphCopies: options.graphCopies,
    deterministic: options.deterministic,
    ...(options.fp8FastAccumulation ? { fp8FastAccumulation: true } : {}),
  };
}
