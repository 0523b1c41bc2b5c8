/**
 * The reference implementation of every step: the layer kernel of its kind, then its fused
 * epilogue in registers; or its pointwise program. Used by the reference backend at execution
 * and by the builder's constant folding at build time.
 */
import type { Tensor } from '../../tensor/tensor.js';
import type { LayerParamsMap } from '../network.js';
import { QUANTIZED_KINDS, type EpilogueOp, type LayerStepKind, type PointwiseProgram, type StepQuantization } from '../plan.js';
import { ReferenceKernelError, type LayerCall, type LayerKernel, type LayerKernels, type OutputSpec } from './layer_kernel.js';
import { DATA_KERNELS } from './layers_data.js';
import { INT8_AWARE_POOLING, runInt8Step, type Int8Step } from './layers_int8.js';
import { LINEAR_KERNELS } from './layers_linear.js';
import { POINTWISE_KERNELS } from './layers_pointwise.js';
import { QUANT_KERNELS } from './layers_quant.js';
import { REDUCE_KERNELS } from './layers_reduce.js';
import { epilogueProgram, runPointwise } from './pointwise.js';

/** Re-exported: the dtype and shape a step output must have. */
export type { OutputSpec } from './layer_kernel.js';

const LAYER_KERNELS: LayerKernels<LayerStepKind> = {
  ...POINTWISE_KERNELS, ...LINEAR_KERNELS, ...REDUCE_KERNELS, ...DATA_KERNELS, ...QUANT_KERNELS, ...INT8_AWARE_POOLING,
};

/** What the reference implementation needs of a step (a PlanStep or a builder node); `quant` marks the int8 form. */
export type ExecutableStep = (
  | { [K in LayerStepKind]: { readonly kind: K; readonly name: string; readonly params: LayerParamsMap[K]; readonly epilogue: readonly EpilogueOp[] } }[LayerStepKind]
  | { readonly kind: 'pointwise'; readonly name: string; readonly program: PointwiseProgram }
) & { readonly quant?: StepQuantization };

function isInt8Step(step: ExecutableStep): step is ExecutableStep & Int8Step {
  return (QUANTIZED_KINDS as readonly string[]).includes(step.kind);
}

function callLayer<K extends LayerStepKind>(kind: K, call: LayerCall<K>): Tensor[] {
  const kernel: LayerKernel<K> = LAYER_KERNELS[kind];
  return kernel(call);
}

/**
 * Runs one step on tensors and returns its outputs in the dtypes of `outputs`.
 * @example
 * const [y] = runStep({ kind: 'activation', name: 'relu', params: { op: 'relu', alpha: 0, beta: 0 }, epilogue: [] },
 *                     [x], [{ dtype: 'float32', shape: x.shape }]);
 */
export function runStep(step: ExecutableStep, inputs: readonly Tensor[], outputs: readonly OutputSpec[]): Tensor[] {
  if (step.quant !== undefined) {
    if (!isInt8Step(step)) throw new ReferenceKernelError(`step '${step.name}': ${step.kind} has no int8 form`);
    return runInt8Step(step, step.quant, inputs, outputs);
  }
  if (step.kind === 'pointwise') return [runPointwise(step.name, step.program, inputs, outputs[0]!.dtype)];
  const epilogueInputs = step.epilogue.filter((op) => op.op !== 'activation').length;
  const anchorInputs = inputs.slice(0, inputs.length - epilogueInputs);
  const results = callLayer(step.kind, { name: step.name, inputs: anchorInputs, params: step.params, outputs });
  if (step.epilogue.length > 0) {
    const { program, inputs: positions } = epilogueProgram(step.epilogue, outputs[0]!.dtype);
    results[0] = runPointwise(step.name, program, [results[0]!, ...positions.map((p) => inputs[p]!)], outputs[0]!.dtype);
  }
  return results.map((r, i) => (r.dtype === outputs[i]!.dtype ? r : r.castTo(outputs[i]!.dtype)));
}
