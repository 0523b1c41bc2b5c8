import { describe, expect, it } from 'vitest';
import '../src/acc_ops/ops/index.js';
import { roundTo } from '../src/tensor/dtype.js';
import { Tensor } from '../src/tensor/tensor.js';
import { check as run } from './acc_helpers.js';


const randn = (shape: number[], seed: number, mean = 0): Tensor => Tensor.randn(shape, { seed, mean });

function expectClose(actual: Tensor, expected: ArrayLike<number>, tol = 1e-5): void {
  const a = actual.toFloat64();
  expect(a.length).toBe(expected.length);
  for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - expected[i]!)).toBeLessThanOrEqual(tol * (1 + Math.abs(expected[i]!)));
}

/**
 * Normalizes contiguous blocks of `block` elements of `x` by their own biased statistics, then
 * applies `affine(i)` = [scale, shift] per element index.
 */
function naiveBlocks(x: Float64Array, block: number, eps: number, affine: (i: number) => [number, number]): Float64Array {
  const out = new Float64Array(x.length);
  for (let s = 0; s < x.length; s += block) {
    const seg = x.subarray(s, s + block);
    const mean = seg.reduce((a, b) => a + b, 0) / block;
    const vari = seg.reduce((a, b) => a + (b - mean) ** 2, 0) / block;
    for (let j = 0; j < block; j++) {
      const [w, b] = affine(s + j);
      out[s + j] = ((seg[j]! - mean) / Math.sqrt(vari + eps)) * w + b;
    }
  }
  return out;
}

describe('acc.batch_norm', () => {
  it('computes a hand-checked case with running statistics', () => {
    const input = Tensor.fromArray([[[1, 3], [10, 20]]]);
    const out = run('batch_norm', {
      input, running_mean: Tensor.fromArray([2, 10]), running_var: Tensor.fromArray([4, 100]),
      weight: Tensor.fromArray([1, 2]), bias: Tensor.fromArray([0, 1]), eps: 0,
    });
    expect(out.toArray()).toEqual([[[-0.5, 0.5], [1, 3]]]);
  });

  it('matches the definition for ranks 2 to 5, with and without affine params', () => {
    for (const shape of [[4, 3], [2, 3, 5], [2, 3, 4, 5], [1, 3, 2, 3, 4]]) {
      const x = randn(shape, 1);
      const mean = randn([3], 2);
      const vari = Tensor.rand([3], { seed: 3, low: 0.5, high: 2 });
      const w = randn([3], 4);
      const b = randn([3], 5);
      const inner = shape.slice(2).reduce((a, c) => a * c, 1);
      const ref = (withAffine: boolean) => x.toFloat64().map((v, i) => {
        const c = Math.floor(i / inner) % 3;
        const y = (v - mean.toFloat64()[c]!) / Math.sqrt(vari.toFloat64()[c]! + 1e-5);
        return withAffine ? y * w.toFloat64()[c]! + b.toFloat64()[c]! : y;
      });
      expectClose(run('batch_norm', { input: x, running_mean: mean, running_var: vari, weight: w, bias: b }), ref(true));
      expectClose(run('batch_norm', { input: x, running_mean: mean, running_var: vari }), ref(false));
    }
  });

  it('rejects a rank-1 input and parameters of the wrong size', () => {
    const stats = { running_mean: randn([3], 1), running_var: Tensor.ones([3]) };
    expect(() => run('batch_norm', { input: randn([3], 1), ...stats })).toThrow(/acc.batch_norm: argument 'input' must have at least 2 dims/);
    expect(() => run('batch_norm', { input: randn([2, 4], 1), ...stats }))
      .toThrow(/acc.batch_norm: argument 'running_mean' must have shape \[4\] \(one value per channel of input dim 1\), got \[3\]/);
    expect(() => run('batch_norm', { input: randn([2, 3], 1), ...stats, weight: randn([2], 2) })).toThrow(/argument 'weight' must have shape \[3\]/);
  });
});

