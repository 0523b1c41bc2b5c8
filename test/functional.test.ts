import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { F } from '../src/nn/functional.js';
import { acc } from '../src/acc_ops/callable.js';
import { accTrace } from '../src/acc_ops/acc_tracer.js';
import type { GraphModule } from '../src/ir/graph_module.js';
import { symbolicTrace } from '../src/ir/tracer.js';
import { Tensor } from '../src/tensor/tensor.js';

/** Same dtype, shape and bytes (NaN payloads included), recursively through tuples. */
function expectSame(actual: unknown, expected: unknown): void {
  if (Array.isArray(expected)) {
    expect(Array.isArray(actual)).toBe(true);
    const a = actual as unknown[];
    expect(a.length).toBe(expected.length);
    expected.forEach((e, i) => expectSame(a[i], e));
    return;
  }
  expect(actual).toBeInstanceOf(Tensor);
  expect(expected).toBeInstanceOf(Tensor);
  const a = actual as Tensor;
  const e = expected as Tensor;
  expect(a.dtype).toBe(e.dtype);
  expect(a.shape).toEqual(e.shape);
  expect(Buffer.from(a.bytes()).equals(Buffer.from(e.bytes()))).toBe(true);
}

function callTargets(gm: GraphModule): string[] {
  return gm.graph.nodeList().flatMap((n) => (n.op === 'call_function' ? [n.target.name] : n.op === 'call_method' || n.op === 'call_module' ? [`${n.op}:${n.target}`] : []));
}

/**
 * Runs `fn` eagerly, symbolically traced and acc-traced: both graphs must give the eager result
 * bit for bit, and the acc graph must hold only acc ops. Returns the acc ops used.
 */
function checkTraces(fn: (...xs: Tensor[]) => unknown, inputs: Tensor[]): { gm: GraphModule; accOps: string[] } {
  const eager = fn(...inputs);
  const gm = symbolicTrace(fn);
  gm.lint();
  expectSame(gm.forward(...inputs), eager);
  const ag = accTrace(gm, inputs);
  const targets = callTargets(ag);
  for (const t of targets) expect(t).toMatch(/^acc\./);
  expectSame(ag.forward(...inputs), eager);
  return { gm, accOps: targets.map((t) => t.slice(4)) };
}

const x = Tensor.randn([2, 3, 4, 5], { seed: 1 });
const y = Tensor.randn([4, 5], { seed: 2 });
const ints = Tensor.randint(-5, 6, [3, 4], { seed: 3 });
const img = Tensor.randn([1, 2, 6, 6], { seed: 4 });
const w2 = Tensor.randn([3, 2, 3, 3], { seed: 5 });
const bias3 = Tensor.randn([3], { seed: 6 });
const seq = Tensor.randn([1, 2, 8], { seed: 7 });
const w1 = Tensor.randn([3, 2, 3], { seed: 8 });
const vol = Tensor.randn([1, 2, 4, 4, 4], { seed: 9 });
const w3 = Tensor.randn([3, 2, 2, 2, 2], { seed: 10 });
const wt1 = Tensor.randn([2, 3, 3], { seed: 11 });
const wt2 = Tensor.randn([2, 3, 3, 3], { seed: 12 });
const wt3 = Tensor.randn([2, 3, 2, 2, 2], { seed: 13 });
const ch2 = Tensor.randn([2], { seed: 14 });
const var2 = Tensor.rand([2], { seed: 15, low: 0.5, high: 2 });
const ids = Tensor.randint(0, 10, [2, 3], { seed: 16 });
const table = Tensor.randn([10, 4], { seed: 17 });
const q4 = Tensor.randn([1, 2, 4, 8], { seed: 18 });
const k4 = Tensor.randn([1, 2, 4, 8], { seed: 19 });
const v4 = Tensor.randn([1, 2, 4, 8], { seed: 20 });
const gatherIdx = Tensor.randint(0, 5, [2, 3, 4, 2], { seed: 21 });
const selIdx = Tensor.fromNumbers([3, 0, 3], [3], 'int64');
const chScales = Tensor.fromNumbers([0.05, 0.1, 0.02], [3], 'float32');
const chZeros = Tensor.fromNumbers([0, 1, -2], [3], 'int32');

