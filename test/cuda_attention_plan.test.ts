/**
 * The CUDA backend's fused-attention lowering on any machine: shuffles as strided views
 * (shuffle_view.ts) checked element by element against the reference shuffle; which shuffles
 * around attention become aliases and where their storage lives (plan_layout.ts); and the
 * program specs, executed by a small host interpreter of the ops they use (copy, cast, relu, attention)
 * over the real context-memory layout, against the reference backend.
 */
import { describe, expect, it } from 'vitest';
import type { NativeOpSpec, ProgramSpec, View } from '../src/backends/cuda/exec_spec.js';
import { planLayout } from '../src/backends/cuda/plan_layout.js';
import { reshapeView, shuffleInputView, shuffleOutputView } from '../src/backends/cuda/shuffle_view.js';
import { compile } from '../src/compile.js';
import type { Engine } from '../src/engine/engine.js';
import type { LayerParamsMap, NetTensor } from '../src/engine/network.js';
import { NetworkDefinition } from '../src/engine/network_definition.js';
import type { Plan } from '../src/engine/plan.js';
import { modelZoo } from '../src/models/index.js';
import { storageFromBytes, type DType } from '../src/tensor/dtype.js';
import { contiguousStrides, numelOf } from '../src/tensor/shape.js';
import { Tensor } from '../src/tensor/tensor.js';
import { HostMemory, lowerPlan } from './cuda_spec_host.js';
import { build, layer, run } from './engine_helpers.js';

type Shuffle = LayerParamsMap['shuffle'];

/** Element offset of row-major linear index `i` in `view`. */
function offsetOf(i: number, view: View): number {
  let off = 0;
  for (let d = view.shape.length - 1; d >= 0; d--) {
    const n = view.shape[d]!;
    off += (i % n) * view.strides[d]!;
    i = Math.floor(i / n);
  }
  return off;
}

/** The shuffle of an arange input on the reference backend: element i of the output is the input index it came from. */
async function referenceShuffle(inShape: readonly number[], params: Shuffle): Promise<Tensor> {
  const net = new NetworkDefinition('shuffle');
  const x = net.addInput('x', 'float32', inShape);
  net.markOutput(layer(net, 'shuffle', [x], params, 'shuffle'), 'y');
  const engine = await build(net, { optimizations: false });
  return (await run(engine, [Tensor.arange(0, numelOf(inShape), 1, 'float32').reshape(inShape)]))[0]!;
}

