/**
 * Shape and dtype rules of every network layer type, and the one-line definition of what each
 * layer computes: the contract between the converters that build networks and the engine that
 * runs them. Importing this module registers the rules with NetworkDefinition.
 *
 * Conventions: -1 is a dynamic dim; static dims are exact and checked; a dynamic dim meeting a
 * static one in a broadcast or an equality takes the static value (the runtime checks it). Layers
 * never promote dtypes: the converters insert cast layers, so inputs that must agree must already
 * have equal dtypes. Ranks never broadcast: the converters insert shuffles to unsqueeze.
 */
import { isFloating, type DType } from '../tensor/dtype.js';
import { formatShape } from '../tensor/shape.js';
import { einsumMeta } from '../kernels/reference/linalg.js';
import type { NetTensor } from './network.js';
import { registerLayerInference } from './network_definition.js';

const FLOAT_TYPES = 'float32, float16 or bfloat16';

function desc(t: NetTensor): string {
  return `'${t.name}' (${t.dtype}${formatShape(t.shape)})`;
}

function arity(inputs: readonly NetTensor[], min: number, max: number = min): void {
  if (inputs.length < min || inputs.length > max) {
    const want = min === max ? `${min}` : `${min} to ${max}`;
    throw new RangeError(`expects ${want} input(s), got ${inputs.length}`);
  }
}

function input(inputs: readonly NetTensor[], i: number): NetTensor {
  const t = inputs[i];
  if (!t) throw new RangeError(`input ${i} is missing`);
  return t;
}

function needFloat(t: NetTensor, what: string): void {
  if (!isFloating(t.dtype)) throw new TypeError(`${what} ${desc(t)} must be ${FLOAT_TYPES}`);
}

function needNumeric(t: NetTensor, what: string): void {
  if (t.dtype === 'bool') throw new TypeError(`${what} ${desc(t)} must be numeric, not bool`);
}

function sameDType(a: NetTensor, b: NetTensor, what: string): void {
  if (a.dtype !== b.dtype) throw new TypeError(`${what}: dtypes differ, ${desc(a)} vs ${desc(b)} (insert a cast)`);
}

function sameRank(a: NetTensor, b: NetTensor, what: string): void {
  if (a.shape.length !== b.shape.length) throw new RangeError(`${what}: ranks differ, ${desc(a)} vs ${desc(b)} (insert a shuffle)`);
}

function axisIn(axis: number, rank: number, what: string): void {
  if (!Number.isInteger(axis) || axis < 0 || axis >= rank) throw new RangeError(`${what} ${axis} is out of range for rank ${rank} (expected 0..${rank - 1})`);
}

function isPermutation(p: readonly number[], rank: number): boolean {
  if (p.length !== rank) return false;
  const seen = new Set<number>();
  for (const d of p) {
    if (!Number.isInteger(d) || d < 0 || d >= rank || seen.has(d)) return false;
    seen.add(d);
  }
  return true;
}

/** Two dims that must be equal: a dynamic dim takes the static value. */
function unify(a: number, b: number, what: string): number {
  if (a === -1) return b;
  if (b === -1 || a === b) return a;
  throw new RangeError(`${what}: ${a} vs ${b}`);
}

/** One broadcast dim of equal-rank operands: equal, or one of them 1. */
function broadcastDim(a: number, b: number, what: string): number {
  if (a === b || b === 1) return a;
  if (a === 1) return b;
  if (a === -1) return b;
  if (b === -1) return a;
  throw new RangeError(`${what}: dims ${a} and ${b} do not broadcast`);
}

function broadcastShapes(ts: readonly NetTensor[], what: string): number[] {
  const first = ts[0]!;
  const out = [...first.shape];
  for (const t of ts.slice(1)) {
    sameRank(first, t, what);
    for (let i = 0; i < out.length; i++) out[i] = broadcastDim(out[i]!, t.shape[i]!, `${what} at dim ${i} (${desc(first)} vs ${desc(t)})`);
  }
  return out;
}

function perDim(name: string, v: readonly number[], n: number, min: number): void {
  if (v.length !== n || v.some((x) => !Number.isInteger(x) || x < min)) {
    throw new RangeError(`${name} must be ${n} integer(s) >= ${min}, got ${formatShape(v)}`);
  }
}

function uniqueAxes(axes: readonly number[], rank: number, what: string): void {
  const seen = new Set<number>();
  for (const a of axes) {
    axisIn(a, rank, what);
    if (seen.has(a)) throw new RangeError(`${what} ${a} is listed twice in [${axes.join(', ')}]`);
    seen.add(a);
  }
}

// constant: no inputs; the output is `value` itself (its dtype and shape).
registerLayerInference('constant', (inputs, p) => {
  arity(inputs, 0);
  return [{ dtype: p.value.dtype, shape: p.value.shape }];
});

