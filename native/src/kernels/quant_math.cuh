// The scale arithmetic of the int8 steps of the Q/DQ fusion (src/engine/plan.ts, StepQuantization),
// shared by the kernels that dequantize on load and requantize on store (pooling, pointwise):
//   deq(q)       = fround(s * q)
//   requantize y = clamp(round_half_even(fround(y * inv)), -128, 127), NaN → 127, inv = fround(1 / so)
// Every operation is one correctly rounded float32 operation (__fmul_rn: never contracted into an
// FMA), so results are bit-identical to the reference (src/engine/reference/layers_int8.ts).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "dtype.h"

namespace fxrt::kernels {

// Element i of a scale tensor (float32, float16 or bfloat16), exactly as float32.
__device__ __forceinline__ float LoadScale(const void* p, int64_t i, DType t) {
  switch (t) {
    case DType::Float16: return __half2float(static_cast<const __half*>(p)[i]);
    case DType::BFloat16: return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
    default: return static_cast<const float*>(p)[i];
  }
}

// fround(1 / so): the reciprocal a requantize multiplies by.
__device__ __forceinline__ float RequantizeFactor(float outScale) { return __frcp_rn(outScale); }

// fround(s * q).
__device__ __forceinline__ float DequantizeInt8(int8_t q, float scale) { return __fmul_rn(scale, static_cast<float>(q)); }

// A quantize layer's arithmetic with zero point 0 (kernels/quant.cu Quantize): +inf and NaN
// saturate to 127, -inf to -128.
__device__ __forceinline__ int8_t Requantize(float y, float inv) {
  const float r = rintf(__fmul_rn(y, inv));
  if (!(r < 127.f)) return 127;
  if (r <= -128.f) return -128;
  return static_cast<int8_t>(r);
}

}  // namespace fxrt::kernels
