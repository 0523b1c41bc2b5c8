/**
 * DeviceTensor: a tensor in GPU memory (device buffer + dtype + shape). Uploads and downloads go
 * through pinned staging blocks; memory is released by dispose(), and a FinalizationRegistry
 * frees what was never disposed once the tensor is garbage collected.
 */
import { itemSize, storageFromBytes, type DType } from '../../tensor/dtype.js';
import { formatShape, numelOf, type Shape } from '../../tensor/shape.js';
import { Tensor, type QuantParams } from '../../tensor/tensor.js';
import { requireCuda } from './availability.js';
import { settleSoon } from './completion.js';
import type { NativeBuffer } from './native.js';
import type { Stream } from './stream.js';

// Safety net: frees the buffer of a DeviceTensor collected without dispose() (the native handle
// also frees itself when collected; this releases the memory as soon as the tensor goes).
const leaked = new FinalizationRegistry<NativeBuffer>((buffer) => {
  if (!buffer.freed) buffer.free();
});

/**
 * Takes over the memory of a tensor being disposed (an execution context keeping its outputs'
 * memory for the next run): true when it took the buffer (with `buffer.take()`), false to let
 * dispose free it.
 */
export type DeviceRecycler = (buffer: NativeBuffer) => boolean;

function checkShape(op: string, shape: Shape): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new RangeError(`${op}: invalid shape ${formatShape(shape)}`);
  }
}

/**
 * A dense, contiguous, row-major tensor in device memory.
 *
 * @example
 *   const d = DeviceTensor.upload(Tensor.randn([2, 3]));
 *   const y = cudaRelu(d);
 *   const host = await y.download();   // a Tensor again
 *   d.dispose(); y.dispose();
 */
export class DeviceTensor {
  readonly dtype: DType;
  readonly #shape: readonly number[];
  readonly #buffer: NativeBuffer;
  /** Quantization parameters carried over from the uploaded tensor (host-side metadata). */
  readonly qparams: QuantParams | undefined;
  readonly #recycle: DeviceRecycler | undefined;

  private constructor(buffer: NativeBuffer, shape: Shape, dtype: DType, qparams: QuantParams | undefined, recycle?: DeviceRecycler) {
    this.#buffer = buffer;
    this.#shape = [...shape];
    this.dtype = dtype;
    this.qparams = qparams;
    this.#recycle = recycle;
    leaked.register(this, buffer, this);
  }

  /**
   * A tensor over a native buffer of at least its bytes, whose dispose() first offers the memory
   * to `recycle`. For the backend's own modules (an execution context's outputs).
   * @internal
   */
  static fromBuffer(buffer: NativeBuffer, shape: Shape, dtype: DType, recycle?: DeviceRecycler): DeviceTensor {
    const op = 'DeviceTensor.fromBuffer';
    checkShape(op, shape);
    const bytes = numelOf(shape) * itemSize(dtype);
    if (buffer.freed || buffer.byteLength < bytes) throw new RangeError(`${op}: the buffer holds ${buffer.freed ? 'nothing (freed)' : `${buffer.byteLength} bytes`}, ${formatShape(shape)} ${dtype} needs ${bytes}`);
    return new DeviceTensor(buffer, shape, dtype, undefined, recycle);
  }

  /**
   * Uninitialized device memory for a tensor of `shape` and `dtype`, allocated in order on
   * `stream` (default: the default stream).
   * @example
   *   const out = DeviceTensor.empty([128, 64], 'float16');
   */
  static empty(shape: Shape, dtype: DType = 'float32', stream?: Stream): DeviceTensor {
    const op = 'DeviceTensor.empty';
    checkShape(op, shape);
    const addon = requireCuda(op);
    const buffer = addon.allocBuffer(numelOf(shape) * itemSize(dtype), stream?.handle(op));
    return new DeviceTensor(buffer, shape, dtype, undefined);
  }

  /**
   * Copies a host tensor to the device, enqueued on `stream`. Returns at once; `tensor` may be
   * modified right after (its bytes were staged).
   * @example
   *   const d = DeviceTensor.upload(Tensor.fromArray([1, 2, 3]));
   */
  static upload(tensor: Tensor, stream?: Stream): DeviceTensor {
    const op = 'DeviceTensor.upload';
    const addon = requireCuda(op);
    const s = stream?.handle(op);
    const buffer = addon.allocBuffer(tensor.numel * itemSize(tensor.dtype), s);
    try {
      addon.upload(buffer, tensor.bytes(), s);
    } catch (e) {
      buffer.free();
      throw e;
    }
    return new DeviceTensor(buffer, tensor.shape, tensor.dtype, tensor.qparams);
  }

  /** The shape as a fresh array. */
  get shape(): number[] {
    return [...this.#shape];
  }
  get rank(): number {
    return this.#shape.length;
  }
  get numel(): number {
    return numelOf(this.#shape);
  }
  get byteLength(): number {
    return this.numel * itemSize(this.dtype);
  }
  /** Whether dispose() was called. */
  get disposed(): boolean {
    return this.#buffer.freed;
  }

  /**
   * Copies the tensor back to the host once all work that wrote it has run (on `stream`, by
   * default the stream that used it last). Never blocks the event loop.
   * @example
   *   const t = await d.download();
   */
  async download(stream?: Stream): Promise<Tensor> {
    const op = 'DeviceTensor.download';
    const addon = requireCuda(op);
    const bytes = await settleSoon(addon.download(this.handle(op), stream?.handle(op)));
    return new Tensor(storageFromBytes(this.dtype, new Uint8Array(bytes), this.numel), this.#shape, this.dtype, this.qparams);
  }

  /**
   * Frees the device memory after the work already enqueued on it (idempotent). Using the tensor
   * afterwards throws. An output of CudaEngineRunner.run hands its memory back to the runner
   * instead, for the runner's next output (freed with the runner).
   */
  dispose(): void {
    leaked.unregister(this);
    if (this.#buffer.freed) return;
    if (this.#recycle?.(this.#buffer)) return;  // taken over: the buffer reads as freed now
    this.#buffer.free();
  }

  /** The native buffer, for the backend's own modules; throws naming `op` once disposed. */
  handle(op: string): NativeBuffer {
    if (this.#buffer.freed) throw new Error(`${op}: the DeviceTensor ${formatShape(this.#shape)} ${this.dtype} was disposed`);
    return this.#buffer;
  }

  /** A short description, e.g. `DeviceTensor([2, 3], float16)`. */
  toString(): string {
    return `DeviceTensor(${formatShape(this.#shape)}, ${this.dtype}${this.disposed ? ', disposed' : ''})`;
  }
}
