import { describe, expect, it } from 'vitest';
import '../src/acc_ops/ops/index.js';
import { getAccOp, hasAccOp } from '../src/acc_ops/registry.js';
import { erf, roundHalfEven } from '../src/kernels/reference/elementwise.js';
import { resultType } from '../src/kernels/reference/broadcast.js';
import { f32ToF16Bits } from '../src/tensor/dtype.js';
import { Tensor } from '../src/tensor/tensor.js';

import { check, expectClose, infer, run, t } from './acc_helpers.js';


describe('catalogue', () => {
  it('defines every elementwise op of docs/ACC_OPS.md with pointwise properties', () => {
    const binary = ['add', 'sub', 'mul', 'div', 'floor_div', 'pow', 'maximum', 'minimum', 'fmod', 'remainder',
      'eq', 'ne', 'gt', 'ge', 'lt', 'le', 'logical_and', 'logical_or', 'logical_xor', 'where'];
    const unary = ['logical_not', 'abs', 'neg', 'exp', 'log', 'sqrt', 'rsqrt', 'reciprocal', 'sin', 'cos', 'tan', 'asin',
      'acos', 'atan', 'sinh', 'cosh', 'erf', 'floor', 'ceil', 'round', 'trunc', 'sign', 'isnan', 'clamp', 'to_dtype'];
    for (const name of [...binary, ...unary]) {
      expect(hasAccOp(name), name).toBe(true);
      expect(getAccOp(name).hasProperty('pointwise'), name).toBe(true);
    }
    for (const name of unary) expect(getAccOp(name).hasProperty('unary'), name).toBe(true);
    expect(getAccOp('pow').signature.params.map((p) => p.name)).toEqual(['input', 'exponent']);
    expect(getAccOp('div').signature.params.map((p) => p.name)).toEqual(['input', 'other', 'rounding_mode']);
    expect(getAccOp('where').signature.params.map((p) => p.name)).toEqual(['condition', 'input', 'other']);
    expect(getAccOp('clamp').signature.params.map((p) => [p.name, p.default])).toEqual([['input', undefined], ['min', null], ['max', null]]);
  });

  it('computes every unary op on a float32 input', () => {
    const x = t([0.25, 0.5]);
    const expected: Record<string, number[]> = {
      logical_not: [0, 0], abs: [0.25, 0.5], neg: [-0.25, -0.5], exp: [Math.exp(0.25), Math.exp(0.5)],
      log: [Math.log(0.25), Math.log(0.5)], sqrt: [0.5, Math.SQRT1_2], rsqrt: [2, Math.SQRT2], reciprocal: [4, 2],
      sin: [Math.sin(0.25), Math.sin(0.5)], cos: [Math.cos(0.25), Math.cos(0.5)], tan: [Math.tan(0.25), Math.tan(0.5)],
      asin: [Math.asin(0.25), Math.asin(0.5)], acos: [Math.acos(0.25), Math.acos(0.5)], atan: [Math.atan(0.25), Math.atan(0.5)],
      sinh: [Math.sinh(0.25), Math.sinh(0.5)], cosh: [Math.cosh(0.25), Math.cosh(0.5)], erf: [0.2763263901682369, 0.5204998778130465],
      floor: [0, 0], ceil: [1, 1], round: [0, 0], trunc: [0, 0], sign: [1, 1], isnan: [0, 0],
    };
    for (const [name, values] of Object.entries(expected)) {
      const r = check(name, { input: x });
      expect(r.dtype, name).toBe(name === 'logical_not' || name === 'isnan' ? 'bool' : 'float32');
      expectClose(r, values);
    }
  });
});

