/**
 * Reference kernels of the reduce acc ops (sum, mean, prod, amax/amin, argmax/argmin, softmax,
 * log_softmax, cumsum, topk). Dims arrive normalized; dtype rules live in the op definitions.
 *
 * Sums accumulate in float64 whatever the input: PyTorch sums float32 with a cascade (pairwise)
 * summation whose error grows like O(log n) ulps, which a float64 running sum matches to within
 * the final rounding, while a naive float32 running sum would drift by O(n) ulps. int64 results
 * (sums of integers, max of int64, ...) are computed exactly on BigInt.
 */
import { roundTo, type DType } from '../../tensor/dtype.js';
import type { Shape } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import {
  allocValues, int64ToTensor, planReduction, readAs, readInt64, reduceInt64, reduceValues, splitAtDim, toTensor,
  type ReductionPlan, type Writable,
} from './broadcast.js';

type FloatDType = 'float32' | 'float16' | 'bfloat16';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** A fold with the same meaning on numbers (float64) and on exact int64 values. */
interface Fold {
  readonly init: number;
  readonly step: (acc: number, v: number) => number;
  readonly init64: bigint;
  readonly step64: (acc: bigint, v: bigint) => bigint;
}

const SUM: Fold = { init: 0, step: (a, v) => a + v, init64: 0n, step64: (a, v) => a + v };
const PROD: Fold = { init: 1, step: (a, v) => a * v, init64: 1n, step64: (a, v) => a * v };
// Once the accumulator is NaN no comparison replaces it; a NaN value always does.
const MAX: Fold = { init: -Infinity, step: (a, v) => (v > a || v !== v ? v : a), init64: INT64_MIN, step64: (a, v) => (v > a ? v : a) };
const MIN: Fold = { init: Infinity, step: (a, v) => (v < a || v !== v ? v : a), init64: INT64_MAX, step64: (a, v) => (v < a ? v : a) };

/** Folds `input` (first cast to `dtype`, as `sum(x, dtype=...)`) over the plan, exactly for int64. */
function fold(input: Tensor, plan: ReductionPlan, dtype: DType, f: Fold): Tensor {
  const x = input.castTo(dtype);
  if (dtype === 'int64') return int64ToTensor(reduceInt64(plan, readInt64(x), f.init64, f.step64), plan.outShape, 'int64');
  return toTensor(reduceValues(plan, readAs(x, dtype), f.init, f.step), plan.outShape, dtype);
}

/** Sum over `dims`, the input first cast to `dtype` (the result dtype). */
export function sumKernel(input: Tensor, dims: readonly number[], keepdim: boolean, dtype: DType): Tensor {
  return fold(input, planReduction(input.shape, dims, keepdim), dtype, SUM);
}

/** Product over `dims` (1 for an empty reduction), the input first cast to `dtype`. */
export function prodKernel(input: Tensor, dims: readonly number[], keepdim: boolean, dtype: DType): Tensor {
  return fold(input, planReduction(input.shape, dims, keepdim), dtype, PROD);
}

/** Mean over `dims` (NaN for an empty reduction, as 0 / 0), the input first cast to the floating `dtype`. */
export function meanKernel(input: Tensor, dims: readonly number[], keepdim: boolean, dtype: DType): Tensor {
  const plan = planReduction(input.shape, dims, keepdim);
  const acc = reduceValues(plan, readAs(input.castTo(dtype), dtype), 0, SUM.step);
  const n = plan.reduced.length;
  for (let i = 0; i < acc.length; i++) acc[i] = acc[i]! / n;
  return toTensor(acc, plan.outShape, dtype);
}

/** Max (or min) over `dims`; a NaN anywhere in a slice makes its result NaN. Empty slices are rejected by the op. */
export function extremumKernel(input: Tensor, dims: readonly number[], keepdim: boolean, largest: boolean): Tensor {
  return fold(input, planReduction(input.shape, dims, keepdim), input.dtype, largest ? MAX : MIN);
}

/** Index of the first best element of each slice: `better(v, best)` says v beats best. */
function argLoop<T>(x: ArrayLike<T>, outer: number, size: number, inner: number, better: (v: T, best: T) => boolean): Float64Array {
  const out = new Float64Array(outer * inner);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * size * inner + i;
      let best = x[base]!;
      let at = 0;
      for (let r = 1; r < size; r++) {
        const v = x[base + r * inner]!;
        if (better(v, best)) {
          best = v;
          at = r;
        }
      }
      out[o * inner + i] = at;
    }
  }
  return out;
}

/**
 * Index of the max (or min) along `dim`, or over the flattened input when `dim` is null; the
 * first occurrence wins ties, and the first NaN wins over everything (as PyTorch). `outShape`
 * is the result shape the op computed (keepdim applied).
 */
export function argExtremumKernel(input: Tensor, dim: number | null, outShape: Shape, largest: boolean): Tensor {
  const { outer, size, inner } = dim === null ? { outer: 1, size: input.numel, inner: 1 } : splitAtDim(input.shape, dim);
  const at = input.dtype === 'int64'
    ? argLoop(readInt64(input), outer, size, inner, largest ? (v, b) => v > b : (v, b) => v < b)
    // A NaN best is never beaten (every comparison with it is false); a NaN value beats any number.
    : argLoop(readAs(input, input.dtype), outer, size, inner, largest
      ? (v, b) => v > b || (v !== v && b === b)
      : (v, b) => v < b || (v !== v && b === b));
  return Tensor.fromNumbers(at, outShape, 'int64');
}

