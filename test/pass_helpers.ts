/** Helpers of the graph pass tests: small acc graphs built by hand, with shape metadata. */
import '../src/acc_ops/ops/index.js';
import { getAccOp } from '../src/acc_ops/registry.js';
import { Graph } from '../src/ir/graph.js';
import { GraphModule } from '../src/ir/graph_module.js';
import type { AnyNode, Argument } from '../src/ir/node.js';
import { ShapeProp } from '../src/passes/shape_prop.js';
import type { Tensor } from '../src/tensor/tensor.js';

/** Builds a graph's output from its placeholder `x`; `call` adds an acc op call (optionally named). */
export type Build = (g: Graph, x: AnyNode, call: (op: string, kwargs: Record<string, Argument>, name?: string) => AnyNode) => Argument;

/** A one-input graph over attributes `attrs`, with metadata from running it on `x`. */
export function graphOf(x: Tensor, build: Build, attrs: Record<string, Tensor> = {}): GraphModule {
  const g = new Graph();
  const xi = g.placeholder('x');
  g.output(build(g, xi, (op, kwargs, name) => g.callFunction(getAccOp(op), [], kwargs, name)));
  const gm = new GraphModule(attrs, g);
  new ShapeProp(gm).propagate(x);
  gm.lint();
  return gm;
}
