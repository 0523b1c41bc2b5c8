/**
 * How the CUDA backend runs an einsum, decided from the equation and the operand shapes alone
 * (so that scratch sizes can be planned at load for every profile shape):
 *
 *   - one operand, no repeated label: a strided copy (a permutation), or the reduce kernel when
 *     labels are summed away;
 *   - two operands forming a plain contraction (no diagonal, no label summed within one operand,
 *     no size-1 broadcasting): a batched GEMM [batch, m, k] x [batch, k, n] -> [batch, m, n] on
 *     cuBLASLt, each operand read in place when its labels already come in that order (or the
 *     transposed one) and otherwise first copied into it, the result written in place when the
 *     output's labels come as batch, rows, cols and otherwise copied into the output;
 *   - everything else: the generic einsum kernel.
 *
 * Labels follow the reference (src/kernels/reference/linalg.ts): 'A'-'Z' are 0-25, 'a'-'z'
 * 26-51, the dims an ellipsis stands for 52+ (right-aligned, broadcast); the implicit output is
 * the ellipsis dims then the labels used once, in label order. Size-1 labels are left out of a
 * GEMM's arrangement: they change no offset.
 */
import type { LayerStepOf, Plan } from '../../../engine/plan.js';
import { itemSize } from '../../../tensor/dtype.js';
import { numelOf } from '../../../tensor/shape.js';

const ELLIPSIS = -1;
const ELLIPSIS_BASE = 52;

/** Operands the generic kernel takes at most (native kMaxEinsumOperands). */
export const EINSUM_MAX_OPERANDS = 8;
/** Output dims and summed dims the generic kernel takes at most, each after merging (native kMaxRank). */
export const EINSUM_MAX_DIMS = 8;

/** An equation's terms as written: labels per operand and of the output (null: implicit), '...' as ELLIPSIS. */
interface EinsumTerms {
  readonly inputs: readonly (readonly number[])[];
  readonly output: readonly number[] | null;
}

function parseTerm(equation: string, term: string): number[] {
  const labels: number[] = [];
  for (let i = 0; i < term.length; i++) {
    const c = term.charCodeAt(i);
    if (c >= 65 && c <= 90) labels.push(c - 65);
    else if (c >= 97 && c <= 122) labels.push(c - 97 + 26);
    else if (term.startsWith('...', i)) {
      labels.push(ELLIPSIS);
      i += 2;
    } else {
      throw new SyntaxError(`einsum equation '${equation}': invalid subscript '${term[i]}'`);
    }
  }
  return labels;
}

function parseTerms(equation: string): EinsumTerms {
  const eq = equation.replace(/\s+/g, '');
  const arrow = eq.indexOf('->');
  const lhs = arrow < 0 ? eq : eq.slice(0, arrow);
  return {
    inputs: lhs.split(',').map((t) => parseTerm(equation, t)),
    output: arrow < 0 ? null : parseTerm(equation, eq.slice(arrow + 2)),
  };
}

/** The implicit output: the ellipsis (dims `ellipsis`) first, then the labels used exactly once, in label order. */
function implicitOutput(inputs: readonly (readonly number[])[], ellipsis: readonly number[]): number[] {
  const count = new Map<number, number>();
  for (const term of inputs) for (const l of term) if (l !== ELLIPSIS) count.set(l, (count.get(l) ?? 0) + 1);
  return [...ellipsis, ...[...count.keys()].filter((l) => count.get(l) === 1).sort((a, b) => a - b)];
}

/** An einsum against concrete operand shapes: each dim's label (ellipsis expanded) and each label's size. */
export interface EinsumLabels {
  readonly terms: readonly (readonly number[])[];
  readonly output: readonly number[];
  readonly sizes: ReadonlyMap<number, number>;
  readonly shapes: readonly (readonly number[])[];
}

/** Labels of `equation` over operands of `shapes` (the equation was validated when the layer was added). */
export function einsumLabels(equation: string, shapes: readonly (readonly number[])[]): EinsumLabels {
  const parsed = parseTerms(equation);
  if (parsed.inputs.length !== shapes.length) {
    throw new RangeError(`einsum equation '${equation}' has ${parsed.inputs.length} operand terms, got ${shapes.length} operands`);
  }
  const ellDims = parsed.inputs.map((t, i) => shapes[i]!.length - t.filter((l) => l !== ELLIPSIS).length);
  const ellRank = Math.max(0, ...ellDims);
  const ellLabels = Array.from({ length: ellRank }, (_, j) => ELLIPSIS_BASE + j);
  const terms = parsed.inputs.map((t, i) => t.flatMap((l) => (l === ELLIPSIS ? ellLabels.slice(ellRank - ellDims[i]!) : [l])));
  const sizes = new Map<number, number>();
  terms.forEach((t, i) => t.forEach((l, d) => {
    const prev = sizes.get(l);
    if (prev === undefined || prev === 1) sizes.set(l, shapes[i]![d]!);
  }));
  const output = parsed.output === null
    ? implicitOutput(parsed.inputs, ellLabels)
    : parsed.output.flatMap((l) => (l === ELLIPSIS ? ellLabels : [l]));
  return { terms, output, sizes, shapes };
}

