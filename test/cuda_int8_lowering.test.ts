/**
 * The CUDA backend's lowering of int8 pooling and pointwise steps (plan.ts StepQuantization) on
 * any machine: the op specs carry the int8 operands, their scales (references, dtypes, strides:
 * per tensor, per channel, through a program's view) and the output scale; executed by a host
 * interpreter of the kernels' arithmetic (kernels/pool.h, kernels/pointwise.h) over the real
 * context-memory layout, they give the reference backend's bytes; bad scales and operand forms
 * the kernels cannot take fail the lowering, naming the step.
 */
import { describe, expect, it } from 'vitest';
import type { NativeOpSpec, View } from '../src/backends/cuda/exec_spec.js';
import { channelScaleStrides } from '../src/backends/cuda/lower/pointwise.js';
import { Engine } from '../src/engine/engine.js';
import type { LayerParamsMap } from '../src/engine/network.js';
import type { NetworkDefinition } from '../src/engine/network_definition.js';
import type { Plan, PlanStep } from '../src/engine/plan.js';
import { quantizeValue } from '../src/kernels/reference/quant.js';
import { storageFromBytes, type DType } from '../src/tensor/dtype.js';
import { numelOf } from '../src/tensor/shape.js';
import { Tensor } from '../src/tensor/tensor.js';
import { HostMemory, lowerPlan } from './cuda_spec_host.js';
import { build, constant, layer, newNet, run } from './engine_helpers.js';
import { dequantize, quantize, scalar } from './int8_layers.js';

const f = Math.fround;
type PoolSpec = Extract<NativeOpSpec, { op: 'pool' }>;
type PointwiseSpec = Extract<NativeOpSpec, { op: 'pointwise' }>;

// ---------------------------------------------------------------- a host interpreter of the int8 specs

/** Element offset of row-major linear index `i` in `view`. */
function offsetOf(i: number, view: View): number {
  let off = 0;
  for (let d = view.shape.length - 1; d >= 0; d--) {
    const n = view.shape[d]!;
    off += (i % n) * view.strides[d]!;
    i = Math.floor(i / n);
  }
  return off;
}

/** The requantize of kernels/quant_math.cuh (a quantize layer's arithmetic, zero point 0). */
function requantize(y: number, outScale: number): number {
  return quantizeValue(y, f(1 / outScale), 0, -128, 127);
}

/** kernels/pool.h on the host: an int8 step (integer max or exact window sum over the divisor, then the scales). */
function interpretPool(m: HostMemory, op: PoolSpec): void {
  if (op.xScale === undefined || op.yDtype === undefined) throw new Error('the test interpreter runs int8 pooling steps only');
  const ns = op.window.length;
  const sx = m.read(op.xScale.ref, 0, op.xScale.dtype);
  const n = numelOf(op.outShape);
  for (let i = 0; i < n; i++) {
    // [n, c, spatial...] of output i (row-major over the logical shape).
    const pos: number[] = [];
    for (let d = op.outShape.length - 1, r = i; d >= 0; d--) {
      pos[d] = r % op.outShape[d]!;
      r = Math.floor(r / op.outShape[d]!);
    }
    const base = pos[0]! * op.xStrides[0]! + pos[1]! * op.xStrides[1]!;
    // Per spatial dim: the positions the window reads and, for the average, the divisor's extent.
    const reads: number[][] = [];
    let padded = 1;
    let real = 1;
    for (let s = 0; s < ns; s++) {
      const size = op.inShape[2 + s]!;
      const start = pos[2 + s]! * op.stride[s]! - op.prePadding[s]!;
      const at: number[] = [];
      if (op.type === 'max') {
        for (let k = 0; k < op.window[s]!; k++) at.push(start + k * op.dilation[s]!);
      } else {
        const end = Math.min(start + op.window[s]!, size + op.postPadding[s]!);
        padded *= end - start;
        for (let k = Math.max(start, 0); k < Math.min(end, size); k++) at.push(k);
        real *= at.length;
      }
      reads.push(at.filter((k) => k >= 0 && k < size));
    }
    let values: number[] = [base];
    reads.forEach((at, s) => {
      values = values.flatMap((o) => at.map((k) => o + k * op.xStrides[2 + s]!));
    });
    const q = values.map((o) => m.read(op.x, o, 'int8'));
    let p: number;
    if (op.type === 'max') p = q.length === 0 ? -Infinity : Math.max(...q);
    else if (q.length === 0) p = 0;
    else p = f(q.reduce((a, b) => a + b, 0) / (op.divisor !== 0 ? op.divisor : op.excludePadding ? real : padded));
    const y = f(p * sx);
    const out = offsetOf(i, { shape: op.outShape, strides: op.yStrides });
    if (op.yScale !== undefined) m.write(op.y, out, 'int8', requantize(y, m.read(op.yScale.ref, 0, op.yScale.dtype)));
    else m.write(op.y, out, op.yDtype, y);
  }
}

