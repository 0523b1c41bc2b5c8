/**
 * Lowering to the pointwise interpreter kernel: fused pointwise regions, the single-layer
 * pointwise kinds (as one-instruction programs computing what the reference kernels compute),
 * conv/gemm epilogues that a library call could not fuse, and the int8 pointwise steps of the
 * Q/DQ fusion (int8 inputs dequantized on load, the result requantized on store).
 */
import { quantInputCount, type PlanStep, type PointwiseInstr, type StepQuantization } from '../../../engine/plan.js';
import { epilogueProgram } from '../../../engine/reference/pointwise.js';
import { scaleWeightView } from '../../../engine/reference/layers_pointwise.js';
import type { EpilogueOp, LayerStep, PointwiseStep } from '../../../engine/plan.js';
import { isIntegral, type DType } from '../../../tensor/dtype.js';
import { contiguousStrides, formatShape, numelOf } from '../../../tensor/shape.js';
import { Tensor } from '../../../tensor/tensor.js';
import type { NativeInstr, NativeOpSpec, PointwiseInput, ScaleRef, View } from '../exec_spec.js';
import { broadcastView, coalesce, walkOrder } from '../strided.js';
import { floatOf, viewOf, type Operand, type Operands } from './operands.js';

/** A program input: an operand, optionally viewed with another shape of the same element count. */
export interface ProgramInput {
  readonly operand: Operand;
  readonly view: readonly number[] | null;
  /** An int8 operand's scale, dequantizing it on load: strides over the input's (viewed) shape. */
  readonly scale?: { readonly operand: Operand; readonly strides: readonly number[] };
}

/** Native instructions for a plan pointwise program whose inputs have dtypes `inputs`. */
export function nativeInstrs(instrs: readonly PointwiseInstr[], inputs: readonly DType[]): NativeInstr[] {
  const regs = [...inputs];
  return instrs.map((ins) => {
    let out: NativeInstr;
    switch (ins.op) {
      case 'elementwise':
        out = { op: 'elementwise', fn: ins.fn, args: ins.args, dtype: ins.dtype, intMath: isIntegral(regs[ins.args[0]]!) };
        break;
      case 'unary': out = { op: 'unary', fn: ins.fn, args: ins.args, dtype: ins.dtype }; break;
      case 'activation': out = { op: 'activation', fn: ins.fn, alpha: ins.alpha, beta: ins.beta, args: ins.args, dtype: ins.dtype }; break;
      case 'cast': out = { op: 'cast', args: ins.args, dtype: ins.dtype }; break;
    }
    regs.push(ins.dtype);
    return out;
  });
}

/**
 * One pointwise op writing `out` from `inputs` (broadcast to out's shape), walking the output in
 * its memory order with every dim that all operands step through contiguously merged. With
 * `outScale` (an int8 step), the result is requantized to int8 `out`.
 */
