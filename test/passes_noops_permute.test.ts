import { describe, expect, it } from 'vitest';
import '../src/acc_ops/ops/index.js';
import { getAccOp } from '../src/acc_ops/registry.js';
import { Graph } from '../src/ir/graph.js';
import { GraphModule } from '../src/ir/graph_module.js';
import type { AnyNode, Argument } from '../src/ir/node.js';
import { targetName } from '../src/ir/print.js';
import { eliminateDeadCode } from '../src/passes/dce.js';
import { fusePermuteMatmul, swapsLastTwoDims } from '../src/passes/fuse_permute_matmul.js';
import { noOpIdentities, removeNoOps } from '../src/passes/remove_noops.js';
import { ShapeProp } from '../src/passes/shape_prop.js';
import { Tensor } from '../src/tensor/tensor.js';
import { graphOf } from './pass_helpers.js';

function data(out: unknown): unknown {
  if (out instanceof Tensor) return { shape: out.shape, dtype: out.dtype, data: [...out.toFloat64()] };
  return Array.isArray(out) ? out.map(data) : out;
}

const calls = (gm: GraphModule): string[] =>
  gm.graph.nodeList().filter((n) => n.op === 'call_function').map((n) => `${n.name}=${targetName(n)}`);

/** Runs `pass`, checks lint, values (exactly equal) and returns the remaining calls after dead-code removal. */
function apply(gm: GraphModule, x: Tensor, pass: (gm: GraphModule) => { modified: boolean }, modified = true): string[] {
  const before = data(gm.forward(x));
  expect(pass(gm).modified).toBe(modified);
  gm.lint();
  eliminateDeadCode(gm);
  gm.lint();
  expect(data(gm.forward(x))).toEqual(before);
  return calls(gm);
}

const x23 = Tensor.randn([2, 3], { seed: 1 });

describe('removeNoOps', () => {
  it('removes eval dropout and keeps training dropout', () => {
    const gm = graphOf(x23, (_g, x, call) => [
      call('dropout', { input: x, p: 0.5, training: false }, 'eval'),
      call('relu', { input: call('dropout', { input: x }, 'default') }, 'r'),
    ]);
    expect(apply(gm, x23, removeNoOps)).toEqual(['r=acc.relu']);
    expect(gm.graph.describeOutput()).toBe('[%x, %r]');
    const train = graphOf(x23, (_g, x, call) => call('dropout', { input: x, p: 0.5, training: true }, 'train'));
    expect(removeNoOps(train).modified).toBe(false);
    expect(calls(train)).toEqual(['train=acc.dropout']);
  });

  it('removes shape ops that keep the shape and keeps those that change it', () => {
    const gm = graphOf(x23, (_g, x, call) => {
      const same = call('reshape', { input: x, shape: [2, -1] }, 'same');
      const changed = call('reshape', { input: same, shape: [3, 2] }, 'changed');
      const exp = call('expand', { input: x, sizes: [-1, 3] }, 'exp');
      const sq = call('squeeze', { input: exp }, 'sq');
      const fl = call('flatten', { input: call('relu', { input: sq }, 'r'), start_dim: 1 }, 'fl');
      return [changed, fl];
    });
    expect(apply(gm, x23, removeNoOps)).toEqual(['changed=acc.reshape', 'r=acc.relu']);
    expect(gm.graph.toString()).toContain('%changed : float32[3, 2] [num_users=1] = call_function[target=acc.reshape](args = (), kwargs = {input: %x, shape: [3, 2]})');
  });

  it('removes unsqueeze → squeeze and longer reshape chains back to the origin shape', () => {
    const gm = graphOf(x23, (_g, x, call) => {
      const u = call('unsqueeze', { input: x, dim: 1 }, 'u');
      const s = call('squeeze', { input: u, dim: 1 }, 's');
      const a = call('reshape', { input: call('relu', { input: s }, 'r'), shape: [6] }, 'a');
      const b = call('unsqueeze', { input: a, dim: 0 }, 'b');
      const c = call('reshape', { input: b, shape: [2, 3] }, 'c');
      return [call('neg', { input: c }, 'n'), b];
    });
    expect(apply(gm, x23, removeNoOps)).toEqual(['r=acc.relu', 'a=acc.reshape', 'b=acc.unsqueeze', 'n=acc.neg']);
    expect(gm.graph.toString()).toContain('kwargs = {input: %r})');
    expect(gm.graph.toString()).toContain('%r : float32[2, 3] [num_users=2] = call_function[target=acc.relu](args = (), kwargs = {input: %x})');
  });

  it('removes same-dtype casts, identity permutes, full slices and single-tensor cat', () => {
    const gm = graphOf(x23, (_g, x, call) => {
      const cast = call('to_dtype', { input: x, dtype: 'float32' }, 'cast');
      const perm = call('permute', { input: cast, permutation: [0, -1] }, 'perm');
      const full = call('slice', { input: perm, dim: 1, start: 0, end: 100 }, 'full');
      const cat = call('cat', { tensors: [full], dim: 0 }, 'cat1');
      const half = call('to_dtype', { input: cat, dtype: 'float16' }, 'half');
      const part = call('slice', { input: cat, dim: 1, start: 1 }, 'part');
      const t = call('permute', { input: cat, permutation: [1, 0] }, 't');
      const cat2 = call('cat', { tensors: [cat, cat], dim: 0 }, 'cat2');
      return [half, part, t, cat2];
    });
    expect(apply(gm, x23, removeNoOps)).toEqual(['half=acc.to_dtype', 'part=acc.slice', 't=acc.permute', 'cat2=acc.cat']);
    expect(gm.graph.toString()).toContain('kwargs = {tensors: [%x, %x], dim: 0})');
  });

  it('removes x*1, x+0, x-0 and x/1 when the value type is unchanged', () => {
    const gm = graphOf(x23, (_g, x, call) => {
      const a = call('mul', { input: x, other: 1 }, 'a');
      const b = call('add', { input: a, other: 0 }, 'b');
      const c = call('sub', { input: b, other: 0 }, 'c');
      const d = call('div', { input: c, other: 1 }, 'd');
      const e = call('mul', { input: d, other: 1 }, 'e');
      const keep1 = call('sub', { input: e, other: 1 }, 'keep1');
      const keep2 = call('mul', { input: e, other: 2 }, 'keep2');
      const keep3 = call('div', { input: e, other: 1, rounding_mode: 'floor' }, 'keep3');
      return [e, keep1, keep2, keep3];
    });
    expect(apply(gm, x23, removeNoOps)).toEqual(['keep1=acc.sub', 'keep2=acc.mul', 'keep3=acc.div']);
    expect(gm.graph.describeOutput()).toBe('[%x, %keep1, %keep2, %keep3]');
  });

  it('keeps arithmetic with a neutral scalar that changes the dtype (bool * 1 is int64, int / 1 is float)', () => {
    const flags = Tensor.fromArray([true, false]);
    const ints = Tensor.fromArray([3, -4], 'int32');
    const boolGm = graphOf(flags, (_g, x, call) => call('mul', { input: x, other: 1 }, 'm'));
    expect(apply(boolGm, flags, removeNoOps, false)).toEqual(['m=acc.mul']);
    const intGm = graphOf(ints, (_g, x, call) => [call('div', { input: x, other: 1 }, 'd'), call('mul', { input: x, other: 1 }, 'm')]);
    expect(apply(intGm, ints, removeNoOps)).toEqual(['d=acc.div']);
  });

  it('leaves nodes without metadata alone', () => {
    const gm = graphOf(x23, (_g, x, call) => call('reshape', { input: x, shape: [2, 3] }, 'same'));
    for (const n of gm.graph.nodes()) delete n.meta.tensorMeta;
    expect(apply(gm, x23, removeNoOps, false)).toEqual(['same=acc.reshape']);
    expect(noOpIdentities()).toContain('mul: x * 1 → x');
  });
});

