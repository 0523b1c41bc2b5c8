/**
 * The split preview (fx2trt's splitter `node_support_preview` + `split_preview`): which op kinds
 * run in engines and which do not (with counts, input dtypes and the reason for each node left
 * out), and the parts the split produced. Plain data, printable as text or JSON.
 */
import type { AnyNode, ValueMeta } from '../ir/node.js';
import type { DType } from '../tensor/dtype.js';
import { formatShape } from '../tensor/shape.js';
import { asTensorMeta, tensorMetasIn } from './fusion_groups.js';
import { opKindOf } from './operator_support.js';
import type { PartKind, SplitResult } from './splitter.js';

/** One op kind (e.g. 'acc.conv2d') among the supported or unsupported nodes. */
export interface OpKindStats {
  readonly op: string;
  readonly count: number;
  /** Distinct dtypes of the tensors its nodes take, sorted. */
  readonly inputDtypes: readonly DType[];
}

/** A node and why it does not run in an engine. */
export interface NodeReason {
  readonly node: string;
  readonly op: string;
  readonly reason: string;
}

/** An unsupported op kind with the reason for each of its nodes. */
export interface UnsupportedOpStats extends OpKindStats {
  readonly nodes: readonly NodeReason[];
}

/** A value crossing a part boundary: a tensor's shape and dtype, or a description of another value. */
export interface BoundaryValue {
  readonly name: string;
  readonly shape?: readonly number[];
  readonly dtype?: DType;
  /** For values that are not single tensors ('tuple of 2', 'number', 'unknown'). */
  readonly kind?: string;
}

/** One part of the split. */
export interface SubgraphSummary {
  readonly name: string;
  readonly kind: PartKind;
  /** Compute nodes in the part. */
  readonly nodeCount: number;
  readonly inputs: readonly BoundaryValue[];
  readonly outputs: readonly BoundaryValue[];
}

/** The JSON form of a preview. */
export interface SplitPreviewData {
  readonly minAccModuleSize: number;
  readonly supported: readonly OpKindStats[];
  readonly unsupported: readonly UnsupportedOpStats[];
  /** Supported nodes moved to the cpu because their acc part was smaller than minAccModuleSize. */
  readonly demoted: readonly NodeReason[];
  readonly subgraphs: readonly SubgraphSummary[];
}

/**
 * A split preview: the data plus `toString()` (a readable report) and `toJSON()`.
 *
 * @example
 * const preview = SplitPreview.of(splitModule(acc));
 * console.log(preview.toString());
 * JSON.stringify(preview); // the SplitPreviewData
 */
export class SplitPreview implements SplitPreviewData {
  readonly minAccModuleSize: number;
  readonly supported: readonly OpKindStats[];
  readonly unsupported: readonly UnsupportedOpStats[];
  readonly demoted: readonly NodeReason[];
  readonly subgraphs: readonly SubgraphSummary[];

  constructor(data: SplitPreviewData) {
    this.minAccModuleSize = data.minAccModuleSize;
    this.supported = data.supported;
    this.unsupported = data.unsupported;
    this.demoted = data.demoted;
    this.subgraphs = data.subgraphs;
  }

  /** Summarizes a split. */
  static of(result: SplitResult): SplitPreview {
    const graph = result.source.graph;
    const supported = new KindTable();
    const unsupported = new KindTable();
    const reasons = new Map<string, NodeReason[]>();
    const demoted: NodeReason[] = [];
    for (const [n, d] of result.support.decisions) {
      const op = opKindOf(n);
      if (!d.supported) {
        unsupported.add(op, n);
        let list = reasons.get(op);
        if (!list) reasons.set(op, (list = []));
        list.push({ node: n.name, op, reason: d.reason ?? 'unsupported' });
        continue;
      }
      supported.add(op, n);
      const placed = result.placements.get(n.name);
      if (placed?.kind === 'cpu') demoted.push({ node: n.name, op, reason: placed.reason ?? 'moved to the cpu' });
    }
    const metaOf = new Map<string, ValueMeta | undefined>();
    for (const n of graph.nodes()) metaOf.set(n.name, n.meta.tensorMeta);
    const boundary = (name: string): BoundaryValue => describeValue(name, metaOf.get(name));
    return new SplitPreview({
      minAccModuleSize: result.minAccModuleSize,
      supported: supported.stats(),
      unsupported: unsupported.stats().map((s) => ({ ...s, nodes: reasons.get(s.op) ?? [] })),
      demoted,
      subgraphs: result.parts.map((p) => ({
        name: p.name,
        kind: p.kind,
        nodeCount: p.nodes.length,
        inputs: p.inputs.map(boundary),
        outputs: p.outputs.map(boundary),
      })),
    });
  }