/** kernels/pointwise.h on the host for the programs used here (sum, sub, prod, max, relu), inputs dequantized on load. */
function interpretPointwise(m: HostMemory, op: PointwiseSpec): void {
  const n = numelOf(op.shape);
  const at = (strides: readonly number[], i: number): number => offsetOf(i, { shape: op.shape, strides });
  for (let i = 0; i < n; i++) {
    const regs = op.inputs.map((x) => {
      const v = m.read(x.ref, at(x.strides, i), x.dtype);
      return x.scale === undefined ? v : f(m.read(x.scale.ref, at(x.scale.strides, i), x.scale.dtype) * v);
    });
    for (const ins of op.instrs) {
      const [a, b] = [regs[ins.args[0]!]!, regs[ins.args[1] ?? 0]!];
      // Float results stay float32 in the registers whatever the layer's float dtype.
      if (ins.dtype !== 'float32' && ins.dtype !== 'float16') throw new Error(`the test interpreter keeps float registers, got ${ins.dtype}`);
      if (ins.op === 'elementwise' && ins.fn === 'sum') regs.push(f(a + b));
      else if (ins.op === 'elementwise' && ins.fn === 'sub') regs.push(f(a - b));
      else if (ins.op === 'elementwise' && ins.fn === 'prod') regs.push(f(a * b));
      else if (ins.op === 'elementwise' && ins.fn === 'max') regs.push(Math.max(a, b));
      else if (ins.op === 'activation' && ins.fn === 'relu') regs.push(a > 0 || Number.isNaN(a) ? a : 0);
      else throw new Error(`the test interpreter does not run ${ins.op} ${'fn' in ins ? ins.fn : ''}`);
    }
    const y = regs[regs.length - 1]!;
    const out = at(op.out.strides, i);
    if (op.outScale !== undefined) m.write(op.out.ref, out, 'int8', requantize(y, m.read(op.outScale.ref, 0, op.outScale.dtype)));
    else m.write(op.out.ref, out, op.out.dtype, y);
  }
}

/** Runs the lowered program of `plan` on the host; the outputs as the plan declares them. */
function interpret(plan: Plan, inputs: readonly Tensor[]): Tensor[] {
  const { spec, bytes, constants, shapes } = lowerPlan(plan);
  const m = new HostMemory(bytes, constants);
  inputs.forEach((t, i) => m.context.set(t.bytes(), spec.inputs[i]!.offset));
  for (const op of spec.ops) {
    if (op.op === 'pool') interpretPool(m, op);
    else if (op.op === 'pointwise') interpretPointwise(m, op);
    else throw new Error(`the test interpreter does not run '${op.op}' ops`);
  }
  return plan.outputs.map((o, i) => {
    const slot = spec.outputs[i]!;
    const n = numelOf(shapes[o.value]!);
    return new Tensor(storageFromBytes(o.dtype, m.context.slice(slot.offset, slot.offset + slot.bytes), n), shapes[o.value]!, o.dtype);
  });
}

/** Expects the interpreted program of `engine` to give the reference backend's bytes. */
async function expectSameAsReference(engine: Engine, inputs: readonly Tensor[]): Promise<void> {
  const want = await run(engine, inputs);
  const got = interpret(engine.plan, inputs);
  expect(got.length).toBe(want.length);
  got.forEach((g, i) => {
    expect(g.dtype, engine.outputs[i]!.name).toBe(want[i]!.dtype);
    expect(g.shape, engine.outputs[i]!.name).toEqual(want[i]!.shape);
    expect(Buffer.from(g.bytes()).equals(Buffer.from(want[i]!.bytes())), `${engine.outputs[i]!.name}: bytes differ`).toBe(true);
  });
}

// ---------------------------------------------------------------- networks

/** Deterministic int8 values; every 11th one is -128 or 127. */
function int8Values(shape: readonly number[], seed: number): Tensor {
  return Tensor.fromNumbers(Array.from({ length: numelOf(shape) }, (_, i) => {
    if (i % 11 === 3) return i % 2 === 0 ? 127 : -128;
    return ((i * 37 + seed * 101) % 256) - 128;
  }), shape, 'int8');
}

const pool2d = (type: 'max' | 'average', extra: Partial<LayerParamsMap['pooling']> = {}): LayerParamsMap['pooling'] => ({
  type, windowSize: [3, 3], stride: [2, 2], prePadding: [1, 1], postPadding: [1, 1], dilation: [1, 1],
  roundUp: false, averageCountExcludesPadding: false, divisor: null, ...extra,
});

function int8Steps(plan: Plan): PlanStep[] {
  return plan.steps.filter((s) => s.quant !== undefined);
}

/** `plan` with its int8 steps changed by `change`. */
function withStep(plan: Plan, change: (s: PlanStep) => PlanStep): Plan {
  return { ...plan, steps: plan.steps.map((s) => (s.quant === undefined ? s : change(s))) };
}

function specsOf(plan: Plan, kind: 'pool' | 'pointwise'): NativeOpSpec[] {
  return lowerPlan(plan).spec.ops.filter((op) => op.op === kind);
}

