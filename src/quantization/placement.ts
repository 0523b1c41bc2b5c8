/**
 * Where Q/DQ go, by TensorRT's placement recommendations for explicit quantization:
 *   - every input of a weighted layer (conv, deconv, linear, matmul) is quantized: activations
 *     per tensor with a calibrated scale, constant weights per output channel;
 *   - of a residual add, the input that is not fused into the layer before it: a conv/gemm
 *     whose only user is the add fuses the add as its residual epilogue, so a Q/DQ between them
 *     would block the fusion (seed 002 removes exactly those by hand); when both inputs come
 *     from such layers the add's `input` fuses (PyTorch's `out += identity` puts the main branch
 *     there, as the qdqResidualRepair pass assumes) and `other` is quantized, and when neither
 *     does both are quantized, so the add itself runs in int8 (DQ → add → Q);
 *   - the input of an average pooling whose result feeds a weighted layer (through shape ops):
 *     the pooling then runs in int8 between the layer before it and the weighted layer (TensorRT
 *     quantizes pooling inputs alike), instead of a float pooling and a quantize step;
 *   - outputs are never quantized here: a Q belongs in front of the next op that consumes int8,
 *     so values stay float wherever their consumer cannot take int8, and the builder moves Q/DQ
 *     across the ops that commute with them (max pooling, shuffles, concat, relu).
 * This file only decides; insert_qdq.ts rewrites the graph.
 */
import type { GraphModule } from '../ir/graph_module.js';
import { isNode, type AnyNode, type TensorMeta } from '../ir/node.js';
import { accOpName, tensorMetaOf } from '../passes/pass_manager.js';
import { isFloating } from '../tensor/dtype.js';
import { Tensor } from '../tensor/tensor.js';
import type { QuantFormat } from './scales.js';

/** One input of a layer that gets a Q/DQ pair when the layer is quantized. */
export interface QdqInput {
  /** The layer's keyword argument that reads the value. */
  readonly slot: string;
  /** Node name of the value. */
  readonly tensor: string;
  /** 'activation': per tensor, calibrated; 'weight': a constant, scaled from its own values. */
  readonly kind: 'activation' | 'weight';
  /** Weights: the output-channel axis of per-channel scales, or null for one scale (a 1-d operand). */
  readonly axis: number | null;
}

/** A layer that int8 could run, with the inputs its quantization touches. */
export interface LayerPlan {
  /** Node name in the acc graph. */
  readonly node: string;
  /** The acc op ('conv2d', 'add', ...). */
  readonly op: string;
  /** Inputs that get Q/DQ; empty when the layer has no int8 form (then `unsupported` says why). */
  readonly inputs: readonly QdqInput[];
  readonly unsupported?: string;
}

/** Weighted ops and the axis of their weight's output channels. */
const WEIGHT_AXIS: Readonly<Record<string, number>> = {
  conv1d: 0, conv2d: 0, conv3d: 0, // [out, in/groups, ...k]
  conv_transpose1d: 1, conv_transpose2d: 1, conv_transpose3d: 1, // [in, out/groups, ...k]
  linear: 0, // [out, in]
};

const MATMULS = new Set(['matmul', 'transposed_matmul']);

/** Compute ops that an engine runs in float only. */
const NO_INT8 = new Set(['einsum', 'scaled_dot_product_attention']);

/** Ops whose output a following residual add can fuse into (as the residual epilogue). */
function fusesAdd(n: AnyNode): boolean {
  const op = accOpName(n);
  return op !== undefined && (op in WEIGHT_AXIS || MATMULS.has(op));
}

/** The constant tensor a node reads, if it is a get_attr of a tensor. */
function constantOf(gm: GraphModule, n: AnyNode): Tensor | undefined {
  if (n.op !== 'get_attr') return undefined;
  const v = gm.getAttr(n.target);
  return v instanceof Tensor ? v : undefined;
}

function floatMeta(n: AnyNode): TensorMeta | undefined {
  const m = tensorMetaOf(n);
  return m && isFloating(m.dtype) ? m : undefined;
}

/** Describes why `n` cannot be an int8 input, or undefined when it can. */
function notQuantizable(n: AnyNode): string | undefined {
  const m = tensorMetaOf(n);
  if (!m) return `input '${n.name}' has no recorded shape/dtype (run accTrace or ShapeProp first)`;
  return isFloating(m.dtype) ? undefined : `input '${n.name}' is ${m.dtype}, not floating point`;
}

/** A weighted layer: its activation input(s) and constant weight. */
function planWeighted(gm: GraphModule, n: AnyNode, op: string): LayerPlan {
  const inputs: QdqInput[] = [];
  const slots: [string, number | null][] = MATMULS.has(op)
    ? [['input', matmulOutputAxis(n, 'input')], ['other', matmulOutputAxis(n, 'other')]]
    : [['input', null], ['weight', WEIGHT_AXIS[op]!]];
  for (const [slot, axis] of slots) {
    const v = n.kwargs[slot];
    if (!isNode(v)) return { node: n.name, op, inputs: [], unsupported: `its '${slot}' is not a tensor value` };
    const bad = notQuantizable(v);
    if (bad) return { node: n.name, op, inputs: [], unsupported: bad };
    const weight = constantOf(gm, v);
    // A constant operand is a weight (scaled per output channel); anything computed is an activation.
    if (weight && (slot !== 'input' || MATMULS.has(op))) inputs.push({ slot, tensor: v.name, kind: 'weight', axis: weight.rank >= 2 ? axis : null });
    else inputs.push({ slot, tensor: v.name, kind: 'activation', axis: null });
  }
  return { node: n.name, op, inputs };
}

