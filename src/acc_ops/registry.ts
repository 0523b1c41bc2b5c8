import { registerFunction, type GraphFunction } from '../ir/function.js';
import type { TensorMeta, ValueMeta } from '../ir/node.js';
import { sig, bindArgs, type Kwargs, type Param } from '../ir/signature.js';
import type { DType } from '../tensor/dtype.js';
import { Tensor } from '../tensor/tensor.js';

/**
 * Properties of an acc op, as fx2trt's AccOpProperty:
 * pointwise: output element i depends only on input elements i (after broadcasting);
 * unary: exactly one tensor input; quantized: consumes or produces quantized values;
 * reduction: reduces over dims; shape: only moves data (reshape/permute/slice/...).
 */
export type AccOpProperty = 'pointwise' | 'unary' | 'quantized' | 'reduction' | 'shape';

/** Argument types of acc ops (checked when a call is built or run). */
export type AccArgType =
  | 'Tensor' | 'Tensor?' | 'Tensor[]'
  | 'int' | 'int?' | 'int[]' | 'int[]?' | 'int|int[]' | 'int|int[]?'
  | 'float' | 'float?' | 'float[]?' | 'scalar' | 'scalar?' | 'Tensor|scalar' | 'Tensor|float' | 'Tensor|int'
  | 'bool' | 'bool?' | 'str' | 'str?' | 'dtype' | 'dtype?' | 'any';

export interface AccArgSpec {
  readonly type: AccArgType;
  /** Absent: required. */
  readonly default?: unknown;
  /** Allowed values for 'str' args. */
  readonly choices?: readonly string[];
}

/** Maps an op's argument types to what shape inference sees: tensors become TensorMeta. */
export type MetaOf<T> = T extends Tensor ? TensorMeta : T extends readonly Tensor[] ? TensorMeta[] : T;
export type MetaArgs<A> = { [K in keyof A]: MetaOf<A[K]> };

/** The value an acc op produces: one tensor, several, or (for size-like ops) plain numbers. */
export type AccResult = Tensor | readonly Tensor[] | number | readonly number[];

/**
 * A canonical accelerator op: keyword-only arguments with types and defaults, properties,
 * shape/dtype inference (no data) and a reference kernel (on the reference backend).
 */
export interface AccOpDef<A extends object = Kwargs> {
  readonly name: string;
  readonly args: { readonly [K in keyof A]: AccArgSpec };
  readonly properties?: readonly AccOpProperty[];
  readonly doc?: string;
  /** Random or side-effecting (e.g. training-mode dropout): never folded, merged or removed as dead. */
  readonly impure?: boolean;
  /** Output metadata from input metadata; throws naming what is inconsistent. */
  infer(args: MetaArgs<A>): ValueMeta;
  /** Computes the op on concrete tensors. */
  kernel(args: A): AccResult;
}

/** A registered acc op: its definition plus the GraphFunction ('acc.<name>') graphs call. */
export interface AccOp<A extends object = Kwargs> extends AccOpDef<A>, GraphFunction {
  readonly accName: string;
  hasProperty(p: AccOpProperty): boolean;
}

const ops = new Map<string, AccOp>();

/**
 * Defines and registers an acc op.
 *
 * @example
 * defineAccOp<{ input: Tensor }>({
 *   name: 'relu', args: { input: { type: 'Tensor' } }, properties: ['pointwise', 'unary'],
 *   infer: ({ input }) => input, kernel: ({ input }) => reluKernel(input),
 * });
 */
export function defineAccOp<A extends object>(def: AccOpDef<A>): AccOp<A> {
  if (ops.has(def.name)) throw new Error(`acc op '${def.name}' is defined twice`);
  const params: Param[] = Object.entries(def.args as Record<string, AccArgSpec>).map(([name, spec]) =>
    'default' in spec ? { name, default: spec.default, kwOnly: true } : { name, kwOnly: true });
  const qualified = `acc.${def.name}`;
  const op: AccOp<A> = {
    ...def,
    name: qualified,
    accName: def.name,
    signature: { params },
    hasProperty: (p) => def.properties?.includes(p) ?? false,
    invoke(args, kwargs) {
      if (args.length > 0) throw new TypeError(`${qualified}: takes keyword arguments only, got ${args.length} positional`);
      const bound = bindArgs(this.signature, [], kwargs, qualified);
      checkArgs(def.name, def.args as Record<string, AccArgSpec>, bound);
      return def.kernel(bound as A);
    },
  };
  registerFunction(op);
  ops.set(def.name, op as AccOp);
  return op;
}

