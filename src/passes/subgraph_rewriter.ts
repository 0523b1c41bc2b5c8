import { getMethod } from '../acc_ops/dispatch.js';
import { GraphModule } from '../ir/graph_module.js';
import { isNode, mapArgument, Slice, type AnyNode, type Argument } from '../ir/node.js';
import { formatArgument } from '../ir/print.js';
import { bindArgs, isPlainObject, type Signature } from '../ir/signature.js';
import { symbolicTrace } from '../ir/tracer.js';
import { Tensor } from '../tensor/tensor.js';
import { definePass, replaceUsesWith, type NamedPass } from './pass_manager.js';

/**
 * A pattern or replacement: a function traced with symbolicTrace, or an already traced
 * GraphModule. Write it at the level of the graph it rewrites: F functions and tensor
 * methods for a source graph, acc calls (`callFunction(getAccOp('relu'), [{ input: x }])`)
 * for an acc graph; patterns are not converted between levels.
 */
export type PatternSource = ((...args: never[]) => unknown) | GraphModule;

/** One replaced occurrence of a pattern. */
export interface Match {
  /** The graph node that matched the pattern's output (replaced by the replacement's output). */
  readonly anchor: string;
  /** Graph nodes matched by the pattern's operations, in the pattern's order (all erased). */
  readonly nodes: readonly string[];
  /** Pattern parameter → what it matched: `%node` or a literal. */
  readonly bindings: Readonly<Record<string, string>>;
  /** Nodes inlined from the replacement. */
  readonly replacements: readonly string[];
}

/** A traced pattern: its parameters and operations (only those its output depends on), output last. */
interface Traced {
  readonly gm: GraphModule;
  readonly params: readonly AnyNode[];
  readonly ops: readonly AnyNode[];
  readonly output: Argument;
}

/**
 * Replaces every non-overlapping occurrence of `pattern` in `gm` by `replacement` (fx's
 * subgraph_rewriter.replace_pattern). Matching is anchored at the pattern's output and
 * walks back comparing op kind, target and arguments (bound to parameter names, defaults
 * filled, so positional and keyword spellings match); literals must be equal and pattern
 * parameters match any value (the same value wherever a parameter repeats). Nodes inside a
 * match other than the anchor must have no users outside it. The replacement is inlined
 * before the anchor with its parameters bound, positionally, to what the pattern's parameters matched.
 * Occurrences are found in graph order on the graph as given (an occurrence overlapping an
 * earlier one is skipped), then replaced; replacements are never matched again. Patterns are
 * matched at their own level: write acc calls for an acc graph (see PatternSource).
 *
 * @example
 * const relu = (x: Tensor) => callFunction(getAccOp('relu'), [{ input: x }]) as Tensor;
 * const matches = replacePattern(gm, (x: Tensor) => relu(relu(x)), (x: Tensor) => relu(x));
 * matches[0].nodes; // ['relu', 'relu_1']: relu(relu(x)) became one relu
 */
export function replacePattern(gm: GraphModule, pattern: PatternSource, replacement: PatternSource): Match[] {
  const pat = traced(pattern, 'pattern');
  const rep = traced(replacement, 'replacement');
  const anchor = pat.output;
  if (!isNode(anchor) || anchor.op === 'placeholder') {
    throw new Error(`replacePattern: the pattern must return the result of one operation, got ${formatArgument(anchor)}`);
  }
  for (const n of pat.ops) {
    if (n.op === 'get_attr' || n.op === 'call_module') {
      throw new Error(`replacePattern: pattern node '${n.name}' is a ${n.op}; patterns may only contain function and method calls`);
    }
  }
  if (rep.params.length !== pat.params.length) {
    throw new Error(`replacePattern: the replacement takes ${rep.params.length} parameter(s), the pattern ${pat.params.length}; ` +
      'they are bound positionally and must agree');
  }
  // Find every match in the graph as it is, then rewrite; a later match may take an earlier
  // one's anchor as an input, which then reads the earlier replacement.
  const found: [Matcher, AnyNode][] = [];
  const claimed = new Set<AnyNode>();
  for (const candidate of gm.graph.nodes()) {
    if (candidate.op !== anchor.op || candidate.target !== anchor.target) continue;
    const m = new Matcher();
    if (!m.matchNode(anchor, candidate) || !m.isSelfContained(candidate)) continue;
    if ([...m.claimed].some((n) => claimed.has(n))) continue;
    for (const n of m.claimed) claimed.add(n);
    found.push([m, candidate]);
  }
  const replaced = new Map<AnyNode, Argument>();
  return found.map(([m, candidate]) => rewrite(gm, pat, rep, m, candidate, replaced));
}

