// Checks the full-size ONNX models exported by `python3 scripts/gen_onnx_models.py --large --out DIR`:
// each is imported, run on the reference interpreter and compared with PyTorch's outputs saved beside it.
// With --cuda (GPU machine, built addon) each is instead compiled for the CUDA backend, in fp32 and
// fp16, compared with PyTorch's outputs, and timed at the batch PyTorch was timed at by the export
// (manifest 'torch': fp16 eager and CUDA-graph ms): the ONNX rows of the GPU benchmark.
// Run (on the GPU machine, which has torch/torchvision/transformers for the export):
//   npx vite-node scripts/check_onnx_large.ts DIR [--results bench/results] [--cuda]
// Writes onnx_large_<date>.json and .md (or onnx_cuda_<date>.*) into the results folder.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { cosineSimilarity, importOnnx, maxAbsDiff, Tensor, type DType } from '../src/index.js';
import { timeMs } from './bench_timing.js';

interface TensorFile { name: string; dtype: string; shape: number[]; file: string }
interface TorchTiming { batch?: number; eager_ms?: number; graph_ms?: number; error?: string; graph_error?: string }
interface Entry { file: string; tol: number; inputs: TensorFile[]; outputs?: TensorFile[]; torch?: TorchTiming }

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

/** max |t| (at least 1e-30), by a loop: spreading a large tensor into Math.max overflows the call stack. */
function maxAbs(t: Tensor): number {
  let m = 1e-30;
  for (const v of t.toFloat64()) m = Math.max(m, Math.abs(v));
  return m;
}

