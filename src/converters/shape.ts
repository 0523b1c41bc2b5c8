/**
 * Converters of the shape acc ops: reshape, flatten, squeeze, unsqueeze (shuffles that keep dynamic
 * dims in place), permute (a transposing shuffle), expand (a slice with stride 0), tile (a slice in
 * wrap mode), cat (concatenation), stack (unsqueezes + concatenation), split, chunk and slice (slices).
 */
import type { LayerParamsMap, NetTensor } from '../engine/network.js';
import { chunkMeta, sliceBounds, splitMeta } from '../kernels/reference/shape.js';
import { promoteTypes } from '../tensor/dtype.js';
import { normDim } from '../tensor/shape.js';
import { isNetTensor, type ConversionContext } from './context.js';
import type { ReshapeDim } from './reshape_plan.js';
import { registerConverter } from './registry.js';

type SliceParams = { start: number[]; size: number[]; stride: number[]; mode: LayerParamsMap['slice']['mode']; fillValue: number };

/** A default-mode slice that keeps every dim of a tensor of `rank` whole (size -1). */
function keepAll(rank: number): SliceParams {
  return { start: new Array<number>(rank).fill(0), size: new Array<number>(rank).fill(-1), stride: new Array<number>(rank).fill(1), mode: 'default', fillValue: 0 };
}

/** The copies of every dim of `x`, to edit into a reshape target. */
function copies(x: NetTensor): ReshapeDim[] {
  return x.shape.map((_, i) => ({ copy: i }));
}

type ReshapeArgs = { input: NetTensor; shape: readonly (number | NetTensor)[] };
// A size read from the input itself (x.reshape(x.size(0), -1)) keeps that dynamic dim.
registerConverter<ReshapeArgs>('reshape', (ctx, _node, { input, shape }) => ctx.reshape(input, shape.map((d): ReshapeDim => {
  if (!isNetTensor(d)) return d;
  const origin = ctx.sizeOrigin(d);
  if (!origin || origin.tensor !== input) return ctx.fail(`a reshape size computed at runtime ('${d.name}') must be a size of the reshaped input`);
  return { copy: origin.dim };
})));

registerConverter<{ input: NetTensor; permutation: number[] }>('permute', (ctx, _node, { input, permutation }) => {
  const rank = input.shape.length;
  return ctx.transpose(input, permutation.map((d) => normDim(d, rank, 'acc.permute: dim')));
});

registerConverter<{ input: NetTensor; start_dim: number; end_dim: number }>('flatten', (ctx, _node, { input, start_dim, end_dim }) => {
  const rank = input.shape.length;
  if (rank === 0) return ctx.reshape(input, [1]);
  const [s, e] = [normDim(start_dim, rank, 'acc.flatten: start_dim'), normDim(end_dim, rank, 'acc.flatten: end_dim')];
  const merged = input.shape.slice(s, e + 1);
  const size = merged.includes(-1) ? -1 : merged.reduce((a, b) => a * b, 1);
  const target = copies(input);
  target.splice(s, e - s + 1, size);
  return ctx.reshape(input, target);
});

registerConverter<{ input: NetTensor; dim: number | null }>('squeeze', (ctx, _node, { input, dim }) => {
  const rank = input.shape.length;
  if (dim === null) return ctx.squeeze(input, input.shape.flatMap((d, i) => (d === 1 ? [i] : [])));
  if (rank === 0) return input;
  const d = normDim(dim, rank, 'acc.squeeze: dim');
  if (input.shape[d] === -1) return ctx.fail(`dim ${d} is dynamic: whether it squeezes is only known at runtime`);
  return input.shape[d] === 1 ? ctx.squeeze(input, [d]) : input;
});

registerConverter<{ input: NetTensor; dim: number }>('unsqueeze', (ctx, _node, { input, dim }) =>
  ctx.unsqueeze(input, normDim(dim, input.shape.length + 1, 'acc.unsqueeze: dim')));

// expand: size-1 dims read element 0 with stride 0; new leading dims come from an unsqueeze first.
registerConverter<{ input: NetTensor; sizes: number[] }>('expand', (ctx, _node, { input, sizes }) => {
  const x = ctx.unsqueezeTo(input, sizes.length);
  const s = keepAll(sizes.length);
  let expands = false;
  sizes.forEach((want, i) => {
    const have = x.shape[i]!;
    if (want === -1 || want === have || have !== 1) return;
    s.size[i] = want;
    s.stride[i] = 0;
    expands = true;
  });
  return expands ? ctx.layer1('slice', [x], s) : x;
});

