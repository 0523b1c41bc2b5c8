/**
 * The fused attention kernel and the vectorized layer norm on the device, against the reference
 * backend: masks (boolean and additive, broadcast over heads), causal, L != S, odd and single
 * positions, batch dims of rank 1 and 2, head dims from 8 to 128 (q/k and v apart), float16 and
 * bfloat16 (float32 keeps gemm + softmax + gemm); BERT's head split and merge as views with no
 * copy; layer norm rows per warp, per block and the generic kernel.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CudaEngineRunner } from '../../src/backends/cuda/index.js';
import { decodeTimingCache, encodeTimingCache } from '../../src/backends/cuda/timing_cache.js';
import type { Engine } from '../../src/engine/engine.js';
import type { NetTensor } from '../../src/engine/network.js';
import type { NetworkDefinition } from '../../src/engine/network_definition.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { relativeError } from './compare.js';
import { buildPair, constant, expectMatchesReference, layer, randn, TOLERANCE, type FloatDType, type StepCase } from './engine_harness.js';

const HALF: readonly FloatDType[] = ['float16', 'bfloat16'];

function tactics(engine: Engine): { step: string; tactic: string }[] {
  const runner = CudaEngineRunner.of(engine);
  try {
    return runner.tactics().map((t) => ({ step: t.step >= 0 ? engine.plan.steps[t.step]!.name : '(io)', tactic: t.tactic }));
  } finally {
    runner.dispose();
  }
}

interface AttentionCase {
  readonly name: string;
  /** Batch dims (heads included), query and key positions, head dims of q/k and of v. */
  readonly batch: readonly number[];
  readonly l: number;
  readonly s: number;
  readonly e: number;
  readonly ev: number;
  readonly causal?: boolean;
  /** A mask input of this shape: bool (false masks) or additive float. */
  readonly mask?: { readonly shape: readonly number[]; readonly kind: 'bool' | 'float' };
}

const CASES: readonly AttentionCase[] = [
  { name: 'BERT-base heads', batch: [2, 12], l: 128, s: 128, e: 64, ev: 64 },
  { name: 'causal, odd length 77', batch: [3, 4], l: 77, s: 77, e: 64, ev: 64, causal: true },
  { name: 'causal, L > S', batch: [2, 2], l: 100, s: 37, e: 32, ev: 32, causal: true },
  { name: 'one query', batch: [2, 3], l: 1, s: 77, e: 64, ev: 64 },
  { name: 'six key tiles through the two stages', batch: [2, 2], l: 40, s: 360, e: 64, ev: 64 },
  { name: 'four key tiles, head dim 128, causal', batch: [2], l: 256, s: 256, e: 128, ev: 128, causal: true },
  { name: 'one key', batch: [2, 3], l: 9, s: 1, e: 16, ev: 16 },
  { name: 'boolean key mask broadcast over heads', batch: [2, 4], l: 65, s: 130, e: 64, ev: 64, mask: { shape: [2, 1, 1, 130], kind: 'bool' } },
  { name: 'additive mask broadcast over the batch', batch: [2, 2], l: 33, s: 70, e: 128, ev: 128, mask: { shape: [1, 1, 33, 70], kind: 'float' } },
  { name: 'head dims 40 and 24, batch rank 1', batch: [5], l: 50, s: 70, e: 40, ev: 24 },
  { name: 'head dims 96 and 72', batch: [2, 2], l: 64, s: 64, e: 96, ev: 72, causal: true },
  { name: 'head dim 8', batch: [3], l: 20, s: 20, e: 8, ev: 8, mask: { shape: [3, 1, 20], kind: 'bool' } },
];

