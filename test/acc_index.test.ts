import { describe, expect, it } from 'vitest';
import '../src/acc_ops/ops/index.js';
import { getAccOp } from '../src/acc_ops/registry.js';
import type { TensorMeta } from '../src/ir/node.js';
import { bindArgs, type Kwargs } from '../src/ir/signature.js';
import type { DType } from '../src/tensor/dtype.js';
import { Tensor } from '../src/tensor/tensor.js';

/** Runs acc op `name` and checks that its shape inference agrees with the kernel's result. */
function run(name: string, kw: Kwargs): Tensor {
  const op = getAccOp(name);
  const out = op.invoke([], kw);
  if (!(out instanceof Tensor)) throw new Error(`acc.${name} did not return a tensor`);
  const bound = bindArgs(op.signature, [], kw, name);
  const metas = Object.fromEntries(Object.entries(bound).map(([k, v]) =>
    [k, v instanceof Tensor ? ({ shape: v.shape, dtype: v.dtype } satisfies TensorMeta) : v]));
  expect(op.infer(metas)).toEqual({ shape: out.shape, dtype: out.dtype });
  return out;
}

const idx = (values: number[], dtype: DType = 'int64', shape = [values.length]): Tensor => Tensor.fromNumbers(values, shape, dtype);
const m = (shape: number[], dtype: DType = 'float32'): TensorMeta => ({ shape, dtype });

describe('acc.index_select', () => {
  const x = Tensor.fromArray([[1, 2, 3], [4, 5, 6]]);
  it('selects along negative and positive dims with int64 and int32 indices, repeating indices', () => {
    expect(run('index_select', { input: x, dim: -1, index: idx([2, 0, 2]) }).toArray()).toEqual([[3, 1, 3], [6, 4, 6]]);
    expect(run('index_select', { input: x, dim: 0, index: idx([1], 'int32') }).toArray()).toEqual([[4, 5, 6]]);
    expect(run('index_select', { input: x, dim: 0, index: idx([], 'int64') }).shape).toEqual([0, 3]);
    expect(run('index_select', { input: x, dim: 1, index: idx([1], 'int64', []) }).toArray()).toEqual([[2], [5]]);
    expect(run('index_select', { input: Tensor.fromNumbers([7], [], 'int32'), dim: 0, index: idx([0]) }).toArray()).toBe(7);
  });
  it('keeps fp16 and int64 data exactly', () => {
    const h = run('index_select', { input: Tensor.fromArray([[0.1, 0.2], [0.3, 0.4]], 'float16'), dim: 1, index: idx([1, 0]) });
    expect(h.dtype).toBe('float16');
    expect(Array.from(h.data as Uint16Array)).toEqual([0x3266, 0x2e66, 0x3666, 0x34cd]);
    const big = run('index_select', { input: Tensor.fromArray([[2n ** 60n, 1n], [3n, -(2n ** 61n)]]), dim: 0, index: idx([1, 0]) });
    expect(Array.from(big.data as BigInt64Array)).toEqual([3n, -(2n ** 61n), 2n ** 60n, 1n]);
  });
  it('checks bounds, index rank and dtype with clear errors', () => {
    expect(() => run('index_select', { input: x, dim: 1, index: idx([0, 3]) })).toThrow(/acc\.index_select: index 3 at position \[1\] is out of range for dim 1 of size 3 \(expected 0\.\.2\)/);
    expect(() => run('index_select', { input: x, dim: 1, index: idx([-1]) })).toThrow(/index -1 at position \[0\] is out of range/);
    expect(() => run('index_select', { input: x, dim: 1, index: Tensor.fromArray([[0n]]) })).toThrow(/index must be 0-d or 1-d, got shape \[1, 1\]/);
    expect(() => run('index_select', { input: x, dim: 1, index: Tensor.fromArray([0]) })).toThrow(/index must be an int64 or int32 tensor, got float32/);
    expect(() => getAccOp('index_select').infer({ input: m([2, 3]), dim: 2, index: m([1], 'int64') })).toThrow(/acc\.index_select: dim 2 is out of range/);
  });
});

