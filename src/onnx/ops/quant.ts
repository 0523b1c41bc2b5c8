/**
 * ONNX QuantizeLinear / DequantizeLinear, per tensor and per axis, onto the acc quant ops.
 * Neither is ever folded at import: quantized weights stay integer constants followed by
 * acc.dequantize, which is how an engine recognizes explicit (Q/DQ) quantization.
 *
 * Rounding: ONNX specifies round(x / scale); acc.quantize_* compute round(x * (1 / scale)) in
 * float32, as PyTorch's fake quantization (where Q/DQ models come from) and FBGEMM do. The two differ
 * only when x / scale lies within one float32 ulp of a .5 tie, by one quantum (about one element in
 * 10^5 of ResNet-18's activations against ONNX Runtime). Deep Q/DQ networks amplify such flips, as
 * they do any float-level difference: on a random-weight Q/DQ ResNet-18, ONNX Runtime and PyTorch
 * differ by 1.8e-2 (relative), and this importer is as far from either.
 */
import type { Emitter } from '../../acc_ops/mapping.js';
import { TraceProxy } from '../../ir/proxy.js';
import type { DType } from '../../tensor/dtype.js';
import { Tensor, type QuantParams } from '../../tensor/tensor.js';
import { onnxTypeInfo, onnxTypeName } from '../dtypes.js';
import { defineOnnxOp, type OnnxKwargs } from './define.js';
import { axisOf, constInput, ctxOf, input, intAttr, isConstant, optInput, rankOf } from './values.js';

const QUANT_TYPES: readonly DType[] = ['int8', 'uint8', 'int32', 'float8e4m3'];

/** Constant scale and zero point(s) of a Q or DQ node, as qparams (axis set when per axis). */
function qparamsOf(kw: OnnxKwargs, e: Emitter, x: Tensor, scaleName: string, zpName: string): { q: QuantParams; dtype: DType | null } {
  const blockSize = intAttr(kw, 'block_size');
  if (blockSize !== 0) {
    throw new RangeError(`blocked quantization (block_size ${blockSize}) is not supported: expected block_size 0, with ${scaleName} a scalar (per tensor) or 1-d along 'axis' (per axis)`);
  }
  const scale = constInput(kw, scaleName);
  const zpIn = optInput(kw, zpName);
  const zp = zpIn === null ? null : constInput(kw, zpName);
  const n = scale.numel;
  if (zp !== null && zp.numel !== n) throw new RangeError(`${zpName} has ${zp.numel} values but ${scaleName} has ${n}`);
  const scales = new Float32Array(scale.toFloat32());
  const zeroPoint = zp === null ? new Int32Array(n) : Int32Array.from(zp.toFloat64());
  const perAxis = scale.shape.length === 1 && n > 1;
  if (scale.shape.length > 1) throw new RangeError(`${scaleName} must be a scalar or 1-d, got shape [${scale.shape.join(', ')}]`);
  const dtype = zp === null ? null : zp.dtype;
  if (!perAxis) return { q: { scale: scales, zeroPoint }, dtype };
  const opset = ctxOf(kw).opset;
  if (opset < 13) throw new RangeError(`${scaleName} has ${n} values, but opset ${opset} takes one scale (per-axis quantization needs opset 13)`);
  const axis = axisOf(intAttr(kw, 'axis'), rankOf(e, x));
  const channels = e.meta(x).shape[axis];
  if (channels !== n) throw new RangeError(`${n} scales for axis ${axis} of size ${channels}`);
  return { q: { scale: scales, zeroPoint, axis }, dtype };
}

function checkQuantType(dtype: DType, what: string): void {
  if (!QUANT_TYPES.includes(dtype)) throw new TypeError(`${what} ${dtype} is not supported (int8, uint8, int32 and float8e4m3 (FLOAT8E4M3FN) are)`);
}