/** Mask values: bool keeps most keys (and key 0 of every row), float adds values with some -inf and large negatives. */
function maskTensor(m: NonNullable<AttentionCase['mask']>, dtype: FloatDType): Tensor {
  const n = m.shape.reduce((a, b) => a * b, 1);
  const s = m.shape[m.shape.length - 1]!;
  if (m.kind === 'bool') return Tensor.fromNumbers(Array.from({ length: n }, (_, i) => (i % s === 0 || (i * 7) % 5 !== 0 ? 1 : 0)), m.shape, 'bool');
  const values = Array.from({ length: n }, (_, i) => (i % 11 === 3 ? -Infinity : i % 7 === 2 ? -1e4 : Math.sin(i) * 2));
  return Tensor.fromNumbers(values, m.shape, dtype);
}

describe('fused attention (float16, bfloat16) and the gemm path (float32)', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      await expectMatchesReference({
        name: c.name,
        tolerance: { float32: 1e-5 },
        inputs: (dt) => [
          randn([...c.batch, c.l, c.e], 50, dt), randn([...c.batch, c.s, c.e], 51, dt), randn([...c.batch, c.s, c.ev], 52, dt),
          ...(c.mask ? [maskTensor(c.mask, dt)] : []),
        ],
        build: (net, xs) => {
          net.markOutput(layer(net, 'attention', xs, { scale: 1 / Math.sqrt(c.e), causal: c.causal ?? false }, 'attention'), 'y');
        },
      });
    });
  }

  it('a fully masked row yields zeros, as PyTorch', async () => {
    await expectMatchesReference({
      name: 'masked rows',
      dtypes: HALF,
      inputs: (dt) => [randn([2, 3, 8, 16], 60, dt), randn([2, 3, 8, 16], 61, dt), randn([2, 3, 8, 16], 62, dt)],
      build: (net, [q, k, v], dt) => {
        const rows = Array.from({ length: 64 }, (_, i) => (Math.floor(i / 8) === 2 ? -Infinity : 0));
        const mask = constant(net, Tensor.fromNumbers(rows, [1, 1, 8, 8], dt), 'mask');
        net.markOutput(layer(net, 'attention', [q!, k!, v!, mask], { scale: 0.25, causal: false }, 'attention'), 'y');
      },
    });
  });

  it('key and value shared by the heads (broadcast batch dims)', async () => {
    await expectMatchesReference({
      name: 'shared key/value',
      dtypes: HALF,
      inputs: (dt) => [randn([2, 4, 19, 64], 66, dt), randn([2, 1, 23, 64], 67, dt), randn([2, 1, 23, 32], 68, dt)],
      build: (net, xs) => {
        net.markOutput(layer(net, 'attention', xs, { scale: 0.125, causal: false }, 'attention'), 'y');
      },
    });
  });

  it('runs the fused kernel for 16-bit dtypes and head dims it takes, the gemm path otherwise', async () => {
    const c = (e: number) => ({
      name: `head dim ${e}`,
      inputs: (dt: FloatDType) => [randn([2, 16, e], 63, dt), randn([2, 16, e], 64, dt), randn([2, 16, e], 65, dt)],
      build: (net: NetworkDefinition, xs: readonly NetTensor[]) => {
        net.markOutput(layer(net, 'attention', xs, { scale: 0.2, causal: false }, 'attention'), 'y');
      },
    });
    const kinds = async (e: number, dtype: FloatDType): Promise<string[]> => tactics((await buildPair(c(e), dtype)).cuda)
      .filter((t) => t.step === 'attention').map((t) => t.tactic.replace(/\[.*$/, ''));
    expect(await kinds(64, 'float16')).toEqual(['flash_attention_f16']);
    expect(await kinds(128, 'bfloat16')).toEqual(['flash_attention_bf16']);
    expect((await kinds(64, 'float32')).length).toBe(3);
    expect((await kinds(12, 'float16')).length).toBe(3);
  });
});

/** The network of an attention case (inputs q, k, v and the mask if any). */
function attentionCase(c: AttentionCase): StepCase {
  return {
    name: c.name,
    inputs: (dt) => [
      randn([...c.batch, c.l, c.e], 50, dt), randn([...c.batch, c.s, c.e], 51, dt), randn([...c.batch, c.s, c.ev], 52, dt),
      ...(c.mask ? [maskTensor(c.mask, dt)] : []),
    ],
    build: (net, xs) => {
      net.markOutput(layer(net, 'attention', xs, { scale: 1 / Math.sqrt(c.e), causal: c.causal ?? false }, 'attention'), 'y');
    },
  };
}

