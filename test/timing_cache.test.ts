/**
 * The CUDA backend's timing cache file on any machine: the format round-trips, and a truncated,
 * corrupted, foreign or malformed file is refused (decode) or ignored with a warning (open) so
 * that the build times again instead of trusting it; saving merges with what the file holds.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  decodeTimingCache, describeDevice, encodeTimingCache, sameDevice, TIMING_CACHE_VERSION, TimingCache, TimingCacheFormatError,
  type TimingCacheDevice, type TimingCacheEntry,
} from '../src/backends/cuda/timing_cache.js';

const H100: TimingCacheDevice = {
  name: 'NVIDIA H100 80GB HBM3', computeCapability: [9, 0], multiprocessors: 132, cublasLtVersion: 130100, cudnnVersion: 91900, tacticFormat: 1,
};
const OTHER: TimingCacheDevice = { ...H100, name: 'NVIDIA A100-SXM4-80GB', computeCapability: [8, 0], multiprocessors: 108 };

function entry(key: string, seed: number): TimingCacheEntry {
  return { key, tactic: `cudnn:algo_${seed}`, ms: seed / 8, data: Uint8Array.from({ length: 75 }, (_, i) => (i * 31 + seed) & 0xff) };
}

/** Sets the CRC of edited bytes, so the checks behind it can be reached. */
function withFixedCrc(bytes: Uint8Array): Uint8Array {
  const out = bytes.slice();
  new DataView(out.buffer).setUint32(out.length - 4, crc32(out.subarray(0, out.length - 4)), true);
  return out;
}

/** A file whose JSON body is `body`, with a valid header and CRC. */
function withBody(body: string): Uint8Array {
  const json = new TextEncoder().encode(body);
  const out = new Uint8Array(12 + json.length + 4);
  out.set(new TextEncoder().encode('FXTC'), 0);
  const view = new DataView(out.buffer);
  view.setUint32(4, TIMING_CACHE_VERSION, true);
  view.setUint32(8, json.length, true);
  out.set(json, 12);
  return withFixedCrc(out);
}

function plain(e: TimingCacheEntry): { key: string; tactic: string; ms: number; data: number[] } {
  return { key: e.key, tactic: e.tactic, ms: e.ms, data: Array.from(e.data) };
}

