/**
 * Whole bundled models compiled with device 'cuda': against the reference backend (same
 * precision) and against PyTorch's own output for the same weights (scripts/bench_gpu_peers.py,
 * float32 with TF32 off). BatchNorm statistics are randomized first, so the folded BN is tested.
 */
import { describe, expect, it } from 'vitest';
import '../../src/backends/cuda/index.js';
import { compile } from '../../src/compile.js';
import type { BuilderPrecision } from '../../src/engine/plan.js';
import { modelZoo, type ModelName } from '../../src/models/index.js';
import type { Module } from '../../src/nn/module.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { relativeError } from './compare.js';
import { torchOutput } from './torch_peer.js';

/** A bundled model with realistic BatchNorm statistics and affine parameters. */
function model(name: ModelName): Module {
  const m = modelZoo[name].create().eval();
  const state = m.stateDict();
  let seed = 100;
  for (const [k, v] of state) {
    const r = Tensor.rand(v.shape, { seed: seed++ });
    if (/bn\d*\.weight$|downsample\.1\.weight$/.test(k)) v.setData(r.mul(0.5).add(0.75).toFloat32().slice());
    else if (/bn\d*\.bias$|downsample\.1\.bias$/.test(k)) v.setData(r.sub(0.5).mul(0.2).toFloat32().slice());
    else if (k.endsWith('running_mean')) v.setData(r.sub(0.5).mul(0.2).toFloat32().slice());
    else if (k.endsWith('running_var')) v.setData(r.mul(0.5).add(0.75).toFloat32().slice());
  }
  return m;
}

async function run(m: Module, name: ModelName, x: Tensor, device: 'cuda' | 'cpu', precision: BuilderPrecision): Promise<Tensor> {
  const concreteArgs = modelZoo[name].traceOptions.concreteArgs;
  const lowered = await compile(m, [x], { device, precision, ...(concreteArgs ? { concreteArgs } : {}) });
  if (device === 'cuda') expect(lowered.backend).toBe('cuda');
  const [y] = await lowered.run([x]);
  return y!;
}

interface ModelCase {
  readonly name: ModelName;
  readonly shape: readonly number[];
  /** Also compare with the reference backend (CPU; slow for the large models). */
  readonly reference: boolean;
  readonly fp32: boolean;
}

const CASES: readonly ModelCase[] = [
  { name: 'mlp', shape: [64, 512], reference: true, fp32: true },
  { name: 'resnet18', shape: [1, 3, 224, 224], reference: true, fp32: true },
  { name: 'resnet18Cifar', shape: [2, 3, 32, 32], reference: true, fp32: false },
  { name: 'resnet50', shape: [1, 3, 224, 224], reference: false, fp32: false },
  { name: 'bertEncoderLayer', shape: [2, 64, 768], reference: true, fp32: true },
];

describe('bundled models on CUDA', () => {
  for (const c of CASES) {
    it(`${c.name} ${JSON.stringify(c.shape)}: fp16 vs PyTorch fp32${c.reference ? ' and vs the reference backend' : ''}${c.fp32 ? '; fp32 vs both' : ''}`, async () => {
      const m = model(c.name);
      const x = Tensor.randn(c.shape, { seed: 7 });
      const torch = torchOutput(c.name, m, x);
      const y16 = await run(m, c.name, x, 'cuda', 'fp16');
      const errTorch = relativeError(y16, torch);
      console.log(`${c.name}: fp16 CUDA vs PyTorch fp32: relative error ${errTorch.toExponential(2)}`);
      expect(errTorch).toBeLessThan(2e-2);
      if (c.reference) {
        const ref16 = await run(m, c.name, x, 'cpu', 'fp16');
        const err = relativeError(y16, ref16);
        console.log(`${c.name}: fp16 CUDA vs fp16 reference backend: relative error ${err.toExponential(2)}`);
        expect(err).toBeLessThan(1e-2);
      }
      if (c.fp32) {
        const y32 = await run(m, c.name, x, 'cuda', 'fp32');
        const err32 = relativeError(y32, torch);
        console.log(`${c.name}: fp32 CUDA vs PyTorch fp32: relative error ${err32.toExponential(2)}`);
        expect(err32).toBeLessThan(1e-5);
        if (c.reference) {
          const ref32 = await run(m, c.name, x, 'cpu', 'fp32');
          expect(relativeError(y32, ref32)).toBeLessThan(1e-5);
        }
      }
    });
  }
});
