/**
 * Reading a node's arguments and their recorded metadata, for the capability checks
 * (`supports`) that run on the graph before any conversion.
 */
import { Node, type AnyNode, type Argument, type TensorMeta } from '../ir/node.js';

/** The TensorMeta recorded on a node, when its value is a single tensor. */
export function tensorMetaOf(n: AnyNode): TensorMeta | undefined {
  const m = n.meta.tensorMeta;
  return m !== null && typeof m === 'object' && !Array.isArray(m) && 'shape' in m ? m : undefined;
}

/** The node passed as keyword argument `key`, if it is a node. */
export function argNode(node: AnyNode, key: string): AnyNode | undefined {
  const a = node.kwargs[key];
  return a instanceof Node ? (a as AnyNode) : undefined;
}

/** The TensorMeta of the node passed as keyword argument `key`. */
export function argMeta(node: AnyNode, key: string): TensorMeta | undefined {
  const n = argNode(node, key);
  return n ? tensorMetaOf(n) : undefined;
}

/** Whether keyword argument `key` is absent (null) or a get_attr node: a value known when converting. */
export function isConstantArg(node: AnyNode, key: string): boolean {
  const a = node.kwargs[key];
  if (a === null || a === undefined) return true;
  return a instanceof Node && a.op === 'get_attr';
}

/** Keyword argument `key` of a call, or the default its function's signature declares. */
export function argValue(node: Node<'call_function'>, key: string): Argument {
  const a = node.kwargs[key];
  if (a !== undefined) return a;
  const p = node.target.signature.params.find((q) => q.name === key);
  // Acc op defaults are plain literals (numbers, strings, booleans, null, lists of them).
  return p && 'default' in p ? (p.default as Argument) : undefined;
}