if (process.argv.includes('--cuda')) {
  await checkCuda(entries);
  process.exit(process.exitCode ?? 0);
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
      const scale = maxAbs(ref);
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

/** Max |got − ref| / max |ref| and the cosine similarity, over every output. */
function compare(ours: readonly Tensor[], refs: readonly TensorFile[]): { maxRelErr: number; cosine: number } {
  let maxRelErr = 0;
  let cosine = 1;
  refs.forEach((o, i) => {
    const ref = load(o);
    const got = ours[i]!.castTo(ref.dtype);
    const scale = maxAbs(ref);
    maxRelErr = Math.max(maxRelErr, maxAbsDiff(got, ref) / scale);
    cosine = Math.min(cosine, cosineSimilarity(got, ref));
  });
  return { maxRelErr, cosine };
}

/** `t` repeated `batch` times along dim 0. */
function repeatBatch(t: Tensor, batch: number): Tensor {
  const bytes = t.bytes();
  const out = new Uint8Array(bytes.length * batch);
  for (let b = 0; b < batch; b++) out.set(bytes, b * bytes.length);
  return Tensor.fromBytes(out, [t.shape[0]! * batch, ...t.shape.slice(1)], t.dtype);
}

interface CudaRow {
  model: string; fp32RelErr: number; fp16RelErr: number; fp16Cosine: number; tol32: number; tol16: number; pass: boolean;
  batch: number; precision?: 'fp16' | 'int8'; fxrtMs: number; torchEagerMs?: number; torchGraphMs?: number; buildS: number; engines: number; cpuParts: number; error?: string;
}

async function checkCuda(list: readonly Entry[]): Promise<void> {
  const { compile } = await import('../src/compile.js');
  const { CudaEngineRunner, DeviceTensor, cudaDeviceInfo } = await import('../src/backends/cuda/index.js');
  const rows: CudaRow[] = [];
  for (const e of list) {
    const model = e.file.replace(/\.onnx$/, '');
    const batch = e.torch?.batch ?? 1;
    const row: CudaRow = {
      model, fp32RelErr: NaN, fp16RelErr: NaN, fp16Cosine: NaN, tol32: e.tol, tol16: Math.max(e.tol, 2e-2), pass: false,
      batch, fxrtMs: NaN, buildS: NaN, engines: 0, cpuParts: 0,
      ...(e.torch?.eager_ms !== undefined ? { torchEagerMs: e.torch.eager_ms } : {}),
      ...(e.torch?.graph_ms !== undefined ? { torchGraphMs: e.torch.graph_ms } : {}),
    };
    try {
      const inputs = e.inputs.map(load);
      const gmOf = (b: number): ReturnType<typeof importOnnx> =>
        importOnnx(join(dir!, e.file), { inputShapes: Object.fromEntries(e.inputs.map((t) => [t.name, [t.shape[0]! * b, ...t.shape.slice(1)]])) });
      // A model with Q/DQ nodes compiles for int8 only (its float layers in fp16): both columns are that build.
      const quantized = gmOf(1).graph.nodeList().some((n) => n.op === 'call_function' && /quantize/.test(n.target.name));
      const [p32, p16] = quantized ? (['int8', 'int8'] as const) : (['fp32', 'fp16'] as const);
      row.precision = quantized ? 'int8' : 'fp16';
      // Correctness at the saved batch: fp32 tight, fp16 within half precision over the network's depth.
      const m32 = await compile(gmOf(1), inputs, { device: 'cuda', precision: p32 });
      row.fp32RelErr = compare(await m32.run(inputs), e.outputs!).maxRelErr;
      const m16 = await compile(gmOf(1), inputs, { device: 'cuda', precision: p16 });
      const c16 = compare(await m16.run(inputs), e.outputs!);
      row.fp16RelErr = c16.maxRelErr;
      row.fp16Cosine = c16.cosine;
      row.pass = row.fp32RelErr <= row.tol32 && row.fp16RelErr <= row.tol16;
      // Speed at PyTorch's batch, fp16, inputs and outputs on the device.
      // (the saved inputs have batch 1, or 2 for the text models: repeated to PyTorch's batch)
      const reps = Math.max(1, Math.round(batch / e.inputs[0]!.shape[0]!));
      const big = inputs.map((t) => repeatBatch(t, reps));
      const t0 = performance.now();
      const lowered = await compile(gmOf(reps), big, { device: 'cuda', precision: p16 });
      row.buildS = (performance.now() - t0) / 1000;
      row.engines = lowered.engines.size;
      row.cpuParts = lowered.cpuParts.size;
      if (row.engines === 1 && row.cpuParts === 0) {
        const runner = CudaEngineRunner.of([...lowered.engines.values()][0]!.engine);
        const dev = big.map((t) => DeviceTensor.upload(t));
        row.fxrtMs = await timeMs(50, 10, async () => {
          for (const y of await runner.run(dev)) y.dispose();
        }, 0);
        for (const d of dev) d.dispose();
        runner.dispose();
      } else {
        row.fxrtMs = await timeMs(15, 5, async () => {
          await lowered.run(big);
        }, 0);
      }
    } catch (err) {
      row.error = (err as Error).message.slice(0, 300);
    }
    rows.push(row);
    console.log(JSON.stringify(row));
  }
  const date = new Date().toISOString().slice(0, 10);
  const dev = cudaDeviceInfo();
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, `onnx_cuda_${date}.json`), JSON.stringify({ date, device: dev.name, rows }, null, 2) + '\n');
  const ratio = (peer: number | undefined, ours: number): string => (peer === undefined || !Number.isFinite(ours) ? '-' : `${(peer / ours).toFixed(2)}x`);
  const md = [`# Full-size ONNX models on the CUDA backend (${date}, ${dev.name})`, '',
    'Imported with importOnnx, compiled with device \'cuda\'. Error vs PyTorch (float32, CPU) at the exported batch: max |ours − PyTorch| / max |PyTorch|.',
    'Speed: fp16, median ms per awaited call with inputs and outputs on the device (host-to-host where the model splits into several parts),',
    'at the batch PyTorch (fp16, same GPU, timed by scripts/gen_onnx_models.py --large in the same session) was timed at.',
    'Models with Q/DQ nodes build for int8 (float layers in fp16) in every column: their two error columns are the same build.', '',
    '| model | fp32 rel err | fp16 rel err | fp16 cosine | result | batch | fxrt ms | torch eager ms | torch eager+graph ms | vs eager | vs eager+graph | build s | parts |',
    '| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    ...rows.map((r) => `| ${r.model} | ${r.fp32RelErr.toExponential(2)} | ${r.fp16RelErr.toExponential(2)} | ${r.fp16Cosine.toFixed(5)} | ` +
      `${r.pass ? `pass${r.error ? ` (the timing build failed: ${r.error})` : ''}` : `FAIL${r.error ? `: ${r.error}` : ''}`} | ${r.batch} | ${r.fxrtMs.toFixed(3)} | ${r.torchEagerMs?.toFixed(3) ?? '-'} | ` +
      `${r.torchGraphMs?.toFixed(3) ?? '-'} | ${ratio(r.torchEagerMs, r.fxrtMs)} | ${ratio(r.torchGraphMs, r.fxrtMs)} | ${r.buildS.toFixed(1)} | ` +
      `${r.engines} engine(s), ${r.cpuParts} CPU part(s) |`), ''].join('\n');
  writeFileSync(join(resultsDir, `onnx_cuda_${date}.md`), md);
  console.log(md);
  if (rows.some((r) => !r.pass)) process.exitCode = 1;
}