describe('fusePermuteMatmul', () => {
  const a = Tensor.randn([2, 4, 3], { seed: 2 });

  it('absorbs a last-two-dims permute of either operand into transposed_matmul', () => {
    const gm = graphOf(a, (_g, x, call) => {
      const xt = call('permute', { input: x, permutation: [0, 2, 1] }, 'xt');
      const left = call('matmul', { input: xt, other: x }, 'left'); // xᵀx: [2, 3, 3]
      const xt2 = call('permute', { input: x, permutation: [0, -1, -2] }, 'xt2');
      const right = call('matmul', { input: x, other: xt2 }, 'right'); // xxᵀ: [2, 4, 4]
      return [left, right];
    });
    expect(apply(gm, a, fusePermuteMatmul)).toEqual(['transposed_matmul=acc.transposed_matmul', 'transposed_matmul_1=acc.transposed_matmul']);
    expect(gm.graph.toString()).toContain('kwargs = {input: %x, other: %x, transpose_input: true, transpose_other: false})');
    expect(gm.graph.toString()).toContain('%transposed_matmul_1 : float32[2, 4, 4] [num_users=1] = call_function[target=acc.transposed_matmul](' +
      'args = (), kwargs = {input: %x, other: %x, transpose_input: false, transpose_other: true})');
  });

  it('flips the flag of an existing transposed_matmul (back to matmul when none is left) and fuses a permute shared by matmuls', () => {
    const sq = Tensor.randn([2, 3, 3], { seed: 8 });
    const gm = graphOf(sq, (_g, x, call) => {
      const xt = call('permute', { input: x, permutation: [0, 2, 1] }, 'xt');
      const tm = call('transposed_matmul', { input: x, other: xt, transpose_other: true }, 'tm'); // x · (xᵀ)ᵀ = x · x
      const mm = call('matmul', { input: xt, other: x }, 'mm');
      return [call('matmul', { input: tm, other: call('permute', { input: x, permutation: [0, 2, 1] }, 'keep') }), mm];
    });
    const fused = apply(gm, sq, fusePermuteMatmul);
    expect(fused).toEqual(['matmul_1=acc.matmul', 'transposed_matmul=acc.transposed_matmul', 'transposed_matmul_1=acc.transposed_matmul']);
    expect(gm.graph.toString()).toContain('%matmul_1 : float32[2, 3, 3] [num_users=1] = call_function[target=acc.matmul](args = (), kwargs = {input: %x, other: %x})');
    expect(gm.graph.toString()).toContain('call_function[target=acc.transposed_matmul](args = (), kwargs = {input: %matmul_1, other: %x, transpose_input: false, transpose_other: true})');
  });

  it('keeps permutes with other users or other permutations', () => {
    const sq = Tensor.randn([3, 3, 3], { seed: 3 });
    const gm = graphOf(sq, (_g, x, call) => {
      const p = call('permute', { input: x, permutation: [0, 2, 1] }, 'p');
      const q = call('permute', { input: x, permutation: [1, 0, 2] }, 'q');
      return [call('matmul', { input: p, other: x }, 'm1'), call('relu', { input: p }, 'r'), call('matmul', { input: q, other: x }, 'm2')];
    });
    expect(apply(gm, sq, fusePermuteMatmul, false)).toEqual(['p=acc.permute', 'q=acc.permute', 'm1=acc.matmul', 'r=acc.relu', 'm2=acc.matmul']);
    expect([swapsLastTwoDims([1, 0]), swapsLastTwoDims([0, 1]), swapsLastTwoDims([0, 2, 1]), swapsLastTwoDims([2, 1, 0]), swapsLastTwoDims([0])])
      .toEqual([true, false, true, false, false]);
  });

  it('turns linear over a transposed 2-D constant into matmul (+ bias)', () => {
    const x = Tensor.randn([5, 4], { seed: 4 });
    const attrs = { w: Tensor.randn([4, 3], { seed: 5 }), b: Tensor.randn([3], { seed: 6 }) };
    const gm = graphOf(x, (g, xi, call) => {
      const wt = call('permute', { input: g.getAttr('w'), permutation: [1, 0] }, 'wt');
      const wt2 = call('permute', { input: g.getAttr('w'), permutation: [1, 0] }, 'wt2');
      return [call('linear', { input: xi, weight: wt, bias: g.getAttr('b') }, 'biased'), call('linear', { input: xi, weight: wt2 }, 'plain')];
    }, attrs);
    const before = data(gm.forward(x)) as { data: number[] }[];
    expect(fusePermuteMatmul(gm).modified).toBe(true);
    gm.lint();
    expect(calls(gm)).toEqual(['matmul=acc.matmul', 'add=acc.add', 'matmul_1=acc.matmul']);
    expect(gm.graph.toString()).toContain('%add : float32[5, 3] [num_users=1] = call_function[target=acc.add](args = (), kwargs = {input: %matmul, other: %b})');
    const after = data(gm.forward(x)) as { data: number[] }[];
    for (let i = 0; i < 2; i++) {
      after[i]!.data.forEach((v, j) => expect(v).toBeCloseTo(before[i]!.data[j]!, 5));
    }
  });

  it('keeps linear whose permuted weight is not a constant', () => {
    const x = Tensor.randn([3, 3], { seed: 7 });
    const gm = graphOf(x, (_g, xi, call) => call('linear', { input: xi, weight: call('permute', { input: xi, permutation: [1, 0] }, 'p') }, 'l'));
    expect(apply(gm, x, fusePermuteMatmul, false)).toEqual(['p=acc.permute', 'l=acc.linear']);
  });
});

