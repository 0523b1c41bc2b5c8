import { describe, expect, it } from 'vitest';
import '../src/acc_ops/ops/index.js';
import { getAccOp, hasAccOp } from '../src/acc_ops/registry.js';
import { normalizeDims, planReduction, reduceValues } from '../src/kernels/reference/broadcast.js';
import { Tensor } from '../src/tensor/tensor.js';

const invoke = (name: string, kw: Kwargs): unknown => getAccOp(name).invoke([], kw);

import type { Kwargs } from '../src/ir/signature.js';
import { check, expectClose, infer, run, t } from './acc_helpers.js';


/** Runs topk, checks infer() against it, returns (values, indices). */
const topk = (kw: Kwargs): [Tensor, Tensor] => {
  const r = invoke('topk', kw);
  if (!Array.isArray(r) || r.length !== 2 || !r.every((v) => v instanceof Tensor)) throw new TypeError('topk must return two tensors');
  const out: [Tensor, Tensor] = [r[0], r[1]];
  expect(infer('topk', kw)).toEqual(out.map((v) => ({ shape: v.shape, dtype: v.dtype })));
  return out;
};

// [2, 3, 4] holding 0..23
const x3 = Tensor.arange(0, 24, 1, 'float32').withShape([2, 3, 4]);

describe('catalogue', () => {
  it('defines every reduce op of docs/ACC_OPS.md with its arguments', () => {
    const reduce: [string, unknown][] = [['input', undefined], ['dim', null], ['keepdim', false], ['dtype', null]];
    const params: Record<string, [string, unknown][]> = {
      sum: reduce, mean: reduce, prod: reduce,
      amax: reduce.slice(0, 3), amin: reduce.slice(0, 3), argmax: reduce.slice(0, 3), argmin: reduce.slice(0, 3),
      softmax: [['input', undefined], ['dim', undefined]], log_softmax: [['input', undefined], ['dim', undefined]],
      cumsum: [['input', undefined], ['dim', undefined]],
      topk: [['input', undefined], ['k', undefined], ['dim', -1], ['largest', true], ['sorted', true]],
    };
    for (const [name, expected] of Object.entries(params)) {
      expect(hasAccOp(name), name).toBe(true);
      expect(getAccOp(name).signature.params.map((p) => [p.name, p.default]), name).toEqual(expected);
    }
    for (const name of ['sum', 'mean', 'prod', 'amax', 'amin', 'argmax', 'argmin']) expect(getAccOp(name).hasProperty('reduction'), name).toBe(true);
  });
});

describe('reduction plan', () => {
  it('normalizes negative dims, treats null and [] as every dim and rejects repeats', () => {
    expect(normalizeDims('op', [-1, 0], 3)).toEqual([0, 2]);
    expect(normalizeDims('op', null, 2)).toEqual([0, 1]);
    expect(normalizeDims('op', [], 2)).toEqual([0, 1]);
    expect(normalizeDims('op', -1, 0)).toEqual([]);
    expect(() => normalizeDims('op', [1, -1], 2)).toThrow(/op: dim 1 appears multiple times/);
    expect(() => normalizeDims('op', 3, 3)).toThrow(/op: dim 3 is out of range for a tensor of rank 3 \(expected -3\.\.2\)/);
  });

  it('walks non-adjacent reduced dims as outer / reduced / inner', () => {
    const plan = planReduction([2, 3, 4, 5], [1, 3], false);
    expect(plan.outShape).toEqual([2, 4]);
    expect(plan.inner).toBe(1);
    expect(Array.from(plan.outer)).toEqual([0, 5, 10, 15, 60, 65, 70, 75]);
    expect(plan.reduced.length).toBe(15);
    const x = new Float64Array(120).map((_, i) => i);
    const sums = reduceValues(plan, x, 0, (a, v) => a + v);
    // out[0][0] = Σ over j < 3, l < 5 of x[0, j, 0, l] = Σ (20 j + l)
    expect(sums[0]).toBe(3 * 10 + 5 * 60);
  });
});

