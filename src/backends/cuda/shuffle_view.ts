/**
 * Shuffles as strided views: when a shuffle's output is its input's elements seen through other
 * strides (or the other way round), a kernel that takes strides reads or writes the one value's
 * storage as the other, and the shuffle copies nothing. Everything here works on concrete shapes.
 */
import type { LayerParamsMap } from '../../engine/network.js';
import { formatShape, numelOf } from '../../tensor/shape.js';
import type { View } from './exec_spec.js';
import { permuteView } from './strided.js';

type ShuffleParams = LayerParamsMap['shuffle'];

/**
 * `view` with its elements, in row-major order, regrouped into `shape` without moving them, or
 * null when strides cannot express that (PyTorch's rule for `Tensor.view`): each run of source
 * dims that merges into one target dim must be contiguous in memory. Size-1 target dims get
 * stride 0.
 * @example
 *   reshapeView({ shape: [2, 6], strides: [6, 1] }, [2, 2, 3]) // { shape: [2, 2, 3], strides: [6, 3, 1] }
 *   reshapeView({ shape: [2, 3], strides: [1, 2] }, [6])       // null (the transpose is not contiguous)
 */
export function reshapeView(view: View, shape: readonly number[]): View | null {
  const numel = numelOf(view.shape);
  if (numelOf(shape) !== numel) {
    throw new RangeError(`reshapeView: ${formatShape(view.shape)} has ${numel} elements, ${formatShape(shape)} has ${numelOf(shape)}`);
  }
  const strides = new Array<number>(shape.length).fill(0);
  if (numel === 0) return { shape: [...shape], strides };
  const sizes: number[] = [];
  const steps: number[] = [];
  view.shape.forEach((n, d) => {
    if (n !== 1) {
      sizes.push(n);
      steps.push(view.strides[d]!);
    }
  });
  let src = 0;
  let dst = 0;
  while (dst < shape.length) {
    if (shape[dst] === 1) {
      dst++;
      continue;
    }
    // One group: source dims [src, srcEnd] and target dims [dst, dstEnd) with equal products.
    let srcEnd = src;
    let srcProduct = sizes[src]!;
    let dstEnd = dst + 1;
    let dstProduct = shape[dst]!;
    while (srcProduct !== dstProduct) {
      if (srcProduct < dstProduct) {
        srcEnd++;
        if (steps[srcEnd - 1] !== steps[srcEnd]! * sizes[srcEnd]!) return null;
        srcProduct *= sizes[srcEnd]!;
      } else {
        dstProduct *= shape[dstEnd]!;
        dstEnd++;
      }
    }
    let step = steps[srcEnd]!;
    for (let d = dstEnd - 1; d >= dst; d--) {
      strides[d] = shape[d] === 1 ? 0 : step;
      step *= shape[d]!;
    }
    src = srcEnd + 1;
    dst = dstEnd;
  }
  return { shape: [...shape], strides };
}

/** The inverse of permutation `perm` (out[i] = in[perm[i]]). */
function inverse(perm: readonly number[]): number[] {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => {
    inv[p] = i;
  });
  return inv;
}

/**
 * The output of shuffle `params` (transpose, reshape, transpose) as a view of its input `x`,
 * given the output's shape; null when the reshape cannot be a view.
 * @example
 *   // [B, S, H*D] → reshape [B, S, H, D] → transpose [0, 2, 1, 3]: [B, H, S, D] over the input
 *   shuffleOutputView({ shape: [2, 8, 768], strides: [6144, 768, 1] },
 *     { firstTranspose: null, reshape: [2, 8, 12, 64], secondTranspose: [0, 2, 1, 3] }, [2, 12, 8, 64])
 *   // { shape: [2, 12, 8, 64], strides: [6144, 64, 768, 1] }
 */
export function shuffleOutputView(x: View, params: ShuffleParams, outShape: readonly number[]): View | null {
  const { firstTranspose, reshape, secondTranspose } = params;
  let v: View | null = firstTranspose ? permuteView(x, firstTranspose) : x;
  if (reshape !== null) {
    const mid = secondTranspose ? inverse(secondTranspose).map((p) => outShape[p]!) : outShape;
    v = reshapeView(v, mid);
    if (v === null) return null;
  }
  return secondTranspose ? permuteView(v, secondTranspose) : v;
}

/**
 * The input of shuffle `params` as a view of its output `y`, given the input's shape (what lets
 * the producer of the input write straight into the output); null when that is not a view.
 * @example
 *   // [B, H, S, D] → transpose [0, 2, 1, 3] → reshape [B, S, H*D]: the input over the output
 *   shuffleInputView({ shape: [2, 8, 768], strides: [6144, 768, 1] },
 *     { firstTranspose: [0, 2, 1, 3], reshape: [2, 8, 768], secondTranspose: null }, [2, 12, 8, 64])
 *   // { shape: [2, 12, 8, 64], strides: [6144, 64, 768, 1] }
 */
export function shuffleInputView(y: View, params: ShuffleParams, inShape: readonly number[]): View | null {
  const { firstTranspose, reshape, secondTranspose } = params;
  let v: View | null = secondTranspose ? permuteView(y, inverse(secondTranspose)) : y;
  if (reshape !== null) {
    const transposed = firstTranspose ? firstTranspose.map((p) => inShape[p]!) : inShape;
    v = reshapeView(v, transposed);
    if (v === null) return null;
  }
  return firstTranspose ? permuteView(v, inverse(firstTranspose)) : v;
}
