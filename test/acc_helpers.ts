import { expect } from 'vitest';
import '../src/acc_ops/ops/index.js';
import { getAccOp } from '../src/acc_ops/registry.js';
import type { ValueMeta } from '../src/ir/node.js';
import { bindArgs, type Kwargs } from '../src/ir/signature.js';
import type { DType } from '../src/tensor/dtype.js';
import { Tensor, type NestedArray } from '../src/tensor/tensor.js';

/** Shared by the acc-op unit tests: run an op, infer its metadata, compare numbers. */

export const run = (name: string, kw: Kwargs): Tensor => {
  const r = getAccOp(name).invoke([], kw);
  if (!(r instanceof Tensor)) throw new TypeError(`acc.${name} did not return a tensor`);
  return r;
};

/** Shape inference the way accTrace calls it: defaults bound, tensors replaced by metadata. */
export const infer = (name: string, kw: Kwargs): ValueMeta => {
  const op = getAccOp(name);
  const bound = bindArgs(op.signature, [], kw, name);
  const toMeta = (v: unknown): unknown =>
    v instanceof Tensor ? { shape: v.shape, dtype: v.dtype } : Array.isArray(v) ? v.map(toMeta) : v;
  const metas: Kwargs = {};
  for (const [k, v] of Object.entries(bound)) metas[k] = toMeta(v);
  return op.infer(metas);
};

/** Runs the op and checks its result against infer(), then returns it. */
export const check = (name: string, kw: Kwargs): Tensor => {
  const r = run(name, kw);
  expect(infer(name, kw)).toEqual({ shape: r.shape, dtype: r.dtype });
  return r;
};

export const t = (v: NestedArray, dtype?: DType): Tensor => Tensor.fromArray(v, dtype);

export function expectClose(actual: Tensor, expected: readonly number[], digits = 6): void {
  const got = actual.toFloat64();
  expect(got.length).toBe(expected.length);
  expected.forEach((e, i) => {
    if (Number.isNaN(e)) expect(got[i]).toBeNaN();
    else expect(got[i]).toBeCloseTo(e, digits);
  });
}
