import { getMethod } from '../acc_ops/dispatch.js';
import { Graph } from '../ir/graph.js';
import { GraphModule } from '../ir/graph_module.js';
import { isNode, type AnyNode } from '../ir/node.js';
import { definePass } from './pass_manager.js';

/** `add_`, `relu_`, `fill_`: a trailing underscore marks an in-place tensor method (`__x__` names do not count). */
export function isInplaceMethod(name: string): boolean {
  return name.length > 1 && name.endsWith('_') && !name.startsWith('_');
}

/** The functional method an in-place method writes back: its declared `inplaceOf`, else the name without '_'. */
export function functionalMethodOf(name: string): string {
  return getMethod(name)?.inplaceOf ?? name.slice(0, -1);
}

/**
 * Turns in-place tensor methods into their functional forms (fx2trt's replace_mutable_op,
 * generalized to every in-place method): `y.add_(1)` becomes `y.add(1)`, and every node
 * that reads `y` after the mutation (or the in-place call's result) reads the new value
 * instead. This is exact when nothing else can observe the mutation, so it throws, naming
 * the node, method and other users, when the receiver
 * - is a graph input (placeholder) or a weight (get_attr): the caller would see the change;
 * - has users that run before the mutation: they may hold a view of the receiver that the
 *   mutation would have changed.
 *
 * @example
 * // forward(x) { const y = x.relu(); y.add_(1); return y; }
 * replaceMutableOps(symbolicTrace(model)); // relu → add → output
 */
export const replaceMutableOps = definePass('replaceMutableOps', (gm: GraphModule) => {
  const graph = gm.graph;
  const order = new Map<AnyNode, number>();
  let modified = false;
  for (const node of graph.nodes()) {
    if (node.op !== 'call_method' || !isInplaceMethod(node.target)) continue;
    if (order.size === 0) {
      let i = 0;
      for (const n of graph.nodes()) order.set(n, i++);
    }
    const method = node.target;
    const receiver = node.args[0];
    const at = order.get(node)!;
    if (!isNode(receiver)) {
      throw new Error(`replaceMutableOps: node '${node.name}' calls in-place '${method}' on a constant, which has no functional form in the graph`);
    }
    const others = [...receiver.users].filter((u) => u !== node);
    const earlier = others.filter((u) => order.get(u)! < at);
    const fail = (why: string): never => {
      const list = others.length ? others.map((u) => `'${u.name}'`).join(', ') : 'none';
      throw new Error(`replaceMutableOps: cannot make in-place '${method}' at node '${node.name}' functional: ` +
        `${why} (other users of '${receiver.name}': ${list})`);
    };
    if (receiver.op === 'placeholder') fail(`it mutates graph input '${receiver.name}', which the caller observes`);
    if (receiver.op === 'get_attr') fail(`it mutates weight '${receiver.target}' of the module, which outlives the call`);
    if (earlier.length) {
      fail(`'${receiver.name}' is also used by ${earlier.map((u) => `'${u.name}'`).join(', ')} before the mutation`);
    }
    const functional = functionalMethodOf(method);
    if (!getMethod(functional)) {
      fail(`no functional tensor method '${functional}' is defined`);
    }
    const replacement = graph.insertingBefore(node, () => graph.callMethod(functional, node.args, { ...node.kwargs }));
    replacement.meta = { ...node.meta };
    order.set(replacement, at - 0.5);
    node.replaceAllUsesWith(replacement);
    // Nodes after the mutation read the mutated receiver: the functional result.
    receiver.replaceAllUsesWith(replacement, (u) => order.get(u)! > at);
    graph.eraseNode(node);
    modified = true;
  }
  return { gm, modified };
});

/**
 * The preparation accTrace runs by default: a functional copy of `gm` when it has in-place
 * calls (the caller's module is left as it is), else `gm` itself.
 *
 * @example
 * const functional = functionalize(symbolicTrace(model)); // no `add_`, `relu_`, ... left
 */
export function functionalize(gm: GraphModule): GraphModule {
  let inplace = false;
  for (const n of gm.graph.nodes()) if (n.op === 'call_method' && isInplaceMethod(n.target)) { inplace = true; break; }
  if (!inplace) return gm;
  const graph = new Graph();
  const copies = new Map<AnyNode, AnyNode>();
  for (const n of gm.graph.nodes()) copies.set(n, graph.nodeCopy(n, (i) => copies.get(i)!));
  const copy = new GraphModule(gm, graph, gm.className);
  copy.training = gm.training;
  return replaceMutableOps(copy).gm;
}
