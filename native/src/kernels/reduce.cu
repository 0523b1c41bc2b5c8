#include "kernels/reduce.h"

#include <climits>
#include <type_traits>

#include "kernels/float_convert.cuh"

namespace fxrt::kernels {

namespace {

// ---- accumulators: Init, Step (element j of the reduction, j increasing per thread), Combine,
// a warp shuffle, and Finish (the rounded result of `count` elements) ----

// Sum and product: float64 for floats (the reference's accumulator), wrapping 64-bit for integers.
template <typename T, bool kProd>
struct Arith {
  static constexpr bool kFloat = IsStorageFloat<T>::value;
  using Acc = std::conditional_t<kFloat, double, unsigned long long>;
  __device__ static Acc Init() { return kProd ? Acc(1) : Acc(0); }
  __device__ static Acc Combine(Acc a, Acc b) { return kProd ? a * b : a + b; }
  __device__ static Acc Step(Acc a, T v, long long) {
    if constexpr (kFloat) return Combine(a, static_cast<double>(ToF(v)));
    else return Combine(a, static_cast<Acc>(static_cast<long long>(v)));
  }
  __device__ static Acc Shfl(Acc a, int mask) { return __shfl_xor_sync(0xffffffffu, a, mask); }
  __device__ static T Finish(Acc a, long long count, bool avg) {
    if constexpr (kFloat) {
      // avg of nothing is 0 / 0 = NaN, as the reference's mean.
      return FromF<T>(__double2float_rn(avg ? a / static_cast<double>(count) : a));
    } else {
      return static_cast<T>(static_cast<long long>(a));  // wraps like the reference's integer store
    }
  }
};

// Float max / min: NaN wins; among equal values the first in index order (decides -0 versus 0).
template <typename T, bool kMax>
struct FloatExtremum {
  struct Acc {
    float v;
    long long at;
  };
  // Whether (a, ia) replaces (b, ib).
  __device__ static bool Beats(float a, long long ia, float b, long long ib) {
    if (b != b) return false;
    if (a != a) return true;
    if (kMax ? a > b : a < b) return true;
    return a == b && ia < ib;
  }
  __device__ static Acc Init() { return Acc{kMax ? -INFINITY : INFINITY, LLONG_MAX}; }
  __device__ static Acc Combine(Acc a, Acc b) { return Beats(b.v, b.at, a.v, a.at) ? b : a; }
  __device__ static Acc Step(Acc a, T v, long long j) { return Combine(a, Acc{ToF(v), j}); }
  __device__ static Acc Shfl(Acc a, int mask) {
    return Acc{__shfl_xor_sync(0xffffffffu, a.v, mask), __shfl_xor_sync(0xffffffffu, a.at, mask)};
  }
  // An empty reduction keeps the initial infinity, as the reference's fold.
  __device__ static T Finish(Acc a, long long, bool) { return FromF<T>(a.v); }
};

// Integer max / min, exact in 64 bits.
template <typename T, bool kMax>
struct IntExtremum {
  using Acc = long long;
  __device__ static Acc Init() { return kMax ? LLONG_MIN : LLONG_MAX; }
  __device__ static Acc Combine(Acc a, Acc b) { return kMax ? (b > a ? b : a) : (b < a ? b : a); }
  __device__ static Acc Step(Acc a, T v, long long) { return Combine(a, static_cast<long long>(v)); }
  __device__ static Acc Shfl(Acc a, int mask) { return __shfl_xor_sync(0xffffffffu, a, mask); }
  // The reference folds in float64 from -inf (stored as 0) for int8/uint8/int32, in int64 from INT64_MIN.
  __device__ static T Finish(Acc a, long long count, bool) {
    return count == 0 && sizeof(T) < 8 ? T(0) : static_cast<T>(a);
  }
};

template <typename T, bool kMax>
using Extremum = std::conditional_t<IsStorageFloat<T>::value, FloatExtremum<T, kMax>, IntExtremum<T, kMax>>;

template <typename P>
__device__ __forceinline__ typename P::Acc WarpReduce(typename P::Acc a) {
#pragma unroll
  for (int mask = 16; mask > 0; mask >>= 1) a = P::Combine(a, P::Shfl(a, mask));
  return a;
}

// ---- indexing ----

// What every kernel needs besides the params.
struct Work {
  long long outputs;  // product of the kept sizes
  long long count;    // product of the reduced sizes
  bool fits32;        // every offset into x and y fits in 32 bits
  bool avg;
};

template <typename I>
__device__ __forceinline__ void KeptOffsetsOf(const ReduceParams& p, I o, long long& xo, long long& yo) {
  I x = 0, y = 0;
  for (int d = p.kept.rank - 1; d >= 0; d--) {
    const I size = static_cast<I>(p.kept.size[d]);
    const I q = o / size;
    const I c = o - q * size;
    x += c * static_cast<I>(p.kept.stride[d]);
    y += c * static_cast<I>(p.yStride[d]);
    o = q;
  }
  xo = x;
  yo = y;
}

// Offsets of output `o`'s first input element and of its place in y.
__device__ __forceinline__ void KeptOffsets(const ReduceParams& p, const Work& w, long long o, long long& xo, long long& yo) {
  if (w.fits32) KeptOffsetsOf<int>(p, static_cast<int>(o), xo, yo);
  else KeptOffsetsOf<long long>(p, o, xo, yo);
}

// Offset of reduced element `j` from its output's first element.
__device__ __forceinline__ long long ReducedOffset(const ReduceParams& p, const Work& w, long long j) {
  if (p.reduced.rank <= 1) return j * p.reduced.stride[0];
  if (w.fits32) return StridedOffset<int>(static_cast<int>(j), p.reduced);
  return StridedOffset<long long>(j, p.reduced);
}

// ---- kernels ----

constexpr int kRowWarps = 8;  // rows per 256-thread block of the warp kernel

// One warp per output; lanes read consecutive reduced elements.
template <typename T, typename P>
__global__ void __launch_bounds__(kRowWarps * 32) WarpRowsKernel(const ReduceParams p, const Work w) {
  const T* x = static_cast<const T*>(p.x);
  T* y = static_cast<T*>(p.y);
  const int lane = threadIdx.x & 31;
  const long long step = static_cast<long long>(gridDim.x) * kRowWarps;
  for (long long row = static_cast<long long>(blockIdx.x) * kRowWarps + threadIdx.x / 32; row < w.outputs; row += step) {
    long long xo, yo;
    KeptOffsets(p, w, row, xo, yo);
    typename P::Acc acc = P::Init();
#pragma unroll 4
    for (long long j = lane; j < w.count; j += 32) acc = P::Step(acc, x[xo + ReducedOffset(p, w, j)], j);
    acc = WarpReduce<P>(acc);
    if (lane == 0) y[yo] = P::Finish(acc, w.count, w.avg);
  }
}

// One block (blockDim.x a multiple of 32, at most 1024) per output: long rows.
template <typename T, typename P>
__global__ void __launch_bounds__(1024) BlockRowsKernel(const ReduceParams p, const Work w) {
  __shared__ typename P::Acc partial[32];
  const T* x = static_cast<const T*>(p.x);
  T* y = static_cast<T*>(p.y);
  const int lane = threadIdx.x & 31, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  for (long long row = blockIdx.x; row < w.outputs; row += gridDim.x) {
    long long xo, yo;
    KeptOffsets(p, w, row, xo, yo);
    typename P::Acc acc = P::Init();
#pragma unroll 4
    for (long long j = threadIdx.x; j < w.count; j += blockDim.x) acc = P::Step(acc, x[xo + ReducedOffset(p, w, j)], j);
    acc = WarpReduce<P>(acc);
    if (lane == 0) partial[warp] = acc;
    __syncthreads();
    if (warp == 0) {
      acc = lane < warps ? partial[lane] : P::Init();
      acc = WarpReduce<P>(acc);
      if (lane == 0) y[yo] = P::Finish(acc, w.count, w.avg);
    }
    __syncthreads();
  }
}

// Block (32, ny): thread x owns output base + x, thread rows split its reduction, combined in order.
template <typename T, typename P>
__global__ void __launch_bounds__(1024) ColumnsKernel(const ReduceParams p, const Work w) {
  __shared__ typename P::Acc partial[1024];
  const T* x = static_cast<const T*>(p.x);
  T* y = static_cast<T*>(p.y);
  const int tx = threadIdx.x, ty = threadIdx.y, ny = blockDim.y;
  for (long long base = static_cast<long long>(blockIdx.x) * 32; base < w.outputs; base += static_cast<long long>(gridDim.x) * 32) {
    const long long o = base + tx;
    typename P::Acc acc = P::Init();
    long long xo = 0, yo = 0;
    if (o < w.outputs) {
      KeptOffsets(p, w, o, xo, yo);
#pragma unroll 4
      for (long long j = ty; j < w.count; j += ny) acc = P::Step(acc, x[xo + ReducedOffset(p, w, j)], j);
    }
    if (ny > 1) {
      partial[ty * 32 + tx] = acc;
      __syncthreads();
      if (ty == 0) {
        for (int r = 1; r < ny; r++) acc = P::Combine(acc, partial[r * 32 + tx]);
      }
      __syncthreads();
    }
    if (ty == 0 && o < w.outputs) y[yo] = P::Finish(acc, w.count, w.avg);
  }
}

// ---- launch ----

long long Numel(const StridedView& v) {
  long long n = 1;
  for (int d = 0; d < v.rank; d++) n *= v.size[d];
  return n;
}

// Smallest |stride| among the dims of `v` with more than one element (LLONG_MAX: none).
long long MinStride(const StridedView& v) {
  long long m = LLONG_MAX;
  for (int d = 0; d < v.rank; d++) {
    const long long s = v.stride[d] < 0 ? -v.stride[d] : v.stride[d];
    if (v.size[d] > 1 && s < m) m = s;
  }
  return m;
}

long long Reach(const StridedView& v, const int64_t* strides) {
  long long r = 0;
  for (int d = 0; d < v.rank; d++) {
    if (v.size[d] > 0) r += (v.size[d] - 1) * (strides[d] < 0 ? -strides[d] : strides[d]);
  }
  return r;
}

constexpr long long kMaxGrid = 65535;

template <typename T, typename P>
cudaError_t Run(const ReduceParams& p, const Work& w, cudaStream_t stream) {
  switch (ChooseReducePath(p)) {
    case ReducePath::WarpRows: {
      const long long blocks = (w.outputs + kRowWarps - 1) / kRowWarps;
      WarpRowsKernel<T, P><<<static_cast<unsigned>(blocks < kMaxGrid ? blocks : kMaxGrid), kRowWarps * 32, 0, stream>>>(p, w);
      break;
    }
    case ReducePath::BlockRows: {
      const unsigned threads = w.count >= 16384 ? 1024 : 256;
      BlockRowsKernel<T, P><<<static_cast<unsigned>(w.outputs < kMaxGrid ? w.outputs : kMaxGrid), threads, 0, stream>>>(p, w);
      break;
    }
    case ReducePath::Columns: {
      unsigned ny = 1;
      while (ny < 8 && static_cast<long long>(ny) < w.count) ny <<= 1;
      if (w.count >= 64 && w.outputs <= 32 * 256) ny = 32;  // few outputs: split long reductions wider
      const long long blocks = (w.outputs + 31) / 32;
      ColumnsKernel<T, P><<<static_cast<unsigned>(blocks < kMaxGrid ? blocks : kMaxGrid), dim3(32, ny), 0, stream>>>(p, w);
      break;
    }
  }
  return cudaGetLastError();
}

template <typename T>
cudaError_t Dispatch(const ReduceParams& p, const Work& w, cudaStream_t stream) {
  switch (p.fn) {
    case ReduceFn::Sum: return Run<T, Arith<T, false>>(p, w, stream);
    case ReduceFn::Avg:
      if constexpr (IsStorageFloat<T>::value) return Run<T, Arith<T, false>>(p, w, stream);
      else return cudaErrorInvalidValue;
    case ReduceFn::Prod: return Run<T, Arith<T, true>>(p, w, stream);
    case ReduceFn::Max: return Run<T, Extremum<T, true>>(p, w, stream);
    case ReduceFn::Min: return Run<T, Extremum<T, false>>(p, w, stream);
  }
  return cudaErrorInvalidValue;
}

}  // namespace

ReducePath ChooseReducePath(const ReduceParams& p) {
  const long long outputs = Numel(p.kept), count = Numel(p.reduced);
  const bool rows = count >= 16 && MinStride(p.reduced) < MinStride(p.kept);
  if (!rows) return ReducePath::Columns;
  return count >= 4096 || (count >= 512 && outputs <= 1024) ? ReducePath::BlockRows : ReducePath::WarpRows;
}

const char* ReducePathName(ReducePath path) {
  switch (path) {
    case ReducePath::WarpRows: return "warp_rows";
    case ReducePath::BlockRows: return "block_rows";
    case ReducePath::Columns: return "columns";
  }
  return "?";
}

cudaError_t LaunchReduce(const ReduceParams& p, cudaStream_t stream) {
  Work w{};
  w.outputs = Numel(p.kept);
  w.count = Numel(p.reduced);
  if (w.outputs == 0) return cudaSuccess;
  w.avg = p.fn == ReduceFn::Avg;
  const long long limit = INT_MAX;
  w.fits32 = w.outputs <= limit && w.count <= limit && Reach(p.kept, p.kept.stride) + Reach(p.reduced, p.reduced.stride) <= limit &&
             Reach(p.kept, p.yStride) <= limit;
  switch (p.dtype) {
    case DType::Float32: return Dispatch<float>(p, w, stream);
    case DType::Float16: return Dispatch<__half>(p, w, stream);
    case DType::BFloat16: return Dispatch<__nv_bfloat16>(p, w, stream);
    case DType::Int8: return Dispatch<int8_t>(p, w, stream);
    case DType::UInt8: return Dispatch<uint8_t>(p, w, stream);
    case DType::Int32: return Dispatch<int32_t>(p, w, stream);
    case DType::Int64: return Dispatch<int64_t>(p, w, stream);
    case DType::Bool: return cudaErrorInvalidValue;
  }
  return cudaErrorInvalidValue;
}

}  // namespace fxrt::kernels
