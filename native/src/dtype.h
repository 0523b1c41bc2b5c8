// Element types shared by the N-API glue and the CUDA kernels (no N-API here: kernels include it).
#pragma once

#include <cstddef>
#include <cstdint>

namespace fxrt {

// Mirrors src/tensor/dtype.ts (by name); 16-bit floats and float8e4m3 (OCP E4M3, FP8 quantization)
// are stored as their bit patterns on both sides.
enum class DType : uint8_t { Float32, Float16, BFloat16, Int8, UInt8, Int32, Int64, Bool, Float8E4M3 };

// constexpr: kernels use it too (nvcc --expt-relaxed-constexpr).
constexpr size_t ItemSize(DType t) {
  switch (t) {
    case DType::Float32: case DType::Int32: return 4;
    case DType::Float16: case DType::BFloat16: return 2;
    case DType::Int8: case DType::UInt8: case DType::Bool: case DType::Float8E4M3: return 1;
    case DType::Int64: return 8;
  }
  return 0;
}

inline const char* DTypeName(DType t) {
  switch (t) {
    case DType::Float32: return "float32";
    case DType::Float16: return "float16";
    case DType::BFloat16: return "bfloat16";
    case DType::Int8: return "int8";
    case DType::UInt8: return "uint8";
    case DType::Int32: return "int32";
    case DType::Int64: return "int64";
    case DType::Bool: return "bool";
    case DType::Float8E4M3: return "float8e4m3";
  }
  return "?";
}

inline bool IsFloating(DType t) {
  return t == DType::Float32 || t == DType::Float16 || t == DType::BFloat16;
}

}  // namespace fxrt
