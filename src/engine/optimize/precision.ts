/**
 * Precision assignment for a strongly typed network. The network decides every tensor's dtype
 * (converters insert casts and Q/DQ); the builder checks the types are consistent and allowed by
 * the build's precision, and records what each step computes in:
 *   - a float dtype changes only through cast, quantize and dequantize layers (every other layer
 *     has one float dtype among its inputs and outputs);
 *   - precision 'fp32' allows float32 tensors only, 'fp16' adds float16, 'bf16' adds bfloat16;
 *     'int8' needs explicit quantize/dequantize layers (which in turn only an 'int8' build accepts,
 *     as TensorRT's builder flags) and allows float32 plus its fallback type: the layers that do
 *     not run in int8 keep the network's float types, and TensorRT builds INT8 engines with FP16
 *     fallback, so the fallback defaults to 'fp16' ('fp32': float32 only, 'bf16': bfloat16);
 *   - steps on floats compute (accumulate) in float32, whatever their storage dtype; int8
 *     convolutions and matrix products accumulate in int32.
 */
import { isFloating, type DType } from '../../tensor/dtype.js';
import type { Layer, NetTensor } from '../network.js';
import type { NetworkDefinition } from '../network_definition.js';
import { ANCHOR_KINDS, isQuantizedPrecision, type BuilderPrecision, type QuantizedPrecision, type StepPrecision } from '../plan.js';
import { BuildError, type BNode } from './build_graph.js';

/** The float precision of the layers of an int8 build that stay in float (BuilderConfig.int8Fallback). */
export type Int8Fallback = 'fp32' | 'fp16' | 'bf16';

export const INT8_FALLBACKS: readonly Int8Fallback[] = ['fp32', 'fp16', 'bf16'];

const ALLOWED_FLOATS: Record<Exclude<BuilderPrecision, QuantizedPrecision>, readonly DType[]> = {
  fp32: ['float32'],
  fp16: ['float32', 'float16'],
  bf16: ['float32', 'bfloat16'],
};

const PRECISION_OF: Partial<Record<DType, BuilderPrecision>> = { float16: 'fp16', bfloat16: 'bf16' };

/** Layers allowed to change a float dtype. */
const CONVERTING = new Set(['cast', 'quantize', 'dequantize']);

/** What a disallowed float type needs: another precision, or (int8) another fallback. */
function remedy(f: DType, precision: BuilderPrecision): string {
  const p = PRECISION_OF[f];
  return isQuantizedPrecision(precision) && p ? `build with int8Fallback '${p}'` : `build with precision '${p}'`;
}

/**
 * Rejects a network whose types are inconsistent or not allowed by `precision` (and, for 'int8',
 * its float fallback, default 'fp16'), naming the layer.
 * @example
 * checkNetworkTypes(net, 'fp16'); // throws BuildError if a layer mixes float16 and float32
 * checkNetworkTypes(qdqNet, 'int8', 'fp32'); // throws if a layer outside int8 uses float16
 */
export function checkNetworkTypes(net: NetworkDefinition, precision: BuilderPrecision, int8Fallback: Int8Fallback = 'fp16'): void {
  if (!INT8_FALLBACKS.includes(int8Fallback)) {
    throw new BuildError(`int8Fallback must be one of ${INT8_FALLBACKS.join(', ')}, got '${String(int8Fallback)}'`);
  }
  const quantized = isQuantizedPrecision(precision);
  const allowed = ALLOWED_FLOATS[quantized ? int8Fallback : precision];
  const what = quantized ? `precision '${precision}' with int8Fallback '${int8Fallback}'` : `precision '${precision}'`;
  const qdq: string[] = [];
  const calibrated: string[] = [];
  const runTime = new RunTimeScales(net.inputs);
  for (const t of net.inputs) {
    if (isFloating(t.dtype) && !allowed.includes(t.dtype)) {
      throw new BuildError(`network '${net.name}': input '${t.name}' is ${t.dtype}, which ${what} does not allow (${remedy(t.dtype, precision)})`);
    }
  }
  for (const layer of net.layers) {
    if (layer.type === 'quantize' || layer.type === 'dequantize') qdq.push(layer.name);
    if (!runTime.visit(layer)) calibrated.push(layer.name);
    const floats = new Set<DType>();
    for (const t of [...layer.inputs, ...layer.outputs]) if (isFloating(t.dtype)) floats.add(t.dtype);
    for (const f of floats) {
      if (!allowed.includes(f)) {
        throw new BuildError(`network '${net.name}': layer '${layer.name}' (${layer.type}) uses ${f}, which ${what} does not allow (${remedy(f, precision)})`);
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
  if (quantized && qdq.length === 0) {
    throw new BuildError(`network '${net.name}': precision '${precision}' needs explicit quantization, but the network has no quantize/dequantize layers (calibrate and insert Q/DQ first)`);
  }
  if (!quantized && calibrated.length > 0) {
    throw new BuildError(`network '${net.name}': quantize/dequantize layers (${calibrated.slice(0, 3).join(', ')}${calibrated.length > 3 ? ', ...' : ''}) need precision 'int8' or 'fp8', got '${precision}' ` +
      '(only dynamic quantization, whose scales the network computes at run time, runs in a float precision)');
  }
}

/**
 * Dynamic quantization in a float build: a quantize layer whose scale the network computes from
 * its inputs at run time (compile's `quantization: { mode: 'dynamic' }`), and the dequantize layers
 * of its outputs or of constants (INT8 weights), are part of the computation the float model asks
 * for, not a calibration of it, so every precision accepts them; a quantize with a constant scale
 * (calibrated, static quantization) needs precision 'int8', as in TensorRT.
 */
class RunTimeScales {
  /** Tensors computed from a network input. */
  readonly #computed: Set<NetTensor>;
  /** Outputs of quantize layers with run-time scales. */
  readonly #dynamic = new Set<NetTensor>();

  constructor(inputs: readonly NetTensor[]) {
    this.#computed = new Set(inputs);
  }

  /** Records `layer` (in network order); false when it is a quantize/dequantize that needs precision 'int8'. */
  visit(layer: Layer): boolean {
    if (layer.inputs.some((t) => this.#computed.has(t))) for (const o of layer.outputs) this.#computed.add(o);
    const [x, scale] = layer.inputs;
    if (layer.type === 'quantize') {
      if (scale === undefined || !this.#computed.has(scale)) return false;
      this.#dynamic.add(layer.outputs[0]!);
    }
    return layer.type !== 'dequantize' || x === undefined || this.#dynamic.has(x) || !this.#computed.has(x);
  }
}

/** Storage dtype of a node's first output and the precision it computes in (int32 for an int8 convolution or GEMM, float32 for an FP8 one). */
export function stepPrecision(n: BNode): StepPrecision {
  const storage = n.outputs[0]!.dtype;
  if (n.quant !== undefined && (ANCHOR_KINDS as readonly string[]).includes(n.kind)) {
    return { storage, compute: n.quant.format === 'float8e4m3' ? 'float32' : 'int32' };
  }
  const floating = [...n.inputs, ...n.outputs].some((v) => isFloating(v.dtype));
  return { storage, compute: floating ? 'float32' : storage };
}
