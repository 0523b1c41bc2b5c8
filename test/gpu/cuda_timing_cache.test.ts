/**
 * The persistent timing cache on the device: ResNet-18 built twice with one cache file times
 * nothing the second time and picks the same tactics; a cache of another device, a corrupted file
 * and malformed or mistyped records are ignored (with a warning, or rejected natively) and timed
 * again, never trusted; layer info says what was chosen and how; ResNet-50 builds within its
 * cold and warm time budgets.
 */
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import '../../src/backends/cuda/index.js';
import { decodeTimingCache, encodeTimingCache, type TimingCacheSection } from '../../src/backends/cuda/timing_cache.js';
import { compile } from '../../src/compile.js';
import type { LayerInfo, TacticStats } from '../../src/engine/engine.js';
import { modelZoo, type ModelName } from '../../src/models/index.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { relativeError } from './compare.js';

const dir = mkdtempSync(join(tmpdir(), 'fxrt-timing-cache-gpu-'));

interface Build {
  readonly stats: Omit<TacticStats, 'timingCache'>;
  readonly layers: readonly LayerInfo[];
  readonly output: Tensor;
  readonly ms: number;
}

/** Compiles `name` for CUDA (fp16) with the timing cache at `path`; sums the engines' stats. */
async function build(path: string, name: ModelName = 'resnet18'): Promise<Build> {
  const x = Tensor.randn(modelZoo[name].inputShape, { seed: 3 });
  const t0 = performance.now();
  const lowered = await compile(modelZoo[name].create().eval(), [x], { device: 'cuda', precision: 'fp16', timingCache: path });
  const ms = performance.now() - t0;
  const engines = [...lowered.engines.values()].map((m) => m.engine);
  expect(engines.length).toBeGreaterThan(0);
  const all = engines.map((e) => e.tacticStats!);
  for (const s of all) expect(s.timingCache).toBe(path);
  const stats = {
    hits: all.reduce((a, s) => a + s.hits, 0), misses: all.reduce((a, s) => a + s.misses, 0),
    timed: all.reduce((a, s) => a + s.timed, 0), rejected: all.reduce((a, s) => a + s.rejected, 0),
    warnings: all.flatMap((s) => s.warnings),
  };
  const [output] = await lowered.run([x]);
  return { stats, layers: engines.flatMap((e) => e.layerInfo()), output: output!, ms };
}

/** The steps whose implementation the libraries chose (cuDNN, cuBLASLt). */
function libraryLayers(b: Build): LayerInfo[] {
  return b.layers.filter((l) => l.tactic.includes('cudnn:') || l.tactic.includes('cublaslt'));
}

function sectionsOf(path: string): TimingCacheSection[] {
  return decodeTimingCache(readFileSync(path));
}

