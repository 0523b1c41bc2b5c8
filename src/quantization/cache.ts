/**
 * The calibration cache (TensorRT's readCalibrationCache / writeCalibrationCache): the activation
 * thresholds by tensor name, as JSON, so that a later compile of the same model skips calibration.
 *
 *   { "format": "fxrt-calibration-cache", "version": 1,
 *     "method": "entropy", "params": { "bins": 2048, "levels": 128 },
 *     "graph": "<sha-256 of the acc graph's structure>", "batches": 16,
 *     "tensors": { "x": { "amax": 2.63, "scale": 0.0207 }, ... } }
 *
 * The graph hash covers the acc graph's nodes, ops, arguments and the shapes and dtypes of its
 * constants, not the weights' values: a cache written for another model is rejected, one written
 * for the same architecture with retrained weights is not (recalibrate after retraining). A
 * cache written with another method or parameters is rejected too, rather than silently used or
 * overwritten. Weight scales are not cached: they come from the weights themselves.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { GraphModule } from '../ir/graph_module.js';
import { Slice, isNode, type Argument } from '../ir/node.js';
import { Tensor } from '../tensor/tensor.js';
import type { MethodSpec } from './calibrator.js';
import { scaleOf, type QuantFormat } from './scales.js';

/** The cache's "format" field, which tells it apart from other JSON. */
export const CALIBRATION_CACHE_FORMAT = 'fxrt-calibration-cache';
/** Version of the cache's JSON layout. */
export const CALIBRATION_CACHE_VERSION = 1;

/** Where a calibration cache lives, when not in a file: reads and writes its JSON text. */
export interface CalibrationCacheStore {
  /** The cache's text, or undefined when none has been written yet. */
  read(): string | undefined | Promise<string | undefined>;
  write(text: string): void | Promise<void>;
}

/** A calibration cache: a file path (created on first write) or a store. */
export type CalibrationCache = string | CalibrationCacheStore;

/** A cache that does not belong to this compile (another model, method or version) or is malformed. */
export class CalibrationCacheError extends Error {
  override name = 'CalibrationCacheError';
}

/** What a valid cache holds for this compile. */
export interface CachedCalibration {
  readonly amax: ReadonlyMap<string, number>;
  /** Batches the cached thresholds were calibrated on. */
  readonly batches: number;
}

function describeArgument(a: Argument): string {
  if (isNode(a)) return `%${a.name}`;
  if (a instanceof Slice) return `slice(${a.toString()})`;
  if (Array.isArray(a)) return `[${a.map(describeArgument).join(',')}]`;
  if (a !== null && typeof a === 'object') {
    const entries = Object.entries(a as Readonly<Record<string, Argument>>);
    return `{${entries.map(([k, v]) => `${k}:${describeArgument(v)}`).join(',')}}`;
  }
  return typeof a === 'string' ? JSON.stringify(a) : String(a);
}

/**
 * A SHA-256 hex digest of the graph's structure: every node's op, target, arguments and name,
 * and each constant's shape and dtype (not its values).
 *
 * @example
 * graphStructureHash(gm); // 'c0f1…' (64 hex digits), the same for every trace of the model
 */
export function graphStructureHash(gm: GraphModule): string {
  const h = createHash('sha256');
  for (const n of gm.graph.nodes()) {
    let target: string;
    if (n.op === 'call_function') target = n.target.name;
    else if (n.op === 'get_attr') {
      const v = gm.getAttr(n.target);
      target = v instanceof Tensor ? `${v.dtype}[${v.shape.join(',')}]` : 'non-tensor';
    } else target = n.op === 'placeholder' ? '' : n.target;
    h.update(`${n.name}=${n.op}:${target}(${n.args.map(describeArgument).join(',')};${describeArgument(n.kwargs)})\n`);
  }
  return h.digest('hex');
}

function where(cache: CalibrationCache): string {
  return typeof cache === 'string' ? `calibration cache '${cache}'` : 'calibration cache';
}

