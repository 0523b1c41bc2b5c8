// Dynamic quantization (seed 004): linear layers with INT8 weights (per output channel) and an INT8
// activation whose scale is computed at run time; compared with fp32 within error bounds derived here
// from the quantization's rounding, on the reference backend.
import { describe, expect, it } from 'vitest';
import { accTrace } from '../src/acc_ops/acc_tracer.js';
import { getAccOp } from '../src/acc_ops/registry.js';
import { compile, type CompileOptions } from '../src/compile.js';
import type { Engine } from '../src/engine/engine.js';
import { NetworkDefinition } from '../src/engine/network_definition.js';
import { Graph } from '../src/ir/graph.js';
import { GraphModule } from '../src/ir/graph_module.js';
import type { AnyNode } from '../src/ir/node.js';
import type { LoweredModule } from '../src/lowering/lowered_module.js';
import { mlp } from '../src/models/mlp.js';
import { Module, nn } from '../src/nn/index.js';
import { accOpName, defaultPasses, dynamicQuantize, MIN_DYNAMIC_SCALE, PassManager, ShapeProp } from '../src/passes/index.js';
import { Tensor } from '../src/tensor/tensor.js';
import { build, constant, layer, run } from './engine_helpers.js';

/** Unit roundoff of float16 storage. */
const U16 = 2 ** -11;
/** Lipschitz constant of GELU: max |d/dz z·Φ(z)| = 1.1289 (at z ≈ 0.75). */
const GELU_LIPSCHITZ = 1.13;

/** A [..., k] tensor as rows × k float64 values. */
function rowsOf(t: Tensor): { v: Float64Array; rows: number; k: number } {
  const k = t.shape[t.shape.length - 1]!;
  return { v: t.toFloat64(), rows: t.numel / k, k };
}

/**
 * Worst-case |error| of each output of y = x Wᵀ + b computed by dynamic quantization from x' = x ± delta:
 * the activation rounds by at most s/2 with s = max|x'| / 127 over the tensor (or the row, per token),
 * the weight by at most s_c/2 with s_c = max|W_c| / 127 per output channel; symmetric scales never clip.
 * `u` is the unit roundoff of the storage type (0 for float32): dequantized values, the product and
 * the bias sum are rounded once each; float32 accumulation adds at most 1e-5 of Σ|x||w|.
 */
function linearBound(x: Tensor, delta: Float64Array, w: Tensor, bias: Tensor | null, perToken: boolean, u: number): Float64Array {
  const { v, rows, k } = rowsOf(x);
  const n = w.shape[0]!;
  const wv = w.toFloat64();
  const bv = bias?.toFloat64();
  const sw = new Float64Array(n);
  for (let c = 0; c < n; c++) for (let j = 0; j < k; j++) sw[c] = Math.max(sw[c]!, Math.abs(wv[c * k + j]!) / 127);
  const groupMax = (r0: number, r1: number): number => {
    let m = 0;
    let d = 0;
    for (let i = r0 * k; i < r1 * k; i++) { m = Math.max(m, Math.abs(v[i]!)); d = Math.max(d, delta[i]!); }
    return Math.max(((m + d) / 127) * (1 + u), MIN_DYNAMIC_SCALE);
  };
  const tensorScale = groupMax(0, rows);
  const out = new Float64Array(rows * n);
  for (let r = 0; r < rows; r++) {
    const s = perToken ? groupMax(r, r + 1) : tensorScale;
    for (let c = 0; c < n; c++) {
      let err = 0;
      let mag = 0;
      for (let j = 0; j < k; j++) {
        const xa = Math.abs(v[r * k + j]!) + delta[r * k + j]!;
        const wa = Math.abs(wv[c * k + j]!);
        const ax = delta[r * k + j]! + s / 2 + u * (xa + s / 2);
        const bw = sw[c]! / 2 + u * (wa + sw[c]! / 2);
        err += ax * wa + xa * bw + ax * bw;
        mag += (xa + ax) * (wa + bw);
      }
      mag += bv ? Math.abs(bv[c]!) : 0;
      out[r * n + c] = err + (2 * u + 1e-5) * mag;
    }
  }
  return out;
}

