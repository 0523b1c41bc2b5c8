/**
 * The CUDA backend's foundation on a real device: transfers, the backend's own kernels and the
 * cuBLASLt GEMM against the reference kernels, asynchronous completion, streams and memory.
 * Run by scripts/gpu/run.sh (vitest.gpu.config.ts); not part of the CPU suite.
 */
import { Worker } from 'node:worker_threads';
import { beforeAll, describe, expect, it } from 'vitest';
import { acc } from '../../src/acc_ops/callable.js';
import {
  cudaAdd, cudaAvailable, cudaBuildInfo, cudaCast, cudaDeviceInfo, cudaGemm, cudaMemoryInUse, cudaRelu, defaultAddonPath,
  DeviceTensor, Stream, type FloatDType,
} from '../../src/backends/cuda/index.js';
import { ClockSampler } from '../../scripts/bench_clocks.js';
import { sgemm } from '../../src/kernels/reference/gemm.js';
import { DTYPES, type DType } from '../../src/tensor/dtype.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { expectSameBytes, expectSameValues, relativeError } from './compare.js';

const FLOATS: readonly FloatDType[] = ['float32', 'float16', 'bfloat16'];
// Relative norm error allowed for a GEMM result rounded to each dtype (fp32 accumulation).
const GEMM_TOLERANCE: Record<FloatDType, number> = { float32: 1e-5, float16: 2e-3, bfloat16: 1e-2 };

beforeAll(() => {
  const cuda = cudaAvailable();
  if (!cuda.available) throw new Error(`the GPU suite needs CUDA: ${cuda.reason}`);
  console.log('device:', JSON.stringify(cudaDeviceInfo()), 'build:', JSON.stringify(cudaBuildInfo()));
});

/** Random values of `dtype` with the awkward ones up front: NaN, ±0, ±inf, float16/bfloat16 edges. */
function awkward(n: number, dtype: FloatDType, seed: number): Tensor {
  const v = Tensor.randn([n], { seed, std: 4 }).toFloat64();
  const specials = [NaN, -0, 0, Infinity, -Infinity, 65504, 65520, -65520, 1e-8, -6e-8, 3e38, -1.5, 2.5];
  for (let i = 0; i < specials.length && i < n; i++) v[i * 7 % n] = specials[i]!;
  return Tensor.fromNumbers(v, [n], dtype);
}

function randomOf(dtype: DType, shape: number[], seed: number): Tensor {
  if (dtype === 'bool') return Tensor.randint(0, 2, shape, { seed, dtype });
  if (dtype === 'int8') return Tensor.randint(-128, 128, shape, { seed, dtype });
  if (dtype === 'uint8') return Tensor.randint(0, 256, shape, { seed, dtype });
  if (dtype === 'int32' || dtype === 'int64') return Tensor.randint(-(2 ** 31), 2 ** 31, shape, { seed, dtype });
  return Tensor.randn(shape, { seed, dtype });
}

/** Reference GEMM: sgemm on float32 copies of the operands, bias and ReLU in float32, one rounding to `dtype`. */
function referenceGemm(a: Tensor, b: Tensor, o: { transA: boolean; transB: boolean; bias: Tensor | null; relu: boolean }): Tensor {
  const [m, k] = o.transA ? [a.shape[1]!, a.shape[0]!] : [a.shape[0]!, a.shape[1]!];
  const n = o.transB ? b.shape[0]! : b.shape[1]!;
  const c = new Float32Array(m * n);
  sgemm(o.transA, o.transB, m, n, k, 1, a.toFloat32(), 0, a.shape[1]!, b.toFloat32(), 0, b.shape[1]!, 0, c, 0, n);
  const bias = o.bias?.toFloat32();
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let x = c[i * n + j]! + (bias ? bias[j]! : 0);
      if (o.relu && x < 0) x = 0;
      c[i * n + j] = x;
    }
  }
  return Tensor.fromNumbers(c, [m, n], a.dtype);
}