describe('timing cache format', () => {
  it('round-trips sections with their device keys; entries are sorted by key, so equal caches give equal bytes', () => {
    const a = [entry('gemm b', 2), entry('conv a', 1)];
    const bytes = encodeTimingCache([{ device: H100, entries: a }, { device: OTHER, entries: [entry('conv a', 3)] }]);
    const back = decodeTimingCache(bytes);
    expect(back).toHaveLength(2);
    expect(back[0]!.device).toEqual(H100);
    expect(back[0]!.entries.map(plain)).toEqual([entry('conv a', 1), entry('gemm b', 2)].map(plain));
    expect(back[1]!.device).toEqual(OTHER);
    expect(Array.from(encodeTimingCache([{ device: H100, entries: [...a].reverse() }]))).toEqual(Array.from(encodeTimingCache([{ device: H100, entries: a }])));
  });

  it('compares devices on every field of the key', () => {
    expect(sameDevice(H100, { ...H100 })).toBe(true);
    for (const change of [{ name: 'x' }, { computeCapability: [9, 1] as const }, { multiprocessors: 114 }, { cublasLtVersion: null }, { cudnnVersion: 91000 }, { tacticFormat: 2 }]) {
      expect(sameDevice(H100, { ...H100, ...change })).toBe(false);
    }
    expect(describeDevice(H100)).toBe('NVIDIA H100 80GB HBM3 (sm_90, 132 SMs, cuBLASLt 130100, cuDNN 91900, tactic format 1)');
  });

  it('refuses truncated, foreign, other-version, corrupted and padded bytes, saying which', () => {
    const bytes = encodeTimingCache([{ device: H100, entries: [entry('k', 1)] }]);
    expect(() => decodeTimingCache(bytes.subarray(0, 10))).toThrow('timing cache is truncated: 10 bytes, a header alone takes 16');
    expect(() => decodeTimingCache(bytes.subarray(0, bytes.length - 1))).toThrow(/^timing cache is truncated: \d+ bytes, its header says \d+$/);
    expect(() => decodeTimingCache(new Uint8Array([...bytes, 0]))).toThrow(/followed by extra bytes/);
    const foreign = bytes.slice();
    foreign.set(new TextEncoder().encode('FXRT'), 0);
    expect(() => decodeTimingCache(foreign)).toThrow(`not a timing cache: it starts with "FXRT", expected 'FXTC'`);
    const newer = bytes.slice();
    new DataView(newer.buffer).setUint32(4, TIMING_CACHE_VERSION + 1, true);
    expect(() => decodeTimingCache(newer)).toThrow(`timing cache has format version ${TIMING_CACHE_VERSION + 1}, this build reads version ${TIMING_CACHE_VERSION}`);
    const flipped = bytes.slice();
    flipped[20] = flipped[20]! ^ 0x40;
    expect(() => decodeTimingCache(flipped)).toThrow(/^timing cache is corrupted: CRC-32 is 0x[0-9a-f]{8}, the file records 0x[0-9a-f]{8}$/);
    expect(() => decodeTimingCache(flipped)).toThrow(TimingCacheFormatError);
  });

  it('refuses a body that passes the CRC but is not a well-formed cache, naming the field', () => {
    const device = JSON.stringify(H100);
    const good = { key: 'k', tactic: 't', ms: 1, data: 'AAEC' };
    const cases: [string, string][] = [
      ['{', 'its body is not JSON'],
      ['[]', 'the body must be { sections: [...] }'],
      ['{"sections":[{"device":{}}]}', 'sections[0] must be { device, entries: [...] }'],
      [`{"sections":[{"device":${device},"entries":[{"key":"k","tactic":"t","ms":1,"data":"not base64!"}]}]}`, 'sections[0].entries[0].data must be base64 bytes'],
      [`{"sections":[{"device":${device},"entries":[{"key":"k","tactic":"t","ms":"1","data":"AAEC"}]}]}`, 'sections[0].entries[0].ms must be a number, got "1"'],
      [`{"sections":[{"device":${device},"entries":[${JSON.stringify(good)},${JSON.stringify(good)}]}]}`, 'sections[0] lists key "k" twice'],
      [`{"sections":[{"device":${JSON.stringify({ ...H100, computeCapability: [9] })},"entries":[]}]}`, 'sections[0].device.computeCapability must be a [major, minor] pair, got [9]'],
      [`{"sections":[{"device":${JSON.stringify({ ...H100, cudnnVersion: -1 })},"entries":[]}]}`, 'sections[0].device.cudnnVersion must be a version number or null, got -1'],
      [`{"sections":[{"device":${device},"entries":[]},{"device":${device},"entries":[]}]}`, 'sections[1] repeats the device'],
    ];
    for (const [body, message] of cases) {
      expect(() => decodeTimingCache(withBody(body)), body).toThrow(message);
    }
  });
});

