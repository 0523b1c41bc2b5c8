/**
 * What the Q/DQ passes (qdq_propagation.ts, qdq_fusion.ts, qdq_report.ts) need to know about
 * quantize and dequantize nodes: their parameters, whether they are the symmetric int8 per-tensor
 * (activations) or per-channel (weights) quantization TensorRT's int8 kernels take, and how to
 * name layers and scales in the build report. Each check returns null or the reason in words.
 */
import type { DType } from '../../tensor/dtype.js';
import type { BLayerNodeOf, BNode, BuildGraph, BValue } from './build_graph.js';

/** A dequantize node of the build graph. */
export type DequantizeNode = BLayerNodeOf<'dequantize'>;
/** A quantize node of the build graph. */
export type QuantizeNode = BLayerNodeOf<'quantize'>;

/** The producer of `v` when it is a dequantize node. */
export function dequantizeOf(v: BValue): DequantizeNode | null {
  const p = v.producer;
  return p !== null && p.kind === 'dequantize' ? p : null;
}

/** The single reader of `v` when it is a quantize node and `v` is not a network output. */
export function soleQuantizeOf(g: BuildGraph, v: BValue): QuantizeNode | null {
  const uses = g.uses(v);
  const c = uses.length === 1 && !g.isGraphOutput(v) ? uses[0]! : null;
  return c !== null && c.kind === 'quantize' ? c : null;
}

/** The quantized dtype of a Q (its output) or DQ (its input). */
export function quantizedType(n: QuantizeNode | DequantizeNode): DType {
  return n.kind === 'quantize' ? n.params.toType : n.inputs[0]!.dtype;
}

/** The zero-point problem of a Q/DQ (an input that is not a constant all-zero tensor), or null. */
function zeroPointProblem(n: QuantizeNode | DequantizeNode): string | null {
  const zp = n.inputs[2];
  if (zp === undefined) return null;
  if (zp.constant === null) return `its zero point '${zp.name}' is computed at run time (int8 kernels are symmetric: zero point 0)`;
  const values = zp.constant.toFloat64();
  const k = values.findIndex((z) => z !== 0);
  return k < 0 ? null : `it is asymmetric (zero point ${values[k]}${values.length > 1 ? ` at channel ${k}` : ''}; int8 kernels are symmetric: zero point 0)`;
}

/** Why `n` is not a symmetric int8 quantization (any axis), or null. */
export function int8Problem(n: QuantizeNode | DequantizeNode): string | null {
  const t = quantizedType(n);
  if (t === 'float8e4m3') return 'it quantizes to float8e4m3 (FP8 runs only as the operands and output of a matrix product)';
  if (t !== 'int8') return `it quantizes to ${t} (int8 kernels take int8; a uint8 or int32 quantization stays a float computation)`;
  return zeroPointProblem(n);
}

/** Why `n` is not a symmetric per-tensor FP8 (float8e4m3) quantization, what an FP8 matrix product takes, or null. */
export function fp8Problem(n: QuantizeNode | DequantizeNode): string | null {
  const t = quantizedType(n);
  if (t !== 'float8e4m3') return `it quantizes to ${t}, not float8e4m3 (an FP8 matrix product takes both operands in FP8)`;
  const z = zeroPointProblem(n);
  if (z !== null) return z;
  return n.params.axis === null ? null : `it is per-channel along axis ${n.params.axis} (FP8 operands take one per-tensor scale)`;
}

/** Why `n` is not a symmetric int8 per-tensor quantization (an activation's), or null. */
export function activationProblem(n: QuantizeNode | DequantizeNode): string | null {
  const p = int8Problem(n);
  if (p !== null) return p;
  return n.params.axis === null ? null : `it is per-channel along axis ${n.params.axis} (an activation needs one per-tensor scale)`;
}

/** Why `n` is not a symmetric int8 quantization, per tensor or along `axis` (a weight's), or null. */
export function weightProblem(n: QuantizeNode | DequantizeNode, axis: number, axisName: string): string | null {
  const p = int8Problem(n);
  if (p !== null) return p;
  const a = n.params.axis;
  return a === null || a === axis ? null : `it is per-channel along axis ${a}, not along the ${axisName} (axis ${axis}): the scales cannot be applied after the int32 sum`;
}

/** Whether two scale values are the same: one value, or equal constants of one shape. */
export function sameScale(a: BValue, b: BValue): boolean {
  if (a === b) return true;
  const [x, y] = [a.constant, b.constant];
  if (x === null || y === null || x.numel !== y.numel) return false;
  const [u, v] = [x.toFloat32(), y.toFloat32()];
  return u.every((s, i) => s === v[i]);
}

/** Whether two Q/DQ nodes quantize the same way: dtype, axis, scales and (zero) zero points. */
export function sameQuantization(a: QuantizeNode | DequantizeNode, b: QuantizeNode | DequantizeNode): boolean {
  return quantizedType(a) === quantizedType(b) && a.params.axis === b.params.axis && sameScale(a.inputs[1]!, b.inputs[1]!)
    && zeroPointProblem(a) === null && zeroPointProblem(b) === null;
}

/** A scale as the report shows it: 'scale 0.1', 'per-channel scales (64)' or "scale 'x_amax' (computed at run time)". */
export function describeScale(v: BValue): string {
  const c = v.constant;
  if (c === null) return `scale '${v.name}' (computed at run time)`;
  return c.numel === 1 ? `scale ${c.toFloat32()[0]}` : `per-channel scales (${c.numel})`;
}

/** The one value of a one-element constant scale, else null. */
export function constantScale(v: BValue): number | null {
  const c = v.constant;
  return c !== null && c.numel === 1 ? c.toFloat32()[0]! : null;
}

/** A node as the report names it: 'gelu' (activation gelu_erf), 'pool' (pooling average), 'mm' (matrix_multiply). */
export function describeNode(n: BNode): string {
  switch (n.kind) {
    case 'activation': return `'${n.name}' (activation ${n.params.op})`;
    case 'elementwise': return `'${n.name}' (elementwise ${n.params.op})`;
    case 'unary': return `'${n.name}' (unary ${n.params.op})`;
    case 'pooling': return `'${n.name}' (${n.params.type} pooling)`;
    case 'reduce': return `'${n.name}' (reduce ${n.params.op})`;
    case 'pointwise': return `'${n.name}' (fused pointwise ${n.layers.join(' + ')})`;
    default: return `'${n.name}' (${n.kind})`;
  }
}

/** Names unique among a graph's nodes: `base`, else `base_2`, `base_3`, ... */
export class NodeNames {
  readonly #used: Set<string>;

  constructor(g: BuildGraph) {
    this.#used = new Set(g.nodes.map((n) => n.name));
  }

  /** A fresh name derived from `base`, reserved from now on. */
  fresh(base: string): string {
    let name = base;
    for (let k = 2; this.#used.has(name); k++) name = `${base}_${k}`;
    this.#used.add(name);
    return name;
  }
}