describe('acc.layer_norm', () => {
  it('normalizes over the trailing dims with biased variance', () => {
    const out = run('layer_norm', { input: Tensor.fromArray([[1, 3], [2, 6]]), normalized_shape: [2], eps: 0 });
    expect(out.toArray()).toEqual([[-1, 1], [-1, 1]]);
  });

  it('matches the definition for one and two normalized dims, with and without affine params', () => {
    const x = randn([2, 3, 4, 5], 1, 3);
    const w = randn([4, 5], 2);
    const b = randn([4, 5], 3);
    const xv = x.toFloat64();
    expectClose(run('layer_norm', { input: x, normalized_shape: [4, 5] }), naiveBlocks(xv, 20, 1e-5, () => [1, 0]));
    expectClose(run('layer_norm', { input: x, normalized_shape: [4, 5], weight: w, bias: b }),
      naiveBlocks(xv, 20, 1e-5, (i) => [w.toFloat64()[i % 20]!, b.toFloat64()[i % 20]!]));
    const w1 = randn([5], 4);
    expectClose(run('layer_norm', { input: x, normalized_shape: [5], weight: w1, eps: 0.1 }),
      naiveBlocks(xv, 5, 0.1, (i) => [w1.toFloat64()[i % 5]!, 0]));
  });

  it('computes float16 input with float32 params and rounds the output to float16', () => {
    const x = randn([3, 8], 5, 100).castTo('float16');
    const w = randn([8], 6);
    const out = run('layer_norm', { input: x, normalized_shape: [8], weight: w });
    expect(out.dtype).toBe('float16');
    const ref = naiveBlocks(x.toFloat64(), 8, 1e-5, (i) => [w.toFloat64()[i % 8]!, 0]).map((v) => roundTo('float16', v));
    expectClose(out, ref, 2e-3);
  });

  it('rejects a normalized_shape that the input does not end with, and mis-shaped params', () => {
    const x = randn([2, 3, 4], 1);
    expect(() => run('layer_norm', { input: x, normalized_shape: [3] }))
      .toThrow(/acc.layer_norm: input of shape \[2, 3, 4\] does not end with normalized_shape \[3\]/);
    expect(() => run('layer_norm', { input: x, normalized_shape: [] })).toThrow(/'normalized_shape' must have at least 1 dim/);
    expect(() => run('layer_norm', { input: x, normalized_shape: [3, 4], weight: randn([12], 2) }))
      .toThrow(/argument 'weight' must have shape normalized_shape \[3, 4\], got \[12\]/);
  });
});

describe('acc.group_norm', () => {
  it('matches the definition with and without affine params', () => {
    const x = randn([2, 6, 3, 4], 1, 2);
    const w = randn([6], 2);
    const b = randn([6], 3);
    const xv = x.toFloat64();
    expectClose(run('group_norm', { input: x, num_groups: 3 }), naiveBlocks(xv, 24, 1e-5, () => [1, 0]));
    const channel = (i: number) => Math.floor(i / 12) % 6;
    expectClose(run('group_norm', { input: x, num_groups: 2, weight: w, bias: b }),
      naiveBlocks(xv, 36, 1e-5, (i) => [w.toFloat64()[channel(i)]!, b.toFloat64()[channel(i)]!]));
    expectClose(run('group_norm', { input: randn([3, 4], 4), num_groups: 2 }), naiveBlocks(randn([3, 4], 4).toFloat64(), 2, 1e-5, () => [1, 0]));
  });

  it('rejects num_groups that does not divide the channels and single-value groups', () => {
    expect(() => run('group_norm', { input: randn([2, 6, 4], 1), num_groups: 4 }))
      .toThrow(/acc.group_norm: num_groups must be a positive divisor of the 6 channels of input \[2, 6, 4\], got 4/);
    expect(() => run('group_norm', { input: randn([1, 4], 1), num_groups: 4 })).toThrow(/expected more than 1 value per group/);
    expect(() => run('group_norm', { input: randn([2, 6], 1), num_groups: 3, bias: randn([3], 2) })).toThrow(/argument 'bias' must have shape \[6\]/);
  });
});

describe('acc.instance_norm', () => {
  it('normalizes each (sample, channel) plane, with and without affine params', () => {
    const x = randn([2, 3, 4, 5], 1, -1);
    const w = randn([3], 2);
    const b = randn([3], 3);
    const xv = x.toFloat64();
    expectClose(run('instance_norm', { input: x }), naiveBlocks(xv, 20, 1e-5, () => [1, 0]));
    const channel = (i: number) => Math.floor(i / 20) % 3;
    expectClose(run('instance_norm', { input: x, weight: w, bias: b, eps: 1e-3 }),
      naiveBlocks(xv, 20, 1e-3, (i) => [w.toFloat64()[channel(i)]!, b.toFloat64()[channel(i)]!]));
  });

  it('keeps bfloat16 inputs in bfloat16', () => {
    const x = randn([1, 2, 6], 4).castTo('bfloat16');
    const out = run('instance_norm', { input: x });
    expect(out.dtype).toBe('bfloat16');
    expectClose(out, naiveBlocks(x.toFloat64(), 6, 1e-5, () => [1, 0]).map((v) => roundTo('bfloat16', v)), 1e-2);
  });

  it('rejects inputs with a single spatial element per channel', () => {
    expect(() => run('instance_norm', { input: randn([2, 3, 1, 1], 1) }))
      .toThrow(/acc.instance_norm: expected more than 1 spatial element per channel, got input \[2, 3, 1, 1\]/);
    expect(() => run('instance_norm', { input: randn([2, 3, 4], 1).castTo('int8') })).toThrow(/'input' must be a floating tensor/);
  });
});
