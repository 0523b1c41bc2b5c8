import { describe, expect, it } from 'vitest';
import '../src/acc_ops/ops/index.js';
import { getAccOp } from '../src/acc_ops/registry.js';
import type { TensorMeta, ValueMeta } from '../src/ir/node.js';
import { bindArgs, type Kwargs } from '../src/ir/signature.js';
import type { DType } from '../src/tensor/dtype.js';
import { contiguousStrides, numelOf } from '../src/tensor/shape.js';
import { Tensor } from '../src/tensor/tensor.js';

function metaOf(v: unknown): unknown {
  if (v instanceof Tensor) return { shape: v.shape, dtype: v.dtype, ...(v.qparams ? { qparams: v.qparams } : {}) } satisfies TensorMeta;
  return Array.isArray(v) ? v.map(metaOf) : v;
}

/** Runs acc op `name` and checks that its shape inference agrees with what the kernel returned. */
function runAny(name: string, kw: Kwargs): Tensor | Tensor[] {
  const op = getAccOp(name);
  const out = op.invoke([], kw);
  const bound = bindArgs(op.signature, [], kw, name);
  const metas = Object.fromEntries(Object.entries(bound).map(([k, v]) => [k, metaOf(v)]));
  const inferred: ValueMeta = op.infer(metas);
  expect(inferred).toEqual(metaOf(out));
  return out as Tensor | Tensor[];
}

function run(name: string, kw: Kwargs): Tensor {
  const out = runAny(name, kw);
  if (!(out instanceof Tensor)) throw new Error(`acc.${name} did not return one tensor`);
  return out;
}

function runTuple(name: string, kw: Kwargs): Tensor[] {
  const out = runAny(name, kw);
  if (!Array.isArray(out)) throw new Error(`acc.${name} did not return a tuple`);
  return out;
}

/** 0, 1, 2, ... in `shape` and `dtype`. */
function iota(shape: number[], dtype: DType = 'float32'): Tensor {
  return Tensor.fromNumbers(Float64Array.from({ length: numelOf(shape) }, (_, i) => i), shape, dtype);
}

/** Reference permute by explicit multi-index arithmetic. */
function naivePermute(x: Tensor, perm: number[]): number[] {
  const inShape = x.shape;
  const outShape = perm.map((p) => inShape[p]!);
  const inStrides = contiguousStrides(inShape);
  const v = x.toFloat64();
  const out: number[] = [];
  for (let i = 0; i < numelOf(outShape); i++) {
    let rem = i;
    let src = 0;
    for (let a = outShape.length - 1; a >= 0; a--) {
      const idx = rem % outShape[a]!;
      rem = Math.floor(rem / outShape[a]!);
      src += idx * inStrides[perm[a]!]!;
    }
    out.push(v[src]!);
  }
  return out;
}

const infer = (name: string, kw: Kwargs): ValueMeta => getAccOp(name).infer(kw);
const m = (shape: number[], dtype: DType = 'float32'): TensorMeta => ({ shape, dtype });

describe('acc.reshape', () => {
  it('shares storage and infers one -1', () => {
    const x = iota([2, 3]);
    const y = run('reshape', { input: x, shape: [3, -1] });
    expect(y.shape).toEqual([3, 2]);
    expect(y.data).toBe(x.data);
    expect(y.toArray()).toEqual([[0, 1], [2, 3], [4, 5]]);
    expect(run('reshape', { input: iota([2, 0, 3]), shape: [0, 4] }).shape).toEqual([0, 4]);
    expect(run('reshape', { input: Tensor.fromArray([7]), shape: [] }).shape).toEqual([]);
  });
  it('names both shapes on a mismatch', () => {
    expect(() => run('reshape', { input: iota([2, 3]), shape: [4, -1] })).toThrow(/shape \[4, -1\] is invalid for input of shape \[2, 3\] \(6 elements\)/);
    expect(() => infer('reshape', { input: m([2, 3]), shape: [5] })).toThrow(/\[5\].*\[2, 3\]/);
    expect(() => run('reshape', { input: iota([6]), shape: [-1, -1] })).toThrow(/only one dimension can be -1/);
    expect(() => run('reshape', { input: iota([0]), shape: [0, -1] })).toThrow(/ambiguous/);
    expect(() => run('reshape', { input: iota([6]), shape: [-2, -3] })).toThrow(/size -2 at position 0 is not a valid size/);
  });
});

