#include "kernels/norm.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <climits>
#include <cstdint>

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

// Any affine view, any alignment: one block per row, three passes over the row in memory.
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

// 16-byte vectors of T (8 float16/bfloat16 or 4 float32) as floats.
template <typename T>
constexpr int kVecOf = 16 / static_cast<int>(sizeof(T));

template <typename T>
__device__ __forceinline__ void Unpack(const uint4& u, float* f);
template <>
__device__ __forceinline__ void Unpack<float>(const uint4& u, float* f) {
  f[0] = __uint_as_float(u.x);
  f[1] = __uint_as_float(u.y);
  f[2] = __uint_as_float(u.z);
  f[3] = __uint_as_float(u.w);
}
template <>
__device__ __forceinline__ void Unpack<__half>(const uint4& u, float* f) {
  const __half2* h = reinterpret_cast<const __half2*>(&u);
#pragma unroll
  for (int i = 0; i < 4; i++) {
    const float2 v = __half22float2(h[i]);
    f[2 * i] = v.x;
    f[2 * i + 1] = v.y;
  }
}
template <>
__device__ __forceinline__ void Unpack<__nv_bfloat16>(const uint4& u, float* f) {
  const __nv_bfloat162* h = reinterpret_cast<const __nv_bfloat162*>(&u);
#pragma unroll
  for (int i = 0; i < 4; i++) {
    const float2 v = __bfloat1622float2(h[i]);
    f[2 * i] = v.x;
    f[2 * i + 1] = v.y;
  }
}

template <typename T>
__device__ __forceinline__ uint4 PackVec(const float* f);
template <>
__device__ __forceinline__ uint4 PackVec<float>(const float* f) {
  return make_uint4(__float_as_uint(f[0]), __float_as_uint(f[1]), __float_as_uint(f[2]), __float_as_uint(f[3]));
}
template <>
__device__ __forceinline__ uint4 PackVec<__half>(const float* f) {
  uint4 u;
  __half2* h = reinterpret_cast<__half2*>(&u);
#pragma unroll
  for (int i = 0; i < 4; i++) h[i] = __floats2half2_rn(f[2 * i], f[2 * i + 1]);
  return u;
}
template <>
__device__ __forceinline__ uint4 PackVec<__nv_bfloat16>(const float* f) {
  uint4 u;
  __nv_bfloat162* h = reinterpret_cast<__nv_bfloat162*>(&u);
#pragma unroll
  for (int i = 0; i < 4; i++) h[i] = __floats2bfloat162_rn(f[2 * i], f[2 * i + 1]);
  return u;
}

// Sum over the kLanes threads that share a row: a warp, or the whole block (kLanes = blockDim.x).
template <int kLanes>
__device__ __forceinline__ float RowSum(float v, float* shared) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffff, v, o);
  if constexpr (kLanes == 32) {
    return v;
  } else {
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    __syncthreads();  // the previous sum's readers are done with `shared`
    if (lane == 0) shared[warp] = v;
    __syncthreads();
    float t = lane < kLanes / 32 ? shared[lane] : 0.f;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) t += __shfl_xor_sync(0xffffffff, t, o);
    return t;
  }
}

// Threads per block of the vectorized kernel: 4 rows of a warp each, or one row per block.
template <int kLanes>
constexpr int kBlockOf = kLanes < 128 ? 128 : kLanes;

// Contiguous rows of cols % kVec == 0 elements, 16-byte aligned, with a per-column affine: kLanes
// threads per row hold it in registers (kChunks vectors each), so x is read once; statistics are
// two-pass (mean, then centered squares) in float32 and the affine is applied in the same pass.
// `vecAffine`: scale and bias have x's dtype and alignment and are read as vectors too.
template <typename T, int kLanes, int kChunks>
__global__ void __launch_bounds__(kBlockOf<kLanes>) LayerNormVecKernel(const LayerNormParams p, bool vecAffine) {
  constexpr int kVec = kVecOf<T>;
  __shared__ float shared[32];
  const int lane = threadIdx.x % kLanes;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * (kBlockOf<kLanes> / kLanes) + threadIdx.x / kLanes;
  if (row >= p.rows) return;  // uniform over the threads of a row (the whole block when kLanes is)
  const int64_t vecs = p.cols / kVec;
  const uint4* x = reinterpret_cast<const uint4*>(static_cast<const T*>(p.x) + row * p.cols);
  float v[kChunks][kVec];
  float sum = 0.f;
#pragma unroll
  for (int c = 0; c < kChunks; c++) {
    const int64_t i = lane + static_cast<int64_t>(c) * kLanes;
    if (i < vecs) {
      Unpack<T>(x[i], v[c]);
#pragma unroll
      for (int j = 0; j < kVec; j++) sum += v[c][j];
    }
  }
  const float inv = 1.f / static_cast<float>(p.cols);
  const float mean = RowSum<kLanes>(sum, shared) * inv;
  float sq = 0.f;
#pragma unroll
  for (int c = 0; c < kChunks; c++) {
    if (lane + static_cast<int64_t>(c) * kLanes < vecs) {
#pragma unroll
      for (int j = 0; j < kVec; j++) {
        const float d = v[c][j] - mean;
        sq += d * d;
      }
    }
  }
  const float rstd = 1.f / sqrtf(RowSum<kLanes>(sq, shared) * inv + p.eps);
  uint4* y = reinterpret_cast<uint4*>(static_cast<T*>(p.y) + row * p.cols);
#pragma unroll
  for (int c = 0; c < kChunks; c++) {
    const int64_t i = lane + static_cast<int64_t>(c) * kLanes;
    if (i >= vecs) continue;
    float sc[kVec], bi[kVec];
    if (vecAffine) {
      Unpack<T>(static_cast<const uint4*>(p.scale)[i], sc);
      Unpack<T>(static_cast<const uint4*>(p.bias)[i], bi);
    } else {
#pragma unroll
      for (int j = 0; j < kVec; j++) {
        sc[j] = LoadF(p.scale, i * kVec + j, p.affineDtype);
        bi[j] = LoadF(p.bias, i * kVec + j, p.affineDtype);
      }
    }
    float r[kVec];
#pragma unroll
    for (int j = 0; j < kVec; j++) r[j] = (v[c][j] - mean) * rstd * sc[j] + bi[j];
    y[i] = PackVec<T>(r);
  }
}

