/**
 * Reduction acc ops (sum, mean, prod, amax, amin, argmax, argmin) and the ops that work along
 * one dim (softmax, log_softmax, cumsum, topk). `x.max(dim)` maps to amax + argmax.
 */
import type { TensorMeta } from '../../ir/node.js';
import { isDType, isFloating, isIntegral, type DType } from '../../tensor/dtype.js';
import { formatShape, normDim, numelOf } from '../../tensor/shape.js';
import type { Tensor } from '../../tensor/tensor.js';
import { describeOperand, normalizeDims, reducedShape, type ShapedType } from '../../kernels/reference/broadcast.js';
import {
  argExtremumKernel, cumsumKernel, extremumKernel, meanKernel, prodKernel, softmaxKernel, sumKernel, topkKernel,
} from '../../kernels/reference/reduce.js';
import { defineAccOp, meta } from '../registry.js';

type Dims = number | number[] | null;

/** Integer and bool inputs accumulate in int64 (sum, prod, cumsum), as in PyTorch. */
function accumulateType(dt: DType): DType {
  return isIntegral(dt) || dt === 'bool' ? 'int64' : dt;
}

function checkDTypeArg(op: string, dtype: string | null): DType | null {
  if (dtype !== null && !isDType(dtype)) throw new TypeError(`acc.${op}: argument 'dtype' must be a dtype name or null, got '${dtype}'`);
  return dtype;
}

interface ReductionTypes {
  readonly dims: number[];
  readonly shape: number[];
  readonly dtype: DType;
}

/** Dims, output shape and dtype of sum / prod / mean. */
function reductionTypes(
  op: 'sum' | 'prod' | 'mean', input: ShapedType, dim: Dims, keepdim: boolean, dtypeArg: string | null,
): ReductionTypes {
  const dims = normalizeDims(`acc.${op}`, dim, input.shape.length);
  const requested = checkDTypeArg(op, dtypeArg);
  let dtype: DType;
  if (op === 'mean') {
    dtype = requested ?? input.dtype;
    if (!isFloating(dtype)) {
      const which = requested === null
        ? `the input dtype must be floating point (pass dtype to average integers), got ${describeOperand(input)}`
        : `the dtype argument must be floating point, got ${requested}`;
      throw new TypeError(`acc.mean: could not infer the output dtype: ${which}`);
    }
  } else {
    dtype = requested ?? accumulateType(input.dtype);
  }
  return { dims, shape: reducedShape(input.shape, dims, keepdim), dtype };
}

type ReduceArgs = { input: Tensor; dim: Dims; keepdim: boolean; dtype: string | null };

const REDUCE_ARGS = {
  input: { type: 'Tensor' },
  dim: { type: 'int|int[]?', default: null },
  keepdim: { type: 'bool', default: false },
  dtype: { type: 'dtype?', default: null },
} as const;

const ACCUMULATING = [
  ['sum', sumKernel],
  ['prod', prodKernel],
  ['mean', meanKernel], // sum / count, in the floating output dtype
] as const;

for (const [name, kernel] of ACCUMULATING) {
  defineAccOp<ReduceArgs>({
    name,
    args: REDUCE_ARGS,
    properties: ['reduction', 'unary'],
    infer: ({ input, dim, keepdim, dtype }) => {
      const t = reductionTypes(name, input, dim, keepdim, dtype);
      return meta(t.shape, t.dtype);
    },
    kernel: ({ input, dim, keepdim, dtype }) => {
      const t = reductionTypes(name, input, dim, keepdim, dtype);
      return kernel(input, t.dims, keepdim, t.dtype);
    },
  });
}

/** PyTorch rejects max/min-like reductions over an empty dim (there is no identity). */
function checkNonEmpty(op: string, shape: readonly number[], dims: readonly number[]): void {
  if (shape.length === 0) return;
  for (const d of dims) {
    if (shape[d] === 0) {
      throw new RangeError(`acc.${op}: expected reduction dim ${d} to have non-zero size, got input shape ${formatShape(shape)}`);
    }
  }
}

function extremumTypes(op: string, input: ShapedType, dim: Dims, keepdim: boolean): ReductionTypes {
  const dims = normalizeDims(`acc.${op}`, dim, input.shape.length);
  checkNonEmpty(op, input.shape, dims);
  return { dims, shape: reducedShape(input.shape, dims, keepdim), dtype: input.dtype };
}

for (const [name, largest] of [['amax', true], ['amin', false]] as const) {
  defineAccOp<{ input: Tensor; dim: Dims; keepdim: boolean }>({
    name,
    args: { input: { type: 'Tensor' }, dim: { type: 'int|int[]?', default: null }, keepdim: { type: 'bool', default: false } },
    properties: ['reduction', 'unary'],
    infer: ({ input, dim, keepdim }) => {
      const t = extremumTypes(name, input, dim, keepdim);
      return meta(t.shape, t.dtype);
    },
    kernel: ({ input, dim, keepdim }) => extremumKernel(input, extremumTypes(name, input, dim, keepdim).dims, keepdim, largest),
  });
}

