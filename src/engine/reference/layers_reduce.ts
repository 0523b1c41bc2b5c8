/**
 * Reference kernels of the layers that reduce over windows or dims: pooling, reduce, softmax,
 * topk, cumulative and normalization, on the pool/reduce/norm reference kernels. Statistics
 * accumulate in float64 (the kernels' choice); results are rounded once to the output dtype.
 */
import { binaryKernel, castKernel } from '../../kernels/reference/elementwise.js';
import { layerNorm } from '../../kernels/reference/norm.js';
import { pad } from '../../kernels/reference/pad_resize.js';
import { avgPoolNd, maxPoolNd } from '../../kernels/reference/pool.js';
import { extremumKernel, meanKernel, prodKernel, softmaxKernel, sumKernel, topkKernel } from '../../kernels/reference/reduce.js';
import { allocValues, normalizeDims, readAs, splitAtDim, toTensor } from '../../kernels/reference/broadcast.js';
import { permute } from '../../kernels/reference/shape.js';
import { normDim, numelOf, shapesEqual } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { inputAt, ReferenceKernelError, requireFloat, torchPadList, type LayerCall, type LayerKernels } from './layer_kernel.js';

type ReduceKinds = 'pooling' | 'reduce' | 'softmax' | 'topk' | 'cumulative' | 'normalization';

function f32(t: Tensor): Tensor {
  return t.dtype === 'float32' ? t : t.castTo('float32');
}

/**
 * Max/average pooling over the trailing windowSize.length dims. Uneven padding pads explicitly
 * (-inf for max; for an average that excludes padding, window sums are divided by the count of
 * real elements, pooled the same way). Window starts and divisors match the layer's definition;
 * the output keeps the step's resolved shape.
 */
function pooling(call: LayerCall<'pooling'>): Tensor[] {
  const { name, params: p } = call;
  const x = inputAt(call, 0, 'input');
  requireFloat(name, 'input', x);
  const even = shapesEqual(p.prePadding, p.postPadding);
  const padded = (t: Tensor, value: number): Tensor => (even ? t : pad(t, torchPadList(p.prePadding, p.postPadding), 'constant', value));
  const padding = even ? p.prePadding : p.prePadding.map(() => 0);
  const base = { kernel: p.windowSize, stride: p.stride, padding, ceilMode: p.roundUp };
  // Explicitly padded, a ceil-mode window may start in the post padding, which the layer drops: crop it.
  const result = (r: { data: Float32Array; shape: number[] }): Tensor[] => {
    const t = Tensor.fromStorage(r.data, r.shape, 'float32');
    const want = call.outputs[0]!.shape;
    if (even || shapesEqual(r.shape, want)) return [t];
    const extra = want.slice(2).map((d, i) => d - r.shape[i + 2]!);
    return [pad(t, torchPadList(extra.map(() => 0), extra), 'constant', 0)];
  };
  if (p.type === 'max') {
    const src = padded(f32(x), -Infinity);
    return result(maxPoolNd(src.toFloat32(), src.shape, { ...base, dilation: p.dilation }));
  }
  if (p.dilation.some((d) => d !== 1)) {
    throw new ReferenceKernelError(`step '${name}': average pooling takes no dilation, got [${p.dilation.join(', ')}]`);
  }
  const src = padded(f32(x), 0);
  if (even || !p.averageCountExcludesPadding || p.divisor !== null) {
    return result(avgPoolNd(src.toFloat32(), src.shape, {
      ...base, countIncludePad: !p.averageCountExcludesPadding || !even, divisorOverride: p.divisor,
    }));
  }
  const sums = avgPoolNd(src.toFloat32(), src.shape, { ...base, divisorOverride: 1 });
  const ones = padded(Tensor.ones(x.shape, 'float32'), 0);
  const counts = avgPoolNd(ones.toFloat32(), ones.shape, { ...base, divisorOverride: 1 });
  for (let i = 0; i < sums.data.length; i++) sums.data[i] = sums.data[i]! / counts.data[i]!;
  return result(sums);
}

