/**
 * Converters of the quant acc ops onto explicit Q/DQ layers (TensorRT's explicit quantization):
 * scales are float32 constants (kept out of the network precision) or tensors the network computes
 * (dynamic quantization), zero points are of the quantized type, left out when constant zeros.
 * Dequantize finds the parameters of its input in the graph metadata or in what the quantize
 * converter recorded.
 */
import type { NetTensor } from '../engine/network.js';
import type { QuantDType } from '../kernels/reference/quant.js';
import type { DType } from '../tensor/dtype.js';
import type { QuantParams } from '../tensor/tensor.js';
import { Tensor } from '../tensor/tensor.js';
import { normDim } from '../tensor/shape.js';
import { isNetTensor, type ConversionContext, type QuantInfo } from './context.js';
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

type Param = number | Tensor | NetTensor;
type PerTensorArgs = { input: NetTensor; scale: Param; zero_point: Param; dtype: QuantDType };

/** The value of a parameter known at build time (a number or a one-element constant). */
function knownValue(v: Param): number | undefined {
  return typeof v === 'number' ? v : v instanceof Tensor ? v.toFloat64()[0] : undefined;
}

/** A per-tensor parameter as a [1] tensor in `dtype`: a constant when known, else the computed value. */
function perTensorParam(ctx: ConversionContext, v: Param, dtype: DType, suffix: string): NetTensor {
  const value = knownValue(v);
  if (value !== undefined) return ctx.constant(Tensor.fromNumbers([value], [1], dtype), { keepDtype: true, suffix });
  if (!isNetTensor(v)) return ctx.fail(`the ${suffix} is neither a number nor a tensor`);
  return ctx.reshape(ctx.cast(v, dtype), [1]);
}

// The scale and zero point are numbers, constants, or one-element tensors computed at run time (dynamic quantization).
registerConverter<PerTensorArgs>('quantize_per_tensor', (ctx, _node, { input, scale, zero_point, dtype }) => {
  const s = knownValue(scale);
  const z = knownValue(zero_point);
  if (s !== undefined && z !== undefined) {
    return quantize(ctx, input, qparamConstants(ctx, Tensor.fromNumbers([s], [], 'float32'), Tensor.fromNumbers([z], [], 'int32'), dtype, null), dtype);
  }
  const q: QuantInfo = {
    scale: perTensorParam(ctx, scale, 'float32', 'scale'),
    zeroPoint: z === 0 ? null : perTensorParam(ctx, zero_point, dtype, 'zero_point'),
    axis: null,
  };
  return quantize(ctx, input, q, dtype);
}, { weights: ['scale', 'zero_point'] });

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
