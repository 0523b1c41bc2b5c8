/**
 * Q/DQ propagation (TensorRT's "swapping DequantizeLinear with Pad"): dequantize layers move
 * forward and quantize layers backward across the layers that commute with them, so that Q/DQ
 * pairs meet the convolutions and GEMMs they fuse into (qdq_fusion.ts), and the data movement
 * between them runs on int8.
 *
 * Rules (pattern → replacement, and the identity each relies on). DQ(q) = fround(s·q) and Q are
 * symmetric int8 (zero point 0), so both are monotone and map 0 to 0:
 *   X(DQ(q))         → DQ(X(q))     X: max pooling, shuffle, slice, zero padding, relu:  max, moves and 0 commute with a monotone map fixing 0
 *   clip(DQ(q))      → DQ(clip'(q)) clip bounds on the int8 grid (checked on all 256 values)
 *   concat(DQ(q_i))  → DQ(concat(q_i))   every input dequantized with the same scale
 *   Q(X(y))          → X(Q(y))      X: max pooling, shuffle, slice, zero padding, concat; relu after one of those
 *   Q(DQ(q))         → q            same scale: round(fround(fround(s·q)·fround(1/s))) = q for |q| ≤ 128
 *   Q(x), Q(x)       → one Q(x)     (and DQ(q), DQ(q) → one): the same function of the same value
 * Per-channel Q/DQ move only where their axis stays one whole dim. Q moves backward only with
 * constant scales (a runtime scale may be computed from the tensor itself). Q does not move across
 * a relu whose producer can take it as an epilogue: the fusion keeps conv + relu + Q in one step.
 * A dequantized constant that moves forward is folded into an int8 constant right away.
 */
import { roundHalfEven } from '../../kernels/reference/quant.js';
import { roundTo } from '../../tensor/dtype.js';
import type { LayerParamsMap } from '../network.js';
import { type BLayerNode, type BNode, type BuildGraph, type BValue, logEliminated, type NodeSpec, type PassLog } from './build_graph.js';
import { foldConstants } from './constant_folding.js';
import { isInternal } from './matchers.js';
import {
  constantScale, dequantizeOf, describeNode, describeScale, int8Problem, NodeNames, quantizedType, sameQuantization,
  type DequantizeNode, type QuantizeNode,
} from './qdq_rules.js';

/** Where a Q/DQ ends up on the other side of a layer: the layer's int8 params and the Q/DQ's axis there. */
interface Commuted {
  readonly params: unknown;
  readonly axis: number | null;
}

/** Moves Q/DQ layers until none moves; returns the number of rewrites. */
export function propagateQdq(g: BuildGraph, log: PassLog): number {
  const names = new NodeNames(g);
  let count = 0;
  let movedConstant = false;
  for (let changed = true; changed;) {
    changed = false;
    for (const n of g.nodes) {
      if (!g.has(n) || (n.kind !== 'quantize' && n.kind !== 'dequantize')) continue;
      let rewrites = mergeTwins(g, n, log);
      if (rewrites === 0 && n.kind === 'dequantize') {
        const moved = forwardDequantize(g, n, names);
        rewrites = moved.length;
        movedConstant ||= moved.some((x) => x.inputs.every((v) => v.constant !== null));
      } else if (rewrites === 0 && n.kind === 'quantize') {
        rewrites = cancelPair(g, n, log) || backwardQuantize(g, n, names) ? 1 : 0;
      }
      count += rewrites;
      changed ||= rewrites > 0;
    }
    g.compact();
  }
  if (movedConstant) foldConstants(g, log);
  return count;
}

// ---------------------------------------------------------------- twins and pairs

/** Q(x), Q(x) → one Q(x) (likewise DQ): siblings reading the same value with the same parameters. */
function mergeTwins(g: BuildGraph, n: QuantizeNode | DequantizeNode, log: PassLog): number {
  let merged = 0;
  for (const twin of g.consumers(n.inputs[0]!)) {
    if (twin === n || twin.kind !== n.kind || twin.params.toType !== n.params.toType || !sameQuantization(n, twin)) continue;
    g.replaceAllUses(twin.outputs[0]!, n.outputs[0]!);
    g.removeNode(twin);
    logEliminated(log, twin.layers, 'qdqPropagation', `the same ${n.kind} of '${n.inputs[0]!.name}' as '${n.name}'`);
    merged++;
  }
  return merged;
}

/** Whether DQ(q) = fround(s·q) stored as the DQ's type quantizes back to q exactly, for every int8 q. */
function roundTrips(dq: DequantizeNode): boolean {
  const toType = dq.params.toType;
  if (toType === 'float32') return true;
  const s = constantScale(dq.inputs[1]!);
  if (s === null) return false;
  const inv = Math.fround(1 / s);
  for (let q = -128; q <= 127; q++) {
    if (roundHalfEven(Math.fround(roundTo(toType, Math.fround(s * q)) * inv)) !== q) return false;
  }
  return true;
}

