/**
 * Groups of nodes that must land in the same partition (fx's FxNetAccFusionsFinder): nodes
 * joined by a value that is not a single tensor (a size, a tuple, a list of ints) cannot be
 * separated, because an engine only exchanges tensors with the outside. Groups are then closed
 * under "lies on a path between two members" (otherwise the partitions would depend on each
 * other in a cycle) by merging the strongly connected components of the contracted graph.
 */
import type { Graph } from '../ir/graph.js';
import type { AnyNode, TensorMeta, ValueMeta } from '../ir/node.js';

/** The nodes a partition is built from: call_function, call_method and call_module. */
export function isComputeNode(n: AnyNode): boolean {
  return n.op === 'call_function' || n.op === 'call_method' || n.op === 'call_module';
}

/** The node's value as one tensor's metadata, or undefined when it is not a single tensor (or unknown). */
export function singleTensorMeta(n: AnyNode): TensorMeta | undefined {
  return asTensorMeta(n.meta.tensorMeta);
}

/** A ValueMeta narrowed to a single tensor. */
export function asTensorMeta(m: ValueMeta | undefined): TensorMeta | undefined {
  return m !== null && m !== undefined && typeof m === 'object' && !Array.isArray(m) && 'shape' in m ? m : undefined;
}

/** Every tensor inside a value's metadata (a tuple's elements, recursively). */
export function tensorMetasIn(m: ValueMeta | undefined): TensorMeta[] {
  const out: TensorMeta[] = [];
  const stack: (ValueMeta | undefined)[] = [m];
  while (stack.length > 0) {
    const v = stack.pop();
    const t = asTensorMeta(v);
    if (t) out.push(t);
    else if (Array.isArray(v)) for (let i = v.length - 1; i >= 0; i--) stack.push(v[i]);
  }
  return out;
}

/** A set of compute nodes that go to one partition together, in graph order. */
export interface FusionGroup {
  readonly id: number;
  readonly nodes: readonly AnyNode[];
  /** Position of the first member in the graph (the group's place in a topological order). */
  readonly firstIndex: number;
}

/** The groups of a graph and, for each compute node, its group. */
export interface FusionGroups {
  readonly groups: readonly FusionGroup[];
  readonly groupOf: ReadonlyMap<AnyNode, FusionGroup>;
  /** Position of every node in the graph. */
  readonly indexOf: ReadonlyMap<AnyNode, number>;
}

/**
 * Partitions the compute nodes of `graph` into fusion groups: connected by non-tensor values,
 * then merged along cycles of the contracted graph so the groups form a DAG.
 *
 * @example
 * const { groups } = findFusionGroups(acc.graph);
 * groups.filter((g) => g.nodes.length > 1); // e.g. [size, reshape]
 */
export function findFusionGroups(graph: Graph): FusionGroups {
  const nodes = graph.nodeList();
  const indexOf = new Map<AnyNode, number>();
  nodes.forEach((n, i) => indexOf.set(n, i));
  const compute = nodes.filter(isComputeNode);
  const slot = new Map<AnyNode, number>();
  compute.forEach((n, i) => slot.set(n, i));

  // 1. Union nodes joined by a non-tensor value.
  const uf = new UnionFind(compute.length);
  for (const n of compute) {
    if (singleTensorMeta(n)) continue;
    for (const u of n.users) {
      const j = slot.get(u);
      if (j !== undefined) uf.union(slot.get(n)!, j);
    }
  }

  // 2. Contract and merge strongly connected components (cycles through outside nodes).
  const roots = new Map<number, number>();
  const atomOf = new Int32Array(compute.length);
  for (let i = 0; i < compute.length; i++) {
    const r = uf.find(i);
    let a = roots.get(r);
    if (a === undefined) roots.set(r, (a = roots.size));
    atomOf[i] = a;
  }
  const succ: Set<number>[] = Array.from({ length: roots.size }, () => new Set<number>());
  for (let i = 0; i < compute.length; i++) {
    for (const u of compute[i]!.users) {
      const j = slot.get(u);
      if (j !== undefined && atomOf[j] !== atomOf[i]) succ[atomOf[i]!]!.add(atomOf[j]!);
    }
  }
  const component = stronglyConnected(succ.map((s) => [...s]));

  // 3. Materialize groups in graph order of their first member.
  const byComponent = new Map<number, AnyNode[]>();
  for (let i = 0; i < compute.length; i++) {
    const c = component[atomOf[i]!]!;
    let list = byComponent.get(c);
    if (!list) byComponent.set(c, (list = []));
    list.push(compute[i]!);
  }
  const groups: FusionGroup[] = [];
  const groupOf = new Map<AnyNode, FusionGroup>();
  const ordered = [...byComponent.values()].sort((a, b) => indexOf.get(a[0]!)! - indexOf.get(b[0]!)!);
  for (const members of ordered) {
    const g: FusionGroup = { id: groups.length, nodes: members, firstIndex: indexOf.get(members[0]!)! };
    groups.push(g);
    for (const n of members) groupOf.set(n, g);
  }
  return { groups, groupOf, indexOf };
}

class UnionFind {
  readonly #parent: Int32Array;
  constructor(n: number) {
    this.#parent = new Int32Array(n);
    for (let i = 0; i < n; i++) this.#parent[i] = i;
  }
  find(i: number): number {
    let r = i;
    while (this.#parent[r] !== r) r = this.#parent[r]!;
    while (this.#parent[i] !== r) {
      const next = this.#parent[i]!;
      this.#parent[i] = r;
      i = next;
    }
    return r;
  }
  union(a: number, b: number): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra !== rb) this.#parent[Math.max(ra, rb)] = Math.min(ra, rb);
  }
}

/** Tarjan's algorithm without recursion: the component id of every vertex. */
export function stronglyConnected(succ: readonly (readonly number[])[]): Int32Array {
  const n = succ.length;
  const index = new Int32Array(n).fill(-1);
  const low = new Int32Array(n);
  const onStack = new Uint8Array(n);
  const comp = new Int32Array(n).fill(-1);
  const stack: number[] = [];
  const work: [number, number][] = [];
  let counter = 0;
  let comps = 0;
  for (let s = 0; s < n; s++) {
    if (index[s] !== -1) continue;
    work.push([s, 0]);
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      const v = frame[0];
      if (frame[1] === 0 && index[v] === -1) {
        index[v] = low[v] = counter++;
        stack.push(v);
        onStack[v] = 1;
      }
      const edges = succ[v]!;
      if (frame[1] < edges.length) {
        const w = edges[frame[1]++]!;
        if (index[w] === -1) work.push([w, 0]);
        else if (onStack[w]) low[v] = Math.min(low[v]!, index[w]!);
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const parent = work[work.length - 1]![0];
        low[parent] = Math.min(low[parent]!, low[v]!);
      }
      if (low[v] === index[v]) {
        let w: number;
        do {
          w = stack.pop()!;
          onStack[w] = 0;
          comp[w] = comps;
        } while (w !== v);
        comps++;
      }
    }
  }
  return comp;
}
