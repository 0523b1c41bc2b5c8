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
    [k, v instanceof Tensor ? ({ shape: v.shape, dtype: v.dtype, ...(v.qparams ? { qparams: v.qparams } : {}) } satisfies TensorMeta) : v]));
  expect(op.infer(metas)).toEqual({ shape: out.shape, dtype: out.dtype, ...(out.qparams ? { qparams: out.qparams } : {}) });
  return out;
}

const pad = (input: Tensor, p: number[], mode = 'constant', value = 0): unknown => run('pad', { input, pad: p, mode, value }).toArray();
const row = (values: number[], dtype: DType = 'float32'): Tensor => Tensor.fromNumbers(values, [values.length], dtype);
const resize = (input: Tensor, kw: Kwargs): Tensor => run('interpolate', { input, ...kw });
const flat = (t: Tensor): number[] => Array.from(t.toFloat64());

function expectClose(actual: number[], expected: number[], tol = 1e-6): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((a, i) => expect(Math.abs(a - expected[i]!)).toBeLessThanOrEqual(tol));
}

describe('acc.pad constant', () => {
  it('pads the last dims first, with a value, covering fewer dims than the rank', () => {
    expect(pad(row([1, 2, 3]), [1, 2], 'constant', 9)).toEqual([9, 1, 2, 3, 9, 9]);
    expect(pad(Tensor.fromArray([[1, 2], [3, 4]]), [1, 0, 0, 1])).toEqual([[0, 1, 2], [0, 3, 4], [0, 0, 0]]);
    const y = run('pad', { input: Tensor.fromArray([[[1, 2]], [[3, 4]]]), pad: [0, 1], mode: 'constant', value: -1 });
    expect(y.shape).toEqual([2, 1, 3]);
    expect(y.toArray()).toEqual([[[1, 2, -1]], [[3, 4, -1]]]);
    expect(pad(row([1, 2]), [])).toEqual([1, 2]);
  });
  it('crops with negative pads, down to an empty dim', () => {
    expect(pad(row([1, 2, 3, 4]), [-1, 1])).toEqual([2, 3, 4, 0]);
    expect(pad(Tensor.fromArray([[1, 2, 3], [4, 5, 6]]), [-1, -1, 1, -1])).toEqual([[0], [2]]);
    expect(run('pad', { input: row([1, 2]), pad: [-1, -1], mode: 'constant', value: 0 }).shape).toEqual([0]);
  });
  it('keeps the dtype: fp16, int64 (value truncated), bool', () => {
    const h = run('pad', { input: row([1.5, -2], 'float16'), pad: [1, 1], mode: 'constant', value: 0.1 });
    expect(h.dtype).toBe('float16');
    expect(Array.from(h.data as Uint16Array)).toEqual([0x2e66, 0x3e00, 0xc000, 0x2e66]);
    expect(pad(Tensor.fromArray([2n ** 60n]), [1, 0], 'constant', 7.9)).toEqual([7, 2 ** 60]);
    expect(pad(Tensor.fromArray([false]), [0, 2], 'constant', 1)).toEqual([false, true, true]);
  });
  it('pads a quantized tensor with the quantized value', () => {
    const q = new Tensor(Int8Array.of(10, 11), [2], 'int8', { scale: Float32Array.of(0.5), zeroPoint: Int32Array.of(3) });
    const y = run('pad', { input: q, pad: [1, 1], mode: 'constant', value: 1 });
    expect(y.toArray()).toEqual([5, 10, 11, 5]);
    expect(y.qparams).toBe(q.qparams);
  });
});

