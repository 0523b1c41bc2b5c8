/**
 * Conv/deconv/matrix-multiply epilogue fusion (TensorRT's conv + bias + activation (+ residual)).
 *
 * Pattern → replacement, on an anchor A (convolution, deconvolution, matrix_multiply) whose
 * result is read by one layer only, then the same for each absorbed layer:
 *   act(A(x) [+ bias] [+ z]) → A⟨bias, residual z, act⟩(x)
 * in this order, each part optional but at least one:
 *   bias:     an elementwise sum with a constant that broadcasts to A's output without expanding it
 *   residual: an elementwise sum with another tensor of A's output shape
 *   act:      an activation layer
 * Identity relied on: the epilogue computes the same function in registers (sum is commutative,
 * so A(x) may be either operand); only the final result is rounded to the storage dtype.
 */
import { isFloating } from '../../tensor/dtype.js';
import { ANCHOR_KINDS, type AnchorKind, type EpilogueOp } from '../plan.js';
import { type BNode, type BuildGraph, type BValue, type NodeSpec, type PassLog } from './build_graph.js';

function isAnchor(n: BNode): n is Extract<BNode, { kind: AnchorKind }> {
  return (ANCHOR_KINDS as readonly string[]).includes(n.kind);
}

/** Whether `other` broadcasts to `out` without changing it (static dims only where other > 1). */
function broadcastsInto(other: readonly number[], out: readonly number[]): boolean {
  if (other.length > out.length) return false;
  for (let i = 1; i <= other.length; i++) {
    const d = other[other.length - i]!;
    if (d !== 1 && (d < 0 || d !== out[out.length - i])) return false;
  }
  return true;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Fuses bias, residual and activation layers into their anchor's step. Returns the number of anchors fused. */
export function fuseEpilogues(g: BuildGraph, _log: PassLog): number {
  let count = 0;
  for (const anchor of g.nodes) {
    if (!isAnchor(anchor) || anchor.epilogue.length > 0) continue;
    const out0 = anchor.outputs[0]!;
    if (!isFloating(out0.dtype)) continue;
    const ops: EpilogueOp[] = [];
    const inputs: BValue[] = [...anchor.inputs];
    const absorbed: BNode[] = [];
    let cur = out0;
    let stage = 0; // 1: bias seen, 2: residual seen, 3: activation seen
    while (stage < 3 && !g.isGraphOutput(cur) && g.uses(cur).length === 1) {
      const c = g.uses(cur)[0]!;
      if (c.outputs[0]!.dtype !== cur.dtype) break;
      if (c.kind === 'elementwise' && c.params.op === 'sum') {
        const other = c.inputs[0] === cur ? c.inputs[1]! : c.inputs[0]!;
        if (other.constant !== null && stage < 1 && broadcastsInto(other.shape, cur.shape)) {
          ops.push({ op: 'bias', input: inputs.length });
          stage = 1;
        } else if (other.constant === null && stage < 2 && sameShape(other.shape, cur.shape)) {
          ops.push({ op: 'residual', input: inputs.length });
          stage = 2;
        } else break;
        inputs.push(other);
      } else if (c.kind === 'activation') {
        const { op: fn, alpha, beta } = c.params;
        ops.push({ op: 'activation', fn, alpha, beta });
        stage = 3;
      } else break;
      absorbed.push(c);
      cur = c.outputs[0]!;
    }
    if (absorbed.length === 0) continue;
    const last = absorbed[absorbed.length - 1]!;
    const spec = {
      kind: anchor.kind, name: anchor.name, params: anchor.params, inputs, epilogue: ops,
      layers: [...anchor.layers, ...absorbed.flatMap((n) => n.layers)], rule: 'epilogueFusion',
    } as NodeSpec;
    g.addNodeProducing(last, spec, [cur]);
    for (const n of [...absorbed].reverse()) g.removeNode(n);
    g.removeNode(anchor);
    count++;
  }
  g.compact();
  return count;
}