describe('broadcasting', () => {
  it('broadcasts a row against a matrix', () => {
    const r = check('add', { input: t([[1, 2, 3], [4, 5, 6]]), other: t([10, 20, 30]) });
    expect(r.toArray()).toEqual([[11, 22, 33], [14, 25, 36]]);
  });

  it('broadcasts across a rank mismatch and size-1 dims on both sides', () => {
    const a = Tensor.arange(0, 6, 1, 'float32').withShape([2, 1, 3]);
    const b = t([[100], [200], [300], [400]]); // [4, 1]
    const r = check('sub', { input: a, other: b });
    expect(r.shape).toEqual([2, 4, 3]);
    expect(r.toArray()).toEqual([
      [[-100, -99, -98], [-200, -199, -198], [-300, -299, -298], [-400, -399, -398]],
      [[-97, -96, -95], [-197, -196, -195], [-297, -296, -295], [-397, -396, -395]],
    ]);
  });

  it('broadcasts a per-channel tensor over NCHW and keeps the order of operands', () => {
    const x = Tensor.arange(1, 9, 1, 'float32').withShape([1, 2, 2, 2]);
    const r = check('div', { input: t([[[1]], [[2]]]), other: x });
    expect(r.shape).toEqual([1, 2, 2, 2]);
    expectClose(r, [1, 1 / 2, 1 / 3, 1 / 4, 2 / 5, 2 / 6, 2 / 7, 2 / 8]);
  });

  it('treats a scalar and a one-element tensor as broadcastable', () => {
    expect(check('mul', { input: t([1, 2, 3]), other: 2 }).toArray()).toEqual([2, 4, 6]);
    expect(check('mul', { input: t([1, 2, 3]), other: t([3]) }).toArray()).toEqual([3, 6, 9]);
    expect(check('add', { input: Tensor.full([], 5), other: t([1, 2]) }).toArray()).toEqual([6, 7]);
  });

  it('handles empty tensors', () => {
    const r = check('add', { input: Tensor.zeros([0, 3]), other: t([1, 2, 3]) });
    expect(r.shape).toEqual([0, 3]);
  });

  it('rejects shapes that do not broadcast, naming the op and both shapes', () => {
    const kw = { input: Tensor.zeros([2, 3]), other: Tensor.zeros([4]) };
    expect(() => run('add', kw)).toThrow(/acc\.add: shapes \[2, 3\] and \[4\] do not broadcast/);
    expect(() => infer('add', kw)).toThrow(/acc\.add/);
  });
});

