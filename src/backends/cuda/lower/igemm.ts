/**
 * Lowering of int8 convolutions, deconvolutions and matrix products (plan.ts StepQuantization) to
 * the int8 GEMM kernel (native/src/kernels/igemm.h): the convolution as an implicit GEMM over its
 * channels-last int8 input and KRSC int8 filter, the deconvolution as the same GEMM gathering each
 * output pixel's taps from the input (IgemmConvSpec.transposed) over its filter reordered per group
 * to [K, kernel..., C/groups] (the native op runs a strided one as its stride phases; 3-D ones of
 * either kind through an explicit im2col matrix, one group), the matrix product over a row-major
 * int8 matrix and an [N, K] int8 weight; the scales read from device memory at run time; the
 * epilogue (bias vectors, a residual, activations) and the requantization in the kernel's registers.
 */
import { anchorInputCount, fusedRequantizeRange, type LayerStepOf, type PlanStep, type QuantizedOperand } from '../../../engine/plan.js';
import { formatShape, numelOf, shapesEqual } from '../../../tensor/shape.js';
import { CONSTANT_MEMORY, type IgemmConvSpec, type IgemmEpilogueSpec, type IgemmInputQuantizeSpec, type IgemmSpec, type MemRef, type NativeOpSpec } from '../exec_spec.js';
import { alongOneDim } from '../library_epilogue.js';
import { checkInt8ConvForm, notImplemented } from '../step_support.js';
import { floatOf, viewOf, type Operand, type Operands } from './operands.js';
import { checkScales } from './quant.js';

type ConvStep = LayerStepOf<'convolution'> | LayerStepOf<'deconvolution'>;
type AnchorStep = ConvStep | LayerStepOf<'matrix_multiply'>;

/** The int8 operand at step input `input`, or null. */
function operandAt(step: AnchorStep, input: number): QuantizedOperand | null {
  return step.quant!.operands.find((o) => o.input === input) ?? null;
}

/** A scale input: its reference, float dtype and element count. */
function scaleOf(ops: Operands, index: number, step: AnchorStep, o: QuantizedOperand, what: string): { ref: MemRef; dtype: ReturnType<typeof floatOf>; count: number } {
  const s = ops.input(index, o.scale);
  return { ref: s.ref, dtype: floatOf(s.dtype, `step '${step.name}': the scale of ${what}`), count: numelOf(s.shape) };
}

/** The per-tensor (null) or per-channel (`channelAxis`) scale of an operand; anything else is refused. */
function checkAxis(step: AnchorStep, o: QuantizedOperand, channelAxis: number | null, what: string): boolean {
  if (o.axis === null) return false;
  if (o.axis !== channelAxis) notImplemented(step, `int8 ${what} quantized along axis ${o.axis}${channelAxis === null ? '' : ` (only per tensor or along ${channelAxis})`}`);
  return true;
}

/** The epilogue ops of the step for the kernel; `channels` columns, the channel axis `axis` of the output. */
function epilogueSpecs(ops: Operands, index: number, step: AnchorStep, out: Operand, axis: number, channels: number): IgemmEpilogueSpec[] {
  return step.epilogue.map((op): IgemmEpilogueSpec => {
    if (op.op === 'activation') return { kind: 'activation', fn: op.fn, alpha: op.alpha, beta: op.beta };
    const v = ops.input(index, op.input);
    if (op.op === 'bias') {
      const perChannel = alongOneDim(v.shape, out.shape.length, axis, channels);
      if (!perChannel && numelOf(v.shape) !== 1) notImplemented(step, `an int8 epilogue bias of shape ${formatShape(v.shape)} (one value, or one per output channel)`);
      return { kind: 'bias', ref: v.ref, dtype: floatOf(v.dtype, `step '${step.name}': an epilogue bias`), perChannel };
    }
    if (!shapesEqual(v.shape, out.shape) || v.layout !== out.layout) {
      notImplemented(step, `an int8 epilogue residual ${formatShape(v.shape)} (${v.layout}) that is not laid out like the output ${formatShape(out.shape)} (${out.layout})`);
    }
    const q = operandAt(step, op.input);
    if (q === null) return { kind: 'residual', ref: v.ref, dtype: floatOf(v.dtype, `step '${step.name}': a float residual`) };
    if (v.dtype !== 'int8') throw new TypeError(`step '${step.name}': the quantized residual (input ${op.input}) must be int8, got ${v.dtype}`);
    const s = scaleOf(ops, index, step, q, 'the residual');
    return { kind: 'residual', ref: v.ref, dtype: 'int8', scale: s.ref, scaleDtype: s.dtype, scalePerChannel: checkAxis(step, q, axis, 'residual') };
  });
}

