/** Shared helpers of the engine tests: networks built by hand, engines built fused and unfused, comparisons. */
import { expect } from 'vitest';
import '../src/engine/layer_inference.js';
import { Builder, type BuilderConfig } from '../src/engine/builder.js';
import type { Engine } from '../src/engine/engine.js';
import type { LayerParamsMap, LayerType, NetTensor } from '../src/engine/network.js';
import { NetworkDefinition } from '../src/engine/network_definition.js';
import type { DType } from '../src/tensor/dtype.js';
import { Tensor } from '../src/tensor/tensor.js';

/** Adds one single-output layer. */
export function layer<K extends LayerType>(net: NetworkDefinition, type: K, inputs: readonly NetTensor[], params: LayerParamsMap[K], name: string): NetTensor {
  return net.addLayer(type, inputs, params, name)[0]!;
}

/** Adds a constant layer holding `value`. */
export function constant(net: NetworkDefinition, value: Tensor, name: string): NetTensor {
  return layer(net, 'constant', [], { value }, name);
}

export const relu = { op: 'relu', alpha: 0, beta: 0 } as const;

/** 2-D convolution params with symmetric padding. */
export function conv2d(out: number, k: number, pad = 0, stride = 1, groups = 1): LayerParamsMap['convolution'] {
  return { kernelSize: [k, k], numOutputMaps: out, stride: [stride, stride], prePadding: [pad, pad], postPadding: [pad, pad], dilation: [1, 1], groups };
}

export async function build(net: NetworkDefinition, config: BuilderConfig = {}): Promise<Engine> {
  return new Builder().build(net, config);
}

/** The same network built with every optimization and with none. */
export async function buildBoth(net: NetworkDefinition, config: BuilderConfig = {}): Promise<{ fused: Engine; unfused: Engine }> {
  return { fused: await build(net, config), unfused: await build(net, { ...config, optimizations: false }) };
}

export async function run(engine: Engine, inputs: readonly Tensor[]): Promise<Tensor[]> {
  return engine.createExecutionContext().execute(inputs);
}

/** Largest |a - b| over two tensors of one shape (NaN when they disagree on NaN). */
export function maxAbsDiff(a: Tensor, b: Tensor): number {
  expect(a.shape).toEqual(b.shape);
  const x = a.toFloat64();
  const y = b.toFloat64();
  let m = 0;
  for (let i = 0; i < x.length; i++) {
    if (Number.isNaN(x[i]!) !== Number.isNaN(y[i]!)) return NaN;
    if (!Number.isNaN(x[i]!)) m = Math.max(m, Math.abs(x[i]! - y[i]!));
  }
  return m;
}

/** Elementwise |a - b| <= atol + rtol * |b|. */
export function expectClose(a: Tensor, b: Tensor, rtol = 1e-6, atol = 1e-6): void {
  expect(a.shape).toEqual(b.shape);
  expect(a.dtype).toBe(b.dtype);
  const x = a.toFloat64();
  const y = b.toFloat64();
  for (let i = 0; i < x.length; i++) {
    if (Number.isNaN(y[i]!)) {
      expect(x[i], `element ${i}`).toBeNaN();
      continue;
    }
    const tol = atol + rtol * Math.abs(y[i]!);
    if (!(Math.abs(x[i]! - y[i]!) <= tol)) expect(x[i], `element ${i} (tolerance ${tol})`).toBe(y[i]);
  }
}

/** Runs both builds of a network on `inputs` and expects close outputs; returns the fused engine. */
export async function expectFusedMatchesUnfused(net: NetworkDefinition, inputs: readonly Tensor[], config: BuilderConfig = {}, rtol = 1e-6): Promise<Engine> {
  const { fused, unfused } = await buildBoth(net, config);
  const a = await run(fused, inputs);
  const b = await run(unfused, inputs);
  expect(a.length).toBe(b.length);
  a.forEach((t, i) => expectClose(t, b[i]!, rtol, rtol));
  return fused;
}

export function randn(shape: readonly number[], seed: number, dtype: DType = 'float32'): Tensor {
  return Tensor.randn(shape, { seed, dtype });
}

export function newNet(name: string): NetworkDefinition {
  return new NetworkDefinition(name);
}
