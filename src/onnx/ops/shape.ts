/**
 * ONNX shape and data-movement ops. Shape-valued inputs (Reshape's shape, Slice's starts, Expand's
 * shape, Split's sizes, ...) must be constants at import: initializers, Constant nodes, or shape
 * subgraphs (Shape → Gather → Concat → ...) that the importer folds because the shapes are static.
 */
import type { Emitter } from '../../acc_ops/mapping.js';
import { broadcastShapes } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { defineOnnxOp } from './define.js';
import {
  axisOf, checkImportSize, constInts, constScalar, ctxOf, input, inputs, int64Tensor, intAttr, intsAttr, isConstant, optConstInts, optIntAttr, rankOf, strAttr, tensorAttr,
} from './values.js';

const sameShape = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

// 0 copies the input's dim (unless allowzero=1); one -1 is inferred.
defineOnnxOp({
  opType: 'Reshape', inputs: ['data', 'shape'], attrs: { allowzero: 0 },
  map: (kw, e) => {
    const x = input(kw, 'data');
    const inShape = e.meta(x).shape;
    const allowZero = intAttr(kw, 'allowzero') === 1;
    const target = constInts(kw, 'shape').map((d, i) => {
      if (d !== 0 || allowZero) return d;
      if (i >= inShape.length) throw new RangeError(`shape entry ${i} is 0 (copy the input's dim) but the input has rank ${inShape.length}`);
      return inShape[i]!;
    });
    if (sameShape(target, inShape)) return x;
    return e.tensor('reshape', { input: x, shape: target });
  },
});

// Always 2-d: [prod(shape[:axis]), prod(shape[axis:])], written as flattens so no size is fixed.
defineOnnxOp({
  opType: 'Flatten', inputs: ['input'], attrs: { axis: 1 },
  map: (kw, e) => {
    const x = input(kw, 'input');
    const rank = rankOf(e, x);
    const a = intAttr(kw, 'axis');
    const axis = a < 0 ? a + rank : a;
    if (axis < 0 || axis > rank) throw new RangeError(`axis ${a} is out of range for rank ${rank}`);
    if (axis === 0) return e.tensor('unsqueeze', { input: e.tensor('flatten', { input: x, start_dim: 0, end_dim: -1 }), dim: 0 });
    if (axis === rank) return e.tensor('unsqueeze', { input: e.tensor('flatten', { input: x, start_dim: 0, end_dim: -1 }), dim: 1 });
    const tail = axis === rank - 1 ? x : e.tensor('flatten', { input: x, start_dim: axis, end_dim: -1 });
    return axis === 1 ? tail : e.tensor('flatten', { input: tail, start_dim: 0, end_dim: axis - 1 });
  },
});

defineOnnxOp({
  opType: 'Transpose', inputs: ['data'], attrs: { perm: null },
  map: (kw, e) => {
    const x = input(kw, 'data');
    const rank = rankOf(e, x);
    const perm = intsAttr(kw, 'perm') ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
    if (perm.every((p, i) => p === i)) return x;
    return e.tensor('permute', { input: x, permutation: perm });
  },
});

/** Axes from the attribute (opset < 13) or the optional input (13+). */
function axesArg(kw: Record<string, unknown>, inputName: string): number[] | null {
  return ctxOf(kw).opset < 13 ? intsAttr(kw, 'axes') : optConstInts(kw, inputName);
}

defineOnnxOp({
  opType: 'Squeeze', inputs: ['data', 'axes?'], attrs: { axes: null },
  map: (kw, e) => {
    const x = input(kw, 'data');
    const rank = rankOf(e, x);
    const axes = axesArg(kw, 'axes');
    if (axes === null || axes.length === 0) return e.tensor('squeeze', { input: x, dim: null });
    const dims = [...new Set(axes.map((a) => axisOf(a, rank, 'axes entry')))].sort((a, b) => b - a);
    let y = x;
    for (const d of dims) {
      if (e.meta(y).shape[d] !== 1) throw new RangeError(`cannot squeeze dim ${d} of size ${e.meta(y).shape[d]}`);
      y = e.tensor('squeeze', { input: y, dim: d });
    }
    return y;
  },
});

defineOnnxOp({
  opType: 'Unsqueeze', inputs: ['data', 'axes?'], attrs: { axes: null },
  map: (kw, e) => {
    const x = input(kw, 'data');
    const axes = axesArg(kw, 'axes');
    if (axes === null) throw new TypeError(`axes are required`);
    const outRank = rankOf(e, x) + axes.length;
    const dims = axes.map((a) => axisOf(a, outRank, 'axes entry')).sort((a, b) => a - b);
    if (new Set(dims).size !== dims.length) throw new RangeError(`axes [${axes.join(', ')}] repeat a dim`);
    let y = x;
    for (const d of dims) y = e.tensor('unsqueeze', { input: y, dim: d });
    return y;
  },
});

