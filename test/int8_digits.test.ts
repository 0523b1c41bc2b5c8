/**
 * INT8 accuracy on a trained model (issue #6): the digits CNN that scripts/train_digits.py trained
 * with PyTorch on scikit-learn's digits (fixtures in test/fixtures/digits). Post-training INT8
 * (entropy calibration on 256 training images) must keep held-out top-1 within 1 point of fp32,
 * and so must the same model as an ONNX file with Q/DQ nodes (onnxruntime's quantize_static),
 * compiled for int8 as it is. Reference backend (test/gpu/cuda_int8_models.test.ts checks the same
 * on the CUDA backend).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compile } from '../src/compile.js';
import { importOnnx } from '../src/onnx/index.js';
import { DIGITS_DIR as DIR, digitsCalibrationBatches as calibrationBatches, digitsImages as images, digitsLabels as labels, digitsMeta as meta, digitsTop1 as top1 } from './digits_fixture.js';

describe('INT8 on the trained digits CNN (held-out top-1)', () => {
  const heldout = labels.length;

  it('the imported fp32 model scores what PyTorch scored', async () => {
    const fp32 = await compile(importOnnx(join(DIR, meta.models.fp32), { inputShapes: { x: [heldout, 1, 8, 8] } }), [images], { device: 'cpu' });
    const [logits] = await fp32.run([images]);
    expect(top1(logits!)).toBeCloseTo(meta.top1.torch_fp32, 6);
  });

  it('post-training INT8 (entropy calibration) stays within 1 point of fp32, every conv and linear in int8', async () => {
    const gm = importOnnx(join(DIR, meta.models.fp32), { inputShapes: { x: [heldout, 1, 8, 8] } });
    let int8Ops: string[] = [];
    const int8 = await compile(gm, [images], {
      device: 'cpu', precision: 'int8',
      calibration: { data: calibrationBatches(), method: 'entropy' },
      quantization: { onReport: (r) => { int8Ops = r.layers.filter((l) => l.precision === 'int8').map((l) => l.op).sort(); } },
    });
    const [logits] = await int8.run([images]);
    const acc = top1(logits!);
    console.log(`digits: fp32 ${meta.top1.torch_fp32}, int8 PTQ ${acc}, int8 layers: ${int8Ops.join(', ')}`);
    // Three convolutions, two linears, and the residual add between them.
    expect(int8Ops.filter((op) => op !== 'add')).toEqual(['conv2d', 'conv2d', 'conv2d', 'linear', 'linear']);
    expect(acc).toBeGreaterThanOrEqual(meta.top1.torch_fp32 - 0.01);
  });

  it('the ONNX model with Q/DQ nodes (onnxruntime quantize_static) compiles for int8 and stays within 1 point of fp32', async () => {
    const gm = importOnnx(join(DIR, meta.models.qdq), { inputShapes: { x: [heldout, 1, 8, 8] } });
    // Float layers in float32 (int8Fallback): then only Q/DQ sit between the float input/output and the int8 steps.
    const int8 = await compile(gm, [images], { device: 'cpu', precision: 'int8', int8Fallback: 'fp32' });
    // Its int8 weights (per output channel) reach the engine dequantized: every conv and Gemm is one INT8 step.
    const [engine, ...others] = [...int8.engines.values()];
    expect(others).toEqual([]);
    const anchors = engine!.engine.plan.steps.filter((s) => s.kind === 'convolution' || s.kind === 'matrix_multiply');
    expect(anchors).toHaveLength(5);
    for (const s of anchors) expect(s.quant?.operands[1]?.axis, s.name).toBe(0);
    // Only the network's input quantize and output dequantize run as their own steps.
    expect(engine!.report.unfusedQdq.map((r) => r.reason)).toEqual([
      "it quantizes the network input 'x': no step before it can write int8, so it runs as its own step",
      "its float result is the network output 'output0'",
    ]);
    const [logits] = await int8.run([images]);
    const acc = top1(logits!);
    console.log(`digits: QDQ ONNX int8 ${acc} (onnxruntime ${meta.top1.onnxruntime_qdq})`);
    expect(acc).toBeGreaterThanOrEqual(meta.top1.torch_fp32 - 0.01);
  });
});
