/**
 * The engine builder (TensorRT's IBuilder): network definition → optimized, typed, memory-planned
 * Plan → Engine. Every decision is made here in TypeScript and recorded in the Plan as data:
 *
 *   copy the layer graph → optimization passes (optimize/*, each switchable) → dead code removal
 *   → precision per step → values, constants blob, steps → memory plan at the profile's shapes
 *   → report.
 *
 * The builder is backend-agnostic: a backend only names the tactic of each step and executes
 * the plan.
 */
import { getBackend, Engine, type Backend } from './engine.js';
import { resolveShapes } from './execution_context.js';
import { planMemory } from './memory_plan.js';
import type { ShapeRange } from './network.js';
import type { NetworkDefinition } from './network_definition.js';
import { foldConstants } from './optimize/constant_folding.js';
import { fuseEpilogues } from './optimize/epilogue_fusion.js';
import { fuseGeluPatterns } from './optimize/gelu_pattern.js';
import { fuseNormalizationPatterns } from './optimize/normalization_pattern.js';
import { fusePointwise } from './optimize/pointwise_fusion.js';
import { checkNetworkTypes, stepPrecision, type Int8Fallback } from './optimize/precision.js';
import { fuseQdq } from './optimize/qdq_fusion.js';
import { propagateQdq } from './optimize/qdq_propagation.js';
import { unfusedQdq } from './optimize/qdq_report.js';
import { eliminateShuffles } from './optimize/shuffle_elimination.js';
import { fuseSoftmaxPatterns } from './optimize/softmax_pattern.js';
import { BuildError, BuildGraph, type BNode, type BValue, type PassLog } from './optimize/build_graph.js';
import {
  BLOB_ALIGNMENT, PLAN_VERSION, byteSizeOf, type BackendName, type BuilderPrecision, type Plan, type PlanConstant, type PlanInput,
  type PlanStep, type PlanValue, type ValueLocation,
} from './plan.js';
import { OPTIMIZATIONS, type BuildReport, type FusionRecord, type OptimizationName, type PassRecord } from './report.js';

/** Re-exported: the error of a network the builder rejects or a build it cannot satisfy. */
export { BuildError } from './optimize/build_graph.js';

/** How to build an engine. */
export interface BuilderConfig {
  /** Reduced precisions the network may use (default 'fp32'); 'int8' needs Q/DQ layers. */
  readonly precision?: BuilderPrecision;
  /**
   * With precision 'int8': the float precision the layers outside int8 may use besides float32
   * (default 'fp16', as TensorRT builds INT8 engines with FP16 fallback; 'fp32' allows float32 only).
   */
  readonly int8Fallback?: Int8Fallback;
  /** min/opt/max shapes per network input, overriding the inputs' own ranges. */
  readonly profile?: Readonly<Record<string, ShapeRange>>;
  /** Most activation memory (arena bytes at the max shapes) the engine may use. */
  readonly workspaceLimit?: number;
  /** Backend that executes the engine (default 'reference'). */
  readonly backend?: BackendName;
  /** All optimizations on (default) or off, or per optimization. */
  readonly optimizations?: boolean | Readonly<Partial<Record<OptimizationName, boolean>>>;
  /**
   * Timing cache file (TensorRT's ITimingCache) for backends that time tactics when they load the
   * engine (CUDA): choices timed before on this device are reused, so a second build times
   * nothing; created if missing, updated after a build that timed new ops. `engine.tacticStats`
   * says how many ops were timed or taken from it.
   */
  readonly timingCache?: string;
}

type Pass = (g: BuildGraph, log: PassLog) => number;

const PRECISIONS: readonly BuilderPrecision[] = ['fp32', 'fp16', 'bf16', 'int8', 'fp8'];

/** The passes in the order they run. */
const PASSES: Readonly<Record<OptimizationName, Pass>> = {
  constantFolding: foldConstants,
  shuffleElimination: eliminateShuffles,
  geluPattern: fuseGeluPatterns,
  softmaxPattern: fuseSoftmaxPatterns,
  normalizationPattern: fuseNormalizationPatterns,
  epilogueFusion: fuseEpilogues,
  qdqPropagation: propagateQdq,
  pointwiseFusion: fusePointwise,
  qdqFusion: fuseQdq,
};