describe('shuffles as strided views', () => {
  it('reshapes a view where strides can express it, and only there', () => {
    expect(reshapeView({ shape: [2, 6], strides: [6, 1] }, [2, 2, 3])).toEqual({ shape: [2, 2, 3], strides: [6, 3, 1] });
    expect(reshapeView({ shape: [2, 3, 4], strides: [12, 4, 1] }, [6, 4])).toEqual({ shape: [6, 4], strides: [4, 1] });
    // merging a transposed pair is not a view; splitting it is
    expect(reshapeView({ shape: [2, 3], strides: [1, 2] }, [6])).toBeNull();
    expect(reshapeView({ shape: [4, 3], strides: [1, 4] }, [2, 2, 3])).toEqual({ shape: [2, 2, 3], strides: [2, 1, 4] });
    // size-1 dims anywhere, on either side
    expect(reshapeView({ shape: [1, 5, 1], strides: [99, 3, 7] }, [5, 1, 1])).toEqual({ shape: [5, 1, 1], strides: [3, 0, 0] });
    expect(reshapeView({ shape: [3, 0], strides: [1, 1] }, [0, 7])).toEqual({ shape: [0, 7], strides: [0, 0] });
    expect(() => reshapeView({ shape: [2, 3], strides: [3, 1] }, [4])).toThrow('reshapeView: [2, 3] has 6 elements, [4] has 4');
  });

  it("splits BERT's heads and merges them back without a copy", () => {
    const rowMajor = (shape: number[]): View => ({ shape, strides: contiguousStrides(shape) });
    const split: Shuffle = { firstTranspose: null, reshape: [2, 8, 12, 64], secondTranspose: [0, 2, 1, 3] };
    const merge: Shuffle = { firstTranspose: [0, 2, 1, 3], reshape: [2, 8, 768], secondTranspose: null };
    const heads = { shape: [2, 12, 8, 64], strides: [6144, 64, 768, 1] };
    expect(shuffleOutputView(rowMajor([2, 8, 768]), split, [2, 12, 8, 64])).toEqual(heads);
    expect(shuffleInputView(rowMajor([2, 8, 768]), merge, [2, 12, 8, 64])).toEqual(heads);
    // the merge's output is not a view of a row-major [B, H, S, D]
    expect(shuffleOutputView(rowMajor([2, 12, 8, 64]), merge, [2, 8, 768])).toBeNull();
  });

  const cases: { inShape: number[]; params: Shuffle; outView: boolean; inView: boolean }[] = [
    { inShape: [2, 5, 6], params: { firstTranspose: null, reshape: [2, 5, 3, 2], secondTranspose: [0, 2, 1, 3] }, outView: true, inView: false },
    { inShape: [2, 3, 5, 2], params: { firstTranspose: [0, 2, 1, 3], reshape: [2, 5, 6], secondTranspose: null }, outView: false, inView: true },
    { inShape: [3, 4], params: { firstTranspose: [1, 0], reshape: null, secondTranspose: null }, outView: true, inView: true },
    { inShape: [4, 6], params: { firstTranspose: [1, 0], reshape: [2, 3, 4], secondTranspose: [2, 0, 1] }, outView: true, inView: true },
    { inShape: [2, 1, 6], params: { firstTranspose: [2, 1, 0], reshape: [3, 2, 1, 2], secondTranspose: [3, 1, 2, 0] }, outView: true, inView: false },
    { inShape: [6, 5], params: { firstTranspose: null, reshape: [30], secondTranspose: null }, outView: true, inView: true },
    { inShape: [2, 3], params: { firstTranspose: [1, 0], reshape: [6], secondTranspose: null }, outView: false, inView: true },
    { inShape: [6, 4], params: { firstTranspose: [1, 0], reshape: [4, 2, 3], secondTranspose: [0, 2, 1] }, outView: true, inView: false },
    { inShape: [1, 4, 1, 3], params: { firstTranspose: [3, 1, 0, 2], reshape: [3, 2, 2], secondTranspose: [1, 2, 0] }, outView: true, inView: true },
  ];
  for (const c of cases) {
    it(`matches the reference shuffle of [${c.inShape.join(', ')}] by ${JSON.stringify(c.params)}`, async () => {
      const y = await referenceShuffle(c.inShape, c.params);
      const source = y.toFloat64();
      const outView = shuffleOutputView({ shape: c.inShape, strides: contiguousStrides(c.inShape) }, c.params, y.shape);
      const inView = shuffleInputView({ shape: y.shape, strides: contiguousStrides(y.shape) }, c.params, c.inShape);
      expect(outView !== null).toBe(c.outView);
      expect(inView !== null).toBe(c.inView);
      const n = numelOf(c.inShape);
      // the output's element i is input element source[i]: the input is row-major, so its offset is that index
      if (outView) for (let i = 0; i < n; i++) expect(offsetOf(i, outView)).toBe(source[i]);
      // input element i sits where the output holds i
      if (inView) for (let i = 0; i < n; i++) expect(source[offsetOf(i, inView)]).toBe(i);
    });
  }
});

// ---------------------------------------------------------------- a host interpreter of the program specs used here

/** softmax(q kᵀ · scale + mask, causal) v over the op's views, softmax in float64 (kernels/attention.h's contract). */
function interpretAttention(m: HostMemory, op: Extract<NativeOpSpec, { op: 'attention' }>): void {
  const rank = op.qView.shape.length;
  const batch = op.qView.shape.slice(0, -2);
  const [l, e] = op.qView.shape.slice(-2) as [number, number];
  const s = op.kView.shape[rank - 2]!;
  const ev = op.vView.shape[rank - 1]!;
  const at = (view: View, b: number, i: number, j: number): number => {
    let off = 0;
    for (let d = batch.length - 1; d >= 0; d--) {
      off += (b % batch[d]!) * view.strides[d]!;
      b = Math.floor(b / batch[d]!);
    }
    return off + i * view.strides[rank - 2]! + j * view.strides[rank - 1]!;
  };
  const scores = new Float64Array(s);
  for (let b = 0; b < numelOf(batch); b++) {
    for (let i = 0; i < l; i++) {
      let max = -Infinity;
      for (let j = 0; j < s; j++) {
        let x = 0;
        for (let d = 0; d < e; d++) x += m.read(op.q, at(op.qView, b, i, d), op.dtype) * m.read(op.k, at(op.kView, b, j, d), op.dtype);
        x *= op.scale;
        if (op.mask && op.maskView && op.maskDtype) {
          const mv = m.read(op.mask, at(op.maskView, b, i, j), op.maskDtype);
          x = op.maskDtype === 'bool' ? (mv ? x : -Infinity) : x + mv;
        }
        if (op.causal && j > i) x = -Infinity;
        scores[j] = x;
        max = Math.max(max, x);
      }
      let sum = 0;
      for (let j = 0; j < s; j++) sum += scores[j] = max === -Infinity ? 0 : Math.exp(scores[j]! - max);
      for (let d = 0; d < ev; d++) {
        let y = 0;
        for (let j = 0; j < s; j++) y += scores[j]! * m.read(op.v, at(op.vView, b, j, d), op.dtype);
        m.write(op.out, at(op.outView, b, i, d), op.dtype, sum === 0 ? 0 : y / sum);
      }
    }
  }
}

