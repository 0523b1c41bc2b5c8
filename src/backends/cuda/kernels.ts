/**
 * The backend's own elementwise CUDA kernels on DeviceTensors (native/src/kernels): add, relu and
 * casts between float32, float16 and bfloat16. Values compute in float32 and round once to the
 * output dtype, as the reference kernels do. Results are new DeviceTensors allocated on the
 * stream the work runs on.
 */
import { formatShape, shapesEqual } from '../../tensor/shape.js';
import { requireCuda } from './availability.js';
import { DeviceTensor } from './device_tensor.js';
import { isFloatDType, type FloatDType } from './native.js';
import type { Stream } from './stream.js';

/** Options common to the CUDA kernels. */
export interface CudaOpOptions {
  /** Where the work is enqueued (default: the default stream). */
  readonly stream?: Stream;
}

/** The float dtype of argument `arg` of `op`, or a TypeError saying what was expected. */
export function floatDTypeOf(op: string, arg: string, t: DeviceTensor): FloatDType {
  if (!isFloatDType(t.dtype)) throw new TypeError(`${op}: argument '${arg}' must be float32, float16 or bfloat16, got ${t.dtype}`);
  return t.dtype;
}

/** Runs `enqueue` to fill the freshly allocated `out`; frees `out` if enqueueing throws. */
export function enqueueInto(out: DeviceTensor, enqueue: () => void): DeviceTensor {
  try {
    enqueue();
    return out;
  } catch (e) {
    out.dispose();
    throw e;
  }
}

/**
 * input + other, elementwise, for two tensors of the same shape and float dtype.
 * @example
 *   const z = cudaAdd(x, y, { stream });
 */
export function cudaAdd(input: DeviceTensor, other: DeviceTensor, opts: CudaOpOptions = {}): DeviceTensor {
  const op = 'cudaAdd';
  const dtype = floatDTypeOf(op, 'input', input);
  if (other.dtype !== dtype) throw new TypeError(`${op}: argument 'other' must be ${dtype} like 'input', got ${other.dtype}`);
  if (!shapesEqual(input.shape, other.shape)) {
    throw new RangeError(`${op}: argument 'other' has shape ${formatShape(other.shape)}, expected ${formatShape(input.shape)} (the shape of 'input')`);
  }
  const addon = requireCuda(op);
  const out = DeviceTensor.empty(input.shape, dtype, opts.stream);
  return enqueueInto(out, () => {
    addon.binary('add', dtype, input.handle(op), other.handle(op), out.handle(op), input.numel, opts.stream?.handle(op));
  });
}

/**
 * max(input, 0) elementwise (NaN stays NaN).
 * @example
 *   const y = cudaRelu(x);
 */
export function cudaRelu(input: DeviceTensor, opts: CudaOpOptions = {}): DeviceTensor {
  const op = 'cudaRelu';
  const dtype = floatDTypeOf(op, 'input', input);
  const addon = requireCuda(op);
  const out = DeviceTensor.empty(input.shape, dtype, opts.stream);
  return enqueueInto(out, () => {
    addon.unary('relu', dtype, input.handle(op), out.handle(op), input.numel, opts.stream?.handle(op));
  });
}

/**
 * Converts between float32, float16 and bfloat16, rounding to nearest even (overflow → ±inf).
 * @example
 *   const h = cudaCast(x, 'float16');
 */
export function cudaCast(input: DeviceTensor, dtype: FloatDType, opts: CudaOpOptions = {}): DeviceTensor {
  const op = 'cudaCast';
  const src = floatDTypeOf(op, 'input', input);
  if (!isFloatDType(dtype)) throw new TypeError(`${op}: argument 'dtype' must be float32, float16 or bfloat16, got ${String(dtype)}`);
  const addon = requireCuda(op);
  const out = DeviceTensor.empty(input.shape, dtype, opts.stream);
  return enqueueInto(out, () => {
    addon.cast(src, dtype, input.handle(op), out.handle(op), input.numel, opts.stream?.handle(op));
  });
}
