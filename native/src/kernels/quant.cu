#include "kernels/quant.h"

#include <climits>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>

#include "kernels/chained_launch.cuh"
#include "kernels/float_convert.cuh"
#include "kernels/quant_math.cuh"

namespace fxrt::kernels {

namespace {

// float8e4m3 storage: the bit pattern (zero point 0, quant_math.cuh's conversions).
struct Fp8Bits {
  uint8_t bits;
};

__device__ __forceinline__ long long LoadZeroPoint(const void* p, long long i, DType t) {
  if (p == nullptr) return 0;
  switch (t) {
    case DType::Int8: return static_cast<const int8_t*>(p)[i];
    case DType::UInt8: return static_cast<const uint8_t*>(p)[i];
    default: return static_cast<const int32_t*>(p)[i];
  }
}

// zeroPoint + round_half_even(x * inv), each step rounded to float32 as the reference's
// Math.fround, saturated to Q's range (NaN and +inf to its max); float8e4m3: e4m3(fround(x * inv)).
template <typename Q>
__device__ __forceinline__ Q Quantize(float x, float inv, long long zeroPoint) {
  if constexpr (std::is_same_v<Q, Fp8Bits>) {
    return Fp8Bits{F32ToF8e4m3(__fmul_rn(x, inv))};  // zero point 0
  } else {
    if (zeroPoint == 0) {
      // zeroPoint + r is r itself: no double arithmetic (the common symmetric case).
      constexpr float lo = static_cast<float>(std::numeric_limits<Q>::min());
      constexpr float hi = static_cast<float>(std::numeric_limits<Q>::max());
      if constexpr (sizeof(Q) == 1) {
        return static_cast<Q>(ClampRoundWord(__fmul_rn(x, inv), lo, hi) & 0xffu);  // quant_math.cuh
      } else {
        const float r = rintf(__fmul_rn(x, inv));
        if (!(r < hi)) return std::numeric_limits<Q>::max();
        if (r <= lo) return std::numeric_limits<Q>::min();
        return static_cast<Q>(r);
      }
    }
    const float r = rintf(__fmul_rn(x, inv));
    const double q = static_cast<double>(__double2float_rn(static_cast<double>(zeroPoint) + static_cast<double>(r)));
    constexpr double lo = static_cast<double>(std::numeric_limits<Q>::min());
    constexpr double hi = static_cast<double>(std::numeric_limits<Q>::max());
    if (!(q < hi)) return std::numeric_limits<Q>::max();
    if (q <= lo) return std::numeric_limits<Q>::min();
    return static_cast<Q>(q);
  }
}

// scale * (q - zeroPoint) with the difference and the product each rounded to float32.
template <typename Q>
__device__ __forceinline__ float Dequantize(Q q, float scale, long long zeroPoint) {
  if constexpr (std::is_same_v<Q, Fp8Bits>) return __fmul_rn(scale, F8e4m3ToF32(q.bits));
  else return __fmul_rn(scale, __ll2float_rn(static_cast<long long>(q) - zeroPoint));
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
  WaitForPriorGrids();  // launched chained (chained_launch.cuh)
  AllowDependentLaunch();
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

// Groups of 8 elements each thread of QuantizeContiguous8 quantizes per pass, their loads issued
// together. On the H100, in the seed MLP's int8 engine (scripts/gpu/cupti_trace.sh; session 34 in
// bench/results/igemm_2026-11-23_mlp_bounds.md), 4 groups per thread (a grid of one wave) took
// 1-2 us off each run against 1 group (2.4 waves of blocks), mostly because the chained GEMM after
// it starts sooner; 2 groups were slower than 4, and 8 no faster.
constexpr int kGroupsPerThread = 4;

// The contiguous per-tensor quantize (the common case: an activation's Q), 8 elements per group:
// one or two 16-byte loads of x, one 8-byte store of the 1-byte quantized type, kGroupsPerThread
// groups per thread and pass (consecutive threads take consecutive groups); the same arithmetic
// as QuantKernel. The tail past the last full group of 8 runs one element per thread.
template <typename TX, typename TY>
__global__ void __launch_bounds__(256) QuantizeContiguous8(const TX* __restrict__ x, TY* __restrict__ y, const void* scalePtr, DType scaleDtype,
                                                           const void* zpPtr, DType zpDtype, long long total) {
  WaitForPriorGrids();  // launched chained (chained_launch.cuh)
  AllowDependentLaunch();
  static_assert(sizeof(TY) == 1, "one-byte quantized types");
  constexpr int kWords = static_cast<int>(sizeof(TX) * 8 / 16);
  const float scale = LoadScale(scalePtr, 0, scaleDtype);
  const float inv = __frcp_rn(scale);
  const long long zeroPoint = LoadZeroPoint(zpPtr, 0, zpDtype);
  const long long groups = total / 8;
  const long long step = static_cast<long long>(gridDim.x) * blockDim.x * kGroupsPerThread;
  for (long long first = static_cast<long long>(blockIdx.x) * blockDim.x * kGroupsPerThread + threadIdx.x; first < groups; first += step) {
    union {
      uint4 v[kWords];
      TX e[8];
    } in[kGroupsPerThread];
#pragma unroll
    for (int i = 0; i < kGroupsPerThread; i++) {
      const long long g = first + static_cast<long long>(i) * blockDim.x;
      if (g < groups) {
#pragma unroll
        for (int j = 0; j < kWords; j++) in[i].v[j] = reinterpret_cast<const uint4*>(x + g * 8)[j];
      }
    }
#pragma unroll
    for (int i = 0; i < kGroupsPerThread; i++) {
      const long long g = first + static_cast<long long>(i) * blockDim.x;
      if (g < groups) {
        union {
          uint2 v;
          TY e[8];
        } out;
#pragma unroll
        for (int j = 0; j < 8; j++) out.e[j] = Quantize<TY>(ToF(in[i].e[j]), inv, zeroPoint);
        reinterpret_cast<uint2*>(y)[g] = out.v;
      }
    }
  }
  const long long tailStep = static_cast<long long>(gridDim.x) * blockDim.x;
  for (long long i = groups * 8 + static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += tailStep) {
    y[i] = Quantize<TY>(ToF(x[i]), inv, zeroPoint);
  }
}

// A per-tensor quantize into a contiguous y whose last dimension is short (a layout change such as
// NCHW → NHWC on a 3-channel image): one thread per row of that dimension, so the index arithmetic
// of the outer dimensions is done once per row, not once per element; the same arithmetic as
// QuantKernel. Consecutive threads read consecutive x wherever the dimension before the last is
// x's contiguous one, and write consecutive rows of y.
template <typename TX, typename TY, typename I>
__global__ void __launch_bounds__(256) QuantizeRows(const QuantParams p, I rows) {
  WaitForPriorGrids();  // launched chained (chained_launch.cuh)
  AllowDependentLaunch();
  const TX* x = static_cast<const TX*>(p.x.ptr);
  TY* y = static_cast<TY*>(p.y);
  const float inv = __frcp_rn(LoadScale(p.scale.ptr, 0, p.scale.dtype));
  const long long zeroPoint = LoadZeroPoint(p.zeroPoint, 0, p.zeroPointDtype);
  const int last = p.rank - 1;
  const int cols = static_cast<int>(p.size[last]);
  const I xs = static_cast<I>(p.x.stride[last]);
  const I step = static_cast<I>(gridDim.x) * blockDim.x;
  for (I r = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x; r < rows; r += step) {
    I rest = r, xo = 0;
    for (int d = last - 1; d >= 0; d--) {
      const I size = static_cast<I>(p.size[d]);
      const I q = rest / size;
      xo += (rest - q * size) * static_cast<I>(p.x.stride[d]);
      rest = q;
    }
    TY* out = y + r * cols;
    for (int c = 0; c < cols; c++) out[c] = Quantize<TY>(ToF(x[xo + c * xs]), inv, zeroPoint);
  }
}

// The largest last dimension QuantizeRows takes.
constexpr int64_t kMaxQuantizeRow = 64;

// Whether y is contiguous over the iteration shape (row-major).
bool YContiguous(const QuantParams& p) {
  int64_t expect = 1;
  for (int d = p.rank - 1; d >= 0; d--) {
    if (p.size[d] != 1 && p.yStride[d] != expect) return false;
    expect *= p.size[d];
  }
  return true;
}

long long Reach(const QuantParams& p, const int64_t* strides) {
  long long r = 0;
  for (int d = 0; d < p.rank; d++) r += (p.size[d] - 1) * (strides[d] < 0 ? -strides[d] : strides[d]);
  return r;
}

bool IsFloatDtype(DType t) { return t == DType::Float32 || t == DType::Float16 || t == DType::BFloat16; }

// The kernel of a launch (its coalesced parameters, `uniform`: one scale and zero point): the
// contiguous per-tensor quantize into a one-byte type from 16-byte aligned x and 8-byte aligned y,
// the short-row quantize, or the general one.
enum class QuantForm { Contiguous8, Rows, General };
QuantForm FormOf(const QuantParams& p, bool uniform) {
  if (!p.quantize || !IsFloatDtype(p.x.dtype) || !uniform) return QuantForm::General;
  const bool byteY = p.yDtype == DType::Int8 || p.yDtype == DType::UInt8 || p.yDtype == DType::Float8E4M3;
  const bool contiguous = p.rank == 1 && p.x.stride[0] == 1 && p.yStride[0] == 1;
  const bool aligned = reinterpret_cast<uintptr_t>(p.x.ptr) % 16 == 0 && reinterpret_cast<uintptr_t>(p.y) % 8 == 0;
  if (byteY && contiguous && aligned) return QuantForm::Contiguous8;
  const int64_t cols = p.rank >= 2 ? p.size[p.rank - 1] : 0;
  if (cols >= 2 && cols <= kMaxQuantizeRow && p.x.stride[p.rank - 1] != 1 && YContiguous(p)) return QuantForm::Rows;
  return QuantForm::General;
}

template <typename TX, typename TY>
cudaError_t Launch(const QuantParams& p, QuantForm form, long long total, bool fits32, bool uniform, cudaStream_t stream) {
  if constexpr (IsStorageFloat<TX>::value && sizeof(TY) == 1) {
    if (form == QuantForm::Contiguous8) {
      const unsigned blocks = GridFor((total / 8 + kGroupsPerThread - 1) / kGroupsPerThread + 1);  // grid-stride beyond 8192 blocks
      return LaunchChained(QuantizeContiguous8<TX, TY>, dim3(blocks), dim3(256), 0, stream, static_cast<const TX*>(p.x.ptr), static_cast<TY*>(p.y),
                           p.scale.ptr, p.scale.dtype, p.zeroPoint, p.zeroPointDtype, total);
    }
  }
  if constexpr (IsStorageFloat<TX>::value) {
    if (form == QuantForm::Rows) {
      const long long rows = total / p.size[p.rank - 1];
      const dim3 grid(GridFor(rows));
      if (fits32) return LaunchChained(QuantizeRows<TX, TY, int>, grid, dim3(256), 0, stream, p, static_cast<int>(rows));
      return LaunchChained(QuantizeRows<TX, TY, long long>, grid, dim3(256), 0, stream, p, rows);
    }
  }
  const unsigned blocks = GridFor(total);
  if (fits32) return LaunchChained(QuantKernel<TX, TY, int>, dim3(blocks), dim3(256), 0, stream, p, static_cast<int>(total), uniform);
  return LaunchChained(QuantKernel<TX, TY, long long>, dim3(blocks), dim3(256), 0, stream, p, total, uniform);
}

template <typename F>
cudaError_t LaunchQuantize(const QuantParams& p, QuantForm form, long long total, bool fits32, bool uniform, cudaStream_t stream) {
  switch (p.yDtype) {
    case DType::Int8: return Launch<F, int8_t>(p, form, total, fits32, uniform, stream);
    case DType::UInt8: return Launch<F, uint8_t>(p, form, total, fits32, uniform, stream);
    case DType::Int32: return Launch<F, int32_t>(p, form, total, fits32, uniform, stream);
    case DType::Float8E4M3: return Launch<F, Fp8Bits>(p, form, total, fits32, uniform, stream);
    default: return cudaErrorInvalidValue;
  }
}

template <typename Q>
cudaError_t LaunchDequantize(const QuantParams& p, QuantForm form, long long total, bool fits32, bool uniform, cudaStream_t stream) {
  switch (p.yDtype) {
    case DType::Float32: return Launch<Q, float>(p, form, total, fits32, uniform, stream);
    case DType::Float16: return Launch<Q, __half>(p, form, total, fits32, uniform, stream);
    case DType::BFloat16: return Launch<Q, __nv_bfloat16>(p, form, total, fits32, uniform, stream);
    default: return cudaErrorInvalidValue;
  }
}

}  // namespace

// The iteration shape with its size-1 dims dropped and each dim merged into the one outside it
// where every operand (x, y, the scale and zero point) steps over both alike, so that a contiguous
// view of any rank (a channels-last convolution input the int8 GEMM quantizes itself, a matrix)
// takes the contiguous kernel as its rank-1 form does.
static QuantParams Coalesced(const QuantParams& in) {
  QuantParams p = in;
  int r = 0;
  for (int d = 0; d < in.rank; d++) {
    if (in.size[d] == 1) continue;
    if (r > 0) {
      const int o = r - 1;
      const int64_t s = in.size[d];
      if (p.x.stride[o] == in.x.stride[d] * s && p.yStride[o] == in.yStride[d] * s && p.scale.stride[o] == in.scale.stride[d] * s) {
        p.size[o] *= s;
        p.x.stride[o] = in.x.stride[d];
        p.yStride[o] = in.yStride[d];
        p.scale.stride[o] = in.scale.stride[d];
        continue;
      }
    }
    p.size[r] = in.size[d];
    p.x.stride[r] = in.x.stride[d];
    p.yStride[r] = in.yStride[d];
    p.scale.stride[r] = in.scale.stride[d];
    r++;
  }
  if (r == 0) {  // one element
    p.size[0] = 1;
    p.x.stride[0] = p.yStride[0] = p.scale.stride[0] = 0;
    r = 1;
  }
  p.rank = r;
  return p;
}

// What a launch of non-empty parameters runs: the coalesced parameters, whether one scale and zero
// point serve every element, and the kernel (LaunchQuant and QuantKernelName both decide here).
struct QuantPlan {
  QuantParams p;
  bool uniform;
  QuantForm form;
};
static QuantPlan PlanOf(const QuantParams& params) {
  QuantPlan plan{Coalesced(params), true, QuantForm::General};
  const QuantParams& p = plan.p;
  for (int d = 0; d < p.rank; d++) plan.uniform = plan.uniform && (p.scale.stride[d] == 0 || p.size[d] == 1);
  plan.form = FormOf(p, plan.uniform);
  return plan;
}

static bool Empty(const QuantParams& params) {
  for (int d = 0; d < params.rank; d++) {
    if (params.size[d] == 0) return true;
  }
  return false;
}

std::string QuantKernelName(const QuantParams& params) {
  const char* what = params.quantize ? "quantize" : "dequantize";
  if (params.rank < 0 || params.rank > kMaxRank || Empty(params)) return std::string(what) + " (nothing to launch)";
  const QuantPlan plan = PlanOf(params);
  const QuantParams& p = plan.p;
  switch (plan.form) {
    case QuantForm::Contiguous8: return std::string(what) + "_contiguous[" + std::to_string(8 * kGroupsPerThread) + " values per thread]";
    case QuantForm::Rows: return std::string(what) + "_rows[" + std::to_string(p.size[p.rank - 1]) + " values per row]";
    default: return std::string(what) + "_strided[rank " + std::to_string(p.rank) + (plan.uniform ? "" : ", per channel") + "]";
  }
}

cudaError_t LaunchQuant(const QuantParams& params, cudaStream_t stream) {
  if (params.rank < 0 || params.rank > kMaxRank) return cudaErrorInvalidValue;
  if (Empty(params)) return cudaSuccess;
  const QuantPlan plan = PlanOf(params);
  const QuantParams& p = plan.p;
  const bool uniform = plan.uniform;
  const QuantForm form = plan.form;
  long long total = 1;
  for (int d = 0; d < p.rank; d++) total *= p.size[d];
  const long long limit = INT_MAX;
  const bool fits32 = total <= limit && Reach(p, p.x.stride) <= limit && Reach(p, p.yStride) <= limit && Reach(p, p.scale.stride) <= limit;
  if (p.quantize) {
    switch (p.x.dtype) {
      case DType::Float32: return LaunchQuantize<float>(p, form, total, fits32, uniform, stream);
      case DType::Float16: return LaunchQuantize<__half>(p, form, total, fits32, uniform, stream);
      case DType::BFloat16: return LaunchQuantize<__nv_bfloat16>(p, form, total, fits32, uniform, stream);
      default: return cudaErrorInvalidValue;
    }
  }
  switch (p.x.dtype) {
    case DType::Int8: return LaunchDequantize<int8_t>(p, form, total, fits32, uniform, stream);
    case DType::UInt8: return LaunchDequantize<uint8_t>(p, form, total, fits32, uniform, stream);
    case DType::Int32: return LaunchDequantize<int32_t>(p, form, total, fits32, uniform, stream);
    case DType::Float8E4M3: return LaunchDequantize<Fp8Bits>(p, form, total, fits32, uniform, stream);
    default: return cudaErrorInvalidValue;
  }
}

}  // namespace fxrt::kernels
