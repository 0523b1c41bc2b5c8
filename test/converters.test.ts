import { describe, expect, it } from 'vitest';
import '../src/nn/functional.js';
import { accTrace } from '../src/acc_ops/acc_tracer.js';
import { invokeFunction } from '../src/acc_ops/dispatch.js';
import { accOps, getAccOp } from '../src/acc_ops/registry.js';
import type { Layer, LayerType, NetTensor } from '../src/engine/network.js';
import {
  ConversionError, convertibleOps, NetworkDefinition, NetworkInterpreter, planReshape, type FloatPrecision, type ReshapeDim,
} from '../src/converters/index.js';
import type { GraphModule } from '../src/ir/graph_module.js';
import { TraceProxy } from '../src/ir/proxy.js';
import { symbolicTrace } from '../src/ir/tracer.js';
import { Tensor } from '../src/tensor/tensor.js';

/** Calls acc op `op` with keyword arguments (records it when traced). */
function acc(op: string, kwargs: Record<string, unknown>): Tensor {
  const r = invokeFunction(getAccOp(op), [], kwargs);
  if (!(r instanceof Tensor)) throw new TypeError(`acc.${op} did not return one tensor`);
  return r;
}

/** Calls a tuple-valued acc op and takes its first `count` elements (traced tuples unpack lazily). */
function accTuple(op: string, kwargs: Record<string, unknown>, count: number): Tensor[] {
  const r = invokeFunction(getAccOp(op), [], kwargs);
  const items: unknown[] = [];
  if (Array.isArray(r)) items.push(...r.slice(0, count));
  else if (r instanceof TraceProxy) {
    const it = r[Symbol.iterator]();
    for (let i = 0; i < count; i++) items.push(it.next().value);
  }
  const ts = items.filter((t): t is Tensor => t instanceof Tensor);
  if (ts.length !== count) throw new TypeError(`acc.${op} did not return ${count} tensors`);
  return ts;
}

type Fn = (x: Tensor, y: Tensor, z: Tensor) => unknown;

function traced(fn: Fn, inputs: readonly Tensor[]): GraphModule {
  return accTrace(symbolicTrace(fn), inputs);
}

function lower(fn: Fn, inputs: readonly Tensor[], precision: FloatPrecision = 'float32'): NetworkDefinition {
  return new NetworkInterpreter(traced(fn, inputs), undefined, { precision }).run().network;
}

/** The types of the non-constant layers, in order. */
function types(net: NetworkDefinition): LayerType[] {
  return net.layers.filter((l) => l.type !== 'constant').map((l) => l.type);
}

function outs(net: NetworkDefinition): string[] {
  return net.outputs.map((t) => `${t.dtype}[${t.shape.join(', ')}]`);
}

function only<K extends LayerType>(net: NetworkDefinition, type: K, index = 0): Extract<Layer, { type: K }> {
  const l = net.layers.filter((x): x is Extract<Layer, { type: K }> => x.type === type)[index];
  if (!l) throw new Error(`no ${type} layer #${index} in network`);
  return l;
}

const f32 = (shape: number[], seed = 1): Tensor => Tensor.randn(shape, { seed });
const i32 = (shape: number[], hi = 5): Tensor => Tensor.randint(0, hi, shape, { dtype: 'int32', seed: 2 });
const i64 = (shape: number[], hi = 4): Tensor => Tensor.randint(0, hi, shape, { dtype: 'int64', seed: 3 });
const bool = (shape: number[]): Tensor => Tensor.randint(0, 2, shape, { dtype: 'bool', seed: 4 });

const W43 = f32([4, 3], 5);
const B4 = f32([4], 6);
const BN = { mean: f32([3], 7), var: Tensor.rand([3], { seed: 8, low: 0.5, high: 2 }), w: f32([3], 9), b: f32([3], 10) };
const CONV_W = { c1: f32([4, 3, 3], 11), c2: f32([4, 3, 3, 3], 12), c3: f32([2, 3, 2, 2, 2], 13), t1: f32([3, 2, 3], 14), t2: f32([4, 2, 3, 3], 15), t3: f32([3, 2, 2, 2, 2], 16) };
const EMB = f32([10, 4], 17);
const QS = Tensor.fromArray([0.1, 0.2, 0.05]);
const QZ = Tensor.fromArray([0, 1, -1], 'int32');

/** One conversion case: the layers (constants left out) and outputs it must produce. */
interface Case {
  readonly name: string;
  readonly fn: Fn;
  readonly inputs: readonly Tensor[];
  readonly layers: readonly LayerType[];
  readonly outputs: readonly string[];
}