describe('acc.permute', () => {
  it('transposes 2-D small and tiled sizes exactly', () => {
    expect(run('permute', { input: iota([2, 3]), permutation: [1, 0] }).toArray()).toEqual([[0, 3], [1, 4], [2, 5]]);
    for (const [r, c] of [[70, 45], [33, 64], [1, 9], [129, 3]] as const) {
      for (const dtype of ['float32', 'int64'] as const) {
        const x = iota([r, c], dtype);
        expect(Array.from(run('permute', { input: x, permutation: [-1, 0] }).toFloat64())).toEqual(naivePermute(x, [1, 0]));
      }
    }
  });
  it('matches a naive N-d permute for every permutation of a 4-D tensor, in several dtypes', () => {
    const perms: number[][] = [];
    const rec = (p: number[]): void => {
      if (p.length === 4) perms.push(p);
      else for (let i = 0; i < 4; i++) if (!p.includes(i)) rec([...p, i]);
    };
    rec([]);
    for (const dtype of ['float32', 'int64', 'float16', 'uint8'] as const) {
      const x = Tensor.fromNumbers(Float64Array.from({ length: 2 * 3 * 5 * 7 }, (_, i) => i % 200), [2, 3, 5, 7], dtype);
      for (const p of perms) {
        const y = run('permute', { input: x, permutation: p });
        expect(y.dtype).toBe(dtype);
        expect(Array.from(y.toFloat64())).toEqual(naivePermute(x, p));
      }
    }
  });
  it('handles batched transposes of the inner dims and 0-size dims', () => {
    const x = iota([3, 40, 50]);
    expect(Array.from(run('permute', { input: x, permutation: [0, 2, 1] }).toFloat64())).toEqual(naivePermute(x, [0, 2, 1]));
    const nchw = iota([2, 3, 4, 5]);
    expect(Array.from(run('permute', { input: nchw, permutation: [0, 2, 3, 1] }).toFloat64())).toEqual(naivePermute(nchw, [0, 2, 3, 1]));
    expect(run('permute', { input: iota([2, 0, 3]), permutation: [2, 1, 0] }).shape).toEqual([3, 0, 2]);
  });
  it('keeps float16 bits (NaN payloads included) and int64 values beyond 2^53', () => {
    const bits = Uint16Array.of(0x3c00, 0x7e01, 0xfc00, 0x0001, 0x8000, 0x7bff);
    const y = run('permute', { input: Tensor.fromStorage(bits, [2, 3], 'float16'), permutation: [1, 0] });
    expect(y.dtype).toBe('float16');
    expect(Array.from(y.data as Uint16Array)).toEqual([0x3c00, 0x0001, 0x7e01, 0x8000, 0xfc00, 0x7bff]);
    const big = Tensor.fromArray([[2n ** 60n + 1n, -3n], [5n, -(2n ** 62n)]]);
    expect(Array.from(run('permute', { input: big, permutation: [1, 0] }).data as BigInt64Array)).toEqual([2n ** 60n + 1n, 5n, -3n, -(2n ** 62n)]);
  });
  it('rejects what is not a permutation', () => {
    expect(() => run('permute', { input: iota([2, 3]), permutation: [0, 0] })).toThrow(/not a permutation of 0\.\.1 \(dim 0 repeats\)/);
    expect(() => run('permute', { input: iota([2, 3]), permutation: [0] })).toThrow(/has 1 dims, input \[2, 3\] has 2/);
    expect(() => infer('permute', { input: m([2, 3]), permutation: [0, 2] })).toThrow(/acc\.permute: dim 2 is out of range/);
  });
});