export function pointwiseOp(
  step: number, inputs: readonly ProgramInput[], out: Operand, instrs: readonly NativeInstr[], what: string, outScale: ScaleRef | null = null,
): NativeOpSpec {
  const views = inputs.map(({ operand, view }): View => {
    const base = view === null ? viewOf(operand) : { shape: view, strides: contiguousStrides(view) };
    return broadcastView(base, out.shape, `${what}: input ${operand.id}`);
  });
  // Each scale walks the shape its input is read as, broadcast the same way.
  const scaled = inputs.flatMap(({ operand, view, scale }, j) => (scale === undefined ? [] : [{
    j, scale: scale.operand, view: broadcastView({ shape: view ?? operand.shape, strides: scale.strides }, out.shape, `${what}: the scale of input ${operand.id}`),
  }]));
  const order = walkOrder(out.strides);
  const shape = order.map((d) => out.shape[d]!);
  const all = [out.strides, ...views.map((v) => v.strides), ...scaled.map((s) => s.view.strides)].map((s) => order.map((d) => s[d]!));
  const c = coalesce(shape, all);
  const scaleStrides = new Map(scaled.map((s, k) => [s.j, { scale: s.scale, strides: c.strides[1 + inputs.length + k]! }]));
  // Registers: a dequantized input holds a float32, and a requantized result is one until the store.
  const dtypes = [outScale === null ? out.dtype : 'float32', ...inputs.map((i) => (i.scale === undefined ? i.operand.dtype : 'float32')), ...instrs.map((i) => i.dtype)];
  return {
    step, op: 'pointwise', shape: c.shape, instrs,
    out: { ref: out.ref, dtype: out.dtype, strides: c.strides[0]! },
    inputs: inputs.map((i, j): PointwiseInput => {
      const s = scaleStrides.get(j);
      const input = { ref: i.operand.ref, dtype: i.operand.dtype, strides: c.strides[j + 1]! };
      return s === undefined ? input : { ...input, scale: { ref: s.scale.ref, dtype: s.scale.dtype, strides: s.strides } };
    }),
    ...(outScale === null ? {} : { outScale }),
    wide: dtypes.some(isIntegral),
  };
}

/** A fused pointwise region. */
export function lowerPointwiseStep(ops: Operands, index: number, step: PointwiseStep): NativeOpSpec[] {
  const inputs = step.inputs.map((_, p) => ({ operand: ops.input(index, p), view: step.program.views[p] ?? null }));
  const instrs = nativeInstrs(step.program.instrs, inputs.map((i) => i.operand.dtype));
  return [pointwiseOp(index, inputs, ops.output(index), instrs, `step '${step.name}'`)];
}

type SinglePointwiseKind = 'elementwise' | 'unary' | 'activation' | 'cast' | 'identity' | 'scale' | 'select' | 'parametric_relu';
/** A single-layer pointwise step. */
type SinglePointwiseStep = Extract<LayerStep, { readonly kind: SinglePointwiseKind }>;

/** The one-layer program of a single pointwise step (register 0.. are its inputs). */
function singleProgram(step: SinglePointwiseStep, dtypes: readonly DType[], out: DType): NativeInstr[] {
  switch (step.kind) {
    case 'elementwise': return [{ op: 'elementwise', fn: step.params.op, args: [0, 1], dtype: out, intMath: isIntegral(dtypes[0]!) }];
    case 'unary': return [{ op: 'unary', fn: step.params.op, args: [0], dtype: out }];
    case 'activation': return [{ op: 'activation', fn: step.params.op, alpha: step.params.alpha, beta: step.params.beta, args: [0], dtype: out }];
    case 'cast': return [{ op: 'cast', args: [0], dtype: step.params.toType }];
    case 'identity': return [{ op: 'cast', args: [0], dtype: out }];
    case 'select': return [{ op: 'select', args: [0, 1, 2], dtype: out }];
    case 'parametric_relu': return [{ op: 'prelu', args: [0, 1], dtype: out }];
    case 'scale': {
      // (x * scale + shift) ^ power in float32, skipping absent weights, as the reference.
      const fns = ['prod', 'sum', 'pow'] as const;
      const instrs: NativeInstr[] = [];
      let acc = 0;
      for (let i = 1; i < dtypes.length; i++) {
        instrs.push({ op: 'elementwise', fn: fns[i - 1]!, args: [acc, i], dtype: 'float32', intMath: false });
        acc = dtypes.length + instrs.length - 1;
      }
      if (instrs.length === 0) instrs.push({ op: 'cast', args: [0], dtype: 'float32' });
      return instrs;
    }
  }
}

