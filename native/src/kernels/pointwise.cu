// Scalar semantics follow src/engine/reference/scalar_math.ts: float results are kept in float32,
// integer results wrap to their dtype, bools are 0/1; NaN propagates through max/min/relu; round
// is half to even; integer division by zero gives 0 (the reference throws).
#include "kernels/pointwise.h"
#include "kernels/activation.cuh"
#include "kernels/quant_math.cuh"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cmath>
#include <cstdint>

namespace fxrt::kernels {

namespace {

template <typename R>
__device__ __forceinline__ R Load(const void* p, int64_t i, DType t) {
  switch (t) {
    case DType::Float32: return static_cast<R>(static_cast<const float*>(p)[i]);
    case DType::Float16: return static_cast<R>(__half2float(static_cast<const __half*>(p)[i]));
    case DType::BFloat16: return static_cast<R>(__bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]));
    case DType::Int8: return static_cast<R>(static_cast<const int8_t*>(p)[i]);
    case DType::UInt8: return static_cast<R>(static_cast<const uint8_t*>(p)[i]);
    case DType::Int32: return static_cast<R>(static_cast<const int32_t*>(p)[i]);
    case DType::Int64: return static_cast<R>(static_cast<const long long*>(p)[i]);
    case DType::Bool: return static_cast<const uint8_t*>(p)[i] != 0 ? R(1) : R(0);
  }
  return R(0);
}

// Integer conversion of a stored value: truncate toward zero, wrap; NaN/inf give 0.
template <typename R>
__device__ __forceinline__ long long TruncInt(R v) {
  if (!isfinite(v)) return 0;
  R t = trunc(v);
  if (t >= R(9.2233720368547758e18) || t < R(-9.2233720368547758e18)) {
    // Beyond int64: wrap modulo 2^64 like Math.trunc(v) | 0 does modulo 2^32 (only low bits matter).
    R m = fmod(t, R(18446744073709551616.0));
    if (m < 0) m += R(18446744073709551616.0);
    return static_cast<long long>(static_cast<unsigned long long>(m));
  }
  return static_cast<long long>(t);
}

__device__ __forceinline__ long long WrapInt(long long v, DType t) {
  switch (t) {
    case DType::Int8: return static_cast<int8_t>(static_cast<uint8_t>(v));
    case DType::UInt8: return static_cast<uint8_t>(v);
    case DType::Int32: return static_cast<int32_t>(static_cast<uint32_t>(v));
    default: return v;
  }
}

// How a result of dtype `t` is kept in a register (scalar_math.ts registerFn).
template <typename R>
__device__ __forceinline__ R Keep(R v, DType t) {
  switch (t) {
    case DType::Float32: case DType::Float16: case DType::BFloat16: return static_cast<R>(static_cast<float>(v));
    case DType::Bool: return v != R(0) ? R(1) : R(0);
    default: return static_cast<R>(WrapInt(TruncInt(v), t));
  }
}

// How a value is stored as `t` (scalar_math.ts storeFn), as a register value.
template <typename R>
__device__ __forceinline__ R StoreRound(R v, DType t) {
  switch (t) {
    case DType::Float16: return static_cast<R>(__half2float(__float2half_rn(static_cast<float>(v))));
    case DType::BFloat16: return static_cast<R>(__bfloat162float(__float2bfloat16_rn(static_cast<float>(v))));
    default: return Keep(v, t);
  }
}

template <typename R>
__device__ __forceinline__ void Store(void* p, int64_t i, DType t, R v) {
  switch (t) {
    case DType::Float32: static_cast<float*>(p)[i] = static_cast<float>(v); break;
    case DType::Float16: static_cast<__half*>(p)[i] = __float2half_rn(static_cast<float>(v)); break;
    case DType::BFloat16: static_cast<__nv_bfloat16*>(p)[i] = __float2bfloat16_rn(static_cast<float>(v)); break;
    case DType::Int8: static_cast<int8_t*>(p)[i] = static_cast<int8_t>(WrapInt(TruncInt(v), t)); break;
    case DType::UInt8: static_cast<uint8_t*>(p)[i] = static_cast<uint8_t>(WrapInt(TruncInt(v), t)); break;
    case DType::Int32: static_cast<int32_t*>(p)[i] = static_cast<int32_t>(WrapInt(TruncInt(v), t)); break;
    case DType::Int64: static_cast<long long*>(p)[i] = TruncInt(v); break;
    case DType::Bool: static_cast<uint8_t*>(p)[i] = v != R(0) ? 1 : 0; break;
  }
}

