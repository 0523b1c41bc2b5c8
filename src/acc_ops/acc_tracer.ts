import type { GraphFunction } from '../ir/function.js';
import { GraphModule } from '../ir/graph_module.js';
import { Interpreter } from '../ir/interpreter.js';
import type { AnyNode, TensorMeta, ValueMeta } from '../ir/node.js';
import { TraceError, TraceProxy } from '../ir/proxy.js';
import type { Kwargs } from '../ir/signature.js';
import { isUserLeaf, symbolicTrace, Tracer, type TraceOptions } from '../ir/tracer.js';
import { Module } from '../nn/module.js';
import { Tensor } from '../tensor/tensor.js';
import { getMethod } from './dispatch.js';
import { applyMapping, getMapping, type Emitter } from './mapping.js';
import { checkArgs, describeValue, getAccOp, isAccOp, type AccArgSpec, type AccOp } from './registry.js';

export interface AccTraceOptions extends Omit<TraceOptions, 'concreteArgs'> {
  /** Run these graph passes on the source graph before acc normalization (default: replaceMutableOps). */
  prepare?: (gm: GraphModule) => GraphModule;
}

let prepareDefault: ((gm: GraphModule) => GraphModule) | undefined;
/** @internal the passes module installs replaceMutableOps here (avoids an import cycle). */
export function setDefaultAccPrepare(fn: (gm: GraphModule) => GraphModule): void {
  prepareDefault = fn;
}

/**
 * Traces into built-in layers and maps every function, method and layer to canonical acc
 * ops (fx2trt's acc_tracer), recording shape/dtype metadata from `exampleInputs` on each
 * node. Calls with no acc mapping (user functions, leaf modules) stay as they are, for the
 * splitter to run outside the engine.
 *
 * @example
 * const acc = accTrace(symbolicTrace(model), [Tensor.randn([1, 3, 224, 224])]);
 * acc.graph.print(); // only acc.* calls
 */
export function accTrace(model: Module, exampleInputs: readonly Tensor[], opts: AccTraceOptions = {}): GraphModule {
  let gm = model instanceof GraphModule ? model : symbolicTrace(model, opts);
  const prepare = opts.prepare ?? prepareDefault;
  if (prepare) gm = prepare(gm);
  const tracer = new AccTracer(exampleInputs, opts);
  const graph = tracer.trace(gm);
  graph.eliminateDeadCode();
  const out = tracer.toGraphModule(graph, gm.className);
  out.training = gm.training;
  out.lint();
  return out;
}

/** The tracer behind accTrace: maps calls through the acc mapping table as it goes. */
export class AccTracer extends Tracer {
  readonly #inputs: readonly Tensor[];
  #placeholderIndex = 0;
  readonly emitter: Emitter;

  constructor(exampleInputs: readonly Tensor[], opts: TraceOptions = {}) {
    super(opts);
    this.#inputs = exampleInputs;
    const tracer = this;
    this.emitter = {
      call: (op, kwargs) => tracer.emitAcc(getAccOp(op), kwargs),
      tensor(op, kwargs) {
        const r = tracer.emitAcc(getAccOp(op), kwargs);
        if (!(r instanceof Tensor)) throw new TypeError(`acc.${op} does not produce a single tensor`);
        return r;
      },
      meta: (v) => tracer.tensorMetaOf(v),
      constant: (t) => tracer.constantProxy(t),
    };
  }

  /** Only the user's leaf modules stay calls; built-in layers are traced through into acc ops. */
  override isLeafModule(m: Module, path: string): boolean {
    return !(m instanceof GraphModule) && isUserLeaf(this.opts.leafModules, m, path);
  }

  protected override placeholderProxy(name: string): TraceProxy {
    const i = this.#placeholderIndex++;
    const x = this.#inputs[i];
    if (!(x instanceof Tensor) || x instanceof TraceProxy) {
      throw new TypeError(`accTrace: example input ${i} ('${name}') must be a Tensor, got ${describeValue(x)}`);
    }
    const p = super.placeholderProxy(name);
    p.node.meta.tensorMeta = { shape: x.shape, dtype: x.dtype, ...(x.qparams ? { qparams: x.qparams } : {}) };
    return p;
  }