/** The output and its scale. */
function outputSpec(ops: Operands, index: number, step: AnchorStep, out: Operand): Pick<IgemmSpec, 'out' | 'outDtype' | 'outScale' | 'outScaleDtype'> {
  const q = step.quant!;
  if (q.outputScale === null) return { out: out.ref, outDtype: floatOf(out.dtype, `step '${step.name}': a float int8-step output`) };
  if (out.dtype !== 'int8') throw new TypeError(`step '${step.name}': an output with a scale must be int8, got ${out.dtype}`);
  const s = ops.input(index, q.outputScale);
  return { out: out.ref, outDtype: 'int8', outScale: s.ref, outScaleDtype: floatOf(s.dtype, `step '${step.name}': the output scale`) };
}

function int8Input(step: AnchorStep, o: { readonly dtype: string }, what: string): void {
  if (o.dtype !== 'int8') throw new TypeError(`step '${step.name}': the ${what} of an int8 ${step.kind} must be int8, got ${o.dtype}`);
}

/**
 * The int8 convolution that takes over quantize step `qIndex`, or null. A per-tensor quantize to
 * int8 (no zero point) of a float [N, C, H, W] tensor whose output only that convolution reads,
 * as its input and runs right after it, where the space-to-depth form applies (one group, equal strides, dilation 1,
 * channels not a multiple of 16, at most 64 packed channels: ResNet's and a CIFAR ResNet's stems): the form's packing
 * then quantizes the float input as it packs it (native/src/exec/op_igemm.cc), one pass over the
 * input instead of a quantize pass and a packing pass. The quantize step lowers to no op.
 */
export function quantizeTakeover(ops: Operands, qIndex: number): number | null {
  const plan = ops.plan;
  const q = plan.steps[qIndex]!;
  if (q.kind !== 'quantize' || q.quant !== undefined || q.epilogue.length > 0 || q.params.axis !== null || q.params.toType !== 'int8') return null;
  if (q.inputs.length !== 2 || q.outputs.length !== 1) return null;
  const id = q.outputs[0]!;
  const x = plan.values[q.inputs[0]!]!;
  if (x.dtype !== 'float32' && x.dtype !== 'float16' && x.dtype !== 'bfloat16') return null;
  if (plan.outputs.some((o) => o.value === id) || (ops.layout.conversions.get(id)?.size ?? 0) > 0) return null;
  let consumer = -1;
  for (let i = 0; i < plan.steps.length; i++) {
    const uses = plan.steps[i]!.inputs.filter((v) => v === id).length;
    if (uses === 0) continue;
    if (consumer >= 0 || uses > 1) return null;
    consumer = i;
  }
  // The very next step: the arena may reuse the float input's bytes once the quantize step is
  // done with them, but not before the next step has read its inputs.
  if (consumer !== qIndex + 1) return null;
  const c = plan.steps[consumer]!;
  if (c.kind !== 'convolution' || c.quant === undefined || c.inputs[0] !== id) return null;
  const p = c.params;
  const channels = plan.values[id]!.shape[1] ?? 0;
  const b = p.stride[0]!;
  if (p.kernelSize.length !== 2 || p.groups !== 1 || p.stride[1] !== b || p.dilation.some((d) => d !== 1)) return null;
  if (channels <= 0 || channels % 16 === 0 || b * b * channels > 64) return null;
  return consumer;
}

