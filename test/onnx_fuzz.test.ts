// Fuzzing the ONNX parser and importer: truncated and bit-flipped versions of committed models must
// either import or fail with an OnnxError (what and where), never another exception or a hang.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importOnnx, OnnxError } from '../src/onnx/index.js';

const DIR = join(import.meta.dirname, 'fixtures', 'onnx');
const MODELS = [
  'net_resnet_block_o13.onnx', 'net_tiny_encoder_o17.onnx', 'net_det_head_o13.onnx', 'net_qdq_cnn_uint8cast_o13.onnx',
  'op_QDQ_conv_o13.onnx', 'op_Resize_linear_o13.onnx', 'op_Slice_o13.onnx', 'op_shape_subgraph_o13.onnx',
];
const VARIANTS_PER_MODEL = 24;

/** Seeded generator (mulberry32): the same variants on every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Imports `bytes`; returns 'ok', or the OnnxError's message. Any other exception fails the test. */
function outcome(bytes: Uint8Array, what: string): string {
  try {
    importOnnx(bytes);
    return 'ok';
  } catch (e) {
    if (!(e instanceof OnnxError)) throw new Error(`${what}: expected an OnnxError, got ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    expect(e.message.length, what).toBeGreaterThan(10);
    return e.message;
  }
}

describe('ONNX import fuzzing', () => {
  for (const [m, file] of MODELS.entries()) {
    const original = new Uint8Array(readFileSync(join(DIR, file)));

    it(`${file}: ${VARIANTS_PER_MODEL} truncations`, () => {
      const next = rng(1000 + m);
      let failed = 0;
      for (let v = 0; v < VARIANTS_PER_MODEL; v++) {
        const cut = Math.floor(next() * original.length);
        if (outcome(original.slice(0, cut), `${file} cut at ${cut}`) !== 'ok') failed++;
      }
      expect(failed).toBeGreaterThan(0);
    });

    it(`${file}: ${VARIANTS_PER_MODEL} bit-flipped copies`, () => {
      const next = rng(2000 + m);
      for (let v = 0; v < VARIANTS_PER_MODEL; v++) {
        const bytes = original.slice();
        const flips = 1 + Math.floor(next() * 8);
        const where: number[] = [];
        for (let f = 0; f < flips; f++) {
          const i = Math.floor(next() * bytes.length);
          bytes[i]! ^= 1 << Math.floor(next() * 8);
          where.push(i);
        }
        outcome(bytes, `${file} with bits flipped at bytes ${where.join(', ')}`);
      }
    });
  }
});
