/**
 * Lowering of the steps that select elements by index, each to one native op (exec_spec.ts
 * IndexOpSpec) that computes what the reference backend computes (src/engine/reference/
 * layers_data.ts and layers_reduce.ts): gather in both modes, slices that read past the edges
 * (fill, clamp, reflect, wrap) and constant padding (a fill-mode slice: one kernel writes every
 * output element once, which moves fewer bytes than filling the output and copying the interior
 * over it, in one launch instead of one per padded side), resize, topk and cumulative sums.
 * Gather, slices and resize read and write any layout and walk the output in its memory order.
 */
import type { LayerStepOf } from '../../../engine/plan.js';
import { splitAtDim } from '../../../kernels/reference/broadcast.js';
import { areaScale } from '../../../kernels/reference/pad_resize.js';
import { itemSize, type DType } from '../../../tensor/dtype.js';
import { formatShape, normDim, numelOf, shapesEqual } from '../../../tensor/shape.js';
import { Tensor } from '../../../tensor/tensor.js';
import type { NativeOpSpec } from '../exec_spec.js';
import { notImplemented } from '../step_support.js';
import { coalesce, walkOrder } from '../strided.js';
import { copyOp, lowerSlice } from './data.js';
import { floatOf, offsetRef, viewOf, type Operand, type Operands } from './operands.js';

type MapMode = 'fill' | 'clamp' | 'reflect' | 'wrap';

/** Output index i of one dim reads source index start + i * stride (before the mode's mapping). */
interface MapDim {
  readonly start: number;
  readonly stride: number;
}

function indexDtypeOf(o: Operand, what: string): 'int32' | 'int64' {
  if (o.dtype !== 'int32' && o.dtype !== 'int64') throw new TypeError(`${what} must be int32 or int64, got ${o.dtype}`);
  return o.dtype;
}

function sameDtype(out: Operand, x: Operand, what: string): void {
  if (out.dtype !== x.dtype) throw new TypeError(`${what}: the output is ${out.dtype} but the input is ${x.dtype}`);
}

/** `value` stored as `dtype` the way the reference stores it, as the low and high halves of its little-endian bits. */
function fillWord(value: number, dtype: DType): { wordLo: number; wordHi: number } {
  const word = new Uint8Array(8);
  word.set(Tensor.fromNumbers([value], [1], dtype).bytes());
  const bits = new DataView(word.buffer);
  return { wordLo: bits.getUint32(0, true), wordHi: bits.getUint32(4, true) };
}

/**
 * out[i] = x[map(start + i * stride)] per dim (`dims` per logical dim of x): a strided copy when
 * every index read is in range (then every mode reads the same), else the slice kernel.
 */
function indexMapOps(index: number, what: string, x: Operand, out: Operand, dims: readonly MapDim[], mode: MapMode, fill: number): NativeOpSpec[] {
  sameDtype(out, x, what);
  if (numelOf(out.shape) === 0) return [];
  const inRange = out.shape.every((n, d) => {
    const { start, stride } = dims[d]!;
    const last = start + (n - 1) * stride;
    return start >= 0 && start < x.shape[d]! && last >= 0 && last < x.shape[d]!;
  });
  if (inRange) {
    let offset = 0;
    const strides = dims.map((m, d) => {
      offset += m.start * x.strides[d]!;
      return m.stride * x.strides[d]!;
    });
    return [copyOp(index, itemSize(x.dtype), offsetRef(x.ref, offset, x.dtype), { shape: out.shape, strides }, out.ref, viewOf(out))];
  }
  if (mode !== 'fill') {
    const empty = x.shape.findIndex((n) => n === 0);
    if (empty >= 0) throw new RangeError(`${what}: mode '${mode}' cannot read from the empty dim ${empty} of input ${formatShape(x.shape)}`);
  }
  // The output's memory order; whole dims (start 0, stride 1, the input's size) merge where both layouts allow.
  const shape: number[] = [];
  const dstStrides: number[] = [];
  const srcStrides: number[] = [];
  const start: number[] = [];
  const stride: number[] = [];
  const srcSize: number[] = [];
  const whole: boolean[] = [];
  for (const d of walkOrder(out.strides)) {
    const n = out.shape[d]!;
    const m = dims[d]!;
    const isWhole = m.start === 0 && m.stride === 1 && n === x.shape[d];
    if (isWhole && n === 1) continue;
    const last = shape.length - 1;
    if (isWhole && last >= 0 && whole[last] && dstStrides[last] === out.strides[d]! * n && srcStrides[last] === x.strides[d]! * n) {
      shape[last] = shape[last]! * n;
      srcSize[last] = srcSize[last]! * n;
      dstStrides[last] = out.strides[d]!;
      srcStrides[last] = x.strides[d]!;
      continue;
    }
    shape.push(n);
    dstStrides.push(out.strides[d]!);
    srcStrides.push(x.strides[d]!);
    start.push(m.start);
    stride.push(m.stride);
    srcSize.push(x.shape[d]!);
    whole.push(isWhole);
  }
  return [{
    step: index, op: 'slice_map', elemBytes: itemSize(x.dtype), mode, shape,
    src: x.ref, srcStrides, srcSize, start, stride, dst: out.ref, dstStrides, ...fillWord(fill, x.dtype),
  }];
}