/** A single-layer pointwise step. */
export function lowerSinglePointwise(ops: Operands, index: number, step: SinglePointwiseStep): NativeOpSpec[] {
  const out = ops.output(index);
  const inputs = step.inputs.map((_, p): ProgramInput => {
    const operand = ops.input(index, p);
    const view = step.kind === 'scale' && p > 0
      ? scaleWeightView(step.params.mode, step.params.channelAxis, out.shape.length, operand.shape)
      : null;
    return { operand, view };
  });
  const instrs = singleProgram(step, inputs.map((i) => i.operand.dtype), out.dtype);
  return [pointwiseOp(index, inputs, out, instrs, `step '${step.name}'`)];
}

/**
 * The epilogue a library call could not fuse, applied in place to its result: `out` is read as
 * register 0 and rewritten (each element is read and written by the same thread).
 */
export function epilogueOp(ops: Operands, index: number, epilogue: readonly EpilogueOp[], out: Operand): NativeOpSpec {
  const { program, inputs } = epilogueProgram(epilogue, out.dtype);
  const operands = [{ operand: out, view: null }, ...inputs.map((p) => ({ operand: ops.input(index, p), view: null }))];
  const instrs = nativeInstrs(program.instrs, operands.map((o) => o.operand.dtype));
  return pointwiseOp(index, operands, out, instrs, `step '${ops.step(index).name}' epilogue`);
}

// ---------------------------------------------------------------- int8 steps

/** The quantization of int8 step `step` (plan.ts StepQuantization). */
export function quantOf(step: PlanStep): StepQuantization {
  if (step.quant === undefined) throw new Error(`step '${step.name}' (${step.kind}) is not an int8 step`);
  return step.quant;
}

/** The values of constant plan value `id`, or null when it is computed at run time. */
function constantValues(ops: Operands, id: number): Float64Array | null {
  const loc = ops.plan.values[id]!.location;
  if (loc.kind !== 'constant') return null;
  const c = ops.plan.constants[loc.index]!;
  return Tensor.fromBytes(ops.plan.blob.subarray(c.offset, c.offset + c.byteLength), [numelOf(c.shape)], c.dtype).toFloat64();
}

/**
 * Input `position` of int8 step `index` as a scale: a float tensor of `count` values (1 per
 * tensor, or one per index of a channel axis). A constant scale is checked as the reference
 * checks it (positive finite float32 values with finite reciprocals), since the kernels read
 * scales on the device and cannot report bad ones; a run-time scale is read as it is.
 * @example
 * // the output scale of step 3, one value:
 * scaleOperand(ops, 3, step.quant.outputScale, 1, 'the output scale');
 */
export function scaleOperand(ops: Operands, index: number, position: number, count: number, what: string): Operand {
  const step = ops.step(index);
  const s = ops.input(index, position);
  floatOf(s.dtype, `step '${step.name}': ${what}`);
  if (numelOf(s.shape) !== count) throw new RangeError(`step '${step.name}': ${what} must have ${count} element(s), got ${formatShape(s.shape)}`);
  constantValues(ops, step.inputs[position]!)?.forEach((v, i) => {
    const f = Math.fround(v);
    if (!(f > 0) || !Number.isFinite(f) || !Number.isFinite(Math.fround(1 / f))) {
      throw new RangeError(`step '${step.name}': ${what} must be positive finite float32 values whose reciprocals are finite, got ${v}${count > 1 ? ` at ${i}` : ''}`);
    }
  });
  return s;
}

/** A one-element scale operand as the kernels take it. */
export function scaleRef(ops: Operands, index: number, s: Operand): ScaleRef {
  return { ref: s.ref, dtype: floatOf(s.dtype, `step '${ops.step(index).name}': a scale`) };
}

/** The element stride of a scale's values in storage order (0 for one value); throws for a scale that is not one run. */
function runStride(s: Operand, what: string): number {
  const c = coalesce(s.shape, [s.strides]);
  if (c.shape.length === 0) return 0;
  if (c.shape.length > 1) throw new RangeError(`${what} ${formatShape(s.shape)} is not one run of values in memory (strides [${s.strides.join(', ')}])`);
  return c.strides[0]![0]!;
}

