/**
 * Builds the acc graph of an ONNX graph at one set of static input shapes: placeholders for the
 * inputs, every node through its 'onnx:<OpType>' mapping (folded to a constant when all its inputs
 * are constants), outputs. Node names and types are kept in `node.meta.onnxNode`.
 */
import { AccTracer } from '../acc_ops/acc_tracer.js';
import { applyMapping, eagerEmitter, getMapping, type Emitter } from '../acc_ops/mapping.js';
import { getAccOp } from '../acc_ops/registry.js';
import type { Graph } from '../ir/graph.js';
import { GraphModule } from '../ir/graph_module.js';
import type { AnyNode, Argument, TensorMeta, ValueMeta } from '../ir/node.js';
import { TraceProxy } from '../ir/proxy.js';
import type { Kwargs } from '../ir/signature.js';
import { Module } from '../nn/module.js';
import type { DType, Storage } from '../tensor/dtype.js';
import { Tensor } from '../tensor/tensor.js';
import { attributeValue } from './attributes.js';
import { OnnxError, OnnxUnsupportedOpError, withLocation, type OnnxLocation } from './errors.js';
import type { ExternalDataReader } from './external_data.js';
import { onnxFallbackFunction, onnxFallbackImpl } from './fallback.js';
import { CONTEXT_KEY, onnxKey, onnxOpDef, type OnnxOpContext } from './ops/define.js';
import './ops/index.js';
import type { GraphProto, NodeProto } from './proto/onnx_model_pb.js';
import { nodeLabel } from './qdq_repair.js';

/** What the ONNX node behind a graph node was (node.meta.onnxNode). */
export interface OnnxNodeInfo {
  readonly name: string;
  readonly opType: string;
  readonly opset: number;
}

/** Everything graph building needs besides the graph itself. */
export interface BuildContext {
  readonly graph: GraphProto;
  readonly opsets: ReadonlyMap<string, number>;
  readonly initializers: ReadonlyMap<string, Tensor>;
  /** Input name → dtype and the static shape to build at. */
  readonly inputs: ReadonlyMap<string, { dtype: DType; shape: readonly number[] }>;
  /** Declared types of intermediate values (value_info and outputs), for unsupported ops. */
  readonly valueInfo: ReadonlyMap<string, TensorMeta>;
  readonly external: ExternalDataReader;
  readonly allowUnsupported: boolean;
  readonly warn: (message: string, where: OnnxLocation) => void;
}

/** A value an ONNX node cannot produce (e.g. MaxPool's Indices): an error if anything reads it. */
class Unavailable {
  constructor(readonly producer: string, readonly index: number) {}
}

type Value = Tensor | Unavailable;

/** Names attributes after ONNX initializers and keeps one get_attr node per constant. */
class OnnxTracer extends AccTracer {
  readonly #names: ReadonlyMap<Storage, string>;
  readonly #attrNodes = new Map<Tensor, AnyNode>();
  readonly #taken = new Set<string>();

  constructor(names: ReadonlyMap<Storage, string>) {
    super([]);
    this.#names = names;
  }

  override tensorAttr(t: Tensor): AnyNode {
    const cached = this.#attrNodes.get(t);
    if (cached && !cached.isErased) return cached;
    const path = this.#freshPath(this.#names.get(t.data) ?? 'constant');
    this.constants.set(path, t);
    const n = this.graph.getAttr(path);
    n.meta.tensorMeta = { shape: t.shape, dtype: t.dtype, ...(t.qparams ? { qparams: t.qparams } : {}) };
    this.#attrNodes.set(t, n);
    return n;
  }

  #freshPath(base: string): string {
    let name = base.replace(/[^A-Za-z0-9_]/g, '_').replace(/^_+/, '');
    if (name === '' || /^[0-9]/.test(name)) name = `w_${name}`;
    if (RESERVED.has(name)) name = `${name}_`;
    let path = name;
    for (let i = 1; this.#taken.has(path); i++) path = `${name}_${i}`;
    this.#taken.add(path);
    return path;
  }
}

