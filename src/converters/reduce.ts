/**
 * Converters of the reduction acc ops (sum, prod, mean, amax, amin onto reduce; argmax/argmin onto
 * topk k=1 indices) and the ops along one dim (softmax, log_softmax, cumsum, topk).
 */
import type { NetTensor } from '../engine/network.js';
import { normalizeDims } from '../kernels/reference/broadcast.js';
import { isFloating, isIntegral, type DType } from '../tensor/dtype.js';
import { normDim } from '../tensor/shape.js';
import type { ConversionContext } from './context.js';
import { argValue } from './node_meta.js';
import { registerConverter } from './registry.js';

type Dims = number | number[] | null;
type ReduceArgs = { input: NetTensor; dim: Dims; keepdim: boolean; dtype: DType | null };

function reduce(ctx: ConversionContext, x: NetTensor, op: 'sum' | 'prod' | 'max' | 'min' | 'avg', dims: number[], keepDims: boolean): NetTensor {
  // A 0-d input has nothing to reduce.
  return dims.length === 0 ? x : ctx.layer1('reduce', [x], { op, axes: dims, keepDims });
}

// Integer and bool inputs accumulate in int64 (PyTorch), mean needs a float; `dtype` overrides both.
for (const [name, op] of [['sum', 'sum'], ['prod', 'prod'], ['mean', 'avg']] as const) {
  registerConverter<ReduceArgs>(name, (ctx, node, { input, dim, keepdim, dtype }) => {
    const dims = normalizeDims(node.target.name, dim, input.shape.length);
    const out = dtype ?? (name !== 'mean' && (isIntegral(input.dtype) || input.dtype === 'bool') ? 'int64' : input.dtype);
    return reduce(ctx, ctx.cast(input, ctx.netType(out)), op, dims, keepdim);
  });
}

for (const [name, op] of [['amax', 'max'], ['amin', 'min']] as const) {
  registerConverter<Omit<ReduceArgs, 'dtype'>>(name, (ctx, node, { input, dim, keepdim }) => {
    const dims = normalizeDims(node.target.name, dim, input.shape.length);
    // Reduce layers take no bools: any/all are max/min over 0/1.
    if (input.dtype !== 'bool') return reduce(ctx, input, op, dims, keepdim);
    return ctx.cast(reduce(ctx, ctx.cast(input, 'int32'), op, dims, keepdim), 'bool');
  });
}

type ArgArgs = { input: NetTensor; dim: number | null; keepdim: boolean };

// argmax = topk(k=1) indices; argmin = argmax(-x) on floats so NaN wins as in PyTorch.
for (const [name, largest] of [['argmax', true], ['argmin', false]] as const) {
  registerConverter<ArgArgs>(name, (ctx, node, { input, dim, keepdim }) => {
    const rank = input.shape.length;
    let x = input;
    let op: 'max' | 'min' = largest ? 'max' : 'min';
    if (!largest && isFloating(x.dtype)) {
      x = ctx.unary('neg', x);
      op = 'max';
    }
    if (dim === null || rank === 0) {
      const flat = ctx.reshape(x, [-1]);
      const [, idx] = ctx.layer('topk', [flat], { op, k: 1, axis: 0 });
      return ctx.reshape(idx!, keepdim ? new Array<number>(rank).fill(1) : []);
    }
    const d = normDim(dim, rank, `${node.target.name}: dim`);
    const [, idx] = ctx.layer('topk', [x], { op, k: 1, axis: d });
    return keepdim ? idx! : ctx.squeeze(idx!, [d]);
  });
}

for (const [name, log] of [['softmax', false], ['log_softmax', true]] as const) {
  registerConverter<{ input: NetTensor; dim: number }>(name, (ctx, node, { input, dim }) =>
    ctx.layer1('softmax', [input], { axis: normDim(dim, input.shape.length, `${node.target.name}: dim`), log }));
}

registerConverter<{ input: NetTensor; dim: number }>('cumsum', (ctx, _node, { input, dim }) => {
  const rank = input.shape.length;
  const d = normDim(dim, rank, 'acc.cumsum: dim');
  const x = ctx.cast(input, isIntegral(input.dtype) || input.dtype === 'bool' ? 'int64' : input.dtype);
  if (rank === 0) return x;
  return ctx.layer1('cumulative', [x], { axis: d, op: 'sum', exclusive: false, reverse: false });
});

type TopkArgs = { input: NetTensor; k: number; dim: number; largest: boolean; sorted: boolean };
registerConverter<TopkArgs>('topk', (ctx, _node, { input, k, dim, largest }) => {
  const rank = input.shape.length;
  const x = rank === 0 ? ctx.reshape(input, [1]) : input;
  const axis = normDim(dim, Math.max(rank, 1), 'acc.topk: dim');
  const [values, indices] = ctx.layer('topk', [x], { op: largest ? 'max' : 'min', k, axis });
  return rank === 0 ? [ctx.reshape(values!, []), ctx.reshape(indices!, [])] : [values!, indices!];
}, {
  supports: (node) => (argValue(node, 'k') === 0 ? 'k = 0 (an empty result) has no topk layer' : true),
});
