/**
 * Shuffle elimination.
 *
 * A shuffle is transpose(T1) → reshape(R) → transpose(T2). Rules (pattern → replacement):
 *   shuffle(x) that permutes and reshapes nothing → x       T(id) = R(shape(x)) = identity
 *   identity(x) of the same dtype                  → x       an identity layer only copies
 *   shuffle2(shuffle1(x)), shuffle1 read once      → shuffle(x)
 *       T(a)∘T(b) = T(a∘b): adjacent transposes compose into one;
 *       R(r2)∘R(r1) = R(r2): two reshapes are one reshape (numel is preserved), when the
 *       transposes between them cancel and r2's copied dims (0) are known;
 *   so a pair that cancels (a transpose and its inverse, a reshape and its inverse) merges
 *   into an identity shuffle, which the first rule removes.
 */
import type { LayerParamsMap } from '../network.js';
import { logEliminated, type BuildGraph, type BLayerNodeOf, type BNode, type PassLog } from './build_graph.js';

type ShuffleParams = LayerParamsMap['shuffle'];

function isIdentityPerm(p: readonly number[] | null): boolean {
  return p === null || p.every((v, i) => v === i);
}

/** The permutation of applying `first`, then `second` (out[i] = in[perm[i]]). */
function composePerms(first: readonly number[] | null, second: readonly number[] | null): number[] | null {
  if (first === null) return second === null ? null : [...second];
  if (second === null) return [...first];
  return second.map((s) => first[s]!);
}

function permuteShape(shape: readonly number[], perm: readonly number[] | null): number[] {
  return perm === null ? [...shape] : perm.map((p) => shape[p]!);
}

/**
 * Whether reshaping a tensor of `shape` (-1 = dynamic) to `dims` (0 copies, -1 infers) leaves it
 * unchanged: same rank, every dim copied or equal to a static size, and at most one inferred
 * dim (which then equals the remaining one, as the element count is preserved).
 */
function isIdentityReshape(shape: readonly number[], dims: readonly number[]): boolean {
  if (dims.length !== shape.length) return false;
  let inferred = 0;
  for (let i = 0; i < dims.length; i++) {
    const d = dims[i]!;
    if (d === 0 || (d >= 0 && d === shape[i])) continue;
    if (d === -1) inferred++;
    else return false;
  }
  return inferred <= 1;
}

/** Whether a shuffle of an input shaped `shape` is the identity. */
export function isIdentityShuffle(p: ShuffleParams, shape: readonly number[]): boolean {
  if (p.reshape === null) return isIdentityPerm(composePerms(p.firstTranspose, p.secondTranspose));
  return isIdentityPerm(p.firstTranspose) && isIdentityPerm(p.secondTranspose) && isIdentityReshape(shape, p.reshape);
}

/**
 * One shuffle doing `a` (on an input shaped `inShape`) then `b`, or null when a single shuffle
 * cannot express it.
 */
export function mergeShuffles(a: ShuffleParams, b: ShuffleParams, inShape: readonly number[]): ShuffleParams | null {
  if (a.reshape === null && b.reshape === null) {
    const p = composePerms(composePerms(a.firstTranspose, a.secondTranspose), composePerms(b.firstTranspose, b.secondTranspose));
    return { firstTranspose: p, reshape: null, secondTranspose: null };
  }
  if (a.reshape === null) {
    return { firstTranspose: composePerms(composePerms(a.firstTranspose, a.secondTranspose), b.firstTranspose), reshape: b.reshape, secondTranspose: b.secondTranspose };
  }
  if (b.reshape === null) {
    return { firstTranspose: a.firstTranspose, reshape: a.reshape, secondTranspose: composePerms(a.secondTranspose, composePerms(b.firstTranspose, b.secondTranspose)) };
  }
  if (!isIdentityPerm(composePerms(a.secondTranspose, b.firstTranspose))) return null;
  // b's reshape reads the tensor right after a's reshape: resolve its copied dims (0) there.
  const x1 = permuteShape(inShape, a.firstTranspose);
  const dims: number[] = [];
  for (let i = 0; i < b.reshape.length; i++) {
    const d = b.reshape[i]!;
    if (d !== 0) dims.push(d);
    else if (a.reshape[i] === 0) dims.push(0); // a copied dim i of x1, so copying it again is the same
    else if (a.reshape[i]! > 0) dims.push(a.reshape[i]!);
    else return null; // an inferred or dynamic size is not known here
  }
  if (dims.some((d, i) => d === 0 && i >= x1.length)) return null;
  return { firstTranspose: a.firstTranspose, reshape: dims, secondTranspose: b.secondTranspose };
}

function bypass(g: BuildGraph, node: BNode): void {
  g.replaceAllUses(node.outputs[0]!, node.inputs[0]!);
  g.removeNode(node);
}

/** Removes identity shuffles and identity layers, and merges chains of shuffles. Returns the rewrites made. */
export function eliminateShuffles(g: BuildGraph, log: PassLog): number {
  let count = 0;
  for (const node of g.nodes) {
    if (!g.has(node)) continue;
    if (node.kind === 'identity' && node.inputs[0]!.dtype === node.outputs[0]!.dtype) {
      bypass(g, node);
      logEliminated(log, node.layers, 'shuffleElimination', 'an identity layer of one dtype only copies its input');
      count++;
      continue;
    }
    if (node.kind !== 'shuffle') continue;
    let cur: BLayerNodeOf<'shuffle'> = node;
    const prev = cur.inputs[0]!.producer;
    if (prev?.kind === 'shuffle' && g.uses(prev.outputs[0]!).length === 1 && !g.isGraphOutput(prev.outputs[0]!)) {
      const merged = mergeShuffles(prev.params, cur.params, prev.inputs[0]!.shape);
      if (merged !== null) {
        const spec = { kind: 'shuffle' as const, name: cur.name, params: merged, inputs: [prev.inputs[0]!], layers: [...prev.layers, ...cur.layers], epilogue: [], rule: 'shuffleElimination' as const };
        const next = g.addNodeProducing(cur, spec, cur.outputs);
        g.removeNode(cur);
        g.removeNode(prev);
        cur = next as BLayerNodeOf<'shuffle'>;
        count++;
      }
    }
    if (isIdentityShuffle(cur.params, cur.inputs[0]!.shape)) {
      bypass(g, cur);
      const detail = cur.layers.length > 1 ? `the shuffles ${cur.layers.join(', ')} cancel out` : 'it permutes and reshapes nothing';
      logEliminated(log, cur.layers, 'shuffleElimination', detail);
      count++;
    }
  }
  g.compact();
  return count;
}