const CASES: readonly Case[] = [
  // ---- elementwise ----
  { name: 'add tensors', fn: (x, y) => acc('add', { input: x, other: y }), inputs: [f32([2, 3]), f32([2, 3])], layers: ['elementwise'], outputs: ['float32[2, 3]'] },
  { name: 'add broadcasts rank', fn: (x, y) => acc('add', { input: x, other: y }), inputs: [f32([3]), f32([2, 3])], layers: ['shuffle', 'elementwise'], outputs: ['float32[2, 3]'] },
  { name: 'add int + float scalar promotes', fn: (x) => acc('add', { input: x, other: 0.5 }), inputs: [i32([2, 3])], layers: ['cast', 'elementwise'], outputs: ['float32[2, 3]'] },
  { name: 'add bools is or', fn: (x, y) => acc('add', { input: x, other: y }), inputs: [bool([4]), bool([4])], layers: ['elementwise'], outputs: ['bool[4]'] },
  { name: 'sub', fn: (x) => acc('sub', { input: x, other: 2 }), inputs: [f32([2, 3])], layers: ['elementwise'], outputs: ['float32[2, 3]'] },
  { name: 'mul', fn: (x, y) => acc('mul', { input: x, other: y }), inputs: [f32([2, 3]), f32([2, 1])], layers: ['elementwise'], outputs: ['float32[2, 3]'] },
  { name: 'floor_div', fn: (x) => acc('floor_div', { input: x, other: 3 }), inputs: [i32([5])], layers: ['elementwise'], outputs: ['int32[5]'] },
  { name: 'maximum', fn: (x, y) => acc('maximum', { input: x, other: y }), inputs: [f32([2, 3]), f32([3])], layers: ['shuffle', 'elementwise'], outputs: ['float32[2, 3]'] },
  { name: 'minimum', fn: (x, y) => acc('minimum', { input: x, other: y }), inputs: [f32([2, 3]), f32([2, 3])], layers: ['elementwise'], outputs: ['float32[2, 3]'] },
  { name: 'fmod float', fn: (x) => acc('fmod', { input: x, other: 1.5 }), inputs: [f32([4])], layers: ['elementwise', 'unary', 'elementwise', 'elementwise'], outputs: ['float32[4]'] },
  { name: 'fmod int', fn: (x) => acc('fmod', { input: x, other: 2 }), inputs: [i32([4])], layers: ['elementwise', 'elementwise', 'elementwise'], outputs: ['int32[4]'] },
  { name: 'remainder', fn: (x) => acc('remainder', { input: x, other: 2 }), inputs: [f32([4])], layers: ['elementwise'], outputs: ['float32[4]'] },
  { name: 'div float', fn: (x, y) => acc('div', { input: x, other: y }), inputs: [f32([4]), f32([4])], layers: ['elementwise'], outputs: ['float32[4]'] },
  { name: 'div ints gives float', fn: (x, y) => acc('div', { input: x, other: y }), inputs: [i32([4]), i32([4])], layers: ['cast', 'cast', 'elementwise'], outputs: ['float32[4]'] },
  { name: 'div trunc float', fn: (x) => acc('div', { input: x, other: 2, rounding_mode: 'trunc' }), inputs: [f32([4])], layers: ['elementwise', 'unary'], outputs: ['float32[4]'] },
  { name: 'div floor int', fn: (x) => acc('div', { input: x, other: 2, rounding_mode: 'floor' }), inputs: [i32([4])], layers: ['elementwise'], outputs: ['int32[4]'] },
  { name: 'pow', fn: (x) => acc('pow', { input: x, exponent: 2 }), inputs: [f32([3])], layers: ['elementwise'], outputs: ['float32[3]'] },
  { name: 'eq', fn: (x, y) => acc('eq', { input: x, other: y }), inputs: [f32([3]), f32([3])], layers: ['elementwise'], outputs: ['bool[3]'] },
  { name: 'eq of bools compares as int32', fn: (x, y) => acc('eq', { input: x, other: y }), inputs: [bool([3]), bool([3])], layers: ['cast', 'cast', 'elementwise'], outputs: ['bool[3]'] },
  { name: 'ne', fn: (x) => acc('ne', { input: x, other: 0 }), inputs: [f32([3])], layers: ['elementwise', 'unary'], outputs: ['bool[3]'] },
  { name: 'gt', fn: (x) => acc('gt', { input: x, other: 0 }), inputs: [f32([3])], layers: ['elementwise'], outputs: ['bool[3]'] },
  { name: 'ge', fn: (x) => acc('ge', { input: x, other: 0 }), inputs: [f32([3])], layers: ['elementwise', 'elementwise', 'elementwise'], outputs: ['bool[3]'] },
  { name: 'lt', fn: (x) => acc('lt', { input: x, other: 0 }), inputs: [i32([3])], layers: ['elementwise'], outputs: ['bool[3]'] },
  { name: 'le', fn: (x) => acc('le', { input: x, other: 0 }), inputs: [f32([3])], layers: ['elementwise', 'elementwise', 'elementwise'], outputs: ['bool[3]'] },
  { name: 'logical_and', fn: (x, y) => acc('logical_and', { input: x, other: y }), inputs: [f32([3]), bool([3])], layers: ['cast', 'elementwise'], outputs: ['bool[3]'] },
  { name: 'logical_or', fn: (x, y) => acc('logical_or', { input: x, other: y }), inputs: [bool([3]), bool([3])], layers: ['elementwise'], outputs: ['bool[3]'] },
  { name: 'logical_xor', fn: (x, y) => acc('logical_xor', { input: x, other: y }), inputs: [i32([3]), i32([3])], layers: ['cast', 'cast', 'elementwise'], outputs: ['bool[3]'] },
  { name: 'logical_not', fn: (x) => acc('logical_not', { input: x }), inputs: [f32([3])], layers: ['cast', 'unary'], outputs: ['bool[3]'] },
  ...['exp', 'log', 'sqrt', 'rsqrt', 'reciprocal', 'sin', 'cos', 'tan', 'asin', 'acos', 'atan', 'sinh', 'cosh', 'erf', 'abs', 'neg', 'floor', 'ceil', 'round', 'trunc', 'sign'].map((op): Case => ({
    name: op, fn: (x) => acc(op, { input: x }), inputs: [f32([2, 3])], layers: ['unary'], outputs: ['float32[2, 3]'],
  })),
  { name: 'exp of ints computes in float', fn: (x) => acc('exp', { input: x }), inputs: [i32([3])], layers: ['cast', 'unary'], outputs: ['float32[3]'] },
  { name: 'floor of ints is the identity', fn: (x) => acc('floor', { input: x }), inputs: [i32([3])], layers: ['identity'], outputs: ['int32[3]'] },
  { name: 'isnan', fn: (x) => acc('isnan', { input: x }), inputs: [f32([3])], layers: ['unary'], outputs: ['bool[3]'] },
  { name: 'where', fn: (c, x) => acc('where', { condition: c, input: x, other: 0 }), inputs: [bool([2, 3]), f32([3])], layers: ['shuffle', 'select'], outputs: ['float32[2, 3]'] },
  { name: 'clamp', fn: (x) => acc('clamp', { input: x, min: 0, max: 6 }), inputs: [f32([3])], layers: ['activation'], outputs: ['float32[3]'] },
  { name: 'to_dtype', fn: (x) => acc('to_dtype', { input: x, dtype: 'int32' }), inputs: [f32([3])], layers: ['cast'], outputs: ['int32[3]'] },
  // ---- activation ----
  ...['relu', 'sigmoid', 'tanh', 'silu', 'selu', 'softsign', 'hardsigmoid', 'leaky_relu', 'elu', 'gelu', 'softplus', 'hardtanh'].map((op): Case => ({
    name: op, fn: (x) => acc(op, { input: x }), inputs: [f32([2, 3])], layers: ['activation'], outputs: ['float32[2, 3]'],
  })),
  { name: 'sigmoid of ints', fn: (x) => acc('sigmoid', { input: x }), inputs: [i32([3])], layers: ['cast', 'activation'], outputs: ['float32[3]'] },
  { name: 'softplus with a low threshold selects the linear part', fn: (x) => acc('softplus', { input: x, beta: 2, threshold: 1 }), inputs: [f32([3])], layers: ['activation', 'elementwise', 'elementwise', 'select'], outputs: ['float32[3]'] },
  { name: 'prelu', fn: (x) => acc('prelu', { input: x, weight: BN.w }), inputs: [f32([2, 3, 4])], layers: ['parametric_relu'], outputs: ['float32[2, 3, 4]'] },
  { name: 'dropout', fn: (x) => acc('dropout', { input: x }), inputs: [f32([3])], layers: ['identity'], outputs: ['float32[3]'] },
  // ---- reduce ----
  { name: 'sum', fn: (x) => acc('sum', { input: x, dim: 1 }), inputs: [f32([2, 3, 4])], layers: ['reduce'], outputs: ['float32[2, 4]'] },
  { name: 'sum of ints accumulates in int64', fn: (x) => acc('sum', { input: x }), inputs: [i32([2, 3])], layers: ['cast', 'reduce'], outputs: ['int64[]'] },
  { name: 'prod', fn: (x) => acc('prod', { input: x, dim: [0, 2], keepdim: true }), inputs: [f32([2, 3, 4])], layers: ['reduce'], outputs: ['float32[1, 3, 1]'] },
  { name: 'mean', fn: (x) => acc('mean', { input: x, dim: -1, keepdim: true }), inputs: [f32([2, 3])], layers: ['reduce'], outputs: ['float32[2, 1]'] },
  { name: 'amax', fn: (x) => acc('amax', { input: x, dim: 0 }), inputs: [f32([2, 3])], layers: ['reduce'], outputs: ['float32[3]'] },
  { name: 'amin of bools', fn: (x) => acc('amin', { input: x, dim: 0 }), inputs: [bool([2, 3])], layers: ['cast', 'reduce', 'cast'], outputs: ['bool[3]'] },
  { name: 'argmax', fn: (x) => acc('argmax', { input: x, dim: 1 }), inputs: [f32([2, 3, 4])], layers: ['topk', 'shuffle'], outputs: ['int64[2, 4]'] },
  { name: 'argmax flat', fn: (x) => acc('argmax', { input: x }), inputs: [f32([2, 3])], layers: ['shuffle', 'topk', 'shuffle'], outputs: ['int64[]'] },
  { name: 'argmin negates floats', fn: (x) => acc('argmin', { input: x, dim: 0, keepdim: true }), inputs: [f32([2, 3])], layers: ['unary', 'topk'], outputs: ['int64[1, 3]'] },
  { name: 'softmax', fn: (x) => acc('softmax', { input: x, dim: -1 }), inputs: [f32([2, 3])], layers: ['softmax'], outputs: ['float32[2, 3]'] },
  { name: 'log_softmax', fn: (x) => acc('log_softmax', { input: x, dim: 0 }), inputs: [f32([2, 3])], layers: ['softmax'], outputs: ['float32[2, 3]'] },
  { name: 'cumsum', fn: (x) => acc('cumsum', { input: x, dim: 1 }), inputs: [i32([2, 3])], layers: ['cast', 'cumulative'], outputs: ['int64[2, 3]'] },
  { name: 'topk', fn: (x) => accTuple('topk', { input: x, k: 2 }, 2), inputs: [f32([2, 5])], layers: ['topk'], outputs: ['float32[2, 2]', 'int64[2, 2]'] },
  // ---- norm ----
  { name: 'batch_norm', fn: (x) => acc('batch_norm', { input: x, running_mean: BN.mean, running_var: BN.var, weight: BN.w, bias: BN.b }), inputs: [f32([2, 3, 4, 4])], layers: ['scale'], outputs: ['float32[2, 3, 4, 4]'] },
  { name: 'layer_norm', fn: (x) => acc('layer_norm', { input: x, normalized_shape: [4], weight: B4, bias: B4 }), inputs: [f32([2, 5, 4])], layers: ['normalization'], outputs: ['float32[2, 5, 4]'] },
  { name: 'group_norm', fn: (x) => acc('group_norm', { input: x, num_groups: 2, weight: null, bias: null }), inputs: [f32([2, 4, 3, 3])], layers: ['normalization'], outputs: ['float32[2, 4, 3, 3]'] },
  { name: 'instance_norm', fn: (x) => acc('instance_norm', { input: x, weight: BN.w, bias: null }), inputs: [f32([2, 3, 4, 4])], layers: ['normalization'], outputs: ['float32[2, 3, 4, 4]'] },
  // ---- linalg ----
  { name: 'linear', fn: (x) => acc('linear', { input: x, weight: W43, bias: B4 }), inputs: [f32([2, 5, 3])], layers: ['matrix_multiply', 'elementwise'], outputs: ['float32[2, 5, 4]'] },
  { name: 'linear of a vector', fn: (x) => acc('linear', { input: x, weight: W43, bias: null }), inputs: [f32([3])], layers: ['matrix_multiply'], outputs: ['float32[4]'] },
  { name: 'matmul batched', fn: (x, y) => acc('matmul', { input: x, other: y }), inputs: [f32([2, 3, 4]), f32([4, 5])], layers: ['shuffle', 'matrix_multiply'], outputs: ['float32[2, 3, 5]'] },
  { name: 'matmul vector @ matrix', fn: (x, y) => acc('matmul', { input: x, other: y }), inputs: [f32([4]), f32([2, 4, 5])], layers: ['shuffle', 'matrix_multiply'], outputs: ['float32[2, 5]'] },
  { name: 'matmul matrix @ vector', fn: (x, y) => acc('matmul', { input: x, other: y }), inputs: [f32([3, 4]), f32([4])], layers: ['matrix_multiply'], outputs: ['float32[3]'] },
  { name: 'matmul vector @ vector', fn: (x, y) => acc('matmul', { input: x, other: y }), inputs: [f32([4]), f32([4])], layers: ['matrix_multiply'], outputs: ['float32[]'] },
  { name: 'transposed_matmul', fn: (x, y) => acc('transposed_matmul', { input: x, other: y, transpose_other: true }), inputs: [f32([2, 3, 4]), f32([2, 5, 4])], layers: ['matrix_multiply'], outputs: ['float32[2, 3, 5]'] },
  { name: 'einsum', fn: (x, y) => acc('einsum', { equation: 'bij,bjk->bik', operands: [x, y] }), inputs: [f32([2, 3, 4]), f32([2, 4, 5])], layers: ['einsum'], outputs: ['float32[2, 3, 5]'] },
  { name: 'scaled_dot_product_attention', fn: (q, k, v) => acc('scaled_dot_product_attention', { query: q, key: k, value: v, is_causal: true }), inputs: [f32([1, 2, 4, 8]), f32([1, 2, 6, 8]), f32([1, 2, 6, 3])], layers: ['attention'], outputs: ['float32[1, 2, 4, 3]'] },
  { name: 'sdpa with a bool mask', fn: (q, k, m) => acc('scaled_dot_product_attention', { query: q, key: k, value: k, attn_mask: m }), inputs: [f32([2, 4, 8]), f32([2, 6, 8]), bool([4, 6])], layers: ['shuffle', 'attention'], outputs: ['float32[2, 4, 8]'] },
  // ---- conv ----
  { name: 'conv1d unbatched', fn: (x) => acc('conv1d', { input: x, weight: CONV_W.c1, stride: [1], padding: [0], dilation: [1] }), inputs: [f32([3, 10])], layers: ['shuffle', 'convolution', 'shuffle'], outputs: ['float32[4, 8]'] },
  { name: 'conv2d', fn: (x) => acc('conv2d', { input: x, weight: CONV_W.c2, bias: B4, stride: [2, 2], padding: [1, 1], dilation: [1, 1] }), inputs: [f32([1, 3, 8, 8])], layers: ['convolution'], outputs: ['float32[1, 4, 4, 4]'] },
  { name: 'conv3d', fn: (x) => acc('conv3d', { input: x, weight: CONV_W.c3, stride: [1, 1, 1], padding: [0, 0, 0], dilation: [2, 2, 2] }), inputs: [f32([1, 3, 5, 5, 5])], layers: ['convolution'], outputs: ['float32[1, 2, 3, 3, 3]'] },
  { name: 'conv_transpose1d', fn: (x) => acc('conv_transpose1d', { input: x, weight: CONV_W.t1, stride: [2], padding: [0], output_padding: [0], dilation: [1] }), inputs: [f32([1, 3, 4])], layers: ['deconvolution'], outputs: ['float32[1, 2, 9]'] },
  { name: 'conv_transpose2d', fn: (x) => acc('conv_transpose2d', { input: x, weight: CONV_W.t2, stride: [2, 2], padding: [1, 1], output_padding: [1, 1], dilation: [1, 1] }), inputs: [f32([1, 4, 5, 5])], layers: ['deconvolution'], outputs: ['float32[1, 2, 10, 10]'] },
  { name: 'conv_transpose3d', fn: (x) => acc('conv_transpose3d', { input: x, weight: CONV_W.t3, groups: 1, stride: [1, 1, 1], padding: [0, 0, 0], output_padding: [0, 0, 0], dilation: [1, 1, 1] }), inputs: [f32([1, 3, 2, 2, 2])], layers: ['deconvolution'], outputs: ['float32[1, 2, 3, 3, 3]'] },
  // ---- pool ----
  { name: 'max_pool1d', fn: (x) => acc('max_pool1d', { input: x, kernel_size: [2], stride: [2], padding: [0], dilation: [1] }), inputs: [f32([1, 2, 9])], layers: ['pooling'], outputs: ['float32[1, 2, 4]'] },
  { name: 'max_pool2d ceil mode', fn: (x) => acc('max_pool2d', { input: x, kernel_size: [2, 2], stride: [2, 2], padding: [0, 0], dilation: [1, 1], ceil_mode: true }), inputs: [f32([1, 1, 5, 5])], layers: ['pooling'], outputs: ['float32[1, 1, 3, 3]'] },
  { name: 'max_pool3d', fn: (x) => acc('max_pool3d', { input: x, kernel_size: [3, 3, 3], stride: [2, 2, 2], padding: [1, 1, 1], dilation: [1, 1, 1] }), inputs: [f32([1, 1, 4, 4, 4])], layers: ['pooling'], outputs: ['float32[1, 1, 2, 2, 2]'] },
  { name: 'avg_pool1d unbatched', fn: (x) => acc('avg_pool1d', { input: x, kernel_size: [3], stride: [1], padding: [1], count_include_pad: false }), inputs: [f32([2, 6])], layers: ['shuffle', 'pooling', 'shuffle'], outputs: ['float32[2, 6]'] },
  { name: 'avg_pool2d', fn: (x) => acc('avg_pool2d', { input: x, kernel_size: [2, 2], stride: [2, 2], padding: [0, 0], divisor_override: 3 }), inputs: [f32([1, 2, 4, 4])], layers: ['pooling'], outputs: ['float32[1, 2, 2, 2]'] },
  { name: 'avg_pool3d', fn: (x) => acc('avg_pool3d', { input: x, kernel_size: [2, 2, 2], stride: [2, 2, 2], padding: [0, 0, 0] }), inputs: [f32([1, 1, 4, 4, 4])], layers: ['pooling'], outputs: ['float32[1, 1, 2, 2, 2]'] },
  { name: 'adaptive_avg_pool1d', fn: (x) => acc('adaptive_avg_pool1d', { input: x, output_size: [2] }), inputs: [f32([1, 2, 6])], layers: ['pooling'], outputs: ['float32[1, 2, 2]'] },
  { name: 'adaptive_avg_pool2d', fn: (x) => acc('adaptive_avg_pool2d', { input: x, output_size: [1, 1] }), inputs: [f32([1, 2, 7, 7])], layers: ['pooling'], outputs: ['float32[1, 2, 1, 1]'] },
  { name: 'adaptive_avg_pool3d', fn: (x) => acc('adaptive_avg_pool3d', { input: x, output_size: [1, 2, 2] }), inputs: [f32([1, 1, 2, 4, 4])], layers: ['pooling'], outputs: ['float32[1, 1, 1, 2, 2]'] },
  { name: 'adaptive_max_pool2d', fn: (x) => acc('adaptive_max_pool2d', { input: x, output_size: [2, 2] }), inputs: [f32([1, 2, 4, 6])], layers: ['pooling'], outputs: ['float32[1, 2, 2, 2]'] },
  // ---- pad / resize ----
  { name: 'pad constant', fn: (x) => acc('pad', { input: x, pad: [1, 2], value: 5 }), inputs: [f32([1, 2, 3])], layers: ['slice'], outputs: ['float32[1, 2, 6]'] },
  { name: 'pad circular with a crop', fn: (x) => acc('pad', { input: x, pad: [-1, 2], mode: 'circular' }), inputs: [f32([1, 2, 4])], layers: ['slice', 'slice'], outputs: ['float32[1, 2, 5]'] },
  { name: 'interpolate nearest', fn: (x) => acc('interpolate', { input: x, scale_factor: [2, 2] }), inputs: [f32([1, 2, 3, 3])], layers: ['resize'], outputs: ['float32[1, 2, 6, 6]'] },
  // ---- shape ----
  { name: 'reshape', fn: (x) => acc('reshape', { input: x, shape: [6, -1] }), inputs: [f32([2, 3, 4])], layers: ['shuffle'], outputs: ['float32[6, 4]'] },
  { name: 'permute', fn: (x) => acc('permute', { input: x, permutation: [2, 0, 1] }), inputs: [f32([2, 3, 4])], layers: ['shuffle'], outputs: ['float32[4, 2, 3]'] },
  { name: 'flatten', fn: (x) => acc('flatten', { input: x, start_dim: 1 }), inputs: [f32([2, 3, 4])], layers: ['shuffle'], outputs: ['float32[2, 12]'] },
  { name: 'squeeze', fn: (x) => acc('squeeze', { input: x }), inputs: [f32([2, 1, 3, 1])], layers: ['shuffle'], outputs: ['float32[2, 3]'] },
  { name: 'unsqueeze', fn: (x) => acc('unsqueeze', { input: x, dim: -1 }), inputs: [f32([2, 3])], layers: ['shuffle'], outputs: ['float32[2, 3, 1]'] },
  { name: 'expand', fn: (x) => acc('expand', { input: x, sizes: [2, -1, 4] }), inputs: [f32([3, 1])], layers: ['shuffle', 'slice'], outputs: ['float32[2, 3, 4]'] },
  { name: 'tile', fn: (x) => acc('tile', { input: x, dims: [2] }), inputs: [f32([2, 3])], layers: ['slice'], outputs: ['float32[2, 6]'] },
  { name: 'cat promotes', fn: (x, y) => acc('cat', { tensors: [x, y], dim: 1 }), inputs: [f32([2, 3]), i32([2, 2])], layers: ['cast', 'concatenation'], outputs: ['float32[2, 5]'] },
  { name: 'stack', fn: (x, y) => acc('stack', { tensors: [x, y], dim: 1 }), inputs: [f32([2, 3]), f32([2, 3])], layers: ['shuffle', 'shuffle', 'concatenation'], outputs: ['float32[2, 2, 3]'] },
  { name: 'split', fn: (x) => accTuple('split', { input: x, split_size_or_sections: 2, dim: 1 }, 3), inputs: [f32([2, 5])], layers: ['slice', 'slice', 'slice'], outputs: ['float32[2, 2]', 'float32[2, 2]', 'float32[2, 1]'] },
  { name: 'chunk', fn: (x) => accTuple('chunk', { input: x, chunks: 2 }, 2), inputs: [f32([4, 3])], layers: ['slice', 'slice'], outputs: ['float32[2, 3]', 'float32[2, 3]'] },
  { name: 'slice', fn: (x) => acc('slice', { input: x, dim: 1, start: 1, end: -1, step: 2 }), inputs: [f32([2, 7])], layers: ['slice'], outputs: ['float32[2, 3]'] },
  { name: 'size feeds a reshape', fn: (x) => acc('reshape', { input: x, shape: [acc('size', { input: x, dim: 0 }), -1] }), inputs: [f32([2, 3, 4])], layers: ['shuffle'], outputs: ['float32[2, 12]'] },
  // ---- index ----
  { name: 'index_select', fn: (x, i) => acc('index_select', { input: x, dim: 0, index: i }), inputs: [f32([4, 3]), i64([2])], layers: ['gather'], outputs: ['float32[2, 3]'] },
  { name: 'gather', fn: (x, i) => acc('gather', { input: x, dim: 1, index: i }), inputs: [f32([2, 3]), i64([2, 2], 3)], layers: ['gather'], outputs: ['float32[2, 2]'] },
  { name: 'embedding', fn: (i) => acc('embedding', { input: i, weight: EMB }), inputs: [i64([2, 3], 10)], layers: ['gather'], outputs: ['float32[2, 3, 4]'] },
  // ---- quant ----
  { name: 'quantize_per_tensor', fn: (x) => acc('quantize_per_tensor', { input: x, scale: 0.1, zero_point: 0, dtype: 'int8' }), inputs: [f32([2, 3])], layers: ['quantize'], outputs: ['int8[2, 3]'] },
  { name: 'quantize_per_channel + dequantize', fn: (x) => acc('dequantize', { input: acc('quantize_per_channel', { input: x, scales: QS, zero_points: QZ, axis: 1, dtype: 'int8' }) }), inputs: [f32([2, 3])], layers: ['quantize', 'dequantize'], outputs: ['float32[2, 3]'] },
];

