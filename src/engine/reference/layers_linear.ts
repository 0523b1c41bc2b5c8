/**
 * Reference kernels of the GEMM-shaped layers: convolution, deconvolution, matrix_multiply,
 * einsum and attention, on the raw sgemm/convNd/convTransposeNd kernels and the Tensor-level
 * einsum/attention kernels. Results are float32 accumulators; the step rounds them to the output
 * dtype (or an epilogue consumes them first).
 */
import { convNd, convTransposeNd } from '../../kernels/reference/conv.js';
import { binaryKernel } from '../../kernels/reference/elementwise.js';
import { sgemm } from '../../kernels/reference/gemm.js';
import { einsum as einsumKernel, scaledDotProductAttention } from '../../kernels/reference/linalg.js';
import { pad } from '../../kernels/reference/pad_resize.js';
import { broadcastShapes, formatShape, numelOf, shapesEqual } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { inputAt, ReferenceKernelError, requireFloat, torchPadList, type LayerCall, type LayerKernels } from './layer_kernel.js';

type LinearKinds = 'convolution' | 'deconvolution' | 'matrix_multiply' | 'einsum' | 'attention';

function f32(t: Tensor): Tensor {
  return t.dtype === 'float32' ? t : t.castTo('float32');
}

/** Convolution [N, C, ...] * weight [O, C/groups, k...] (+ bias [O]); uneven padding pads the input explicitly. */
function convolution(call: LayerCall<'convolution'>): Tensor[] {
  const { name, params: p } = call;
  const x = inputAt(call, 0, 'input');
  const w = inputAt(call, 1, 'kernel');
  const b = call.inputs[2] ?? null;
  for (const [what, t] of [['input', x], ['kernel', w]] as const) requireFloat(name, what, t);
  let input = f32(x);
  let padding = p.prePadding;
  if (!shapesEqual(p.prePadding, p.postPadding)) {
    input = pad(input, torchPadList(p.prePadding, p.postPadding), 'constant', 0);
    padding = p.prePadding.map(() => 0);
  }
  const r = convNd(input.toFloat32(), input.shape, w.toFloat32(), w.shape, b ? b.toFloat32() : null, {
    stride: p.stride, padding, dilation: p.dilation, groups: p.groups,
  });
  return [Tensor.fromStorage(r.data, r.shape, 'float32')];
}

/**
 * Transposed convolution, weight [C_in, C_out/groups, k...]: output = (in-1)*stride +
 * dilation*(k-1) + 1 - pre - post. PyTorch's symmetric padding + output_padding form when the
 * paddings allow it, else the full output cropped (or zero-extended) to the paddings.
 */
function deconvolution(call: LayerCall<'deconvolution'>): Tensor[] {
  const { name, params: p } = call;
  const x = inputAt(call, 0, 'input');
  const w = inputAt(call, 1, 'kernel');
  const b = call.inputs[2] ?? null;
  for (const [what, t] of [['input', x], ['kernel', w]] as const) requireFloat(name, what, t);
  const outPad = p.prePadding.map((pre, i) => pre - p.postPadding[i]!);
  const direct = outPad.every((o, i) => o >= 0 && (o < p.stride[i]! || o < p.dilation[i]!));
  const run = (padding: readonly number[], outputPadding: readonly number[], bias: Tensor | null): Tensor => {
    const r = convTransposeNd(f32(x).toFloat32(), x.shape, w.toFloat32(), w.shape, bias ? bias.toFloat32() : null, {
      stride: p.stride, padding, dilation: p.dilation, groups: p.groups, outputPadding,
    });
    return Tensor.fromStorage(r.data, r.shape, 'float32');
  };
  if (direct) return [run(p.prePadding, outPad, b)];
  const zeros = p.prePadding.map(() => 0);
  let y = pad(run(zeros, zeros, null), torchPadList(p.prePadding.map((v) => -v), p.postPadding.map((v) => -v)), 'constant', 0);
  if (b) {
    const C = y.shape[y.rank - p.kernelSize.length - 1]!;
    y = binaryKernel(`step '${name}'`, y, f32(b).withShape([C, ...p.kernelSize.map(() => 1)]), 'add', { compute: 'float32', out: 'float32' });
  }
  return [y];
}

interface MatOperand {
  readonly data: Float32Array;
  readonly batch: readonly number[];
  /** Rows and columns of op(X) (after the transpose flag). */
  readonly rows: number;
  readonly cols: number;
  readonly trans: boolean;
  /** Leading dimension of the stored matrix. */
  readonly ld: number;
}