describe('sum', () => {
  it('over everything, one dim, a negative dim and a dim list', () => {
    expect(check('sum', { input: x3 }).toArray()).toBe(276);
    expect(check('sum', { input: x3, dim: 1 }).toArray()).toEqual([[12, 15, 18, 21], [48, 51, 54, 57]]);
    expect(check('sum', { input: x3, dim: -1 }).toArray()).toEqual([[6, 22, 38], [54, 70, 86]]);
    expect(check('sum', { input: x3, dim: [0, 2] }).toArray()).toEqual([60, 92, 124]);
    expect(check('sum', { input: x3, dim: [] }).toArray()).toBe(276);
  });

  it('keepdim keeps reduced dims as size 1', () => {
    const r = check('sum', { input: x3, dim: [0, -1], keepdim: true });
    expect(r.shape).toEqual([1, 3, 1]);
    expect(r.toArray()).toEqual([[[60], [92], [124]]]);
    expect(check('sum', { input: x3, keepdim: true }).shape).toEqual([1, 1, 1]);
  });

  it('sums bool and integers into int64 and honours dtype', () => {
    const b = check('sum', { input: t([true, true, false]) });
    expect(b.dtype).toBe('int64');
    expect(b.toArray()).toBe(2);
    expect(check('sum', { input: t([100, 100], 'int8') }).toArray()).toBe(200);
    const d = check('sum', { input: t([1.7, 2.9, -1.9]), dtype: 'int32' });
    expect(d.dtype).toBe('int32');
    expect(d.toArray()).toBe(2); // each element is cast first: 1 + 2 - 1
  });

  it('rounds a float16 sum to float16 and accumulates float32 without drift', () => {
    const h = check('sum', { input: Tensor.full([3], 0.1, 'float16') });
    expect(h.dtype).toBe('float16');
    // 3 × 0.0999755859375 = 0.2999267578125 lies halfway between float16 neighbours: ties to even.
    expect(h.toArray()).toBe(0.2998046875);
    const n = 1 << 20;
    const r = check('sum', { input: Tensor.full([n], 0.1) });
    expect(r.toArray()).toBe(Math.fround(n * Math.fround(0.1)));
  });

  it('sums an empty dim to 0 and handles 0-dim inputs', () => {
    expect(check('sum', { input: Tensor.zeros([2, 0]), dim: 1 }).toArray()).toEqual([0, 0]);
    expect(check('sum', { input: Tensor.full([], 5), dim: 0 }).toArray()).toBe(5);
    expect(check('sum', { input: Tensor.full([], 5), dim: -1, keepdim: true }).shape).toEqual([]);
  });

  it('rejects out-of-range and repeated dims and bad dtypes, naming the op', () => {
    expect(() => run('sum', { input: x3, dim: 3 })).toThrow(/acc\.sum: dim 3 is out of range/);
    expect(() => infer('sum', { input: x3, dim: -4 })).toThrow(/acc\.sum: dim -4 is out of range/);
    expect(() => run('sum', { input: x3, dim: [1, 1] })).toThrow(/acc\.sum: dim 1 appears multiple times/);
    expect(() => run('sum', { input: x3, dtype: 'double' })).toThrow(/acc\.sum: argument 'dtype' must be a dtype name or null, got 'double'/);
    expect(() => run('sum', { input: x3, dim: 0.5 })).toThrow(/argument 'dim' expects int\|int\[\]\?/);
  });
});

describe('mean and prod', () => {
  it('mean of floats over dims', () => {
    expect(check('mean', { input: x3 }).toArray()).toBe(11.5);
    expect(check('mean', { input: x3, dim: [1, 2], keepdim: true }).toArray()).toEqual([[[5.5]], [[17.5]]]);
    expectClose(check('mean', { input: Tensor.zeros([0]) }), [NaN]);
  });

  it('mean of integers needs a floating dtype, as in PyTorch', () => {
    const i = t([1, 2, 4], 'int32');
    expect(() => run('mean', { input: i })).toThrow(/acc\.mean: could not infer the output dtype: the input dtype must be floating point \(pass dtype to average integers\), got int32\[3\]/);
    expect(() => infer('mean', { input: i })).toThrow(/acc\.mean/);
    expect(() => run('mean', { input: i, dtype: 'int64' })).toThrow(/acc\.mean: .*the dtype argument must be floating point, got int64/);
    const r = check('mean', { input: i, dtype: 'float32' });
    expect(r.dtype).toBe('float32');
    expectClose(r, [7 / 3]);
  });

  it('prod multiplies into int64 for integers and is 1 over an empty dim', () => {
    const r = check('prod', { input: t([[1, 2, 3], [4, 5, 6]], 'int8'), dim: 1 });
    expect(r.dtype).toBe('int64');
    expect(r.toArray()).toEqual([6, 120]);
    expect(check('prod', { input: Tensor.zeros([0]) }).toArray()).toBe(1);
    expect(check('prod', { input: t([0.5, 4, -1]), dtype: 'float16' }).toArray()).toBe(-2);
  });
});

