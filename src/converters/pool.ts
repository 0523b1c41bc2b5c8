/**
 * Converters of the pool acc ops onto pooling layers. Adaptive pools become fixed windows, which
 * is exact only when every input size is a multiple of its output size; other sizes are refused.
 */
import type { LayerParamsMap, NetTensor } from '../engine/network.js';
import type { ConversionContext } from './context.js';
import { argMeta, argValue } from './node_meta.js';
import { registerConverter } from './registry.js';

type Pooling = LayerParamsMap['pooling'];

/** A pooling layer on [N, C, ...]; an unbatched [C, ...] input gets (and loses) a batch dim of 1. */
function pool(ctx: ConversionContext, x: NetTensor, params: Pooling): NetTensor {
  const n = params.windowSize.length;
  if (x.shape.length === n + 2) return ctx.layer1('pooling', [x], params);
  return ctx.squeeze(ctx.layer1('pooling', [ctx.unsqueeze(x, 0)], params), [0]);
}

type MaxPoolArgs = { input: NetTensor; kernel_size: number[]; stride: number[]; padding: number[]; dilation: number[]; ceil_mode: boolean };
type AvgPoolArgs = {
  input: NetTensor; kernel_size: number[]; stride: number[]; padding: number[]; ceil_mode: boolean;
  count_include_pad: boolean; divisor_override: number | null;
};

for (const n of [1, 2, 3] as const) {
  registerConverter<MaxPoolArgs>(`max_pool${n}d`, (ctx, _node, a) => pool(ctx, a.input, {
    type: 'max', windowSize: a.kernel_size, stride: a.stride, prePadding: a.padding, postPadding: a.padding,
    dilation: a.dilation, roundUp: a.ceil_mode, averageCountExcludesPadding: false, divisor: null,
  }));
  registerConverter<AvgPoolArgs>(`avg_pool${n}d`, (ctx, _node, a) => pool(ctx, a.input, {
    type: 'average', windowSize: a.kernel_size, stride: a.stride, prePadding: a.padding, postPadding: a.padding,
    dilation: new Array<number>(n).fill(1), roundUp: a.ceil_mode, averageCountExcludesPadding: !a.count_include_pad,
    divisor: a.divisor_override,
  }));
}

/** Why fixed windows cannot express adaptive pooling of `input` to `outputSize`, or true. */
function adaptiveSupport(spatial: readonly number[] | undefined, outputSize: readonly number[]): true | string {
  if (!spatial) return true;
  for (let i = 0; i < outputSize.length; i++) {
    const [s, o] = [spatial[i]!, outputSize[i]!];
    if (s === -1) return `spatial dim ${i} is dynamic; adaptive pooling needs static sizes`;
    if (o < 1 || s % o !== 0) return `input size ${s} is not a multiple of output size ${o} (spatial dim ${i}); windows would vary`;
  }
  return true;
}

type AdaptiveArgs = { input: NetTensor; output_size: number[] };

for (const [name, type, n] of [
  ['adaptive_avg_pool1d', 'average', 1], ['adaptive_avg_pool2d', 'average', 2], ['adaptive_avg_pool3d', 'average', 3],
  ['adaptive_max_pool2d', 'max', 2],
] as const) {
  registerConverter<AdaptiveArgs>(name, (ctx, _node, { input, output_size }) => {
    const spatial = input.shape.slice(-n);
    const why = adaptiveSupport(spatial, output_size);
    if (why !== true) return ctx.fail(why);
    const window = spatial.map((s, i) => s / output_size[i]!);
    const zeros = new Array<number>(n).fill(0);
    return pool(ctx, input, {
      type, windowSize: window, stride: window, prePadding: zeros, postPadding: zeros, dilation: new Array<number>(n).fill(1),
      roundUp: false, averageCountExcludesPadding: false, divisor: null,
    });
  }, {
    supports: (node) => {
      const out = argValue(node, 'output_size');
      const meta = argMeta(node, 'input');
      return Array.isArray(out) ? adaptiveSupport(meta?.shape.slice(-n), out.map(Number)) : 'output_size is not a list';
    },
  });
}