async function readText(cache: CalibrationCache): Promise<string | undefined> {
  if (typeof cache !== 'string') return cache.read();
  try {
    return await readFile(cache, 'utf8');
  } catch (e) {
    if (e instanceof Error && 'code' in e && e.code === 'ENOENT') return undefined;
    throw new CalibrationCacheError(`${where(cache)} cannot be read: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

function record(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function sameParams(a: Readonly<Record<string, unknown>>, b: Readonly<Record<string, number>>): boolean {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k] === b[k]);
}

function formatSpec(method: unknown, params: Readonly<Record<string, unknown>>): string {
  const p = Object.entries(params).map(([k, v]) => `${k}=${String(v)}`).join(', ');
  return `'${String(method)}'${p ? ` (${p})` : ''}`;
}

/**
 * Reads the cache: undefined when there is none yet, the thresholds when it matches this graph,
 * method and parameters and covers every tensor in `tensors`; otherwise a CalibrationCacheError
 * saying what differs.
 *
 * @example
 * const cached = await readCalibrationCache('resnet.calib.json', { spec, graph: graphStructureHash(gm), tensors });
 */
export async function readCalibrationCache(
  cache: CalibrationCache, expected: { readonly spec: MethodSpec; readonly graph: string; readonly tensors: readonly string[] },
): Promise<CachedCalibration | undefined> {
  const text = await readText(cache);
  if (text === undefined) return undefined;
  const w = where(cache);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new CalibrationCacheError(`${w} is not valid JSON: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  const doc = record(parsed);
  if (!doc || doc['format'] !== CALIBRATION_CACHE_FORMAT) throw new CalibrationCacheError(`${w} is not an fxrt calibration cache (no "format": "${CALIBRATION_CACHE_FORMAT}")`);
  if (doc['version'] !== CALIBRATION_CACHE_VERSION) {
    throw new CalibrationCacheError(`${w} has version ${String(doc['version'])}, this fxrt reads version ${CALIBRATION_CACHE_VERSION}; delete it to recalibrate`);
  }
  if (doc['graph'] !== expected.graph) {
    throw new CalibrationCacheError(`${w} was written for a different model: its graph hash is ${String(doc['graph'])}, this model's is ${expected.graph}. ` +
      'Delete it (or point calibration.cache elsewhere) to calibrate this model');
  }
  const params = record(doc['params']) ?? {};
  if (doc['method'] !== expected.spec.method || !sameParams(params, expected.spec.params)) {
    throw new CalibrationCacheError(`${w} holds thresholds of method ${formatSpec(doc['method'], params)}, this compile asks for ` +
      `${formatSpec(expected.spec.method, expected.spec.params)}; delete it to recalibrate, or ask for the cached method`);
  }
  const tensors = record(doc['tensors']);
  const batches = doc['batches'];
  if (!tensors || typeof batches !== 'number') throw new CalibrationCacheError(`${w}: "tensors" or "batches" is missing`);
  const amax = new Map<string, number>();
  for (const name of expected.tensors) {
    const a = record(tensors[name])?.['amax'];
    if (typeof a !== 'number' || !(a >= 0 && a < Infinity)) {
      throw new CalibrationCacheError(`${w} has no valid threshold for tensor '${name}' (expected { "amax": <finite number >= 0> }); delete it to recalibrate`);
    }
    amax.set(name, a);
  }
  return { amax, batches };
}

/**
 * Writes the thresholds (with their scales, for reading) as the cache's JSON, creating the
 * file's directory if needed.
 */
export async function writeCalibrationCache(
  cache: CalibrationCache,
  content: { readonly spec: MethodSpec; readonly graph: string; readonly batches: number; readonly amax: ReadonlyMap<string, number>; readonly format?: QuantFormat },
): Promise<void> {
  const tensors: Record<string, { amax: number; scale: number }> = {};
  for (const [name, a] of content.amax) tensors[name] = { amax: a, scale: scaleOf(a, content.format) };
  const doc = {
    format: CALIBRATION_CACHE_FORMAT, version: CALIBRATION_CACHE_VERSION,
    method: content.spec.method, params: content.spec.params, graph: content.graph, batches: content.batches, tensors,
  };
  const text = `${JSON.stringify(doc, null, 2)}\n`;
  if (typeof cache !== 'string') {
    await cache.write(text);
    return;
  }
  try {
    await mkdir(dirname(cache), { recursive: true });
    await writeFile(cache, text);
  } catch (e) {
    throw new CalibrationCacheError(`${where(cache)} cannot be written: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}
