/**
 * The builder's working copy of a network: values and nodes with use lists, mutated only through
 * the methods here (so uses stay consistent, as fx's one mutation path). Constant layers become
 * constant values; every other layer becomes a node that later turns into one plan step.
 * Nodes are kept in a topological order: a rewrite puts its replacement where the last node it
 * replaces was, which keeps the order valid for every rewrite in this folder.
 */
import type { DType } from '../../tensor/dtype.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { LayerParamsMap, NetTensor } from '../network.js';
import type { NetworkDefinition } from '../network_definition.js';
import type { EpilogueOp, LayerStepKind, PointwiseProgram, StepQuantization } from '../plan.js';
import type { EliminationRecord, OptimizationName } from '../report.js';

/** A tensor of the build graph: a network input, a constant or a node output. */
export interface BValue {
  readonly id: number;
  readonly name: string;
  readonly dtype: DType;
  /** -1 marks a dynamic dim. */
  readonly shape: readonly number[];
  readonly producer: BNode | null;
  /** The data of a constant value. */
  readonly constant: Tensor | null;
}

interface BNodeBase {
  readonly id: number;
  readonly name: string;
  readonly inputs: readonly BValue[];
  readonly outputs: readonly BValue[];
  /** Network layers this node executes. */
  readonly layers: readonly string[];
  /** The rule that fused several layers into this node (null for a node of one layer). */
  readonly rule: OptimizationName | null;
  /** The int8 form of the node (Q/DQ fusion): its int8 operands and output scale. */
  readonly quant?: StepQuantization;
}

/** A node running one layer kind (with the epilogue fused into it, if any). */
export type BLayerNodeOf<K extends LayerStepKind> = BNodeBase & {
  readonly kind: K;
  readonly params: LayerParamsMap[K];
  readonly epilogue: readonly EpilogueOp[];
};
/** A node of any layer kind (discriminated by `kind`). */
export type BLayerNode = { [K in LayerStepKind]: BLayerNodeOf<K> }[LayerStepKind];
/** A node running a fused pointwise region. */
export interface BPointwiseNode extends BNodeBase {
  readonly kind: 'pointwise';
  readonly program: PointwiseProgram;
}
/** A node of the build graph: one future plan step. */
export type BNode = BLayerNode | BPointwiseNode;

/** A node to add: everything but its id and outputs' producer links, which the graph sets. */
export type NodeSpec =
  | { [K in LayerStepKind]: Omit<BLayerNodeOf<K>, 'id' | 'outputs'> }[LayerStepKind]
  | Omit<BPointwiseNode, 'id' | 'outputs'>;

/** Why layers disappeared, by layer name, collected for the build report. */
export interface PassLog {
  readonly eliminated: Map<string, EliminationRecord>;
}

/** Records that `layers` no longer run, removed by `rule` for the reason `detail`. */
export function logEliminated(log: PassLog, layers: readonly string[], rule: OptimizationName, detail: string): void {
  for (const layer of layers) log.eliminated.set(layer, { layer, rule, detail });
}

/** A network the builder rejects, or a build that cannot be satisfied; says what to change. */
export class BuildError extends Error {
  override name = 'BuildError';
}

/** The error of an inconsistent graph mutation: a bug in a rewrite rule, never a user error. */
export class BuildGraphError extends Error {
  override name = 'BuildGraphError';
}

type Mutable<T> = { -readonly [P in keyof T]: T[P] };

/**
 * The builder's mutable layer graph.
 * @example
 * const g = BuildGraph.fromNetwork(net);
 * for (const n of g.nodes) if (n.kind === 'identity') { g.replaceAllUses(n.outputs[0]!, n.inputs[0]!); g.removeNode(n); }
 * g.compact();
 */
export class BuildGraph {
  readonly name: string;
  readonly inputs: readonly BValue[];
  readonly outputs: { name: string; value: BValue }[] = [];
  #order: (BNode | null)[] = [];
  /** Nodes inserted in front of the node of a slot (insertBefore), in order; merged by compact(). */
  readonly #before = new Map<number, BNode[]>();
  readonly #position = new Map<BNode, number>();
  readonly #uses = new Map<BValue, BNode[]>();
  /** Nodes whose slot a replacement took; they must be removed before compact(). */
  readonly #displaced = new Set<BNode>();
  #nextValue = 0;
  #nextNode = 0;