/** One F expression per acc op of the catalogue (and more forms for some). */
const CASES: ReadonlyArray<readonly [string, (...xs: Tensor[]) => unknown, Tensor[]]> = [
  ['add', (a, b) => F.add(a, b, { alpha: 2 }), [x, y]],
  ['sub', (a) => F.sub(a, 1.5), [x]],
  ['mul', (a, b) => F.mul(a, b), [x, y]],
  ['div', (a, b) => F.div(a, b, { roundingMode: 'floor' }), [x, y]],
  ['floor_div', (a) => F.floorDivide(a, 3), [ints]],
  ['pow', (a) => F.pow(a, 2), [x]],
  ['maximum', (a, b) => F.maximum(a, b), [x, y]],
  ['minimum', (a, b) => F.minimum(a, b), [x, y]],
  ['fmod', (a) => F.fmod(a, 3), [ints]],
  ['remainder', (a) => F.remainder(a, 3), [ints]],
  ['eq', (a) => F.eq(a, 0), [ints]],
  ['ne', (a) => F.ne(a, 0), [ints]],
  ['gt', (a, b) => F.gt(a, b), [x, y]],
  ['ge', (a, b) => F.ge(a, b), [x, y]],
  ['lt', (a) => F.lt(a, 0), [x]],
  ['le', (a) => F.le(a, 0), [x]],
  ['logical_and', (a, b) => F.logicalAnd(F.gt(a, 0), F.lt(b, 0)), [x, y]],
  ['logical_or', (a, b) => F.logicalOr(F.gt(a, 0), F.lt(b, 0)), [x, y]],
  ['logical_xor', (a, b) => F.logicalXor(F.gt(a, 0), F.lt(b, 0)), [x, y]],
  ['logical_not', (a) => F.logicalNot(F.gt(a, 0)), [x]],
  ['abs', (a) => F.abs(a), [x]],
  ['neg', (a) => F.neg(a), [x]],
  ['exp', (a) => F.exp(a), [x]],
  ['log', (a) => F.log(a), [x]],
  ['sqrt', (a) => F.sqrt(a), [x]],
  ['rsqrt', (a) => F.rsqrt(a), [x]],
  ['reciprocal', (a) => F.reciprocal(a), [x]],
  ['sin', (a) => F.sin(a), [x]],
  ['cos', (a) => F.cos(a), [x]],
  ['tan', (a) => F.tan(a), [x]],
  ['asin', (a) => F.asin(a), [x]],
  ['acos', (a) => F.acos(a), [x]],
  ['atan', (a) => F.atan(a), [x]],
  ['sinh', (a) => F.sinh(a), [x]],
  ['cosh', (a) => F.cosh(a), [x]],
  ['erf', (a) => F.erf(a), [x]],
  ['floor', (a) => F.floor(a), [x]],
  ['ceil', (a) => F.ceil(a), [x]],
  ['round', (a) => F.round(a), [x]],
  ['trunc', (a) => F.trunc(a), [x]],
  ['sign', (a) => F.sign(a), [x]],
  ['isnan', (a) => F.isnan(F.log(a)), [x]],
  ['where', (a, b) => F.where(F.gt(a, 0), a, b), [x, y]],
  ['clamp', (a) => F.clamp(a, -0.5, 0.5), [x]],
  ['to_dtype', (a) => F.to(a, 'float16'), [x]],
  ['relu', (a) => F.relu(a), [x]],
  ['sigmoid', (a) => F.sigmoid(a), [x]],
  ['tanh', (a) => F.tanh(a), [x]],
  ['silu', (a) => F.silu(a), [x]],
  ['selu', (a) => F.selu(a), [x]],
  ['softsign', (a) => F.softsign(a), [x]],
  ['hardsigmoid', (a) => F.hardsigmoid(a), [x]],
  ['leaky_relu', (a) => F.leakyRelu(a, 0.2), [x]],
  ['elu', (a) => F.elu(a, { alpha: 0.5 }), [x]],
  ['gelu', (a) => F.gelu(a, { approximate: 'tanh' }), [x]],
  ['softplus', (a) => F.softplus(a, 2, 5), [x]],
  ['hardtanh', (a) => F.hardtanh(a, { minVal: -0.3, maxVal: 0.7 }), [x]],
  ['prelu', (a, w) => F.prelu(a, w), [img, ch2]],
  ['dropout', (a) => F.dropout(a, 0.3, false), [x]],
  ['sum', (a) => F.sum(a, [1, 2], true), [x]],
  ['mean', (a) => F.mean(a, -1), [x]],
  ['prod', (a) => F.prod(a, 0, { dtype: 'float16' }), [x]],
  ['amax', (a) => F.amax(a, [2, 3]), [x]],
  ['amin', (a) => F.amin(a), [x]],
  ['argmax', (a) => F.argmax(a, 1, true), [x]],
  ['argmin', (a) => F.argmin(a), [x]],
  ['softmax', (a) => F.softmax(a, -1), [x]],
  ['log_softmax', (a) => F.logSoftmax(a, 1, { dtype: 'float32' }), [x]],
  ['cumsum', (a) => F.cumsum(a, 2), [x]],
  ['topk', (a) => F.topk(a, 2, { dim: 1, largest: false }), [x]],
  ['batch_norm', (a, m, v) => F.batchNorm(a, m, v, ch2, ch2, { eps: 1e-3 }), [img, ch2, var2]],
  ['layer_norm', (a, w, b) => F.layerNorm(a, [5], w, b, { eps: 1e-12 }), [x, Tensor.randn([5], { seed: 31 }), Tensor.randn([5], { seed: 32 })]],
  ['group_norm', (a) => F.groupNorm(a, 2, ch2, ch2), [img]],
  ['instance_norm', (a) => F.instanceNorm(a, { weight: ch2 }), [img]],
  ['linear', (a, w, b) => F.linear(a, w, b), [y, Tensor.randn([2, 5], { seed: 30 }), Tensor.randn([2], { seed: 33 })]],
  ['matmul', (a, b) => F.matmul(a, F.transpose(b, 0, 1)), [x, y]],
  ['einsum', (a, b) => F.einsum('ij,kj->ik', a, b), [y, y]],
  ['scaled_dot_product_attention', (q, k, v) => F.scaledDotProductAttention(q, k, v, { isCausal: true, scale: 0.5 }), [q4, k4, v4]],
  ['conv1d', (a, w) => F.conv1d(a, w, bias3, 2, 1), [seq, w1]],
  ['conv2d', (a, w, b) => F.conv2d(a, w, b, { stride: 2, padding: 1 }), [img, w2, bias3]],
  ['conv3d', (a, w) => F.conv3d(a, w, null, { padding: [0, 1, 1], dilation: 1 }), [vol, w3]],
  ['conv_transpose1d', (a, w) => F.convTranspose1d(a, w, null, { stride: 2, outputPadding: 1 }), [seq, wt1]],
  ['conv_transpose2d', (a, w) => F.convTranspose2d(a, w, bias3, { stride: 2, padding: 1 }), [img, wt2]],
  ['conv_transpose3d', (a, w) => F.convTranspose3d(a, w, null, { stride: [1, 2, 2] }), [vol, wt3]],
  ['max_pool1d', (a) => F.maxPool1d(a, 3, 2, 1), [seq]],
  ['max_pool2d', (a) => F.maxPool2d(a, 3, { stride: 2, padding: 1, ceilMode: true }), [img]],
  ['max_pool3d', (a) => F.maxPool3d(a, 2), [vol]],
  ['avg_pool1d', (a) => F.avgPool1d(a, 2), [seq]],
  ['avg_pool2d', (a) => F.avgPool2d(a, 3, 1, 1, { countIncludePad: false }), [img]],
  ['avg_pool3d', (a) => F.avgPool3d(a, 2, { divisorOverride: 3 }), [vol]],
  ['adaptive_avg_pool1d', (a) => F.adaptiveAvgPool1d(a, 3), [seq]],
  ['adaptive_avg_pool2d', (a) => F.adaptiveAvgPool2d(a, [null, 4]), [img]],
  ['adaptive_avg_pool3d', (a) => F.adaptiveAvgPool3d(a, 1), [vol]],
  ['adaptive_max_pool2d', (a) => F.adaptiveMaxPool2d(a, [3, 2]), [img]],
  ['pad', (a) => F.pad(a, [1, 2, 0, 1], { mode: 'reflect' }), [img]],
  ['interpolate', (a) => F.interpolate(a, { scaleFactor: 2, mode: 'bilinear', alignCorners: false }), [img]],
  ['reshape', (a) => F.reshape(a, [6, -1]), [x]],
  ['permute', (a) => F.permute(a, [0, 2, 3, 1]), [x]],
  ['flatten', (a) => F.flatten(a, 1), [x]],
  ['squeeze', (a) => F.squeeze(F.unsqueeze(a, 1), 1), [y]],
  ['unsqueeze', (a) => F.unsqueeze(a, -1), [y]],
  ['expand', (a) => F.broadcastTo(a, [3, -1, -1]), [y]],
  ['tile', (a) => F.tile(a, [2, 1]), [y]],
  ['cat', (a, b) => F.cat([a, b], 0), [y, y]],
  ['stack', (a, b) => F.stack([a, b], { dim: 1 }), [y, y]],
  ['split', (a) => F.split(a, [1, 3], 0), [y]],
  ['chunk', (a) => F.chunk(a, 2, 1), [y]],
  ['slice', (a) => F.narrow(a, 1, -3, 2), [y]],
  ['index_select', (a, i) => F.indexSelect(a, 0, i), [y, selIdx]],
  ['gather', (a, i) => F.gather(a, 3, i), [x, gatherIdx]],
  ['embedding', (i, t) => F.embedding(i, t), [ids, table]],
  ['quantize_per_tensor', (a) => F.quantizePerTensor(a, 0.1, 3, 'uint8'), [x]],
  ['quantize_per_channel', (w) => F.quantizePerChannel(w, chScales, chZeros, 0, 'int8'), [w2]],
  ['dequantize', (a) => F.dequantize(F.quantizePerTensor(a, 0.05, -1, 'int8')), [x]],
];