const cacheDir = mkdtempSync(join(tmpdir(), 'fxrt-attention-configs-'));

/**
 * Each case once per kernel configuration (tile shapes, register caps; the builder times them):
 * the build records its attention entry in a timing cache, the test rewrites the configuration and
 * builds again (reused, not timed) until the addon rejects the index as past the last one. Every
 * configuration, in each masking mode (none, key mask, per-row mask, causal), must match the
 * reference.
 */
describe('fused attention: every kernel configuration, forced through the timing cache, matches the reference', () => {
  const extra: AttentionCase[] = [
    { name: 'key mask [B, 1, 1, S], additive, partial last tile', batch: [2, 3], l: 70, s: 100, e: 64, ev: 64, mask: { shape: [2, 1, 1, 100], kind: 'float' } },
  ];
  [...CASES, ...extra].forEach((ac, ci) => it(ac.name, async () => {
    const c = attentionCase(ac);
    const path = join(cacheDir, `case${ci}.cache`);
    const dtype: FloatDType = ci % 2 === 0 ? 'float16' : 'bfloat16';
    const { reference, inputs } = await buildPair(c, dtype, { timingCache: path });
    const want = await reference.createExecutionContext().execute(inputs);
    const sections = decodeTimingCache(readFileSync(path));
    const isAttention = (tactic: string): boolean => tactic.startsWith('flash_attention_');
    expect(sections.flatMap((s) => s.entries).filter((e) => isAttention(e.tactic)).length, 'attention entries in the cache').toBe(1);
    // Names say what each configuration is at this head dim (rows, keys, register cap), so two
    // coincide where they compile to the same kernel (padded head dims 32 and 128: only at 64 do
    // the register caps of configurations 0 and 1 differ).
    const configs = new Set<string>();
    let run = 0;
    for (let config = 0; config < 16; config++) {
      writeFileSync(path, encodeTimingCache(sections.map((s) => ({
        device: s.device,
        entries: s.entries.map((e) => {
          if (!isAttention(e.tactic)) return e;
          const data = new Uint8Array(e.data);
          new DataView(data.buffer).setInt32(2, config, true);  // u8 format, u8 kind, i32 algo (little-endian)
          return { ...e, data };
        }),
      }))));
      const { cuda } = await buildPair(c, dtype, { timingCache: path });
      if (cuda.tacticStats!.rejected > 0) break;  // past the last configuration
      expect(cuda.tacticStats!.timed, `configuration ${config}: nothing timed`).toBe(0);
      const tactic = cuda.layerInfo().map((l) => l.tactic).find(isAttention)!;
      configs.add(tactic.replace(/^.*\] /, ''));
      run++;
      const got = await cuda.createExecutionContext().execute(inputs);
      const err = relativeError(got[0]!, want[0]!);
      expect(err, `${ac.name} (${dtype}), ${tactic}: relative error ${err}`).toBeLessThanOrEqual(TOLERANCE[dtype]);
    }
    expect(run, `configurations run: ${[...configs].join('; ')}`).toBeGreaterThanOrEqual(4);
    expect(configs.size, `distinct configurations: ${[...configs].join('; ')}`).toBe(Math.max(ac.e, ac.ev) > 32 && Math.max(ac.e, ac.ev) <= 64 ? 4 : 3);
  }));
});

