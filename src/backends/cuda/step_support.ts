/**
 * Which plan steps the CUDA backend runs, and how: the tactic family the builder records for each
 * step, and the one error for everything else, raised at build or load (never a wrong result at
 * run time): "step '<name>' (<kind> ...): <what> is not implemented on the CUDA backend yet".
 */
import type { LayerStep, PlanStep, StepKind } from '../../engine/plan.js';

/** A step (or a form of it) the CUDA backend cannot execute. */
export class CudaNotImplementedError extends Error {
  override name = 'CudaNotImplementedError';
}

/** `step 'name' (kind covering a, b)`, as the reference backend names steps in its errors. */
export function describeStep(step: PlanStep): string {
  const layers = step.layers.length > 1 ? ` covering ${step.layers.join(', ')}` : '';
  return `step '${step.name}' (${step.kind}${layers})`;
}

/** Throws CudaNotImplementedError naming the step and what it needs. */
export function notImplemented(step: PlanStep, what: string): never {
  throw new CudaNotImplementedError(`${describeStep(step)}: ${what} is not implemented on the CUDA backend yet`);
}

/** How a step kind treats the layouts of its operands (see plan_layout.ts). */
export type StepClass =
  /** cuDNN convolution: activations channels-last (NHWC). */
  | 'conv'
  /** Kernels that read and write any strided layout (pointwise, pooling, copies). */
  | 'flexible'
  /** Kernels and libraries on row-major operands. */
  | 'rowmajor';

const CLASSES: Partial<Record<StepKind, StepClass>> = {
  convolution: 'conv',
  pointwise: 'flexible', elementwise: 'flexible', unary: 'flexible', activation: 'flexible', cast: 'flexible', identity: 'flexible',
  scale: 'flexible', select: 'flexible', parametric_relu: 'flexible', pooling: 'flexible', concatenation: 'flexible', slice: 'flexible',
  shuffle: 'flexible',
  matrix_multiply: 'rowmajor', normalization: 'rowmajor', softmax: 'rowmajor', attention: 'rowmajor',
};

/** The layout class of a supported step (throws for the others). */
export function stepClass(step: PlanStep): StepClass {
  return CLASSES[step.kind] ?? notImplemented(step, `the ${step.kind} layer`);
}

function checkLayerParams(step: LayerStep): void {
  switch (step.kind) {
    case 'convolution':
      if (step.params.kernelSize.length !== 2) notImplemented(step, `a convolution with ${step.params.kernelSize.length} spatial dims (only 2-D)`);
      if (step.params.prePadding.some((p, i) => p !== step.params.postPadding[i])) notImplemented(step, 'a convolution with uneven padding');
      return;
    case 'pooling':
      if (step.params.windowSize.length !== 2) notImplemented(step, `pooling over ${step.params.windowSize.length} spatial dims (only 2-D)`);
      return;
    case 'slice':
      if (step.params.mode !== 'default') notImplemented(step, `slice mode '${step.params.mode}'`);
      return;
    default:
      return;
  }
}

/**
 * The implementation family the CUDA backend uses for `step` (the builder records it as the
 * step's tactic); throws CudaNotImplementedError for steps it cannot run.
 * @example
 *   cudaTactic(convStep) // 'cudnn conv2d NHWC (fused bias+residual+relu epilogue)'
 */
export function cudaTactic(step: PlanStep): string {
  stepClass(step);
  if (step.kind === 'pointwise') return `pointwise kernel (${step.program.instrs.length} fused ops)`;
  checkLayerParams(step);
  const epilogue = step.epilogue.length > 0
    ? ` + epilogue ${step.epilogue.map((op) => (op.op === 'activation' ? op.fn : op.op)).join('+')}`
    : '';
  switch (step.kind) {
    case 'convolution': return `cudnn conv2d NHWC${epilogue}`;
    case 'matrix_multiply': return `cublaslt gemm${epilogue}`;
    case 'attention': return 'cublaslt gemm + masked softmax kernel + cublaslt gemm';
    case 'pooling': return `${step.params.type} pool2d kernel`;
    case 'normalization': return 'layernorm row kernel';
    case 'softmax': return 'softmax row kernel';
    case 'shuffle': case 'concatenation': case 'slice': return 'strided copy kernel';
    default: return 'pointwise kernel';
  }
}
