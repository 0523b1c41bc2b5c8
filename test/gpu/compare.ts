/** Comparisons for the GPU suite: exact value equality (NaN-aware) and relative norm error. */
import { expect } from 'vitest';
import type { Tensor } from '../../src/tensor/tensor.js';

/** Expects equal shapes, dtypes and values (NaN equals NaN, -0 equals 0), naming the first mismatch. */
export function expectSameValues(got: Tensor, want: Tensor, what: string): void {
  expect(got.shape, `${what}: shape`).toEqual(want.shape);
  expect(got.dtype, `${what}: dtype`).toBe(want.dtype);
  const g = got.toFloat64();
  const w = want.toFloat64();
  for (let i = 0; i < g.length; i++) {
    const a = g[i]!;
    const b = w[i]!;
    if (a === b || (Number.isNaN(a) && Number.isNaN(b))) continue;
    expect.fail(`${what}: element ${i} is ${a}, expected ${b}`);
  }
}

/** ‖got − want‖ / ‖want‖ over all elements; Infinity when either holds a NaN. */
export function relativeError(got: Tensor, want: Tensor): number {
  const g = got.toFloat64();
  const w = want.toFloat64();
  let num = 0;
  let den = 0;
  for (let i = 0; i < g.length; i++) {
    const d = g[i]! - w[i]!;
    num += d * d;
    den += w[i]! * w[i]!;
  }
  if (Number.isNaN(num) || Number.isNaN(den)) return Infinity;
  return Math.sqrt(num / Math.max(den, Number.MIN_VALUE));
}

/** Bitwise equality of two tensors' storage. */
export function expectSameBytes(got: Tensor, want: Tensor, what: string): void {
  expect(got.shape, `${what}: shape`).toEqual(want.shape);
  expect(got.dtype, `${what}: dtype`).toBe(want.dtype);
  expect(Buffer.from(got.bytes()).equals(Buffer.from(want.bytes())), `${what}: bytes differ`).toBe(true);
}
