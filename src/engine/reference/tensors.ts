/**
 * Tensors over raw memory for the reference backend: views of arena bytes and of the constant
 * blob (no copy), and copying a kernel's result into the memory of its value.
 */
import { itemSize, storageFromBytes, type DType } from '../../tensor/dtype.js';
import { formatShape, numelOf } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { wordsOf } from '../../kernels/reference/shape.js';

/**
 * A tensor whose storage is `buffer` bytes [byteOffset, byteOffset + numel * itemSize) (aligned
 * to the dtype's item size, as arena slots and blob constants are).
 */
export function viewTensor(buffer: ArrayBufferLike, byteOffset: number, dtype: DType, shape: readonly number[]): Tensor {
  const n = numelOf(shape);
  return new Tensor(storageFromBytes(dtype, new Uint8Array(buffer, byteOffset, n * itemSize(dtype)), n), shape, dtype);
}

/** Copies `src` into `dst`'s storage, converting to dst's dtype when they differ. */
export function writeInto(dst: Tensor, src: Tensor): void {
  if (src.numel !== dst.numel) {
    throw new RangeError(`cannot store ${src.dtype}${formatShape(src.shape)} into ${dst.dtype}${formatShape(dst.shape)}: element counts differ`);
  }
  const from = src.dtype === dst.dtype ? src : src.castTo(dst.dtype);
  if (from.data === dst.data) return;
  wordsOf(dst.data).data.set(wordsOf(from.data).data);
}
