#include "exec/timing_cache.h"

#include <cuda_runtime.h>

#include <cstring>
#include <string>
#include <utility>
#include <vector>

#ifdef FXRT_HAVE_CUBLASLT
#include <cublasLt.h>
#endif
#ifdef FXRT_HAVE_CUDNN
#include <cudnn.h>
#endif

#include "cuda_check.h"

namespace fxrt::exec {

namespace {

// Little-endian field writers and readers (the record layout is fixed in tactics.h).
template <typename T>
void Put(std::vector<uint8_t>& out, T v) {
  uint8_t bytes[sizeof(T)];
  std::memcpy(bytes, &v, sizeof(T));
  out.insert(out.end(), bytes, bytes + sizeof(T));
}

template <typename T>
T Take(const uint8_t*& p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  p += sizeof(T);
  return v;
}

const char* const kOp = "timing cache";

}  // namespace

std::vector<uint8_t> EncodeTactic(const Tactic& t) {
  std::vector<uint8_t> out;
  out.reserve(kTacticRecordBytes);
  Put<uint8_t>(out, static_cast<uint8_t>(kTacticFormatVersion));
  Put<uint8_t>(out, static_cast<uint8_t>(t.kind));
  Put<int32_t>(out, t.algo);
  Put<uint8_t>(out, t.fused ? 1 : 0);
  for (uint64_t w : t.words) Put<uint64_t>(out, w);
  Put<float>(out, t.ms);
  return out;
}

bool DecodeTactic(const uint8_t* data, size_t size, Tactic& out) {
  if (size != kTacticRecordBytes || data[0] != kTacticFormatVersion) return false;
  const uint8_t kind = data[1];
  if (kind < static_cast<uint8_t>(TacticKind::ConvForward) || kind > static_cast<uint8_t>(TacticKind::Attention)) return false;
  const uint8_t* p = data + 2;
  Tactic t;
  t.kind = static_cast<TacticKind>(kind);
  t.algo = Take<int32_t>(p);
  const uint8_t fused = Take<uint8_t>(p);
  if (fused > 1 || t.algo < 0) return false;
  t.fused = fused == 1;
  for (uint64_t& w : t.words) w = Take<uint64_t>(p);
  t.ms = Take<float>(p);
  out = std::move(t);
  return true;
}

Napi::Value TacticDevice(Napi::Env env, int device) {
  cudaDeviceProp prop = {};
  FXRT_CUDA_CHECK(env, kOp, cudaGetDeviceProperties(&prop, device));
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", prop.name);
  Napi::Array cc = Napi::Array::New(env, 2);
  cc.Set(0u, prop.major);
  cc.Set(1u, prop.minor);
  o.Set("computeCapability", cc);
  o.Set("multiprocessors", prop.multiProcessorCount);
#ifdef FXRT_HAVE_CUBLASLT
  o.Set("cublasLtVersion", static_cast<double>(cublasLtGetVersion()));
#else
  o.Set("cublasLtVersion", env.Null());
#endif
#ifdef FXRT_HAVE_CUDNN
  o.Set("cudnnVersion", static_cast<double>(cudnnGetVersion()));
#else
  o.Set("cudnnVersion", env.Null());
#endif
  o.Set("tacticFormat", kTacticFormatVersion);
  return o;
}

size_t ImportTactics(Napi::Env env, Napi::Value entries, TacticCache& cache) {
  if (!entries.IsArray()) ThrowType(env, kOp, "argument 'entries' must be an array of { key, data }");
  Napi::Array list = entries.As<Napi::Array>();
  size_t accepted = 0;
  for (uint32_t i = 0; i < list.Length(); i++) {
    Napi::Value e = list.Get(i);
    if (!e.IsObject()) ThrowType(env, kOp, "entries[" + std::to_string(i) + "] must be an object { key, data }");
    Napi::Value key = e.As<Napi::Object>().Get("key");
    Napi::Value data = e.As<Napi::Object>().Get("data");
    if (!key.IsString() || !data.IsTypedArray() || data.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
      ThrowType(env, kOp, "entries[" + std::to_string(i) + "] must have a string 'key' and a Uint8Array 'data'");
    }
    Napi::Uint8Array bytes = data.As<Napi::Uint8Array>();
    Tactic t;
    if (!DecodeTactic(bytes.Data(), bytes.ByteLength(), t)) {
      cache.CountRejected();
      continue;
    }
    cache.Import(key.As<Napi::String>().Utf8Value(), std::move(t));
    accepted++;
  }
  return accepted;
}

Napi::Value ExportTactics(Napi::Env env, const TacticCache& cache) {
  std::vector<Napi::Object> out;
  cache.ForEachNew([&](const std::string& key, const Tactic& t) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("key", key);
    o.Set("tactic", t.name);
    o.Set("ms", static_cast<double>(t.ms));
    std::vector<uint8_t> record = EncodeTactic(t);
    Napi::Uint8Array data = Napi::Uint8Array::New(env, record.size());
    std::memcpy(data.Data(), record.data(), record.size());
    o.Set("data", data);
    out.push_back(o);
  });
  Napi::Array a = Napi::Array::New(env, out.size());
  for (size_t i = 0; i < out.size(); i++) a.Set(static_cast<uint32_t>(i), out[i]);
  return a;
}

Napi::Value TacticStatsValue(Napi::Env env, const TacticStats& stats) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("hits", static_cast<double>(stats.hits));
  o.Set("misses", static_cast<double>(stats.misses));
  o.Set("timed", static_cast<double>(stats.timed));
  o.Set("rejected", static_cast<double>(stats.rejected));
  return o;
}

}  // namespace fxrt::exec