/** A two-operand contraction as one batched GEMM: out[batch, rows, cols] = a[batch, rows, inner] · b[batch, inner, cols]. */
export interface GemmArrangement {
  /** Operand positions of the GEMM's a and b. */
  readonly a: number;
  readonly b: number;
  /** Labels of each group, in the order the GEMM lays them out. */
  readonly batch: readonly number[];
  readonly rows: readonly number[];
  readonly inner: readonly number[];
  readonly cols: readonly number[];
  /** a is stored [batch, inner, rows] (b: [batch, cols, inner]). */
  readonly transA: boolean;
  readonly transB: boolean;
  /** The operand is first copied into [batch, rows, inner] (b: [batch, inner, cols]). */
  readonly copyA: boolean;
  readonly copyB: boolean;
  /** The GEMM writes a scratch [batch, rows, cols] that is then copied into the output. */
  readonly copyOut: boolean;
}

/** What runs an einsum. */
export type EinsumLowering =
  /** One operand whose labels are the output's, permuted. */
  | { readonly kind: 'copy' }
  /** One operand summed over `summed` (the reduce kernel). */
  | { readonly kind: 'reduce'; readonly summed: readonly number[] }
  | { readonly kind: 'gemm'; readonly gemm: GemmArrangement }
  /** The generic kernel, summing over `summed`. */
  | { readonly kind: 'generic'; readonly summed: readonly number[] };

type Kind = EinsumLowering['kind'];

/** The kind of lowering for terms without size-1 labels and without broadcasting. */
function classify(terms: readonly (readonly number[])[], output: readonly number[]): Kind {
  if (terms.length > 2 || terms.some((t) => new Set(t).size !== t.length)) return 'generic';
  const [a, b] = terms as [readonly number[], readonly number[] | undefined];
  if (b === undefined) return a.every((l) => output.includes(l)) ? 'copy' : 'reduce';
  const summedWithin = (x: readonly number[], y: readonly number[]): boolean => x.some((l) => !y.includes(l) && !output.includes(l));
  return summedWithin(a, b) || summedWithin(b, a) ? 'generic' : 'gemm';
}

function sameLabels(x: readonly number[], y: readonly number[]): boolean {
  return x.length === y.length && x.every((l, i) => l === y[i]);
}

/** The labels of `seq` that are in `set`, in seq's order. */
function ordered(seq: readonly number[], set: readonly number[]): number[] {
  return seq.filter((l) => set.includes(l));
}

/** Distinct orders among `orders`. */
function distinct(orders: readonly (readonly number[])[]): (readonly number[])[] {
  const out: (readonly number[])[] = [];
  for (const o of orders) if (!out.some((p) => sameLabels(p, o))) out.push(o);
  return out;
}

/** 'direct' when `seq` is g1 g2 g3, 'transposed' when it is g1 g3 g2, else null (needs a copy). */
function form(seq: readonly number[], g1: readonly number[], g2: readonly number[], g3: readonly number[]): 'direct' | 'transposed' | null {
  if (sameLabels(seq, [...g1, ...g2, ...g3])) return 'direct';
  if (sameLabels(seq, [...g1, ...g3, ...g2])) return 'transposed';
  return null;
}

/**
 * The GEMM arrangement copying the fewest elements: either operand as a, each group's label
 * order taken from an operand or the output.
 */
