/**
 * Which backend a compile runs its engines on. The reference backend (TypeScript kernels on the
 * CPU) is always present; the CUDA backend needs the native addon of `native/`, a driver and a
 * GPU, and registers itself when they are there. Asking for 'cuda' without it fails, saying why.
 */
import { cudaAvailable } from '../backends/cuda/index.js';
import { getBackend } from '../engine/engine.js';
import type { BackendName } from '../engine/plan.js';

/** What the user asks for: the reference CPU backend, the CUDA backend, or whatever is best here. */
export type Device = 'cpu' | 'cuda' | 'auto';

/** Whether the CUDA backend can run here, and why not when it cannot. */
export interface BackendAvailability {
  readonly available: boolean;
  readonly reason?: string;
}

/** The backend a compile uses, with a sentence saying what runs where. */
export interface ResolvedDevice {
  readonly requested: Device;
  readonly backend: BackendName;
  readonly description: string;
}

/** Raised when the requested device cannot be used. */
export class DeviceError extends Error {
  override name = 'DeviceError';
}

/**
 * Whether the CUDA backend is registered with the engine runtime (its native addon registers it
 * when it loads; see registerBackend).
 *
 * @example
 * cudaBackendAvailability(); // { available: false, reason: 'the CUDA backend (native addon) is not built or not loaded' }
 */
export function cudaBackendAvailability(): BackendAvailability {
  try {
    getBackend('cuda');
    return { available: true };
  } catch {
    const addon = cudaAvailable();
    if (!addon.available) return { available: false, reason: addon.reason };
    return { available: false, reason: `the CUDA addon found ${addon.device}, but the 'cuda' engine backend is not registered in this process (import 'fxrt' or src/backends/cuda to register it)` };
  }
}

/** Human-readable name of the reference backend, used wherever a result says what ran it. */
export const REFERENCE_BACKEND_DESCRIPTION = 'reference TypeScript backend on the CPU (no GPU backend present)';

/**
 * Maps a requested device to a backend; 'cuda' fails clearly when the CUDA backend is absent and
 * 'auto' falls back to the reference backend, saying so in `description`.
 *
 * @example
 * resolveDevice('auto').description; // 'reference TypeScript backend on the CPU (...)'
 * resolveDevice('cuda');             // throws DeviceError: CUDA backend not available
 */
export function resolveDevice(requested: Device, cuda: () => BackendAvailability = cudaBackendAvailability): ResolvedDevice {
  if (requested !== 'cpu' && requested !== 'cuda' && requested !== 'auto') {
    throw new DeviceError(`device must be 'cpu', 'cuda' or 'auto', got '${String(requested)}'`);
  }
  if (requested === 'cpu') return { requested, backend: 'reference', description: 'reference TypeScript backend on the CPU' };
  const status = cuda();
  if (status.available) return { requested, backend: 'cuda', description: 'CUDA backend (native addon) on the GPU' };
  if (requested === 'cuda') {
    throw new DeviceError(`device 'cuda' was requested, but the CUDA backend is not available: ${status.reason ?? 'not built'}. ` +
      `Use device: 'cpu' (or 'auto') to run on the reference TypeScript backend.`);
  }
  return { requested, backend: 'reference', description: `${REFERENCE_BACKEND_DESCRIPTION}; device 'auto' fell back to it because ${status.reason ?? 'no CUDA backend is available'}` };
}
