/**
 * The CUDA backend (foundation): the native addon's loader, availability, streams, device
 * tensors, the backend's own kernels, cuBLASLt GEMM and memory accounting.
 *
 * @example
 *   import { cudaAvailable, DeviceTensor, cudaGemm } from './backends/cuda/index.js';
 *   if (cudaAvailable().available) {
 *     const y = cudaGemm(DeviceTensor.upload(a), DeviceTensor.upload(b), { relu: true });
 *     console.log((await y.download()).toArray());
 *   }
 */
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