/** Expects |actual - expected| <= bound elementwise; returns the largest error and the largest bound. */
function expectWithin(actual: Tensor, expected: Tensor, bound: Float64Array): { maxErr: number; maxBound: number } {
  expect(actual.shape).toEqual(expected.shape);
  const a = actual.toFloat64();
  const e = expected.toFloat64();
  let maxErr = 0;
  for (let i = 0; i < a.length; i++) {
    const err = Math.abs(a[i]! - e[i]!);
    if (!(err <= bound[i]!)) expect(a[i], `element ${i}: |error| ${err} > bound ${bound[i]}`).toBe(e[i]);
    maxErr = Math.max(maxErr, err);
  }
  return { maxErr, maxBound: Math.max(...bound) };
}

function relu(t: Float64Array): Float64Array {
  return t.map((x) => Math.max(x, 0));
}

/** The error bound of the lowered MLP (lin1 → ReLU → lin2) on x, with float storage roundoff u. */
function mlpBound(model: ReturnType<typeof mlp>, x: Tensor, u: number, perToken = false): Float64Array {
  const h = model.lin1.forward(x);
  const e1 = linearBound(x, x.toFloat64().map((v) => u * Math.abs(v)), model.lin1.weight, model.lin1.bias, perToken, u);
  // ReLU is 1-Lipschitz: the hidden error passes through as the second layer's input perturbation.
  const hr = Tensor.fromNumbers(relu(h.toFloat64()), h.shape);
  return linearBound(hr, e1, model.lin2.weight, model.lin2.bias, perToken, u);
}

/**
 * The variance of each output's error under the rounding noise model: each activation and weight
 * rounding is uniform on ±step/2 (variance step²/12) and independent; `inVar` is the variance of
 * the error the input already carries. Per tensor: the activation step is max|x| / 127.
 */
function linearNoise(x: Tensor, inVar: Float64Array, w: Tensor): Float64Array {
  const { v, rows, k } = rowsOf(x);
  const n = w.shape[0]!;
  const wv = w.toFloat64();
  const s = Math.max(...Array.from(v, Math.abs)) / 127;
  const out = new Float64Array(rows * n);
  for (let c = 0; c < n; c++) {
    let sw = 0;
    for (let j = 0; j < k; j++) sw = Math.max(sw, Math.abs(wv[c * k + j]!) / 127);
    for (let r = 0; r < rows; r++) {
      let acc = 0;
      for (let j = 0; j < k; j++) {
        const ax = inVar[r * k + j]! + (s * s) / 12;
        acc += wv[c * k + j]! ** 2 * ax + v[r * k + j]! ** 2 * (sw * sw) / 12 + ax * (sw * sw) / 12;
      }
      out[r * n + c] = acc;
    }
  }
  return out;
}

/** The MLP's output error variances: the hidden error passes ReLU where the hidden value is positive. */
function mlpNoise(model: ReturnType<typeof mlp>, x: Tensor): Float64Array {
  const h = model.lin1.forward(x);
  const hv = h.toFloat64();
  const v1 = linearNoise(x, new Float64Array(x.numel), model.lin1.weight).map((e, i) => (hv[i]! > 0 ? e : 0));
  return linearNoise(Tensor.fromNumbers(relu(hv), h.shape), v1, model.lin2.weight);
}

function mean(v: Float64Array): number {
  return v.reduce((a, b) => a + b, 0) / v.length;
}

function rmsError(a: Tensor, b: Tensor): number {
  const x = a.toFloat64();
  const y = b.toFloat64();
  let acc = 0;
  for (let i = 0; i < x.length; i++) acc += (x[i]! - y[i]!) ** 2;
  return Math.sqrt(acc / x.length);
}

/** max |a - b| / max |b|. */
function linearish(a: Tensor, b: Tensor): number {
  const x = a.toFloat64();
  const y = b.toFloat64();
  let e = 0;
  let m = 0;
  for (let i = 0; i < x.length; i++) { e = Math.max(e, Math.abs(x[i]! - y[i]!)); m = Math.max(m, Math.abs(y[i]!)); }
  return e / m;
}

