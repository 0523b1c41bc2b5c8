/**
 * Which nodes of an acc graph an engine can run (fx's OperatorSupport): a converter exists and
 * accepts the node, its tensor inputs have dtypes the engine takes, the user did not exclude it,
 * and every member of its fusion group (nodes joined by non-tensor values) is supported too.
 */
import { isAccOp } from '../acc_ops/registry.js';
import { converterSupport as defaultConverterSupport } from '../converters/index.js';
import type { Graph } from '../ir/graph.js';
import type { AnyNode } from '../ir/node.js';
import type { DType } from '../tensor/dtype.js';
import { findFusionGroups, isComputeNode, singleTensorMeta, tensorMetasIn, type FusionGroups } from './fusion_groups.js';

/** Whether a node may run in an engine and, when not, why. */
export interface NodeSupport {
  readonly supported: boolean;
  readonly reason?: string;
}

/** A converter capability check (the converter table's `converterSupport` by default). */
export type ConverterSupportCheck = (node: AnyNode) => { supported: boolean; reason?: string };

/** What decides support besides the converters: the user's exclusions and the dtypes engines take. */
export interface OperatorSupportOptions {
  /** Nodes that must stay outside engines: acc op names ('acc.gelu' or 'gelu'), function names ('user.myOp') or node names. */
  readonly excludeOps?: readonly string[];
  /** Tensor dtypes engines take at a node's inputs (default: ENGINE_DTYPES). */
  readonly supportedDTypes?: readonly DType[];
  /** Per-node converter check (default: the registered converters' `converterSupport`). */
  readonly converterSupport?: ConverterSupportCheck;
}

/** The tensor dtypes the network definition and its converters handle at layer inputs. */
export const ENGINE_DTYPES: readonly DType[] = ['float32', 'float16', 'bfloat16', 'float8e4m3', 'int8', 'int32', 'int64', 'bool'];

/** The support decision of every compute node, with the fusion groups it was decided over. */
export interface SupportReport {
  readonly decisions: ReadonlyMap<AnyNode, NodeSupport>;
  readonly fusion: FusionGroups;
}

/** The name a node's operation is known by: 'acc.relu', 'user.myOp', 'method:relu', 'module:<path>'. */
export function opKindOf(n: AnyNode): string {
  switch (n.op) {
    case 'call_function': return n.target.name;
    case 'call_method': return `method:${n.target}`;
    case 'call_module': return `module:${n.target}`;
    default: return n.op;
  }
}

/** Whether the user's exclude list names this node (by op, with or without 'acc.', or by node name). */
function excludedBy(n: AnyNode, exclude: ReadonlySet<string>): string | undefined {
  if (exclude.size === 0) return undefined;
  if (exclude.has(n.name)) return n.name;
  if (n.op === 'call_function') {
    const fn = n.target;
    if (exclude.has(fn.name)) return fn.name;
    if (isAccOp(fn) && exclude.has(fn.accName)) return fn.accName;
  }
  if (n.op === 'call_method' && exclude.has(n.target)) return n.target;
  return undefined;
}

/** The node-local decision, before fusion groups are taken into account. */
function nodeSupport(n: AnyNode, exclude: ReadonlySet<string>, dtypes: ReadonlySet<DType>, check: ConverterSupportCheck): NodeSupport {
  const named = excludedBy(n, exclude);
  if (named !== undefined) return { supported: false, reason: `excluded by the user (excludeOps: '${named}')` };
  const conv = check(n);
  if (!conv.supported) return { supported: false, reason: conv.reason ?? `no converter accepts ${opKindOf(n)}` };
  if (n.meta.tensorMeta === undefined) return { supported: false, reason: 'its value has no shape information (run accTrace or ShapeProp first)' };
  for (const i of n.allInputNodes) {
    if ((i.op === 'placeholder' || i.op === 'get_attr') && !singleTensorMeta(i)) {
      return { supported: false, reason: `input '${i.name}' is not a tensor of known shape (engines take tensors only)` };
    }
    for (const m of tensorMetasIn(i.meta.tensorMeta)) {
      if (!dtypes.has(m.dtype)) {
        return { supported: false, reason: `input '${i.name}' has dtype ${m.dtype}; engines take ${[...dtypes].join(', ')}` };
      }
    }
  }
  for (const u of n.users) {
    if (u.op === 'output' && !singleTensorMeta(n)) {
      return { supported: false, reason: 'its value is a graph output but not a tensor (engines return tensors only)' };
    }
  }
  return { supported: true };
}

/**
 * Decides, for every compute node of `graph`, whether an engine can run it. A fusion group is
 * supported only when all its members are; the others inherit the reason of the first
 * unsupported member.
 *
 * @example
 * const { decisions } = decideSupport(acc.graph, { excludeOps: ['acc.gelu'] });
 * decisions.get(geluNode); // { supported: false, reason: "excluded by the user (excludeOps: 'acc.gelu')" }
 */
export function decideSupport(graph: Graph, opts: OperatorSupportOptions = {}): SupportReport {
  const exclude = new Set(opts.excludeOps ?? []);
  const dtypes = new Set(opts.supportedDTypes ?? ENGINE_DTYPES);
  const check = opts.converterSupport ?? defaultConverterSupport;
  const fusion = findFusionGroups(graph);
  const decisions = new Map<AnyNode, NodeSupport>();
  for (const n of graph.nodes()) if (isComputeNode(n)) decisions.set(n, nodeSupport(n, exclude, dtypes, check));
  for (const g of fusion.groups) {
    if (g.nodes.length < 2) continue;
    const bad = g.nodes.find((n) => !decisions.get(n)!.supported);
    if (!bad) continue;
    const why = decisions.get(bad)!.reason ?? 'unsupported';
    for (const n of g.nodes) {
      if (decisions.get(n)!.supported) {
        decisions.set(n, { supported: false, reason: `kept with '${bad.name}' (joined by non-tensor values), which is unsupported: ${why}` });
      }
    }
  }
  return { decisions, fusion };
}