/** The op names of docs/ACC_OPS.md's table ('max_pool1d/2d/3d' expands to three). */
function catalogue(): string[] {
  const text = readFileSync(new URL('../docs/ACC_OPS.md', import.meta.url), 'utf8');
  const names: string[] = [];
  for (const line of text.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    if (cells.length < 4 || cells[1] === 'family' || cells[1]!.startsWith('---')) continue;
    for (const token of cells[2]!.split(',').map((t) => t.trim())) {
      const [first, ...suffixes] = token.split('/');
      names.push(first!);
      for (const s of suffixes) names.push(first!.slice(0, first!.length - s.length) + s);
    }
  }
  return names;
}

describe('F: eager, symbolic and acc-traced results agree', () => {
  const used = new Set<string>();
  for (const [op, fn, inputs] of CASES) {
    it(`${op}`, () => {
      const { gm, accOps } = checkTraces(fn, inputs);
      expect(accOps).toContain(op);
      for (const o of accOps) used.add(o);
      expect(callTargets(gm).some((t) => t.startsWith('F.'))).toBe(true);
    });
  }
  it('covers every acc op of the catalogue except size and getitem (tensor methods cover those)', () => {
    const missing = catalogue().filter((n) => n !== 'size' && n !== 'getitem' && !used.has(n));
    expect(missing).toEqual([]);
  });
});

