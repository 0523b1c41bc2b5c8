import { describe, expect, it } from 'vitest';
import '../src/nn/tensor_methods.js';
import { acc } from '../src/acc_ops/callable.js';
import { accTrace } from '../src/acc_ops/acc_tracer.js';
import { methodNames } from '../src/acc_ops/dispatch.js';
import type { GraphModule } from '../src/ir/graph_module.js';
import { slice } from '../src/ir/node.js';
import { symbolicTrace } from '../src/ir/tracer.js';
import { Tensor } from '../src/tensor/tensor.js';

/** Same dtype, shape and bytes, recursively through tuples. */
function expectSame(actual: unknown, expected: unknown): void {
  if (Array.isArray(expected)) {
    expect(Array.isArray(actual)).toBe(true);
    const a = actual as unknown[];
    expect(a.length).toBe(expected.length);
    expected.forEach((e, i) => expectSame(a[i], e));
    return;
  }
  if (!(expected instanceof Tensor)) {
    expect(actual).toEqual(expected);
    return;
  }
  expect(actual).toBeInstanceOf(Tensor);
  const a = actual as Tensor;
  expect(a.dtype).toBe(expected.dtype);
  expect(a.shape).toEqual(expected.shape);
  expect(Buffer.from(a.bytes()).equals(Buffer.from(expected.bytes()))).toBe(true);
}

function callTargets(gm: GraphModule): string[] {
  return gm.graph.nodeList().flatMap((n) => (n.op === 'call_function' ? [n.target.name] : n.op === 'call_method' ? [`method:${n.target}`] : []));
}

/** Eager, symbolically traced and acc-traced results agree bit for bit; the acc graph holds only acc ops. */
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

const x = Tensor.randn([2, 3, 4], { seed: 1 });
const y = Tensor.randn([3, 4], { seed: 2 });
const ints = Tensor.randint(-5, 6, [3, 4], { seed: 3 });

