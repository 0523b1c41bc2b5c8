/**
 * Q/DQ fusion (TensorRT's QuantizeDoubleInputNodes): dequantize and quantize layers fuse into the
 * steps around them, which then run in int8 (the arithmetic is plan.ts's StepQuantization).
 *
 * Rules (pattern → replacement, and the identity each relies on; symmetric int8, DQ(q) = s·q):
 *   Q(A⟨epilogue⟩(DQ(x), DQ(w)) [+ DQ(r)])  → A_int8⟨epilogue, requantize⟩(x, w [, r])
 *       A: convolution, deconvolution, matrix_multiply; x per tensor (or per row of a matrix
 *       product), w per tensor or per output channel: Σ (sx·x)(sw[c]·w) = sx·sw[c]·Σ x·w, so the
 *       sum runs on int8 in int32
 *   A⟨epilogue⟩(DQ(x), DQ(w))              → A_int8⟨epilogue⟩(x, w) writing float (no Q after A)
 *   Q(pool(DQ(x)))                         → pool_int8(x): avg(s·x) = s·avg(x), max(s·x) = s·max(x)
 *   Q(P(DQ(x_i), y_j))                     → P_int8(x_i, y_j): a pointwise step (a fused program or
 *       one elementwise, unary or activation layer) dequantizes on load and quantizes on store
 *   Q(DQ(q)), other scale                  → requantize(q): a one-instruction int8 pointwise step
 *   Q(matrix_multiply⟨epilogue⟩(DQ(x), DQ(w))) with float8e4m3 per-tensor x and w (FP8)
 *                                          → matrix_multiply_fp8⟨epilogue, requantize⟩(x, w), or
 *       writing float without the Q: Σ (sx·x)(sw·w) = sx·sw·Σ x·w, the sum of e4m3 products in
 *       float32; FP8 fuses into matrix products only (TensorRT's FP8 on Hopper likewise centres
 *       on GEMMs), its Q/DQ elsewhere run as their own steps
 * Each Q/DQ that fuses disappears when nothing else reads it; a dequantize shared with a layer
 * that cannot take int8 stays for that layer (the build report says why, qdq_report.ts).
 */
import { isFloating } from '../../tensor/dtype.js';
import type { PointwiseProgram, QuantizedOperand } from '../plan.js';
import { type BLayerNodeOf, type BNode, type BuildGraph, type BValue, type NodeSpec, type PassLog } from './build_graph.js';
import {
  activationProblem, dequantizeOf, describeNode, fp8Problem, int8Problem, quantizedType, soleQuantizeOf, weightProblem, type DequantizeNode,
  type QuantizeNode,
} from './qdq_rules.js';

/** A convolution, deconvolution or matrix_multiply node. */
export type AnchorNode = BLayerNodeOf<'convolution'> | BLayerNodeOf<'deconvolution'> | BLayerNodeOf<'matrix_multiply'>;

/** What an anchor fuses: its int8 operands (by input position) and the quantize of its output. */
interface Fusion {
  readonly operands: ReadonlyMap<number, DequantizeNode>;
  readonly output: QuantizeNode | null;
}

/** The anchor's int8 fusion, or why it runs in float. */
export type AnchorMatch = { readonly ok: true; readonly fusion: Fusion } | { readonly ok: false; readonly reason: string };

/** Fuses Q/DQ layers into int8 steps; returns the number of steps created. */
export function fuseQdq(g: BuildGraph, _log: PassLog): number {
  let count = 0;
  for (const n of g.nodes) {
    if (!g.has(n) || n.quant !== undefined) continue;
    const fusion = fusionOf(g, n);
    if (fusion === null) continue;
    apply(g, n, fusion);
    count++;
  }
  g.compact();
  return count;
}

/** The int8 fusion of node `n`, or null. */
function fusionOf(g: BuildGraph, n: BNode): Fusion | null {
  if (isAnchor(n)) {
    const m = matchAnchor(g, n);
    return m.ok ? m.fusion : null;
  }
  if (n.kind === 'pooling') {
    const x = dequantizeOf(n.inputs[0]!);
    return x !== null && activationProblem(x) === null ? { operands: new Map([[0, x]]), output: int8Output(g, n) } : null;
  }
  if (n.kind === 'quantize') {
    const dq = dequantizeOf(n.inputs[0]!);
    return dq !== null && activationProblem(dq) === null && activationProblem(n) === null ? { operands: new Map([[0, dq]]), output: n } : null;
  }
  if (pointwiseProgram(n) === null || !isFloating(n.outputs[0]!.dtype)) return null;
  const operands = new Map<number, DequantizeNode>();
  n.inputs.forEach((v, i) => {
    const d = dequantizeOf(v);
    if (d !== null && activationProblem(d) === null) operands.set(i, d);
  });
  const output = int8Output(g, n);
  return operands.size > 0 || output !== null ? { operands, output } : null;
}

