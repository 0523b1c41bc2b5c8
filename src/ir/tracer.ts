import { Module } from '../nn/module.js';
import { Tensor } from '../tensor/tensor.js';
import type { GraphFunction } from './function.js';
import { isBuiltinModule, registerBuiltinModule } from './builtin_modules.js';
import { Graph } from './graph.js';
import { GraphModule } from './graph_module.js';
import { Slice, type AnyNode, type Argument, type NodeOp, type TargetOf } from './node.js';
import { TraceError, TraceProxy, type TracerHooks } from './proxy.js';
import { isPlainObject, type Kwargs } from './signature.js';

export { registerBuiltinModule, isBuiltinModule };

export type LeafSpec = Function | string | ((m: Module, path: string) => boolean);

export interface TraceOptions {
  /** Extra leaf modules: classes, dotted paths, or a predicate. */
  leafModules?: readonly LeafSpec[];
  /** Parameters of forward bound to concrete values instead of placeholders (fx's concrete_args). */
  concreteArgs?: Record<string, unknown>;
  /** Record the user-code location of each node in node.meta.stackTrace (slower). */
  recordStackTraces?: boolean;
}

/**
 * Runs `forward` on traced values and records a Graph (torch.fx's Tracer). Subclasses
 * decide what a call becomes (acc tracing maps calls to acc ops instead of recording them).
 */
export class Tracer implements TracerHooks {
  graph = new Graph();
  root: Module = new Module();
  protected readonly opts: TraceOptions;
  /** Tensors created inside forward, kept as attributes of the traced module (the root is not modified). */
  readonly constants = new Map<string, Tensor>();
  readonly #tensorPaths = new Map<Tensor, string>();
  readonly #modulePaths = new Map<Module, string>();
  #constantCount = 0;

  constructor(opts: TraceOptions = {}) {
    this.opts = opts;
  }

  /** Whether `m` at `path` is recorded as one call_module node instead of traced through. */
  isLeafModule(m: Module, path: string): boolean {
    if (m instanceof GraphModule) return false;
    if (isUserLeaf(this.opts.leafModules, m, path)) return true;
    return isBuiltinModule(m);
  }

  /** Traces `root` (a Module or a function) into a Graph. */
  trace(root: Module | ((...args: never[]) => unknown)): Graph {
    const fn: Function = root instanceof Module ? root.forward : root;
    this.root = root instanceof Module ? root : new Module();
    this.graph = new Graph();
    for (const [path, m] of this.root.namedModules()) this.#modulePaths.set(m, path);
    for (const [path, p] of this.root.namedParameters()) this.#tensorPaths.set(p, path);
    for (const [path, b] of this.root.namedBuffers()) this.#tensorPaths.set(b, path);

    const names = root instanceof GraphModule ? root.graph.placeholders.map((p) => p.name) : parameterNames(fn);
    const concrete = this.opts.concreteArgs ?? {};
    for (const k of Object.keys(concrete)) {
      if (!names.includes(k)) throw new TypeError(`concreteArgs: '${k}' is not a parameter of forward (${names.join(', ')})`);
    }
    const args = names.map((name) => (name in concrete ? concrete[name] : this.placeholderProxy(name)));
    const restore = this.#patchModules();
    try {
      const result = this.runForward(fn, args);
      this.graph.output(this.createArg(result));
    } finally {
      restore();
    }
    return this.graph;
  }

  /** A GraphModule over `graph` holding the root's referenced attributes and the traced constants. */
  toGraphModule(graph: Graph, className: string): GraphModule {
    const attrs: Record<string, Module | Tensor> = {};
    for (const n of graph.nodes()) {
      if (n.op !== 'get_attr' && n.op !== 'call_module') continue;
      const v = this.constants.get(n.target) ?? this.root.getAttr(n.target);
      if (v instanceof Module || v instanceof Tensor) attrs[n.target] = v;
    }
    const gm = new GraphModule(attrs, graph, className);
    gm.training = this.root.training;
    return gm;
  }

  /** Runs the root's forward on the traced inputs (acc tracing runs a GraphModule root's graph its own way). */
  protected runForward(forward: Function, args: unknown[]): unknown {
    return forward.apply(this.root, args);
  }

  /** Creates the proxy of a graph input. */
  protected placeholderProxy(name: string): TraceProxy {
    return this.proxy(this.graph.placeholder(name));
  }

  proxy(node: AnyNode): TraceProxy {
    return new TraceProxy(node, this);
  }

  /** Records a node whose inputs are converted from traced values and constants. */
  createNode<K extends NodeOp>(op: K, target: TargetOf[K], args: readonly unknown[], kwargs: Kwargs, name?: string): AnyNode {
    const a = args.map((x) => this.createArg(x));
    const k: Record<string, Argument> = {};
    for (const [key, v] of Object.entries(kwargs)) k[key] = this.createArg(v);
    const node = this.graph.createNode(op, target, a, k, name).self;
    if (this.opts.recordStackTraces) node.meta.stackTrace = this.userLocation();
    return node;
  }

  createProxy<K extends NodeOp>(op: K, target: TargetOf[K], args: readonly unknown[], kwargs: Kwargs, name?: string): TraceProxy {
    return this.proxy(this.createNode(op, target, args, kwargs, name));
  }

