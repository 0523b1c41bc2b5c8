/**
 * Lowering of attention: the fused kernel (attention_views.ts says which steps it runs), reading
 * q, k, v and writing the output through strides, in another value's storage where a shuffle
 * became a view; else cuBLASLt q·kᵀ into float32 scratch, the masked softmax kernel, and ·v.
 */
import type { LayerStepOf } from '../../../engine/plan.js';
import { itemSize } from '../../../tensor/dtype.js';
import { contiguousStrides, numelOf } from '../../../tensor/shape.js';
import { aliasView, isFusedAttention } from '../attention_views.js';
import type { MemRef, NativeOpSpec, View } from '../exec_spec.js';
import { broadcastView, coalesce } from '../strided.js';
import { floatOf, viewOf, type Operand, type Operands } from './operands.js';

/** Where an op accesses a value: a memory reference and the value's view from it. */
interface Access {
  readonly ref: MemRef;
  readonly view: View;
}

/** Value `id` as a view of its alias root's storage, when it is aliased and the view applies at these shapes. */
function aliasAccess(ops: Operands, id: number): Access | null {
  const alias = ops.layout.aliases.get(id);
  if (!alias) return null;
  const root = ops.home(alias.root);
  const av = aliasView(ops.plan, alias, id, viewOf(root), ops.shapes);
  if (av === null) return null;
  const offset = root.ref.offset + av.offset * itemSize(root.dtype);
  return offset % 16 === 0 ? { ref: { ...root.ref, offset }, view: av.view } : null;
}

/**
 * Whether shuffle step `index` is a view at these shapes (an attention reads its input, or writes
 * its output, directly): it then runs nothing.
 */
export function isShuffleView(ops: Operands, index: number): boolean {
  const step = ops.step(index);
  return [step.outputs[0]!, step.inputs[0]!].some((id) => ops.layout.aliases.get(id)?.shuffle === index && aliasAccess(ops, id) !== null);
}

/** Whether slice step `index` is part of an attention operand's view at these shapes: it then runs nothing. */
export function isSliceView(ops: Operands, index: number): boolean {
  for (const [id, alias] of ops.layout.aliases) if (alias.slice === index) return aliasAccess(ops, id) !== null;
  return false;
}

/** softmax(q kᵀ · scale + mask, causal) v. */
export function lowerAttention(ops: Operands, index: number, step: LayerStepOf<'attention'>): NativeOpSpec[] {
  return isFusedAttention(step, ops.plan) ? lowerFusedAttention(ops, index, step) : lowerAttentionGemms(ops, index, step);
}

/** The fused kernel: every operand through its strides, the batch dims merged where all operands allow. */
function lowerFusedAttention(ops: Operands, index: number, step: LayerStepOf<'attention'>): NativeOpSpec[] {
  const what = `step '${step.name}': attention`;
  const dtype = ops.output(index).dtype;
  if (dtype !== 'float16' && dtype !== 'bfloat16') throw new TypeError(`${what}: the fused kernel takes float16 or bfloat16, got ${dtype}`);
  const access = (o: Operand): Access => aliasAccess(ops, o.id) ?? { ref: o.ref, view: viewOf(o) };
  const [q, k, v, out] = [access(ops.input(index, 0)), access(ops.input(index, 1)), access(ops.input(index, 2)), access(ops.output(index))];
  // q, k, v and the mask broadcast over the output's batch dims.
  const batch = out.view.shape.slice(0, -2);
  const full = (view: View, name: string, rows: number, cols: number): View => broadcastView(view, [...batch, rows, cols], `${what}: ${name}`);
  const [l, e] = q.view.shape.slice(-2) as [number, number];
  const [s] = k.view.shape.slice(-2) as [number, number];
  const ev = v.view.shape[v.view.shape.length - 1]!;
  const mask = step.inputs.length > 3 ? ops.input(index, 3) : null;
  const views = [full(q.view, 'query', l, e), full(k.view, 'key', s, e), full(v.view, 'value', s, ev), out.view];
  if (mask) views.push(full(viewOf(mask), 'mask', l, s));
  const merged = coalesce(batch, views.map((view) => view.strides.slice(0, -2)));
  const [qv, kv, vv, ov, mv] = views.map((view, j): View => ({
    shape: [...merged.shape, ...view.shape.slice(-2)],
    strides: [...merged.strides[j]!, ...view.strides.slice(-2)],
  }));
  return [{
    step: index, op: 'attention', dtype, scale: step.params.scale, causal: step.params.causal,
    q: q.ref, qView: qv!, k: k.ref, kView: kv!, v: v.ref, vView: vv!, out: out.ref, outView: ov!,
    ...(mask && mv ? { mask: mask.ref, maskDtype: mask.dtype, maskView: mv } : {}),
  }];
}

/** Scores in float32 scratch, probabilities in the storage dtype (scratch), row-major operands. */
function lowerAttentionGemms(ops: Operands, index: number, step: LayerStepOf<'attention'>): NativeOpSpec[] {
  const q = ops.input(index, 0);
  const key = ops.input(index, 1);
  const v = ops.input(index, 2);
  const out = ops.output(index);
  const dtype = floatOf(out.dtype, `step '${step.name}': attention`);
  const [l, e] = q.shape.slice(-2) as [number, number];
  const s = key.shape[key.shape.length - 2]!;
  const ev = v.shape[v.shape.length - 1]!;
  const batchShape = q.shape.slice(0, -2);
  const batch = numelOf(batchShape);
  const scores = ops.scratch(index, 0);
  const probs = ops.scratch(index, 1);
  const maskSpec: { mask?: typeof q.ref; maskDtype?: typeof q.dtype; maskView?: { shape: number[]; strides: number[] } } = {};
  if (step.inputs.length > 3) {
    const mask = ops.input(index, 3);
    const full = [...batchShape, l, s];
    const view = broadcastView({ shape: mask.shape, strides: contiguousStrides(mask.shape) }, full, `step '${step.name}': mask`);
    const c = coalesce(full, [contiguousStrides(full), view.strides]);
    maskSpec.mask = mask.ref;
    maskSpec.maskDtype = mask.dtype;
    maskSpec.maskView = { shape: c.shape, strides: c.strides[1]! };
  }
  return [
    {
      step: index, op: 'gemm', dtype, outDtype: 'float32', m: l, n: s, k: e, batch, transA: false, transB: true, alpha: step.params.scale,
      a: q.ref, strideA: l * e, b: key.ref, strideB: s * e, out: scores, strideOut: l * s, act: 'none',
    },
    {
      step: index, op: 'softmax', xDtype: 'float32', yDtype: dtype, x: scores, y: probs, outer: batch * l, size: s, inner: 1,
      scale: 1, log: false, causalRows: step.params.causal ? l : 0, ...maskSpec,
    },
    {
      step: index, op: 'gemm', dtype, outDtype: dtype, m: l, n: ev, k: s, batch, transA: false, transB: false, alpha: 1,
      a: probs, strideA: l * s, b: v.ref, strideB: s * ev, out: out.ref, strideOut: l * ev, act: 'none',
    },
  ];
}