/**
 * Builds engines from network definitions.
 * @example
 * const engine = await new Builder().build(network, {
 *   precision: 'fp16',
 *   profile: { x: { min: [1, 3, 224, 224], opt: [8, 3, 224, 224], max: [32, 3, 224, 224] } },
 *   workspaceLimit: 1 << 30,
 * });
 * console.log(formatReport(engine.report));
 */
export class Builder {
  /** Optimizes `network` and returns an engine executing it on the configured backend. */
  async build(network: NetworkDefinition, config: BuilderConfig = {}): Promise<Engine> {
    const start = performance.now();
    const precision = config.precision ?? 'fp32';
    if (!PRECISIONS.includes(precision)) throw new BuildError(`precision must be one of ${PRECISIONS.join(', ')}, got '${String(precision)}'`);
    const backend = getBackend(config.backend ?? 'reference');
    if (network.outputs.length === 0) throw new BuildError(`network '${network.name}' has no outputs: mark at least one with markOutput`);
    checkNetworkTypes(network, precision, config.int8Fallback);
    const profiles = resolveProfiles(network, config.profile ?? {});
    const switches = passSwitches(config.optimizations ?? true);

    const g = BuildGraph.fromNetwork(network);
    const log: PassLog = { eliminated: new Map() };
    const passes: PassRecord[] = OPTIMIZATIONS.map((name) => ({
      name, enabled: switches[name], rewrites: switches[name] ? PASSES[name](g, log) : 0,
    }));
    removeDeadCode(g, log);

    const plan = emitPlan(g, network, profiles, precision, backend);
    const limit = config.workspaceLimit;
    if (limit !== undefined && plan.memory.arenaSize > limit) {
      throw new BuildError(
        `network '${network.name}': the memory plan needs ${plan.memory.arenaSize} bytes of activation memory at the profile's max shapes, ` +
        `but workspaceLimit is ${limit} bytes (raise it or lower the profile's max shapes)`,
      );
    }
    const report: BuildReport = {
      network: network.name,
      backend: backend.name,
      precision,
      layersBefore: network.layers.filter((l) => l.type !== 'constant').length,
      stepsAfter: plan.steps.length,
      passes,
      fusions: g.nodes.flatMap((n): FusionRecord[] => (n.rule !== null && n.layers.length > 1 ? [{ step: n.name, rule: n.rule, layers: n.layers }] : [])),
      eliminated: eliminatedLayers(network, plan, log),
      precisions: plan.steps.map((s) => ({ step: s.name, ...s.precision })),
      unfusedQdq: unfusedQdq(g, switches.qdqFusion),
      memory: {
        arenaBytes: plan.memory.arenaSize,
        unsharedBytes: plan.memory.unsharedSize,
        constantBytes: plan.blob.byteLength,
        workspaceLimit: limit ?? null,
      },
      buildMs: performance.now() - start,
    };
    return new Engine({ ...plan, report }, backend, config.timingCache !== undefined ? { timingCache: config.timingCache } : {});
  }
}

function passSwitches(opt: boolean | Readonly<Partial<Record<OptimizationName, boolean>>>): Record<OptimizationName, boolean> {
  const out = {} as Record<OptimizationName, boolean>;
  for (const name of OPTIMIZATIONS) out[name] = typeof opt === 'boolean' ? opt : opt[name] ?? true;
  if (typeof opt === 'object') {
    for (const key of Object.keys(opt)) {
      if (!(OPTIMIZATIONS as readonly string[]).includes(key)) {
        throw new BuildError(`unknown optimization '${key}' in BuilderConfig.optimizations (known: ${OPTIMIZATIONS.join(', ')})`);
      }
    }
  }
  return out;
}

