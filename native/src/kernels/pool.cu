#include "kernels/pool.h"

#include <type_traits>

#include "kernels/chained_launch.cuh"
#include "kernels/float_convert.cuh"
#include "kernels/quant_math.cuh"
#include "kernels/strided.h"

namespace fxrt::kernels {

namespace {

// The spatial slots a kernel of spatial rank NS uses: W always, H from 2-D, D from 3-D. Unused
// slots fold to constants (size 1, offset 0) at compile time.
template <int NS>
struct Spatial {
  static constexpr bool kD = NS >= 3;
  static constexpr bool kH = NS >= 2;
};

// One output element per thread. I: the index type, 32-bit whenever every offset fits (64-bit
// division is several times slower). TX, TY: x's and y's element types (equal unless kInt8Step).
// kInt8Step: an int8 step (pool.h): integer window sums, the scales, the requantize when TY is int8.
template <int NS, typename TX, typename TY, typename I, bool kInt8Step>
__global__ void __launch_bounds__(256) PoolKernel(const PoolParams p, I total) {
  WaitForPriorGrids();  // launched chained (chained_launch.cuh)
  AllowDependentLaunch();
  constexpr bool kD = Spatial<NS>::kD, kH = Spatial<NS>::kH;
  constexpr bool kRequantize = kInt8Step && std::is_same_v<TY, int8_t>;
  const TX* x = static_cast<const TX*>(p.x);
  TY* y = static_cast<TY*>(p.y);
  // One scale per tensor, read where the kernel runs (a run-time scale may change every execution).
  [[maybe_unused]] const float sx = kInt8Step ? LoadScale(p.xScale, 0, p.xScaleDtype) : 1.f;
  [[maybe_unused]] const float inv = kRequantize ? RequantizeFactor(LoadScale(p.yScale, 0, p.yScaleDtype)) : 0.f;
  const I step = static_cast<I>(gridDim.x) * blockDim.x;
  const I C = static_cast<I>(p.c);
  const I OD = kD ? static_cast<I>(p.out[0]) : 1, OH = kH ? static_cast<I>(p.out[1]) : 1, OW = static_cast<I>(p.out[2]);
  const I D = kD ? static_cast<I>(p.in[0]) : 1, H = kH ? static_cast<I>(p.in[1]) : 1, W = static_cast<I>(p.in[2]);
  const I xsn = static_cast<I>(p.xStride[0]), xsc = static_cast<I>(p.xStride[1]);
  const I xsd = kD ? static_cast<I>(p.xStride[2]) : 0, xsh = kH ? static_cast<I>(p.xStride[3]) : 0, xsw = static_cast<I>(p.xStride[4]);
  const int kd = kD ? p.window[0] : 1, kh = kH ? p.window[1] : 1, kw = p.window[2];
  for (I i = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += step) {
    I rem = i, n, c, od = 0, oh = 0, ow;
    if (p.channelsLast) {
      c = rem % C; rem /= C;
      ow = rem % OW; rem /= OW;
      if (kH) { oh = rem % OH; rem /= OH; }
      if (kD) { od = rem % OD; rem /= OD; }
      n = rem;
    } else {
      ow = rem % OW; rem /= OW;
      if (kH) { oh = rem % OH; rem /= OH; }
      if (kD) { od = rem % OD; rem /= OD; }
      c = rem % C; n = rem / C;
    }
    const I z0 = kD ? od * p.stride[0] - p.pre[0] : 0;
    const I y0 = kH ? oh * p.stride[1] - p.pre[1] : 0;
    const I x0 = ow * p.stride[2] - p.pre[2];
    const TX* plane = x + n * xsn + c * xsc;
    float acc;
    if (p.isMax) {
      const int dd = kD ? p.dilation[0] : 1, dh = kH ? p.dilation[1] : 1, dw = p.dilation[2];
      acc = -INFINITY;
      bool nan = false;
      for (int a = 0; a < kd; a++) {
        const I zz = z0 + static_cast<I>(a) * dd;
        if (kD && (zz < 0 || zz >= D)) continue;
        for (int b = 0; b < kh; b++) {
          const I yy = y0 + static_cast<I>(b) * dh;
          if (kH && (yy < 0 || yy >= H)) continue;
          const TX* row = plane + zz * xsd + yy * xsh;
          for (int e = 0; e < kw; e++) {
            const I xx = x0 + static_cast<I>(e) * dw;
            if (xx < 0 || xx >= W) continue;
            const float v = ToF(row[xx * xsw]);
            if (v != v) nan = true;
            acc = v > acc ? v : acc;
          }
        }
      }
      if (nan) acc = NAN;
    } else {
      // Per dim: the real elements [a, b) and the divisor's window end (clipped to input + post padding).
      I za = 0, zb = 1, zEnd = 1, ya = 0, yb = 1, yEnd = 1;
      if (kD) {
        zEnd = min(z0 + static_cast<I>(kd), D + static_cast<I>(p.post[0]));
        za = max(z0, I{0});
        zb = min(zEnd, D);
      }
      if (kH) {
        yEnd = min(y0 + static_cast<I>(kh), H + static_cast<I>(p.post[1]));
        ya = max(y0, I{0});
        yb = min(yEnd, H);
      }
      const I xEnd = min(x0 + static_cast<I>(kw), W + static_cast<I>(p.post[2]));
      const I xa = max(x0, I{0}), xb = min(xEnd, W);
      // int8: the exact integer sum (the host bounds the window so that it fits in int32).
      std::conditional_t<kInt8Step, int32_t, float> sum = 0;
      for (I zz = za; zz < zb; zz++) {
        for (I yy = ya; yy < yb; yy++) {
          const TX* row = plane + zz * xsd + yy * xsh;
          for (I xx = xa; xx < xb; xx++) {
            if constexpr (kInt8Step) sum += row[xx * xsw];
            else sum += ToF(row[xx * xsw]);
          }
        }
      }
      const bool empty = zb <= za || yb <= ya || xb <= xa;
      const I count = p.excludePadding ? (empty ? 1 : (zb - za) * (yb - ya) * (xb - xa)) : (zEnd - z0) * (yEnd - y0) * (xEnd - x0);
      if constexpr (kInt8Step) {
        // fround(sum / n): the double quotient of two exact values, rounded once to float32.
        const double div = p.divisor != 0.0 ? p.divisor : static_cast<double>(count);
        acc = empty ? 0.f : __double2float_rn(__ddiv_rn(static_cast<double>(sum), div));
      } else {
        const float div = p.divisor != 0.0 ? static_cast<float>(p.divisor) : static_cast<float>(count);
        acc = empty ? 0.f : sum / div;
      }
    }
    TY out;
    if constexpr (kRequantize) out = Requantize(__fmul_rn(acc, sx), inv);
    else if constexpr (kInt8Step) out = FromF<TY>(__fmul_rn(acc, sx));
    else out = FromF<TY>(acc);
    y[static_cast<int64_t>(n) * p.yStride[0] + static_cast<int64_t>(c) * p.yStride[1] + static_cast<int64_t>(od) * p.yStride[2] +
      static_cast<int64_t>(oh) * p.yStride[3] + static_cast<int64_t>(ow) * p.yStride[4]] = out;
  }
}

// The taps [begin, end) of a window axis (k taps, `d` apart, from `start`) that fall inside [0, size).
struct Taps {
  int begin, end;
};
__device__ __forceinline__ Taps TapsInside(int32_t start, int d, int k, int32_t size) {
  const int begin = start >= 0 ? 0 : (-start + d - 1) / d;
  const int end = start >= size ? 0 : min(k, (size - start + d - 1) / d);
  return {begin, end};
}

// Dense channels-last tensors with 16 bytes of channels per thread (C % 8 == 0 for 16-bit types,
// C % 16 == 0 for int8): each thread pools kLanes consecutive channels of one output position
// with 16-byte loads and stores (the per-element kernel moves one element per thread). int8 max
// pooling of quantized values compares four bytes per instruction (__vmaxs4) instead of going
// through float; a window wholly in the padding gives 0, as FromF<int8_t>(-inf) does.
// kStep: an int8 step with an int8 output (pool.h), max or average, with PoolKernel's arithmetic
// lane by lane: exact integer window maxima or sums, the double quotient rounded once, the scales
// and the requantize.
template <int NS, typename T, bool kStep = false>
__global__ void __launch_bounds__(256) PoolChannelsLastVecKernel(const PoolParams p, int32_t total) {
  WaitForPriorGrids();  // launched chained (chained_launch.cuh)
  AllowDependentLaunch();
  static_assert(!kStep || std::is_same_v<T, int8_t>, "int8 steps read int8");
  // An int8 step's scales, one per tensor, read where the kernel runs (run-time scales may change).
  [[maybe_unused]] const float sx = kStep ? LoadScale(p.xScale, 0, p.xScaleDtype) : 0.f;
  [[maybe_unused]] const float inv = kStep ? RequantizeFactor(LoadScale(p.yScale, 0, p.yScaleDtype)) : 0.f;
  constexpr bool kD = Spatial<NS>::kD, kH = Spatial<NS>::kH;
  constexpr int kLanes = 16 / sizeof(T);
  const int32_t C8 = static_cast<int32_t>(p.c / kLanes);
  const int32_t OD = kD ? static_cast<int32_t>(p.out[0]) : 1, OH = kH ? static_cast<int32_t>(p.out[1]) : 1,
                OW = static_cast<int32_t>(p.out[2]);
  const int32_t D = kD ? static_cast<int32_t>(p.in[0]) : 1, H = kH ? static_cast<int32_t>(p.in[1]) : 1, W = static_cast<int32_t>(p.in[2]);
  const int kd = kD ? p.window[0] : 1, kh = kH ? p.window[1] : 1, kw = p.window[2];
  const int dd = !p.isMax || !kD ? 1 : p.dilation[0], dh = !p.isMax || !kH ? 1 : p.dilation[1], dw = p.isMax ? p.dilation[2] : 1;
  const uint4* x = static_cast<const uint4*>(p.x);
  uint4* y = static_cast<uint4*>(p.y);
  const int32_t step = static_cast<int32_t>(gridDim.x) * blockDim.x;
  for (int32_t i = static_cast<int32_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += step) {
    int32_t rem = i, od = 0, oh = 0;
    const int32_t cg = rem % C8;
    rem /= C8;
    const int32_t ow = rem % OW;
    rem /= OW;
    if (kH) { oh = rem % OH; rem /= OH; }
    if (kD) { od = rem % OD; rem /= OD; }
    const int32_t n = rem;
    const int32_t z0 = kD ? od * p.stride[0] - p.pre[0] : 0, y0 = kH ? oh * p.stride[1] - p.pre[1] : 0;
    const int32_t x0 = ow * p.stride[2] - p.pre[2];
    // fn(word) for each 16-byte word of the window that lies inside the input, in window order
    // (depth, row, column), loaded eight at a time so that eight loads are in flight (a thread's
    // window is a chain of dependent steps otherwise: 49 load latencies for a 7x7 average).
    const auto forWindow = [&](auto&& fn) {
      const Taps ta = kD ? TapsInside(z0, dd, kd, D) : Taps{0, 1}, tb = kH ? TapsInside(y0, dh, kh, H) : Taps{0, 1};
      const Taps te = TapsInside(x0, dw, kw, W);
      const int nb = tb.end - tb.begin, ne = te.end - te.begin;
      const int count = max(ta.end - ta.begin, 0) * max(nb, 0) * max(ne, 0);
      if (count == 0) return;
      // fits32: every offset into x fits in int32.
      const int32_t sa = dd * H * W * C8, sb = dh * W * C8, se = dw * C8;
      const uint4* const first = x + (((n * D + (kD ? z0 + ta.begin * dd : 0)) * H + (kH ? y0 + tb.begin * dh : 0)) * W + x0 + te.begin * dw) * C8 + cg;
      int a = 0, b = 0, e = 0;
      for (int t = 0; t < count; t += 8) {
        uint4 w[8];
#pragma unroll
        for (int j = 0; j < 8; j++) {
          if (t + j < count) {
            w[j] = first[a * sa + b * sb + e * se];
            if (++e == ne) {
              e = 0;
              if (++b == nb) b = 0, a++;
            }
          }
        }
#pragma unroll
        for (int j = 0; j < 8; j++) {
          if (t + j < count) fn(w[j]);
        }
      }
    };
    // The average's divisor and whether the window lies wholly in the padding.
    const auto divisorOf = [&](bool* empty) {
      int32_t real = 1, padded = 1;
      const int32_t starts[3] = {z0, y0, x0}, sizes[3] = {D, H, W};
      *empty = false;
      for (int s = 3 - NS; s < 3; s++) {
        const int32_t end = min(starts[s] + p.window[s], sizes[s] + p.post[s]);
        const int32_t lo = max(starts[s], 0), hi = min(end, sizes[s]);
        *empty = *empty || hi <= lo;
        real *= max(hi - lo, 0);
        padded *= end - starts[s];
      }
      return p.divisor != 0.0 ? p.divisor : static_cast<double>(p.excludePadding ? (*empty ? 1 : real) : padded);
    };
    if constexpr (kStep) {
      int32_t acc[16];
#pragma unroll
      for (int j = 0; j < 16; j++) acc[j] = p.isMax ? -128 : 0;
      bool seen = false;
      forWindow([&](const uint4& w) {
        const uint32_t words[4] = {w.x, w.y, w.z, w.w};
#pragma unroll
        for (int j = 0; j < 16; j++) {
          const int32_t v = static_cast<int8_t>(words[j >> 2] >> ((j & 3) * 8));
          acc[j] = p.isMax ? max(acc[j], v) : acc[j] + v;
        }
        seen = true;
      });
      bool empty = false;
      const double div = p.isMax ? 1.0 : divisorOf(&empty);
      uint32_t words[4] = {0, 0, 0, 0};
#pragma unroll
      for (int j = 0; j < 16; j++) {
        float r;
        if (p.isMax) r = seen ? static_cast<float>(acc[j]) : -INFINITY;
        else r = empty ? 0.f : __double2float_rn(__ddiv_rn(static_cast<double>(acc[j]), div));
        words[j >> 2] |= static_cast<uint32_t>(static_cast<uint8_t>(Requantize(__fmul_rn(r, sx), inv))) << ((j & 3) * 8);
      }
      y[(((static_cast<int64_t>(n) * OD + od) * OH + oh) * OW + ow) * C8 + cg] = make_uint4(words[0], words[1], words[2], words[3]);
    } else if constexpr (std::is_same_v<T, int8_t>) {
      uint4 m = make_uint4(0x80808080u, 0x80808080u, 0x80808080u, 0x80808080u);
      bool seen = false;
      forWindow([&](const uint4& w) {
        m = make_uint4(__vmaxs4(m.x, w.x), __vmaxs4(m.y, w.y), __vmaxs4(m.z, w.z), __vmaxs4(m.w, w.w));
        seen = true;
      });
      y[(((static_cast<int64_t>(n) * OD + od) * OH + oh) * OW + ow) * C8 + cg] = seen ? m : make_uint4(0, 0, 0, 0);
    } else {
      float acc[kLanes];
      bool nan[kLanes];
      for (int j = 0; j < kLanes; j++) {
        acc[j] = p.isMax ? -INFINITY : 0.f;
        nan[j] = false;
      }
      forWindow([&](const uint4& word) {
        const T* v = reinterpret_cast<const T*>(&word);
        for (int j = 0; j < kLanes; j++) {
          const float f = ToF(v[j]);
          if (p.isMax) {
            nan[j] = nan[j] || f != f;
            acc[j] = f > acc[j] ? f : acc[j];
          } else {
            acc[j] += f;
          }
        }
      });
      float div = 1.f;
      bool empty = false;
      if (!p.isMax) div = static_cast<float>(divisorOf(&empty));
      uint4 out;
      T* o = reinterpret_cast<T*>(&out);
      for (int j = 0; j < kLanes; j++) {
        const float r = p.isMax ? (nan[j] ? NAN : acc[j]) : (empty ? 0.f : acc[j] / div);
        o[j] = FromF<T>(r);
      }
      y[(((static_cast<int64_t>(n) * OD + od) * OH + oh) * OW + ow) * C8 + cg] = out;
    }
  }
}

// Whether `s` are the strides of a dense channels-last [n, spatial..., c] tensor with spatial
// sizes `sizes` (dims of one element may have any stride).
bool DenseChannelsLast(const PoolParams& p, const int64_t* s, const int64_t* sizes) {
  if (s[1] != 1) return false;
  int64_t expect = p.c;
  for (int d = kMaxPoolDims - 1; d >= 0; d--) {
    if (sizes[d] != 1 && s[2 + d] != expect) return false;
    expect *= sizes[d];
  }
  return p.n == 1 || s[0] == expect;
}

template <int NS, typename TX, typename TY, bool kInt8Step>
cudaError_t Launch(const PoolParams& p, int64_t total, bool fits32, cudaStream_t stream) {
  const dim3 grid(GridFor(total));
  if (fits32) return LaunchChained(PoolKernel<NS, TX, TY, int32_t, kInt8Step>, grid, dim3(256), 0, stream, p, static_cast<int32_t>(total));
  return LaunchChained(PoolKernel<NS, TX, TY, int64_t, kInt8Step>, grid, dim3(256), 0, stream, p, total);
}

// An int8 step: int8 x, y int8 (requantized) or a float.
template <int NS>
cudaError_t LaunchInt8Step(const PoolParams& p, int64_t total, bool fits32, cudaStream_t stream) {
  if (p.dtype != DType::Int8 || (p.yDtype == DType::Int8) != (p.yScale != nullptr)) return cudaErrorInvalidValue;
  switch (p.yDtype) {
    case DType::Int8: return Launch<NS, int8_t, int8_t, true>(p, total, fits32, stream);
    case DType::Float32: return Launch<NS, int8_t, float, true>(p, total, fits32, stream);
    case DType::Float16: return Launch<NS, int8_t, __half, true>(p, total, fits32, stream);
    case DType::BFloat16: return Launch<NS, int8_t, __nv_bfloat16, true>(p, total, fits32, stream);
    default: return cudaErrorInvalidValue;
  }
}

template <int NS>
cudaError_t LaunchRank(const PoolParams& p, int64_t total, bool fits32, bool vec, cudaStream_t stream) {
  if (vec) {
    const int32_t work = static_cast<int32_t>(total / (p.dtype == DType::Int8 ? 16 : 8));
    const dim3 grid(GridFor(work));
    if (p.xScale != nullptr) return LaunchChained(PoolChannelsLastVecKernel<NS, int8_t, true>, grid, dim3(256), 0, stream, p, work);
    if (p.dtype == DType::Float16) return LaunchChained(PoolChannelsLastVecKernel<NS, __half>, grid, dim3(256), 0, stream, p, work);
    if (p.dtype == DType::BFloat16) return LaunchChained(PoolChannelsLastVecKernel<NS, __nv_bfloat16>, grid, dim3(256), 0, stream, p, work);
    return LaunchChained(PoolChannelsLastVecKernel<NS, int8_t>, grid, dim3(256), 0, stream, p, work);
  }
  if (p.xScale != nullptr) return LaunchInt8Step<NS>(p, total, fits32, stream);
  if (p.yDtype != p.dtype) return cudaErrorInvalidValue;
  switch (p.dtype) {
    case DType::Float32: return Launch<NS, float, float, false>(p, total, fits32, stream);
    case DType::Float16: return Launch<NS, __half, __half, false>(p, total, fits32, stream);
    case DType::BFloat16: return Launch<NS, __nv_bfloat16, __nv_bfloat16, false>(p, total, fits32, stream);
    case DType::Int8: return p.isMax ? Launch<NS, int8_t, int8_t, false>(p, total, fits32, stream) : cudaErrorInvalidValue;
    default: return cudaErrorInvalidValue;
  }
}

// The elements of the output, and whether every offset of the launch fits in int32.
int64_t PoolTotal(const PoolParams& p, bool* fits32) {
  int64_t total = p.n * p.c, span = p.n * p.c;
  for (int d = 0; d < kMaxPoolDims; d++) {
    total *= p.out[d];
    span *= p.in[d];
  }
  StridedView xv;
  xv.rank = 2 + kMaxPoolDims;
  xv.size[0] = p.n;
  xv.size[1] = p.c;
  for (int d = 0; d < kMaxPoolDims; d++) xv.size[2 + d] = p.in[d] + p.pre[d] + p.post[d];
  for (int d = 0; d < xv.rank; d++) xv.stride[d] = p.xStride[d];
  *fits32 = Fits32(total, xv) && span < (int64_t{1} << 30) && total < (int64_t{1} << 30);
  return total;
}

// PoolVectorized, given whether the launch's offsets fit in int32 (PoolTotal).
bool VectorizedWith(const PoolParams& p, bool fits32) {
  bool undilated = true;
  for (int d = 0; d < kMaxPoolDims; d++) undilated = undilated && p.dilation[d] == 1;
  // 16 bytes of channels per thread: 16-bit floats, int8 max pooling (quantized values moved
  // through a max pool), or an int8 step with an int8 output.
  const bool step = p.xScale != nullptr;
  const bool lanes = p.dtype == DType::Int8 ? (p.isMax || step) && p.c % 16 == 0 : (p.dtype == DType::Float16 || p.dtype == DType::BFloat16) && p.c % 8 == 0;
  const bool vec = lanes && p.yDtype == p.dtype && (!step || p.yScale != nullptr) && fits32 && DenseChannelsLast(p, p.xStride, p.in) &&
                   DenseChannelsLast(p, p.yStride, p.out) && reinterpret_cast<uintptr_t>(p.x) % 16 == 0 &&
                   reinterpret_cast<uintptr_t>(p.y) % 16 == 0 && (p.isMax || undilated);
  return vec;
}

}  // namespace

bool PoolVectorized(const PoolParams& p) {
  bool fits32 = false;
  PoolTotal(p, &fits32);
  return VectorizedWith(p, fits32);
}

cudaError_t LaunchPool(const PoolParams& p, cudaStream_t stream) {
  bool fits32 = false;
  const int64_t total = PoolTotal(p, &fits32);
  if (total == 0) return cudaSuccess;
  const bool vec = VectorizedWith(p, fits32);
  switch (p.spatialDims) {
    case 1: return LaunchRank<1>(p, total, fits32, vec, stream);
    case 2: return LaunchRank<2>(p, total, fits32, vec, stream);
    case 3: return LaunchRank<3>(p, total, fits32, vec, stream);
    default: return cudaErrorInvalidValue;
  }
}

}  // namespace fxrt::kernels
