/**
 * pad_resize acc ops: pad (PyTorch F.pad) and interpolate (F.interpolate). Kernels and shape rules
 * are in src/kernels/reference/pad_resize.ts.
 */
import { interpolate, interpolateMeta, pad, padMeta, type InterpolateMode, type PadMode } from '../../kernels/reference/pad_resize.js';
import type { Tensor } from '../../tensor/tensor.js';
import { defineAccOp } from '../registry.js';

/** Pads (or, with negative pads, crops) the trailing dims; pairs are listed last dim first. */
export const accPad = defineAccOp<{ input: Tensor; pad: number[]; mode: PadMode; value: number | boolean }>({
  name: 'pad',
  args: {
    input: { type: 'Tensor' }, pad: { type: 'int[]' },
    mode: { type: 'str', default: 'constant', choices: ['constant', 'reflect', 'replicate', 'circular'] },
    value: { type: 'scalar', default: 0 },
  },
  properties: ['unary'],
  doc: "PyTorch F.pad: (before, after) pairs from the last dim backwards; modes constant (with value), reflect, replicate, circular.",
  infer: (a) => padMeta(a.input, a.pad, a.mode, Number(a.value)),
  kernel: (a) => pad(a.input, a.pad, a.mode, Number(a.value)),
});

/** Keyword arguments of acc.interpolate. */
interface InterpolateKwargs {
  input: Tensor;
  size: number[] | null;
  scale_factor: number[] | null;
  mode: InterpolateMode;
  align_corners: boolean | null;
}

/** Resizes the spatial dims of [N, C, ...] by size or scale_factor (PyTorch F.interpolate, no antialias). */
export const accInterpolate = defineAccOp<InterpolateKwargs>({
  name: 'interpolate',
  args: {
    input: { type: 'Tensor' }, size: { type: 'int[]?', default: null }, scale_factor: { type: 'float[]?', default: null },
    mode: { type: 'str', default: 'nearest', choices: ['nearest', 'nearest-exact', 'linear', 'bilinear', 'bicubic', 'trilinear'] },
    // A bool or null (the registry has no 'bool?' type); checked by the shape rule.
    align_corners: { type: 'bool?', default: null },
  },
  properties: ['unary'],
  doc: 'PyTorch F.interpolate on 3-d/4-d/5-d inputs; a given scale_factor is also the coordinate scale.',
  infer: (a) => interpolateMeta(a.input, { size: a.size, scaleFactor: a.scale_factor, mode: a.mode, alignCorners: a.align_corners }),
  kernel: (a) => interpolate(a.input, { size: a.size, scaleFactor: a.scale_factor, mode: a.mode, alignCorners: a.align_corners }),
});
