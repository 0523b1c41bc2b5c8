/**
 * Reference kernels of the int8 steps (plan.ts, StepQuantization): exact int32 convolution,
 * deconvolution and matrix products of int8 operands, pooling and pointwise programs on int8
 * inputs, then the float32 rescale, epilogue and requantization, with the rounding points the
 * plan format specifies (so a GPU kernel can match them bit for bit). Products are accumulated in
 * Int32Arrays (each sum is exact in a double before the store wraps it to int32): no float touches
 * the integer part. Also: max pooling of int8 tensors, which is exact (max commutes with a
 * positive dequantization). FP8 matrix products (float8e4m3 operands) run here too: the e4m3
 * values multiplied in the float32 GEMM, then the same rescale, epilogue and (e4m3) requantization.
 */
import { fmaF32, quantizeValue, roundHalfEven } from '../../kernels/reference/quant.js';
import { expand } from '../../kernels/reference/shape.js';
import { f32ToF8e4m3Bits, f8e4m3BitsToF32 } from '../../tensor/dtype.js';
import { broadcastShapes, formatShape, numelOf } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import type { LayerParamsMap } from '../network.js';
import { fusedRequantizeRange, quantInputCount, type EpilogueOp, type PointwiseProgram, type QuantizedOperand, type StepQuantization } from '../plan.js';
import { ReferenceKernelError, type LayerCall, type LayerKernels, type OutputSpec } from './layer_kernel.js';
import { LINEAR_KERNELS } from './layers_linear.js';
import { REDUCE_KERNELS } from './layers_reduce.js';
import { epilogueProgram, runPointwise } from './pointwise.js';

/** The parts of a step the int8 kernels read (a PlanStep or a builder node with `quant`). */
export type Int8Step =
  | { readonly kind: 'convolution'; readonly name: string; readonly params: LayerParamsMap['convolution']; readonly epilogue: readonly EpilogueOp[] }
  | { readonly kind: 'deconvolution'; readonly name: string; readonly params: LayerParamsMap['deconvolution']; readonly epilogue: readonly EpilogueOp[] }
  | { readonly kind: 'matrix_multiply'; readonly name: string; readonly params: LayerParamsMap['matrix_multiply']; readonly epilogue: readonly EpilogueOp[] }
  | { readonly kind: 'pooling'; readonly name: string; readonly params: LayerParamsMap['pooling']; readonly epilogue: readonly EpilogueOp[] }
  | { readonly kind: 'pointwise'; readonly name: string; readonly program: PointwiseProgram };

/** An int8 (or float8e4m3: `data` holds e4m3 bit patterns) operand with its scales, read from the step's inputs. */
interface Operand {
  readonly q: Tensor;
  readonly data: Int8Array | Uint8Array;
  readonly scales: Float32Array;
  readonly axis: number | null;
}

type Vec3 = [number, number, number];

/**
 * Runs an int8 step: `inputs` are the step's inputs (data, epilogue, then scales as `quant` says).
 * @example
 * // int8 x [1, 4] @ int8 w [3, 4]^T, per-channel weight scales, int8 output:
 * runInt8Step(step, step.quant!, [xq, wq, sx, sw, sy], [{ dtype: 'int8', shape: [1, 3] }]);
 */
