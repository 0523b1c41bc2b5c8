#include "kernels/quant.h"

#include <climits>
#include <limits>

#include "kernels/float_convert.cuh"

namespace fxrt::kernels {

namespace {

__device__ __forceinline__ float LoadScale(const void* p, long long i, DType t) {
  switch (t) {
    case DType::Float16: return __half2float(static_cast<const __half*>(p)[i]);
    case DType::BFloat16: return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
    default: return static_cast<const float*>(p)[i];
  }
}

__device__ __forceinline__ long long LoadZeroPoint(const void* p, long long i, DType t) {
  if (p == nullptr) return 0;
  switch (t) {
    case DType::Int8: return static_cast<const int8_t*>(p)[i];
    case DType::UInt8: return static_cast<const uint8_t*>(p)[i];
    default: return static_cast<const int32_t*>(p)[i];
  }
}

// zeroPoint + round_half_even(x * inv), each step rounded to float32 as the reference's
// Math.fround, saturated to Q's range (NaN and +inf to its max).
template <typename Q>
__device__ __forceinline__ Q Quantize(float x, float inv, long long zeroPoint) {
  const float r = rintf(__fmul_rn(x, inv));
  const double q = static_cast<double>(__double2float_rn(static_cast<double>(zeroPoint) + static_cast<double>(r)));
  constexpr double lo = static_cast<double>(std::numeric_limits<Q>::min());
  constexpr double hi = static_cast<double>(std::numeric_limits<Q>::max());
  if (!(q < hi)) return std::numeric_limits<Q>::max();
  if (q <= lo) return std::numeric_limits<Q>::min();
  return static_cast<Q>(q);
}

// scale * (q - zeroPoint) with the difference and the product each rounded to float32.
template <typename Q>
__device__ __forceinline__ float Dequantize(Q q, float scale, long long zeroPoint) {
  return __fmul_rn(scale, __ll2float_rn(static_cast<long long>(q) - zeroPoint));
}

template <typename I>
__device__ __forceinline__ void Offsets(const QuantParams& p, I i, I& xo, I& yo, I& so) {
  if (p.rank <= 1) {
    xo = i * static_cast<I>(p.x.stride[0]);
    yo = i * static_cast<I>(p.yStride[0]);
    so = i * static_cast<I>(p.scale.stride[0]);
    return;
  }
  xo = yo = so = 0;
  for (int d = p.rank - 1; d >= 0; d--) {
    const I size = static_cast<I>(p.size[d]);
    const I q = i / size;
    const I c = i - q * size;
    xo += c * static_cast<I>(p.x.stride[d]);
    yo += c * static_cast<I>(p.yStride[d]);
    so += c * static_cast<I>(p.scale.stride[d]);
    i = q;
  }
}

// TX → TY (float → integer: quantize; integer → float: dequantize). `uniform`: one scale for all.
template <typename TX, typename TY, typename I>
__global__ void __launch_bounds__(256) QuantKernel(const QuantParams p, I total, bool uniform) {
  constexpr bool kQuantize = IsStorageFloat<TX>::value;
  const TX* x = static_cast<const TX*>(p.x.ptr);
  TY* y = static_cast<TY*>(p.y);
  float scale = 0.f, inv = 0.f;
  long long zeroPoint = 0;
  if (uniform) {
    scale = LoadScale(p.scale.ptr, 0, p.scale.dtype);
    inv = __frcp_rn(scale);
    zeroPoint = LoadZeroPoint(p.zeroPoint, 0, p.zeroPointDtype);
  }
  const I step = static_cast<I>(gridDim.x) * blockDim.x;
  for (I i = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += step) {
    I xo, yo, so;
    Offsets(p, i, xo, yo, so);
    if (!uniform) {
      scale = LoadScale(p.scale.ptr, so, p.scale.dtype);
      inv = __frcp_rn(scale);
      zeroPoint = LoadZeroPoint(p.zeroPoint, so, p.zeroPointDtype);
    }
    if constexpr (kQuantize) y[yo] = Quantize<TY>(ToF(x[xo]), inv, zeroPoint);
    else y[yo] = FromF<TY>(Dequantize(x[xo], scale, zeroPoint));
  }
}

long long Reach(const QuantParams& p, const int64_t* strides) {
  long long r = 0;
  for (int d = 0; d < p.rank; d++) r += (p.size[d] - 1) * (strides[d] < 0 ? -strides[d] : strides[d]);
  return r;
}

template <typename TX, typename TY>
cudaError_t Launch(const QuantParams& p, long long total, bool fits32, bool uniform, cudaStream_t stream) {
  const unsigned blocks = GridFor(total);
  if (fits32) QuantKernel<TX, TY, int><<<blocks, 256, 0, stream>>>(p, static_cast<int>(total), uniform);
  else QuantKernel<TX, TY, long long><<<blocks, 256, 0, stream>>>(p, total, uniform);
  return cudaGetLastError();
}

template <typename F>
cudaError_t LaunchQuantize(const QuantParams& p, long long total, bool fits32, bool uniform, cudaStream_t stream) {
  switch (p.yDtype) {
    case DType::Int8: return Launch<F, int8_t>(p, total, fits32, uniform, stream);
    case DType::UInt8: return Launch<F, uint8_t>(p, total, fits32, uniform, stream);
    case DType::Int32: return Launch<F, int32_t>(p, total, fits32, uniform, stream);
    default: return cudaErrorInvalidValue;
  }
}

template <typename Q>
cudaError_t LaunchDequantize(const QuantParams& p, long long total, bool fits32, bool uniform, cudaStream_t stream) {
  switch (p.yDtype) {
    case DType::Float32: return Launch<Q, float>(p, total, fits32, uniform, stream);
    case DType::Float16: return Launch<Q, __half>(p, total, fits32, uniform, stream);
    case DType::BFloat16: return Launch<Q, __nv_bfloat16>(p, total, fits32, uniform, stream);
    default: return cudaErrorInvalidValue;
  }
}

}  // namespace

cudaError_t LaunchQuant(const QuantParams& p, cudaStream_t stream) {
  long long total = 1;
  for (int d = 0; d < p.rank; d++) total *= p.size[d];
  if (total == 0) return cudaSuccess;
  bool uniform = true;
  for (int d = 0; d < p.rank; d++) uniform = uniform && (p.scale.stride[d] == 0 || p.size[d] == 1);
  const long long limit = INT_MAX;
  const bool fits32 = total <= limit && Reach(p, p.x.stride) <= limit && Reach(p, p.yStride) <= limit && Reach(p, p.scale.stride) <= limit;
  if (p.quantize) {
    switch (p.x.dtype) {
      case DType::Float32: return LaunchQuantize<float>(p, total, fits32, uniform, stream);
      case DType::Float16: return LaunchQuantize<__half>(p, total, fits32, uniform, stream);
      case DType::BFloat16: return LaunchQuantize<__nv_bfloat16>(p, total, fits32, uniform, stream);
      default: return cudaErrorInvalidValue;
    }
  }
  switch (p.x.dtype) {
    case DType::Int8: return LaunchDequantize<int8_t>(p, total, fits32, uniform, stream);
    case DType::UInt8: return LaunchDequantize<uint8_t>(p, total, fits32, uniform, stream);
    case DType::Int32: return LaunchDequantize<int32_t>(p, total, fits32, uniform, stream);
    default: return cudaErrorInvalidValue;
  }
}

}  // namespace fxrt::kernels