describe('converters: every acc op', () => {
  it.each(CASES)('$name', (c) => {
    const net = lower(c.fn, c.inputs);
    expect(types(net)).toEqual(c.layers);
    expect(outs(net)).toEqual(c.outputs);
  });

  it('every registered acc op has a converter, and the cases above exercise each one', () => {
    // Ops no layer can express, with the reason for each (none today: every acc op converts).
    const inexpressible: Record<string, string> = {};
    const missing = accOps().map((op) => op.accName).filter((op) => !convertibleOps().includes(op)).sort();
    expect(missing).toEqual(Object.keys(inexpressible).sort());
    const exercised = new Set<string>();
    for (const c of CASES) {
      for (const n of traced(c.fn, c.inputs).graph.nodes()) if (n.op === 'call_function') exercised.add(n.target.name.replace(/^acc\./, ''));
    }
    expect(convertibleOps().filter((op) => !exercised.has(op))).toEqual([]);
  });
});

describe('converters: layer parameters', () => {
  it('names layers [LAYER]-[acc.op]-[node] and constants after their get_attr node', () => {
    const net = lower((x) => acc('linear', { input: x, weight: W43, bias: B4 }), [f32([2, 3])]);
    expect(net.layers.map((l) => l.name)).toEqual([
      '[CONSTANT]-[get_attr]-[_tensor_constant0]', '[MATRIX_MULTIPLY]-[acc.linear]-[linear]',
      '[CONSTANT]-[get_attr]-[_tensor_constant1]', '[ELEMENTWISE]-[acc.linear]-[linear]',
    ]);
    expect(only(net, 'matrix_multiply').params).toEqual({ transpose0: false, transpose1: true, vector0: false, vector1: false });
    expect(only(net, 'constant', 1).params.value.shape).toEqual([1, 4]);
  });

  it('lifts linear weights of batched inputs to the input rank as constant views', () => {
    const net = lower((x) => acc('linear', { input: x, weight: W43, bias: B4 }), [f32([2, 5, 3])]);
    expect(only(net, 'constant', 0).params.value.shape).toEqual([1, 4, 3]);
    expect(only(net, 'constant', 0).params.value.data).toBe(W43.data);
    expect(only(net, 'constant', 1).params.value.shape).toEqual([1, 1, 4]);
  });

  it('scalar operands become [1, ...] constants of the computed dtype', () => {
    const net = lower((x) => acc('mul', { input: x, other: 3 }), [i32([2, 3])]);
    const c = only(net, 'constant').params.value;
    expect([c.dtype, c.shape, c.item()]).toEqual(['int32', [1, 1], 3]);
    expect(only(net, 'elementwise').params.op).toBe('prod');
  });

  it('maps each acc activation onto its layer op and alpha/beta', () => {
    const act = (op: string, kw: Record<string, unknown> = {}) => only(lower((x) => acc(op, { input: x, ...kw }), [f32([3])]), 'activation').params;
    expect(act('leaky_relu', { negative_slope: 0.2 })).toEqual({ op: 'leaky_relu', alpha: 0.2, beta: 0 });
    expect(act('elu', { alpha: 0.5 })).toEqual({ op: 'elu', alpha: 0.5, beta: 0 });
    expect(act('gelu', { approximate: 'tanh' })).toEqual({ op: 'gelu_tanh', alpha: 0, beta: 0 });
    expect(act('gelu')).toEqual({ op: 'gelu_erf', alpha: 0, beta: 0 });
    expect(act('softplus', { beta: 2 })).toEqual({ op: 'softplus', alpha: 0.5, beta: 2 });
    expect(act('hardtanh', { min_val: -2, max_val: 3 })).toEqual({ op: 'clip', alpha: -2, beta: 3 });
    expect(act('hardsigmoid')).toEqual({ op: 'hard_sigmoid', alpha: 1 / 6, beta: 0.5 });
    expect(act('selu')).toEqual({ op: 'selu', alpha: 1.6732632423543772, beta: 1.0507009873554805 });
    expect(act('clamp', { min: -1 })).toEqual({ op: 'clip', alpha: -1, beta: Infinity });
  });

  it('folds batch_norm into per-channel scale and shift constants', () => {
    const net = lower((x) => acc('batch_norm', { input: x, running_mean: BN.mean, running_var: BN.var, weight: BN.w, bias: BN.b, eps: 1e-3 }), [f32([2, 3, 4])]);
    const [scale, shift, power] = [0, 1, 2].map((i) => only(net, 'constant', i).params.value.toFloat64());
    const [m, v, w, b] = [BN.mean, BN.var, BN.w, BN.b].map((t) => t.toFloat64());
    for (let c = 0; c < 3; c++) {
      const s = w[c]! / Math.sqrt(v[c]! + 1e-3);
      expect(scale![c]).toBeCloseTo(s, 6);
      expect(shift![c]).toBeCloseTo(b[c]! - m[c]! * s, 6);
      expect(power![c]).toBe(1);
    }
    expect(only(net, 'scale').params).toEqual({ mode: 'channel', channelAxis: 1 });
  });

  it('refuses batch_norm with computed statistics, naming the node', () => {
    const fn = (x: Tensor, m: Tensor) => acc('batch_norm', { input: x, running_mean: m, running_var: BN.var });
    expect(() => lower(fn, [f32([2, 3, 4]), f32([3])])).toThrow(/node 'batch_norm' \(acc\.batch_norm\): .*running_mean must be constants/);
  });

  it('sets normalization axes and groups for layer, group and instance norm', () => {
    const norm = (fn: Fn, x: Tensor) => only(lower(fn, [x]), 'normalization').params;
    expect(norm((x) => acc('layer_norm', { input: x, normalized_shape: [3, 4] }), f32([2, 3, 4]))).toEqual({ axes: [1, 2], eps: 1e-5, numGroups: 1 });
    expect(norm((x) => acc('group_norm', { input: x, num_groups: 2 }), f32([2, 4, 3]))).toEqual({ axes: [2], eps: 1e-5, numGroups: 2 });
    expect(norm((x) => acc('group_norm', { input: x, num_groups: 1 }), f32([2, 4, 3]))).toEqual({ axes: [1, 2], eps: 1e-5, numGroups: 1 });
    expect(norm((x) => acc('instance_norm', { input: x, eps: 0.1 }), f32([2, 4, 3, 3]))).toEqual({ axes: [2, 3], eps: 0.1, numGroups: 1 });
    const ln = lower((x) => acc('layer_norm', { input: x, normalized_shape: [4], weight: B4 }), [f32([2, 5, 4])]);
    expect(ln.layers.filter((l) => l.type === 'constant').map((l) => l.outputs[0]!.shape)).toEqual([[1, 1, 4], [1, 1, 4]]);
  });

  it('converts deconvolution padding with output_padding into a smaller end crop', () => {
    const net = lower(CASES.find((c) => c.name === 'conv_transpose2d')!.fn, [f32([1, 4, 5, 5])]);
    expect(only(net, 'deconvolution').params).toMatchObject({ numOutputMaps: 2, prePadding: [1, 1], postPadding: [0, 0], stride: [2, 2] });
  });

  it('expresses pooling options and adaptive windows', () => {
    const avg = lower((x) => acc('avg_pool2d', { input: x, kernel_size: [3, 3], stride: [2, 2], padding: [1, 1], ceil_mode: true, count_include_pad: false }), [f32([1, 1, 6, 6])]);
    expect(only(avg, 'pooling').params).toEqual({
      type: 'average', windowSize: [3, 3], stride: [2, 2], prePadding: [1, 1], postPadding: [1, 1], dilation: [1, 1],
      roundUp: true, averageCountExcludesPadding: true, divisor: null,
    });
    expect(outs(avg)).toEqual(['float32[1, 1, 4, 4]']);
    const ad = lower((x) => acc('adaptive_avg_pool2d', { input: x, output_size: [2, 3] }), [f32([1, 1, 4, 6])]);
    expect(only(ad, 'pooling').params).toMatchObject({ windowSize: [2, 2], stride: [2, 2] });
  });

  it('refuses adaptive pooling with uneven windows, naming the node and the sizes', () => {
    expect(() => lower((x) => acc('adaptive_avg_pool2d', { input: x, output_size: [3, 3] }), [f32([1, 1, 7, 7])]))
      .toThrow(/node 'adaptive_avg_pool2d' \(acc\.adaptive_avg_pool2d\): .*input size 7 is not a multiple of output size 3/);
  });

  it('pads with slice modes per PyTorch mode', () => {
    const pad = (mode: string, p: number[]) => only(lower((x) => acc('pad', { input: x, pad: p, mode }), [f32([1, 2, 4, 4])]), 'slice').params;
    expect(pad('reflect', [1, 2, 3, 0])).toEqual({ start: [0, 0, -3, -1], size: [-1, -1, 7, 7], stride: [1, 1, 1, 1], mode: 'reflect', fillValue: 0 });
    expect(pad('replicate', [0, 1])).toMatchObject({ start: [0, 0, 0, 0], size: [-1, -1, -1, 5], mode: 'clamp' });
    expect(pad('circular', [2, 2])).toMatchObject({ start: [0, 0, 0, -2], size: [-1, -1, -1, 8], mode: 'wrap' });
    expect(only(lower((x) => acc('pad', { input: x, pad: [1, 1], value: 2.5 }), [f32([2, 3])]), 'slice').params).toMatchObject({ mode: 'fill', fillValue: 2.5 });
  });

  it('maps interpolate modes onto resize coordinates and rounding', () => {
    const rs = (kw: Record<string, unknown>) => only(lower((x) => acc('interpolate', { input: x, ...kw }), [f32([1, 2, 4, 4])]), 'resize').params;
    expect(rs({ size: [8, 6] })).toEqual({ outputShape: [-1, -1, 8, 6], mode: 'nearest', coordinates: 'asymmetric', round: 'floor', cubicCoeff: -0.75, scales: null });
    expect(rs({ scale_factor: [1.5, 1.5], mode: 'nearest-exact' })).toMatchObject({ outputShape: [-1, -1, 6, 6], coordinates: 'half_pixel', round: 'half_up', scales: [1, 1, 1.5, 1.5] });
    expect(rs({ size: [8, 8], mode: 'bilinear', align_corners: true })).toMatchObject({ mode: 'linear', coordinates: 'align_corners' });
    expect(rs({ size: [8, 8], mode: 'bicubic' })).toMatchObject({ mode: 'cubic', coordinates: 'half_pixel' });
  });

  it('expands with stride-0 slices and tiles with wrap-mode slices', () => {
    const ex = lower((x) => acc('expand', { input: x, sizes: [3, 4] }), [f32([3, 1])]);
    expect(only(ex, 'slice').params).toEqual({ start: [0, 0], size: [-1, 4], stride: [1, 0], mode: 'default', fillValue: 0 });
    const tl = lower((x) => acc('tile', { input: x, dims: [2, 1, 3] }), [f32([2, 3])]);
    expect(only(tl, 'slice').params).toMatchObject({ size: [2, -1, 9], mode: 'wrap' });
    expect(outs(tl)).toEqual(['float32[2, 2, 9]']);
  });

  it('splits into consecutive slices', () => {
    const net = lower((x) => accTuple('split', { input: x, split_size_or_sections: [1, 3], dim: 0 }, 2), [f32([4, 2])]);
    expect(net.layers.map((l) => l.type === 'slice' && [l.params.start, l.params.size])).toEqual([[[0, 0], [1, -1]], [[1, 0], [3, -1]]]);
  });

  it('casts a float attention mask to the precision and computes the default scale', () => {
    const net = lower((q, m) => acc('scaled_dot_product_attention', { query: q, key: q, value: q, attn_mask: m }), [f32([2, 4, 16]), f32([4, 4])], 'float16');
    expect(only(net, 'attention').params).toEqual({ scale: 0.25, causal: false });
    expect(only(net, 'attention').inputs.map((t) => t.dtype)).toEqual(['float16', 'float16', 'float16', 'float16']);
  });

  it('quantizes with float32 scale constants and drops zero zero-points', () => {
    const net = lower((x) => acc('dequantize', { input: acc('quantize_per_tensor', { input: x, scale: 0.5, zero_point: 0, dtype: 'uint8' }) }), [f32([4])], 'float16');
    const q = only(net, 'quantize');
    expect(q.params).toEqual({ axis: null, toType: 'uint8' });
    expect(q.inputs.map((t) => `${t.dtype}[${t.shape.join(', ')}]`)).toEqual(['float16[4]', 'float32[]']);
    const dq = only(net, 'dequantize');
    expect(dq.params).toEqual({ axis: null, toType: 'float16' });
    const pc = lower(CASES.find((c) => c.name === 'quantize_per_channel + dequantize')!.fn, [f32([2, 3])]);
    expect(only(pc, 'quantize').inputs.map((t) => `${t.dtype}[${t.shape.join(', ')}]`)).toEqual(['float32[2, 3]', 'float32[3]', 'int8[3]']);
    expect(only(pc, 'dequantize').params).toEqual({ axis: 1, toType: 'float32' });
  });

  it('argmax of a 0-d input and topk of a 0-d input keep the 0-d shape', () => {
    expect(outs(lower((x) => acc('argmax', { input: x, keepdim: true }), [Tensor.fromArray(3)]))).toEqual(['int64[]']);
    expect(outs(lower((x) => accTuple('topk', { input: x, k: 1 }, 2), [Tensor.fromArray(3)]))).toEqual(['float32[]', 'int64[]']);
  });

  it('reports refused nodes as ConversionError naming the node and the reason', () => {
    const fn: Fn = (x) => accTuple('topk', { input: x, k: 0 }, 2);
    expect(() => lower(fn, [f32([3])])).toThrow(ConversionError);
    expect(() => lower(fn, [f32([3])])).toThrow(/^node 'topk' \(acc\.topk\): k = 0 \(an empty result\) has no topk layer$/);
  });
});