describe('type promotion', () => {
  it('promotes tensor dtypes like torch.result_type', () => {
    expect(check('add', { input: t([1], 'int8'), other: t([1], 'int32') }).dtype).toBe('int32');
    expect(check('add', { input: t([1], 'float16'), other: t([1], 'float32') }).dtype).toBe('float32');
    expect(check('add', { input: t([1], 'float16'), other: t([1], 'bfloat16') }).dtype).toBe('float32');
    expect(check('add', { input: t([1], 'int64'), other: t([1], 'float16') }).dtype).toBe('float16');
    expect(check('add', { input: t([true]), other: t([2], 'uint8') }).dtype).toBe('uint8');
  });

  it('lets scalars and 0-dim tensors change only the category', () => {
    expect(check('add', { input: t([1, 2], 'int32'), other: 2.5 }).toArray()).toEqual([3.5, 4.5]);
    expect(check('add', { input: t([1, 2], 'int32'), other: 2.5 }).dtype).toBe('float32');
    expect(check('add', { input: t([1], 'int8'), other: 1000 }).dtype).toBe('int8');
    expect(check('add', { input: t([1], 'int8'), other: Tensor.full([], 3, 'int32') }).dtype).toBe('int8');
    expect(check('add', { input: t([1], 'float16'), other: Tensor.full([], 3, 'float32') }).dtype).toBe('float16');
    expect(check('add', { input: t([true, false]), other: 1 }).dtype).toBe('int64');
    expect(check('add', { input: t([true, false]), other: true }).dtype).toBe('bool');
    expect(resultType([{ shape: [2], dtype: 'int32' }, { shape: [], dtype: 'float16' }])).toBe('float16');
  });

  it('converts inputs to the common dtype before computing (int32 → float32 loses the low bit)', () => {
    // PyTorch: torch.tensor([16777217], dtype=torch.int32) + 0.5 == 16777216.
    expect(check('add', { input: t([16777217], 'int32'), other: 0.5 }).toArray()).toEqual([16777216]);
  });

  it('treats bool arithmetic as logic and rejects bool subtraction', () => {
    expect(check('add', { input: t([true, true, false]), other: t([true, false, false]) }).toArray()).toEqual([true, true, false]);
    expect(check('mul', { input: t([true, true, false]), other: t([true, false, false]) }).toArray()).toEqual([true, false, false]);
    expect(() => run('sub', { input: t([true]), other: t([false]) })).toThrow(/acc\.sub: subtraction with a bool operand/);
    expect(() => run('sub', { input: t([true]), other: 1 })).toThrow(/acc\.sub: subtraction with a bool operand/);
    expect(() => run('sub', { input: t([1], 'int32'), other: true })).toThrow(/acc\.sub: subtraction with a bool operand/);
    expect(() => infer('sub', { input: t([true]), other: t([false]) })).toThrow(/acc\.sub/);
    expect(() => run('floor_div', { input: t([true]), other: t([true]) })).toThrow(/acc\.floor_div: bool tensors are not supported/);
    expect(() => run('pow', { input: t([true]), exponent: t([true]) })).toThrow(/acc\.pow: bool/);
  });

  it('wraps integer overflow like a C cast', () => {
    expect(check('add', { input: t([127], 'int8'), other: 1 }).toArray()).toEqual([-128]);
    expect(check('sub', { input: t([0], 'uint8'), other: 1 }).toArray()).toEqual([255]);
    expect(check('mul', { input: t([65536, 46341], 'int32'), other: t([65536, 46341], 'int32') }).toArray()).toEqual([0, -2147479015]);
    expect(check('neg', { input: t([-128], 'int8') }).toArray()).toEqual([-128]);
    expect(check('abs', { input: t([-128, -3], 'int8') }).toArray()).toEqual([-128, 3]);
  });
});

