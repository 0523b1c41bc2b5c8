/**
 * Where every value of a plan lives on the CUDA backend, decided once at load:
 *
 *   - its home layout: (transposed) convolution inputs and outputs are channels-last (NWC, NHWC,
 *     NDHWC: what tensor-core convolutions read), kernels that take strides (pointwise, pooling,
 *     copies) follow their consumers, everything else is row-major as the plan's values are;
 *   - converted copies where a consumer needs the other layout (a layout-conversion copy right
 *     after the value is produced, into a scratch region);
 *   - scratch regions for values whose home cannot be their plan slot (an NHWC result that is a
 *     network output) and for steps that need temporary memory (attention's scores);
 *   - aliases: shuffles around fused attention steps that become strided views of another
 *     value's storage (attention_views.ts), and shuffles that move nothing (their output stored
 *     in their input's storage); the owning values of the arena move into regions of a pool
 *     shared by lifetime, since they must outlive their plan slots.
 *
 * The context memory is then [arena | input slots | output slots | regions | pool], every part
 * sized for the largest shapes of the optimization profile.
 */
import { resolveShapes } from '../../engine/execution_context.js';
import { planMemory } from '../../engine/memory_plan.js';
import { byteSizeOf, type LayerStep, type Plan, type PlanStep } from '../../engine/plan.js';
import { numelOf } from '../../tensor/shape.js';
import { isFusedAttention, planAttentionAliases, type ValueAlias } from './attention_views.js';
import { libraryEpilogue, type LibraryEpilogue } from './library_epilogue.js';
import { einsumScratchBytes } from './lower/einsum_plan.js';
import { notImplemented, stepClass } from './step_support.js';
import { shuffleOutputView } from './shuffle_view.js';
import { channelsLastRank, denseView, layoutStrides, type Layout } from './strided.js';

/** Alignment of every part of the context memory (what library calls want). */
export const MEMORY_ALIGNMENT = 256;

/** cuDNN/cuBLASLt epilogue split per conv/gemm step index. */
export type EpilogueMap = ReadonlyMap<number, LibraryEpilogue>;

/** Scratch bytes a step needs for shapes `shapes` (attention's scores, einsum's arranged operands). */
export function stepScratchBytes(step: PlanStep, plan: Plan, shapes: readonly (readonly number[])[]): number[] {
  if (step.kind === 'einsum') return einsumScratchBytes(step, plan, shapes);
  if (step.kind !== 'attention' || isFusedAttention(step, plan)) return [];
  const q = shapes[step.inputs[0]!]!;
  const k = shapes[step.inputs[1]!]!;
  const scores = numelOf(q.slice(0, -1)) * k[k.length - 2]!;
  const dtype = plan.values[step.outputs[0]!]!.dtype;
  return [scores * 4, byteSizeOf(dtype, [scores])];
}

/** The layout plan of a loaded plan. */
export interface PlanLayout {
  /** Per value id: the layout of its home storage. */
  readonly home: readonly Layout[];
  /** Per value id: the layouts some consumer needs that differ from its home (each has a region). */
  readonly conversions: ReadonlyMap<number, ReadonlyMap<Layout, number>>;
  /** Values stored in a region instead of their plan slot. */
  readonly relocated: ReadonlyMap<number, number>;
  /** Per step index: its scratch regions. */
  readonly scratch: ReadonlyMap<number, readonly number[]>;
  /** Region sizes (bytes, aligned). */
  readonly regions: readonly number[];
  /** Values accessed as strided views of another value's storage, keyed by the aliasing value. */
  readonly aliases: ReadonlyMap<number, ValueAlias>;
  /**
   * Shuffle outputs stored in the storage of the value they are made from (the root, the key's
   * value), byte for byte: their shuffle copies nothing and every reader reads the root's storage.
   */
  readonly shared: ReadonlyMap<number, number>;
  /** Regions placed in the pool (region index → byte offset in it): they share bytes by lifetime. */
  readonly pooled: ReadonlyMap<number, number>;
  /** Bytes of the pool. */
  readonly poolBytes: number;
  /** The library epilogue split of every conv and gemm step. */
  readonly epilogues: EpilogueMap;
}

