import type { GraphModule } from '../ir/graph_module.js';
import { Interpreter, InterpreterError } from '../ir/interpreter.js';
import type { AnyNode, Argument } from '../ir/node.js';
import { normDim } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import { isPureNode } from './cse.js';
import { accOpName, definePass, replaceUsesWith, tensorMetaOf } from './pass_manager.js';

/** A weight's quantize → dequantize pair must reach the engine as is (it marks an INT8 weight). */
const QUANT_BOUNDARY = new Set(['quantize_per_tensor', 'quantize_per_channel', 'dequantize']);

/** Whether `n` computes a constant: pure, no module call, not a quantize boundary, every input constant. */
function isFoldable(n: AnyNode, constant: ReadonlySet<AnyNode>): boolean {
  if (n.op === 'get_attr') return true;
  if (n.op !== 'call_function' && n.op !== 'call_method') return false;
  if (!isPureNode(n)) return false;
  const acc = accOpName(n);
  if (acc !== undefined && QUANT_BOUNDARY.has(acc)) return false;
  return n.allInputNodes.every((i) => constant.has(i));
}

/** Values that can stand in the graph as literal arguments (sizes, flags). */
function asLiteral(v: unknown): Argument | undefined {
  if (v === null || typeof v === 'number' || typeof v === 'boolean') return v;
  if (Array.isArray(v)) {
    const out: Argument[] = [];
    for (const x of v) {
      const l = asLiteral(x);
      if (l === undefined) return undefined;
      out.push(l);
    }
    return out;
  }
  return undefined;
}

/**
 * Constant folding: every subgraph whose value depends only on weights (get_attr) and
 * literals is computed once, with the Interpreter, and replaced by a new constant attribute
 * (a get_attr; or a literal when the value is a number or list of numbers). Impure calls,
 * module calls and quantize/dequantize are never folded, so a weight's Q → DQ pair stays
 * for INT8 engines while what feeds the quantize is folded. Unused attributes are deleted.
 *
 * @example
 * // w2 = acc.permute(w, [1, 0]); y = acc.matmul(x, w2)   →   y = acc.matmul(x, _folded_w2)
 * constFold(gm);
 */
export const constFold = definePass('constFold', (gm: GraphModule) => {
  const graph = gm.graph;
  const folded = new Set<AnyNode>();
  const interp = new Interpreter(gm, { garbageCollectValues: false });
  for (const n of graph.nodes()) {
    if (!isFoldable(n, folded)) continue;
    folded.add(n);
    try {
      interp.env.set(n, interp.runNode(n));
    } catch (e) {
      throw new Error(`constFold: evaluating constant node '${n.name}' failed: ${e instanceof Error ? e.message : String(e)}`,
        { cause: e instanceof InterpreterError ? e : new InterpreterError(n, e) });
    }
  }
  let modified = false;
  // Last to first: a folded value used outside the folded set becomes a constant; one that
  // cannot (a tuple of tensors) stays computed, which makes its inputs used outside instead.
  for (const n of graph.reversed()) {
    if (!folded.has(n) || n.op === 'get_attr') continue;
    let usedOutside = false;
    for (const u of n.users) if (!folded.has(u)) { usedOutside = true; break; }
    if (!usedOutside) continue;
    const value = interp.env.get(n);
    if (value instanceof Tensor) {
      const path = gm.addConstant(`_folded_${n.name}`, value);
      const attr = graph.insertingBefore(n, () => graph.getAttr(path));
      attr.meta = { ...n.meta };
      n.replaceAllUsesWith(attr);
    } else {
      const literal = asLiteral(value);
      if (literal === undefined) { folded.delete(n); continue; }
      replaceUsesWith(n, literal);
    }
    modified = true;
  }
  for (const n of graph.reversed()) {
    if (folded.has(n) && n.users.size === 0) {
      graph.eraseNode(n);
      modified = true;
    }
  }
  if (gm.deleteUnusedAttributes().length > 0) modified = true;
  return { gm, modified };
}, { runsAfter: ['replaceMutableOps'] }); // a folded value mutated in place would change across calls

/**
 * For acc graphs with static shapes (node.meta.tensorMeta): replaces `acc.size` by the
 * literal size, and `acc.getitem` of a folded size list by the element, in every user.
 * This makes `acc.reshape(x, [acc.size(x, 0), -1])` a static reshape.
 *
 * @example
 * foldStaticSizes(accTrace(model, [x])); // reshape(x, shape: [2, -1])
 */
export const foldStaticSizes = definePass('foldStaticSizes', (gm: GraphModule) => {
  const work: [AnyNode, Argument][] = [];
  for (const n of gm.graph.nodes()) {
    if (accOpName(n) !== 'size') continue;
    const meta = tensorMetaOf(n.kwargs['input']);
    if (!meta || meta.shape.some((d) => !Number.isInteger(d) || d < 0)) continue;
    const dim = n.kwargs['dim'];
    if (dim === undefined || dim === null) work.push([n, [...meta.shape]]);
    else if (typeof dim === 'number') work.push([n, meta.shape[normDim(dim, meta.shape.length, `acc.size at node '${n.name}': dim`)]!]);
  }
  const modified = work.length > 0;
  for (let i = 0; i < work.length; i++) {
    const [n, value] = work[i]!;
    const users = [...n.users];
    replaceUsesWith(n, value);
    for (const u of users) {
      if (accOpName(u) !== 'getitem') continue;
      const seq = u.kwargs['input'];
      const index = u.kwargs['index'];
      if (!Array.isArray(seq) || typeof index !== 'number') continue;
      const j = index < 0 ? index + seq.length : index;
      if (j >= 0 && j < seq.length) work.push([u, seq[j]]);
    }
    gm.graph.eraseNode(n);
  }
  return { gm, modified };
});
