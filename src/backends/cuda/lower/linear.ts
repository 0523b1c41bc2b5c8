/** Lowering of matrix multiplies (cuBLASLt with its epilogues). */
import type { LayerStepOf } from '../../../engine/plan.js';
import { broadcastShapes, numelOf } from '../../../tensor/shape.js';
import { CONSTANT_MEMORY, type NativeOpSpec } from '../exec_spec.js';
import { notImplemented } from '../step_support.js';
import { epilogueOp } from './pointwise.js';
import { floatOf, type Operands } from './operands.js';

/**
 * Batched op(a) · op(b) (+ bias) (+ residual) (act). A b shared by every batch item folds the
 * batch into the rows (one GEMM); equal batches run strided-batched; a batch of one broadcasts.
 */
export function lowerMatrixMultiply(ops: Operands, index: number, step: LayerStepOf<'matrix_multiply'>): NativeOpSpec[] {
  const p = step.params;
  const a = ops.input(index, 0);
  const b = ops.input(index, 1);
  const out = ops.output(index);
  const dtype = floatOf(out.dtype, `step '${step.name}': the matrix multiply`);
  const sa = a.shape;
  const sb = b.shape;
  const last = (s: readonly number[], i: number): number => s[s.length - i]!;
  const aBatch = sa.slice(0, p.vector0 ? -1 : -2);
  const bBatch = sb.slice(0, p.vector1 ? -1 : -2);
  const transA = !p.vector0 && p.transpose0;
  const transB = !p.vector1 && p.transpose1;
  const m = p.vector0 ? 1 : transA ? last(sa, 1) : last(sa, 2);
  const k = p.vector0 ? last(sa, 1) : transA ? last(sa, 2) : last(sa, 1);
  const n = p.vector1 ? 1 : transB ? last(sb, 2) : last(sb, 1);
  const batch = numelOf(broadcastShapes(aBatch, bBatch));
  const aCount = numelOf(aBatch);
  const bCount = numelOf(bBatch);
  let gemm: { m: number; batch: number; strideA: number; strideB: number };
  if (bCount === 1 && !transA) gemm = { m: m * batch, batch: 1, strideA: m * k, strideB: 0 };
  else if ((aCount === batch || aCount === 1) && (bCount === batch || bCount === 1)) {
    gemm = { m, batch, strideA: aCount === 1 ? 0 : m * k, strideB: bCount === 1 ? 0 : k * n };
  } else notImplemented(step, `a matrix multiply whose batch dims broadcast partially ([${aBatch.join(', ')}] x [${bBatch.join(', ')}])`);
  const epilogue = ops.layout.epilogues.get(index);
  const bias = ops.constants.biases.get(index);
  const specs: NativeOpSpec[] = [{
    step: index, op: 'gemm', dtype, outDtype: dtype, m: gemm.m, n, k, batch: gemm.batch, transA, transB, alpha: 1,
    a: a.ref, strideA: gemm.strideA, b: b.ref, strideB: gemm.strideB, out: out.ref, strideOut: gemm.m * n,
    ...(bias !== undefined ? { bias: { mem: CONSTANT_MEMORY, offset: bias } } : {}),
    ...(epilogue && epilogue.residual !== null ? { residual: ops.input(index, epilogue.residual).ref } : {}),
    act: epilogue?.act ?? 'none',
  }];
  if (epilogue && epilogue.rest.length > 0) specs.push(epilogueOp(ops, index, epilogue.rest, out));
  return specs;
}
