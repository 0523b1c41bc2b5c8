/**
 * Reference kernels of the layers that move elements: shuffle, concatenation, slice, gather,
 * padding, resize and shape, on the shape/index/pad_resize reference kernels. Elements move as
 * raw words, so every dtype is copied bit for bit.
 */
import { gather as gatherElements, indexSelect } from '../../kernels/reference/index.js';
import { interpolate, pad, type InterpolateMode } from '../../kernels/reference/pad_resize.js';
import { cat, permute, reshape, wordsOf } from '../../kernels/reference/shape.js';
import { allocStorage } from '../../tensor/dtype.js';
import { contiguousStrides, formatShape, normDim, numelOf } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import type { SliceMode } from '../network.js';
import { inputAt, ReferenceKernelError, torchPadList, type LayerCall, type LayerKernels } from './layer_kernel.js';

type DataKinds = 'shuffle' | 'concatenation' | 'slice' | 'gather' | 'padding' | 'resize' | 'shape';

/** Transpose, reshape (0 copies the dim at that position, -1 is inferred), transpose. */
function shuffle(call: LayerCall<'shuffle'>): Tensor[] {
  const { firstTranspose, reshape: dims, secondTranspose } = call.params;
  let t = inputAt(call, 0, 'input');
  if (firstTranspose) t = permute(t, firstTranspose);
  if (dims) {
    const cur = t.shape;
    t = reshape(t, dims.map((d, i) => (d === 0 ? cur[i]! : d)));
  }
  if (secondTranspose) t = permute(t, secondTranspose);
  return [t];
}

function concatenation(call: LayerCall<'concatenation'>): Tensor[] {
  return [cat(call.inputs, call.params.axis)];
}

/** Source index along one dim of input size `n` for position `idx`, by slice mode; -1 means the fill value. */
function sliceIndex(idx: number, n: number, mode: SliceMode): number {
  switch (mode) {
    case 'default': return idx >= 0 && idx < n ? idx : -2;
    case 'fill': return idx >= 0 && idx < n ? idx : -1;
    case 'clamp': return Math.min(Math.max(idx, 0), n - 1);
    case 'wrap': return ((idx % n) + n) % n;
    case 'reflect': {
      if (n === 1) return 0;
      const period = 2 * (n - 1);
      const m = ((idx % period) + period) % period;
      return m < n ? m : period - m;
    }
  }
}

/**
 * TensorRT's slice: output index i of dim d reads input start[d] + i * stride[d] (strides may
 * be negative); out-of-range positions follow `mode` (fill, clamp, reflect, wrap; an error by
 * default). The output sizes are the step's resolved output shape.
 */
function slice(call: LayerCall<'slice'>): Tensor[] {
  const x = inputAt(call, 0, 'input');
  const { start, stride, mode, fillValue } = call.params;
  const outShape = call.outputs[0]!.shape;
  const inShape = x.shape;
  if (start.length !== x.rank || stride.length !== x.rank || outShape.length !== x.rank) {
    throw new ReferenceKernelError(`step '${call.name}': start/stride/size need one entry per dim of input ${formatShape(inShape)}`);
  }
  const maps = outShape.map((size, d) => {
    const map = new Int32Array(size);
    for (let i = 0; i < size; i++) {
      const src = sliceIndex(start[d]! + i * stride[d]!, inShape[d]!, mode);
      if (src === -2) {
        throw new ReferenceKernelError(`step '${call.name}': slice reads index ${start[d]! + i * stride[d]!} of dim ${d} (size ${inShape[d]}) with mode 'default'`);
      }
      map[i] = src;
    }
    return map;
  });
  const data = allocStorage(x.dtype, numelOf(outShape));
  const src = wordsOf(x.data);
  const dst = wordsOf(data).data;
  const fill = wordsOf(Tensor.fromNumbers([fillValue], [1], x.dtype).data).data;
  const k = src.perElement;
  const inStrides = contiguousStrides(inShape);
  const n = numelOf(outShape);
  const rank = outShape.length;
  const idx = new Array<number>(rank).fill(0);
  for (let o = 0; o < n; o++) {
    let from = 0;
    for (let d = 0; d < rank && from >= 0; d++) {
      const m = maps[d]![idx[d]!]!;
      from = m < 0 ? -1 : from + m * inStrides[d]!;
    }
    for (let w = 0; w < k; w++) dst[o * k + w] = from < 0 ? fill[w]! : src.data[from * k + w]!;
    for (let d = rank - 1; d >= 0; d--) {
      if (++idx[d]! < outShape[d]!) break;
      idx[d] = 0;
    }
  }
  return [new Tensor(data, outShape, x.dtype)];
}

