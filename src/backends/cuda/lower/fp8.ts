/**
 * Lowering of FP8 matrix products (plan.ts StepQuantization with format 'float8e4m3') to
 * cuBLASLt's FP8 GEMM (the 'gemm' op with e4m3 operands): A [M, K] and the weight as [N, K], both
 * K-contiguous (the "TN" form cuBLASLt's FP8 kernels take), float32 accumulation, alpha =
 * fround(sx · sw), the bias and activation in the library's epilogue, and either a float16 /
 * bfloat16 output or an e4m3 one scaled by fround(1 / so) (cuBLASLt's D scale). The scales must be
 * plan constants: they become host-side factors of the call.
 */
import type { LayerStepOf, PlanStep } from '../../../engine/plan.js';
import { formatShape, numelOf } from '../../../tensor/shape.js';
import { CONSTANT_MEMORY, type MemRef, type NativeOpSpec } from '../exec_spec.js';
import { notImplemented } from '../step_support.js';
import type { Operands } from './operands.js';
import { epilogueOp } from './pointwise.js';
import { constantValues } from './quant.js';

/** The one value of a constant per-tensor scale at step input `input`; anything else is refused. */
function constantScale(ops: Operands, step: PlanStep, input: number, what: string): number {
  const values = constantValues(ops.plan, step.inputs[input]!);
  if (values === null) return notImplemented(step, `an FP8 matrix product whose ${what} scale is computed at run time (cuBLASLt's FP8 call takes it as a constant factor)`);
  if (values.length !== 1) return notImplemented(step, `an FP8 matrix product with ${values.length} ${what} scales (one per tensor)`);
  const s = Math.fround(values[0]!);
  if (!(s > 0) || !Number.isFinite(s) || !Number.isFinite(Math.fround(1 / s))) {
    throw new RangeError(`step '${step.name}': the ${what} scale must be a positive finite float32 whose reciprocal is finite, got ${values[0]}`);
  }
  return s;
}

/** The cuBLASLt FP8 GEMM (and, for a float output, the rest of the epilogue) of FP8 matrix product `step`. */
export function lowerFp8MatrixMultiply(ops: Operands, index: number, step: LayerStepOf<'matrix_multiply'>): NativeOpSpec[] {
  const p = step.params;
  const q = step.quant!;
  const a = ops.input(index, 0);
  const out = ops.output(index);
  if (a.dtype !== 'float8e4m3') throw new TypeError(`step '${step.name}': the first operand of an FP8 matrix product must be float8e4m3, got ${a.dtype}`);
  if (p.vector0 || p.transpose0 || p.vector1) notImplemented(step, 'an FP8 matrix product with a vector or transposed first operand');
  const bId = step.inputs[1]!;
  const bValue = ops.plan.values[bId]!;
  if (bValue.dtype !== 'float8e4m3') throw new TypeError(`step '${step.name}': the second operand of an FP8 matrix product must be float8e4m3, got ${bValue.dtype}`);
  const bShape = bValue.shape;
  if (bShape.length > 2 && numelOf(bShape.slice(0, -2)) !== 1) notImplemented(step, `an FP8 matrix product with a batched second operand ${formatShape(bShape)}`);
  const k = a.shape[a.shape.length - 1]!;
  const n = bShape[bShape.length - (p.transpose1 ? 2 : 1)]!;
  if (bShape[bShape.length - (p.transpose1 ? 1 : 2)] !== k) throw new RangeError(`step '${step.name}': the operands ${formatShape(a.shape)} and ${formatShape(bShape)} do not share the reduction dim`);
  if (k % 16 !== 0 || n % 16 !== 0) notImplemented(step, `an FP8 matrix product with K = ${k} and N = ${n} (cuBLASLt's FP8 GEMM needs both multiples of 16)`);
  // [N, K], K contiguous: a transposed weight as stored, else its transposed copy (a constant).
  let b: MemRef;
  if (p.transpose1) b = ops.home(bId).ref;
  else {
    const offset = ops.constants.filters.get(index);
    if (offset === undefined) return notImplemented(step, 'an FP8 matrix product whose [K, N] second operand is computed at run time');
    b = { mem: CONSTANT_MEMORY, offset };
  }
  const x = q.operands.find((o) => o.input === 0);
  const w = q.operands.find((o) => o.input === 1);
  if (x === undefined || w === undefined || x.axis !== null || w.axis !== null) notImplemented(step, 'an FP8 matrix product whose operands are not both FP8 per tensor');
  const alpha = Math.fround(constantScale(ops, step, x!.scale, 'first operand') * constantScale(ops, step, w!.scale, 'second operand'));
  const fp8Out = q.outputScale !== null;
  if (fp8Out && out.dtype !== 'float8e4m3') throw new TypeError(`step '${step.name}': an FP8 output with a scale must be float8e4m3, got ${out.dtype}`);
  if (!fp8Out && out.dtype !== 'float16' && out.dtype !== 'bfloat16') notImplemented(step, `an FP8 matrix product writing ${out.dtype} (float16, bfloat16 or float8e4m3)`);
  const dScale = fp8Out ? Math.fround(1 / constantScale(ops, step, q.outputScale!, 'output')) : undefined;
  const epilogue = ops.layout.epilogues.get(index);
  if ((epilogue?.residual ?? null) !== null) notImplemented(step, 'an FP8 matrix product with a residual in its epilogue');
  const rest = epilogue?.rest ?? [];
  if (fp8Out && rest.length > 0) notImplemented(step, `an FP8-output matrix product whose epilogue goes beyond bias + relu/gelu_tanh (${rest.map((op) => (op.op === 'activation' ? op.fn : op.op)).join('+')})`);
  const bias = ops.constants.biases.get(index);
  const cDtype = fp8Out ? 'float16' : out.dtype as 'float16' | 'bfloat16';
  const m = numelOf(a.shape) / k;
  const specs: NativeOpSpec[] = [{
    step: index, op: 'gemm', dtype: 'float8e4m3', outDtype: fp8Out ? 'float8e4m3' : cDtype, m, n, k, batch: 1, transA: false, transB: true, alpha,
    a: a.ref, strideA: m * k, b, strideB: 0, out: out.ref, strideOut: m * n,
    ...(bias !== undefined ? { bias: { mem: CONSTANT_MEMORY, offset: bias }, biasDtype: cDtype } : {}),
    act: epilogue?.act ?? 'none',
    ...(dScale !== undefined ? { dScale } : {}),
  }];
  if (rest.length > 0) specs.push(epilogueOp(ops, index, rest, out));
  return specs;
}
