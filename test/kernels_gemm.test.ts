import { describe, expect, it } from 'vitest';
import { batchedMatmul, sgemm } from '../src/kernels/reference/gemm.js';
import { mulberry32 } from '../src/tensor/random.js';


const randInt = (rng: () => number, lo: number, hi: number): number => lo + Math.floor(rng() * (hi - lo + 1));

function randArray(rng: () => number, n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng() * 2 - 1;
  return a;
}

interface Case {
  tA: boolean; tB: boolean; M: number; N: number; K: number; alpha: number; beta: number;
  aOff: number; lda: number; bOff: number; ldb: number; cOff: number; ldc: number;
}

/** Triple loop in float64; also returns the sum of |terms| per element, the scale for rounding error. */
function naiveGemm(c: Case, A: Float32Array, B: Float32Array, C: Float32Array): { want: Float64Array; scale: Float64Array } {
  const want = Float64Array.from(C);
  const scale = new Float64Array(C.length);
  for (let i = 0; i < c.M; i++) {
    for (let j = 0; j < c.N; j++) {
      let s = 0;
      let mag = 0;
      for (let k = 0; k < c.K; k++) {
        const a = c.tA ? A[c.aOff + k * c.lda + i]! : A[c.aOff + i * c.lda + k]!;
        const b = c.tB ? B[c.bOff + j * c.ldb + k]! : B[c.bOff + k * c.ldb + j]!;
        s += a * b;
        mag += Math.abs(a * b);
      }
      const at = c.cOff + i * c.ldc + j;
      want[at] = c.alpha * s + (c.beta === 0 ? 0 : c.beta * C[at]!);
      scale[at] = Math.abs(c.alpha) * mag + Math.abs(c.beta * (C[at]! || 0));
    }
  }
  return { want, scale };
}

function runCase(rng: () => number, c: Case, what: string): void {
  const aRows = c.tA ? c.K : c.M;
  const bRows = c.tB ? c.N : c.K;
  const A = randArray(rng, c.aOff + aRows * c.lda);
  const B = randArray(rng, c.bOff + bRows * c.ldb);
  const C = randArray(rng, c.cOff + c.M * c.ldc + 3);
  if (c.beta === 0) for (let i = 0; i < C.length; i += 3) C[i] = NaN; // beta = 0 must not read C
  const { want, scale } = naiveGemm(c, A, B, C);
  sgemm(c.tA, c.tB, c.M, c.N, c.K, c.alpha, A, c.aOff, c.lda, B, c.bOff, c.ldb, c.beta, C, c.cOff, c.ldc);
  const bad: string[] = [];
  for (let i = 0; i < C.length && bad.length < 5; i++) {
    const ok = Number.isNaN(want[i]!)
      ? Number.isNaN(C[i]!) // untouched NaN outside the product
      : Math.abs(C[i]! - want[i]!) <= 1e-6 * (scale[i]! + Math.abs(want[i]!)) + 1e-30;
    if (!ok) bad.push(`C[${i}] = ${C[i]}, want ${want[i]}`);
  }
  expect(bad, what).toEqual([]);
}

function makeCase(rng: () => number, M: number, N: number, K: number, tA: boolean, tB: boolean, alpha: number, beta: number): Case {
  const pad = (): number => (rng() < 0.5 ? 0 : randInt(rng, 1, 5));
  return {
    tA, tB, M, N, K, alpha, beta,
    aOff: pad(), lda: (tA ? M : K) + pad() || 1,
    bOff: pad(), ldb: (tB ? K : N) + pad() || 1,
    cOff: pad(), ldc: N + pad() || 1,
  };
}

describe('sgemm', () => {
  it('matches the triple loop for all transposes, offsets, strides, alpha and beta', () => {
    const rng = mulberry32(42);
    const scalars = [[1, 0], [1, 1], [-0.5, 0], [2, -0.75], [0.3, 1]] as const;
    for (let trial = 0; trial < 160; trial++) {
      const [alpha, beta] = scalars[trial % scalars.length]!;
      const M = randInt(rng, 1, 23);
      const N = randInt(rng, 1, 37);
      const K = randInt(rng, 1, 41);
      const c = makeCase(rng, M, N, K, (trial & 1) === 1, (trial & 2) === 2, alpha, beta);
      runCase(rng, c, `trial ${trial} ${JSON.stringify(c)}`);
    }
  });

  it('handles sizes that cross the cache blocks (M > 128, K > 512, N > 2048)', () => {
    const rng = mulberry32(9);
    const shapes = [[300, 45, 70], [9, 13, 1100], [3, 2100, 7], [131, 2051, 5], [133, 9, 1031]] as const;
    for (const [M, N, K] of shapes) {
      for (const [tA, tB] of [[false, false], [true, true]] as const) {
        const c = makeCase(rng, M, N, K, tA, tB, 1.5, 0.5);
        runCase(rng, c, `M=${M} N=${N} K=${K} tA=${tA} tB=${tB}`);
      }
    }
  });

  it('treats K = 0 and alpha = 0 as C = beta*C, and beta = 0 as overwrite', () => {
    const C = Float32Array.of(NaN, 2, 4, 8);
    sgemm(false, false, 2, 2, 0, 1, new Float32Array(0), 0, 1, new Float32Array(0), 0, 2, 0, C, 0, 2);
    expect(Array.from(C)).toEqual([0, 0, 0, 0]);
    const D = Float32Array.of(1, 2, 4, 8);
    sgemm(false, false, 2, 2, 2, 0, Float32Array.of(NaN, 1, 1, 1), 0, 2, new Float32Array(4), 0, 2, 0.5, D, 0, 2);
    expect(Array.from(D)).toEqual([0.5, 1, 2, 4]);
    // [[1, 2], [3, 4]] * [[5, 6], [7, 8]] = [[19, 22], [43, 50]]
    const E = new Float32Array(4).fill(NaN);
    sgemm(false, false, 2, 2, 2, 1, Float32Array.of(1, 2, 3, 4), 0, 2, Float32Array.of(5, 6, 7, 8), 0, 2, 0, E, 0, 2);
    expect(Array.from(E)).toEqual([19, 22, 43, 50]);
  });

  it('rejects operands that are too small or strides below the row length', () => {
    const a = new Float32Array(6);
    expect(() => sgemm(false, false, 2, 2, 3, 1, a, 0, 3, new Float32Array(6), 0, 2, 0, new Float32Array(3), 0, 2)).toThrow(
      'sgemm: C (M x N) needs 4 elements (2x2, ld=2, offset=0), array has 3',
    );
    expect(() => sgemm(false, false, 2, 2, 3, 1, a, 0, 2, new Float32Array(6), 0, 2, 0, new Float32Array(4), 0, 2)).toThrow(
      'sgemm: leading dimension of A (M x K) must be >= 3, got 2',
    );
    expect(() => sgemm(true, false, 2, 2, 3, 1, a, 1, 2, new Float32Array(6), 0, 2, 0, new Float32Array(4), 0, 2)).toThrow(
      /A \(stored K x M\) needs 7 elements/,
    );
    expect(() => sgemm(false, false, -1, 2, 3, 1, a, 0, 3, a, 0, 2, 0, a, 0, 2)).toThrow('sgemm: M must be a non-negative integer, got -1');
  });
});

