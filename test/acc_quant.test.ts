import { describe, expect, it } from 'vitest';
import '../src/acc_ops/ops/index.js';
import { accTrace } from '../src/acc_ops/acc_tracer.js';
import { getAccOp } from '../src/acc_ops/registry.js';
import { compile } from '../src/compile.js';
import { Graph } from '../src/ir/graph.js';
import { GraphModule } from '../src/ir/graph_module.js';
import type { AnyNode, TensorMeta } from '../src/ir/node.js';
import { symbolicTrace } from '../src/ir/tracer.js';
import { F } from '../src/nn/functional.js';
import { accOpName } from '../src/passes/index.js';
import type { Kwargs } from '../src/ir/signature.js';
import type { DType } from '../src/tensor/dtype.js';
import { Tensor } from '../src/tensor/tensor.js';

const run = (name: string, kw: Kwargs): Tensor => {
  const out = getAccOp(name).invoke([], kw);
  if (!(out instanceof Tensor)) throw new Error(`acc.${name} did not return a tensor`);
  return out;
};
const infer = (name: string, kw: Kwargs): unknown => getAccOp(name).infer(kw);
const m = (shape: number[], dtype: DType = 'float32'): TensorMeta => ({ shape, dtype });
const qpt = (values: number[], scale: number, zero_point: number, dtype: string, inDtype: DType = 'float32'): Tensor =>
  run('quantize_per_tensor', { input: Tensor.fromNumbers(values, [values.length], inDtype), scale, zero_point, dtype });

describe('acc.quantize_per_tensor', () => {
  it('rounds half to even and saturates int8', () => {
    const q = qpt([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.49, 126.5, 127.5, 200, -128.5, -200], 1, 0, 'int8');
    expect(q.dtype).toBe('int8');
    expect(Array.from(q.data as Int8Array)).toEqual([0, 2, 2, 0, -2, -2, 3, 126, 127, 127, -128, -128]);
    expect(q.qparams?.scale).toEqual(Float32Array.of(1));
    expect(q.qparams?.zeroPoint).toEqual(Int32Array.of(0));
    expect(q.qparams?.axis).toBeUndefined();
  });
  it('adds the zero point after rounding and saturates uint8 and int32', () => {
    expect(Array.from(qpt([-1000, -0.5, 0.5, 1.5, 63.5, 1000], 0.5, 128, 'uint8').data as Uint8Array)).toEqual([0, 127, 129, 131, 255, 255]);
    expect(Array.from(qpt([2.5, 3.5], 1, 1, 'uint8').data as Uint8Array)).toEqual([3, 5]);
    expect(Array.from(qpt([1e10, -1e10, 2.5, -7], 1, -3, 'int32').data as Int32Array)).toEqual([2147483647, -2147483648, -1, -10]);
  });
  it('scales by the float32 reciprocal as PyTorch (FBGEMM) does, not by dividing', () => {
    // x * float32(1 / scale) is exactly 127.5 -> 128; x / scale would be 127.49999 -> 127.
    expect(Array.from(qpt([0.273939937], 0.00214854861, 0, 'uint8').data as Uint8Array)).toEqual([128]);
    // The scale is kept as float32.
    expect(qpt([1], 0.1, 0, 'int8').qparams?.scale[0]).toBe(Math.fround(0.1));
  });
  it('takes fp16 input, saturates infinities and maps NaN to qmax', () => {
    expect(Array.from(qpt([0.25, -0.75, 1.25], 0.5, 0, 'int8', 'float16').data as Int8Array)).toEqual([0, -2, 2]);
    expect(Array.from(qpt([Infinity, -Infinity, NaN], 1, 0, 'int8').data as Int8Array)).toEqual([127, -128, 127]);
  });
  it('infers the quantized dtype and qparams', () => {
    expect(infer('quantize_per_tensor', { input: m([2, 3]), scale: 0.1, zero_point: -3, dtype: 'int8' }))
      .toEqual({ shape: [2, 3], dtype: 'int8', qparams: { scale: Float32Array.of(0.1), zeroPoint: Int32Array.of(-3) } });
  });
  it('rejects bad scales, zero points, dtypes and inputs', () => {
    expect(() => qpt([1], 0, 0, 'int8')).toThrow(/acc\.quantize_per_tensor: scale must be a positive finite float32, got 0/);
    expect(() => qpt([1], -1, 0, 'int8')).toThrow(/scale must be a positive/);
    expect(() => qpt([1], 1, 300, 'uint8')).toThrow(/zero_point 300 is out of range for uint8 \(expected 0\.\.255\)/);
    expect(() => qpt([1], 1, -129, 'int8')).toThrow(/zero_point -129 is out of range for int8/);
    expect(() => qpt([1], 1, 0, 'float16')).toThrow(/argument 'dtype' must be one of int8, uint8, int32, float8e4m3, got 'float16'/);
    expect(() => run('quantize_per_tensor', { input: Tensor.fromArray([1], 'int32'), scale: 1, zero_point: 0, dtype: 'int8' }))
      .toThrow(/input must be a floating-point tensor, got int32/);
  });
});

