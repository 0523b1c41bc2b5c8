/**
 * Float operands and results of the Tensor-level reference kernels (linalg, conv, pool, norm).
 *
 * Kernels compute on float32 views of their inputs (`Tensor.toFloat32()`, zero-copy for float32)
 * and emulate float16/bfloat16 the way the project models GPU half precision: float32 math,
 * one rounding of each output element to the tensor's dtype.
 */
import type { DType } from '../../tensor/dtype.js';
import { formatShape } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';

/** The dtypes these kernels compute on. */
export type FloatDType = 'float32' | 'float16' | 'bfloat16';

/** Shape and dtype of an operand: a Tensor, or a TensorMeta during shape inference. */
export interface TensorInfo {
  readonly shape: readonly number[];
  readonly dtype: DType;
}

/** Shape and dtype of a result, as shape inference reports it (a TensorMeta). */
export interface ResultInfo {
  readonly shape: number[];
  readonly dtype: FloatDType;
}

function isFloatDType(d: DType): d is FloatDType {
  return d === 'float32' || d === 'float16' || d === 'bfloat16';
}

/**
 * The dtype of `t`, which must be floating; the error names the op and argument.
 * @example
 *   floatDType('acc.linear', 'input', x) // 'float32'
 */
export function floatDType(op: string, arg: string, t: TensorInfo): FloatDType {
  if (!isFloatDType(t.dtype)) {
    throw new TypeError(`${op}: argument '${arg}' must be a floating tensor (float32, float16 or bfloat16), got ${t.dtype}`);
  }
  return t.dtype;
}

/**
 * Checks that `t` (argument `arg`) has dtype `expected`, the dtype of argument `ref`.
 * @example
 *   sameDType('acc.conv2d', 'weight', w, 'input', 'float32');
 */
export function sameDType(op: string, arg: string, t: TensorInfo, ref: string, expected: DType): void {
  if (t.dtype !== expected) {
    throw new TypeError(`${op}: argument '${arg}' must have the dtype of '${ref}' (${expected}), got ${t.dtype}`);
  }
}

/**
 * Checks that `t` has exactly `rank` dims; `layout` describes them in the error.
 * @example
 *   expectRank('acc.linear', 'weight', w.shape, 2, '[out_features, in_features]');
 */
export function expectRank(op: string, arg: string, shape: readonly number[], rank: number, layout: string): void {
  if (shape.length !== rank) {
    throw new RangeError(`${op}: argument '${arg}' must be a ${rank}-D tensor ${layout}, got shape ${formatShape(shape)}`);
  }
}

/**
 * Wraps float32 results as a tensor of `dtype`: float32 data is taken as is (no copy), half
 * dtypes round each element to nearest even.
 * @example
 *   floatResult(new Float32Array([1.0001]), [1], 'float16').toArray() // [1]
 */
export function floatResult(data: Float32Array, shape: readonly number[], dtype: FloatDType): Tensor {
  return dtype === 'float32' ? new Tensor(data, shape, 'float32') : Tensor.fromNumbers(data, shape, dtype);
}

