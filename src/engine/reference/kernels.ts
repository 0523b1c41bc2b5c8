/**
 * The reference implementation of every step: the layer kernel of its kind, then its fused
 * epilogue in registers; or its pointwise program. Used by the reference backend at execution
 * and by the builder's constant folding at build time.
 */
import type { Tensor } from '../../tensor/tensor.js';
import type { LayerParamsMap } from '../network.js';
import type { EpilogueOp, LayerStepKind, PointwiseProgram } from '../plan.js';
import type { LayerCall, LayerKernel, LayerKernels, OutputSpec } from './layer_kernel.js';
import { DATA_KERNELS } from './layers_data.js';
import { LINEAR_KERNELS } from './layers_linear.js';
import { POINTWISE_KERNELS } from './layers_pointwise.js';
import { QUANT_KERNELS } from './layers_quant.js';
import { REDUCE_KERNELS } from './layers_reduce.js';
import { epilogueProgram, runPointwise } from './pointwise.js';

/** Re-exported: the dtype and shape a step output must have. */
export type { OutputSpec } from './layer_kernel.js';

const LAYER_KERNELS: LayerKernels<LayerStepKind> = {
  ...POINTWISE_KERNELS, ...LINEAR_KERNELS, ...REDUCE_KERNELS, ...DATA_KERNELS, ...QUANT_KERNELS,
};

/** What the reference implementation needs of a step (a PlanStep or a builder node). */
export type ExecutableStep =
  | { [K in LayerStepKind]: { readonly kind: K; readonly name: string; readonly params: LayerParamsMap[K]; readonly epilogue: readonly EpilogueOp[] } }[LayerStepKind]
  | { readonly kind: 'pointwise'; readonly name: string; readonly program: PointwiseProgram };

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
