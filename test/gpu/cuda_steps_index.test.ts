/**
 * The index steps on the CUDA backend against the reference backend: gather (default and element
 * modes), slices past the edges (fill, clamp, reflect, wrap), constant padding, resize (nearest,
 * linear, cubic), topk and cumulative sums, in fp32/fp16/bf16 and on integer data, with odd
 * shapes, size-1 dims, non-last axes and operands in the channels-last layout of a convolution.
 * Data movement, resize and topk are bit-exact; cumulative sums of floats within tolerance.
 */
import { describe, expect, it } from 'vitest';
import { CudaEngineRunner } from '../../src/backends/cuda/index.js';
import { Builder } from '../../src/engine/builder.js';
import type { LayerParamsMap, NetTensor } from '../../src/engine/network.js';
import { NetworkDefinition } from '../../src/engine/network_definition.js';
import type { DType } from '../../src/tensor/dtype.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { buildPair, constant, expectMatchesReference, layer, randn, type FloatDType, type StepCase } from './engine_harness.js';

/** A 1x1 convolution to `out` channels (its output is channels-last on the device). */
function conv1x1(net: NetworkDefinition, x: NetTensor, inC: number, out: number, seed: number, dt: FloatDType, name: string): NetTensor {
  const p: LayerParamsMap['convolution'] = {
    kernelSize: [1, 1], numOutputMaps: out, stride: [1, 1], prePadding: [0, 0], postPadding: [0, 0], dilation: [1, 1], groups: 1,
  };
  return layer(net, 'convolution', [x, constant(net, randn([out, inC, 1, 1], seed, dt), `${name}_w`)], p, name);
}

function ints(values: readonly number[], shape: readonly number[], dtype: DType = 'int64'): Tensor {
  return Tensor.fromNumbers(values, shape, dtype);
}

/** `n` indices in [-size, size) (negative ones count from the end), deterministic. */
function indices(n: number, size: number, seed: number): number[] {
  return Array.from({ length: n }, (_, i) => ((i * 7 + seed * 13) % (2 * size)) - size);
}

/** Values on a coarse grid (many ties) with NaN and -0 among them, as `dtype`. */
function tied(shape: readonly number[], seed: number, dtype: DType, special = true): Tensor {
  const v = Array.from(randn(shape, seed).toFloat64(), (x, i) => {
    if (special && i % 17 === 3) return NaN;
    if (special && i % 13 === 5) return -0;
    return Math.round(x * 2) / 2;
  });
  return Tensor.fromNumbers(v, shape, dtype);
}

/** The tactic names of the CUDA engine of `c` at `dtype`. */
async function tacticsOf(c: StepCase, dtype: FloatDType): Promise<string[]> {
  const { cuda } = await buildPair(c, dtype);
  const runner = CudaEngineRunner.of(cuda);
  try {
    return runner.tactics().map((t) => t.tactic);
  } finally {
    runner.dispose();
  }
}

