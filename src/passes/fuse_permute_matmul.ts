import { getAccOp } from '../acc_ops/registry.js';
import type { GraphModule } from '../ir/graph_module.js';
import { isNode, type AnyNode, type Argument } from '../ir/node.js';
import { Tensor } from '../tensor/tensor.js';
import { accOpName, definePass } from './pass_manager.js';

/** Whether a permutation swaps exactly the last two dims (`[0, ..., r-1, r-2]`, negative entries allowed). */
export function swapsLastTwoDims(perm: Argument): boolean {
  if (!Array.isArray(perm) || perm.length < 2) return false;
  const r = perm.length;
  for (let i = 0; i < r; i++) {
    const p: unknown = perm[i];
    if (typeof p !== 'number') return false;
    const want = i === r - 2 ? r - 1 : i === r - 1 ? r - 2 : i;
    if ((p < 0 ? p + r : p) !== want) return false;
  }
  return true;
}

const MATMULS = new Set(['matmul', 'transposed_matmul']);

/**
 * The permute node feeding `a` when it only transposes the last two dims and every user is
 * a matmul (each absorbs it, so the transpose is never materialized).
 */
function absorbablePermute(a: Argument): AnyNode | undefined {
  if (!isNode(a) || accOpName(a) !== 'permute' || !swapsLastTwoDims(a.kwargs['permutation'])) return undefined;
  for (const u of a.users) if (!MATMULS.has(accOpName(u) ?? '')) return undefined;
  return a;
}

/**
 * Folds transposes into matrix products:
 * - `matmul(permute(a, [..., -1, -2]), b)` → `transposed_matmul(a, b, transpose_input=true)`
 *   (either operand; into an existing transposed_matmul by flipping its flag, and back to a
 *   plain matmul when no transpose is left), when every
 *   user of the permute is such a product, so that the permute goes away;
 * - `linear(x, permute(W, [1, 0]), b)` with W a 2-D constant → `matmul(x, W) + b`
 *   (linear(x, Wᵀ) = x·W), when the permute has no other user.
 *
 * @example
 * fusePermuteMatmul(gm); // q @ kᵀ attention scores without materializing kᵀ
 */
export const fusePermuteMatmul = definePass('fusePermuteMatmul', (gm: GraphModule) => {
  const graph = gm.graph;
  let modified = false;
  for (const node of graph.nodes()) {
    const op = accOpName(node);
    if (op !== undefined && MATMULS.has(op)) {
      const pi = absorbablePermute(node.kwargs['input']);
      const po = absorbablePermute(node.kwargs['other']);
      if (!pi && !po) continue;
      const flag = (k: string): boolean => node.kwargs[k] === true;
      const kwargs = {
        input: pi ? pi.kwargs['input'] : node.kwargs['input'],
        other: po ? po.kwargs['input'] : node.kwargs['other'],
        transpose_input: pi ? !flag('transpose_input') : flag('transpose_input'),
        transpose_other: po ? !flag('transpose_other') : flag('transpose_other'),
      };
      // Two transposes that cancel leave a plain matmul.
      const plain = !kwargs.transpose_input && !kwargs.transpose_other;
      const fused = graph.insertingBefore(node, () => (plain
        ? graph.callFunction(getAccOp('matmul'), [], { input: kwargs.input, other: kwargs.other })
        : graph.callFunction(getAccOp('transposed_matmul'), [], kwargs)));
      fused.meta = { ...node.meta };
      node.replaceAllUsesWith(fused);
      graph.eraseNode(node);
      for (const p of new Set([pi, po])) if (p && p.users.size === 0) graph.eraseNode(p);
      modified = true;
    } else if (op === 'linear') {
      const perm = node.kwargs['weight'];
      if (!isNode(perm) || accOpName(perm) !== 'permute' || perm.users.size !== 1) continue;
      const w = perm.kwargs['input'];
      if (!isNode(w) || w.op !== 'get_attr' || !isMatrix(gm.getAttr(w.target))) continue;
      if (!swapsLastTwoDims(perm.kwargs['permutation'])) continue;
      const bias = node.kwargs['bias'];
      const result = graph.insertingBefore(node, () => {
        const mm = graph.callFunction(getAccOp('matmul'), [], { input: node.kwargs['input'], other: w });
        mm.meta = { ...node.meta };
        if (bias === null || bias === undefined) return mm;
        const add = graph.callFunction(getAccOp('add'), [], { input: mm, other: bias });
        add.meta = { ...node.meta };
        return add;
      });
      node.replaceAllUsesWith(result);
      graph.eraseNode(node);
      graph.eraseNode(perm);
      modified = true;
    }
  }
  return { gm, modified };
});

function isMatrix(v: unknown): boolean {
  return v instanceof Tensor && v.rank === 2;
}
