// `fxrt bench model.onnx`: argument parsing, and a full import → compile → benchmark run on the CPU backend.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { benchOnnx, parseBenchOnnxArgs } from '../src/cli/bench_onnx.js';
import { UsageError } from '../src/cli/args.js';
import { OnnxError } from '../src/onnx/index.js';

const DIR = join(import.meta.dirname, 'fixtures', 'onnx');

describe('fxrt bench (ONNX)', () => {
  it('parses the model, precision, batch and symbolic dims', () => {
    const a = parseBenchOnnxArgs(['m.onnx', '--precision', 'fp16', '--batch', '32', '--dims', 'seq=128,heads=2', '--iterations=5']);
    expect(a).toEqual({ model: 'm.onnx', precision: 'fp16', device: 'auto', batch: 32, dims: { seq: 128, heads: 2 }, iterations: 5, warmup: 3 });
    expect(() => parseBenchOnnxArgs([])).toThrow(UsageError);
    expect(() => parseBenchOnnxArgs(['m.onnx', '--precision', 'fp64'])).toThrow(/--precision must be one of fp32, fp16, bf16, int8/);
    expect(() => parseBenchOnnxArgs(['m.onnx', '--dims', 'seq'])).toThrow(/name=size pairs/);
    expect(() => parseBenchOnnxArgs(['m.onnx', '--batch', '0'])).toThrow(/at least 1/);
  });

  it('imports, compiles and times a model with a dynamic batch at the requested batch size', async () => {
    const lines: string[] = [];
    await benchOnnx([join(DIR, 'net_resnet_block_o13.onnx'), '--device', 'cpu', '--batch', '3', '--iterations', '2', '--warmup', '1'], (l) => lines.push(l));
    const text = lines.join('\n');
    expect(text).toMatch(/opset 13/);
    expect(text).toMatch(/input float32\[3, 3, 32, 32\]/);
    expect(text).toMatch(/compile: \d+ ms, \d+ engine\(s\)/);
    expect(text).toMatch(/lowered module: median [\d.]+ ms .* at batch 3/);
  });

  it('reports a missing model as an OnnxError', async () => {
    await expect(benchOnnx([join(DIR, 'missing.onnx')], () => {})).rejects.toThrow(OnnxError);
  });
});