describe('acc.quantize_per_tensor with tensor qparams (torch.quantize_per_tensor(x, Tensor, Tensor, dtype))', () => {
  const x = Tensor.fromArray([0.26, -1.3, 5, 100]);
  it('reads a one-element scale and zero point as the numbers they hold', () => {
    const byNumbers = run('quantize_per_tensor', { input: x, scale: 0.1, zero_point: -3, dtype: 'int8' });
    for (const [scale, zero_point] of [
      [Tensor.fromArray([0.1]), Tensor.fromArray([-3], 'int32')],
      [Tensor.fromNumbers([0.1], []), -3],
      [0.1, Tensor.fromStorage(BigInt64Array.of(-3n), [1, 1], 'int64')],
    ] as const) {
      const q = run('quantize_per_tensor', { input: x, scale, zero_point, dtype: 'int8' });
      expect(q.toArray()).toEqual(byNumbers.toArray());
      expect(q.qparams).toEqual(byNumbers.qparams);
    }
    expect(byNumbers.toArray()).toEqual([0, -16, 47, 127]);
  });
  it('infers the quantized dtype and shape; the qparams are known only once it runs', () => {
    expect(infer('quantize_per_tensor', { input: m([2, 3]), scale: m([]), zero_point: 0, dtype: 'int8' })).toEqual(m([2, 3], 'int8'));
    expect(infer('quantize_per_tensor', { input: m([2]), scale: m([1], 'float16'), zero_point: m([1], 'int64'), dtype: 'uint8' })).toEqual(m([2], 'uint8'));
  });
  it('rejects tensors of several elements or of the wrong kind, and booleans, naming the argument', () => {
    const kw = { input: x, scale: Tensor.fromArray([0.1]), zero_point: 0, dtype: 'int8' };
    expect(() => run('quantize_per_tensor', { ...kw, scale: Tensor.fromArray([0.1, 0.2]) }))
      .toThrow(/acc\.quantize_per_tensor: a tensor scale must be a floating-point tensor of one element, got float32\[2\]/);
    expect(() => run('quantize_per_tensor', { ...kw, scale: Tensor.fromArray([1], 'int32') })).toThrow(/a tensor scale must be a floating-point tensor of one element, got int32\[1\]/);
    expect(() => run('quantize_per_tensor', { ...kw, zero_point: Tensor.fromArray([0]) })).toThrow(/a tensor zero_point must be an integer tensor of one element, got float32\[1\]/);
    expect(() => run('quantize_per_tensor', { ...kw, scale: Tensor.fromArray([0]) })).toThrow(/scale must be a positive finite float32, got 0/);
    expect(() => run('quantize_per_tensor', { ...kw, zero_point: Tensor.fromArray([200], 'int32') })).toThrow(/zero_point 200 is out of range for int8/);
    expect(() => run('quantize_per_tensor', { ...kw, scale: true })).toThrow(/argument 'scale' expects Tensor\|float, got boolean true/);
    expect(() => run('quantize_per_tensor', { ...kw, zero_point: 0.5 })).toThrow(/argument 'zero_point' expects Tensor\|int, got number 0\.5/);
  });
  it('traces a scale computed from the input as a graph value (F.quantizePerTensor)', () => {
    const q = (t: Tensor): Tensor => F.dequantize(F.quantizePerTensor(t, t.abs().amax().div(127), 0, 'int8'));
    const input = Tensor.fromArray([[1.27, -0.5], [0.013, 0]]);
    const gm = accTrace(symbolicTrace(q), [input]);
    const node = gm.graph.nodeList().find((n) => accOpName(n) === 'quantize_per_tensor')!;
    expect(accOpName(node.kwargs['scale'] as AnyNode)).toBe('div');
    expect(node.meta.tensorMeta).toEqual(m([2, 2], 'int8'));
    const step = Math.fround(Math.fround(1.27) / 127);
    expect(Array.from((gm.forward(input) as Tensor).toFloat32())).toEqual([127, -50, 1, 0].map((v) => Math.fround(v * step)));
  });
});

