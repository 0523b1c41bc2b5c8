/**
 * Precision assignment for a strongly typed network. The network decides every tensor's dtype
 * (converters insert casts and Q/DQ); the builder checks the types are consistent and allowed by
 * the build's precision, and records what each step computes in:
 *   - a float dtype changes only through cast, quantize and dequantize layers (every other layer
 *     has one float dtype among its inputs and outputs);
 *   - precision 'fp32' allows float32 tensors only, 'fp16' adds float16, 'bf16' adds bfloat16,
 *     'int8' allows every float type and needs explicit quantize/dequantize layers, which in turn
 *     only an 'int8' build accepts (TensorRT's builder flags);
 *   - steps on floats compute (accumulate) in float32, whatever their storage dtype.
 */
import { isFloating, type DType } from '../../tensor/dtype.js';
import type { NetworkDefinition } from '../network_definition.js';
import type { BuilderPrecision, StepPrecision } from '../plan.js';
import { BuildError, type BNode } from './build_graph.js';

const ALLOWED_FLOATS: Record<BuilderPrecision, readonly DType[]> = {
  fp32: ['float32'],
  fp16: ['float32', 'float16'],
  bf16: ['float32', 'bfloat16'],
  int8: ['float32', 'float16', 'bfloat16'],
};

const PRECISION_OF: Partial<Record<DType, BuilderPrecision>> = { float16: 'fp16', bfloat16: 'bf16' };

/** Layers allowed to change a float dtype. */
const CONVERTING = new Set(['cast', 'quantize', 'dequantize']);

/**
 * Rejects a network whose types are inconsistent or not allowed by `precision`, naming the layer.
 * @example
 * checkNetworkTypes(net, 'fp16'); // throws BuildError if a layer mixes float16 and float32
 */
export function checkNetworkTypes(net: NetworkDefinition, precision: BuilderPrecision): void {
  const allowed = ALLOWED_FLOATS[precision];
  const qdq: string[] = [];
  for (const t of net.inputs) {
    if (isFloating(t.dtype) && !allowed.includes(t.dtype)) {
      throw new BuildError(`network '${net.name}': input '${t.name}' is ${t.dtype}, which precision '${precision}' does not allow (build with precision '${PRECISION_OF[t.dtype]}')`);
    }
  }
  for (const layer of net.layers) {
    if (layer.type === 'quantize' || layer.type === 'dequantize') qdq.push(layer.name);
    const floats = new Set<DType>();
    for (const t of [...layer.inputs, ...layer.outputs]) if (isFloating(t.dtype)) floats.add(t.dtype);
    for (const f of floats) {
      if (!allowed.includes(f)) {
        throw new BuildError(`network '${net.name}': layer '${layer.name}' (${layer.type}) uses ${f}, which precision '${precision}' does not allow (build with precision '${PRECISION_OF[f]}')`);
      }
    }
    if (floats.size > 1 && !CONVERTING.has(layer.type)) {
      const desc = [...layer.inputs.map((t, i) => `input ${i} '${t.name}' is ${t.dtype}`), ...layer.outputs.map((t, i) => `output ${i} is ${t.dtype}`)];
      throw new BuildError(
        `network '${net.name}': layer '${layer.name}' (${layer.type}) mixes ${[...floats].join(' and ')} (${desc.join(', ')}); ` +
        'the network is strongly typed: insert a cast layer',
      );
    }
  }
  if (precision === 'int8' && qdq.length === 0) {
    throw new BuildError(`network '${net.name}': precision 'int8' needs explicit quantization, but the network has no quantize/dequantize layers (calibrate and insert Q/DQ first)`);
  }
  if (precision !== 'int8' && qdq.length > 0) {
    throw new BuildError(`network '${net.name}': quantize/dequantize layers (${qdq.slice(0, 3).join(', ')}${qdq.length > 3 ? ', ...' : ''}) need precision 'int8', got '${precision}'`);
  }
}

/** Storage dtype of a node's first output and the precision it computes in. */
export function stepPrecision(n: BNode): StepPrecision {
  const storage = n.outputs[0]!.dtype;
  const floating = [...n.inputs, ...n.outputs].some((v) => isFloating(v.dtype));
  return { storage, compute: floating ? 'float32' : storage };
}