describe('integer semantics', () => {
  const a = t([7, -7, 7, -7], 'int32');
  const b = t([2, 2, -2, -2], 'int32');

  it('div is true division into float32', () => {
    const r = check('div', { input: a, other: b });
    expect(r.dtype).toBe('float32');
    expect(r.toArray()).toEqual([3.5, -3.5, -3.5, 3.5]);
  });

  it('div rounding modes keep the integer dtype', () => {
    const trunc = check('div', { input: a, other: b, rounding_mode: 'trunc' });
    expect(trunc.dtype).toBe('int32');
    expect(trunc.toArray()).toEqual([3, -3, -3, 3]);
    expect(check('div', { input: a, other: b, rounding_mode: 'floor' }).toArray()).toEqual([3, -4, -4, 3]);
    expect(() => run('div', { input: a, other: b, rounding_mode: 'round' })).toThrow(/rounding_mode.*trunc, floor/);
  });

  it('floor_div floors like Python // for ints and floats', () => {
    expect(check('floor_div', { input: a, other: b }).toArray()).toEqual([3, -4, -4, 3]);
    expect(check('floor_div', { input: t([7.5, -7.5, 1, -0.5]), other: 2 }).toArray()).toEqual([3, -4, 0, -1]);
    // 1 // 0.1 is 9 in Python (0.1 is slightly above 1/10): floor(1 / 0.1) would give 10.
    expect(check('floor_div', { input: t([1], 'float32'), other: t([0.1], 'float32') }).toArray()).toEqual([9]);
  });

  it('fmod takes the sign of the dividend, remainder the sign of the divisor', () => {
    expect(check('fmod', { input: a, other: b }).toArray()).toEqual([1, -1, 1, -1]);
    expect(check('remainder', { input: a, other: b }).toArray()).toEqual([1, 1, -1, -1]);
    expect(check('fmod', { input: t([-7.5, 7.5]), other: 2 }).toArray()).toEqual([-1.5, 1.5]);
    expect(check('remainder', { input: t([-7.5, 7.5]), other: 2 }).toArray()).toEqual([0.5, 1.5]);
    expect(check('remainder', { input: t([-7.5, 7.5]), other: -2 }).toArray()).toEqual([-1.5, -0.5]);
  });

  it('integer division by zero throws, float division by zero gives inf/nan', () => {
    for (const name of ['floor_div', 'fmod', 'remainder']) {
      expect(() => run(name, { input: a, other: 0 }), name).toThrow(new RegExp(`acc\\.${name}: integer division by zero`));
    }
    expect(() => run('div', { input: a, other: 0, rounding_mode: 'trunc' })).toThrow(/acc\.div: integer division by zero/);
    expectClose(check('div', { input: a, other: 0 }), [Infinity, -Infinity, Infinity, -Infinity]);
    expectClose(check('fmod', { input: t([1]), other: 0 }), [NaN]);
  });

  it('integer pow stays integer and wraps; negative tensor exponents follow powi', () => {
    const r = check('pow', { input: t([2, 3, -2], 'int64'), exponent: 3 });
    expect(r.dtype).toBe('int64');
    expect(r.toArray()).toEqual([8, 27, -8]);
    // 3^21 = 10460353203 wraps to 1870418611 in int32.
    expect(check('pow', { input: t([3], 'int32'), exponent: 21 }).toArray()).toEqual([1870418611]);
    expect(check('pow', { input: t([1, -1, -1, 2, -7], 'int32'), exponent: t([-3, -3, -2, -1, -1], 'int32') }).toArray())
      .toEqual([1, -1, 1, 0, 0]);
    expect(() => run('pow', { input: t([2], 'int32'), exponent: -1 })).toThrow(/acc\.pow: integers to negative integer powers/);
    const f = check('pow', { input: t([4, 9], 'int32'), exponent: 0.5 });
    expect(f.dtype).toBe('float32');
    expect(f.toArray()).toEqual([2, 3]);
  });

  it('float pow follows C: pow(1, nan) = 1, pow(-1, inf) = 1', () => {
    expectClose(check('pow', { input: t([1, -1, 2, -8]), exponent: t([NaN, Infinity, NaN, 1 / 3]) }), [1, 1, NaN, NaN]);
  });
});