/** The layout step `step` needs for its input at `position`, or null when its kernel takes any strides. */
export function inputLayout(step: PlanStep, position: number, epilogue: LibraryEpilogue | undefined): Layout | null {
  switch (stepClass(step)) {
    case 'rowmajor': return 'rowmajor';
    case 'conv': {
      if (position === 0) return 'nhwc';
      return epilogue !== undefined && epilogue.residual === position ? 'nhwc' : null;
    }
    case 'flexible':
      // A pointwise input viewed with another shape (a per-channel weight) is read as row-major memory.
      if (step.kind === 'pointwise' && step.program.views[position] != null) return 'rowmajor';
      if (step.kind === 'scale' && position > 0) return 'rowmajor';
      return null;
  }
}

/** The layout a step's output must have, or null when the step may write either. */
function outputLayout(step: PlanStep): Layout | null {
  const cls = stepClass(step);
  if (cls === 'conv') return 'nhwc';
  if (cls === 'rowmajor' || step.kind === 'shuffle') return 'rowmajor';
  return null;
}

function epilogueOf(step: LayerStep, plan: Plan): LibraryEpilogue | undefined {
  if (step.quant?.format === 'float8e4m3' && step.kind === 'matrix_multiply') {
    // cuBLASLt's FP8 GEMM: its bias and activation epilogue, like a float GEMM's.
    const outShape = plan.values[step.outputs[0]!]!.shape;
    return libraryEpilogue(step, plan, ['relu', 'gelu_tanh'], (rank) => rank - 1, outShape[outShape.length - 1]!);
  }
  if (step.quant !== undefined) {
    // The int8 GEMM kernel applies the whole epilogue itself; only the residual's layout matters here.
    const residual = step.epilogue.find((op) => op.op === 'residual');
    return { fused: true, bias: [], residual: residual?.op === 'residual' ? residual.input : null, act: 'none', rest: [] };
  }
  if (step.kind === 'convolution' || step.kind === 'deconvolution') {
    return libraryEpilogue(step, plan, ['relu'], () => 1, step.params.numOutputMaps);
  }
  if (step.kind === 'matrix_multiply') {
    const outShape = plan.values[step.outputs[0]!]!.shape;
    const n = outShape[outShape.length - 1]!;
    return libraryEpilogue(step, plan, ['relu', 'gelu_tanh'], (rank) => rank - 1, step.params.vector1 ? 1 : n);
  }
  return undefined;
}

/** Checks that need the plan's ranks: the kernels' operand forms. */
function checkRanks(step: PlanStep, plan: Plan): void {
  const rank = (i: number): number => plan.values[step.inputs[i]!]!.shape.length;
  if ((step.kind === 'convolution' || step.kind === 'deconvolution') && plan.values[step.inputs[1]!]!.location.kind !== 'constant') {
    notImplemented(step, `a ${step.kind} whose kernel is not a constant`);
  }
  if (step.kind === 'normalization' && step.params.numGroups === 1) {
    const r = rank(0);
    const axes = [...new Set(step.params.axes.map((a) => (a < 0 ? a + r : a)))].sort((a, b) => a - b);
    if (!axes.every((a, i) => a === r - axes.length + i)) notImplemented(step, `normalization over axes [${step.params.axes.join(', ')}] that are not the trailing dims`);
  }
  if (step.kind === 'attention' && !isFusedAttention(step, plan)) {
    const batch = (i: number): readonly number[] => plan.values[step.inputs[i]!]!.shape.slice(0, -2);
    const same = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);
    if (!same(batch(0), batch(1)) || !same(batch(0), batch(2))) notImplemented(step, 'attention whose query, key and value batch dims differ, off the fused kernel (float16/bfloat16, head dims multiples of 8 up to 128),');
  }
}

/** Bytes of value `id` (or scratch) at the largest of the profile's min/opt/max shapes. */
function maxShapes(plan: Plan): number[][][] {
  return (['min', 'opt', 'max'] as const).map((w) => resolveShapes(plan, plan.inputs.map((i) => i.profile[w])));
}

