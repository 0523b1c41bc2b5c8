import { describe, expect, it } from 'vitest';
import '../src/acc_ops/ops/index.js';
import { getAccOp, hasAccOp } from '../src/acc_ops/registry.js';
import { seedDropout } from '../src/kernels/reference/activation.js';
import { Tensor } from '../src/tensor/tensor.js';

import { check, expectClose, infer, run, t } from './acc_helpers.js';


describe('catalogue', () => {
  it('defines every activation op of docs/ACC_OPS.md with its arguments', () => {
    const params: Record<string, [string, unknown][]> = {
      relu: [['input', undefined]], sigmoid: [['input', undefined]], tanh: [['input', undefined]], silu: [['input', undefined]],
      selu: [['input', undefined]], softsign: [['input', undefined]], hardsigmoid: [['input', undefined]],
      leaky_relu: [['input', undefined], ['negative_slope', 0.01]],
      elu: [['input', undefined], ['alpha', 1]],
      gelu: [['input', undefined], ['approximate', 'none']],
      softplus: [['input', undefined], ['beta', 1], ['threshold', 20]],
      hardtanh: [['input', undefined], ['min_val', -1], ['max_val', 1]],
      prelu: [['input', undefined], ['weight', undefined]],
      dropout: [['input', undefined], ['p', 0.5], ['training', false]],
    };
    for (const [name, expected] of Object.entries(params)) {
      expect(hasAccOp(name), name).toBe(true);
      const op = getAccOp(name);
      expect(op.signature.params.map((p) => [p.name, p.default]), name).toEqual(expected);
      expect(op.hasProperty('pointwise'), name).toBe(true);
      expect(op.hasProperty('unary'), name).toBe(name !== 'prelu');
    }
  });
});

describe('parameterless activations', () => {
  it('relu zeroes negatives, keeps NaN and integer dtypes', () => {
    expectClose(check('relu', { input: t([-1, 0, 2, NaN]) }), [0, 0, 2, NaN]);
    const r = check('relu', { input: t([-7, 7, 5], 'int32') });
    expect(r.dtype).toBe('int32');
    expect(r.toArray()).toEqual([0, 7, 5]);
    expect(() => run('relu', { input: t([true]) })).toThrow(/acc\.relu: bool inputs are not supported, got bool\[1\]/);
    const big = 2n ** 53n + 1n;
    expect(check('relu', { input: Tensor.fromArray([big, -big]) }).data).toEqual(BigInt64Array.of(big, 0n));
  });

  it('sigmoid and tanh', () => {
    expectClose(check('sigmoid', { input: t([0, 2, -2]) }), [0.5, 1 / (1 + Math.exp(-2)), 1 / (1 + Math.exp(2))]);
    expectClose(check('tanh', { input: t([0, 1]) }), [0, Math.tanh(1)]);
    // Large inputs saturate instead of overflowing.
    expectClose(check('sigmoid', { input: t([-1000, 1000]) }), [0, 1]);
  });

  it('sigmoid, tanh and softsign promote integers to float32', () => {
    for (const name of ['sigmoid', 'tanh', 'softsign']) expect(check(name, { input: t([1], 'int64') }).dtype, name).toBe('float32');
    expect(check('sigmoid', { input: t([true]) }).dtype).toBe('float32');
    expectClose(check('softsign', { input: t([-7, 7, 5], 'int32') }), [-0.875, 0.875, 5 / 6]);
    expect(() => run('softsign', { input: t([true]) })).toThrow(/acc\.softsign: bool/);
  });

  it('silu, selu, softsign', () => {
    expectClose(check('silu', { input: t([1, 0, -1]) }), [0.7310585786300049, 0, -0.2689414213699951]);
    expectClose(check('selu', { input: t([-1, 0, 1]) }), [-1.1113307378125625, 0, 1.0507009873554805]);
    expectClose(check('softsign', { input: t([3, -1]) }), [0.75, -0.5]);
  });

  it('hardsigmoid is relu6(x + 3) / 6', () => {
    expectClose(check('hardsigmoid', { input: t([-4, -3, 0, 1.5, 3, 4]) }), [0, 0, 0.5, 0.75, 1, 1]);
  });

  it('float-only activations reject integer inputs', () => {
    for (const name of ['silu', 'selu', 'hardsigmoid', 'leaky_relu', 'elu', 'gelu', 'softplus']) {
      expect(() => run(name, { input: t([1], 'int32') }), name)
        .toThrow(new RegExp(`acc\\.${name}: expected a floating-point input .*got int32\\[1\\]`));
      expect(() => infer(name, { input: t([1], 'int32') }), name).toThrow(new RegExp(`acc\\.${name}`));
    }
  });
});