describe('int8 pooling steps', () => {
  it('1-D to 3-D average (padding in or out of the count, a divisor) and max, int8 and float16 outputs: the reference bytes', async () => {
    const net = newNet('int8_pool');
    const x = dequantize(net, net.addInput('x', 'int8', [2, 3, 7, 6]), scalar(net, 0.05, 'sx'), 'x_dq');
    const cases: [string, LayerParamsMap['pooling']][] = [
      ['avg_in', pool2d('average')],
      ['avg_out', pool2d('average', { averageCountExcludesPadding: true })],
      ['avg_div', pool2d('average', { divisor: 7, stride: [1, 1] })],
      ['max', pool2d('max', { dilation: [2, 1], prePadding: [1, 0], postPadding: [1, 0] })],
    ];
    for (const [name, p] of cases) {
      net.markOutput(quantize(net, layer(net, 'pooling', [x], p, name), scalar(net, 0.02, `${name}_s`), `${name}_q`), name);
    }
    const half = dequantize(net, net.addInput('h', 'int8', [1, 2, 9]), scalar(net, 0.125, 'sh', 'float16'), 'h_dq', 'float16');
    net.markOutput(layer(net, 'pooling', [half], { ...pool2d('average'), windowSize: [4], stride: [3], prePadding: [2], postPadding: [1], dilation: [1] }, 'avg1d'), 'avg1d');
    const cube = dequantize(net, net.addInput('c', 'int8', [1, 2, 4, 5, 6]), scalar(net, 0.3, 'sc'), 'c_dq');
    const avg3d = { ...pool2d('average', { averageCountExcludesPadding: true }), windowSize: [2, 3, 2], stride: [2, 2, 2], prePadding: [1, 1, 0], postPadding: [1, 1, 1], dilation: [1, 1, 1] };
    net.markOutput(quantize(net, layer(net, 'pooling', [cube], avg3d, 'avg3d'), scalar(net, 0.1, 'avg3d_s'), 'avg3d_q'), 'avg3d');
    // Without propagation, the dequantize stays in front of the max pooling, which then runs as an int8 step too.
    const engine = await build(net, { precision: 'int8', optimizations: { qdqPropagation: false } });
    const steps = int8Steps(engine.plan);
    expect(steps.map((s) => s.kind)).toEqual(['pooling', 'pooling', 'pooling', 'pooling', 'pooling', 'pooling']);
    const ops = specsOf(engine.plan, 'pool');
    expect(ops.map((op) => (op.op === 'pool' ? [op.type, op.dtype, op.yDtype, op.xScale?.dtype, op.yScale?.dtype ?? null] : []))).toEqual([
      ['average', 'int8', 'int8', 'float32', 'float32'], ['average', 'int8', 'int8', 'float32', 'float32'],
      ['average', 'int8', 'int8', 'float32', 'float32'], ['max', 'int8', 'int8', 'float32', 'float32'],
      ['average', 'int8', 'float16', 'float16', null], ['average', 'int8', 'int8', 'float32', 'float32'],
    ]);
    await expectSameAsReference(engine, [int8Values([2, 3, 7, 6], 1), int8Values([1, 2, 9], 2), int8Values([1, 2, 4, 5, 6], 3)]);
  });

  it('reads a channels-last input (a convolution output) through its strides and writes its output in the layout its readers take', async () => {
    const net = newNet('int8_pool_nhwc');
    const x = net.addInput('x', 'float32', [1, 4, 5, 5]);
    const w = constant(net, Tensor.ones([8, 4, 1, 1]), 'w');
    const conv = layer(net, 'convolution', [x, w], {
      kernelSize: [1, 1], numOutputMaps: 8, stride: [1, 1], prePadding: [0, 0], postPadding: [0, 0], dilation: [1, 1], groups: 1,
    }, 'conv');
    const sx = scalar(net, 0.5, 'sx');
    const dq = dequantize(net, quantize(net, conv, sx, 'conv_q'), sx, 'conv_dq');
    const so = scalar(net, 0.25, 'so');
    net.markOutput(quantize(net, layer(net, 'pooling', [dq], pool2d('average'), 'to_rowmajor'), so, 'a_q'), 'a');
    const nhwc = quantize(net, layer(net, 'pooling', [dq], pool2d('max'), 'to_nhwc'), so, 'b_q');
    net.markOutput(dequantize(net, nhwc, so, 'b_dq'), 'b');
    const plan = (await build(net, { precision: 'int8', optimizations: { qdqPropagation: false } })).plan;
    expect(int8Steps(plan).map((st) => st.name)).toEqual(['to_rowmajor', 'to_nhwc']);
    const byName = new Map(specsOf(plan, 'pool').map((op) => [plan.steps[op.step]!.name, op]));
    const rowMajor = byName.get('to_rowmajor');
    const channelsLast = byName.get('to_nhwc');
    if (rowMajor?.op !== 'pool' || channelsLast?.op !== 'pool') throw new Error('expected the two int8 pool ops');
    // [1, 8, 5, 5] channels-last: c innermost.
    expect(rowMajor.xStrides).toEqual([200, 1, 40, 8]);
    expect([rowMajor.yStrides, rowMajor.channelsLast]).toEqual([[72, 9, 3, 1], false]);
    expect([channelsLast.xStrides, channelsLast.yStrides, channelsLast.channelsLast]).toEqual([[200, 1, 40, 8], [72, 1, 24, 8], true]);
  });

  it('refuses a constant scale the reference rejects and a per-channel input, naming the step', async () => {
    const make = async (outScale: number): Promise<Plan> => {
      const net = newNet('bad_scale');
      const x = dequantize(net, net.addInput('x', 'int8', [1, 2, 4, 4]), scalar(net, 0.5, 'sx'), 'x_dq');
      net.markOutput(quantize(net, layer(net, 'pooling', [x], pool2d('average'), 'avg'), scalar(net, outScale, 'so'), 'y_q'), 'y');
      return (await build(net, { precision: 'int8' })).plan;
    };
    const zero = await make(0);
    expect(() => lowerPlan(zero)).toThrow("step 'avg': the output scale must be positive finite float32 values whose reciprocals are finite, got 0");
    const plan = await make(0.5);
    const perChannel = withStep(plan, (s) => ({ ...s, quant: { ...s.quant!, operands: [{ ...s.quant!.operands[0]!, axis: 1 }] } }));
    expect(() => lowerPlan(perChannel)).toThrow("step 'avg' (int8 pooling): the input must be quantized per tensor, got axis 1");
    // 1e-45 is a float32 whose reciprocal is not.
    const tiny = await make(1e-45);
    expect(() => lowerPlan(tiny)).toThrow("step 'avg': the output scale must be positive finite float32 values whose reciprocals are finite, got 1.401298464324817e-45");
  });
});

