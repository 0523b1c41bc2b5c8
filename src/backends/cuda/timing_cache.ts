/**
 * The CUDA backend's persistent timing cache (TensorRT's ITimingCache): library tactics timed on
 * a device (cuDNN algorithms, cuBLASLt algos), keyed by the op's full signature and grouped by the
 * device they were timed on, in one file that builds read and update.
 *
 *   bytes 0-3    magic 'FXTC'
 *   bytes 4-7    u32 format version (TIMING_CACHE_VERSION), little-endian
 *   bytes 8-11   u32 byte length of the body
 *   body         UTF-8 JSON: { sections: [{ device, entries: [{ key, tactic, ms, data }] }] }, data in base64
 *   last 4       u32 CRC-32 (zlib) of every byte before it
 *
 * A file that is truncated, corrupted, of another format version or malformed is ignored as a
 * whole, with a warning; sections of other devices (another GPU model, SM count, library version
 * or native record format) are never used, only kept for those devices. The native side does not
 * trust what it is handed either: every record is decoded and checked against the library again.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { crc32 } from 'node:zlib';

/** Format version of timing cache files. */
export const TIMING_CACHE_VERSION = 1;

const MAGIC = 'FXTC';
const HEADER_BYTES = 12;

/** What a timed tactic depends on besides its op: the device key of a section. */
export interface TimingCacheDevice {
  readonly name: string;
  readonly computeCapability: readonly [number, number];
  readonly multiprocessors: number;
  /** cublasLtGetVersion(), or null where the addon has no cuBLASLt. */
  readonly cublasLtVersion: number | null;
  /** cudnnGetVersion(), or null where the addon has no cuDNN. */
  readonly cudnnVersion: number | null;
  /** Version of the native signature keys and tactic records. */
  readonly tacticFormat: number;
}

/** One timed choice. */
export interface TimingCacheEntry {
  /** The op's full signature (shapes, dtypes, strides, alignments, epilogue). */
  readonly key: string;
  /** The choice, readable (e.g. 'cudnn:implicit_precomp_gemm+bias+relu'). */
  readonly tactic: string;
  /** Device time measured when it was chosen (negative: unknown). */
  readonly ms: number;
  /** The native record (algorithm and its parameters); opaque here. */
  readonly data: Uint8Array;
}

/** The entries timed on one device. */
export interface TimingCacheSection {
  readonly device: TimingCacheDevice;
  readonly entries: readonly TimingCacheEntry[];
}

/** A timing cache file that cannot be read (the message says why). */
export class TimingCacheFormatError extends Error {
  override name = 'TimingCacheFormatError';
}

/** Whether two device keys are the same device. */
export function sameDevice(a: TimingCacheDevice, b: TimingCacheDevice): boolean {
  return a.name === b.name && a.computeCapability[0] === b.computeCapability[0] && a.computeCapability[1] === b.computeCapability[1] &&
    a.multiprocessors === b.multiprocessors && a.cublasLtVersion === b.cublasLtVersion && a.cudnnVersion === b.cudnnVersion &&
    a.tacticFormat === b.tacticFormat;
}

/** A device key as one readable line. */
export function describeDevice(d: TimingCacheDevice): string {
  return `${d.name} (sm_${d.computeCapability[0]}${d.computeCapability[1]}, ${d.multiprocessors} SMs, ` +
    `cuBLASLt ${d.cublasLtVersion ?? 'none'}, cuDNN ${d.cudnnVersion ?? 'none'}, tactic format ${d.tacticFormat})`;
}

/**
 * The bytes of a timing cache file holding `sections` (entries sorted by key, so equal caches
 * give equal files).
 * @example
 *   writeFileSync('model.cache', encodeTimingCache([{ device, entries }]));
 */
export function encodeTimingCache(sections: readonly TimingCacheSection[]): Uint8Array {
  const body = new TextEncoder().encode(JSON.stringify({
    sections: sections.map((s) => ({
      device: s.device,
      entries: [...s.entries].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)).map((e) => ({
        key: e.key, tactic: e.tactic, ms: e.ms, data: Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength).toString('base64'),
      })),
    })),
  }));
  const out = new Uint8Array(HEADER_BYTES + body.byteLength + 4);
  const view = new DataView(out.buffer);
  out.set(new TextEncoder().encode(MAGIC), 0);
  view.setUint32(4, TIMING_CACHE_VERSION, true);
  view.setUint32(8, body.byteLength, true);
  out.set(body, HEADER_BYTES);
  view.setUint32(out.byteLength - 4, crc32(out.subarray(0, out.byteLength - 4)), true);
  return out;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function fail(what: string): never {
  throw new TimingCacheFormatError(`timing cache is malformed: ${what}`);
}