/** Runs the ops of `spec` that these tests produce (copies, casts, relus, attention) on host memory. */
function interpret(spec: ProgramSpec, memoryBytes: number, constants: Uint8Array, inputs: readonly Tensor[], outputs: readonly { dtype: DType; shape: readonly number[] }[]): Tensor[] {
  const m = new HostMemory(memoryBytes, constants);
  inputs.forEach((t, i) => m.context.set(t.bytes(), spec.inputs[i]!.offset));
  for (const op of spec.ops) {
    switch (op.op) {
      case 'copy': {
        const n = numelOf(op.srcView.shape);
        for (let i = 0; i < n; i++) m.copyBytes(op.src, offsetOf(i, op.srcView), op.dst, offsetOf(i, op.dstView), op.elemBytes);
        break;
      }
      case 'pointwise': {
        const [instr] = op.instrs;
        const fn = instr?.op === 'cast' ? (v: number): number => v : instr?.op === 'activation' && instr.fn === 'relu' ? (v: number): number => Math.max(v, 0) : null;
        if (op.instrs.length !== 1 || fn === null || op.inputs.length !== 1) throw new Error('the test interpreter runs single casts and relus only');
        const x = op.inputs[0]!;
        const n = numelOf(op.shape);
        const view = (strides: readonly number[]): View => ({ shape: op.shape, strides });
        for (let i = 0; i < n; i++) m.write(op.out.ref, offsetOf(i, view(op.out.strides)), op.out.dtype, fn(m.read(x.ref, offsetOf(i, view(x.strides)), x.dtype)));
        break;
      }
      case 'attention': interpretAttention(m, op); break;
      default: throw new Error(`the test interpreter does not run '${op.op}' ops`);
    }
  }
  return outputs.map((o, i) => {
    const slot = spec.outputs[i]!;
    const bytes = m.context.slice(slot.offset, slot.offset + slot.bytes);
    return new Tensor(storageFromBytes(o.dtype, bytes, numelOf(o.shape)), o.shape, o.dtype);
  });
}

function relativeError(got: Tensor, want: Tensor): number {
  const a = got.toFloat64();
  const b = want.toFloat64();
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return Math.sqrt(num / den);
}

// ---------------------------------------------------------------- networks

interface HeadsNet {
  /** Sequence lengths of the queries and of the keys/values; heads; head dims of q/k and of v. */
  readonly l: number; readonly s: number; readonly h: number; readonly e: number; readonly ev: number;
  readonly dtype: 'float16' | 'bfloat16' | 'float32';
  readonly mask?: 'bool' | 'float';
  readonly causal?: boolean;
  /** Batch dims in front (default [2]). */
  readonly batch?: readonly number[];
  /** q, k and v sliced from one packed input [batch..., l, h * (e + e + ev)] (needs l = s), as after mergeParallelLinears. */
  readonly packed?: boolean;
}

/**
 * BERT's attention block on [batch..., positions, heads * dim] float32 inputs: cast to `dtype`,
 * split into heads, attention, merge the heads, cast back.
 */