/** max |a - b|. */
function maxAbsError(a: Tensor, b: Tensor): number {
  const x = a.toFloat64();
  const y = b.toFloat64();
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
  return m;
}

/** A BERT-style feed-forward block: x + fc2(gelu(fc1(layer_norm(x)))). */
class BertFeedForward extends Module {
  norm: nn.LayerNorm;
  fc1: nn.Linear;
  act = new nn.GELU();
  fc2: nn.Linear;
  constructor(d: number, hidden: number) {
    super();
    this.norm = new nn.LayerNorm(d);
    this.fc1 = new nn.Linear(d, hidden);
    this.fc2 = new nn.Linear(hidden, d);
  }
  override forward(x: Tensor): Tensor {
    return x.add(this.fc2.forward(this.act.forward(this.fc1.forward(this.norm.forward(x)))));
  }
}

function nodesOf(gm: GraphModule, op: string): AnyNode[] {
  return gm.graph.nodeList().filter((n) => accOpName(n) === op);
}

function engineOf(lowered: LoweredModule): Engine {
  const engines = [...lowered.engines.values()];
  expect(engines).toHaveLength(1);
  return engines[0]!.engine;
}

describe('dynamicQuantize pass', () => {
  it('rewrites each linear into Q/DQ with a run-time scale and int8 per-channel weights, leaving the rest alone', () => {
    const model = mlp({ dModel: 16, dFF: 32, seed: 1 }).eval();
    const x = Tensor.randn([4, 16], { seed: 2 });
    const gm = new PassManager(defaultPasses({ dynamicQuantization: {} })).run(accTrace(model, [x])).gm;
    expect(nodesOf(gm, 'linear')).toHaveLength(2);
    expect(nodesOf(gm, 'quantize_per_tensor')).toHaveLength(2);
    expect(nodesOf(gm, 'amax')).toHaveLength(2);
    for (const lin of nodesOf(gm, 'linear')) {
      const [xdq, wdq] = [lin.kwargs['input'], lin.kwargs['weight']] as AnyNode[];
      expect(accOpName(xdq!)).toBe('dequantize');
      expect(accOpName(wdq!)).toBe('dequantize');
      const codes = gm.getAttr((wdq!.kwargs['input'] as AnyNode).target as string);
      expect(codes).toBeInstanceOf(Tensor);
      const t = codes as Tensor;
      expect(t.dtype).toBe('int8');
      expect(t.qparams?.axis).toBe(0);
      expect(t.qparams?.scale.length).toBe(t.shape[0]);
      expect(t.qparams?.zeroPoint.every((z) => z === 0)).toBe(true);
      // Symmetric: each channel's largest |w| is the code ±127.
      const v = t.toFloat64();
      const k = t.shape[1]!;
      for (let c = 0; c < t.shape[0]!; c++) expect(Math.max(...Array.from(v.subarray(c * k, (c + 1) * k), Math.abs))).toBe(127);
      // The scale is a tensor computed from the activation: quantize ← clamp ← div ← amax ← abs ← x.
      const q = xdq!.kwargs['input'] as AnyNode;
      expect(q.kwargs['zero_point']).toBe(0);
      const chain: string[] = [];
      let n = q.kwargs['scale'] as AnyNode;
      expect(n.meta.tensorMeta).toMatchObject({ shape: [], dtype: 'float32' });
      for (let i = 0; i < 4; i++, n = n.kwargs['input'] as AnyNode) chain.push(accOpName(n) ?? n.op);
      expect(chain).toEqual(['clamp', 'div', 'amax', 'abs']);
      expect(n).toBe(q.kwargs['input']);
    }
    // The float weights are gone; ReLU reads the float output of the first layer, not a dequantize.
    expect(gm.getAttr('lin1.weight')).toBeUndefined();
    expect(gm.getAttr('lin2.weight')).toBeUndefined();
    const [act] = nodesOf(gm, 'relu');
    expect(accOpName(act!.kwargs['input'] as AnyNode)).toBe('linear');
    const expected = model.forward(x);
    expect(linearish(gm.forward(x) as Tensor, expected)).toBeLessThan(0.05);
  });

  it('quantizes a shared activation once and a shared weight once, and honours exclude', () => {
    class Qkv extends Module {
      q = new nn.Linear(8, 8);
      k = new nn.Linear(8, 8);
      v = new nn.Linear(8, 8);
      override forward(x: Tensor): Tensor {
        return this.q.forward(x).add(this.k.forward(x)).add(this.v.forward(x)).add(this.q.forward(x.relu()));
      }
    }
    const model = new Qkv().eval();
    const x = Tensor.randn([3, 8], { seed: 3 });
    const acc = accTrace(model, [x]);
    // Merging q, k and v into one linear (on in defaultPasses() for float builds) would rename them.
    const gm = new PassManager([...defaultPasses({ mergeParallelLinears: false }), dynamicQuantize({ exclude: ['linear_2'] })]).run(acc).gm;
    // linear, linear_1 (x), linear_3 (relu(x)) quantized; linear_2 excluded by name.
    expect(nodesOf(gm, 'quantize_per_tensor')).toHaveLength(2);
    expect(nodesOf(gm, 'dequantize')).toHaveLength(2 + 2); // two activations, two weights (q's codes shared)
    const excluded = gm.graph.nodeList().find((n) => n.name === 'linear_2')!;
    expect(accOpName(excluded)).toBe('linear');
    expect((excluded.kwargs['weight'] as AnyNode).op).toBe('get_attr');
    const byKind = new PassManager([...defaultPasses({ mergeParallelLinears: false }), dynamicQuantize({ exclude: ['linear'] })]).run(accTrace(model, [x])).gm;
    expect(nodesOf(byKind, 'quantize_per_tensor')).toHaveLength(0);
    // A name the graph does not have (here: renamed by mergeParallelLinears) is refused, naming the layers.
    const merged = () => new PassManager([...defaultPasses(), dynamicQuantize({ exclude: ['linear_2'] })]).run(accTrace(model, [x]));
    expect(merged).toThrow("pass 'dynamicQuantize' failed: dynamicQuantize: exclude 'linear_2' is neither a node of the graph nor one of linear, matmul, transposed_matmul (layers: linear_4, linear_3)");
  });

  it('quantizes matmul and transposed_matmul with a constant 2-D weight along its output-channel axis', () => {
    const w = Tensor.randn([6, 5], { seed: 4 }); // matmul: [in, out]; transposed_matmul(transpose_other): [out, in]
    const wt = Tensor.fromNumbers(Array.from({ length: 30 }, (_, i) => w.toFloat64()[(i % 6) * 5 + Math.floor(i / 6)]!), [5, 6]);
    const g = new Graph();
    const x = g.placeholder('x');
    const mm = g.callFunction(getAccOp('matmul'), [], { input: x, other: g.getAttr('w') });
    const tmm = g.callFunction(getAccOp('transposed_matmul'), [], { input: x, other: g.getAttr('wt'), transpose_input: false, transpose_other: true });
    g.output(g.callFunction(getAccOp('add'), [], { input: mm, other: tmm }));
    const gm = new GraphModule({ w, wt }, g);
    const xs = Tensor.randn([2, 3, 6], { seed: 5 });
    new ShapeProp(gm).propagate(xs);
    const expected = gm.forward(xs) as Tensor;
    expect(dynamicQuantize()(gm).modified).toBe(true);
    gm.lint();
    expect(nodesOf(gm, 'matmul')).toHaveLength(1);
    expect(nodesOf(gm, 'transposed_matmul')).toHaveLength(1);
    expect(nodesOf(gm, 'quantize_per_tensor')).toHaveLength(1); // one input, quantized once
    const axes = nodesOf(gm, 'dequantize').map((n) => n.kwargs['input'] as AnyNode).filter((n) => n.op === 'get_attr')
      .map((n) => gm.getAttr(n.target as string)).filter((t): t is Tensor => t instanceof Tensor).map((t) => [t.shape.join('x'), t.qparams?.axis]);
    expect(axes.sort()).toEqual([['5x6', 0], ['6x5', 1]]);
    expect(linearish(gm.forward(xs) as Tensor, expected)).toBeLessThan(0.05);
  });
});