defineOnnxOp({
  opType: 'Concat', inputs: ['...inputs'], attrs: { axis: null },
  map: (kw, e) => {
    const xs = inputs(kw, 'inputs');
    if (xs.length === 1) return xs[0];
    return e.tensor('cat', { tensors: xs, dim: intAttr(kw, 'axis') });
  },
});

/** Sizes of Split's outputs: the listed sizes, or `parts` parts (equal; from opset 18 the last may be smaller). */
function splitSizes(total: number, sizes: number[] | null, parts: number, uneven: boolean): number[] {
  if (sizes !== null && sizes.length > 0) {
    if (sizes.reduce((a, b) => a + b, 0) !== total) throw new RangeError(`split sizes [${sizes.join(', ')}] do not add up to ${total}`);
    return sizes;
  }
  if (parts <= 0) throw new RangeError(`cannot split into ${parts} parts`);
  if (!uneven && total % parts !== 0) throw new RangeError(`dim of size ${total} does not split into ${parts} equal parts`);
  const size = Math.ceil(total / parts);
  return Array.from({ length: parts }, (_, i) => Math.max(0, Math.min(size, total - i * size)));
}

defineOnnxOp({
  opType: 'Split', inputs: ['input', 'split?'], attrs: { axis: 0, split: null, num_outputs: null },
  map: (kw, e) => {
    const x = input(kw, 'input');
    const ctx = ctxOf(kw);
    const dim = axisOf(intAttr(kw, 'axis'), rankOf(e, x));
    const given = ctx.opset < 13 ? intsAttr(kw, 'split') : optConstInts(kw, 'split');
    const numOutputs = optIntAttr(kw, 'num_outputs');
    const sizes = splitSizes(e.meta(x).shape[dim]!, given, numOutputs ?? ctx.numOutputs, numOutputs !== null);
    if (sizes.length === 1) return [x];
    return e.call('split', { input: x, split_size_or_sections: sizes, dim });
  },
});

/** ONNX Slice bounds for one axis, clamped as the spec says (they differ from Python's for negative steps). */
function sliceBounds(size: number, start: number, end: number, step: number): [number, number] {
  let s = start < 0 ? start + size : start;
  let t = end < 0 ? end + size : end;
  if (step > 0) {
    s = Math.min(Math.max(s, 0), size);
    t = Math.min(Math.max(t, 0), size);
  } else {
    s = Math.min(Math.max(s, 0), size - 1);
    t = Math.min(Math.max(t, -1), size - 1);
  }
  return [s, t];
}

defineOnnxOp({
  opType: 'Slice', inputs: ['data', 'starts?', 'ends?', 'axes?', 'steps?'], attrs: { starts: null, ends: null, axes: null },
  map: (kw, e) => {
    let y = input(kw, 'data');
    const old = ctxOf(kw).opset < 10;
    const starts = old ? intsAttr(kw, 'starts') : optConstInts(kw, 'starts');
    const ends = old ? intsAttr(kw, 'ends') : optConstInts(kw, 'ends');
    if (starts === null || ends === null) throw new TypeError(`starts and ends are required`);
    const rank = rankOf(e, y);
    const axes = (old ? intsAttr(kw, 'axes') : optConstInts(kw, 'axes')) ?? starts.map((_, i) => i);
    const steps = (old ? null : optConstInts(kw, 'steps')) ?? starts.map(() => 1);
    if (ends.length !== starts.length || axes.length !== starts.length || steps.length !== starts.length) {
      throw new RangeError(`starts, ends, axes and steps must have the same length (got ${starts.length}, ${ends.length}, ${axes.length}, ${steps.length})`);
    }
    for (let i = 0; i < starts.length; i++) {
      const dim = axisOf(axes[i]!, rank, 'axes entry');
      const size = e.meta(y).shape[dim]!;
      const step = steps[i]!;
      if (step === 0) throw new RangeError(`steps entry ${i} is 0`);
      const [s, t] = sliceBounds(size, starts[i]!, ends[i]!, step);
      if (step > 0) {
        if (s === 0 && t === size && step === 1) continue;
        y = e.tensor('slice', { input: y, dim, start: s, end: Math.max(s, t), step });
      } else {
        const picked: number[] = [];
        for (let j = s; j > t; j += step) picked.push(j);
        y = e.tensor('index_select', { input: y, dim, index: int64Tensor(picked) });
      }
    }
    return y;
  },
});

