/**
 * Quant acc ops: quantize_per_tensor, quantize_per_channel and dequantize. The quantized result
 * carries its qparams (scale, zero point, axis) in the Tensor and, per tensor, in its TensorMeta.
 * Kernels are in src/kernels/reference/quant.ts.
 */
import {
  dequantize, dequantizeMeta, quantizePerChannel, quantizePerChannelMeta, quantizePerTensor, quantizePerTensorMeta,
} from '../../kernels/reference/quant.js';
import type { DType } from '../../tensor/dtype.js';
import type { Tensor } from '../../tensor/tensor.js';
import { defineAccOp } from '../registry.js';

const QUANT_DTYPES = ['int8', 'uint8', 'int32', 'float8e4m3'] as const;

/**
 * q = clamp(round_half_even(x / scale) + zero_point, qmin, qmax) with one scale and zero point, each
 * a number or a one-element tensor (torch.quantize_per_tensor's tensor form: a scale computed at
 * run time, as dynamic quantization does).
 */
export const accQuantizePerTensor = defineAccOp<{ input: Tensor; scale: number | Tensor; zero_point: number | Tensor; dtype: DType }>({
  name: 'quantize_per_tensor',
  args: {
    input: { type: 'Tensor' }, scale: { type: 'Tensor|float' }, zero_point: { type: 'Tensor|int' },
    dtype: { type: 'dtype', choices: QUANT_DTYPES },
  },
  properties: ['quantized', 'unary'],
  doc: 'Affine quantization to int8/uint8/int32, rounding half to even and saturating; scale and zero_point are numbers or one-element tensors; the result carries its qparams.',
  infer: ({ input, scale, zero_point, dtype }) => quantizePerTensorMeta(input, scale, zero_point, dtype),
  kernel: ({ input, scale, zero_point, dtype }) => quantizePerTensor(input, scale, zero_point, dtype),
});

/** quantize_per_tensor with one scale and zero point per index of `axis`. */
export const accQuantizePerChannel = defineAccOp<{ input: Tensor; scales: Tensor; zero_points: Tensor; axis: number; dtype: DType }>({
  name: 'quantize_per_channel',
  args: {
    input: { type: 'Tensor' }, scales: { type: 'Tensor' }, zero_points: { type: 'Tensor' }, axis: { type: 'int' },
    dtype: { type: 'dtype', choices: QUANT_DTYPES },
  },
  properties: ['quantized'],
  doc: 'Affine quantization with 1-d float scales and integer zero_points, one per index of `axis`.',
  infer: ({ input, scales, zero_points, axis, dtype }) => quantizePerChannelMeta(input, scales, zero_points, axis, dtype),
  kernel: ({ input, scales, zero_points, axis, dtype }) => quantizePerChannel(input, scales, zero_points, axis, dtype),
});

/** (q - zero_point) * scale as float32, by the qparams the input carries (per tensor or per channel). */
export const accDequantize = defineAccOp<{ input: Tensor }>({
  name: 'dequantize',
  args: { input: { type: 'Tensor' } },
  properties: ['quantized', 'unary'],
  doc: "(q - zero_point) * scale in float32, using the input's own qparams.",
  infer: ({ input }) => dequantizeMeta(input),
  kernel: ({ input }) => dequantize(input),
});
