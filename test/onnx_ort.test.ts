// Every committed ONNX model (test/fixtures/onnx, made by scripts/gen_onnx_models.py) runs in ONNX
// Runtime (CPU, graph optimizations off so each op runs as specified, not fused) and, imported, on
// the reference interpreter, on the same seeded inputs. Floats must agree to a relative error under
// the manifest's tolerance (1e-4), integers and bools exactly.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { compile } from '../src/compile.js';
import { importOnnx, parseOnnxModel, supportedOnnxOps, type OnnxWarning } from '../src/onnx/index.js';
import type { DType } from '../src/tensor/dtype.js';
import { Tensor } from '../src/tensor/tensor.js';

const DIR = join(import.meta.dirname, 'fixtures', 'onnx');

interface InputEntry { name: string; dtype: DType; shape: number[]; low: number; high: number }
interface ManifestEntry {
  file: string; inputs: InputEntry[]; tol: number;
  /** Run ORT on this model instead (the repaired twin of a model the importer repairs). */
  reference?: string;
  expectWarnings?: string;
  /** Sizes of the model's symbolic dims. */
  dims?: Record<string, number>;
}

const manifest = JSON.parse(readFileSync(join(DIR, 'manifest.json'), 'utf8')) as { models: ManifestEntry[] };

/** A seed from the model's file name, so each model gets its own stable inputs. */
function seedOf(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619) >>> 0;
  return h;
}

function makeInput(e: InputEntry, seed: number): Tensor {
  switch (e.dtype) {
    case 'float32': return Tensor.rand(e.shape, { seed, low: e.low, high: e.high });
    case 'bool': return Tensor.randint(0, 2, e.shape, { seed, dtype: 'int64' }).castTo('bool');
    default: return Tensor.randint(e.low, e.high + 1, e.shape, { seed, dtype: e.dtype });
  }
}

const ORT_TYPE: Partial<Record<DType, ort.Tensor.Type>> = { float32: 'float32', int64: 'int64', int32: 'int32', bool: 'bool', uint8: 'uint8', int8: 'int8' };

function toOrt(t: Tensor): ort.Tensor {
  const type = ORT_TYPE[t.dtype];
  if (type === undefined) throw new Error(`no ORT type for ${t.dtype}`);
  return new ort.Tensor(type, t.data as ort.Tensor.DataTypeMap[typeof type], t.shape);
}

/** max |a - b| / max |b| over floats; the count of differing elements for integers and bools. */
function compare(ours: Tensor, ref: ort.Tensor, name: string, tol: number): void {
  expect(ours.shape, `${name}: shape`).toEqual(ref.dims.map(Number));
  const a = ours.toFloat64();
  const b = Float64Array.from(ref.data as ArrayLike<number | bigint>, (x) => Number(x));
  if (ref.type === 'float32' || ref.type === 'float16') {
    let diff = 0;
    let scale = 0;
    for (let i = 0; i < a.length; i++) {
      if (Number.isNaN(a[i]!) !== Number.isNaN(b[i]!)) diff = Infinity;
      else if (!Number.isNaN(b[i]!)) diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
      scale = Math.max(scale, Math.abs(b[i]!));
    }
    expect(diff / Math.max(scale, 1e-30), `${name}: relative error`).toBeLessThan(tol);
  } else {
    let wrong = 0;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) wrong++;
    expect(wrong, `${name}: differing elements`).toBe(0);
  }
}

const sessions: ort.InferenceSession[] = [];
afterAll(async () => {
  for (const s of sessions) await s.release();
});

describe('ONNX models match ONNX Runtime on the reference interpreter', () => {
  it('has at least one model for every supported ONNX op, and models at opsets 9 to 21', () => {
    const covered = new Set<string>();
    const opsets = new Set<number>();
    for (const entry of manifest.models) {
      const model = parseOnnxModel(readFileSync(join(DIR, entry.file)));
      for (const n of model.graph!.node) covered.add(n.opType);
      opsets.add(Number(model.opsetImport[0]!.version));
    }
    expect(supportedOnnxOps().filter((op) => !covered.has(op))).toEqual([]);
    for (const v of [9, 10, 11, 13, 17, 18, 21]) expect(opsets.has(v), `opset ${v}`).toBe(true);
  });

  for (const entry of manifest.models) {
    it(entry.file, async () => {
      const seed = seedOf(entry.file);
      const inputs = entry.inputs.map((e, i) => makeInput(e, seed + i));
      const session = await ort.InferenceSession.create(join(DIR, entry.reference ?? entry.file), { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'disabled' });
      sessions.push(session);
      const feeds: Record<string, ort.Tensor> = {};
      entry.inputs.forEach((e, i) => { feeds[e.name] = toOrt(inputs[i]!); });
      const expected = await session.run(feeds);

      const warnings: OnnxWarning[] = [];
      const gm = importOnnx(join(DIR, entry.file), { onWarning: (w) => warnings.push(w), ...(entry.dims ? { dims: entry.dims } : {}) });
      expect(gm.onnx.inputNames).toEqual(entry.inputs.map((e) => e.name));
      const out = gm.forward(...inputs);
      const outs = Array.isArray(out) ? out : [out];
      expect(outs.length).toBe(session.outputNames.length);
      session.outputNames.forEach((name, i) => {
        const t = outs[i];
        if (!(t instanceof Tensor)) throw new Error(`output ${name} is not a tensor`);
        compare(t, expected[name]!, name, entry.tol);
      });
      if (entry.expectWarnings !== undefined) expect(warnings.map((w) => w.message).join('\n')).toContain(entry.expectWarnings);
    });
  }
});

// The QDQ CNN (per-channel weights, PyTorch-style QuantizeLinear → DequantizeLinear on each float
// weight) and its uint8-Cast twin: compiled for int8, every conv and Gemm becomes one INT8 step
// reading int8 weights with per-channel scales, no weight dequantize is left unfused, and the
// outputs still match ONNX Runtime.
describe('QDQ models compiled for int8 on the reference backend match ONNX Runtime', () => {
  for (const file of ['net_qdq_cnn_o13.onnx', 'net_qdq_cnn_uint8cast_o13.onnx']) {
    it(file, async () => {
      const entry = manifest.models.find((m) => m.file === file)!;
      const inputs = entry.inputs.map((e, i) => makeInput(e, seedOf(entry.file) + i));
      const session = await ort.InferenceSession.create(join(DIR, entry.reference ?? entry.file), { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'disabled' });
      sessions.push(session);
      const feeds: Record<string, ort.Tensor> = {};
      entry.inputs.forEach((e, i) => { feeds[e.name] = toOrt(inputs[i]!); });
      const expected = await session.run(feeds);

      const lowered = await compile(importOnnx(join(DIR, file), { onWarning: () => undefined }), inputs, { device: 'cpu', precision: 'int8', int8Fallback: 'fp32' });
      // (float layers in float32, as ONNX Runtime computes them)
      const [engine, ...others] = [...lowered.engines.values()];
      expect(others).toEqual([]);
      const anchors = engine!.engine.plan.steps.filter((s) => s.kind === 'convolution' || s.kind === 'matrix_multiply');
      expect(anchors.map((s) => s.kind)).toEqual(['convolution', 'convolution', 'matrix_multiply']);
      for (const s of anchors) expect(s.quant?.operands.map((o) => o.axis), s.name).toEqual([null, 0]);
      expect(engine!.report.unfusedQdq.map((r) => r.kind)).toEqual(['quantize', 'quantize']);
      const [y] = await lowered.run(inputs);
      compare(y!, expected[session.outputNames[0]!]!, session.outputNames[0]!, entry.tol);
    });
  }
});