/** The min/opt/max shapes of every network input: the config's, else the input's own, else its static shape. */
function resolveProfiles(net: NetworkDefinition, overrides: Readonly<Record<string, ShapeRange>>): ShapeRange[] {
  for (const name of Object.keys(overrides)) {
    if (!net.inputs.some((t) => t.name === name)) {
      throw new BuildError(`profile names input '${name}', which network '${net.name}' does not have (inputs: ${net.inputs.map((t) => t.name).join(', ')})`);
    }
  }
  return net.inputs.map((t) => {
    const range = overrides[t.name] ?? t.profile;
    if (!range) {
      if (t.shape.some((d) => d < 0)) throw new BuildError(`network input '${t.name}' has dynamic dims [${t.shape.join(', ')}] but no min/opt/max profile`);
      return { min: [...t.shape], opt: [...t.shape], max: [...t.shape] };
    }
    for (const [what, dims] of [['min', range.min], ['opt', range.opt], ['max', range.max]] as const) {
      if (dims.length !== t.shape.length) {
        throw new BuildError(`profile of input '${t.name}': ${what} [${dims.join(', ')}] has rank ${dims.length}, the input has rank ${t.shape.length}`);
      }
      dims.forEach((d, i) => {
        if (t.shape[i] !== -1 && d !== t.shape[i]) {
          throw new BuildError(`profile of input '${t.name}': ${what} dim ${i} is ${d} but the input's static dim is ${t.shape[i]}`);
        }
      });
    }
    t.shape.forEach((_, i) => {
      if (!(0 <= range.min[i]! && range.min[i]! <= range.opt[i]! && range.opt[i]! <= range.max[i]!)) {
        throw new BuildError(`profile of input '${t.name}': dim ${i} needs 0 <= min <= opt <= max, got ${range.min[i]} / ${range.opt[i]} / ${range.max[i]}`);
      }
    });
    return range;
  });
}

/** Removes nodes none of whose outputs is read or returned, last first. */
function removeDeadCode(g: BuildGraph, log: PassLog): void {
  const nodes = g.nodes;
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i]!;
    if (n.outputs.every((o) => g.uses(o).length === 0 && !g.isGraphOutput(o))) {
      g.removeNode(n);
      for (const layer of n.layers) {
        if (!log.eliminated.has(layer)) log.eliminated.set(layer, { layer, rule: 'deadCode', detail: 'no network output depends on it' });
      }
    }
  }
  g.compact();
}

/** Layers no step executes, with the reason a pass gave. */
function eliminatedLayers(net: NetworkDefinition, plan: Omit<Plan, 'report'>, log: PassLog): BuildReport['eliminated'] {
  const covered = new Set(plan.steps.flatMap((s) => s.layers));
  return net.layers
    .filter((l) => l.type !== 'constant' && !covered.has(l.name))
    .map((l) => log.eliminated.get(l.name) ?? { layer: l.name, rule: 'deadCode', detail: 'no network output depends on it' });
}

