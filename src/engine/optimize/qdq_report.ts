/**
 * Why quantize/dequantize layers did not fuse: for every Q/DQ node left in the optimized graph,
 * the reason in terms of the layers around it (TensorRT's most common complaint: an INT8 engine
 * no faster than FP16 because of Q/DQ in the wrong place, with nothing saying so). The reasons
 * are derived from the final graph with the same rules the Q/DQ passes apply, so they are what
 * actually blocked the fusion, and say what to change.
 */
import type { UnfusedQdqRecord } from '../report.js';
import type { BNode, BuildGraph } from './build_graph.js';
import { isInternal } from './matchers.js';
import { isAnchor, matchAnchor, pointwiseProgram } from './qdq_fusion.js';
import { dequantizeCommuteProblem, quantizeCommuteProblem } from './qdq_propagation.js';
import { activationProblem, dequantizeOf, describeNode, fp8Problem, quantizedType, type DequantizeNode, type QuantizeNode } from './qdq_rules.js';

/** Data layers a dequantize moves across when it can (propagation; pooling and activations fuse instead). */
const COMMUTING = new Set(['shuffle', 'slice', 'padding', 'concatenation']);

/**
 * The Q/DQ layers still running as their own steps, with the reason. `fused` says whether the
 * Q/DQ fusion ran (optimizations on).
 * @example
 * unfusedQdq(g, true) // [{ layer: 'x_dq', kind: 'dequantize', step: 'x_dq', reason: "it feeds 'ln' (normalization), which ..." }]
 */
export function unfusedQdq(g: BuildGraph, fused: boolean): UnfusedQdqRecord[] {
  const records: UnfusedQdqRecord[] = [];
  for (const n of g.nodes) {
    if (n.kind !== 'quantize' && n.kind !== 'dequantize') continue;
    const reason = !fused
      ? 'Q/DQ fusion is off (BuilderConfig.optimizations)'
      : n.kind === 'dequantize' ? dequantizeReason(g, n) : quantizeReason(g, n);
    for (const layer of n.layers) records.push({ layer, kind: n.kind, step: n.name, reason });
  }
  return records;
}

/** Why a dequantize stays: what each reader of its float result (or the network output) needs. */
function dequantizeReason(g: BuildGraph, dq: DequantizeNode): string {
  const v = dq.outputs[0]!;
  const parts = g.consumers(v).map((c) => readerReason(g, dq, c));
  const output = g.outputs.find((o) => o.value === v);
  if (output) parts.push(`its float result is the network output '${output.name}'`);
  return parts.length > 0 ? [...new Set(parts)].join('; ') : 'nothing reads it';
}

function readerReason(g: BuildGraph, dq: DequantizeNode, c: BNode): string {
  const own = activationProblem(dq);
  const reads = `it feeds ${describeNode(c)}`;
  if (isAnchor(c)) {
    const position = c.inputs.indexOf(dq.outputs[0]!);
    if (position >= 2) return `${reads} as ${c.epilogue.some((op) => op.op === 'residual' && op.input === position) ? 'the residual' : 'an epilogue input'}, which cannot be an int8 operand: ${own ?? 'only a residual can'}`;
    const m = matchAnchor(g, c);
    return m.ok ? `${reads}, which did not fuse` : `${reads}, which runs in float: ${m.reason}`;
  }
  if (c.kind === 'quantize') {
    return `${reads} (a requantize): ${own ?? activationProblem(c) ?? 'int8 to int8 requantization needs per-tensor symmetric int8 on both sides'}`;
  }
  if (c.kind === 'pooling' || pointwiseProgram(c) !== null) {
    if (own !== null) return `${reads}, which takes int8 only per tensor and symmetric: ${own}`;
    return `${reads}, which writes ${c.outputs[0]!.dtype} and cannot read int8`;
  }
  if (COMMUTING.has(c.kind)) return `${reads}, which it cannot move past: ${dequantizeCommuteProblem(c, dq) ?? 'no rule applies'}`;
  return `${reads}, which has no int8 implementation: it reads ${dq.params.toType}, so the dequantize runs as its own step`;
}

/** Why a quantize stays: what produces its input, or its own parameters. */
function quantizeReason(g: BuildGraph, q: QuantizeNode): string {
  const x = q.inputs[0]!;
  const p = x.producer;
  const fp8 = quantizedType(q) === 'float8e4m3';
  const own = fp8 ? fp8Problem(q) : activationProblem(q);
  const fmt = fp8 ? 'FP8' : 'int8';
  if (own !== null) return `it cannot be the ${fmt} output of a step: ${own}`;
  if (p === null) {
    return x.constant !== null
      ? `it quantizes the constant '${x.name}' with a scale computed at run time`
      : `it quantizes the network input '${x.name}': no step before it can write ${fmt}, so it runs as its own step`;
  }
  const producer = describeNode(p);
  if (!isInternal(g, x)) return `the ${x.dtype} output of ${producer} is also read elsewhere, so ${producer} cannot write int8 instead`;
  if (p.quant?.format === 'float8e4m3' && fp8 && p.kind !== 'pointwise' && p.epilogue.length > 0) {
    const epi = p.epilogue.map((op) => (op.op === 'activation' ? op.fn : op.op)).join(' + ');
    return `${producer} runs in FP8 but writes float: its epilogue (${epi}) is more than the bias adds and relu or gelu_tanh an FP8 GEMM applies before writing e4m3`;
  }
  if (p.quant !== undefined) return `it reads the ${p.quant.format === 'float8e4m3' ? 'FP8' : 'int8'} step ${producer}, which already writes ${x.dtype}`;
  if (isAnchor(p)) {
    const m = matchAnchor(g, p);
    return m.ok ? `${producer} did not fuse it` : `it reads ${producer}, which runs in float: ${m.reason}`;
  }
  if (p.kind === 'pooling' || pointwiseProgram(p) !== null) {
    const dqInput = p.inputs.find((v) => dequantizeOf(v) !== null);
    if (p.kind === 'pooling' && dqInput === undefined) return `it reads ${producer}, whose input '${p.inputs[0]!.name}' is ${p.inputs[0]!.dtype}, not dequantized from int8`;
    return `it reads ${producer}, which did not fuse it`;
  }
  const moved = quantizeCommuteProblem(g, q);
  if (moved !== null) return `it cannot move in front of ${producer}: ${moved}`;
  return `it reads ${producer}, which has no ${fmt} output: it writes ${x.dtype}, so the quantize runs as its own step`;
}