/** The quantize step an int8 convolution takes over (quantizeTakeover), as its spec, or undefined. */
function inputQuantize(ops: Operands, index: number, step: LayerStepOf<'convolution'>): IgemmInputQuantizeSpec | undefined {
  const producer = ops.plan.steps.findIndex((s) => s.outputs.includes(step.inputs[0]!));
  if (producer < 0 || quantizeTakeover(ops, producer) !== index) return undefined;
  const q = ops.plan.steps[producer] as LayerStepOf<'quantize'>;
  checkScales(ops.plan, q);
  const x = ops.input(producer, 0);
  const scale = ops.input(producer, 1);
  if (x.shape.length !== 4) return undefined;
  return {
    x: x.ref, dtype: floatOf(x.dtype, `step '${q.name}': the quantized input`), view: viewOf(x),
    scale: scale.ref, scaleDtype: floatOf(scale.dtype, `step '${q.name}': the scale`),
  };
}

function lowerConv(ops: Operands, index: number, step: ConvStep): IgemmSpec {
  const transposed = step.kind === 'deconvolution';
  const what = transposed ? 'deconvolution' : 'convolution';
  const x = ops.input(index, 0);
  const y = ops.output(index);
  int8Input(step, x, 'input');
  int8Input(step, ops.plan.values[step.inputs[1]!]!, 'kernel');
  if (x.layout !== 'nhwc' || y.layout !== 'nhwc') throw new Error(`step '${step.name}': the int8 ${what} needs channels-last operands, got ${x.layout} -> ${y.layout}`);
  const p = step.params;
  const nd = p.kernelSize.length;
  checkInt8ConvForm(step);
  if ([...p.prePadding].some((v) => v < 0)) notImplemented(step, `an int8 ${what} with negative padding [${p.prePadding.join(', ')}]`);
  const filter = ops.constants.filters.get(index);
  if (filter === undefined) throw new Error(`step '${step.name}': the int8 filter was not prepared`);
  // Per spatial dim, depth (3-D only), rows (1 for 1-D), columns.
  const three = (v: readonly number[], fill: number): [number, number, number] => {
    const a = [...new Array<number>(3 - v.length).fill(fill), ...v];
    return [a[0]!, a[1]!, a[2]!];
  };
  const [d, h, wIn] = three(x.shape.slice(2), 1);
  const [od, oh, ow] = three(y.shape.slice(2), 1);
  const [kd, kh, kw] = three(p.kernelSize, 1);
  const [sd, sh, sw] = three(p.stride, 1);
  const [dd, dh, dw] = three(p.dilation, 1);
  const [pd, ph, pw] = three(p.prePadding, 0);
  const c = x.shape[1]!;
  const cg = c / p.groups;
  const k = y.shape[1]!;
  const conv: IgemmConvSpec = {
    batch: x.shape[0]!, h, w: wIn, c, cg, kh, kw, oh, ow, sh, sw, dh, dw, ph, pw,
    ...(transposed ? { transposed } : {}), ...(nd === 3 ? { d, kd, od, sd, dd, pd } : {}),
  };
  const xo = operandAt(step, 0)!;
  const wo = operandAt(step, 1)!;
  checkAxis(step, xo, null, 'input');
  const sx = scaleOf(ops, index, step, xo, 'the input');
  // The weight's output-channel axis: [K, C/groups, ...] for a convolution, [C, K/groups, ...] for a deconvolution.
  const swPerChannel = checkAxis(step, wo, transposed ? 1 : 0, 'kernel');
  const sw_ = scaleOf(ops, index, step, wo, 'the kernel');
  if (swPerChannel && sw_.count !== k) throw new RangeError(`step '${step.name}': per-channel kernel scales must number the ${k} output channels, got ${sw_.count}`);
  const bias = anchorInputCount(step) > 2 ? ops.input(index, 2) : null;
  if (bias !== null && numelOf(bias.shape) !== k) throw new RangeError(`step '${step.name}': the bias must have ${k} elements, got ${formatShape(bias.shape)}`);
  const aQuant = step.kind === 'convolution' ? inputQuantize(ops, index, step) : undefined;
  return {
    op: 'igemm', m: conv.batch * od * oh * ow, n: k / p.groups, k: cg * kd * kh * kw, groups: p.groups,
    a: x.ref, ...(aQuant !== undefined ? { aQuant } : ops.lastRead(index, x.id) ? { aEvictFirst: true } : {}), conv, b: { mem: CONSTANT_MEMORY, offset: filter },
    sx: sx.ref, sxDtype: sx.dtype, sxRows: 1, sw: sw_.ref, swDtype: sw_.dtype, swPerChannel,
    ...(bias !== null ? { bias: bias.ref, biasDtype: floatOf(bias.dtype, `step '${step.name}': the bias`) } : {}),
    epilogue: epilogueSpecs(ops, index, step, y, 1, k),
    ...outputSpec(ops, index, step, y),
  };
}

