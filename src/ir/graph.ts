import type { GraphFunction } from './function.js';
import { Namespace } from './namespace.js';
import { formatArgument, formatNode } from './print.js';
import { Node, mapArgument, type AnyNode, type Argument, type NodeOp, type TargetOf } from './node.js';

/** What lint() needs from the owning module to check get_attr / call_module targets. */
export interface TargetResolver {
  hasAttr(path: string): boolean;
  hasModule(path: string): boolean;
}

export class LintError extends Error {
  override name = 'LintError';
}

/**
 * A list of nodes in topological order (torch.fx's Graph).
 *
 * @example
 * const g = new Graph();
 * const x = g.placeholder('x');
 * const y = g.callMethod('relu', [x]);
 * g.output(y);
 * g.lint();
 */
export class Graph {
  #head: AnyNode | null = null;
  #tail: AnyNode | null = null;
  #size = 0;
  readonly #names = new Namespace();
  /** Where createNode inserts: before this node, or at the end when null. */
  #insertBefore: AnyNode | null = null;

  get length(): number { return this.#size; }

  /** Iterates in order; erasing the current node while iterating is safe. */
  *nodes(): IterableIterator<AnyNode> {
    let n = this.#head;
    while (n) {
      const next: AnyNode | null = n._next;
      yield n;
      n = next;
    }
  }
  /** Iterates from the last node to the first; erasing the current node is safe. */
  *reversed(): IterableIterator<AnyNode> {
    let n = this.#tail;
    while (n) {
      const prev: AnyNode | null = n._prev;
      yield n;
      n = prev;
    }
  }
  nodeList(): AnyNode[] { return [...this.nodes()]; }
  [Symbol.iterator](): IterableIterator<AnyNode> { return this.nodes(); }

  get placeholders(): Node<'placeholder'>[] {
    const out: Node<'placeholder'>[] = [];
    for (const n of this.nodes()) if (n.op === 'placeholder') out.push(n);
    return out;
  }
  get outputNode(): Node<'output'> | undefined {
    for (const n of this.reversed()) if (n.op === 'output') return n;
    return undefined;
  }

  /** Creates a node at the current insertion point with a unique name derived from `name`. */
  createNode<K extends NodeOp>(op: K, target: TargetOf[K], args: readonly Argument[] = [], kwargs: Record<string, Argument> = {}, name?: string): Node<K> {
    const base = name ?? defaultName(op, target);
    const node = new Node<K>(this, op, target, this.#names.create(base));
    const any = node.self;
    this.#link(any, this.#insertBefore);
    try {
      node.args = args;
      node.kwargs = kwargs;
    } catch (e) {
      this.#unlink(any);
      this.#names.release(node.name);
      throw e;
    }
    return node;
  }

  placeholder(name: string, defaultValue?: Argument): Node<'placeholder'> {
    const n = this.createNode('placeholder', name, defaultValue === undefined ? [] : [defaultValue], {}, name);
    n.target = n.name;
    return n;
  }
  getAttr(path: string, name?: string): Node<'get_attr'> {
    return this.createNode('get_attr', path, [], {}, name ?? path);
  }
  callFunction(fn: GraphFunction, args: readonly Argument[] = [], kwargs: Record<string, Argument> = {}, name?: string): Node<'call_function'> {
    return this.createNode('call_function', fn, args, kwargs, name);
  }
  callMethod(method: string, args: readonly Argument[], kwargs: Record<string, Argument> = {}, name?: string): Node<'call_method'> {
    return this.createNode('call_method', method, args, kwargs, name);
  }
  callModule(path: string, args: readonly Argument[], kwargs: Record<string, Argument> = {}, name?: string): Node<'call_module'> {
    return this.createNode('call_module', path, args, kwargs, name);
  }
  output(value: Argument): Node<'output'> {
    return this.createNode('output', 'output', [value], {}, 'output');
  }

  /** Runs `fn` with new nodes inserted before `node`, then restores the insertion point. */
  insertingBefore<T>(node: AnyNode | null, fn: () => T): T {
    if (node && node.graph !== this) throw new Error(`insertingBefore: node '${node.name}' is not in this graph`);
    const saved = this.#insertBefore;
    this.#insertBefore = node;
    try { return fn(); } finally { this.#insertBefore = saved; }
  }
  /** Runs `fn` with new nodes inserted after `node` (in creation order), then restores the insertion point. */
  insertingAfter<T>(node: AnyNode, fn: () => T): T {
    if (node.graph !== this) throw new Error(`insertingAfter: node '${node.name}' is not in this graph`);
    return this.insertingBefore(node._next, fn);
  }

  /** Removes a node that has no users. */
  eraseNode(node: AnyNode): void {
    if (node.graph !== this) throw new Error(`eraseNode: node '${node.name}' is not in this graph`);
    if (node._erased) throw new Error(`eraseNode: node '${node.name}' was already erased`);
    if (node.users.size > 0) {
      const users = [...node.users].map((u) => u.name).join(', ');
      throw new Error(`eraseNode: node '${node.name}' still has ${node.users.size} user(s): ${users}`);
    }
    if (this.#insertBefore === node) this.#insertBefore = node._next;
    node._clearInputs();
    this.#unlink(node);
    node._erased = true;
    this.#names.release(node.name);
  }

  /**
   * Removes nodes whose values are unused, last to first (one pass, since users come
   * after producers). Placeholders, outputs and impure nodes stay. Returns whether anything changed.
   */
  eliminateDeadCode(isImpure: (n: AnyNode) => boolean = defaultIsImpure): boolean {
    let changed = false;
    for (const n of this.reversed()) {
      if (n.users.size === 0 && !isImpure(n)) {
        this.eraseNode(n);
        changed = true;
      }
    }
    return changed;
  }

  /** Renames a node, keeping names unique; returns the name actually given. */
  rename(node: AnyNode, name: string): string {
    this.#names.release(node.name);
    node._name = this.#names.create(name);
    return node.name;
  }

  /** Copies `node` from another graph into this one, mapping its inputs through `argMap`. */
  nodeCopy(node: AnyNode, argMap: (n: AnyNode) => Argument): AnyNode {
    const args = node.args.map((a) => mapArgument(a, argMap));
    const kwargs: Record<string, Argument> = {};
    for (const [k, v] of Object.entries(node.kwargs)) kwargs[k] = mapArgument(v, argMap);
    const copy = this.createNode(node.op, node.target, args, kwargs, node.name).self;
    if (copy.op === 'placeholder') copy.target = copy.name;
    copy.meta = { ...node.meta };
    return copy;
  }

  /**
   * Checks that the graph is well formed: nodes in topological order, inputs owned by
   * this graph and not erased, users consistent with inputs, unique names, exactly one
   * output node at the end, placeholders first, and (given a resolver) targets that resolve.
   */
  lint(resolver?: TargetResolver): void {
    const seen = new Set<AnyNode>();
    const names = new Set<string>();
    let count = 0;
    let sawNonPlaceholder = false;
    let prev: AnyNode | null = null;
    for (const n of this.nodes()) {
      count++;
      const where = `node '${n.name}' (${n.op})`;
      if (n.graph !== this) throw new LintError(`${where} is linked into a graph that does not own it`);
      if (n._erased) throw new LintError(`${where} is erased but still linked`);
      if (n._prev !== prev) throw new LintError(`${where} has a broken back link`);
      if (names.has(n.name)) throw new LintError(`${where}: duplicate name`);
      if (!/^[A-Za-z_$][\w$]*$/.test(n.name)) throw new LintError(`${where}: name is not a valid identifier`);
      names.add(n.name);
      for (const i of n.allInputNodes) {
        if (i.graph !== this) throw new LintError(`${where} uses '${i.name}' from another graph`);
        if (!seen.has(i)) throw new LintError(`${where} uses '${i.name}' before it is defined (not in topological order)`);
        if (!i.users.has(n)) throw new LintError(`${where} uses '${i.name}' but is missing from its users`);
      }
      for (const u of n.users) {
        if (!u.allInputNodes.includes(n)) throw new LintError(`${where} lists '${u.name}' as a user, but it does not use it`);
        if (u._erased) throw new LintError(`${where} lists erased node '${u.name}' as a user`);
      }
      if (n.op === 'placeholder') {
        if (sawNonPlaceholder) throw new LintError(`${where}: placeholders must come before every other node`);
        if (n.target !== n.name) throw new LintError(`${where}: placeholder target '${n.target}' differs from its name`);
      } else sawNonPlaceholder = true;
      if (n.op === 'output') {
        if (n._next !== null) throw new LintError(`${where}: the output node must be the last node`);
        if (n.args.length !== 1) throw new LintError(`${where}: output takes exactly one argument`);
      }
      if (n.op === 'call_function' && (typeof n.target !== 'object' || typeof n.target.invoke !== 'function')) {
        throw new LintError(`${where}: target is not a GraphFunction`);
      }
      if ((n.op === 'call_method' || n.op === 'get_attr' || n.op === 'call_module') && typeof n.target !== 'string') {
        throw new LintError(`${where}: target must be a string`);
      }
      if (n.op === 'call_method' && n.args.length === 0) throw new LintError(`${where}: a method call needs its receiver as args[0]`);
      if (resolver) {
        if (n.op === 'get_attr' && !resolver.hasAttr(n.target)) throw new LintError(`${where}: target '${n.target}' does not resolve to a parameter, buffer or constant of the module`);
        if (n.op === 'call_module' && !resolver.hasModule(n.target)) throw new LintError(`${where}: target '${n.target}' does not resolve to a submodule`);
      }
      seen.add(n);
      prev = n;
    }
    if (prev !== this.#tail) throw new LintError('graph: tail pointer does not match the last node');
    if (count !== this.#size) throw new LintError(`graph: node count ${count} does not match recorded size ${this.#size}`);
    if (count > 0 && this.#tail?.op !== 'output') throw new LintError('graph: has no output node');
  }

  /** fx-style readable listing; deterministic, so tests compare it as text. */
  toString(): string {
    const params = this.placeholders.map((p) => p.name).join(', ');
    const lines = [`graph(${params}):`];
    for (const n of this.nodes()) lines.push('    ' + formatNode(n));
    return lines.join('\n');
  }
  print(): void { console.log(this.toString()); }
  /** The output value, formatted (for messages). */
  describeOutput(): string {
    const o = this.outputNode;
    return o ? formatArgument(o.args[0]) : '<no output>';
  }

  // ---- linked list internals ----

  #link(n: AnyNode, before: AnyNode | null): void {
    if (before === null) {
      n._prev = this.#tail;
      n._next = null;
      if (this.#tail) this.#tail._next = n; else this.#head = n;
      this.#tail = n;
    } else {
      n._prev = before._prev;
      n._next = before;
      if (before._prev) before._prev._next = n; else this.#head = n;
      before._prev = n;
    }
    this.#size++;
  }
  #unlink(n: AnyNode): void {
    if (n._prev) n._prev._next = n._next; else this.#head = n._next;
    if (n._next) n._next._prev = n._prev; else this.#tail = n._prev;
    n._prev = n._next = null;
    this.#size--;
  }
  /** @internal */
  _moveBefore(n: AnyNode, before: AnyNode): void {
    if (n === before) return;
    this.#unlink(n);
    this.#link(n, before);
  }
  /** @internal */
  _moveToEnd(n: AnyNode): void {
    this.#unlink(n);
    this.#link(n, null);
  }
}

function defaultName(op: NodeOp, target: TargetOf[NodeOp]): string {
  if (op === 'call_function') return (target as GraphFunction).name.split('.').pop()!;
  if (typeof target === 'string') return target.replace(/\./g, '_');
  return op;
}

/** Nodes dead-code elimination must keep: inputs, outputs, impure functions, in-place methods. */
export function defaultIsImpure(n: AnyNode): boolean {
  switch (n.op) {
    case 'placeholder': case 'output': return true;
    case 'call_function': return n.target.impure === true;
    case 'call_method': return n.target.endsWith('_') && !n.target.startsWith('_');
    default: return false;
  }
}