describe('acc.flatten / squeeze / unsqueeze', () => {
  it('flattens a dim range with negative dims, sharing storage', () => {
    const x = iota([2, 3, 4, 5]);
    expect(run('flatten', { input: x, start_dim: 0, end_dim: -1 }).shape).toEqual([120]);
    const y = run('flatten', { input: x, start_dim: 1, end_dim: -2 });
    expect(y.shape).toEqual([2, 12, 5]);
    expect(y.data).toBe(x.data);
    expect(run('flatten', { input: x, start_dim: -1, end_dim: -1 }).shape).toEqual([2, 3, 4, 5]);
    expect(run('flatten', { input: Tensor.fromNumbers([3], [], 'float32'), start_dim: 0, end_dim: -1 }).shape).toEqual([1]);
    expect(() => run('flatten', { input: x, start_dim: 2, end_dim: 1 })).toThrow(/start_dim 2 comes after end_dim 1/);
    expect(() => run('flatten', { input: x, start_dim: 4, end_dim: -1 })).toThrow(/acc\.flatten: start_dim 4 is out of range/);
  });
  it('squeezes all size-1 dims or one, and unsqueezes at negative dims', () => {
    const x = iota([1, 3, 1, 2]);
    expect(run('squeeze', { input: x, dim: null }).shape).toEqual([3, 2]);
    expect(run('squeeze', { input: x, dim: -2 }).shape).toEqual([1, 3, 2]);
    expect(run('squeeze', { input: x, dim: 1 }).shape).toEqual([1, 3, 1, 2]); // size 3: unchanged
    expect(run('squeeze', { input: Tensor.fromNumbers([1], [], 'float32'), dim: -1 }).shape).toEqual([]);
    expect(() => run('squeeze', { input: x, dim: 4 })).toThrow(/acc\.squeeze: dim 4 is out of range for a tensor of rank 4/);
    expect(run('unsqueeze', { input: iota([2, 3]), dim: -1 }).shape).toEqual([2, 3, 1]);
    expect(run('unsqueeze', { input: iota([2, 3]), dim: -3 }).shape).toEqual([1, 2, 3]);
    expect(run('unsqueeze', { input: iota([2, 3]), dim: 1 }).shape).toEqual([2, 1, 3]);
    expect(() => run('unsqueeze', { input: iota([2, 3]), dim: 3 })).toThrow(/acc\.unsqueeze: dim 3 is out of range for a tensor of rank 3/);
  });
});

describe('acc.expand / tile', () => {
  it('expands size-1 dims, keeps -1 dims and adds leading dims', () => {
    const x = Tensor.fromArray([[1], [2]]);
    expect(run('expand', { input: x, sizes: [-1, 3] }).toArray()).toEqual([[1, 1, 1], [2, 2, 2]]);
    expect(run('expand', { input: x, sizes: [2, 2, -1, 2] }).toArray()).toEqual([[[[1, 1], [2, 2]], [[1, 1], [2, 2]]], [[[1, 1], [2, 2]], [[1, 1], [2, 2]]]]);
    expect(run('expand', { input: x, sizes: [2, 0] }).shape).toEqual([2, 0]);
    expect(run('expand', { input: Tensor.fromNumbers([5], [], 'int32'), sizes: [2, 2] }).toArray()).toEqual([[5, 5], [5, 5]]);
    const h = run('expand', { input: Tensor.fromNumbers([1.5, -2], [2, 1], 'float16'), sizes: [2, 2] });
    expect(h.dtype).toBe('float16');
    expect(h.toArray()).toEqual([[1.5, 1.5], [-2, -2]]);
  });
  it('rejects sizes that do not match non-singleton dims', () => {
    const x = iota([2, 3]);
    expect(() => run('expand', { input: x, sizes: [2, 4] })).toThrow(/size 4 must match the existing size 3 at non-singleton dim 1/);
    expect(() => run('expand', { input: x, sizes: [-1, 2, 3] })).toThrow(/-1 is not allowed in the new leading dim 0/);
    expect(() => run('expand', { input: x, sizes: [3] })).toThrow(/got 1 sizes for an input of rank 2/);
  });
  it('tiles with repeat semantics, more repeats than dims, and fewer', () => {
    const x = Tensor.fromArray([[1, 2], [3, 4]]);
    expect(run('tile', { input: x, dims: [1, 2] }).toArray()).toEqual([[1, 2, 1, 2], [3, 4, 3, 4]]);
    expect(run('tile', { input: x, dims: [2, 1, 1] }).toArray()).toEqual([[[1, 2], [3, 4]], [[1, 2], [3, 4]]]);
    expect(run('tile', { input: x, dims: [2] }).toArray()).toEqual([[1, 2, 1, 2], [3, 4, 3, 4]]);
    expect(run('tile', { input: Tensor.fromArray([1n, 2n]), dims: [2, 2] }).toArray()).toEqual([[1, 2, 1, 2], [1, 2, 1, 2]]);
    expect(run('tile', { input: x, dims: [0, 3] }).shape).toEqual([0, 6]);
    expect(() => run('tile', { input: x, dims: [-1, 2] })).toThrow(/repeats must be non-negative/);
  });
});