/** Q(DQ(q)) → q when both quantize the same way to int8. */
function cancelPair(g: BuildGraph, q: QuantizeNode, log: PassLog): boolean {
  const dq = dequantizeOf(q.inputs[0]!);
  if (dq === null || quantizedType(dq) !== 'int8' || q.params.toType !== 'int8' || !sameQuantization(dq, q) || !roundTrips(dq)) return false;
  g.replaceAllUses(q.outputs[0]!, dq.inputs[0]!);
  g.removeNode(q);
  const gone = removeIfUnused(g, dq);
  logEliminated(log, [...q.layers, ...(gone ? dq.layers : [])], 'qdqPropagation', `quantize(dequantize(q)) with one scale is q ('${dq.name}' -> '${q.name}')`);
  return true;
}

function removeIfUnused(g: BuildGraph, n: BNode): boolean {
  if (!g.has(n) || n.outputs.some((o) => g.uses(o).length > 0 || g.isGraphOutput(o))) return false;
  g.removeNode(n);
  return true;
}

// ---------------------------------------------------------------- dequantize forward

/** Moves `dq` past every consumer it commutes with; returns the int8 layers created. */
function forwardDequantize(g: BuildGraph, dq: DequantizeNode, names: NodeNames): BNode[] {
  const created: BNode[] = [];
  for (const x of g.consumers(dq.outputs[0]!)) {
    if (!g.has(dq)) break;
    const sources = dequantizeSources(x, dq);
    const moved = typeof sources === 'string' ? sources : dequantizeCommute(x, dq);
    if (x.kind !== 'pointwise' && typeof sources !== 'string' && typeof moved !== 'string') created.push(swapForward(g, names, x, sources, moved));
  }
  return created;
}

/**
 * Why `dq` does not move forward across its consumer `x`, or null when it does (the build report
 * asks this of the dequantize layers that stay).
 */
export function dequantizeCommuteProblem(x: BNode, dq: DequantizeNode): string | null {
  const sources = dequantizeSources(x, dq);
  if (typeof sources === 'string') return sources;
  const moved = dequantizeCommute(x, dq);
  return typeof moved === 'string' ? moved : null;
}

/** The dequantize layers `x` reads that would move with `dq`: `dq`, or one per input of a concat. */
function dequantizeSources(x: BNode, dq: DequantizeNode): DequantizeNode[] | string {
  const own = int8Problem(dq);
  if (own !== null) return own;
  if (x.kind !== 'concatenation') {
    const out = dq.outputs[0]!;
    return x.inputs[0] === out && !x.inputs.slice(1).includes(out) ? [dq] : `${describeNode(x)} reads it as a parameter, not as its data input`;
  }
  if (dq.params.axis === x.params.axis) return `it is per-channel along the concat axis ${x.params.axis}`;
  const sources: DequantizeNode[] = [];
  for (const [i, v] of x.inputs.entries()) {
    const d = dequantizeOf(v);
    if (d === null) return `${describeNode(x)} also reads input ${i} '${v.name}' (${v.dtype}, not dequantized from int8): a concat runs in int8 only when all its inputs are int8 with one scale`;
    const problem = int8Problem(d);
    if (problem !== null) return `input ${i} of ${describeNode(x)} ('${d.name}') cannot be int8: ${problem}`;
    const first = sources[0] ?? d;
    if (!sameQuantization(d, first) || d.params.toType !== first.params.toType) {
      return `input ${i} of ${describeNode(x)} ('${d.name}', ${describeScale(d.inputs[1]!)}) is quantized unlike input 0 ('${first.name}', ${describeScale(first.inputs[1]!)}): `
        + 'a concat runs in int8 only when all its inputs share one scale (give them one scale)';
    }
    sources.push(d);
  }
  return sources;
}

/** How `x` reads an int8 tensor that `dq` would have dequantized, or why it cannot. */
function dequantizeCommute(x: BNode, dq: DequantizeNode): Commuted | string {
  const axis = dq.params.axis;
  if (x.kind === 'pointwise') return `${describeNode(x)} does not commute with dequantization`;
  switch (x.kind) {
    case 'concatenation': return { params: x.params, axis };
    case 'activation':
      if (x.params.op === 'relu') return { params: x.params, axis };
      if (x.params.op !== 'clip') return `activation ${x.params.op} does not commute with dequantization (only relu and clip on the int8 grid do)`;
      if (axis !== null) return `a clip has one pair of bounds, but '${dq.name}' is per-channel`;
      return clipOnGrid(x.params, dq) ?? `the clip bounds [${x.params.alpha}, ${x.params.beta}] are not on the int8 grid of ${describeScale(dq.inputs[1]!)}`;
    default: {
      const problem = movesProblem(x);
      if (problem !== null) return problem;
      const a = axis === null ? null : movedAxis(x, axis, x.inputs[0]!.shape, x.outputs[0]!.shape);
      return axis !== null && a === null ? `it splits or resizes the per-channel axis ${axis} of '${dq.name}'` : { params: x.params, axis: a };
    }
  }
}

