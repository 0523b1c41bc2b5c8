/**
 * Strided-view algebra for lowering steps to the executor's kernels: strides of a storage
 * layout, broadcasting a view to an output shape, permuting, and merging dims so kernels index
 * as few dims as possible.
 */
import { contiguousStrides } from '../../tensor/shape.js';
import type { View } from './exec_spec.js';

/**
 * How a value's elements are laid out in memory: 'rowmajor' for its logical shape (the plan's
 * convention, any rank), or 'nhwc' for a [N, C, spatial...] value with 1 to 3 spatial dims stored
 * channels-last (NWC, NHWC, NDHWC: what the tensor-core convolutions read and write).
 */
export type Layout = 'rowmajor' | 'nhwc';

/** Whether values of rank `rank` can be stored channels-last ([N, C] and 1 to 3 spatial dims). */
export function channelsLastRank(rank: number): boolean {
  return rank >= 3 && rank <= 5;
}

/** Element strides of `shape` (logical dims) stored in `layout`. */
export function layoutStrides(shape: readonly number[], layout: Layout): number[] {
  if (layout === 'rowmajor') return contiguousStrides(shape);
  if (!channelsLastRank(shape.length)) throw new RangeError(`layout nhwc needs a rank-3 to rank-5 shape, got [${shape.join(', ')}]`);
  // Row-major over [N, spatial..., C]: C is innermost.
  const strides = new Array<number>(shape.length);
  strides[1] = 1;
  let step = shape[1]!;
  for (let d = shape.length - 1; d >= 2; d--) {
    strides[d] = step;
    step *= shape[d]!;
  }
  strides[0] = step;
  return strides;
}

/** The view of a dense value of `shape` stored in `layout`. */
export function denseView(shape: readonly number[], layout: Layout): View {
  return { shape: [...shape], strides: layoutStrides(shape, layout) };
}

/**
 * `view` broadcast to `shape` (dims aligned on the right; size-1 or missing dims get stride 0).
 * Throws when a dim neither matches nor is 1.
 */
export function broadcastView(view: View, shape: readonly number[], what: string): View {
  const offset = shape.length - view.shape.length;
  if (offset < 0) throw new RangeError(`${what}: [${view.shape.join(', ')}] does not broadcast to [${shape.join(', ')}]`);
  const strides = shape.map((size, d) => {
    const i = d - offset;
    if (i < 0) return 0;
    const own = view.shape[i]!;
    if (own === size) return size === 1 ? 0 : view.strides[i]!;
    if (own === 1) return 0;
    throw new RangeError(`${what}: [${view.shape.join(', ')}] does not broadcast to [${shape.join(', ')}]`);
  });
  return { shape: [...shape], strides };
}

/** The view with its dims permuted: dim i of the result is dim perm[i] of `view`. */
export function permuteView(view: View, perm: readonly number[]): View {
  return { shape: perm.map((p) => view.shape[p]!), strides: perm.map((p) => view.strides[p]!) };
}

/**
 * Merges dims of one iteration space shared by several operands (each with its own strides):
 * size-1 dims are dropped, and dims d, d+1 merge when every operand steps over d exactly as d+1
 * continued (stride[d] == stride[d+1] * size[d+1]). The row-major walk order is unchanged.
 */
export function coalesce(shape: readonly number[], strides: readonly (readonly number[])[]): { shape: number[]; strides: number[][] } {
  const outShape: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    const size = shape[d]!;
    if (size === 1) continue;
    const last = outShape.length - 1;
    if (last >= 0 && strides.every((s, j) => outStrides[j]![last] === s[d]! * size)) {
      outShape[last] = outShape[last]! * size;
      strides.forEach((s, j) => {
        outStrides[j]![last] = s[d]!;
      });
      continue;
    }
    outShape.push(size);
    strides.forEach((s, j) => outStrides[j]!.push(s[d]!));
  }
  if (shape.some((s) => s === 0)) return { shape: [0], strides: strides.map(() => [1]) };
  return { shape: outShape, strides: outStrides };
}

/** A single view with its contiguous runs merged (for copies, where src and dst walk independently). */
export function coalesceView(view: View): View {
  const c = coalesce(view.shape, [view.strides]);
  return { shape: c.shape, strides: c.strides[0]! };
}

/**
 * The order of iteration dims that walks `strides` (an output) from the largest stride to the
 * smallest, so consecutive threads write consecutive addresses. Stable for equal strides.
 */
export function walkOrder(strides: readonly number[]): number[] {
  return strides.map((_, d) => d).sort((a, b) => Math.abs(strides[b]!) - Math.abs(strides[a]!) || a - b);
}