describe('acc.cat / stack', () => {
  it('concatenates along negative dims and promotes dtypes like torch.cat', () => {
    const a = Tensor.fromArray([[1, 2]], 'int32');
    const b = Tensor.fromArray([[3.5, 4.5]], 'float16');
    const y = run('cat', { tensors: [a, b], dim: 0 });
    expect(y.dtype).toBe('float16');
    expect(y.toArray()).toEqual([[1, 2], [3.5, 4.5]]);
    const z = run('cat', { tensors: [Tensor.fromArray([1, 2], 'uint8'), Tensor.fromArray([-3], 'int8')], dim: -1 });
    expect(z.dtype).toBe('int32');
    expect(z.toArray()).toEqual([1, 2, -3]);
    expect(run('cat', { tensors: [Tensor.fromArray([true]), Tensor.fromArray([2n])], dim: 0 }).dtype).toBe('int64');
    const w = run('cat', { tensors: [iota([2, 1, 2]), iota([2, 2, 2], 'int64')], dim: -2 });
    expect(w.dtype).toBe('float32');
    expect(w.toArray()).toEqual([[[0, 1], [0, 1], [2, 3]], [[2, 3], [4, 5], [6, 7]]]);
  });
  it('skips 1-d empty tensors and keeps other empty tensors', () => {
    const y = run('cat', { tensors: [Tensor.zeros([0], 'int64'), iota([2, 2]), Tensor.zeros([0])], dim: 1 });
    expect(y.toArray()).toEqual([[0, 1], [2, 3]]);
    expect(y.dtype).toBe('float32');
    expect(run('cat', { tensors: [iota([0, 2]), iota([1, 2])], dim: 0 }).toArray()).toEqual([[0, 1]]);
    expect(run('cat', { tensors: [Tensor.zeros([0]), Tensor.zeros([0], 'int32')], dim: 0 }).shape).toEqual([0]);
  });
  it('rejects mismatched inputs naming them', () => {
    expect(() => run('cat', { tensors: [iota([2, 3]), iota([3, 3])], dim: 1 })).toThrow(/sizes must match except in dim 1: tensor 0 is \[2, 3\], tensor 1 is \[3, 3\]/);
    expect(() => run('cat', { tensors: [iota([2, 3]), iota([3])], dim: 0 })).toThrow(/same number of dims/);
    expect(() => run('cat', { tensors: [iota([2]), Tensor.fromNumbers([1], [], 'float32')], dim: 0 })).toThrow(/zero-dimensional tensor \(at position 1\)/);
    expect(() => run('cat', { tensors: [], dim: 0 })).toThrow(/non-empty list/);
    expect(() => infer('cat', { tensors: [m([2, 3]), m([2, 3])], dim: 2 })).toThrow(/acc\.cat: dim 2 is out of range/);
  });
  it('stacks along a new dim with promotion', () => {
    const y = run('stack', { tensors: [Tensor.fromArray([1, 2], 'int32'), Tensor.fromArray([3, 4], 'int64')], dim: -1 });
    expect(y.dtype).toBe('int64');
    expect(y.toArray()).toEqual([[1, 3], [2, 4]]);
    expect(run('stack', { tensors: [iota([2]), iota([2])], dim: 0 }).toArray()).toEqual([[0, 1], [0, 1]]);
    expect(run('stack', { tensors: [iota([0])], dim: 1 }).shape).toEqual([0, 1]);
    expect(() => run('stack', { tensors: [iota([2]), iota([3])], dim: 0 })).toThrow(/equal shape, got \[2\] at entry 0 and \[3\] at entry 1/);
    expect(() => run('stack', { tensors: [iota([2])], dim: 2 })).toThrow(/acc\.stack: dim 2 is out of range/);
  });
});

