/**
 * GELU pattern: the decomposed GELU of exporters becomes one activation kernel.
 *
 * Patterns → replacement (products in any order and grouping; the 1/2 as a factor or a final / 2):
 *   x * 0.5 * (1 + erf(x * 0.70710678))                         → gelu_erf(x)
 *   x * 0.5 * (1 + erf(x / 1.41421356))                         → gelu_erf(x)
 *   x * 0.5 * (1 + tanh(0.79788456 * (x + 0.044715 * x³)))      → gelu_tanh(x)    (x³ as pow(x, 3) or x*x*x)
 * Identity: GELU(x) = x Φ(x) = x/2 (1 + erf(x / √2)), and its tanh approximation with √(2/π).
 * Every intermediate must be read only by the pattern.
 */
import { isFloating } from '../../tensor/dtype.js';
import type { BNode, BuildGraph, BValue, PassLog } from './build_graph.js';
import { elementwiseOf, isInternal, isScalar, producerOf, productFactors, removeMatched } from './matchers.js';

const INV_SQRT2 = Math.SQRT1_2;
const SQRT2 = Math.SQRT2;
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const TANH_COEFF = 0.044715;

interface Match {
  readonly x: BValue;
  readonly fn: 'gelu_erf' | 'gelu_tanh';
  readonly nodes: BNode[];
}

/** `1 + f(...)` (either order), returning f's node, or null. */
function onePlus(g: BuildGraph, v: BValue, kind: 'erf' | 'tanh'): { inner: BNode; nodes: BNode[] } | null {
  const sum = elementwiseOf(v, 'sum');
  if (!sum || !isInternal(g, v)) return null;
  const [a, b] = sum.inputs as [BValue, BValue];
  const f = isScalar(a, 1) ? b : isScalar(b, 1) ? a : null;
  if (!f || !isInternal(g, f)) return null;
  const inner = kind === 'erf' ? producerOf(f, 'unary') : producerOf(f, 'activation');
  if (!inner) return null;
  if (inner.kind === 'unary' && inner.params.op !== 'erf') return null;
  if (inner.kind === 'activation' && inner.params.op !== 'tanh') return null;
  return { inner, nodes: [sum, inner] };
}

/** erf's argument: x * (1/√2) or x / √2, returning x. */
function erfArgument(g: BuildGraph, u: BValue): { x: BValue; nodes: BNode[] } | null {
  if (!isInternal(g, u)) return null;
  const div = elementwiseOf(u, 'div');
  if (div && isScalar(div.inputs[1]!, SQRT2)) return { x: div.inputs[0]!, nodes: [div] };
  const { leaves, nodes } = productFactors(g, u);
  if (leaves.length !== 2 || nodes.length !== 1) return null;
  const x = isScalar(leaves[0]!, INV_SQRT2) ? leaves[1]! : isScalar(leaves[1]!, INV_SQRT2) ? leaves[0]! : null;
  return x ? { x, nodes } : null;
}

/** tanh's argument: √(2/π) * (x + 0.044715 * x³), returning x. */
function tanhArgument(g: BuildGraph, u: BValue): { x: BValue; nodes: BNode[] } | null {
  if (!isInternal(g, u)) return null;
  const outer = productFactors(g, u);
  if (outer.leaves.length !== 2) return null;
  const inner = isScalar(outer.leaves[0]!, SQRT_2_OVER_PI) ? outer.leaves[1]! : isScalar(outer.leaves[1]!, SQRT_2_OVER_PI) ? outer.leaves[0]! : null;
  const sum = inner ? elementwiseOf(inner, 'sum') : null;
  if (!inner || !sum || !isInternal(g, inner)) return null;
  for (const [x, cubic] of [[sum.inputs[0]!, sum.inputs[1]!], [sum.inputs[1]!, sum.inputs[0]!]] as const) {
    if (!isInternal(g, cubic)) continue;
    const term = productFactors(g, cubic);
    const rest = term.leaves.filter((l) => !isScalar(l, TANH_COEFF));
    if (rest.length !== term.leaves.length - 1) continue;
    const nodes = [...outer.nodes, sum, ...term.nodes];
    if (rest.length === 3 && rest.every((l) => l === x)) return { x, nodes };
    const pow = rest.length === 1 ? elementwiseOf(rest[0]!, 'pow') : null;
    if (pow && pow.inputs[0] === x && isScalar(pow.inputs[1]!, 3) && isInternal(g, rest[0]!)) return { x, nodes: [...nodes, pow] };
  }
  return null;
}

/** The GELU whose result is `root`, or null. */
function match(g: BuildGraph, root: BNode): Match | null {
  const out = root.outputs[0]!;
  if (root.kind !== 'elementwise' || !isFloating(out.dtype)) return null;
  let product = out;
  const nodes: BNode[] = [];
  let half = false;
  if (root.params.op === 'div' && isScalar(root.inputs[1]!, 2) && isInternal(g, root.inputs[0]!)) {
    product = root.inputs[0]!;
    nodes.push(root);
    half = true;
  } else if (root.params.op !== 'prod') return null;
  const factors = productFactors(g, product);
  let leaves = factors.leaves;
  if (!half) {
    const h = leaves.findIndex((l) => isScalar(l, 0.5));
    if (h < 0) return null;
    leaves = leaves.filter((_, i) => i !== h);
  }
  if (leaves.length !== 2) return null;
  for (const [x, s] of [[leaves[0]!, leaves[1]!], [leaves[1]!, leaves[0]!]] as const) {
    for (const kind of ['erf', 'tanh'] as const) {
      const one = onePlus(g, s, kind);
      if (!one) continue;
      const arg = kind === 'erf' ? erfArgument(g, one.inner.inputs[0]!) : tanhArgument(g, one.inner.inputs[0]!);
      if (arg && arg.x === x) {
        return { x, fn: kind === 'erf' ? 'gelu_erf' : 'gelu_tanh', nodes: [...nodes, ...factors.nodes, ...one.nodes, ...arg.nodes] };
      }
    }
  }
  return null;
}

/** Replaces decomposed GELUs by activation layers. Returns the number replaced. */
export function fuseGeluPatterns(g: BuildGraph, _log: PassLog): number {
  let count = 0;
  const nodes = g.nodes;
  for (let i = nodes.length - 1; i >= 0; i--) {
    const root = nodes[i]!;
    if (!g.has(root)) continue;
    const m = match(g, root);
    if (!m || new Set(m.nodes).size !== m.nodes.length) continue;
    const out = root.outputs[0]!;
    g.addNodeProducing(root, {
      kind: 'activation', name: root.name, inputs: [m.x], params: { op: m.fn, alpha: 0, beta: 0 }, epilogue: [],
      layers: [...m.nodes].sort((a, b) => a.id - b.id).flatMap((n) => n.layers), rule: 'geluPattern',
    }, [out]);
    removeMatched(g, m.nodes);
    count++;
  }
  g.compact();
  return count;
}
