/**
 * The splitter (fx's FxNetSplitter / _SplitterBase): partitions an acc GraphModule into
 * `_run_on_acc_N` parts (for engines) and `_run_on_cpu_N` parts (run by the Interpreter), and
 * builds the split GraphModule whose graph calls the parts in order. Until the acc parts are
 * lowered, every part is a GraphModule, so the split module runs end to end synchronously.
 */
import { getitem } from '../ir/function.js';
import { Graph } from '../ir/graph.js';
import { GraphModule } from '../ir/graph_module.js';
import { mapArgument, type AnyNode, type Argument, type ValueMeta } from '../ir/node.js';
import type { Module } from '../nn/module.js';
import { Tensor } from '../tensor/tensor.js';
import { decideSupport, type NodeSupport, type OperatorSupportOptions, type SupportReport } from './operator_support.js';
import { partitionGroups, partitionSize, type PartKind, type Partition } from './partition.js';

export type { PartKind } from './partition.js';

/** Operator support options plus the smallest acc part worth an engine. */
export interface SplitOptions extends OperatorSupportOptions {
  /**
   * Acc parts with fewer compute nodes than this run on the cpu instead (merged with their
   * neighbours): tiny engines cost more in transfers than they save. Default 1 (keep all).
   */
  readonly minAccModuleSize?: number;
}

/** One part of the split module. */
export interface SplitPart {
  /** `_run_on_acc_<i>` or `_run_on_cpu_<i>`, numbered in execution order. */
  readonly name: string;
  readonly kind: PartKind;
  /** The part's graph; its placeholders are named after the values it receives. */
  readonly module: GraphModule;
  /** Names (in the source graph) of the nodes this part computes. */
  readonly nodes: readonly string[];
  /** Names of the source values the part takes, in argument order. */
  readonly inputs: readonly string[];
  /** Names of the source values the part returns, in order (one value is returned as is, several as a tuple). */
  readonly outputs: readonly string[];
}

/** Where a compute node was placed, and why when it is not in an engine. */
export interface Placement {
  readonly part: string;
  readonly kind: PartKind;
  /** Why the node runs on the cpu: unsupported (with the reason) or its acc part was too small. */
  readonly reason?: string;
}

/** The split module and how it was made. */
export interface SplitResult {
  /** The module whose graph calls the parts (call_module `_run_on_*`), runnable with `forward`. */
  readonly split: GraphModule;
  readonly parts: readonly SplitPart[];
  /** Operator support of every compute node of the source graph. */
  readonly support: SupportReport;
  /** Keyed by source node name. */
  readonly placements: ReadonlyMap<string, Placement>;
  /** The acc GraphModule that was split. */
  readonly source: GraphModule;
  readonly minAccModuleSize: number;
}

/**
 * Splits an acc-traced GraphModule into engine and interpreter parts.
 *
 * @example
 * const { split, parts } = splitModule(accTrace(model, [x]), { minAccModuleSize: 2 });
 * parts.map((p) => p.name); // ['_run_on_acc_0', '_run_on_cpu_1', '_run_on_acc_2']
 * split.forward(x);        // same result as the unsplit module
 */
export function splitModule(gm: GraphModule, opts: SplitOptions = {}): SplitResult {
  const minSize = opts.minAccModuleSize ?? 1;
  if (!Number.isInteger(minSize) || minSize < 1) {
    throw new RangeError(`splitModule: minAccModuleSize must be an integer >= 1, got ${minSize}`);
  }
  const support = decideSupport(gm.graph, opts);
  const { decisions, fusion } = support;
  const demoted = new Map<AnyNode, string>();
  const accOk = (n: AnyNode): boolean => decisions.get(n)?.supported === true && !demoted.has(n);
  // Demoting a small acc part can reshape its neighbours, so repeat until every acc part is big enough.
  let partitions: Partition[];
  for (;;) {
    partitions = partitionGroups(fusion, (g) => g.nodes.every(accOk));
    const small = partitions.filter((p) => p.kind === 'acc' && partitionSize(p) < minSize);
    if (small.length === 0) break;
    for (const p of small) {
      const why = `its acc subgraph has ${partitionSize(p)} node(s), fewer than minAccModuleSize ${minSize}`;
      for (const n of p.nodes) demoted.set(n, why);
    }
  }

  const parts: SplitPart[] = [];
  const placements = new Map<string, Placement>();
  const partOf = new Map<AnyNode, number>();
  partitions.forEach((p, i) => { for (const n of p.nodes) partOf.set(n, i); });
  partitions.forEach((p, i) => {
    const name = `_run_on_${p.kind}_${i}`;
    parts.push(buildPart(gm, p, i, name, partOf));
    for (const n of p.nodes) {
      const reason = p.kind === 'cpu' ? demoted.get(n) ?? cpuReason(decisions.get(n)) : undefined;
      placements.set(n.name, { part: name, kind: p.kind, ...(reason !== undefined ? { reason } : {}) });
    }
  });
  const split = buildSplitModule(gm, parts);
  return { split, parts, support, placements, source: gm, minAccModuleSize: minSize };
}

