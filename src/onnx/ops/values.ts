/**
 * Reading a mapper's bound arguments: tensors, constant inputs (initializers and folded values,
 * which reach the mapper as concrete tensors rather than traced values) and typed attributes.
 * Errors name the input or attribute and what was expected; the importer adds the node.
 */
import type { Emitter } from '../../acc_ops/mapping.js';
import { TraceProxy } from '../../ir/proxy.js';
import type { DType } from '../../tensor/dtype.js';
import { normDim } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { onnxTypeInfo, onnxTypeName } from '../dtypes.js';
import { CONTEXT_KEY, type OnnxKwargs, type OnnxOpContext } from './define.js';

/** The context the importer passed with the node's arguments. */
export function ctxOf(kw: OnnxKwargs): OnnxOpContext {
  return kw[CONTEXT_KEY] as OnnxOpContext;
}

/** Whether `v` is known at import (an initializer, a Constant or a folded value). */
export function isConstant(v: unknown): v is Tensor {
  return v instanceof Tensor && !(v instanceof TraceProxy);
}

/** A required tensor input. */
export function input(kw: OnnxKwargs, name: string): Tensor {
  const v = kw[name];
  if (!(v instanceof Tensor)) throw new TypeError(`input '${name}' is required`);
  return v;
}

/** An optional tensor input: null when absent. */
export function optInput(kw: OnnxKwargs, name: string): Tensor | null {
  const v = kw[name];
  return v instanceof Tensor ? v : null;
}

/** The variadic inputs. */
export function inputs(kw: OnnxKwargs, name: string): Tensor[] {
  const v = kw[name];
  const list = Array.isArray(v) ? v : v === undefined || v === null ? [] : [v];
  return list.map((x, i) => {
    if (!(x instanceof Tensor)) throw new TypeError(`input '${name}' #${i} is missing`);
    return x;
  });
}

/** A constant tensor input, or an error saying it must be known at import. */
export function constInput(kw: OnnxKwargs, name: string): Tensor {
  const v = input(kw, name);
  if (!isConstant(v)) {
    throw new TypeError(`input '${name}' must be a constant (an initializer, a Constant, or computable from static shapes at import), but it depends on the graph's inputs`);
  }
  return v;
}

/** The integers of a constant input (int64/int32 values, or integral floats). */
export function constInts(kw: OnnxKwargs, name: string): number[] {
  const t = constInput(kw, name);
  return Array.from(t.toFloat64(), (x) => {
    if (!Number.isFinite(x)) return x > 0 ? Number.MAX_SAFE_INTEGER : Number.MIN_SAFE_INTEGER;
    return x;
  });
}

/** An optional constant integer list input: null when absent. */
export function optConstInts(kw: OnnxKwargs, name: string): number[] | null {
  return optInput(kw, name) === null ? null : constInts(kw, name);
}

/** The numbers of a constant input. */
export function constFloats(kw: OnnxKwargs, name: string): number[] {
  return Array.from(constInput(kw, name).toFloat64());
}

/** A scalar (one-element) constant input as a number. */
export function constScalar(kw: OnnxKwargs, name: string): number {
  const t = constInput(kw, name);
  if (t.numel !== 1) throw new RangeError(`input '${name}' must hold one value, got shape [${t.shape.join(', ')}]`);
  return t.toFloat64()[0]!;
}

/** An integer attribute. */
export function intAttr(kw: OnnxKwargs, name: string): number {
  const v = kw[name];
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new TypeError(`attribute '${name}' must be an integer, got ${describe(v)}`);
  return v;
}

/** An optional integer attribute (null when absent). */
export function optIntAttr(kw: OnnxKwargs, name: string): number | null {
  return kw[name] === null ? null : intAttr(kw, name);
}

/** A float attribute. */
export function floatAttr(kw: OnnxKwargs, name: string): number {
  const v = kw[name];
  if (typeof v !== 'number') throw new TypeError(`attribute '${name}' must be a number, got ${describe(v)}`);
  return v;
}

/** A string attribute. */
export function strAttr(kw: OnnxKwargs, name: string): string {
  const v = kw[name];
  if (typeof v !== 'string') throw new TypeError(`attribute '${name}' must be a string, got ${describe(v)}`);
  return v;
}

/** A list-of-integers attribute, or null when absent. */
export function intsAttr(kw: OnnxKwargs, name: string): number[] | null {
  const v = kw[name];
  if (v === null || v === undefined) return null;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isInteger(x))) {
    throw new TypeError(`attribute '${name}' must be a list of integers, got ${describe(v)}`);
  }
  return v as number[];
}

/** A list-of-floats attribute, or null when absent. */
export function floatsAttr(kw: OnnxKwargs, name: string): number[] | null {
  const v = kw[name];
  if (v === null || v === undefined) return null;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number')) throw new TypeError(`attribute '${name}' must be a list of numbers, got ${describe(v)}`);
  return v as number[];
}

/** A tensor attribute, or null when absent. */
export function tensorAttr(kw: OnnxKwargs, name: string): Tensor | null {
  const v = kw[name];
  if (v === null || v === undefined) return null;
  if (!(v instanceof Tensor)) throw new TypeError(`attribute '${name}' must be a tensor, got ${describe(v)}`);
  return v;
}

/** The fxrt dtype of an ONNX type code attribute (Cast's `to`). */
export function dtypeAttr(kw: OnnxKwargs, name: string): DType {
  const code = intAttr(kw, name);
  const info = onnxTypeInfo(code);
  if (!info) throw new TypeError(`attribute '${name}': element type ${onnxTypeName(code)} is not supported`);
  return info.dtype;
}

/** Rank of a value. */
export function rankOf(e: Emitter, v: Tensor): number {
  return e.meta(v).shape.length;
}

/** Normalizes an axis (negative counts from the end) against `rank`; the error names the attribute. */
export function axisOf(axis: number, rank: number, what = 'axis'): number {
  return normDim(axis, rank, what);
}

/** The most elements a tensor created at import may have, so a corrupt shape cannot exhaust memory. */
export const MAX_IMPORT_ELEMENTS = 2 ** 26;

/** Throws when a tensor of `shape` computed at import would exceed MAX_IMPORT_ELEMENTS. */
export function checkImportSize(shape: readonly number[], what: string): void {
  const n = shape.reduce((a, b) => a * b, 1);
  if (!(n <= MAX_IMPORT_ELEMENTS)) throw new RangeError(`${what} of shape [${shape.join(', ')}] would have ${n} elements, more than the ${MAX_IMPORT_ELEMENTS} allowed for a constant computed at import`);
}

/** A constant int64 tensor of `values` (shapes and indices computed at import). */
export function int64Tensor(values: readonly number[], shape: readonly number[] = [values.length]): Tensor {
  return Tensor.fromStorage(BigInt64Array.from(values, (v) => BigInt(v)), shape, 'int64');
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (v instanceof Tensor) return `a tensor ${v.dtype}[${v.shape.join(', ')}]`;
  if (Array.isArray(v)) return `a list [${v.slice(0, 8).join(', ')}${v.length > 8 ? ', ...' : ''}]`;
  return `${typeof v} ${JSON.stringify(v)}`;
}