/**
 * `plan` with network input `input` (a one-element scale of an int8 step) turned into `channels`
 * scales along `axis` of the operand it scales: a per-channel int8 operand, which the builder
 * never makes for a pointwise step but the plan format allows.
 */
function perChannel(plan: Plan, input: string, channels: number, axis: number): Plan {
  const io = plan.inputs.find((i) => i.name === input);
  if (io === undefined) throw new Error(`no input '${input}'`);
  const shape = [channels];
  return {
    ...plan,
    inputs: plan.inputs.map((i) => (i === io ? { ...i, shape, profile: { min: shape, opt: shape, max: shape } } : i)),
    values: plan.values.map((v) => (v.id === io.value ? { ...v, shape } : v)),
    steps: plan.steps.map((s) => (s.quant === undefined ? s : {
      ...s, quant: { ...s.quant, operands: s.quant.operands.map((o) => (s.inputs[o.scale] === io.value ? { ...o, axis } : o)) },
    })),
  };
}

describe('int8 pointwise steps', () => {
  /** DQ(a) + DQ(b) → relu → Q: a's scale a constant, b's a network input of `scaleType` (computed at run time). */
  function residualNet(scaleType: DType): NetworkDefinition {
    const net = newNet('int8_add');
    const a = dequantize(net, net.addInput('a', 'int8', [2, 3, 10]), scalar(net, 0.5, 'sa'), 'a_dq');
    const b = dequantize(net, net.addInput('b', 'int8', [2, 3, 10]), net.addInput('sb', scaleType, [1]), 'b_dq');
    const sum = layer(net, 'elementwise', [a, b], { op: 'sum' }, 'add');
    net.markOutput(quantize(net, layer(net, 'activation', [sum], { op: 'relu', alpha: 0, beta: 0 }, 'relu'), scalar(net, 0.5, 'so'), 'y_q'), 'y');
    return net;
  }
  const inputs = (sb: Tensor): Tensor[] => [int8Values([2, 3, 10], 3), int8Values([2, 3, 10], 4), sb];

  it('dequantizes on load (a constant and a run-time float16 scale) and requantizes on store: the reference bytes', async () => {
    const engine = await build(residualNet('float16'), { precision: 'int8' });
    const [step] = int8Steps(engine.plan);
    expect(step?.kind).toBe('pointwise');
    expect(step!.quant!.operands.map((o) => o.input)).toEqual([0, 1]);
    const [op] = specsOf(engine.plan, 'pointwise');
    if (op?.op !== 'pointwise') throw new Error('expected a pointwise op');
    // One iteration dim: the scales broadcast (stride 0), float registers, the output scale's dtype.
    expect(op.shape).toEqual([60]);
    expect(op.inputs.map((i) => [i.dtype, i.scale?.dtype, i.scale?.strides])).toEqual([['int8', 'float32', [0]], ['int8', 'float16', [0]]]);
    expect([op.out.dtype, op.outScale?.dtype, op.wide]).toEqual(['int8', 'float32', false]);
    // 0.25 · b: odd b land on halves of the output step (ties to even), large a and b saturate.
    await expectSameAsReference(engine, inputs(Tensor.fromNumbers([0.25], [1], 'float16')));
  });

  it('dequantizes a per-channel operand with its scale along the channel axis', async () => {
    const plan = perChannel((await build(residualNet('float32'), { precision: 'int8' })).plan, 'sb', 3, 1);
    const [op] = specsOf(plan, 'pointwise');
    if (op?.op !== 'pointwise') throw new Error('expected a pointwise op');
    // [2, 3, 10] does not merge: the scale steps along the channels only.
    expect(op.shape).toEqual([2, 3, 10]);
    expect(op.inputs[1]!.scale?.strides).toEqual([0, 1, 0]);
    const engine = new Engine(plan);
    await expectSameAsReference(engine, inputs(Tensor.fromNumbers([0.25, 0.375, 1.5], [3])));
  });

  it('places per-channel scales through a program view, where the view keeps the channel split', () => {
    // [2, 3, 4] along axis 1 read as [2, 3, 1, 4] or [6, 4]; scales stored with stride 1.
    expect(channelScaleStrides([2, 3, 4], null, 1, 1)).toEqual([0, 1, 0]);
    expect(channelScaleStrides([2, 3, 4], [2, 3, 1, 4], 1, 1)).toEqual([0, 1, 0, 0]);
    expect(channelScaleStrides([2, 3, 4], [1, 2, 1, 3, 4], 1, 2)).toEqual([0, 0, 0, 2, 0]);
    // [6, 4] merges the channels with the batch: channel = row % 3 is no stride.
    expect(channelScaleStrides([2, 3, 4], [6, 4], 1, 1)).toBeNull();
    // a channel axis split across two view dims: [2, 6, 2] along axis 1 read as [2, 3, 2, 2].
    expect(channelScaleStrides([2, 6, 2], [2, 3, 2, 2], 1, 1)).toEqual([0, 2, 1, 0]);
    expect(channelScaleStrides([5, 7], [35], 1, 1)).toBeNull();
    expect(channelScaleStrides([5, 7], [1, 35], 0, 1)).toBeNull();
    expect(channelScaleStrides([5, 7], [5, 7, 1], 0, 1)).toEqual([1, 0, 0]);
  });

  it('refuses an int8 operand that is not int8, and a constant scale the reference rejects, naming the step', async () => {
    const mixed = newNet('mixed');
    const a = dequantize(mixed, mixed.addInput('a', 'int8', [4]), scalar(mixed, 0.5, 'sa'), 'a_dq');
    mixed.markOutput(layer(mixed, 'elementwise', [a, mixed.addInput('x', 'float32', [4])], { op: 'sum' }, 'add'), 'y');
    const plan = (await build(mixed, { precision: 'int8' })).plan;
    expect(int8Steps(plan).map((st) => st.quant!.operands)).toEqual([[{ input: 0, scale: 2, axis: null }]]);
    const floatOperand = withStep(plan, (st) => ({ ...st, quant: { ...st.quant!, operands: [{ input: 1, scale: 2, axis: null }] } }));
    expect(() => lowerPlan(floatOperand)).toThrow("step 'add': int8 operand 1 must be int8, got float32[4]");
    const outside = withStep(plan, (st) => ({ ...st, quant: { ...st.quant!, operands: [{ input: 2, scale: 2, axis: null }] } }));
    expect(() => lowerPlan(outside)).toThrow("step 'add': int8 operand 2 is not a data input (0..1)");
    const net = newNet('bad');
    const q = dequantize(net, net.addInput('a', 'int8', [4]), scalar(net, Infinity, 'sa'), 'a_dq');
    net.markOutput(layer(net, 'activation', [q], { op: 'relu', alpha: 0, beta: 0 }, 'relu'), 'y');
    const bad = (await build(net, { precision: 'int8', optimizations: { qdqPropagation: false } })).plan;
    expect(int8Steps(bad).map((st) => st.kind)).toEqual(['pointwise']);
    expect(() => lowerPlan(bad)).toThrow("step 'relu': the scale of input 0 must be positive finite float32 values whose reciprocals are finite, got Infinity");
  });
});