describe('compile with quantization mode dynamic', () => {
  it('matches the rounding error model of int8 per-tensor activations and per-channel weights (one layer)', async () => {
    // Output channels of very different magnitudes: per-channel weight scales matter.
    const model = new nn.Linear(256, 128);
    const w = Tensor.randn([128, 256], { seed: 5 }).toFloat64();
    for (let c = 0; c < 128; c++) for (let j = 0; j < 256; j++) w[c * 256 + j]! *= 0.02 * (1 + c / 8);
    model.weight.setData(Float32Array.from(w));
    model.eval();
    const x = Tensor.randn([64, 256], { seed: 6 });
    const lowered = await compile(model, [x], { device: 'cpu', quantization: { mode: 'dynamic' } });
    const [y] = await lowered.run([x]);
    const expected = model.forward(x);
    expectWithin(y!, expected, linearBound(x, new Float64Array(x.numel), model.weight, model.bias, false, 0));
    // Uniform rounding noise: Var(err_rc) = Σ_k (s²/12 · w_ck² + x_rk² · s_c²/12).
    const xv = x.toFloat64();
    const s = Math.max(...Array.from(xv, Math.abs)) / 127;
    let predicted = 0;
    let measured = 0;
    const yv = y!.toFloat64();
    const ev = expected.toFloat64();
    for (let c = 0; c < 128; c++) {
      let sc = 0;
      for (let j = 0; j < 256; j++) sc = Math.max(sc, Math.abs(w[c * 256 + j]!) / 127);
      for (let r = 0; r < 64; r++) {
        for (let j = 0; j < 256; j++) predicted += (s * s * w[c * 256 + j]! ** 2 + xv[r * 256 + j]! ** 2 * sc * sc) / 12;
        measured += (yv[r * 128 + c]! - ev[r * 128 + c]!) ** 2;
      }
    }
    const ratio = Math.sqrt(measured / predicted);
    expect(ratio).toBeGreaterThan(0.85);
    expect(ratio).toBeLessThan(1.15);
  });

  it('the seed MLP: within the int8 error bound in fp32 and fp16, at the noise model RMS, int8 weights in the plan', async () => {
    const model = mlp({ dModel: 64, dFF: 256, seed: 7 }).eval();
    const x = Tensor.randn([32, 64], { seed: 8 });
    const expected = model.forward(x);
    for (const [precision, u] of [['fp32', 0], ['fp16', U16]] as const) {
      const lowered = await compile(model, [x], { precision, device: 'cpu', quantization: { mode: 'dynamic' }, validate: true });
      expect(lowered.validation?.passed).toBe(true);
      const [y] = await lowered.run([x]);
      expectWithin(y!, expected, mlpBound(model, x, u));
      if (precision === 'fp32') {
        const ratio = rmsError(y!, expected) / Math.sqrt(mean(mlpNoise(model, x)));
        expect(ratio).toBeGreaterThan(0.8);
        expect(ratio).toBeLessThan(1.25);
      }

      // The weights are int8 in the plan's constants, with no float copy.
      const plan = engineOf(lowered).plan;
      const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);
      expect(plan.constants.filter((c) => c.dtype === 'int8').map((c) => numel(c.shape))).toEqual([256 * 64, 64 * 256]);
      expect(plan.constants.filter((c) => c.dtype !== 'int8' && numel(c.shape) === 256 * 64)).toEqual([]);
      // The builder's Q/DQ fusion makes both GEMMs INT8 (int32 accumulation) with the run-time activation scale.
      expect(plan.steps.filter((st) => st.kind === 'matrix_multiply').map((st) => st.precision.compute)).toEqual(['int32', 'int32']);
    }
  });

  it('a BERT feed-forward block (layer norm, GELU and the residual add stay in float)', async () => {
    const block = new BertFeedForward(32, 128).eval();
    const x = Tensor.randn([2, 8, 32], { seed: 9 });
    const expected = block.forward(x);
    const lowered = await compile(block, [x], { device: 'cpu', quantization: { mode: 'dynamic' } });
    const [y] = await lowered.run([x]);
    const n = block.norm.forward(x);
    const e1 = linearBound(n, new Float64Array(n.numel), block.fc1.weight, block.fc1.bias, false, 0);
    const g = block.act.forward(block.fc1.forward(n));
    const e2 = linearBound(g, e1.map((e) => GELU_LIPSCHITZ * e), block.fc2.weight, block.fc2.bias, false, 0);
    expectWithin(y!, expected, e2);

    const gm = new PassManager(defaultPasses({ dynamicQuantization: {} })).run(accTrace(block, [x])).gm;
    expect(nodesOf(gm, 'quantize_per_tensor')).toHaveLength(2);
    for (const op of ['layer_norm', 'gelu', 'add']) {
      for (const node of nodesOf(gm, op)) {
        for (const input of node.allInputNodes) expect(accOpName(input), `${op} '${node.name}' reads '${input.name}'`).not.toBe('dequantize');
      }
    }
    expect(nodesOf(gm, 'gelu')).toHaveLength(1);
    expect(nodesOf(gm, 'layer_norm')).toHaveLength(1);
  });

  it('per-token scales: one scale per row, quantized along the rows', async () => {
    const model = mlp({ dModel: 16, dFF: 48, seed: 10 }).eval();
    // Rows of very different magnitudes, where one scale per row pays off.
    const x = Tensor.fromNumbers(Tensor.randn([8, 16], { seed: 11 }).toFloat64().map((v, i) => v * 2 ** (Math.floor(i / 16) - 4)), [8, 16]);
    const lowered = await compile(model, [x], { device: 'cpu', quantization: { mode: 'dynamic', granularity: 'token' } });
    const [y] = await lowered.run([x]);
    const expected = model.forward(x);
    expectWithin(y!, expected, mlpBound(model, x, 0, true));
    // The smallest row (1/16 of the largest) keeps its precision only with its own scale.
    const [perTensor] = await (await compile(model, [x], { device: 'cpu', quantization: { mode: 'dynamic' } })).run([x]);
    const row0 = (t: Tensor): Tensor => Tensor.fromNumbers(t.toFloat64().subarray(0, 16), [16]);
    expect(maxAbsError(row0(y!), row0(expected)) * 4).toBeLessThan(maxAbsError(row0(perTensor!), row0(expected)));
    const gm = new PassManager(defaultPasses({ dynamicQuantization: { granularity: 'token' } })).run(accTrace(model, [x])).gm;
    expect(nodesOf(gm, 'amax').map((n) => n.kwargs['dim'])).toEqual([1, 1]);
    for (const q of nodesOf(gm, 'quantize_per_channel')) expect((q.kwargs['scales'] as AnyNode).meta.tensorMeta).toMatchObject({ shape: [8] });
  });

  it('lowers the activation quantize to a per-tensor Q layer with a computed scale (per token: along the rows)', async () => {
    const model = mlp({ dModel: 16, dFF: 32, seed: 18 }).eval();
    const x = Tensor.randn([6, 16], { seed: 19 });
    for (const [granularity, axis, scale] of [['tensor', null, [1]], ['token', 0, [6]]] as const) {
      const lowered = await compile(model, [x], { device: 'cpu', quantization: { mode: 'dynamic', granularity }, optimizations: false });
      const plan = engineOf(lowered).plan;
      const steps = plan.steps.filter((st) => st.kind === 'quantize');
      expect(steps.map((st) => st.kind === 'quantize' && st.params)).toEqual([{ axis, toType: 'int8' }, { axis, toType: 'int8' }]);
      for (const st of steps) {
        const scaleValue = plan.values[st.inputs[1]!]!;
        expect(scaleValue.shape).toEqual(scale);
        expect(scaleValue.location.kind).toBe('arena'); // computed at run time, not a constant
        expect(st.inputs).toHaveLength(2); // zero points of 0 are left out
      }
    }
  });

  it('an all-zero input gives the float result, without NaN', async () => {
    const model = mlp({ dModel: 16, dFF: 32, seed: 12 }).eval();
    const x = Tensor.randn([4, 16], { seed: 13 });
    const zeros = Tensor.zeros([4, 16]);
    for (const precision of ['fp32', 'fp16'] as const) {
      const lowered = await compile(model, [x], { precision, device: 'cpu', quantization: { mode: 'dynamic' } });
      const [y] = await lowered.run([zeros]);
      expect(y!.toFloat64().every(Number.isFinite)).toBe(true);
      expectWithin(y!, model.forward(zeros), mlpBound(model, zeros, precision === 'fp16' ? U16 : 0));
    }
  });

  it('a NaN input has no scale: a clear error naming the quantize, never a finite wrong answer', async () => {
    const model = mlp({ dModel: 8, dFF: 8, seed: 16 }).eval();
    const x = Tensor.randn([2, 8], { seed: 17 });
    const lowered = await compile(model, [x], { device: 'cpu', quantization: { mode: 'dynamic' } });
    const bad = Tensor.fromNumbers(x.toFloat64().map((v, i) => (i === 3 ? NaN : v)), x.shape);
    let outcome: Tensor | Error;
    try {
      outcome = (await lowered.run([bad]))[0]!;
    } catch (e) {
      outcome = e instanceof Error ? e : new Error(String(e));
    }
    if (outcome instanceof Error) expect(outcome.message).toMatch(/quantize.*scale must be a positive finite float32, got NaN/);
    else expect(outcome.toFloat64().every(Number.isNaN)).toBe(true);
  });

  it('refuses int8 precision, another mode, and custom passes without dynamicQuantize', async () => {
    const model = mlp({ dModel: 8, dFF: 8, seed: 14 }).eval();
    const x = Tensor.randn([2, 8], { seed: 15 });
    await expect(compile(model, [x], { precision: 'int8', device: 'cpu', quantization: { mode: 'dynamic' } }))
      .rejects.toThrow(/quantization mode 'dynamic' keeps the model in a float precision/);
    const other: CompileOptions = { device: 'cpu' };
    Reflect.set(other, 'quantization', { mode: 'static' }); // as a JavaScript caller could
    await expect(compile(model, [x], other)).rejects.toThrow(/quantization.mode must be 'dynamic', got 'static'/);
    await expect(compile(model, [x], { device: 'cpu', quantization: { mode: 'dynamic' }, passes: defaultPasses() }))
      .rejects.toThrow(/needs the dynamicQuantize pass/);
  });
});

