/**
 * Reference single-precision GEMM over raw typed arrays (row-major, BLAS semantics),
 * and NumPy/PyTorch `matmul` built on it.
 *
 * Layout of `sgemm` (BLIS-style, tuned for one core of plain JavaScript):
 *   for each NC-wide panel of op(B) columns
 *     for each KC-deep slice of K:   pack op(B)[KC x NC] into NR-wide slivers
 *       for each MC-tall block of op(A) rows: pack op(A)[MC x KC] into MR-tall slivers
 *         for each (MR x NR) tile: 32 float64 accumulators in locals over KC, then store.
 * Packing makes the inner loop read two contiguous streams whatever the transposes are;
 * zero-padded slivers let edge tiles run the same micro-kernel.
 */
import { broadcastShapes, formatShape } from '../../tensor/shape.js';

const MR = 4;
const NR = 8;
const KC = 512;
const MC = 128; // multiple of MR; MC*KC floats (256 KiB) stay in L2
const NC = 2048; // multiple of NR; KC*NC floats (4 MiB) stay in L3

// Scratch buffers shared by every call; grown on demand, never shrunk.
let packedA: Float32Array = new Float32Array(0);
let packedB: Float32Array = new Float32Array(0);
const tile = new Float64Array(MR * NR);

function scratch(buf: Float32Array, size: number): Float32Array {
  return buf.length >= size ? buf : new Float32Array(size);
}

function checkDim(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0) throw new RangeError(`sgemm: ${name} must be a non-negative integer, got ${v}`);
}

function checkOperand(what: string, rows: number, cols: number, arr: Float32Array, off: number, ld: number): void {
  if (!Number.isInteger(off) || off < 0) throw new RangeError(`sgemm: ${what} offset must be a non-negative integer, got ${off}`);
  if (!Number.isInteger(ld) || ld < Math.max(1, cols)) {
    throw new RangeError(`sgemm: leading dimension of ${what} must be >= ${Math.max(1, cols)}, got ${ld}`);
  }
  if (rows > 0 && cols > 0) {
    const last = off + (rows - 1) * ld + cols - 1;
    if (last >= arr.length) {
      throw new RangeError(`sgemm: ${what} needs ${last + 1} elements (${rows}x${cols}, ld=${ld}, offset=${off}), array has ${arr.length}`);
    }
  }
}

/**
 * C = alpha * op(A) * op(B) + beta * C on row-major Float32Arrays, where op(A) is M x K and
 * op(B) is K x N; `transA`/`transB` say the stored matrix is the transpose. beta = 0 overwrites C
 * (old contents, NaN included, are ignored), as in BLAS.
 * @example
 *   // 2x3 times 3x2
 *   const c = new Float32Array(4);
 *   sgemm(false, false, 2, 2, 3, 1, a, 0, 3, b, 0, 2, 0, c, 0, 2);
 */
export function sgemm(
  transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
  A: Float32Array, aOff: number, lda: number,
  B: Float32Array, bOff: number, ldb: number,
  beta: number, C: Float32Array, cOff: number, ldc: number,
): void {
  checkDim('M', M);
  checkDim('N', N);
  checkDim('K', K);
  checkOperand(transA ? 'A (stored K x M)' : 'A (M x K)', transA ? K : M, transA ? M : K, A, aOff, lda);
  checkOperand(transB ? 'B (stored N x K)' : 'B (K x N)', transB ? N : K, transB ? K : N, B, bOff, ldb);
  checkOperand('C (M x N)', M, N, C, cOff, ldc);
  if (M === 0 || N === 0) return;
  if (K === 0 || alpha === 0) {
    scaleC(M, N, beta, C, cOff, ldc);
    return;
  }
  for (let j0 = 0; j0 < N; j0 += NC) {
    const nc = Math.min(NC, N - j0);
    const ncPad = Math.ceil(nc / NR) * NR;
    for (let p0 = 0; p0 < K; p0 += KC) {
      const kc = Math.min(KC, K - p0);
      packedB = scratch(packedB, ncPad * Math.min(KC, K));
      packB(transB, B, bOff, ldb, p0, kc, j0, nc, packedB);
      const b = p0 === 0 ? beta : 1; // later K-slices accumulate onto the first one's result
      for (let i0 = 0; i0 < M; i0 += MC) {
        const mc = Math.min(MC, M - i0);
        packedA = scratch(packedA, Math.ceil(Math.min(M, MC) / MR) * MR * Math.min(KC, K));
        packA(transA, A, aOff, lda, i0, mc, p0, kc, packedA);
        macroKernel(mc, nc, kc, alpha, b, C, cOff + i0 * ldc + j0, ldc);
      }
    }
  }
}

function scaleC(M: number, N: number, beta: number, C: Float32Array, cOff: number, ldc: number): void {
  for (let i = 0; i < M; i++) {
    const row = cOff + i * ldc;
    if (beta === 0) C.fill(0, row, row + N);
    else if (beta !== 1) for (let j = 0; j < N; j++) C[row + j] = beta * C[row + j]!;
  }
}