function lowerMatmul(ops: Operands, index: number, step: LayerStepOf<'matrix_multiply'>): IgemmSpec {
  const p = step.params;
  const a = ops.input(index, 0);
  const out = ops.output(index);
  int8Input(step, a, 'first operand');
  if (p.vector0 || p.transpose0) notImplemented(step, `an int8 matrix product whose first operand is ${p.vector0 ? 'a vector' : 'transposed'}`);
  const bId = step.inputs[1]!;
  const bValue = ops.plan.values[bId]!;
  if (bValue.location.kind !== 'constant') notImplemented(step, 'an int8 matrix product whose second operand is not a constant');
  if (bValue.dtype !== 'int8') throw new TypeError(`step '${step.name}': the second operand of an int8 matrix product must be int8, got ${bValue.dtype}`);
  const bShape = bValue.shape;
  if (!p.vector1 && bShape.length > 2 && numelOf(bShape.slice(0, -2)) !== 1) notImplemented(step, `an int8 matrix product with a batched weight ${formatShape(bShape)}`);
  const k = a.shape[a.shape.length - 1]!;
  const n = p.vector1 ? 1 : bShape[bShape.length - (p.transpose1 ? 2 : 1)]!;
  const kb = p.vector1 ? bShape[0]! : bShape[bShape.length - (p.transpose1 ? 1 : 2)]!;
  if (kb !== k) throw new RangeError(`step '${step.name}': the operands ${formatShape(a.shape)} and ${formatShape(bShape)} do not share the reduction dim`);
  // [N, K] with K contiguous: the weight as stored (transposed, or a vector), else its transposed copy.
  const b: MemRef = p.vector1 || p.transpose1 ? ops.home(bId).ref : { mem: CONSTANT_MEMORY, offset: ops.constants.filters.get(index) ?? -1 };
  if (b.offset < 0) throw new Error(`step '${step.name}': the transposed int8 weight was not prepared`);
  const xo = operandAt(step, 0)!;
  const wo = operandAt(step, 1)!;
  const rowAxis = a.shape.length - 2;
  const perRow = checkAxis(step, xo, rowAxis >= 0 ? rowAxis : null, 'first operand');
  const sx = scaleOf(ops, index, step, xo, 'the first operand');
  const swPerChannel = checkAxis(step, wo, p.vector1 ? null : bShape.length - (p.transpose1 ? 2 : 1), 'second operand');
  const sw_ = scaleOf(ops, index, step, wo, 'the second operand');
  const m = numelOf(a.shape) / k;
  const axis = p.vector1 ? out.shape.length : out.shape.length - 1;
  return {
    op: 'igemm', m, n, k, groups: 1, a: a.ref, lda: k, b, ...(ops.lastRead(index, a.id) ? { aEvictFirst: true } : {}),
    sx: sx.ref, sxDtype: sx.dtype, sxRows: perRow ? a.shape[rowAxis]! : 1, sw: sw_.ref, swDtype: sw_.dtype, swPerChannel,
    epilogue: epilogueSpecs(ops, index, step, out, axis, n),
    ...outputSpec(ops, index, step, out),
  };
}

/** The int8 GEMM op of an int8 convolution, deconvolution or matrix product. */
export function lowerInt8Anchor(ops: Operands, index: number, step: PlanStep): NativeOpSpec[] {
  // The fused requantize where the plan's arithmetic says so (plan.ts fusedRequantizeRange).
  const fused = (s: AnchorStep) => (fusedRequantizeRange(s, anchorInputCount(s)) !== null ? { fusedRequantize: true } : {});
  if (step.kind === 'convolution' || step.kind === 'deconvolution') return [{ step: index, ...lowerConv(ops, index, step), ...fused(step) }];
  if (step.kind === 'matrix_multiply') return [{ step: index, ...lowerMatmul(ops, index, step), ...fused(step) }];
  return notImplemented(step, `the int8 form of ${step.kind} on the int8 GEMM kernel`);
}