/** Why a data layer does more than move or select elements (keeping 0 as 0), or null. */
function movesProblem(x: BNode): string | null {
  switch (x.kind) {
    case 'pooling': return x.params.type === 'max' ? null : `${x.params.type} pooling computes new values (it runs in int8 as a fused step only)`;
    case 'shuffle': return null;
    case 'slice': return x.params.mode !== 'fill' || x.params.fillValue === 0 ? null : `the slice fill value is ${x.params.fillValue}, not 0`;
    case 'padding': return x.params.value === 0 ? null : `the padding value is ${x.params.value}, not 0`;
    default: return `${x.kind} does not commute with quantization`;
  }
}

/** The clip bounds on the int8 grid that make clip(DQ(q)) = DQ(clip'(q)) for every q, or null. */
function clipOnGrid(p: LayerParamsMap['activation'], dq: DequantizeNode): Commuted | null {
  const s = constantScale(dq.inputs[1]!);
  if (s === null) return null;
  const toType = dq.params.toType;
  const deq = (q: number): number => roundTo(toType, Math.fround(s * q));
  const clip = (v: number): number => roundTo(toType, Math.min(Math.max(v, Math.fround(p.alpha)), Math.fround(p.beta)));
  const gridPoint = (target: number): number | null => {
    for (let q = -128; q <= 127; q++) if (deq(q) === target) return q;
    return null;
  };
  // The clipped values of the extreme inputs must be grid points: they are the int8 bounds.
  const lo = gridPoint(clip(deq(-128)));
  const hi = gridPoint(clip(deq(127)));
  if (lo === null || hi === null) return null;
  for (let q = -128; q <= 127; q++) if (deq(Math.min(Math.max(q, lo), hi)) !== clip(deq(q))) return null;
  return { params: { op: 'clip', alpha: lo, beta: hi }, axis: null };
}

/** X(DQ(q)) → DQ(X(q)): the int8 form of `x` in front of it, then a dequantize producing x's output. */
function swapForward(g: BuildGraph, names: NodeNames, x: BLayerNode, sources: readonly DequantizeNode[], moved: Commuted): BNode {
  const dq = sources[0]!;
  const out = x.outputs[0]!;
  const inputs = x.kind === 'concatenation' ? sources.map((d) => d.inputs[0]!) : [dq.inputs[0]!, ...x.inputs.slice(1)];
  const int8 = g.insertBefore(x, layerSpec(x, moved.params, inputs), [{ name: `${out.name}_int8`, dtype: 'int8', shape: out.shape }]);
  const solo = sources.every((d) => g.consumers(d.outputs[0]!).length === 1 && !g.isGraphOutput(d.outputs[0]!));
  g.addNodeProducing(x, {
    kind: 'dequantize', name: solo ? dq.name : names.fresh(`${dq.name}_${x.name}`), params: { axis: moved.axis, toType: dq.params.toType },
    inputs: [int8.outputs[0]!, ...dq.inputs.slice(1)], layers: dq.layers, epilogue: [], rule: null,
  }, [out]);
  g.removeNode(x);
  for (const d of new Set(sources)) removeIfUnused(g, d);
  return int8;
}

/** A copy of layer node `x` with other params and inputs. */
function layerSpec(x: BLayerNode, params: unknown, inputs: readonly BValue[]): NodeSpec {
  return { kind: x.kind, name: x.name, params, inputs, layers: x.layers, epilogue: [], rule: x.rule } as NodeSpec;
}

// ---------------------------------------------------------------- quantize backward

/** Q(X(y)) → X(Q(y)) when X commutes with Q and nothing else reads X's float output. */
function backwardQuantize(g: BuildGraph, q: QuantizeNode, names: NodeNames): boolean {
  const x = q.inputs[0]!.producer;
  const moved = x === null ? null : quantizeCommute(g, x, q);
  if (x === null || x.kind === 'pointwise' || moved === null || typeof moved === 'string') return false;
  const targets = x.kind === 'concatenation' ? x.inputs : [x.inputs[0]!];
  const quantized = targets.map((v, i) => g.insertBefore(x, {
    kind: 'quantize', name: targets.length === 1 ? q.name : names.fresh(`${q.name}_${i}`), params: { axis: moved.axis, toType: 'int8' },
    inputs: [v, ...q.inputs.slice(1)], layers: q.layers, epilogue: [], rule: null,
  }, [{ name: `${v.name}_int8`, dtype: 'int8', shape: v.shape }]).outputs[0]!);
  const inputs: BValue[] = x.kind === 'concatenation' ? quantized : [quantized[0]!, ...x.inputs.slice(1)];
  g.addNodeProducing(q, layerSpec(x, moved.params, inputs), q.outputs);
  g.removeNode(q);
  g.removeNode(x);
  return true;
}

