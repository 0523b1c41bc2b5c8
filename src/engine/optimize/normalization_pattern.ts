/**
 * Normalization pattern: a decomposed layer normalization becomes one normalization kernel.
 *
 * Pattern → replacement (A = the reduced axes, reductions keep their dims; gamma, beta constants):
 *   d = x - mean_A(x);  v = mean_A(d * d | d ^ 2);  n = d / sqrt(v + eps) | d * rsqrt(v + eps)
 *   [n * gamma] [+ beta]                      → normalization_A(x, gamma | 1, beta | 0, eps)
 * Identity: the normalization layer computes (x - mean) / sqrt(biased var + eps) * scale + bias
 * over A, with the variance as the mean of squared deviations (two passes), the same function.
 * d is read by the square and the normalization only; every other intermediate by the pattern only.
 */
import { isFloating } from '../../tensor/dtype.js';
import { Tensor } from '../../tensor/tensor.js';
import type { BNode, BuildGraph, BValue, PassLog } from './build_graph.js';
import { elementwiseOf, isInternal, isScalar, otherOperand, producerOf, removeMatched, scalarConstant } from './matchers.js';

interface Match {
  readonly x: BValue;
  readonly axes: readonly number[];
  readonly eps: number;
  readonly gamma: BValue | null;
  readonly beta: BValue | null;
  readonly nodes: BNode[];
}

/** mean over A (keepDims) producing `v`: its input and axes. */
function meanOf(v: BValue): { node: BNode; input: BValue; axes: readonly number[] } | null {
  const r = producerOf(v, 'reduce');
  if (!r || r.params.op !== 'avg' || !r.params.keepDims) return null;
  return { node: r, input: r.inputs[0]!, axes: r.params.axes };
}

function sameAxes(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && [...a].sort().every((v, i) => v === [...b].sort()[i]);
}

/** d / sqrt(v + eps) or d * rsqrt(v + eps) or d * (1 / sqrt(v + eps)) producing `n`: d, v, eps. */
function normalized(g: BuildGraph, n: BValue): { d: BValue; v: BValue; eps: number; nodes: BNode[] } | null {
  let d: BValue;
  let root: BValue;
  const nodes: BNode[] = [];
  const div = elementwiseOf(n, 'div');
  const prod = elementwiseOf(n, 'prod');
  if (div) {
    [d, root] = div.inputs as [BValue, BValue];
    const sqrt = producerOf(root, 'unary');
    if (!sqrt || sqrt.params.op !== 'sqrt' || !isInternal(g, root)) return null;
    nodes.push(div, sqrt);
    root = sqrt.inputs[0]!;
  } else if (prod) {
    const r = prod.inputs.find((t) => producerOf(t, 'unary')?.params.op === 'rsqrt' || producerOf(t, 'unary')?.params.op === 'recip');
    if (!r || !isInternal(g, r)) return null;
    d = otherOperand(prod, r)!;
    const u = producerOf(r, 'unary')!;
    nodes.push(prod, u);
    root = u.inputs[0]!;
    if (u.params.op === 'recip') {
      const sqrt = producerOf(root, 'unary');
      if (!sqrt || sqrt.params.op !== 'sqrt' || !isInternal(g, root)) return null;
      nodes.push(sqrt);
      root = sqrt.inputs[0]!;
    }
  } else return null;
  const add = elementwiseOf(root, 'sum');
  if (!d || !add || !isInternal(g, root)) return null;
  const [a, b] = add.inputs as [BValue, BValue];
  const epsA = scalarConstant(a);
  const epsB = scalarConstant(b);
  const [v, eps] = epsB !== null ? [a, epsB] : epsA !== null ? [b, epsA] : [null, null];
  if (v === null || eps === null || !(eps >= 0)) return null;
  return { d, v, eps, nodes: [...nodes, add] };
}

