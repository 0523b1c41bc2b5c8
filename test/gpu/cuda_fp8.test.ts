/**
 * FP8 (float8e4m3) on the CUDA backend: the quantize/dequantize kernels bit for bit against the
 * reference, cuBLASLt's FP8 GEMM (float and e4m3 outputs, bias and relu in its epilogue) against
 * the reference FP8 step, and compile's precision 'fp8' on the seed-000 MLP against fp32.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CudaEngineRunner } from '../../src/backends/cuda/index.js';
import { Builder } from '../../src/engine/builder.js';
import type { NetTensor } from '../../src/engine/network.js';
import { NetworkDefinition } from '../../src/engine/network_definition.js';
import { compile } from '../../src/compile.js';
import { modelZoo } from '../../src/models/index.js';
import { cosineSimilarity } from '../../src/tensor/compare.js';
import { f8e4m3BitsToF32 } from '../../src/tensor/dtype.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { importOnnx } from '../../src/onnx/index.js';
import { fp8MlpModel } from '../onnx_fp8_model.js';
import { expectSameBytes, expectSameValues, relativeError } from './compare.js';
import { constant, layer, randn } from './engine_harness.js';

const TRANSPOSED = { transpose0: false, transpose1: true, vector0: false, vector1: false } as const;

function qdq8(net: NetworkDefinition, x: NetTensor, scale: number, name: string): NetTensor {
  const s = constant(net, Tensor.fromArray([scale]), `${name}_scale`);
  const q = layer(net, 'quantize', [x, s], { axis: null, toType: 'float8e4m3' }, `${name}_q`);
  return layer(net, 'dequantize', [q, s], { axis: null, toType: 'float16' }, `${name}_dq`);
}

function weight8(net: NetworkDefinition, w: Tensor, name: string): NetTensor {
  const amax = w.toFloat32().reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  return qdq8(net, constant(net, w, name), amax / 448, name);
}

async function both(net: () => NetworkDefinition): Promise<{ cuda: Awaited<ReturnType<Builder['build']>>; reference: Awaited<ReturnType<Builder['build']>> }> {
  return {
    cuda: await new Builder().build(net(), { precision: 'fp8', backend: 'cuda' }),
    reference: await new Builder().build(net(), { precision: 'fp8', backend: 'reference' }),
  };
}

describe('FP8 quantize / dequantize kernels', () => {
  it('give the reference\'s e4m3 bits (ties, subnormals, saturation, NaN) and values', async () => {
    // x → Q(fp8) as an output, and DQ(Q(x)) as another: neither fuses (no matrix product).
    const net = (): NetworkDefinition => {
      const n = new NetworkDefinition('fp8_qdq');
      const x = n.addInput('x', 'float16', [3, 67]);
      const s = constant(n, Tensor.fromArray([0.125]), 's');
      const q = layer(n, 'quantize', [x, s], { axis: null, toType: 'float8e4m3' }, 'q');
      n.markOutput(q, 'q8');
      n.markOutput(layer(n, 'dequantize', [q, s], { axis: null, toType: 'float16' }, 'dq'), 'y');
      return n;
    };
    const { cuda, reference } = await both(net);
    const values = Array.from({ length: 3 * 67 }, (_, i) => (i % 67 === 0 ? [NaN, -Infinity, 1e4][i / 67]! : (i - 100) * 0.37 * 2 ** ((i % 13) - 8)));
    const x = Tensor.fromArray(values).withShape([3, 67]).castTo('float16');
    const [q, y] = await cuda.createExecutionContext().execute([x]);
    const [wq, wy] = await reference.createExecutionContext().execute([x]);
    expect(q!.dtype).toBe('float8e4m3');
    expectSameBytes(q!, wq!, 'fp8 quantize');
    expectSameValues(y!, wy!, 'fp8 dequantize'); // NaN payloads aside (float16 NaN bits differ by converter)
    expect(f8e4m3BitsToF32((q!.data as Uint8Array)[2 * 67]!)).toBe(448); // 1e4 / 0.125 saturates
  });
});

describe('FP8 quantize kernel against PyTorch', () => {
  it("converts every input of the float8_e4m3fn golden fixture (ties, subnormals, saturation) to PyTorch's bits", async () => {
    const fixture = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'fp8_e4m3.json'), 'utf8')) as { encode: [string, number][] };
    const bits = Uint32Array.from(fixture.encode, ([hex]) => parseInt(hex, 16));
    const x = Tensor.fromStorage(new Float32Array(bits.buffer), [bits.length], 'float32');
    const net = new NetworkDefinition('fp8_golden');
    const input = net.addInput('x', 'float32', [bits.length]);
    net.markOutput(layer(net, 'quantize', [input, constant(net, Tensor.fromArray([1]), 's')], { axis: null, toType: 'float8e4m3' }, 'q'), 'q8');
    const engine = await new Builder().build(net, { precision: 'fp8', backend: 'cuda' });
    const [q] = await engine.createExecutionContext().execute([x]);
    const got = q!.data as Uint8Array;
    const wrong = fixture.encode.flatMap(([hex, want], i) => (got[i] === want ? [] : [`${hex}: want 0x${want.toString(16)}, got 0x${got[i]!.toString(16)}`]));
    expect(wrong.slice(0, 5)).toEqual([]);
  });
});

describe("cuBLASLt's FP8 GEMM (fused FP8 matrix products)", () => {
  /** x [m, k] → FP8 linear (+ bias, relu) → FP8 output → FP8 linear → float16. */
  const mlp = (m: number, k: number, hidden: number, n: number) => (): NetworkDefinition => {
    const net = new NetworkDefinition('fp8_gemm');
    const x = net.addInput('x', 'float16', [m, k]);
    const h = layer(net, 'matrix_multiply', [qdq8(net, x, 4 / 448, 'x'), weight8(net, randn([hidden, k], 2, 'float16'), 'w1')], TRANSPOSED, 'fc1');
    const hb = layer(net, 'elementwise', [h, constant(net, randn([1, hidden], 3, 'float16'), 'b1')], { op: 'sum' }, 'fc1_bias');
    const r = layer(net, 'activation', [hb], { op: 'relu', alpha: 0, beta: 0 }, 'relu');
    const y = layer(net, 'matrix_multiply', [qdq8(net, r, 40 / 448, 'r'), weight8(net, randn([n, hidden], 4, 'float16'), 'w2')], TRANSPOSED, 'fc2');
    const yb = layer(net, 'elementwise', [y, constant(net, randn([1, n], 5, 'float16'), 'b2')], { op: 'sum' }, 'fc2_bias');
    net.markOutput(yb, 'y');
    return net;
  };

  for (const [m, k, hidden, n] of [[64, 128, 256, 64], [250, 512, 2048, 512]] as const) {
    it(`${m}x${k} → ${hidden} → ${n}: e4m3 hidden output and float16 result agree with the reference FP8 steps`, async () => {
      const { cuda, reference } = await both(mlp(m, k, hidden, n));
      const fp8Steps = cuda.plan.steps.filter((s) => s.quant?.format === 'float8e4m3');
      expect(fp8Steps.map((s) => s.precision.storage)).toEqual(['float8e4m3', 'float16']);
      const ctx = cuda.createExecutionContext();
      const x = randn([m, k], 6, 'float16');
      const [got] = await ctx.execute([x]);
      const [want] = await reference.createExecutionContext().execute([x]);
      // Tensor cores sum the e4m3 products in their own order and width: the hidden e4m3 values
      // may land one e4m3 step (1/16 relative) apart where the float sums straddle a rounding
      // boundary, so the results agree to about a percent, not bit for bit.
      const err = relativeError(got!, want!);
      console.log(`fp8 gemm ${m}x${k}x${hidden}x${n}: relative error vs reference ${err.toExponential(2)}`);
      expect(err).toBeLessThan(0.02);
      expect(cosineSimilarity(got!.castTo('float32'), want!.castTo('float32'))).toBeGreaterThan(0.9995);
    });
  }
});