describe('amax and amin', () => {
  it('reduce over dims with keepdim', () => {
    expect(check('amax', { input: x3, dim: [0, 1] }).toArray()).toEqual([20, 21, 22, 23]);
    expect(check('amin', { input: x3, dim: -1, keepdim: true }).toArray()).toEqual([[[0], [4], [8]], [[12], [16], [20]]]);
  });

  it('propagate NaN', () => {
    const x = t([[1, NaN, 3], [4, 5, 6]]);
    expectClose(check('amax', { input: x, dim: 1 }), [NaN, 6]);
    expectClose(check('amin', { input: x, dim: 1 }), [NaN, 4]);
    expectClose(check('amax', { input: t([NaN, 1]) }), [NaN]);
  });

  it('keep the input dtype, bool included', () => {
    const r = check('amax', { input: t([3, -9, 7], 'int8') });
    expect(r.dtype).toBe('int8');
    expect(r.toArray()).toBe(7);
    expect(check('amax', { input: t([false, true]) }).toArray()).toBe(true);
  });

  it('reject an empty reduction', () => {
    expect(() => run('amax', { input: Tensor.zeros([2, 0]), dim: 1 })).toThrow(/acc\.amax: expected reduction dim 1 to have non-zero size, got input shape \[2, 0\]/);
    expect(() => infer('amin', { input: Tensor.zeros([0]) })).toThrow(/acc\.amin: expected reduction dim 0/);
    expect(check('amax', { input: Tensor.zeros([0, 2]), dim: 1 }).shape).toEqual([0]);
  });
});

describe('argmax and argmin', () => {
  it('return int64 indices along a dim, first index on ties', () => {
    const x = t([[1, 3, 3], [2, 2, 0]]);
    const r = check('argmax', { input: x, dim: 1 });
    expect(r.dtype).toBe('int64');
    expect(r.toArray()).toEqual([1, 0]);
    expect(check('argmin', { input: x, dim: -1 }).toArray()).toEqual([0, 2]);
    expect(check('argmax', { input: x, dim: 0, keepdim: true }).toArray()).toEqual([[1, 0, 0]]);
  });

  it('pick the first NaN, as PyTorch', () => {
    const x = t([1, NaN, 5, NaN]);
    expect(check('argmax', { input: x }).toArray()).toBe(1);
    expect(check('argmin', { input: x }).toArray()).toBe(1);
    expect(check('argmax', { input: t([NaN, 5]) }).toArray()).toBe(0);
  });

  it('flatten without a dim; keepdim then keeps every dim as size 1', () => {
    expect(check('argmax', { input: x3 }).toArray()).toBe(23);
    expect(check('argmin', { input: x3, keepdim: true }).shape).toEqual([1, 1, 1]);
    expect(check('argmax', { input: Tensor.full([], 2), dim: 0 }).toArray()).toBe(0);
  });

  it('reject bool and empty inputs', () => {
    expect(() => run('argmax', { input: t([true, false]) })).toThrow(/acc\.argmax: bool inputs are not supported, got bool\[2\]/);
    expect(() => run('argmin', { input: Tensor.zeros([0]) })).toThrow(/acc\.argmin: an empty input \(shape \[0\]\) needs a reduction dim/);
    expect(() => run('argmax', { input: Tensor.zeros([2, 0]), dim: 1 })).toThrow(/acc\.argmax: expected reduction dim 1 to have non-zero size/);
    expect(() => infer('argmax', { input: x3, dim: 3 })).toThrow(/acc\.argmax: dim 3 is out of range/);
  });
});