export function runInt8Step(step: Int8Step, quant: StepQuantization, inputs: readonly Tensor[], outputs: readonly OutputSpec[]): Tensor[] {
  const fail = (what: string): never => {
    throw new ReferenceKernelError(`step '${step.name}' (int8 ${step.kind}): ${what}`);
  };
  const out = outputs[0]!;
  if ((quant.outputScale === null) === (out.dtype === 'int8' || out.dtype === 'float8e4m3')) {
    fail(`the output is ${out.dtype} but the step ${quant.outputScale === null ? 'has no' : 'has an'} output scale`);
  }
  const nData = inputs.length - quantInputCount(quant);
  const operands = new Map<number, Operand>();
  for (const o of quant.operands) operands.set(o.input, readOperand(inputs, o, nData, fail));
  const so = quant.outputScale === null ? null : scaleValues(inputs[quant.outputScale]!, 1, 'output scale', fail)[0]!;
  let y: Float32Array | Int8Array;
  switch (step.kind) {
    case 'pointwise': y = pointwiseInt8(step, inputs.slice(0, nData), operands); break;
    case 'pooling': y = poolingInt8(step.name, step.params, operands.get(0) ?? fail('input 0 must be an int8 operand'), out.shape); break;
    default: y = anchorInt8(step, quant, inputs.slice(0, nData), operands, out.shape, so, fail);
  }
  if (y.length !== numelOf(out.shape)) fail(`computed ${y.length} elements for output ${formatShape(out.shape)}`);
  if (y instanceof Int8Array) return [Tensor.fromStorage(y, out.shape, 'int8')];
  if (so === null) {
    const r = Tensor.fromStorage(y, out.shape, 'float32');
    return [out.dtype === 'float32' ? r : r.castTo(out.dtype)];
  }
  if (out.dtype === 'float8e4m3') return [Tensor.fromStorage(requantizeFp8(y, Math.fround(1 / so)), out.shape, 'float8e4m3')];
  return [Tensor.fromStorage(requantize(y, Math.fround(1 / so)), out.shape, 'int8')];
}

/** Pooling of float inputs, and max pooling of int8 ones (run on the exact float32 values of q; the step stores int8). */
export const INT8_AWARE_POOLING: LayerKernels<'pooling'> = {
  pooling: (call: LayerCall<'pooling'>) => {
    const x = call.inputs[0];
    if (x?.dtype !== 'int8') return REDUCE_KERNELS.pooling(call);
    if (call.params.type !== 'max') throw new ReferenceKernelError(`step '${call.name}': int8 ${call.params.type} pooling needs quantization parameters (an int8 step)`);
    return REDUCE_KERNELS.pooling({ ...call, inputs: [x.castTo('float32')] });
  },
};

// ---------------------------------------------------------------- operands

function readOperand(inputs: readonly Tensor[], o: QuantizedOperand, nData: number, fail: (what: string) => never): Operand {
  if (o.input >= nData) fail(`operand ${o.input} is not a data input`);
  const q = inputs[o.input]!;
  if (q.dtype !== 'int8' && q.dtype !== 'float8e4m3') fail(`input ${o.input} must be int8 or float8e4m3, got ${q.dtype}${formatShape(q.shape)}`);
  let count = 1;
  if (o.axis !== null) {
    if (!(o.axis >= 0 && o.axis < q.rank)) fail(`input ${o.input} ${formatShape(q.shape)} has no axis ${o.axis}`);
    count = q.shape[o.axis]!;
  }
  const scales = scaleValues(inputs[o.scale]!, count, `scale of input ${o.input}`, fail);
  return { q, data: q.data as Int8Array | Uint8Array, scales, axis: o.axis };
}

/** The float32 scales of a scale input: `count` positive finite values whose reciprocal is finite. */
function scaleValues(t: Tensor, count: number, what: string, fail: (what: string) => never): Float32Array {
  if (t.numel !== count) fail(`${what} must have ${count} element(s), got ${formatShape(t.shape)}`);
  const s = t.toFloat32();
  for (let i = 0; i < s.length; i++) {
    const v = s[i]!;
    if (!(v > 0) || !Number.isFinite(v) || !Number.isFinite(Math.fround(1 / v))) fail(`${what} must be positive finite float32 values, got ${v} at ${i}`);
  }
  return s;
}

/** fround(s * q), per tensor or along the operand's axis. */
function dequantized(o: Operand): Tensor {
  const out = new Float32Array(o.data.length);
  const shape = o.q.shape;
  const axis = o.axis;
  const C = axis === null ? 1 : shape[axis]!;
  const inner = axis === null ? out.length : numelOf(shape.slice(axis + 1));
  const fp8 = o.q.dtype === 'float8e4m3';
  for (let i = 0; i < out.length; i++) out[i] = o.scales[Math.floor(i / inner) % C]! * (fp8 ? f8e4m3BitsToF32(o.data[i]!) : o.data[i]!);
  return Tensor.fromStorage(out, shape, 'float32');
}

