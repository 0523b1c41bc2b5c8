import { describe, expect, it } from 'vitest';
import '../src/acc_ops/ops/index.js';
import type { Kwargs } from '../src/ir/signature.js';
import { roundTo } from '../src/tensor/dtype.js';
import { Tensor } from '../src/tensor/tensor.js';
import { check as run } from './acc_helpers.js';



const randn = (shape: number[], seed: number): Tensor => Tensor.randn(shape, { seed });

/** Asserts `actual` has `shape` and its values are within `tol` (relative and absolute) of `expected`. */
function expectClose(actual: Tensor, expected: ArrayLike<number>, shape: number[], tol = 1e-5): void {
  expect(actual.shape).toEqual(shape);
  const a = actual.toFloat64();
  expect(a.length).toBe(expected.length);
  for (let i = 0; i < a.length; i++) {
    const e = expected[i]!;
    if (Number.isNaN(e)) expect(a[i]).toBeNaN();
    else expect(Math.abs(a[i]! - e)).toBeLessThanOrEqual(tol * (1 + Math.abs(e)));
  }
}

/** Naive [M, K] x [K, N] on flat float64 values. */
function naiveMm(a: ArrayLike<number>, b: ArrayLike<number>, M: number, K: number, N: number, aOff = 0, bOff = 0): Float64Array {
  const out = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += a[aOff + i * K + k]! * b[bOff + k * N + j]!;
      out[i * N + j] = s;
    }
  }
  return out;
}

/** Swaps the last two dims of a tensor (test-side reference transpose). */
function transposeLast(t: Tensor): Tensor {
  const s = t.shape;
  const [R, C] = [s[s.length - 2]!, s[s.length - 1]!];
  const v = t.toFloat64();
  const out = new Float64Array(v.length);
  for (let b = 0; b < v.length / (R * C); b++) {
    for (let i = 0; i < R; i++) for (let j = 0; j < C; j++) out[b * R * C + j * R + i] = v[b * R * C + i * C + j]!;
  }
  return Tensor.fromNumbers(out, [...s.slice(0, -2), C, R], t.dtype);
}

/** Brute-force einsum over letter-only terms: sums the product over every assignment of every label. */
function naiveEinsum(terms: string[], output: string, operands: Tensor[]): { data: Float64Array; shape: number[] } {
  const size = new Map<string, number>();
  terms.forEach((t, i) => [...t].forEach((c, d) => size.set(c, Math.max(size.get(c) ?? 1, operands[i]!.shape[d]!))));
  const labels = [...size.keys()];
  const shape = [...output].map((c) => size.get(c)!);
  const data = new Float64Array(shape.reduce((a, b) => a * b, 1));
  const vals = operands.map((t) => t.toFloat64());
  const at = new Map<string, number>(labels.map((l) => [l, 0]));
  const flatIndex = (term: string, dims: number[]): number =>
    [...term].reduce((f, c, d) => f * dims[d]! + (dims[d] === 1 ? 0 : at.get(c)!), 0);
  for (;;) {
    let p = 1;
    terms.forEach((t, i) => { p *= vals[i]![flatIndex(t, operands[i]!.shape)]!; });
    data[flatIndex(output, shape)] += p;
    let d = labels.length - 1;
    for (; d >= 0; d--) {
      const l = labels[d]!;
      at.set(l, at.get(l)! + 1);
      if (at.get(l)! < size.get(l)!) break;
      at.set(l, 0);
    }
    if (d < 0) break;
  }
  return { data, shape };
}