describe('exact int64', () => {
  const big = (v: bigint[]) => Tensor.fromArray(v);
  const P53 = 2n ** 53n;
  const MIN = -(2n ** 63n);
  const MAX = 2n ** 63n - 1n;
  const data = (x: Tensor): bigint[] => {
    if (!(x.data instanceof BigInt64Array)) throw new TypeError(`expected int64 storage, got ${x.dtype}`);
    return Array.from(x.data);
  };

  it('adds, subtracts and multiplies beyond 2^53 and wraps at 2^64', () => {
    expect(data(check('add', { input: big([P53, MAX]), other: big([1n, 1n]) }))).toEqual([P53 + 1n, MIN]);
    expect(data(check('sub', { input: big([P53 + 3n]), other: 1 }))).toEqual([P53 + 2n]);
    expect(data(check('mul', { input: big([P53 + 1n, 2n ** 32n]), other: big([3n, 2n ** 32n]) }))).toEqual([3n * P53 + 3n, 0n]);
    expect(data(check('add', { input: t([1], 'int32'), other: big([P53]) }))).toEqual([P53 + 1n]);
  });

  it('compares exactly', () => {
    const a = big([P53 + 1n, P53]);
    const b = big([P53, P53 + 1n]);
    expect(check('eq', { input: a, other: b }).toArray()).toEqual([false, false]);
    expect(check('gt', { input: a, other: b }).toArray()).toEqual([true, false]);
    expect(check('le', { input: a, other: b }).toArray()).toEqual([false, true]);
    expect(check('maximum', { input: a, other: b }).data).toEqual(BigInt64Array.of(P53 + 1n, P53 + 1n));
  });

  it('divides, takes remainders and powers exactly', () => {
    const a = big([P53 + 7n, -(P53 + 7n)]);
    expect(data(check('floor_div', { input: a, other: 2 }))).toEqual([(P53 + 7n) / 2n, -(P53 + 7n) / 2n - 1n]);
    expect(data(check('div', { input: a, other: 2, rounding_mode: 'trunc' }))).toEqual([(P53 + 7n) / 2n, -(P53 + 7n) / 2n]);
    expect(data(check('remainder', { input: a, other: 2 }))).toEqual([1n, 1n]);
    expect(data(check('fmod', { input: a, other: 2 }))).toEqual([1n, -1n]);
    expect(data(check('pow', { input: big([3n, -1n, 2n]), exponent: big([39n, -3n, 64n]) }))).toEqual([3n ** 39n, -1n, 0n]);
    expect(() => run('floor_div', { input: a, other: 0 })).toThrow(/acc\.floor_div: integer division by zero/);
  });

  it('keeps unary results exact: abs and neg of INT64_MIN wrap like PyTorch', () => {
    expect(data(check('abs', { input: big([MIN, -P53 - 1n]) }))).toEqual([MIN, P53 + 1n]);
    expect(data(check('neg', { input: big([MIN, P53 + 1n]) }))).toEqual([MIN, -P53 - 1n]);
    expect(data(check('sign', { input: big([MIN, 0n, MAX]) }))).toEqual([-1n, 0n, 1n]);
    expect(data(check('floor', { input: big([P53 + 1n]) }))).toEqual([P53 + 1n]);
    expect(check('logical_not', { input: big([P53, 0n]) }).toArray()).toEqual([false, true]);
  });

  it('selects, clamps and casts exactly', () => {
    expect(data(check('where', { condition: t([true, false]), input: big([P53 + 1n, 0n]), other: 5 }))).toEqual([P53 + 1n, 5n]);
    expect(data(check('clamp', { input: big([P53 + 1n, -5n]), min: 0, max: 2 ** 53 }))).toEqual([P53, 0n]);
    // The low 32 bits of 2^53 + 2^31 + 5 are 0x80000005: -2147483643 as int32, 5 as uint8.
    const x = big([P53 + 2n ** 31n + 5n]);
    expect(check('to_dtype', { input: x, dtype: 'int32' }).toArray()).toEqual([-2147483643]);
    expect(check('to_dtype', { input: x, dtype: 'uint8' }).toArray()).toEqual([5]);
  });
});