/** Packs op(A)[i0:i0+mc, p0:p0+kc] as MR-row slivers, each laid out k-major (MR values per k). */
function packA(trans: boolean, A: Float32Array, aOff: number, lda: number, i0: number, mc: number, p0: number, kc: number, dst: Float32Array): void {
  for (let ir = 0; ir < mc; ir += MR) {
    const mr = Math.min(MR, mc - ir);
    const base = ir * kc;
    if (!trans) {
      for (let r = 0; r < MR; r++) {
        let d = base + r;
        if (r >= mr) {
          for (let p = 0; p < kc; p++, d += MR) dst[d] = 0;
          continue;
        }
        const src = aOff + (i0 + ir + r) * lda + p0;
        for (let p = 0; p < kc; p++, d += MR) dst[d] = A[src + p]!;
      }
    } else {
      for (let p = 0; p < kc; p++) {
        const src = aOff + (p0 + p) * lda + i0 + ir;
        const d = base + p * MR;
        for (let r = 0; r < mr; r++) dst[d + r] = A[src + r]!;
        for (let r = mr; r < MR; r++) dst[d + r] = 0;
      }
    }
  }
}

/** Packs op(B)[p0:p0+kc, j0:j0+nc] as NR-column slivers, each laid out k-major (NR values per k). */
function packB(trans: boolean, B: Float32Array, bOff: number, ldb: number, p0: number, kc: number, j0: number, nc: number, dst: Float32Array): void {
  for (let jr = 0; jr < nc; jr += NR) {
    const nr = Math.min(NR, nc - jr);
    const base = jr * kc;
    if (!trans) {
      for (let p = 0; p < kc; p++) {
        const src = bOff + (p0 + p) * ldb + j0 + jr;
        const d = base + p * NR;
        for (let c = 0; c < nr; c++) dst[d + c] = B[src + c]!;
        for (let c = nr; c < NR; c++) dst[d + c] = 0;
      }
    } else {
      for (let c = 0; c < NR; c++) {
        let d = base + c;
        if (c >= nr) {
          for (let p = 0; p < kc; p++, d += NR) dst[d] = 0;
          continue;
        }
        const src = bOff + (j0 + jr + c) * ldb + p0;
        for (let p = 0; p < kc; p++, d += NR) dst[d] = B[src + p]!;
      }
    }
  }
}

function macroKernel(mc: number, nc: number, kc: number, alpha: number, beta: number, C: Float32Array, cBase: number, ldc: number): void {
  const pa = packedA;
  const pb = packedB;
  for (let jr = 0; jr < nc; jr += NR) {
    const nr = Math.min(NR, nc - jr);
    for (let ir = 0; ir < mc; ir += MR) {
      const mr = Math.min(MR, mc - ir);
      microKernel(kc, pa, ir * kc, pb, jr * kc);
      storeTile(mr, nr, alpha, beta, C, cBase + ir * ldc + jr, ldc);
    }
  }
}

/** The 4x8 register block: sums over kc in float64 locals, then writes them to `tile`. */
function microKernel(kc: number, pa: Float32Array, ia: number, pb: Float32Array, ib: number): void {
  let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c04 = 0, c05 = 0, c06 = 0, c07 = 0;
  let c10 = 0, c11 = 0, c12 = 0, c13 = 0, c14 = 0, c15 = 0, c16 = 0, c17 = 0;
  let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c24 = 0, c25 = 0, c26 = 0, c27 = 0;
  let c30 = 0, c31 = 0, c32 = 0, c33 = 0, c34 = 0, c35 = 0, c36 = 0, c37 = 0;
  for (let p = 0; p < kc; p++, ia += MR, ib += NR) {
    const a0 = pa[ia]!, a1 = pa[ia + 1]!, a2 = pa[ia + 2]!, a3 = pa[ia + 3]!;
    const b0 = pb[ib]!, b1 = pb[ib + 1]!, b2 = pb[ib + 2]!, b3 = pb[ib + 3]!;
    const b4 = pb[ib + 4]!, b5 = pb[ib + 5]!, b6 = pb[ib + 6]!, b7 = pb[ib + 7]!;
    c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3; c04 += a0 * b4; c05 += a0 * b5; c06 += a0 * b6; c07 += a0 * b7;
    c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3; c14 += a1 * b4; c15 += a1 * b5; c16 += a1 * b6; c17 += a1 * b7;
    c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3; c24 += a2 * b4; c25 += a2 * b5; c26 += a2 * b6; c27 += a2 * b7;
    c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3; c34 += a3 * b4; c35 += a3 * b5; c36 += a3 * b6; c37 += a3 * b7;
  }
  const t = tile;
  t[0] = c00; t[1] = c01; t[2] = c02; t[3] = c03; t[4] = c04; t[5] = c05; t[6] = c06; t[7] = c07;
  t[8] = c10; t[9] = c11; t[10] = c12; t[11] = c13; t[12] = c14; t[13] = c15; t[14] = c16; t[15] = c17;
  t[16] = c20; t[17] = c21; t[18] = c22; t[19] = c23; t[20] = c24; t[21] = c25; t[22] = c26; t[23] = c27;
  t[24] = c30; t[25] = c31; t[26] = c32; t[27] = c33; t[28] = c34; t[29] = c35; t[30] = c36; t[31] = c37;
}