/**
 * Decides layouts, conversions and regions for `plan`; throws CudaNotImplementedError for steps
 * the backend cannot run.
 */
export function planLayout(plan: Plan): PlanLayout {
  const epilogues = new Map<number, LibraryEpilogue>();
  plan.steps.forEach((step, i) => {
    stepClass(step);
    checkRanks(step, plan);
    if (step.kind !== 'pointwise') {
      const e = epilogueOf(step, plan);
      if (e) epilogues.set(i, e);
    }
  });
  const n = plan.values.length;
  const required = Array.from({ length: n }, () => new Set<Layout>());
  plan.steps.forEach((step, i) => {
    step.inputs.forEach((id, p) => {
      const l = inputLayout(step, p, epilogues.get(i));
      if (l !== null) required[id]!.add(l);
    });
  });
  for (const o of plan.outputs) required[o.value]!.add('rowmajor');

  const home: Layout[] = new Array<Layout>(n).fill('rowmajor');
  for (const step of plan.steps) {
    const forced = outputLayout(step);
    for (const id of step.outputs) {
      const rank = plan.values[id]!.shape.length;
      if (forced !== null) home[id] = channelsLastRank(rank) || forced === 'rowmajor' ? forced : 'rowmajor';
      else if (channelsLastRank(rank)) {
        const r = required[id]!;
        const nhwcInput = step.inputs.some((v) => home[v] === 'nhwc');
        home[id] = (r.has('nhwc') && !r.has('rowmajor')) || (r.size === 0 && nhwcInput) ? 'nhwc' : 'rowmajor';
      }
    }
  }

  const all = maxShapes(plan);
  const bytesOf = (id: number): number => Math.max(...all.map((s) => byteSizeOf(plan.values[id]!.dtype, s[id]!)));
  const regions: number[] = [];
  const region = (bytes: number): number => {
    regions.push(Math.max(MEMORY_ALIGNMENT, Math.ceil(bytes / MEMORY_ALIGNMENT) * MEMORY_ALIGNMENT));
    return regions.length - 1;
  };
  const conversions = new Map<number, Map<Layout, number>>();
  required.forEach((layouts, id) => {
    for (const l of layouts) {
      if (l === home[id]) continue;
      let m = conversions.get(id);
      if (!m) conversions.set(id, (m = new Map()));
      m.set(l, region(bytesOf(id)));
    }
  });
  const relocated = new Map<number, number>();
  plan.values.forEach((v, id) => {
    if (home[id] !== 'rowmajor' && (v.location.kind === 'output' || v.location.kind === 'input')) relocated.set(id, region(bytesOf(id)));
  });
  const scratch = new Map<number, number[]>();
  plan.steps.forEach((step, i) => {
    const sizes = all.map((s) => stepScratchBytes(step, plan, s));
    const count = sizes[0]!.length;
    if (count > 0) scratch.set(i, Array.from({ length: count }, (_, j) => region(Math.max(...sizes.map((s) => s[j]!)))));
  });
  const aliases = planAttentionAliases(plan, home, all);
  const shared = planSharedStorage(plan, home, all, aliases);
  const pooled = new Map<number, number>();
  const pool = planMemory(aliasRoots(plan, [...[...aliases].map(([id, a]) => [id, a.root] as const), ...shared]).map(({ root, def, lastUse }) => {
    const r = region(bytesOf(root));
    relocated.set(root, r);
    return { id: r, size: regions[r]!, def, lastUse };
  }), MEMORY_ALIGNMENT);
  for (const [r, a] of pool.assignments) pooled.set(r, a.offset);
  return { home, conversions, relocated, scratch, regions, epilogues, aliases, shared, pooled, poolBytes: pool.arenaSize };
}

/**
 * Shuffles that would copy every element onto itself: where a shuffle's output, viewed in its
 * input's home storage (shuffleOutputView), has exactly the strides of its own home layout at
 * every set of value shapes in `shapeSets` (a reshape that moves nothing, such as flattening a
 * [N, C, 1, 1] pooled value), the output is stored in the input's storage. Keyed by the output,
 * with the value owning the storage (followed through chains of such shuffles). Network inputs
 * and outputs, and values that attention aliases involve, keep their own storage.
 */