function headsNetwork(c: HeadsNet): { net: NetworkDefinition; inputs: Tensor[] } {
  const batch = c.batch ?? [2];
  const nb = batch.length;
  const net = new NetworkDefinition('heads');
  const split = (x: NetTensor, positions: number, dim: number, name: string): NetTensor => {
    const cast = layer(net, 'cast', [x], { toType: c.dtype }, `${name}_cast`);
    const perm = [...batch.map((_, i) => i), nb + 1, nb, nb + 2];
    return layer(net, 'shuffle', [cast], { firstTranspose: null, reshape: [...batch, positions, c.h, dim], secondTranspose: perm }, `${name}_heads`);
  };
  const shapes = c.packed
    ? [[...batch, c.l, c.h * (2 * c.e + c.ev)]]
    : [[...batch, c.l, c.h * c.e], [...batch, c.s, c.h * c.e], [...batch, c.s, c.h * c.ev]];
  const xs = shapes.map((shape, i) => net.addInput(`x${i}`, 'float32', shape));
  const widths = [c.h * c.e, c.h * c.e, c.h * c.ev];
  // Packed: the slices cut the cast packed tensor (the cast is a step of its own, read by all three).
  const packed = c.packed ? layer(net, 'cast', [xs[0]!], { toType: c.dtype }, 'packed_cast') : null;
  const part = (i: number, positions: number, dim: number, name: string): NetTensor => {
    if (!packed) return split(xs[i]!, positions, dim, name);
    const rank = batch.length + 2;
    const start = [...Array<number>(rank - 1).fill(0), widths.slice(0, i).reduce((a, b) => a + b, 0)];
    const size = [...batch, positions, widths[i]!];
    const cut = layer(net, 'slice', [packed], { start, size, stride: Array<number>(rank).fill(1), mode: 'default', fillValue: 0 }, `${name}_slice`);
    const perm = [...batch.map((_, j) => j), nb + 1, nb, nb + 2];
    return layer(net, 'shuffle', [cut], { firstTranspose: null, reshape: [...batch, positions, c.h, dim], secondTranspose: perm }, `${name}_heads`);
  };
  const q = part(0, c.l, c.e, 'q');
  const k = part(1, c.s, c.e, 'k');
  const v = part(2, c.s, c.ev, 'v');
  const inputs = shapes.map((shape, i) => Tensor.randn(shape, { seed: 10 + i }));
  const operands = [q, k, v];
  if (c.mask) {
    const maskShape = [batch[0]!, ...batch.slice(1).map(() => 1), 1, 1, c.s];
    operands.push(net.addInput('mask', c.mask === 'bool' ? 'bool' : c.dtype, maskShape));
    const values = Array.from({ length: numelOf(maskShape) }, (_, i) => (c.mask === 'bool' ? Number(i % 5 !== 3) : i % 4 === 1 ? -1e4 : (i % 3) * 0.5));
    inputs.push(Tensor.fromNumbers(values, maskShape, c.mask === 'bool' ? 'bool' : c.dtype));
  }
  const a = layer(net, 'attention', operands, { scale: 1 / Math.sqrt(c.e), causal: c.causal ?? false }, 'attention');
  const perm = [...batch.map((_, i) => i), nb + 1, nb, nb + 2];
  const merged = layer(net, 'shuffle', [a], { firstTranspose: perm, reshape: [...batch, c.l, c.h * c.ev], secondTranspose: null }, 'merge');
  net.markOutput(layer(net, 'cast', [merged], { toType: 'float32' }, 'out'), 'y');
  return { net, inputs };
}

const PRECISION = { float16: 'fp16', bfloat16: 'bf16', float32: 'fp32' } as const;
const TOLERANCE = { float16: 4e-3, bfloat16: 2.5e-2, float32: 1e-6 } as const;

async function built(c: HeadsNet): Promise<{ engine: Engine; inputs: Tensor[] }> {
  const { net, inputs } = headsNetwork(c);
  return { engine: await build(net, { precision: PRECISION[c.dtype] }), inputs };
}

const stepIndex = (plan: Plan, name: string): number => plan.steps.findIndex((s) => s.name === name);

