/**
 * The CUDA backend: the native addon's loader, availability, streams, device tensors, the
 * backend's own kernels, cuBLASLt GEMM, memory accounting, and the plan executor registered with
 * the engine runtime as 'cuda' (importing this module registers it when CUDA can run here).
 *
 * @example
 *   import { cudaAvailable, DeviceTensor, cudaGemm } from './backends/cuda/index.js';
 *   if (cudaAvailable().available) {
 *     const y = cudaGemm(DeviceTensor.upload(a), DeviceTensor.upload(b), { relu: true });
 *     console.log((await y.download()).toArray());
 *   }
 */
import './register.js';

export { cudaBackend, CudaEngineRunner, registerCudaBackend } from './backend.js';
export type { CudaExecutionOptions, CudaOpTactic } from './executor.js';
export { CudaNotImplementedError, cudaTactic } from './step_support.js';
export { defaultAddonPath, loadNativeAddon, type AddonFailureCode, type AddonLoadResult } from './addon.js';
export {
  cudaAvailable, cudaBuildInfo, cudaDeviceInfo, loadedAddon, requireCuda, CudaUnavailableError,
  type CudaAvailability, type CudaUnavailableCode,
} from './availability.js';
export { DeviceTensor } from './device_tensor.js';
export { cudaGemm, type CudaGemmOptions } from './gemm.js';
export { cudaAdd, cudaCast, cudaRelu, type CudaOpOptions } from './kernels.js';
export { cudaMemoryInUse } from './memory.js';
export type { CudaBuildInfo, CudaDeviceInfo, CudaMemoryStats, FloatDType } from './native.js';
export { Stream } from './stream.js';
