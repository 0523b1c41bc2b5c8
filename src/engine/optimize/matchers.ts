/**
 * Small matchers shared by the pattern rules (GELU, softmax, normalization): scalar constants,
 * values read by exactly one layer, and the factors of a product tree.
 */
import type { ElementWiseOp } from '../network.js';
import type { BLayerNodeOf, BNode, BuildGraph, BValue } from './build_graph.js';

/** The value of a one-element constant, else null. */
export function scalarConstant(v: BValue): number | null {
  const c = v.constant;
  return c !== null && c.numel === 1 ? c.item() : null;
}

/** Whether `v` is a scalar constant close to `target` (relative 1e-3 for 16-bit floats, 1e-6 otherwise). */
export function isScalar(v: BValue, target: number): boolean {
  const c = scalarConstant(v);
  if (c === null) return false;
  const tol = v.dtype === 'float16' || v.dtype === 'bfloat16' ? 1e-3 : 1e-6;
  return Math.abs(c - target) <= tol * Math.max(Math.abs(target), 1e-30);
}

/** Whether `v` is read by exactly one layer (once) and is not a network output: a fusable intermediate. */
export function isInternal(g: BuildGraph, v: BValue): boolean {
  return g.uses(v).length === 1 && !g.isGraphOutput(v);
}

/** The producer of `v` when it is an elementwise `op`, else null. */
export function elementwiseOf(v: BValue, op: ElementWiseOp): BLayerNodeOf<'elementwise'> | null {
  const p = v.producer;
  return p?.kind === 'elementwise' && p.params.op === op ? p : null;
}

/** The producer of `v` when it has kind `kind`, else null. */
export function producerOf<K extends BNode['kind']>(v: BValue, kind: K): Extract<BNode, { kind: K }> | null {
  const p = v.producer;
  return p !== null && p.kind === kind ? (p as Extract<BNode, { kind: K }>) : null;
}

/** For a binary node reading `v`, its other operand (null when it reads `v` twice or not at all). */
export function otherOperand(n: BNode, v: BValue): BValue | null {
  const [a, b] = n.inputs;
  if (a === v && b !== v) return b ?? null;
  if (b === v && a !== v) return a ?? null;
  return null;
}

/**
 * The factors of the product tree rooted at `v`: elementwise prods whose results are internal
 * are expanded (a * (b * c) has factors a, b, c). Returns the leaves and the prod nodes expanded.
 */
export function productFactors(g: BuildGraph, v: BValue): { leaves: BValue[]; nodes: BNode[] } {
  const leaves: BValue[] = [];
  const nodes: BNode[] = [];
  const stack = [v];
  while (stack.length > 0) {
    const cur = stack.pop()!;
    const p = elementwiseOf(cur, 'prod');
    if (p && (cur === v || isInternal(g, cur)) && p.inputs[0]!.dtype === cur.dtype) {
      nodes.push(p);
      stack.push(p.inputs[1]!, p.inputs[0]!);
    } else leaves.push(cur);
  }
  return { leaves, nodes };
}

/** Removes `nodes` (a matched pattern whose result a replacement now produces), consumers first. */
export function removeMatched(g: BuildGraph, nodes: readonly BNode[]): void {
  const pending = new Set(nodes);
  while (pending.size > 0) {
    let progressed = false;
    for (const n of pending) {
      if (n.outputs.every((o) => o.producer !== n || (g.uses(o).length === 0 && !g.isGraphOutput(o)))) {
        g.removeNode(n);
        pending.delete(n);
        progressed = true;
      }
    }
    if (!progressed) throw new Error(`pattern rewrite: nodes ${[...pending].map((n) => `'${n.name}'`).join(', ')} are still used`);
  }
}