describe('an int8 convolution takes over the quantize of its input (lower/igemm.ts quantizeTakeover)', () => {
  type IgemmOpSpec = Extract<NativeOpSpec, { op: 'igemm' }>;
  /** x → Q → DQ → a 7x7 convolution (per-channel int8 weight) on `channels` channels at `stride`. */
  async function stemPlan(o: { channels?: number; stride?: number; quantizedOutput?: boolean; dtype?: 'float32' | 'float16' } = {}): Promise<Plan> {
    const c = o.channels ?? 3;
    const stride = o.stride ?? 2;
    const net = newNet('stem');
    const x = net.addInput('x', o.dtype ?? 'float32', [2, c, 20, 22]);
    const sx = scalar(net, 0.03, 'sx', o.dtype ?? 'float32');
    const q = quantize(net, x, sx, 'x_q');
    const scales = constant(net, Tensor.fromNumbers(Array.from({ length: 8 }, (_, i) => 0.001 * (i + 1)), [8]), 'w_s');
    const wq = layer(net, 'quantize', [constant(net, Tensor.randn([8, c, 7, 7], { seed: 3 }), 'w'), scales], { axis: 0, toType: 'int8' }, 'w_q');
    const w = layer(net, 'dequantize', [wq, scales], { axis: 0, toType: o.dtype ?? 'float32' }, 'w_dq');
    net.markOutput(layer(net, 'convolution', [dequantize(net, q, sx, 'x_dq', o.dtype ?? 'float32'), w], {
      kernelSize: [7, 7], numOutputMaps: 8, stride: [stride, stride], prePadding: [3, 3], postPadding: [3, 3], dilation: [1, 1], groups: 1,
    }, 'conv'), 'y');
    if (o.quantizedOutput === true) net.markOutput(q, 'x_q');
    return (await build(net, { precision: 'int8' })).plan;
  }
  function opsOf(plan: Plan): readonly NativeOpSpec[] {
    return lowerPlan(plan).spec.ops;
  }

  it('lowers the quantize to no op and hands the convolution the float input, its view and the scale', async () => {
    for (const [dtype, stride] of [['float32', 2], ['float16', 2], ['float32', 1]] as const) {
      const plan = await stemPlan({ dtype, stride });
      expect(plan.steps.map((s) => s.kind)).toEqual(['quantize', 'convolution']);
      const ops = opsOf(plan);
      expect(ops.filter((op) => op.op === 'quantize')).toEqual([]);
      const conv = ops.find((op): op is { step: number } & IgemmOpSpec => op.op === 'igemm')!;
      const { spec } = lowerPlan(plan);
      expect(conv.aQuant, dtype).toEqual({
        x: { mem: 0, offset: spec.inputs[0]!.offset }, dtype, view: { shape: [2, 3, 20, 22], strides: [1320, 440, 22, 1] },
        scale: expect.objectContaining({ mem: 1 }), scaleDtype: dtype,
      });
      // The convolution still names the quantize's int8 output (channels-last), which the other forms write first.
      expect(conv.conv).toMatchObject({ batch: 2, c: 3, h: 20, w: 22, sh: stride, sw: stride });
    }
  });

  it('leaves the quantize alone where the packing cannot take it: 16 channels, 8 channels at stride 3 (72 packed), an int8 output others read', async () => {
    for (const plan of [await stemPlan({ channels: 16 }), await stemPlan({ channels: 8, stride: 3 }), await stemPlan({ quantizedOutput: true })]) {
      const ops = opsOf(plan);
      expect(ops.filter((op) => op.op === 'quantize')).toHaveLength(1);
      expect(ops.filter((op) => op.op === 'igemm').map((op) => (op as IgemmOpSpec).aQuant)).toEqual([undefined]);
    }
  });
});

