/**
 * Converters of the conv acc ops: conv{1,2,3}d onto convolution and conv_transpose{1,2,3}d onto
 * deconvolution layers (unbatched inputs get a batch dim around the layer).
 */
import type { NetTensor } from '../engine/network.js';
import type { ConversionContext } from './context.js';
import { registerConverter } from './registry.js';

type ConvArgs = {
  input: NetTensor; weight: NetTensor; bias: NetTensor | null;
  stride: number[]; padding: number[]; dilation: number[]; groups: number;
};
type ConvTransposeArgs = ConvArgs & { output_padding: number[] };

/** Runs `build` on a batched [N, C, ...] input: an unbatched [C, ...] one gets (and loses) a batch dim of 1. */
function batched(ctx: ConversionContext, x: NetTensor, n: number, build: (x: NetTensor) => NetTensor): NetTensor {
  if (x.shape.length === n + 2) return build(x);
  return ctx.squeeze(build(ctx.unsqueeze(x, 0)), [0]);
}

for (const n of [1, 2, 3] as const) {
  registerConverter<ConvArgs>(`conv${n}d`, (ctx, _node, { input, weight, bias, stride, padding, dilation, groups }) =>
    batched(ctx, input, n, (x) => ctx.layer1('convolution', bias ? [x, weight, bias] : [x, weight], {
      kernelSize: weight.shape.slice(2), numOutputMaps: weight.shape[0]!, stride,
      prePadding: padding, postPadding: padding, dilation, groups,
    })));

  // PyTorch's output = (in-1)*stride - 2*padding + dilation*(k-1) + output_padding + 1: output_padding
  // lowers the padding cropped at the end.
  registerConverter<ConvTransposeArgs>(`conv_transpose${n}d`, (ctx, _node, a) =>
    batched(ctx, a.input, n, (x) => ctx.layer1('deconvolution', a.bias ? [x, a.weight, a.bias] : [x, a.weight], {
      kernelSize: a.weight.shape.slice(2), numOutputMaps: a.weight.shape[1]! * a.groups, stride: a.stride,
      prePadding: a.padding, postPadding: a.padding.map((p, i) => p - a.output_padding[i]!), dilation: a.dilation, groups: a.groups,
    })));
}
