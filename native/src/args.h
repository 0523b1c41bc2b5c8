// Argument parsing for the native functions. Every check throws a JS error naming the function
// and the argument, so a wrong call from TypeScript can never reach the device.
#pragma once

#include <napi.h>

#include <cstddef>
#include <string>

#include "cuda_check.h"
#include "dtype.h"

namespace fxrt {

inline DType ParseDType(Napi::Env env, Napi::Value v, const char* op, const char* arg) {
  if (!v.IsString()) ThrowType(env, op, std::string("argument '") + arg + "' must be a dtype name");
  std::string s = v.As<Napi::String>().Utf8Value();
  for (DType t : {DType::Float32, DType::Float16, DType::BFloat16, DType::Int8, DType::UInt8, DType::Int32,
                  DType::Int64, DType::Bool, DType::Float8E4M3}) {
    if (s == DTypeName(t)) return t;
  }
  ThrowType(env, op, std::string("argument '") + arg + "': unknown dtype '" + s + "'");
}

// A non-negative integer that a double holds exactly (sizes, element counts).
inline size_t ParseSize(Napi::Env env, Napi::Value v, const char* op, const char* arg) {
  if (!v.IsNumber()) ThrowType(env, op, std::string("argument '") + arg + "' must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= 9007199254740991.0) || d != static_cast<double>(static_cast<size_t>(d))) {
    ThrowRange(env, op, std::string("argument '") + arg + "' must be a non-negative integer, got " + std::to_string(d));
  }
  return static_cast<size_t>(d);
}

inline bool ParseBool(Napi::Env env, Napi::Value v, const char* op, const char* arg) {
  if (!v.IsBoolean()) ThrowType(env, op, std::string("argument '") + arg + "' must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

inline Napi::Object ParseObject(Napi::Env env, Napi::Value v, const char* op, const char* arg) {
  if (!v.IsObject()) ThrowType(env, op, std::string("argument '") + arg + "' must be an object");
  return v.As<Napi::Object>();
}

}  // namespace fxrt
