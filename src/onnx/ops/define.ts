/**
 * How an ONNX op is defined as a source form of the acc ops: its inputs and attributes become the
 * parameters of an acc mapping registered as 'onnx:<OpType>' in the shared mapping table, and its
 * mapper emits acc ops through the same Emitter the AccTracer uses (or the eager emitter, when the
 * importer folds a node whose inputs are all constants).
 */
import { registerMapping, type Emitter } from '../../acc_ops/mapping.js';
import type { Kwargs, Param } from '../../ir/signature.js';

/** What a mapper knows about the node it converts, beyond its inputs and attributes. */
export interface OnnxOpContext {
  /** The default-domain opset the model imports (9..21). */
  readonly opset: number;
  /** The ONNX node's name (its first output when unnamed). */
  readonly node: string;
  /** How many outputs the node declares (Split without sizes divides into this many). */
  readonly numOutputs: number;
  /** Records a warning about this node (an approximation or a repaired pattern). */
  warn(message: string): void;
}

/** The keyword under which the importer passes the OnnxOpContext to a mapper. */
export const CONTEXT_KEY = 'onnx_context';

/**
 * One ONNX op. Inputs are listed in the spec's order: 'X' (required), 'B?' (optional, null when
 * absent or empty), '...inputs' (variadic). Attributes map to defaults (null: no default value).
 */
export interface OnnxOpDef {
  readonly opType: string;
  readonly inputs: readonly string[];
  readonly attrs?: Readonly<Record<string, unknown>>;
  /** The lowest opset this mapping handles (default 9); older forms are refused by name. */
  readonly minOpset?: number;
  /** Never evaluated at import even when every input is constant (Q/DQ keep their nodes for the engine). */
  readonly noFold?: boolean;
  /** Emits the op; returns a tensor, or a list for multi-output ops (null for an output it cannot produce). */
  map(kw: OnnxKwargs, e: Emitter): unknown;
}

/** Bound inputs and attributes of a node, plus its context under CONTEXT_KEY. */
export type OnnxKwargs = Kwargs;

const defs = new Map<string, OnnxOpDef>();

/** The mapping-table key of an ONNX op type. */
export function onnxKey(opType: string): string {
  return `onnx:${opType}`;
}

/**
 * Registers an ONNX op's mapping to acc ops.
 *
 * @example
 * defineOnnxOp({ opType: 'Relu', inputs: ['X'], map: (kw, e) => e.tensor('relu', { input: kw['X'] }) });
 */
export function defineOnnxOp(def: OnnxOpDef): void {
  const params: Param[] = [];
  for (const name of def.inputs) {
    if (name.startsWith('...')) params.push({ name: name.slice(3), rest: true });
    else if (name.endsWith('?')) params.push({ name: name.slice(0, -1), default: null });
    else params.push({ name });
  }
  for (const [name, value] of Object.entries(def.attrs ?? {})) params.push({ name, default: value, kwOnly: true });
  params.push({ name: CONTEXT_KEY, kwOnly: true });
  registerMapping(onnxKey(def.opType), { params }, { custom: (kw, e) => def.map(kw, e) });
  defs.set(def.opType, def);
}

/** The definition of an ONNX op type, if the importer supports it. */
export function onnxOpDef(opType: string): OnnxOpDef | undefined {
  return defs.get(opType);
}

/** Every supported ONNX op type, sorted. */
export function supportedOnnxOps(): string[] {
  return [...defs.keys()].sort();
}