describe('softmax and log_softmax', () => {
  it('are stable for large inputs', () => {
    expectClose(check('softmax', { input: t([1000, 1001, 1002]), dim: 0 }), [0.09003057317038046, 0.24472847105479764, 0.6652409557748219]);
    expectClose(check('log_softmax', { input: t([1000, 1001, 1002]), dim: -1 }), [-2.4076059644443806, -1.4076059644443804, -0.4076059644443804]);
    expectClose(check('softmax', { input: t([-1000, 0]), dim: 0 }), [0, 1]);
    expectClose(check('log_softmax', { input: t([-1000, 0]), dim: 0 }), [-1000, 0]);
  });

  it('work along a leading dim', () => {
    const r = check('softmax', { input: t([[0, 1], [0, 1]]), dim: 0 });
    expectClose(r, [0.5, 0.5, 0.5, 0.5]);
    const s = check('softmax', { input: x3, dim: 1 });
    const v = s.toFloat64();
    for (let n = 0; n < 2; n++) {
      for (let l = 0; l < 4; l++) expect(v[n * 12 + l]! + v[n * 12 + 4 + l]! + v[n * 12 + 8 + l]!).toBeCloseTo(1, 6);
    }
  });

  it('give NaN for a slice holding NaN or only -inf, and 1 for a 0-dim input', () => {
    expectClose(check('softmax', { input: t([[1, NaN], [1, 2]]), dim: 1 }), [NaN, NaN, 1 / (1 + Math.E), Math.E / (1 + Math.E)]);
    expectClose(check('softmax', { input: t([-Infinity, -Infinity]), dim: 0 }), [NaN, NaN]);
    expect(check('softmax', { input: Tensor.full([], 3), dim: -1 }).toArray()).toBe(1);
  });

  it('round log_softmax\'s log-sum-exp to bf16 along the last dim, as PyTorch CPU', () => {
    // Σ = 1 + e^-10 rounds to 1 in bfloat16, so log Σ = 0.
    expect(check('log_softmax', { input: t([0, -10], 'bfloat16'), dim: -1 }).toArray()).toEqual([0, -10]);
    // Along another dim the sum stays in float32 (1.0000454), giving PyTorch's -4.5299530029296875e-05.
    expect(check('log_softmax', { input: t([[0], [-10]], 'bfloat16'), dim: 0 }).toArray()).toEqual([[-4.5299530029296875e-5], [-10]]);
  });

  it('keep half precision and reject integers', () => {
    const h = check('softmax', { input: t([0, 0, 0], 'float16'), dim: 0 });
    expect(h.dtype).toBe('float16');
    expect(h.toArray()).toEqual([0.333251953125, 0.333251953125, 0.333251953125]);
    expect(() => run('softmax', { input: t([1, 2], 'int32'), dim: 0 })).toThrow(/acc\.softmax: expected a floating-point input .*got int32\[2\]/);
    expect(() => infer('log_softmax', { input: x3, dim: 5 })).toThrow(/acc\.log_softmax: dim 5 is out of range/);
  });
});

describe('cumsum', () => {
  it('runs over a middle dim', () => {
    const r = check('cumsum', { input: x3, dim: 1 });
    expect(r.toArray()).toEqual([
      [[0, 1, 2, 3], [4, 6, 8, 10], [12, 15, 18, 21]],
      [[12, 13, 14, 15], [28, 30, 32, 34], [48, 51, 54, 57]],
    ]);
  });

  it('promotes integers and bools to int64', () => {
    const r = check('cumsum', { input: t([100, 100, -50], 'int8'), dim: 0 });
    expect(r.dtype).toBe('int64');
    expect(r.toArray()).toEqual([100, 200, 150]);
    expect(check('cumsum', { input: t([true, true, false]), dim: -1 }).toArray()).toEqual([1, 2, 2]);
    expect(() => run('cumsum', { input: x3, dim: -4 })).toThrow(/acc\.cumsum: dim -4 is out of range/);
  });
});