describe('int8 deconvolutions and 3-D convolutions lower to the int8 GEMM (IgemmConvSpec.transposed, the depth axis)', () => {
  type IgemmOpSpec = Extract<NativeOpSpec, { op: 'igemm' }>;
  interface ConvCase {
    readonly name: string;
    readonly kind: 'convolution' | 'deconvolution';
    readonly x: readonly number[];
    readonly params: LayerParamsMap['deconvolution'];
    readonly perChannel: boolean;
  }
  const params = (k: readonly number[], out: number, o: Partial<LayerParamsMap['deconvolution']>): LayerParamsMap['deconvolution'] => ({
    kernelSize: k, numOutputMaps: out, stride: k.map(() => 1), prePadding: k.map(() => 0), postPadding: k.map(() => 0), dilation: k.map(() => 1), groups: 1, ...o,
  });
  const CASES: readonly ConvCase[] = [
    { name: 'deconv k4 stride 2 pad 1 (CenterNet), per-channel', kind: 'deconvolution', x: [2, 6, 5, 4], params: params([4, 4], 5, { stride: [2, 2], prePadding: [1, 1], postPadding: [1, 1] }), perChannel: true },
    { name: 'deconv k3 stride 2 padding 1 output padding 1 (pre 1, post 0)', kind: 'deconvolution', x: [1, 4, 3, 5], params: params([3, 3], 3, { stride: [2, 2], prePadding: [1, 1] }), perChannel: true },
    {
      name: 'deconv groups 2, dilation 2, stride 3 by 2, uneven padding, output padding (negative post), per tensor', kind: 'deconvolution', x: [1, 6, 4, 3],
      params: params([3, 3], 4, { stride: [3, 2], dilation: [2, 2], prePadding: [2, 0], postPadding: [-1, 1], groups: 2 }), perChannel: false,
    },
    { name: '1-D deconv k5 stride 2', kind: 'deconvolution', x: [2, 3, 7], params: params([5], 4, { stride: [2], prePadding: [1], postPadding: [2] }), perChannel: true },
    {
      name: '3-D conv k3x3x2, strides 2/1/2, dilation 2 in depth, padding', kind: 'convolution', x: [2, 5, 6, 4, 5],
      params: params([3, 3, 2], 6, { stride: [2, 1, 2], dilation: [2, 1, 1], prePadding: [2, 1, 0], postPadding: [1, 1, 1] }), perChannel: true,
    },
    {
      name: '3-D deconv k2x3x3 stride 2, padding, output padding', kind: 'deconvolution', x: [1, 4, 3, 3, 2],
      params: params([2, 3, 3], 3, { stride: [2, 2, 1], prePadding: [0, 1, 1], postPadding: [-1, 0, 1] }), perChannel: false,
    },
  ];

  /** x → Q → DQ (scale 1) → the layer with a Q → DQ weight (scales 1): the float output is the int32 sums, exactly. */
  async function convEngine(c: ConvCase): Promise<Engine> {
    const net = newNet(c.kind);
    const x = net.addInput('x', 'float32', c.x);
    const one = scalar(net, 1, 'sx');
    const cIn = c.x[1]!;
    const transposed = c.kind === 'deconvolution';
    const shape = transposed ? [cIn, c.params.numOutputMaps / c.params.groups, ...c.params.kernelSize] : [c.params.numOutputMaps, cIn / c.params.groups, ...c.params.kernelSize];
    const w = Tensor.fromNumbers(Array.from({ length: numelOf(shape) }, (_, i) => ((i * 37) % 11) - 5), shape);
    const axis = !c.perChannel ? null : transposed ? 1 : 0;
    const count = axis === null ? 1 : shape[axis]!;
    const scales = constant(net, Tensor.fromNumbers(new Array<number>(count).fill(1), [count]), 'w_s');
    const wq = layer(net, 'quantize', [constant(net, w, 'w'), scales], { axis, toType: 'int8' }, 'w_q');
    const wdq = layer(net, 'dequantize', [wq, scales], { axis, toType: 'float32' }, 'w_dq');
    net.markOutput(layer(net, c.kind, [dequantize(net, quantize(net, x, one, 'x_q'), one, 'x_dq'), wdq], c.params, 'layer'), 'y');
    return build(net, { precision: 'int8' });
  }

  /** The input index of tap t along one axis (native/src/kernels/igemm_kernel.cuh TapInput), or -1. */
  function tapInput(transposed: boolean, o: number, t: number, s: number, d: number, pad: number, size: number): number {
    if (!transposed) {
      const i = o * s - pad + t * d;
      return i >= 0 && i < size ? i : -1;
    }
    const q = o + pad - t * d;
    return q >= 0 && q % s === 0 && q / s < size ? q / s : -1;
  }

  it('gathers each output pixel\'s taps through the regrouped filter: the reference\'s int32 sums', async () => {
    for (const c of CASES) {
      const engine = await convEngine(c);
      const plan = engine.plan;
      expect(plan.steps.filter((s) => s.quant !== undefined).map((s) => s.kind), c.name).toEqual([c.kind]);
      const { spec, bytes, constants } = lowerPlan(plan);
      const op = spec.ops.find((o): o is { step: number } & IgemmOpSpec => o.op === 'igemm')!;
      expect(op, c.name).toBeDefined();
      const g = op.conv!;
      const transposed = c.kind === 'deconvolution';
      expect(g.transposed === true, c.name).toBe(transposed);
      expect(g.kd !== undefined, c.name).toBe(c.x.length === 5);
      expect(op.swPerChannel, c.name).toBe(c.perChannel);
      const [d, kd, od, sd, dd, pd] = g.kd !== undefined ? [g.d!, g.kd, g.od!, g.sd!, g.dd!, g.pd!] : [1, 1, 1, 1, 1, 0];
      expect(op.m, c.name).toBe(g.batch * od * g.oh * g.ow);
      expect(op.k, c.name).toBe(g.cg * kd * g.kh * g.kw);
      // Integer inputs within int8: quantized with scale 1, they are the int8 operand itself.
      const x = Tensor.fromNumbers(Array.from({ length: numelOf(c.x) }, (_, i) => ((i * 53) % 23) - 11), c.x);
      const [want] = await run(engine, [x]);
      const m = new HostMemory(bytes, constants);
      // The int8 input as the kernel reads it: channels-last [batch, (d,) h, w, c].
      const xv = x.toFloat32();
      const [pixels, cIn] = [d * g.h * g.w, g.c];
      for (let n = 0; n < g.batch; n++) {
        for (let ch = 0; ch < cIn; ch++) for (let p = 0; p < pixels; p++) m.write(op.a, (n * pixels + p) * cIn + ch, 'int8', xv[(n * cIn + ch) * pixels + p]!);
      }
      // The gather over B [groups * n, k] with k = (kz, ky, kx, c).
      const wantV = want!.toFloat32();
      const K = op.groups * op.n;
      const outPixels = od * g.oh * g.ow;
      for (let n = 0; n < g.batch; n++) {
        for (let o = 0; o < outPixels; o++) {
          const [oz, oy, ox] = [Math.floor(o / (g.oh * g.ow)), Math.floor(o / g.ow) % g.oh, o % g.ow];
          for (let col = 0; col < K; col++) {
            const grp = Math.floor(col / op.n);
            let acc = 0;
            for (let kz = 0; kz < kd; kz++) {
              for (let ky = 0; ky < g.kh; ky++) {
                for (let kx = 0; kx < g.kw; kx++) {
                  const iz = tapInput(transposed, oz, kz, sd, dd, pd, d);
                  const iy = tapInput(transposed, oy, ky, g.sh, g.dh, g.ph, g.h);
                  const ix = tapInput(transposed, ox, kx, g.sw, g.dw, g.pw, g.w);
                  if (iz < 0 || iy < 0 || ix < 0) continue;
                  const base = (((n * d + iz) * g.h + iy) * g.w + ix) * g.c + grp * g.cg;
                  const tap = (kz * g.kh + ky) * g.kw + kx;
                  for (let ch = 0; ch < g.cg; ch++) acc += m.read(op.a, base + ch, 'int8') * m.read(op.b, col * op.k + tap * g.cg + ch, 'int8');
                }
              }
            }
            expect(acc, `${c.name}: output [${n}, ${col}, pixel ${o}]`).toBe(wantV[(n * K + col) * outPixels + o]);
          }
        }
      }
    }
  });

  it('refuses a grouped 3-D int8 convolution, naming the step', async () => {
    const engine = await convEngine({ name: 'g2', kind: 'convolution', x: [1, 4, 3, 3, 3], params: params([1, 1, 1], 4, { groups: 2 }), perChannel: true });
    expect(engine.plan.steps.some((s) => s.kind === 'convolution' && s.quant !== undefined)).toBe(true);
    expect(() => lowerPlan(engine.plan)).toThrow(/step 'layer' \(convolution[^)]*\): a grouped 3-D int8 convolution \(groups 2.*is not implemented on the CUDA backend yet/);
  });
});