/** Attribute names a weight must not shadow on the module (methods and fields of GraphModule). */
const RESERVED: ReadonlySet<string> = (() => {
  const names = new Set<string>(Object.keys(new Module()));
  for (let p: object | null = GraphModule.prototype; p !== null; p = Object.getPrototypeOf(p)) {
    for (const k of Object.getOwnPropertyNames(p)) names.add(k);
  }
  return names;
})();

function lastNode(g: Graph): AnyNode | null {
  const r = g.reversed().next();
  return r.done ? null : r.value;
}

function firstAfter(g: Graph, mark: AnyNode | null): AnyNode | null {
  if (mark) return mark.next;
  const r = g.nodes().next();
  return r.done ? null : r.value;
}

/** Builds the acc graph, in a GraphModule holding its constants; throws OnnxError naming the node at fault. */
export function buildGraph(ctx: BuildContext, className: string): GraphModule {
  const names = new Map<Storage, string>();
  for (const [name, t] of ctx.initializers) names.set(t.data, name);
  const tracer = new OnnxTracer(names);
  const g = tracer.graph;
  const values = new Map<string, Value>();
  for (const [name, t] of ctx.initializers) values.set(name, t);
  for (const [name, { dtype, shape }] of ctx.inputs) {
    const p = g.placeholder(name);
    p.meta.tensorMeta = { shape: [...shape], dtype };
    p.meta.onnxInput = name;
    values.set(name, tracer.proxy(p));
  }
  const defaultOpset = ctx.opsets.get('')!;
  for (const node of ctx.graph.node) importNode(node, ctx, tracer, values, defaultOpset);
  const outs = ctx.graph.output.map((o) => {
    const v = values.get(o.name);
    if (v === undefined) throw new OnnxError(`graph output is not produced by any node, input or initializer`, { tensor: o.name });
    if (v instanceof Unavailable) throw unavailable(v, o.name);
    return tracer.createArg(v);
  });
  if (outs.length === 0) throw new OnnxError('the graph has no outputs');
  const outNode = g.output(outs.length === 1 ? outs[0]! : outs);
  outNode.meta.onnxOutputs = ctx.graph.output.map((o) => o.name);
  g.eliminateDeadCode();
  const gm = tracer.toGraphModule(g, className);
  gm.training = false;
  return gm;
}

function unavailable(v: Unavailable, name: string): OnnxError {
  return new OnnxError(`output #${v.index} of node '${v.producer}' ('${name}') is used, but the importer does not produce that output (inference forms only)`, { tensor: name });
}

function importNode(node: NodeProto, ctx: BuildContext, tracer: OnnxTracer, values: Map<string, Value>, defaultOpset: number): void {
  const label = nodeLabel(node);
  const domain = node.domain === 'ai.onnx' ? '' : node.domain;
  const opset = ctx.opsets.get(domain) ?? defaultOpset;
  const where: OnnxLocation = { node: label, opType: domain === '' ? node.opType : `${domain}.${node.opType}`, opset };
  const args: (Tensor | null)[] = node.input.map((name) => {
    if (name === '') return null;
    const v = values.get(name);
    if (v === undefined) throw new OnnxError(`input '${name}' is not produced by any earlier node, graph input or initializer (the graph must be topologically sorted)`, where);
    if (v instanceof Unavailable) throw unavailable(v, name);
    return v;
  });
  const attrs: Kwargs = {};
  for (const a of node.attribute) attrs[a.name] = attributeValue(a, ctx.external, where);
  const def = domain === '' ? onnxOpDef(node.opType) : undefined;
  const mark = lastNode(tracer.graph);
  let result: unknown;
  if (def === undefined || (def.minOpset ?? 9) > opset) {
    if (!ctx.allowUnsupported) {
      const why = def === undefined ? 'is not supported' : `is supported from opset ${def.minOpset}, the model uses opset ${opset}`;
      throw new OnnxUnsupportedOpError(`op type ${where.opType} ${why} (import with allowUnsupported to keep it as a fallback node)`, where);
    }
    result = withLocation(where, () => opaqueNode(node, args, attrs, ctx, tracer, where));
  } else {
    const op: OnnxOpContext = {
      opset, node: label, numOutputs: node.output.length, warn: (m) => ctx.warn(m, where),
    };
    const fold = !def.noFold && args.every((a) => a === null || !(a instanceof TraceProxy));
    const emitter: Emitter = fold ? eagerEmitter : tracer.emitter;
    result = withLocation(where, () => applyMapping(getMapping(onnxKey(node.opType))!, args, { ...attrs, [CONTEXT_KEY]: op }, emitter));
  }
  const outputs = Array.isArray(result) ? result : [result];
  node.output.forEach((name, i) => {
    if (name === '') return;
    const v: unknown = outputs[i];
    if (v instanceof Tensor) values.set(name, v);
    else if (v === null || v === undefined) values.set(name, new Unavailable(label, i));
    else throw new OnnxError(`output #${i} ('${name}') is not a tensor`, where);
  });
  annotate(tracer, mark, node, outputs, { name: label, opType: node.opType, opset });
}

