#include "kernels/norm.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace fxrt::kernels {

namespace {

__device__ __forceinline__ float LoadF(const void* p, int64_t i, DType t) {
  switch (t) {
    case DType::Float16: return __half2float(static_cast<const __half*>(p)[i]);
    case DType::BFloat16: return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
    case DType::Bool: return static_cast<const uint8_t*>(p)[i] != 0 ? 1.f : 0.f;
    default: return static_cast<const float*>(p)[i];
  }
}

__device__ __forceinline__ void StoreF(void* p, int64_t i, DType t, float v) {
  switch (t) {
    case DType::Float16: static_cast<__half*>(p)[i] = __float2half_rn(v); break;
    case DType::BFloat16: static_cast<__nv_bfloat16*>(p)[i] = __float2bfloat16_rn(v); break;
    default: static_cast<float*>(p)[i] = v; break;
  }
}

constexpr int kThreads = 256;

// Sum over the block; every thread gets the result. `shared` holds kThreads / 32 floats.
__device__ float BlockSum(float v, float* shared) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffff, v, o);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  float t = lane < kThreads / 32 ? shared[lane] : 0.f;
  for (int o = 16; o > 0; o >>= 1) t += __shfl_xor_sync(0xffffffff, t, o);
  return t;
}

__global__ void __launch_bounds__(kThreads) LayerNormKernel(const LayerNormParams p) {
  __shared__ float shared[kThreads / 32];
  for (int64_t r = blockIdx.x; r < p.rows; r += gridDim.x) {
    const int64_t base = r * p.cols;
    float s = 0.f;
    for (int64_t j = threadIdx.x; j < p.cols; j += kThreads) s += LoadF(p.x, base + j, p.dtype);
    const float mean = BlockSum(s, shared) / static_cast<float>(p.cols);
    float q = 0.f;
    for (int64_t j = threadIdx.x; j < p.cols; j += kThreads) {
      const float d = LoadF(p.x, base + j, p.dtype) - mean;
      q += d * d;
    }
    const float rstd = 1.f / sqrtf(BlockSum(q, shared) / static_cast<float>(p.cols) + p.eps);
    for (int64_t j = threadIdx.x; j < p.cols; j += kThreads) {
      const int64_t i = base + j;
      const float v = (LoadF(p.x, i, p.dtype) - mean) * rstd;
      const int64_t si = p.affinePerColumn ? j : StridedOffset<int64_t>(i, p.scaleView);
      const int64_t bj = p.affinePerColumn ? j : StridedOffset<int64_t>(i, p.biasView);
      const float sc = LoadF(p.scale, si, p.affineDtype);
      const float bi = LoadF(p.bias, bj, p.affineDtype);
      StoreF(p.y, i, p.dtype, v * sc + bi);
    }
  }
}

// The masked, scaled logit of element s of row `row` (o * inner + i).
__device__ __forceinline__ float Logit(const SoftmaxParams& p, int64_t o, int64_t i, int64_t s) {
  float v = LoadF(p.x, (o * p.size + s) * p.inner + i, p.xDtype) * p.scale;
  if (p.mask != nullptr) {
    const float m = LoadF(p.mask, StridedOffset<int64_t>(o * p.size + s, p.maskView), p.maskDtype);
    v = p.maskDtype == DType::Bool ? (m != 0.f ? v : -INFINITY) : v + m;
  }
  if (p.causalRows > 0 && s > o % p.causalRows) v = -INFINITY;
  return v;
}

// One warp per row; rows = outer * inner.
__global__ void __launch_bounds__(kThreads) SoftmaxKernel(const SoftmaxParams p) {
  const int64_t rows = p.outer * p.inner;
  const int lane = threadIdx.x % 32;
  const int64_t warps = static_cast<int64_t>(gridDim.x) * (kThreads / 32);
  for (int64_t row = static_cast<int64_t>(blockIdx.x) * (kThreads / 32) + threadIdx.x / 32; row < rows; row += warps) {
    const int64_t o = row / p.inner, i = row % p.inner;
    float mx = -INFINITY;
    bool nan = false;
    for (int64_t s = lane; s < p.size; s += 32) {
      const float v = Logit(p, o, i, s);
      if (v != v) nan = true;
      mx = v > mx ? v : mx;
    }
    for (int off = 16; off > 0; off >>= 1) {
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffff, mx, off));
      nan = __shfl_xor_sync(0xffffffff, static_cast<int>(nan), off) != 0 || nan;
    }
    float sum = 0.f;
    if (!nan && mx != -INFINITY) {
      for (int64_t s = lane; s < p.size; s += 32) sum += expf(Logit(p, o, i, s) - mx);
      for (int off = 16; off > 0; off >>= 1) sum += __shfl_xor_sync(0xffffffff, sum, off);
    }
    const float logSum = logf(sum);
    for (int64_t s = lane; s < p.size; s += 32) {
      float r;
      if (nan) r = NAN;
      else if (mx == -INFINITY) r = p.log ? -INFINITY : 0.f;  // a fully masked row
      else {
        const float d = Logit(p, o, i, s) - mx;
        r = p.log ? d - logSum : expf(d) / sum;
      }
      StoreF(p.y, (o * p.size + s) * p.inner + i, p.yDtype, r);
    }
  }
}

}  // namespace

cudaError_t LaunchLayerNorm(const LayerNormParams& p, cudaStream_t stream) {
  if (p.rows == 0 || p.cols == 0) return cudaSuccess;
  const unsigned blocks = static_cast<unsigned>(p.rows < 65535 ? p.rows : 65535);
  LayerNormKernel<<<blocks, kThreads, 0, stream>>>(p);
  return cudaGetLastError();
}

cudaError_t LaunchSoftmax(const SoftmaxParams& p, cudaStream_t stream) {
  const int64_t rows = p.outer * p.inner;
  if (rows == 0 || p.size == 0) return cudaSuccess;
  SoftmaxKernel<<<GridFor(rows * 32), kThreads, 0, stream>>>(p);
  return cudaGetLastError();
}

}  // namespace fxrt::kernels