describe("BERT's head split and merge around attention", () => {
  const [B, S, H, D] = [4, 77, 12, 64];
  const build = (net: NetworkDefinition, xs: readonly NetTensor[], causal: boolean, withMask: boolean): void => {
    const heads = xs.slice(0, 3).map((x, i) => layer(net, 'shuffle', [x], { firstTranspose: null, reshape: [B, S, H, D], secondTranspose: [0, 2, 1, 3] }, `heads${i}`));
    const a = layer(net, 'attention', withMask ? [...heads, xs[3]!] : heads, { scale: 0.125, causal }, 'attention');
    net.markOutput(layer(net, 'shuffle', [a], { firstTranspose: [0, 2, 1, 3], reshape: [B, S, H * D], secondTranspose: null }, 'merge'), 'y');
  };
  const inputs = (dt: FloatDType, withMask: boolean): Tensor[] => [
    randn([B, S, H * D], 70, dt), randn([B, S, H * D], 71, dt), randn([B, S, H * D], 72, dt),
    ...(withMask ? [maskTensor({ shape: [B, 1, 1, S], kind: 'bool' }, dt)] : []),
  ];

  for (const [name, causal, withMask] of [['plain', false, false], ['causal', true, false], ['key mask', false, true]] as const) {
    it(`${name}: matches the reference`, async () => {
      await expectMatchesReference({ name, inputs: (dt) => inputs(dt, withMask), build: (net, xs) => build(net, xs, causal, withMask) });
    });
  }

  it('reads and writes [B, S, H*D] in place: the shuffles run nothing', async () => {
    for (const dtype of HALF) {
      const { cuda } = await buildPair({ name: 'views', inputs: (dt) => inputs(dt, true), build: (net, xs) => build(net, xs, false, true) }, dtype);
      const t = tactics(cuda);
      expect(t.filter((x) => x.step.startsWith('heads') || x.step === 'merge')).toEqual([]);
      expect(t.filter((x) => x.step === 'attention').length).toBe(1);
    }
  });
});

describe('layer norm kernels', () => {
  const norm = (rows: number, cols: number) => ({
    name: `layer norm ${rows}x${cols}`,
    tolerance: { float32: 1e-5 },
    inputs: (dt: FloatDType) => [Tensor.fromNumbers(Array.from(randn([rows, cols], 80).toFloat64(), (v, i) => 3 * v + (i % 7) - 2), [rows, cols], dt)],
    build: (net: NetworkDefinition, [x]: readonly NetTensor[], dt: FloatDType) => {
      const g = constant(net, randn([1, cols], 81, dt), 'g');
      const b = constant(net, randn([1, cols], 82, dt), 'b');
      net.markOutput(layer(net, 'normalization', [x!, g, b], { axes: [1], eps: 1e-5, numGroups: 1 }, 'ln'), 'y');
    },
  });
  const cases: { rows: number; cols: number; variant: Record<FloatDType, string> }[] = [
    { rows: 4096, cols: 768, variant: { float16: 'layernorm_warp_rows', bfloat16: 'layernorm_warp_rows', float32: 'layernorm_block_rows' } },
    { rows: 33, cols: 1024, variant: { float16: 'layernorm_warp_rows', bfloat16: 'layernorm_warp_rows', float32: 'layernorm_block_rows' } },
    { rows: 9, cols: 40, variant: { float16: 'layernorm_warp_rows', bfloat16: 'layernorm_warp_rows', float32: 'layernorm_warp_rows' } },
    { rows: 5, cols: 4104, variant: { float16: 'layernorm_block_rows', bfloat16: 'layernorm_block_rows', float32: 'layernorm_rows' } },
    { rows: 6, cols: 100, variant: { float16: 'layernorm_rows', bfloat16: 'layernorm_rows', float32: 'layernorm_warp_rows' } },
    { rows: 3, cols: 20000, variant: { float16: 'layernorm_rows', bfloat16: 'layernorm_rows', float32: 'layernorm_rows' } },
  ];
  for (const c of cases) {
    it(`${c.rows}x${c.cols}: ${Object.values(c.variant).join(' / ')}`, async () => {
      await expectMatchesReference(norm(c.rows, c.cols));
      for (const dtype of ['float16', 'bfloat16', 'float32'] as const) {
        const t = tactics((await buildPair(norm(c.rows, c.cols), dtype)).cuda).filter((x) => x.step === 'ln');
        expect(t.map((x) => x.tactic)).toEqual([c.variant[dtype]]);
      }
    });
  }
});
