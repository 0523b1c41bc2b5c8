import { describe, expect, it } from 'vitest';
import '../src/acc_ops/ops/index.js';
import { getAccOp } from '../src/acc_ops/registry.js';
import type { TensorMeta } from '../src/ir/node.js';
import type { Kwargs } from '../src/ir/signature.js';
import type { DType } from '../src/tensor/dtype.js';
import { Tensor } from '../src/tensor/tensor.js';

const run = (name: string, kw: Kwargs): Tensor => {
  const out = getAccOp(name).invoke([], kw);
  if (!(out instanceof Tensor)) throw new Error(`acc.${name} did not return a tensor`);
  return out;
};
const infer = (name: string, kw: Kwargs): unknown => getAccOp(name).infer(kw);
const m = (shape: number[], dtype: DType = 'float32'): TensorMeta => ({ shape, dtype });
const qpt = (values: number[], scale: number, zero_point: number, dtype: string, inDtype: DType = 'float32'): Tensor =>
  run('quantize_per_tensor', { input: Tensor.fromNumbers(values, [values.length], inDtype), scale, zero_point, dtype });

describe('acc.quantize_per_tensor', () => {
  it('rounds half to even and saturates int8', () => {
    const q = qpt([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.49, 126.5, 127.5, 200, -128.5, -200], 1, 0, 'int8');
    expect(q.dtype).toBe('int8');
    expect(Array.from(q.data as Int8Array)).toEqual([0, 2, 2, 0, -2, -2, 3, 126, 127, 127, -128, -128]);
    expect(q.qparams?.scale).toEqual(Float32Array.of(1));
    expect(q.qparams?.zeroPoint).toEqual(Int32Array.of(0));
    expect(q.qparams?.axis).toBeUndefined();
  });
  it('adds the zero point after rounding and saturates uint8 and int32', () => {
    expect(Array.from(qpt([-1000, -0.5, 0.5, 1.5, 63.5, 1000], 0.5, 128, 'uint8').data as Uint8Array)).toEqual([0, 127, 129, 131, 255, 255]);
    expect(Array.from(qpt([2.5, 3.5], 1, 1, 'uint8').data as Uint8Array)).toEqual([3, 5]);
    expect(Array.from(qpt([1e10, -1e10, 2.5, -7], 1, -3, 'int32').data as Int32Array)).toEqual([2147483647, -2147483648, -1, -10]);
  });
  it('scales by the float32 reciprocal as PyTorch (FBGEMM) does, not by dividing', () => {
    // x * float32(1 / scale) is exactly 127.5 -> 128; x / scale would be 127.49999 -> 127.
    expect(Array.from(qpt([0.273939937], 0.00214854861, 0, 'uint8').data as Uint8Array)).toEqual([128]);
    // The scale is kept as float32.
    expect(qpt([1], 0.1, 0, 'int8').qparams?.scale[0]).toBe(Math.fround(0.1));
  });
  it('takes fp16 input, saturates infinities and maps NaN to qmax', () => {
    expect(Array.from(qpt([0.25, -0.75, 1.25], 0.5, 0, 'int8', 'float16').data as Int8Array)).toEqual([0, -2, 2]);
    expect(Array.from(qpt([Infinity, -Infinity, NaN], 1, 0, 'int8').data as Int8Array)).toEqual([127, -128, 127]);
  });
  it('infers the quantized dtype and qparams', () => {
    expect(infer('quantize_per_tensor', { input: m([2, 3]), scale: 0.1, zero_point: -3, dtype: 'int8' }))
      .toEqual({ shape: [2, 3], dtype: 'int8', qparams: { scale: Float32Array.of(0.1), zeroPoint: Int32Array.of(-3) } });
  });
  it('rejects bad scales, zero points, dtypes and inputs', () => {
    expect(() => qpt([1], 0, 0, 'int8')).toThrow(/acc\.quantize_per_tensor: scale must be a positive finite float32, got 0/);
    expect(() => qpt([1], -1, 0, 'int8')).toThrow(/scale must be a positive/);
    expect(() => qpt([1], 1, 300, 'uint8')).toThrow(/zero_point 300 is out of range for uint8 \(expected 0\.\.255\)/);
    expect(() => qpt([1], 1, -129, 'int8')).toThrow(/zero_point -129 is out of range for int8/);
    expect(() => qpt([1], 1, 0, 'float16')).toThrow(/argument 'dtype' must be one of int8, uint8, int32, got 'float16'/);
    expect(() => run('quantize_per_tensor', { input: Tensor.fromArray([1], 'int32'), scale: 1, zero_point: 0, dtype: 'int8' }))
      .toThrow(/input must be a floating-point tensor, got int32/);
  });
});

