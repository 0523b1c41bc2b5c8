// The scale arithmetic of the int8 steps of the Q/DQ fusion (src/engine/plan.ts, StepQuantization),
// shared by the kernels that dequantize on load and requantize on store (pooling, pointwise):
//   deq(q)       = fround(s * q)
//   requantize y = clamp(round_half_even(fround(y * inv)), -128, 127), NaN → 127, inv = fround(1 / so)
// Every operation is one correctly rounded float32 operation (__fmul_rn: never contracted into an
// FMA; the fused requantize's two FMAs are explicit, __fmaf_rn), so results are bit-identical to the
// reference (src/engine/reference/layers_int8.ts).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "dtype.h"

namespace fxrt::kernels {

// Element i of a scale tensor (float32, float16 or bfloat16), exactly as float32.
__device__ __forceinline__ float LoadScale(const void* p, int64_t i, DType t) {
  switch (t) {
    case DType::Float16: return __half2float(static_cast<const __half*>(p)[i]);
    case DType::BFloat16: return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
    default: return static_cast<const float*>(p)[i];
  }
}

// fround(1 / so): the reciprocal a requantize multiplies by.
__device__ __forceinline__ float RequantizeFactor(float outScale) { return __frcp_rn(outScale); }

// fround(s * q).
__device__ __forceinline__ float DequantizeInt8(int8_t q, float scale) { return __fmul_rn(scale, static_cast<float>(q)); }

// The word whose low byte is clamp(round_half_even(v), lo, hi), for an integer range [lo, hi]
// within [-128, 255] (int8's or uint8's): clamped first (fminf of NaN and hi is hi, so NaN gives
// hi; -inf gives lo), then rounded half to even by adding 1.5 * 2^23, which leaves the integer in
// the sum's low mantissa bits (the sum lies in [2^23, 2^24), one unit per integer). On an integer
// range, clamping before rounding gives what rounding first gives. Four full-rate float
// instructions, where rintf and a float-to-integer conversion run on the conversion pipe (16
// results per clock per multiprocessor: the quantize kernel's bound before, 6.2 against 5.6 us on
// the seed MLP's input).
__device__ __forceinline__ uint32_t ClampRoundWord(float v, float lo, float hi) {
  return __float_as_uint(__fadd_rn(fmaxf(fminf(v, hi), lo), 12582912.f));
}

// A quantize layer's arithmetic with zero point 0 (kernels/quant.cu Quantize): clamp(round_half_even
// (fround(y * inv)), -128, 127), +inf and NaN to 127, -inf to -128.
__device__ __forceinline__ int8_t Requantize(float y, float inv) {
  return static_cast<int8_t>(ClampRoundWord(__fmul_rn(y, inv), -128.f, 127.f) & 0xffu);
}

// The fused requantize of an int8 GEMM's output (igemm.h IgemmParams::fusedRange; plan.ts
// StepQuantization): u = sat(fma(fround(acc), alpha[c], beta)), q = round_half_even(u * R) - o, with
// alpha[c] = fround(m[c] * k), beta = fround(fround(b * k) + c0), k = fround(inv / R), c0 = fround(o / R).
struct FusedRequant {
  float k, c0;  // the column vectors' factor and offset
  float r;      // R: 127 (after a relu) or 255
  float add;    // 1.5 * 2^23 - o: u * R + add rounds u * R to an integer, q in the word's low byte
};
__device__ __forceinline__ FusedRequant FusedRequantOf(float inv, int range) {
  const float r = static_cast<float>(range);
  const float o = range == 255 ? 128.f : 0.f;
  return FusedRequant{__fdiv_rn(inv, r), __fdiv_rn(o, r), r, 12582912.f - o};
}
__device__ __forceinline__ float FusedAlpha(float m, const FusedRequant& f) { return __fmul_rn(m, f.k); }
__device__ __forceinline__ float FusedBeta(float b, const FusedRequant& f) { return __fadd_rn(__fmul_rn(b, f.k), f.c0); }
// u: one fused multiply-add, saturated to [0, 1] (NaN → 0).
__device__ __forceinline__ float FusedUnit(int32_t acc, float alpha, float beta) { return __saturatef(__fmaf_rn(__int2float_rn(acc), alpha, beta)); }
// q of u in the low byte of the returned word (u * R + add lies in [2^23, 2^24): one unit per integer).
__device__ __forceinline__ uint32_t FusedWord(float u, const FusedRequant& f) { return __float_as_uint(__fmaf_rn(u, f.r, f.add)); }
__device__ __forceinline__ int8_t FusedQuantize(float u, const FusedRequant& f) { return static_cast<int8_t>(FusedWord(u, f) & 0xffu); }

// float8 e4m3 (OCP E4M3, float8_e4m3fn) from float32: round to nearest even, saturating at ±448
// (infinities too), NaN → 0x7f / 0xff by its sign; bit for bit src/tensor/dtype.ts f32ToF8e4m3Bits.
__device__ __forceinline__ uint8_t F32ToF8e4m3(float v) {
  const uint32_t x = __float_as_uint(v);
  const uint32_t sign = (x >> 24) & 0x80u;
  const uint32_t abs = x & 0x7fffffffu;
  if (abs > 0x7f800000u) return static_cast<uint8_t>(sign | 0x7fu);  // NaN keeps its sign (PyTorch)
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
  // Ada/Hopper convert in one instruction (cvt.rn.satfinite.e4m3x2.f32): the same rounding and saturation.
  return static_cast<uint8_t>(__nv_cvt_float_to_fp8(v, __NV_SATFINITE, __NV_E4M3));
#else
  if (abs >= 0x43e00000u) return static_cast<uint8_t>(sign | 0x7eu);  // >= 448: saturate
  const int e = static_cast<int>(abs >> 23) - 127 + 7;
  const uint32_t mant = abs & 0x7fffffu;
  if (e <= 0) {  // subnormal e4m3: multiples of 2^-9
    if (e < -3) return static_cast<uint8_t>(sign);
    const uint32_t full = mant | 0x800000u;
    const int shift = 21 - e;
    const uint32_t half = 1u << (shift - 1);
    uint32_t r = full >> shift;
    const uint32_t rem = full & ((1u << shift) - 1u);
    if (rem > half || (rem == half && (r & 1u))) r++;
    return static_cast<uint8_t>(sign | r);
  }
  uint32_t r = (static_cast<uint32_t>(e) << 3) | (mant >> 20);
  const uint32_t rem = mant & 0xfffffu;
  if (rem > 0x80000u || (rem == 0x80000u && (r & 1u))) r++;  // may carry into the exponent: correct
  return static_cast<uint8_t>(sign | (r > 0x7eu ? 0x7eu : r));
#endif
}

// The value of an e4m3 bit pattern (exact in float32); 0x7f and 0xff are NaN.
__device__ __forceinline__ float F8e4m3ToF32(uint8_t b) {
  const uint32_t sign = static_cast<uint32_t>(b & 0x80u) << 24;
  const uint32_t exp = (b >> 3) & 0xfu, mant = b & 7u;
  if (exp == 0xfu && mant == 7u) return __uint_as_float(0x7fc00000u);
  if (exp == 0u) {
    const float v = static_cast<float>(mant) * 0.001953125f;  // mant * 2^-9
    return sign != 0u ? -v : v;
  }
  return __uint_as_float(sign | ((exp + 120u) << 23) | (mant << 20));
}

}  // namespace fxrt::kernels