// Python floor division on floats (c10's div_floor_floating).
template <typename R>
__device__ R FloorDivFloat(R a, R b) {
  if (b == R(0)) return a / b;
  R mod = fmod(a, b);
  R div = (a - mod) / b;
  if (mod != R(0) && (b < R(0)) != (mod < R(0))) div -= R(1);
  if (div == R(0)) return copysign(R(0), a / b);
  R fl = floor(div);
  if (div - fl > R(0.5)) fl += R(1);
  return fl;
}

// Python % on floats: the sign of the divisor.
template <typename R>
__device__ __forceinline__ R RemainderFloat(R a, R b) {
  R m = fmod(a, b);
  return m != R(0) && (b < R(0)) != (m < R(0)) ? m + b : m;
}

__device__ long long PowInt(long long a, long long b) {
  if (b < 0) return a == 1 ? 1 : a == -1 ? ((b & 1) ? -1 : 1) : 0;
  unsigned long long result = 1, base = static_cast<unsigned long long>(a);
  for (long long e = b; e > 0; e >>= 1) {
    if (e & 1) result *= base;
    base *= base;
  }
  return static_cast<long long>(result);
}

__device__ long long IntBinary(PwBinary fn, long long a, long long b) {
  using U = unsigned long long;
  switch (fn) {
    case PwBinary::Sum: return static_cast<long long>(static_cast<U>(a) + static_cast<U>(b));
    case PwBinary::Prod: return static_cast<long long>(static_cast<U>(a) * static_cast<U>(b));
    case PwBinary::Sub: return static_cast<long long>(static_cast<U>(a) - static_cast<U>(b));
    case PwBinary::Div: return b == 0 ? 0 : a / b;  // truncating, as TensorRT's integer kDIV
    case PwBinary::Pow: return PowInt(a, b);
    case PwBinary::Max: return a > b ? a : b;
    case PwBinary::Min: return a < b ? a : b;
    case PwBinary::FloorDiv: {
      if (b == 0) return 0;
      long long q = a / b, r = a - q * b;
      return r != 0 && (r < 0) != (b < 0) ? q - 1 : q;
    }
    case PwBinary::Mod: {
      if (b == 0) return 0;
      long long m = a % b;
      return m != 0 && (b < 0) != (m < 0) ? m + b : m;
    }
    case PwBinary::And: return a != 0 && b != 0;
    case PwBinary::Or: return a != 0 || b != 0;
    case PwBinary::Xor: return (a != 0) != (b != 0);
    case PwBinary::Equal: return a == b;
    case PwBinary::Greater: return a > b;
    case PwBinary::Less: return a < b;
  }
  return 0;
}

template <typename R>
__device__ R FloatBinary(PwBinary fn, R a, R b) {
  switch (fn) {
    case PwBinary::Sum: return a + b;
    case PwBinary::Prod: return a * b;
    case PwBinary::Sub: return a - b;
    case PwBinary::Div: return a / b;
    case PwBinary::Pow: return pow(a, b);
    case PwBinary::Max: return Max(a, b);
    case PwBinary::Min: return Min(a, b);
    case PwBinary::FloorDiv: return FloorDivFloat(a, b);
    case PwBinary::Mod: return RemainderFloat(a, b);
    case PwBinary::And: return a != R(0) && b != R(0) ? R(1) : R(0);
    case PwBinary::Or: return a != R(0) || b != R(0) ? R(1) : R(0);
    case PwBinary::Xor: return (a != R(0)) != (b != R(0)) ? R(1) : R(0);
    case PwBinary::Equal: return a == b ? R(1) : R(0);
    case PwBinary::Greater: return a > b ? R(1) : R(0);
    case PwBinary::Less: return a < b ? R(1) : R(0);
  }
  return R(0);
}