bool Aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// The most vectors per thread of the vectorized kernel; rows longer than 1024 vectors (8192
// 16-bit or 4096 float32 elements) take the generic kernel.
constexpr int kMaxChunks = 4;

template <typename T, int kLanes>
void LaunchVec(const LayerNormParams& p, int chunks, bool vecAffine, cudaStream_t stream) {
  constexpr int kRows = kBlockOf<kLanes> / kLanes;
  const auto blocks = static_cast<unsigned>((p.rows + kRows - 1) / kRows);
  switch (chunks) {
    case 1: LayerNormVecKernel<T, kLanes, 1><<<blocks, kBlockOf<kLanes>, 0, stream>>>(p, vecAffine); break;
    case 2: LayerNormVecKernel<T, kLanes, 2><<<blocks, kBlockOf<kLanes>, 0, stream>>>(p, vecAffine); break;
    case 3: LayerNormVecKernel<T, kLanes, 3><<<blocks, kBlockOf<kLanes>, 0, stream>>>(p, vecAffine); break;
    default: LayerNormVecKernel<T, kLanes, kMaxChunks><<<blocks, kBlockOf<kLanes>, 0, stream>>>(p, vecAffine); break;
  }
}

// Threads per row of the vectorized kernel for these params (32 or 256), or 0 for the generic one.
int VecLanes(const LayerNormParams& p) {
  const int64_t vec = 16 / static_cast<int64_t>(ItemSize(p.dtype));
  if (!p.affinePerColumn || p.cols % vec != 0 || !Aligned16(p.x) || !Aligned16(p.y) || p.rows > INT_MAX) return 0;
  const int64_t vecs = p.cols / vec;
  if (vecs <= 32 * kMaxChunks) return 32;
  return vecs <= 256 * kMaxChunks ? 256 : 0;
}

template <typename T>
void LaunchVecFor(const LayerNormParams& p, int lanes, cudaStream_t stream) {
  const bool vecAffine = p.affineDtype == p.dtype && Aligned16(p.scale) && Aligned16(p.bias);
  const int64_t vecs = p.cols / kVecOf<T>;
  const int chunks = static_cast<int>((vecs + lanes - 1) / lanes);
  if (lanes == 32) LaunchVec<T, 32>(p, chunks, vecAffine, stream);
  else LaunchVec<T, 256>(p, chunks, vecAffine, stream);
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

const char* LayerNormVariant(const LayerNormParams& p) {
  switch (VecLanes(p)) {
    case 32: return "layernorm_warp_rows";
    case 256: return "layernorm_block_rows";
    default: return "layernorm_rows";
  }
}

cudaError_t LaunchLayerNorm(const LayerNormParams& p, cudaStream_t stream) {
  if (p.rows == 0 || p.cols == 0) return cudaSuccess;
  const int lanes = VecLanes(p);
  if (lanes == 0) {
    const unsigned blocks = static_cast<unsigned>(p.rows < 65535 ? p.rows : 65535);
    LayerNormKernel<<<blocks, kThreads, 0, stream>>>(p);
  } else if (p.dtype == DType::Float16) {
    LaunchVecFor<__half>(p, lanes, stream);
  } else if (p.dtype == DType::BFloat16) {
    LaunchVecFor<__nv_bfloat16>(p, lanes, stream);
  } else {
    LaunchVecFor<float>(p, lanes, stream);
  }
  return cudaGetLastError();
}

cudaError_t LaunchSoftmax(const SoftmaxParams& p, cudaStream_t stream) {
  const int64_t rows = p.outer * p.inner;
  if (rows == 0 || p.size == 0) return cudaSuccess;
  SoftmaxKernel<<<GridFor(rows * 32), kThreads, 0, stream>>>(p);
  return cudaGetLastError();
}

}  // namespace fxrt::kernels