describe('F: custom mappers equal their acc formulas', () => {
  it('hardswish is x * hardsigmoid(x), relu6 is hardtanh(0, 6), mish is x * tanh(softplus(x))', () => {
    const t = Tensor.fromNumbers([-4, -3, -1.5, 0, 0.5, 3, 7, NaN], [8]);
    expectSame(F.hardswish(t), acc.mul({ input: t, other: acc.hardsigmoid({ input: t }) }));
    expectSame(F.relu6(t), acc.hardtanh({ input: t, min_val: 0, max_val: 6 }));
    expect(Array.from(F.relu6(t).toFloat32()).slice(0, 7)).toEqual([0, 0, 0, 0, 0.5, 3, 6]);
    expectSame(F.mish(t), acc.mul({ input: t, other: acc.tanh({ input: acc.softplus({ input: t }) }) }));
    expect(checkTraces((a) => F.hardswish(a), [x]).accOps).toEqual(['hardsigmoid', 'mul']);
    expect(checkTraces((a) => F.mish(a), [x]).accOps).toEqual(['softplus', 'tanh', 'mul']);
  });

  it('max/min: full reduction, [values, indices] along a dim, and the elementwise form', () => {
    expectSame(F.max(x), acc.amax({ input: x }));
    expectSame(F.min(x), acc.amin({ input: x }));
    const [v, i] = F.max(x, 1, true);
    expectSame(v, acc.amax({ input: x, dim: 1, keepdim: true }));
    expectSame(i, acc.argmax({ input: x, dim: 1, keepdim: true }));
    expectSame(F.min(x, { dim: -1 }), [acc.amin({ input: x, dim: -1 }), acc.argmin({ input: x, dim: -1 })]);
    expectSame(F.max(x, y), acc.maximum({ input: x, other: y }));
    expectSame(F.min(x, y), acc.minimum({ input: x, other: y }));
    const { gm, accOps } = checkTraces((a) => { const [mv, mi] = F.max(a, 2); return F.add(mv, F.to(mi, 'float32')); }, [x]);
    expect(accOps).toEqual(['amax', 'argmax', 'to_dtype', 'add']);
    expect(gm.graph.toString()).toMatch(/call_function\[target=getitem\]\(args = \(%max, 1\)/);
    // @ts-expect-error: a list of dims is not accepted here
    expect(() => F.max(x, [1, 2])).toThrow(/F\.max: argument 'dim' expects an int, got \[number 1, number 2\]/);
  });

  it('transpose is a permute swapping two dims (negative dims allowed)', () => {
    expectSame(F.transpose(x, 1, -1), acc.permute({ input: x, permutation: [0, 3, 2, 1] }));
    expect(checkTraces((a) => F.transpose(a, 0, 2), [x]).accOps).toEqual(['permute']);
    expect(() => F.transpose(x, 0, 4)).toThrow(/F\.transpose: dim1 4 is out of range for a tensor of rank 4/);
  });

  it("conv 'same' pads asymmetric totals on the right first (even kernels), symmetric ones in the conv", () => {
    const s = Tensor.fromNumbers([1, 2, 3, 4], [1, 1, 4]);
    const k = Tensor.fromNumbers([1, 1], [1, 1, 2]);
    // Total padding 1: nothing on the left, one zero on the right, as ATen does.
    expect(Array.from(F.conv1d(s, k, null, { padding: 'same' }).toFloat32())).toEqual([3, 5, 7, 4]);
    const even = Tensor.randn([3, 2, 2, 4], { seed: 40 });
    const out = F.conv2d(img, even, bias3, { padding: 'same' });
    expect(out.shape).toEqual([1, 3, 6, 6]);
    // Totals: H 1 → (0, 1); W 3 → (1, 2): the extra bottom row and right column are padded first.
    const padded = acc.pad({ input: img, pad: [0, 1, 0, 1] });
    expectSame(out, acc.conv2d({ input: padded, weight: even, bias: bias3, stride: [1, 1], padding: [0, 1], dilation: [1, 1] }));
    expect(checkTraces((a) => F.conv2d(a, even, null, { padding: 'same' }), [img]).accOps).toEqual(['pad', 'conv2d']);
    // dilation 2 with kernel 2 pads 1 on both sides: no pad op.
    expect(checkTraces((a) => F.conv2d(a, even, null, { padding: 'same', dilation: 2 }), [img]).accOps).toEqual(['conv2d']);
    expectSame(F.conv2d(img, w2, null, { padding: 'valid' }), F.conv2d(img, w2));
    expect(() => F.conv2d(img, w2, null, { padding: 'same', stride: 2 })).toThrow(/F\.conv2d: padding='same' is not supported for strided convolutions/);
    // @ts-expect-error: an unknown padding mode
    expect(() => F.conv2d(img, w2, null, { padding: 'full' })).toThrow(/F\.conv2d: argument 'padding' must be an int, a list of 2 ints, 'same' or 'valid', got 'full'/);
    expect(() => F.conv2d(img, w2, null, { stride: [1, 2, 3] })).toThrow(/F\.conv2d: argument 'stride' expects an int or a list of 2 ints, got \[number 1, number 2, number 3\]/);
  });

  it('normalizes ints to per-dim lists (_pair/_triple) and defaults the pooling stride to the kernel', () => {
    expectSame(F.conv2d(img, w2, bias3, 1, [1], 1, 1), acc.conv2d({ input: img, weight: w2, bias: bias3, stride: [1, 1], padding: [1, 1], dilation: [1, 1] }));
    expectSame(F.maxPool2d(img, 2), acc.max_pool2d({ input: img, kernel_size: [2, 2], stride: [2, 2], padding: [0, 0], dilation: [1, 1] }));
    expectSame(F.avgPool3d(vol, [2, 1, 2]), acc.avg_pool3d({ input: vol, kernel_size: [2, 1, 2], stride: [2, 1, 2], padding: [0, 0, 0] }));
    expectSame(F.convTranspose2d(img, wt2, null, 2), acc.conv_transpose2d({
      input: img, weight: wt2, stride: [2, 2], padding: [0, 0], output_padding: [0, 0], dilation: [1, 1],
    }));
    expectSame(F.adaptiveAvgPool2d(img, [null, 3]), acc.adaptive_avg_pool2d({ input: img, output_size: [6, 3] }));
    expect(() => F.maxPool2d(img, 2, { returnIndices: true })).toThrow(/F\.maxPool2d: returnIndices=true is not supported/);
  });

  it('interpolate resolves size / scaleFactor per spatial dim, and area mode to adaptive average pooling', () => {
    expectSame(F.interpolate(img, { size: 9 }), acc.interpolate({ input: img, size: [9, 9] }));
    expectSame(F.interpolate(img, null, [2, 1.5], 'bicubic', true),
      acc.interpolate({ input: img, scale_factor: [2, 1.5], mode: 'bicubic', align_corners: true }));
    expectSame(F.interpolate(img, { scaleFactor: 1.5, mode: 'bilinear', recomputeScaleFactor: true }),
      acc.interpolate({ input: img, size: [9, 9], mode: 'bilinear', align_corners: false }));
    expectSame(F.interpolate(img, { size: [3, 2], mode: 'area' }), acc.adaptive_avg_pool2d({ input: img, output_size: [3, 2] }));
    expectSame(F.upsampleBilinear(img, { scaleFactor: 2 }), acc.interpolate({ input: img, scale_factor: [2, 2], mode: 'bilinear', align_corners: true }));
    expectSame(F.upsampleNearest(img, [12, 12]), acc.interpolate({ input: img, size: [12, 12] }));
    expect(() => F.interpolate(img, { size: 2, scaleFactor: 2 })).toThrow(/F\.interpolate: exactly one of 'size' and 'scaleFactor' must be given/);
    expect(() => F.interpolate(img, { scaleFactor: 2, alignCorners: true })).toThrow(/F\.interpolate: 'alignCorners' can only be set/);
    expect(() => F.interpolate(img, { scaleFactor: 2, mode: 'trilinear' })).toThrow(/F\.interpolate: got a 4-D input, but mode 'trilinear' needs a 5-D input/);
  });

  it('add/sub scale other by alpha and reject a fractional alpha on integers', () => {
    expectSame(F.add(x, y, { alpha: 2 }), acc.add({ input: x, other: acc.mul({ input: y, other: 2 }) }));
    expectSame(F.sub(ints, 2, { alpha: 3 }), acc.sub({ input: ints, other: 6 }));
    expect(() => F.add(ints, ints, { alpha: 0.5 })).toThrow(/F\.add: for integral input tensors, argument 'alpha' must not be a floating point number, got 0\.5/);
  });

  it('addmm, mm and bmm are matmuls (mm/bmm check ranks)', () => {
    const a = Tensor.randn([3, 4], { seed: 41 });
    const b = Tensor.randn([4, 2], { seed: 42 });
    const c = Tensor.randn([2], { seed: 43 });
    const mm = acc.matmul({ input: a, other: b });
    expectSame(F.mm(a, b), mm);
    expectSame(F.addmm(c, a, b, { beta: 0.5, alpha: 2 }), acc.add({ input: acc.mul({ input: c, other: 0.5 }), other: acc.mul({ input: mm, other: 2 }) }));
    expectSame(F.addmm(c, a, b, { beta: 0 }), mm);
    expect(() => F.bmm(a, b)).toThrow(/F\.bmm: 'input' must be a 3-D tensor, got shape \[3, 4\]/);
  });

  it('batchNorm with training uses batch statistics; instanceNorm with running stats is a batch norm', () => {
    const dims = [0, 2, 3];
    const mean = acc.mean({ input: img, dim: dims, keepdim: true });
    const centered = acc.sub({ input: img, other: mean });
    const variance = acc.mean({ input: acc.mul({ input: centered, other: centered }), dim: dims, keepdim: true });
    let ref = acc.mul({ input: centered, other: acc.rsqrt({ input: acc.add({ input: variance, other: 1e-5 }) }) });
    ref = acc.mul({ input: ref, other: acc.reshape({ input: ch2, shape: [2, 1, 1] }) });
    expectSame(F.batchNorm(img, null, null, ch2, null, true), ref);
    checkTraces((a) => F.batchNorm(a, null, null, null, null, true), [img]);
    expectSame(F.instanceNorm(img, ch2, var2, { useInputStats: false }), acc.batch_norm({ input: img, running_mean: ch2, running_var: var2 }));
    expect(() => F.batchNorm(img, null, null)).toThrow(/F\.batchNorm: 'runningMean' and 'runningVar' are required when not training/);
    expectSame(F.layerNorm(x, 5), acc.layer_norm({ input: x, normalized_shape: [5] }));
  });

  it('narrow, squeeze with a list, tile with fewer dims, split and chunk', () => {
    expectSame(F.narrow(y, 0, -2, 2), acc.slice({ input: y, dim: 0, start: 2, end: 4 }));
    expect(() => F.narrow(y, 0, 3, 2)).toThrow(/F\.narrow: start \(3\) \+ length \(2\) exceeds dimension size \(4\)/);
    const u = Tensor.randn([1, 3, 1, 2], { seed: 44 });
    expectSame(F.squeeze(u, [0, -2]), acc.reshape({ input: u, shape: [3, 2] }));
    expectSame(F.squeeze(u, [0, 1]), acc.reshape({ input: u, shape: [3, 1, 2] }));
    expectSame(F.tile(y, [2]), acc.tile({ input: y, dims: [1, 2] }));
    expectSame(F.split(y, 3, 0), acc.split({ input: y, split_size_or_sections: 3 }));
    expectSame(F.chunk(y, 2, -1), acc.chunk({ input: y, chunks: 2, dim: -1 }));
  });
});

describe('F: calling conventions', () => {
  it('positional arguments, options objects and mixes of both bind the same parameters', () => {
    const ref = F.conv2d(img, w2, bias3, 2, 1);
    expectSame(F.conv2d(img, w2, bias3, { stride: 2, padding: 1 }), ref);
    expectSame(F.conv2d(img, w2, { bias: bias3, stride: [2, 2], padding: 1 }), ref);
    expectSame(F.conv2d(img, w2, bias3, 2, { padding: [1, 1] }), ref);
    expectSame(F.conv2d(img, w2, undefined, { bias: bias3, stride: 2, padding: 1, dilation: undefined }), ref);
    expectSame(F.layerNorm(x, [5], null, null, { eps: 1e-12 }), F.layerNorm(x, [5], { eps: 1e-12 }));
    expectSame(F.clamp(x, { min: 0 }), F.clamp(x, 0));
    expectSame(F.einsum('ij,kj->ik', [y, y]), F.einsum('ij,kj->ik', y, y));
    expectSame(F.sum(x, { dim: [0, 1], keepdim: true }), F.sum(x, [0, 1], true));
  });

  it('errors for unknown options, too many or missing arguments name the function', () => {
    // @ts-expect-error: an option F.relu does not have
    expect(() => F.relu(x, { slope: 1 })).toThrow(/F\.relu: unexpected argument 'slope' \(expected one of: input, inplace\)/);
    // @ts-expect-error: too many arguments
    expect(() => F.softmax(x, 1, 2, 3)).toThrow(/F\.softmax: takes at most 2 positional arguments, got 4/);
    // @ts-expect-error: a missing argument
    expect(() => F.transpose(x, 1)).toThrow(/F\.transpose: missing required argument 'dim1'/);
    expect(() => F.conv2d(img, w2, bias3, 1, { stride: 2 })).toThrow(/F\.conv2d: got multiple values for argument 'stride'/);
    expect(() => F.embedding(ids, table, { maxNorm: 1 })).toThrow(/F\.embedding: 'maxNorm' is not supported/);
  });

  it('inplace: true writes the result into the input and returns it; traced graphs stay functional', () => {
    const t = Tensor.fromNumbers([-1, 2, -3], [3]);
    const r = F.relu(t, { inplace: true });
    expect(r).toBe(t);
    expect(Array.from(t.toFloat32())).toEqual([0, 2, 0]);
    const h = Tensor.fromNumbers([-1, 2, 8], [3], 'float16');
    expect(F.hardtanh(h, 0, 6, true)).toBe(h);
    expect(h.dtype).toBe('float16');
    expect(Array.from(h.toFloat32())).toEqual([0, 2, 6]);
    const u = Tensor.fromNumbers([-1, 2], [2]);
    expect(F.relu(u)).not.toBe(u);
    expect(Array.from(u.toFloat32())).toEqual([-1, 2]);
    const gm = symbolicTrace((a: Tensor) => F.leakyRelu(a, { negativeSlope: 0.1, inplace: true }));
    expect(gm.graph.toString()).toMatch(/call_function\[target=F\.leakyRelu\]\(args = \(%\w+,\), kwargs = \{negativeSlope: 0\.1, inplace: true\}\)/);
    const input = x.clone();
    expectSame(accTrace(gm, [input]).forward(input), F.leakyRelu(x, 0.1));
    expectSame(input, x);
  });

  it('dropout in training mode (the function default) zeroes or rescales each element', () => {
    const ones = Tensor.ones([1000]);
    const vals = new Set(Array.from(F.dropout(ones, 0.5).toFloat32()));
    expect([...vals].sort()).toEqual([0, 2]);
    expectSame(F.dropout(ones, 0.5, false), ones);
  });
});

describe('F: tracing', () => {
  it('symbolicTrace records call_function nodes with the F function as target; accTrace expands them', () => {
    const w = Tensor.randn([4, 2, 3, 3], { seed: 50 });
    function net(inp: Tensor): Tensor {
      const h = F.relu(F.conv2d(inp, w, null, { stride: 2, padding: 1 }));
      return F.flatten(F.adaptiveAvgPool2d(h, 1), 1);
    }
    const { gm, accOps } = checkTraces(net, [img]);
    const text = gm.graph.toString();
    expect(text).toMatch(/%conv2d : \[num_users=1\] = call_function\[target=F\.conv2d\]\(args = \(%\w+, %_tensor_constant0, null\), kwargs = \{stride: 2, padding: 1\}\)/);
    expect(text).toContain('call_function[target=F.relu](args = (%conv2d,), kwargs = {})');
    expect(text).toContain('call_function[target=F.adaptiveAvgPool2d](args = (%relu, 1), kwargs = {})');
    expect(text).toContain('call_function[target=F.flatten](args = (%adaptiveAvgPool2d, 1), kwargs = {})');
    expect(accOps).toEqual(['conv2d', 'relu', 'adaptive_avg_pool2d', 'flatten']);
  });

  it('tuple results with a known length are unpacked into getitem nodes', () => {
    const { gm } = checkTraces((a) => {
      const [v, i] = F.topk(a, 2);
      const [p, q] = F.split(a, [2, 3], -1);
      const [c0, c1] = F.chunk(a, 2, 1);
      return [F.add(v, F.to(i, 'float32')), F.cat([q, p], -1), F.sub(c0, c1)];
    }, [Tensor.randn([3, 4, 5], { seed: 51 })]);
    expect(gm.graph.toString().match(/target=getitem/g)?.length).toBe(6);
  });
});

describe('acc: the callable acc-op namespace', () => {
  it('calls the reference kernel eagerly and records acc nodes while tracing', () => {
    expectSame(acc.relu({ input: x }), F.relu(x));
    expectSame(acc.topk({ input: x, k: 2 }), F.topk(x, 2));
    const gm = symbolicTrace((a: Tensor) => acc.leaky_relu({ input: acc.add({ input: a, other: 1 }), negative_slope: 0.2 }));
    expect(gm.graph.toString()).toContain('call_function[target=acc.leaky_relu](args = (), kwargs = {input: %add, negative_slope: 0.2})');
    expectSame(gm.forward(x), F.leakyRelu(F.add(x, 1), 0.2));
  });

  it('lists the registered ops and reads unknown names as undefined', () => {
    expect(Object.keys(acc)).toContain('conv2d');
    expect('relu' in acc).toBe(true);
    expect(Reflect.get(acc, 'no_such_op')).toBeUndefined();
    // @ts-expect-error: acc.add has no alpha
    expect(() => acc.add({ input: x, other: y, alpha: 2 })).toThrow(/acc\.add: unexpected argument 'alpha'/);
  });
});