  private constructor(name: string, inputs: readonly { name: string; dtype: DType; shape: readonly number[] }[]) {
    this.name = name;
    this.inputs = inputs.map((t) => this.#value(t.name, t.dtype, t.shape, null, null));
  }

  /** A copy of a network's layer graph (weights shared, never copied). */
  static fromNetwork(net: NetworkDefinition): BuildGraph {
    const g = new BuildGraph(net.name, net.inputs);
    const map = new Map<NetTensor, BValue>();
    net.inputs.forEach((t, i) => map.set(t, g.inputs[i]!));
    const get = (t: NetTensor, layer: string): BValue => {
      const v = map.get(t);
      if (!v) throw new BuildGraphError(`layer '${layer}' reads tensor '${t.name}' before it is produced`);
      return v;
    };
    for (const layer of net.layers) {
      if (layer.type === 'constant') {
        const out = layer.outputs[0]!;
        map.set(out, g.addConstant(layer.params.value, out.name, out.dtype));
        continue;
      }
      const inputs = layer.inputs.map((t) => get(t, layer.name));
      const spec = { kind: layer.type, name: layer.name, params: layer.params, inputs, layers: [layer.name], epilogue: [], rule: null } as NodeSpec;
      const node = g.#append(spec, layer.outputs.map((o) => ({ name: o.name, dtype: o.dtype, shape: o.shape })));
      layer.outputs.forEach((o, i) => map.set(o, node.outputs[i]!));
    }
    for (const t of net.outputs) g.outputs.push({ name: t.name, value: get(t, `output '${t.name}'`) });
    return g;
  }

  /** Live nodes in topological order. */
  get nodes(): BNode[] {
    if (this.#before.size === 0) return this.#order.filter((n): n is BNode => n !== null);
    const out: BNode[] = [];
    this.#order.forEach((n, i) => {
      for (const m of this.#before.get(i) ?? []) if (this.#position.has(m)) out.push(m);
      if (n !== null) out.push(n);
    });
    return out;
  }

  /** Nodes reading `v`, once per read (a node reading it twice appears twice). */
  uses(v: BValue): readonly BNode[] {
    return this.#uses.get(v) ?? [];
  }

  /** Distinct nodes reading `v`. */
  consumers(v: BValue): BNode[] {
    return [...new Set(this.uses(v))];
  }

  isGraphOutput(v: BValue): boolean {
    return this.outputs.some((o) => o.value === v);
  }

  /** Whether `n` is still in the graph. */
  has(n: BNode): boolean {
    return this.#position.has(n);
  }

  /** A new constant value holding `t` (stored as `dtype`, converting when they differ). */
  addConstant(t: Tensor, name: string, dtype: DType = t.dtype): BValue {
    const data = t.dtype === dtype ? t : t.castTo(dtype);
    return this.#value(name, dtype, data.shape, null, data);
  }

  /**
   * Adds `spec` producing the existing values `outputs` (taken over from nodes this rewrite
   * removes), at the place of `at`.
   */
  addNodeProducing(at: BNode, spec: NodeSpec, outputs: readonly BValue[]): BNode {
    const pos = this.#position.get(at);
    if (pos === undefined) throw new BuildGraphError(`addNodeProducing: node '${at.name}' is not in graph '${this.name}'`);
    for (const o of outputs) {
      if (o.producer && this.#position.has(o.producer) && o.producer !== at) {
        throw new BuildGraphError(`addNodeProducing: value '${o.name}' is still produced by node '${o.producer.name}'`);
      }
    }
    const node = { ...spec, id: this.#nextNode++, outputs: [...outputs] } as BNode;
    for (const o of outputs) (o as Mutable<BValue>).producer = node;
    this.#place(node, pos, at);
    return node;
  }

  /**
   * Adds `spec` with fresh output values just in front of `at` (so its inputs must be produced
   * before `at`): a rewrite that replaces `at` by several nodes puts the first ones here and the
   * last one in `at`'s place (addNodeProducing).
   */
  insertBefore(at: BNode, spec: NodeSpec, outputs: readonly { name: string; dtype: DType; shape: readonly number[] }[]): BNode {
    const pos = this.#position.get(at);
    if (pos === undefined) throw new BuildGraphError(`insertBefore: node '${at.name}' is not in graph '${this.name}'`);
    const node = { ...spec, id: this.#nextNode++, outputs: [] } as BNode;
    (node as Mutable<BNode>).outputs = outputs.map((o) => this.#value(o.name, o.dtype, o.shape, node, null));
    for (const v of node.inputs) this.#addUse(v, node);
    const list = this.#before.get(pos) ?? [];
    const k = list.indexOf(at);
    list.splice(k >= 0 ? k : list.length, 0, node);
    this.#before.set(pos, list);
    this.#position.set(node, pos);
    return node;
  }

  /** Points every reader of `from` (nodes and graph outputs) at `to`. */
  replaceAllUses(from: BValue, to: BValue): void {
    if (from === to) return;
    for (const n of this.consumers(from)) {
      this.#setInputs(n, n.inputs.map((v) => (v === from ? to : v)));
    }
    for (const o of this.outputs) if (o.value === from) o.value = to;
  }

  /** Removes a node whose outputs nobody reads any more. */
  removeNode(n: BNode): void {
    const pos = this.#position.get(n);
    if (pos === undefined) throw new BuildGraphError(`removeNode: node '${n.name}' is not in graph '${this.name}'`);
    for (const o of n.outputs) {
      // Outputs taken over by a replacement node (addNodeProducing) have another producer now.
      if (o.producer === n && (this.uses(o).length > 0 || this.isGraphOutput(o))) {
        throw new BuildGraphError(`removeNode: output '${o.name}' of node '${n.name}' is still used`);
      }
    }
    this.#setInputs(n, []);
    if (this.#order[pos] === n) this.#order[pos] = null;
    this.#position.delete(n);
    this.#displaced.delete(n);
  }

  /** Drops the holes left by removed nodes (call between passes). */
  compact(): void {
    if (this.#displaced.size > 0) {
      const names = [...this.#displaced].map((n) => `'${n.name}'`).join(', ');
      throw new BuildGraphError(`graph '${this.name}': node(s) ${names} were replaced but not removed`);
    }
    this.#order = this.nodes;
    this.#before.clear();
    this.#position.clear();
    this.#order.forEach((n, i) => this.#position.set(n!, i));
  }

  #value(name: string, dtype: DType, shape: readonly number[], producer: BNode | null, constant: Tensor | null): BValue {
    return { id: this.#nextValue++, name, dtype, shape: [...shape], producer, constant };
  }

  /** Appends a node with fresh output values after every node. */
  #append(spec: NodeSpec, outputs: readonly { name: string; dtype: DType; shape: readonly number[] }[]): BNode {
    const node = { ...spec, id: this.#nextNode++, outputs: [] } as BNode;
    (node as Mutable<BNode>).outputs = outputs.map((o) => this.#value(o.name, o.dtype, o.shape, node, null));
    this.#place(node, this.#order.length, null);
    return node;
  }

  /**
   * Registers `node`'s uses and puts it at `pos` (the end when `at` is null). With `at`, the node
   * takes `at`'s slot (the last of the nodes the rewrite removes); `at` must then be removed by
   * the same rewrite.
   */
  #place(node: BNode, pos: number, at: BNode | null): void {
    for (const v of node.inputs) this.#addUse(v, node);
    if (at !== null) {
      const inserted = this.#order[pos] === at ? null : this.#before.get(pos) ?? null;
      if (inserted) inserted[inserted.indexOf(at)] = node;
      else this.#order[pos] = node;
      this.#displaced.add(at);
    } else {
      this.#order.push(node);
    }
    this.#position.set(node, pos);
  }

  #setInputs(n: BNode, inputs: readonly BValue[]): void {
    for (const v of n.inputs) {
      const list = this.#uses.get(v);
      if (!list) continue;
      const i = list.indexOf(n);
      if (i >= 0) list.splice(i, 1);
    }
    (n as Mutable<BNode>).inputs = [...inputs];
    for (const v of inputs) this.#addUse(v, n);
  }

  #addUse(v: BValue, n: BNode): void {
    const list = this.#uses.get(v);
    if (list) list.push(n);
    else this.#uses.set(v, [n]);
  }
}