// convolution: x [N, C, s...] (float), kernel input 1 [K, C/groups, k...], optional bias input 2 [K]
// → [N, K, o...], o = floor((s + pre + post - (dilation*(k-1)+1)) / stride) + 1; cross-correlation, padding is 0.
registerLayerInference('convolution', (inputs, p) => {
  arity(inputs, 2, 3);
  const [x, w, b] = [input(inputs, 0), input(inputs, 1), inputs[2]];
  const n = p.kernelSize.length;
  const C = convChecks(x, w, b, p, n);
  if (w.shape[0] !== p.numOutputMaps || w.shape[1]! * p.groups !== C) {
    throw new RangeError(`kernel ${desc(w)} must be [${p.numOutputMaps}, ${C / p.groups}, ${p.kernelSize.join(', ')}] (numOutputMaps, C/groups, kernel)`);
  }
  const out = x.shape.slice(2).map((s, i) => {
    if (s === -1) return -1;
    const o = Math.floor((s + p.prePadding[i]! + p.postPadding[i]! - (p.dilation[i]! * (p.kernelSize[i]! - 1) + 1)) / p.stride[i]!) + 1;
    if (o < 1) throw new RangeError(`spatial dim ${i + 2} of size ${s} is smaller than the dilated kernel (output size ${o})`);
    return o;
  });
  return [{ dtype: x.dtype, shape: [x.shape[0]!, p.numOutputMaps, ...out] }];
});

// deconvolution (transposed convolution): x [N, C, s...], kernel [C, K/groups, k...], optional bias [K]
// → [N, K, o...], o = (s-1)*stride + dilation*(k-1) + 1 - pre - post; the full result is cropped by pre
// at the start and post at the end; a negative post (PyTorch's output_padding) extends it with zeros (+ bias).
registerLayerInference('deconvolution', (inputs, p) => {
  arity(inputs, 2, 3);
  const [x, w, b] = [input(inputs, 0), input(inputs, 1), inputs[2]];
  const n = p.kernelSize.length;
  const C = convChecks(x, w, b, p, n);
  if (w.shape[0] !== C || w.shape[1]! * p.groups !== p.numOutputMaps) {
    throw new RangeError(`kernel ${desc(w)} must be [${C}, ${p.numOutputMaps / p.groups}, ${p.kernelSize.join(', ')}] (C, numOutputMaps/groups, kernel)`);
  }
  const out = x.shape.slice(2).map((s, i) => {
    if (s === -1) return -1;
    const o = (s - 1) * p.stride[i]! + p.dilation[i]! * (p.kernelSize[i]! - 1) + 1 - p.prePadding[i]! - p.postPadding[i]!;
    if (o < 1) throw new RangeError(`spatial dim ${i + 2}: output size ${o} is not positive`);
    return o;
  });
  return [{ dtype: x.dtype, shape: [x.shape[0]!, p.numOutputMaps, ...out] }];
});

interface ConvLike {
  readonly kernelSize: readonly number[]; readonly numOutputMaps: number; readonly stride: readonly number[];
  readonly prePadding: readonly number[]; readonly postPadding: readonly number[]; readonly dilation: readonly number[]; readonly groups: number;
}

/** Common checks of (de)convolution; returns the static channel count. */
function convChecks(x: NetTensor, w: NetTensor, b: NetTensor | undefined, p: ConvLike, n: number): number {
  if (n < 1 || n > 3) throw new RangeError(`kernelSize must have 1 to 3 dims, got ${formatShape(p.kernelSize)}`);
  perDim('kernelSize', p.kernelSize, n, 1);
  perDim('stride', p.stride, n, 1);
  perDim('dilation', p.dilation, n, 1);
  if (p.prePadding.length !== n || p.postPadding.length !== n) throw new RangeError(`prePadding/postPadding must have ${n} entries`);
  if (!Number.isInteger(p.groups) || p.groups < 1) throw new RangeError(`groups must be a positive integer, got ${p.groups}`);
  if (!Number.isInteger(p.numOutputMaps) || p.numOutputMaps < 1 || p.numOutputMaps % p.groups !== 0) {
    throw new RangeError(`numOutputMaps ${p.numOutputMaps} must be a positive multiple of groups ${p.groups}`);
  }
  needFloat(x, 'input');
  if (x.shape.length !== n + 2) throw new RangeError(`input ${desc(x)} must be [N, C, ${n} spatial dims]`);
  const C = x.shape[1]!;
  if (C === -1) throw new RangeError(`the channel dim of input ${desc(x)} must be static`);
  if (C % p.groups !== 0) throw new RangeError(`input channels ${C} are not divisible by groups ${p.groups}`);
  sameDType(x, w, 'kernel');
  if (w.shape.length !== n + 2 || w.shape.slice(2).some((k, i) => k !== p.kernelSize[i])) {
    throw new RangeError(`kernel ${desc(w)} must have rank ${n + 2} and spatial dims ${formatShape(p.kernelSize)}`);
  }
  if (b) {
    sameDType(x, b, 'bias');
    if (b.shape.length !== 1 || b.shape[0] !== p.numOutputMaps) throw new RangeError(`bias ${desc(b)} must be [${p.numOutputMaps}]`);
  }
  return C;
}

