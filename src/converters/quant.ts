/**
 * Converters of the quant acc ops onto explicit Q/DQ layers (TensorRT's explicit quantization):
 * scales are float32 constants (kept out of the network precision), zero points constants of the
 * quantized type, left out when all zero. Dequantize finds the parameters of its input in the
 * graph metadata or in what the quantize converter recorded.
 */
import type { NetTensor } from '../engine/network.js';
import type { QuantDType } from '../kernels/reference/quant.js';
import type { QuantParams } from '../tensor/tensor.js';
import { Tensor } from '../tensor/tensor.js';
import { normDim } from '../tensor/shape.js';
import type { ConversionContext, QuantInfo } from './context.js';
import { argMeta, argNode } from './node_meta.js';
import { registerConverter } from './registry.js';

/** Float32 scale and zero-point constants; the zero point is omitted when it is all zeros. */
function qparamConstants(ctx: ConversionContext, scale: Tensor, zeroPoint: Tensor, dtype: QuantDType, axis: number | null): QuantInfo {
  const s = ctx.constant(scale, { keepDtype: true, suffix: 'scale' });
  const zeros = zeroPoint.toFloat64().every((z) => z === 0);
  const zp = zeros ? null : ctx.constant(zeroPoint.castTo(dtype), { keepDtype: true, suffix: 'zero_point' });
  return { scale: s, zeroPoint: zp, axis };
}

function quantize(ctx: ConversionContext, x: NetTensor, q: QuantInfo, dtype: QuantDType): NetTensor {
  const inputs = q.zeroPoint ? [x, q.scale, q.zeroPoint] : [x, q.scale];
  const out = ctx.layer1('quantize', inputs, { axis: q.axis, toType: dtype });
  ctx.recordQuant(out, q);
  return out;
}

type PerTensorArgs = { input: NetTensor; scale: number; zero_point: number; dtype: QuantDType };
registerConverter<PerTensorArgs>('quantize_per_tensor', (ctx, _node, { input, scale, zero_point, dtype }) => {
  const q = qparamConstants(ctx, Tensor.fromNumbers([scale], [], 'float32'), Tensor.fromNumbers([zero_point], [], 'int32'), dtype, null);
  return quantize(ctx, input, q, dtype);
});

type PerChannelArgs = { input: NetTensor; scales: NetTensor | Tensor; zero_points: NetTensor | Tensor; axis: number; dtype: QuantDType };
// Scales may be computed at run time (dynamic quantization). One channel is a per-tensor quantization,
// the form fused INT8 kernels take for activations: the layer gets axis null.
registerConverter<PerChannelArgs>('quantize_per_channel', (ctx, _node, { input, scales, zero_points, axis, dtype }) => {
  const a = normDim(axis, input.shape.length, 'acc.quantize_per_channel: axis');
  const layerAxis = input.shape[a] === 1 ? null : a;
  let q: QuantInfo;
  if (scales instanceof Tensor && zero_points instanceof Tensor) q = qparamConstants(ctx, scales.castTo('float32'), zero_points, dtype, layerAxis);
  else {
    const s = scales instanceof Tensor ? ctx.constant(scales.castTo('float32'), { keepDtype: true }) : ctx.cast(scales, 'float32');
    const zeros = zero_points instanceof Tensor && zero_points.toFloat64().every((z) => z === 0);
    const zp = zeros ? null : zero_points instanceof Tensor ? ctx.constant(zero_points.castTo(dtype), { keepDtype: true }) : ctx.cast(zero_points, dtype);
    q = { scale: s, zeroPoint: zp, axis: layerAxis };
  }
  return quantize(ctx, input, q, dtype);
}, { weights: ['scales', 'zero_points'] });

/** The parameters as recorded in graph metadata (per tensor, or per channel along `axis`). */
function fromMeta(ctx: ConversionContext, p: QuantParams, dtype: QuantDType): QuantInfo {
  const perTensor = p.axis === undefined;
  const shape = perTensor ? [] : [p.scale.length];
  return qparamConstants(ctx, Tensor.fromStorage(Float32Array.from(p.scale), shape, 'float32'), Tensor.fromStorage(Int32Array.from(p.zeroPoint), shape, 'int32'), dtype, perTensor ? null : p.axis!);
}

registerConverter<{ input: NetTensor }>('dequantize', (ctx, node, { input }) => {
  const dtype = input.dtype as QuantDType;
  const meta = argMeta(node, 'input')?.qparams;
  // What the quantize converter recorded comes first: metadata may hold one run's values of a run-time scale.
  const q = ctx.quantInfo(input) ?? (meta ? fromMeta(ctx, meta, dtype) : undefined);
  if (!q) return ctx.fail(`the quantization parameters of input '${input.name}' are unknown (it is not produced by a quantize op)`);
  const inputs = q.zeroPoint ? [input, q.scale, q.zeroPoint] : [input, q.scale];
  return ctx.layer1('dequantize', inputs, { axis: q.axis, toType: ctx.precision });
}, {
  supports: (node) => {
    if (argMeta(node, 'input')?.qparams) return true;
    const src = argNode(node, 'input');
    const fromQuantize = src?.op === 'call_function' && (src.target.name === 'acc.quantize_per_tensor' || src.target.name === 'acc.quantize_per_channel');
    return fromQuantize ? true : 'the input carries no quantization parameters (it must come from quantize_per_tensor/per_channel or carry qparams)';
  },
});