function planSharedStorage(plan: Plan, home: readonly Layout[], shapeSets: readonly (readonly (readonly number[])[])[],
  aliases: ReadonlyMap<number, ValueAlias>): Map<number, number> {
  const io = new Set([...plan.inputs, ...plan.outputs].map((v) => v.value));
  const attention = new Set([...aliases].flatMap(([id, a]) => [id, a.root]));
  const shared = new Map<number, number>();
  for (const step of plan.steps) {
    if (step.kind !== 'shuffle' || step.inputs.length !== 1) continue;
    const x = step.inputs[0]!;
    const y = step.outputs[0]!;
    if (io.has(y) || attention.has(x) || attention.has(y) || plan.values[x]!.dtype !== plan.values[y]!.dtype) continue;
    const inPlace = shapeSets.every((shapes) => {
      const v = shuffleOutputView(denseView(shapes[x]!, home[x]!), step.params, shapes[y]!);
      const own = layoutStrides(shapes[y]!, home[y]!);
      return v !== null && shapes[y]!.every((size, d) => size === 1 || v.strides[d] === own[d]);
    });
    if (inPlace) shared.set(y, shared.get(x) ?? x);
  }
  return shared;
}

/**
 * The arena values owning aliased or shared storage (`aliases`: [value, its root]), each with the
 * steps over which that storage must live: from the first write of it (the root's producer, or an
 * attention writing through an alias) to the last read of the root or of any value aliasing it.
 */
function aliasRoots(plan: Plan, aliases: readonly (readonly [number, number])[]): { root: number; def: number; lastUse: number }[] {
  const def = plan.values.map(() => -1);
  const lastUse = plan.values.map(() => -1);
  plan.steps.forEach((step, i) => {
    for (const id of step.outputs) def[id] = i;
    for (const id of step.inputs) lastUse[id] = i;
  });
  const live = new Map<number, { def: number; lastUse: number }>();
  const extend = (root: number, id: number): void => {
    const cur = live.get(root) ?? { def: def[root]!, lastUse: Math.max(def[root]!, lastUse[root]!) };
    live.set(root, { def: Math.min(cur.def, def[id]!), lastUse: Math.max(cur.lastUse, lastUse[id]!) });
  };
  for (const [id, root] of aliases) {
    if (plan.values[root]!.location.kind === 'arena') extend(root, id);
  }
  return [...live].map(([root, l]) => ({ root, ...l }));
}

/** Offsets of the context memory's parts. */
export interface ContextMemory {
  readonly bytes: number;
  readonly inputs: readonly number[];
  readonly outputs: readonly number[];
  readonly regions: readonly number[];
}

/** Lays out [arena | input slots | output slots | regions | pool] at the profile's largest shapes. */
export function contextMemory(plan: Plan, layout: PlanLayout): ContextMemory {
  const all = maxShapes(plan);
  let at = Math.ceil(plan.memory.arenaSize / MEMORY_ALIGNMENT) * MEMORY_ALIGNMENT;
  const place = (bytes: number): number => {
    const offset = at;
    at += Math.max(MEMORY_ALIGNMENT, Math.ceil(bytes / MEMORY_ALIGNMENT) * MEMORY_ALIGNMENT);
    return offset;
  };
  const ioBytes = (id: number): number => Math.max(...all.map((s) => byteSizeOf(plan.values[id]!.dtype, s[id]!)));
  const inputs = plan.inputs.map((io) => place(ioBytes(io.value)));
  const outputs = plan.outputs.map((io) => place(ioBytes(io.value)));
  const regions = layout.regions.map((bytes, r) => (layout.pooled.has(r) ? -1 : place(bytes)));
  if (layout.poolBytes > 0) {
    const pool = place(layout.poolBytes);
    for (const [r, offset] of layout.pooled) regions[r] = pool + offset;
  }
  return { bytes: at, inputs, outputs, regions };
}