describe('comparisons and logical ops', () => {
  it('return bool and compare in the promoted dtype', () => {
    const r = check('lt', { input: t([1, 2, 3], 'int32'), other: 2.5 });
    expect(r.dtype).toBe('bool');
    expect(r.toArray()).toEqual([true, true, false]);
    expect(check('ge', { input: t([1, 2, 3], 'int32'), other: t([3, 2, 1], 'int8') }).toArray()).toEqual([false, true, true]);
    expect(check('gt', { input: t([1, 2]), other: t([[0], [5]]) }).toArray()).toEqual([[true, true], [false, false]]);
    expect(check('le', { input: t([1, 2]), other: 1 }).toArray()).toEqual([true, false]);
  });

  it('round a scalar to a half-precision operand dtype first (float16 0.1 == 0.1)', () => {
    expect(check('eq', { input: t([0.1, 1.7], 'float16'), other: 0.1 }).toArray()).toEqual([true, false]);
    expect(check('eq', { input: t([0.1], 'float32'), other: 0.1 }).toArray()).toEqual([true]);
  });

  it('treat NaN as unequal to everything', () => {
    expect(check('eq', { input: t([NaN, 1]), other: t([NaN, 1]) }).toArray()).toEqual([false, true]);
    expect(check('ne', { input: t([NaN, 1]), other: t([NaN, 1]) }).toArray()).toEqual([true, false]);
    expect(check('gt', { input: t([NaN]), other: 0 }).toArray()).toEqual([false]);
  });

  it('logical ops accept any dtype and treat nonzero (NaN included) as true', () => {
    const x = t([0, 0.5, NaN, 0]);
    const y = t([1, 1, 1, 0], 'int32');
    expect(check('logical_and', { input: x, other: y }).toArray()).toEqual([false, true, true, false]);
    expect(check('logical_or', { input: x, other: y }).toArray()).toEqual([true, true, true, false]);
    expect(check('logical_xor', { input: x, other: y }).toArray()).toEqual([true, false, false, false]);
    expect(check('logical_not', { input: x }).toArray()).toEqual([true, false, false, true]);
    expect(check('logical_and', { input: x, other: t(true) }).dtype).toBe('bool');
    // PyTorch's logical ops take tensors only.
    expect(() => run('logical_or', { input: x, other: 1 })).toThrow(/acc\.logical_or: argument 'other' expects Tensor, got number 1/);
  });
});

describe('maximum and minimum', () => {
  it('propagate NaN from either side', () => {
    expectClose(check('maximum', { input: t([1, NaN, 3]), other: t([2, 0, NaN]) }), [2, NaN, NaN]);
    expectClose(check('minimum', { input: t([1, NaN, 3]), other: t([2, 0, NaN]) }), [1, NaN, NaN]);
  });

  it('work on bools and promote mixed ints', () => {
    expect(check('maximum', { input: t([true, false]), other: t([false, false]) }).toArray()).toEqual([true, false]);
    const r = check('minimum', { input: t([5, -5], 'int8'), other: t([1, 1], 'int32') });
    expect(r.dtype).toBe('int32');
    expect(r.toArray()).toEqual([1, -5]);
  });
});

describe('unary dtype rules', () => {
  it('float functions promote integers and bools to float32', () => {
    const r = check('sqrt', { input: t([4, 9], 'int64') });
    expect(r.dtype).toBe('float32');
    expect(r.toArray()).toEqual([2, 3]);
    expect(check('exp', { input: t([true, false]) }).toArray()).toEqual([Math.fround(Math.E), 1]);
    expect(check('reciprocal', { input: t([4], 'int32') }).toArray()).toEqual([0.25]);
  });

  it('abs, neg, sign and rounding keep integer dtypes', () => {
    for (const name of ['abs', 'neg', 'floor', 'ceil', 'round', 'trunc', 'sign']) {
      expect(check(name, { input: t([-3, 4], 'int32') }).dtype, name).toBe('int32');
    }
    expect(check('sign', { input: t([-3, 0, 4], 'int64') }).toArray()).toEqual([-1, 0, 1]);
    expect(check('round', { input: t([-3, 4], 'int32') }).toArray()).toEqual([-3, 4]);
    expect(check('sign', { input: t([true, false]) }).toArray()).toEqual([true, false]);
  });

  it('rejects bool for abs, neg and rounding', () => {
    for (const name of ['abs', 'neg', 'floor', 'ceil', 'round', 'trunc']) {
      expect(() => run(name, { input: t([true]) }), name).toThrow(new RegExp(`acc\\.${name}: bool input is not supported`));
      expect(() => infer(name, { input: t([true]) }), name).toThrow(/bool/);
    }
  });

  it('round is half to even (torch.round)', () => {
    const r = check('round', { input: t([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4, 2.6, -2.6]) });
    expect(r.toArray()).toEqual([0, 2, 2, -0, -2, -2, 2, 3, -3]);
    expect(Object.is(roundHalfEven(-0.5), -0)).toBe(true);
    expect(roundHalfEven(4503599627370497)).toBe(4503599627370497);
  });

  it('sign of NaN is 0; isnan works on every dtype', () => {
    expect(check('sign', { input: t([NaN, -2, 0]) }).toArray()).toEqual([0, -1, 0]);
    expect(check('isnan', { input: t([NaN, 1, Infinity]) }).toArray()).toEqual([true, false, false]);
    expect(check('isnan', { input: t([1, 2], 'int32') }).toArray()).toEqual([false, false]);
  });

  it('erf matches reference values to double precision', () => {
    const cases: [number, number][] = [
      [0, 0], [1e-10, 1.1283791670955126e-10], [0.1, 0.1124629160182849], [0.5, 0.5204998778130465],
      [1, 0.8427007929497149], [1.2, 0.9103139782296353], [2, 0.9953222650189527], [3, -0.9999779095030014 * -1],
      [-3, -0.9999779095030014], [5, 0.9999999999984626], [7, 1], [-Infinity, -1],
    ];
    for (const [x, e] of cases) expect(erf(x)).toBeCloseTo(e, 15);
    expect(erf(NaN)).toBeNaN();
  });
});

