/**
 * Unsupported ONNX ops imported as opaque call_function nodes (with `allowUnsupported`), so a
 * compiler can place them in a fallback partition. Each op type becomes one GraphFunction
 * 'onnx.<OpType>' whose reference implementation is whatever `registerOnnxFallback` provides.
 */
import { lookupFunction, registerFunction, type GraphFunction } from '../ir/function.js';
import type { Kwargs } from '../ir/signature.js';
import { Tensor } from '../tensor/tensor.js';
import { OnnxError } from './errors.js';

/** A reference implementation of an ONNX op: inputs (null for omitted optional ones) and attributes → outputs. */
export type OnnxFallbackImpl = (inputs: readonly (Tensor | null)[], attributes: Readonly<Kwargs>) => readonly Tensor[];

const impls = new Map<string, OnnxFallbackImpl>();

/**
 * Provides how an op the importer does not map runs on the reference backend when it is imported
 * with `allowUnsupported` (also used for its output shapes when the model has no value_info).
 *
 * @example
 * registerOnnxFallback('NonZero', ([x]) => [nonZeroIndices(x!)]);
 * const gm = importOnnx('detector.onnx', { allowUnsupported: true });
 */
export function registerOnnxFallback(opType: string, impl: OnnxFallbackImpl): void {
  impls.set(opType, impl);
}

/** The registered implementation of an op type, if any. */
export function onnxFallbackImpl(opType: string): OnnxFallbackImpl | undefined {
  return impls.get(opType);
}

/** The GraphFunction of unsupported op type `opType` (created once). */
export function onnxFallbackFunction(opType: string): GraphFunction {
  const name = `onnx.${opType}`;
  const existing = lookupFunction(name);
  if (existing) return existing;
  return registerFunction({
    name,
    signature: { params: [{ name: 'inputs', rest: true }, { name: 'attributes', default: {}, kwOnly: true }] },
    invoke(args, kwargs) {
      const impl = impls.get(opType);
      if (!impl) throw new OnnxError(`ONNX op ${opType} has no reference implementation (it was imported as an unsupported op; register one with registerOnnxFallback)`);
      const inputs = args.map((a) => (a instanceof Tensor ? a : null));
      const attributes = (kwargs['attributes'] ?? {}) as Kwargs;
      const out = impl(inputs, attributes);
      return out.length === 1 ? out[0] : [...out];
    },
  });
}
