/**
 * The build report: what the builder did to a network (TensorRT's verbose build log, as data).
 * Layers before and after optimization, which layers each fused step covers and by which rule,
 * which layers disappeared and why, the precision of every step and the memory plan's size.
 */
import type { DType } from '../tensor/dtype.js';

/** The builder's optimization passes in the order they run, each switchable in BuilderConfig.optimizations. */
export const OPTIMIZATIONS = [
  'constantFolding', 'shuffleElimination', 'geluPattern', 'softmaxPattern', 'normalizationPattern', 'epilogueFusion',
  'qdqPropagation', 'pointwiseFusion', 'qdqFusion',
] as const;
/** The name of one optimization pass. */
export type OptimizationName = (typeof OPTIMIZATIONS)[number];

/** A step that covers several network layers. */
export interface FusionRecord {
  readonly step: string;
  readonly rule: OptimizationName;
  readonly layers: readonly string[];
}

/** A network layer that no step executes any more. */
export interface EliminationRecord {
  readonly layer: string;
  readonly rule: OptimizationName | 'deadCode';
  readonly detail: string;
}

/** What one pass did. */
export interface PassRecord {
  readonly name: OptimizationName;
  readonly enabled: boolean;
  /** How many rewrites the pass made. */
  readonly rewrites: number;
}

/** The precision of one step. */
export interface StepPrecisionRecord {
  readonly step: string;
  readonly storage: DType;
  readonly compute: DType;
}

/**
 * A quantize or dequantize layer that still runs as its own step (it did not fuse into an int8
 * step), and why, in terms of the layers around it.
 */
export interface UnfusedQdqRecord {
  /** The network layer (a quantize or dequantize layer). */
  readonly layer: string;
  readonly kind: 'quantize' | 'dequantize';
  /** The step that runs it. */
  readonly step: string;
  readonly reason: string;
}

/** Sizes of the engine's memory. */
export interface MemoryRecord {
  /** Activation arena bytes at the profile's max shapes, after sharing by liveness. */
  readonly arenaBytes: number;
  /** What the same activations take without sharing. */
  readonly unsharedBytes: number;
  readonly constantBytes: number;
  readonly workspaceLimit: number | null;
}

/** What the builder did to a network (`engine.report`). */
export interface BuildReport {
  readonly network: string;
  readonly backend: string;
  readonly precision: string;
  readonly layersBefore: number;
  readonly stepsAfter: number;
  readonly passes: readonly PassRecord[];
  readonly fusions: readonly FusionRecord[];
  readonly eliminated: readonly EliminationRecord[];
  readonly precisions: readonly StepPrecisionRecord[];
  /** Quantize/dequantize layers left as standalone steps, with the reason (empty when every Q/DQ fused). */
  readonly unfusedQdq: readonly UnfusedQdqRecord[];
  readonly memory: MemoryRecord;
  readonly buildMs: number;
}

/**
 * A readable multi-line summary of a build report.
 * @example
 * console.log(formatReport(engine.report));
 */
export function formatReport(r: BuildReport): string {
  const lines = [
    `engine '${r.network}' (${r.backend}, precision ${r.precision}): ${r.layersBefore} layers -> ${r.stepsAfter} steps in ${r.buildMs.toFixed(1)} ms`,
    `passes: ${r.passes.map((p) => `${p.name}${p.enabled ? `=${p.rewrites}` : ' (off)'}`).join(', ')}`,
  ];
  for (const f of r.fusions) lines.push(`  fused [${f.rule}] ${f.step}: ${f.layers.join(' + ')}`);
  for (const e of r.eliminated) lines.push(`  removed [${e.rule}] ${e.layer}: ${e.detail}`);
  for (const u of r.unfusedQdq) lines.push(`  unfused ${u.kind} ${u.layer} (step ${u.step}): ${u.reason}`);
  const byPrecision = new Map<string, number>();
  for (const p of r.precisions) {
    const key = p.storage === p.compute ? p.storage : `${p.storage} (compute ${p.compute})`;
    byPrecision.set(key, (byPrecision.get(key) ?? 0) + 1);
  }
  lines.push(`precisions: ${[...byPrecision].map(([k, n]) => `${n} x ${k}`).join(', ')}`);
  const m = r.memory;
  lines.push(
    `memory: arena ${m.arenaBytes} bytes (unshared ${m.unsharedBytes}), constants ${m.constantBytes} bytes` +
    (m.workspaceLimit === null ? '' : `, workspace limit ${m.workspaceLimit}`),
  );
  return lines.join('\n');
}