describe('acc.quantize_per_channel', () => {
  const x = Tensor.fromArray([[1, -2, 3], [0.26, 0.5, 7]]);
  it('quantizes along axis 0', () => {
    const q = run('quantize_per_channel', { input: x, scales: Tensor.fromArray([0.5, 0.1]), zero_points: Tensor.fromArray([0n, 10n]), axis: 0, dtype: 'int8' });
    expect(q.toArray()).toEqual([[2, -4, 6], [13, 15, 80]]);
    expect(q.qparams).toEqual({ scale: Float32Array.of(0.5, 0.1), zeroPoint: Int32Array.of(0, 10), axis: 0 });
  });
  it('quantizes along axis 1 (given as -1)', () => {
    const q = run('quantize_per_channel', {
      input: x, scales: Tensor.fromArray([1, 0.5, 2]), zero_points: Tensor.fromArray([0, -1, 1], 'int32'), axis: -1, dtype: 'int8',
    });
    // column 1: -2 * 2 - 1 = -5, 0.5 * 2 - 1 = 0; column 2: round(1.5) + 1 = 3, round(3.5) + 1 = 5.
    expect(q.toArray()).toEqual([[1, -5, 3], [0, 0, 5]]);
    expect(q.qparams?.axis).toBe(1);
  });
  it('saturates uint8 per channel', () => {
    const q = run('quantize_per_channel', {
      input: Tensor.fromArray([[-10, 300], [-10, 300]]), scales: Tensor.fromArray([1, 2]), zero_points: Tensor.fromArray([5n, 0n]), axis: 0, dtype: 'uint8',
    });
    expect(q.toArray()).toEqual([[0, 255], [0, 150]]);
  });
  it('checks scales and zero points', () => {
    const kw = { input: x, scales: Tensor.fromArray([1, 1]), zero_points: Tensor.fromArray([0n, 0n]), axis: 0, dtype: 'int8' };
    expect(() => run('quantize_per_channel', { ...kw, axis: 1 })).toThrow(/scales must have shape \[3\] \(dim 1 of input \[2, 3\]\), got \[2\]/);
    expect(() => run('quantize_per_channel', { ...kw, zero_points: Tensor.fromArray([0, 0]) })).toThrow(/zero_points must be an integer tensor, got float32/);
    expect(() => run('quantize_per_channel', { ...kw, scales: Tensor.fromArray([1, 0]) })).toThrow(/scale of channel 1 must be a positive finite float32, got 0/);
    expect(() => run('quantize_per_channel', { ...kw, zero_points: Tensor.fromArray([0n, 128n]) })).toThrow(/zero_point of channel 1 128 is out of range for int8/);
    expect(() => run('quantize_per_channel', { ...kw, axis: 2 })).toThrow(/acc\.quantize_per_channel: axis 2 is out of range/);
    expect(infer('quantize_per_channel', { input: m([2, 3]), scales: m([3]), zero_points: m([3], 'int64'), axis: 1, dtype: 'uint8' })).toEqual(m([2, 3], 'uint8'));
  });
});

describe('acc.dequantize', () => {
  it('round-trips values on the quantization grid', () => {
    const x = [-1, -0.5, 0, 0.5, 1.25];
    const q = qpt(x, 0.25, 10, 'uint8');
    expect(Array.from(q.data as Uint8Array)).toEqual([6, 8, 10, 12, 15]);
    const y = run('dequantize', { input: q });
    expect(y.dtype).toBe('float32');
    expect(Array.from(y.toFloat64())).toEqual(x);
  });
  it('computes float32((q - zp) * scale) per tensor and per channel', () => {
    const q = new Tensor(Uint8Array.of(0, 255, 128), [3], 'uint8', { scale: Float32Array.of(0.1), zeroPoint: Int32Array.of(128) });
    expect(Array.from(run('dequantize', { input: q }).data as Float32Array)).toEqual([Math.fround(-12.8), Math.fround(12.7), 0]);
    const pc = run('quantize_per_channel', {
      input: Tensor.fromArray([[1, 2], [3, 4]]), scales: Tensor.fromArray([0.5, 2]), zero_points: Tensor.fromArray([1n, -1n]), axis: 1, dtype: 'int8',
    });
    expect(pc.toArray()).toEqual([[3, 0], [7, 1]]);
    expect(run('dequantize', { input: pc }).toArray()).toEqual([[1, 2], [3, 4]]);
    const q32 = qpt([1e6, -3.75], 0.25, 7, 'int32');
    expect(run('dequantize', { input: q32 }).toArray()).toEqual([1e6, -3.75]);
  });
  it('errors on a tensor without qparams, naming it, and on float input', () => {
    expect(() => run('dequantize', { input: Tensor.fromArray([1, 2], 'int8') }))
      .toThrow(/acc\.dequantize: input \(int8\[2\]\) carries no quantization parameters/);
    expect(() => run('dequantize', { input: Tensor.fromArray([1, 2]) })).toThrow(/input must be a quantized int8, uint8 or int32 tensor, got float32/);
    const bad = new Tensor(Int8Array.of(1, 2), [2], 'int8', { scale: Float32Array.of(1, 1, 1), zeroPoint: Int32Array.of(0, 0, 0), axis: 0 });
    expect(() => run('dequantize', { input: bad })).toThrow(/per-channel along dim 0 parameters \(3 scales, 3 zero points\) do not fit input \[2\]/);
    expect(infer('dequantize', { input: m([4], 'uint8') })).toEqual(m([4]));
  });
});