describe('gather', () => {
  it('default mode: an embedding lookup (int64 ids, widened words), a middle axis with negative and scalar indices, 2-d indices on the last axis, no indices', async () => {
    await expectMatchesReference({
      name: 'gather default',
      exact: true,
      inputs: (dt) => [randn([2, 7, 5], 1, dt), ints(indices(15, 50, 1).map((v) => (v + 50) % 50), [3, 5]), ints(indices(4, 7, 2), [4], 'int32')],
      build: (net, [x, ids, idx], dt) => {
        const table = constant(net, randn([50, 24], 2, dt), 'table');
        net.markOutput(layer(net, 'gather', [table, ids!], { axis: 0, mode: 'default' }, 'embed'), 'embed');
        net.markOutput(layer(net, 'gather', [x!, idx!], { axis: 1, mode: 'default' }, 'middle'), 'middle');
        net.markOutput(layer(net, 'gather', [x!, constant(net, ints([-2], []), 'scalar')], { axis: 2, mode: 'default' }, 'scalar'), 'scalar');
        const idx2 = constant(net, ints([4, 0, -1, 2, 2, 3], [2, 3], 'int32'), 'idx2');
        net.markOutput(layer(net, 'gather', [x!, idx2], { axis: 2, mode: 'default' }, 'last2d'), 'last2d');
        net.markOutput(layer(net, 'gather', [x!, constant(net, ints([1], [1]), 'one')], { axis: 0, mode: 'default' }, 'size1'), 'size1');
        net.markOutput(layer(net, 'gather', [x!, constant(net, ints([], [0]), 'none')], { axis: 1, mode: 'default' }, 'empty'), 'empty');
      },
    });
  });

  it('element mode (torch.gather) on every axis, indices smaller than the data off the axis', async () => {
    await expectMatchesReference({
      name: 'gather element',
      exact: true,
      inputs: (dt) => [randn([4, 6, 5], 3, dt)],
      build: (net, [x]) => {
        const shapes: [number, number[]][] = [[0, [7, 3, 5]], [1, [4, 3, 5]], [2, [3, 6, 9]]];
        for (const [axis, shape] of shapes) {
          const n = shape.reduce((a, b) => a * b, 1);
          const idx = constant(net, ints(indices(n, [4, 6, 5][axis]!, axis), shape), `idx${axis}`);
          net.markOutput(layer(net, 'gather', [x!, idx], { axis, mode: 'element' }, `el${axis}`), `el${axis}`);
        }
      },
    });
  });

  it('on a channels-last convolution output, and into a convolution (channels-last output)', async () => {
    await expectMatchesReference({
      name: 'gather nhwc',
      // Through cuDNN convolutions, which round differently from the reference: within tolerance.
      exact: false,
      inputs: (dt) => [randn([2, 8, 5, 7], 4, dt)],
      build: (net, [x], dt) => {
        const y = conv1x1(net, x!, 8, 16, 5, dt, 'conv');
        net.markOutput(layer(net, 'gather', [y, constant(net, ints([3, 15, -16, 7], [4]), 'ch')], { axis: 1, mode: 'default' }, 'channels'), 'channels');
        net.markOutput(layer(net, 'gather', [y, constant(net, ints([6, 0, 2], [3], 'int32'), 'w')], { axis: 3, mode: 'default' }, 'width'), 'width');
        const picked = layer(net, 'gather', [y, constant(net, ints([1, 3, 5, 7, 9, 11, 13, 15], [8]), 'half')], { axis: 1, mode: 'default' }, 'picked');
        net.markOutput(conv1x1(net, picked, 8, 8, 6, dt, 'conv2'), 'conv2');
      },
    });
  });

  it('integer data (int32 and int64 words), once', async () => {
    await expectMatchesReference({
      name: 'gather ints',
      dtypes: ['float32'],
      inputs: () => [ints(Array.from({ length: 60 }, (_, i) => i * 1000003 - 7), [5, 12], 'int32'), ints(Array.from({ length: 15 }, (_, i) => i * 3 - 20), [3, 5])],
      build: (net, [a, b]) => {
        net.markOutput(layer(net, 'gather', [a!, constant(net, ints([4, -5, 2], [3]), 'rows')], { axis: 0, mode: 'default' }, 'rows'), 'rows');
        net.markOutput(layer(net, 'gather', [b!, constant(net, ints([4, 0, 0, 1, 3, 2], [3, 2], 'int32'), 'cols')], { axis: 1, mode: 'element' }, 'cols'), 'cols');
      },
    });
  });

  it('an index out of range fails the run naming the step, as the reference does (test/gpu/cuda_device_io.test.ts covers the error channel)', async () => {
    const net = new NetworkDefinition('gather_oob');
    const x = net.addInput('x', 'float32', [3, 4]);
    const idx = net.addInput('i', 'int64', [3]);
    net.markOutput(layer(net, 'gather', [x, idx], { axis: 0, mode: 'default' }, 'g'), 'y');
    const engine = await new Builder().build(net, { backend: 'cuda' });
    const data = Tensor.fromNumbers(Array.from({ length: 12 }, (_, i) => i + 1), [3, 4]);
    await expect(engine.createExecutionContext().execute([data, ints([2, 3, -4], [3])])).rejects.toThrow(/step 'g': gather index (3 at position \[1\]|-4 at position \[2\])/);
  });
});