describe('activations with parameters', () => {
  it('leaky_relu with the default and a custom slope', () => {
    expectClose(check('leaky_relu', { input: t([-2, 3]) }), [-0.02, 3]);
    expectClose(check('leaky_relu', { input: t([-2, 3]), negative_slope: 0.2 }), [-0.4, 3]);
  });

  it('elu', () => {
    expectClose(check('elu', { input: t([-1, 2]) }), [Math.expm1(-1), 2]);
    expectClose(check('elu', { input: t([-1, 2]), alpha: 2 }), [2 * Math.expm1(-1), 2]);
  });

  it('gelu exact and with the tanh approximation', () => {
    expectClose(check('gelu', { input: t([1, -1, 0]) }), [0.8413447460685429, -0.15865525393145707, 0]);
    expectClose(check('gelu', { input: t([1, -1, 0]), approximate: 'tanh' }), [0.8411919906082768, -0.15880800939172324, 0]);
    expect(() => run('gelu', { input: t([1]), approximate: 'fast' })).toThrow(/approximate.*none, tanh/);
  });

  it('softplus switches to the identity above the threshold', () => {
    expectClose(check('softplus', { input: t([0, 25]) }), [Math.LN2, 25]);
    expectClose(check('softplus', { input: t([1, 11]), beta: 2 }), [1.0634640055214863, 11]);
    // Without the threshold log1p(exp(100)) would still be finite, but exp(1000) overflows.
    expectClose(check('softplus', { input: t([1000]) }), [1000]);
    expectClose(check('softplus', { input: t([5]), threshold: 4 }), [5]);
  });

  it('hardtanh clamps; integer inputs take truncated bounds and keep their dtype', () => {
    expectClose(check('hardtanh', { input: t([-2, 0.5, 2, NaN]) }), [-1, 0.5, 1, NaN]);
    expectClose(check('hardtanh', { input: t([-2, 3, 7]), min_val: 0, max_val: 6 }), [0, 3, 6]);
    const r = check('hardtanh', { input: t([-7, 7, 5], 'int32'), min_val: -2.5, max_val: 2.5 });
    expect(r.dtype).toBe('int32');
    expect(r.toArray()).toEqual([-2, 2, 2]);
    const big = 2n ** 53n + 1n;
    expect(check('hardtanh', { input: Tensor.fromArray([big, -big, 3n]), min_val: -(2 ** 53), max_val: 2 ** 60 }).data)
      .toEqual(BigInt64Array.of(big, -(2n ** 53n), 3n));
    expect(() => run('hardtanh', { input: t([1], 'uint8') })).toThrow(/acc\.hardtanh: cannot clamp an unsigned uint8 input to negative limits/);
    expect(() => run('hardtanh', { input: t([true]) })).toThrow(/acc\.hardtanh: bool/);
  });
});

