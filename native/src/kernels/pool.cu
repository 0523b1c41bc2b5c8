#include "kernels/pool.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "kernels/strided.h"

namespace fxrt::kernels {

namespace {

template <typename T> __device__ __forceinline__ float ToF(T v);
template <> __device__ __forceinline__ float ToF(float v) { return v; }
template <> __device__ __forceinline__ float ToF(__half v) { return __half2float(v); }
template <> __device__ __forceinline__ float ToF(__nv_bfloat16 v) { return __bfloat162float(v); }
template <typename T> __device__ __forceinline__ T FromF(float v);
template <> __device__ __forceinline__ float FromF(float v) { return v; }
template <> __device__ __forceinline__ __half FromF(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 FromF(float v) { return __float2bfloat16_rn(v); }

// I: the index type, 32-bit whenever every offset fits (64-bit division is several times slower).
template <typename T, typename I>
__global__ void __launch_bounds__(256) Pool2dKernel(const PoolParams p, I total) {
  const T* x = static_cast<const T*>(p.x);
  T* y = static_cast<T*>(p.y);
  const I step = static_cast<I>(gridDim.x) * blockDim.x;
  const I C = static_cast<I>(p.c), OH = static_cast<I>(p.oh), OW = static_cast<I>(p.ow);
  const I H = static_cast<I>(p.h), W = static_cast<I>(p.w);
  const I xs0 = static_cast<I>(p.xStride[0]), xs1 = static_cast<I>(p.xStride[1]), xs2 = static_cast<I>(p.xStride[2]),
          xs3 = static_cast<I>(p.xStride[3]);
  for (I i = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += step) {
    I rem = i, n, c, oy, ox;
    if (p.channelsLast) {
      c = rem % C; rem /= C;
      ox = rem % OW; rem /= OW;
      oy = rem % OH; n = rem / OH;
    } else {
      ox = rem % OW; rem /= OW;
      oy = rem % OH; rem /= OH;
      c = rem % C; n = rem / C;
    }
    const I y0 = oy * p.sh - p.ph, x0 = ox * p.sw - p.pw;
    const T* plane = x + n * xs0 + c * xs1;
    float acc;
    if (p.isMax) {
      acc = -INFINITY;
      bool nan = false;
      for (int ky = 0; ky < p.kh; ky++) {
        const I yy = y0 + static_cast<I>(ky) * p.dh;
        if (yy < 0 || yy >= H) continue;
        for (int kx = 0; kx < p.kw; kx++) {
          const I xx = x0 + static_cast<I>(kx) * p.dw;
          if (xx < 0 || xx >= W) continue;
          const float v = ToF(plane[yy * xs2 + xx * xs3]);
          if (v != v) nan = true;
          acc = v > acc ? v : acc;
        }
      }
      if (nan) acc = NAN;
    } else {
      const I yEnd = min(y0 + static_cast<I>(p.kh), H + static_cast<I>(p.postH)), xEnd = min(x0 + static_cast<I>(p.kw), W + static_cast<I>(p.postW));
      const I ya = max(y0, I{0}), yb = min(yEnd, H), xa = max(x0, I{0}), xb = min(xEnd, W);
      float sum = 0.f;
      for (I yy = ya; yy < yb; yy++) {
        for (I xx = xa; xx < xb; xx++) sum += ToF(plane[yy * xs2 + xx * xs3]);
      }
      float div = p.divisor != 0.f ? p.divisor
                  : p.excludePadding ? static_cast<float>(max(yb - ya, I{0}) * max(xb - xa, I{0}))
                                     : static_cast<float>((yEnd - y0) * (xEnd - x0));
      acc = (yb <= ya || xb <= xa) ? 0.f : sum / div;
    }
    y[static_cast<int64_t>(n) * p.yStride[0] + static_cast<int64_t>(c) * p.yStride[1] + static_cast<int64_t>(oy) * p.yStride[2] +
      static_cast<int64_t>(ox) * p.yStride[3]] = FromF<T>(acc);
  }
}

}  // namespace

// NHWC 16-bit tensors with C % 8 == 0: each thread pools 8 consecutive channels of one output
// pixel with 16-byte loads and stores (the per-element kernel moves 2 bytes per thread).
template <typename T>
__global__ void __launch_bounds__(256) Pool2dNhwc8Kernel(const PoolParams p, int32_t total) {
  const int32_t C8 = static_cast<int32_t>(p.c / 8), OH = static_cast<int32_t>(p.oh), OW = static_cast<int32_t>(p.ow);
  const int32_t H = static_cast<int32_t>(p.h), W = static_cast<int32_t>(p.w);
  const uint4* x = static_cast<const uint4*>(p.x);
  uint4* y = static_cast<uint4*>(p.y);
  const int32_t step = static_cast<int32_t>(gridDim.x) * blockDim.x;
  for (int32_t i = static_cast<int32_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += step) {
    int32_t rem = i;
    const int32_t cg = rem % C8;
    rem /= C8;
    const int32_t ox = rem % OW;
    rem /= OW;
    const int32_t oy = rem % OH;
    const int32_t n = rem / OH;
    const int32_t y0 = oy * p.sh - p.ph, x0 = ox * p.sw - p.pw;
    float acc[8];
    bool nan[8];
    for (int j = 0; j < 8; j++) {
      acc[j] = p.isMax ? -INFINITY : 0.f;
      nan[j] = false;
    }
    int32_t ya = 0, yb = 0, xa = 0, xb = 0, yEnd = 0, xEnd = 0;
    if (!p.isMax) {
      yEnd = min(y0 + p.kh, H + p.postH);
      xEnd = min(x0 + p.kw, W + p.postW);
      ya = max(y0, 0); yb = min(yEnd, H); xa = max(x0, 0); xb = min(xEnd, W);
    }
    for (int ky = 0; ky < p.kh; ky++) {
      const int32_t yy = y0 + ky * (p.isMax ? p.dh : 1);
      if (yy < 0 || yy >= H) continue;
      for (int kx = 0; kx < p.kw; kx++) {
        const int32_t xx = x0 + kx * (p.isMax ? p.dw : 1);
        if (xx < 0 || xx >= W) continue;
        uint4 word = x[((static_cast<int64_t>(n) * H + yy) * W + xx) * C8 + cg];
        const T* v = reinterpret_cast<const T*>(&word);
        for (int j = 0; j < 8; j++) {
          const float f = ToF(v[j]);
          if (p.isMax) {
            nan[j] = nan[j] || f != f;
            acc[j] = f > acc[j] ? f : acc[j];
          } else {
            acc[j] += f;
          }
        }
      }
    }
    uint4 out;
    T* o = reinterpret_cast<T*>(&out);
    const float div = p.isMax ? 1.f
                      : p.divisor != 0.f ? p.divisor
                      : p.excludePadding ? static_cast<float>(max(yb - ya, 0) * max(xb - xa, 0))
                                         : static_cast<float>((yEnd - y0) * (xEnd - x0));
    const bool empty = !p.isMax && (yb <= ya || xb <= xa);
    for (int j = 0; j < 8; j++) {
      const float r = p.isMax ? (nan[j] ? NAN : acc[j]) : (empty ? 0.f : acc[j] / div);
      o[j] = FromF<T>(r);
    }
    y[((static_cast<int64_t>(n) * OH + oy) * OW + ox) * C8 + cg] = out;
  }
}

// Whether `s` are the strides of a dense NHWC [n, c, h, w] tensor.
bool DenseNhwc(const int64_t* s, int64_t c, int64_t h, int64_t w) {
  return s[1] == 1 && s[3] == c && s[2] == w * c && s[0] == h * w * c;
}

template <typename T>
void Launch(const PoolParams& p, int64_t total, bool fits32, cudaStream_t stream) {
  if (fits32) Pool2dKernel<T, int32_t><<<GridFor(total), 256, 0, stream>>>(p, static_cast<int32_t>(total));
  else Pool2dKernel<T, int64_t><<<GridFor(total), 256, 0, stream>>>(p, total);
}

cudaError_t LaunchPool2d(const PoolParams& p, cudaStream_t stream) {
  const int64_t total = p.n * p.c * p.oh * p.ow;
  if (total == 0) return cudaSuccess;
  StridedView xv;
  xv.rank = 4;
  const int64_t sizes[4] = {p.n, p.c, p.h + p.postH + p.ph, p.w + p.postW + p.pw};
  for (int d = 0; d < 4; d++) {
    xv.size[d] = sizes[d];
    xv.stride[d] = p.xStride[d];
  }
  const int64_t span = p.n * p.c * p.h * p.w;
  const bool fits32 = Fits32(total, xv) && span < (int64_t{1} << 30) && total < (int64_t{1} << 30);
  const bool vec = p.dtype != DType::Float32 && p.c % 8 == 0 && fits32 && DenseNhwc(p.xStride, p.c, p.h, p.w) &&
                   DenseNhwc(p.yStride, p.c, p.oh, p.ow) && reinterpret_cast<uintptr_t>(p.x) % 16 == 0 &&
                   reinterpret_cast<uintptr_t>(p.y) % 16 == 0 && (p.isMax || (p.dh == 1 && p.dw == 1));
  if (vec) {
    const int64_t work = total / 8;
    if (p.dtype == DType::Float16) Pool2dNhwc8Kernel<__half><<<GridFor(work), 256, 0, stream>>>(p, static_cast<int32_t>(work));
    else Pool2dNhwc8Kernel<__nv_bfloat16><<<GridFor(work), 256, 0, stream>>>(p, static_cast<int32_t>(work));
    return cudaGetLastError();
  }
  switch (p.dtype) {
    case DType::Float32: Launch<float>(p, total, fits32, stream); break;
    case DType::Float16: Launch<__half>(p, total, fits32, stream); break;
    case DType::BFloat16: Launch<__nv_bfloat16>(p, total, fits32, stream); break;
    default: return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}

}  // namespace fxrt::kernels
