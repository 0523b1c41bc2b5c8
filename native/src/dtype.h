// Element types shared by the N-API glue and the CUDA kernels (no N-API here: kernels include it).
#pragma once

#include <cstddef>
#include <cstdint>

namespace fxrt {

// Mirrors src/tensor/dtype.ts; 16-bit floats are stored as their bit patterns on both sides.
enum class DType : uint8_t { Float32, Float16, BFloat16, Int8, UInt8, Int32, Int64, Bool };

// constexpr: kernels use it too (nvcc --expt-relaxed-constexpr).
constexpr size_t ItemSize(DType t) {
  switch (t) {
    case DType::Float32: case DType::Int32: return 4;
    case DType::Float16: case DType::BFloat16: return 2;
    case DType::Int8: case DType::UInt8: case DType::Bool: return 1;
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
  }
  return "?";
}

inline bool IsFloating(DType t) {
  return t == DType::Float32 || t == DType::Float16 || t == DType::BFloat16;
}

}  // namespace fxrt