describe('fused attention: aliases and storage', () => {
  it('reads q, k, v through the split shuffles and writes through the merge: no copies', async () => {
    const { engine } = await built({ l: 9, s: 9, h: 3, e: 16, ev: 16, dtype: 'float16' });
    const plan = engine.plan;
    const layout = planLayout(plan);
    const shuffles = ['q_heads', 'k_heads', 'v_heads', 'merge'].map((n) => stepIndex(plan, n));
    expect(shuffles.every((i) => i >= 0)).toBe(true);
    const aliased = [...layout.aliases.values()].map((a) => a.shuffle).sort((a, b) => a - b);
    expect(aliased).toEqual([...shuffles].sort((a, b) => a - b));
    // the roots are arena values: they move into the pool, the three inputs' storage live together with the output's apart
    const roots = [...layout.aliases.values()].map((a) => a.root);
    expect(roots.every((r) => layout.relocated.has(r) && layout.pooled.has(layout.relocated.get(r)!))).toBe(true);
    const bytes = 2 * 9 * 48 * 2;
    expect(layout.poolBytes).toBe(4 * Math.ceil(bytes / 256) * 256);
    const { spec } = lowerPlan(plan);
    expect(spec.ops.filter((op) => shuffles.includes(op.step))).toEqual([]);
    const attention = spec.ops.filter((op) => op.op === 'attention');
    expect(attention.length).toBe(1);
    const op = attention[0]!;
    if (op.op !== 'attention') throw new Error('expected the attention op');
    // [B, S, H*D] storage seen as [B, H, S, D]
    expect(op.qView).toEqual({ shape: [2, 3, 9, 16], strides: [432, 16, 48, 1] });
    expect(op.outView).toEqual({ shape: [2, 3, 9, 16], strides: [432, 16, 48, 1] });
    expect(stepIndex(plan, 'attention')).toBe(op.step);
  });

  it('keeps the gemm + softmax + gemm path and the copies for float32 and for head dims the kernel does not take', async () => {
    for (const c of [{ l: 4, s: 4, h: 2, e: 8, ev: 8, dtype: 'float32' }, { l: 4, s: 4, h: 2, e: 12, ev: 12, dtype: 'float16' }] as const) {
      const plan = (await built(c)).engine.plan;
      const layout = planLayout(plan);
      expect(layout.aliases.size).toBe(0);
      expect(layout.poolBytes).toBe(0);
      const { spec } = lowerPlan(plan);
      expect(spec.ops.filter((op) => op.step === stepIndex(plan, 'attention')).map((op) => op.op)).toEqual(['gemm', 'softmax', 'gemm']);
      expect(spec.ops.filter((op) => op.step === stepIndex(plan, 'merge')).map((op) => op.op)).toEqual(['copy']);
    }
  });

  it('copies a split whose output another step reads too, and a merge of an attention output that is a network output', async () => {
    const net = new NetworkDefinition('shared');
    const x = net.addInput('x', 'float16', [2, 5, 32]);
    const heads = layer(net, 'shuffle', [x], { firstTranspose: null, reshape: [2, 5, 2, 16], secondTranspose: [0, 2, 1, 3] }, 'heads');
    const a = layer(net, 'attention', [heads, heads, heads], { scale: 0.25, causal: false }, 'attention');
    net.markOutput(layer(net, 'shuffle', [a], { firstTranspose: [0, 2, 1, 3], reshape: [2, 5, 32], secondTranspose: null }, 'merge'), 'y');
    net.markOutput(a, 'a');
    net.markOutput(layer(net, 'activation', [heads], { op: 'relu', alpha: 0, beta: 0 }, 'relu'), 'r');
    const plan = (await build(net, { precision: 'fp16' })).plan;
    expect(planLayout(plan).aliases.size).toBe(0);
    const { spec } = lowerPlan(plan);
    expect(spec.ops.filter((op) => op.step === stepIndex(plan, 'heads') || op.step === stepIndex(plan, 'merge')).map((op) => op.op)).toEqual(['copy', 'copy']);
  });

  it("runs BERT's encoder layer with one attention op and no copies around it", async () => {
    const entry = modelZoo.bertEncoderLayer;
    const concreteArgs = entry.traceOptions.concreteArgs;
    const lowered = await compile(entry.create().eval(), [Tensor.randn([2, 8, 768], { seed: 1 })], {
      device: 'cpu', precision: 'fp16', ...(concreteArgs ? { concreteArgs } : {}),
    });
    const [part] = [...lowered.engines.values()];
    const plan = part!.engine.plan;
    const { spec } = lowerPlan(plan);
    const shuffles = plan.steps.flatMap((s, i) => (s.kind === 'shuffle' ? [i] : []));
    expect(shuffles.length).toBe(4);
    expect(spec.ops.filter((op) => shuffles.includes(op.step))).toEqual([]);
    const attention = spec.ops.filter((op) => op.op === 'attention');
    // q, k and v are slices of the merged projection [2, 8, 2304] (mergeParallelLinears), read in place
    expect(attention.map((op) => (op.op === 'attention' ? [op.qView.strides, op.kView.strides, op.outView.strides] : []))).toEqual([
      [[18432, 64, 2304, 1], [18432, 64, 2304, 1], [6144, 64, 768, 1]],
    ]);
    const slices = plan.steps.flatMap((s, i) => (s.kind === 'slice' ? [i] : []));
    expect(slices.length).toBe(3);
    expect(spec.ops.filter((op) => slices.includes(op.step))).toEqual([]);
    expect(spec.ops.some((op) => op.op === 'softmax')).toBe(false);
  });
});

