/**
 * Copies of an acc GraphModule for the variants quantization runs (the model with some layers
 * quantized, the model returning its observed tensors). Node names are kept, so a name means
 * the same value in every copy; weights are shared, never copied.
 */
import { Graph } from '../ir/graph.js';
import { GraphModule } from '../ir/graph_module.js';
import type { AnyNode, Argument } from '../ir/node.js';

/**
 * A new GraphModule over a node-for-node copy of `gm`'s graph, reading the same weights. With
 * `outputs`, the copy returns those values (by node name, as a list) instead of `gm`'s outputs.
 *
 * @example
 * const probe = copyGraphModule(gm, ['relu', 'conv2d_1']);
 * const [relu, conv] = probe.forward(x) as Tensor[];
 */
export function copyGraphModule(gm: GraphModule, outputs?: readonly string[]): GraphModule {
  const graph = new Graph();
  const copies = new Map<AnyNode, AnyNode>();
  const byName = new Map<string, AnyNode>();
  const mapped = (n: AnyNode): Argument => {
    const c = copies.get(n);
    if (!c) throw new Error(`copyGraphModule: node '${n.name}' is used before it is defined`);
    return c;
  };
  for (const n of gm.graph.nodes()) {
    if (n.op === 'output' && outputs) continue;
    const c = graph.nodeCopy(n, mapped);
    copies.set(n, c);
    byName.set(n.name, c);
  }
  if (outputs) {
    graph.output(outputs.map((name) => {
      const n = byName.get(name);
      if (!n) throw new Error(`copyGraphModule: the graph has no node named '${name}'`);
      return n;
    }));
  }
  return new GraphModule(gm, graph, gm.className);
}

/** The nodes of a graph by name. */
export function nodesByName(graph: Graph): Map<string, AnyNode> {
  const out = new Map<string, AnyNode>();
  for (const n of graph.nodes()) out.set(n.name, n);
  return out;
}