/** Turns the optimized graph into a Plan (without report): ids, constants blob, steps, memory. */
function emitPlan(g: BuildGraph, net: NetworkDefinition, profiles: readonly ShapeRange[], precision: BuilderPrecision, backend: Backend): Omit<Plan, 'report'> {
  const nodes = g.nodes;
  const ids = new Map<BValue, number>();
  const order: BValue[] = [];
  const add = (v: BValue): number => {
    let id = ids.get(v);
    if (id === undefined) {
      id = order.length;
      ids.set(v, id);
      order.push(v);
    }
    return id;
  };
  g.inputs.forEach(add);
  for (const n of nodes) {
    n.inputs.forEach(add);
    n.outputs.forEach(add);
  }
  g.outputs.forEach((o) => add(o.value));

  // Constants, packed into one aligned blob.
  const constants: PlanConstant[] = [];
  const constantIndex = new Map<BValue, number>();
  let blobSize = 0;
  for (const v of order) {
    if (v.constant === null) continue;
    const offset = Math.ceil(blobSize / BLOB_ALIGNMENT) * BLOB_ALIGNMENT;
    const byteLength = byteSizeOf(v.dtype, v.shape);
    constantIndex.set(v, constants.length);
    constants.push({ name: v.name, dtype: v.dtype, shape: v.shape, offset, byteLength });
    blobSize = offset + byteLength;
  }
  const blob = new Uint8Array(blobSize);
  for (const [v, i] of constantIndex) blob.set(v.constant!.bytes(), constants[i]!.offset);

  const steps: PlanStep[] = nodes.map((n) => toStep(n, ids, backend));
  const inputs: PlanInput[] = net.inputs.map((t, i) => ({ name: t.name, value: ids.get(g.inputs[i]!)!, dtype: t.dtype, shape: t.shape, profile: profiles[i]! }));
  const outputs = g.outputs.map((o) => ({ name: o.name, value: ids.get(o.value)!, dtype: o.value.dtype, shape: o.value.shape }));
  const location = (v: BValue, id: number): ValueLocation => {
    const c = constantIndex.get(v);
    if (c !== undefined) return { kind: 'constant', index: c };
    const input = inputs.findIndex((io) => io.value === id);
    if (input >= 0) return { kind: 'input', index: input };
    const output = outputs.findIndex((io) => io.value === id);
    if (output >= 0) return { kind: 'output', index: output };
    return { kind: 'arena', offset: 0, size: 0 };
  };
  const draftValues: PlanValue[] = order.map((v, id) => ({ id, name: v.name, dtype: v.dtype, shape: v.shape, location: location(v, id) }));
  const draft = {
    version: PLAN_VERSION, name: net.name, backend: backend.name, precision, inputs, outputs, values: draftValues, constants, steps,
    memory: { arenaSize: 0, unsharedSize: 0, alignment: 1 }, blob,
  };

  // Sizes at the profile's shapes (the largest of min/opt/max), lifetimes in step order.
  const sizes = new Array<number>(order.length).fill(0);
  for (const which of ['min', 'opt', 'max'] as const) {
    const shapes = resolveShapes({ ...draft, report: EMPTY_REPORT }, profiles.map((p) => p[which]));
    shapes.forEach((s, id) => {
      sizes[id] = Math.max(sizes[id]!, byteSizeOf(order[id]!.dtype, s));
    });
  }
  const def = new Array<number>(order.length).fill(-1);
  const lastUse = new Array<number>(order.length).fill(-1);
  steps.forEach((s, i) => {
    for (const id of s.outputs) def[id] = i;
    for (const id of s.inputs) lastUse[id] = i;
  });
  const requests = draftValues
    .filter((v) => v.location.kind === 'arena')
    .map((v) => ({ id: v.id, size: sizes[v.id]!, def: def[v.id]!, lastUse: Math.max(lastUse[v.id]!, def[v.id]!) }));
  const memory = planMemory(requests);
  const values = draftValues.map((v): PlanValue => {
    const a = memory.assignments.get(v.id);
    return a ? { ...v, location: { kind: 'arena', offset: a.offset, size: a.size } } : v;
  });
  return { ...draft, values, memory: { arenaSize: memory.arenaSize, unsharedSize: memory.unsharedSize, alignment: memory.alignment } };
}

/** The plan step of a node, with the precision it computes in and the backend's tactic. */
function toStep(n: BNode, ids: ReadonlyMap<BValue, number>, backend: Backend): PlanStep {
  const base = {
    name: n.name, layers: n.layers, inputs: n.inputs.map((v) => ids.get(v)!), outputs: n.outputs.map((v) => ids.get(v)!),
    precision: stepPrecision(n), tactic: '', ...(n.quant ? { quant: n.quant } : {}),
  };
  const step: PlanStep = n.kind === 'pointwise'
    ? { ...base, kind: 'pointwise', program: n.program }
    : ({ ...base, kind: n.kind, params: n.params, epilogue: n.epilogue } as PlanStep);
  return { ...step, tactic: backend.tactic(step) };
}

/** A placeholder report for shape resolution during the build (never stored). */
const EMPTY_REPORT: BuildReport = {
  network: '', backend: '', precision: '', layersBefore: 0, stepsAfter: 0, passes: [], fusions: [], eliminated: [], precisions: [], unfusedQdq: [],
  memory: { arenaBytes: 0, unsharedBytes: 0, constantBytes: 0, workspaceLimit: null }, buildMs: 0,
};