describe('acc.pad reflect / replicate / circular', () => {
  const x2 = Tensor.fromArray([[1, 2, 3], [4, 5, 6]]);
  it('reflects without repeating the edge', () => {
    expect(pad(row([1, 2, 3]), [2, 1], 'reflect')).toEqual([3, 2, 1, 2, 3, 2]);
    expect(pad(x2, [1, 1, 1, 1], 'reflect')).toEqual([[5, 4, 5, 6, 5], [2, 1, 2, 3, 2], [5, 4, 5, 6, 5], [2, 1, 2, 3, 2]]);
    expect(pad(row([0, 1, 2, 3, 4]), [-1, 1], 'reflect')).toEqual([1, 2, 3, 4, 3]);
    expect(pad(row([0, 1, 2, 3, 4]), [2, -2], 'reflect')).toEqual([2, 1, 0, 1, 2]);
  });
  it('replicates the edge', () => {
    expect(pad(row([1, 2, 3]), [2, 1], 'replicate')).toEqual([1, 1, 1, 2, 3, 3]);
    expect(pad(x2, [0, 1, 1, 0], 'replicate')).toEqual([[1, 2, 3, 3], [1, 2, 3, 3], [4, 5, 6, 6]]);
    expect(pad(row([1, 2, 3]), [-1, 2], 'replicate')).toEqual([2, 3, 3, 3]);
  });
  it('wraps around circularly; negative pads crop first, like PyTorch', () => {
    expect(pad(row([1, 2, 3]), [2, 1], 'circular')).toEqual([2, 3, 1, 2, 3, 1]);
    expect(pad(x2, [1, 0, 1, 1], 'circular')).toEqual([[6, 4, 5, 6], [3, 1, 2, 3], [6, 4, 5, 6], [3, 1, 2, 3]]);
    expect(pad(row([1, 2, 3, 4]), [-1, 1], 'circular')).toEqual([2, 3, 4, 2]);
    expect(pad(row([1, 2, 3, 4]), [1, -1], 'circular')).toEqual([3, 1, 2, 3]);
  });
  it('moves raw fp16 and int64 values', () => {
    const h = run('pad', { input: row([0.1, 0.2], 'float16'), pad: [1, 1], mode: 'reflect', value: 0 });
    expect(Array.from(h.data as Uint16Array)).toEqual([0x3266, 0x2e66, 0x3266, 0x2e66]);
    expect(pad(Tensor.fromArray([1n, 2n ** 55n + 1n]), [0, 2], 'circular')).toEqual([1, 2 ** 55 + 1, 1, 2 ** 55 + 1]);
  });
  it('matches a direct per-element definition on a 4-d tensor in every mode and dtype', () => {
    const shape = [2, 3, 9, 20];
    const cases: [string, number[]][] = [
      ['constant', [3, -2, 1, 2, -1, 1]], ['reflect', [5, 2, 8, 1]], ['replicate', [4, 0, 3, 2, 1, 1]], ['circular', [-3, 7, 2, -4]],
    ];
    for (const dtype of ['float32', 'int64', 'uint8'] as const) {
      const x = Tensor.fromNumbers(Array.from({ length: 2 * 3 * 9 * 20 }, (_, i) => i % 251), shape, dtype);
      const v = x.toFloat64();
      for (const [mode, p] of cases) {
        const y = run('pad', { input: x, pad: p, mode, value: mode === 'constant' ? 5 : 0 });
        const outShape = y.shape;
        const expected: number[] = [];
        const index = new Array<number>(4).fill(0);
        for (let i = 0; i < y.numel; i++) {
          let rem = i;
          for (let a = 3; a >= 0; a--) {
            index[a] = rem % outShape[a]!;
            rem = Math.floor(rem / outShape[a]!);
          }
          let src = 0;
          let inside = true;
          for (let a = 0; a < 4; a++) {
            const j = 3 - a; // pad pair of dim a
            const before = j < p.length / 2 ? p[2 * j]! : 0;
            const after = j < p.length / 2 ? p[2 * j + 1]! : 0;
            const size = shape[a]!;
            let q = index[a]! - before;
            if (mode === 'reflect') q = q < 0 ? -q : q >= size ? 2 * size - 2 - q : q;
            else if (mode === 'replicate') q = Math.min(Math.max(q, 0), size - 1);
            else if (mode === 'circular') {
              const lo = Math.max(-before, 0);
              const kept = size - lo - Math.max(-after, 0);
              q = lo + (((index[a]! - Math.max(before, 0)) % kept) + kept) % kept;
            } else if (q < 0 || q >= size) inside = false;
            src = src * size + q;
          }
          expected.push(inside ? v[src]! : 5);
        }
        expect(flat(y), `${mode} ${dtype}`).toEqual(expected);
      }
    }
  });
  it('rejects bad pads with clear errors', () => {
    expect(() => pad(row([1, 2, 3]), [3, 0], 'reflect')).toThrow(/acc\.pad: reflect padding must be smaller than the input size at dim 0 \(size 3, padding \(3, 0\)/);
    expect(() => pad(row([1, 2, 3]), [4, 0], 'circular')).toThrow(/circular padding wraps around more than once/);
    expect(() => pad(row([1, 2, 3]), [1], 'constant')).toThrow(/padding length must be even, got 1/);
    expect(() => pad(row([1, 2, 3]), [1, 1, 1, 1], 'constant')).toThrow(/2 padded dims exceed the input rank 1/);
    expect(() => pad(row([1, 2, 3]), [-2, -2], 'constant')).toThrow(/negative output size -1/);
    expect(() => pad(row([1, 2, 3]), [1, 1], 'reflect', 2)).toThrow(/mode 'reflect' takes no value, got 2/);
    expect(() => pad(row([1, 2, 3]), [1, 1], 'zeros')).toThrow(/argument 'mode' must be one of constant, reflect, replicate, circular/);
    expect(() => getAccOp('pad').infer({ input: { shape: [3], dtype: 'float32' }, pad: [1, 1], mode: 'zeros', value: 0 })).toThrow(/acc\.pad: mode must be one of/);
  });
});

describe('acc.interpolate nearest', () => {
  const x = (n: number, dtype: DType = 'float32'): Tensor => Tensor.fromNumbers(Array.from({ length: n }, (_, i) => i), [1, 1, n], dtype);
  it('uses the legacy floor(dst * scale) rule for nearest and the half-pixel rule for nearest-exact', () => {
    expect(flat(resize(x(3), { size: [5], mode: 'nearest' }))).toEqual([0, 0, 1, 1, 2]);
    expect(flat(resize(x(3), { size: [5], mode: 'nearest-exact' }))).toEqual([0, 0, 1, 2, 2]);
    expect(flat(resize(x(3), { size: [6], mode: 'nearest' }))).toEqual([0, 0, 1, 1, 2, 2]);
    expect(flat(resize(x(5), { size: [2], mode: 'nearest' }))).toEqual([0, 2]);
    expect(flat(resize(x(5), { size: [2], mode: 'nearest-exact' }))).toEqual([1, 3]);
  });
  it('uses the given scale_factor as the scale, as PyTorch does', () => {
    // out = floor(10 * 0.35) = 3; scale 1 / 0.35 picks 0, 2, 5, where in / out = 10 / 3 picks 0, 3, 6.
    expect(flat(resize(x(10), { scale_factor: [0.35], mode: 'nearest' }))).toEqual([0, 2, 5]);
    expect(flat(resize(x(10), { size: [3], mode: 'nearest' }))).toEqual([0, 3, 6]);
  });
  it('resizes 4-d and 5-d inputs of any dtype', () => {
    const img = Tensor.fromNumbers(Array.from({ length: 16 }, (_, i) => i), [1, 1, 4, 4], 'int32');
    expect(resize(img, { size: [2, 2], mode: 'nearest' }).toArray()).toEqual([[[[0, 2], [8, 10]]]]);
    const h = resize(Tensor.fromArray([[[[1.5, 2.5]]]], 'float16'), { scale_factor: [2, 2], mode: 'nearest' });
    expect(h.dtype).toBe('float16');
    expect(h.toArray()).toEqual([[[[1.5, 1.5, 2.5, 2.5], [1.5, 1.5, 2.5, 2.5]]]]);
    const vol = Tensor.fromNumbers([0, 1, 2, 3, 4, 5, 6, 7], [1, 1, 2, 2, 2], 'float32');
    const v = resize(vol, { size: [4, 2, 1], mode: 'nearest' });
    expect(v.shape).toEqual([1, 1, 4, 2, 1]);
    expect(flat(v)).toEqual([0, 2, 0, 2, 4, 6, 4, 6]);
    expect(resize(Tensor.zeros([0, 3, 2]), { size: [4], mode: 'nearest' }).shape).toEqual([0, 3, 4]);
  });
  it('keeps the qparams of a quantized input', () => {
    const q = new Tensor(Uint8Array.of(1, 2, 3, 4), [1, 2, 2], 'uint8', { scale: Float32Array.of(0.5, 2), zeroPoint: Int32Array.of(0, 1), axis: 1 });
    const y = resize(q, { size: [3], mode: 'nearest-exact' });
    expect(y.toArray()).toEqual([[[1, 2, 2], [3, 4, 4]]]);
    expect(y.qparams).toBe(q.qparams);
    expect(() => resize(q, { size: [3], mode: 'linear' })).toThrow(/mode 'linear' needs a floating-point input, got uint8/);
  });
});

describe('acc.interpolate linear modes', () => {
  const img = Tensor.fromArray([[[[1, 2], [3, 4]]]]);
  it('bilinear without align_corners (half-pixel, clamped at 0)', () => {
    const y = resize(img, { size: [4, 4], mode: 'bilinear', align_corners: false });
    expect(y.toArray()).toEqual([[[[1, 1.25, 1.75, 2], [1.5, 1.75, 2.25, 2.5], [2.5, 2.75, 3.25, 3.5], [3, 3.25, 3.75, 4]]]]);
    expect(resize(img, { scale_factor: [2, 2], mode: 'bilinear', align_corners: null }).toArray()).toEqual(y.toArray());
  });
  it('bilinear with align_corners', () => {
    expect(resize(img, { size: [3, 3], mode: 'bilinear', align_corners: true }).toArray()).toEqual([[[[1, 1.5, 2], [2, 2.5, 3], [3, 3.5, 4]]]]);
    const y = resize(img, { size: [4, 4], mode: 'bilinear', align_corners: true });
    expectClose(flat(y).slice(0, 4), [1, 4 / 3, 5 / 3, 2]);
    expect(resize(img, { size: [1, 1], mode: 'bilinear', align_corners: true }).toArray()).toEqual([[[[1]]]]);
  });
  it('linear uses scale_factor as the scale', () => {
    const x = Tensor.fromArray([[[0, 4, 8]]]);
    expect(flat(resize(x, { size: [4], mode: 'linear', align_corners: false }))).toEqual([0, 2.5, 5.5, 8]);
    const y = flat(resize(x, { scale_factor: [1.5], mode: 'linear', align_corners: false }));
    expect(y.slice(0, 2)).toEqual([0, 2]);
    expectClose(y.slice(2), [14 / 3, 22 / 3], 1e-5);
    expect(flat(resize(Tensor.fromArray([[[0, 8]]]), { size: [4], mode: 'linear', align_corners: false }))).toEqual([0, 2, 6, 8]);
  });
  it('trilinear reproduces a linear function at the sample points', () => {
    const vol = Tensor.fromNumbers([0, 1, 2, 3, 4, 5, 6, 7], [1, 1, 2, 2, 2], 'float32'); // 4d + 2h + w
    const s = [0, 0.25, 0.75, 1];
    const expected: number[] = [];
    for (const d of s) for (const h of s) for (const w of s) expected.push(4 * d + 2 * h + w);
    expect(flat(resize(vol, { size: [4, 4, 4], mode: 'trilinear', align_corners: false }))).toEqual(expected);
  });
  it('keeps fp16 output for fp16 input', () => {
    const y = resize(Tensor.fromArray([[[[1, 2], [3, 4]]]], 'float16'), { size: [4, 4], mode: 'bilinear', align_corners: false });
    expect(y.dtype).toBe('float16');
    expect(flat(y).slice(0, 4)).toEqual([1, 1.25, 1.75, 2]);
  });
});

describe('acc.interpolate bicubic', () => {
  const b8 = [0.89453125, 1.15625, 1.5625, 2.41796875, 3.16015625, 5.1171875, 7.1640625, 8.421875];
  it('matches hand-computed Keys (A = -0.75) weights with border clamping', () => {
    const x = Tensor.fromArray([[[[1, 2, 4, 8]]]]);
    expect(flat(resize(x, { size: [1, 8], mode: 'bicubic', align_corners: false }))).toEqual(b8);
    expect(flat(resize(x, { size: [1, 7], mode: 'bicubic', align_corners: true }))).toEqual([1, 1.3125, 2, 2.71875, 4, 6.1875, 8]);
  });
  it('is separable on a 2-d outer product', () => {
    const v = [1, 2, 4, 8];
    const x = Tensor.fromNumbers(v.flatMap((a) => v.map((b) => a * b)), [1, 1, 4, 4], 'float32');
    const expected = b8.flatMap((a) => b8.map((b) => a * b));
    expectClose(flat(resize(x, { scale_factor: [2, 2], mode: 'bicubic', align_corners: false })), expected, 1e-5);
  });
});

describe('acc.interpolate errors and inference', () => {
  const img = Tensor.zeros([1, 1, 2, 2]);
  it('rejects bad arguments naming them', () => {
    expect(() => resize(img, { size: [4], mode: 'linear' })).toThrow(/mode 'linear' needs a 3-d input, got shape \[1, 1, 2, 2\]/);
    expect(() => resize(img, { size: [4, 4], mode: 'nearest', align_corners: false })).toThrow(/align_corners can only be set with the interpolating modes/);
    expect(() => resize(img, { size: [4, 4], scale_factor: [2, 2], mode: 'nearest' })).toThrow(/exactly one of size and scale_factor must be given, got both/);
    expect(() => resize(img, { mode: 'nearest' })).toThrow(/got neither/);
    expect(() => resize(img, { size: [4], mode: 'nearest' })).toThrow(/size \[4\] must have one entry per spatial dim of input \[1, 1, 2, 2\] \(2\)/);
    expect(() => resize(img, { scale_factor: [0.2, 1], mode: 'nearest' })).toThrow(/spatial sizes must be positive, got input \[2, 2\] and output \[0, 2\]/);
    expect(() => resize(Tensor.zeros([1, 1, 2, 2], 'int32'), { size: [4, 4], mode: 'bilinear' })).toThrow(/mode 'bilinear' needs a floating-point input, got int32/);
    expect(() => resize(Tensor.zeros([2, 2]), { size: [4], mode: 'nearest' })).toThrow(/input must be 3-d, 4-d or 5-d/);
    expect(() => resize(img, { size: [4, 4], mode: 'area' })).toThrow(/argument 'mode' must be one of/);
    expect(() => getAccOp('interpolate').infer({ input: { shape: [1, 1, 2, 2], dtype: 'float32' }, size: [4, 4], scale_factor: null, mode: 'area', align_corners: null }))
      .toThrow(/acc\.interpolate: mode must be one of nearest, nearest-exact, linear, bilinear, bicubic, trilinear, got 'area'/);
  });
  it('infers shapes from size or floor(in * scale_factor)', () => {
    const meta = getAccOp('interpolate').infer({ input: { shape: [2, 3, 5, 7], dtype: 'bfloat16' }, size: null, scale_factor: [1.5, 0.5], mode: 'bicubic', align_corners: null });
    expect(meta).toEqual({ shape: [2, 3, 7, 3], dtype: 'bfloat16' });
  });
});