describe('planReshape', () => {
  /** The output shape a planned shuffle gives, checked by the shuffle's own shape rule. */
  function reshaped(inShape: number[], target: ReshapeDim[]): number[] | 'same' {
    const plan = planReshape(inShape, target);
    if (!plan) return 'same';
    const net = new NetworkDefinition();
    const range = { min: inShape.map((d) => (d === -1 ? 1 : d)), opt: inShape.map((d) => (d === -1 ? 2 : d)), max: inShape.map((d) => (d === -1 ? 9 : d)) };
    const x = net.addInput('x', 'float32', inShape, inShape.includes(-1) ? range : undefined);
    return [...net.addLayer('shuffle', [x], plan)[0]!.shape];
  }

  it('reshapes static shapes with the -1 resolved, and reports no-ops', () => {
    expect(planReshape([2, 3, 4], [6, -1])).toEqual({ firstTranspose: null, reshape: [6, 4], secondTranspose: null });
    expect(planReshape([2, 3], [{ copy: 0 }, 3])).toBeNull();
    expect(reshaped([0, 3], [3, 0])).toEqual([3, 0]);
  });

  it('keeps dynamic dims in place, moving only size-1 dims', () => {
    expect(planReshape([-1, 4], [1, { copy: 0 }, 4])).toEqual({ firstTranspose: null, reshape: [0, 4, 1], secondTranspose: [2, 0, 1] });
    expect(reshaped([-1, 4], [1, { copy: 0 }, 4])).toEqual([1, -1, 4]);
    expect(planReshape([-1, 1, 4], [{ copy: 0 }, { copy: 2 }])).toEqual({ firstTranspose: [0, 2, 1], reshape: [0, 4], secondTranspose: null });
    expect(reshaped([-1, 1, 4], [{ copy: 0 }, { copy: 2 }])).toEqual([-1, 4]);
    expect(reshaped([-1, 3, 4], [{ copy: 0 }, -1])).toEqual([-1, 12]);
    expect(reshaped([2, -1, 4], [-1, 4])).toEqual([-1, 4]);
  });

  it('says why a dynamic reshape cannot be one shuffle', () => {
    expect(() => planReshape([-1, 4], [4, { copy: 0 }])).toThrow(/dynamic dim 0 would have to move to position 1/);
    expect(() => planReshape([-1, 4], [2, 2])).toThrow(/dynamic dim 0 is neither kept in place nor absorbed by a -1 size/);
    expect(() => planReshape([2, 3], [-1, -1])).toThrow(/only one size can be -1/);
  });
});