describe('builder: Q/DQ in float builds', () => {
  it('accepts a quantize whose scale the network computes, rejects a constant (calibrated) one', async () => {
    const dynamicNet = new NetworkDefinition('dynamic');
    const x = dynamicNet.addInput('x', 'float32', [4]);
    const amax = layer(dynamicNet, 'reduce', [layer(dynamicNet, 'unary', [x], { op: 'abs' }, 'abs')], { op: 'max', axes: [0], keepDims: true }, 'amax');
    const scale = layer(dynamicNet, 'elementwise', [amax, constant(dynamicNet, Tensor.fromArray([127]), 'qmax')], { op: 'div' }, 'scale');
    const q = layer(dynamicNet, 'quantize', [x, scale], { axis: null, toType: 'int8' }, 'q');
    dynamicNet.markOutput(layer(dynamicNet, 'dequantize', [q, scale], { axis: null, toType: 'float32' }, 'dq'), 'y');
    const [y] = await run(await build(dynamicNet, { precision: 'fp32' }), [Tensor.fromArray([1.27, -0.5, 0.013, 0])]);
    const step = Math.fround(Math.fround(1.27) / 127);
    expect(Array.from(y!.toFloat32())).toEqual([127, -50, 1, 0].map((q) => Math.fround(q * step)));

    const staticNet = new NetworkDefinition('static');
    const xs = staticNet.addInput('x', 'float32', [4]);
    const s = constant(staticNet, Tensor.fromArray([0.01]), 's');
    staticNet.markOutput(layer(staticNet, 'dequantize', [layer(staticNet, 'quantize', [xs, s], { axis: null, toType: 'int8' }, 'q'), s], { axis: null, toType: 'float32' }, 'dq'), 'y');
    await expect(build(staticNet, { precision: 'fp16' })).rejects.toThrow(/need precision 'int8' or 'fp8', got 'fp16' \(only dynamic quantization/);
  });
});
