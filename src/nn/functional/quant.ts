/** Quantization F functions (torch.quantize_per_tensor, quantize_per_channel, dequantize), mapped onto the quant acc ops. */
import { sig } from '../../ir/signature.js';
import type { Tensor } from '../../tensor/tensor.js';
import { defineF } from './define.js';

/** The integer types a quantized tensor may have. */
export type QuantDType = 'int8' | 'uint8' | 'int32';

/**
 * round(x / scale) + zeroPoint, rounding half to even and saturating to `dtype`; the result carries its qparams.
 * The scale and zero point are numbers or one-element tensors (a scale computed from the input, as in torch).
 *
 * @example const q = F.quantizePerTensor(x, 0.05, 0, 'int8')
 * @example const q = F.quantizePerTensor(x, x.abs().amax().div(127), 0, 'int8')
 */
export const quantizePerTensor = defineF<[input: Tensor, scale: number | Tensor, zeroPoint: number | Tensor, dtype: QuantDType]>(
  'quantizePerTensor', sig('input', 'scale', 'zeroPoint', 'dtype'), { to: 'quantize_per_tensor', rename: { zeroPoint: 'zero_point' } });

/**
 * Quantizes with one scale and zero point per index of `axis`.
 *
 * @example const q = F.quantizePerChannel(w, scales, zeroPoints, 0, 'int8')
 */
export const quantizePerChannel = defineF<[input: Tensor, scales: Tensor, zeroPoints: Tensor, axis: number, dtype: QuantDType]>(
  'quantizePerChannel', sig('input', 'scales', 'zeroPoints', 'axis', 'dtype'), { to: 'quantize_per_channel', rename: { zeroPoints: 'zero_points' } });

/** (q − zeroPoint) × scale with the input's own qparams, as float32. @example F.dequantize(q) */
export const dequantize = defineF<[input: Tensor]>('dequantize', sig('input'), { to: 'dequantize' });