describe('slice past the edges', () => {
  const modes = ['fill', 'clamp', 'reflect', 'wrap'] as const;
  for (const mode of modes) {
    it(`mode '${mode}': negative starts and strides, past the end, a whole dim, a size-1 input dim and an empty output`, async () => {
      await expectMatchesReference({
        name: `slice ${mode}`,
        exact: true,
        inputs: (dt) => [randn([2, 3, 5, 6], 7, dt), randn([3, 1, 4], 8, dt)],
        build: (net, [x, z]) => {
          const p = (start: number[], size: number[], stride: number[]): LayerParamsMap['slice'] => ({ start, size, stride, mode, fillValue: 0.1 });
          net.markOutput(layer(net, 'slice', [x!], p([0, -2, 3, -4], [-1, 7, 9, 11], [1, 1, -1, 2]), 'a'), 'a');
          net.markOutput(layer(net, 'slice', [x!], p([1, 2, -7, 8], [1, 3, 5, 3], [1, -1, 3, -5]), 'b'), 'b');
          net.markOutput(layer(net, 'slice', [z!], p([-1, -3, -2], [5, 7, 9], [1, 1, 1]), 'c'), 'c');
          net.markOutput(layer(net, 'slice', [z!], p([-1, 0, -2], [4, 0, 3], [1, 1, 1]), 'empty'), 'empty');
        },
      });
    });
  }

  it('the pad forms on a channels-last convolution output (a reflect pad of H and W), into another convolution', async () => {
    await expectMatchesReference({
      name: 'slice pad nhwc',
      // Through cuDNN convolutions, which round differently from the reference: within tolerance.
      exact: false,
      inputs: (dt) => [randn([2, 8, 6, 5], 9, dt)],
      build: (net, [x], dt) => {
        const y = conv1x1(net, x!, 8, 16, 10, dt, 'conv');
        const padded = layer(net, 'slice', [y], { start: [0, 0, -2, -1], size: [-1, -1, 10, 8], stride: [1, 1, 1, 1], mode: 'reflect', fillValue: 0 }, 'reflect');
        net.markOutput(conv1x1(net, padded, 16, 8, 11, dt, 'conv2'), 'reflected');
        net.markOutput(layer(net, 'slice', [y], { start: [0, -1, -3, 0], size: [-1, 18, 7, 9], stride: [1, 1, 2, 1], mode: 'wrap', fillValue: 0 }, 'wrap'), 'wrapped');
      },
    });
  });

  it('a slice that stays in range runs as a strided copy in any mode', async () => {
    const c: StepCase = {
      name: 'slice in range',
      exact: true,
      inputs: (dt) => [randn([4, 9], 12, dt)],
      build: (net, [x]) => {
        net.markOutput(layer(net, 'slice', [x!], { start: [3, 1], size: [2, 4], stride: [-2, 2], mode: 'reflect', fillValue: 0 }, 's'), 'y');
      },
    };
    await expectMatchesReference(c);
    const tactics = await tacticsOf(c, 'float32');
    expect(tactics.some((t) => t.startsWith('slice_map'))).toBe(false);
  });

  it('integer data fills with the value converted like the reference (int32, int8, uint8), once', async () => {
    await expectMatchesReference({
      name: 'slice ints',
      dtypes: ['float32'],
      inputs: () => [ints(Array.from({ length: 35 }, (_, i) => i * 31 - 400), [5, 7], 'int32'), ints(Array.from({ length: 12 }, (_, i) => i * 20 - 100), [3, 4], 'int8')],
      build: (net, [a, b]) => {
        const fill = (fillValue: number): LayerParamsMap['slice'] => ({ start: [-1, -2], size: [8, 11], stride: [1, 1], mode: 'fill', fillValue });
        net.markOutput(layer(net, 'slice', [a!], fill(7.9), 'a'), 'a');
        net.markOutput(layer(net, 'slice', [b!], fill(-3), 'b'), 'b');
        net.markOutput(layer(net, 'slice', [b!], { start: [2, -1], size: [6, 9], stride: [-1, 1], mode: 'reflect', fillValue: 0 }, 'c'), 'c');
        const u = layer(net, 'cast', [b!], { toType: 'uint8' }, 'u');
        net.markOutput(layer(net, 'slice', [u], fill(300), 'd'), 'd');
      },
    });
  });
});