describe('acc.quantize_per_tensor with tensor qparams, compiled', () => {
  /** x → quantize_per_tensor(x, scale, zero_point, int8) → dequantize, with the parameters from `params`. */
  function graph(params: (g: Graph, x: AnyNode) => { scale: AnyNode; zero_point: AnyNode | number }, attrs: Record<string, Tensor>): GraphModule {
    const g = new Graph();
    const x = g.placeholder('x');
    const q = g.callFunction(getAccOp('quantize_per_tensor'), [], { input: x, ...params(g, x), dtype: 'int8' });
    g.output(g.callFunction(getAccOp('dequantize'), [], { input: q }));
    return new GraphModule(attrs, g);
  }
  const x = Tensor.fromArray([[0.26, -1.3], [5, 100]]);

  it('constant tensor parameters become the Q layer constants; a computed scale its run-time input', async () => {
    const constant = graph((g) => ({ scale: g.getAttr('s'), zero_point: g.getAttr('z') }), { s: Tensor.fromArray([0.5]), z: Tensor.fromArray([7], 'int32') });
    const computed = graph((g, input) => ({
      scale: g.callFunction(getAccOp('div'), [], { input: g.callFunction(getAccOp('amax'), [], { input }), other: 127 }), zero_point: 0,
    }), {});
    for (const [gm, precision] of [[constant, 'int8'], [computed, 'fp32']] as const) {
      const lowered = await compile(gm, [x], { device: 'cpu', precision });
      const [engine] = [...lowered.engines.values()];
      const quantize = engine!.engine.plan.steps.find((st) => st.kind === 'quantize')!;
      const scale = engine!.engine.plan.values[quantize.inputs[1]!]!;
      expect(scale.location.kind).toBe(gm === constant ? 'constant' : 'arena');
      expect(quantize.inputs).toHaveLength(gm === constant ? 3 : 2); // a zero point of 0 is left out
      const [y] = await lowered.run([x]);
      expect(y!.toArray()).toEqual((gm.forward(x) as Tensor).toArray());
    }
    expect((constant.forward(x) as Tensor).toArray()).toEqual([[0.5, -1.5], [5, 60]]);
  });
});

describe('acc tracing a GraphModule keeps the quantize/dequantize of its weights', () => {
  it("records a weight's Q/DQ pair as graph nodes instead of folding it to a float constant, and still folds other weight-only calls", () => {
    const g = new Graph();
    const w = g.getAttr('w');
    const dq = g.callFunction(getAccOp('dequantize'), [], {
      input: g.callFunction(getAccOp('quantize_per_channel'), [], { input: w, scales: g.getAttr('s'), zero_points: g.getAttr('z'), axis: 0, dtype: 'int8' }),
    });
    const codes = g.getAttr('codes');
    const twice = g.callFunction(getAccOp('mul'), [], { input: g.getAttr('b'), other: 2 });
    const lin = g.callFunction(getAccOp('linear'), [], { input: g.placeholder('x'), weight: dq, bias: twice });
    g.output(g.callFunction(getAccOp('add'), [], { input: lin, other: g.callFunction(getAccOp('dequantize'), [], { input: codes }) }));
    const gm = new GraphModule({
      w: Tensor.fromArray([[1, -2], [0.5, 0.25]]), s: Tensor.fromArray([2 / 127, 0.5 / 127]), z: Tensor.fromArray([0n, 0n]), b: Tensor.fromArray([1, 2]),
      codes: new Tensor(Int8Array.of(4, -8), [2], 'int8', { scale: Float32Array.of(0.25), zeroPoint: Int32Array.of(0) }),
    }, g);
    const x = Tensor.fromArray([[1, 1]]);
    const acc = accTrace(gm, [x]);
    const calls = acc.graph.nodeList().filter((n) => n.op === 'call_function').map((n) => accOpName(n));
    expect(calls).toEqual(['quantize_per_channel', 'dequantize', 'linear', 'dequantize', 'add']);
    const inputs = (op: string): string[] => acc.graph.nodeList().filter((n) => accOpName(n) === op).flatMap((n) => n.allInputNodes.map((i) => i.op === 'get_attr' ? i.target : i.name));
    expect(inputs('quantize_per_channel')).toEqual(['w', 's', 'z']);
    expect(inputs('dequantize')).toContain('codes');
    expect((acc.forward(x) as Tensor).toArray()).toEqual((gm.forward(x) as Tensor).toArray());
  });
});