describe('half precision', () => {
  it('rounds results to float16 / bfloat16', () => {
    const h = check('exp', { input: t([1], 'float16') });
    expect(h.dtype).toBe('float16');
    expect(h.toArray()).toEqual([2.71875]);
    const b = check('div', { input: t([1], 'bfloat16'), other: 3 });
    expect(b.dtype).toBe('bfloat16');
    expect(b.toArray()).toEqual([0.333984375]);
    // 1 + 0.0004 is below half an fp16 ulp of 1.
    expect(check('add', { input: t([1], 'float16'), other: t([0.0004], 'float16') }).toArray()).toEqual([1]);
  });

  it('multiplies by a scalar at float32 precision but adds a scalar rounded to half, as PyTorch CPU', () => {
    const x = t([1.7], 'float16');
    const bits = (r: Tensor): number => {
      if (!(r.data instanceof Uint16Array)) throw new TypeError(`expected 16-bit storage, got ${r.dtype}`);
      return r.data[0]!;
    };
    // PyTorch: (tensor([1.7], float16) * 0.1).view(int16) == 12657, and 12656 with a float16 0.1.
    expect(bits(check('mul', { input: x, other: 0.1 }))).toBe(12657);
    expect(bits(check('mul', { input: x, other: t([0.1], 'float16') }))).toBe(12656);
    expect(bits(check('add', { input: x, other: 0.1 }))).toBe(f32ToF16Bits(1.7001953125 + 0.0999755859375));
  });
});

describe('where', () => {
  it('selects with three-way broadcasting', () => {
    const r = check('where', { condition: t([[true], [false]]), input: t([1, 2, 3]), other: t([10, 20, 30]) });
    expect(r.toArray()).toEqual([[1, 2, 3], [10, 20, 30]]);
  });

  it('promotes branches like a binary op, scalars included', () => {
    const c = t([true, false]);
    const r = check('where', { condition: c, input: t([1, 2], 'int32'), other: 0.5 });
    expect(r.dtype).toBe('float32');
    expect(r.toArray()).toEqual([1, 0.5]);
    expect(check('where', { condition: c, input: 1, other: 0 }).dtype).toBe('int64');
    expect(check('where', { condition: c, input: 1.5, other: 0 }).dtype).toBe('float32');
    expect(check('where', { condition: c, input: t([1, 2], 'int8'), other: t([3, 4], 'float16') }).dtype).toBe('float16');
  });

  it('accepts a uint8 condition and rejects other dtypes', () => {
    expect(check('where', { condition: t([1, 0], 'uint8'), input: 1.5, other: -1.5 }).toArray()).toEqual([1.5, -1.5]);
    expect(() => run('where', { condition: t([1, 0]), input: 1, other: 0 })).toThrow(/acc\.where: condition must be a bool tensor, got float32\[2\]/);
    expect(() => run('where', { condition: t([true, false]), input: t([1, 2, 3]), other: 0 })).toThrow(/acc\.where: shapes/);
  });
});