function reduce(call: LayerCall<'reduce'>): Tensor[] {
  const x = inputAt(call, 0, 'input');
  const { op, axes, keepDims } = call.params;
  if (axes.length === 0) return [x];
  const dims = normalizeDims(`step '${call.name}'`, axes, x.rank);
  const out = call.outputs[0]!.dtype;
  switch (op) {
    case 'sum': return [sumKernel(x, dims, keepDims, out)];
    case 'avg': return [meanKernel(x, dims, keepDims, out)];
    case 'prod': return [prodKernel(x, dims, keepDims, out)];
    case 'max': case 'min': return [extremumKernel(x, dims, keepDims, op === 'max')];
  }
}

function softmax(call: LayerCall<'softmax'>): Tensor[] {
  const x = inputAt(call, 0, 'input');
  requireFloat(call.name, 'input', x);
  return [softmaxKernel(x, normDim(call.params.axis, x.rank, `step '${call.name}': axis`), call.params.log)];
}

function topk(call: LayerCall<'topk'>): Tensor[] {
  const x = inputAt(call, 0, 'input');
  const { k, axis, op } = call.params;
  return topkKernel(x, k, normDim(axis, x.rank, `step '${call.name}': axis`), op === 'max');
}

/** Running sum along `axis`, in float64, optionally exclusive (starts at 0) and/or from the end. */
function cumulative(call: LayerCall<'cumulative'>): Tensor[] {
  const x = inputAt(call, 0, 'input');
  const { axis, exclusive, reverse } = call.params;
  const out = call.outputs[0]!.dtype;
  const v = readAs(x, x.dtype);
  const y = allocValues(out, v.length);
  const { outer, size, inner } = splitAtDim(x.shape, normDim(axis, x.rank, `step '${call.name}': axis`));
  const step = reverse ? -inner : inner;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let p = o * size * inner + i + (reverse ? (size - 1) * inner : 0);
      let acc = 0;
      for (let r = 0; r < size; r++, p += step) {
        if (exclusive) {
          y[p] = acc;
          acc += v[p]!;
        } else {
          acc += v[p]!;
          y[p] = acc;
        }
      }
    }
  }
  return [toTensor(y, x.shape, out)];
}

/**
 * (x - mean) / sqrt(var + eps) * scale + bias (inputs x, scale, bias), statistics over `axes`
 * (biased variance), or over each of numGroups channel groups of every sample when numGroups > 1.
 * scale and bias broadcast against x. Computed in float32, rounded once to the output dtype.
 */
function normalization(call: LayerCall<'normalization'>): Tensor[] {
  const { name, params: p } = call;
  const input = inputAt(call, 0, 'input');
  requireFloat(name, 'input', input);
  const x = f32(input);
  const scale = inputAt(call, 1, 'scale');
  const bias = inputAt(call, 2, 'bias');
  const shape = x.shape;
  let y: Tensor;
  if (p.numGroups > 1) {
    const G = p.numGroups;
    if (x.rank < 2 || shape[1]! % G !== 0) {
      throw new ReferenceKernelError(`step '${name}': ${G} groups need an input [N, C, ...] with C divisible by ${G}, got [${shape.join(', ')}]`);
    }
    const rest = numelOf(shape) / (shape[0]! * G);
    y = layerNorm(x.withShape([shape[0]!, G, rest]), [rest], null, null, p.eps).withShape(shape);
  } else {
    const axes = normalizeDims(`step '${name}'`, p.axes, x.rank);
    const kept = shape.map((_, i) => i).filter((i) => !axes.includes(i));
    const perm = [...kept, ...axes];
    const sizes = axes.map((a) => shape[a]!);
    if (perm.every((d, i) => d === i)) y = layerNorm(x, sizes, null, null, p.eps);
    else {
      const inverse = perm.map((_, i) => perm.indexOf(i));
      y = permute(layerNorm(permute(x, perm), sizes, null, null, p.eps), inverse);
    }
  }
  const op = `step '${name}'`;
  const dt = { compute: 'float32', out: 'float32' } as const;
  y = binaryKernel(op, binaryKernel(op, y, scale, 'mul', dt), bias, 'add', dt);
  return [castKernel(y, call.outputs[0]!.dtype)];
}

/** Reference kernels of the pooling, reduction and normalization layers. */
export const REDUCE_KERNELS: LayerKernels<ReduceKinds> = { pooling, reduce, softmax, topk, cumulative, normalization };