describe('FP8 GEMM accumulation: fast by default, promoted with FXRT_CUDA_FP8_FAST_ACCUM=0', () => {
  const net = (): NetworkDefinition => {
    const n = new NetworkDefinition('fp8_fast');
    const x = n.addInput('x', 'float16', [128, 512]);
    n.markOutput(layer(n, 'matrix_multiply', [qdq8(n, x, 4 / 448, 'x'), weight8(n, randn([256, 512], 7, 'float16'), 'w')], TRANSPOSED, 'fc'), 'y');
    return n;
  };
  for (const [setting, fast] of [[undefined, true], ['1', true], ['0', false]] as const) {
    it(`FXRT_CUDA_FP8_FAST_ACCUM ${setting === undefined ? 'unset' : `=${setting}`}: ${fast ? 'fast' : 'promoted'} accumulation, agreeing with the reference FP8 steps to about a percent`, async () => {
      // The backend reads the variable when it loads the plan (inside build).
      const saved = process.env.FXRT_CUDA_FP8_FAST_ACCUM;
      if (setting === undefined) delete process.env.FXRT_CUDA_FP8_FAST_ACCUM;
      else process.env.FXRT_CUDA_FP8_FAST_ACCUM = setting;
      let built: Awaited<ReturnType<typeof both>>;
      try {
        built = await both(net);
      } finally {
        if (saved === undefined) delete process.env.FXRT_CUDA_FP8_FAST_ACCUM;
        else process.env.FXRT_CUDA_FP8_FAST_ACCUM = saved;
      }
      const x = randn([128, 512], 8, 'float16');
      const [got] = await built.cuda.createExecutionContext().execute([x]);
      const [want] = await built.reference.createExecutionContext().execute([x]);
      const err = relativeError(got!, want!);
      console.log(`fp8 gemm, ${fast ? 'fast' : 'promoted'} accumulation: relative error vs reference ${err.toExponential(2)}`);
      expect(err).toBeLessThan(0.02);
      const tactics = CudaEngineRunner.of(built.cuda).tactics().map((t) => t.tactic).join(' ');
      if (fast) expect(tactics).toContain('fast-accum');
      else expect(tactics).not.toContain('fast-accum');
    });
  }
});