function field<T>(o: Json, key: string, where: string, check: (v: unknown) => v is T, expected: string): T {
  const v = o[key];
  if (!check(v)) fail(`${where}.${key} must be ${expected}, got ${JSON.stringify(v) ?? 'nothing'}`);
  return v;
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;
const isVersion = (v: unknown): v is number | null => v === null || isCount(v);
const isPair = (v: unknown): v is [number, number] => Array.isArray(v) && v.length === 2 && v.every(isCount);
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const isBase64 = (v: unknown): v is string => typeof v === 'string' && v.length % 4 === 0 && BASE64.test(v);

function readDevice(v: unknown, where: string): TimingCacheDevice {
  if (!isObject(v)) fail(`${where} must be an object`);
  const [major, minor] = field(v, 'computeCapability', where, isPair, 'a [major, minor] pair');
  return {
    name: field(v, 'name', where, isString, 'a string'),
    computeCapability: [major, minor],
    multiprocessors: field(v, 'multiprocessors', where, isCount, 'a count'),
    cublasLtVersion: field(v, 'cublasLtVersion', where, isVersion, 'a version number or null'),
    cudnnVersion: field(v, 'cudnnVersion', where, isVersion, 'a version number or null'),
    tacticFormat: field(v, 'tacticFormat', where, isCount, 'a version number'),
  };
}

function readEntry(v: unknown, where: string): TimingCacheEntry {
  if (!isObject(v)) fail(`${where} must be an object`);
  const data = Buffer.from(field(v, 'data', where, isBase64, 'base64 bytes'), 'base64');
  return {
    key: field(v, 'key', where, isString, 'a string'),
    tactic: field(v, 'tactic', where, isString, 'a string'),
    ms: field(v, 'ms', where, isNumber, 'a number'),
    data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  };
}

/**
 * Reads the sections of a timing cache file; throws TimingCacheFormatError saying what is wrong
 * with bytes that are truncated, corrupted (CRC), of another format version or malformed.
 * @example
 *   const sections = decodeTimingCache(readFileSync('model.cache'));
 */
export function decodeTimingCache(bytes: Uint8Array): TimingCacheSection[] {
  if (bytes.byteLength < HEADER_BYTES + 4) throw new TimingCacheFormatError(`timing cache is truncated: ${bytes.byteLength} bytes, a header alone takes ${HEADER_BYTES + 4}`);
  const magic = new TextDecoder().decode(bytes.subarray(0, 4));
  if (magic !== MAGIC) throw new TimingCacheFormatError(`not a timing cache: it starts with ${JSON.stringify(magic)}, expected '${MAGIC}'`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(4, true);
  if (version !== TIMING_CACHE_VERSION) {
    throw new TimingCacheFormatError(`timing cache has format version ${version}, this build reads version ${TIMING_CACHE_VERSION}`);
  }
  const bodyBytes = view.getUint32(8, true);
  const expected = HEADER_BYTES + bodyBytes + 4;
  if (bytes.byteLength !== expected) {
    throw new TimingCacheFormatError(`timing cache is ${bytes.byteLength < expected ? 'truncated' : 'followed by extra bytes'}: ${bytes.byteLength} bytes, its header says ${expected}`);
  }
  const stored = view.getUint32(expected - 4, true);
  const actual = crc32(bytes.subarray(0, expected - 4));
  if (stored !== actual) {
    const hex = (n: number): string => `0x${n.toString(16).padStart(8, '0')}`;
    throw new TimingCacheFormatError(`timing cache is corrupted: CRC-32 is ${hex(actual)}, the file records ${hex(stored)}`);
  }
  let root: unknown;
  try {
    root = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(HEADER_BYTES, HEADER_BYTES + bodyBytes)));
  } catch (e) {
    fail(`its body is not JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (!isObject(root) || !Array.isArray(root['sections'])) fail('the body must be { sections: [...] }');
  const sections = root['sections'].map((s: unknown, i): TimingCacheSection => {
    const where = `sections[${i}]`;
    if (!isObject(s) || !Array.isArray(s['entries'])) fail(`${where} must be { device, entries: [...] }`);
    const entries = s['entries'].map((e: unknown, j) => readEntry(e, `${where}.entries[${j}]`));
    const keys = new Set<string>();
    for (const e of entries) {
      if (keys.has(e.key)) fail(`${where} lists key ${JSON.stringify(e.key)} twice`);
      keys.add(e.key);
    }
    return { device: readDevice(s['device'], `${where}.device`), entries };
  });
  sections.forEach((s, i) => {
    if (sections.findIndex((t) => sameDevice(t.device, s.device)) !== i) fail(`sections[${i}] repeats the device ${describeDevice(s.device)}`);
  });
  return sections;
}

function warn(message: string): void {
  process.emitWarning(message, { type: 'TimingCacheWarning', code: 'FXRT_TIMING_CACHE' });
}

/** Why a file could not be read, or null when it does not exist. */
function readBytes(path: string): { bytes: Uint8Array } | { missing: true } | { error: string } {
  try {
    return { bytes: readFileSync(path) };
  } catch (e) {
    if (e instanceof Error && 'code' in e && e.code === 'ENOENT') return { missing: true };
    return { error: e instanceof Error ? e.message : String(e) };
  }
}

/**
 * A timing cache file opened for one device: the entries it holds for that device, and saving
 * new ones into it. Problems with the file never fail a build: they are warned about
 * (process warnings of type 'TimingCacheWarning') and listed in `warnings`, and the build times
 * what the file could not provide.
 * @example
 *   const cache = TimingCache.open('resnet.cache', nativePlan.tacticDevice());
 *   nativePlan.importTactics(cache.entries);
 *   // ... tune ...
 *   cache.save(nativePlan.exportTactics());
 */
export class TimingCache {
  readonly path: string;
  readonly device: TimingCacheDevice;
  /** This device's entries as the file held them when opened. */
  readonly entries: readonly TimingCacheEntry[];
  /** Whether the file must be written even without new entries (it is missing or unusable). */
  readonly stale: boolean;
  readonly #warnings: string[];

  private constructor(path: string, device: TimingCacheDevice, entries: readonly TimingCacheEntry[], stale: boolean, warnings: string[]) {
    this.path = path;
    this.device = device;
    this.entries = entries;
    this.stale = stale;
    this.#warnings = warnings;
  }

  /** What was wrong with the file (ignored sections, unreadable or unwritable file). */
  get warnings(): readonly string[] {
    return this.#warnings;
  }

  /** Reads `path` (a missing file is an empty cache) and keeps the entries timed on `device`. */
  static open(path: string, device: TimingCacheDevice): TimingCache {
    if (path.length === 0) throw new TypeError('timingCache must be a file path, got an empty string');
    const warnings: string[] = [];
    const note = (message: string): void => {
      warnings.push(message);
      warn(message);
    };
    const read = readBytes(path);
    if ('missing' in read) return new TimingCache(path, device, [], true, warnings);
    if ('error' in read) {
      note(`timing cache ${path} cannot be read (${read.error}): every tactic is timed again`);
      return new TimingCache(path, device, [], true, warnings);
    }
    let sections: TimingCacheSection[];
    try {
      sections = decodeTimingCache(read.bytes);
    } catch (e) {
      if (!(e instanceof TimingCacheFormatError)) throw e;
      note(`timing cache ${path} is unusable (${e.message}): it is ignored, every tactic is timed again and the file rewritten`);
      return new TimingCache(path, device, [], true, warnings);
    }
    const mine = sections.find((s) => sameDevice(s.device, device));
    if (!mine && sections.length > 0) {
      note(`timing cache ${path} holds tactics timed on ${sections.map((s) => describeDevice(s.device)).join('; ')}, ` +
        `not on this ${describeDevice(device)}: they are ignored and this device's are added`);
    }
    return new TimingCache(path, device, mine?.entries ?? [], false, warnings);
  }

  /**
   * Adds `entries` (newer than the file's for the same key) to this device's section of the file
   * as it is now, keeping other devices' sections, and replaces the file atomically. A failure is
   * a warning: the engine was built all the same.
   */
  save(entries: readonly TimingCacheEntry[]): void {
    const read = readBytes(this.path);
    let sections: TimingCacheSection[] = [];
    if ('bytes' in read) {
      try {
        sections = decodeTimingCache(read.bytes);
      } catch (e) {
        if (!(e instanceof TimingCacheFormatError)) throw e;
      }
    }
    const merged = new Map<string, TimingCacheEntry>();
    const mine = sections.find((s) => sameDevice(s.device, this.device));
    for (const e of [...this.entries, ...(mine?.entries ?? []), ...entries]) merged.set(e.key, e);
    const others = sections.filter((s) => s !== mine);
    const bytes = encodeTimingCache([...others, { device: this.device, entries: [...merged.values()] }]);
    const temp = `${this.path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    try {
      mkdirSync(dirname(this.path), { recursive: true });
      writeFileSync(temp, bytes);
      renameSync(temp, this.path);
    } catch (e) {
      rmSync(temp, { force: true });
      const message = `timing cache ${this.path} cannot be written (${e instanceof Error ? e.message : String(e)}): the tactics timed now are not kept`;
      this.#warnings.push(message);
      warn(message);
    }
  }
}