/**
 * softmax (or log_softmax) along `dim`, numerically stable: exp(x - max) / Σ exp(x - max), and
 * x - max - log Σ exp(x - max). A NaN in a slice makes the whole slice NaN, as in PyTorch.
 * log_softmax rounds Σ and its log as PyTorch stores them: to float32, and to the input dtype
 * itself for fp16/bf16 along the last dim (its kernel keeps them in a buffer of the input
 * dtype), which decides results near 0 such as bf16 log_softmax([0, -10]) = [0, -10].
 */
export function softmaxKernel(input: Tensor, dim: number, log: boolean): Tensor {
  const dtype = input.dtype;
  const x = readAs(input, dtype);
  const y = allocValues(dtype, x.length);
  const { outer, size, inner } = splitAtDim(input.shape, dim);
  const exps = new Float64Array(log ? 0 : size); // exp(x - max) of one slice, kept until its sum is known
  const lastDim = dim >= input.rank - 1;
  const lseType: FloatDType = lastDim && (dtype === 'float16' || dtype === 'bfloat16') ? dtype : 'float32';
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * size * inner + i;
      const end = base + size * inner;
      let max = -Infinity;
      for (let p = base; p < end; p += inner) {
        const v = x[p]!;
        if (v > max || v !== v) max = v;
      }
      let sum = 0;
      if (log) {
        for (let p = base; p < end; p += inner) sum += Math.exp(x[p]! - max);
        const lse = roundTo(lseType, Math.log(roundTo(lseType, sum)));
        for (let p = base; p < end; p += inner) y[p] = Math.fround(x[p]! - max) - lse;
      } else {
        for (let p = base, r = 0; p < end; p += inner, r++) {
          const v = Math.exp(x[p]! - max);
          exps[r] = v;
          sum += v;
        }
        for (let p = base, r = 0; p < end; p += inner, r++) y[p] = exps[r]! / sum;
      }
    }
  }
  return toTensor(y, input.shape, dtype);
}

/** Running sum along `dim`, the input first cast to `dtype`; each prefix is rounded from a float64 accumulator, int64 is exact. */
export function cumsumKernel(input: Tensor, dim: number, dtype: DType): Tensor {
  const { outer, size, inner } = splitAtDim(input.shape, dim);
  const x = input.castTo(dtype);
  if (dtype === 'int64') {
    const y = new BigInt64Array(x.numel);
    scan(readInt64(x), y, outer, size, inner, 0n, SUM.step64);
    return int64ToTensor(y, input.shape, 'int64');
  }
  const v = readAs(x, dtype);
  const acc = new Float64Array(v.length);
  scan(v, acc, outer, size, inner, 0, SUM.step);
  return toTensor(acc, input.shape, dtype);
}

/** Inclusive prefix fold along the middle axis of an [outer, size, inner] layout. */
function scan<T>(x: ArrayLike<T>, y: Writable<T>, outer: number, size: number, inner: number, init: T, step: (a: T, v: T) => T): void {
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let acc = init;
      for (let r = 0, p = o * size * inner + i; r < size; r++, p += inner) {
        acc = step(acc, x[p]!);
        y[p] = acc;
      }
    }
  }
}

/**
 * Order of two row positions for topk: NaN above every number, equal values by index. `largest`
 * sorts descending (NaN first), otherwise ascending (NaN last).
 */
function topkOrder<T>(row: ArrayLike<T>, largest: boolean): (i: number, j: number) => number {
  const nan = (v: T): boolean => v !== v;
  return (i, j) => {
    const a = row[i]!;
    const b = row[j]!;
    if (nan(a) || nan(b)) {
      if (nan(a) && nan(b)) return i - j;
      return nan(a) === largest ? -1 : 1;
    }
    if (a === b) return i - j;
    return (a > b) === largest ? -1 : 1;
  };
}

/** Selects the first k positions of each row in `order` into values/indices ([outer, k, inner] layout). */
function selectTopk<T>(
  x: ArrayLike<T>, row: Writable<T>, values: Writable<T>, indices: Float64Array,
  outer: number, size: number, inner: number, k: number, largest: boolean,
): void {
  const order = new Uint32Array(size);
  const compare = topkOrder(row, largest);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * size * inner + i;
      for (let r = 0; r < size; r++) {
        row[r] = x[base + r * inner]!;
        order[r] = r;
      }
      order.sort(compare);
      const outBase = o * k * inner + i;
      for (let r = 0; r < k; r++) {
        values[outBase + r * inner] = row[order[r]!]!;
        indices[outBase + r * inner] = order[r]!;
      }
    }
  }
}

/**
 * The k largest (or smallest) elements along `dim` and their int64 indices, in sorted order
 * (descending for largest, ascending otherwise; the order is also used when `sorted` is false,
 * for which PyTorch leaves the order unspecified). NaN counts as larger than every number;
 * equal values keep the lower index first. `k` is validated by the op.
 */
export function topkKernel(input: Tensor, kArg: number, dim: number, largest: boolean): [Tensor, Tensor] {
  const shape = input.shape;
  const k = shape.length === 0 ? 1 : kArg; // a 0-dim input gives its element back for k = 0 or 1, as PyTorch
  const { outer, size, inner } = splitAtDim(shape, dim);
  const outShape = shape.length === 0 ? [] : shape.map((d, i) => (i === dim ? k : d));
  const indices = new Float64Array(outer * k * inner);
  let values: Tensor;
  if (input.dtype === 'int64') {
    const v = new BigInt64Array(outer * k * inner);
    selectTopk(readInt64(input), new BigInt64Array(size), v, indices, outer, size, inner, k, largest);
    values = int64ToTensor(v, outShape, 'int64');
  } else {
    const v = allocValues(input.dtype, outer * k * inner);
    selectTopk<number>(readAs(input, input.dtype), new Float64Array(size), v, indices, outer, size, inner, k, largest);
    values = toTensor(v, outShape, input.dtype);
  }
  return [values, Tensor.fromNumbers(indices, outShape, 'int64')];
}