/** Indices with negative values counted from the end of a dim of `size`, as an int32 tensor. */
function normalizedIndices(name: string, index: Tensor, size: number): Tensor {
  if (index.dtype !== 'int32' && index.dtype !== 'int64') {
    throw new ReferenceKernelError(`step '${name}': indices must be int32 or int64, got ${index.dtype}`);
  }
  const v = index.toFloat64();
  const out = new Int32Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = v[i]! < 0 ? v[i]! + size : v[i]!;
  return Tensor.fromStorage(out, index.shape, 'int32');
}

/**
 * 'default': out = data[..., indices[...], ...] along `axis` (output dims: data's before the axis,
 * the indices', data's after); 'element': torch.gather. Negative indices count from the end.
 */
function gather(call: LayerCall<'gather'>): Tensor[] {
  const data = inputAt(call, 0, 'data');
  const axis = normDim(call.params.axis, data.rank, `step '${call.name}': axis`);
  const index = normalizedIndices(call.name, inputAt(call, 1, 'indices'), data.shape[axis]!);
  if (call.params.mode === 'element') return [gatherElements(data, axis, index)];
  const picked = indexSelect(data, axis, index.withShape([index.numel]));
  const shape = [...data.shape.slice(0, axis), ...index.shape, ...data.shape.slice(axis + 1)];
  return [picked.withShape(shape)];
}

/** Constant padding of the trailing prePadding.length dims (negative values crop). */
function padding(call: LayerCall<'padding'>): Tensor[] {
  const { prePadding, postPadding, value } = call.params;
  return [pad(inputAt(call, 0, 'input'), torchPadList(prePadding, postPadding), 'constant', value)];
}

const LINEAR_MODES: Record<number, InterpolateMode> = { 3: 'linear', 4: 'bilinear', 5: 'trilinear' };

/**
 * Resize of the spatial dims (after [N, C]) in PyTorch's interpolate forms: nearest (floor,
 * asymmetric), nearest-exact (half_up, half_pixel), (bi/tri)linear with align_corners or
 * half_pixel, bicubic. With `scales`, PyTorch's scale-factor index mapping is used.
 */
function resize(call: LayerCall<'resize'>): Tensor[] {
  const x = inputAt(call, 0, 'input');
  const p = call.params;
  const rank = x.rank;
  let mode: InterpolateMode | undefined;
  if (p.mode === 'nearest') mode = p.round === 'floor' && p.coordinates === 'asymmetric' ? 'nearest' : p.round === 'half_up' && p.coordinates === 'half_pixel' ? 'nearest-exact' : undefined;
  else if (p.mode === 'linear' && p.coordinates !== 'asymmetric') mode = LINEAR_MODES[rank];
  else if (p.mode === 'cubic' && p.coordinates !== 'asymmetric' && rank === 4) mode = 'bicubic';
  if (mode === undefined) {
    throw new ReferenceKernelError(`step '${call.name}': resize mode '${p.mode}' with coordinates '${p.coordinates}' and round '${p.round}' on a rank-${rank} input is not supported by the reference backend`);
  }
  const alignCorners = mode === 'nearest' || mode === 'nearest-exact' ? null : p.coordinates === 'align_corners';
  const scales = p.scales === null ? null : p.scales.length === rank ? p.scales.slice(2) : p.scales;
  const size = scales === null ? call.outputs[0]!.shape.slice(2) : null;
  return [interpolate(x, { size, scaleFactor: scales, mode, alignCorners })];
}

function shape(call: LayerCall<'shape'>): Tensor[] {
  const x = inputAt(call, 0, 'input');
  return [Tensor.fromNumbers(x.shape, [x.rank], call.outputs[0]!.dtype)];
}

/** Reference kernels of the data movement layers. */
export const DATA_KERNELS: LayerKernels<DataKinds> = { shuffle, concatenation, slice, gather, padding, resize, shape };
