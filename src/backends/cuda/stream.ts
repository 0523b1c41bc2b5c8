/**
 * CUDA streams as JS objects. Work is enqueued on a stream without waiting; `synchronize()`
 * returns a Promise that a completion callback resolves (an event a waiter thread watches → a
 * thread-safe function), so awaiting GPU work never blocks the event loop.
 */
import { requireCuda } from './availability.js';
import { settleSoon } from './completion.js';
import type { NativeStream } from './native.js';

let defaultStream: Stream | undefined;

/**
 * An ordered queue of device work. Work on different streams may run concurrently; DeviceTensors
 * used on several streams are ordered automatically (each use waits for the previous one).
 *
 * @example
 *   const s = Stream.create();
 *   const y = cudaRelu(DeviceTensor.upload(x, s), { stream: s });
 *   await s.synchronize();   // the event loop keeps running meanwhile
 *   s.dispose();
 */
export class Stream {
  readonly #native: NativeStream;
  readonly #isDefault: boolean;

  private constructor(native: NativeStream, isDefault: boolean) {
    this.#native = native;
    this.#isDefault = isDefault;
  }

  /**
   * A new non-blocking stream.
   * @example
   *   const s = Stream.create();
   */
  static create(): Stream {
    return new Stream(requireCuda('Stream.create').createStream(), false);
  }

  /**
   * The stream used when an operation names none (one per process; it cannot be disposed).
   * @example
   *   await Stream.default().synchronize();
   */
  static default(): Stream {
    return (defaultStream ??= new Stream(requireCuda('Stream.default').defaultStream(), true));
  }

  /** A handle on a stream the addon owns elsewhere (an execution context's), for the backend's own modules. */
  static fromNative(native: NativeStream): Stream {
    return new Stream(native, false);
  }

  /** Whether this is the process's default stream. */
  get isDefault(): boolean {
    return this.#isDefault;
  }

  /** Whether dispose() was called. */
  get disposed(): boolean {
    return this.#native.destroyed;
  }

  /**
   * Resolves once all work enqueued on this stream so far has finished; rejects with the CUDA
   * error if that work faulted.
   * @example
   *   await stream.synchronize();
   */
  synchronize(): Promise<void> {
    return settleSoon(this.handle('Stream.synchronize').synchronize());
  }

  /**
   * Whether all work enqueued on this stream so far has finished, without waiting (throws the
   * CUDA error if that work faulted).
   * @example
   *   while (!stream.query()) await new Promise((r) => setImmediate(r));
   */
  query(): boolean {
    return this.handle('Stream.query').query();
  }

  /**
   * Releases the stream. Work already enqueued still runs, and DeviceTensors last used on it
   * stay valid. The default stream cannot be disposed.
   */
  dispose(): void {
    if (this.#isDefault) throw new Error('Stream.dispose: the default stream cannot be disposed');
    if (!this.#native.destroyed) this.#native.destroy();
  }

  /** The native handle, for the backend's own modules; throws naming `op` once disposed. */
  handle(op: string): NativeStream {
    if (this.#native.destroyed) throw new Error(`${op}: the stream was disposed`);
    return this.#native;
  }
}
