/**
 * The calling convention of the reference backend's layer kernels: one function per layer kind,
 * taking the step's input tensors, the layer params and the dtype/shape each output must have
 * (resolved for this execution). A kernel may return float32 results for a float output (the
 * unrounded accumulator, which an epilogue consumes in registers); the caller converts each
 * result to its output dtype.
 */
import { isFloating, type DType } from '../../tensor/dtype.js';
import { formatShape } from '../../tensor/shape.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { LayerParamsMap } from '../network.js';
import type { LayerStepKind } from '../plan.js';

/** The dtype and (resolved) shape a step output must have. */
export interface OutputSpec {
  readonly dtype: DType;
  readonly shape: readonly number[];
}

/** The arguments of one layer kernel call. */
export interface LayerCall<K extends LayerStepKind> {
  /** The step's name, for error messages. */
  readonly name: string;
  readonly inputs: readonly Tensor[];
  readonly params: LayerParamsMap[K];
  readonly outputs: readonly OutputSpec[];
}

/** The reference kernel of layer kind K. */
export type LayerKernel<K extends LayerStepKind> = (call: LayerCall<K>) => Tensor[];

/** A table of kernels for some layer kinds. */
export type LayerKernels<K extends LayerStepKind> = { readonly [P in K]: LayerKernel<P> };

/** The error of a layer the reference kernels cannot run as given; names the step. */
export class ReferenceKernelError extends Error {
  override name = 'ReferenceKernelError';
}

/** Input `i` of a call, which must exist; the error names the step. */
export function inputAt<K extends LayerStepKind>(call: LayerCall<K>, i: number, what: string): Tensor {
  const t = call.inputs[i];
  if (!t) throw new ReferenceKernelError(`step '${call.name}': missing input ${i} (${what}), got ${call.inputs.length} inputs`);
  return t;
}

/** Checks that `t` is a floating tensor; the error names the step and the argument. */
export function requireFloat(name: string, what: string, t: Tensor): void {
  if (!isFloating(t.dtype)) {
    throw new ReferenceKernelError(`step '${name}': ${what} must be float32, float16 or bfloat16 on the reference backend, got ${t.dtype}${formatShape(t.shape)}`);
  }
}

/** PyTorch's F.pad list (last dim first) for per-dim paddings of the trailing dims. */
export function torchPadList(pre: readonly number[], post: readonly number[]): number[] {
  const out: number[] = [];
  for (let i = pre.length - 1; i >= 0; i--) out.push(pre[i]!, post[i]!);
  return out;
}
