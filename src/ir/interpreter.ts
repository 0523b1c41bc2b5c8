import { invokeFunction, invokeMethod } from '../acc_ops/dispatch.js';
import { Module } from '../nn/module.js';
import type { GraphFunction } from './function.js';
import type { Graph } from './graph.js';
import { Node, type AnyNode, type Argument } from './node.js';
import type { Kwargs } from './signature.js';

/** An error raised while running a node; names the node, its op and target. */
export class InterpreterError extends Error {
  override name = 'InterpreterError';
  readonly node: string;
  constructor(node: AnyNode, cause: unknown) {
    const target = node.op === 'call_function' ? node.target.name : node.target;
    const msg = cause instanceof Error ? cause.message : String(cause);
    super(`node '${node.name}' (${node.op} ${target}): ${msg}`, { cause });
    this.node = node.name;
  }
}

/** What the interpreter needs from the module that owns the graph. */
export interface InterpretedModule {
  readonly graph: Graph;
  getAttr(path: string): unknown;
  getSubmodule(path: string): Module;
}

/**
 * Runs a graph node by node (torch.fx's Interpreter). Subclass and override a method per
 * op kind to change behaviour (shape propagation, conversion, profiling). Values are
 * dropped after their last use so peak memory follows liveness.
 *
 * @example
 * class Counting extends Interpreter {
 *   calls = 0;
 *   override callFunction(n, fn, args, kwargs) { this.calls++; return super.callFunction(n, fn, args, kwargs); }
 * }
 */
export class Interpreter {
  readonly module: InterpretedModule;
  readonly env = new Map<AnyNode, unknown>();
  readonly garbageCollect: boolean;
  #freeAfter: Map<AnyNode, AnyNode[]> | undefined;
  #inputs: unknown[] = [];

  constructor(module: InterpretedModule, opts: { garbageCollectValues?: boolean } = {}) {
    this.module = module;
    this.garbageCollect = opts.garbageCollectValues ?? true;
  }

  /** Runs the graph on `inputs` (one per placeholder, or fewer where placeholders have defaults). */
  run(...inputs: unknown[]): unknown {
    const graph = this.module.graph;
    const placeholders = graph.placeholders;
    const required = placeholders.filter((p) => p.args.length === 0).length;
    if (inputs.length < required || inputs.length > placeholders.length) {
      const names = placeholders.map((p) => p.name).join(', ');
      throw new TypeError(`graph expects ${required === placeholders.length ? required : `${required} to ${placeholders.length}`} input(s) (${names}), got ${inputs.length}`);
    }
    this.#inputs = inputs;
    this.env.clear();
    if (this.garbageCollect) this.#freeAfter ??= lastUses(graph);
    let placeholderIndex = 0;
    for (const node of graph.nodes()) {
      if (node.op === 'placeholder') {
        this.env.set(node, placeholderIndex < inputs.length ? inputs[placeholderIndex] : node.args[0]);
        placeholderIndex++;
        continue;
      }
      let value: unknown;
      try {
        value = this.runNode(node);
      } catch (e) {
        throw e instanceof InterpreterError ? e : new InterpreterError(node, e);
      }
      if (node.op === 'output') {
        this.env.clear();
        return value;
      }
      this.env.set(node, value);
      const dead = this.#freeAfter?.get(node);
      if (dead) for (const d of dead) this.env.delete(d);
    }
    throw new Error('graph has no output node');
  }

  /** Runs one node with its inputs fetched from the environment. */
  runNode(n: AnyNode): unknown {
    const [args, kwargs] = this.fetchArgs(n);
    switch (n.op) {
      case 'placeholder': {
        // run() binds placeholders itself; this path serves subclasses that call runNode directly.
        const i = this.module.graph.placeholders.indexOf(n);
        return i < this.#inputs.length ? this.#inputs[i] : n.args[0];
      }
      case 'get_attr': return this.getAttr(n, n.target);
      case 'call_function': return this.callFunction(n, n.target, args, kwargs);
      case 'call_method': return this.callMethod(n, n.target, args, kwargs);
      case 'call_module': return this.callModule(n, n.target, args, kwargs);
      case 'output': return this.output(n, args[0]);
    }
  }

  getAttr(_n: AnyNode, path: string): unknown {
    const v = this.module.getAttr(path);
    if (v === undefined) throw new Error(`get_attr target '${path}' does not exist on the module`);
    return v;
  }
  callFunction(_n: AnyNode, fn: GraphFunction, args: unknown[], kwargs: Kwargs): unknown {
    return invokeFunction(fn, args, kwargs);
  }
  callMethod(_n: AnyNode, method: string, args: unknown[], kwargs: Kwargs): unknown {
    const [self, ...rest] = args;
    return invokeMethod(method, self, rest, kwargs);
  }
  callModule(_n: AnyNode, path: string, args: unknown[], kwargs: Kwargs): unknown {
    const mod = this.module.getSubmodule(path);
    return Object.keys(kwargs).length ? mod.forward(...args, kwargs) : mod.forward(...args);
  }
  output(_n: AnyNode, value: unknown): unknown {
    return value;
  }

  /** Resolves a node's args and kwargs to values. */
  fetchArgs(n: AnyNode): [unknown[], Kwargs] {
    const load = (a: Argument): unknown => {
      if (a instanceof Node) {
        if (!this.env.has(a as AnyNode)) throw new Error(`input '${a.name}' has no value (freed early or not yet computed)`);
        return this.env.get(a as AnyNode);
      }
      if (Array.isArray(a)) return a.map(load);
      return a !== null && typeof a === 'object' && a.constructor === Object
        ? Object.fromEntries(Object.entries(a).map(([k, v]) => [k, load(v as Argument)]))
        : a;
    };
    const args = n.args.map(load);
    const kwargs: Kwargs = {};
    for (const [k, v] of Object.entries(n.kwargs)) kwargs[k] = load(v);
    return [args, kwargs];
  }
}

/** For each node, the inputs whose last use it is (so they can be freed right after it runs). */
export function lastUses(graph: Graph): Map<AnyNode, AnyNode[]> {
  const seen = new Set<AnyNode>();
  const out = new Map<AnyNode, AnyNode[]>();
  for (const n of graph.reversed()) {
    for (const i of n.allInputNodes) {
      if (seen.has(i)) continue;
      seen.add(i);
      let list = out.get(n);
      if (!list) out.set(n, (list = []));
      list.push(i);
    }
  }
  return out;
}