describe('the fused requantize reaches the int8 GEMM op where the plan takes it (plan.ts fusedRequantizeRange)', () => {
  type IgemmOpSpec = Extract<NativeOpSpec, { op: 'igemm' }>;
  /** x → Q → DQ → linear (+ bias) (→ activation) (→ Q): the igemm op's spec. */
  async function linearOp(o: { readonly act?: 'relu' | 'clip'; readonly int8Out: boolean }): Promise<IgemmOpSpec> {
    const net = newNet('linear');
    const sx = scalar(net, 0.02, 'sx');
    const x = dequantize(net, quantize(net, net.addInput('x', 'float32', [8, 32]), sx, 'x_q'), sx, 'x_dq');
    const ws = constant(net, Tensor.fromNumbers(Array.from({ length: 16 }, (_, i) => 0.001 * (i + 1)), [16]), 'w_s');
    const wq = layer(net, 'quantize', [constant(net, Tensor.randn([16, 32], { seed: 4 }), 'w'), ws], { axis: 0, toType: 'int8' }, 'w_q');
    const w = layer(net, 'dequantize', [wq, ws], { axis: 0, toType: 'float32' }, 'w_dq');
    const mm = layer(net, 'matrix_multiply', [x, w], { transpose0: false, transpose1: true, vector0: false, vector1: false }, 'mm');
    let t = layer(net, 'elementwise', [mm, constant(net, Tensor.randn([1, 16], { seed: 5 }), 'b')], { op: 'sum' }, 'bias');
    if (o.act !== undefined) t = layer(net, 'activation', [t], { op: o.act, alpha: -4, beta: 4 }, 'act');
    net.markOutput(o.int8Out ? quantize(net, t, scalar(net, 0.05, 'so'), 'y_q') : t, 'y');
    const plan = (await build(net, { precision: 'int8' })).plan;
    const ops = lowerPlan(plan).spec.ops.filter((op): op is { step: number } & IgemmOpSpec => op.op === 'igemm');
    expect(ops).toHaveLength(1);
    return ops[0]!;
  }

  it('marks an int8-output product whose epilogue is a bias and a relu, or a bias alone', async () => {
    for (const act of ['relu', undefined] as const) {
      const op = await linearOp({ act, int8Out: true });
      expect(op.fusedRequantize, String(act)).toBe(true);
      expect(op.epilogue.map((e) => e.kind), String(act)).toEqual(act === 'relu' ? ['bias', 'activation'] : ['bias']);
    }
  });

  it('leaves the general arithmetic to a float output and to an activation other than relu', async () => {
    expect((await linearOp({ act: 'relu', int8Out: false })).fusedRequantize).toBeUndefined();
    expect((await linearOp({ act: 'clip', int8Out: true })).fusedRequantize).toBeUndefined();
  });
});

