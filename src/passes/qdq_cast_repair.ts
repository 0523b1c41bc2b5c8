/**
 * Repair of a sign-changing cast between a quantize and its dequantization (seed 003), on acc graphs.
 *
 * PyTorch's eager-mode export writes int8 activations as Q(int8) → Cast(uint8) → DQ(zero point cast
 * to uint8): every negative code q wraps to q + 256 and dequantizes to a wrong value. The ONNX
 * importer repairs that chain before import (src/onnx/qdq_repair.ts); this pass repairs the same
 * chain once it is an acc graph, from any source: an ONNX file imported as written
 * (`repairQdqCasts: false`), a traced model, a graph built by hand. After import a DequantizeLinear
 * that does not read a quantize's own output is arithmetic, so the chain is one of
 *
 *   q = quantize_per_tensor | quantize_per_channel(x, ..., dtype: A)     A = int8 or uint8
 *   c = to_dtype(q, B)                                                  B = the other 8-bit type
 *   y = dequantize(c)                                                   (c carries no qparams: fails as written)
 *     | mul(sub(to_dtype(c, float32), zd), sd)    (the sub absent when zd = 0; mul's operands either way)
 *
 * and each such y becomes `dequantize(q)`. The arithmetic form is repaired only when it is the
 * dequantization the exporter meant: sd equals the quantize's float32 scale(s), and zd is its zero
 * point(s) as a B value (the same byte: zd ≡ zq mod 256, zd in B's range), per tensor or along the
 * quantize's axis (constants broadcast against the quantized shape, no other dim of size > 1).
 * Each consumer of the cast is repaired on its own; the cast stays while anything else reads it.
 */
import { getAccOp } from '../acc_ops/registry.js';
import type { GraphModule } from '../ir/graph_module.js';
import { isNode, type AnyNode, type Argument } from '../ir/node.js';
import { normDim } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import { accOpName, definePass, tensorMetaOf } from './pass_manager.js';

/** The 8-bit type that reads the bytes of a quantized 8-bit type with the other sign convention. */
function signTwin(dtype: Argument): 'int8' | 'uint8' | undefined {
  return dtype === 'int8' ? 'uint8' : dtype === 'uint8' ? 'int8' : undefined;
}

/** What a quantize node quantizes with: one value per channel of `axis` (axis null: per tensor). */
interface QuantizeParams {
  readonly scale: Float64Array;
  readonly zeroPoint: Float64Array;
  readonly axis: number | null;
  readonly shape: readonly number[];
  readonly twin: 'int8' | 'uint8';
}

/**
 * Replaces the dequantizations of a sign-changing cast of a quantize output by dequantize(q); see
 * the module comment. Runs in compile's pipeline for precision 'int8' (defaultPasses({ qdqRepairs })).
 *
 * @example
 * // q = quantize_per_tensor(x, 0.1, 0, int8); y = mul(sub(to_dtype(to_dtype(q, uint8), float32), 0), 0.1)
 * new PassManager([qdqCastRepair]).run(importOnnx(path, { repairQdqCasts: false })); // → y = dequantize(q)
 */
export const qdqCastRepair = definePass('qdqCastRepair', (gm: GraphModule) => {
  const graph = gm.graph;
  let modified = false;
  for (const q of graph.nodeList()) { // a snapshot: the casts after each quantize are erased on the way
    const params = quantizeParams(gm, q);
    if (!params) continue;
    for (const cast of [...q.users]) {
      if (accOpName(cast) !== 'to_dtype' || cast.kwargs['input'] !== q || cast.kwargs['dtype'] !== params.twin) continue;
      for (const { result, chain } of dequantizations(gm, cast, params)) {
        const name = result.name;
        const inputs = [result, ...chain].flatMap((n) => n.allInputNodes);
        const dq = graph.insertingBefore(result, () => graph.callFunction(getAccOp('dequantize'), [], { input: q }, name));
        dq.meta = { ...result.meta, tensorMeta: { shape: params.shape, dtype: 'float32' } };
        result.replaceAllUsesWith(dq);
        graph.eraseNode(result);
        graph.rename(dq, name);
        for (const n of chain) if (!n.isErased && n.users.size === 0) graph.eraseNode(n);
        for (const n of inputs) if (n.op === 'get_attr' && !n.isErased && n.users.size === 0) graph.eraseNode(n);
        modified = true;
      }
      if (!cast.isErased && cast.users.size === 0) graph.eraseNode(cast);
    }
  }
  if (modified) gm.deleteUnusedAttributes();
  return { gm, modified };
}, { runsAfter: ['constFold'] }); // compares the dequantization's constants, which folding produces