/** e4m3(fround(y * inv)), saturating at ±448, NaN to NaN: an FP8 quantize layer's arithmetic. */
function requantizeFp8(y: Float32Array, inv: number): Uint8Array {
  const out = new Uint8Array(y.length);
  for (let i = 0; i < y.length; i++) out[i] = f32ToF8e4m3Bits(Math.fround(y[i]! * inv));
  return out;
}

/** The e4m3 values of an FP8 operand as a float32 tensor (exact: every e4m3 value is a float32). */
function fp8Values(o: Operand): Tensor {
  const v = new Float32Array(o.data.length);
  for (let i = 0; i < v.length; i++) v[i] = f8e4m3BitsToF32(o.data[i]!);
  return Tensor.fromStorage(v, o.q.shape, 'float32');
}

/** clamp(round_half_even(fround(y * inv)), -128, 127), NaN to 127: a quantize layer's arithmetic. */
function requantize(y: Float32Array, inv: number): Int8Array {
  const out = new Int8Array(y.length);
  for (let i = 0; i < y.length; i++) out[i] = quantizeValue(y[i]!, inv, 0, -128, 127);
  return out;
}

// ---------------------------------------------------------------- pointwise and pooling

function pointwiseInt8(step: Extract<Int8Step, { kind: 'pointwise' }>, data: readonly Tensor[], operands: ReadonlyMap<number, Operand>): Float32Array {
  const regs = data.map((t, i) => {
    const o = operands.get(i);
    return o ? dequantized(o) : t;
  });
  return runPointwise(step.name, step.program, regs, 'float32').data as Float32Array;
}

function poolingInt8(name: string, params: LayerParamsMap['pooling'], x: Operand, outShape: readonly number[]): Float32Array {
  if (x.axis !== null) throw new ReferenceKernelError(`step '${name}' (int8 pooling): the input must be quantized per tensor`);
  const values = Tensor.fromStorage(Float32Array.from(x.data), x.q.shape, 'float32');
  const call = { name, inputs: [values], params, outputs: [{ dtype: 'float32' as const, shape: outShape }] };
  const p = REDUCE_KERNELS.pooling(call)[0]!.toFloat32();
  const s = x.scales[0]!;
  const y = new Float32Array(p.length);
  for (let i = 0; i < y.length; i++) y[i] = p[i]! * s;
  return y;
}

// ---------------------------------------------------------------- GEMM-shaped anchors

type AnchorStep = Extract<Int8Step, { kind: 'convolution' | 'deconvolution' | 'matrix_multiply' }>;

/**
 * The anchor's output: float32 y (the rescale and the epilogue; runInt8Step requantizes it), or the
 * int8 output itself in the fused requantize form (plan.ts fusedRequantizeRange; so: the output scale).
 */