  override trace(root: Module | ((...args: never[]) => unknown)): ReturnType<Tracer['trace']> {
    const g = super.trace(root);
    if (this.#placeholderIndex !== this.#inputs.length) {
      throw new TypeError(`accTrace: the model takes ${this.#placeholderIndex} input(s), ${this.#inputs.length} example input(s) were given`);
    }
    return g;
  }

  override tensorAttr(t: Tensor): AnyNode {
    const n = super.tensorAttr(t);
    n.meta.tensorMeta = { shape: t.shape, dtype: t.dtype, ...(t.qparams ? { qparams: t.qparams } : {}) };
    return n;
  }

  constantProxy(t: Tensor): TraceProxy {
    return this.proxy(this.tensorAttr(t));
  }

  override onFunction(fn: GraphFunction, args: readonly unknown[], kwargs: Kwargs): unknown {
    if (isAccOp(fn)) {
      if (args.length) throw new TypeError(`${fn.name} takes keyword arguments only`);
      return this.emitAcc(fn, kwargs);
    }
    const m = getMapping(fn.name);
    if (m) return applyMapping(m, args, kwargs, this.emitter);
    return this.#opaque('call_function', fn, args, kwargs, (a, k) => fn.invoke(a, k));
  }

  override onMethod(method: string, self: TraceProxy, args: readonly unknown[], kwargs: Kwargs): unknown {
    const def = getMethod(method);
    if (!def) throw new TraceError(`unknown tensor method '${method}' ${this.userLocation()}`);
    if (def.inplaceOf) {
      throw new TraceError(`in-place method '${method}' on '${self.node.name}' reached acc tracing; run replaceMutableOps first (it could not be made functional)`);
    }
    return applyMapping(def.mapping!, [self, ...args], kwargs, this.emitter);
  }

  override callModule(m: Module, path: string, forward: Function, args: unknown[]): unknown {
    if (!this.isLeafModule(m, path)) return runsItsGraph(m, forward) ? new QuantBoundaryInterpreter(m, this).run(...args) : forward.apply(m, args);
    return this.#opaque('call_module', path, args, {}, (a) => forward.apply(m, a));
  }

  /** A GraphModule root runs its graph with weights that feed a quantize/dequantize kept in the graph (QuantBoundaryInterpreter). */
  protected override runForward(forward: Function, args: unknown[]): unknown {
    return runsItsGraph(this.root, forward) ? new QuantBoundaryInterpreter(this.root, this).run(...args) : super.runForward(forward, args);
  }

  /** Emits one acc op node with its inferred metadata; tuple results come back as per-element getitem proxies. */
  emitAcc(op: AccOp, kwargs: Kwargs): unknown {
    const node = this.createNode('call_function', op, [], kwargs, op.accName);
    const metaKw: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(kwargs)) metaKw[k] = this.#metaOfArg(v, op, k);
    // Bind defaults and check types the same way the kernel path does.
    const bound = bindDefaults(op, metaKw);
    let meta: ValueMeta;
    try {
      checkArgs(op.accName, op.args as Record<string, AccArgSpec>, bound, true);
      meta = op.infer(bound);
    } catch (e) {
      throw new TraceError(`acc.${op.accName} (node '${node.name}'): ${(e as Error).message}`);
    }
    node.meta.tensorMeta = meta;
    const p = this.proxy(node);
    if (Array.isArray(meta)) return this.#unpack(p, meta);
    return p;
  }

  /** Static metadata of a traced tensor value. */
  tensorMetaOf(v: Tensor): TensorMeta {
    if (!(v instanceof TraceProxy)) return { shape: v.shape, dtype: v.dtype };
    const m = v.node.meta.tensorMeta;
    if (m && typeof m === 'object' && 'shape' in m) return m;
    throw new TraceError(`the shape of '${v.node.name}' is not known (it is not a tensor, or comes from an op without shape information)`);
  }

  #unpack(tuple: TraceProxy, metas: readonly ValueMeta[]): TraceProxy[] {
    const getitem = getAccOp('getitem');
    return metas.map((m, i) => {
      const n = this.createNode('call_function', getitem, [], { input: tuple, index: i }, `${tuple.node.name}_${i}`);
      n.meta.tensorMeta = m;
      return this.proxy(n);
    });
  }

  #metaOfArg(v: unknown, op: AccOp, k: string): unknown {
    if (v instanceof TraceProxy) {
      const m = v.node.meta.tensorMeta;
      if (m === undefined) throw new TraceError(`acc.${op.accName}: argument '${k}' ('${v.node.name}') has no shape information`);
      return m;
    }
    if (v instanceof Tensor) return { shape: v.shape, dtype: v.dtype, ...(v.qparams ? { qparams: v.qparams } : {}) };
    if (Array.isArray(v)) return v.map((x) => this.#metaOfArg(x, op, k));
    return v;
  }

  /** Records a call with no acc mapping; its metadata comes from running it once on zero tensors of the input shapes. */
  #opaque<K extends 'call_function' | 'call_module'>(op: K, target: K extends 'call_function' ? GraphFunction : string,
    args: readonly unknown[], kwargs: Kwargs, run: (args: unknown[], kwargs: Kwargs) => unknown): unknown {
    const node = op === 'call_function'
      ? this.createNode('call_function', target as GraphFunction, args, kwargs)
      : this.createNode('call_module', target as string, args, kwargs);
    const zeros = (x: unknown): unknown => {
      if (x instanceof TraceProxy) {
        const m = this.tensorMetaOf(x);
        return Tensor.zeros(m.shape, m.dtype);
      }
      return Array.isArray(x) ? x.map(zeros) : x;
    };
    const zk: Kwargs = {};
    for (const [k, v] of Object.entries(kwargs)) zk[k] = zeros(v);
    const result = run(args.map(zeros), zk);
    node.meta.tensorMeta = metaOfValue(result);
    const p = this.proxy(node);
    return Array.isArray(node.meta.tensorMeta) ? this.#unpack(p, node.meta.tensorMeta) : p;
  }
}