template <typename R>
__device__ R UnaryFn(PwUnary fn, R x) {
  switch (fn) {
    case PwUnary::Exp: return exp(x);
    case PwUnary::Log: return log(x);
    case PwUnary::Sqrt: return sqrt(x);
    case PwUnary::Recip: return R(1) / x;
    case PwUnary::Abs: return fabs(x);
    case PwUnary::Neg: return -x;
    case PwUnary::Sin: return sin(x);
    case PwUnary::Cos: return cos(x);
    case PwUnary::Tan: return tan(x);
    case PwUnary::Sinh: return sinh(x);
    case PwUnary::Cosh: return cosh(x);
    case PwUnary::Asin: return asin(x);
    case PwUnary::Acos: return acos(x);
    case PwUnary::Atan: return atan(x);
    case PwUnary::Ceil: return ceil(x);
    case PwUnary::Floor: return floor(x);
    case PwUnary::Erf: return erf(x);
    case PwUnary::Not: return x == R(0) ? R(1) : R(0);
    case PwUnary::Sign: return x > R(0) ? R(1) : x < R(0) ? R(-1) : R(0);
    case PwUnary::Round: return rint(x);  // half to even
    case PwUnary::Trunc: return trunc(x);
    case PwUnary::IsNan: return x != x ? R(1) : R(0);
    case PwUnary::Rsqrt: return R(1) / static_cast<R>(static_cast<float>(sqrt(x)));  // two float32 roundings
  }
  return R(0);
}

template <typename R>
__device__ __forceinline__ R Eval(const PwInstr& ins, const R* regs) {
  const R a = regs[ins.a];
  switch (ins.op) {
    case PwOp::Elementwise: {
      const PwBinary fn = static_cast<PwBinary>(ins.fn);
      if (ins.intMath) {
        long long r = IntBinary(fn, TruncInt(a), TruncInt(regs[ins.b]));
        return static_cast<R>(ins.dtype == DType::Bool ? (r != 0) : WrapInt(r, ins.dtype));
      }
      return Keep(FloatBinary(fn, a, regs[ins.b]), ins.dtype);
    }
    case PwOp::Unary: return Keep(UnaryFn(static_cast<PwUnary>(ins.fn), a), ins.dtype);
    case PwOp::Activation:
      return Keep(ActivationFn(static_cast<PwActivation>(ins.fn), a, static_cast<R>(ins.alpha), static_cast<R>(ins.beta)),
                  ins.dtype);
    case PwOp::Cast: return StoreRound(a, ins.dtype);
    case PwOp::Select: return Keep(a != R(0) ? regs[ins.b] : regs[ins.c], ins.dtype);
    case PwOp::Prelu: return Keep(a > R(0) ? a : regs[ins.b] * a, ins.dtype);
  }
  return R(0);
}

