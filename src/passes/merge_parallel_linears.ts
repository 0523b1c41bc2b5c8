import { getAccOp } from '../acc_ops/registry.js';
import type { GraphModule } from '../ir/graph_module.js';
import { isNode, type AnyNode, type Node } from '../ir/node.js';
import { cat } from '../kernels/reference/shape.js';
import { isFloating } from '../tensor/dtype.js';
import { Tensor } from '../tensor/tensor.js';
import { accOpName, definePass, tensorMetaOf } from './pass_manager.js';

/** A linear layer the pass can merge: its float constant weight [out, in] and bias [out] (or none). */
interface Mergeable {
  readonly node: AnyNode;
  readonly weight: Tensor;
  readonly bias: Tensor | null;
}

function constantOf(gm: GraphModule, a: unknown): Tensor | undefined {
  if (!isNode(a) || a.op !== 'get_attr') return undefined;
  const v = gm.getAttr(a.target);
  return v instanceof Tensor ? v : undefined;
}

function mergeable(gm: GraphModule, node: AnyNode): Mergeable | undefined {
  const weight = constantOf(gm, node.kwargs['weight']);
  if (!weight || weight.rank !== 2 || !isFloating(weight.dtype) || weight.qparams) return undefined;
  const b = node.kwargs['bias'];
  if (b === null || b === undefined) return { node, weight, bias: null };
  const bias = constantOf(gm, b);
  if (!bias || bias.rank !== 1 || bias.dtype !== weight.dtype || bias.qparams || bias.shape[0] !== weight.shape[0]) return undefined;
  return { node, weight, bias };
}

/**
 * Merges linear layers that read the same input, with float constant weights of one dtype and
 * input width and all with (constant) or all without biases, into one linear over the
 * concatenated weights; each original output becomes a slice of the merged output along its
 * last dim. BERT's query, key and value projections become one GEMM three times as wide, which
 * fills a GPU better than three narrow ones (TensorRT's horizontal GEMM fusion); on the CUDA
 * backend the slices that feed attention are read in place (no copy). Each output column is
 * still the dot product of its own weight row, so results change at most by the GEMM's choice
 * of algorithm. The merged layers get new names: passes that select layers by name (a
 * quantization's `exclude`) run without it (defaultPasses leaves it out of quantized builds).
 *
 * @example
 * // q = linear(x, Wq, bq); k = linear(x, Wk, bk)  →  qk = linear(x, [Wq; Wk], [bq; bk]); q = slice(qk, -1, 0, n); k = slice(qk, -1, n, 2n)
 * mergeParallelLinears(gm);
 */
export const mergeParallelLinears = definePass('mergeParallelLinears', (gm: GraphModule) => {
  const graph = gm.graph;
  const order = new Map<AnyNode, number>();
  for (const n of graph.nodes()) order.set(n, order.size);
  let modified = false;
  for (const x of [...graph.nodes()]) {
    if (x.isErased) continue;
    const groups = new Map<string, Mergeable[]>();
    for (const u of x.users) {
      if (accOpName(u) !== 'linear' || u.kwargs['input'] !== x) continue;
      const m = mergeable(gm, u);
      if (!m) continue;
      const key = `${m.weight.dtype}|${m.weight.shape[1]}|${m.bias ? 'bias' : 'none'}`;
      groups.set(key, [...(groups.get(key) ?? []), m]);
    }
    for (const group of groups.values()) {
      if (group.length < 2) continue;
      group.sort((a, b) => order.get(a.node)! - order.get(b.node)!);
      merge(gm, x, group);
      modified = true;
    }
  }
  if (modified) gm.deleteUnusedAttributes();
  return { gm, modified };
}, { runsAfter: ['constFold', 'foldBatchNorm', 'fusePermuteMatmul'] }); // constant weights, batch norm folded in, linear(x, Wᵀ) already a matmul

function merge(gm: GraphModule, x: AnyNode, group: readonly Mergeable[]): void {
  const graph = gm.graph;
  const first = group[0]!.node;
  const name = group.map((m) => m.node.name).join('_');
  const attr = (suffix: string, t: Tensor): Node<'get_attr'> => {
    const n = graph.insertingBefore(first, () => graph.getAttr(gm.addConstant(`${name}_${suffix}`, t)));
    n.meta.tensorMeta = { shape: t.shape, dtype: t.dtype };
    return n;
  };
  const weight = attr('merged_weight', cat(group.map((m) => m.weight), 0));
  const bias = group[0]!.bias ? attr('merged_bias', cat(group.map((m) => m.bias!), 0)) : null;
  const width = group.reduce((n, m) => n + m.weight.shape[0]!, 0);
  const merged = graph.insertingBefore(first, () => graph.callFunction(getAccOp('linear'), [], { input: x, weight, bias }));
  const meta = tensorMetaOf(first);
  if (meta) merged.meta.tensorMeta = { ...meta, shape: [...meta.shape.slice(0, -1), width] };
  let start = 0;
  for (const m of group) {
    const end = start + m.weight.shape[0]!;
    const old = [m.node.kwargs['weight'], m.node.kwargs['bias']];
    const part = graph.insertingBefore(m.node, () => graph.callFunction(getAccOp('slice'), [], { input: merged, dim: -1, start, end, step: 1 }));
    part.meta = { ...m.node.meta };
    m.node.replaceAllUsesWith(part);
    graph.eraseNode(m.node);
    for (const a of old) if (isNode(a) && !a.isErased && a.users.size === 0) graph.eraseNode(a);
    start = end;
  }
}