/** Whether calling `forward` on `m` runs the graph of a GraphModule (a subclass may run something else). */
function runsItsGraph(m: Module, forward: Function): m is GraphModule {
  return m instanceof GraphModule && forward === GraphModule.prototype.forward;
}

/** Whether call node `n` is a quantize or dequantize: an acc quant op, or a source form mapped to one (F.dequantize, x.dequantize()). */
function isQuantCall(n: AnyNode): boolean {
  if (n.op === 'call_function') {
    if (isAccOp(n.target)) return n.target.hasProperty('quantized');
    return mapsToQuantOp(n.target.name);
  }
  return n.op === 'call_method' && mapsToQuantOp(`method:${n.target}`);
}

function mapsToQuantOp(source: string): boolean {
  const rule = getMapping(source)?.rule;
  return rule !== undefined && 'to' in rule && getAccOp(rule.to).hasProperty('quantized');
}

/**
 * Runs a GraphModule's graph under acc tracing. Calls on constants alone run eagerly while tracing,
 * which would fold a weight's quantize/dequantize into a float constant; a weight (get_attr) that a
 * quantize or dequantize reads is a traced value instead, so the Q/DQ pair stays in the graph and an
 * engine builds the layer reading it in INT8 (constFold keeps the same boundary).
 */
class QuantBoundaryInterpreter extends Interpreter {
  readonly #tracer: AccTracer;

  constructor(gm: GraphModule, tracer: AccTracer) {
    super(gm);
    this.#tracer = tracer;
  }

  override getAttr(n: AnyNode, path: string): unknown {
    const v = super.getAttr(n, path);
    if (!(v instanceof Tensor) || v instanceof TraceProxy) return v;
    for (const u of n.users) if (isQuantCall(u)) return this.#tracer.constantProxy(v);
    return v;
  }
}

function bindDefaults(op: AccOp, kw: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const p of op.signature.params) {
    if (p.name in kw && kw[p.name] !== undefined) out[p.name] = kw[p.name];
    else if ('default' in p) out[p.name] = p.default;
    else throw new TypeError(`acc.${op.accName}: missing required argument '${p.name}'`);
  }
  for (const k of Object.keys(kw)) {
    if (!(k in out)) throw new TypeError(`acc.${op.accName}: unexpected argument '${k}'`);
  }
  return out;
}

/** Metadata of a concrete value. */
export function metaOfValue(v: unknown): ValueMeta {
  if (v instanceof Tensor) return { shape: v.shape, dtype: v.dtype, ...(v.qparams ? { qparams: v.qparams } : {}) };
  if (Array.isArray(v)) return v.map(metaOfValue);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return v;
  throw new TypeError(`cannot describe a value of type ${describeValue(v)}`);
}