/** Reference matmul on explicit index arithmetic, for checking batchedMatmul. */
function naiveMatmul(a: Float32Array, as: number[], b: Float32Array, bs: number[]): { data: Float64Array; shape: number[] } {
  const A = as.length === 1 ? [1, as[0]!] : as;
  const B = bs.length === 1 ? [bs[0]!, 1] : bs;
  const [M, K, N] = [A[A.length - 2]!, A[A.length - 1]!, B[B.length - 1]!];
  const ab = A.slice(0, -2);
  const bb = B.slice(0, -2);
  const rank = Math.max(ab.length, bb.length);
  const batch = Array.from({ length: rank }, (_, i) => {
    const [x, y] = [ab[i - rank + ab.length] ?? 1, bb[i - rank + bb.length] ?? 1];
    return x === 1 ? y : x;
  });
  const count = batch.reduce((x, y) => x * y, 1);
  const data = new Float64Array(count * M * N);
  for (let t = 0; t < count; t++) {
    const idx: number[] = [];
    for (let d = rank - 1, r = t; d >= 0; d--) {
      idx[d] = r % batch[d]!;
      r = Math.floor(r / batch[d]!);
    }
    const offsetIn = (own: number[]): number => own.reduce((f, size, i) => f * size + (size === 1 ? 0 : idx[i + rank - own.length]!), 0);
    const ao = offsetIn(ab) * M * K;
    const bo = offsetIn(bb) * K * N;
    for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += a[ao + i * K + k]! * b[bo + k * N + j]!;
      data[t * M * N + i * N + j] = s;
    }
  }
  const shape = [...batch, ...(as.length > 1 ? [M] : []), ...(bs.length > 1 ? [N] : [])];
  return { data, shape };
}

describe('batchedMatmul', () => {
  it('follows torch.matmul for vectors, matrices and broadcast batches', () => {
    const rng = mulberry32(31337);
    const pairs: [number[], number[], number[]][] = [
      [[5], [5], []],
      [[4], [4, 3], [3]],
      [[3, 4], [4], [3]],
      [[2, 3], [3, 5], [2, 5]],
      [[7, 3, 4], [4, 2], [7, 3, 2]],
      [[2, 1, 3, 4], [5, 4, 2], [2, 5, 3, 2]],
      [[1, 3, 4], [5, 4, 2], [5, 3, 2]],
      [[4], [2, 3, 4, 6], [2, 3, 6]],
      [[2, 3, 4, 6], [6], [2, 3, 4]],
      [[3, 2, 5], [1, 5, 4], [3, 2, 4]],
      [[0, 2, 3], [3, 4], [0, 2, 4]],
    ];
    for (const [as, bs, outShape] of pairs) {
      const a = randArray(rng, as.reduce((x, y) => x * y, 1));
      const b = randArray(rng, bs.reduce((x, y) => x * y, 1));
      const got = batchedMatmul(a, as, b, bs);
      const want = naiveMatmul(a, as, b, bs);
      expect(got.shape, `${as} @ ${bs}`).toEqual(outShape);
      expect(want.shape, `reference ${as} @ ${bs}`).toEqual(outShape);
      for (let i = 0; i < want.data.length; i++) expect(got.data[i]!).toBeCloseTo(want.data[i]!, 5);
    }
  });

  it('names both shapes when they do not fit', () => {
    const x = new Float32Array(12);
    expect(() => batchedMatmul(x, [3, 4], x, [3, 4])).toThrow('matmul: inner dims differ: [3, 4] @ [3, 4] (4 vs 3)');
    expect(() => batchedMatmul(x, [2, 3, 2], new Float32Array(24), [3, 2, 4])).toThrow(/shapes \[2\] and \[3\] do not broadcast/);
    expect(() => batchedMatmul(new Float32Array(1), [], x, [12])).toThrow(/both operands need at least 1 dim/);
    expect(() => batchedMatmul(x, [5, 2], x, [2, 6])).toThrow('matmul: first operand of shape [5, 2] needs 10 elements, got 12');
  });
});