describe('padding', () => {
  it('trailing dims with a crop on one side, all four dims, and no padding at all', async () => {
    await expectMatchesReference({
      name: 'padding',
      exact: true,
      inputs: (dt) => [randn([2, 3, 5, 7], 13, dt)],
      build: (net, [x]) => {
        net.markOutput(layer(net, 'padding', [x!], { prePadding: [1, 2], postPadding: [2, -1], value: 1.5 }, 'hw'), 'hw');
        net.markOutput(layer(net, 'padding', [x!], { prePadding: [1, 0, 0, 3], postPadding: [0, 2, 1, 0], value: -0.3 }, 'all'), 'all');
        net.markOutput(layer(net, 'padding', [x!], { prePadding: [0], postPadding: [0], value: 9 }, 'none'), 'none');
        net.markOutput(layer(net, 'padding', [x!], { prePadding: [-1, -2], postPadding: [-1, 0], value: 9 }, 'crop'), 'crop');
      },
    });
  });

  it('between convolutions (channels-last in and out, whole channel rows moved as wide words)', async () => {
    await expectMatchesReference({
      name: 'padding nhwc',
      // Through cuDNN convolutions, which round differently from the reference: within tolerance.
      exact: false,
      inputs: (dt) => [randn([2, 16, 5, 6], 14, dt)],
      build: (net, [x], dt) => {
        const y = conv1x1(net, x!, 16, 16, 15, dt, 'conv');
        const padded = layer(net, 'padding', [y], { prePadding: [1, 2], postPadding: [1, 0], value: -0.5 }, 'pad');
        net.markOutput(conv1x1(net, padded, 16, 8, 16, dt, 'conv2'), 'y');
      },
    });
  });

  it('integer data, once', async () => {
    await expectMatchesReference({
      name: 'padding ints',
      dtypes: ['float32'],
      inputs: () => [ints(Array.from({ length: 21 }, (_, i) => i * 100 - 1000), [3, 7])],
      build: (net, [x]) => net.markOutput(layer(net, 'padding', [x!], { prePadding: [2, 1], postPadding: [0, 3], value: -4 }, 'pad'), 'y'),
    });
  });
});