function cpuReason(d: NodeSupport | undefined): string {
  return d?.reason ?? 'unsupported';
}

/** Copies one partition's nodes into a GraphModule of their own. */
function buildPart(gm: GraphModule, p: Partition, index: number, name: string, partOf: ReadonlyMap<AnyNode, number>): SplitPart {
  const graph = new Graph();
  const env = new Map<AnyNode, AnyNode>();
  const inputs: AnyNode[] = [];
  const members = new Set(p.nodes);
  // Placeholders first (lint requires it): the values computed outside this part, in first-use order.
  for (const n of p.nodes) {
    for (const i of n.allInputNodes) {
      if (members.has(i) || i.op === 'get_attr' || env.has(i)) continue;
      const ph = graph.placeholder(i.name);
      ph.meta = { ...i.meta };
      env.set(i, ph);
      inputs.push(i);
    }
  }
  const lookup = (i: AnyNode): Argument => {
    let v = env.get(i);
    if (v === undefined) {
      if (i.op !== 'get_attr') throw new Error(`splitter: part '${name}' uses '${i.name}' before it is computed`);
      v = graph.getAttr(i.target, i.name);
      v.meta = { ...i.meta };
      env.set(i, v);
    }
    return v;
  };
  for (const n of p.nodes) env.set(n, graph.nodeCopy(n, lookup));
  const outputs = p.nodes.filter((n) => [...n.users].some((u) => partOf.get(u) !== index));
  const outValues = outputs.map((n) => env.get(n)!);
  graph.output(outValues.length === 1 ? outValues[0]! : outValues);
  const module = new GraphModule(gm, graph, name);
  module.training = gm.training;
  module.lint();
  return { name, kind: p.kind, module, nodes: p.nodes.map((n) => n.name), inputs: inputs.map((n) => n.name), outputs: outputs.map((n) => n.name) };
}

/** The top-level graph: placeholders, one call_module per part (+ getitem for tuple results), output. */
function buildSplitModule(gm: GraphModule, parts: readonly SplitPart[]): GraphModule {
  const graph = new Graph();
  const value = new Map<string, AnyNode>();
  const source = new Map<string, AnyNode>();
  for (const n of gm.graph.nodes()) source.set(n.name, n);
  for (const p of gm.graph.placeholders) {
    const copy = graph.placeholder(p.name, p.args.length > 0 ? p.args[0] : undefined);
    copy.meta = { ...p.meta };
    value.set(p.name, copy);
  }
  const attrs: Record<string, Module | Tensor> = {};
  for (const part of parts) {
    attrs[part.name] = part.module;
    const args = part.inputs.map((i) => value.get(i) ?? missing(part.name, i));
    const call = graph.callModule(part.name, args, {}, part.name);
    const metas: ValueMeta[] = [];
    for (const o of part.outputs) {
      const m = source.get(o)!.meta.tensorMeta;
      metas.push(m ?? null);
    }
    if (part.outputs.length === 1) {
      call.meta.tensorMeta = metas[0]!;
      value.set(part.outputs[0]!, call);
      continue;
    }
    call.meta.tensorMeta = metas;
    part.outputs.forEach((o, i) => {
      const item = graph.callFunction(getitem, [call, i], {}, o);
      item.meta = { ...source.get(o)!.meta };
      value.set(o, item);
    });
  }
  const out = gm.graph.outputNode;
  if (!out) throw new Error('splitter: the graph has no output node');
  const result = mapArgument(out.args[0], (n) => {
    if (n.op === 'get_attr') {
      // A constant returned as is by the graph: the split module holds it too.
      const t = gm.getAttr(n.target);
      if (!(t instanceof Tensor)) throw new Error(`splitter: output '${n.name}' reads '${n.target}', which is not a tensor`);
      attrs[n.target] = t;
      const attr = graph.getAttr(n.target, n.name);
      attr.meta = { ...n.meta };
      return attr;
    }
    return value.get(n.name) ?? missing('output', n.name);
  });
  graph.output(result);
  const split = new GraphModule(attrs, graph, `${gm.className}Split`);
  split.training = gm.training;
  split.lint();
  return split;
}

function missing(where: string, name: string): never {
  throw new Error(`splitter: '${where}' needs value '${name}', which no earlier part computes`);
}