// matrix_multiply: a @ b over the last two dims (transpose0/1 swap them first); batch dims broadcast.
// A vector operand (vector0/1) is a batch of vectors [..., K] of rank one less than the other operand
// (two vectors: equal ranks) and contributes no dim to the result: [..., M, K] x [..., K] → [..., M].
registerLayerInference('matrix_multiply', (inputs, p) => {
  arity(inputs, 2);
  const [a, b] = [input(inputs, 0), input(inputs, 1)];
  needFloat(a, 'input 0');
  sameDType(a, b, 'input 1');
  const ra = a.shape.length;
  const rb = b.shape.length;
  const rankOk = p.vector0 === p.vector1 ? ra === rb : p.vector0 ? ra === rb - 1 : rb === ra - 1;
  if (!rankOk) throw new RangeError(`operand ranks do not fit the vector flags (vector0=${p.vector0}, vector1=${p.vector1}): ${desc(a)}, ${desc(b)}`);
  const matDims = (t: NetTensor, vector: boolean, transpose: boolean, name: string): [number, number] | [number] => {
    if (vector) {
      if (t.shape.length < 1) throw new RangeError(`vector ${name} ${desc(t)} needs at least 1 dim`);
      return [t.shape[t.shape.length - 1]!];
    }
    if (t.shape.length < 2) throw new RangeError(`matrix ${name} ${desc(t)} needs at least 2 dims`);
    const [r, c] = [t.shape[t.shape.length - 2]!, t.shape[t.shape.length - 1]!];
    return transpose ? [c, r] : [r, c];
  };
  const ma = matDims(a, p.vector0, p.transpose0, 'input 0');
  const mb = matDims(b, p.vector1, p.transpose1, 'input 1');
  const K0 = ma[ma.length - 1]!;
  const K1 = mb[0]!;
  unify(K0, K1, `inner dims of ${desc(a)} and ${desc(b)} differ`);
  const batchA = a.shape.slice(0, ra - ma.length);
  const batchB = b.shape.slice(0, rb - mb.length);
  if (batchA.length !== batchB.length) throw new RangeError(`batch ranks differ: ${desc(a)}, ${desc(b)}`);
  const batch = batchA.map((d, i) => broadcastDim(d, batchB[i]!, `batch dim ${i}`));
  const rows = ma.length === 2 ? [ma[0]] : [];
  const cols = mb.length === 2 ? [mb[1]] : [];
  return [{ dtype: a.dtype, shape: [...batch, ...rows, ...cols] }];
});

const COMPARISON = new Set(['equal', 'greater', 'less']);
const LOGICAL = new Set(['and', 'or', 'xor']);

// elementwise: op(a, b) on equal-rank inputs of one dtype, size-1 dims broadcast. sum, sub, prod;
// div (floats: true division; integers: truncation toward zero); floor_div (floor(a / b), Python //);
// mod (a - floor(a / b) * b: the sign of b, Python % / torch.remainder); pow; max, min (NaN propagates);
// equal, greater, less (numeric → bool; NaN compares false); and, or, xor (bool → bool).
registerLayerInference('elementwise', (inputs, p) => {
  arity(inputs, 2);
  const [a, b] = [input(inputs, 0), input(inputs, 1)];
  sameDType(a, b, `elementwise ${p.op}`);
  if (LOGICAL.has(p.op)) {
    if (a.dtype !== 'bool') throw new TypeError(`elementwise ${p.op} takes bool inputs, got ${desc(a)}`);
  } else needNumeric(a, `elementwise ${p.op}: input`);
  const shape = broadcastShapes([a, b], `elementwise ${p.op}`);
  return [{ dtype: COMPARISON.has(p.op) || LOGICAL.has(p.op) ? 'bool' : a.dtype, shape }];
});

const INT_ACTIVATIONS = new Set(['relu', 'clip']);

// activation: same shape and dtype. relu max(x, 0); sigmoid; tanh; leaky_relu x >= 0 ? x : alpha*x;
// elu x > 0 ? x : alpha*(exp(x)-1); selu beta*(x > 0 ? x : alpha*(exp(x)-1)); softsign x/(1+|x|);
// softplus alpha*log(1+exp(beta*x)); clip min(max(x, alpha), beta) (NaN propagates); hard_sigmoid
// max(0, min(1, alpha*x + beta)); gelu_erf x*Φ(x); gelu_tanh (tanh approximation); silu x*sigmoid(x).
// Floats only, except relu and clip, which also take integers.
registerLayerInference('activation', (inputs, p) => {
  arity(inputs, 1);
  const x = input(inputs, 0);
  if (INT_ACTIVATIONS.has(p.op)) needNumeric(x, `activation ${p.op}: input`);
  else needFloat(x, `activation ${p.op}: input`);
  return [{ dtype: x.dtype, shape: x.shape }];
});

const FLOAT_UNARY = new Set(['exp', 'log', 'sqrt', 'recip', 'sin', 'cos', 'tan', 'sinh', 'cosh', 'asin', 'acos', 'atan', 'erf', 'rsqrt']);

