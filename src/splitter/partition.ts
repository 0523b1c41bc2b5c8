/**
 * Orders fusion groups into alternating acc / cpu partitions. A greedy topological walk keeps
 * extending the current partition with ready groups of the same kind and switches kind only when
 * none is ready; every partition is therefore a contiguous run of one topological order, so
 * partitions can never depend on each other in a cycle (a node that must wait for a later
 * partition simply goes into a later one).
 */
import type { AnyNode } from '../ir/node.js';
import type { FusionGroup, FusionGroups } from './fusion_groups.js';

/** 'acc': runs in an engine; 'cpu': runs on the Interpreter. */
export type PartKind = 'acc' | 'cpu';

/** One partition: its kind and its nodes in graph order. */
export interface Partition {
  readonly kind: PartKind;
  readonly nodes: readonly AnyNode[];
}

/** A binary min-heap of groups keyed by their first node's position (ties cannot happen). */
class GroupHeap {
  readonly #items: FusionGroup[] = [];
  get size(): number { return this.#items.length; }
  peek(): FusionGroup | undefined { return this.#items[0]; }
  push(g: FusionGroup): void {
    const a = this.#items;
    a.push(g);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]!.firstIndex <= g.firstIndex) break;
      a[i] = a[p]!;
      i = p;
    }
    a[i] = g;
  }
  pop(): FusionGroup | undefined {
    const a = this.#items;
    const top = a[0];
    const last = a.pop();
    if (a.length === 0 || last === undefined) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= a.length) break;
      const r = l + 1;
      const c = r < a.length && a[r]!.firstIndex < a[l]!.firstIndex ? r : l;
      if (a[c]!.firstIndex >= last.firstIndex) break;
      a[i] = a[c]!;
      i = c;
    }
    a[i] = last;
    return top;
  }
}

/**
 * Walks the groups in a topological order that changes kind as rarely as the greedy rule allows,
 * and cuts a partition at every change.
 *
 * @example
 * const parts = partitionGroups(fusion, (g) => g.nodes.every((n) => supported(n)));
 * parts.map((p) => p.kind); // ['acc', 'cpu', 'acc']
 */
export function partitionGroups(fusion: FusionGroups, isAcc: (g: FusionGroup) => boolean): Partition[] {
  const { groups, groupOf, indexOf } = fusion;
  const pending = new Int32Array(groups.length);
  const successors: Set<FusionGroup>[] = groups.map(() => new Set<FusionGroup>());
  for (const g of groups) {
    const preds = new Set<FusionGroup>();
    for (const n of g.nodes) {
      for (const i of n.allInputNodes) {
        const p = groupOf.get(i);
        if (p !== undefined && p !== g) preds.add(p);
      }
    }
    pending[g.id] = preds.size;
    for (const p of preds) successors[p.id]!.add(g);
  }
  const kinds = groups.map((g): PartKind => (isAcc(g) ? 'acc' : 'cpu'));
  const ready: Record<PartKind, GroupHeap> = { acc: new GroupHeap(), cpu: new GroupHeap() };
  for (const g of groups) if (pending[g.id] === 0) ready[kinds[g.id]!].push(g);

  const partitions: Partition[] = [];
  let current: PartKind | undefined;
  let members: AnyNode[] = [];
  const close = (): void => {
    if (current !== undefined && members.length > 0) {
      members.sort((a, b) => indexOf.get(a)! - indexOf.get(b)!);
      partitions.push({ kind: current, nodes: members });
    }
    members = [];
  };
  for (;;) {
    if (current === undefined || ready[current].size === 0) {
      const a = ready.acc.peek();
      const c = ready.cpu.peek();
      if (!a && !c) break;
      close();
      current = !c || (a && a.firstIndex < c.firstIndex) ? 'acc' : 'cpu';
    }
    const g = ready[current].pop()!;
    members.push(...g.nodes);
    for (const s of successors[g.id]!) {
      if (--pending[s.id] === 0) ready[kinds[s.id]!].push(s);
    }
  }
  close();
  return partitions;
}

/** Compute nodes that count toward an acc partition's size (tuple unpacking is not work). */
export function partitionSize(p: Partition): number {
  let n = 0;
  for (const node of p.nodes) {
    if (node.op === 'call_function' && (node.target.name === 'acc.getitem' || node.target.name === 'getitem')) continue;
    n++;
  }
  return n;
}
