import { registerFunction, type GraphFunction } from '../ir/function.js';
import type { TensorMeta } from '../ir/node.js';
import { bindArgs, type Kwargs, type Signature } from '../ir/signature.js';
import { Tensor } from '../tensor/tensor.js';
import { getAccOp } from './registry.js';

/**
 * Where a source form's acc ops go. In eager mode values are concrete tensors and
 * `call` runs the reference kernel; while tracing, values are traced proxies (also
 * Tensors) and `call` records an acc node. Mappers are written once for both.
 */
export interface Emitter {
  /** Applies acc op `op` (name without 'acc.') to keyword arguments. */
  call(op: string, kwargs: Kwargs): unknown;
  /** Same as call, for ops that return one tensor. */
  tensor(op: string, kwargs: Kwargs): Tensor;
  /** Static shape and dtype of a tensor value (use instead of `x.shape`, which is symbolic while tracing). */
  meta(v: Tensor): TensorMeta;
  /** A constant tensor as a value (a get_attr while tracing). */
  constant(t: Tensor): Tensor;
}

/** A source form: a function ('F.relu'), a tensor method ('method:relu') or an ONNX op ('onnx:Relu'). */
export type SourceKey = string;

export interface SimpleMapping {
  readonly to: string;
  /** Source argument name → acc argument name, where they differ. */
  readonly rename?: Readonly<Record<string, string>>;
  /** Source arguments that have no acc counterpart (e.g. 'inplace'), dropped on purpose. */
  readonly ignore?: readonly string[];
  /** Acc arguments set to fixed values. */
  readonly fixed?: Kwargs;
}

export interface CustomMapping {
  /** Builds the result from bound source arguments through the emitter (one source op → several acc ops). */
  readonly custom: (kw: Kwargs, e: Emitter) => unknown;
}

export type MappingRule = SimpleMapping | CustomMapping;

export interface AccMapping {
  readonly from: SourceKey;
  readonly signature: Signature;
  readonly rule: MappingRule;
}

const mappings = new Map<SourceKey, AccMapping>();

/** Registers how a source form becomes acc ops; a simple rule is checked against the acc op's arguments. */
export function registerMapping(from: SourceKey, signature: Signature, rule: MappingRule): AccMapping {
  if (mappings.has(from)) throw new Error(`acc mapping for '${from}' is registered twice`);
  if ('to' in rule) {
    const op = getAccOp(rule.to);
    const accArgs = new Set(op.signature.params.map((p) => p.name));
    for (const p of signature.params) {
      const target = rule.rename?.[p.name] ?? p.name;
      if (!accArgs.has(target) && !rule.ignore?.includes(p.name)) {
        throw new Error(`mapping ${from} → acc.${rule.to}: source argument '${p.name}' has no acc argument '${target}' and is not ignored`);
      }
    }
  }
  const m: AccMapping = { from, signature, rule };
  mappings.set(from, m);
  return m;
}

export function getMapping(from: SourceKey): AccMapping | undefined {
  return mappings.get(from);
}

export function allMappings(): AccMapping[] {
  return [...mappings.values()];
}

/** Applies a mapping to positional args and kwargs of the source form. */
export function applyMapping(m: AccMapping, args: readonly unknown[], kwargs: Kwargs, e: Emitter): unknown {
  const bound = bindArgs(m.signature, args, kwargs, m.from);
  return applyRule(m.rule, bound, e);
}

/** Applies a rule to already-bound source arguments. */
export function applyRule(rule: MappingRule, bound: Kwargs, e: Emitter): unknown {
  if ('custom' in rule) return rule.custom(bound, e);
  const kw: Kwargs = {};
  for (const [k, v] of Object.entries(bound)) {
    if (rule.ignore?.includes(k)) continue;
    kw[rule.rename?.[k] ?? k] = v;
  }
  Object.assign(kw, rule.fixed);
  return e.call(rule.to, kw);
}

/** The emitter of eager execution: acc ops run their reference kernels. */
export const eagerEmitter: Emitter = {
  call: (op, kwargs) => getAccOp(op).invoke([], kwargs),
  tensor(op, kwargs) {
    const r = getAccOp(op).invoke([], kwargs);
    if (!(r instanceof Tensor)) throw new TypeError(`acc.${op} did not return a single tensor`);
    return r;
  },
  meta: (v) => ({ shape: v.shape, dtype: v.dtype }),
  constant: (t) => t,
};

/**
 * Defines a source-level function (e.g. F.relu) whose eager behaviour is its acc mapping,
 * so eager, traced and acc-traced execution run the same kernels in the same order.
 */
export function defineSourceFunction(name: string, signature: Signature, rule: MappingRule, opts: { impure?: boolean } = {}): GraphFunction {
  const mapping = registerMapping(name, signature, rule);
  return registerFunction({
    name,
    signature,
    ...(opts.impure ? { impure: true } : {}),
    invoke: (args, kwargs) => applyMapping(mapping, args, kwargs, eagerEmitter),
  });
}
