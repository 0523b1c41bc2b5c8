/**
 * Polled completion of the addon's promises (runs, synchronize, downloads). The addon settles them
 * from its waiter thread, which wakes the JS thread through a thread-safe function; that wake-up
 * costs about 13 µs per call on the H100 machine (scripts/profile_call_overhead.ts), a large part
 * of a short run. So after each enqueue the JS thread also polls the addon for a while
 * (`pollCompletions()`, from setImmediate: the event loop keeps turning, timers and I/O run between
 * polls) and settles a promise as soon as its stream is done; whichever of the poll and the waiter
 * thread sees the stream done first settles it. Polling lasts at most FXRT_CUDA_POLL_US
 * microseconds after the latest enqueue (default 1000, the main thread busy meanwhile, as a
 * spinning cudaStreamSynchronize would keep it); longer runs are settled by the waiter thread
 * alone. FXRT_CUDA_POLL_US=0 turns polling off.
 */
import { loadedAddon } from './availability.js';

const DEFAULT_POLL_US = 1000;

let windowMs: number | null = null;
let deadline = 0;
let next: NodeJS.Immediate | null = null;  // the pending poll, while polling

/** The polling window in ms: FXRT_CUDA_POLL_US (read once), else the default; 0 is off. */
function pollWindowMs(): number {
  if (windowMs === null) {
    const raw = process.env.FXRT_CUDA_POLL_US;
    const us = raw === undefined || raw === '' ? DEFAULT_POLL_US : Number(raw);
    if (!Number.isFinite(us) || us < 0) throw new RangeError(`FXRT_CUDA_POLL_US must be a number of microseconds >= 0, got '${raw}'`);
    windowMs = us / 1000;
  }
  return windowMs;
}

/**
 * Sets the polling window (µs; 0 turns polling off); undefined: FXRT_CUDA_POLL_US again. Polling
 * under way stops at once (what it was waiting for is settled by the waiter thread); the window
 * applies from the next enqueue. For tests and benchmarks.
 */
export function setCompletionPolling(us: number | undefined): void {
  if (us !== undefined && !(Number.isFinite(us) && us >= 0)) throw new RangeError(`setCompletionPolling: expected microseconds >= 0, got ${us}`);
  windowMs = us === undefined ? null : us / 1000;
  if (next !== null) {
    clearImmediate(next);
    next = null;
  }
  deadline = 0;
}

function poll(): void {
  const addon = loadedAddon();
  const left = addon === null ? 0 : addon.pollCompletions();
  next = left > 0 && performance.now() < deadline ? setImmediate(poll) : null;
}

/** `promise` (an addon completion just enqueued), with the JS thread polling for it for a while. */
export function settleSoon<T>(promise: Promise<T>): Promise<T> {
  const w = pollWindowMs();
  if (w > 0) {
    deadline = Math.max(deadline, performance.now() + w);
    next ??= setImmediate(poll);
  }
  return promise;
}
