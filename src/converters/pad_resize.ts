/**
 * Converters of pad (a slice that reads past the edges: fill, clamp, reflect or wrap mode) and
 * interpolate (a resize layer with PyTorch's coordinate rules).
 */
import type { LayerParamsMap, NetTensor, SliceMode } from '../engine/network.js';
import { quantizeScalar, type QuantDType } from '../kernels/reference/quant.js';
import type { InterpolateMode, PadMode } from '../kernels/reference/pad_resize.js';
import { argMeta } from './node_meta.js';
import { registerConverter } from './registry.js';

const SLICE_MODE: Record<PadMode, SliceMode> = { constant: 'fill', reflect: 'reflect', replicate: 'clamp', circular: 'wrap' };

type SliceParams = LayerParamsMap['slice'];

/** A slice keeping every dim whole, to be changed on the padded dims. */
function wholeSlice(rank: number, mode: SliceMode, fillValue: number): { start: number[]; size: number[]; stride: number[]; mode: SliceMode; fillValue: number } {
  return { start: new Array<number>(rank).fill(0), size: new Array<number>(rank).fill(-1), stride: new Array<number>(rank).fill(1), mode, fillValue };
}

type PadArgs = { input: NetTensor; pad: number[]; mode: PadMode; value: number | boolean };

// Pairs (before, after) run from the last dim backwards; output index j of a dim reads input j - before.
registerConverter<PadArgs>('pad', (ctx, node, { input, pad, mode, value }) => {
  const rank = input.shape.length;
  const dims: { dim: number; before: number; after: number }[] = [];
  for (let j = 0; j < pad.length / 2; j++) {
    const [before, after] = [pad[2 * j]!, pad[2 * j + 1]!];
    if (before !== 0 || after !== 0) dims.push({ dim: rank - 1 - j, before, after });
  }
  if (dims.length === 0) return input;
  for (const d of dims) {
    if (input.shape[d.dim] === -1) return ctx.fail(`padded dim ${d.dim} is dynamic; padding needs its static size`);
  }
  let fill = Number(value);
  const q = argMeta(node, 'input')?.qparams;
  if (mode === 'constant' && q && q.axis === undefined) {
    // A quantized input pads with the quantized value (PyTorch).
    fill = quantizeScalar(fill, input.dtype as QuantDType, q.scale[0]!, q.zeroPoint[0]!);
  }
  let x = input;
  // PyTorch crops the negative sides of a circular pad first, then wraps around what is left.
  if (mode === 'circular' && dims.some((d) => d.before < 0 || d.after < 0)) {
    const crop = wholeSlice(rank, 'default', 0);
    for (const d of dims) {
      crop.start[d.dim] = Math.max(-d.before, 0);
      crop.size[d.dim] = input.shape[d.dim]! - Math.max(-d.before, 0) - Math.max(-d.after, 0);
    }
    x = ctx.layer1('slice', [x], crop);
    dims.forEach((d, i) => { dims[i] = { dim: d.dim, before: Math.max(d.before, 0), after: Math.max(d.after, 0) }; });
  }
  const p: SliceParams = padSlice(x, dims, SLICE_MODE[mode], fill);
  return ctx.layer1('slice', [x], p);
});

function padSlice(x: NetTensor, dims: readonly { dim: number; before: number; after: number }[], mode: SliceMode, fill: number): SliceParams {
  const s = wholeSlice(x.shape.length, mode, fill);
  for (const d of dims) {
    s.start[d.dim] = 0 - d.before;
    s.size[d.dim] = x.shape[d.dim]! + d.before + d.after;
  }
  return s;
}

type InterpolateArgs = { input: NetTensor; size: number[] | null; scale_factor: number[] | null; mode: InterpolateMode; align_corners: boolean | null };

function resizeMode(mode: InterpolateMode, alignCorners: boolean): Pick<LayerParamsMap['resize'], 'mode' | 'coordinates' | 'round'> {
  switch (mode) {
    // PyTorch's legacy nearest: src = floor(dst * scale).
    case 'nearest': return { mode: 'nearest', coordinates: 'asymmetric', round: 'floor' };
    // nearest-exact: src = floor((dst + 0.5) * scale) = round_half_up((dst + 0.5) * scale - 0.5).
    case 'nearest-exact': return { mode: 'nearest', coordinates: 'half_pixel', round: 'half_up' };
    case 'bicubic': return { mode: 'cubic', coordinates: alignCorners ? 'align_corners' : 'half_pixel', round: 'floor' };
    default: return { mode: 'linear', coordinates: alignCorners ? 'align_corners' : 'half_pixel', round: 'floor' };
  }
}

/** PyTorch's bicubic kernel coefficient A. */
const CUBIC_COEFF = -0.75;

registerConverter<InterpolateArgs>('interpolate', (ctx, _node, { input, size, scale_factor, mode, align_corners }) => {
  const spatial = input.shape.slice(2);
  const out = spatial.map((s, i) => {
    if (size !== null) return size[i]!;
    if (s === -1) return ctx.fail(`spatial dim ${i + 2} is dynamic; scale_factor needs its static size`);
    return Math.floor(s * scale_factor![i]!);
  });
  return ctx.layer1('resize', [input], {
    outputShape: [-1, -1, ...out], ...resizeMode(mode, align_corners ?? false), cubicCoeff: CUBIC_COEFF,
    scales: scale_factor === null ? null : [1, 1, ...scale_factor],
  });
});