function anchorInt8(
  step: AnchorStep,
  quant: StepQuantization,
  data: readonly Tensor[],
  operands: ReadonlyMap<number, Operand>,
  outShape: readonly number[],
  so: number | null,
  fail: (what: string) => never,
): Float32Array | Int8Array {
  const x = operands.get(0) ?? fail('input 0 must be an int8 operand');
  const w = operands.get(1) ?? fail('input 1 must be an int8 operand');
  // The first operand of a matrix product may have one scale per row (per-token dynamic quantization).
  const rowAxis = step.kind === 'matrix_multiply' && !step.params.vector0 ? x.q.rank - (step.params.transpose0 ? 1 : 2) : null;
  if (x.axis !== null && x.axis !== rowAxis) fail(`input 0 must be quantized per tensor${rowAxis === null ? '' : ` or per row (axis ${rowAxis})`}, got axis ${x.axis}`);
  const rows = x.axis === null ? 1 : x.scales.length;
  const fp8 = x.q.dtype === 'float8e4m3' || w.q.dtype === 'float8e4m3';
  if (fp8 && (x.q.dtype !== w.q.dtype || step.kind !== 'matrix_multiply' || x.axis !== null || w.axis !== null)) {
    fail(`FP8 runs matrix products of two per-tensor float8e4m3 operands, got ${x.q.dtype} x ${w.q.dtype} (${step.kind})`);
  }
  let acc: Int32Array | Float32Array;
  let channels: number;
  let inner: number;
  let wAxis: number;
  switch (step.kind) {
    case 'convolution':
      acc = convInt8(x, w, step.params, outShape, fail);
      [channels, inner, wAxis] = [outShape[1]!, numelOf(outShape.slice(2)), 0];
      break;
    case 'deconvolution':
      acc = deconvInt8(x, w, step.params, outShape, fail);
      [channels, inner, wAxis] = [outShape[1]!, numelOf(outShape.slice(2)), 1];
      break;
    case 'matrix_multiply': {
      const r = fp8 ? matmulFp8(step.name, x, w, step.params) : matmulInt8(x, w, step.params, fail);
      if (numelOf(r.shape) !== numelOf(outShape)) fail(`the product ${formatShape(r.shape)} does not fit the output ${formatShape(outShape)}`);
      acc = r.acc;
      [channels, inner, wAxis] = [step.params.vector1 ? 1 : r.n, 1, w.q.rank - (step.params.transpose1 ? 2 : 1)];
      break;
    }
  }
  if (w.axis !== null && (w.axis !== wAxis || w.scales.length !== channels)) {
    fail(`per-channel weight scales must run along the output channels (axis ${wAxis}, ${channels} scales), got axis ${w.axis} with ${w.scales.length}`);
  }
  // m[r, c] = fround(sx[r] * sw[c]); the output is [outer, rows, channels, inner] (rows = 1 unless per row).
  const m = new Float32Array(rows * channels);
  for (let r = 0; r < rows; r++) for (let c = 0; c < channels; c++) m[r * channels + c] = x.scales[r]! * w.scales[w.axis === null ? 0 : c]!;
  const nAnchor = data.length - step.epilogue.filter((op) => op.op !== 'activation').length;
  const bias = step.kind !== 'matrix_multiply' && nAnchor > 2 ? data[2]!.toFloat32() : null;
  if (bias && bias.length !== channels) fail(`bias must have ${channels} elements, got ${formatShape(data[2]!.shape)}`);
  const range = fp8 || so === null ? null : fusedRequantizeRange({ kind: step.kind, epilogue: step.epilogue, quant }, nAnchor);
  if (range !== null) return fusedRequantize(step, acc as Int32Array, m, channels, inner, bias, data, outShape, so!, range);
  const y = new Float32Array(acc.length);
  for (let base = 0; base < y.length; base += m.length * inner) {
    for (let rc = 0; rc < m.length; rc++) {
      const mc = m[rc]!;
      const bc = bias ? bias[rc % channels]! : 0;
      const start = base + rc * inner;
      for (let i = start; i < start + inner; i++) {
        const v = Math.fround(Math.fround(acc[i]!) * mc);
        y[i] = bias ? v + bc : v;
      }
    }
  }
  if (step.epilogue.length === 0) return y;
  const { program, inputs: positions } = epilogueProgram(step.epilogue, 'float32');
  const extra = positions.map((p) => {
    const o = operands.get(p);
    return o ? dequantized(o) : data[p]!;
  });
  return runPointwise(step.name, program, [Tensor.fromStorage(y, outShape, 'float32'), ...extra], 'float32').data as Float32Array;
}

/**
 * The fused requantize form (plan.ts StepQuantization): q = round_half_even(u * R) - o with
 * u = sat(fma(fround(acc), α[c], β)), α[c] = fround(m[c] * k), β = fround(fround(b * k) + c0),
 * k = fround(fround(1 / so) / R), c0 = fround(o / R); b the bias at the element (the anchor's own
 * per-channel bias, or the one bias op broadcast to the output), 0 without one.
 */