/**
 * A pass that applies `replacePattern` everywhere.
 *
 * @example
 * const fuse = definePatternPass('doubleReluToRelu', (x: Tensor) => F.relu(F.relu(x)), (x: Tensor) => F.relu(x));
 */
export function definePatternPass(name: string, pattern: PatternSource, replacement: PatternSource): NamedPass {
  return definePass(name, (gm) => ({ gm, modified: replacePattern(gm, pattern, replacement).length > 0 }));
}

function traced(src: PatternSource, what: 'pattern' | 'replacement'): Traced {
  const gm = src instanceof GraphModule ? src : symbolicTrace(src);
  const out = gm.graph.outputNode;
  if (!out) throw new Error(`replacePattern: the ${what} graph has no output`);
  const live = liveNodes(out);
  const params = gm.graph.placeholders;
  // A pattern parameter nothing uses would match nothing; a replacement may ignore one.
  for (const p of what === 'pattern' ? params : []) {
    if (!live.has(p)) throw new Error(`replacePattern: ${what} parameter '${p.name}' is not used by its result`);
  }
  const ops = gm.graph.nodeList().filter((n) => live.has(n) && n.op !== 'placeholder' && n.op !== 'output');
  return { gm, params, ops, output: out.args[0] };
}

/** Nodes the output depends on (walked with an explicit stack). */
function liveNodes(out: AnyNode): Set<AnyNode> {
  const live = new Set<AnyNode>();
  const stack: AnyNode[] = [out];
  while (stack.length) {
    const n = stack.pop()!;
    for (const i of n.allInputNodes) if (!live.has(i)) { live.add(i); stack.push(i); }
  }
  return live;
}

/** Structural matching state for one candidate anchor. */
class Matcher {
  /** Pattern operation → graph node. */
  readonly nodes = new Map<AnyNode, AnyNode>();
  /** Pattern parameter → matched graph value. */
  readonly bindings = new Map<AnyNode, Argument>();
  readonly #claimed = new Set<AnyNode>();

