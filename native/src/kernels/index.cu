#include "kernels/index.h"

namespace fxrt::kernels {

namespace {

template <int B> struct Word;
template <> struct Word<1> { using T = uint8_t; };
template <> struct Word<2> { using T = uint16_t; };
template <> struct Word<4> { using T = uint32_t; };
template <> struct Word<8> { using T = uint64_t; };
template <> struct Word<16> { using T = uint4; };

template <typename W> W FillWord(const uint64_t (&fill)[2]) {
  W w;
  static_assert(sizeof(W) <= 16, "words are at most 16 bytes");
  const char* bytes = reinterpret_cast<const char*>(fill);
  char* out = reinterpret_cast<char*>(&w);
  for (size_t b = 0; b < sizeof(W); b++) out[b] = bytes[b];
  return w;
}

// I: the index type (32-bit whenever every offset fits: 64-bit division is several times slower).
template <typename W, typename Idx, typename I>
__global__ void __launch_bounds__(256) GatherKernel(const GatherParams p, I n) {
  const W* __restrict__ data = static_cast<const W*>(p.data);
  const Idx* __restrict__ index = static_cast<const Idx*>(p.index);
  W* __restrict__ out = static_cast<W*>(p.out);
  const I step = static_cast<I>(gridDim.x) * blockDim.x;
  const long long axisSize = p.axisSize;
  for (I i = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    I rem = i, o = 0, d = 0, x = 0;
    for (int k = p.rank - 1; k >= 0; k--) {
      const I size = static_cast<I>(p.size[k]);
      const I q = rem / size;
      const I c = rem - q * size;
      rem = q;
      o += c * static_cast<I>(p.outStride[k]);
      d += c * static_cast<I>(p.dataStride[k]);
      x += c * static_cast<I>(p.indexStride[k]);
    }
    const long long raw = static_cast<long long>(index[x]);
    const long long v = raw < 0 ? raw + axisSize : raw;
    W w{};
    if (v >= 0 && v < axisSize) w = data[d + static_cast<I>(v) * static_cast<I>(p.axisStride)];
    else ReportDataError(p.dataError, DataErrorCode::IndexOutOfRange, raw, static_cast<int64_t>(x), axisSize);
    out[o] = w;
  }
}

template <typename W, typename I>
__global__ void __launch_bounds__(256) SliceMapKernel(const SliceMapParams p, const W fill, I n) {
  const W* __restrict__ src = static_cast<const W*>(p.src);
  W* __restrict__ dst = static_cast<W*>(p.dst);
  const I step = static_cast<I>(gridDim.x) * blockDim.x;
  for (I i = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    I rem = i, o = 0, s = 0;
    bool inside = true;
    for (int k = p.rank - 1; k >= 0; k--) {
      const I size = static_cast<I>(p.size[k]);
      const I q = rem / size;
      const I c = rem - q * size;
      rem = q;
      o += c * static_cast<I>(p.dstStride[k]);
      I idx = static_cast<I>(p.start[k]) + c * static_cast<I>(p.step[k]);
      const I m = static_cast<I>(p.srcSize[k]);
      if (idx < 0 || idx >= m) {
        switch (p.mode) {
          case SliceMapMode::Fill:
            inside = false;
            idx = 0;  // the element is the fill word; keep the unused source offset in range
            break;
          case SliceMapMode::Clamp: idx = idx < 0 ? I{0} : m - 1; break;
          case SliceMapMode::Wrap:
            idx %= m;
            if (idx < 0) idx += m;
            break;
          case SliceMapMode::Reflect: {
            // Mirror without repeating the edge: period 2(m - 1); a dim of one element reads it.
            if (m == 1) {
              idx = 0;
              break;
            }
            const I period = 2 * (m - 1);
            idx %= period;
            if (idx < 0) idx += period;
            if (idx >= m) idx = period - idx;
            break;
          }
        }
      }
      s += idx * static_cast<I>(p.srcStride[k]);
    }
    dst[o] = inside ? src[s] : fill;
  }
}

template <int B>
cudaError_t Gather(const GatherParams& p, int64_t n, cudaStream_t stream) {
  using W = typename Word<B>::T;
  const unsigned grid = GridFor(n);
  if (p.indexDtype == DType::Int32) {
    if (p.fits32) GatherKernel<W, int32_t, int32_t><<<grid, 256, 0, stream>>>(p, static_cast<int32_t>(n));
    else GatherKernel<W, int32_t, int64_t><<<grid, 256, 0, stream>>>(p, n);
  } else {
    if (p.fits32) GatherKernel<W, long long, int32_t><<<grid, 256, 0, stream>>>(p, static_cast<int32_t>(n));
    else GatherKernel<W, long long, int64_t><<<grid, 256, 0, stream>>>(p, n);
  }
  return cudaGetLastError();
}

template <int B>
cudaError_t SliceMap(const SliceMapParams& p, int64_t n, cudaStream_t stream) {
  using W = typename Word<B>::T;
  const W fill = FillWord<W>(p.fill);
  if (p.fits32) SliceMapKernel<W, int32_t><<<GridFor(n), 256, 0, stream>>>(p, fill, static_cast<int32_t>(n));
  else SliceMapKernel<W, int64_t><<<GridFor(n), 256, 0, stream>>>(p, fill, n);
  return cudaGetLastError();
}

int64_t Numel(const int64_t* size, int rank) {
  int64_t n = 1;
  for (int d = 0; d < rank; d++) n *= size[d];
  return n;
}

}  // namespace

cudaError_t LaunchGather(const GatherParams& p, cudaStream_t stream) {
  const int64_t n = Numel(p.size, p.rank);
  if (n == 0) return cudaSuccess;
  if (p.indexDtype != DType::Int32 && p.indexDtype != DType::Int64) return cudaErrorInvalidValue;
  switch (p.elemBytes) {
    case 1: return Gather<1>(p, n, stream);
    case 2: return Gather<2>(p, n, stream);
    case 4: return Gather<4>(p, n, stream);
    case 8: return Gather<8>(p, n, stream);
    case 16: return Gather<16>(p, n, stream);
    default: return cudaErrorInvalidValue;
  }
}

cudaError_t LaunchSliceMap(const SliceMapParams& p, cudaStream_t stream) {
  const int64_t n = Numel(p.size, p.rank);
  if (n == 0) return cudaSuccess;
  switch (p.elemBytes) {
    case 1: return SliceMap<1>(p, n, stream);
    case 2: return SliceMap<2>(p, n, stream);
    case 4: return SliceMap<4>(p, n, stream);
    case 8: return SliceMap<8>(p, n, stream);
    case 16: return SliceMap<16>(p, n, stream);
    default: return cudaErrorInvalidValue;
  }
}

}  // namespace fxrt::kernels