  /** Turns a traced-code value into a node argument: proxies to nodes, weights to get_attr, constants inline. */
  createArg(x: unknown): Argument {
    if (x instanceof TraceProxy) {
      if (x.tracer !== this) throw new TraceError(`traced value '${x.node.name}' belongs to another trace`);
      return x.node;
    }
    if (x instanceof Tensor) return this.tensorAttr(x);
    if (Array.isArray(x)) return x.map((y) => this.createArg(y));
    if (x === null || x === undefined || typeof x === 'number' || typeof x === 'string' || typeof x === 'boolean' || x instanceof Slice) return x;
    if (isPlainObject(x)) {
      const out: Record<string, Argument> = {};
      for (const [k, v] of Object.entries(x)) out[k] = this.createArg(v);
      return out;
    }
    throw new TraceError(`cannot record a value of type ${describe(x)} in the graph ${this.userLocation()}`);
  }

  /** A get_attr node for a parameter/buffer of the root, or for a new constant attribute. */
  tensorAttr(t: Tensor): AnyNode {
    let path = this.#tensorPaths.get(t);
    if (path === undefined) {
      do path = `_tensor_constant${this.#constantCount++}`; while (this.root.getAttr(path) !== undefined);
      this.constants.set(path, t);
      this.#tensorPaths.set(t, path);
    }
    return this.graph.getAttr(path);
  }

  onFunction(fn: GraphFunction, args: readonly unknown[], kwargs: Kwargs): unknown {
    return this.createProxy('call_function', fn, args, kwargs);
  }

  onMethod(method: string, self: TraceProxy, args: readonly unknown[], kwargs: Kwargs): unknown {
    return this.createProxy('call_method', method, [self, ...args], kwargs);
  }

  /** A module call: recorded as call_module for leaves, traced through otherwise. */
  callModule(m: Module, path: string, forward: Function, args: unknown[]): unknown {
    if (this.isLeafModule(m, path)) {
      const last = args[args.length - 1];
      const kwargs = isPlainObject(last) ? last : {};
      const positional = isPlainObject(last) ? args.slice(0, -1) : args;
      return this.createProxy('call_module', path, positional, kwargs);
    }
    return forward.apply(m, args);
  }

  userLocation(): string {
    const stack = new Error().stack?.split('\n').slice(1) ?? [];
    const frame = stack.find((l) => /[\\/]/.test(l) && !/[\\/]src[\\/](ir|acc_ops|nn[\\/](module|functional|tensor_methods))[\\/.]|node:internal|[\\/]dist[\\/]|node_modules/.test(l));
    return frame ? `at ${frame.trim().replace(/^at /, '')}` : '(location unknown)';
  }

  /** Shadows each submodule's forward with a wrapper that reports the call to the tracer. */
  #patchModules(): () => void {
    const patched: Module[] = [];
    for (const [m, path] of this.#modulePaths) {
      if (m === this.root) continue;
      const original = m.forward;
      const tracer = this;
      Object.defineProperty(m, 'forward', {
        configurable: true, writable: true, enumerable: false,
        value(this: Module, ...args: unknown[]) { return tracer.callModule(m, path, original, args); },
      });
      patched.push(m);
    }
    return () => { for (const m of patched) Reflect.deleteProperty(m, 'forward'); };
  }
}

/**
 * Traces a module or function into a GraphModule: built-in layers become call_module
 * nodes, tensor methods call_method, functions call_function.
 *
 * @example
 * const gm = symbolicTrace(new nn.Sequential(new nn.Linear(4, 8), new nn.ReLU()));
 * gm.graph.print();
 */
export function symbolicTrace(root: Module | ((...args: never[]) => unknown), opts: TraceOptions = {}): GraphModule {
  const tracer = new Tracer(opts);
  const graph = tracer.trace(root);
  const name = root instanceof Module ? root.constructor.name : (root.name || 'fn');
  return tracer.toGraphModule(graph, name);
}

/** Whether the user's leafModules option names module `m` at `path` (by class, path or predicate). */
export function isUserLeaf(specs: readonly LeafSpec[] | undefined, m: Module, path: string): boolean {
  for (const spec of specs ?? []) {
    if (typeof spec === 'string') { if (spec === path) return true; continue; }
    if (spec === Module || spec.prototype instanceof Module) { if (m instanceof spec) return true; continue; }
    if ((spec as (m: Module, p: string) => boolean)(m, path)) return true;
  }
  return false;
}

function describe(x: unknown): string {
  return x === null ? 'null' : typeof x === 'object' ? (x.constructor?.name ?? 'object') : typeof x;
}

/** Parameter names of a JS function, from its source (types are erased by then). */
export function parameterNames(fn: Function): string[] {
  const src = Function.prototype.toString.call(fn);
  const open = src.indexOf('(');
  if (open < 0) {
    const arrow = /^\s*(?:async\s+)?([\w$]+)\s*=>/.exec(src);
    return arrow ? [arrow[1]!] : [];
  }
  let depth = 0;
  let close = open;
  for (let i = open; i < src.length; i++) {
    const c = src[i];
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') { depth--; if (depth === 0) { close = i; break; } }
  }
  const inner = src.slice(open + 1, close);
  const parts: string[] = [];
  let cur = '';
  depth = 0;
  for (const c of inner) {
    if (c === '(' || c === '[' || c === '{') depth++;
    if (c === ')' || c === ']' || c === '}') depth--;
    if (c === ',' && depth === 0) { parts.push(cur); cur = ''; } else cur += c;
  }
  if (cur.trim()) parts.push(cur);
  return parts.map((p, i) => {
    const name = p.replace(/\/\*[\s\S]*?\*\//g, '').split('=')[0]!.trim();
    if (name.startsWith('...')) throw new TraceError(`cannot trace a forward with a rest parameter (${name}); declare each input`);
    return /^[\w$]+$/.test(name) ? name : `arg${i}`;
  });
}