describe('prelu', () => {
  const x = t([[[-1, 2], [-3, 4]], [[5, -6], [-7, -8]]]); // [N=2, C=2, L=2]

  it('applies one weight per channel (dim 1)', () => {
    const r = check('prelu', { input: x, weight: t([0.1, 0.5]) });
    expectClose(r, [-0.1, 2, -1.5, 4, 5, -0.6, -3.5, -4]);
  });

  it('applies a single weight everywhere, also to 1-D and 0-dim inputs', () => {
    expectClose(check('prelu', { input: x, weight: t([0.25]) }), [-0.25, 2, -0.75, 4, 5, -1.5, -1.75, -2]);
    expectClose(check('prelu', { input: t([-4, 4]), weight: t([0.5]) }), [-2, 4]);
    expectClose(check('prelu', { input: Tensor.full([], -4), weight: Tensor.full([], 0.5) }), [-2]);
  });

  it('rejects a weight that matches neither one nor the channel count, a 2-D weight, or another dtype', () => {
    expect(() => run('prelu', { input: x, weight: t([0.1, 0.2, 0.3]) }))
      .toThrow(/acc\.prelu: weight has 3 elements but the input \[2, 2, 2\] has 2 channels \(dim 1\); expected 1 or 2/);
    expect(() => infer('prelu', { input: x, weight: t([0.1, 0.2, 0.3]) })).toThrow(/acc\.prelu/);
    expect(() => run('prelu', { input: x, weight: t([[0.1, 0.2]]) })).toThrow(/acc\.prelu: weight must be a scalar or 1-D tensor, got shape \[1, 2\]/);
    expect(() => run('prelu', { input: x, weight: t([0.1, 0.2], 'float16') })).toThrow(/acc\.prelu: weight must have the input's dtype float32/);
    expect(() => run('prelu', { input: t([-1, 1]), weight: t([0.1, 0.2]) })).toThrow(/has 1 channels/);
  });
});

describe('dropout', () => {
  const x = Tensor.full([10000], 3);

  it('is the identity when not training or p = 0', () => {
    expect(run('dropout', { input: x })).toBe(x);
    expect(run('dropout', { input: x, p: 0, training: true })).toBe(x);
    expect(run('dropout', { input: t([1, 2], 'int32'), p: 0.5 }).toArray()).toEqual([1, 2]);
  });

  it('zeroes elements with probability p and scales the rest by 1 / (1 - p)', () => {
    seedDropout(7);
    const r = check('dropout', { input: x, p: 0.25, training: true });
    const v = r.toFloat64();
    let kept = 0;
    for (const e of v) {
      expect(e === 0 || e === 4).toBe(true);
      if (e !== 0) kept++;
    }
    // Binomial(10000, 0.75): the standard deviation is about 43.
    expect(Math.abs(kept - 7500)).toBeLessThan(250);
  });

  it('draws reproducible masks from the seeded generator', () => {
    seedDropout(123);
    const a = run('dropout', { input: x, training: true }).toFloat64();
    const b = run('dropout', { input: x, training: true }).toFloat64();
    seedDropout(123);
    const c = run('dropout', { input: x, training: true }).toFloat64();
    expect(c).toEqual(a);
    expect(b).not.toEqual(a);
  });

  it('with p = 1 multiplies by zero, so NaN stays NaN as in PyTorch', () => {
    expectClose(check('dropout', { input: t([NaN, 1, -2]), p: 1, training: true }), [NaN, 0, 0]);
  });

  it('keeps half precision', () => {
    seedDropout(1);
    const r = check('dropout', { input: Tensor.full([64], 1.5, 'float16'), p: 0.5, training: true });
    expect(r.dtype).toBe('float16');
    for (const e of r.toFloat64()) expect(e === 0 || e === 3).toBe(true);
  });

  it('rejects p outside [0, 1] and integer inputs in training', () => {
    expect(() => run('dropout', { input: x, p: 1.5 })).toThrow(/acc\.dropout: probability p must be between 0 and 1, got 1.5/);
    expect(() => infer('dropout', { input: x, p: -0.1 })).toThrow(/acc\.dropout/);
    expect(() => run('dropout', { input: t([1], 'int32'), p: 0.5, training: true })).toThrow(/acc\.dropout: expected a floating-point input/);
  });
});

describe('half precision', () => {
  it('computes in float and rounds to the input dtype', () => {
    const h = check('gelu', { input: t([1], 'float16') });
    expect(h.dtype).toBe('float16');
    // gelu(1) = 0.84134...; float16 neighbours are 0.8408203125 and 0.84130859375.
    expect(h.toArray()).toEqual([0.84130859375]);
    // Far in the tail 1 + erf(x / √2) is exactly 0 in float32, so PyTorch gives -0 (not a tiny negative).
    expect(check('gelu', { input: t([-6, -3.5, 1], 'bfloat16') }).toArray()).toEqual([-0, -0.000812530517578125, 0.83984375]);
    expect(check('gelu', { input: t([-7]) }).toArray()).toEqual([-0]);
    const b = check('sigmoid', { input: t([1], 'bfloat16') });
    expect(b.dtype).toBe('bfloat16');
    // sigmoid(1) = 0.7310586; bfloat16 spacing near it is 2^-8.
    expect(b.toArray()).toEqual([0.73046875]);
  });
});