function fusedRequantize(
  step: AnchorStep,
  acc: Int32Array,
  m: Float32Array,
  channels: number,
  inner: number,
  ownBias: Float32Array | null,
  data: readonly Tensor[],
  outShape: readonly number[],
  so: number,
  range: 127 | 255,
): Int8Array {
  const offset = range === 255 ? 128 : 0;
  const k = Math.fround(Math.fround(1 / so) / range);
  const c0 = Math.fround(offset / range);
  const alpha = m.map((v) => Math.fround(v * k));
  const biasOp = step.epilogue.find((op) => op.op === 'bias');
  const opBias = biasOp?.op === 'bias' ? expand(data[biasOp.input]!, outShape).toFloat32() : null;
  const q = new Int8Array(acc.length);
  for (let base = 0; base < q.length; base += m.length * inner) {
    for (let rc = 0; rc < m.length; rc++) {
      const a = alpha[rc]!;
      const ownBeta = Math.fround(Math.fround((ownBias ? ownBias[rc % channels]! : 0) * k) + c0);
      const start = base + rc * inner;
      for (let i = start; i < start + inner; i++) {
        const beta = opBias ? Math.fround(Math.fround(opBias[i]! * k) + c0) : ownBeta;
        const f = fmaF32(Math.fround(acc[i]!), a, beta);
        const u = f > 0 ? (f < 1 ? f : 1) : 0; // sat: NaN → 0
        q[i] = roundHalfEven(u * range) - offset;
      }
    }
  }
  return q;
}

/** The float32 GEMM of the e4m3 values of two FP8 operands (sums in float32, as the reference matrix_multiply). */
function matmulFp8(name: string, x: Operand, w: Operand, p: LayerParamsMap['matrix_multiply']): { acc: Float32Array; shape: readonly number[]; n: number } {
  const [a, b] = [fp8Values(x), fp8Values(w)];
  const call = { name, inputs: [a, b], params: p, outputs: [] };
  const r = LINEAR_KERNELS.matrix_multiply(call)[0]!;
  return { acc: r.data as Float32Array, shape: r.shape, n: p.vector1 ? 1 : b.shape[b.rank - (p.transpose1 ? 2 : 1)]! };
}

function to3(v: readonly number[], fill: number): Vec3 {
  const a = [...new Array<number>(3 - v.length).fill(fill), ...v];
  return [a[0]!, a[1]!, a[2]!];
}

/** Checks and reads the geometry shared by int8 convolution and deconvolution. */
function geometry(x: Operand, w: Operand, p: LayerParamsMap['convolution'], outShape: readonly number[], fail: (what: string) => never) {
  const nSp = p.kernelSize.length;
  if (nSp < 1 || nSp > 3 || x.q.rank !== nSp + 2 || w.q.rank !== nSp + 2 || outShape.length !== nSp + 2) {
    fail(`input ${formatShape(x.q.shape)} and kernel ${formatShape(w.q.shape)} do not fit ${nSp} spatial dims`);
  }
  return {
    inSp: to3(x.q.shape.slice(2), 1), outSp: to3(outShape.slice(2), 1), k: to3(w.q.shape.slice(2), 1),
    s: to3(p.stride, 1), d: to3(p.dilation, 1), pad: to3(p.prePadding, 0),
  };
}