/** TensorRT's slice in every mode; 'default' (and any slice that stays in range) is a strided copy. */
export function lowerSliceStep(ops: Operands, index: number, step: LayerStepOf<'slice'>): NativeOpSpec[] {
  const { start, stride, size, mode, fillValue } = step.params;
  if (mode === 'default') return lowerSlice(ops, index, step);
  const x = ops.input(index, 0);
  const out = ops.output(index);
  const rank = x.shape.length;
  if (start.length !== rank || stride.length !== rank || size.length !== rank) {
    throw new RangeError(`step '${step.name}': start/size/stride need one entry per dim of input ${formatShape(x.shape)}`);
  }
  const dims = size.map((s, d): MapDim => (s === -1 ? { start: 0, stride: 1 } : { start: start[d]!, stride: stride[d]! }));
  return indexMapOps(index, `step '${step.name}'`, x, out, dims, mode, fillValue);
}

/** Constant padding of the trailing dims: output index j reads input j - pre (negative paddings crop). */
export function lowerPadding(ops: Operands, index: number, step: LayerStepOf<'padding'>): NativeOpSpec[] {
  const what = `step '${step.name}'`;
  const x = ops.input(index, 0);
  const out = ops.output(index);
  const { prePadding, postPadding, value } = step.params;
  const lead = x.shape.length - prePadding.length;
  if (lead < 0 || postPadding.length !== prePadding.length) {
    throw new RangeError(`${what}: prePadding/postPadding [${prePadding.join(', ')}]/[${postPadding.join(', ')}] do not fit input ${formatShape(x.shape)}`);
  }
  const want = x.shape.map((n, d) => (d < lead ? n : n + prePadding[d - lead]! + postPadding[d - lead]!));
  if (!shapesEqual(want, out.shape)) throw new RangeError(`${what}: output ${formatShape(out.shape)} is not the padded input ${formatShape(want)}`);
  const dims = x.shape.map((_, d): MapDim => ({ start: d < lead ? 0 : -prePadding[d - lead]!, stride: 1 }));
  return indexMapOps(index, what, x, out, dims, 'fill', value);
}

/**
 * Gather. 'default': out = data[..., indices[j...], ...] along the axis (out dims: data's before
 * the axis, the indices', data's after); 'element': torch.gather (out has the indices' shape).
 * Index dims get data stride 0, data dims index stride 0 (element mode: the axis data stride 0).
 * An index out of range fails the run, as on the reference backend: the kernel reports it
 * through the context's data error record, located by the indices' own view.
 */
export function lowerGather(ops: Operands, index: number, step: LayerStepOf<'gather'>): NativeOpSpec[] {
  const what = `step '${step.name}'`;
  const data = ops.input(index, 0);
  const idx = ops.input(index, 1);
  const out = ops.output(index);
  sameDtype(out, data, what);
  const indexDtype = indexDtypeOf(idx, `${what}: the indices`);
  const rank = data.shape.length;
  const axis = normDim(step.params.axis, rank, `${what}: axis`);
  let expected: number[];
  let dataStrides: number[];
  let indexStrides: number[];
  if (step.params.mode === 'default') {
    expected = [...data.shape.slice(0, axis), ...idx.shape, ...data.shape.slice(axis + 1)];
    dataStrides = [...data.strides.slice(0, axis), ...idx.shape.map(() => 0), ...data.strides.slice(axis + 1)];
    indexStrides = [...data.shape.slice(0, axis).map(() => 0), ...idx.strides, ...data.shape.slice(axis + 1).map(() => 0)];
  } else {
    if (idx.shape.length !== rank) throw new RangeError(`${what}: element gather needs indices of the data's rank ${rank}, got ${formatShape(idx.shape)}`);
    idx.shape.forEach((n, d) => {
      if (d !== axis && n > data.shape[d]!) {
        throw new RangeError(`${what}: indices ${formatShape(idx.shape)} are larger than data ${formatShape(data.shape)} at dim ${d}`);
      }
    });
    expected = [...idx.shape];
    dataStrides = data.strides.map((s, d) => (d === axis ? 0 : s));
    indexStrides = [...idx.strides];
  }
  if (!shapesEqual(expected, out.shape)) throw new RangeError(`${what}: output ${formatShape(out.shape)} should be ${formatShape(expected)}`);
  const order = walkOrder(out.strides);
  const c = coalesce(order.map((d) => out.shape[d]!), [out.strides, dataStrides, indexStrides].map((s) => order.map((d) => s[d]!)));
  return [{
    step: index, op: 'gather', elemBytes: itemSize(data.dtype), indexDtype, shape: c.shape,
    data: data.ref, dataStrides: c.strides[1]!, axisStride: data.strides[axis]!, axisSize: data.shape[axis]!,
    index: idx.ref, indexStrides: c.strides[2]!, out: out.ref, outStrides: c.strides[0]!, indexView: viewOf(idx), axis,
  }];
}