/** Normalized dim (or null: over the flattened input) and output shape of argmax / argmin. */
function argTypes(op: string, input: ShapedType, dim: number | null, keepdim: boolean): { dim: number | null; shape: number[] } {
  if (input.dtype === 'bool') throw new TypeError(`acc.${op}: bool inputs are not supported, got ${describeOperand(input)}`);
  const rank = input.shape.length;
  if (dim === null) {
    if (numelOf(input.shape) === 0) {
      throw new RangeError(`acc.${op}: an empty input (shape ${formatShape(input.shape)}) needs a reduction dim`);
    }
    // keepdim without a dim keeps every dim as size 1, as PyTorch.
    return { dim: null, shape: keepdim ? new Array<number>(rank).fill(1) : [] };
  }
  const d = normDim(dim, rank, `acc.${op}: dim`);
  checkNonEmpty(op, input.shape, [d]);
  return { dim: rank === 0 ? 0 : d, shape: reducedShape(input.shape, rank === 0 ? [] : [d], keepdim) };
}

for (const [name, largest] of [['argmax', true], ['argmin', false]] as const) {
  defineAccOp<{ input: Tensor; dim: number | null; keepdim: boolean }>({
    name,
    args: { input: { type: 'Tensor' }, dim: { type: 'int?', default: null }, keepdim: { type: 'bool', default: false } },
    properties: ['reduction', 'unary'],
    infer: ({ input, dim, keepdim }) => meta(argTypes(name, input, dim, keepdim).shape, 'int64'),
    kernel: ({ input, dim, keepdim }) => {
      const t = argTypes(name, input, dim, keepdim);
      return argExtremumKernel(input, t.dim, t.shape, largest);
    },
  });
}

/** softmax / log_softmax need a floating input (PyTorch has no integer kernel). */
function softmaxDim(op: string, input: ShapedType, dim: number): number {
  if (!isFloating(input.dtype)) {
    throw new TypeError(`acc.${op}: expected a floating-point input (float32, float16 or bfloat16), got ${describeOperand(input)}`);
  }
  return normDim(dim, input.shape.length, `acc.${op}: dim`);
}

for (const [name, log] of [['softmax', false], ['log_softmax', true]] as const) {
  defineAccOp<{ input: Tensor; dim: number }>({
    name,
    args: { input: { type: 'Tensor' }, dim: { type: 'int' } },
    properties: ['unary'],
    infer: ({ input, dim }) => {
      softmaxDim(name, input, dim);
      return meta(input.shape, input.dtype);
    },
    kernel: ({ input, dim }) => softmaxKernel(input, softmaxDim(name, input, dim), log),
  });
}

/** Running sum along `dim`; integer and bool inputs give int64. */
export const accCumsum = defineAccOp<{ input: Tensor; dim: number }>({
  name: 'cumsum',
  args: { input: { type: 'Tensor' }, dim: { type: 'int' } },
  properties: ['unary'],
  infer: ({ input, dim }) => {
    normDim(dim, input.shape.length, 'acc.cumsum: dim');
    return meta(input.shape, accumulateType(input.dtype));
  },
  kernel: ({ input, dim }) => cumsumKernel(input, normDim(dim, input.rank, 'acc.cumsum: dim'), accumulateType(input.dtype)),
});

/** Normalized dim and the (values, indices) metadata of topk. */
function topkTypes(input: ShapedType, k: number, dim: number): { dim: number; out: [TensorMeta, TensorMeta] } {
  if (input.dtype === 'bool') throw new TypeError(`acc.topk: bool inputs are not supported, got ${describeOperand(input)}`);
  const rank = input.shape.length;
  const d = normDim(dim, rank, 'acc.topk: dim');
  const size = rank === 0 ? 1 : input.shape[d]!;
  if (!Number.isInteger(k) || k < 0 || k > size) {
    throw new RangeError(`acc.topk: k must be in 0..${size} (the size of dim ${d} of ${formatShape(input.shape)}), got ${k}`);
  }
  const shape = rank === 0 ? [] : input.shape.map((s, i) => (i === d ? k : s));
  return { dim: d, out: [meta(shape, input.dtype), meta(shape, 'int64')] };
}

/** The k largest (or smallest) elements along `dim` and their int64 indices: a (values, indices) tuple. */
export const accTopk = defineAccOp<{ input: Tensor; k: number; dim: number; largest: boolean; sorted: boolean }>({
  name: 'topk',
  args: {
    input: { type: 'Tensor' },
    k: { type: 'int' },
    dim: { type: 'int', default: -1 },
    largest: { type: 'bool', default: true },
    sorted: { type: 'bool', default: true },
  },
  properties: ['unary'],
  infer: ({ input, k, dim }) => topkTypes(input, k, dim).out,
  kernel: ({ input, k, dim, largest }) => topkKernel(input, k, topkTypes(input, k, dim).dim, largest),
});