// Contig: every operand walks the iteration space densely (offset = index), no index arithmetic
// (a scale's offset is the index times its stride: 0 per tensor, 1 along a one-dim channel axis).
// Quant: an int8 step (pointwise.h): scales on load and/or on store.
template <typename R, typename I, bool Contig, bool Quant>
__global__ void __launch_bounds__(256) PointwiseKernel(const PwParams p, I n) {
  R regs[kMaxPwInputs + kMaxPwInstrs];
  // The output scale's reciprocal, once per thread (read where the kernel runs: it may be a run-time value).
  [[maybe_unused]] const float inv = Quant && p.outScale != nullptr ? RequantizeFactor(LoadScale(p.outScale, 0, p.outScaleDtype)) : 0.f;
  const I step = static_cast<I>(gridDim.x) * blockDim.x;
  for (I i = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    I offIn[kMaxPwInputs];
    [[maybe_unused]] I offScale[Quant ? kMaxPwInputs : 1];
    for (int j = 0; j < p.nIn; j++) {
      offIn[j] = Contig ? i : 0;
      if constexpr (Quant) offScale[j] = Contig ? i * static_cast<I>(p.in[j].scaleStride[0]) : 0;
    }
    I offOut = Contig ? i : 0;
    I rem = i;
    for (int d = Contig ? -1 : p.rank - 1; d >= 0; d--) {
      const I size = static_cast<I>(p.size[d]);
      const I q = rem / size;
      const I c = rem - q * size;
      rem = q;
      offOut += c * static_cast<I>(p.outStride[d]);
      for (int j = 0; j < p.nIn; j++) {
        offIn[j] += c * static_cast<I>(p.in[j].stride[d]);
        if constexpr (Quant) offScale[j] += c * static_cast<I>(p.in[j].scaleStride[d]);
      }
    }
    for (int j = 0; j < p.nIn; j++) {
      const PwOperand& in = p.in[j];
      if constexpr (Quant) {
        if (in.scale != nullptr) {
          // The host checked that a scaled operand is int8.
          const int8_t q = static_cast<const int8_t*>(in.ptr)[offIn[j]];
          regs[j] = static_cast<R>(DequantizeInt8(q, LoadScale(in.scale, offScale[j], in.scaleDtype)));
          continue;
        }
      }
      regs[j] = Load<R>(in.ptr, offIn[j], in.dtype);
    }
    for (int k = 0; k < p.nInstr; k++) regs[p.nIn + k] = Eval(p.instr[k], regs);
    const R result = regs[p.nIn + p.nInstr - 1];
    if constexpr (Quant) {
      if (p.outScale != nullptr) {
        static_cast<int8_t*>(p.out)[offOut] = Requantize(static_cast<float>(result), inv);
        continue;
      }
    }
    Store(p.out, offOut, p.outDtype, result);
  }
}

template <typename R, bool Quant>
void LaunchIndexed(const PwParams& p, int64_t n, bool fits32, bool contig, cudaStream_t stream) {
  if (contig) {
    if (fits32) PointwiseKernel<R, int32_t, true, Quant><<<GridFor(n), 256, 0, stream>>>(p, static_cast<int32_t>(n));
    else PointwiseKernel<R, int64_t, true, Quant><<<GridFor(n), 256, 0, stream>>>(p, n);
  } else if (fits32) {
    PointwiseKernel<R, int32_t, false, Quant><<<GridFor(n), 256, 0, stream>>>(p, static_cast<int32_t>(n));
  } else {
    PointwiseKernel<R, int64_t, false, Quant><<<GridFor(n), 256, 0, stream>>>(p, n);
  }
}

template <typename R>
cudaError_t Launch(const PwParams& p, int64_t n, bool fits32, bool contig, bool quant, cudaStream_t stream) {
  if (quant) LaunchIndexed<R, true>(p, n, fits32, contig, stream);
  else LaunchIndexed<R, false>(p, n, fits32, contig, stream);
  return cudaGetLastError();
}

// Whether every operand's offset is the iteration index (at most one dim, unit strides; a scale
// steps by 0 or 1).
bool Contiguous(const PwParams& p) {
  if (p.rank > 1) return false;
  if (p.rank == 0) return true;
  if (p.outStride[0] != 1) return false;
  for (int j = 0; j < p.nIn; j++) {
    if (p.in[j].stride[0] != 1) return false;
    if (p.in[j].scale != nullptr && p.in[j].scaleStride[0] != 0 && p.in[j].scaleStride[0] != 1) return false;
  }
  return true;
}

// ---- Fast path: one activation or unary function over one dense float tensor ----
// The interpreter above keeps registers in local memory and dispatches every instruction per
// element; a program of one function on one contiguous input of the output's dtype (a GEMM's
// unfused GELU, a lone sigmoid) instead runs a kernel specialized for that function: 16-byte
// loads and stores, the function inlined. The arithmetic is the interpreter's (same functions,
// float32 registers, one rounding at the store), so results are identical.

