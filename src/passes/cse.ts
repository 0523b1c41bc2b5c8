import type { GraphFunction } from '../ir/function.js';
import type { GraphModule } from '../ir/graph_module.js';
import { isNode, Slice, type AnyNode, type Argument } from '../ir/node.js';
import { accOpName, definePass } from './pass_manager.js';
import { isInplaceMethod } from './replace_mutable_ops.js';

/**
 * Whether a node's value is a deterministic function of its inputs, with no side effect:
 * safe to merge with an identical node or to compute at compile time. In-place methods,
 * impure functions, module calls and training-mode dropout (random) are not.
 */
export function isPureNode(n: AnyNode): boolean {
  switch (n.op) {
    case 'get_attr': return true;
    case 'call_method': return !isInplaceMethod(n.target);
    case 'call_function': {
      if (n.target.impure === true) return false;
      // dropout(training=true) draws a fresh mask per call: two identical calls differ.
      if (accOpName(n) === 'dropout') {
        const training = n.kwargs['training'];
        return training === undefined || training === false;
      }
      return true;
    }
    default: return false;
  }
}

/**
 * Common subexpression elimination: a pure node with the same op, target, args and kwargs
 * as an earlier node (arguments compared by structure, input nodes by identity) is replaced
 * by the earlier one; get_attr nodes of the same target merge too. One hash lookup per node.
 *
 * @example
 * // a = acc.relu(x); b = acc.relu(x); return a + b   →   a = acc.relu(x); return a + a
 * cse(gm);
 */
export const cse = definePass('cse', (gm: GraphModule) => {
  const graph = gm.graph;
  const ids = new Map<AnyNode, number>();
  const fnIds = new Map<GraphFunction, number>();
  const seen = new Map<string, AnyNode>();
  let modified = false;
  for (const n of graph.nodes()) {
    ids.set(n, ids.size);
    if (!isPureNode(n)) continue;
    let target: string;
    if (n.op === 'call_function') {
      let id = fnIds.get(n.target);
      if (id === undefined) fnIds.set(n.target, (id = fnIds.size));
      target = `f${id}`;
    } else {
      target = JSON.stringify(n.target);
    }
    const key = `${n.op}|${target}|${keyOf(n.args, ids)}|${keyOf(n.kwargs, ids)}`;
    const earlier = seen.get(key);
    if (earlier === undefined) {
      seen.set(key, n);
      continue;
    }
    n.replaceAllUsesWith(earlier);
    graph.eraseNode(n);
    modified = true;
  }
  return { gm, modified };
}, { runsAfter: ['replaceMutableOps'] }); // two reads of a value differ if a mutation sits between them

/**
 * A string that is equal for two arguments exactly when they are structurally equal (nodes by
 * identity, -0 apart from 0, NaN equal to NaN); strings and keys are length-prefixed so no
 * two structures share a key.
 */
function keyOf(a: Argument | Readonly<Record<string, Argument>>, ids: ReadonlyMap<AnyNode, number>): string {
  if (isNode(a)) return `%${ids.get(a)}`;
  switch (typeof a) {
    case 'number': return Object.is(a, -0) ? 'd-0' : `d${a}`;
    case 'boolean': return a ? 'T' : 'F';
    case 'string': return `s${a.length}:${a}`;
    case 'undefined': return 'u';
  }
  if (a === null) return 'n';
  if (a instanceof Slice) return `(${a.start},${a.stop},${a.step})`;
  let s: string;
  if (isList(a)) {
    s = '[';
    for (const x of a) s += `${keyOf(x, ids)},`;
    return `${s}]`;
  }
  const keys = Object.keys(a);
  if (keys.length > 1) keys.sort();
  s = '{';
  for (const k of keys) s += `${k.length}:${k}=${keyOf(a[k], ids)},`;
  return `${s}}`;
}

function isList(a: unknown): a is readonly Argument[] {
  return Array.isArray(a);
}
