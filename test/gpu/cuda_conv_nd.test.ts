/**
 * Convolutions beyond 2-D with even padding, and transposed convolutions, on CUDA against the
 * reference backend: 1-D (cuDNN 2-D with H = 1) and 3-D (NDHWC) convolutions, uneven and negative
 * padding (padded explicitly through the workspace), and deconvolution (cuDNN backward data) in
 * 1/2/3-D with stride, padding, output padding, groups, dilation, bias, residual and ReLU, fused
 * and unfused, including paddings cuDNN cannot express (computed into a window and copied).
 */
import { describe, it } from 'vitest';
import type { LayerParamsMap, NetTensor } from '../../src/engine/network.js';
import type { NetworkDefinition } from '../../src/engine/network_definition.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { constant, expectMatchesReference, layer, randn, type FloatDType } from './engine_harness.js';

type ConvParams = LayerParamsMap['convolution'];

interface Geometry {
  readonly kernel: readonly number[];
  readonly out: number;
  readonly stride?: readonly number[];
  readonly pre?: readonly number[];
  readonly post?: readonly number[];
  readonly dilation?: readonly number[];
  readonly groups?: number;
}

function params(g: Geometry): ConvParams {
  const ones = g.kernel.map(() => 1);
  const zeros = g.kernel.map(() => 0);
  return {
    kernelSize: g.kernel, numOutputMaps: g.out, stride: g.stride ?? ones, prePadding: g.pre ?? zeros, postPadding: g.post ?? g.pre ?? zeros,
    dilation: g.dilation ?? ones, groups: g.groups ?? 1,
  };
}

/** The output shape of a convolution (transposed: of a deconvolution) of `x` with `p`. */
function outShape(x: readonly number[], p: ConvParams, transposed: boolean): number[] {
  const spatial = x.slice(2).map((s, i) => {
    const span = p.dilation[i]! * (p.kernelSize[i]! - 1) + 1;
    return transposed
      ? (s - 1) * p.stride[i]! + span - p.prePadding[i]! - p.postPadding[i]!
      : Math.floor((s + p.prePadding[i]! + p.postPadding[i]! - span) / p.stride[i]!) + 1;
  });
  return [x[0]!, p.numOutputMaps, ...spatial];
}

const relu = { op: 'relu', alpha: 0, beta: 0 } as const;

interface Case {
  readonly name: string;
  readonly x: readonly number[];
  readonly g: Geometry;
}

/** Weight of a (transposed) convolution: [K, C/groups, k...] or [C, K/groups, k...]. */
function weight(c: Case, transposed: boolean, dt: FloatDType, seed: number): Tensor {
  const p = params(c.g);
  const channels = c.x[1]!;
  const shape = transposed ? [channels, p.numOutputMaps / p.groups, ...p.kernelSize] : [p.numOutputMaps, channels / p.groups, ...p.kernelSize];
  return randn(shape, seed, dt);
}

/** `kind` of x with the case's weight, + bias (+ residual input r) (+ relu). */
function anchored(net: NetworkDefinition, kind: 'convolution' | 'deconvolution', c: Case, x: NetTensor, dt: FloatDType, opts: { residual?: NetTensor; act?: boolean; bias?: boolean }): NetTensor {
  const p = params(c.g);
  const transposed = kind === 'deconvolution';
  const inputs = [x, constant(net, weight(c, transposed, dt, 21), 'w')];
  if (opts.bias ?? true) inputs.push(constant(net, randn([p.numOutputMaps], 22, dt), 'b'));
  let y = layer(net, kind, inputs, p, kind);
  if (opts.residual) y = layer(net, 'elementwise', [y, opts.residual], { op: 'sum' }, 'res');
  if (opts.act ?? true) y = layer(net, 'activation', [y], relu, 'relu');
  return y;
}

// Float32 accumulation order differs between cuDNN's algorithms (FFT, Winograd) and the reference.
const DECONV_TOLERANCE = { float32: 1e-5 } as const;