template <typename T> __device__ __forceinline__ float ToFloat(T v);
template <> __device__ __forceinline__ float ToFloat<float>(float v) { return v; }
template <> __device__ __forceinline__ float ToFloat<__half>(__half v) { return __half2float(v); }
template <> __device__ __forceinline__ float ToFloat<__nv_bfloat16>(__nv_bfloat16 v) { return __bfloat162float(v); }
template <typename T> __device__ __forceinline__ T FromFloat(float v);
template <> __device__ __forceinline__ float FromFloat<float>(float v) { return v; }
template <> __device__ __forceinline__ __half FromFloat<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 FromFloat<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

template <PwActivation A>
struct ActivationOf {
  float alpha, beta;
  __device__ __forceinline__ float operator()(float v) const { return ActivationFn<float>(A, v, alpha, beta); }
};

template <PwUnary U>
struct UnaryOf {
  __device__ __forceinline__ float operator()(float v) const { return UnaryFn<float>(U, v); }
};

// y[i] = f(x[i]) for i < n; x may equal y (each element is read and written by one thread).
// `vectorized`: both pointers 16-byte aligned, so whole 16-byte words move at once.
template <typename T, typename F>
__global__ void __launch_bounds__(256) MapKernel(const T* x, T* y, int64_t n, bool vectorized, F f) {
  constexpr int kVec = 16 / sizeof(T);
  const int64_t words = vectorized ? n / kVec : 0;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const int64_t first = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  for (int64_t i = first; i < words; i += step) {
    uint4 raw = reinterpret_cast<const uint4*>(x)[i];
    T* v = reinterpret_cast<T*>(&raw);
#pragma unroll
    for (int k = 0; k < kVec; k++) v[k] = FromFloat<T>(f(ToFloat<T>(v[k])));
    reinterpret_cast<uint4*>(y)[i] = raw;
  }
  for (int64_t i = words * kVec + first; i < n; i += step) y[i] = FromFloat<T>(f(ToFloat<T>(x[i])));
}

template <typename T, typename F>
cudaError_t LaunchMap(const PwParams& p, int64_t n, F f, cudaStream_t stream) {
  const bool vectorized = reinterpret_cast<uintptr_t>(p.in[0].ptr) % 16 == 0 && reinterpret_cast<uintptr_t>(p.out) % 16 == 0;
  const int64_t work = vectorized ? (n + 16 / sizeof(T) - 1) / (16 / sizeof(T)) : n;
  MapKernel<T, F><<<GridFor(work), 256, 0, stream>>>(static_cast<const T*>(p.in[0].ptr), static_cast<T*>(p.out), n, vectorized, f);
  return cudaGetLastError();
}

template <typename F>
cudaError_t LaunchMapTyped(const PwParams& p, int64_t n, F f, cudaStream_t stream) {
  switch (p.outDtype) {
    case DType::Float32: return LaunchMap<float>(p, n, f, stream);
    case DType::Float16: return LaunchMap<__half>(p, n, f, stream);
    case DType::BFloat16: return LaunchMap<__nv_bfloat16>(p, n, f, stream);
    default: return cudaErrorInvalidValue;
  }
}

template <PwActivation A>
cudaError_t LaunchActivationMap(const PwParams& p, int64_t n, cudaStream_t stream) {
  return LaunchMapTyped(p, n, ActivationOf<A>{p.instr[0].alpha, p.instr[0].beta}, stream);
}

template <PwUnary U>
cudaError_t LaunchUnaryMap(const PwParams& p, int64_t n, cudaStream_t stream) {
  return LaunchMapTyped(p, n, UnaryOf<U>{}, stream);
}