// unary: same shape; exp, log, sqrt, recip (1/x), rsqrt (1/sqrt(x)), trigonometric and erf on floats;
// abs, neg, sign (NaN → 0), ceil, floor, round (half to even), trunc on numbers (identity on integers
// for the rounding ops); not on bool; isnan → bool (false for integers).
registerLayerInference('unary', (inputs, p) => {
  arity(inputs, 1);
  const x = input(inputs, 0);
  if (p.op === 'not') {
    if (x.dtype !== 'bool') throw new TypeError(`unary not takes a bool input, got ${desc(x)}`);
    return [{ dtype: 'bool', shape: x.shape }];
  }
  needNumeric(x, `unary ${p.op}: input`);
  if (FLOAT_UNARY.has(p.op)) needFloat(x, `unary ${p.op}: input`);
  return [{ dtype: p.op === 'isnan' ? 'bool' : x.dtype, shape: x.shape }];
});

// scale: (x * scale + shift) ^ power with scale, shift, power as inputs 1..3 of x's dtype: 'uniform' one
// element each ([1]); 'channel' [C], C = x.shape[channelAxis] (static); 'elementwise' x.shape from channelAxis on.
registerLayerInference('scale', (inputs, p) => {
  arity(inputs, 4);
  const x = input(inputs, 0);
  needFloat(x, 'input');
  axisIn(p.channelAxis, x.shape.length, 'channelAxis');
  const want = p.mode === 'uniform' ? [1] : p.mode === 'channel' ? [x.shape[p.channelAxis]!] : x.shape.slice(p.channelAxis);
  if (want.some((d) => d === -1)) throw new RangeError(`${p.mode} mode needs static dims of ${desc(x)} from channelAxis ${p.channelAxis}`);
  for (const [i, name] of [[1, 'scale'], [2, 'shift'], [3, 'power']] as const) {
    const t = input(inputs, i);
    sameDType(x, t, name);
    if (t.shape.length !== want.length || t.shape.some((d, j) => d !== want[j])) throw new RangeError(`${name} ${desc(t)} must be ${formatShape(want)} in ${p.mode} mode`);
  }
  return [{ dtype: x.dtype, shape: x.shape }];
});

// pooling: x [N, C, s...] (float; int8 for max, which commutes with dequantization) → [N, C, o...], windows of windowSize*dilation taken every stride over the
// input padded by pre/post; o = floor(e / stride) + 1 with e = s + pre + post - (dilation*(k-1)+1), or with
// roundUp ceil(e / stride) + 1, dropping a last window that starts at or after s + pre (PyTorch ceil_mode).
// max: padding never wins (NaN propagates); average: sum / divisor, else / the window's element count within
// [-pre, s + post) (only those inside the input when averageCountExcludesPadding).
registerLayerInference('pooling', (inputs, p) => {
  arity(inputs, 1);
  const x = input(inputs, 0);
  if (!(p.type === 'max' && x.dtype === 'int8')) needFloat(x, 'input');
  const n = p.windowSize.length;
  if (n < 1 || n > 3) throw new RangeError(`windowSize must have 1 to 3 dims, got ${formatShape(p.windowSize)}`);
  perDim('windowSize', p.windowSize, n, 1);
  perDim('stride', p.stride, n, 1);
  perDim('dilation', p.dilation, n, 1);
  perDim('prePadding', p.prePadding, n, 0);
  perDim('postPadding', p.postPadding, n, 0);
  if (p.divisor !== null && (!Number.isInteger(p.divisor) || p.divisor === 0)) throw new RangeError(`divisor must be a non-zero integer or null, got ${p.divisor}`);
  if (x.shape.length !== n + 2) throw new RangeError(`input ${desc(x)} must be [N, C, ${n} spatial dims]`);
  const out = x.shape.slice(2).map((s, i) => {
    if (s === -1) return -1;
    const [k, st, pre, post, d] = [p.windowSize[i]!, p.stride[i]!, p.prePadding[i]!, p.postPadding[i]!, p.dilation[i]!];
    const e = s + pre + post - (d * (k - 1) + 1);
    if (e < 0) throw new RangeError(`spatial dim ${i + 2} of size ${s} (padded ${s + pre + post}) is smaller than the dilated window ${d * (k - 1) + 1}`);
    let o = p.roundUp ? Math.ceil(e / st) + 1 : Math.floor(e / st) + 1;
    if (p.roundUp && (o - 1) * st >= s + pre) o--;
    return o;
  });
  return [{ dtype: x.dtype, shape: [...x.shape.slice(0, 2), ...out] }];
});

// reduce: sum, prod, max, min, avg over the (distinct, non-empty) `axes`, removed or kept as 1 with keepDims;
// the dtype is kept (avg needs a float; no bool); max/min propagate NaN.
registerLayerInference('reduce', (inputs, p) => {
  arity(inputs, 1);
  const x = input(inputs, 0);
  needNumeric(x, `reduce ${p.op}: input`);
  if (p.op === 'avg') needFloat(x, 'reduce avg: input');
  if (p.axes.length === 0) throw new RangeError('axes must not be empty');
  uniqueAxes(p.axes, x.shape.length, 'axis');
  const shape: number[] = [];
  x.shape.forEach((d, i) => {
    if (!p.axes.includes(i)) shape.push(d);
    else if (p.keepDims) shape.push(1);
  });
  return [{ dtype: x.dtype, shape }];
});