describe('resize', () => {
  type Form = Pick<LayerParamsMap['resize'], 'mode' | 'coordinates' | 'round'>;
  const resize = (form: Form, outputShape: number[], scales: number[] | null = null): LayerParamsMap['resize'] => ({
    ...form, outputShape, cubicCoeff: -0.75, scales,
  });
  const forms: { name: string; form: Form }[] = [
    { name: 'nearest (floor, asymmetric)', form: { mode: 'nearest', coordinates: 'asymmetric', round: 'floor' } },
    { name: 'nearest-exact (half_up, half_pixel)', form: { mode: 'nearest', coordinates: 'half_pixel', round: 'half_up' } },
    { name: 'bilinear, half pixel', form: { mode: 'linear', coordinates: 'half_pixel', round: 'floor' } },
    { name: 'bilinear, align corners', form: { mode: 'linear', coordinates: 'align_corners', round: 'floor' } },
    { name: 'bicubic, half pixel', form: { mode: 'cubic', coordinates: 'half_pixel', round: 'floor' } },
    { name: 'bicubic, align corners', form: { mode: 'cubic', coordinates: 'align_corners', round: 'floor' } },
  ];
  for (const { name, form } of forms) {
    it(`${name}: doubled, odd up and down sizes, one size-1 output dim, scale factors`, async () => {
      await expectMatchesReference({
        name: `resize ${name}`,
        exact: true,
        inputs: (dt) => [randn([2, 3, 5, 7], 17, dt)],
        build: (net, [x]) => {
          net.markOutput(layer(net, 'resize', [x!], resize(form, [-1, -1, 10, 14]), 'double'), 'double');
          net.markOutput(layer(net, 'resize', [x!], resize(form, [-1, -1, 8, 9]), 'up'), 'up');
          net.markOutput(layer(net, 'resize', [x!], resize(form, [-1, -1, 3, 4]), 'down'), 'down');
          net.markOutput(layer(net, 'resize', [x!], resize(form, [-1, -1, 1, 11]), 'one'), 'one');
          net.markOutput(layer(net, 'resize', [x!], resize(form, [-1, -1, 12, 10], [1, 1, 2.5, 1.5]), 'scaled'), 'scaled');
          net.markOutput(layer(net, 'resize', [x!], resize(form, [-1, -1, 2, 3], [1, 1, 0.5, 0.45]), 'scaled_down'), 'scaled_down');
        },
      });
    });
  }

  it('linear over 1 and 3 spatial dims, nearest on 3-d and 5-d tensors', async () => {
    const linear: Form = { mode: 'linear', coordinates: 'half_pixel', round: 'floor' };
    const aligned: Form = { mode: 'linear', coordinates: 'align_corners', round: 'floor' };
    const nearest: Form = { mode: 'nearest', coordinates: 'asymmetric', round: 'floor' };
    await expectMatchesReference({
      name: 'resize ranks',
      exact: true,
      inputs: (dt) => [randn([2, 3, 11], 18, dt), randn([1, 2, 3, 4, 5], 19, dt)],
      build: (net, [a, b]) => {
        net.markOutput(layer(net, 'resize', [a!], resize(linear, [-1, -1, 17]), 'l1'), 'l1');
        net.markOutput(layer(net, 'resize', [a!], resize(aligned, [-1, -1, 4]), 'l1a'), 'l1a');
        net.markOutput(layer(net, 'resize', [b!], resize(linear, [-1, -1, 5, 7, 3]), 'l3'), 'l3');
        net.markOutput(layer(net, 'resize', [b!], resize(aligned, [-1, -1, 2, 4, 9]), 'l3a'), 'l3a');
        net.markOutput(layer(net, 'resize', [a!], resize(nearest, [-1, -1, 5]), 'n1'), 'n1');
        net.markOutput(layer(net, 'resize', [b!], resize(nearest, [-1, -1, 6, 3, 7]), 'n3'), 'n3');
      },
    });
  });

  it('between convolutions (FPN-style 2x nearest and bilinear, channels-last in and out)', async () => {
    const c: StepCase = {
      name: 'resize nhwc',
      // Through cuDNN convolutions, which round differently from the reference: within tolerance.
      exact: false,
      inputs: (dt) => [randn([2, 16, 5, 6], 20, dt)],
      build: (net, [x], dt) => {
        const y = conv1x1(net, x!, 16, 16, 21, dt, 'conv');
        const up = layer(net, 'resize', [y], resize({ mode: 'nearest', coordinates: 'asymmetric', round: 'floor' }, [-1, -1, 10, 12], [1, 1, 2, 2]), 'up');
        net.markOutput(conv1x1(net, up, 16, 8, 22, dt, 'conv_up'), 'nearest');
        const bi = layer(net, 'resize', [y], resize({ mode: 'linear', coordinates: 'half_pixel', round: 'floor' }, [-1, -1, 9, 13]), 'bi');
        net.markOutput(conv1x1(net, bi, 16, 8, 23, dt, 'conv_bi'), 'bilinear');
        net.markOutput(layer(net, 'resize', [y], resize({ mode: 'cubic', coordinates: 'align_corners', round: 'floor' }, [-1, -1, 7, 4]), 'cubic'), 'cubic');
      },
    };
    await expectMatchesReference(c);
    const tactics = await tacticsOf(c, 'float16');
    expect(tactics).toEqual(expect.arrayContaining(['resize_nearest_floor_nhwc[16B words]', 'resize_linear_nhwc']));
  });

  it('nearest on integer data, once', async () => {
    await expectMatchesReference({
      name: 'resize ints',
      dtypes: ['float32'],
      inputs: () => [ints(Array.from({ length: 30 }, (_, i) => i * 7 - 50), [1, 2, 3, 5], 'int32')],
      build: (net, [x]) => {
        net.markOutput(layer(net, 'resize', [x!], resize({ mode: 'nearest', coordinates: 'half_pixel', round: 'half_up' }, [-1, -1, 7, 2]), 'r'), 'y');
      },
    });
  });

  it('forms the kernels do not take fail the build naming the step', async () => {
    const build = async (form: Form, cubicCoeff: number): Promise<unknown> => {
      const net = new NetworkDefinition('resize_form');
      const x = net.addInput('x', 'float32', [1, 2, 4, 4]);
      net.markOutput(layer(net, 'resize', [x], { ...form, outputShape: [-1, -1, 8, 8], cubicCoeff, scales: null }, 'rs'), 'y');
      return new Builder().build(net, { backend: 'cuda' });
    };
    await expect(build({ mode: 'nearest', coordinates: 'half_pixel', round: 'floor' }, -0.75)).rejects.toThrow(
      "step 'rs' (resize): a nearest resize with coordinates 'half_pixel' and round 'floor' is not implemented on the CUDA backend yet",
    );
    await expect(build({ mode: 'cubic', coordinates: 'half_pixel', round: 'floor' }, -0.5)).rejects.toThrow(
      "step 'rs' (resize): a cubic resize with coefficient -0.5 (only PyTorch's -0.75) is not implemented on the CUDA backend yet",
    );
  });
});