describe('acc.quantize_per_channel', () => {
  const x = Tensor.fromArray([[1, -2, 3], [0.26, 0.5, 7]]);
  it('quantizes along axis 0', () => {
    const q = run('quantize_per_channel', { input: x, scales: Tensor.fromArray([0.5, 0.1]), zero_points: Tensor.fromArray([0n, 10n]), axis: 0, dtype: 'int8' });
    expect(q.toArray()).toEqual([[2, -4, 6], [13, 15, 80]]);
    expect(q.qparams).toEqual({ scale: Float32Array.of(0.5, 0.1), zeroPoint: Int32Array.of(0, 10), axis: 0 });
  });
  it('quantizes along axis 1 (given as -1)', () => {
    const q = run('quantize_per_channel', {
      input: x, scales: Tensor.fromArray([1, 0.5, 2]), zero_points: Tensor.fromArray([0, -1, 1], 'int32'), axis: -1, dtype: 'int8',
    });
    // column 1: -2 * 2 - 1 = -5, 0.5 * 2 - 1 = 0; column 2: round(1.5) + 1 = 3, round(3.5) + 1 = 5.
    expect(q.toArray()).toEqual([[1, -5, 3], [0, 0, 5]]);
    expect(q.qparams?.axis).toBe(1);
  });
  it('saturates uint8 per channel', () => {
    const q = run('quantize_per_channel', {
      input: Tensor.fromArray([[-10, 300], [-10, 300]]), scales: Tensor.fromArray([1, 2]), zero_points: Tensor.fromArray([5n, 0n]), axis: 0, dtype: 'uint8',
    });
    expect(q.toArray()).toEqual([[0, 255], [0, 150]]);
  });
  it('checks scales and zero points', () => {
    const kw = { input: x, scales: Tensor.fromArray([1, 1]), zero_points: Tensor.fromArray([0n, 0n]), axis: 0, dtype: 'int8' };
    expect(() => run('quantize_per_channel', { ...kw, axis: 1 })).toThrow(/scales must have shape \[3\] \(dim 1 of input \[2, 3\]\), got \[2\]/);
    expect(() => run('quantize_per_channel', { ...kw, zero_points: Tensor.fromArray([0, 0]) })).toThrow(/zero_points must be an integer tensor, got float32/);
    expect(() => run('quantize_per_channel', { ...kw, scales: Tensor.fromArray([1, 0]) })).toThrow(/scale of channel 1 must be a positive finite float32, got 0/);
    expect(() => run('quantize_per_channel', { ...kw, zero_points: Tensor.fromArray([0n, 128n]) })).toThrow(/zero_point of channel 1 128 is out of range for int8/);
    expect(() => run('quantize_per_channel', { ...kw, axis: 2 })).toThrow(/acc\.quantize_per_channel: axis 2 is out of range/);
    expect(infer('quantize_per_channel', { input: m([2, 3]), scales: m([3]), zero_points: m([3], 'int64'), axis: 1, dtype: 'uint8' })).toEqual(m([2, 3], 'uint8'));
  });
});

describe('acc.dequantize', () => {
  it('round-trips values on the quantization grid', () => {
    const x = [-1, -0.5, 0, 0.5, 1.25];
    const q = qpt(x, 0.25, 10, 'uint8');
    expect(Array.from(q.data as Uint8Array)).toEqual([6, 8, 10, 12, 15]);
    const y = run('dequantize', { input: q });
    expect(y.dtype).toBe('float32');
    expect(Array.from(y.toFloat64())).toEqual(x);
  });
  it('computes float32((q - zp) * scale) per tensor and per channel', () => {
    const q = new Tensor(Uint8Array.of(0, 255, 128), [3], 'uint8', { scale: Float32Array.of(0.1), zeroPoint: Int32Array.of(128) });
    expect(Array.from(run('dequantize', { input: q }).data as Float32Array)).toEqual([Math.fround(-12.8), Math.fround(12.7), 0]);
    const pc = run('quantize_per_channel', {
      input: Tensor.fromArray([[1, 2], [3, 4]]), scales: Tensor.fromArray([0.5, 2]), zero_points: Tensor.fromArray([1n, -1n]), axis: 1, dtype: 'int8',
    });
    expect(pc.toArray()).toEqual([[3, 0], [7, 1]]);
    expect(run('dequantize', { input: pc }).toArray()).toEqual([[1, 2], [3, 4]]);
    const q32 = qpt([1e6, -3.75], 0.25, 7, 'int32');
    expect(run('dequantize', { input: q32 }).toArray()).toEqual([1e6, -3.75]);
  });
  it('errors on a tensor without qparams, naming it, and on float input', () => {
    expect(() => run('dequantize', { input: Tensor.fromArray([1, 2], 'int8') }))
      .toThrow(/acc\.dequantize: input \(int8\[2\]\) carries no quantization parameters/);
    expect(() => run('dequantize', { input: Tensor.fromArray([1, 2]) })).toThrow(/input must be a quantized int8, uint8, int32 or float8e4m3 tensor, got float32/);
    const bad = new Tensor(Int8Array.of(1, 2), [2], 'int8', { scale: Float32Array.of(1, 1, 1), zeroPoint: Int32Array.of(0, 0, 0), axis: 0 });
    expect(() => run('dequantize', { input: bad })).toThrow(/per-channel along dim 0 parameters \(3 scales, 3 zero points\) do not fit input \[2\]/);
    expect(infer('dequantize', { input: m([4], 'uint8') })).toEqual(m([4]));
  });
});
