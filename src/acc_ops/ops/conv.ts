/**
 * conv acc ops: conv1d/2d/3d and conv_transpose1d/2d/3d with normalized per-dim lists.
 * Kernels and shape rules live in src/kernels/reference/conv_ops.ts.
 */
import { conv, convMeta, convTranspose, convTransposeMeta, type SpatialRank } from '../../kernels/reference/conv_ops.js';
import type { Tensor } from '../../tensor/tensor.js';
import { defineAccOp, type AccOp } from '../registry.js';

/** Keyword arguments of acc.conv{n}d. */
export interface ConvArgs {
  input: Tensor;
  weight: Tensor;
  bias: Tensor | null;
  stride: number[];
  padding: number[];
  dilation: number[];
  groups: number;
}

/** Keyword arguments of acc.conv_transpose{n}d. */
export interface ConvTransposeArgs extends ConvArgs {
  output_padding: number[];
}

function defineConv(n: SpatialRank): AccOp<ConvArgs> {
  return defineAccOp<ConvArgs>({
    name: `conv${n}d`,
    args: {
      input: { type: 'Tensor' }, weight: { type: 'Tensor' }, bias: { type: 'Tensor?', default: null },
      stride: { type: 'int[]' }, padding: { type: 'int[]' }, dilation: { type: 'int[]' }, groups: { type: 'int', default: 1 },
    },
    doc: `${n}-D convolution (cross-correlation): input [N, C, ...], weight [O, C/groups, k...]; padding is symmetric (padding modes map to pad).`,
    infer: (a) => convMeta(n, a.input, a.weight, a.bias, a),
    kernel: (a) => conv(n, a.input, a.weight, a.bias, a),
  });
}

function defineConvTranspose(n: SpatialRank): AccOp<ConvTransposeArgs> {
  return defineAccOp<ConvTransposeArgs>({
    name: `conv_transpose${n}d`,
    args: {
      input: { type: 'Tensor' }, weight: { type: 'Tensor' }, bias: { type: 'Tensor?', default: null },
      stride: { type: 'int[]' }, padding: { type: 'int[]' }, output_padding: { type: 'int[]' },
      groups: { type: 'int', default: 1 }, dilation: { type: 'int[]' },
    },
    doc: `${n}-D transposed convolution: weight [C_in, C_out/groups, k...].`,
    infer: (a) => convTransposeMeta(n, a.input, a.weight, a.bias, { ...a, outputPadding: a.output_padding }),
    kernel: (a) => convTranspose(n, a.input, a.weight, a.bias, { ...a, outputPadding: a.output_padding }),
  });
}

/** PyTorch conv1d on [N, C, L]. */
export const accConv1d = defineConv(1);
/** PyTorch conv2d on [N, C, H, W]. */
export const accConv2d = defineConv(2);
/** PyTorch conv3d on [N, C, D, H, W]. */
export const accConv3d = defineConv(3);
/** PyTorch conv_transpose1d. */
export const accConvTranspose1d = defineConvTranspose(1);
/** PyTorch conv_transpose2d. */
export const accConvTranspose2d = defineConvTranspose(2);
/** PyTorch conv_transpose3d. */
export const accConvTranspose3d = defineConvTranspose(3);