/** Σ x·w over C/groups × kernel per output position, exact in int32 (im2col, then rows of the weight). */
function convInt8(x: Operand, w: Operand, p: LayerParamsMap['convolution'], outShape: readonly number[], fail: (what: string) => never): Int32Array {
  const { inSp, outSp, k, s, d, pad } = geometry(x, w, p, outShape, fail);
  const [N, C] = [x.q.shape[0]!, x.q.shape[1]!];
  const [O, Cg] = [w.q.shape[0]!, w.q.shape[1]!];
  const G = p.groups;
  if (Cg * G !== C || O % G !== 0 || outShape[0] !== N || outShape[1] !== O) {
    fail(`input ${formatShape(x.q.shape)}, kernel ${formatShape(w.q.shape)}, groups ${G} and output ${formatShape(outShape)} do not fit`);
  }
  const Og = O / G;
  const kvol = k[0] * k[1] * k[2];
  const L = outSp[0] * outSp[1] * outSp[2];
  const inVol = inSp[0] * inSp[1] * inSp[2];
  const Kdim = Cg * kvol;
  const acc = new Int32Array(N * O * L);
  const col = new Int8Array(Kdim * L);
  for (let n = 0; n < N; n++) {
    for (let g = 0; g < G; g++) {
      const inOff = (n * C + g * Cg) * inVol;
      let row = 0;
      for (let c = 0; c < Cg; c++) {
        for (let kz = 0; kz < k[0]; kz++) {
          for (let ky = 0; ky < k[1]; ky++) {
            for (let kx = 0; kx < k[2]; kx++, row++) {
              let l = row * L;
              for (let oz = 0; oz < outSp[0]; oz++) {
                const iz = oz * s[0] - pad[0] + kz * d[0];
                for (let oy = 0; oy < outSp[1]; oy++) {
                  const iy = oy * s[1] - pad[1] + ky * d[1];
                  const inside = iz >= 0 && iz < inSp[0] && iy >= 0 && iy < inSp[1];
                  const rowOff = inOff + c * inVol + (iz * inSp[1] + iy) * inSp[2];
                  for (let ox = 0; ox < outSp[2]; ox++, l++) {
                    const ix = ox * s[2] - pad[2] + kx * d[2];
                    col[l] = inside && ix >= 0 && ix < inSp[2] ? x.data[rowOff + ix]! : 0;
                  }
                }
              }
            }
          }
        }
      }
      for (let o = 0; o < Og; o++) {
        const out = (n * O + g * Og + o) * L;
        const wRow = (g * Og + o) * Kdim;
        for (let r = 0; r < Kdim; r++) {
          const wv = w.data[wRow + r]!;
          if (wv === 0) continue;
          const cr = r * L;
          for (let l = 0; l < L; l++) acc[out + l] += wv * col[cr + l]!;
        }
      }
    }
  }
  return acc;
}

/** Transposed convolution, weight [C_in, C_out/groups, k...]: each input value scattered through the kernel, exact in int32. */
function deconvInt8(x: Operand, w: Operand, p: LayerParamsMap['deconvolution'], outShape: readonly number[], fail: (what: string) => never): Int32Array {
  const { inSp, outSp, k, s, d, pad } = geometry(x, w, p, outShape, fail);
  const [N, Cin] = [x.q.shape[0]!, x.q.shape[1]!];
  const Cog = w.q.shape[1]!;
  const G = p.groups;
  const Cout = Cog * G;
  if (w.q.shape[0] !== Cin || Cin % G !== 0 || outShape[0] !== N || outShape[1] !== Cout) {
    fail(`input ${formatShape(x.q.shape)}, kernel ${formatShape(w.q.shape)}, groups ${G} and output ${formatShape(outShape)} do not fit`);
  }
  const Cig = Cin / G;
  const kvol = k[0] * k[1] * k[2];
  const inVol = inSp[0] * inSp[1] * inSp[2];
  const L = outSp[0] * outSp[1] * outSp[2];
  const acc = new Int32Array(N * Cout * L);
  for (let n = 0; n < N; n++) {
    for (let ci = 0; ci < Cin; ci++) {
      const g = Math.floor(ci / Cig);
      let at = (n * Cin + ci) * inVol;
      for (let iz = 0; iz < inSp[0]; iz++) {
        for (let iy = 0; iy < inSp[1]; iy++) {
          for (let ix = 0; ix < inSp[2]; ix++, at++) {
            const v = x.data[at]!;
            if (v === 0) continue;
            for (let j = 0; j < Cog; j++) {
              const wBase = (ci * Cog + j) * kvol;
              const outBase = (n * Cout + g * Cog + j) * L;
              for (let kz = 0; kz < k[0]; kz++) {
                const oz = iz * s[0] - pad[0] + kz * d[0];
                if (oz < 0 || oz >= outSp[0]) continue;
                for (let ky = 0; ky < k[1]; ky++) {
                  const oy = iy * s[1] - pad[1] + ky * d[1];
                  if (oy < 0 || oy >= outSp[1]) continue;
                  const outRow = outBase + (oz * outSp[1] + oy) * outSp[2];
                  const wRow = wBase + (kz * k[1] + ky) * k[2];
                  for (let kx = 0; kx < k[2]; kx++) {
                    const ox = ix * s[2] - pad[2] + kx * d[2];
                    if (ox >= 0 && ox < outSp[2]) acc[outRow + ox] += v * w.data[wRow + kx]!;
                  }
                }
              }
            }
          }
        }
      }
    }
  }
  return acc;
}