// Bidirectional broadcasting: the output shape is broadcast(input, shape).
defineOnnxOp({
  opType: 'Expand', inputs: ['input', 'shape'],
  map: (kw, e) => {
    const x = input(kw, 'input');
    const inShape = e.meta(x).shape;
    const out = broadcastShapes(inShape, constInts(kw, 'shape'));
    if (sameShape(out, inShape)) return x;
    if (isConstant(x)) checkImportSize(out, 'the expanded constant');
    return e.tensor('expand', { input: x, sizes: out });
  },
});

defineOnnxOp({
  opType: 'Tile', inputs: ['input', 'repeats'],
  map: (kw, e) => {
    const x = input(kw, 'input');
    const repeats = constInts(kw, 'repeats');
    if (repeats.length !== rankOf(e, x)) throw new RangeError(`repeats has ${repeats.length} entries for an input of rank ${rankOf(e, x)}`);
    if (repeats.every((r) => r === 1)) return x;
    if (isConstant(x)) checkImportSize(e.meta(x).shape.map((d, i) => d * repeats[i]!), 'the tiled constant');
    return e.tensor('tile', { input: x, dims: repeats });
  },
});

// Shapes are static at import, so Shape and Size are constants; this is what folds shape subgraphs.
defineOnnxOp({
  opType: 'Shape', inputs: ['data'], attrs: { start: 0, end: null },
  map: (kw, e) => {
    const shape = e.meta(input(kw, 'data')).shape;
    const r = shape.length;
    const clampDim = (d: number): number => Math.min(Math.max(d < 0 ? d + r : d, 0), r);
    const end = kw['end'] === null ? r : clampDim(intAttr(kw, 'end'));
    return int64Tensor(shape.slice(clampDim(intAttr(kw, 'start')), end));
  },
});

defineOnnxOp({
  opType: 'Size', inputs: ['data'],
  map: (kw, e) => int64Tensor([e.meta(input(kw, 'data')).shape.reduce((a, b) => a * b, 1)], []),
});

defineOnnxOp({
  opType: 'ConstantOfShape', inputs: ['input'], attrs: { value: null },
  map: (kw) => {
    const shape = constInts(kw, 'input');
    checkImportSize(shape, 'the constant');
    const fill = tensorAttr(kw, 'value') ?? Tensor.fromNumbers([0], [1], 'float32');
    if (fill.numel !== 1) throw new RangeError(`attribute 'value' must hold one element, got ${fill.numel}`);
    return Tensor.full(shape, fill.toFloat64()[0]!, fill.dtype);
  },
});

defineOnnxOp({
  opType: 'Constant', inputs: [],
  attrs: { value: null, value_float: null, value_floats: null, value_int: null, value_ints: null, sparse_value: null, value_string: null, value_strings: null },
  map: (kw) => {
    const v = tensorAttr(kw, 'value');
    if (v !== null) return v;
    if (typeof kw['value_float'] === 'number') return Tensor.fromNumbers([kw['value_float']], [], 'float32');
    if (typeof kw['value_int'] === 'number') return int64Tensor([kw['value_int']], []);
    const floats = kw['value_floats'];
    if (Array.isArray(floats)) return Tensor.fromNumbers(floats as number[], [floats.length], 'float32');
    const ints = kw['value_ints'];
    if (Array.isArray(ints)) return int64Tensor(ints as number[]);
    throw new TypeError(`only numeric values (value, value_float(s), value_int(s)) are supported; sparse and string constants are not`);
  },
});

defineOnnxOp({
  opType: 'Range', inputs: ['start', 'limit', 'delta'],
  map: (kw) => {
    const start = constScalar(kw, 'start');
    const limit = constScalar(kw, 'limit');
    const delta = constScalar(kw, 'delta');
    if (delta === 0) throw new RangeError(`delta must be nonzero`);
    const n = Math.max(Math.ceil((limit - start) / delta), 0);
    checkImportSize([n], 'the range');
    const values = new Float64Array(n);
    for (let i = 0; i < n; i++) values[i] = start + i * delta;
    return Tensor.fromNumbers(values, [n], input(kw, 'start').dtype);
  },
});

