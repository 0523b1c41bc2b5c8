// Device-side conversions between the storage float types (float, __half, __nv_bfloat16) and the
// float32 they compute in: loads are exact, stores round to nearest even (as the reference's
// Tensor.fromNumbers and castTo do). Shared by the pooling, reduction, quantization and einsum
// kernels.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

namespace fxrt::kernels {

template <typename T> struct IsStorageFloat { static constexpr bool value = false; };
template <> struct IsStorageFloat<float> { static constexpr bool value = true; };
template <> struct IsStorageFloat<__half> { static constexpr bool value = true; };
template <> struct IsStorageFloat<__nv_bfloat16> { static constexpr bool value = true; };

template <typename T> __device__ __forceinline__ float ToF(T v);
template <> __device__ __forceinline__ float ToF(float v) { return v; }
template <> __device__ __forceinline__ float ToF(__half v) { return __half2float(v); }
template <> __device__ __forceinline__ float ToF(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename T> __device__ __forceinline__ T FromF(float v);
template <> __device__ __forceinline__ float FromF(float v) { return v; }
template <> __device__ __forceinline__ __half FromF(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 FromF(float v) { return __float2bfloat16_rn(v); }

// int8 data that only moves through float32 exactly (max pooling of quantized values): a value
// that is not finite (an empty window's -inf) stores as 0, as the reference's integer store.
template <> __device__ __forceinline__ float ToF(int8_t v) { return static_cast<float>(v); }
template <> __device__ __forceinline__ int8_t FromF(float v) { return isfinite(v) ? static_cast<int8_t>(v) : int8_t{0}; }

}  // namespace fxrt::kernels