function arrangeGemm(terms: readonly (readonly number[])[], output: readonly number[], sizes: ReadonlyMap<number, number>): GemmArrangement {
  const numel = (labels: readonly number[]): number => labels.reduce((n, l) => n * sizes.get(l)!, 1);
  let best: { cost: number; gemm: GemmArrangement } | null = null;
  for (const [ai, bi] of [[0, 1], [1, 0]] as const) {
    const a = terms[ai]!;
    const b = terms[bi]!;
    const batchSet = a.filter((l) => b.includes(l) && output.includes(l));
    const innerSet = a.filter((l) => b.includes(l) && !output.includes(l));
    const rowSet = a.filter((l) => !b.includes(l));
    const colSet = b.filter((l) => !a.includes(l));
    for (const batch of distinct([ordered(a, batchSet), ordered(b, batchSet), ordered(output, batchSet)])) {
      for (const rows of distinct([ordered(a, rowSet), ordered(output, rowSet)])) {
        for (const inner of distinct([ordered(a, innerSet), ordered(b, innerSet)])) {
          for (const cols of distinct([ordered(b, colSet), ordered(output, colSet)])) {
            const fa = form(a, batch, rows, inner);
            const fb = form(b, batch, inner, cols);
            const outDirect = sameLabels(output, [...batch, ...rows, ...cols]);
            const cost = (fa === null ? numel(a) : 0) + (fb === null ? numel(b) : 0) + (outDirect ? 0 : numel(output));
            if (best !== null && cost >= best.cost) continue;
            best = {
              cost,
              gemm: {
                a: ai, b: bi, batch, rows, inner, cols,
                transA: fa === 'transposed', transB: fb === 'transposed',
                copyA: fa === null, copyB: fb === null, copyOut: !outDirect,
              },
            };
          }
        }
      }
    }
  }
  return best!.gemm;
}

/**
 * How to run `labels`' einsum.
 * @example
 *   planEinsum(einsumLabels('bhqd,bhkd->bhqk', [[2, 4, 8, 16], [2, 4, 8, 16]]))
 *   // { kind: 'gemm', gemm: { a: 0, b: 1, batch: [27, 33] (b, h), rows: [42] (q), inner: [29] (d), cols: [36] (k),
 *   //   transA: false, transB: true, copyA: false, copyB: false, copyOut: false } }
 */
export function planEinsum(labels: EinsumLabels): EinsumLowering {
  const { terms, output, sizes, shapes } = labels;
  const summed = [...new Set(terms.flat())].filter((l) => !output.includes(l));
  const broadcast = terms.some((t, i) => t.some((l, d) => shapes[i]![d] === 1 && sizes.get(l) !== 1));
  if (broadcast) return { kind: 'generic', summed };
  const wide = (t: readonly number[]): number[] => t.filter((l) => sizes.get(l) !== 1);
  const effective = terms.map(wide);
  const out = wide(output);
  switch (classify(effective, out)) {
    case 'copy': return { kind: 'copy' };
    case 'reduce': return { kind: 'reduce', summed };
    case 'gemm': return { kind: 'gemm', gemm: arrangeGemm(effective, out, sizes) };
    case 'generic': return { kind: 'generic', summed };
  }
}

/**
 * Scratch bytes of an einsum step at value shapes `shapes`: the copies of a, b and of the GEMM's
 * result (0 when not needed; always three entries, so every profile shape has the same regions).
 */
export function einsumScratchBytes(step: LayerStepOf<'einsum'>, plan: Plan, shapes: readonly (readonly number[])[]): number[] {
  const operandShapes = step.inputs.map((id) => shapes[id]!);
  const lowering = planEinsum(einsumLabels(step.params.equation, operandShapes));
  if (lowering.kind !== 'gemm') return [0, 0, 0];
  const g = lowering.gemm;
  const item = itemSize(plan.values[step.outputs[0]!]!.dtype);
  return [
    g.copyA ? numelOf(operandShapes[g.a]!) * item : 0,
    g.copyB ? numelOf(operandShapes[g.b]!) * item : 0,
    g.copyOut ? numelOf(shapes[step.outputs[0]!]!) * item : 0,
  ];
}

/**
 * The implementation family of an einsum from its equation alone (what the builder records as
 * the step's tactic; the operand shapes can still send a contraction to the generic kernel when
 * a size-1 dim broadcasts).
 * @example einsumTactic('bij,bjk->bik') // 'cublaslt batched gemm (+ strided copies)'
 */
export function einsumTactic(equation: string): string {
  const parsed = parseTerms(equation);
  const hasEllipsis = parsed.inputs.some((t) => t.includes(ELLIPSIS));
  const output = parsed.output ?? implicitOutput(parsed.inputs, hasEllipsis ? [ELLIPSIS] : []);
  switch (classify(parsed.inputs, output)) {
    case 'copy': return 'strided copy';
    case 'reduce': return 'reduce kernel (sum)';
    case 'gemm': return 'cublaslt batched gemm (+ strided copies)';
    case 'generic': return 'generic einsum kernel';
  }
}
