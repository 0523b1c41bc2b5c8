/**
 * Which plan steps the CUDA backend runs, and how: the tactic family the builder records for each
 * step, and the one error for everything else, raised at build or load (never a wrong result at
 * run time): "step '<name>' (<kind> ...): <what> is not implemented on the CUDA backend yet".
 */
import type { LayerStep, LayerStepOf, PlanStep, StepKind } from '../../engine/plan.js';
import { EINSUM_MAX_OPERANDS, einsumTactic } from './lower/einsum_plan.js';

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
  convolution: 'conv', deconvolution: 'conv',
  pointwise: 'flexible', elementwise: 'flexible', unary: 'flexible', activation: 'flexible', cast: 'flexible', identity: 'flexible',
  scale: 'flexible', select: 'flexible', parametric_relu: 'flexible', pooling: 'flexible', concatenation: 'flexible', slice: 'flexible',
  shuffle: 'flexible', gather: 'flexible', padding: 'flexible', resize: 'flexible',
  topk: 'rowmajor', cumulative: 'rowmajor', shape: 'rowmajor',
  reduce: 'flexible', quantize: 'flexible', dequantize: 'flexible', einsum: 'rowmajor',
  matrix_multiply: 'rowmajor', normalization: 'rowmajor', softmax: 'rowmajor', attention: 'rowmajor',
};

/** The layout class of a supported step (throws for the others). */
export function stepClass(step: PlanStep): StepClass {
  return CLASSES[step.kind] ?? notImplemented(step, `the ${step.kind} layer`);
}

function checkLayerParams(step: LayerStep): void {
  switch (step.kind) {
    case 'pooling':
      // The reference rejects it too: an average has no dilated form.
      if (step.params.type === 'average' && step.params.dilation.some((d) => d !== 1)) {
        notImplemented(step, `average pooling with dilation [${step.params.dilation.join(', ')}]`);
      }
      return;
    case 'einsum':
      if (step.inputs.length > EINSUM_MAX_OPERANDS) notImplemented(step, `an einsum of ${step.inputs.length} operands (at most ${EINSUM_MAX_OPERANDS})`);
      return;
    case 'resize': {
      // The forms the reference implements (PyTorch's interpolate modes).
      const p = step.params;
      const nearest = (p.round === 'floor' && p.coordinates === 'asymmetric') || (p.round === 'half_up' && p.coordinates === 'half_pixel');
      if (p.mode === 'nearest' ? !nearest : p.coordinates === 'asymmetric') {
        notImplemented(step, `a ${p.mode} resize with coordinates '${p.coordinates}'${p.mode === 'nearest' ? ` and round '${p.round}'` : ''}`);
      }
      if (p.mode === 'cubic' && p.cubicCoeff !== -0.75) notImplemented(step, `a cubic resize with coefficient ${p.cubicCoeff} (only PyTorch's -0.75)`);
      return;
    }
    default:
      return;
  }
}

/** cuDNN's call for a (transposed) convolution, e.g. 'cudnn conv3d channels-last (explicit padding)'. */
function convFamily(step: LayerStepOf<'convolution'> | LayerStepOf<'deconvolution'>): string {
  const p = step.params;
  const dims = p.kernelSize.length;
  if (step.kind === 'deconvolution') return `cudnn deconv${dims}d (backward data) channels-last`;
  const even = p.prePadding.every((v, i) => v === p.postPadding[i] && v >= 0);
  return `cudnn conv${dims}d channels-last${even ? '' : ' (explicit padding)'}`;
}

/**
 * The implementation of an int8 step of the Q/DQ fusion (plan.ts StepQuantization): the int8
 * GEMM kernel for convolutions, deconvolutions and matrix products (tensor-core s8 MMA, int32 accumulation, the
 * plan's rescale/epilogue/requantize arithmetic in registers), the pooling and pointwise kernels
 * with dequantize-on-load and requantize-on-store.
 */