describe('convolution in 1-D and 3-D, any padding (cuDNN, channels-last)', () => {
  const cases: Case[] = [
    { name: '1-D stride 2', x: [2, 8, 21], g: { kernel: [3], out: 16, stride: [2], pre: [1] } },
    { name: '1-D depthwise dilated', x: [2, 8, 17], g: { kernel: [5], out: 8, groups: 8, dilation: [2], pre: [4] } },
    { name: '1-D uneven padding', x: [2, 6, 15], g: { kernel: [4], out: 12, pre: [1], post: [2] } },
    { name: '3-D', x: [2, 4, 6, 7, 5], g: { kernel: [3, 3, 3], out: 8, stride: [1, 2, 1], pre: [1, 1, 1] } },
    { name: '3-D grouped dilated', x: [1, 8, 7, 7, 7], g: { kernel: [3, 3, 3], out: 8, groups: 2, dilation: [2, 2, 2], pre: [2, 2, 2] } },
    { name: '3-D uneven padding', x: [1, 4, 5, 6, 7], g: { kernel: [3, 2, 3], out: 6, stride: [2, 1, 1], pre: [1, 0, 2], post: [0, 1, 1] } },
    { name: '2-D uneven padding (TensorFlow SAME, stride 2)', x: [2, 6, 9, 10], g: { kernel: [3, 3], out: 8, stride: [2, 2], pre: [0, 0], post: [1, 1] } },
    { name: '2-D negative padding (a crop) on one side', x: [2, 6, 9, 10], g: { kernel: [3, 3], out: 8, pre: [-1, 0], post: [1, 2] } },
  ];
  for (const c of cases) {
    it(`${c.name}: conv + bias + relu`, async () => {
      await expectMatchesReference({
        name: `conv ${c.name}`,
        inputs: (dt) => [randn(c.x, 1, dt)],
        build: (net, [x], dt) => net.markOutput(anchored(net, 'convolution', c, x!, dt, {}), 'y'),
      });
    });
  }

  it('3-D conv + bias + residual + relu fused, uneven padding, and unfused', async () => {
    const c: Case = { name: '3-D residual', x: [2, 4, 5, 6, 4], g: { kernel: [3, 3, 3], out: 4, pre: [1, 0, 1], post: [1, 2, 1] } };
    for (const optimizations of [true, false]) {
      await expectMatchesReference({
        name: `conv ${c.name}${optimizations ? '' : ' unfused'}`,
        optimizations,
        inputs: (dt) => [randn(c.x, 2, dt), randn(outShape(c.x, params(c.g), false), 3, dt)],
        build: (net, [x, r], dt) => net.markOutput(anchored(net, 'convolution', c, x!, dt, { residual: r! }), 'y'),
      });
    }
  });

  it('a 1-D conv result read by a row-major kernel (softmax) and by another 1-D conv', async () => {
    const first: Case = { name: 'a', x: [2, 8, 16], g: { kernel: [3], out: 8, pre: [1] } };
    const second: Case = { name: 'b', x: [2, 8, 16], g: { kernel: [1], out: 4 } };
    await expectMatchesReference({
      name: 'conv1d chain',
      inputs: (dt) => [randn(first.x, 4, dt)],
      build: (net, [x], dt) => {
        const h = anchored(net, 'convolution', first, x!, dt, {});
        net.markOutput(layer(net, 'softmax', [h], { axis: 2, log: false }, 'softmax'), 'probs');
        net.markOutput(anchored(net, 'convolution', second, h, dt, { act: false }), 'y');
      },
    });
  });
});