/** The quantize that alone reads `n`'s output, when it can be fused as an int8 output. */
function int8Output(g: BuildGraph, n: BNode): QuantizeNode | null {
  const q = soleQuantizeOf(g, n.outputs[0]!);
  return q !== null && activationProblem(q) === null ? q : null;
}

/** Whether `n` is a convolution, deconvolution or matrix_multiply. */
export function isAnchor(n: BNode): n is AnchorNode {
  return n.kind === 'convolution' || n.kind === 'deconvolution' || n.kind === 'matrix_multiply';
}

/** The names an anchor gives its two operands in messages. */
function operandNames(a: AnchorNode): readonly [string, string] {
  return a.kind === 'matrix_multiply' ? ['first operand', 'second operand'] : ['input', 'weight'];
}

/**
 * Why the first operand's quantization does not fit an int8 anchor, or null: per tensor, or (the
 * first operand of a matrix product: per-token dynamic quantization) per row.
 */
function inputProblem(a: AnchorNode, x: DequantizeNode): string | null {
  const rowAxis = a.kind === 'matrix_multiply' && !a.params.vector0 ? a.inputs[0]!.shape.length - (a.params.transpose0 ? 1 : 2) : null;
  if (rowAxis === null || x.params.axis !== rowAxis) return activationProblem(x);
  return int8Problem(x);
}

/** The axis of the second operand that runs along the anchor's output channels. */
function outputChannelAxis(a: AnchorNode): number {
  switch (a.kind) {
    case 'convolution': return 0;
    case 'deconvolution': return 1;
    case 'matrix_multiply': return a.inputs[1]!.shape.length - (a.params.transpose1 ? 2 : 1);
  }
}

/**
 * Whether anchor `a` (with its fused epilogue) runs in int8, and what it absorbs; else the reason,
 * naming the operand and what to change.
 */
export function matchAnchor(g: BuildGraph, a: AnchorNode): AnchorMatch {
  const [xName, wName] = operandNames(a);
  const what = describeNode(a);
  const x = dequantizeOf(a.inputs[0]!);
  const w = dequantizeOf(a.inputs[1]!);
  const notDequantized = (v: BValue, name: string): AnchorMatch => ({
    ok: false,
    reason: `the ${name} '${v.name}' of ${what} is ${v.dtype}, not dequantized from int8: quantize it (a quantize/dequantize pair in front of it) to run ${a.kind} in int8`,
  });
  if (x === null) return notDequantized(a.inputs[0]!, xName);
  if (w === null) return notDequantized(a.inputs[1]!, wName);
  if (quantizedType(x) === 'float8e4m3' || quantizedType(w) === 'float8e4m3') return matchFp8Anchor(g, a, x, w);
  const px = inputProblem(a, x);
  if (px !== null) return { ok: false, reason: `the ${xName} of ${what} ('${x.name}') cannot be an int8 operand: ${px}` };
  const axis = outputChannelAxis(a);
  let pw = weightProblem(w, axis, a.kind === 'matrix_multiply' ? 'output columns' : 'output channels');
  if (pw === null && w.params.axis !== null && a.kind === 'deconvolution' && a.params.groups > 1) {
    pw = `it is per-channel with groups ${a.params.groups} (a grouped deconvolution's int8 weights need one per-tensor scale)`;
  }
  if (pw === null && w.params.axis !== null && a.kind === 'matrix_multiply' && a.params.vector1) pw = 'it is per-channel on a vector operand (one per-tensor scale needed)';
  if (pw !== null) return { ok: false, reason: `the ${wName} of ${what} ('${w.name}') cannot be an int8 operand: ${pw}` };
  const operands = new Map<number, DequantizeNode>([[0, x], [1, w]]);
  for (const op of a.epilogue) {
    if (op.op !== 'residual') continue;
    const r = dequantizeOf(a.inputs[op.input]!);
    if (r !== null && activationProblem(r) === null) operands.set(op.input, r);
  }
  return { ok: true, fusion: { operands, output: int8Output(g, a) } };
}

/**
 * The FP8 form of anchor `a`: a matrix product of two per-tensor float8e4m3 operands, with its
 * epilogue (float inputs only) and, when a per-tensor float8e4m3 quantize alone reads it, an FP8 output.
 */
function matchFp8Anchor(g: BuildGraph, a: AnchorNode, x: DequantizeNode, w: DequantizeNode): AnchorMatch {
  const [xName, wName] = operandNames(a);
  const what = describeNode(a);
  if (a.kind !== 'matrix_multiply') return { ok: false, reason: `${what} has float8e4m3 operands, but FP8 runs matrix products only (a ${a.kind} runs in float)` };
  const px = fp8Problem(x);
  if (px !== null) return { ok: false, reason: `the ${xName} of ${what} ('${x.name}') cannot be an FP8 operand: ${px}` };
  const pw = fp8Problem(w);
  if (pw !== null) return { ok: false, reason: `the ${wName} of ${what} ('${w.name}') cannot be an FP8 operand: ${pw}` };
  const shape = fp8GemmProblem(a);
  if (shape !== null) return { ok: false, reason: `${what} cannot run in FP8: ${shape}` };
  const q = soleQuantizeOf(g, a.outputs[0]!);
  const output = q !== null && fp8Problem(q) === null && libraryEpilogue(a) ? q : null;
  return { ok: true, fusion: { operands: new Map([[0, x], [1, w]]), output } };
}