describe('build', () => {
  it('compiles in cuBLASLt, and cuDNN with a library of the same release as its headers', () => {
    const build = cudaBuildInfo();
    expect(build?.cublasLt).toBe(true);
    expect(build?.cudnn).toBe(true);
    const runtime = cudaDeviceInfo().cudnnVersion ?? 0;
    const header = build?.cudnnHeaderVersion ?? -1;
    expect(Math.floor(runtime / 100), `cuDNN library ${runtime} vs headers ${header}`).toBe(Math.floor(header / 100));
  });
});

describe('device', () => {
  it('names its PCI bus id, by which nvidia-smi samples its clock and power for the benchmark', async () => {
    const info = cudaDeviceInfo();
    expect(info.pciBusId).toMatch(/^[0-9a-f]{4,8}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/i);
    const sampler = ClockSampler.start(info.pciBusId);
    if (!(sampler instanceof ClockSampler)) throw new Error(`no clock sampler on the GPU machine: ${sampler.reason}`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const samples = await sampler.stop();
    expect(samples.length).toBeGreaterThan(0);
    for (const s of samples) {
      expect(s.smMhz).toBeGreaterThan(0);
      expect(s.powerW).toBeGreaterThan(0);
      expect(Math.abs(s.t - Date.now())).toBeLessThan(60_000);
    }
  });
});

describe('transfers', () => {
  it('round-trips every dtype bit for bit, including empty and odd sizes', async () => {
    for (const dtype of DTYPES) {
      for (const shape of [[0], [1], [3, 17], [1001, 33]]) {
        const host = randomOf(dtype, shape, shape.length * 31 + DTYPES.indexOf(dtype));
        const d = DeviceTensor.upload(host);
        expect(d.shape).toEqual(shape);
        expect(d.dtype).toBe(dtype);
        expectSameBytes(await d.download(), host, `${dtype} ${JSON.stringify(shape)}`);
        d.dispose();
      }
    }
  });

  it('stages the upload: the host tensor may change right after upload() returns', async () => {
    const host = Tensor.randn([1 << 20], { seed: 5 });
    const want = host.clone();
    const d = DeviceTensor.upload(host);
    host.toFloat32().fill(0); // float32: a view of the storage
    expectSameBytes(await d.download(), want, 'staged upload');
    d.dispose();
  });

  it('carries quantization parameters to the downloaded tensor', async () => {
    const host = Tensor.randint(-128, 128, [4, 3], { seed: 2, dtype: 'int8' });
    host.qparams = { scale: Float32Array.of(0.5), zeroPoint: Int32Array.of(0) };
    const d = DeviceTensor.upload(host);
    expect((await d.download()).qparams).toBe(host.qparams);
    d.dispose();
  });
});

describe('own kernels vs the reference kernels', () => {
  const n = 1_000_003; // odd: exercises the 16-byte packs and the element tail
  for (const dtype of FLOATS) {
    it(`add, relu in ${dtype}`, async () => {
      const a = awkward(n, dtype, 1);
      const b = awkward(n, dtype, 2);
      const da = DeviceTensor.upload(a);
      const db = DeviceTensor.upload(b);
      const sum = cudaAdd(da, db);
      const relu = cudaRelu(da);
      expectSameValues(await relu.download(), acc.relu({ input: a }), `relu ${dtype}`);
      // A float32 sum of two float16/bfloat16 values rounds to the same result as the exact sum
      // (the addend lost to float32 rounding is far below half a unit of the narrow type), so the
      // GPU's float32-then-round must match the reference bit for bit.
      expectSameValues(await sum.download(), acc.add({ input: a, other: b }), `add ${dtype}`);
      for (const t of [da, db, sum, relu]) t.dispose();
    });
  }

  for (const src of FLOATS) {
    for (const dst of FLOATS) {
      it(`cast ${src} → ${dst} rounds to nearest even like the reference`, async () => {
        const x = awkward(4099, src, 3);
        const dx = DeviceTensor.upload(x);
        const y = cudaCast(dx, dst);
        expect(y.dtype).toBe(dst);
        expectSameValues(await y.download(), acc.to_dtype({ input: x, dtype: dst }), `cast ${src}→${dst}`);
        dx.dispose();
        y.dispose();
      });
    }
  }

  it('refuses mismatched operands, naming the op and the argument', () => {
    const a = DeviceTensor.upload(Tensor.randn([2, 3]));
    const b = DeviceTensor.upload(Tensor.randn([3, 2]));
    const h = DeviceTensor.upload(Tensor.randn([2, 3], { dtype: 'float16' }));
    const i = DeviceTensor.upload(Tensor.randint(0, 9, [2, 3], { dtype: 'int32' }));
    expect(() => cudaAdd(a, b)).toThrow("cudaAdd: argument 'other' has shape [3, 2], expected [2, 3]");
    expect(() => cudaAdd(a, h)).toThrow("cudaAdd: argument 'other' must be float32 like 'input', got float16");
    expect(() => cudaRelu(i)).toThrow("cudaRelu: argument 'input' must be float32, float16 or bfloat16, got int32");
    a.dispose();
    expect(() => cudaRelu(a)).toThrow('cudaRelu: the DeviceTensor [2, 3] float32 was disposed');
    for (const t of [b, h, i]) t.dispose();
  });
});

describe('cuBLASLt GEMM vs the reference sgemm', () => {
  const shapes: [number, number, number][] = [[64, 48, 32], [127, 65, 33], [512, 384, 256], [1, 1000, 512]];
  for (const dtype of FLOATS) {
    it(`${dtype}: plain, transposed, with bias and bias+ReLU epilogues`, async () => {
      let seed = 10;
      for (const [m, n, k] of shapes) {
        for (const [transA, transB, withBias, relu] of [
          [false, false, false, false], [false, true, true, false], [true, false, true, true], [true, true, false, true],
        ] as const) {
          const a = Tensor.randn(transA ? [k, m] : [m, k], { seed: seed++, dtype });
          const b = Tensor.randn(transB ? [n, k] : [k, n], { seed: seed++, dtype });
          const bias = withBias ? Tensor.randn([n], { seed: seed++, dtype }) : null;
          const da = DeviceTensor.upload(a);
          const db = DeviceTensor.upload(b);
          const dbias = bias ? DeviceTensor.upload(bias) : null;
          const out = cudaGemm(da, db, { transA, transB, bias: dbias, relu });
          expect(out.shape).toEqual([m, n]);
          const got = await out.download();
          const want = referenceGemm(a, b, { transA, transB, bias, relu });
          const what = `${dtype} ${m}x${n}x${k} transA=${transA} transB=${transB} bias=${withBias} relu=${relu}`;
          expect(relativeError(got, want), what).toBeLessThan(GEMM_TOLERANCE[dtype]);
          if (relu) {
            const g = got.toFloat64();
            const w = want.toFloat64();
            for (let i = 0; i < g.length; i++) {
              if (w[i]! < -0.5) expect(g[i], `${what}: ReLU epilogue at ${i}`).toBe(0);
            }
          }
          for (const t of [da, db, dbias, out]) t?.dispose();
        }
      }
    });
  }

  it('refuses operands whose inner dimensions differ', () => {
    const a = DeviceTensor.upload(Tensor.randn([4, 5]));
    const b = DeviceTensor.upload(Tensor.randn([6, 3]));
    expect(() => cudaGemm(a, b)).toThrow('cudaGemm: op(a) is 4x5 and op(b) is 6x3: inner dimensions 5 and 6 must match');
    a.dispose();
    b.dispose();
  });
});

describe('asynchronous execution', () => {
  it('keeps the event loop running while the GPU works', async () => {
    const size = 4096; // 40 float32 GEMMs of 4096^3 (no TF32): ~5.5 TFLOP, tens of milliseconds
    const a = DeviceTensor.upload(Tensor.rand([size, size], { seed: 1, low: -1, high: 1 }));
    const b = DeviceTensor.upload(Tensor.rand([size, size], { seed: 2, low: -1, high: 1 }));
    await Stream.default().synchronize();
    const stream = Stream.create();
    let last: DeviceTensor | null = null;
    for (let i = 0; i < 40; i++) {
      const c = cudaGemm(a, b, { stream });
      last?.dispose();
      last = c;
    }
    let ticks = 0;
    let maxGap = 0;
    let prev = performance.now();
    let done = false;
    const tick = (): void => {
      const now = performance.now();
      maxGap = Math.max(maxGap, now - prev);
      prev = now;
      ticks++;
      if (!done) setImmediate(tick);
    };
    setImmediate(tick);
    const t0 = performance.now();
    await stream.synchronize();
    done = true;
    const elapsed = performance.now() - t0;
    expect(elapsed, 'the GPU work should take a while').toBeGreaterThan(10);
    expect(ticks, `setImmediate ticks during ${elapsed.toFixed(1)} ms`).toBeGreaterThan(20);
    expect(maxGap, `longest stall of the event loop (ms) during ${elapsed.toFixed(1)} ms`).toBeLessThan(elapsed / 4);
    console.log(`async: ${ticks} event-loop ticks during ${elapsed.toFixed(1)} ms of GPU work, longest gap ${maxGap.toFixed(2)} ms`);
    const result = await last!.download(); // the last of them; checks the chain ran to completion
    expect(result.toFloat32().every((x) => Number.isFinite(x))).toBe(true);
    for (const t of [a, b, last!]) t.dispose();
    stream.dispose();
  });

  it('orders work across streams: a kernel on one stream waits for an upload on another', async () => {
    const x = Tensor.rand([1 << 25], { seed: 9, low: -1, high: 1 }); // 128 MB: the copy takes a while
    const s1 = Stream.create();
    const s2 = Stream.create();
    const d = DeviceTensor.upload(x, s1);
    const y = cudaRelu(d, { stream: s2 });
    const got = (await y.download()).toFloat32();
    const src = x.toFloat32();
    for (let i = 0; i < src.length; i++) {
      if (got[i] !== Math.max(src[i]!, 0)) expect.fail(`element ${i}: ${got[i]} vs relu(${src[i]})`);
    }
    d.dispose();
    y.dispose();
    s1.dispose();
    s2.dispose();
  });

  it('runs several streams concurrently with the same results as one at a time', async () => {
    const jobs = [0, 1, 2, 3].map((i) => ({
      a: Tensor.randn([256, 512], { seed: 100 + i, dtype: 'float16' }),
      w: Tensor.randn([384, 512], { seed: 200 + i, dtype: 'float16' }),
      bias: Tensor.randn([384], { seed: 300 + i, dtype: 'float16' }),
    }));
    const run = (job: (typeof jobs)[number], stream?: Stream): Promise<Tensor> => {
      const a = DeviceTensor.upload(job.a, stream);
      const w = DeviceTensor.upload(job.w, stream);
      const bias = DeviceTensor.upload(job.bias, stream);
      const h = cudaGemm(a, w, { transB: true, bias, relu: true, stream });
      const y = cudaAdd(h, h, { stream });
      const out = cudaCast(y, 'float32', { stream });
      for (const t of [a, w, bias, h, y]) t.dispose();
      return out.download(stream).finally(() => out.dispose());
    };
    const sequential: Tensor[] = [];
    for (const job of jobs) sequential.push(await run(job));
    const streams = jobs.map(() => Stream.create());
    const concurrent = await Promise.all(jobs.map((job, i) => run(job, streams[i])));
    for (let i = 0; i < jobs.length; i++) expectSameBytes(concurrent[i]!, sequential[i]!, `job ${i}`);
    for (const s of streams) s.dispose();
  });

  it('query() says whether the work enqueued so far has finished, without waiting', async () => {
    const size = 2048;
    const a = DeviceTensor.upload(Tensor.rand([size, size], { seed: 3 }));
    await Stream.default().synchronize();
    const s = Stream.create();
    expect(s.query(), 'an idle stream').toBe(true);
    const outs = Array.from({ length: 20 }, () => cudaGemm(a, a, { stream: s }));
    expect(s.query(), 'right after enqueueing 20 float32 GEMMs of 2048^3').toBe(false);
    await s.synchronize();
    expect(s.query()).toBe(true);
    for (const t of [a, ...outs]) t.dispose();
    s.dispose();
    expect(() => s.query()).toThrow(/Stream.query: the stream was disposed/);
  });

  it('settles every synchronize() promise and leaves no completion pending', async () => {
    const s = Stream.create();
    await Promise.all(Array.from({ length: 200 }, () => s.synchronize()));
    expect(cudaMemoryInUse().pendingCompletions).toBe(0);
    s.dispose();
  });
});

describe('memory', () => {
  it('returns to the same usage after 1000 alloc/upload/kernel/dispose cycles', async () => {
    await Stream.default().synchronize();
    const base = cudaMemoryInUse();
    const hosts = [1, 1000, 4097, 65536].map((len, i) => Tensor.randn([len], { seed: i }));
    for (let i = 0; i < 1000; i++) {
      const t = DeviceTensor.upload(hosts[i % hosts.length]!);
      const r = cudaRelu(t);
      if (i % 100 === 0) expect((await r.download()).numel).toBe(t.numel);
      t.dispose();
      r.dispose();
      DeviceTensor.empty([i % 7, 3], 'float16').dispose();
    }
    await Stream.default().synchronize();
    const after = cudaMemoryInUse();
    expect(after.deviceBuffers).toBe(base.deviceBuffers);
    expect(after.deviceBytes).toBe(base.deviceBytes);
    expect(after.pendingCompletions).toBe(0);
    // Staging blocks are reused, not one per upload.
    expect(after.pinnedBlocks - base.pinnedBlocks).toBeLessThan(16);
  });

  it('frees tensors that were never disposed once they are garbage collected', async () => {
    const collect = globalThis.gc;
    if (collect === undefined) throw new Error('the GPU suite runs with --expose-gc (vitest.gpu.config.ts)');
    await Stream.default().synchronize();
    const base = cudaMemoryInUse();
    let held: DeviceTensor[] | null = Array.from({ length: 100 }, (_, i) => DeviceTensor.upload(Tensor.randn([1024], { seed: i })));
    expect(cudaMemoryInUse().deviceBuffers).toBe(base.deviceBuffers + held.length);
    held = null; // dropped without dispose()
    for (let attempt = 0; attempt < 50 && cudaMemoryInUse().deviceBuffers > base.deviceBuffers; attempt++) {
      collect();
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(cudaMemoryInUse().deviceBuffers).toBe(base.deviceBuffers);
    expect(cudaMemoryInUse().deviceBytes).toBe(base.deviceBytes);
  });
});

describe('per-environment state', () => {
  it('gives a worker thread its own addon state, and tears it down cleanly when the worker exits', async () => {
    const base = cudaMemoryInUse();
    // Plain CommonJS in the worker: it loads the same addon file and exits with one buffer still live.
    const source = `
      const { parentPort, workerData } = require('node:worker_threads');
      const addon = require(workerData.file);
      const kept = addon.allocBuffer(1 << 20);
      const b = addon.allocBuffer(64);
      addon.upload(b, new Uint8Array(64).fill(7));
      addon.download(b).then((bytes) => {
        const inUse = addon.memoryInUse();
        parentPort.postMessage({ bytes: Array.from(new Uint8Array(bytes)), buffers: inUse.deviceBuffers, keptBytes: kept.byteLength });
      });
    `;
    const worker = new Worker(source, { eval: true, workerData: { file: defaultAddonPath() } });
    const exitCode = new Promise<number>((resolve) => worker.once('exit', resolve));
    const message = await new Promise<{ bytes: number[]; buffers: number; keptBytes: number }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    expect(message.bytes).toEqual(new Array<number>(64).fill(7));
    expect(message.buffers).toBe(2); // the worker's own accounting: its two buffers only
    expect(message.keptBytes).toBe(1 << 20);
    expect(cudaMemoryInUse().deviceBuffers).toBe(base.deviceBuffers); // the main thread's is separate
    // Nothing keeps its event loop alive: it exits on its own, `kept` still allocated.
    expect(await exitCode).toBe(0);
    // The main thread's device state still works after the worker's was torn down.
    const d = DeviceTensor.upload(Tensor.fromArray([1, -2, 3]));
    const r = cudaRelu(d);
    expect((await r.download()).toArray()).toEqual([1, 0, 3]);
    d.dispose();
    r.dispose();
  });
});
