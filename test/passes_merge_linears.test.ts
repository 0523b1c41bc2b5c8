import { describe, expect, it } from 'vitest';
import type { GraphModule } from '../src/ir/graph_module.js';
import { targetName } from '../src/ir/print.js';
import { accTrace } from '../src/acc_ops/acc_tracer.js';
import { symbolicTrace } from '../src/ir/tracer.js';
import { bertEncoderLayer } from '../src/models/bert.js';
import { defaultPasses } from '../src/passes/index.js';
import { mergeParallelLinears } from '../src/passes/merge_parallel_linears.js';
import { PassManager, tensorMetaOf } from '../src/passes/pass_manager.js';
import { maxAbsDiff } from '../src/tensor/compare.js';
import { Tensor } from '../src/tensor/tensor.js';
import { graphOf } from './pass_helpers.js';

const calls = (gm: GraphModule): string[] =>
  gm.graph.nodeList().filter((n) => n.op === 'call_function').map((n) => targetName(n));

const w = (out: number, inp: number, seed: number, dtype: 'float32' | 'float16' = 'float32'): Tensor => Tensor.randn([out, inp], { seed, dtype });
const b = (out: number, seed: number, dtype: 'float32' | 'float16' = 'float32'): Tensor => Tensor.randn([out], { seed, dtype });

function outputs(gm: GraphModule, x: Tensor): Tensor[] {
  const out = gm.forward(x);
  return (Array.isArray(out) ? out : [out]) as Tensor[];
}

describe('mergeParallelLinears', () => {
  it('merges linears of one input into one over the stacked weights, each output a slice, with the same values', () => {
    const x = Tensor.randn([2, 5, 8], { seed: 1 });
    const attrs = { wq: w(6, 8, 2), bq: b(6, 3), wk: w(4, 8, 4), bk: b(4, 5), wv: w(6, 8, 6), bv: b(6, 7) };
    const gm = graphOf(x, (g, xi, call) => ['q', 'k', 'v'].map((n) => call('linear', { input: xi, weight: g.getAttr(`w${n}`), bias: g.getAttr(`b${n}`) }, n)), attrs);
    const before = outputs(gm, x);
    expect(mergeParallelLinears(gm).modified).toBe(true);
    gm.lint();
    expect(calls(gm)).toEqual(['acc.linear', 'acc.slice', 'acc.slice', 'acc.slice']);
    const merged = gm.graph.nodeList().find((n) => n.name === 'linear')!;
    expect(tensorMetaOf(merged)?.shape).toEqual([2, 5, 16]);
    expect(gm.graph.nodeList().filter((n) => n.op === 'call_function' && n.name !== 'linear').map((n) => [n.kwargs['start'], n.kwargs['end']]))
      .toEqual([[0, 6], [6, 10], [10, 16]]);
    // the originals' constants are gone
    for (const k of Object.keys(attrs)) expect(gm.getAttr(k), k).toBeUndefined();
    outputs(gm, x).forEach((t, i) => {
      expect(t.shape).toEqual(before[i]!.shape);
      expect(maxAbsDiff(t, before[i]!)).toBeLessThan(1e-5);
    });
  });

  it('leaves linears alone that differ in dtype, input width or bias presence, or whose weight is not a constant', () => {
    const x = Tensor.randn([3, 8], { seed: 1 });
    const attrs = { w1: w(4, 8, 2), w2: w(4, 8, 3, 'float16'), w3: w(5, 8, 4), b3: b(5, 5) };
    const gm = graphOf(x, (g, xi, call) => [
      call('linear', { input: xi, weight: g.getAttr('w1'), bias: null }, 'plain32'),
      call('linear', { input: call('to_dtype', { input: xi, dtype: 'float16' }, 'h'), weight: g.getAttr('w2'), bias: null }, 'half'),
      call('linear', { input: xi, weight: g.getAttr('w3'), bias: g.getAttr('b3') }, 'biased'),
      call('linear', { input: xi, weight: call('relu', { input: g.getAttr('w1') }, 'computed'), bias: null }, 'dynamic'),
    ], attrs);
    expect(mergeParallelLinears(gm).modified).toBe(false);
    expect(calls(gm).filter((c) => c === 'acc.linear').length).toBe(4);
  });

  it('merges only the matching ones of a mixed set (two without bias, one with)', () => {
    const x = Tensor.randn([3, 8], { seed: 1 });
    const attrs = { w1: w(4, 8, 2), w2: w(3, 8, 3), w3: w(5, 8, 4), b3: b(5, 5) };
    const gm = graphOf(x, (g, xi, call) => [
      call('linear', { input: xi, weight: g.getAttr('w1'), bias: null }, 'a'),
      call('linear', { input: xi, weight: g.getAttr('w3'), bias: g.getAttr('b3') }, 'c'),
      call('linear', { input: xi, weight: g.getAttr('w2'), bias: null }, 'bb'),
    ], attrs);
    const before = outputs(gm, x);
    expect(mergeParallelLinears(gm).modified).toBe(true);
    gm.lint();
    expect(calls(gm)).toEqual(['acc.linear', 'acc.slice', 'acc.linear', 'acc.slice']);
    outputs(gm, x).forEach((t, i) => expect(maxAbsDiff(t, before[i]!)).toBeLessThan(1e-5));
  });

  it("runs in the default pipeline: BERT's query, key and value projections become one linear", () => {
    const layer = bertEncoderLayer({ hiddenSize: 64, numAttentionHeads: 4, intermediateSize: 128 }).eval();
    const x = Tensor.randn([2, 6, 64], { seed: 3 });
    const gm = accTrace(symbolicTrace(layer, { concreteArgs: { attentionMask: null } }), [x]);
    const want = gm.forward(x) as Tensor;
    const { gm: out } = new PassManager(defaultPasses()).run(gm);
    const linears = out.graph.nodeList().filter((n) => targetName(n) === 'acc.linear');
    expect(linears.length).toBe(4); // qkv, attention output, intermediate, output
    expect(tensorMetaOf(linears[0]!)?.shape).toEqual([2, 6, 192]);
    expect(out.graph.nodeList().filter((n) => targetName(n) === 'acc.slice').length).toBe(3);
    expect(maxAbsDiff(out.forward(x) as Tensor, want)).toBeLessThan(1e-5);
  });

  it('is in the default pipeline of float builds only: quantized builds keep their layers apart', () => {
    const names = (opts: Parameters<typeof defaultPasses>[0]): boolean => defaultPasses(opts).some((p) => p.passName === 'mergeParallelLinears');
    expect([names({}), names({ qdqRepairs: true }), names({ dynamicQuantization: {} }), names({ qdqRepairs: true, mergeParallelLinears: true })])
      .toEqual([true, false, false, true]);
  });
});