describe('tensor methods: eager results equal the acc kernels', () => {
  const cases: ReadonlyArray<readonly [string, () => unknown, () => unknown]> = [
    ['add', () => x.add(y, { alpha: 2 }), () => acc.add({ input: x, other: acc.mul({ input: y, other: 2 }) })],
    ['sub', () => x.sub(1), () => acc.sub({ input: x, other: 1 })],
    ['mul', () => x.mul(y), () => acc.mul({ input: x, other: y })],
    ['div', () => ints.div(2, { roundingMode: 'trunc' }), () => acc.div({ input: ints, other: 2, rounding_mode: 'trunc' })],
    ['floorDivide', () => ints.floorDivide(3), () => acc.floor_div({ input: ints, other: 3 })],
    ['pow', () => x.pow(3), () => acc.pow({ input: x, exponent: 3 })],
    ['remainder', () => ints.remainder(-3), () => acc.remainder({ input: ints, other: -3 })],
    ['eq', () => ints.eq(0), () => acc.eq({ input: ints, other: 0 })],
    ['le', () => x.le(y), () => acc.le({ input: x, other: y })],
    ['logicalNot', () => x.gt(0).logicalNot(), () => acc.logical_not({ input: acc.gt({ input: x, other: 0 }) })],
    ['neg', () => x.neg(), () => acc.neg({ input: x })],
    ['exp', () => x.exp(), () => acc.exp({ input: x })],
    ['rsqrt', () => x.rsqrt(), () => acc.rsqrt({ input: x })],
    ['isnan', () => x.log().isnan(), () => acc.isnan({ input: acc.log({ input: x }) })],
    ['clamp', () => x.clamp({ max: 0.5 }), () => acc.clamp({ input: x, max: 0.5 })],
    ['relu', () => x.relu(), () => acc.relu({ input: x })],
    ['sigmoid', () => x.sigmoid(), () => acc.sigmoid({ input: x })],
    ['softmax', () => x.softmax(-1), () => acc.softmax({ input: x, dim: -1 })],
    ['logSoftmax', () => x.logSoftmax(1, { dtype: 'float16' }), () => acc.log_softmax({ input: acc.to_dtype({ input: x, dtype: 'float16' }), dim: 1 })],
    ['sum', () => x.sum([0, 2], true), () => acc.sum({ input: x, dim: [0, 2], keepdim: true })],
    ['mean', () => x.mean(), () => acc.mean({ input: x })],
    ['max', () => x.max(1), () => [acc.amax({ input: x, dim: 1 }), acc.argmax({ input: x, dim: 1 })]],
    ['min', () => x.min(), () => acc.amin({ input: x })],
    ['argmax', () => x.argmax(-1, true), () => acc.argmax({ input: x, dim: -1, keepdim: true })],
    ['cumsum', () => x.cumsum(2), () => acc.cumsum({ input: x, dim: 2 })],
    ['topk', () => x.topk(2, { largest: false }), () => acc.topk({ input: x, k: 2, largest: false })],
    ['matmul', () => x.matmul(y.t()), () => acc.matmul({ input: x, other: acc.permute({ input: y, permutation: [1, 0] }) })],
    ['transpose', () => x.transpose(0, 2), () => acc.permute({ input: x, permutation: [2, 1, 0] })],
    ['flatten', () => x.flatten(1), () => acc.flatten({ input: x, start_dim: 1 })],
    ['squeeze', () => x.unsqueeze(0).squeeze(0), () => x],
    ['expandAs', () => y.expandAs(x), () => acc.expand({ input: y, sizes: [2, 3, 4] })],
    ['repeat', () => y.repeat(2, 1, 1), () => acc.tile({ input: y, dims: [2, 1, 1] })],
    ['chunk', () => x.chunk(2, -1), () => acc.chunk({ input: x, chunks: 2, dim: -1 })],
    ['split', () => x.split([1, 2], 1), () => acc.split({ input: x, split_size_or_sections: [1, 2], dim: 1 })],
    ['narrow', () => x.narrow(2, 1, 2), () => acc.slice({ input: x, dim: 2, start: 1, end: 3 })],
    ['gather', () => y.gather(1, Tensor.fromNumbers([0, 3, 1], [3, 1], 'int64')),
      () => acc.gather({ input: y, dim: 1, index: Tensor.fromNumbers([0, 3, 1], [3, 1], 'int64') })],
    ['indexSelect', () => y.indexSelect(0, Tensor.fromNumbers([2, 0], [2], 'int64')),
      () => acc.index_select({ input: y, dim: 0, index: Tensor.fromNumbers([2, 0], [2], 'int64') })],
    ['where', () => x.where(x.gt(0), 0), () => acc.where({ condition: acc.gt({ input: x, other: 0 }), input: x, other: 0 })],
    ['to', () => x.to('bfloat16'), () => acc.to_dtype({ input: x, dtype: 'bfloat16' })],
    ['half', () => x.half(), () => acc.to_dtype({ input: x, dtype: 'float16' })],
    ['long', () => x.long(), () => acc.to_dtype({ input: x, dtype: 'int64' })],
    ['typeAs', () => x.typeAs(ints), () => acc.to_dtype({ input: x, dtype: 'int64' })],
    ['size', () => x.size(), () => [2, 3, 4]],
    ['size(dim)', () => x.size(-1), () => 4],
    ['dequantize', () => acc.quantize_per_tensor({ input: x, scale: 0.1, zero_point: 0, dtype: 'int8' }).dequantize(),
      () => acc.dequantize({ input: acc.quantize_per_tensor({ input: x, scale: 0.1, zero_point: 0, dtype: 'int8' }) })],
  ];
  for (const [name, method, reference] of cases) it(name, () => expectSame(method(), reference()));

  it('every defined method is installed on Tensor.prototype', () => {
    for (const name of methodNames()) expect(typeof Reflect.get(Tensor.prototype, name)).toBe('function');
  });
});