  /** Graph nodes matched by pattern operations. */
  get claimed(): ReadonlySet<AnyNode> { return this.#claimed; }

  matchNode(p: AnyNode, g: Argument): boolean {
    if (p.op === 'placeholder') {
      if (!this.bindings.has(p)) {
        this.bindings.set(p, g);
        return true;
      }
      return sameLiteral(this.bindings.get(p), g);
    }
    if (!isNode(g)) return false;
    const prev = this.nodes.get(p);
    if (prev) return prev === g;
    if (this.#claimed.has(g) || g.op !== p.op || g.target !== p.target) return false;
    this.nodes.set(p, g);
    this.#claimed.add(g);
    const pa = normalizedArgs(p);
    const ga = normalizedArgs(g);
    const keys = Object.keys(pa);
    if (keys.length !== Object.keys(ga).length) return false;
    return keys.every((k) => k in ga && this.matchArg(pa[k], ga[k]));
  }

  matchArg(p: Argument, g: Argument): boolean {
    if (isNode(p)) return this.matchNode(p, g);
    if (Array.isArray(p)) {
      return Array.isArray(g) && p.length === g.length && p.every((x: Argument, i) => this.matchArg(x, g[i]));
    }
    if (p instanceof Slice) return g instanceof Slice && p.start === g.start && p.stop === g.stop && p.step === g.step;
    if (isPlainObject(p)) {
      if (!isPlainObject(g)) return false;
      const keys = Object.keys(p);
      return keys.length === Object.keys(g).length && keys.every((k) => k in g && this.matchArg(toArg(p[k]), toArg(g[k])));
    }
    return sameLiteral(p, g);
  }

  /** No node inside the match (other than the anchor) feeds anything outside it, and no parameter matched an inner node. */
  isSelfContained(anchor: AnyNode): boolean {
    for (const g of this.#claimed) {
      if (g === anchor) continue;
      for (const u of g.users) if (!this.#claimed.has(u)) return false;
    }
    for (const v of this.bindings.values()) if (isNode(v) && this.#claimed.has(v)) return false;
    return true;
  }
}

/** Equal values: nodes by identity, literals structurally (NaN equals NaN). */
function sameLiteral(a: Argument | undefined, b: Argument): boolean {
  if (isNode(a) || isNode(b)) return a === b;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x: Argument, i) => sameLiteral(x, b[i]));
  if (a instanceof Slice) return b instanceof Slice && a.start === b.start && a.stop === b.stop && a.step === b.step;
  if (isPlainObject(a)) {
    if (!isPlainObject(b)) return false;
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => k in b && sameLiteral(toArg(a[k]), toArg(b[k])));
  }
  return Object.is(a, b);
}

/** A node's arguments by parameter name with defaults filled, when its target's signature is known. */
function normalizedArgs(n: AnyNode): Record<string, Argument> {
  let signature: Signature | undefined;
  if (n.op === 'call_function') signature = n.target.signature;
  else if (n.op === 'call_method') signature = getMethod(n.target)?.signature;
  if (signature) {
    try {
      const bound = bindArgs(signature, n.args, n.kwargs, n.name);
      const out: Record<string, Argument> = {};
      for (const [k, v] of Object.entries(bound)) out[k] = toArg(v);
      return out;
    } catch {
      // A call its signature does not accept: compare it as written.
    }
  }
  const out: Record<string, Argument> = {};
  n.args.forEach((a, i) => { out[`#${i}`] = a; });
  for (const [k, v] of Object.entries(n.kwargs)) out[k] = v;
  return out;
}

/** Narrows a value that came out of a node's arguments (or a signature default) back to an Argument. */
function toArg(v: unknown): Argument {
  if (v === null || v === undefined || typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string') return v;
  if (isNode(v) || v instanceof Slice) return v;
  if (Array.isArray(v)) return v.map(toArg);
  if (isPlainObject(v)) {
    const out: Record<string, Argument> = {};
    for (const [k, x] of Object.entries(v)) out[k] = toArg(x);
    return out;
  }
  throw new TypeError(`replacePattern: unexpected argument value ${String(v)}`);
}

/** Inlines the replacement for one match before its anchor and erases the matched nodes. */
function rewrite(gm: GraphModule, pat: Traced, rep: Traced, m: Matcher, anchor: AnyNode, replaced: Map<AnyNode, Argument>): Match {
  const graph = gm.graph;
  const anchorName = anchor.name;
  const bindings: Record<string, string> = {};
  const env = new Map<AnyNode, Argument>();
  pat.params.forEach((p, i) => {
    let v = m.bindings.get(p);
    while (isNode(v) && replaced.has(v)) v = replaced.get(v);
    bindings[p.name] = formatArgument(v);
    env.set(rep.params[i]!, v);
  });
  const matched = pat.ops.map((p) => m.nodes.get(p)!);
  const created: AnyNode[] = [];
  const load = (a: Argument): Argument => mapArgument(a, (n) => {
    if (!env.has(n)) throw new Error(`replacePattern: replacement node '${n.name}' has no value`);
    return env.get(n);
  });
  graph.insertingBefore(anchor, () => {
    for (const r of rep.ops) {
      let n: AnyNode;
      if (r.op === 'get_attr') {
        const value = rep.gm.getAttr(r.target);
        if (!(value instanceof Tensor)) throw new Error(`replacePattern: replacement constant '${r.target}' is not a tensor`);
        n = graph.getAttr(gm.addConstant(r.target, value));
      } else if (r.op === 'call_module') {
        throw new Error(`replacePattern: replacement node '${r.name}' calls module '${r.target}'; replacements may not call modules`);
      } else {
        n = graph.createNode(r.op, r.target, r.args.map(load), Object.fromEntries(Object.entries(r.kwargs).map(([k, v]) => [k, load(v)]))).self;
      }
      env.set(r, n);
      created.push(n);
    }
  });
  const result = load(rep.output);
  replaced.set(anchor, result);
  if (isNode(result)) {
    if (created.includes(result) && result.meta.tensorMeta === undefined && anchor.meta.tensorMeta !== undefined) {
      result.meta.tensorMeta = anchor.meta.tensorMeta;
    }
    anchor.replaceAllUsesWith(result);
  } else {
    replaceUsesWith(anchor, result);
  }
  const names = matched.map((n) => n.name);
  for (let i = matched.length - 1; i >= 0; i--) graph.eraseNode(matched[i]!);
  return { anchor: anchorName, nodes: names, bindings, replacements: created.map((n) => n.name) };
}
