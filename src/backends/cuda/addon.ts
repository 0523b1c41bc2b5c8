/**
 * Locating and loading the native addon. Loading never throws: a missing, broken or stale build
 * comes back as a reason in plain words, which cudaAvailable() reports.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { NATIVE_ABI_VERSION, NATIVE_FUNCTIONS, type NativeAddon } from './native.js';

/** Why an addon could not be used. */
export type AddonFailureCode = 'not-built' | 'load-failed' | 'stale-build';

/** The outcome of loading an addon file. */
export type AddonLoadResult =
  | { readonly ok: true; readonly addon: NativeAddon; readonly file: string }
  | { readonly ok: false; readonly code: AddonFailureCode; readonly reason: string; readonly file: string };

/**
 * Where the addon is looked for: $FXRT_CUDA_ADDON, else build/Release/fxrt_native.node in the
 * package root (three levels above this file in both src/ and dist/).
 */
export function defaultAddonPath(): string {
  const fromEnv = process.env.FXRT_CUDA_ADDON;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  return fileURLToPath(new URL('../../../build/Release/fxrt_native.node', import.meta.url));
}

function ownValue(o: object, key: string): unknown {
  return Object.getOwnPropertyDescriptor(o, key)?.value;
}

/** Checks that a loaded module exports this package's interface; returns the problem or null. */
function interfaceProblem(mod: unknown): string | null {
  if (typeof mod !== 'object' || mod === null) return 'it does not export an object';
  const abi = ownValue(mod, 'abiVersion');
  if (typeof abi !== 'number') return 'it exports no abiVersion: it is not the fxrt addon';
  if (abi !== NATIVE_ABI_VERSION) {
    return `its native interface is version ${String(abi)}, this package expects ${NATIVE_ABI_VERSION}`;
  }
  const missing = NATIVE_FUNCTIONS.filter((name) => typeof ownValue(mod, name) !== 'function');
  if (missing.length > 0) return `it does not export ${missing.join(', ')}`;
  return null;
}

function isNativeAddon(mod: unknown): mod is NativeAddon {
  return interfaceProblem(mod) === null;
}

/**
 * Loads the addon at `file` (default: defaultAddonPath()).
 * @example
 *   const r = loadNativeAddon();
 *   if (!r.ok) console.log(r.reason); // "the fxrt CUDA addon is not built (...)"
 */
export function loadNativeAddon(file: string = defaultAddonPath()): AddonLoadResult {
  const rebuild = 'run `npm run build:native` on a machine with the CUDA toolkit (nvcc) and CMake';
  if (!existsSync(file)) {
    return { ok: false, code: 'not-built', file, reason: `the fxrt CUDA addon is not built (${file} does not exist): ${rebuild}` };
  }
  let mod: unknown;
  try {
    mod = createRequire(import.meta.url)(file);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    return { ok: false, code: 'load-failed', file, reason: `the fxrt CUDA addon at ${file} failed to load: ${message}` };
  }
  if (!isNativeAddon(mod)) {
    const problem = interfaceProblem(mod) ?? 'its interface does not match';
    return { ok: false, code: 'stale-build', file, reason: `the fxrt CUDA addon at ${file} is stale (${problem}): ${rebuild}` };
  }
  return { ok: true, addon: mod, file };
}