describe('timing cache (ResNet-18, fp16)', () => {
  const first = join(dir, 'resnet18.cache');
  let cold: Build;

  beforeAll(async () => {
    cold = await build(first);
  });

  it('a cold build times every distinct library op once and creates the file with them', () => {
    console.log(`resnet18 cold build: ${cold.ms.toFixed(0)} ms, ${JSON.stringify(cold.stats)}`);
    expect(existsSync(first)).toBe(true);
    expect(cold.stats.warnings).toEqual([]);
    expect(cold.stats.timed).toBeGreaterThan(0);
    expect(cold.stats.misses).toBe(cold.stats.timed);
    expect(cold.stats.rejected).toBe(0);
    // ResNet-18 repeats conv signatures: later ones reuse what the first timed.
    expect(cold.stats.hits).toBeGreaterThan(0);
    const sections = sectionsOf(first);
    expect(sections).toHaveLength(1);
    expect(sections[0]!.entries).toHaveLength(cold.stats.timed);
    expect(libraryLayers(cold).length).toBe(cold.stats.hits + cold.stats.misses);
  });

  it('a second build with the same cache times nothing, picks the same tactics and computes the same', async () => {
    const path = join(dir, 'warm.cache');
    copyFileSync(first, path);
    const warm = await build(path);
    console.log(`resnet18 warm build: ${warm.ms.toFixed(0)} ms, ${JSON.stringify(warm.stats)}`);
    expect(warm.stats).toEqual({ hits: cold.stats.hits + cold.stats.misses, misses: 0, timed: 0, rejected: 0, warnings: [] });
    expect(warm.layers.map((l) => [l.name, l.tactic])).toEqual(cold.layers.map((l) => [l.name, l.tactic]));
    for (const l of libraryLayers(warm)) expect(l.tacticSource, l.name).toBe('cache');
    expect(relativeError(warm.output, cold.output)).toBeLessThan(1e-2);
    // Nothing new was timed: the file is left as it was.
    expect(Array.from(readFileSync(path))).toEqual(Array.from(readFileSync(first)));
  });

  it('layer info names each step\'s chosen implementation and where it came from', () => {
    const lib = libraryLayers(cold);
    expect(lib.some((l) => l.kind === 'convolution' && l.tactic.startsWith('cudnn:') && l.tacticSource === 'timed')).toBe(true);
    expect(lib.some((l) => l.tacticSource === 'cache')).toBe(true);
    for (const l of cold.layers) {
      expect(l.tacticSource, l.name).toBeDefined();
      if (!lib.includes(l)) expect(l.tacticSource, `${l.name}: ${l.tactic}`).toBe('fixed');
    }
  });

  it("ignores the tactics of another device with a warning, times again and keeps both devices' sections", async () => {
    const path = join(dir, 'other_device.cache');
    const [mine] = sectionsOf(first);
    const other = { ...mine!, device: { ...mine!.device, name: `${mine!.device.name} (another one)`, multiprocessors: mine!.device.multiprocessors + 2 } };
    writeFileSync(path, encodeTimingCache([other]));
    const warnings = vi.fn<(w: Error) => void>();
    process.on('warning', warnings);
    const again = await build(path);
    process.off('warning', warnings);
    expect(warnings.mock.calls.some(([w]) => w.name === 'TimingCacheWarning' && w.message === again.stats.warnings[0])).toBe(true);
    expect(again.stats.timed).toBe(cold.stats.timed);
    expect(again.stats.warnings).toHaveLength(1);
    expect(again.stats.warnings[0]).toContain(`holds tactics timed on ${other.device.name}`);
    const sections = sectionsOf(path);
    expect(sections.map((s) => s.device.name)).toEqual([other.device.name, mine!.device.name]);
    expect(sections[0]!.entries.length).toBe(mine!.entries.length);
  });

  it('a corrupted file is a warning and a rebuild, and is replaced by a valid one', async () => {
    const path = join(dir, 'corrupted.cache');
    const bytes = readFileSync(first);
    bytes[bytes.length >> 1] = bytes[bytes.length >> 1]! ^ 0x20;
    writeFileSync(path, bytes);
    const again = await build(path);
    expect(again.stats.timed).toBe(cold.stats.timed);
    expect(again.stats.warnings).toHaveLength(1);
    expect(again.stats.warnings[0]).toMatch(/is unusable \(timing cache is corrupted: CRC-32/);
    expect(sectionsOf(path)[0]!.entries).toHaveLength(cold.stats.timed);
    expect(relativeError(again.output, cold.output)).toBeLessThan(1e-2);
  });

  it('malformed records and records of the wrong kind are rejected natively and timed again', async () => {
    const path = join(dir, 'bad_records.cache');
    const [mine] = sectionsOf(first);
    const entries = mine!.entries.map((e, i) => {
      if (i % 2 === 0) return { ...e, data: e.data.subarray(0, 3) };
      const data = e.data.slice();
      data[1] = data[1] === 3 ? 1 : 3; // a cuBLASLt record for a convolution and vice versa
      return { ...e, data };
    });
    writeFileSync(path, encodeTimingCache([{ device: mine!.device, entries }]));
    const again = await build(path);
    expect(again.stats.warnings).toEqual([]);
    expect(again.stats.rejected).toBe(entries.length);
    expect(again.stats.timed).toBe(cold.stats.timed);
    expect(again.stats.hits).toBe(cold.stats.hits);
  });
});

describe('timing cache (ResNet-50, fp16): build time budgets', () => {
  it('builds cold in under 60 s and with a warm cache in under 5 s, timing nothing', async () => {
    const path = join(dir, 'resnet50.cache');
    const cold = await build(path, 'resnet50');
    const warm = await build(path, 'resnet50');
    console.log(`resnet50 build: cold ${cold.ms.toFixed(0)} ms (${cold.stats.timed} ops timed), warm ${warm.ms.toFixed(0)} ms (${warm.stats.hits} from the cache)`);
    expect(cold.ms).toBeLessThan(60_000);
    expect(warm.stats.timed).toBe(0);
    expect(warm.stats.misses).toBe(0);
    expect(warm.ms).toBeLessThan(5_000);
  });
});