/**
 * Why matrix product `a` has no FP8 form, or null. FP8 GEMMs (cuBLASLt's, as TensorRT's) take a
 * [.., M, K] first operand and a [N, K] or [K, N] matrix with K and N multiples of 16, and no
 * residual; the same plan then runs on every backend.
 */
function fp8GemmProblem(a: BLayerNodeOf<'matrix_multiply'>): string | null {
  const p = a.params;
  if (p.vector0 || p.vector1 || p.transpose0) return 'FP8 GEMMs take a row-major matrix first operand and a matrix second one';
  const ws = a.inputs[1]!.shape;
  if (ws.length > 2 && ws.slice(0, -2).some((d) => d !== 1)) return `its second operand [${ws.join(', ')}] is batched`;
  const k = a.inputs[0]!.shape.at(-1)!;
  const n = ws.at(p.transpose1 ? -2 : -1)!;
  if (k % 16 !== 0 || n % 16 !== 0) return `FP8 GEMMs need K and N multiples of 16, got K = ${k}, N = ${n}`;
  if (a.epilogue.some((op) => op.op === 'residual')) return 'FP8 GEMMs take no residual (the add runs after it, in float)';
  return null;
}

/** Whether an epilogue is what an FP8 GEMM applies itself before writing e4m3: bias adds, then at most relu or gelu (tanh). */
function libraryEpilogue(a: AnchorNode): boolean {
  const last = a.epilogue.length - 1;
  return a.epilogue.every((op, i) => op.op === 'bias' || (op.op === 'activation' && i === last && (op.fn === 'relu' || op.fn === 'gelu_tanh')));
}

/** The pointwise program a node computes: its own, or that of one elementwise, unary or activation layer. */
export function pointwiseProgram(n: BNode): PointwiseProgram | null {
  const dtype = n.outputs[0]!.dtype;
  switch (n.kind) {
    case 'pointwise': return n.program;
    case 'elementwise': return { views: [null, null], instrs: [{ op: 'elementwise', fn: n.params.op, args: [0, 1], dtype }] };
    case 'unary': return { views: [null], instrs: [{ op: 'unary', fn: n.params.op, args: [0], dtype }] };
    case 'activation': return { views: [null], instrs: [{ op: 'activation', fn: n.params.op, alpha: n.params.alpha, beta: n.params.beta, args: [0], dtype }] };
    default: return null;
  }
}

/** Replaces `n` (and the Q after it) by its int8 form. */
function apply(g: BuildGraph, n: BNode, f: Fusion): void {
  // A requantize (Q reading DQ) reads only the int8 tensor; its own scale is the output scale.
  const data = (n.kind === 'quantize' ? n.inputs.slice(0, 1) : n.inputs).map((v, i) => f.operands.get(i)?.inputs[0] ?? v);
  const scales: BValue[] = [];
  const operands: QuantizedOperand[] = [];
  for (const [input, d] of [...f.operands].sort(([i], [j]) => i - j)) {
    operands.push({ input, scale: data.length + scales.length, axis: d.params.axis });
    scales.push(d.inputs[1]!);
  }
  const outputScale = f.output === null ? null : data.length + scales.length;
  if (f.output !== null) scales.push(f.output.inputs[1]!);
  const dqs = [...new Set(f.operands.values())];
  const layers = [...dqs.flatMap((d) => d.layers), ...(n.kind === 'quantize' ? [] : n.layers), ...(f.output?.layers ?? [])];
  const fp8 = [...f.operands.values()].some((d) => quantizedType(d) === 'float8e4m3');
  const quant = { ...(fp8 ? { format: 'float8e4m3' as const } : {}), operands, outputScale };
  const common = { name: n.name, inputs: [...data, ...scales], quant, layers, rule: 'qdqFusion' as const };
  let spec: NodeSpec;
  if (n.kind === 'quantize' || (!isAnchor(n) && n.kind !== 'pooling')) {
    const program = n.kind === 'quantize' ? { views: [null], instrs: [{ op: 'cast' as const, args: [0] as const, dtype: 'float32' as const }] } : pointwiseProgram(n)!;
    spec = { ...common, kind: 'pointwise', program };
  } else {
    spec = { ...common, kind: n.kind, params: n.params, epilogue: n.epilogue } as NodeSpec;
  }
  const last = f.output ?? n;
  g.addNodeProducing(last, spec, last.outputs);
  if (f.output !== null && f.output !== n) g.removeNode(f.output);
  g.removeNode(n);
  for (const d of dqs) {
    if (g.has(d) && g.uses(d.outputs[0]!).length === 0 && !g.isGraphOutput(d.outputs[0]!)) g.removeNode(d);
  }
}
