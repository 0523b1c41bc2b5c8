#include <cstdint>
#include <string>

#include "addon_state.h"
#include "args.h"
#include "buffer.h"
#include "cuda_check.h"
#include "kernels/elementwise.h"
#include "ops.h"
#include "stream.h"

namespace fxrt {

namespace {

DType ParseFloatDType(Napi::Env env, Napi::Value v, const char* op, const char* arg) {
  DType t = ParseDType(env, v, op, arg);
  if (!IsFloating(t)) {
    ThrowType(env, op, std::string("argument '") + arg + "' must be float32, float16 or bfloat16, got " + DTypeName(t));
  }
  return t;
}

// The byte size of n elements, refusing products that overflow.
size_t BytesOf(Napi::Env env, size_t n, DType t, const char* op) {
  size_t size = ItemSize(t);
  if (n > SIZE_MAX / size) ThrowRange(env, op, std::to_string(n) + " elements overflow the address space");
  return n * size;
}

}  // namespace

Napi::Value Binary(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "binary";
  if (!info[0].IsString()) ThrowType(env, op, "argument 'op' must be a string");
  std::string name = info[0].As<Napi::String>().Utf8Value();
  kernels::BinaryOp bop;
  if (name == "add") {
    bop = kernels::BinaryOp::Add;
  } else {
    ThrowType(env, op, "unknown binary op '" + name + "' (expected add)");
  }
  DType dtype = ParseFloatDType(env, info[1], op, "dtype");
  DeviceBuffer* a = DeviceBuffer::From(env, info[2], op, "a");
  DeviceBuffer* b = DeviceBuffer::From(env, info[3], op, "b");
  DeviceBuffer* out = DeviceBuffer::From(env, info[4], op, "out");
  size_t n = ParseSize(env, info[5], op, "n");
  size_t bytes = BytesOf(env, n, dtype, op);
  a->RequireBytes(env, bytes, op, "a");
  b->RequireBytes(env, bytes, op, "b");
  out->RequireBytes(env, bytes, op, "out");
  std::shared_ptr<StreamState> stream = Stream::From(env, info[6], op, "stream");
  a->UseOn(env, stream, op);
  b->UseOn(env, stream, op);
  out->UseOn(env, stream, op);
  FXRT_CUDA_CHECK(env, op, kernels::LaunchBinary(bop, dtype, a->data(), b->data(), out->data(), n, stream->stream()));
  return env.Undefined();
}

Napi::Value Unary(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "unary";
  if (!info[0].IsString()) ThrowType(env, op, "argument 'op' must be a string");
  std::string name = info[0].As<Napi::String>().Utf8Value();
  kernels::UnaryOp uop;
  if (name == "relu") {
    uop = kernels::UnaryOp::Relu;
  } else {
    ThrowType(env, op, "unknown unary op '" + name + "' (expected relu)");
  }
  DType dtype = ParseFloatDType(env, info[1], op, "dtype");
  DeviceBuffer* x = DeviceBuffer::From(env, info[2], op, "x");
  DeviceBuffer* out = DeviceBuffer::From(env, info[3], op, "out");
  size_t n = ParseSize(env, info[4], op, "n");
  size_t bytes = BytesOf(env, n, dtype, op);
  x->RequireBytes(env, bytes, op, "x");
  out->RequireBytes(env, bytes, op, "out");
  std::shared_ptr<StreamState> stream = Stream::From(env, info[5], op, "stream");
  x->UseOn(env, stream, op);
  out->UseOn(env, stream, op);
  FXRT_CUDA_CHECK(env, op, kernels::LaunchUnary(uop, dtype, x->data(), out->data(), n, stream->stream()));
  return env.Undefined();
}

Napi::Value Cast(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "cast";
  DType src = ParseFloatDType(env, info[0], op, "srcDtype");
  DType dst = ParseFloatDType(env, info[1], op, "dstDtype");
  DeviceBuffer* x = DeviceBuffer::From(env, info[2], op, "x");
  DeviceBuffer* out = DeviceBuffer::From(env, info[3], op, "out");
  size_t n = ParseSize(env, info[4], op, "n");
  x->RequireBytes(env, BytesOf(env, n, src, op), op, "x");
  out->RequireBytes(env, BytesOf(env, n, dst, op), op, "out");
  std::shared_ptr<StreamState> stream = Stream::From(env, info[5], op, "stream");
  x->UseOn(env, stream, op);
  out->UseOn(env, stream, op);
  FXRT_CUDA_CHECK(env, op, kernels::LaunchCast(src, dst, x->data(), out->data(), n, stream->stream()));
  return env.Undefined();
}

}  // namespace fxrt
