/**
 * The trained digits CNN of scripts/train_digits.py (test/fixtures/digits): held-out images and
 * labels, calibration images, the fp32 and the Q/DQ ONNX models, and top-1 scoring. Shared by the
 * CPU accuracy test (int8_digits.test.ts) and the GPU one (gpu/cuda_int8_models.test.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tensor } from '../src/tensor/tensor.js';

export const DIGITS_DIR = join(import.meta.dirname, 'fixtures', 'digits');

interface Meta {
  readonly heldout: { readonly file: string; readonly images: { readonly shape: readonly number[] }; readonly labels: { readonly byteOffset: number; readonly shape: readonly number[] } };
  readonly calib: { readonly file: string; readonly images: { readonly shape: readonly number[] } };
  readonly models: { readonly fp32: string; readonly qdq: string };
  readonly top1: { readonly torch_fp32: number; readonly onnxruntime_qdq: number };
}

export const digitsMeta = JSON.parse(readFileSync(join(DIGITS_DIR, 'meta.json'), 'utf8')) as Meta;

function floats(file: string, shape: readonly number[], byteOffset = 0): Tensor {
  const bytes = readFileSync(join(DIGITS_DIR, file));
  const n = shape.reduce((a, b) => a * b, 1);
  return Tensor.fromBytes(new Uint8Array(bytes.buffer, bytes.byteOffset + byteOffset, n * 4), shape, 'float32');
}

/** Held-out images [N, 1, 8, 8] and their labels. */
export const digitsImages = floats(digitsMeta.heldout.file, digitsMeta.heldout.images.shape);
export const digitsLabels = Uint8Array.from(readFileSync(join(DIGITS_DIR, digitsMeta.heldout.file)).subarray(digitsMeta.heldout.labels.byteOffset));
const calib = floats(digitsMeta.calib.file, digitsMeta.calib.images.shape);

/** Rows [start, start + n) of a [N, ...] float32 tensor. */
function rows(t: Tensor, start: number, n: number): Tensor {
  const per = t.shape.slice(1).reduce((a, b) => a * b, 1);
  return Tensor.fromBytes(t.bytes().slice(start * per * 4, (start + n) * per * 4), [n, ...t.shape.slice(1)], 'float32');
}

/** The calibration images in batches of 32. */
export function digitsCalibrationBatches(): Tensor[][] {
  const out: Tensor[][] = [];
  for (let i = 0; i < calib.shape[0]!; i += 32) out.push([rows(calib, i, Math.min(32, calib.shape[0]! - i))]);
  return out;
}

/** Top-1 accuracy of logits [N, classes] against the held-out labels. */
export function digitsTop1(logits: Tensor): number {
  const [n, c] = logits.shape as [number, number];
  const v = logits.toFloat32();
  let correct = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < c; j++) if (v[i * c + j]! > v[i * c + best]!) best = j;
    if (best === digitsLabels[i]) correct++;
  }
  return correct / n;
}