/** Why `q` does not move backward across the layer producing its input, or null when it does (for the build report). */
export function quantizeCommuteProblem(g: BuildGraph, q: QuantizeNode): string | null {
  const x = q.inputs[0]!.producer;
  if (x === null) return null;
  const moved = quantizeCommute(g, x, q);
  return typeof moved === 'string' ? moved : null;
}

/** How `x` runs on the int8 output of `q` moved in front of it, or why it cannot (null: not a layer Q could cross). */
function quantizeCommute(g: BuildGraph, x: BNode, q: QuantizeNode): Commuted | string | null {
  const axis = q.params.axis;
  if (x.kind === 'pointwise') return null;
  if (x.kind === 'activation') {
    // Only where it lets Q travel on (a data layer before the relu): a layer that can take relu + Q
    // as its epilogue keeps them.
    const before = x.inputs[0]!.producer;
    if (x.params.op !== 'relu' || before === null || !(before.kind === 'concatenation' || movesProblem(before) === null)) return null;
  } else if (x.kind !== 'concatenation' && movesProblem(x) !== null) {
    return x.kind === 'pooling' || x.kind === 'slice' || x.kind === 'padding' ? movesProblem(x) : null;
  }
  const own = int8Problem(q);
  if (own !== null) return own;
  if (!isInternal(g, q.inputs[0]!)) return 'its input is also read in float elsewhere';
  const runtime = q.inputs.slice(1).find((v) => v.constant === null);
  if (runtime !== undefined) return `its scale '${runtime.name}' is computed at run time, so it cannot move in front of ${describeNode(x)}`;
  if (x.kind === 'concatenation') return axis === x.params.axis ? `it is per-channel along the concat axis ${axis}` : { params: x.params, axis };
  if (x.kind === 'activation' || axis === null) return { params: x.params, axis };
  const inShape = x.inputs[0]!.shape;
  for (let a = 0; a < inShape.length; a++) if (movedAxis(x, a, inShape, x.outputs[0]!.shape) === axis) return { params: x.params, axis: a };
  return `its per-channel axis ${axis} is built from several input dims (or resized)`;
}

// ---------------------------------------------------------------- per-channel axes

/** Where input axis `a` of a data layer lands in its output when it stays one whole dim, else null. */
function movedAxis(x: BNode, a: number, inShape: readonly number[], outShape: readonly number[]): number | null {
  if (inShape[a] === undefined || inShape[a]! < 0) return null;
  switch (x.kind) {
    case 'pooling': return a < inShape.length - x.params.windowSize.length ? a : null;
    case 'slice': {
      const { start, size, stride } = x.params;
      return start[a] === 0 && stride[a] === 1 && (size[a] === -1 || size[a] === inShape[a]) ? a : null;
    }
    case 'padding': {
      const lead = inShape.length - x.params.prePadding.length;
      return a < lead || (x.params.prePadding[a - lead] === 0 && x.params.postPadding[a - lead] === 0) ? a : null;
    }
    case 'shuffle': return shuffleAxis(x.params, a, inShape, outShape);
    default: return null;
  }
}

/** Axis `a` through transpose → reshape (only inserting or dropping unit dims) → transpose. */
function shuffleAxis(p: LayerParamsMap['shuffle'], a: number, inShape: readonly number[], outShape: readonly number[]): number | null {
  let axis = a;
  let shape = [...inShape];
  if (p.firstTranspose) {
    axis = p.firstTranspose.indexOf(a);
    shape = p.firstTranspose.map((d) => inShape[d]!);
  }
  if (p.reshape) {
    const second = p.secondTranspose;
    const reshaped = second ? outShape.map((_, j) => outShape[second.indexOf(j)]!) : [...outShape];
    const nonUnit = (s: readonly number[]): number[] => s.flatMap((d, i) => (d === 1 ? [] : [i]));
    const [from, to] = [nonUnit(shape), nonUnit(reshaped)];
    if (shape[axis] === 1 || [...shape, ...reshaped].some((d) => d < 0) || from.length !== to.length || from.some((i, k) => shape[i] !== reshaped[to[k]!])) return null;
    axis = to[from.indexOf(axis)]!;
  }
  return p.secondTranspose ? p.secondTranspose.indexOf(axis) : axis;
}
