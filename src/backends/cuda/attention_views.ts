/**
 * The fused attention kernel's place in a plan: which attention steps it runs (float16/bfloat16,
 * head dims that are multiples of 8 up to 128; the others keep gemm + softmax + gemm), and the
 * copies it makes unnecessary. The kernel reads q, k, v and writes its output through strides, so
 *
 *   - a shuffle whose output only fused attention steps read (as q, k or v), such as the
 *     [B, S, H*D] → [B, H, S, D] split into heads, becomes a view of its input: the attention
 *     reads the input's storage; where that input is a slice (a plain, forward one) read by this
 *     shuffle alone, such as q, k or v cut from one merged projection (mergeParallelLinears),
 *     the slice is part of the view too and copies nothing either;
 *   - a shuffle that alone reads a fused attention's output, such as [B, H, S, D] → [B, S, H*D],
 *     lets the attention write straight into the shuffle's output.
 *
 * Either way the shuffle copies nothing. The value owning the storage (the root) must then stay
 * alive while the aliasing value is used: plan_layout.ts gives arena roots their own storage,
 * shared by lifetime.
 */
import type { Plan, PlanStep } from '../../engine/plan.js';
import type { DType } from '../../tensor/dtype.js';
import type { View } from './exec_spec.js';
import { shuffleInputView, shuffleOutputView } from './shuffle_view.js';
import { layoutStrides, type Layout } from './strided.js';

/** Head dims the fused kernel takes: multiples of this (16-byte vectors of 16-bit elements)... */
export const ATTENTION_HEAD_ALIGN = 8;
/** ...up to this (both mirror native/src/kernels/attention.h)... */
export const MAX_ATTENTION_HEAD = 128;
/** ...on operands of at most this many dims (the native views' limit). */
export const MAX_ATTENTION_RANK = 8;

/** Whether `step` is an attention the fused kernel runs (by its dtype and static head dims). */
export function isFusedAttention(step: PlanStep, plan: Plan): boolean {
  if (step.kind !== 'attention') return false;
  const dtype = plan.values[step.outputs[0]!]!.dtype;
  if (dtype !== 'float16' && dtype !== 'bfloat16') return false;
  const head = (position: number): boolean => {
    const v = plan.values[step.inputs[position]!]!;
    const d = v.shape[v.shape.length - 1]!;
    return v.dtype === dtype && v.shape.length <= MAX_ATTENTION_RANK && d >= ATTENTION_HEAD_ALIGN && d <= MAX_ATTENTION_HEAD && d % ATTENTION_HEAD_ALIGN === 0;
  };
  return head(0) && head(1) && head(2);
}

/**
 * Whether the fused kernel can access `view` of a 16-bit `dtype` with 16-byte vectors: the last
 * dim contiguous, every other stride a multiple of 8 elements.
 */
export function isVectorView(view: View, dtype: DType): boolean {
  if (dtype !== 'float16' && dtype !== 'bfloat16') return false;
  const last = view.strides.length - 1;
  return last >= 0 && view.strides[last] === 1 && view.strides.every((s, d) => d === last || s % ATTENTION_HEAD_ALIGN === 0);
}

/** A value stored in another value's storage, related to it by a shuffle step. */
export interface ValueAlias {
  /** The value owning the storage. */
  readonly root: number;
  /** The shuffle step between the two; it copies nothing where the view applies. */
  readonly shuffle: number;
  /** 'output' side only: a slice step from the root to the shuffle's input, also a view then. */
  readonly slice?: number;
  /**
   * 'output': the aliasing value is the shuffle's output, a view of its input (the root);
   * 'input': it is the shuffle's input (an attention output), a view of the shuffle's output.
   */
  readonly side: 'output' | 'input';
}

/** A value as a view of its alias root's storage: strides, and the element offset where it starts. */
export interface AliasView {
  readonly view: View;
  readonly offset: number;
}

/**
 * The view through which value `id` (aliased by `alias`) is accessed in `root`'s storage (viewed
 * as `root`) at value shapes `shapes`, or null when the fused kernel cannot use that view.
 */
export function aliasView(plan: Plan, alias: ValueAlias, id: number, root: View, shapes: readonly (readonly number[])[]): AliasView | null {
  const step = plan.steps[alias.shuffle]!;
  if (step.kind !== 'shuffle') throw new Error(`aliasView: step ${alias.shuffle} is a ${step.kind}, not a shuffle`);
  const sliced = alias.slice === undefined ? { view: root, offset: 0 } : sliceView(plan, alias.slice, root, shapes);
  if (sliced === null) return null;
  const view = alias.side === 'output' ? shuffleOutputView(sliced.view, step.params, shapes[id]!) : shuffleInputView(sliced.view, step.params, shapes[id]!);
  // The kernel's 16-byte vectors need the start aligned like the strides.
  return view !== null && isVectorView(view, plan.values[id]!.dtype) && sliced.offset % ATTENTION_HEAD_ALIGN === 0 ? { view, offset: sliced.offset } : null;
}