// softmax: exp(x - max) / sum(exp(x - max)) along `axis` (log: its logarithm, log_softmax); float, same shape.
registerLayerInference('softmax', (inputs, p) => {
  arity(inputs, 1);
  const x = input(inputs, 0);
  needFloat(x, 'input');
  axisIn(p.axis, x.shape.length, 'axis');
  return [{ dtype: x.dtype, shape: x.shape }];
});

// shuffle: firstTranspose (output dim i = input dim perm[i]), then a row-major reshape (entry 0 copies the dim
// at the same index, -1 is inferred from the element count, so a zero-size dim cannot be requested), then
// secondTranspose; data never changes dtype.
registerLayerInference('shuffle', (inputs, p) => {
  arity(inputs, 1);
  const x = input(inputs, 0);
  let shape = [...x.shape];
  if (p.firstTranspose) {
    const perm = p.firstTranspose;
    if (!isPermutation(perm, shape.length)) throw new RangeError(`firstTranspose [${perm.join(', ')}] is not a permutation of rank ${shape.length}`);
    shape = perm.map((d) => x.shape[d]!);
  }
  if (p.reshape) shape = reshapeShape(shape, p.reshape);
  if (p.secondTranspose) {
    const perm = p.secondTranspose;
    if (!isPermutation(perm, shape.length)) throw new RangeError(`secondTranspose [${perm.join(', ')}] is not a permutation of rank ${shape.length}`);
    const s = shape;
    shape = perm.map((d) => s[d]!);
  }
  return [{ dtype: x.dtype, shape }];
});

/** Output dims of a shuffle reshape of `inShape` (after the first transpose). */
function reshapeShape(inShape: readonly number[], target: readonly number[]): number[] {
  const where = `reshape [${target.join(', ')}] of ${formatShape(inShape)}`;
  let hole = -1;
  let known = 1;
  const out = target.map((d, i) => {
    if (d === 0) {
      if (i >= inShape.length) throw new RangeError(`${where}: entry ${i} copies a dim the input does not have`);
      return inShape[i]!;
    }
    if (d === -1) {
      if (hole >= 0) throw new RangeError(`${where}: only one entry can be -1`);
      hole = i;
      return -1;
    }
    if (!Number.isInteger(d) || d < 0) throw new RangeError(`${where}: invalid entry ${d}`);
    known *= d;
    return d;
  });
  // Dims copied in place cancel out of the element count, so they may be dynamic.
  let rest = 1;
  let restDynamic = false;
  inShape.forEach((d, i) => {
    if (target[i] === 0) return;
    if (d === -1) restDynamic = true;
    else rest *= d;
  });
  if (restDynamic) return out;
  if (hole >= 0) {
    if (known === 0 || rest % known !== 0) throw new RangeError(`${where}: ${rest} elements do not divide into ${known}`);
    out[hole] = rest / known;
  } else if (rest !== known) {
    throw new RangeError(`${where}: ${rest} elements cannot take ${known}`);
  }
  return out;
}

// concatenation: inputs of one dtype and rank joined along `axis`; the other dims must be equal.
registerLayerInference('concatenation', (inputs, p) => {
  if (inputs.length === 0) throw new RangeError('expects at least 1 input, got 0');
  const first = input(inputs, 0);
  axisIn(p.axis, first.shape.length, 'axis');
  const shape = [...first.shape];
  for (const t of inputs.slice(1)) {
    sameDType(first, t, 'concatenation');
    sameRank(first, t, 'concatenation');
    shape.forEach((d, i) => {
      if (i === p.axis) shape[i] = d === -1 || t.shape[i] === -1 ? -1 : d + t.shape[i]!;
      else shape[i] = unify(d, t.shape[i]!, `dim ${i} differs between ${desc(first)} and ${desc(t)}`);
    });
  }
  return [{ dtype: first.dtype, shape }];
});

// slice: out[i...] = x[start + i*stride] per dim (stride may be 0 or negative); size -1 keeps the whole input
// dim (start 0, stride 1). Out-of-range indices: 'default' forbids them, 'fill' reads fillValue, 'clamp' the
// nearest edge, 'reflect' the mirror image without repeating the edge (PyTorch reflect), 'wrap' index mod size.
registerLayerInference('slice', (inputs, p) => {
  arity(inputs, 1);
  const x = input(inputs, 0);
  const rank = x.shape.length;
  if (p.start.length !== rank || p.size.length !== rank || p.stride.length !== rank) {
    throw new RangeError(`start/size/stride must have ${rank} entries (the rank of ${desc(x)}), got ${p.start.length}/${p.size.length}/${p.stride.length}`);
  }
  const shape = x.shape.map((dim, i) => {
    const [start, size, stride] = [p.start[i]!, p.size[i]!, p.stride[i]!];
    if (![start, size, stride].every(Number.isInteger)) throw new RangeError(`dim ${i}: start/size/stride must be integers`);
    if (size === -1) {
      if (start !== 0 || stride !== 1) throw new RangeError(`dim ${i}: size -1 (the whole dim) needs start 0 and stride 1, got ${start} and ${stride}`);
      return dim;
    }
    if (size < 0) throw new RangeError(`dim ${i}: size must be >= 0 or -1, got ${size}`);
    if (size > 0 && dim !== -1) {
      if (p.mode === 'default') {
        const last = start + (size - 1) * stride;
        if (start < 0 || start >= dim || last < 0 || last >= dim) throw new RangeError(`dim ${i} of size ${dim}: indices ${start}..${last} are out of range in mode 'default'`);
      } else if (p.mode !== 'fill' && dim === 0) {
        throw new RangeError(`dim ${i}: mode '${p.mode}' cannot read from an empty dim`);
      }
    }
    return size;
  });
  return [{ dtype: x.dtype, shape }];
});