describe('acc.split / chunk', () => {
  it('splits by size (last part smaller) and by sections, along negative dims', () => {
    const parts = runTuple('split', { input: iota([2, 5]), split_size_or_sections: 2, dim: -1 });
    expect(parts.map((p) => p.toArray())).toEqual([[[0, 1], [5, 6]], [[2, 3], [7, 8]], [[4], [9]]]);
    const secs = runTuple('split', { input: iota([5]), split_size_or_sections: [1, 0, 4], dim: 0 });
    expect(secs.map((p) => p.toArray())).toEqual([[0], [], [1, 2, 3, 4]]);
    expect(runTuple('split', { input: iota([3]), split_size_or_sections: 10, dim: 0 }).map((p) => p.shape)).toEqual([[3]]);
    expect(runTuple('split', { input: iota([0, 2]), split_size_or_sections: 0, dim: 0 }).map((p) => p.shape)).toEqual([[0, 2]]);
    expect(infer('split', { input: m([4, 6], 'float16'), split_size_or_sections: 4, dim: 1 })).toEqual([m([4, 4], 'float16'), m([4, 2], 'float16')]);
  });
  it('rejects bad split sizes', () => {
    expect(() => run('split', { input: iota([5]), split_size_or_sections: [2, 2], dim: 0 })).toThrow(/sections \[2, 2\] must sum to 5, the size of dim 0 of input \[5\], got 4/);
    expect(() => runTuple('split', { input: iota([5]), split_size_or_sections: 0, dim: 0 })).toThrow(/split_size can only be 0 if the dim size is 0/);
    expect(() => runTuple('split', { input: iota([5]), split_size_or_sections: [6, -1], dim: 0 })).toThrow(/non-negative/);
    expect(() => runTuple('split', { input: Tensor.fromNumbers([1], [], 'float32'), split_size_or_sections: 1, dim: 0 })).toThrow(/at least 1 dim/);
  });
  it('chunks with PyTorch sizing, possibly returning fewer chunks', () => {
    expect(runTuple('chunk', { input: iota([6]), chunks: 4, dim: 0 }).map((p) => p.toArray())).toEqual([[0, 1], [2, 3], [4, 5]]);
    expect(runTuple('chunk', { input: iota([5]), chunks: 3, dim: 0 }).map((p) => p.toArray())).toEqual([[0, 1], [2, 3], [4]]);
    expect(runTuple('chunk', { input: iota([2, 3]), chunks: 3, dim: -1 }).map((p) => p.toArray())).toEqual([[[0], [3]], [[1], [4]], [[2], [5]]]);
    expect(runTuple('chunk', { input: iota([2, 0]), chunks: 3, dim: 1 }).map((p) => p.shape)).toEqual([[2, 0], [2, 0], [2, 0]]);
    expect(() => runTuple('chunk', { input: iota([4]), chunks: 0, dim: 0 })).toThrow(/chunks must be a positive integer, got 0/);
  });
});

