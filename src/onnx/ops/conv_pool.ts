/**
 * ONNX convolutions and pools. ONNX pads are [x1_begin, x2_begin, ..., x1_end, x2_end] and may be
 * asymmetric (SAME_UPPER / SAME_LOWER auto padding, TF exports); the acc ops pad symmetrically, so
 * an asymmetric pad becomes an explicit acc.pad (zeros; -inf before max pools) in front of the op.
 */
import type { Emitter } from '../../acc_ops/mapping.js';
import type { Tensor } from '../../tensor/tensor.js';
import { defineOnnxOp, type OnnxKwargs } from './define.js';
import { input, intAttr, intsAttr, optInput, strAttr } from './values.js';

/** Kernel, stride, dilation and begin/end pads of a conv or pool, per spatial dim. */
interface Window {
  readonly kernel: number[];
  readonly strides: number[];
  readonly dilations: number[];
  readonly begin: number[];
  readonly end: number[];
}

function list(kw: OnnxKwargs, name: string, n: number, fill: number): number[] {
  const v = intsAttr(kw, name);
  if (v === null) return new Array<number>(n).fill(fill);
  if (v.length !== n) throw new RangeError(`attribute '${name}' needs ${n} values (one per spatial dim), got [${v.join(', ')}]`);
  return v;
}

/** Resolves auto_pad and pads for a forward window over spatial sizes `spatial`. */
function windowOf(kw: OnnxKwargs, spatial: readonly number[], kernel: number[], hasDilations = true): Window {
  const n = spatial.length;
  const strides = list(kw, 'strides', n, 1);
  const dilations = hasDilations ? list(kw, 'dilations', n, 1) : new Array<number>(n).fill(1);
  const autoPad = strAttr(kw, 'auto_pad');
  let begin: number[];
  let end: number[];
  if (autoPad === 'NOTSET') {
    const pads = list(kw, 'pads', 2 * n, 0);
    begin = pads.slice(0, n);
    end = pads.slice(n);
  } else if (autoPad === 'VALID') {
    begin = new Array<number>(n).fill(0);
    end = new Array<number>(n).fill(0);
  } else if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    begin = [];
    end = [];
    for (let i = 0; i < n; i++) {
      const out = Math.ceil(spatial[i]! / strides[i]!);
      const total = Math.max(0, (out - 1) * strides[i]! + (kernel[i]! - 1) * dilations[i]! + 1 - spatial[i]!);
      const small = Math.floor(total / 2);
      begin.push(autoPad === 'SAME_UPPER' ? small : total - small);
      end.push(autoPad === 'SAME_UPPER' ? total - small : small);
    }
  } else {
    throw new RangeError(`attribute 'auto_pad' must be NOTSET, SAME_UPPER, SAME_LOWER or VALID, got '${autoPad}'`);
  }
  if ([...begin, ...end].some((p) => p < 0)) throw new RangeError(`negative pads [${[...begin, ...end].join(', ')}] are not supported`);
  return { kernel, strides, dilations, begin, end };
}

/** acc.pad's list (last spatial dim first) for begin/end pads of the spatial dims. */
function accPadList(begin: readonly number[], end: readonly number[]): number[] {
  const out: number[] = [];
  for (let i = begin.length - 1; i >= 0; i--) out.push(begin[i]!, end[i]!);
  return out;
}

const symmetric = (w: Window): boolean => w.begin.every((b, i) => b === w.end[i]);

function spatialRank(e: Emitter, x: Tensor): 1 | 2 | 3 {
  const n = e.meta(x).shape.length - 2;
  if (n !== 1 && n !== 2 && n !== 3) throw new RangeError(`expects a 3-d, 4-d or 5-d input [N, C, ...], got rank ${n + 2}`);
  return n;
}

const CONV_ATTRS = { auto_pad: 'NOTSET', dilations: null, group: 1, kernel_shape: null, pads: null, strides: null };

defineOnnxOp({
  opType: 'Conv', inputs: ['X', 'W', 'B?'], attrs: CONV_ATTRS,
  map: (kw, e) => {
    let x = input(kw, 'X');
    const w = input(kw, 'W');
    const n = spatialRank(e, x);
    const shape = e.meta(x).shape;
    const kernel = intsAttr(kw, 'kernel_shape') ?? e.meta(w).shape.slice(2);
    const win = windowOf(kw, shape.slice(2), kernel);
    let padding = win.begin;
    if (!symmetric(win)) {
      x = e.tensor('pad', { input: x, pad: accPadList(win.begin, win.end), mode: 'constant', value: 0 });
      padding = new Array<number>(n).fill(0);
    }
    return e.tensor(`conv${n}d`, {
      input: x, weight: w, bias: optInput(kw, 'B'), stride: win.strides, padding, dilation: win.dilations, groups: intAttr(kw, 'group'),
    });
  },
});