// gather: 'default' out = data[..., indices[j...], ...] along `axis`, shape data[:axis] + indices + data[axis+1:];
// 'element' (torch.gather) out[i] = data[i with i[axis] = indices[i]], shape of indices (same rank as data,
// no larger on other dims). Indices are int32/int64 in [0, size).
registerLayerInference('gather', (inputs, p) => {
  arity(inputs, 2);
  const [data, idx] = [input(inputs, 0), input(inputs, 1)];
  if (idx.dtype !== 'int32' && idx.dtype !== 'int64') throw new TypeError(`indices ${desc(idx)} must be int32 or int64`);
  axisIn(p.axis, data.shape.length, 'axis');
  if (p.mode === 'default') {
    return [{ dtype: data.dtype, shape: [...data.shape.slice(0, p.axis), ...idx.shape, ...data.shape.slice(p.axis + 1)] }];
  }
  sameRank(data, idx, 'element gather');
  idx.shape.forEach((d, i) => {
    const have = data.shape[i]!;
    if (i !== p.axis && d !== -1 && have !== -1 && d > have) throw new RangeError(`indices ${desc(idx)} are larger than data ${desc(data)} at dim ${i}`);
  });
  return [{ dtype: data.dtype, shape: idx.shape }];
});

// padding: the last prePadding.length dims grow by pre at the start and post at the end (negative crops),
// new elements are `value`.
registerLayerInference('padding', (inputs, p) => {
  arity(inputs, 1);
  const x = input(inputs, 0);
  const k = p.prePadding.length;
  if (p.postPadding.length !== k || k > x.shape.length) throw new RangeError(`prePadding/postPadding must have equal lengths of at most the rank ${x.shape.length}`);
  const lead = x.shape.length - k;
  const shape = x.shape.map((d, i) => {
    if (i < lead || d === -1) return d;
    const o = d + p.prePadding[i - lead]! + p.postPadding[i - lead]!;
    if (o < 0) throw new RangeError(`dim ${i} of size ${d} would have negative size ${o}`);
    return o;
  });
  return [{ dtype: x.dtype, shape }];
});

// resize: each dim to outputShape (-1 keeps the input dim), with PyTorch's index maths: the source coordinate
// of output j uses s = 1 / scales[d] when scales are given, else in / out (float32); 'asymmetric' j*s,
// 'half_pixel' (j + 0.5)*s - 0.5 (clamped at 0 for linear), 'align_corners' j*(in-1)/(out-1); nearest rounds
// by `round` ('floor', or 'half_up' = floor(x + 0.5)) clamped to in-1; linear interpolates up to 3 dims,
// cubic (coefficient cubicCoeff, borders replicated) up to 2.
registerLayerInference('resize', (inputs, p) => {
  arity(inputs, 1);
  const x = input(inputs, 0);
  const rank = x.shape.length;
  if (p.outputShape.length !== rank) throw new RangeError(`outputShape ${formatShape(p.outputShape)} must have ${rank} entries`);
  if (p.scales && (p.scales.length !== rank || p.scales.some((s) => !(s > 0)))) throw new RangeError(`scales must be ${rank} positive numbers, got [${p.scales.join(', ')}]`);
  if (p.mode !== 'nearest') needFloat(x, `${p.mode} resize: input`);
  let resized = 0;
  const shape = p.outputShape.map((o, i) => {
    if (o === -1) {
      if (p.scales && p.scales[i] !== 1) throw new RangeError(`dim ${i}: outputShape -1 keeps the dim and needs scale 1, got ${p.scales[i]}`);
      return x.shape[i]!;
    }
    if (!Number.isInteger(o) || o < 1) throw new RangeError(`outputShape entries must be positive integers or -1, got ${o}`);
    if (o !== x.shape[i]) resized++;
    return o;
  });
  const maxDims = p.mode === 'linear' ? 3 : p.mode === 'cubic' ? 2 : rank;
  if (resized > maxDims) throw new RangeError(`${p.mode} resize changes ${resized} dims, at most ${maxDims} allowed`);
  return [{ dtype: x.dtype, shape }];
});

