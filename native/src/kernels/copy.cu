#include "kernels/copy.h"

namespace fxrt::kernels {

namespace {

template <int B> struct Word;
template <> struct Word<1> { using T = uint8_t; };
template <> struct Word<2> { using T = uint16_t; };
template <> struct Word<4> { using T = uint32_t; };
template <> struct Word<8> { using T = uint64_t; };
template <> struct Word<16> { using T = uint4; };

template <typename T, typename I>
__global__ void StridedCopyKernel(const T* __restrict__ src, const StridedView s, T* __restrict__ dst, const StridedView d, I n) {
  const I step = static_cast<I>(gridDim.x) * blockDim.x;
  for (I i = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    dst[StridedOffset(i, d)] = src[StridedOffset(i, s)];
  }
}

template <typename T, typename I>
__global__ void FillKernel(T* __restrict__ dst, const StridedView d, I n, T value) {
  const I step = static_cast<I>(gridDim.x) * blockDim.x;
  for (I i = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) dst[StridedOffset(i, d)] = value;
}

template <int B>
cudaError_t Copy(const void* src, const StridedView& s, void* dst, const StridedView& d, int64_t n, cudaStream_t stream) {
  using T = typename Word<B>::T;
  if (Fits32(n, s) && Fits32(n, d)) {
    StridedCopyKernel<T, int32_t><<<GridFor(n), 256, 0, stream>>>(static_cast<const T*>(src), s, static_cast<T*>(dst), d,
                                                                  static_cast<int32_t>(n));
  } else {
    StridedCopyKernel<T, int64_t><<<GridFor(n), 256, 0, stream>>>(static_cast<const T*>(src), s, static_cast<T*>(dst), d, n);
  }
  return cudaGetLastError();
}

template <int B>
cudaError_t Fill(void* dst, const StridedView& d, int64_t n, uint64_t value, cudaStream_t stream) {
  using T = typename Word<B>::T;
  T v = static_cast<T>(value);
  if (Fits32(n, d)) {
    FillKernel<T, int32_t><<<GridFor(n), 256, 0, stream>>>(static_cast<T*>(dst), d, static_cast<int32_t>(n), v);
  } else {
    FillKernel<T, int64_t><<<GridFor(n), 256, 0, stream>>>(static_cast<T*>(dst), d, n, v);
  }
  return cudaGetLastError();
}

}  // namespace

cudaError_t LaunchStridedCopy(const void* src, const StridedView& srcView, void* dst, const StridedView& dstView,
                              int64_t numel, int elemBytes, cudaStream_t stream) {
  if (numel == 0) return cudaSuccess;
  switch (elemBytes) {
    case 1: return Copy<1>(src, srcView, dst, dstView, numel, stream);
    case 2: return Copy<2>(src, srcView, dst, dstView, numel, stream);
    case 4: return Copy<4>(src, srcView, dst, dstView, numel, stream);
    case 8: return Copy<8>(src, srcView, dst, dstView, numel, stream);
    case 16: return Copy<16>(src, srcView, dst, dstView, numel, stream);
    default: return cudaErrorInvalidValue;
  }
}

cudaError_t LaunchFill(void* dst, const StridedView& dstView, int64_t numel, int elemBytes, uint64_t value,
                       cudaStream_t stream) {
  if (numel == 0) return cudaSuccess;
  switch (elemBytes) {
    case 1: return Fill<1>(dst, dstView, numel, value, stream);
    case 2: return Fill<2>(dst, dstView, numel, value, stream);
    case 4: return Fill<4>(dst, dstView, numel, value, stream);
    case 8: return Fill<8>(dst, dstView, numel, value, stream);
    default: return cudaErrorInvalidValue;
  }
}

}  // namespace fxrt::kernels
