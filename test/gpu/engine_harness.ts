/**
 * Building one network for the CUDA and the reference backend and comparing their outputs: the
 * GPU suite's check that every step kind computes what the reference computes.
 */
import { expect } from 'vitest';
import { cudaMemoryInUse } from '../../src/backends/cuda/index.js';
import { Builder, type BuilderConfig } from '../../src/engine/builder.js';
import type { Engine } from '../../src/engine/engine.js';
import type { LayerParamsMap, LayerType, NetTensor } from '../../src/engine/network.js';
import { NetworkDefinition } from '../../src/engine/network_definition.js';
import type { BuilderPrecision } from '../../src/engine/plan.js';
import type { DType } from '../../src/tensor/dtype.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { expectSameValues, relativeError } from './compare.js';

export type FloatDType = 'float32' | 'float16' | 'bfloat16';
export const FLOATS: readonly FloatDType[] = ['float32', 'float16', 'bfloat16'];
/** Relative norm error allowed per dtype: float32 tight, the 16-bit types within their precision. */
export const TOLERANCE: Record<FloatDType, number> = { float32: 2e-6, float16: 4e-3, bfloat16: 2.5e-2 };
export const PRECISION: Record<FloatDType, BuilderPrecision> = { float32: 'fp32', float16: 'fp16', bfloat16: 'bf16' };

/** Adds a single-output layer. */
export function layer<K extends LayerType>(net: NetworkDefinition, type: K, inputs: readonly NetTensor[], params: LayerParamsMap[K], name: string): NetTensor {
  return net.addLayer(type, inputs, params, name)[0]!;
}

/** Adds a constant layer. */
export function constant(net: NetworkDefinition, value: Tensor, name: string): NetTensor {
  return layer(net, 'constant', [], { value }, name);
}

export function randn(shape: readonly number[], seed: number, dtype: DType = 'float32'): Tensor {
  return Tensor.randn(shape, { seed, dtype });
}

/** A case: a network over `inputs` (added as network inputs x0, x1, ...) and how to compare. */
export interface StepCase {
  readonly name: string;
  /** Adds layers and marks outputs; `xs` are the network inputs. */
  readonly build: (net: NetworkDefinition, xs: readonly NetTensor[], dtype: FloatDType) => void;
  readonly inputs: (dtype: FloatDType) => Tensor[];
  readonly dtypes?: readonly FloatDType[];
  /** Builder optimizations (default all on). */
  readonly optimizations?: boolean;
  /** Bit-exact comparison (data movement). */
  readonly exact?: boolean;
  /** Overrides TOLERANCE. */
  readonly tolerance?: Partial<Record<FloatDType, number>>;
}

/** Builds `c` for both backends at `dtype`; returns the engines. */
export async function buildPair(c: StepCase, dtype: FloatDType, extra: BuilderConfig = {}): Promise<{ cuda: Engine; reference: Engine; inputs: Tensor[] }> {
  const inputs = c.inputs(dtype);
  const make = (): NetworkDefinition => {
    const net = new NetworkDefinition(c.name);
    const xs = inputs.map((t, i) => net.addInput(`x${i}`, t.dtype, t.shape));
    c.build(net, xs, dtype);
    return net;
  };
  const config: BuilderConfig = { precision: PRECISION[dtype], optimizations: c.optimizations ?? true, ...extra };
  const cuda = await new Builder().build(make(), { ...config, backend: 'cuda' });
  const reference = await new Builder().build(make(), { ...config, backend: 'reference' });
  return { cuda, reference, inputs };
}

/** Runs `c` on both backends at every dtype and expects matching outputs. */
export async function expectMatchesReference(c: StepCase): Promise<void> {
  for (const dtype of c.dtypes ?? FLOATS) {
    const { cuda, reference, inputs } = await buildPair(c, dtype);
    const got = await cuda.createExecutionContext().execute(inputs);
    const want = await reference.createExecutionContext().execute(inputs);
    expect(got.length).toBe(want.length);
    got.forEach((g, i) => {
      const what = `${c.name} (${dtype}) output ${i}`;
      if (c.exact || !(g.dtype === 'float32' || g.dtype === 'float16' || g.dtype === 'bfloat16')) {
        expectSameValues(g, want[i]!, what);
        return;
      }
      expect(g.shape, what).toEqual(want[i]!.shape);
      const err = relativeError(g, want[i]!);
      const tol = c.tolerance?.[dtype] ?? TOLERANCE[dtype];
      expect(err, `${what}: relative error ${err} (tolerance ${tol})`).toBeLessThanOrEqual(tol);
    });
  }
}

/**
 * Collects garbage until the addon's device memory (bytes and buffers) stops changing: what
 * earlier tests left to the garbage collector is freed before a test counts buffers.
 */
export async function settle(): Promise<void> {
  const collect = globalThis.gc;
  if (collect === undefined) throw new Error('the GPU suite runs with --expose-gc (vitest.gpu.config.ts)');
  let last = '';
  for (let i = 0; i < 20; i++) {
    const m = cudaMemoryInUse();
    const now = `${m.deviceBytes}/${m.deviceBuffers}`;
    if (now === last) return;
    last = now;
    collect();
    await new Promise((r) => setImmediate(r));
  }
}