describe('fused attention programs, interpreted on the host, match the reference backend', () => {
  const cases: (HeadsNet & { name: string })[] = [
    { name: 'float16, boolean key mask', l: 7, s: 7, h: 2, e: 16, ev: 16, dtype: 'float16', mask: 'bool' },
    { name: 'float16, causal, L != S', l: 5, s: 9, h: 2, e: 8, ev: 24, dtype: 'float16', causal: true },
    { name: 'bfloat16, additive mask, one query', l: 1, s: 6, h: 3, e: 16, ev: 8, dtype: 'bfloat16', mask: 'float' },
    { name: 'float16, two batch dims, additive mask broadcast over heads', l: 3, s: 4, h: 2, e: 8, ev: 8, dtype: 'float16', mask: 'float', batch: [2, 2] },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const { engine, inputs } = await built(c);
      const plan = engine.plan;
      const { spec, bytes, constants, shapes } = lowerPlan(plan);
      expect(spec.ops.map((op) => op.op).sort()).toEqual(['attention', 'pointwise', 'pointwise', 'pointwise', 'pointwise']);
      const [got] = interpret(spec, bytes, constants, inputs, plan.outputs.map((o) => ({ dtype: o.dtype, shape: shapes[o.value]! })));
      const [want] = await run(engine, inputs);
      expect(got!.shape).toEqual(want!.shape);
      const err = relativeError(got!, want!);
      expect(err, `relative error ${err}`).toBeLessThanOrEqual(TOLERANCE[c.dtype]);
    });
  }

  it('key and value shared by the heads: broadcast batch strides', async () => {
    const net = new NetworkDefinition('shared');
    const shapes = [[2, 4, 5, 16], [2, 1, 7, 16], [2, 1, 7, 8]];
    const xs = shapes.map((shape, i) => net.addInput(`x${i}`, 'float16', shape));
    net.markOutput(layer(net, 'attention', xs, { scale: 0.25, causal: false }, 'attention'), 'y');
    const engine = await build(net, { precision: 'fp16' });
    const plan = engine.plan;
    const { spec, bytes, constants, shapes: valueShapes } = lowerPlan(plan);
    const op = spec.ops.find((o) => o.op === 'attention');
    if (op?.op !== 'attention') throw new Error('expected the attention op');
    expect(op.kView).toEqual({ shape: [2, 4, 7, 16], strides: [112, 0, 16, 1] });
    const inputs = shapes.map((shape, i) => Tensor.randn(shape, { seed: 20 + i, dtype: 'float16' }));
    const [got] = interpret(spec, bytes, constants, inputs, plan.outputs.map((o) => ({ dtype: o.dtype, shape: valueShapes[o.value]! })));
    const [want] = await run(engine, inputs);
    expect(relativeError(got!, want!)).toBeLessThanOrEqual(TOLERANCE.float16);
  });

  for (const c of [
    { name: 'float16, q, k, v sliced from one packed projection', l: 7, s: 7, h: 2, e: 16, ev: 8, dtype: 'float16', packed: true },
    { name: 'bfloat16, packed, causal, two batch dims', l: 5, s: 5, h: 3, e: 8, ev: 16, dtype: 'bfloat16', packed: true, causal: true, batch: [2, 2] },
  ] as const) {
    it(`${c.name}: the slices and splits are views (no op), the packed tensor stays alive for the attention`, async () => {
      const { engine, inputs } = await built(c);
      const plan = engine.plan;
      const layout = planLayout(plan);
      const slices = ['q_slice', 'k_slice', 'v_slice'].map((n) => stepIndex(plan, n));
      expect([...layout.aliases.values()].flatMap((a) => (a.slice === undefined ? [] : [a.slice])).sort((a, b) => a - b)).toEqual([...slices].sort((a, b) => a - b));
      const { spec, bytes, constants, shapes } = lowerPlan(plan);
      const viewSteps = [...slices, ...['q_heads', 'k_heads', 'v_heads', 'merge'].map((n) => stepIndex(plan, n))];
      expect(spec.ops.filter((op) => viewSteps.includes(op.step))).toEqual([]);
      const att = spec.ops.find((op) => op.op === 'attention');
      if (att?.op !== 'attention') return expect.fail('no attention op');
      // k and v start h * e and 2 * h * e elements into the packed rows
      const bytesOf = c.dtype === 'float16' || c.dtype === 'bfloat16' ? 2 : 4;
      expect([att.k.offset - att.q.offset, att.v.offset - att.q.offset]).toEqual([c.h * c.e * bytesOf, 2 * c.h * c.e * bytesOf]);
      const [got] = interpret(spec, bytes, constants, inputs, plan.outputs.map((o) => ({ dtype: o.dtype, shape: shapes[o.value]! })));
      const [want] = await run(engine, inputs);
      expect(relativeError(got!, want!)).toBeLessThanOrEqual(TOLERANCE[c.dtype]);
    });
  }

  it('copies a slice that another step reads too, or that is not a forward one', async () => {
    const net = new NetworkDefinition('slices');
    const x = net.addInput('x', 'float16', [2, 6, 48]);
    const cut = (start: number, stride: number, name: string): NetTensor =>
      layer(net, 'slice', [x], { start: [0, 0, start], size: [2, 6, 16], stride: [1, 1, stride], mode: 'default', fillValue: 0 }, name);
    const heads = (t: NetTensor, name: string): NetTensor =>
      layer(net, 'shuffle', [t], { firstTranspose: null, reshape: [2, 6, 2, 8], secondTranspose: [0, 2, 1, 3] }, name);
    const shared = cut(0, 1, 'shared');
    const strided = cut(1, 2, 'strided'); // every other element: starts misaligned for 16-byte vectors
    const plain = cut(32, 1, 'plain');
    const a = layer(net, 'attention', [heads(shared, 'h_shared'), heads(strided, 'h_strided'), heads(plain, 'h_plain')], { scale: 0.3, causal: false }, 'attention');
    net.markOutput(a, 'a');
    net.markOutput(layer(net, 'activation', [shared], { op: 'relu', alpha: 0, beta: 0 }, 'relu'), 'r');
    const plan = (await build(net, { precision: 'fp16' })).plan;
    const layout = planLayout(plan);
    const sliced = [...layout.aliases.values()].flatMap((al) => (al.slice === undefined ? [] : [plan.steps[al.slice]!.name]));
    expect(sliced).toEqual(['plain']);
    const { spec } = lowerPlan(plan);
    const opsOf = (name: string): string[] => spec.ops.filter((op) => op.step === stepIndex(plan, name)).map((op) => op.op);
    expect([opsOf('shared').length > 0, opsOf('strided').length > 0, opsOf('plain')]).toEqual([true, true, []]);
  });

  it('a dynamic batch: the views hold at every shape of the profile', async () => {
    const net = new NetworkDefinition('dynamic');
    const x = net.addInput('x', 'float16', [-1, 6, 32], { min: [1, 6, 32], opt: [2, 6, 32], max: [3, 6, 32] });
    const relu = layer(net, 'activation', [x], { op: 'relu', alpha: 0, beta: 0 }, 'relu');
    const heads = layer(net, 'shuffle', [relu], { firstTranspose: null, reshape: [0, 6, 4, 8], secondTranspose: [0, 2, 1, 3] }, 'heads');
    const a = layer(net, 'attention', [heads, heads, heads], { scale: 0.3, causal: true }, 'attention');
    const merged = layer(net, 'shuffle', [a], { firstTranspose: [0, 2, 1, 3], reshape: [0, 6, 32], secondTranspose: null }, 'merge');
    net.markOutput(layer(net, 'cast', [merged], { toType: 'float32' }, 'out'), 'y');
    const engine = await build(net, { precision: 'fp16' });
    const plan = engine.plan;
    expect(planLayout(plan).aliases.size).toBe(2);
    for (const n of [1, 3]) {
      const { spec, bytes, constants, shapes } = lowerPlan(plan, [[n, 6, 32]]);
      expect(spec.ops.filter((op) => op.step === stepIndex(plan, 'heads') || op.step === stepIndex(plan, 'merge'))).toEqual([]);
      const input = Tensor.randn([n, 6, 32], { seed: n, dtype: 'float16' });
      const [got] = interpret(spec, bytes, constants, [input], plan.outputs.map((o) => ({ dtype: o.dtype, shape: shapes[o.value]! })));
      const [want] = await run(engine, [input]);
      expect(relativeError(got!, want!)).toBeLessThanOrEqual(TOLERANCE.float16);
    }
  });
});