/** One matrix_multiply operand: a vector [..., K] or a matrix [..., R, C], transposed when flagged. */
interface MatInt8 {
  readonly data: Int8Array | Uint8Array;
  readonly batch: readonly number[];
  readonly rows: number;
  readonly cols: number;
  readonly trans: boolean;
  readonly ld: number;
}

function matInt8(o: Operand, vector: boolean, transpose: boolean, side: 'first' | 'second'): MatInt8 {
  const s = o.q.shape;
  if (vector) {
    const k = s[s.length - 1]!;
    return side === 'first'
      ? { data: o.data, batch: s.slice(0, -1), rows: 1, cols: k, trans: false, ld: k }
      : { data: o.data, batch: s.slice(0, -1), rows: k, cols: 1, trans: false, ld: 1 };
  }
  const [r, c] = [s[s.length - 2]!, s[s.length - 1]!];
  return { data: o.data, batch: s.slice(0, -2), rows: transpose ? c : r, cols: transpose ? r : c, trans: transpose, ld: c };
}

/** Copies op(X) of one batch item into a row-major rows × cols matrix. */
function packInt8(m: MatInt8, off: number, dst: Int8Array): void {
  for (let i = 0; i < m.rows; i++) {
    for (let j = 0; j < m.cols; j++) dst[i * m.cols + j] = m.trans ? m.data[off + j * m.ld + i]! : m.data[off + i * m.ld + j]!;
  }
}

/** Element strides of an operand's batch dims inside the broadcast batch (0 where broadcast). */
function batchStrides(own: readonly number[], batch: readonly number[], matSize: number): number[] {
  const strides = new Array<number>(batch.length).fill(0);
  let s = matSize;
  for (let i = own.length - 1; i >= 0; i--) {
    strides[batch.length - own.length + i] = own[i] === 1 ? 0 : s;
    s *= own[i]!;
  }
  return strides;
}

/** Batched op(A) @ op(B) of int8 operands with broadcast batch dims, exact in int32 (row-major). */
function matmulInt8(x: Operand, w: Operand, p: LayerParamsMap['matrix_multiply'], fail: (what: string) => never): { acc: Int32Array; shape: number[]; n: number } {
  const a = matInt8(x, p.vector0, p.transpose0, 'first');
  const b = matInt8(w, p.vector1, p.transpose1, 'second');
  if (a.cols !== b.rows) fail(`inner dims differ: ${formatShape(x.q.shape)} x ${formatShape(w.q.shape)} (${a.cols} vs ${b.rows})`);
  const [M, N, K] = [a.rows, b.cols, a.cols];
  const batch = broadcastShapes(a.batch, b.batch);
  const count = numelOf(batch);
  const acc = new Int32Array(count * M * N);
  const A = new Int8Array(M * K);
  const B = new Int8Array(K * N);
  const aStrides = batchStrides(a.batch, batch, a.rows * a.cols);
  const bStrides = batchStrides(b.batch, batch, b.rows * b.cols);
  const idx = new Array<number>(batch.length).fill(0);
  for (let t = 0; t < count; t++) {
    let aOff = 0;
    let bOff = 0;
    for (let d = 0; d < batch.length; d++) {
      aOff += idx[d]! * aStrides[d]!;
      bOff += idx[d]! * bStrides[d]!;
    }
    packInt8(a, aOff, A);
    packInt8(b, bOff, B);
    const base = t * M * N;
    for (let i = 0; i < M; i++) {
      const out = base + i * N;
      for (let kk = 0; kk < K; kk++) {
        const av = A[i * K + kk]!;
        if (av === 0) continue;
        const br = kk * N;
        for (let j = 0; j < N; j++) acc[out + j] += av * B[br + j]!;
      }
    }
    for (let d = batch.length - 1; d >= 0; d--) {
      if (++idx[d]! < batch[d]!) break;
      idx[d] = 0;
    }
  }
  return { acc, shape: [...batch, ...(p.vector0 ? [] : [M]), ...(p.vector1 ? [] : [N])], n: N };
}
