/**
 * ONNX reductions (ReduceSum/Mean/Max/Min/Prod and the L1/L2/SumSquare/LogSum/LogSumExp forms),
 * ArgMax/ArgMin, TopK and CumSum. Reductions keep the input's element type in ONNX, so the int64
 * accumulation PyTorch does for integer sums is cast back.
 */
import type { Emitter } from '../../acc_ops/mapping.js';
import type { Tensor } from '../../tensor/tensor.js';
import { defineOnnxOp, type OnnxKwargs } from './define.js';
import { axisOf, constScalar, ctxOf, input, intAttr, intsAttr, optConstInts, rankOf } from './values.js';

/** The reduced dims: the axes attribute before `inputFrom`, the optional input from it on. */
function reduceDims(kw: OnnxKwargs, e: Emitter, x: Tensor, inputFrom: number): number[] | 'noop' {
  const rank = rankOf(e, x);
  const axes = ctxOf(kw).opset < inputFrom ? intsAttr(kw, 'axes') : optConstInts(kw, 'axes');
  if (axes === null || axes.length === 0) {
    if (kw['noop_with_empty_axes'] === 1) return 'noop';
    return Array.from({ length: rank }, (_, i) => i);
  }
  return [...new Set(axes.map((a) => axisOf(a, rank, 'axes entry')))].sort((a, b) => a - b);
}

function castBack(e: Emitter, y: Tensor, like: Tensor): Tensor {
  const dt = e.meta(like).dtype;
  return e.meta(y).dtype === dt ? y : e.tensor('to_dtype', { input: y, dtype: dt });
}

type Reducer = (e: Emitter, x: Tensor, dims: number[], keepdim: boolean) => Tensor;

const sum: Reducer = (e, x, dims, keepdim) => castBack(e, e.tensor('sum', { input: x, dim: dims, keepdim }), x);

const REDUCERS: readonly (readonly [string, Reducer])[] = [
  ['ReduceSum', sum],
  ['ReduceMean', (e, x, dims, keepdim) => e.tensor('mean', { input: x, dim: dims, keepdim })],
  ['ReduceMax', (e, x, dims, keepdim) => e.tensor('amax', { input: x, dim: dims, keepdim })],
  ['ReduceMin', (e, x, dims, keepdim) => e.tensor('amin', { input: x, dim: dims, keepdim })],
  ['ReduceProd', (e, x, dims, keepdim) => castBack(e, e.tensor('prod', { input: x, dim: dims, keepdim }), x)],
  ['ReduceL1', (e, x, dims, keepdim) => sum(e, e.tensor('abs', { input: x }), dims, keepdim)],
  ['ReduceSumSquare', (e, x, dims, keepdim) => sum(e, e.tensor('mul', { input: x, other: x }), dims, keepdim)],
  ['ReduceL2', (e, x, dims, keepdim) => e.tensor('sqrt', { input: sum(e, e.tensor('mul', { input: x, other: x }), dims, keepdim) })],
  ['ReduceLogSum', (e, x, dims, keepdim) => e.tensor('log', { input: sum(e, x, dims, keepdim) })],
  // log(sum(exp(x - max))) + max: the stable form of log-sum-exp.
  ['ReduceLogSumExp', (e, x, dims, keepdim) => {
    const m = e.tensor('amax', { input: x, dim: dims, keepdim: true });
    const s = e.tensor('log', { input: sum(e, e.tensor('exp', { input: e.tensor('sub', { input: x, other: m }) }), dims, true) });
    const y = e.tensor('add', { input: s, other: m });
    if (keepdim) return y;
    let out = y;
    for (const d of [...dims].sort((a, b) => b - a)) out = e.tensor('squeeze', { input: out, dim: d });
    return out;
  }],
];

for (const [opType, reduce] of REDUCERS) {
  const inputFrom = opType === 'ReduceSum' ? 13 : 18;
  defineOnnxOp({
    opType, inputs: ['data', 'axes?'], attrs: { axes: null, keepdims: 1, noop_with_empty_axes: 0 },
    map: (kw, e) => {
      const x = input(kw, 'data');
      const dims = reduceDims(kw, e, x, inputFrom);
      if (dims === 'noop') return x;
      return reduce(e, x, dims, intAttr(kw, 'keepdims') === 1);
    },
  });
}

for (const [opType, acc] of [['ArgMax', 'argmax'], ['ArgMin', 'argmin']] as const) {
  defineOnnxOp({
    opType, inputs: ['data'], attrs: { axis: 0, keepdims: 1, select_last_index: 0 },
    map: (kw, e) => {
      if (intAttr(kw, 'select_last_index') !== 0) throw new RangeError(`select_last_index=1 is not supported (ties pick the first index)`);
      const x = input(kw, 'data');
      return e.tensor(acc, { input: x, dim: axisOf(intAttr(kw, 'axis'), rankOf(e, x)), keepdim: intAttr(kw, 'keepdims') === 1 });
    },
  });
}

// K is an attribute before opset 10 and a one-element input from 10; largest/sorted exist from 11.
defineOnnxOp({
  opType: 'TopK', inputs: ['X', 'K?'], attrs: { axis: -1, largest: 1, sorted: 1, k: null },
  map: (kw, e) => {
    const x = input(kw, 'X');
    const k = ctxOf(kw).opset < 10 ? intAttr(kw, 'k') : constScalar(kw, 'K');
    return e.call('topk', {
      input: x, k, dim: axisOf(intAttr(kw, 'axis'), rankOf(e, x)), largest: intAttr(kw, 'largest') === 1, sorted: intAttr(kw, 'sorted') === 1,
    });
  },
});

defineOnnxOp({
  opType: 'CumSum', inputs: ['x', 'axis'], attrs: { exclusive: 0, reverse: 0 }, minOpset: 11,
  map: (kw, e) => {
    if (intAttr(kw, 'exclusive') !== 0 || intAttr(kw, 'reverse') !== 0) throw new RangeError(`exclusive and reverse cumulative sums are not supported`);
    const x = input(kw, 'x');
    return castBack(e, e.tensor('cumsum', { input: x, dim: axisOf(constScalar(kw, 'axis'), rankOf(e, x)) }), x);
  },
});