/** The output of slice step `index` as a view of its input (viewed as `x`), or null when it is not one. */
function sliceView(plan: Plan, index: number, x: View, shapes: readonly (readonly number[])[]): AliasView | null {
  const step = plan.steps[index]!;
  if (step.kind !== 'slice' || step.params.mode !== 'default') return null;
  const out = shapes[step.outputs[0]!]!;
  const { start, stride } = step.params;
  const rank = x.shape.length;
  if (start.length !== rank || stride.length !== rank || out.length !== rank) return null;
  let offset = 0;
  for (let d = 0; d < rank; d++) {
    const first = start[d]!;
    const by = stride[d]!;
    // A forward slice inside the input (what a view can express).
    if (first < 0 || by < 1 || (out[d]! > 0 && first + (out[d]! - 1) * by >= x.shape[d]!)) return null;
    offset += first * x.strides[d]!;
  }
  return { view: { shape: [...out], strides: x.strides.map((s, d) => s * stride[d]!) }, offset };
}

/** Per value: the step producing it (-1 for inputs and constants) and the steps reading it, with the input position. */
function usesOf(plan: Plan): { producer: number[]; readers: { step: number; position: number }[][] } {
  const producer = plan.values.map(() => -1);
  const readers = plan.values.map((): { step: number; position: number }[] => []);
  plan.steps.forEach((step, i) => {
    step.inputs.forEach((id, position) => readers[id]!.push({ step: i, position }));
    for (const id of step.outputs) producer[id] = i;
  });
  return { producer, readers };
}

/**
 * The aliases of `plan` (keyed by the aliasing value), given each value's home layout: taken
 * where the view is one the kernel can use at every set of value shapes in `shapeSets` (the
 * profile's min/opt/max), and where neither value is a network output's alias.
 */
export function planAttentionAliases(plan: Plan, home: readonly Layout[], shapeSets: readonly (readonly (readonly number[])[])[]): Map<number, ValueAlias> {
  const { producer, readers } = usesOf(plan);
  const outputs = new Set(plan.outputs.map((o) => o.value));
  const aliases = new Map<number, ValueAlias>();
  const viewable = (alias: ValueAlias, id: number): boolean => shapeSets.every((shapes) => {
    const root = { shape: shapes[alias.root]!, strides: layoutStrides(shapes[alias.root]!, home[alias.root]!) };
    return aliasView(plan, alias, id, root, shapes) !== null;
  });
  plan.steps.forEach((step, index) => {
    if (step.kind !== 'shuffle') return;
    const x = step.inputs[0]!;
    const y = step.outputs[0]!;
    const from = producer[x]!;
    // The attention writes its output into the shuffle's output.
    if (from >= 0 && isFusedAttention(plan.steps[from]!, plan) && !outputs.has(x) && readers[x]!.length === 1) {
      const alias: ValueAlias = { root: y, shuffle: index, side: 'input' };
      if (viewable(alias, x)) {
        aliases.set(x, alias);
        return;
      }
    }
    // The attention steps read the shuffle's input (or, through a slice that only this shuffle
    // reads, the slice's input).
    const yReaders = readers[y]!;
    const onlyAttention = yReaders.length > 0 && yReaders.every((r) => r.position < 3 && isFusedAttention(plan.steps[r.step]!, plan));
    if (onlyAttention && !outputs.has(y) && !aliases.has(x) && plan.values[x]!.dtype === plan.values[y]!.dtype) {
      const cut = producer[x]!;
      const sliceIn = cut >= 0 && plan.steps[cut]!.kind === 'slice' && plan.steps[cut]!.inputs.length === 1 ? plan.steps[cut]!.inputs[0]! : -1;
      if (sliceIn >= 0 && readers[x]!.length === 1 && !outputs.has(x) && !aliases.has(sliceIn) && plan.values[sliceIn]!.dtype === plan.values[x]!.dtype) {
        const alias: ValueAlias = { root: sliceIn, shuffle: index, slice: cut, side: 'output' };
        if (viewable(alias, y)) {
          aliases.set(y, alias);
          return;
        }
      }
      const alias: ValueAlias = { root: x, shuffle: index, side: 'output' };
      if (viewable(alias, y)) aliases.set(y, alias);
    }
  });
  return aliases;
}