/** Constant indices made non-negative (ONNX allows -size..size-1). */
function normalizeIndices(t: Tensor, size: number): Tensor {
  const v = t.toFloat64();
  const out = new BigInt64Array(v.length);
  for (let i = 0; i < v.length; i++) {
    const j = v[i]! < 0 ? v[i]! + size : v[i]!;
    if (j < 0 || j >= size) throw new RangeError(`index ${v[i]} is out of range for a dim of size ${size}`);
    out[i] = BigInt(j);
  }
  return Tensor.fromStorage(out, t.shape, 'int64');
}

// out shape: data.shape[:axis] + indices.shape + data.shape[axis+1:]. A runtime index into a constant
// 2-d table along axis 0 is an embedding lookup (token embeddings).
defineOnnxOp({
  opType: 'Gather', inputs: ['data', 'indices'], attrs: { axis: 0 },
  map: (kw, e) => {
    const data = input(kw, 'data');
    let idx = input(kw, 'indices');
    const shape = e.meta(data).shape;
    const axis = axisOf(intAttr(kw, 'axis'), shape.length);
    const idxShape = e.meta(idx).shape;
    if (isConstant(idx)) {
      idx = normalizeIndices(idx, shape[axis]!);
      if (idxShape.length === 0) {
        const i = Number((idx.data as BigInt64Array)[0]!);
        return e.tensor('squeeze', { input: e.tensor('slice', { input: data, dim: axis, start: i, end: i + 1, step: 1 }), dim: axis });
      }
    } else if (axis === 0 && shape.length === 2 && isConstant(data)) {
      return e.tensor('embedding', { input: idx, weight: data, padding_idx: null });
    }
    if (idxShape.length === 1) return e.tensor('index_select', { input: data, dim: axis, index: idx });
    const flat = e.tensor('reshape', { input: idx, shape: [idxShape.reduce((a, b) => a * b, 1)] });
    const picked = e.tensor('index_select', { input: data, dim: axis, index: flat });
    return e.tensor('reshape', { input: picked, shape: [...shape.slice(0, axis), ...idxShape, ...shape.slice(axis + 1)] });
  },
});

defineOnnxOp({
  opType: 'GatherElements', inputs: ['data', 'indices'], attrs: { axis: 0 },
  map: (kw, e) => {
    const data = input(kw, 'data');
    const axis = axisOf(intAttr(kw, 'axis'), rankOf(e, data));
    let idx = input(kw, 'indices');
    if (isConstant(idx)) idx = normalizeIndices(idx, e.meta(data).shape[axis]!);
    return e.tensor('gather', { input: data, dim: axis, index: idx });
  },
});

/** [N, C, H, W] rearranged by reshape → permute → reshape (static sizes). */
function rearrange(e: Emitter, x: Tensor, split: number[], perm: number[], out: number[]): Tensor {
  const y = e.tensor('permute', { input: e.tensor('reshape', { input: x, shape: split }), permutation: perm });
  return e.tensor('reshape', { input: y, shape: out });
}

function nchw(e: Emitter, x: Tensor): [number, number, number, number] {
  const s = e.meta(x).shape;
  if (s.length !== 4) throw new RangeError(`expects a 4-d input [N, C, H, W], got rank ${s.length}`);
  return [s[0]!, s[1]!, s[2]!, s[3]!];
}

defineOnnxOp({
  opType: 'DepthToSpace', inputs: ['input'], attrs: { blocksize: null, mode: 'DCR' },
  map: (kw, e) => {
    const x = input(kw, 'input');
    const [n, c, h, w] = nchw(e, x);
    const b = intAttr(kw, 'blocksize');
    if (c % (b * b) !== 0) throw new RangeError(`channels ${c} are not divisible by blocksize^2 = ${b * b}`);
    const out = [n, c / (b * b), h * b, w * b];
    return strAttr(kw, 'mode') === 'CRD'
      ? rearrange(e, x, [n, c / (b * b), b, b, h, w], [0, 1, 4, 2, 5, 3], out)
      : rearrange(e, x, [n, b, b, c / (b * b), h, w], [0, 3, 4, 1, 5, 2], out);
  },
});

defineOnnxOp({
  opType: 'SpaceToDepth', inputs: ['input'], attrs: { blocksize: null },
  map: (kw, e) => {
    const x = input(kw, 'input');
    const [n, c, h, w] = nchw(e, x);
    const b = intAttr(kw, 'blocksize');
    if (h % b !== 0 || w % b !== 0) throw new RangeError(`spatial size ${h}x${w} is not divisible by blocksize ${b}`);
    return rearrange(e, x, [n, c, h / b, b, w / b, b], [0, 3, 5, 1, 2, 4], [n, c * b * b, h / b, w / b]);
  },
});

