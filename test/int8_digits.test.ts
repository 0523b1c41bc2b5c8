/**
 * INT8 accuracy on a trained model (issue #6): the digits CNN that scripts/train_digits.py trained
 * with PyTorch on scikit-learn's digits (fixtures in test/fixtures/digits). Post-training INT8
 * (entropy calibration on 256 training images) must keep held-out top-1 within 1 point of fp32,
 * and so must the same model as an ONNX file with Q/DQ nodes (onnxruntime's quantize_static),
 * compiled for int8 as it is. Reference backend (the CUDA backend runs the same plans on the GPU
 * machine where its int8 kernels exist).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compile } from '../src/compile.js';
import { importOnnx } from '../src/onnx/index.js';
import { Tensor } from '../src/tensor/tensor.js';

const DIR = join(import.meta.dirname, 'fixtures', 'digits');

interface Meta {
  readonly heldout: { readonly file: string; readonly images: { readonly shape: readonly number[] }; readonly labels: { readonly byteOffset: number; readonly shape: readonly number[] } };
  readonly calib: { readonly file: string; readonly images: { readonly shape: readonly number[] } };
  readonly models: { readonly fp32: string; readonly qdq: string };
  readonly top1: { readonly torch_fp32: number; readonly onnxruntime_qdq: number };
}

const meta = JSON.parse(readFileSync(join(DIR, 'meta.json'), 'utf8')) as Meta;

function floats(file: string, shape: readonly number[], byteOffset = 0): Tensor {
  const bytes = readFileSync(join(DIR, file));
  const n = shape.reduce((a, b) => a * b, 1);
  return Tensor.fromBytes(new Uint8Array(bytes.buffer, bytes.byteOffset + byteOffset, n * 4), shape, 'float32');
}

const images = floats(meta.heldout.file, meta.heldout.images.shape);
const labels = Uint8Array.from(readFileSync(join(DIR, meta.heldout.file)).subarray(meta.heldout.labels.byteOffset));
const calib = floats(meta.calib.file, meta.calib.images.shape);

/** Rows [start, start + n) of a [N, ...] tensor. */
function rows(t: Tensor, start: number, n: number): Tensor {
  const per = t.shape.slice(1).reduce((a, b) => a * b, 1);
  return Tensor.fromBytes(t.bytes().slice(start * per * 4, (start + n) * per * 4), [n, ...t.shape.slice(1)], 'float32');
}

/** Calibration batches of 32 images. */
function calibrationBatches(): Tensor[][] {
  const out: Tensor[][] = [];
  for (let i = 0; i < calib.shape[0]!; i += 32) out.push([rows(calib, i, Math.min(32, calib.shape[0]! - i))]);
  return out;
}

function top1(logits: Tensor): number {
  const [n, c] = logits.shape as [number, number];
  const v = logits.toFloat32();
  let correct = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < c; j++) if (v[i * c + j]! > v[i * c + best]!) best = j;
    if (best === labels[i]) correct++;
  }
  return correct / n;
}

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
    const int8 = await compile(gm, [images], { device: 'cpu', precision: 'int8' });
    const [logits] = await int8.run([images]);
    const acc = top1(logits!);
    console.log(`digits: QDQ ONNX int8 ${acc} (onnxruntime ${meta.top1.onnxruntime_qdq})`);
    expect(acc).toBeGreaterThanOrEqual(meta.top1.torch_fp32 - 0.01);
  });
});
