/** Padding and resizing F functions (pad, interpolate, upsample*), mapped onto the pad_resize acc ops. */
import type { Emitter, MappingRule } from '../../acc_ops/mapping.js';
import { describeValue } from '../../acc_ops/registry.js';
import { sig, type Kwargs } from '../../ir/signature.js';
import type { Tensor } from '../../tensor/tensor.js';
import { isInt, tensorArg } from './args.js';
import { defineF, type FArgs, type RuleFactory } from './define.js';

export type PadMode = 'constant' | 'reflect' | 'replicate' | 'circular';

/**
 * Pads the trailing dims; `pad` lists [left, right] pairs from the last dim backwards (PyTorch's order).
 *
 * @example F.pad(x, [1, 1, 2, 2], { mode: 'reflect' })
 */
export const pad = defineF<FArgs<[input: Tensor, pad: readonly number[]], [mode?: PadMode, value?: number | null], { mode?: PadMode; value?: number | null }>>(
  'pad', sig('input', 'pad', ['mode', 'constant'], ['value', null]),
  (what): MappingRule => ({
    custom: (kw, e) => {
      const mode = kw['mode'];
      const value = kw['value'];
      if (mode !== 'constant' && value !== null && value !== 0) {
        throw new TypeError(`${what}: padding mode '${String(mode)}' doesn't take a value argument, got ${describeValue(value)}`);
      }
      return e.tensor('pad', { input: kw['input'], pad: kw['pad'], mode, value: value ?? 0 });
    },
  }));

export type InterpolateMode = 'nearest' | 'nearest-exact' | 'linear' | 'bilinear' | 'bicubic' | 'trilinear' | 'area';
/** An output size per spatial dim, or one for all. */
export type SpatialSize = number | readonly number[] | null;
/** A scale factor per spatial dim, or one for all. */
export type ScaleFactor = number | readonly number[] | null;
export interface InterpolateOpts {
  size?: SpatialSize;
  scaleFactor?: ScaleFactor;
  mode?: InterpolateMode;
  alignCorners?: boolean | null;
  recomputeScaleFactor?: boolean | null;
  antialias?: boolean;
}

/** The rank each interpolating mode requires (PyTorch raises for other ranks). */
const MODE_RANK: Readonly<Record<string, number>> = { linear: 3, bilinear: 4, bicubic: 4, trilinear: 5 };

/** torch.nn.functional.interpolate's argument resolution: one of size / scaleFactor, per spatial dim. */
function interpolate_(kw: Kwargs, e: Emitter, what: string): Tensor {
  const input = tensorArg(kw, 'input', what);
  const shape = e.meta(input).shape;
  const n = shape.length - 2;
  const mode = kw['mode'];
  if (typeof mode !== 'string') throw new TypeError(`${what}: argument 'mode' expects a string, got ${describeValue(mode)}`);
  if (n < 1) throw new RangeError(`${what}: expected an input of rank 3, 4 or 5 ([N, C, ...spatial]), got shape [${shape.join(', ')}]`);
  const needed = MODE_RANK[mode];
  if (needed !== undefined && needed !== shape.length) {
    throw new RangeError(`${what}: got a ${shape.length}-D input, but mode '${mode}' needs a ${needed}-D input`);
  }
  if (kw['antialias'] === true) throw new TypeError(`${what}: antialias=true is not supported`);
  let alignCorners = kw['alignCorners'];
  if (mode === 'nearest' || mode === 'nearest-exact' || mode === 'area') {
    if (alignCorners !== null) {
      throw new TypeError(`${what}: 'alignCorners' can only be set with the interpolating modes linear, bilinear, bicubic and trilinear (mode is '${mode}')`);
    }
  } else alignCorners ??= false;

  const sizeArg = kw['size'];
  const scaleArg = kw['scaleFactor'];
  if ((sizeArg === null) === (scaleArg === null)) {
    throw new TypeError(`${what}: exactly one of 'size' and 'scaleFactor' must be given`);
  }
  let size: number[] | null = null;
  let scale: number[] | null = null;
  if (sizeArg !== null) {
    size = perDim(sizeArg, n, isInt, 'size', what);
    if (kw['recomputeScaleFactor'] === true) throw new TypeError(`${what}: 'recomputeScaleFactor' is not meaningful with an explicit 'size'`);
  } else {
    scale = perDim(scaleArg, n, (v): v is number => typeof v === 'number' && v > 0, 'scaleFactor', what);
  }
  // PyTorch computes the output size from the scale, then drops the scale, for 'area' and when asked to.
  if (scale && (kw['recomputeScaleFactor'] === true || mode === 'area')) {
    size = scale.map((s, i) => Math.floor(shape[i + 2]! * s));
    scale = null;
  }
  if (mode === 'area') return e.tensor(`adaptive_avg_pool${n}d`, { input, output_size: size });
  return e.tensor('interpolate', { input, size, scale_factor: scale, mode, align_corners: alignCorners });
}

