/**
 * GEMM on DeviceTensors through cuBLASLt (when the addon was built with it), with the bias and
 * ReLU epilogues fused into the same kernel, as the builder's matmul+bias+activation steps need.
 */
import { formatShape } from '../../tensor/shape.js';
import { cudaBuildInfo, requireCuda } from './availability.js';
import { DeviceTensor } from './device_tensor.js';
import { enqueueInto, floatDTypeOf, type CudaOpOptions } from './kernels.js';

/** Options of cudaGemm. */
export interface CudaGemmOptions extends CudaOpOptions {
  /** A [N] vector added to every row of the result (same dtype), fused as an epilogue. */
  readonly bias?: DeviceTensor | null;
  /** Apply max(x, 0) after the bias, fused as an epilogue. */
  readonly relu?: boolean;
  /** `a` is stored as [K, M] and used transposed. */
  readonly transA?: boolean;
  /** `b` is stored as [N, K] and used transposed (a Linear layer's weight). */
  readonly transB?: boolean;
  /** float32 only: let the tensor cores use TF32 (about 1e-3 relative error, much faster). */
  readonly allowTf32?: boolean;
}

function matrixDims(op: string, arg: string, t: DeviceTensor, transposed: boolean): [number, number] {
  if (t.rank !== 2) throw new RangeError(`${op}: argument '${arg}' must be a matrix (rank 2), got shape ${formatShape(t.shape)}`);
  const [r, c] = t.shape as [number, number];
  return transposed ? [c, r] : [r, c];
}

/**
 * Row-major GEMM: op(a)[M,K] · op(b)[K,N] (+ bias[N]) (then ReLU), accumulated in float32 and
 * rounded once to the dtype (float32, float16 or bfloat16).
 * @example
 *   // a Linear layer with ReLU: x [B, in], weight [out, in], bias [out]
 *   const y = cudaGemm(x, weight, { transB: true, bias, relu: true });
 */
export function cudaGemm(a: DeviceTensor, b: DeviceTensor, opts: CudaGemmOptions = {}): DeviceTensor {
  const op = 'cudaGemm';
  const dtype = floatDTypeOf(op, 'a', a);
  if (b.dtype !== dtype) throw new TypeError(`${op}: argument 'b' must be ${dtype} like 'a', got ${b.dtype}`);
  const transA = opts.transA ?? false;
  const transB = opts.transB ?? false;
  const [m, k] = matrixDims(op, 'a', a, transA);
  const [kb, n] = matrixDims(op, 'b', b, transB);
  if (kb !== k) {
    throw new RangeError(`${op}: op(a) is ${m}x${k} and op(b) is ${kb}x${n}: inner dimensions ${k} and ${kb} must match`);
  }
  if (k === 0) throw new RangeError(`${op}: the inner dimension K must be positive, got 0`);
  const bias = opts.bias ?? null;
  if (bias !== null) {
    if (bias.dtype !== dtype) throw new TypeError(`${op}: option 'bias' must be ${dtype} like 'a', got ${bias.dtype}`);
    if (bias.rank !== 1 || bias.shape[0] !== n) throw new RangeError(`${op}: option 'bias' must have shape [${n}], got ${formatShape(bias.shape)}`);
  }
  const addon = requireCuda(op);
  if (cudaBuildInfo()?.cublasLt !== true) {
    throw new Error(`${op}: this build of the CUDA addon has no cuBLASLt (cublasLt.h or libcublasLt was not found when it was built)`);
  }
  const out = DeviceTensor.empty([m, n], dtype, opts.stream);
  return enqueueInto(out, () => {
    addon.gemm({
      dtype, m, n, k, transA, transB,
      a: a.handle(op), b: b.handle(op), out: out.handle(op), bias: bias?.handle(op) ?? null,
      relu: opts.relu ?? false, allowTf32: opts.allowTf32 ?? false,
      stream: opts.stream?.handle(op),
    });
  });
}