/** The axis of a matmul operand that indexes output rows (input) or columns (other). */
function matmulOutputAxis(n: AnyNode, slot: 'input' | 'other'): number | null {
  const v = n.kwargs[slot];
  const rank = isNode(v) ? tensorMetaOf(v)?.shape.length : undefined;
  if (rank === undefined || rank < 2) return null;
  const transposed = n.kwargs[slot === 'input' ? 'transpose_input' : 'transpose_other'] === true;
  // input [..., M, K]: rows at -2 (-1 when transposed); other [..., K, N]: columns at -1 (-2 when transposed).
  const fromEnd = (slot === 'input') !== transposed ? 2 : 1;
  return rank - fromEnd;
}

/** Average pooling ops: int8 runs them as DQ → pool → Q (integer window sums, then the scales). */
const AVG_POOLS = new Set(['avg_pool1d', 'avg_pool2d', 'avg_pool3d', 'adaptive_avg_pool1d', 'adaptive_avg_pool2d', 'adaptive_avg_pool3d']);

/** Ops that only move values (the builder moves a Q backward across them). */
const SHAPE_OPS = new Set(['flatten', 'reshape', 'squeeze', 'unsqueeze', 'permute']);

/**
 * An average pooling whose result reaches the activation input of a weighted layer, through
 * shape ops that read nothing else: its input is quantized too, so the layer before it writes
 * int8 and the pooling runs in int8 (the weighted layer's Q moves back across the shape ops to
 * the pooling's output). A pooling whose result stays float keeps a float input.
 */
function planAvgPool(n: AnyNode, op: string): LayerPlan | undefined {
  const x = n.kwargs['input'];
  if (!isNode(x) || x.op === 'get_attr' || !floatMeta(x) || !floatMeta(n)) return undefined;
  let v: AnyNode = n;
  for (;;) {
    if (v.users.size !== 1) return undefined;
    const user: AnyNode = v.users.values().next().value!;
    const userOp = accOpName(user);
    if (userOp !== undefined && SHAPE_OPS.has(userOp) && user.kwargs['input'] === v) {
      v = user;
      continue;
    }
    const reads = userOp !== undefined && (userOp in WEIGHT_AXIS ? user.kwargs['input'] === v : MATMULS.has(userOp));
    return reads ? { node: n.name, op, inputs: [{ slot: 'input', tensor: x.name, kind: 'activation', axis: null }] } : undefined;
  }
}

/** A residual add (two computed tensors of one shape) and which of its inputs get Q/DQ; else undefined. */
function planResidualAdd(n: AnyNode): LayerPlan | undefined {
  const a = n.kwargs['input'];
  const b = n.kwargs['other'];
  if (!isNode(a) || !isNode(b) || a === b || a.op === 'get_attr' || b.op === 'get_attr') return undefined;
  const ma = floatMeta(a);
  const mb = floatMeta(b);
  if (!ma || !mb || ma.shape.length !== mb.shape.length || ma.shape.some((d, i) => d !== mb.shape[i])) return undefined;
  // The add's `input` side first: PyTorch's `out += identity` puts the main branch there.
  const fused = [a, b].find((x) => fusesAdd(x) && x.users.size === 1);
  const inputs: QdqInput[] = [];
  for (const [slot, x] of [['input', a], ['other', b]] as const) {
    if (x !== fused) inputs.push({ slot, tensor: x.name, kind: 'activation', axis: null });
  }
  return { node: n.name, op: 'add', inputs };
}

/**
 * Every layer of an acc graph that int8 could run, in graph order: weighted layers (with their
 * Q/DQ inputs, or why they have no int8 form), residual adds, and the compute ops engines run
 * in float only. The graph needs tensor metadata (accTrace records it). For the FP8 format
 * (float8e4m3) only matrix products (linear, matmul) are candidates, with per-tensor weights
 * (cuBLASLt's FP8 GEMM takes one scale per operand); convolutions are listed as float.
 * Residual adds are left out: FP8 fuses into matrix products only.
 *
 * @example
 * planLayers(gm).map((l) => `${l.node}: ${l.inputs.map((i) => i.tensor).join(', ')}`);
 * // ['conv2d: x, conv2d_weight', 'conv2d_1: relu, conv2d_1_weight', 'add: relu', ...]
 */
export function planLayers(gm: GraphModule, format: QuantFormat = 'int8'): LayerPlan[] {
  const out: LayerPlan[] = [];
  const fp8 = format === 'float8e4m3';
  for (const n of gm.graph.nodes()) {
    const op = accOpName(n);
    if (op === undefined) continue;
    if (fp8 && op in WEIGHT_AXIS && op !== 'linear') out.push({ node: n.name, op, inputs: [], unsupported: 'FP8 quantizes matrix products only (linear, matmul)' });
    else if (op in WEIGHT_AXIS || MATMULS.has(op)) {
      const plan = planWeighted(gm, n, op);
      out.push(fp8 ? { ...plan, inputs: plan.inputs.map((i) => ({ ...i, axis: null })) } : plan);
    } else if (NO_INT8.has(op)) out.push({ node: n.name, op, inputs: [], unsupported: `no ${fp8 ? 'FP8' : 'int8'} implementation` });
    else if (op === 'add' && !fp8) {
      const plan = planResidualAdd(n);
      if (plan) out.push(plan);
    } else if (AVG_POOLS.has(op) && !fp8) {
      const plan = planAvgPool(n, op);
      if (plan) out.push(plan);
    }
  }
  return out;
}

/** The activation tensors calibration must observe for these layers, in first-use order. */
export function activationTensors(layers: readonly LayerPlan[]): string[] {
  const out = new Set<string>();
  for (const l of layers) for (const i of l.inputs) if (i.kind === 'activation') out.add(i.tensor);
  return [...out];
}