/** A number or a list of `n` numbers accepted by `ok` → `n` numbers. */
function perDim(v: unknown, n: number, ok: (x: unknown) => x is number, name: string, what: string): number[] {
  if (ok(v)) return new Array<number>(n).fill(v);
  if (Array.isArray(v) && v.length === n && v.every(ok)) return [...v];
  throw new TypeError(`${what}: argument '${name}' expects one value or a list of ${n} (one per spatial dim), got ${describeValue(v)}`);
}

const interpolateRule: RuleFactory = (what) => ({ custom: (kw, e) => interpolate_(kw, e, what) });
const interpolateSig = sig('input', ['size', null], ['scaleFactor', null], ['mode', 'nearest'], ['alignCorners', null],
  ['recomputeScaleFactor', null], ['antialias', false]);
type InterpolateArgs = FArgs<[input: Tensor],
  [size?: SpatialSize, scaleFactor?: ScaleFactor, mode?: InterpolateMode, alignCorners?: boolean | null], InterpolateOpts>;

/**
 * Resizes the spatial dims to `size`, or by `scaleFactor` (used as given in the coordinate
 * mapping unless `recomputeScaleFactor`), with nearest, (bi/tri)linear, bicubic or area sampling.
 *
 * @example F.interpolate(x, { scaleFactor: 2, mode: 'bilinear', alignCorners: false })
 */
export const interpolate = defineF<InterpolateArgs>('interpolate', interpolateSig, interpolateRule);

/** The deprecated alias of F.interpolate. @example F.upsample(x, { scaleFactor: 2 }) */
export const upsample = defineF<FArgs<[input: Tensor], [size?: SpatialSize, scaleFactor?: ScaleFactor, mode?: InterpolateMode, alignCorners?: boolean | null],
  Omit<InterpolateOpts, 'recomputeScaleFactor' | 'antialias'>>>(
  'upsample', sig('input', ['size', null], ['scaleFactor', null], ['mode', 'nearest'], ['alignCorners', null]), interpolateRule);

const fixedMode = (mode: InterpolateMode, alignCorners: boolean | null): RuleFactory => (what) => ({
  custom: (kw, e) => interpolate_({ ...kw, mode, alignCorners, recomputeScaleFactor: null, antialias: false }, e, what),
});
type UpsampleArgs = FArgs<[input: Tensor], [size?: SpatialSize, scaleFactor?: ScaleFactor], { size?: SpatialSize; scaleFactor?: ScaleFactor }>;
/** Nearest-neighbour upsampling. @example F.upsampleNearest(x, { scaleFactor: 2 }) */
export const upsampleNearest = defineF<UpsampleArgs>('upsampleNearest', sig('input', ['size', null], ['scaleFactor', null]), fixedMode('nearest', null));
/** Bilinear upsampling with aligned corners (as torch's upsample_bilinear). @example F.upsampleBilinear(x, [64, 64]) */
export const upsampleBilinear = defineF<UpsampleArgs>('upsampleBilinear', sig('input', ['size', null], ['scaleFactor', null]), fixedMode('bilinear', true));
