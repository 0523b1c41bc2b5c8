/**
 * Reference kernels of explicit quantization (TensorRT's Q/DQ layers), inputs (x, scale[,
 * zeroPoint]): per tensor when `axis` is null (one scale), else per channel along `axis`.
 * Bit-exact with PyTorch's quantize_per_tensor/_per_channel and dequantize.
 */
import { dequantize as dequantizeKernel, quantizePerChannel, quantizePerTensor } from '../../kernels/reference/quant.js';
import { Tensor, type QuantParams } from '../../tensor/tensor.js';
import { inputAt, requireFloat, type LayerCall, type LayerKernels } from './layer_kernel.js';

/** The zero points of a call (input 2), or zeros. */
function zeroPoints(call: LayerCall<'quantize' | 'dequantize'>, count: number): Int32Array {
  const zp = call.inputs[2];
  if (!zp) return new Int32Array(count);
  return Int32Array.from(zp.toFloat64());
}

function quantize(call: LayerCall<'quantize'>): Tensor[] {
  const x = inputAt(call, 0, 'input');
  requireFloat(call.name, 'input', x);
  const scale = inputAt(call, 1, 'scale');
  const { axis, toType } = call.params;
  if (axis === null) return [quantizePerTensor(x, scale.item(), zeroPoints(call, 1)[0]!, toType)];
  const zp = Tensor.fromStorage(zeroPoints(call, scale.numel), [scale.numel], 'int32');
  return [quantizePerChannel(x, scale.withShape([scale.numel]), zp, axis, toType)];
}

function dequantize(call: LayerCall<'dequantize'>): Tensor[] {
  const q = inputAt(call, 0, 'input');
  const scale = inputAt(call, 1, 'scale');
  const { axis, toType } = call.params;
  const qparams: QuantParams = axis === null
    ? { scale: Float32Array.of(scale.item()), zeroPoint: zeroPoints(call, 1).subarray(0, 1) }
    : { scale: Float32Array.from(scale.toFloat32()), zeroPoint: zeroPoints(call, scale.numel), axis: axis < 0 ? axis + q.rank : axis };
  const y = dequantizeKernel(new Tensor(q.data, q.shape, q.dtype, qparams));
  return [toType === 'float32' ? y : y.castTo(toType)];
}

/** Reference kernels of the Q/DQ layers. */
export const QUANT_KERNELS: LayerKernels<'quantize' | 'dequantize'> = { quantize, dequantize };
