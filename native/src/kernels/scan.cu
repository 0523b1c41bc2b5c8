#include "kernels/scan.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "kernels/strided.h"

namespace fxrt::kernels {

namespace {

// Acc: double for float data, long long for integers.
template <typename Acc>
__device__ __forceinline__ Acc Load(const void* x, int64_t i, DType t) {
  switch (t) {
    case DType::Float32: return static_cast<Acc>(static_cast<const float*>(x)[i]);
    case DType::Float16: return static_cast<Acc>(__half2float(static_cast<const __half*>(x)[i]));
    case DType::BFloat16: return static_cast<Acc>(__bfloat162float(static_cast<const __nv_bfloat16*>(x)[i]));
    case DType::Int8: return static_cast<Acc>(static_cast<const int8_t*>(x)[i]);
    case DType::UInt8: return static_cast<Acc>(static_cast<const uint8_t*>(x)[i]);
    case DType::Int32: return static_cast<Acc>(static_cast<const int32_t*>(x)[i]);
    default: return static_cast<Acc>(static_cast<const long long*>(x)[i]);
  }
}

__device__ __forceinline__ void Store(void* y, int64_t i, DType t, double v) {
  const float f = __double2float_rn(v);
  switch (t) {
    case DType::Float16: static_cast<__half*>(y)[i] = __float2half_rn(f); break;
    case DType::BFloat16: static_cast<__nv_bfloat16*>(y)[i] = __float2bfloat16_rn(f); break;
    default: static_cast<float*>(y)[i] = f; break;
  }
}

__device__ __forceinline__ void Store(void* y, int64_t i, DType t, long long v) {
  switch (t) {
    case DType::Int8: static_cast<int8_t*>(y)[i] = static_cast<int8_t>(static_cast<uint8_t>(v)); break;
    case DType::UInt8: static_cast<uint8_t*>(y)[i] = static_cast<uint8_t>(v); break;
    case DType::Int32: static_cast<int32_t*>(y)[i] = static_cast<int32_t>(static_cast<uint32_t>(v)); break;
    default: static_cast<long long*>(y)[i] = v; break;
  }
}

template <typename Acc>
__global__ void __launch_bounds__(256) CumsumLineKernel(const CumsumParams p) {
  const int64_t lines = p.outer * p.inner;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const int64_t step = p.reverse ? -p.inner : p.inner;
  for (int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; t < lines; t += stride) {
    const int64_t o = t / p.inner;
    int64_t at = o * p.size * p.inner + (t - o * p.inner) + (p.reverse ? (p.size - 1) * p.inner : 0);
    Acc acc = 0;
    for (int64_t r = 0; r < p.size; r++, at += step) {
      const Acc v = Load<Acc>(p.x, at, p.dtype);
      if (p.exclusive) {
        Store(p.y, at, p.dtype, acc);
        acc += v;
      } else {
        acc += v;
        Store(p.y, at, p.dtype, acc);
      }
    }
  }
}

constexpr int kItems = 4;  // consecutive elements per thread per chunk

// The block-wide exclusive prefix sum of `v` (thread order), and the block's total.
template <typename Acc>
__device__ __forceinline__ Acc BlockExclusiveSum(Acc v, Acc* warpTotals, Acc* total) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  Acc incl = v;
  for (int o = 1; o < 32; o <<= 1) {
    const Acc t = __shfl_up_sync(0xffffffffu, incl, o);
    if (lane >= o) incl += t;
  }
  Acc excl = __shfl_up_sync(0xffffffffu, incl, 1);
  if (lane == 0) excl = 0;
  if (lane == 31) warpTotals[warp] = incl;
  __syncthreads();
  Acc before = 0, sum = 0;
  for (int w = 0; w < warps; w++) {
    const Acc s = warpTotals[w];
    if (w < warp) before += s;
    sum += s;
  }
  __syncthreads();
  *total = sum;
  return before + excl;
}

template <typename Acc>
__global__ void CumsumRowKernel(const CumsumParams p) {
  __shared__ Acc warpTotals[32];
  const int64_t chunk = static_cast<int64_t>(blockDim.x) * kItems;
  for (int64_t row = blockIdx.x; row < p.outer; row += gridDim.x) {
    const int64_t base = row * p.size;
    Acc carry = 0;
    for (int64_t c = 0; c < p.size; c += chunk) {
      const int64_t first = c + static_cast<int64_t>(threadIdx.x) * kItems;
      Acc v[kItems];
      Acc local = 0;
#pragma unroll
      for (int k = 0; k < kItems; k++) {
        const int64_t r = first + k;
        v[k] = r < p.size ? Load<Acc>(p.x, base + (p.reverse ? p.size - 1 - r : r), p.dtype) : Acc(0);
        local += v[k];
      }
      Acc total;
      Acc run = carry + BlockExclusiveSum(local, warpTotals, &total);
#pragma unroll
      for (int k = 0; k < kItems; k++) {
        const int64_t r = first + k;
        if (r >= p.size) break;
        const int64_t at = base + (p.reverse ? p.size - 1 - r : r);
        if (p.exclusive) {
          Store(p.y, at, p.dtype, run);
          run += v[k];
        } else {
          run += v[k];
          Store(p.y, at, p.dtype, run);
        }
      }
      carry += total;
    }
  }
}

template <typename Acc>
void Launch(const CumsumParams& p, cudaStream_t stream) {
  if (p.inner > 1) {
    CumsumLineKernel<Acc><<<GridFor(p.outer * p.inner), 256, 0, stream>>>(p);
    return;
  }
  int threads = 32;
  while (threads < 1024 && static_cast<int64_t>(threads) * kItems < p.size) threads <<= 1;
  const int64_t blocks = p.outer < (int64_t{1} << 20) ? p.outer : (int64_t{1} << 20);
  CumsumRowKernel<Acc><<<static_cast<unsigned>(blocks), threads, 0, stream>>>(p);
}

}  // namespace

cudaError_t LaunchCumsum(const CumsumParams& p, cudaStream_t stream) {
  if (p.outer * p.size * p.inner == 0) return cudaSuccess;
  if (p.dtype == DType::Bool) return cudaErrorInvalidValue;
  if (IsFloating(p.dtype)) Launch<double>(p, stream);
  else Launch<long long>(p, stream);
  return cudaGetLastError();
}

}  // namespace fxrt::kernels