// normalization: y = (x - mean) / sqrt(var + eps) * scale + bias, mean and (biased) var over `axes`; with
// numGroups G > 1 also over the channels of each of G groups of dim 1 (group norm). scale and bias (inputs 1,
// 2) have x's dtype and rank and broadcast to it.
registerLayerInference('normalization', (inputs, p) => {
  arity(inputs, 3);
  const x = input(inputs, 0);
  needFloat(x, 'input');
  const rank = x.shape.length;
  uniqueAxes(p.axes, rank, 'axis');
  if (!Number.isInteger(p.numGroups) || p.numGroups < 1) throw new RangeError(`numGroups must be a positive integer, got ${p.numGroups}`);
  if (!(p.eps >= 0)) throw new RangeError(`eps must be >= 0, got ${p.eps}`);
  if (p.numGroups > 1) {
    if (rank < 2 || x.shape[1] === -1 || x.shape[1]! % p.numGroups !== 0) throw new RangeError(`dim 1 of ${desc(x)} must be static and divisible by numGroups ${p.numGroups}`);
    if (p.axes.includes(0) || p.axes.includes(1)) throw new RangeError(`with numGroups > 1 the axes must not include dims 0 and 1, got [${p.axes.join(', ')}]`);
  } else if (p.axes.length === 0) {
    throw new RangeError('axes must not be empty');
  }
  for (const [i, name] of [[1, 'scale'], [2, 'bias']] as const) {
    const t = input(inputs, i);
    sameDType(x, t, name);
    sameRank(x, t, name);
    t.shape.forEach((d, j) => broadcastDim(x.shape[j]!, d, `${name} ${desc(t)} does not broadcast to ${desc(x)} at dim ${j}`));
  }
  return [{ dtype: x.dtype, shape: x.shape }];
});

// select: condition (bool) ? then : else, elementwise; equal ranks, size-1 dims broadcast; then/else share a dtype.
registerLayerInference('select', (inputs) => {
  arity(inputs, 3);
  const [c, a, b] = [input(inputs, 0), input(inputs, 1), input(inputs, 2)];
  if (c.dtype !== 'bool') throw new TypeError(`condition ${desc(c)} must be bool`);
  sameDType(a, b, 'select');
  return [{ dtype: a.dtype, shape: broadcastShapes([c, a, b], 'select') }];
});

// cast: converts to toType: floats round to nearest even, float → integer truncates toward zero,
// → bool is x != 0 (NaN is true), bool → numbers 0/1.
registerLayerInference('cast', (inputs, p) => {
  arity(inputs, 1);
  const x = input(inputs, 0);
  return [{ dtype: p.toType, shape: x.shape }];
});

// topk: the k largest ('max', descending) or smallest ('min', ascending) along `axis`, ties by lower index,
// NaN counts as the largest; outputs values (x's dtype) and int64 indices.
registerLayerInference('topk', (inputs, p) => {
  arity(inputs, 1);
  const x = input(inputs, 0);
  needNumeric(x, 'input');
  axisIn(p.axis, x.shape.length, 'axis');
  const size = x.shape[p.axis]!;
  if (!Number.isInteger(p.k) || p.k < 1 || (size !== -1 && p.k > size)) throw new RangeError(`k must be in 1..${size === -1 ? 'the dim size' : size}, got ${p.k}`);
  const shape = x.shape.map((d, i) => (i === p.axis ? p.k : d));
  return [{ dtype: x.dtype, shape }, { dtype: 'int64', shape }];
});

// quantize: q = saturate(round_half_even(x * float32(1 / scale)) + zeroPoint) in toType; x float, scale (input 1)
// float with one element (axis null) or [x.shape[axis]]; optional zeroPoint (input 2) of toType, scale's shape.
registerLayerInference('quantize', (inputs, p) => {
  arity(inputs, 2, 3);
  const x = input(inputs, 0);
  needFloat(x, 'input');
  quantParams(x, inputs, p.axis, p.toType);
  return [{ dtype: p.toType, shape: x.shape }];
});

// dequantize: y = (q - zeroPoint) * scale in toType; q int8/uint8/int32/float8e4m3, scale and zeroPoint as for
// quantize (zeroPoint of q's dtype; float8e4m3: zero point 0, so none).
registerLayerInference('dequantize', (inputs, p) => {
  arity(inputs, 2, 3);
  const q = input(inputs, 0);
  if (q.dtype !== 'int8' && q.dtype !== 'uint8' && q.dtype !== 'int32' && q.dtype !== 'float8e4m3') throw new TypeError(`input ${desc(q)} must be int8, uint8, int32 or float8e4m3`);
  quantParams(q, inputs, p.axis, q.dtype);
  return [{ dtype: p.toType, shape: q.shape }];
});

