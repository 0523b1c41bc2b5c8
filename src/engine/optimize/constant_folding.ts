/**
 * Constant folding of layer inputs.
 *
 * Rules (pattern → replacement, with the identity each relies on):
 *   f(c1, ..., cn) → const(f(c1, ..., cn))   every layer is a deterministic function of its inputs
 *   shape(x)       → const(x.shape)          when x's shape has no dynamic dim
 * Folded values are computed now by the reference kernels, in the dtypes the network gives them,
 * so they equal what the step would compute at run time. Not folded: dequantize of int8 (and FP8)
 * constants (weights), which the Q/DQ fusion (qdq_fusion.ts) turns into int8 convolutions and GEMMs (FP8 GEMMs), as
 * TensorRT keeps DQ(w); a dequantized int32 bias or uint8 constant has no int8 kernel and folds.
 */
import { Tensor } from '../../tensor/tensor.js';
import { runStep } from '../reference/kernels.js';
import { BuildError, logEliminated, type BuildGraph, type BNode, type PassLog } from './build_graph.js';

function isStatic(shape: readonly number[]): boolean {
  return shape.every((d) => d >= 0);
}

/** Evaluates `node` on its constant inputs, or null when it cannot be folded. */
function fold(node: BNode): Tensor[] | null {
  if (node.kind === 'shape') {
    const x = node.inputs[0]!;
    if (!isStatic(x.shape)) return null;
    return [Tensor.fromNumbers(x.shape, [x.shape.length], node.outputs[0]!.dtype)];
  }
  if (node.kind === 'dequantize' && (node.inputs[0]!.dtype === 'int8' || node.inputs[0]!.dtype === 'float8e4m3')) return null;
  if (node.inputs.length === 0 || !node.inputs.every((v) => v.constant !== null)) return null;
  if (!node.outputs.every((o) => isStatic(o.shape))) return null;
  try {
    return runStep(node, node.inputs.map((v) => v.constant!), node.outputs.map((o) => ({ dtype: o.dtype, shape: o.shape })));
  } catch (e) {
    throw new BuildError(`constant folding: layer '${node.name}' (${node.kind}) fails on its constant inputs: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Replaces every foldable layer by constants, in topological order (so chains fold entirely).
 * Returns the number of layers folded.
 */
export function foldConstants(g: BuildGraph, log: PassLog): number {
  let count = 0;
  for (const node of g.nodes) {
    const results = fold(node);
    if (results === null) continue;
    node.outputs.forEach((o, k) => g.replaceAllUses(o, g.addConstant(results[k]!, o.name, o.dtype)));
    g.removeNode(node);
    logEliminated(log, node.layers, 'constantFolding', node.kind === 'shape' ? 'the shape of its input is static' : 'all its inputs are constants');
    count++;
  }
  g.compact();
  return count;
}