// tile: a wrap-mode slice reads the input again past its end, dims[i] times along dim i.
registerConverter<{ input: NetTensor; dims: number[] }>('tile', (ctx, _node, { input, dims }) => {
  const rank = Math.max(input.shape.length, dims.length);
  const x = ctx.unsqueezeTo(input, rank);
  const reps = [...new Array<number>(rank - dims.length).fill(1), ...dims];
  const s = { ...keepAll(rank), mode: 'wrap' as const };
  let tiles = false;
  reps.forEach((r, i) => {
    if (r === 1) return;
    const have = x.shape[i]!;
    if (have === -1) ctx.fail(`dim ${i} is dynamic; tiling it needs its static size`);
    s.size[i] = have * r;
    tiles = true;
  });
  return tiles ? ctx.layer1('slice', [x], s) : x;
});

/** One dtype for joined tensors, promoted like torch.cat. */
function joined(ctx: ConversionContext, tensors: readonly NetTensor[]): NetTensor[] {
  const dtype = ctx.netType(tensors.map((t) => t.dtype).reduce(promoteTypes));
  return tensors.map((t) => ctx.cast(t, dtype));
}

// torch.cat skips 1-D empty tensors.
registerConverter<{ tensors: NetTensor[]; dim: number }>('cat', (ctx, _node, { tensors, dim }) => {
  const all = joined(ctx, tensors);
  const parts = all.filter((t) => !(t.shape.length === 1 && t.shape[0] === 0));
  if (parts.length === 0) return all[0]!;
  const axis = normDim(dim, parts[0]!.shape.length, 'acc.cat: dim');
  return parts.length === 1 ? parts[0]! : ctx.layer1('concatenation', parts, { axis });
});

registerConverter<{ tensors: NetTensor[]; dim: number }>('stack', (ctx, _node, { tensors, dim }) => {
  const axis = normDim(dim, tensors[0]!.shape.length + 1, 'acc.stack: dim');
  const parts = joined(ctx, tensors).map((t) => ctx.unsqueeze(t, axis));
  return parts.length === 1 ? parts[0]! : ctx.layer1('concatenation', parts, { axis });
});

/** Consecutive slices of `sizes` along `d`. */
function parts(ctx: ConversionContext, x: NetTensor, d: number, sizes: readonly number[]): NetTensor[] {
  let at = 0;
  return sizes.map((n) => {
    const s = keepAll(x.shape.length);
    s.start[d] = at;
    s.size[d] = n;
    at += n;
    return ctx.layer1('slice', [x], s);
  });
}

registerConverter<{ input: NetTensor; split_size_or_sections: number | number[]; dim: number }>('split', (ctx, _node, { input, split_size_or_sections, dim }) => {
  const d = normDim(dim, input.shape.length, 'acc.split: dim');
  if (input.shape[d] === -1) return ctx.fail(`dim ${d} is dynamic; splitting it needs its static size`);
  return parts(ctx, input, d, splitMeta(input, split_size_or_sections, d).map((m) => m.shape[d]!));
});

registerConverter<{ input: NetTensor; chunks: number; dim: number }>('chunk', (ctx, _node, { input, chunks, dim }) => {
  const d = normDim(dim, input.shape.length, 'acc.chunk: dim');
  if (input.shape[d] === -1) return ctx.fail(`dim ${d} is dynamic; chunking it needs its static size`);
  return parts(ctx, input, d, chunkMeta(input, chunks, d).map((m) => m.shape[d]!));
});

type SliceArgs = { input: NetTensor; dim: number; start: number | null; end: number | null; step: number };
registerConverter<SliceArgs>('slice', (ctx, _node, { input, dim, start, end, step }) => {
  const d = normDim(dim, input.shape.length, 'acc.slice: dim');
  const size = input.shape[d]!;
  const whole = (start === null || start === 0) && end === null && step === 1;
  if (whole) return input;
  if (size === -1) return ctx.fail(`dim ${d} is dynamic; slicing it needs its static size`);
  const b = sliceBounds(size, start, end, step);
  if (b.start === 0 && b.length === size && step === 1) return input;
  const s = keepAll(input.shape.length);
  s.start[d] = b.start;
  s.size[d] = b.length;
  s.stride[d] = step;
  return ctx.layer1('slice', [input], s);
});
