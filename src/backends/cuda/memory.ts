/**
 * Memory accounting of the CUDA backend: what the addon itself holds, so tests and users can
 * check that disposing tensors really returns their memory.
 */
import { loadedAddon } from './availability.js';
import type { CudaMemoryStats } from './native.js';

const NONE: CudaMemoryStats = {
  deviceBytes: 0, deviceBuffers: 0, peakDeviceBytes: 0, workspaceBytes: 0, pinnedBytes: 0, pinnedBlocks: 0, pendingCompletions: 0, polledCompletions: 0,
};

/**
 * The addon's own allocations: live device buffers, library workspaces, pinned staging blocks and
 * pending completions (all zero when the addon is not built).
 * @example
 *   const before = cudaMemoryInUse().deviceBytes;
 *   DeviceTensor.upload(x).dispose();
 *   cudaMemoryInUse().deviceBytes === before; // true
 */
export function cudaMemoryInUse(): CudaMemoryStats {
  return loadedAddon()?.memoryInUse() ?? NONE;
}
