import type { GraphModule } from '../ir/graph_module.js';
import { isNode, type AnyNode, type TensorMeta } from '../ir/node.js';
import { shapesEqual } from '../tensor/shape.js';
import { accOpName, definePass, tensorMetaOf } from './pass_manager.js';

/** A rewrite `node → one of its inputs`, valid under the identity in `identity`. */
interface NoOpRule {
  readonly ops: readonly string[];
  readonly identity: string;
  /** The input the node's value equals, or undefined when the rule does not apply. */
  readonly match: (n: AnyNode, ctx: RuleContext) => AnyNode | undefined;
}

interface RuleContext {
  /** For a reshape-like node: the first value of its chain of reshape-like ops. */
  readonly viewOrigin: ReadonlyMap<AnyNode, AnyNode>;
}

/** Ops that keep the row-major element order and only change the shape. */
const VIEW_OPS = new Set(['reshape', 'flatten', 'squeeze', 'unsqueeze']);

/** Same shape, same dtype, no quantization parameters (which a rewrite would have to keep). */
function sameValueType(a: TensorMeta | undefined, b: TensorMeta | undefined): boolean {
  return a !== undefined && b !== undefined && a.dtype === b.dtype && shapesEqual(a.shape, b.shape) &&
    a.qparams === undefined && b.qparams === undefined;
}

/** The node argument `key`, when it is a node. */
function nodeArg(n: AnyNode, key: string): AnyNode | undefined {
  const a = n.kwargs[key];
  return isNode(a) ? a : undefined;
}

/** `input` when the node's output has the input's shape and dtype (by recorded metadata). */
function unchanged(n: AnyNode): AnyNode | undefined {
  const x = nodeArg(n, 'input');
  return x && sameValueType(tensorMetaOf(n), tensorMetaOf(x)) ? x : undefined;
}

/** `x op c` with the literal `c` equal to `neutral`, when the output has x's shape and dtype. */
function withNeutral(n: AnyNode, neutral: number): AnyNode | undefined {
  const other = n.kwargs['other'];
  if (typeof other !== 'number' || other !== neutral) return undefined;
  // An int x divided by 1 is a float, a bool x times 1 an int64: the recorded output dtype tells.
  return unchanged(n);
}

const RULES: readonly NoOpRule[] = [
  { ops: ['dropout'], identity: 'dropout(x, training=false) → x',
    match: (n) => (n.kwargs['training'] === true ? undefined : nodeArg(n, 'input')) },
  { ops: [...VIEW_OPS], identity: 'reshape-like chain back to its origin shape → origin (row-major order is kept)',
    match: (n, ctx) => {
      const origin = ctx.viewOrigin.get(n);
      if (origin && sameValueType(tensorMetaOf(n), tensorMetaOf(origin))) return origin;
      return unchanged(n);
    } },
  { ops: ['expand'], identity: 'expand(x, shape(x)) → x', match: unchanged },
  { ops: ['to_dtype'], identity: 'to_dtype(x, dtype(x)) → x', match: unchanged },
  { ops: ['permute'], identity: 'permute(x, [0, 1, ..., r-1]) → x',
    match: (n) => {
      const perm = n.kwargs['permutation'];
      if (!Array.isArray(perm)) return undefined;
      const r = perm.length;
      const identity = perm.every((p: unknown, i) => typeof p === 'number' && (p < 0 ? p + r : p) === i);
      return identity ? nodeArg(n, 'input') : undefined;
    } },
  { ops: ['slice'], identity: 'slice(x, d, start, end, step=1) → x when it keeps all of dim d',
    match: (n) => {
      const step = n.kwargs['step'];
      return step === undefined || step === 1 ? unchanged(n) : undefined;
    } },
  { ops: ['mul'], identity: 'x * 1 → x', match: (n) => withNeutral(n, 1) },
  { ops: ['add'], identity: 'x + 0 → x', match: (n) => withNeutral(n, 0) },
  { ops: ['sub'], identity: 'x - 0 → x', match: (n) => withNeutral(n, 0) },
  { ops: ['div'], identity: 'x / 1 → x (true division only)',
    match: (n) => {
      const mode = n.kwargs['rounding_mode'];
      return mode === undefined || mode === null ? withNeutral(n, 1) : undefined;
    } },
  { ops: ['cat'], identity: 'cat([x]) → x',
    match: (n) => {
      const ts = n.kwargs['tensors'];
      return Array.isArray(ts) && ts.length === 1 && isNode(ts[0]) ? ts[0] : undefined;
    } },
];

const RULES_BY_OP = new Map<string, NoOpRule>();
for (const r of RULES) for (const op of r.ops) RULES_BY_OP.set(op, r);

/**
 * Removes acc ops that return their input unchanged (a table of identities: eval dropout,
 * same-shape reshape / expand / flatten / squeeze, reshape-like chains that come back to
 * their origin's shape such as unsqueeze → squeeze, same-dtype casts, identity permutes,
 * full slices, x*1, x+0, x-0, x/1 (scalar operands), cat of one tensor). Rules that depend on shapes or
 * dtypes read node.meta.tensorMeta (recorded by accTrace or ShapeProp); a node without it
 * is left alone.
 *
 * @example
 * removeNoOps(gm); // acc.reshape(x, shape: [2, 3]) on a [2, 3] x disappears
 */
export const removeNoOps = definePass('removeNoOps', (gm: GraphModule) => {
  const viewOrigin = new Map<AnyNode, AnyNode>();
  const ctx: RuleContext = { viewOrigin };
  let modified = false;
  for (const n of gm.graph.nodes()) {
    const op = accOpName(n);
    if (op === undefined) continue;
    const rule = RULES_BY_OP.get(op);
    if (rule === undefined) continue;
    if (VIEW_OPS.has(op)) {
      const x = nodeArg(n, 'input');
      if (x) viewOrigin.set(n, viewOrigin.get(x) ?? x);
    }
    const replacement = rule.match(n, ctx);
    if (replacement === undefined) continue;
    n.replaceAllUsesWith(replacement);
    gm.graph.eraseNode(n);
    modified = true;
  }
  return { gm, modified };
});

/** The identities removeNoOps applies, one line each (for documentation and debugging). */
export function noOpIdentities(): string[] {
  return RULES.map((r) => `${r.ops.join('/')}: ${r.identity}`);
}