describe('acc.slice', () => {
  const x = iota([6]);
  const s = (start: number | null, end: number | null, step = 1, dim = 0, input = x): unknown =>
    run('slice', { input, dim, start, end, step }).toArray();
  it('clamps negative and out-of-range bounds like Python', () => {
    expect(s(null, null)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(s(-2, null)).toEqual([4, 5]);
    expect(s(1, -1)).toEqual([1, 2, 3, 4]);
    expect(s(-100, 2)).toEqual([0, 1]);
    expect(s(4, 100)).toEqual([4, 5]);
    expect(s(4, 2)).toEqual([]);
    expect(s(7, null)).toEqual([]);
    expect(s(-1, -7)).toEqual([]);
  });
  it('steps, along any dim', () => {
    expect(s(null, null, 2)).toEqual([0, 2, 4]);
    expect(s(1, null, 3)).toEqual([1, 4]);
    expect(s(-5, -1, 2)).toEqual([1, 3]);
    const y = iota([3, 4]);
    expect(s(1, null, 2, -1, y)).toEqual([[1, 3], [5, 7], [9, 11]]);
    expect(s(-2, null, 1, 0, y)).toEqual([[4, 5, 6, 7], [8, 9, 10, 11]]);
    const h = run('slice', { input: Tensor.fromArray([[0.5, 1.5, 2.5]], 'float16'), dim: 1, start: 0, end: null, step: 2 });
    expect(h.dtype).toBe('float16');
    expect(h.toArray()).toEqual([[0.5, 2.5]]);
    expect(run('slice', { input: Tensor.fromArray([1n, 2n, 3n, 4n]), dim: 0, start: 1, end: null, step: 2 }).toArray()).toEqual([2, 4]);
  });
  it('rejects a non-positive step and 0-d inputs', () => {
    expect(() => s(0, 2, 0)).toThrow(/step must be a positive integer, got 0/);
    expect(() => s(0, 2, -1)).toThrow(/step must be a positive integer, got -1/);
    expect(() => run('slice', { input: Tensor.fromNumbers([1], [], 'float32'), dim: 0, start: 0, end: 1, step: 1 })).toThrow(/0-d/);
    expect(() => s(0, 2, 1, 1)).toThrow(/acc\.slice: dim 1 is out of range/);
  });
});

describe('float16 through every shape op', () => {
  it('keeps the dtype and the exact bit patterns', () => {
    const bits = Uint16Array.from({ length: 12 }, (_, i) => 0x3c00 + i * 0x0101); // distinct finite patterns
    const x = Tensor.fromStorage(bits, [2, 3, 2], 'float16');
    const all: Tensor[] = [
      run('reshape', { input: x, shape: [3, 4] }),
      run('permute', { input: x, permutation: [2, 0, 1] }),
      run('flatten', { input: x, start_dim: 0, end_dim: 1 }),
      run('squeeze', { input: run('unsqueeze', { input: x, dim: 1 }), dim: 1 }),
      run('expand', { input: x, sizes: [2, 2, 3, 2] }),
      run('tile', { input: x, dims: [1, 2, 1] }),
      run('cat', { tensors: [x, x], dim: 2 }),
      run('stack', { tensors: [x, x], dim: -1 }),
      run('slice', { input: x, dim: 1, start: 1, end: null, step: 1 }),
      ...runTuple('split', { input: x, split_size_or_sections: [1, 2], dim: 1 }),
      ...runTuple('chunk', { input: x, chunks: 2, dim: -1 }),
    ];
    const patterns = new Set(bits);
    for (const t of all) {
      expect(t.dtype).toBe('float16');
      for (const b of t.data as Uint16Array) expect(patterns.has(b)).toBe(true);
    }
    expect(Array.from(all[1]!.data as Uint16Array).slice(0, 3)).toEqual([bits[0], bits[2], bits[4]]);
    expect(Array.from(all[8]!.data as Uint16Array)).toEqual([bits[2], bits[3], bits[4], bits[5], bits[8], bits[9], bits[10], bits[11]]);
  });
});

describe('quantized inputs through shape ops', () => {
  const scale = Float32Array.of(0.5, 0.25, 2);
  const zeroPoint = Int32Array.of(0, 1, -1);
  const perChannel = (): Tensor => new Tensor(Int8Array.from({ length: 6 }, (_, i) => i), [2, 3], 'int8', { scale, zeroPoint, axis: 1 });
  it('carries per-tensor qparams and moves the per-channel axis', () => {
    const q = new Tensor(Int8Array.of(1, 2, 3, 4), [2, 2], 'int8', { scale: Float32Array.of(0.1), zeroPoint: Int32Array.of(3) });
    expect(run('permute', { input: q, permutation: [1, 0] }).qparams).toBe(q.qparams);
    expect(run('reshape', { input: q, shape: [4] }).qparams).toBe(q.qparams);
    expect(run('permute', { input: perChannel(), permutation: [1, 0] }).qparams?.axis).toBe(0);
    expect(run('unsqueeze', { input: perChannel(), dim: 0 }).qparams?.axis).toBe(2);
    expect(run('reshape', { input: perChannel(), shape: [2, 1, 3] }).qparams?.axis).toBe(2);
    expect(run('slice', { input: perChannel(), dim: 0, start: 1, end: null, step: 1 }).qparams?.axis).toBe(1);
  });
  it('refuses to change the channel axis and to mix qparams', () => {
    expect(() => run('slice', { input: perChannel(), dim: 1, start: 1, end: null, step: 1 })).toThrow(/acc\.slice: cannot change dim 1, the channel axis/);
    expect(() => run('reshape', { input: perChannel(), shape: [6] })).toThrow(/acc\.reshape: cannot change dim 1/);
    const other = new Tensor(Int8Array.of(1, 2, 3), [1, 3], 'int8', { scale: Float32Array.of(1), zeroPoint: Int32Array.of(0) });
    expect(() => run('cat', { tensors: [perChannel(), other], dim: 0 })).toThrow(/tensor 1 has other quantization parameters than tensor 0/);
  });
});