describe('the int8 GEMM op loads A evict-first where it reads A for the last time (Operands.lastRead)', () => {
  type IgemmOpSpec = Extract<NativeOpSpec, { op: 'igemm' }>;
  /** x → Q → DQ → linear per weight seed, each its own output (the products share the quantized x): the igemm ops in step order. */
  async function linearOps(seeds: readonly number[], xqOutput = false): Promise<IgemmOpSpec[]> {
    const net = newNet('linears');
    const sx = scalar(net, 0.02, 'sx');
    const xq = quantize(net, net.addInput('x', 'float32', [8, 32]), sx, 'x_q');
    const x = dequantize(net, xq, sx, 'x_dq');
    for (const seed of seeds) {
      const ws = scalar(net, 0.01, `w_s${seed}`);
      const w = dequantize(net, quantize(net, constant(net, Tensor.randn([16, 32], { seed }), `w${seed}`), ws, `w_q${seed}`), ws, `w_dq${seed}`);
      net.markOutput(layer(net, 'matrix_multiply', [x, w], { transpose0: false, transpose1: true, vector0: false, vector1: false }, `mm${seed}`), `y${seed}`);
    }
    if (xqOutput) net.markOutput(xq, 'x_q');
    const plan = (await build(net, { precision: 'int8' })).plan;
    return lowerPlan(plan).spec.ops.filter((op): op is { step: number } & IgemmOpSpec => op.op === 'igemm');
  }

  it('marks the only reader of a quantized activation', async () => {
    const ops = await linearOps([4]);
    expect(ops).toHaveLength(1);
    expect(ops[0]!.aEvictFirst).toBe(true);
  });

  it('marks only the last of two products reading the same quantized activation', async () => {
    const ops = await linearOps([4, 5]);
    expect(ops).toHaveLength(2);
    expect(ops.map((op) => op.aEvictFirst === true)).toEqual([false, true]);
  });

  it('leaves an activation that is also a network output unmarked', async () => {
    const ops = await linearOps([4], true);
    expect(ops).toHaveLength(1);
    expect(ops[0]!.aEvictFirst).toBeUndefined();
  });
});