/** Writes the valid mr x nr corner of `tile` into C as alpha*tile + beta*C. */
function storeTile(mr: number, nr: number, alpha: number, beta: number, C: Float32Array, cBase: number, ldc: number): void {
  const t = tile;
  for (let r = 0; r < mr; r++) {
    const row = cBase + r * ldc;
    const tr = r * NR;
    if (beta === 0) for (let c = 0; c < nr; c++) C[row + c] = alpha * t[tr + c]!;
    else if (beta === 1) for (let c = 0; c < nr; c++) C[row + c] = C[row + c]! + alpha * t[tr + c]!;
    else for (let c = 0; c < nr; c++) C[row + c] = beta * C[row + c]! + alpha * t[tr + c]!;
  }
}

/** A dense row-major float32 array with its shape, as returned by the reference kernels. */
export interface KernelResult {
  data: Float32Array;
  shape: number[];
}

/**
 * `torch.matmul` / `numpy.matmul` on row-major Float32Arrays: 1-D operands are promoted (and the
 * added dim dropped again), leading batch dims broadcast.
 * @example
 *   batchedMatmul(x, [8, 5, 3], w, [3, 4]).shape // [8, 5, 4]
 *   batchedMatmul(v, [3], w, [2, 3, 4]).shape    // [2, 4]
 */
export function batchedMatmul(a: Float32Array, aShape: readonly number[], b: Float32Array, bShape: readonly number[]): KernelResult {
  checkData('first operand', a, aShape);
  checkData('second operand', b, bShape);
  if (aShape.length === 0 || bShape.length === 0) {
    throw new RangeError(`matmul: both operands need at least 1 dim, got ${formatShape(aShape)} and ${formatShape(bShape)}`);
  }
  const aMat = aShape.length === 1 ? [1, aShape[0]!] : aShape.slice();
  const bMat = bShape.length === 1 ? [bShape[0]!, 1] : bShape.slice();
  const M = aMat[aMat.length - 2]!;
  const K = aMat[aMat.length - 1]!;
  const N = bMat[bMat.length - 1]!;
  if (bMat[bMat.length - 2] !== K) {
    throw new RangeError(`matmul: inner dims differ: ${formatShape(aShape)} @ ${formatShape(bShape)} (${K} vs ${bMat[bMat.length - 2]})`);
  }
  const aBatch = aMat.slice(0, -2);
  const bBatch = bMat.slice(0, -2);
  const batch = broadcastShapes(aBatch, bBatch);
  const outShape = [...batch];
  if (aShape.length > 1) outShape.push(M);
  if (bShape.length > 1) outShape.push(N);
  const batchCount = batch.reduce((x, y) => x * y, 1);
  const out = new Float32Array(batchCount * M * N);
  const bBatchCount = bBatch.reduce((x, y) => x * y, 1);
  if (bBatchCount === 1) {
    // B is shared by every batch item: fold A's contiguous batch into M for one big GEMM.
    sgemm(false, false, batchCount * M, N, K, 1, a, 0, K, b, 0, N, 0, out, 0, N);
    return { data: out, shape: outShape };
  }
  const aStrides = batchStrides(aBatch, batch, M * K);
  const bStrides = batchStrides(bBatch, batch, K * N);
  const idx = new Array<number>(batch.length).fill(0);
  for (let t = 0; t < batchCount; t++) {
    let aOff = 0;
    let bOff = 0;
    for (let d = 0; d < batch.length; d++) {
      aOff += idx[d]! * aStrides[d]!;
      bOff += idx[d]! * bStrides[d]!;
    }
    sgemm(false, false, M, N, K, 1, a, aOff, K, b, bOff, N, 0, out, t * M * N, N);
    for (let d = batch.length - 1; d >= 0; d--) {
      if (++idx[d]! < batch[d]!) break;
      idx[d] = 0;
    }
  }
  return { data: out, shape: outShape };
}

function checkData(what: string, data: Float32Array, shape: readonly number[]): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new RangeError(`matmul: ${what} has invalid shape ${formatShape(shape)}`);
  }
  const n = shape.reduce((x, y) => x * y, 1);
  if (data.length !== n) throw new RangeError(`matmul: ${what} of shape ${formatShape(shape)} needs ${n} elements, got ${data.length}`);
}

/** Per-dim element strides of an operand's batch dims within the broadcast batch (0 where broadcast). */
function batchStrides(own: readonly number[], batch: readonly number[], matSize: number): number[] {
  const strides = new Array<number>(batch.length).fill(0);
  let s = matSize;
  for (let i = own.length - 1; i >= 0; i--) {
    const d = batch.length - own.length + i;
    strides[d] = own[i] === 1 ? 0 : s;
    s *= own[i]!;
  }
  return strides;
}
