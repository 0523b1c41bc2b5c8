/**
 * ONNX Pad, Resize and Upsample. Resize maps onto acc.interpolate only where the coordinate
 * transform and rounding agree with PyTorch's exactly; other combinations raise an error naming them
 * rather than import with different numbers.
 */
import type { Emitter } from '../../acc_ops/mapping.js';
import type { Tensor } from '../../tensor/tensor.js';
import { defineOnnxOp, type OnnxKwargs } from './define.js';
import {
  axisOf, constFloats, constScalar, ctxOf, floatAttr, floatsAttr, input, intAttr, intsAttr, optConstInts, optInput, rankOf, strAttr,
} from './values.js';

const PAD_MODES: Readonly<Record<string, string>> = { constant: 'constant', reflect: 'reflect', edge: 'replicate', wrap: 'circular' };

// ONNX pads are [x1_begin, ..., xn_begin, x1_end, ..., xn_end]; acc.pad takes (begin, end) pairs from the last dim back.
defineOnnxOp({
  opType: 'Pad', inputs: ['data', 'pads?', 'constant_value?', 'axes?'], attrs: { mode: 'constant', pads: null, value: 0 },
  map: (kw, e) => {
    const x = input(kw, 'data');
    const rank = rankOf(e, x);
    const old = ctxOf(kw).opset < 11;
    const pads = old ? intsAttr(kw, 'pads') : optConstInts(kw, 'pads');
    if (pads === null) throw new TypeError(`pads are required`);
    const axes = (old ? null : optConstInts(kw, 'axes'))?.map((a) => axisOf(a, rank, 'axes entry')) ?? Array.from({ length: rank }, (_, i) => i);
    if (pads.length !== 2 * axes.length) throw new RangeError(`pads has ${pads.length} entries, expected ${2 * axes.length}`);
    const begin = new Array<number>(rank).fill(0);
    const end = new Array<number>(rank).fill(0);
    axes.forEach((a, i) => { begin[a] = pads[i]!; end[a] = pads[i + axes.length]!; });
    const list: number[] = [];
    for (let d = rank - 1; d >= 0; d--) list.push(begin[d]!, end[d]!);
    while (list.length > 0 && list[list.length - 1] === 0 && list[list.length - 2] === 0) list.length -= 2;
    if (list.length === 0) return x;
    const modeName = strAttr(kw, 'mode');
    const mode = PAD_MODES[modeName];
    if (mode === undefined) throw new RangeError(`mode '${modeName}' is not one of constant, reflect, edge, wrap`);
    const value = old ? floatAttr(kw, 'value') : optInput(kw, 'constant_value') === null ? 0 : constScalar(kw, 'constant_value');
    return e.tensor('pad', { input: x, pad: list, mode, value });
  },
});

/** What Resize/Upsample resolve to: acc.interpolate's mode and align_corners. */
interface InterpMode {
  readonly mode: string;
  readonly alignCorners: boolean | null;
}

const LINEAR_BY_RANK = ['linear', 'bilinear', 'trilinear'] as const;

/** acc.interpolate's mode for an ONNX (mode, coordinate transform, nearest rounding); throws for combinations PyTorch lacks. */
function interpMode(mode: string, coord: string, nearest: string, spatial: number, kw: OnnxKwargs): InterpMode {
  const unsupported = (): never => {
    throw new RangeError(`mode '${mode}' with coordinate_transformation_mode '${coord}'${mode === 'nearest' ? ` and nearest_mode '${nearest}'` : ''} has no exact acc.interpolate equivalent`);
  };
  if (mode === 'nearest') {
    if (coord === 'asymmetric' && nearest === 'floor') return { mode: 'nearest', alignCorners: null };
    if (coord === 'half_pixel' && nearest === 'round_prefer_ceil') return { mode: 'nearest-exact', alignCorners: null };
    return unsupported();
  }
  if (mode === 'linear' || mode === 'cubic') {
    const align = coord === 'align_corners' ? true : coord === 'half_pixel' || coord === 'pytorch_half_pixel' ? false : null;
    if (align === null) return unsupported();
    if (mode === 'linear') return { mode: LINEAR_BY_RANK[spatial - 1]!, alignCorners: align };
    if (spatial !== 2) throw new RangeError(`cubic resize is supported on 2 spatial dims, got ${spatial}`);
    if (floatAttr(kw, 'cubic_coeff_a') !== -0.75 || intAttr(kw, 'exclude_outside') !== 0) {
      throw new RangeError(`cubic resize needs cubic_coeff_a = -0.75 and exclude_outside = 0 (PyTorch's bicubic)`);
    }
    return { mode: 'bicubic', alignCorners: align };
  }
  throw new RangeError(`mode '${mode}' is not one of nearest, linear, cubic`);
}