describe('ShapeProp', () => {
  it('records shape, dtype and qparams of every node, tuples as arrays and scalars as values', () => {
    const g = new Graph();
    const x = g.placeholder('x');
    const call = (op: string, kwargs: Record<string, Argument>, name: string): AnyNode => g.callFunction(getAccOp(op), [], kwargs, name);
    const parts = call('split', { input: x, split_size_or_sections: [1, 2], dim: 1 }, 'parts');
    const second = call('getitem', { input: parts, index: 1 }, 'second');
    const q = call('quantize_per_tensor', { input: second, scale: 0.5, zero_point: 3, dtype: 'uint8' }, 'q');
    const n = call('size', { input: x, dim: 0 }, 'n');
    g.output([q, n]);
    const gm = new GraphModule({}, g);
    const out = new ShapeProp(gm).propagate(Tensor.randn([2, 3], { seed: 9 }));
    gm.lint();
    expect(Array.isArray(out) && out[1]).toBe(2);
    const meta = (name: string) => gm.graph.nodeList().find((m) => m.name === name)!.meta.tensorMeta;
    expect(meta('x')).toEqual({ shape: [2, 3], dtype: 'float32' });
    expect(meta('parts')).toEqual([{ shape: [2, 1], dtype: 'float32' }, { shape: [2, 2], dtype: 'float32' }]);
    expect(meta('second')).toEqual({ shape: [2, 2], dtype: 'float32' });
    expect(meta('q')).toEqual({ shape: [2, 2], dtype: 'uint8', qparams: { scale: Float32Array.of(0.5), zeroPoint: Int32Array.of(3) } });
    expect(meta('n')).toBe(2);
    expect(gm.graph.toString()).toContain('%second : float32[2, 2] [num_users=1] = call_function[target=acc.getitem]');
  });
});