/** One operand of TensorRT's matrix multiply: a vector [..., K] or a matrix [..., R, C] (transposed when asked). */
function matOperand(t: Tensor, vector: boolean, transpose: boolean, side: 'first' | 'second'): MatOperand {
  const s = t.shape;
  const data = f32(t).toFloat32();
  if (vector) {
    const k = s[s.length - 1]!;
    return side === 'first'
      ? { data, batch: s.slice(0, -1), rows: 1, cols: k, trans: false, ld: k }
      : { data, batch: s.slice(0, -1), rows: k, cols: 1, trans: false, ld: 1 };
  }
  const [r, c] = [s[s.length - 2]!, s[s.length - 1]!];
  return { data, batch: s.slice(0, -2), rows: transpose ? c : r, cols: transpose ? r : c, trans: transpose, ld: c };
}

/** Batched op(A) @ op(B) with broadcast batch dims; vector operands drop their matrix dim from the output. */
function matrixMultiply(call: LayerCall<'matrix_multiply'>): Tensor[] {
  const { name, params: p } = call;
  const x0 = inputAt(call, 0, 'first operand');
  const x1 = inputAt(call, 1, 'second operand');
  requireFloat(name, 'first operand', x0);
  requireFloat(name, 'second operand', x1);
  const a = matOperand(x0, p.vector0, p.transpose0, 'first');
  const b = matOperand(x1, p.vector1, p.transpose1, 'second');
  if (a.cols !== b.rows) {
    throw new ReferenceKernelError(`step '${name}': inner dims differ: ${formatShape(x0.shape)} x ${formatShape(x1.shape)} (${a.cols} vs ${b.rows})`);
  }
  const [M, N, K] = [a.rows, b.cols, a.cols];
  const batch = broadcastShapes(a.batch, b.batch);
  const count = numelOf(batch);
  const out = new Float32Array(count * M * N);
  const shape = [...batch, ...(p.vector0 ? [] : [M]), ...(p.vector1 ? [] : [N])];
  if (numelOf(b.batch) === 1 && !a.trans) {
    // B is shared by every batch item and A's rows are contiguous: one GEMM over all rows.
    // With B's batch all ones, A's batch is the broadcast batch: count * M rows.
    sgemm(false, b.trans, count * M, N, K, 1, a.data, 0, a.ld, b.data, 0, b.ld, 0, out, 0, N);
    return [Tensor.fromStorage(out, shape, 'float32')];
  }
  const aStrides = batchStrides(a.batch, batch, M * K);
  const bStrides = batchStrides(b.batch, batch, K * N);
  const idx = new Array<number>(batch.length).fill(0);
  for (let t = 0; t < count; t++) {
    let aOff = 0;
    let bOff = 0;
    for (let d = 0; d < batch.length; d++) {
      aOff += idx[d]! * aStrides[d]!;
      bOff += idx[d]! * bStrides[d]!;
    }
    sgemm(a.trans, b.trans, M, N, K, 1, a.data, aOff, a.ld, b.data, bOff, b.ld, 0, out, t * M * N, N);
    for (let d = batch.length - 1; d >= 0; d--) {
      if (++idx[d]! < batch[d]!) break;
      idx[d] = 0;
    }
  }
  return [Tensor.fromStorage(out, shape, 'float32')];
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

function einsum(call: LayerCall<'einsum'>): Tensor[] {
  call.inputs.forEach((t, i) => requireFloat(call.name, `operand ${i}`, t));
  return [einsumKernel(call.params.equation, call.inputs)];
}

/** softmax(q k^T * scale (+ mask)) v, causal when asked (inputs q, k, v[, mask]). */
function attention(call: LayerCall<'attention'>): Tensor[] {
  const [q, k, v] = [inputAt(call, 0, 'query'), inputAt(call, 1, 'key'), inputAt(call, 2, 'value')];
  const mask = call.inputs[3] ?? null;
  const { scale, causal } = call.params;
  return [scaledDotProductAttention(q, k, v, { attnMask: mask, dropoutP: 0, isCausal: causal, scale })];
}

/** Reference kernels of the GEMM-shaped layers. */
export const LINEAR_KERNELS: LayerKernels<LinearKinds> = {
  convolution, deconvolution, matrix_multiply: matrixMultiply, einsum, attention,
};