cudaError_t LaunchFastPath(const PwParams& p, int64_t n, cudaStream_t stream) {
  const PwInstr& ins = p.instr[0];
  if (ins.op == PwOp::Activation) {
    switch (static_cast<PwActivation>(ins.fn)) {
#define FXRT_ACT(name) case PwActivation::name: return LaunchActivationMap<PwActivation::name>(p, n, stream);
      FXRT_ACT(Relu) FXRT_ACT(Sigmoid) FXRT_ACT(Tanh) FXRT_ACT(LeakyRelu) FXRT_ACT(Elu) FXRT_ACT(Selu) FXRT_ACT(Softsign)
      FXRT_ACT(Softplus) FXRT_ACT(Clip) FXRT_ACT(HardSigmoid) FXRT_ACT(GeluErf) FXRT_ACT(GeluTanh) FXRT_ACT(Silu)
#undef FXRT_ACT
    }
    return cudaErrorInvalidValue;
  }
  switch (static_cast<PwUnary>(ins.fn)) {
#define FXRT_UN(name) case PwUnary::name: return LaunchUnaryMap<PwUnary::name>(p, n, stream);
    FXRT_UN(Exp) FXRT_UN(Log) FXRT_UN(Sqrt) FXRT_UN(Recip) FXRT_UN(Abs) FXRT_UN(Neg) FXRT_UN(Sin) FXRT_UN(Cos) FXRT_UN(Tan)
    FXRT_UN(Sinh) FXRT_UN(Cosh) FXRT_UN(Asin) FXRT_UN(Acos) FXRT_UN(Atan) FXRT_UN(Ceil) FXRT_UN(Floor) FXRT_UN(Erf)
    FXRT_UN(Round) FXRT_UN(Trunc) FXRT_UN(Rsqrt)
#undef FXRT_UN
    default: return cudaErrorInvalidValue;
  }
}

bool IsFloat(DType t) { return t == DType::Float32 || t == DType::Float16 || t == DType::BFloat16; }

}  // namespace

bool PointwiseQuantized(const PwParams& p) {
  if (p.outScale != nullptr) return true;
  for (int j = 0; j < p.nIn; j++) {
    if (p.in[j].scale != nullptr) return true;
  }
  return false;
}

bool PointwiseFastPath(const PwParams& p, bool wide) {
  if (wide || p.nIn != 1 || p.nInstr != 1 || PointwiseQuantized(p) || !Contiguous(p)) return false;
  const PwInstr& ins = p.instr[0];
  if (ins.a != 0 || !IsFloat(ins.dtype) || !IsFloat(p.outDtype) || p.in[0].dtype != p.outDtype) return false;
  if (ins.op == PwOp::Activation) return true;
  if (ins.op != PwOp::Unary) return false;
  // Functions whose result is a bool or sign-like value keep the interpreter (their dtypes differ in practice).
  const auto fn = static_cast<PwUnary>(ins.fn);
  return fn != PwUnary::Not && fn != PwUnary::IsNan && fn != PwUnary::Sign;
}

cudaError_t LaunchPointwise(const PwParams& p, bool wide, cudaStream_t stream) {
  if (p.nInstr < 1 || p.nInstr > kMaxPwInstrs || p.nIn > kMaxPwInputs || p.rank > kMaxRank) return cudaErrorInvalidValue;
  // Scales go with int8 data only (the host checks this and names the operand).
  if (p.outScale != nullptr && p.outDtype != DType::Int8) return cudaErrorInvalidValue;
  for (int j = 0; j < p.nIn; j++) {
    if (p.in[j].scale != nullptr && p.in[j].dtype != DType::Int8) return cudaErrorInvalidValue;
  }
  int64_t n = 1;
  for (int d = 0; d < p.rank; d++) n *= p.size[d];
  if (n == 0) return cudaSuccess;
  StridedView view;
  view.rank = p.rank;
  bool fits32 = true;
  for (int d = 0; d < p.rank; d++) view.size[d] = p.size[d];
  // Every offset the kernel computes: the output's, each input's and each input scale's.
  for (int j = -1; j < 2 * p.nIn && fits32; j++) {
    const int64_t* strides = j < 0 ? p.outStride : j < p.nIn ? p.in[j].stride : p.in[j - p.nIn].scaleStride;
    for (int d = 0; d < p.rank; d++) view.stride[d] = strides[d];
    fits32 = Fits32(n, view);
  }
  const bool contig = Contiguous(p);
  if (PointwiseFastPath(p, wide)) return LaunchFastPath(p, n, stream);
  const bool quant = PointwiseQuantized(p);
  return wide ? Launch<double>(p, n, fits32, contig, quant, stream) : Launch<float>(p, n, fits32, contig, quant, stream);
}

}  // namespace fxrt::kernels