/**
 * Strides, over the shape `view` an operand of shape `own` is read as (own itself when null), of
 * its scales along `axis` of `own`, stored with stride `stride`: element e of the operand (row-major)
 * takes scale floor(e / inner) % C, C = own[axis], inner = the elements after axis; the view must
 * keep that split (dims whose suffix products are C · inner and inner). Null when it does not.
 */
export function channelScaleStrides(own: readonly number[], view: readonly number[] | null, axis: number, stride: number): number[] | null {
  const v = view ?? own;
  const inner = numelOf(own.slice(axis + 1));
  const outer = inner * own[axis]!;
  // suffix[d]: the elements of v's dims d.. (suffix[v.length] = 1).
  const suffix = v.map((_, d) => numelOf(v.slice(d)));
  suffix.push(1);
  const end = suffix.indexOf(inner);
  const start = suffix.indexOf(outer);
  if (end < 0 || start < 0 || start > end) return null;
  return v.map((size, d) => (d >= start && d < end && size > 1 ? stride * (suffix[d + 1]! / inner) : 0));
}

/**
 * An int8 pointwise step: the program over its data inputs, each int8 operand dequantized on load
 * (per tensor, or per channel along its axis), the result requantized with the output scale or
 * stored in the output's float dtype (plan.ts StepQuantization).
 */
export function lowerInt8Pointwise(ops: Operands, index: number, step: PointwiseStep): NativeOpSpec[] {
  const q = quantOf(step);
  const nData = step.inputs.length - quantInputCount(q);
  const operands = new Map(q.operands.map((o) => [o.input, o]));
  for (const o of q.operands) {
    if (!(o.input >= 0 && o.input < nData)) throw new RangeError(`step '${step.name}': int8 operand ${o.input} is not a data input (0..${nData - 1})`);
  }
  const inputs = Array.from({ length: nData }, (_, p): ProgramInput => {
    const operand = ops.input(index, p);
    const view = step.program.views[p] ?? null;
    const o = operands.get(p);
    if (o === undefined) return { operand, view };
    if (operand.dtype !== 'int8') throw new TypeError(`step '${step.name}': int8 operand ${p} must be int8, got ${operand.dtype}${formatShape(operand.shape)}`);
    const what = `the scale of input ${p}`;
    if (o.axis === null) return { operand, view, scale: { operand: scaleOperand(ops, index, o.scale, 1, what), strides: (view ?? operand.shape).map(() => 0) } };
    if (!(Number.isInteger(o.axis) && o.axis >= 0 && o.axis < operand.shape.length)) {
      throw new RangeError(`step '${step.name}': input ${p} ${formatShape(operand.shape)} has no axis ${o.axis}`);
    }
    const scale = scaleOperand(ops, index, o.scale, operand.shape[o.axis]!, what);
    const strides = channelScaleStrides(operand.shape, view, o.axis, runStride(scale, `step '${step.name}': ${what}`));
    if (strides === null) {
      throw new RangeError(`step '${step.name}': the scales of input ${p} ${formatShape(operand.shape)} along axis ${o.axis} do not follow its view ${formatShape(view ?? [])}`);
    }
    return { operand, view, scale: { operand: scale, strides } };
  });
  const out = ops.output(index);
  let outScale: ScaleRef | null = null;
  if (q.outputScale !== null) {
    if (out.dtype !== 'int8') throw new TypeError(`step '${step.name}': an output with a scale must be int8, got ${out.dtype}`);
    outScale = scaleRef(ops, index, scaleOperand(ops, index, q.outputScale, 1, 'the output scale'));
  } else {
    floatOf(out.dtype, `step '${step.name}': the output of an int8 step without an output scale`);
  }
  const instrs = nativeInstrs(step.program.instrs, inputs.map((i) => (i.scale === undefined ? i.operand.dtype : 'float32')));
  return [pointwiseOp(index, inputs, out, instrs, `step '${step.name}'`, outScale)];
}
