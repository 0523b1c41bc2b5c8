#include "cuda_check.h"

namespace fxrt {

Napi::Error CudaError(Napi::Env env, cudaError_t err, const char* op, const char* call) {
  std::string msg = std::string("fxrt cuda: ") + op + ": " + call + " failed: " + cudaGetErrorString(err) + " (" +
                    cudaGetErrorName(err) + ")";
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("code", Napi::String::New(env, cudaGetErrorName(err)));
  return e;
}

void ThrowCuda(Napi::Env env, cudaError_t err, const char* op, const char* call) {
  throw CudaError(env, err, op, call);
}

void ThrowType(Napi::Env env, const char* op, const std::string& message) {
  throw Napi::TypeError::New(env, std::string("fxrt cuda: ") + op + ": " + message);
}

void ThrowRange(Napi::Env env, const char* op, const std::string& message) {
  throw Napi::RangeError::New(env, std::string("fxrt cuda: ") + op + ": " + message);
}

void ThrowError(Napi::Env env, const char* op, const std::string& message) {
  throw Napi::Error::New(env, std::string("fxrt cuda: ") + op + ": " + message);
}

}  // namespace fxrt
