import { Interpreter } from '../ir/interpreter.js';
import type { AnyNode, ValueMeta } from '../ir/node.js';
import { Tensor } from '../tensor/tensor.js';

/** Metadata of a runtime value: tensors by shape/dtype/qparams, tuples element-wise, scalars as is. */
export function valueMetaOf(v: unknown): ValueMeta | undefined {
  if (v instanceof Tensor) return { shape: v.shape, dtype: v.dtype, ...(v.qparams ? { qparams: v.qparams } : {}) };
  if (v === null || typeof v === 'number' || typeof v === 'boolean') return v;
  if (Array.isArray(v)) {
    const out: ValueMeta[] = [];
    for (const x of v) {
      const m = valueMetaOf(x);
      if (m === undefined) return undefined;
      out.push(m);
    }
    return out;
  }
  return undefined;
}

/**
 * Shape propagation (fx's ShapeProp): runs the module on real inputs and records each
 * node's shape, dtype and quantization parameters in node.meta.tensorMeta (an array of
 * metas for tuple values). Passes that reason about shapes rely on it for graphs that did
 * not come from accTrace.
 *
 * @example
 * new ShapeProp(gm).propagate(Tensor.randn([2, 3]));
 * gm.graph.print(); // %relu : float32[2, 3] [num_users=1] = ...
 */
export class ShapeProp extends Interpreter {
  /** Runs the graph on `inputs`, recording metadata on every node; returns the output. */
  propagate(...inputs: unknown[]): unknown {
    this.module.graph.placeholders.forEach((p, i) => record(p, i < inputs.length ? inputs[i] : p.args[0]));
    return this.run(...inputs);
  }

  override runNode(n: AnyNode): unknown {
    const value = super.runNode(n);
    if (n.op !== 'output') record(n, value);
    return value;
  }
}

function record(n: AnyNode, value: unknown): void {
  const meta = valueMetaOf(value);
  if (meta === undefined) delete n.meta.tensorMeta;
  else n.meta.tensorMeta = meta;
}