describe('layer shape and dtype rules', () => {
  function net(): { n: NetworkDefinition; x: NetTensor } {
    const n = new NetworkDefinition('rules');
    const x = n.addInput('x', 'float32', [-1, 3, 5, 5], { min: [1, 3, 5, 5], opt: [2, 3, 5, 5], max: [4, 3, 5, 5] });
    return { n, x };
  }

  it('elementwise needs equal ranks and dtypes, and broadcasts size-1 and dynamic dims', () => {
    const { n, x } = net();
    const [c] = n.addLayer('constant', [], { value: Tensor.ones([1, 3, 1, 5]) }, 'c');
    expect(n.addLayer('elementwise', [x, c!], { op: 'sum' }, 'ok')[0]!.shape).toEqual([-1, 3, 5, 5]);
    const [v] = n.addLayer('constant', [], { value: Tensor.ones([5]) }, 'v');
    expect(() => n.addLayer('elementwise', [x, v!], { op: 'sum' }, 'rank')).toThrow(/layer 'rank' \(elementwise\): elementwise sum: ranks differ, .*insert a shuffle/);
    const [i] = n.addLayer('constant', [], { value: Tensor.ones([1, 1, 1, 1], 'int32') }, 'i');
    expect(() => n.addLayer('elementwise', [x, i!], { op: 'prod' }, 'dt')).toThrow(/dtypes differ, .*insert a cast/);
    expect(n.addLayer('elementwise', [x, c!], { op: 'less' }, 'cmp')[0]!.dtype).toBe('bool');
    expect(() => n.addLayer('elementwise', [x, c!], { op: 'and' }, 'and')).toThrow(/and takes bool inputs/);
  });

  it('convolution and pooling compute PyTorch output sizes, dynamic dims stay -1', () => {
    const { n, x } = net();
    const [w] = n.addLayer('constant', [], { value: Tensor.ones([6, 1, 3, 3]) }, 'w');
    const conv = n.addLayer('convolution', [x, w!], { kernelSize: [3, 3], numOutputMaps: 6, stride: [2, 2], prePadding: [1, 1], postPadding: [0, 0], dilation: [1, 1], groups: 3 }, 'conv');
    expect(conv[0]!.shape).toEqual([-1, 6, 2, 2]);
    const pool = (roundUp: boolean) => n.addLayer('pooling', [x], {
      type: 'max', windowSize: [2, 2], stride: [3, 3], prePadding: [1, 1], postPadding: [1, 1], dilation: [1, 1], roundUp, averageCountExcludesPadding: false, divisor: null,
    })[0]!.shape;
    // ceil((5 + 2 - 2) / 3) + 1 = 3, but the third window would start in the end padding: PyTorch drops it.
    expect(pool(true)).toEqual([-1, 3, 2, 2]);
    expect(pool(false)).toEqual([-1, 3, 2, 2]);
    expect(() => n.addLayer('convolution', [x, w!], { kernelSize: [3, 3], numOutputMaps: 6, stride: [1, 1], prePadding: [0, 0], postPadding: [0, 0], dilation: [1, 1], groups: 1 }, 'bad'))
      .toThrow(/kernel .* must be \[6, 3, 3, 3\]/);
  });

  it('shuffle copies dims with 0, infers -1, and transposes', () => {
    const { n, x } = net();
    const s = n.addLayer('shuffle', [x], { firstTranspose: [0, 2, 3, 1], reshape: [0, -1, 3], secondTranspose: [0, 2, 1] }, 's');
    expect(s[0]!.shape).toEqual([-1, 3, 25]);
    expect(() => n.addLayer('shuffle', [x], { firstTranspose: null, reshape: [0, 7, -1], secondTranspose: null }, 'bad')).toThrow(/75 elements do not divide into 7/);
  });

  it('slice checks default-mode bounds and keeps whole dims with size -1', () => {
    const { n, x } = net();
    expect(n.addLayer('slice', [x], { start: [0, 2, 0, 4], size: [-1, 1, 5, 3], stride: [1, 1, 1, -2], mode: 'default', fillValue: 0 })[0]!.shape).toEqual([-1, 1, 5, 3]);
    expect(() => n.addLayer('slice', [x], { start: [0, 0, 0, 3], size: [-1, 3, 5, 3], stride: [1, 1, 1, 1], mode: 'default', fillValue: 0 }, 'oob'))
      .toThrow(/dim 3 of size 5: indices 3..5 are out of range/);
    expect(n.addLayer('slice', [x], { start: [0, 0, -2, 0], size: [-1, 3, 9, 5], stride: [1, 1, 1, 1], mode: 'reflect', fillValue: 0 })[0]!.shape).toEqual([-1, 3, 9, 5]);
  });

  it('Q/DQ layers check scale and zero-point shapes and types', () => {
    const { n, x } = net();
    const [s] = n.addLayer('constant', [], { value: Tensor.ones([3]) }, 's');
    const [z] = n.addLayer('constant', [], { value: Tensor.zeros([3], 'int8') }, 'z');
    const [q] = n.addLayer('quantize', [x, s!, z!], { axis: 1, toType: 'int8' }, 'q');
    expect(q).toMatchObject({ dtype: 'int8', shape: [-1, 3, 5, 5] });
    expect(n.addLayer('dequantize', [q!, s!, z!], { axis: 1, toType: 'float16' })[0]!.dtype).toBe('float16');
    expect(() => n.addLayer('quantize', [x, s!], { axis: 2, toType: 'int8' }, 'badq')).toThrow(/per-channel scale .* must be \[5\]/);
    expect(() => n.addLayer('quantize', [x, s!, z!], { axis: 1, toType: 'uint8' }, 'badz')).toThrow(/zeroPoint .* must be uint8/);
  });

  it('attention broadcasts batch dims and checks feature dims; topk gives int64 indices', () => {
    const n = new NetworkDefinition();
    const q = n.addInput('q', 'float32', [2, 1, 4, 8]);
    const k = n.addInput('k', 'float32', [1, 3, 6, 8]);
    const v = n.addInput('v', 'float32', [1, 1, 6, 5]);
    expect(n.addLayer('attention', [q, k, v], { scale: 0.5, causal: false })[0]!.shape).toEqual([2, 3, 4, 5]);
    expect(() => n.addLayer('attention', [q, v, v], { scale: 0.5, causal: false }, 'bad')).toThrow(/feature dims differ/);
    expect(n.addLayer('topk', [q], { op: 'min', k: 3, axis: 3 }).map((t) => `${t.dtype}[${t.shape.join(', ')}]`)).toEqual(['float32[2, 1, 4, 3]', 'int64[2, 1, 4, 3]']);
  });
});