describe('exact int64', () => {
  const P53 = 2n ** 53n;
  const x = Tensor.fromArray([[P53, 1n, 1n], [-P53, 3n, P53 + 1n]]);
  const data = (v: Tensor): bigint[] => {
    if (!(v.data instanceof BigInt64Array)) throw new TypeError(`expected int64 storage, got ${v.dtype}`);
    return Array.from(v.data);
  };

  it('sums, multiplies and accumulates beyond 2^53', () => {
    expect(data(check('sum', { input: x, dim: 1 }))).toEqual([P53 + 2n, 4n]);
    expect(data(check('sum', { input: x }))).toEqual([P53 + 6n]);
    expect(data(check('prod', { input: Tensor.fromArray([P53 + 1n, 3n]) }))).toEqual([3n * P53 + 3n]);
    expect(data(check('cumsum', { input: x, dim: 1 }))).toEqual([P53, P53 + 1n, P53 + 2n, -P53, -P53 + 3n, 4n]);
    // int32 sums go to int64 without passing through float rounding.
    const i = Tensor.full([5], 2 ** 31 - 1, 'int32');
    expect(data(check('sum', { input: i }))).toEqual([5n * (2n ** 31n - 1n)]);
  });

  it('finds extrema, their indices and the top k exactly', () => {
    const y = Tensor.fromArray([P53, P53 + 1n, P53 - 1n]);
    expect(data(check('amax', { input: y }))).toEqual([P53 + 1n]);
    expect(data(check('amin', { input: y }))).toEqual([P53 - 1n]);
    expect(check('argmax', { input: y }).toArray()).toBe(1);
    expect(check('argmin', { input: y, dim: 0 }).toArray()).toBe(2);
    const [v, idx] = topk({ input: y, k: 2 });
    expect(data(v)).toEqual([P53 + 1n, P53]);
    expect(idx.toArray()).toEqual([1, 0]);
  });
});

describe('topk', () => {
  it('returns the largest values sorted descending with int64 indices', () => {
    const [v, i] = topk({ input: t([1, 5, 2, 4, 3]), k: 3 });
    expect(v.toArray()).toEqual([5, 4, 3]);
    expect(i.dtype).toBe('int64');
    expect(i.toArray()).toEqual([1, 3, 4]);
  });

  it('returns the smallest values sorted ascending', () => {
    const [v, i] = topk({ input: t([1, 5, 2, 4, 3]), k: 2, largest: false });
    expect(v.toArray()).toEqual([1, 2]);
    expect(i.toArray()).toEqual([0, 2]);
  });

  it('resolves ties to the lower index', () => {
    expect(topk({ input: t([1, 3, 3, 2, 3]), k: 2 })[1].toArray()).toEqual([1, 2]);
    expect(topk({ input: t([1, 3, 1, 2, 1]), k: 2, largest: false })[1].toArray()).toEqual([0, 2]);
  });

  it('works along a leading dim and keeps the dtype', () => {
    const [v, i] = topk({ input: t([[1, 9], [7, 2], [4, 8]], 'int32'), k: 2, dim: 0 });
    expect(v.dtype).toBe('int32');
    expect(v.toArray()).toEqual([[7, 9], [4, 8]]);
    expect(i.toArray()).toEqual([[1, 0], [2, 2]]);
  });

  it('orders NaN above every number', () => {
    expectClose(topk({ input: t([1, NaN, 3]), k: 2 })[0], [NaN, 3]);
    expect(topk({ input: t([1, NaN, 3]), k: 2, largest: false })[1].toArray()).toEqual([0, 2]);
  });

  it('accepts k = 0 and k = size, and rejects k out of range', () => {
    expect(topk({ input: t([1, 2]), k: 0 })[0].shape).toEqual([0]);
    expect(topk({ input: t([2, 1]), k: 2, sorted: false })[0].toArray()).toEqual([2, 1]);
    expect(() => run('topk', { input: t([1, 2]), k: 3 })).toThrow(/acc\.topk: k must be in 0\.\.2 \(the size of dim 0 of \[2\]\), got 3/);
    expect(() => infer('topk', { input: t([1, 2]), k: -1 })).toThrow(/acc\.topk: k must be in/);
    expect(() => run('topk', { input: t([true]), k: 1 })).toThrow(/acc\.topk: bool/);
  });
});