describe('clamp', () => {
  const x = t([-2, 0.5, 3, NaN]);

  it('clamps with only min, only max, or both; NaN stays NaN', () => {
    expectClose(check('clamp', { input: x, min: 0 }), [0, 0.5, 3, NaN]);
    expectClose(check('clamp', { input: x, max: 1 }), [-2, 0.5, 1, NaN]);
    expectClose(check('clamp', { input: x, min: -1, max: 1 }), [-1, 0.5, 1, NaN]);
  });

  it('gives max everywhere when min > max and ignores NaN bounds, as PyTorch', () => {
    expectClose(check('clamp', { input: x, min: 2, max: 1 }), [1, 1, 1, NaN]);
    expectClose(check('clamp', { input: x, min: NaN }), [-2, 0.5, 3, NaN]);
  });

  it('promotes with its bounds', () => {
    const r = check('clamp', { input: t([-7, 7, 5], 'int32'), min: 0.5 });
    expect(r.dtype).toBe('float32');
    expect(r.toArray()).toEqual([0.5, 7, 5]);
    expect(check('clamp', { input: t([-7, 7], 'int32'), min: 0, max: 5 }).toArray()).toEqual([0, 5]);
    expect(check('clamp', { input: t([true, false]), min: 0 }).dtype).toBe('int64');
  });

  it('requires a bound and rejects bool results', () => {
    expect(() => run('clamp', { input: x })).toThrow(/acc\.clamp: at least one of 'min' and 'max'/);
    expect(() => infer('clamp', { input: x })).toThrow(/acc\.clamp/);
    expect(() => run('clamp', { input: t([true]), min: false })).toThrow(/acc\.clamp: bool/);
    expect(() => run('clamp', { input: x, min: t([0]) })).toThrow(/argument 'min' expects scalar\?/);
  });
});

describe('to_dtype', () => {
  it('casts floats to ints by truncation and wraps out-of-range values', () => {
    expect(check('to_dtype', { input: t([-1.7, 2.9, 0.5]), dtype: 'int32' }).toArray()).toEqual([-1, 2, 0]);
    expect(check('to_dtype', { input: t([300, -1]), dtype: 'uint8' }).toArray()).toEqual([44, 255]);
    expect(check('to_dtype', { input: t([0, 0.1, NaN]), dtype: 'bool' }).toArray()).toEqual([false, true, true]);
  });

  it('rounds to half precision to nearest even', () => {
    // 2049 lies halfway between the float16 neighbours 2048 and 2050: ties to even → 2048.
    expect(check('to_dtype', { input: t([2049, 2051]), dtype: 'float16' }).toArray()).toEqual([2048, 2052]);
    expect(check('to_dtype', { input: t([1.7], 'float16'), dtype: 'float32' }).toArray()).toEqual([1.7001953125]);
  });

  it('rejects unknown dtypes', () => {
    expect(() => run('to_dtype', { input: t([1]), dtype: 'float64' })).toThrow(/acc\.to_dtype: argument 'dtype' must be a dtype name, got 'float64'/);
    expect(() => infer('to_dtype', { input: t([1]), dtype: 'half' })).toThrow(/acc\.to_dtype/);
  });
});

describe('argument checking', () => {
  it('rejects positional arguments and wrong argument types', () => {
    expect(() => getAccOp('add').invoke([t([1])], {})).toThrow(/keyword arguments only/);
    expect(() => run('add', { input: 1, other: t([1]) })).toThrow(/acc\.add: argument 'input' expects Tensor, got number 1/);
    expect(() => run('exp', { input: t([1]), other: 1 })).toThrow(/unexpected argument 'other'/);
  });
});
