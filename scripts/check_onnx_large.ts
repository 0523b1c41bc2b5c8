// Checks the full-size ONNX models exported by `python3 scripts/gen_onnx_models.py --large --out DIR`:
// each is imported, run on the reference interpreter and compared with PyTorch's outputs saved beside it.
// Run (on the GPU machine, which has torch/torchvision/transformers for the export):
//   npx vite-node scripts/check_onnx_large.ts DIR [--results bench/results]
// Writes onnx_large_<date>.json and .md into the results folder.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { cosineSimilarity, importOnnx, maxAbsDiff, Tensor, type DType } from '../src/index.js';

interface TensorFile { name: string; dtype: string; shape: number[]; file: string }
interface Entry { file: string; tol: number; inputs: TensorFile[]; outputs?: TensorFile[] }

const dir = process.argv[2];
if (!dir) throw new Error('usage: check_onnx_large.ts DIR [--results FOLDER]');
const resultsDir = process.argv.includes('--results') ? process.argv[process.argv.indexOf('--results') + 1]! : 'bench/results';
const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { models?: Entry[] } | Entry[];
const entries = (Array.isArray(manifest) ? manifest : manifest.models ?? []).filter((e) => e.outputs);

const NUMPY: Record<string, DType> = { float32: 'float32', int64: 'int64', int32: 'int32', float16: 'float16', bool: 'bool', uint8: 'uint8', int8: 'int8' };
function load(t: TensorFile): Tensor {
  const dtype = NUMPY[t.dtype];
  if (!dtype) throw new Error(`${t.file}: unsupported dtype ${t.dtype}`);
  return Tensor.fromBytes(new Uint8Array(readFileSync(join(dir!, t.file))), t.shape, dtype);
}

const rows: { model: string; nodes: number; importMs: number; runMs: number; maxRelErr: number; cosine: number; tol: number; pass: boolean; error?: string }[] = [];
for (const e of entries) {
  const model = e.file.replace(/\.onnx$/, '');
  try {
    const inputs = e.inputs.map(load);
    const inputShapes = Object.fromEntries(e.inputs.map((t) => [t.name, t.shape]));
    let t0 = performance.now();
    const gm = importOnnx(join(dir, e.file), { inputShapes });
    const importMs = performance.now() - t0;
    t0 = performance.now();
    const out = gm.forward(...inputs);
    const runMs = performance.now() - t0;
    const ours = (Array.isArray(out) ? out : [out]) as Tensor[];
    let maxRelErr = 0;
    let cosine = 1;
    e.outputs!.forEach((o, i) => {
      const ref = load(o);
      const got = ours[i]!.castTo(ref.dtype);
      const scale = Math.max(...Array.from(ref.toFloat64(), Math.abs), 1e-30);
      maxRelErr = Math.max(maxRelErr, maxAbsDiff(got, ref) / scale);
      cosine = Math.min(cosine, cosineSimilarity(got, ref));
    });
    rows.push({ model, nodes: gm.graph.length, importMs, runMs, maxRelErr, cosine, tol: e.tol, pass: maxRelErr <= e.tol });
  } catch (err) {
    rows.push({ model, nodes: 0, importMs: 0, runMs: 0, maxRelErr: NaN, cosine: NaN, tol: e.tol, pass: false, error: (err as Error).message });
  }
  console.log(JSON.stringify(rows[rows.length - 1]));
}

const date = new Date().toISOString().slice(0, 10);
const machine = `${os.cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}; reference backend (TypeScript interpreter on the CPU)`;
mkdirSync(resultsDir, { recursive: true });
writeFileSync(join(resultsDir, `onnx_large_${date}.json`), JSON.stringify({ date, machine, rows }, null, 2) + '\n');
const md = [`# Full-size ONNX models vs PyTorch (${date})`, '', `${machine}. Error: max |ours − PyTorch| / max |PyTorch| over all outputs.`, '',
  '| model | acc nodes | import ms | run ms | max rel err | min cosine | tolerance | result |', '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ...rows.map((r) => `| ${r.model} | ${r.nodes} | ${r.importMs.toFixed(0)} | ${r.runMs.toFixed(0)} | ${r.maxRelErr.toExponential(2)} | ${r.cosine.toFixed(6)} | ${r.tol} | ${r.pass ? 'pass' : `FAIL${r.error ? `: ${r.error}` : ''}`} |`), ''].join('\n');
writeFileSync(join(resultsDir, `onnx_large_${date}.md`), md);
console.log(md);
if (rows.some((r) => !r.pass) || rows.length === 0) process.exitCode = 1;