describe('tensor methods: variadic forms and options', () => {
  it('reshape/view/permute/expand/repeat/tile take a list or separate ints', () => {
    expectSame(x.reshape(6, -1), x.reshape([6, -1]));
    expectSame(x.view(4, 6), acc.reshape({ input: x, shape: [4, 6] }));
    expectSame(x.permute(2, 0, 1), x.permute([2, 0, 1]));
    expectSame(x.permute(2, 0, 1), acc.permute({ input: x, permutation: [2, 0, 1] }));
    expectSame(y.expand(2, -1, -1), y.expand([2, -1, -1]));
    expectSame(y.repeat([1, 2]), y.repeat(1, 2));
    expectSame(y.tile(2), acc.tile({ input: y, dims: [1, 2] }));
    expectSame(x.reshape(24), acc.reshape({ input: x, shape: [24] }));
  });

  it('repeat needs a count per dim; t() needs rank ≤ 2', () => {
    expect(() => x.repeat(2, 2)).toThrow(/Tensor\.repeat: the number of repeat dims \(2\) can not be smaller than the tensor's rank \(3\)/);
    expect(() => x.t()).toThrow(/Tensor\.t: expects a tensor of rank 2 or less, got rank 3/);
    const v = Tensor.fromNumbers([1, 2], [2]);
    expect(v.t()).toBe(v);
  });

  it('errors for unknown options and missing arguments name the method', () => {
    // @ts-expect-error: an option add does not have
    expect(() => x.add(y, { beta: 2 })).toThrow(/add: unexpected argument 'beta' \(expected one of: input, other, alpha\)/);
    // @ts-expect-error: a missing argument
    expect(() => x.softmax()).toThrow(/softmax: missing required argument 'dim'/);
    // @ts-expect-error: too many arguments
    expect(() => x.transpose(0, 1, 2)).toThrow(/transpose: takes at most 3 positional arguments, got 4/);
  });
});

describe('tensor methods: conversions, contiguous, fill', () => {
  it('casts return the receiver when it already has the dtype (as PyTorch)', () => {
    expect(x.float()).toBe(x);
    expect(x.to('float32')).toBe(x);
    expect(x.to(y)).toBe(x);
    expect(x.int().dtype).toBe('int32');
    expect(ints.bool().dtype).toBe('bool');
    expect(ints.byte().dtype).toBe('uint8');
    expect(ints.char().dtype).toBe('int8');
    expect(x.bfloat16().dtype).toBe('bfloat16');
    // @ts-expect-error: not a dtype
    expect(() => x.to('float64')).toThrow(/Tensor\.to: expects a dtype or a Tensor, got string "float64"/);
  });

  it('contiguous is the receiver itself and leaves no node in the acc graph', () => {
    expect(x.contiguous()).toBe(x);
    const { gm, accOps } = checkTraces((a) => a.contiguous().relu(), [x]);
    expect(gm.graph.toString()).toContain('call_method[target=contiguous]');
    expect(accOps).toEqual(['relu']);
  });

  it('fill and zero give the receiver shape and dtype, NaN elements included', () => {
    const t = Tensor.fromNumbers([NaN, Infinity, 1], [3], 'float16');
    expectSame(t.fill(2.5), Tensor.fromNumbers([2.5, 2.5, 2.5], [3], 'float16'));
    expectSame(t.zero(), Tensor.zeros([3], 'float16'));
    expectSame(ints.fill(2.7), Tensor.full([3, 4], 2, 'int64'));
    expectSame(y.fill(Tensor.fromNumbers([3], [], 'int32')), Tensor.full([3, 4], 3));
    expect(() => y.fill(y)).toThrow(/Tensor\.fill: a tensor fill value must be 0-d, got shape \[3, 4\]/);
    const { accOps } = checkTraces((a) => a.fill(1).add(a), [y]);
    expect(accOps).toEqual(['expand', 'add']);
  });

  it('maskedFill fills where the mask holds and keeps the receiver dtype', () => {
    const mask = ints.gt(0);
    const filled = ints.maskedFill(mask, 0.5);
    expect(filled.dtype).toBe('int64');
    expectSame(filled, acc.to_dtype({ input: acc.where({ condition: mask, input: 0.5, other: ints }), dtype: 'int64' }));
    expectSame(x.maskedFill(x.lt(0), -Infinity), acc.where({ condition: acc.lt({ input: x, other: 0 }), input: -Infinity, other: x }));
  });
});

describe('tensor methods: index (Python-style x[...])', () => {
  const t = Tensor.arange(0, 24).reshape(2, 3, 4);

  it('slices, ints, null and the ellipsis', () => {
    // t[None, 1:3, 0] — here dim 0 has size 2, so 1:3 clamps to 1:2.
    expectSame(t.index([null, slice(1, 3), 0]),
      acc.unsqueeze({ input: acc.squeeze({ input: acc.slice({ input: acc.slice({ input: t, dim: 0, start: 1, end: 3 }), dim: 1, start: 0, end: 1 }), dim: 1 }), dim: 0 }));
    expect(t.index(null, slice(1, 3), 0).shape).toEqual([1, 1, 4]);
    expect(t.index(0, -1).toArray()).toEqual([8, 9, 10, 11]);
    expect(t.index('...', 1).toArray()).toEqual([[1, 5, 9], [13, 17, 21]]);
    expect(t.index(1, '...', slice(null, null, 2), null).shape).toEqual([3, 2, 1]);
    expect(t.index(slice(null), slice(-2), slice(1, null, 2)).toArray()).toEqual([[[5, 7], [9, 11]], [[17, 19], [21, 23]]]);
    expect(t.index(1, 2, 3).shape).toEqual([]);
    expect(t.index(1, 2, 3).item()).toBe(23);
    expect(t.index([]).shape).toEqual([2, 3, 4]);
  });

  it('a single integer tensor index selects along its dim, negative indices from the end', () => {
    const idx = Tensor.fromNumbers([-1, 0], [2], 'int64');
    expect(t.index(slice(null), idx).toArray()).toEqual([[[8, 9, 10, 11], [0, 1, 2, 3]], [[20, 21, 22, 23], [12, 13, 14, 15]]]);
    const idx2 = Tensor.fromNumbers([3, 0, 1, 1], [2, 2], 'int32');
    expect(t.index('...', idx2).shape).toEqual([2, 3, 2, 2]);
    expect(t.index('...', idx2).index(0, 0).toArray()).toEqual([[3, 0], [1, 1]]);
  });

  it('errors name the method and the offending item', () => {
    expect(() => t.index(0, 0, 0, 0)).toThrow(/Tensor\.index: too many indices for a tensor of rank 3 \(4 given\)/);
    expect(() => t.index(0, 5)).toThrow(/Tensor\.index: index 5 is out of bounds for dim 1 with size 3/);
    expect(() => t.index('...', 0, '...')).toThrow(/Tensor\.index: an index can only have a single ellipsis/);
    expect(() => t.index(slice(null, null, -1))).toThrow(/Tensor\.index: slice step must be a positive int, got -1/);
    expect(() => t.index(t.gt(3))).toThrow(/Tensor\.index: tensor indices must be int64 or int32 \(boolean masks are not supported\), got bool/);
    expect(() => t.index(0, Tensor.fromNumbers([0], [1], 'int64'))).toThrow(/Tensor\.index: only a single tensor index, not combined with integer indices/);
    // @ts-expect-error: not an index item
    expect(() => t.index('x')).toThrow(/Tensor\.index: index item 0 must be an int, a slice, null, '\.\.\.' or an integer tensor, got string "x"/);
  });

  it('traces to slice / squeeze / unsqueeze / index_select acc ops', () => {
    const idx = Tensor.fromNumbers([2, -1], [2], 'int64');
    const { gm, accOps } = checkTraces((a) => a.index(null, '...', slice(1, 3), 0).add(a.index(slice(null), idx).sum(-1)), [t.float()]);
    expect(gm.graph.toString()).toContain('call_method[target=index]');
    expect(accOps).toEqual(['unsqueeze', 'slice', 'slice', 'squeeze', 'lt', 'add', 'where', 'index_select', 'sum', 'add']);
  });
});

describe('tensor methods: in place', () => {
  it('mutates the receiver, returns it and keeps its dtype', () => {
    const h = Tensor.fromNumbers([1, -2, 3], [3], 'float16');
    const other = Tensor.fromNumbers([0.5, 0.25, 0.125], [3], 'float32');
    const expected = acc.to_dtype({ input: acc.add({ input: h, other }), dtype: 'float16' });
    expect(h.add_(other)).toBe(h);
    expect(h.dtype).toBe('float16');
    expectSame(h, expected);
    const steps: ReadonlyArray<readonly [(t: Tensor) => Tensor, number[]]> = [
      [(t) => t.sub_(1, { alpha: 2 }), [-1, -4, 1]],
      [(t) => t.mul_(2), [-2, -8, 2]],
      [(t) => t.div_(4), [-0.5, -2, 0.5]],
      [(t) => t.clamp_(-1, 1), [-0.5, -1, 0.5]],
      [(t) => t.relu_(), [0, 0, 0.5]],
      [(t) => t.maskedFill_(t.eq(0), 3), [3, 3, 0.5]],
      [(t) => t.tanh_().sigmoid_(), [Math.fround(1 / (1 + Math.exp(-Math.tanh(3)))), Math.fround(1 / (1 + Math.exp(-Math.tanh(3)))), Math.fround(1 / (1 + Math.exp(-Math.tanh(0.5))))]],
      [(t) => t.fill_(7), [7, 7, 7]],
      [(t) => t.zero_(), [0, 0, 0]],
    ];
    const t = Tensor.fromNumbers([1, -2, 3], [3]);
    for (const [op, values] of steps) {
      expect(op(t)).toBe(t);
      expect(Array.from(t.toFloat32())).toEqual(values.map(Math.fround));
    }
    const i = Tensor.fromNumbers([5, -7], [2], 'int32');
    expect(i.div_(2, { roundingMode: 'floor' })).toBe(i);
    expect(i.dtype).toBe('int32');
    expect(i.toArray()).toEqual([2, -4]);
  });

  it('symbolic tracing records the in-place call_method', () => {
    const gm = symbolicTrace((a: Tensor) => a.mul(2).add_(1));
    expect(gm.graph.toString()).toMatch(/call_method\[target=add_\]\(args = \(%mul, 1\), kwargs = \{\}\)/);
    expectSame(gm.forward(y), y.mul(2).add(1));
  });
});

describe('tensor methods: tracing', () => {
  it('symbolicTrace records call_method nodes; accTrace maps them to acc ops', () => {
    function net(inp: Tensor): Tensor {
      const h = inp.reshape(inp.shape[0], -1).relu();
      return h.softmax(-1).permute(1, 0).sum(0, true);
    }
    const { gm, accOps } = checkTraces(net, [x]);
    const text = gm.graph.toString();
    expect(text).toMatch(/call_method\[target=size\]\(args = \(%\w+, 0\), kwargs = \{\}\)/);
    expect(text).toMatch(/call_method\[target=reshape\]\(args = \(%\w+, %size, -1\), kwargs = \{\}\)/);
    expect(text).toContain('call_method[target=permute](args = (%softmax, 1, 0), kwargs = {})');
    expect(text).toContain('call_method[target=sum](args = (%permute, 0, true), kwargs = {})');
    expect(accOps).toEqual(['size', 'reshape', 'relu', 'softmax', 'permute', 'sum']);
  });

  it('tuple-valued methods unpack into getitem nodes while tracing', () => {
    const { gm } = checkTraces((a) => {
      const [v, i] = a.max(-1);
      const [lo, hi] = a.chunk(2, 1);
      const [t0] = a.topk(1);
      return v.add(i.float()).add(lo.sum()).add(hi.mean()).add(t0.squeeze(-1));
    }, [Tensor.randn([2, 4, 3], { seed: 9 })]);
    expect(gm.graph.toString().match(/target=getitem/g)?.length).toBe(6);
  });
});