/** The acc op named `name` (without the 'acc.' prefix); throws listing close names. */
export function getAccOp(name: string): AccOp {
  const op = ops.get(name.startsWith('acc.') ? name.slice(4) : name);
  if (!op) {
    const close = [...ops.keys()].filter((k) => k.includes(name) || name.includes(k)).slice(0, 5);
    throw new Error(`unknown acc op '${name}'${close.length ? ` (did you mean: ${close.join(', ')}?)` : ''}`);
  }
  return op;
}

export function hasAccOp(name: string): boolean {
  return ops.has(name);
}

export function accOps(): AccOp[] {
  return [...ops.values()];
}

/** Whether a GraphFunction is an acc op. */
export function isAccOp(fn: GraphFunction): fn is AccOp {
  return ops.get((fn as Partial<AccOp>).accName ?? '') === fn;
}

/** Validates bound arguments against their declared types; the error names the op and argument. */
export function checkArgs(op: string, specs: Record<string, AccArgSpec>, bound: Kwargs, metaMode = false): void {
  for (const [name, spec] of Object.entries(specs)) {
    const v = bound[name];
    if (!matchesType(spec.type, v, metaMode)) {
      throw new TypeError(`acc.${op}: argument '${name}' expects ${spec.type}, got ${describeValue(v)}`);
    }
    if (spec.choices && typeof v === 'string' && !spec.choices.includes(v)) {
      throw new TypeError(`acc.${op}: argument '${name}' must be one of ${spec.choices.join(', ')}, got '${v}'`);
    }
  }
}

function isInt(v: unknown): boolean { return typeof v === 'number' && Number.isInteger(v); }
function isIntList(v: unknown): boolean { return Array.isArray(v) && v.every(isInt); }

/** A TensorMeta stands in for a tensor when checking arguments during tracing. */
function isTensorLike(v: unknown, metaMode: boolean): boolean {
  if (v instanceof Tensor) return true;
  return metaMode && v !== null && typeof v === 'object' && !Array.isArray(v) && 'shape' in v && 'dtype' in v;
}

function matchesType(t: AccArgType, v: unknown, metaMode = false): boolean {
  const optional = t.endsWith('?');
  if (optional && (v === null || v === undefined)) return true;
  const base = optional ? t.slice(0, -1) : t;
  switch (base) {
    case 'Tensor': return isTensorLike(v, metaMode);
    case 'Tensor[]': return Array.isArray(v) && v.every((x) => isTensorLike(x, metaMode));
    case 'int': return isInt(v);
    case 'int[]': return isIntList(v);
    case 'int|int[]': return isInt(v) || isIntList(v);
    case 'float': case 'scalar': return typeof v === 'number' || typeof v === 'boolean';
    case 'float[]': return Array.isArray(v) && v.every((x) => typeof x === 'number');
    case 'Tensor|scalar': return isTensorLike(v, metaMode) || typeof v === 'number' || typeof v === 'boolean';
    case 'Tensor|float': return isTensorLike(v, metaMode) || typeof v === 'number';
    case 'Tensor|int': return isTensorLike(v, metaMode) || isInt(v);
    case 'bool': return typeof v === 'boolean';
    case 'str': return typeof v === 'string';
    case 'dtype': return typeof v === 'string';
    case 'any': return true;
    default: return false;
  }
}

export function describeValue(v: unknown): string {
  if (v instanceof Tensor) return `Tensor(${v.dtype}[${v.shape.join(', ')}])`;
  if (Array.isArray(v)) return `[${v.map(describeValue).join(', ')}]`;
  if (v === null) return 'null';
  if (v === undefined) return 'nothing';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return `${typeof v} ${JSON.stringify(v)}`;
}

/** Convenience for infer functions: a TensorMeta. */
export function meta(shape: readonly number[], dtype: DType): TensorMeta {
  return { shape: [...shape], dtype };
}

/** The signature helper, re-exported for op definitions. */
export { sig };