function quantParams(x: NetTensor, inputs: readonly NetTensor[], axis: number | null, zpType: DType): void {
  const scale = input(inputs, 1);
  needFloat(scale, 'scale');
  let want: number[];
  if (axis === null) {
    if (scale.shape.some((d) => d !== 1)) throw new RangeError(`per-tensor scale ${desc(scale)} must have one element`);
    want = [...scale.shape];
  } else {
    axisIn(axis, x.shape.length, 'axis');
    const c = x.shape[axis]!;
    if (c === -1) throw new RangeError(`the quantization axis ${axis} of ${desc(x)} must be static`);
    want = [c];
    if (scale.shape.length !== 1 || scale.shape[0] !== c) throw new RangeError(`per-channel scale ${desc(scale)} must be [${c}]`);
  }
  const zp = inputs[2];
  if (zp) {
    if (zp.dtype !== zpType) throw new TypeError(`zeroPoint ${desc(zp)} must be ${zpType}`);
    if (zp.shape.length !== want.length || zp.shape.some((d, i) => d !== want[i])) throw new RangeError(`zeroPoint ${desc(zp)} must have the scale's shape ${formatShape(want)}`);
  }
}

// identity: the input unchanged (same dtype; a dtype change is a cast).
registerLayerInference('identity', (inputs) => {
  arity(inputs, 1);
  const x = input(inputs, 0);
  return [{ dtype: x.dtype, shape: x.shape }];
});

// shape: the runtime dims of the input as an int64 vector [rank].
registerLayerInference('shape', (inputs) => {
  arity(inputs, 1);
  return [{ dtype: 'int64', shape: [input(inputs, 0).shape.length] }];
});

// parametric_relu: x >= 0 ? x : slope * x with slope (input 1, x's dtype and rank) broadcast to x.
registerLayerInference('parametric_relu', (inputs) => {
  arity(inputs, 2);
  const [x, slope] = [input(inputs, 0), input(inputs, 1)];
  needFloat(x, 'input');
  sameDType(x, slope, 'slope');
  sameRank(x, slope, 'slope');
  slope.shape.forEach((d, i) => broadcastDim(x.shape[i]!, d, `slope ${desc(slope)} does not broadcast to ${desc(x)} at dim ${i}`));
  return [{ dtype: x.dtype, shape: x.shape }];
});

// cumulative: running sum along `axis` (exclusive: without the element itself; reverse: from the end); same dtype.
registerLayerInference('cumulative', (inputs, p) => {
  arity(inputs, 1);
  const x = input(inputs, 0);
  needNumeric(x, 'input');
  axisIn(p.axis, x.shape.length, 'axis');
  return [{ dtype: x.dtype, shape: x.shape }];
});

// einsum: torch.einsum of the float inputs (one dtype) by `equation` (explicit or implicit output, '...',
// repeated subscripts take diagonals); dynamic dims must carry the same label size.
registerLayerInference('einsum', (inputs, p) => {
  if (inputs.length === 0) throw new RangeError('expects at least 1 input, got 0');
  for (const t of inputs) sameDType(inputs[0]!, t, 'einsum');
  const r = einsumMeta(p.equation, inputs);
  return [{ dtype: r.dtype, shape: r.shape }];
});

// attention: softmax(q @ k^T * scale + mask) @ v with q [..., L, E], k [..., S, E], v [..., S, Ev], optional
// mask (input 3: bool, false = masked out, or additive of q's dtype) broadcast to [..., L, S]; causal keeps
// keys j <= i; equal ranks, batch dims broadcast; fully masked rows give 0 → [..., L, Ev].
registerLayerInference('attention', (inputs, p) => {
  arity(inputs, 3, 4);
  const [q, k, v, mask] = [input(inputs, 0), input(inputs, 1), input(inputs, 2), inputs[3]];
  needFloat(q, 'query');
  sameDType(q, k, 'key');
  sameDType(q, v, 'value');
  if (!Number.isFinite(p.scale)) throw new RangeError(`scale must be finite, got ${p.scale}`);
  const rank = q.shape.length;
  if (rank < 2) throw new RangeError(`query ${desc(q)} needs at least 2 dims`);
  sameRank(q, k, 'key');
  sameRank(q, v, 'value');
  const L = q.shape[rank - 2]!;
  unify(q.shape[rank - 1]!, k.shape[rank - 1]!, `query ${desc(q)} and key ${desc(k)} feature dims differ`);
  const S = unify(k.shape[rank - 2]!, v.shape[rank - 2]!, `key ${desc(k)} and value ${desc(v)} lengths differ`);
  const batched = [q, k, v];
  if (mask) {
    if (p.causal) throw new RangeError('a mask and causal cannot both be set');
    if (mask.dtype !== 'bool' && mask.dtype !== q.dtype) throw new TypeError(`mask ${desc(mask)} must be bool or ${q.dtype}`);
    sameRank(q, mask, 'mask');
    broadcastDim(L, mask.shape[rank - 2]!, `mask ${desc(mask)} rows`);
    broadcastDim(S, mask.shape[rank - 1]!, `mask ${desc(mask)} columns`);
    batched.push(mask);
  }
  const batch = q.shape.slice(0, rank - 2).map((_, i) =>
    batched.reduce((d, t) => broadcastDim(d, t.shape[i]!, `batch dim ${i} of ${desc(t)}`), 1));
  return [{ dtype: q.dtype, shape: [...batch, L, v.shape[rank - 1]!] }];
});