describe('topk', () => {
  /** A topk case over `x` with (k, axis) pairs, max and min each. */
  function topkCase(name: string, pairs: [number, number][], make: (dt: FloatDType) => Tensor): StepCase {
    return {
      name: `topk ${name}`,
      exact: true,
      inputs: (dt) => [make(dt)],
      build: (net, [x]) => {
        for (const [k, axis] of pairs) {
          for (const op of ['max', 'min'] as const) {
            const [values, idx] = net.addLayer('topk', [x!], { op, k, axis }, `${op}_${k}_${axis}`);
            net.markOutput(values!, `${op}_${k}_${axis}_values`);
            net.markOutput(idx!, `${op}_${k}_${axis}_indices`);
          }
        }
      },
    };
  }

  const cases: { c: StepCase; algorithm: string }[] = [
    { c: topkCase('short rows (thread per row)', [[1, 1], [5, 1], [29, 1]], (dt) => tied([6, 29], 24, dt)), algorithm: 'topk_thread' },
    { c: topkCase('argmax over long rows', [[1, 1]], (dt) => tied([3, 5000], 25, dt)), algorithm: 'topk_argmax' },
    { c: topkCase('sorted in shared memory, ties, NaN and -0', [[5, 1], [37, 1], [3, 0]], (dt) => tied([4, 37], 26, dt)), algorithm: 'topk_sort' },
    { c: topkCase('non-last axis of an odd shape', [[7, 1], [2, 0]], (dt) => tied([3, 50, 40], 27, dt, false)), algorithm: 'topk_sort' },
    { c: topkCase('radix select, ties across chunks', [[100, 1], [1000, 1]], (dt) => tied([2, 5003], 28, dt)), algorithm: 'topk_radix_select' },
    { c: topkCase('k beyond shared memory (sorted in the workspace)', [[5000, 1]], (dt) => tied([2, 9001], 29, dt)), algorithm: 'topk_global_sort' },
    { c: topkCase('per-pixel class argmax (thread per row, coalesced)', [[1, 1], [3, 1]], (dt) => tied([2, 21, 96, 96], 30, dt)), algorithm: 'topk_thread' },
  ];
  for (const { c, algorithm } of cases) {
    it(`${c.name} (${algorithm})`, async () => {
      await expectMatchesReference(c);
      expect(await tacticsOf(c, 'float32')).toContain(algorithm);
    });
  }

  it('on a channels-last convolution output along the channels, and on int32 data', async () => {
    await expectMatchesReference({
      name: 'topk nhwc',
      // Through cuDNN convolutions, which round differently from the reference: within tolerance.
      exact: false,
      inputs: (dt) => [randn([2, 8, 5, 7], 31, dt)],
      build: (net, [x], dt) => {
        const y = conv1x1(net, x!, 8, 12, 32, dt, 'conv');
        const [values, idx] = net.addLayer('topk', [y], { op: 'max', k: 3, axis: 1 }, 'best');
        net.markOutput(values!, 'values');
        net.markOutput(idx!, 'indices');
      },
    });
    await expectMatchesReference({
      name: 'topk ints',
      dtypes: ['float32'],
      inputs: () => [ints(Array.from({ length: 70 }, (_, i) => ((i * 37) % 23) - 11), [7, 10], 'int32')],
      build: (net, [x]) => {
        for (const op of ['max', 'min'] as const) {
          const [values, idx] = net.addLayer('topk', [x!], { op, k: 4, axis: 0 }, op);
          net.markOutput(values!, `${op}_values`);
          net.markOutput(idx!, `${op}_indices`);
        }
      },
    });
  });
});