function int8Tactic(step: PlanStep): string {
  const q = step.quant!;
  if (q.format === 'float8e4m3') {
    const epi = step.kind !== 'pointwise' && step.epilogue.length > 0 ? ` + ${step.epilogue.map((op) => (op.op === 'activation' ? op.fn : op.op)).join('+')}` : '';
    return `cublaslt fp8 gemm (e4m3, float32 accumulate)${epi}, ${q.outputScale === null ? 'float out' : 'fp8 out'}`;
  }
  const out = q.outputScale === null ? 'float out' : 'int8 out';
  switch (step.kind) {
    case 'convolution': case 'deconvolution': case 'matrix_multiply': {
      checkInt8Anchor(step);
      const epi = step.epilogue.length > 0 ? ` + ${step.epilogue.map((op) => (op.op === 'activation' ? op.fn : op.op)).join('+')}` : '';
      // A deconvolution's output pixels gather their taps from the input; a 3-D layer runs through an explicit im2col matrix.
      const layer = step.kind === 'convolution' ? 'conv' : 'deconv';
      const form = step.kind === 'matrix_multiply' ? 'gemm' : step.params.kernelSize.length === 3 ? `im2col + gemm ${layer}3d` : `implicit-gemm ${layer}`;
      return `int8 ${form} kernel (s8 mma, int32 accumulate)${epi}, ${out}`;
    }
    case 'pooling': return `int8 ${step.params.type} pool${step.params.windowSize.length}d kernel, ${out}`;
    case 'pointwise': return `pointwise kernel (${step.program.instrs.length} fused ops, ${q.operands.length} int8 input(s)), ${out}`;
    default: return notImplemented(step, `the int8 form of ${step.kind} (fused quantize/dequantize)`);
  }
}

/** Refuses the int8 (de)convolutions the int8 GEMM kernel lacks: a grouped 3-D one (the 3-D form is one im2col matrix). */
export function checkInt8ConvForm(step: LayerStepOf<'convolution'> | LayerStepOf<'deconvolution'>): void {
  const p = step.params;
  if (p.kernelSize.length === 3 && p.groups !== 1) {
    notImplemented(step, `a grouped 3-D int8 ${step.kind} (groups ${p.groups}; the 3-D form is one im2col matrix, one group)`);
  }
}

/** The int8 anchor forms the int8 GEMM kernel runs (checked again with shapes when lowering). */
function checkInt8Anchor(step: LayerStepOf<'convolution'> | LayerStepOf<'deconvolution'> | LayerStepOf<'matrix_multiply'>): void {
  const q = step.quant!;
  if (step.kind !== 'matrix_multiply') checkInt8ConvForm(step);
  if (!q.operands.some((o) => o.input === 0) || !q.operands.some((o) => o.input === 1)) {
    notImplemented(step, 'an int8 step whose two GEMM operands are not both int8');
  }
  let residuals = 0;
  for (const op of step.epilogue) {
    if (op.op === 'residual' && ++residuals > 1) notImplemented(step, 'an int8 epilogue with more than one residual');
  }
  if (step.epilogue.length > 4) notImplemented(step, `an int8 epilogue of ${step.epilogue.length} ops (at most 4)`);
}

/**
 * The implementation family the CUDA backend uses for `step` (the builder records it as the
 * step's tactic); throws CudaNotImplementedError for steps it cannot run.
 * @example
 *   cudaTactic(convStep) // 'cudnn conv2d channels-last + epilogue bias+residual+relu'
 */
export function cudaTactic(step: PlanStep): string {
  stepClass(step);
  if (step.kind !== 'pointwise') checkLayerParams(step);
  if (step.quant !== undefined) return int8Tactic(step);
  if (step.kind === 'pointwise') return `pointwise kernel (${step.program.instrs.length} fused ops)`;
  const epilogue = step.epilogue.length > 0
    ? ` + epilogue ${step.epilogue.map((op) => (op.op === 'activation' ? op.fn : op.op)).join('+')}`
    : '';
  switch (step.kind) {
    case 'convolution': case 'deconvolution': return `${convFamily(step)}${epilogue}`;
    case 'matrix_multiply': return `cublaslt gemm${epilogue}`;
    case 'attention':
      return step.precision.storage === 'float16' || step.precision.storage === 'bfloat16'
        ? 'fused attention kernel (head dims multiples of 8 up to 128; else cublaslt gemm + masked softmax kernel + cublaslt gemm)'
        : 'cublaslt gemm + masked softmax kernel + cublaslt gemm';
    case 'pooling': return `${step.params.type} pool${step.params.windowSize.length}d kernel`;
    case 'reduce': return `reduce kernel (${step.params.op})`;
    case 'quantize': case 'dequantize': return `${step.kind} kernel (${step.params.axis === null ? 'per tensor' : `per channel along dim ${step.params.axis}`})`;
    case 'einsum': return einsumTactic(step.params.equation);
    case 'normalization': return 'layernorm row kernel';
    case 'softmax': return 'softmax row kernel';
    case 'shuffle': case 'concatenation': return 'strided copy kernel';
    case 'shape': return 'fill (dims known when the program is prepared)';
    case 'slice': return step.params.mode === 'default' ? 'strided copy kernel' : `slice kernel (${step.params.mode} mode)`;
    case 'padding': return 'slice kernel (fill mode)';
    case 'gather': return `gather kernel (${step.params.mode} mode)`;
    case 'resize': return `${step.params.mode} resize kernel`;
    case 'topk': return 'topk kernel';
    case 'cumulative': return 'scan kernel';
    default: return 'pointwise kernel';
  }
}