/** acc.interpolate over the spatial dims, by output sizes or by scales; N and C must be unchanged. */
function interpolate(e: Emitter, x: Tensor, m: InterpMode, sizes: number[] | null, scales: number[] | null): Tensor {
  const shape = e.meta(x).shape;
  const rank = shape.length;
  const spatial = rank - 2;
  if (spatial < 1 || spatial > 3) throw new RangeError(`resizes 3-d to 5-d inputs [N, C, ...], got rank ${rank}`);
  const full = sizes ?? scales!;
  if (full.length !== rank) throw new RangeError(`${sizes ? 'sizes' : 'scales'} has ${full.length} entries for an input of rank ${rank}`);
  const keeps = sizes ? sizes[0] === shape[0] && sizes[1] === shape[1] : scales![0] === 1 && scales![1] === 1;
  if (!keeps) throw new RangeError(`only the spatial dims can be resized (${sizes ? 'sizes' : 'scales'} [${full.join(', ')}] for input [${shape.join(', ')}])`);
  if (sizes && sizes.every((s, i) => s === shape[i])) return x;
  if (scales && scales.every((s) => s === 1)) return x;
  const size = sizes ? sizes.slice(2) : null;
  const scale = scales ? scales.slice(2) : null;
  return e.tensor('interpolate', { input: x, size, scale_factor: scale, mode: m.mode, align_corners: m.alignCorners });
}

/** Resize's sizes/scales over every dim, expanding opset 18's `axes` (the other dims keep their size). */
function fullList(values: number[], axes: number[] | null, rank: number, fill: (d: number) => number): number[] {
  if (axes === null) return values;
  if (values.length !== axes.length) throw new RangeError(`${values.length} values for ${axes.length} axes`);
  const out = Array.from({ length: rank }, (_, d) => fill(d));
  axes.forEach((a, i) => { out[axisOf(a, rank, 'axes entry')] = values[i]!; });
  return out;
}

defineOnnxOp({
  opType: 'Resize', inputs: ['X', 'roi?', 'scales?', 'sizes?'], minOpset: 10,
  attrs: {
    mode: 'nearest', coordinate_transformation_mode: null, nearest_mode: 'round_prefer_floor', cubic_coeff_a: -0.75,
    exclude_outside: 0, extrapolation_value: 0, antialias: 0, axes: null, keep_aspect_ratio_policy: 'stretch',
  },
  map: (kw, e) => {
    const x = input(kw, 'X');
    const rank = rankOf(e, x);
    const opset = ctxOf(kw).opset;
    if (intAttr(kw, 'antialias') !== 0) throw new RangeError(`antialias=1 is not supported`);
    if (strAttr(kw, 'keep_aspect_ratio_policy') !== 'stretch') throw new RangeError(`keep_aspect_ratio_policy other than 'stretch' is not supported`);
    // Opset 10's Resize has no transform attribute: it is asymmetric, and nearest rounds down.
    const coord = opset < 11 ? 'asymmetric' : kw['coordinate_transformation_mode'] === null ? 'half_pixel' : strAttr(kw, 'coordinate_transformation_mode');
    if (coord === 'tf_crop_and_resize') throw new RangeError(`coordinate_transformation_mode 'tf_crop_and_resize' (roi) is not supported`);
    const nearest = opset < 11 ? 'floor' : strAttr(kw, 'nearest_mode');
    const m = interpMode(strAttr(kw, 'mode'), coord, nearest, rank - 2, kw);
    const axes = intsAttr(kw, 'axes');
    const shape = e.meta(x).shape;
    const sizesIn = opset < 11 ? null : optConstInts(kw, 'sizes');
    const scalesIn = optInput(kw, opset < 11 ? 'roi' : 'scales');
    const scales = scalesIn !== null && scalesIn.numel > 0 ? constFloats(kw, opset < 11 ? 'roi' : 'scales') : null;
    if (sizesIn !== null && sizesIn.length > 0) return interpolate(e, x, m, fullList(sizesIn, axes, rank, (d) => shape[d]!), null);
    if (scales === null) throw new TypeError(`one of scales and sizes is required`);
    return interpolate(e, x, m, null, fullList(scales, axes, rank, () => 1));
  },
});

// Opset 9's Upsample: Resize with asymmetric coordinates; nearest rounds down.
defineOnnxOp({
  opType: 'Upsample', inputs: ['X', 'scales?'], attrs: { mode: 'nearest', scales: null },
  map: (kw, e) => {
    const x = input(kw, 'X');
    const scales = optInput(kw, 'scales') === null ? floatsAttr(kw, 'scales') : constFloats(kw, 'scales');
    if (scales === null) throw new TypeError(`scales are required`);
    const m = interpMode(strAttr(kw, 'mode'), 'asymmetric', 'floor', rankOf(e, x) - 2, kw);
    return interpolate(e, x, m, null, scales);
  },
});
