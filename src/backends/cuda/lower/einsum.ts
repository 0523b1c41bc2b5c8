/**
 * Lowering of einsum steps to strided copies, the reduce kernel, one cuBLASLt batched GEMM, or the
 * generic einsum kernel, as einsum_plan.ts decides. The GEMM computes in float32 and rounds once
 * to the output dtype, as the reference's contraction does.
 */
import type { LayerStepOf } from '../../../engine/plan.js';
import { itemSize } from '../../../tensor/dtype.js';
import { contiguousStrides, formatShape, numelOf, shapesEqual } from '../../../tensor/shape.js';
import type { MemRef, NativeOpSpec, View } from '../exec_spec.js';
import { notImplemented } from '../step_support.js';
import { coalesce, coalesceView, walkOrder } from '../strided.js';
import { copyOp } from './data.js';
import { einsumLabels, EINSUM_MAX_DIMS, planEinsum, type EinsumLabels, type GemmArrangement } from './einsum_plan.js';
import { floatOf, viewOf, type Operand, type Operands } from './operands.js';
import { reduceOp } from './reduce.js';

/** `x` (dims labelled `term`, no label repeated among `labels`) viewed with its dims in the order of `labels`. */
function labelView(x: Operand, term: readonly number[], labels: readonly number[]): View {
  const dims = labels.map((l) => term.indexOf(l));
  return { shape: dims.map((d) => x.shape[d]!), strides: dims.map((d) => x.strides[d]!) };
}

/** The element stride of label `l` in `x`: the sum over its dims (a diagonal), 0 where it broadcasts or is absent. */
function labelStride(x: Operand, term: readonly number[], l: number): number {
  return term.reduce((s, m, d) => (m === l && x.shape[d] !== 1 ? s + x.strides[d]! : s), 0);
}

/** A plain contraction: operands arranged (in place or copied), one batched GEMM, the result copied out when needed. */
function lowerGemm(ops: Operands, index: number, xs: readonly Operand[], labels: EinsumLabels, g: GemmArrangement, out: Operand): NativeOpSpec[] {
  const what = `step '${ops.step(index).name}'`;
  const dtype = floatOf(out.dtype, `${what}: einsum`);
  const item = itemSize(out.dtype);
  const size = (group: readonly number[]): number => group.reduce((n, l) => n * labels.sizes.get(l)!, 1);
  const [batch, m, k, n] = [size(g.batch), size(g.rows), size(g.inner), size(g.cols)];
  if (batch * m * n === 0) return [];
  if (k === 0) {
    return [{ step: index, op: 'fill', elemBytes: item, dst: out.ref, dstView: coalesceView(viewOf(out)), wordLo: 0, wordHi: 0 }];
  }
  const specs: NativeOpSpec[] = [];
  /** Operand `p` arranged as `groups` (contiguous), copied into scratch region `region` when `copy`. */
  const arranged = (p: number, groups: readonly number[], copy: boolean, region: number): MemRef => {
    const x = xs[p]!;
    if (!copy) return x.ref;
    const dst = ops.scratch(index, region);
    const src = labelView(x, labels.terms[p]!, groups);
    specs.push(copyOp(index, item, x.ref, src, dst, { shape: src.shape, strides: contiguousStrides(src.shape) }));
    return dst;
  };
  const a = arranged(g.a, [...g.batch, ...g.rows, ...g.inner], g.copyA, 0);
  const b = arranged(g.b, [...g.batch, ...g.inner, ...g.cols], g.copyB, 1);
  const result = g.copyOut ? ops.scratch(index, 2) : out.ref;
  specs.push({
    step: index, op: 'gemm', dtype, outDtype: dtype, m, n, k, batch, transA: g.transA, transB: g.transB, alpha: 1,
    a, strideA: m * k, b, strideB: k * n, out: result, strideOut: m * n, act: 'none',
  });
  if (g.copyOut) {
    const order = [...g.batch, ...g.rows, ...g.cols];
    const dst = labelView(out, labels.output, order);
    specs.push(copyOp(index, item, result, { shape: dst.shape, strides: contiguousStrides(dst.shape) }, out.ref, dst));
  }
  return specs;
}

/** The generic kernel: every operand a view over [output dims, summed dims], both groups merged where all operands allow. */
function lowerGeneric(ops: Operands, index: number, xs: readonly Operand[], labels: EinsumLabels, summed: readonly number[], out: Operand): NativeOpSpec {
  const step = ops.step(index);
  const what = `step '${step.name}'`;
  const order = walkOrder(out.strides);
  const outLabels = order.map((d) => labels.output[d]!);
  const o = coalesce(order.map((d) => out.shape[d]!), [
    order.map((d) => out.strides[d]!),
    ...xs.map((x, p) => outLabels.map((l) => labelStride(x, labels.terms[p]!, l))),
  ]);
  const s = coalesce(summed.map((l) => labels.sizes.get(l)!), xs.map((x, p) => summed.map((l) => labelStride(x, labels.terms[p]!, l))));
  if (o.shape.length > EINSUM_MAX_DIMS || s.shape.length > EINSUM_MAX_DIMS) {
    notImplemented(step, `an einsum with ${o.shape.length} output and ${s.shape.length} summed dims after merging (at most ${EINSUM_MAX_DIMS} each)`);
  }
  return {
    step: index, op: 'einsum', dtype: floatOf(out.dtype, `${what}: einsum`), y: out.ref,
    out: { shape: o.shape, strides: o.strides[0]! }, sumShape: s.shape,
    operands: xs.map((x, p) => ({ ref: x.ref, outStrides: o.strides[p + 1]!, sumStrides: s.strides[p]! })),
  };
}

/** torch.einsum over the step's operands (all of the output's float dtype). */
export function lowerEinsum(ops: Operands, index: number, step: LayerStepOf<'einsum'>): NativeOpSpec[] {
  const xs = step.inputs.map((_, p) => ops.input(index, p));
  const out = ops.output(index);
  const labels = einsumLabels(step.params.equation, xs.map((x) => x.shape));
  const planned = labels.output.map((l) => labels.sizes.get(l)!);
  if (!shapesEqual(planned, out.shape)) {
    throw new Error(`step '${step.name}': einsum '${step.params.equation}' gives ${formatShape(planned)} here but the plan's output is ${formatShape(out.shape)}`);
  }
  if (numelOf(out.shape) === 0) return [];
  const lowering = planEinsum(labels);
  const item = itemSize(out.dtype);
  switch (lowering.kind) {
    case 'copy':
      return [copyOp(index, item, xs[0]!.ref, labelView(xs[0]!, labels.terms[0]!, labels.output), out.ref, viewOf(out))];
    case 'reduce': {
      const x = xs[0]!;
      const term = labels.terms[0]!;
      const kept = {
        shape: out.shape,
        xStrides: labels.output.map((l) => labelStride(x, term, l)),
        yStrides: out.strides,
      };
      const reduced = labelView(x, term, lowering.summed);
      return [reduceOp(index, 'sum', out.dtype, x.ref, out.ref, kept, reduced)];
    }
    case 'gemm': return lowerGemm(ops, index, xs, labels, lowering.gemm, out);
    case 'generic': return [lowerGeneric(ops, index, xs, labels, lowering.summed, out)];
  }
}
