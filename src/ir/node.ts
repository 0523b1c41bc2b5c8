import type { DType } from '../tensor/dtype.js';
import type { QuantParams } from '../tensor/tensor.js';
import type { GraphFunction } from './function.js';
import type { Graph } from './graph.js';

/**
 * The six node kinds of the IR (torch.fx's opcodes):
 * - placeholder: a graph input; target is the parameter name.
 * - get_attr: a parameter, buffer or constant of the owning module; target is its dotted path.
 * - call_function: a free function; target is a registered GraphFunction.
 * - call_method: a method on the first argument (a tensor); target is the method name.
 * - call_module: the forward of a submodule; target is its dotted path.
 * - output: the graph's return value, in args[0]; target is 'output'.
 */
export type NodeOp = 'placeholder' | 'get_attr' | 'call_function' | 'call_method' | 'call_module' | 'output';

export interface TargetOf {
  placeholder: string;
  get_attr: string;
  call_function: GraphFunction;
  call_method: string;
  call_module: string;
  output: 'output';
}

/** A slice in an indexing expression (Python's `start:stop:step`); null means open. */
export class Slice {
  constructor(readonly start: number | null = null, readonly stop: number | null = null, readonly step: number | null = null) {}
  toString(): string {
    return `${this.start ?? ''}:${this.stop ?? ''}${this.step === null ? '' : `:${this.step}`}`;
  }
}

/** `slice(1, 3)` ≙ Python's `1:3`. */
export function slice(start: number | null = null, stop: number | null = null, step: number | null = null): Slice {
  return new Slice(start, stop, step);
}

/** What may appear in a node's args and kwargs. Tensors never do: they become get_attr nodes. */
export type Argument =
  | AnyNode
  | number
  | boolean
  | string
  | null
  | undefined
  | Slice
  | readonly Argument[]
  | { readonly [key: string]: Argument };

/** Shape, dtype and quantization parameters recorded by shape propagation. */
export interface TensorMeta {
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly qparams?: QuantParams;
}

/** Static metadata of a node's value: a tensor, a tuple of values, or a plain scalar. */
export type ValueMeta = TensorMeta | readonly ValueMeta[] | number | boolean | null;

export interface NodeMeta {
  /** Set by shape propagation (ShapeProp, accTrace). */
  tensorMeta?: ValueMeta;
  /** Where the traced call happened in user code. */
  stackTrace?: string;
  /** Free-form annotations by passes (e.g. the ONNX node a value came from). */
  [key: string]: unknown;
}

/** Every node, narrowed by `op`: `if (n.op === 'call_function') n.target.name`. */
export type AnyNode = { [K in NodeOp]: Node<K> }[NodeOp];

/**
 * One operation in a Graph. Inputs are changed only through `args`/`kwargs` setters,
 * `replaceInputWith` and `replaceAllUsesWith`, which keep every `users` set consistent.
 */
export class Node<K extends NodeOp = NodeOp> {
  readonly graph: Graph;
  readonly op: K;
  target: TargetOf[K];
  meta: NodeMeta = {};
  /** @internal linked-list neighbours, maintained by Graph. */
  _prev: AnyNode | null = null;
  /** @internal */
  _next: AnyNode | null = null;
  /** @internal */
  _erased = false;
  /** @internal set by Graph's namespace. */
  _name: string;
  #args: readonly Argument[] = [];
  #kwargs: Readonly<Record<string, Argument>> = {};
  readonly #users = new Set<AnyNode>();
  #inputs: AnyNode[] = [];

  /** @internal use Graph.createNode. */
  constructor(graph: Graph, op: K, target: TargetOf[K], name: string) {
    this.graph = graph;
    this.op = op;
    this.target = target;
    this._name = name;
  }

