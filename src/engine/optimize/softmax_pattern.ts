/**
 * Softmax pattern: a decomposed softmax becomes one softmax kernel.
 *
 * Patterns → replacement (a = the one reduced axis, reductions keep their dim):
 *   exp(x - max_a(x)) / sum_a(exp(x - max_a(x)))   → softmax_a(x)
 *   exp(x) / sum_a(exp(x))                         → softmax_a(x)
 * Identity: exp(x - c) / Σ exp(x - c) = exp(x) / Σ exp(x) for any c constant along a; the kernel
 * subtracts the max itself (so the unstable second form also gains overflow safety).
 * exp's result must be read only by the division and the sum; the other intermediates only by the pattern.
 */
import { isFloating } from '../../tensor/dtype.js';
import type { BNode, BuildGraph, BValue, PassLog } from './build_graph.js';
import { elementwiseOf, isInternal, producerOf, removeMatched } from './matchers.js';

/** The single axis of a keepDims reduce `op` producing `v`, or null. */
function reducedAxis(v: BValue, op: 'sum' | 'max'): { node: BNode; axis: number; input: BValue } | null {
  const r = producerOf(v, 'reduce');
  if (!r || r.params.op !== op || !r.params.keepDims || r.params.axes.length !== 1) return null;
  return { node: r, axis: r.params.axes[0]!, input: r.inputs[0]! };
}

function match(g: BuildGraph, root: BNode): { x: BValue; axis: number; nodes: BNode[] } | null {
  const div = elementwiseOf(root.outputs[0]!, 'div');
  if (!div || !isFloating(root.outputs[0]!.dtype)) return null;
  const [e, s] = div.inputs as [BValue, BValue];
  const exp = producerOf(e, 'unary');
  const sum = reducedAxis(s, 'sum');
  if (!exp || exp.params.op !== 'exp' || !sum || sum.input !== e || !isInternal(g, s)) return null;
  const readers = g.uses(e);
  if (readers.length !== 2 || !readers.includes(div) || !readers.includes(sum.node) || g.isGraphOutput(e)) return null;
  const z = exp.inputs[0]!;
  const nodes: BNode[] = [div, sum.node, exp];
  const sub = elementwiseOf(z, 'sub');
  const max = sub ? reducedAxis(sub.inputs[1]!, 'max') : null;
  if (sub && max && max.input === sub.inputs[0] && max.axis === sum.axis && isInternal(g, z) && isInternal(g, sub.inputs[1]!)) {
    return { x: sub.inputs[0]!, axis: sum.axis, nodes: [...nodes, sub, max.node] };
  }
  return { x: z, axis: sum.axis, nodes };
}

/** Replaces decomposed softmaxes by softmax layers. Returns the number replaced. */
export function fuseSoftmaxPatterns(g: BuildGraph, _log: PassLog): number {
  let count = 0;
  const nodes = g.nodes;
  for (let i = nodes.length - 1; i >= 0; i--) {
    const root = nodes[i]!;
    if (!g.has(root)) continue;
    const m = match(g, root);
    if (!m) continue;
    g.addNodeProducing(root, {
      kind: 'softmax', name: root.name, inputs: [m.x], params: { axis: m.axis, log: false }, epilogue: [],
      layers: [...m.nodes].sort((a, b) => a.id - b.id).flatMap((n) => n.layers), rule: 'softmaxPattern',
    }, [root.outputs[0]!]);
    removeMatched(g, m.nodes);
    count++;
  }
  g.compact();
  return count;
}