describe('shuffles that move nothing: the output stored in the input', () => {
  /** x [2, 8, 1, 1] → relu → shuffle → relu → y, with `params` the shuffle's. */
  async function flatNet(params: Shuffle, outShape: readonly number[]): Promise<{ engine: Engine; plan: Plan; input: Tensor }> {
    const net = new NetworkDefinition('flat');
    const x = net.addInput('x', 'float32', [2, 8, 1, 1]);
    const r1 = layer(net, 'activation', [x], { op: 'relu', alpha: 0, beta: 0 }, 'r1');
    const flat = layer(net, 'shuffle', [r1], params, 'flat');
    net.markOutput(layer(net, 'activation', [flat], { op: 'relu', alpha: 0, beta: 0 }, 'r2'), 'y');
    const engine = await build(net, { optimizations: false });
    const plan = engine.plan;
    expect(plan.values[plan.outputs[0]!.value]!.shape).toEqual(outShape);
    return { engine, plan, input: Tensor.randn([2, 8, 1, 1], { seed: 4 }) };
  }

  it('a flattening reshape copies nothing: the next step reads the relu output in place, kept alive in the pool', async () => {
    const { engine, plan, input } = await flatNet({ firstTranspose: null, reshape: [2, 8], secondTranspose: null }, [2, 8]);
    const layout = planLayout(plan);
    const flat = stepIndex(plan, 'flat');
    const root = plan.steps[flat]!.inputs[0]!;
    expect([...layout.shared]).toEqual([[plan.steps[flat]!.outputs[0]!, root]]);
    expect(layout.relocated.has(root) && layout.pooled.has(layout.relocated.get(root)!)).toBe(true);
    const { spec, bytes, constants, shapes } = lowerPlan(plan);
    expect(spec.ops.filter((op) => op.step === flat)).toEqual([]);
    const [r1, r2] = [stepIndex(plan, 'r1'), stepIndex(plan, 'r2')].map((i) => spec.ops.find((op) => op.step === i)!);
    if (r1?.op !== 'pointwise' || r2?.op !== 'pointwise') throw new Error('expected the relus as pointwise ops');
    expect(r2.inputs[0]!.ref).toEqual(r1.out.ref);
    const [got] = interpret(spec, bytes, constants, [input], plan.outputs.map((o) => ({ dtype: o.dtype, shape: shapes[o.value]! })));
    const [want] = await run(engine, [input]);
    expect(got!.toFloat64()).toEqual(want!.toFloat64());
  });

  it('keeps the copy where elements move (a transpose) or where the output is a network output', async () => {
    const moved = await flatNet({ firstTranspose: [1, 0, 2, 3], reshape: [8, 2], secondTranspose: null }, [8, 2]);
    expect(planLayout(moved.plan).shared.size).toBe(0);
    expect(lowerPlan(moved.plan).spec.ops.filter((op) => op.step === stepIndex(moved.plan, 'flat')).map((op) => op.op)).toEqual(['copy']);
    const net = new NetworkDefinition('flat_out');
    const x = net.addInput('x', 'float32', [2, 8, 1, 1]);
    const r1 = layer(net, 'activation', [x], { op: 'relu', alpha: 0, beta: 0 }, 'r1');
    net.markOutput(layer(net, 'shuffle', [r1], { firstTranspose: null, reshape: [2, 8], secondTranspose: null }, 'flat'), 'y');
    const plan = (await build(net, { optimizations: false })).plan;
    expect(planLayout(plan).shared.size).toBe(0);
    expect(lowerPlan(plan).spec.ops.filter((op) => op.step === stepIndex(plan, 'flat')).map((op) => op.op)).toEqual(['copy']);
  });
});