describe('deconvolution (cuDNN backward data, channels-last)', () => {
  const cases: Case[] = [
    { name: '1-D stride 2 padding 1', x: [2, 8, 9], g: { kernel: [4], out: 4, stride: [2], pre: [1] } },
    { name: '1-D stride 3 output padding 2', x: [2, 4, 7], g: { kernel: [3], out: 6, stride: [3], pre: [1], post: [-1] } },
    { name: '2-D grouped stride 2 output padding 1', x: [2, 8, 5, 6], g: { kernel: [3, 3], out: 6, groups: 2, stride: [2, 2], pre: [1, 1], post: [0, 0] } },
    { name: '2-D depthwise dilated', x: [1, 8, 6, 6], g: { kernel: [3, 3], out: 8, groups: 8, dilation: [2, 2], pre: [2, 2] } },
    { name: '2-D padding cuDNN cannot express (window + zeros)', x: [2, 4, 5, 6], g: { kernel: [3, 2], out: 6, stride: [2, 1], pre: [2, 0], post: [-1, -3] } },
    { name: '2-D negative leading padding', x: [1, 4, 4, 5], g: { kernel: [2, 3], out: 4, stride: [2, 2], pre: [-1, 0], post: [0, 1] } },
    { name: '2-D output padding below dilation, above stride', x: [1, 4, 6, 6], g: { kernel: [3, 3], out: 4, dilation: [2, 2], pre: [1, 1], post: [0, 0] } },
    { name: '3-D stride 2, mixed direct and window dims', x: [1, 4, 3, 4, 5], g: { kernel: [2, 2, 2], out: 6, groups: 2, stride: [2, 2, 2], pre: [0, 1, 0], post: [0, 0, -3] } },
    { name: '3-D stride 2 padding 1 output padding 1', x: [2, 6, 3, 3, 4], g: { kernel: [3, 3, 3], out: 4, stride: [2, 2, 2], pre: [1, 1, 1], post: [0, 0, 0] } },
  ];
  for (const c of cases) {
    it(`${c.name}: deconv + bias + relu`, async () => {
      await expectMatchesReference({
        name: `deconv ${c.name}`,
        tolerance: DECONV_TOLERANCE,
        inputs: (dt) => [randn(c.x, 5, dt)],
        build: (net, [x], dt) => net.markOutput(anchored(net, 'deconvolution', c, x!, dt, {}), 'y'),
      });
    });
  }

  it('without bias or activation (no epilogue kernel), with a residual, and unfused', async () => {
    const c: Case = { name: 'plain', x: [2, 6, 4, 5], g: { kernel: [4, 4], out: 6, stride: [2, 2], pre: [1, 1] } };
    const y = outShape(c.x, params(c.g), true);
    await expectMatchesReference({
      name: 'deconv plain', tolerance: DECONV_TOLERANCE,
      inputs: (dt) => [randn(c.x, 6, dt)],
      build: (net, [x], dt) => net.markOutput(anchored(net, 'deconvolution', c, x!, dt, { bias: false, act: false }), 'y'),
    });
    for (const optimizations of [true, false]) {
      await expectMatchesReference({
        name: `deconv residual${optimizations ? '' : ' unfused'}`, tolerance: DECONV_TOLERANCE, optimizations,
        inputs: (dt) => [randn(c.x, 7, dt), randn(y, 8, dt)],
        build: (net, [x, r], dt) => net.markOutput(anchored(net, 'deconvolution', c, x!, dt, { residual: r! }), 'y'),
      });
    }
  });

  it('an encoder-decoder: 3-D conv then 3-D deconv (channels-last end to end) with a clip epilogue', async () => {
    const down: Case = { name: 'down', x: [1, 4, 8, 8, 8], g: { kernel: [3, 3, 3], out: 8, stride: [2, 2, 2], pre: [1, 1, 1] } };
    const up: Case = { name: 'up', x: [1, 8, 4, 4, 4], g: { kernel: [2, 2, 2], out: 4, stride: [2, 2, 2] } };
    await expectMatchesReference({
      name: 'conv3d -> deconv3d', tolerance: DECONV_TOLERANCE,
      inputs: (dt) => [randn(down.x, 9, dt)],
      build: (net, [x], dt) => {
        const h = anchored(net, 'convolution', down, x!, dt, {});
        const y = anchored(net, 'deconvolution', up, h, dt, { act: false });
        net.markOutput(layer(net, 'activation', [y], { op: 'clip', alpha: -0.5, beta: 0.5 }, 'clip'), 'y');
      },
    });
  });
});