describe('acc.linear', () => {
  it('computes a hand-checked case with bias', () => {
    const input = Tensor.fromArray([[1, 2, 3], [4, 5, 6]]);
    const weight = Tensor.fromArray([[1, 0, -1], [2, 1, 0]]);
    const bias = Tensor.fromArray([0.5, -1]);
    expect(run('linear', { input, weight, bias }).toArray()).toEqual([[-1.5, 3], [-1.5, 12]]);
  });

  it('matches a naive reference for 3-D and 1-D inputs, with and without bias', () => {
    const x = randn([2, 3, 5], 1);
    const w = randn([4, 5], 2);
    const b = randn([4], 3);
    const wT = transposeLast(w).toFloat64();
    const plain = naiveMm(x.toFloat64(), wT, 6, 5, 4);
    expectClose(run('linear', { input: x, weight: w }), plain, [2, 3, 4]);
    const withBias = plain.map((v, i) => v + b.toFloat64()[i % 4]!);
    expectClose(run('linear', { input: x, weight: w, bias: b }), withBias, [2, 3, 4]);
    const v = randn([5], 4);
    expectClose(run('linear', { input: v, weight: w, bias: b }), naiveMm(v.toFloat64(), wT, 1, 5, 4).map((y, i) => y + b.toFloat64()[i]!), [4]);
  });

  it('computes float16 in float32 and rounds the output once', () => {
    const x = randn([3, 8], 5).castTo('float16');
    const w = randn([2, 8], 6).castTo('float16');
    const out = run('linear', { input: x, weight: w });
    expect(out.dtype).toBe('float16');
    const ref = naiveMm(x.toFloat64(), transposeLast(w).toFloat64(), 3, 8, 2).map((v) => roundTo('float16', v));
    expectClose(out, ref, [3, 2], 1e-3);
  });

  it('rejects mismatched features, bad weight rank, mixed and integer dtypes', () => {
    const x = randn([2, 3], 1);
    expect(() => run('linear', { input: x, weight: randn([4, 5], 2) })).toThrow(/acc.linear: input has 3 features .* expects 5/);
    expect(() => run('linear', { input: x, weight: randn([3], 2) })).toThrow(/'weight' must be a 2-D tensor/);
    expect(() => run('linear', { input: x, weight: randn([4, 3], 2), bias: randn([5], 3) })).toThrow(/'bias' must have shape \[4\]/);
    expect(() => run('linear', { input: x, weight: randn([4, 3], 2).castTo('float16') })).toThrow(/'weight' must have the dtype of 'input' \(float32\), got float16/);
    expect(() => run('linear', { input: x.castTo('int32'), weight: randn([4, 3], 2) })).toThrow(/'input' must be a floating tensor/);
  });
});

describe('acc.matmul', () => {
  it('handles 1-D operands like torch.matmul', () => {
    const a = Tensor.fromArray([1, 2, 3]);
    const b = Tensor.fromArray([4, 5, 6]);
    const dot = run('matmul', { input: a, other: b });
    expect(dot.shape).toEqual([]);
    expect(dot.item()).toBe(32);
    const m = Tensor.fromArray([[1, 2], [3, 4], [5, 6]]);
    expect(run('matmul', { input: a, other: m }).toArray()).toEqual([22, 28]);
    expect(run('matmul', { input: Tensor.fromArray([[1, 0, 1], [0, 1, 0]]), other: a }).toArray()).toEqual([4, 2]);
  });

  it('broadcasts batch dims', () => {
    const a = randn([2, 1, 3, 4], 1);
    const b = randn([5, 4, 2], 2);
    const out = run('matmul', { input: a, other: b });
    const av = a.toFloat64();
    const bv = b.toFloat64();
    const ref = new Float64Array(2 * 5 * 3 * 2);
    for (let i = 0; i < 2; i++) {
      for (let j = 0; j < 5; j++) ref.set(naiveMm(av, bv, 3, 4, 2, i * 12, j * 8), (i * 5 + j) * 6);
    }
    expectClose(out, ref, [2, 5, 3, 2]);
    const v = randn([4], 3);
    expect(run('matmul', { input: v, other: b }).shape).toEqual([5, 2]);
  });

  it('rejects scalars, inner-dim and batch mismatches', () => {
    expect(() => run('matmul', { input: Tensor.fromArray(1), other: randn([2], 1) })).toThrow(/acc.matmul: both operands need at least 1 dim/);
    expect(() => run('matmul', { input: randn([2, 3], 1), other: randn([4, 2], 2) })).toThrow(/inner dims differ.*\(3 vs 4\)/);
    expect(() => run('matmul', { input: randn([2, 2, 3], 1), other: randn([3, 3, 2], 2) })).toThrow(/batch dims of input \[2\] and other \[3\] do not broadcast/);
  });
});

