#include "kernels/resize.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "kernels/strided.h"

// Every float operation below is one IEEE operation on float32 operands (the __f*_rn intrinsics,
// never contracted into FMAs). The reference computes each in double and rounds to float32
// (Math.fround), which gives the same result for +, -, * on float32 operands (a double has more
// than 2 * 24 + 2 bits). Integer coordinates are exact in float32 below 2^23 (the host checks).

namespace fxrt::kernels {

namespace {

template <int B> struct Word;
template <> struct Word<1> { using T = uint8_t; };
template <> struct Word<2> { using T = uint16_t; };
template <> struct Word<4> { using T = uint32_t; };
template <> struct Word<8> { using T = uint64_t; };
template <> struct Word<16> { using T = uint4; };

template <typename T> __device__ __forceinline__ float ToF(T v);
template <> __device__ __forceinline__ float ToF(float v) { return v; }
template <> __device__ __forceinline__ float ToF(__half v) { return __half2float(v); }
template <> __device__ __forceinline__ float ToF(__nv_bfloat16 v) { return __bfloat162float(v); }
template <typename T> __device__ __forceinline__ T FromF(float v);
template <> __device__ __forceinline__ float FromF(float v) { return v; }
template <> __device__ __forceinline__ __half FromF(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 FromF(float v) { return __float2bfloat16_rn(v); }
// A weight as PyTorch stores it: rounded to the input dtype.
template <typename T> __device__ __forceinline__ float RoundWeight(float w) { return ToF(FromF<T>(w)); }

// The output coordinates of iteration index i: row-major over the logical dims, or with C fastest
// (N, H, W, C) when the output is channels-last.
template <typename I>
__device__ __forceinline__ void Coords(I i, const ResizeParams& p, I (&c)[kMaxResizeRank]) {
  if (p.channelsLast) {
    const I C = static_cast<I>(p.outSize[1]), H = static_cast<I>(p.outSize[2]), W = static_cast<I>(p.outSize[3]);
    I q = i / C;
    c[1] = i - q * C;
    i = q;
    q = i / W;
    c[3] = i - q * W;
    i = q;
    q = i / H;
    c[2] = i - q * H;
    c[0] = q;
    c[4] = 0;
    return;
  }
#pragma unroll
  for (int d = kMaxResizeRank - 1; d >= 1; d--) {
    c[d] = 0;
    if (d < p.rank) {
      const I size = static_cast<I>(p.outSize[d]);
      const I q = i / size;
      c[d] = i - q * size;
      i = q;
    }
  }
  c[0] = i;
}

// pad_resize.ts nearestMap: legacy nearest (floor(dst * scale), with PyTorch's exact shortcuts for
// equal and doubled sizes) or nearest-exact (floor((dst + 0.5) * scale)), clamped to in - 1.
template <typename I>
__device__ __forceinline__ I NearestSource(ResizeKind kind, I j, I in, I out, float s) {
  if (kind == ResizeKind::NearestFloor) {
    if (out == in) return j;
    if (out == 2 * in) return j >> 1;
    return min(static_cast<I>(floorf(__fmul_rn(static_cast<float>(j), s))), in - 1);
  }
  return min(static_cast<I>(floorf(__fmul_rn(__fadd_rn(static_cast<float>(j), 0.5f), s))), in - 1);
}

// PyTorch's area_pixel_compute_source_index (pad_resize.ts sourceIndex).
__device__ __forceinline__ float SourceIndex(float s, float j, bool alignCorners, bool cubic) {
  if (alignCorners) return __fmul_rn(s, j);
  const float src = __fsub_rn(__fmul_rn(s, __fadd_rn(j, 0.5f)), 0.5f);
  return !cubic && src < 0.f ? 0.f : src;
}

// Keys' cubic kernel with A = -0.75, as PyTorch's cubic_convolution1 (|x| <= 1) and 2 (1 < |x| < 2).
__device__ __forceinline__ float Cubic1(float x) {
  return __fadd_rn(__fmul_rn(__fmul_rn(__fsub_rn(__fmul_rn(1.25f, x), 2.25f), x), x), 1.f);
}
__device__ __forceinline__ float Cubic2(float x) {
  return __fsub_rn(__fmul_rn(__fadd_rn(__fmul_rn(__fsub_rn(__fmul_rn(-0.75f, x), -3.75f), x), -6.f), x), -3.f);
}

// The taps of output index j of one dim: element offsets (index * stride) and weights.
template <typename T, int Taps, typename I>
__device__ __forceinline__ void DimTaps(I j, I in, I out, float s, bool alignCorners, I stride, I (&off)[Taps], float (&w)[Taps]) {
  if constexpr (Taps == 2) {
    if (out == in) {
      off[0] = off[1] = j * stride;
      w[0] = 1.f;
      w[1] = 0.f;
      return;
    }
    const float real = SourceIndex(s, static_cast<float>(j), alignCorners, false);
    const I i0 = min(static_cast<I>(floorf(real)), in - 1);
    const float w1 = RoundWeight<T>(fminf(fmaxf(__fsub_rn(real, static_cast<float>(i0)), 0.f), 1.f));
    off[0] = i0 * stride;
    off[1] = (i0 < in - 1 ? i0 + 1 : i0) * stride;
    w[0] = RoundWeight<T>(__fsub_rn(1.f, w1));
    w[1] = w1;
  } else {
    const float real = SourceIndex(s, static_cast<float>(j), alignCorners, true);
    const I i0 = min(static_cast<I>(floorf(real)), in - 1);
    const float t = fminf(fmaxf(__fsub_rn(real, static_cast<float>(i0)), 0.f), 1.f);
    const float x2 = __fsub_rn(1.f, t);
    w[0] = RoundWeight<T>(Cubic2(__fadd_rn(t, 1.f)));
    w[1] = RoundWeight<T>(Cubic1(t));
    w[2] = RoundWeight<T>(Cubic1(x2));
    w[3] = RoundWeight<T>(Cubic2(__fadd_rn(x2, 1.f)));
#pragma unroll
    for (int k = 0; k < 4; k++) off[k] = min(max(i0 - 1 + k, I{0}), in - 1) * stride;
  }
}

// Σ_t x[base + off[t]] * w[t] over the innermost spatial dim, rounded after every operation.
template <typename T, int Taps, typename I>
__device__ __forceinline__ float Row(const T* __restrict__ x, I base, const I (&off)[Taps], const float (&w)[Taps]) {
  float acc = __fmul_rn(ToF(x[base + off[0]]), w[0]);
#pragma unroll
  for (int t = 1; t < Taps; t++) acc = __fadd_rn(acc, __fmul_rn(ToF(x[base + off[t]]), w[t]));
  return acc;
}

// Interpolation over the last two spatial dims (level l is spatial dim `first + l`).
template <typename T, int Taps, typename I>
__device__ __forceinline__ float Plane(const T* __restrict__ x, I base, const I (&offA)[Taps], const float (&wA)[Taps],
                                       const I (&offB)[Taps], const float (&wB)[Taps]) {
  float acc = __fmul_rn(Row<T, Taps>(x, base + offA[0], offB, wB), wA[0]);
#pragma unroll
  for (int t = 1; t < Taps; t++) acc = __fadd_rn(acc, __fmul_rn(Row<T, Taps>(x, base + offA[t], offB, wB), wA[t]));
  return acc;
}

template <typename W, typename I>
__global__ void __launch_bounds__(256) ResizeNearestKernel(const ResizeParams p, I n) {
  const W* __restrict__ x = static_cast<const W*>(p.x);
  W* __restrict__ y = static_cast<W*>(p.y);
  const I step = static_cast<I>(gridDim.x) * blockDim.x;
  for (I i = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    I c[kMaxResizeRank];
    Coords(i, p, c);
    I xo = c[0] * static_cast<I>(p.xStride[0]) + c[1] * static_cast<I>(p.xStride[1]);
    I yo = c[0] * static_cast<I>(p.yStride[0]) + c[1] * static_cast<I>(p.yStride[1]);
#pragma unroll
    for (int d = 2; d < kMaxResizeRank; d++) {
      if (d < p.rank) {
        const I src = NearestSource(p.kind, c[d], static_cast<I>(p.inSize[d]), static_cast<I>(p.outSize[d]), p.scale[d - 2]);
        xo += src * static_cast<I>(p.xStride[d]);
        yo += c[d] * static_cast<I>(p.yStride[d]);
      }
    }
    y[yo] = x[xo];
  }
}

template <typename T, int Taps, typename I>
__global__ void __launch_bounds__(256) ResizeInterpKernel(const ResizeParams p, I n) {
  const T* __restrict__ x = static_cast<const T*>(p.x);
  T* __restrict__ y = static_cast<T*>(p.y);
  const I step = static_cast<I>(gridDim.x) * blockDim.x;
  const int spatial = p.rank - 2;
  for (I i = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    I c[kMaxResizeRank];
    Coords(i, p, c);
    const I base = c[0] * static_cast<I>(p.xStride[0]) + c[1] * static_cast<I>(p.xStride[1]);
    I yo = c[0] * static_cast<I>(p.yStride[0]) + c[1] * static_cast<I>(p.yStride[1]);
    I off[3][Taps];
    float w[3][Taps];
#pragma unroll
    for (int l = 0; l < 3; l++) {
      if (l < spatial) {
        const int d = l + 2;
        DimTaps<T, Taps>(c[d], static_cast<I>(p.inSize[d]), static_cast<I>(p.outSize[d]), p.scale[l], p.alignCorners,
                         static_cast<I>(p.xStride[d]), off[l], w[l]);
        yo += c[d] * static_cast<I>(p.yStride[d]);
      }
    }
    float v;
    if (spatial == 1) {
      v = Row<T, Taps>(x, base, off[0], w[0]);
    } else if (spatial == 2) {
      v = Plane<T, Taps>(x, base, off[0], w[0], off[1], w[1]);
    } else {
      v = __fmul_rn(Plane<T, Taps>(x, base + off[0][0], off[1], w[1], off[2], w[2]), w[0][0]);
#pragma unroll
      for (int t = 1; t < Taps; t++) v = __fadd_rn(v, __fmul_rn(Plane<T, Taps>(x, base + off[0][t], off[1], w[1], off[2], w[2]), w[0][t]));
    }
    y[yo] = FromF<T>(v);
  }
}

template <int B>
cudaError_t Nearest(const ResizeParams& p, int64_t n, cudaStream_t stream) {
  using W = typename Word<B>::T;
  if (p.fits32) ResizeNearestKernel<W, int32_t><<<GridFor(n), 256, 0, stream>>>(p, static_cast<int32_t>(n));
  else ResizeNearestKernel<W, int64_t><<<GridFor(n), 256, 0, stream>>>(p, n);
  return cudaGetLastError();
}

template <typename T, int Taps>
cudaError_t Interp(const ResizeParams& p, int64_t n, cudaStream_t stream) {
  if (p.fits32) ResizeInterpKernel<T, Taps, int32_t><<<GridFor(n), 256, 0, stream>>>(p, static_cast<int32_t>(n));
  else ResizeInterpKernel<T, Taps, int64_t><<<GridFor(n), 256, 0, stream>>>(p, n);
  return cudaGetLastError();
}

template <int Taps>
cudaError_t InterpOf(const ResizeParams& p, int64_t n, cudaStream_t stream) {
  switch (p.dtype) {
    case DType::Float32: return Interp<float, Taps>(p, n, stream);
    case DType::Float16: return Interp<__half, Taps>(p, n, stream);
    case DType::BFloat16: return Interp<__nv_bfloat16, Taps>(p, n, stream);
    default: return cudaErrorInvalidValue;
  }
}

}  // namespace

cudaError_t LaunchResize(const ResizeParams& p, cudaStream_t stream) {
  if (p.rank < 3 || p.rank > kMaxResizeRank || (p.channelsLast && p.rank != 4)) return cudaErrorInvalidValue;
  int64_t n = 1;
  for (int d = 0; d < p.rank; d++) n *= p.outSize[d];
  if (n == 0) return cudaSuccess;
  switch (p.kind) {
    case ResizeKind::Linear: return InterpOf<2>(p, n, stream);
    case ResizeKind::Cubic: return InterpOf<4>(p, n, stream);
    default: break;
  }
  switch (p.elemBytes) {
    case 1: return Nearest<1>(p, n, stream);
    case 2: return Nearest<2>(p, n, stream);
    case 4: return Nearest<4>(p, n, stream);
    case 8: return Nearest<8>(p, n, stream);
    case 16: return Nearest<16>(p, n, stream);
    default: return cudaErrorInvalidValue;
  }
}

}  // namespace fxrt::kernels