  get name(): string { return this._name; }
  get args(): readonly Argument[] { return this.#args; }
  set args(args: readonly Argument[]) { this.#setInputs(args, this.#kwargs); }
  get kwargs(): Readonly<Record<string, Argument>> { return this.#kwargs; }
  set kwargs(kwargs: Readonly<Record<string, Argument>>) { this.#setInputs(this.#args, kwargs); }
  /** Nodes that take this node's value as an input, in the order they started using it. */
  get users(): ReadonlySet<AnyNode> { return this.#users; }
  /** Distinct input nodes, in first-use order. */
  get allInputNodes(): readonly AnyNode[] { return this.#inputs; }
  get prev(): AnyNode | null { return this._prev; }
  get next(): AnyNode | null { return this._next; }
  get isErased(): boolean { return this._erased; }

  /** Replaces one argument position. */
  updateArg(index: number, value: Argument): void {
    const a = [...this.#args];
    a[index] = value;
    this.args = a;
  }
  updateKwarg(key: string, value: Argument): void {
    this.kwargs = { ...this.#kwargs, [key]: value };
  }

  /** Makes every user of this node use `replacement` instead; returns the users changed. */
  replaceAllUsesWith(replacement: AnyNode, filter: (user: AnyNode) => boolean = () => true): AnyNode[] {
    const changed: AnyNode[] = [];
    for (const user of [...this.#users]) {
      if (user === replacement || !filter(user)) continue;
      user.replaceInputWith(this.self, replacement);
      changed.push(user);
    }
    return changed;
  }

  /** Swaps every occurrence of input `old` in this node's args and kwargs for `replacement`. */
  replaceInputWith(old: AnyNode, replacement: AnyNode): void {
    const swap = (a: Argument): Argument => mapArgument(a, (n) => (n === old ? replacement : n));
    this.#setInputs(this.#args.map(swap), mapKwargs(this.#kwargs, swap));
  }

  /** Moves node `n` to just before this one. */
  prepend(n: AnyNode): void { this.graph._moveBefore(n, this.self); }
  /** Moves node `n` to just after this one. */
  append(n: AnyNode): void {
    if (this._next) this.graph._moveBefore(n, this._next);
    else this.graph._moveToEnd(n);
  }

  /** This node typed as the union, for APIs that take any node. */
  get self(): AnyNode { return this as AnyNode; }

  /** @internal detach from inputs (used by eraseNode). */
  _clearInputs(): void { this.#setInputs([], {}); }

  #setInputs(args: readonly Argument[], kwargs: Readonly<Record<string, Argument>>): void {
    const next: AnyNode[] = [];
    const seen = new Set<AnyNode>();
    const collect = (n: AnyNode): AnyNode => {
      if (n.graph !== this.graph) {
        throw new Error(`node '${this.name}': input '${n.name}' belongs to a different graph`);
      }
      if (n._erased) throw new Error(`node '${this.name}': input '${n.name}' has been erased`);
      if (!seen.has(n)) { seen.add(n); next.push(n); }
      return n;
    };
    for (const a of args) mapArgument(a, collect);
    for (const v of Object.values(kwargs)) mapArgument(v, collect);
    for (const old of this.#inputs) if (!seen.has(old)) old.#users.delete(this.self);
    for (const n of next) n.#users.add(this.self);
    this.#args = Object.freeze([...args]);
    this.#kwargs = Object.freeze({ ...kwargs });
    this.#inputs = next;
  }

  toString(): string { return `%${this.name}`; }
}

export function isNode(x: unknown): x is AnyNode {
  return x instanceof Node;
}

/** Applies `fn` to every Node inside an argument structure, rebuilding containers. */
export function mapArgument(a: Argument, fn: (n: AnyNode) => Argument): Argument {
  if (a instanceof Node) return fn(a as AnyNode);
  if (Array.isArray(a)) return a.map((x: Argument) => mapArgument(x, fn));
  if (a !== null && typeof a === 'object' && !(a instanceof Slice)) {
    return mapKwargs(a as Record<string, Argument>, (x) => mapArgument(x, fn));
  }
  return a;
}

export function mapKwargs(k: Readonly<Record<string, Argument>>, fn: (a: Argument) => Argument): Record<string, Argument> {
  return Object.fromEntries(Object.entries(k).map(([key, v]) => [key, fn(v)]));
}

/** Collects the distinct nodes in an argument structure. */
export function nodesIn(a: Argument): AnyNode[] {
  const out: AnyNode[] = [];
  mapArgument(a, (n) => { if (!out.includes(n)) out.push(n); return n; });
  return out;
}