describe('acc.transposed_matmul', () => {
  it('equals matmul of the explicitly transposed operands', () => {
    const q = randn([2, 3, 5, 4], 1);
    const k = randn([3, 6, 4], 2);
    const kT = transposeLast(k);
    const expected = run('matmul', { input: q, other: kT });
    const out = run('transposed_matmul', { input: q, other: k, transpose_other: true });
    expectClose(out, expected.toFloat64(), [2, 3, 5, 6]);

    const a = randn([4, 3], 3);
    const b = randn([2, 4, 5], 4);
    expectClose(run('transposed_matmul', { input: a, other: b, transpose_input: true }),
      run('matmul', { input: transposeLast(a), other: b }).toFloat64(), [2, 3, 5]);
    const c = randn([2, 5, 4], 5);
    expectClose(run('transposed_matmul', { input: a, other: c, transpose_input: true, transpose_other: true }),
      run('matmul', { input: transposeLast(a), other: transposeLast(c) }).toFloat64(), [2, 3, 5]);
    const v = randn([4], 6);
    expectClose(run('transposed_matmul', { input: a, other: v, transpose_input: true }),
      run('matmul', { input: transposeLast(a), other: v }).toFloat64(), [3]);
    expectClose(run('transposed_matmul', { input: a, other: randn([3, 4], 7) }),
      run('matmul', { input: a, other: randn([3, 4], 7) }).toFloat64(), [4, 4]);
  });

  it('rejects transposing a 1-D operand', () => {
    expect(() => run('transposed_matmul', { input: randn([3], 1), other: randn([3, 2], 2), transpose_input: true }))
      .toThrow(/acc.transposed_matmul: argument 'input' needs at least 2 dims to transpose/);
  });
});

describe('acc.einsum', () => {
  const cases: [string, number[][]][] = [
    ['ij,jk->ik', [[3, 4], [4, 5]]],
    ['bij,bjk->bik', [[2, 3, 4], [2, 4, 5]]],
    ['bhqd,bhkd->bhqk', [[2, 3, 4, 5], [2, 3, 6, 5]]],
    ['bij,bkj->bik', [[2, 3, 4], [2, 5, 4]]],
    ['ij,jk,kl->il', [[2, 3], [3, 4], [4, 2]]],
    ['i,j->ij', [[3], [4]]],
    ['i,i->', [[5], [5]]],
    ['ij->ji', [[3, 4]]],
    ['ij->j', [[3, 4]]],
    ['ii->i', [[4, 4]]],
    ['iij,jk->ik', [[3, 3, 2], [2, 4]]],
    ['bij,jk->bik', [[2, 1, 3], [3, 4]]],
    ['ij,ij->ij', [[1, 3], [2, 3]]],
    ['ij,jk->ik', [[2, 1], [3, 4]]],
  ];
  for (const [eq, shapes] of cases) {
    it(`'${eq}' matches a brute-force reference`, () => {
      const ops = shapes.map((s, i) => randn(s, 10 + i));
      const [lhs, out] = eq.split('->') as [string, string];
      const ref = naiveEinsum(lhs.split(','), out, ops);
      expectClose(run('einsum', { equation: eq, operands: ops }), ref.data, ref.shape);
    });
  }

  it('infers the implicit output: repeated labels are summed, the rest sorted', () => {
    const m = Tensor.fromArray([[1, 2], [3, 4]]);
    expect(run('einsum', { equation: 'ii', operands: [m] }).item()).toBe(5);
    expect(run('einsum', { equation: 'ji', operands: [m] }).toArray()).toEqual([[1, 3], [2, 4]]);
    const a = randn([3, 4], 1);
    const b = randn([4, 5], 2);
    expectClose(run('einsum', { equation: 'ij,jk', operands: [a, b] }), naiveMm(a.toFloat64(), b.toFloat64(), 3, 4, 5), [3, 5]);
  });

  it("broadcasts '...' dims and sums them when the output omits them", () => {
    const a = randn([2, 3, 4], 1);
    const b = randn([4, 5], 2);
    const ref = naiveEinsum(['bij', 'jk'], 'bik', [a, b]);
    expectClose(run('einsum', { equation: '...ij,...jk->...ik', operands: [a, b] }), ref.data, ref.shape);
    expectClose(run('einsum', { equation: '...ij,jk', operands: [a, b] }), ref.data, ref.shape);
    const summed = naiveEinsum(['bij', 'jk'], 'ik', [a, b]);
    expectClose(run('einsum', { equation: '...ij,jk->ik', operands: [a, b] }), summed.data, summed.shape);
  });

  it('returns a result that does not share storage with its input', () => {
    const a = randn([2, 3], 1);
    const out = run('einsum', { equation: 'ij->ij', operands: [a] });
    expect(out.data).not.toBe(a.data);
    expect(out.toArray()).toEqual(a.toArray());
  });

  it('reports malformed equations and inconsistent shapes', () => {
    const a = randn([2, 3], 1);
    const e = (equation: string, operands: Tensor[]) => () => run('einsum', { equation, operands });
    expect(e('ij,jk->ik', [a])).toThrow(/acc.einsum: equation 'ij,jk->ik' has 2 operand term\(s\), got 1 operand/);
    expect(e('i2->i', [a])).toThrow(/invalid subscript '2'/);
    expect(e('ij->k', [a])).toThrow(/output subscript k does not appear/);
    expect(e('ij->ii', [a])).toThrow(/output subscript i appears more than once/);
    expect(e('ijk->i', [a])).toThrow(/operand 0 has shape \[2, 3\], but its term .* has 3 subscript/);
    expect(e('ii->i', [a])).toThrow(/subscript i is repeated for operand 0 with different sizes \(2 vs 3\)/);
    expect(e('ij,jk->ik', [a, randn([4, 2], 2)])).toThrow(/subscript j has size 3 .* but 4 in operand 1/);
    expect(e('ij->i->j', [a])).toThrow(/more than one '->'/);
    expect(e('i', [])).toThrow(/needs at least one operand/);
  });
});