describe("compile with precision 'fp8' on CUDA", () => {
  it('the seed-000 MLP: FP8 GEMMs through cuBLASLt, cosine similarity with fp32 >= 0.99', async () => {
    const model = modelZoo.mlp.create().eval();
    const x = Tensor.randn([1024, 512], { seed: 11 });
    const fp8 = await compile(model, [x], { device: 'cuda', precision: 'fp8', calibration: { data: [[Tensor.randn([256, 512], { seed: 12 })]] } });
    const [engine] = [...fp8.engines.values()];
    const tactics = engine!.engine.plan.steps.filter((s) => s.quant?.format === 'float8e4m3').map((s) => s.tactic);
    expect(tactics).toHaveLength(2);
    for (const t of tactics) expect(t).toMatch(/^cublaslt fp8 gemm/);
    const [got] = await fp8.run([x]);
    const want = model.forward(x) as Tensor;
    const cos = cosineSimilarity(got!.castTo('float32'), want);
    console.log(`mlp fp8 vs fp32 on CUDA: cosine ${cos.toFixed(5)}`);
    expect(cos).toBeGreaterThanOrEqual(0.99);
  });
});

describe('an ONNX FP8 Q/DQ model on CUDA', () => {
  it("compiles its MatMul ([K, N] FP8 weight, transposed on the host) to cuBLASLt's FP8 GEMM, agreeing with the reference", async () => {
    const bytes = fp8MlpModel(Tensor.randn([32, 16], { seed: 1 }), Tensor.randn([16], { seed: 2 }));
    const x = Tensor.randn([8, 32], { seed: 3 });
    const cuda = await compile(importOnnx(bytes), [x], { device: 'cuda', precision: 'fp8' });
    const cpu = await compile(importOnnx(bytes), [x], { device: 'cpu', precision: 'fp8' });
    const [engine] = [...cuda.engines.values()];
    expect(engine!.engine.plan.steps.filter((s) => s.quant?.format === 'float8e4m3').map((s) => s.tactic)).toEqual([expect.stringMatching(/^cublaslt fp8 gemm/)]);
    const [got] = await cuda.run([x]);
    const [want] = await cpu.run([x]);
    const err = relativeError(got!, want!);
    console.log(`onnx fp8 mlp on CUDA vs reference: relative error ${err.toExponential(2)}`);
    expect(err).toBeLessThan(2e-3);
  });
});
