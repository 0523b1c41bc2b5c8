/**
 * Whether the CUDA backend can run in this process, and the one place that turns "it cannot"
 * into an error: every CUDA entry point goes through requireCuda().
 */
import { loadNativeAddon, type AddonFailureCode } from './addon.js';
import type { CudaBuildInfo, CudaDeviceInfo, NativeAddon, NativeProbe } from './native.js';

/** Why CUDA is unavailable: the addon's state, or what the CUDA runtime reported. */
export type CudaUnavailableCode = AddonFailureCode | Exclude<NativeProbe['code'], 'ok'>;

/** The answer of cudaAvailable(). */
export type CudaAvailability =
  | { readonly available: true; readonly reason?: undefined; readonly device: string; readonly computeCapability: readonly [number, number] }
  | { readonly available: false; readonly reason: string; readonly code: CudaUnavailableCode };

/** Thrown by CUDA entry points when CUDA cannot run here; `code` says why. */
export class CudaUnavailableError extends Error {
  readonly code: CudaUnavailableCode;
  constructor(op: string, reason: string, code: CudaUnavailableCode) {
    super(`${op}: CUDA is not available: ${reason}`);
    this.name = 'CudaUnavailableError';
    this.code = code;
  }
}

type Available = Extract<CudaAvailability, { available: true }>;
type Unavailable = Extract<CudaAvailability, { available: false }>;
/** What probing found, once per process: the addon when it loaded, and the verdict. */
type ProbeState =
  | { readonly ok: true; readonly addon: NativeAddon; readonly availability: Available }
  | { readonly ok: false; readonly addon: NativeAddon | null; readonly availability: Unavailable };

let cached: ProbeState | undefined;

function unavailable(addon: NativeAddon | null, reason: string, code: CudaUnavailableCode): ProbeState {
  return { ok: false, addon, availability: { available: false, reason, code } };
}

function probe(): ProbeState {
  const loaded = loadNativeAddon();
  if (!loaded.ok) return unavailable(null, loaded.reason, loaded.code);
  const p = loaded.addon.probe();
  if (p.code !== 'ok') return unavailable(loaded.addon, p.message, p.code);
  if (p.deviceName === undefined || p.computeCapability === undefined) {
    return unavailable(loaded.addon, 'the CUDA probe found a device but not its name and compute capability', 'cuda-error');
  }
  return { ok: true, addon: loaded.addon, availability: { available: true, device: p.deviceName, computeCapability: p.computeCapability } };
}

function state(): ProbeState {
  return (cached ??= probe());
}

/**
 * Whether CUDA can run here: the addon is built and loads, a driver and a device are present, and
 * the addon holds code for the device. The reason says what is missing, in plain words. The
 * answer is computed once per process.
 * @example
 *   const cuda = cudaAvailable();
 *   if (!cuda.available) console.log(`reference backend only: ${cuda.reason}`);
 */
export function cudaAvailable(): CudaAvailability {
  return state().availability;
}

/**
 * The addon, ready for device work; throws CudaUnavailableError naming `op` and the reason.
 * @example
 *   const addon = requireCuda('DeviceTensor.upload');
 */
export function requireCuda(op: string): NativeAddon {
  const s = state();
  if (!s.ok) throw new CudaUnavailableError(op, s.availability.reason, s.availability.code);
  return s.addon;
}

/**
 * The addon when it loads (even if no device can be used), else null: for queries that need no
 * device, such as memory accounting.
 * @example
 *   loadedAddon()?.memoryInUse().deviceBytes
 */
export function loadedAddon(): NativeAddon | null {
  return state().addon;
}

/**
 * What the addon was built with (architectures, cuBLASLt, cuDNN), or null when it does not load.
 * @example
 *   cudaBuildInfo()?.cublasLt // true on a machine whose build found cuBLASLt
 */
export function cudaBuildInfo(): CudaBuildInfo | null {
  return loadedAddon()?.buildInfo ?? null;
}

/**
 * Properties of the device in use (initializes it); throws when CUDA is unavailable.
 * @example
 *   cudaDeviceInfo().name // 'NVIDIA H100 80GB HBM3'
 */
export function cudaDeviceInfo(): CudaDeviceInfo {
  return requireCuda('cudaDeviceInfo').deviceInfo();
}