// The output type is the zero point's (uint8 without one; opset 21's output_dtype when given).
defineOnnxOp({
  opType: 'QuantizeLinear', inputs: ['x', 'y_scale', 'y_zero_point?'], attrs: { axis: 1, saturate: 1, block_size: 0, output_dtype: 0 },
  minOpset: 10, noFold: true,
  map: (kw, e) => {
    const x = input(kw, 'x');
    const { q, dtype: zpType } = qparamsOf(kw, e, x, 'y_scale', 'y_zero_point');
    const outCode = intAttr(kw, 'output_dtype');
    let dtype: DType = zpType ?? 'uint8';
    if (zpType === null && outCode !== 0) {
      const info = onnxTypeInfo(outCode);
      if (!info || info.kind !== 'native') throw new TypeError(`output_dtype ${onnxTypeName(outCode)} is not supported (int8, uint8, int32 and FLOAT8E4M3FN are)`);
      dtype = info.dtype;
    }
    checkQuantType(dtype, 'quantized type');
    // FP8 (opset 19): out-of-range values saturate to ±448 by default; saturate=0 asks for NaN instead, which fxrt does not do.
    if (dtype === 'float8e4m3' && intAttr(kw, 'saturate') === 0) {
      throw new RangeError('saturate=0 is not supported: fxrt quantizes to FLOAT8E4M3FN saturating at ±448 (the default, saturate=1)');
    }
    if (q.axis === undefined) {
      return e.tensor('quantize_per_tensor', { input: x, scale: q.scale[0]!, zero_point: q.zeroPoint[0]!, dtype });
    }
    const y = e.tensor('quantize_per_channel', {
      input: x, scales: Tensor.fromStorage(q.scale, [q.scale.length], 'float32'),
      zero_points: Tensor.fromStorage(BigInt64Array.from(q.zeroPoint, (z) => BigInt(z)), [q.zeroPoint.length], 'int64'),
      axis: q.axis, dtype,
    });
    return withQParams(y, q);
  },
});

/**
 * A traced per-axis quantize with the metadata a per-tensor one has: its qparams (known here, its
 * scales being constants), so that the DequantizeLinear reading it becomes acc.dequantize and the
 * Q/DQ pair reaches the engine. A quantized value computed at import carries them itself.
 */
function withQParams(y: Tensor, q: QuantParams): Tensor {
  const meta = y instanceof TraceProxy ? y.knownMeta : undefined;
  if (meta && y instanceof TraceProxy) y.node.meta.tensorMeta = { ...meta, qparams: q };
  return y;
}

function sameQParams(a: QuantParams, b: QuantParams): boolean {
  if (a.axis !== b.axis || a.scale.length !== b.scale.length) return false;
  for (let i = 0; i < a.scale.length; i++) if (a.scale[i] !== b.scale[i] || a.zeroPoint[i] !== b.zeroPoint[i]) return false;
  return true;
}

/** (float(x) - zp) * scale with broadcasting along the axis: for inputs that do not carry these qparams. */
function dequantizeByArithmetic(e: Emitter, x: Tensor, q: QuantParams): Tensor {
  const rank = rankOf(e, x);
  const shape = q.axis === undefined ? [] : Array.from({ length: rank }, (_, d) => (d === q.axis ? q.scale.length : 1));
  const scale = Tensor.fromStorage(q.scale, shape, 'float32');
  const zp = Tensor.fromNumbers(q.zeroPoint, shape, 'float32');
  const centered = e.tensor('sub', { input: e.tensor('to_dtype', { input: x, dtype: 'float32' }), other: zp });
  return e.tensor('mul', { input: centered, other: scale });
}

defineOnnxOp({
  opType: 'DequantizeLinear', inputs: ['x', 'x_scale', 'x_zero_point?'], attrs: { axis: 1, block_size: 0, output_dtype: 0 },
  minOpset: 10, noFold: true,
  map: (kw, e) => {
    const x = input(kw, 'x');
    const { q } = qparamsOf(kw, e, x, 'x_scale', 'x_zero_point');
    const xMeta = e.meta(x);
    checkQuantType(xMeta.dtype, 'input type');
    let y: Tensor;
    if (isConstant(x)) {
      // A quantized weight: the integer constant carries its qparams into the graph.
      y = e.tensor('dequantize', { input: new Tensor(x.data, x.shape, x.dtype, q) });
    } else if (xMeta.qparams !== undefined && sameQParams(xMeta.qparams, q)) {
      y = e.tensor('dequantize', { input: x });
    } else {
      y = dequantizeByArithmetic(e, x, q);
    }
    const want = e.meta(input(kw, 'x_scale')).dtype;
    return want === 'float32' ? y : e.tensor('to_dtype', { input: y, dtype: want });
  },
});