// Output size: stride*(in-1) + output_padding + dilation*(k-1) + 1 - pad_begin - pad_end. Asymmetric pads
// crop the difference with a slice after a transposed conv padded by the smaller side.
defineOnnxOp({
  opType: 'ConvTranspose', inputs: ['X', 'W', 'B?'], attrs: { ...CONV_ATTRS, output_padding: null, output_shape: null },
  map: (kw, e) => {
    const x = input(kw, 'X');
    const w = input(kw, 'W');
    const n = spatialRank(e, x);
    const spatial = e.meta(x).shape.slice(2);
    const kernel = intsAttr(kw, 'kernel_shape') ?? e.meta(w).shape.slice(2);
    const strides = list(kw, 'strides', n, 1);
    const dilations = list(kw, 'dilations', n, 1);
    const outPad = list(kw, 'output_padding', n, 0);
    const outputShape = intsAttr(kw, 'output_shape');
    const autoPad = strAttr(kw, 'auto_pad');
    let begin: number[];
    let end: number[];
    const full = spatial.map((s, i) => strides[i]! * (s - 1) + outPad[i]! + (kernel[i]! - 1) * dilations[i]! + 1);
    if (outputShape !== null || autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
      const target = outputShape?.slice(-n) ?? spatial.map((s, i) => s * strides[i]!);
      const total = full.map((f, i) => f - target[i]!);
      const upper = autoPad !== 'SAME_LOWER';
      begin = total.map((t) => (upper ? Math.floor(t / 2) : t - Math.floor(t / 2)));
      end = total.map((t, i) => t - begin[i]!);
    } else if (autoPad === 'VALID') {
      begin = new Array<number>(n).fill(0);
      end = new Array<number>(n).fill(0);
    } else {
      const pads = list(kw, 'pads', 2 * n, 0);
      begin = pads.slice(0, n);
      end = pads.slice(n);
    }
    if ([...begin, ...end].some((p) => p < 0)) throw new RangeError(`negative pads [${[...begin, ...end].join(', ')}] are not supported`);
    const padding = begin.map((b, i) => Math.min(b, end[i]!));
    let y = e.tensor(`conv_transpose${n}d`, {
      input: x, weight: w, bias: optInput(kw, 'B'), stride: strides, padding, output_padding: outPad,
      groups: intAttr(kw, 'group'), dilation: dilations,
    });
    for (let i = 0; i < n; i++) {
      const extraBegin = begin[i]! - padding[i]!;
      const extraEnd = end[i]! - padding[i]!;
      if (extraBegin === 0 && extraEnd === 0) continue;
      const size = e.meta(y).shape[i + 2]!;
      y = e.tensor('slice', { input: y, dim: i + 2, start: extraBegin, end: size - extraEnd, step: 1 });
    }
    return y;
  },
});

const POOL_ATTRS = { auto_pad: 'NOTSET', ceil_mode: 0, kernel_shape: null, pads: null, strides: null };

/** PyTorch pools need pads of at most half the kernel on both sides alike; others pad explicitly. */
function poolPadding(e: Emitter, x: Tensor, win: Window, fill: number): { x: Tensor; padding: number[] } {
  const fits = symmetric(win) && win.begin.every((p, i) => p <= Math.floor(win.kernel[i]! / 2));
  if (fits) return { x, padding: win.begin };
  const padded = e.tensor('pad', { input: x, pad: accPadList(win.begin, win.end), mode: 'constant', value: fill });
  return { x: padded, padding: new Array<number>(win.begin.length).fill(0) };
}

function kernelOf(kw: OnnxKwargs): number[] {
  const k = intsAttr(kw, 'kernel_shape');
  if (k === null) throw new TypeError(`attribute 'kernel_shape' is required`);
  return k;
}

defineOnnxOp({
  opType: 'MaxPool', inputs: ['X'], attrs: { ...POOL_ATTRS, dilations: null, storage_order: 0 },
  map: (kw, e) => {
    const x0 = input(kw, 'X');
    const n = spatialRank(e, x0);
    const win = windowOf(kw, e.meta(x0).shape.slice(2), kernelOf(kw));
    const { x, padding } = poolPadding(e, x0, win, -Infinity);
    const y = e.tensor(`max_pool${n}d`, {
      input: x, kernel_size: win.kernel, stride: win.strides, padding, dilation: win.dilations, ceil_mode: intAttr(kw, 'ceil_mode') === 1,
    });
    return [y, null];
  },
});

defineOnnxOp({
  opType: 'AveragePool', inputs: ['X'], attrs: { ...POOL_ATTRS, count_include_pad: 0, dilations: null },
  map: (kw, e) => {
    const x0 = input(kw, 'X');
    const n = spatialRank(e, x0);
    const win = windowOf(kw, e.meta(x0).shape.slice(2), kernelOf(kw));
    if (win.dilations.some((d) => d !== 1)) throw new RangeError(`dilated average pooling is not supported (dilations [${win.dilations.join(', ')}])`);
    const includePad = intAttr(kw, 'count_include_pad') === 1;
    const fits = symmetric(win) && win.begin.every((p, i) => p <= Math.floor(win.kernel[i]! / 2));
    if (!fits && !includePad && win.begin.some((p, i) => p !== 0 || win.end[i] !== 0)) {
      throw new RangeError(`asymmetric or oversized pads [${[...win.begin, ...win.end].join(', ')}] with count_include_pad=0 are not supported`);
    }
    const { x, padding } = poolPadding(e, x0, win, 0);
    return e.tensor(`avg_pool${n}d`, {
      input: x, kernel_size: win.kernel, stride: win.strides, padding, ceil_mode: intAttr(kw, 'ceil_mode') === 1,
      count_include_pad: includePad, divisor_override: null,
    });
  },
});

defineOnnxOp({
  opType: 'GlobalAveragePool', inputs: ['X'],
  map: (kw, e) => {
    const x = input(kw, 'X');
    const n = spatialRank(e, x);
    return e.tensor(`adaptive_avg_pool${n}d`, { input: x, output_size: new Array<number>(n).fill(1) });
  },
});

defineOnnxOp({
  opType: 'GlobalMaxPool', inputs: ['X'],
  map: (kw, e) => {
    const x = input(kw, 'X');
    const n = spatialRank(e, x);
    if (n === 2) return e.tensor('adaptive_max_pool2d', { input: x, output_size: [1, 1] });
    return e.tensor('amax', { input: x, dim: Array.from({ length: n }, (_, i) => i + 2), keepdim: true });
  },
});