describe('acc.gather', () => {
  it('follows torch.gather semantics on both dims', () => {
    const x = Tensor.fromArray([[1, 2], [3, 4]]);
    expect(run('gather', { input: x, dim: 1, index: Tensor.fromArray([[0n, 0n], [1n, 0n]]) }).toArray()).toEqual([[1, 1], [4, 3]]);
    expect(run('gather', { input: x, dim: 0, index: Tensor.fromArray([[1n, 0n]]) }).toArray()).toEqual([[3, 2]]);
    expect(run('gather', { input: x, dim: -1, index: idx([1, 1, 0], 'int32', [1, 3]) }).toArray()).toEqual([[2, 2, 1]]);
  });
  it('gathers from a 3-D input with an index smaller on other dims', () => {
    const x = Tensor.fromNumbers(Array.from({ length: 24 }, (_, i) => i), [2, 3, 4], 'int32');
    // out[i][j][k] = x[i][index[i][j][k]][k]
    const index = Tensor.fromArray([[[2n, 0n, 1n]], [[0n, 2n, 2n]]]);
    expect(run('gather', { input: x, dim: 1, index }).toArray()).toEqual([[[8, 1, 6]], [[12, 21, 22]]]);
    const h = run('gather', { input: Tensor.fromArray([[1.5, 2.5]], 'float16'), dim: 1, index: Tensor.fromArray([[1n, 1n, 0n]]) });
    expect(h.dtype).toBe('float16');
    expect(h.toArray()).toEqual([[2.5, 2.5, 1.5]]);
    expect(run('gather', { input: Tensor.fromNumbers([5], [], 'float32'), dim: 0, index: idx([0], 'int64', []) }).toArray()).toBe(5);
    expect(run('gather', { input: x, dim: 2, index: Tensor.zeros([2, 0, 1], 'int64') }).shape).toEqual([2, 0, 1]);
  });
  it('checks bounds, rank and sizes', () => {
    const x = Tensor.fromArray([[1, 2], [3, 4]]);
    expect(() => run('gather', { input: x, dim: 1, index: Tensor.fromArray([[0n, 2n]]) })).toThrow(/acc\.gather: index 2 at position \[0, 1\] is out of range for dim 1 of size 2/);
    expect(() => run('gather', { input: x, dim: 0, index: Tensor.fromArray([[-1n]]) })).toThrow(/index -1 at position \[0, 0\] is out of range/);
    expect(() => run('gather', { input: x, dim: 0, index: Tensor.fromArray([0n]) })).toThrow(/must have the rank of input/);
    expect(() => run('gather', { input: x, dim: 0, index: Tensor.zeros([1, 3], 'int64') })).toThrow(/index \[1, 3\] is larger than input \[2, 2\] at dim 1/);
    expect(() => run('gather', { input: x, dim: 0, index: Tensor.zeros([1, 1], 'float32') })).toThrow(/int64 or int32/);
  });
});

describe('acc.embedding', () => {
  const w = Tensor.fromArray([[0, 0], [1, 10], [2, 20], [3, 30]]);
  it('looks up rows for any index shape; padding_idx does not change the forward', () => {
    expect(run('embedding', { input: Tensor.fromArray([[3n, 0n], [1n, 1n]]), weight: w, padding_idx: null }).toArray())
      .toEqual([[[3, 30], [0, 0]], [[1, 10], [1, 10]]]);
    expect(run('embedding', { input: idx([1, 2], 'int32'), weight: w, padding_idx: 1 }).toArray()).toEqual([[1, 10], [2, 20]]);
    expect(run('embedding', { input: idx([2], 'int64', []), weight: w, padding_idx: -1 }).toArray()).toEqual([2, 20]);
    const h = run('embedding', { input: idx([1]), weight: Tensor.fromArray([[1, 2], [3.5, -4]], 'bfloat16'), padding_idx: null });
    expect(h.dtype).toBe('bfloat16');
    expect(h.toArray()).toEqual([[3.5, -4]]);
  });
  it('checks indices, weight and padding_idx', () => {
    expect(() => run('embedding', { input: idx([4]), weight: w, padding_idx: null })).toThrow(/acc\.embedding: index 4 at position \[0\] is out of range for a weight of 4 embeddings/);
    expect(() => run('embedding', { input: idx([-1]), weight: w, padding_idx: null })).toThrow(/index -1/);
    expect(() => run('embedding', { input: idx([0]), weight: Tensor.zeros([4]), padding_idx: null })).toThrow(/weight must be 2-d/);
    expect(() => run('embedding', { input: Tensor.fromArray([0.5]), weight: w, padding_idx: null })).toThrow(/input \(the indices\) must be an int64 or int32 tensor, got float32/);
    expect(() => run('embedding', { input: idx([0]), weight: w, padding_idx: 4 })).toThrow(/padding_idx 4 is out of range for 4 embeddings \(expected -4\.\.3\)/);
  });
});