/** Naive attention on [B, L, E] x [B, S, E] x [B, S, Ev] with an additive [B, L, S] mask. */
function naiveAttention(q: Float64Array, k: Float64Array, v: Float64Array, B: number, L: number, S: number, E: number, Ev: number,
  mask: (b: number, i: number, j: number) => number, scale: number): Float64Array {
  const out = new Float64Array(B * L * Ev);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < L; i++) {
      const s = new Float64Array(S);
      for (let j = 0; j < S; j++) {
        let d = 0;
        for (let e = 0; e < E; e++) d += q[(b * L + i) * E + e]! * k[(b * S + j) * E + e]!;
        s[j] = d * scale + mask(b, i, j);
      }
      const m = Math.max(...s);
      if (m === -Infinity) continue;
      const p = s.map((x) => Math.exp(x - m));
      const z = p.reduce((x, y) => x + y, 0);
      for (let e = 0; e < Ev; e++) {
        let acc = 0;
        for (let j = 0; j < S; j++) acc += (p[j]! / z) * v[(b * S + j) * Ev + e]!;
        out[(b * L + i) * Ev + e] = acc;
      }
    }
  }
  return out;
}

describe('acc.scaled_dot_product_attention', () => {
  const [B, L, S, E, Ev] = [2, 4, 5, 3, 2];
  const q = randn([B, L, E], 1);
  const k = randn([B, S, E], 2);
  const v = randn([B, S, Ev], 3);
  const ref = (mask: (b: number, i: number, j: number) => number, scale = 1 / Math.sqrt(E)) =>
    naiveAttention(q.toFloat64(), k.toFloat64(), v.toFloat64(), B, L, S, E, Ev, mask, scale);

  it('matches the naive definition without a mask and with a custom scale', () => {
    expectClose(run('scaled_dot_product_attention', { query: q, key: k, value: v }), ref(() => 0), [B, L, Ev]);
    expectClose(run('scaled_dot_product_attention', { query: q, key: k, value: v, scale: 0.3 }), ref(() => 0, 0.3), [B, L, Ev]);
  });

  it('applies boolean masks (false masks out), float masks (added) and broadcasts them', () => {
    const keep = (i: number, j: number) => (i + 2 * j) % 3 !== 0;
    const boolMask = Tensor.fromArray(Array.from({ length: L }, (_, i) => Array.from({ length: S }, (_, j) => keep(i, j))));
    expectClose(run('scaled_dot_product_attention', { query: q, key: k, value: v, attn_mask: boolMask }),
      ref((_, i, j) => (keep(i, j) ? 0 : -Infinity)), [B, L, Ev]);
    const fm = randn([B, 1, S], 4);
    expectClose(run('scaled_dot_product_attention', { query: q, key: k, value: v, attn_mask: fm }),
      ref((b, _i, j) => fm.toFloat64()[b * S + j]!), [B, L, Ev]);
  });

  it('applies a top-left causal mask and gives 0 for fully masked rows', () => {
    expectClose(run('scaled_dot_product_attention', { query: q, key: k, value: v, is_causal: true }),
      ref((_, i, j) => (j > i ? -Infinity : 0)), [B, L, Ev]);
    const none = Tensor.full([L, S], false);
    expect(run('scaled_dot_product_attention', { query: q, key: k, value: v, attn_mask: none }).toFloat64().every((x) => x === 0)).toBe(true);
  });

  it('computes float16 inputs with a float32 mask and rounds the output to float16', () => {
    const [qh, kh, vh] = [q, k, v].map((t) => t.castTo('float16')) as [Tensor, Tensor, Tensor];
    const fm = randn([L, S], 9);
    const out = run('scaled_dot_product_attention', { query: qh, key: kh, value: vh, attn_mask: fm });
    expect(out.dtype).toBe('float16');
    const expected = naiveAttention(qh.toFloat64(), kh.toFloat64(), vh.toFloat64(), B, L, S, E, Ev,
      (_, i, j) => fm.toFloat64()[i * S + j]!, 1 / Math.sqrt(E)).map((x) => roundTo('float16', x));
    expectClose(out, expected, [B, L, Ev], 2e-3);
  });

  it('broadcasts batch dims of query, key, value and mask', () => {
    const q4 = randn([2, 3, L, E], 5);
    const k4 = randn([1, 3, S, E], 6);
    const v4 = randn([2, 1, S, Ev], 7);
    const mask = randn([2, 3, 1, S], 8);
    const out = run('scaled_dot_product_attention', { query: q4, key: k4, value: v4, attn_mask: mask });
    expect(out.shape).toEqual([2, 3, L, Ev]);
    const expanded = naiveAttention(q4.toFloat64(),
      new Float64Array([...k4.toFloat64(), ...k4.toFloat64()]),
      new Float64Array(Array.from({ length: 2 * 3 * S * Ev }, (_, i) => v4.toFloat64()[Math.floor(i / (3 * S * Ev)) * S * Ev + (i % (S * Ev))]!)),
      6, L, S, E, Ev, (b, _i, j) => mask.toFloat64()[b * S + j]!, 1 / Math.sqrt(E));
    expectClose(out, expanded, [2, 3, L, Ev]);
  });

  it('rejects dropout, mask with is_causal, bad shapes and dtypes', () => {
    const call = (kw: Kwargs) => () => run('scaled_dot_product_attention', { query: q, key: k, value: v, ...kw });
    expect(call({ dropout_p: 0.1 })).toThrow(/acc.scaled_dot_product_attention: dropout_p must be 0/);
    expect(call({ is_causal: true, attn_mask: Tensor.full([L, S], true) })).toThrow(/attn_mask and is_causal=true cannot both be set/);
    expect(call({ key: randn([B, S, E + 1], 9) })).toThrow(/key \[2, 5, 4\] must have 3 features/);
    expect(call({ value: randn([B, S + 1, Ev], 9) })).toThrow(/value \[2, 6, 2\] must have 5 positions/);
    expect(call({ attn_mask: Tensor.zeros([L, S], 'int32') })).toThrow(/'attn_mask' must be bool, float32 or the dtype of 'query' \(float32\), got int32/);
    expect(() => run('scaled_dot_product_attention', {
      query: q.castTo('float16'), key: k.castTo('float16'), value: v.castTo('float16'), attn_mask: Tensor.zeros([L, S], 'bfloat16'),
    })).toThrow(/'attn_mask' must be bool, float32 or the dtype of 'query' \(float16\), got bfloat16/);
    expect(call({ attn_mask: Tensor.zeros([L, 3]) })).toThrow(/attn_mask \[4, 3\] does not broadcast to the attention scores \[\.\.\., 4, 5\]/);
    expect(call({ value: v.castTo('float16') })).toThrow(/'value' must have the dtype of 'query'/);
  });
});