describe('TimingCache file', () => {
  let dir: string;
  let warnings: string[];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'fxrt-timing-cache-'));
    warnings = [];
    vi.spyOn(process, 'emitWarning').mockImplementation((w: string | Error) => {
      warnings.push(typeof w === 'string' ? w : w.message);
    });
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('starts empty from a missing file, which a save creates (with its directory); a later open finds the entries', () => {
    const path = join(dir, 'sub', 'model.cache');
    const fresh = TimingCache.open(path, H100);
    expect(fresh.entries).toEqual([]);
    expect(fresh.stale).toBe(true);
    expect(fresh.warnings).toEqual([]);
    fresh.save([entry('a', 1), entry('b', 2)]);
    expect(readdirSync(join(dir, 'sub'))).toEqual(['model.cache']);
    const again = TimingCache.open(path, H100);
    expect(again.stale).toBe(false);
    expect(again.entries.map(plain)).toEqual([entry('a', 1), entry('b', 2)].map(plain));
    expect(warnings).toEqual([]);
  });

  it('merges a save into the file as it is now: entries another build added stay, newer ones replace older ones', () => {
    const path = join(dir, 'model.cache');
    const first = TimingCache.open(path, H100);
    const second = TimingCache.open(path, H100);
    first.save([entry('a', 1), entry('b', 2)]);
    second.save([entry('b', 5), entry('c', 3)]);
    expect(TimingCache.open(path, H100).entries.map(plain)).toEqual([entry('a', 1), entry('b', 5), entry('c', 3)].map(plain));
  });

  it("ignores another device's entries with a warning, and keeps them in the file next to this device's", () => {
    const path = join(dir, 'model.cache');
    writeFileSync(path, encodeTimingCache([{ device: OTHER, entries: [entry('a', 1)] }]));
    const cache = TimingCache.open(path, H100);
    expect(cache.entries).toEqual([]);
    expect(cache.stale).toBe(false);
    const expected = `timing cache ${path} holds tactics timed on ${describeDevice(OTHER)}, not on this ${describeDevice(H100)}: ` +
      "they are ignored and this device's are added";
    expect(cache.warnings).toEqual([expected]);
    expect(warnings).toEqual([expected]);
    cache.save([entry('a', 2)]);
    const sections = decodeTimingCache(readFileSync(path));
    expect(sections.map((s) => s.device)).toEqual([OTHER, H100]);
    expect(sections.map((s) => s.entries.map(plain))).toEqual([[plain(entry('a', 1))], [plain(entry('a', 2))]]);
    // With a section of its own, the other device's is no reason to warn.
    expect(TimingCache.open(path, H100).warnings).toEqual([]);
  });

  it('ignores a corrupted file with a warning, marks it stale, and a save replaces it with a valid one', () => {
    const path = join(dir, 'model.cache');
    const bytes = encodeTimingCache([{ device: H100, entries: [entry('a', 1)] }]);
    bytes[bytes.length - 10] = bytes[bytes.length - 10]! ^ 1;
    writeFileSync(path, bytes);
    const cache = TimingCache.open(path, H100);
    expect(cache.entries).toEqual([]);
    expect(cache.stale).toBe(true);
    expect(cache.warnings).toHaveLength(1);
    expect(cache.warnings[0]).toMatch(new RegExp(`^timing cache ${path} is unusable \\(timing cache is corrupted: CRC-32 is 0x[0-9a-f]{8}, ` +
      'the file records 0x[0-9a-f]{8}\\): it is ignored, every tactic is timed again and the file rewritten$'));
    cache.save([entry('b', 2)]);
    expect(decodeTimingCache(readFileSync(path)).map((s) => s.entries.map(plain))).toEqual([[plain(entry('b', 2))]]);
  });

  it('refuses an empty path outright', () => {
    expect(() => TimingCache.open('', H100)).toThrow(new TypeError('timingCache must be a file path, got an empty string'));
  });

  it('treats an unreadable path as a warning, and an unwritable one as a warning on save, never as a failed build', () => {
    const asDir = join(dir, 'is_a_directory');
    mkdirSync(asDir);
    const unreadable = TimingCache.open(asDir, H100);
    expect(unreadable.entries).toEqual([]);
    expect(unreadable.warnings[0]).toMatch(new RegExp(`^timing cache ${asDir} cannot be read \\(.+\\): every tactic is timed again$`));
    unreadable.save([entry('a', 1)]);
    expect(unreadable.warnings).toHaveLength(2);
    expect(unreadable.warnings[1]).toMatch(new RegExp(`^timing cache ${asDir} cannot be written \\(.+\\): the tactics timed now are not kept$`));
    expect(readdirSync(dir)).toEqual(['is_a_directory']);
    if (process.getuid?.() !== 0) {
      const locked = join(dir, 'locked');
      mkdirSync(locked);
      chmodSync(locked, 0o500);
      const cache = TimingCache.open(join(locked, 'model.cache'), H100);
      cache.save([entry('a', 1)]);
      expect(cache.warnings).toHaveLength(1);
      expect(existsSync(join(locked, 'model.cache'))).toBe(false);
    }
  });
});