/** Tags the nodes this ONNX node produced and names its output nodes after it. */
function annotate(tracer: OnnxTracer, mark: AnyNode | null, node: NodeProto, outputs: readonly unknown[], info: OnnxNodeInfo): void {
  for (let n = firstAfter(tracer.graph, mark); n !== null; n = n.next) {
    if (n.op !== 'get_attr') n.meta.onnxNode = info;
  }
  outputs.forEach((v, i) => {
    if (!(v instanceof TraceProxy) || v.node.meta.onnxNode !== info) return;
    const name = node.output[i];
    if (name === undefined || name === '') return;
    v.node.meta.onnxOutput = name;
    const base = outputs.length > 1 ? `${info.name}_${i}` : info.name;
    tracer.graph.rename(v.node, base.replace(/^[^A-Za-z_$]+/, ''));
  });
}

/** An unsupported op as an opaque node; output metadata from value_info or the registered implementation. */
function opaqueNode(node: NodeProto, args: readonly (Tensor | null)[], attrs: Kwargs, ctx: BuildContext, tracer: OnnxTracer, where: OnnxLocation): unknown {
  const fn = onnxFallbackFunction(node.opType);
  const impl = onnxFallbackImpl(node.opType);
  let metas: ValueMeta[];
  if (impl) {
    const zeros = args.map((a) => {
      if (a === null) return null;
      const m = tracer.tensorMetaOf(a);
      return a instanceof TraceProxy ? Tensor.zeros(m.shape, m.dtype) : a;
    });
    metas = impl(zeros, attrs).map((t) => ({ shape: t.shape, dtype: t.dtype }));
  } else {
    metas = node.output.map((o) => {
      const m = ctx.valueInfo.get(o);
      if (m === undefined) throw new OnnxError(`unsupported op kept as a fallback node, but the shape of its output '${o}' is unknown: add value_info (onnx.shape_inference) or register an implementation with registerOnnxFallback`, where);
      return m;
    });
  }
  ctx.warn(`op type ${node.opType} is not supported: kept as a fallback node 'onnx.${node.opType}'`, where);
  const attrArgs: Record<string, Argument> = {};
  for (const [k, v] of Object.entries(attrs)) attrArgs[k] = tracer.createArg(v);
  const n = tracer.createNode('call_function', fn, args, { attributes: attrArgs });
  if (metas.length === 1) {
    n.meta.tensorMeta = metas[0]!;
    return tracer.proxy(n);
  }
  n.meta.tensorMeta = metas;
  const proxy = tracer.proxy(n);
  return metas.map((m, i) => {
    const item = tracer.createNode('call_function', getAccOp('getitem'), [], { input: proxy, index: i }, `${n.name}_${i}`);
    item.meta.tensorMeta = m;
    return tracer.proxy(item);
  });
}