describe('cumulative', () => {
  const variants = [
    { exclusive: false, reverse: false }, { exclusive: true, reverse: false },
    { exclusive: false, reverse: true }, { exclusive: true, reverse: true },
  ];

  it('inclusive / exclusive, forward / reverse, along the last axis (block scan) and middle axes (lines)', async () => {
    await expectMatchesReference({
      name: 'cumulative',
      tolerance: { float32: 1e-6 },
      inputs: (dt) => [randn([3, 7, 5], 33, dt), randn([2, 10001], 34, dt)],
      build: (net, [x, long]) => {
        variants.forEach((v, i) => {
          for (const axis of [0, 1, 2]) net.markOutput(layer(net, 'cumulative', [x!], { axis, op: 'sum', ...v }, `c${i}_${axis}`), `c${i}_${axis}`);
          net.markOutput(layer(net, 'cumulative', [long!], { axis: 1, op: 'sum', ...v }, `long${i}`), `long${i}`);
        });
      },
    });
  });

  it('on a channels-last convolution output along the channels', async () => {
    await expectMatchesReference({
      name: 'cumulative nhwc',
      tolerance: { float32: 1e-6 },
      inputs: (dt) => [randn([2, 8, 3, 5], 35, dt)],
      build: (net, [x], dt) => {
        const y = conv1x1(net, x!, 8, 8, 36, dt, 'conv');
        net.markOutput(layer(net, 'cumulative', [y], { axis: 1, op: 'sum', exclusive: false, reverse: true }, 'cum'), 'y');
      },
    });
  });

  it('integer data exactly (int64 as PyTorch cumsum produces, int32 wrapping, int8), once', async () => {
    await expectMatchesReference({
      name: 'cumulative ints',
      dtypes: ['float32'],
      inputs: () => [
        ints(Array.from({ length: 600 }, (_, i) => ((i * 7919) % 2001) - 1000), [3, 200]),
        ints(Array.from({ length: 40 }, (_, i) => 2 ** 30 - i), [4, 10], 'int32'),
        ints(Array.from({ length: 24 }, (_, i) => i * 11 - 100), [2, 3, 4], 'int8'),
      ],
      build: (net, [a, b, c]) => {
        variants.forEach((v, i) => {
          net.markOutput(layer(net, 'cumulative', [a!], { axis: 1, op: 'sum', ...v }, `a${i}`), `a${i}`);
          net.markOutput(layer(net, 'cumulative', [a!], { axis: 0, op: 'sum', ...v }, `a0${i}`), `a0${i}`);
        });
        net.markOutput(layer(net, 'cumulative', [b!], { axis: 1, op: 'sum', exclusive: false, reverse: false }, 'b'), 'b');
        net.markOutput(layer(net, 'cumulative', [c!], { axis: 1, op: 'sum', exclusive: true, reverse: false }, 'c'), 'c');
      },
    });
  });
});