function match(g: BuildGraph, root: BNode): Match | null {
  let out = root.outputs[0]!;
  if (root.kind !== 'elementwise' || !isFloating(out.dtype)) return null;
  const nodes: BNode[] = [];
  let beta: BValue | null = null;
  let gamma: BValue | null = null;
  const add = elementwiseOf(out, 'sum');
  if (add) {
    const c = add.inputs.find((t) => t.constant !== null) ?? null;
    const other = c ? otherOperand(add, c) : null;
    if (c && other && isInternal(g, other)) {
      beta = c;
      nodes.push(add);
      out = other;
    }
  }
  const mul = elementwiseOf(out, 'prod');
  if (mul) {
    const c = mul.inputs.find((t) => t.constant !== null) ?? null;
    const other = c ? otherOperand(mul, c) : null;
    if (c && other && (nodes.length === 0 || isInternal(g, out)) && isInternal(g, other)) {
      gamma = c;
      nodes.push(mul);
      out = other;
    }
  }
  if (nodes.length > 0 && !isInternal(g, out)) return null;
  const norm = normalized(g, out);
  if (!norm) return null;
  const sq = meanOf(norm.v);
  if (!sq || !isInternal(g, norm.v) || !isInternal(g, sq.input)) return null;
  const square = elementwiseOf(sq.input, 'prod') ?? elementwiseOf(sq.input, 'pow');
  if (!square) return null;
  const squares = square.params.op === 'prod' ? square.inputs[0] === norm.d && square.inputs[1] === norm.d : square.inputs[0] === norm.d && isScalar(square.inputs[1]!, 2);
  const sub = elementwiseOf(norm.d, 'sub');
  const mean = sub ? meanOf(sub.inputs[1]!) : null;
  if (!squares || !sub || !mean || mean.input !== sub.inputs[0] || !sameAxes(mean.axes, sq.axes) || !isInternal(g, sub.inputs[1]!)) return null;
  const readers = new Set(g.uses(norm.d));
  if (readers.size !== 2 || !readers.has(square) || g.isGraphOutput(norm.d)) return null;
  const x = sub.inputs[0]!;
  for (const w of [gamma, beta]) {
    if (w && (w.shape.length > x.shape.length || w.shape.some((d, i) => d !== 1 && d !== x.shape[x.shape.length - w.shape.length + i]))) return null;
  }
  return { x, axes: mean.axes, eps: norm.eps, gamma, beta, nodes: [...nodes, ...norm.nodes, sq.node, square, sub, mean.node] };
}

/** A constant of x's rank broadcasting like `w` (leading 1s), or `fill` everywhere. */
function affineConstant(g: BuildGraph, w: BValue | null, x: BValue, fill: number, name: string): BValue {
  const rank = x.shape.length;
  if (w === null) return g.addConstant(Tensor.full(new Array<number>(rank).fill(1), fill, x.dtype), name);
  const shape = [...new Array<number>(rank - w.shape.length).fill(1), ...w.shape];
  return w.shape.length === rank ? w : g.addConstant(w.constant!.withShape(shape), name);
}

/** Replaces decomposed layer normalizations by normalization layers. Returns the number replaced. */
export function fuseNormalizationPatterns(g: BuildGraph, _log: PassLog): number {
  let count = 0;
  const nodes = g.nodes;
  for (let i = nodes.length - 1; i >= 0; i--) {
    const root = nodes[i]!;
    if (!g.has(root)) continue;
    const m = match(g, root);
    if (!m || new Set(m.nodes).size !== m.nodes.length) continue;
    const scale = affineConstant(g, m.gamma, m.x, 1, `${root.name}_scale`);
    const bias = affineConstant(g, m.beta, m.x, 0, `${root.name}_bias`);
    g.addNodeProducing(root, {
      kind: 'normalization', name: root.name, inputs: [m.x, scale, bias], params: { axes: [...m.axes].sort((a, b) => a - b), eps: m.eps, numGroups: 1 },
      epilogue: [], layers: [...m.nodes].sort((a, b) => a.id - b.id).flatMap((n) => n.layers), rule: 'normalizationPattern',
    }, [root.outputs[0]!]);
    removeMatched(g, m.nodes);
    count++;
  }
  g.compact();
  return count;
}
