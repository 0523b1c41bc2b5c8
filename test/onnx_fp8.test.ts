/**
 * FP8 Q/DQ ONNX models (opset 19, FLOAT8E4M3FN): imported as acc quantize/dequantize to
 * float8e4m3, checked against ONNX Runtime on the same bytes, and compiled with precision 'fp8'
 * into FP8 matrix-product steps as they are (explicit quantization, no calibration).
 */
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { compile } from '../src/compile.js';
import { importOnnx } from '../src/onnx/index.js';
import { Tensor } from '../src/tensor/tensor.js';
import { fp8MlpModel as mlpModel } from './onnx_fp8_model.js';

async function runOrt(bytes: Uint8Array, x: Tensor): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes);
  const out = await session.run({ x: new ort.Tensor('float32', x.toFloat32(), x.shape) });
  await session.release();
  return out['y']!.data as Float32Array;
}

describe('ONNX FP8 Q/DQ models (FLOAT8E4M3FN, opset 19)', () => {
  const w = Tensor.randn([32, 16], { seed: 1 });
  const b = Tensor.randn([16], { seed: 2 });
  const x = Tensor.randn([8, 32], { seed: 3 });

  it('import as float8e4m3 quantize/dequantize and agree with ONNX Runtime', async () => {
    const bytes = mlpModel(w, b);
    const gm = importOnnx(bytes);
    const ops = gm.graph.nodeList().flatMap((n) => (n.op === 'call_function' ? [n.target.name] : []));
    expect(ops.filter((o) => o.includes('quant'))).toEqual(['acc.quantize_per_tensor', 'acc.dequantize', 'acc.dequantize']);
    const q = gm.graph.nodeList().find((n) => n.name === 'xq')!;
    expect(q.meta.tensorMeta).toMatchObject({ dtype: 'float8e4m3' });
    const want = await runOrt(bytes, x);
    const got = (gm.forward(x) as Tensor).toFloat32();
    const scale = Math.max(...Array.from(want, Math.abs));
    expect(Math.max(...Array.from(got, (v, i) => Math.abs(v - want[i]!)))).toBeLessThan(1e-5 * scale);
  });

  it("compile with precision 'fp8' runs the MatMul as one FP8 step (its own scales, no calibration), agreeing with ONNX Runtime", async () => {
    const bytes = mlpModel(w, b);
    const lowered = await compile(importOnnx(bytes), [x], { device: 'cpu', precision: 'fp8', int8Fallback: 'fp32' });
    expect(lowered.quantization).toBeUndefined();
    const [engine] = [...lowered.engines.values()];
    const fp8 = engine!.engine.plan.steps.filter((s) => s.quant?.format === 'float8e4m3');
    expect(fp8.map((s) => `${s.kind}:${s.precision.storage}`)).toEqual(['matrix_multiply:float32']);
    const want = await runOrt(bytes, x);
    const [got] = await lowered.run([x]);
    const scale = Math.max(...Array.from(want, Math.abs));
    // The FP8 step multiplies the e4m3 values and scales the sum once: float rounding apart from ORT's.
    expect(Math.max(...Array.from(got!.toFloat32(), (v, i) => Math.abs(v - want[i]!)))).toBeLessThan(1e-5 * scale);
  });

  it('refuses saturate=0 (NaN for out-of-range values), naming the node', () => {
    expect(() => importOnnx(mlpModel(w, b, 0))).toThrow(/node 'xq' \(QuantizeLinear, opset 19\): saturate=0 is not supported: fxrt quantizes to FLOAT8E4M3FN saturating at ±448/);
  });
});
