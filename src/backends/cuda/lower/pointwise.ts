/**
 * Lowering to the pointwise interpreter kernel: fused pointwise regions, the single-layer
 * pointwise kinds (as one-instruction programs computing what the reference kernels compute),
 * and conv/gemm epilogues that a library call could not fuse.
 */
import type { PointwiseInstr } from '../../../engine/plan.js';
import { epilogueProgram } from '../../../engine/reference/pointwise.js';
import { scaleWeightView } from '../../../engine/reference/layers_pointwise.js';
import type { EpilogueOp, LayerStep, PointwiseStep } from '../../../engine/plan.js';
import { isIntegral, type DType } from '../../../tensor/dtype.js';
import { contiguousStrides } from '../../../tensor/shape.js';
import type { NativeInstr, NativeOpSpec, View } from '../exec_spec.js';
import { broadcastView, coalesce, walkOrder } from '../strided.js';
import { viewOf, type Operand, type Operands } from './operands.js';

/** A program input: an operand, optionally viewed with another shape of the same element count. */
export interface ProgramInput {
  readonly operand: Operand;
  readonly view: readonly number[] | null;
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
 * its memory order with every dim that all operands step through contiguously merged.
 */
export function pointwiseOp(step: number, inputs: readonly ProgramInput[], out: Operand, instrs: readonly NativeInstr[], what: string): NativeOpSpec {
  const views = inputs.map(({ operand, view }): View => {
    const base = view === null ? viewOf(operand) : { shape: view, strides: contiguousStrides(view) };
    return broadcastView(base, out.shape, `${what}: input ${operand.id}`);
  });
  const order = walkOrder(out.strides);
  const shape = order.map((d) => out.shape[d]!);
  const all = [out.strides, ...views.map((v) => v.strides)].map((s) => order.map((d) => s[d]!));
  const c = coalesce(shape, all);
  const dtypes = [out.dtype, ...inputs.map((i) => i.operand.dtype), ...instrs.map((i) => i.dtype)];
  return {
    step, op: 'pointwise', shape: c.shape, instrs,
    out: { ref: out.ref, dtype: out.dtype, strides: c.strides[0]! },
    inputs: inputs.map((i, j) => ({ ref: i.operand.ref, dtype: i.operand.dtype, strides: c.strides[j + 1]! })),
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
