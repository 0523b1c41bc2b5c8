/**
 * Removal of Q/DQ pairs on a convolution's output that keep the engine from fusing the next op
 * into the convolution (seed 002: the 17 pairs removed by hand from an FX-quantized CenterNet).
 *
 * TensorRT runs DQ(x), DQ(w) → conv (+ bias) (+ residual add) (+ activation) → Q as one INT8
 * kernel. A quantizer that also quantizes each conv output puts a Q → DQ pair in two places where
 * that kernel cannot form:
 *
 *   residual:   conv (→ batch_norm) → Q → DQ → add(·, r)    →  conv (→ batch_norm) → add(·, r)
 *   conv + bn:  conv / conv_transpose → Q → DQ → batch_norm   →  conv → batch_norm (then folded)
 *
 * so the conv output reaches the add (or the norm) in float; the add's other input `r` keeps its
 * own Q/DQ. A pair is removed only when nothing else sees it: the conv (or its norm) has the
 * quantize as only user, the quantize the dequantize, the dequantize this one consumer, and the
 * conv reads a dequantized input (an INT8 conv). For the add, the conv side must have the add's
 * shape (a residual, not a broadcast), the other side must not itself be a conv output in float
 * already (the add fuses into one conv only), and when both sides qualify the add's `input` side
 * is repaired (PyTorch's `out += identity` puts the main branch there, as seed 002's fix did). For
 * the norm, it must fold into that conv (foldBatchNorm, which runs next, then removes it).
 *
 * Numerically the graph loses one quantization step on the conv output: each element changes by
 * at most half that pair's scale where the value was within its range (±127 · scale for int8), and
 * by what that pair clipped where it was not (a calibrated scale may clip on purpose). Everything
 * downstream sees the more precise value; the other quantization steps are untouched.
 */
import type { GraphModule } from '../ir/graph_module.js';
import { isNode, type AnyNode, type Argument } from '../ir/node.js';
import { canFoldBatchNorm } from './fold_batch_norm.js';
import { accOpName, definePass, tensorMetaOf } from './pass_manager.js';

const CONVS = new Set(['conv1d', 'conv2d', 'conv3d', 'conv_transpose1d', 'conv_transpose2d', 'conv_transpose3d']);
const QUANTIZE = new Set(['quantize_per_tensor', 'quantize_per_channel']);

/**
 * Removes the Q/DQ pairs described in the module comment. Runs in compile's pipeline for precision
 * 'int8' (defaultPasses({ qdqRepairs })), before foldBatchNorm.
 *
 * @example
 * // y = add(dequantize(quantize_per_tensor(conv2d(dequantize(qx), w), 0.1, 0, int8)), r)
 * new PassManager([qdqResidualRepair, foldBatchNorm]).run(gm); // → y = add(conv2d(dequantize(qx), w), r)
 */
export const qdqResidualRepair = definePass('qdqResidualRepair', (gm: GraphModule) => {
  const graph = gm.graph;
  let modified = false;
  for (const dq of graph.nodes()) {
    const pair = removablePair(dq);
    if (!pair) continue;
    const [user] = dq.users;
    if (!user) continue;
    const repair = accOpName(user) === 'add'
      ? residualSide(user, dq, pair.src)
      : accOpName(user) === 'batch_norm' && CONVS.has(accOpName(pair.src) ?? '') && user.kwargs['input'] === dq && canFoldBatchNorm(gm, user, pair.src);
    if (!repair) continue;
    user.replaceInputWith(dq, pair.src);
    graph.eraseNode(dq);
    graph.eraseNode(pair.q);
    modified = true;
  }
  return { gm, modified };
}, { runsAfter: ['qdqCastRepair'] }); // a pair written with a uint8 cast in between is a pair once repaired

/** A dequantize(quantize(src)) with src a conv output, where each node has exactly one user. */
interface Pair {
  readonly q: AnyNode;
  readonly src: AnyNode;
}

/** The pair `dq` closes, when it is a conv output's own Q/DQ (see the module comment). */
function removablePair(dq: AnyNode): Pair | undefined {
  if (accOpName(dq) !== 'dequantize' || dq.users.size !== 1) return undefined;
  const q = dq.kwargs['input'];
  if (!isNode(q) || !QUANTIZE.has(accOpName(q) ?? '') || q.users.size !== 1) return undefined;
  const src = q.kwargs['input'];
  if (!isNode(src) || src.users.size !== 1 || !convOutput(src)) return undefined;
  return { q, src };
}

/** The INT8 conv whose output `n` is: the conv itself or a batch norm of it (its only user), reading a dequantized input. */
function convOutput(n: Argument): AnyNode | undefined {
  if (!isNode(n)) return undefined;
  let conv = n;
  if (accOpName(n) === 'batch_norm') {
    const c = n.kwargs['input'];
    if (!isNode(c) || c.users.size !== 1) return undefined;
    conv = c;
  }
  if (!CONVS.has(accOpName(conv) ?? '')) return undefined;
  const x = conv.kwargs['input'];
  return isNode(x) && accOpName(x) === 'dequantize' ? conv : undefined;
}

/**
 * Whether the add should take `src` in place of `dq`: dq is one operand (not both), src has the
 * add's shape, the other operand is not a float conv output already, and when dq is `other` the
 * `input` side does not qualify too.
 */
function residualSide(add: AnyNode, dq: AnyNode, src: AnyNode): boolean {
  const { input, other } = add.kwargs;
  if ((input === dq) === (other === dq)) return false;
  const rest = input === dq ? other : input;
  if (!isNode(rest) || computedByConv(rest)) return false;
  const shape = tensorMetaOf(add)?.shape;
  const srcShape = tensorMetaOf(src)?.shape;
  const restShape = tensorMetaOf(rest)?.shape;
  if (!shape || !srcShape || !restShape || !sameShape(shape, srcShape) || !sameShape(shape, restShape)) return false;
  return !(other === dq && removablePair(rest));
}

/** Whether `n` is a conv output in float (a conv, or a batch norm of one): the add may fuse into it. */
function computedByConv(n: AnyNode): boolean {
  const src = accOpName(n) === 'batch_norm' ? n.kwargs['input'] : n;
  return isNode(src) && CONVS.has(accOpName(src) ?? '');
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