/** The scale(s), zero point(s) and axis of a quantize node with constant parameters, with the twin type. */
function quantizeParams(gm: GraphModule, q: AnyNode): QuantizeParams | undefined {
  const op = accOpName(q);
  const twin = signTwin(q.kwargs['dtype']);
  const shape = tensorMetaOf(q)?.shape;
  if (twin === undefined || shape === undefined) return undefined;
  if (op === 'quantize_per_tensor') {
    const { scale, zero_point: zp } = q.kwargs;
    if (typeof scale !== 'number' || typeof zp !== 'number') return undefined;
    return { scale: Float64Array.of(Math.fround(scale)), zeroPoint: Float64Array.of(zp), axis: null, shape, twin };
  }
  if (op !== 'quantize_per_channel') return undefined;
  const scales = constantOf(gm, q.kwargs['scales']);
  const zps = constantOf(gm, q.kwargs['zero_points']);
  const axis = q.kwargs['axis'];
  if (!scales || !zps || typeof axis !== 'number' || shape.length === 0) return undefined;
  const scale = Float64Array.from(scales.toFloat32());
  return { scale, zeroPoint: zps.toFloat64(), axis: normDim(axis, shape.length), shape, twin };
}

/** A dequantization of `cast` to repair: the node computing it and the nodes only it used. */
interface Dequantization {
  readonly result: AnyNode;
  readonly chain: readonly AnyNode[];
}

/** The consumers of `cast` that dequantize it as the exporter meant (see the module comment). */
function dequantizations(gm: GraphModule, cast: AnyNode, p: QuantizeParams): Dequantization[] {
  const out: Dequantization[] = [];
  for (const u of cast.users) {
    if (accOpName(u) === 'dequantize' && u.kwargs['input'] === cast) out.push({ result: u, chain: [] });
    if (accOpName(u) !== 'to_dtype' || u.kwargs['input'] !== cast || u.kwargs['dtype'] !== 'float32') continue;
    for (const s of u.users) {
      if (accOpName(s) === 'sub' && s.kwargs['input'] === u && matches(gm, s.kwargs['other'], p, 'zeroPoint')) {
        for (const m of s.users) if (scaledBy(gm, m, s, p)) out.push({ result: m, chain: [s, u] });
      } else if (scaledBy(gm, s, u, p) && p.zeroPoint.every((z) => z === 0)) {
        out.push({ result: s, chain: [u] });
      }
    }
  }
  return out;
}

/** Whether `m` is mul(x, sd) or mul(sd, x) with sd the quantize's scale(s), of the quantized shape. */
function scaledBy(gm: GraphModule, m: AnyNode, x: AnyNode, p: QuantizeParams): boolean {
  if (accOpName(m) !== 'mul') return false;
  const { input, other } = m.kwargs;
  const by = input === x ? other : other === x ? input : undefined;
  const shape = tensorMetaOf(m)?.shape;
  const sameShape = shape !== undefined && shape.length === p.shape.length && shape.every((d, i) => d === p.shape[i]);
  return by !== undefined && by !== x && sameShape && matches(gm, by, p, 'scale');
}

/**
 * Whether a constant (number or get_attr) holds, per channel, the quantize's scale (compared in
 * float32) or its zero point reinterpreted in the twin type.
 */
function matches(gm: GraphModule, a: Argument, p: QuantizeParams, what: 'scale' | 'zeroPoint'): boolean {
  const values = perChannel(gm, a, p);
  if (!values) return false;
  const want = what === 'scale' ? p.scale : p.zeroPoint;
  for (let c = 0; c < values.length; c++) {
    const v = values[c]!;
    const w = want[p.axis === null ? 0 : c]!;
    if (what === 'scale' ? Math.fround(v) !== w : !sameByte(v, w, p.twin)) return false;
  }
  return true;
}

/** zd is the twin-typed reading of zero point zq: an integer in the twin's range with the same low byte. */
function sameByte(zd: number, zq: number, twin: 'int8' | 'uint8'): boolean {
  const [lo, hi] = twin === 'int8' ? [-128, 127] : [0, 255];
  return Number.isInteger(zd) && zd >= lo && zd <= hi && (((zd - zq) % 256) + 256) % 256 === 0;
}

/**
 * The values of a constant broadcast against the quantized shape, one per channel of the
 * quantize's axis (one for a per-tensor quantize); undefined when it varies along another dim.
 */
function perChannel(gm: GraphModule, a: Argument, p: QuantizeParams): Float64Array | undefined {
  if (typeof a === 'number') return p.axis === null ? Float64Array.of(a) : new Float64Array(p.shape[p.axis]!).fill(a);
  const t = constantOf(gm, a);
  if (!t || t.rank > p.shape.length) return undefined;
  const offset = p.shape.length - t.rank;
  let along: number | null = null;
  for (let d = 0; d < t.rank; d++) {
    if (t.shape[d] === 1) continue;
    if (p.axis === null || d + offset !== p.axis || t.shape[d] !== p.shape[p.axis]) return undefined;
    along = d;
  }
  const v = t.toFloat64();
  if (p.axis === null) return v;
  return along === null ? new Float64Array(p.shape[p.axis]!).fill(v[0]!) : v;
}

/** The tensor a get_attr argument reads. */
function constantOf(gm: GraphModule, a: Argument): Tensor | undefined {
  if (!isNode(a) || a.op !== 'get_attr') return undefined;
  const v = gm.getAttr(a.target);
  return v instanceof Tensor ? v : undefined;
}
