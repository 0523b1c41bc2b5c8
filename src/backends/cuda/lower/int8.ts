/**
 * Lowering of the int8 steps of the Q/DQ fusion (plan.ts StepQuantization): convolutions,
 * deconvolutions and matrix products to the int8 GEMM kernel (igemm.ts), int8 pooling and pointwise programs to
 * their kernels with dequantize-on-load and requantize-on-store; FP8 matrix products to cuBLASLt's
 * FP8 GEMM (fp8.ts).
 */
import type { PlanStep } from '../../../engine/plan.js';
import { notImplemented } from '../step_support.js';
import type { NativeOpSpec } from '../exec_spec.js';
import { lowerInt8Pooling } from './conv_pool.js';
import { lowerFp8MatrixMultiply } from './fp8.js';
import { lowerInt8Anchor } from './igemm.js';
import type { Operands } from './operands.js';
import { lowerInt8Pointwise } from './pointwise.js';

/** The ops of int8 step `step` (one with `quant`). */
export function lowerInt8Step(ops: Operands, index: number, step: PlanStep): NativeOpSpec[] {
  switch (step.kind) {
    case 'matrix_multiply': return step.quant!.format === 'float8e4m3' ? lowerFp8MatrixMultiply(ops, index, step) : lowerInt8Anchor(ops, index, step);
    case 'convolution': case 'deconvolution': return lowerInt8Anchor(ops, index, step);
    case 'pooling': return lowerInt8Pooling(ops, index, step);
    case 'pointwise': return lowerInt8Pointwise(ops, index, step);
    default: return notImplemented(step, `the int8 form of ${step.kind} (fused quantize/dequantize)`);
  }
}
