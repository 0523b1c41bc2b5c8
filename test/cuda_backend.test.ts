/**
 * The CUDA backend on any machine: how the addon is found and reported, and that every entry
 * point fails with cudaAvailable()'s reason when CUDA cannot run. On CI the addon is built (nvcc
 * and cudart are there) but no driver is, so the native argument checks run too.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  cudaAvailable, cudaMemoryInUse, CudaUnavailableError, defaultAddonPath, DeviceTensor, loadNativeAddon, Stream,
} from '../src/backends/cuda/index.js';
import { setCompletionPolling, settleSoon } from '../src/backends/cuda/completion.js';
import { NATIVE_ABI_VERSION } from '../src/backends/cuda/native.js';
import { Tensor } from '../src/tensor/tensor.js';

const dir = mkdtempSync(join(tmpdir(), 'fxrt-addon-'));

describe('loadNativeAddon', () => {
  it('reports a missing file as not built, with the command that builds it', () => {
    const file = join(dir, 'missing.node');
    const r = loadNativeAddon(file);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.code).toBe('not-built');
    expect(r.reason).toBe(
      `the fxrt CUDA addon is not built (${file} does not exist): run \`npm run build:native\` on a machine with the CUDA toolkit (nvcc) and CMake`,
    );
  });

  it('reports a file the loader rejects as failing to load, with the loader message', () => {
    const file = join(dir, 'garbage.node');
    writeFileSync(file, 'not a shared object');
    const r = loadNativeAddon(file);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.code).toBe('load-failed');
    expect(r.reason).toMatch(new RegExp(`^the fxrt CUDA addon at ${file} failed to load: .+`));
  });

  it('reports a module with another interface version as stale', () => {
    const file = join(dir, 'old.cjs');
    writeFileSync(file, 'module.exports = { abiVersion: 0 };');
    const r = loadNativeAddon(file);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.code).toBe('stale-build');
    expect(r.reason).toContain(`is stale (its native interface is version 0, this package expects ${NATIVE_ABI_VERSION})`);
  });

  it('looks in build/Release of the package root unless FXRT_CUDA_ADDON names a file', () => {
    const saved = process.env.FXRT_CUDA_ADDON;
    try {
      delete process.env.FXRT_CUDA_ADDON;
      expect(defaultAddonPath()).toBe(join(process.cwd(), 'build', 'Release', 'fxrt_native.node'));
      process.env.FXRT_CUDA_ADDON = join(dir, 'elsewhere.node');
      expect(defaultAddonPath()).toBe(join(dir, 'elsewhere.node'));
    } finally {
      if (saved === undefined) delete process.env.FXRT_CUDA_ADDON;
      else process.env.FXRT_CUDA_ADDON = saved;
    }
  });
});

describe('cudaAvailable', () => {
  it('gives a reason exactly when CUDA is unavailable, and device work then fails with it', () => {
    const cuda = cudaAvailable();
    if (cuda.available) {
      expect(cuda.reason).toBeUndefined();
      expect(cuda.device.length).toBeGreaterThan(0);
      const d = DeviceTensor.upload(Tensor.fromArray([1, 2]));
      expect(d.shape).toEqual([2]);
      d.dispose();
      return;
    }
    expect(cuda.reason.length).toBeGreaterThan(20);
    expect(() => DeviceTensor.upload(Tensor.fromArray([1, 2]))).toThrow(`DeviceTensor.upload: CUDA is not available: ${cuda.reason}`);
    expect(() => Stream.create()).toThrow(CudaUnavailableError);
    try {
      DeviceTensor.empty([2], 'float16');
      expect.fail('DeviceTensor.empty should have thrown');
    } catch (e) {
      expect(e).toBeInstanceOf(CudaUnavailableError);
      if (e instanceof CudaUnavailableError) expect(e.code).toBe(cuda.code);
    }
  });

  it('says "not built" exactly when the addon file is missing', () => {
    const cuda = cudaAvailable();
    const loaded = loadNativeAddon();
    expect(!cuda.available && cuda.code === 'not-built').toBe(!loaded.ok && loaded.code === 'not-built');
  });

  it('reports no memory held before any device work', () => {
    const cuda = cudaAvailable();
    const stats = cudaMemoryInUse();
    if (!cuda.available) expect(stats.deviceBuffers).toBe(0);
    expect(stats.pendingCompletions).toBe(0);
  });
});

describe('native argument checks (where the addon is built)', () => {
  it('refuses malformed calls before they reach the device', () => {
    const loaded = loadNativeAddon();
    if (!loaded.ok) {
      expect(loaded.code).toBe('not-built');
      return;
    }
    const addon = loaded.addon;
    expect(addon.buildInfo.cudaArchitectures.length).toBeGreaterThan(0);
    expect(() => addon.allocBuffer(-1)).toThrow("fxrt cuda: allocBuffer: argument 'bytes' must be a non-negative integer");
    expect(() => addon.allocBuffer(1.5)).toThrow("fxrt cuda: allocBuffer: argument 'bytes' must be a non-negative integer");
    // @ts-expect-error: an op the addon does not have
    expect(() => addon.binary('mul', 'float32', {}, {}, {}, 1)).toThrow("fxrt cuda: binary: unknown binary op 'mul' (expected add)");
    // @ts-expect-error: a dtype the kernels do not take
    expect(() => addon.unary('relu', 'int32', {}, {}, 1)).toThrow("fxrt cuda: unary: argument 'dtype' must be float32, float16 or bfloat16, got int32");
    // @ts-expect-error: not a buffer
    expect(() => addon.upload({}, new Uint8Array(4))).toThrow("fxrt cuda: upload: argument 'buffer' must be a DeviceBuffer");
  });
});

describe('compile device resolution names why CUDA cannot run', () => {
  it('is available exactly when the addon runs here (it registers the backend), else gives the addon reason', async () => {
    const { cudaBackendAvailability } = await import('../src/lowering/device.js');
    const { cudaAvailable } = await import('../src/backends/cuda/index.js');
    const status = cudaBackendAvailability();
    const addon = cudaAvailable();
    expect(status.available).toBe(addon.available);
    if (!addon.available) expect(status.reason).toBe(addon.reason);
  });
});

describe('completion polling (FXRT_CUDA_POLL_US)', () => {
  it('refuses a window that is not a number of microseconds >= 0, naming the variable', async () => {
    expect(() => setCompletionPolling(-1)).toThrow('setCompletionPolling: expected microseconds >= 0, got -1');
    const saved = process.env.FXRT_CUDA_POLL_US;
    process.env.FXRT_CUDA_POLL_US = 'soon';
    setCompletionPolling(undefined); // read the variable again
    try {
      expect(() => settleSoon(Promise.resolve(1))).toThrow("FXRT_CUDA_POLL_US must be a number of microseconds >= 0, got 'soon'");
      process.env.FXRT_CUDA_POLL_US = '250';
      setCompletionPolling(undefined);
      await expect(settleSoon(Promise.resolve(2))).resolves.toBe(2);
    } finally {
      if (saved === undefined) delete process.env.FXRT_CUDA_POLL_US;
      else process.env.FXRT_CUDA_POLL_US = saved;
      setCompletionPolling(undefined);
    }
  });
});