  toJSON(): SplitPreviewData {
    return {
      minAccModuleSize: this.minAccModuleSize,
      supported: this.supported,
      unsupported: this.unsupported,
      demoted: this.demoted,
      subgraphs: this.subgraphs,
    };
  }

  toString(): string {
    const acc = this.subgraphs.filter((s) => s.kind === 'acc').length;
    const lines = [`split: ${this.subgraphs.length} part(s), ${acc} acc, ${this.subgraphs.length - acc} cpu (minAccModuleSize ${this.minAccModuleSize})`];
    lines.push('supported op kinds (engine):');
    if (this.supported.length === 0) lines.push('  (none)');
    for (const s of this.supported) lines.push(`  ${kindLine(s)}`);
    lines.push('unsupported op kinds (interpreter):');
    if (this.unsupported.length === 0) lines.push('  (none)');
    for (const s of this.unsupported) {
      lines.push(`  ${kindLine(s)}`);
      for (const r of s.nodes) lines.push(`      %${r.node}: ${r.reason}`);
    }
    if (this.demoted.length > 0) {
      lines.push('supported but run on the interpreter:');
      for (const r of this.demoted) lines.push(`  %${r.node} (${r.op}): ${r.reason}`);
    }
    lines.push('subgraphs:');
    if (this.subgraphs.length === 0) lines.push('  (none)');
    for (const s of this.subgraphs) {
      lines.push(`  ${s.name} (${s.kind}, ${s.nodeCount} node${s.nodeCount === 1 ? '' : 's'})`);
      lines.push(`      inputs:  ${s.inputs.map(formatBoundary).join(', ') || '(none)'}`);
      lines.push(`      outputs: ${s.outputs.map(formatBoundary).join(', ') || '(none)'}`);
    }
    return lines.join('\n');
  }
}

/** Counts and input dtypes per op kind, in order of first appearance. */
class KindTable {
  readonly #rows = new Map<string, { count: number; dtypes: Set<DType> }>();
  add(op: string, n: AnyNode): void {
    let row = this.#rows.get(op);
    if (!row) this.#rows.set(op, (row = { count: 0, dtypes: new Set() }));
    row.count++;
    for (const i of n.allInputNodes) for (const m of tensorMetasIn(i.meta.tensorMeta)) row.dtypes.add(m.dtype);
  }
  stats(): OpKindStats[] {
    return [...this.#rows].map(([op, r]) => ({ op, count: r.count, inputDtypes: [...r.dtypes].sort() }));
  }
}

function describeValue(name: string, m: ValueMeta | undefined): BoundaryValue {
  const t = asTensorMeta(m);
  if (t) return { name, shape: [...t.shape], dtype: t.dtype };
  if (Array.isArray(m)) return { name, kind: `tuple of ${m.length}` };
  if (m === undefined) return { name, kind: 'unknown' };
  return { name, kind: m === null ? 'null' : typeof m };
}

function formatBoundary(v: BoundaryValue): string {
  return v.dtype !== undefined && v.shape !== undefined ? `%${v.name}: ${v.dtype}${formatShape(v.shape)}` : `%${v.name}: ${v.kind ?? 'value'}`;
}

function kindLine(s: OpKindStats): string {
  return `${s.op} × ${s.count}${s.inputDtypes.length ? `  [${s.inputDtypes.join(', ')}]` : ''}`;
}

