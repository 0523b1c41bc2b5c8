/**
 * Pointwise fusion: maximal regions of elementwise, unary, activation, scale and cast layers
 * become one 'pointwise' step running a small program.
 *
 * Pattern → replacement: a region whose every layer but its last (the sink) is read by exactly
 * one layer, inside the region, and is not a network output → pointwise⟨program⟩(region inputs).
 * Regions grow backwards from their sinks, so they are in-trees: one output, any number of
 * inputs (an input may feed several of its layers, as x in x * sigmoid(x)).
 * Identity relied on: pointwise ops act index by index, so evaluating every layer at the sink's
 * output index (inputs broadcast to the sink's shape) gives the sink's values; intermediates stay
 * in registers instead of memory. A scale layer (x * scale + shift) ^ power becomes prod, sum and
 * pow instructions, its per-channel weights viewed as [C, 1, ..., 1].
 */
import type { DType } from '../../tensor/dtype.js';
import type { PointwiseInstr } from '../plan.js';
import { scaleWeightView } from '../reference/layers_pointwise.js';
import type { BNode, BuildGraph, BValue, PassLog } from './build_graph.js';

const POINTWISE_KINDS = new Set(['elementwise', 'unary', 'activation', 'scale', 'cast']);

function isPointwise(n: BNode): boolean {
  return POINTWISE_KINDS.has(n.kind);
}

/** Builds the program of a region (members in topological order). */
class ProgramBuilder {
  readonly inputs: BValue[] = [];
  readonly views: (number[] | null)[] = [];
  readonly instrs: PointwiseInstr[] = [];
  readonly #registers = new Map<BValue, number>();
  readonly #inputRegisters: { value: BValue; view: string; register: number }[] = [];

  /** The register holding `v` (a region input slot the first time an outside value is read). */
  read(v: BValue, view: number[] | null = null): number {
    const inner = this.#registers.get(v);
    if (inner !== undefined && view === null) return inner;
    const key = view === null ? '' : view.join(',');
    const known = this.#inputRegisters.find((r) => r.value === v && r.view === key);
    if (known) return known.register;
    this.inputs.push(v);
    this.views.push(view);
    const register = this.inputs.length - 1;
    this.#inputRegisters.push({ value: v, view: key, register });
    return register;
  }

  emit(ins: PointwiseInstr, out: BValue | null): number {
    this.instrs.push(ins);
    const reg = -this.instrs.length; // placeholder: input slots are numbered first
    if (out) this.#registers.set(out, reg);
    return reg;
  }

  /** The program with instruction registers renumbered after the input slots. */
  finish(): { views: (number[] | null)[]; instrs: PointwiseInstr[] } {
    const n = this.inputs.length;
    const fix = (r: number): number => (r < 0 ? n + (-r - 1) : r);
    const instrs = this.instrs.map((ins): PointwiseInstr =>
      ins.op === 'elementwise' ? { ...ins, args: [fix(ins.args[0]), fix(ins.args[1])] } : { ...ins, args: [fix(ins.args[0])] });
    return { views: this.views, instrs };
  }
}

/** Emits the instructions of one member layer. */
function emitMember(b: ProgramBuilder, n: BNode): void {
  const out = n.outputs[0]!;
  const dtype: DType = out.dtype;
  switch (n.kind) {
    case 'elementwise':
      b.emit({ op: 'elementwise', fn: n.params.op, args: [b.read(n.inputs[0]!), b.read(n.inputs[1]!)], dtype }, out);
      return;
    case 'unary':
      b.emit({ op: 'unary', fn: n.params.op, args: [b.read(n.inputs[0]!)], dtype }, out);
      return;
    case 'activation':
      b.emit({ op: 'activation', fn: n.params.op, alpha: n.params.alpha, beta: n.params.beta, args: [b.read(n.inputs[0]!)], dtype }, out);
      return;
    case 'cast':
      b.emit({ op: 'cast', args: [b.read(n.inputs[0]!)], dtype }, out);
      return;
    case 'scale': {
      const x = n.inputs[0]!;
      let acc = b.read(x);
      const fns = ['prod', 'sum', 'pow'] as const;
      const present = fns.map((_, i) => n.inputs[i + 1]).filter((w): w is BValue => w !== undefined);
      present.forEach((w, i) => {
        const view = scaleWeightView(n.params.mode, n.params.channelAxis, x.shape.length, w.shape);
        const isLast = i === present.length - 1;
        acc = b.emit({ op: 'elementwise', fn: fns[i]!, args: [acc, b.read(w, view)], dtype }, isLast ? out : null);
      });
      if (present.length === 0) b.emit({ op: 'cast', args: [acc], dtype }, out);
      return;
    }
    default:
      throw new Error(`pointwise fusion: layer '${n.name}' (${n.kind}) is not pointwise`);
  }
}

/** Fuses pointwise regions of two or more layers. Returns the number of regions fused. */
export function fusePointwise(g: BuildGraph, _log: PassLog): number {
  const nodes = g.nodes;
  const regionOf = new Map<BNode, BNode[]>();
  const regions: BNode[][] = [];
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i]!;
    if (!isPointwise(n)) continue;
    const out = n.outputs[0]!;
    const readers = g.consumers(out);
    // A scale weight joins no region: it is read through a view, which registers cannot express.
    const reader = readers.length === 1 && !g.isGraphOutput(out) ? readers[0]! : null;
    const joined = reader && !(reader.kind === 'scale' && reader.inputs[0] !== out) ? regionOf.get(reader) : undefined;
    if (joined) {
      joined.push(n);
      regionOf.set(n, joined);
    } else {
      const region = [n];
      regions.push(region);
      regionOf.set(n, region);
    }
  }
  let count = 0;
  for (const region of regions) {
    if (region.length < 2) continue;
    const sink = region[0]!;
    const members = [...region].reverse(); // topological order
    const b = new ProgramBuilder();
    for (const m of members) emitMember(b, m);
    const program = b.finish();
    g.addNodeProducing(sink, {
      kind: 'pointwise', name: sink.name, inputs: b.inputs, program, layers: members.flatMap((m) => m.layers), rule: 'pointwiseFusion',
    }, sink.outputs);
    for (const m of region) g.removeNode(m);
    count++;
  }
  g.compact();
  return count;
}
