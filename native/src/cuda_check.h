// Turning CUDA status codes into JavaScript errors that name the operation and the failed call.
#pragma once

#include <cuda_runtime.h>
#include <napi.h>

#include <string>

namespace fxrt {

// Error("fxrt cuda: <op>: <call> failed: <description> (<cudaErrorName>)") with `code` set to the
// CUDA error name.
Napi::Error CudaError(Napi::Env env, cudaError_t err, const char* op, const char* call);
[[noreturn]] void ThrowCuda(Napi::Env env, cudaError_t err, const char* op, const char* call);

inline void CheckCuda(Napi::Env env, cudaError_t err, const char* op, const char* call) {
  if (err != cudaSuccess) ThrowCuda(env, err, op, call);
}

// A TypeError/RangeError/Error with the "fxrt cuda: <op>: " prefix.
[[noreturn]] void ThrowType(Napi::Env env, const char* op, const std::string& message);
[[noreturn]] void ThrowRange(Napi::Env env, const char* op, const std::string& message);
[[noreturn]] void ThrowError(Napi::Env env, const char* op, const std::string& message);

}  // namespace fxrt

#define FXRT_CUDA_CHECK(env, op, expr) ::fxrt::CheckCuda((env), (expr), (op), #expr)