/** The float32 value `v` as its bit pattern. */
function float32Bits(v: number): number {
  return new Uint32Array(Float32Array.of(v).buffer)[0]!;
}

/**
 * Resize of the spatial dims (after [N, C]) in the forms the reference runs: nearest (floor with
 * asymmetric coordinates, half_up with half_pixel), linear over 1 to 3 spatial dims and cubic
 * over 2, with align_corners or half_pixel coordinates. The per-dim source-index ratio is
 * the reference's own (areaScale: PyTorch's area_pixel_compute_scale).
 */
export function lowerResize(ops: Operands, index: number, step: LayerStepOf<'resize'>): NativeOpSpec[] {
  const what = `step '${step.name}'`;
  const x = ops.input(index, 0);
  const y = ops.output(index);
  const p = step.params;
  const rank = x.shape.length;
  sameDtype(y, x, what);
  if (rank < 3 || rank > 5) notImplemented(step, `a resize of a rank-${rank} tensor (only [N, C, ...] with 1 to 3 spatial dims)`);
  if (p.mode === 'cubic' && rank !== 4) notImplemented(step, `a cubic resize of a rank-${rank} tensor (only [N, C, H, W])`);
  if (y.shape[0] !== x.shape[0] || y.shape[1] !== x.shape[1]) notImplemented(step, `a resize of ${formatShape(x.shape)} to ${formatShape(y.shape)} that changes dims 0 or 1 (N, C)`);
  if (p.mode !== 'nearest') floatOf(x.dtype, `${what}: a ${p.mode} resize's input`);
  const alignCorners = p.mode !== 'nearest' && p.coordinates === 'align_corners';
  const scaleBits = x.shape.slice(2).map((inSize, i) => {
    const outSize = y.shape[i + 2]!;
    const given = p.scales === null ? null : p.scales[i + 2]!;
    if (given !== null && Math.floor(inSize * given) !== outSize) {
      throw new RangeError(`${what}: scale ${given} of dim ${i + 2} resizes ${inSize} elements to ${Math.floor(inSize * given)}, but the output has ${outSize}`);
    }
    return float32Bits(areaScale(inSize, outSize, alignCorners, given));
  });
  const kind = p.mode === 'nearest' ? (p.round === 'floor' ? 'nearest_floor' : 'nearest_half_up') : p.mode;
  return [{
    step: index, op: 'resize', dtype: x.dtype, kind, alignCorners, channelsLast: y.layout === 'nhwc',
    x: x.ref, inShape: x.shape, xStrides: x.strides, y: y.ref, outShape: y.shape, yStrides: y.strides, scaleBits,
  }];
}

/** The k largest ('max') or smallest ('min') elements along the axis and their indices, in the reference's order. */
export function lowerTopk(ops: Operands, index: number, step: LayerStepOf<'topk'>): NativeOpSpec[] {
  const what = `step '${step.name}'`;
  const x = ops.input(index, 0);
  const values = ops.output(index, 0);
  const indices = ops.output(index, 1);
  sameDtype(values, x, what);
  if (x.dtype === 'int64' || x.dtype === 'bool') notImplemented(step, `topk over ${x.dtype} data`);
  const indexDtype = indexDtypeOf(indices, `${what}: the indices output`);
  const { k, axis, op } = step.params;
  const { outer, size, inner } = splitAtDim(x.shape, normDim(axis, x.shape.length, `${what}: axis`));
  if (k > size) throw new RangeError(`${what}: k = ${k} exceeds the ${size} elements of dim ${axis} of input ${formatShape(x.shape)}`);
  if (size >= 2 ** 31) notImplemented(step, `topk along a dim of ${size} elements (at most 2^31 - 1)`);
  return [{
    step: index, op: 'topk', dtype: x.dtype, indexDtype, largest: op === 'max', outer, size, inner, k,
    x: x.ref, values: values.ref, indices: indices.ref,
  }];
}

/** Running sum along the axis (exclusive: without the element itself; reverse: from the end). */
export function lowerCumulative(ops: Operands, index: number, step: LayerStepOf<'cumulative'>): NativeOpSpec[] {
  const what = `step '${step.name}'`;
  const x = ops.input(index, 0);
  const y = ops.output(index);
  sameDtype(y, x, what);
  if (x.dtype === 'bool') throw new TypeError(`${what}: a cumulative sum needs numeric data, got bool`);
  const { axis, exclusive, reverse } = step.params;
  const { outer, size, inner } = splitAtDim(x.shape, normDim(axis, x.shape.length, `${what}: axis`));
  return [{ step: index, op: 'cumsum', dtype: x.dtype, outer, size, inner, exclusive, reverse, x: x.ref, y: y.ref }];
}
