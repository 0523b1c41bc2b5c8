#include "exec/spec.h"

#include "args.h"
#include "cuda_check.h"

namespace fxrt::exec {

SpecReader::SpecReader(Napi::Env env, Napi::Value value, std::string where) : env_(env), where_(std::move(where)) {
  if (!value.IsObject()) ThrowType(env, "prepare", where_ + " must be an object");
  obj_ = value.As<Napi::Object>();
}

void SpecReader::Fail(const std::string& what) const { ThrowError(env_, "prepare", where_ + ": " + what); }

Napi::Value SpecReader::Get(const char* key) const {
  Napi::Value v = obj_.Get(key);
  if (v.IsUndefined()) Fail(std::string("field '") + key + "' is missing");
  return v;
}

bool SpecReader::Has(const char* key) const {
  Napi::Value v = obj_.Get(key);
  return !v.IsUndefined() && !v.IsNull();
}

int64_t SpecReader::Int(const char* key) const {
  Napi::Value v = Get(key);
  if (!v.IsNumber()) Fail(std::string("field '") + key + "' must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= -9007199254740991.0 && d <= 9007199254740991.0) || d != static_cast<double>(static_cast<int64_t>(d))) {
    Fail(std::string("field '") + key + "' must be an integer, got " + std::to_string(d));
  }
  return static_cast<int64_t>(d);
}

double SpecReader::Num(const char* key) const {
  Napi::Value v = Get(key);
  if (!v.IsNumber()) Fail(std::string("field '") + key + "' must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

bool SpecReader::Bool(const char* key) const {
  Napi::Value v = Get(key);
  if (!v.IsBoolean()) Fail(std::string("field '") + key + "' must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

std::string SpecReader::Str(const char* key) const {
  Napi::Value v = Get(key);
  if (!v.IsString()) Fail(std::string("field '") + key + "' must be a string");
  return v.As<Napi::String>().Utf8Value();
}

DType SpecReader::Dtype(const char* key) const { return ParseDType(env_, Get(key), "prepare", key); }

std::vector<int64_t> SpecReader::Ints(const char* key) const {
  Napi::Value v = Get(key);
  if (!v.IsArray()) Fail(std::string("field '") + key + "' must be an array of integers");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<int64_t> out(a.Length());
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value e = a.Get(i);
    double d = e.IsNumber() ? e.As<Napi::Number>().DoubleValue() : 0.5;
    if (d != static_cast<double>(static_cast<int64_t>(d))) Fail(std::string("field '") + key + "' must hold integers");
    out[i] = static_cast<int64_t>(d);
  }
  return out;
}

SpecReader SpecReader::Obj(const char* key) const { return SpecReader(env_, Get(key), where_ + "." + key); }

std::vector<SpecReader> SpecReader::Objs(const char* key) const {
  Napi::Value v = Get(key);
  if (!v.IsArray()) Fail(std::string("field '") + key + "' must be an array");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<SpecReader> out;
  out.reserve(a.Length());
  for (uint32_t i = 0; i < a.Length(); i++) out.emplace_back(env_, a.Get(i), where_ + "." + key + "[" + std::to_string(i) + "]");
  return out;
}

kernels::StridedView SpecReader::View(const char* key) const {
  SpecReader v = Obj(key);
  std::vector<int64_t> shape = v.Ints("shape");
  std::vector<int64_t> strides = v.Ints("strides");
  if (shape.size() != strides.size() || shape.size() > static_cast<size_t>(kernels::kMaxRank)) {
    Fail(std::string("view '") + key + "' needs as many strides as dims, at most " + std::to_string(kernels::kMaxRank) +
         ", got " + std::to_string(shape.size()) + " dims and " + std::to_string(strides.size()) + " strides");
  }
  kernels::StridedView out;
  out.rank = static_cast<int>(shape.size());
  for (size_t d = 0; d < shape.size(); d++) {
    if (shape[d] < 0) Fail(std::string("view '") + key + "' has a negative dim");
    out.size[d] = shape[d];
    out.stride[d] = strides[d];
  }
  return out;
}

Extent ExtentOf(const kernels::StridedView& v) {
  Extent e{0, 0};
  for (int d = 0; d < v.rank; d++) {
    if (v.size[d] == 0) return Extent{};
    int64_t reach = (v.size[d] - 1) * v.stride[d];
    if (reach < 0) e.lo += reach;
    else e.hi += reach;
  }
  return e;
}

Extent ContiguousExtent(int64_t elements) { return elements > 0 ? Extent{0, elements - 1} : Extent{}; }

namespace {
constexpr int64_t kContextMemory = 0, kWeightsMemory = 1;  // a reference's "mem"
}  // namespace

bool RefersToWeights(const SpecReader& spec, const char* key) { return spec.Obj(key).Int("mem") == kWeightsMemory; }

char* ResolveRef(const SpecReader& spec, const char* key, const Memories& mem, Extent extent, size_t elemBytes) {
  SpecReader ref = spec.Obj(key);
  int64_t which = ref.Int("mem");
  int64_t offset = ref.Int("offset");
  if (which != kContextMemory && which != kWeightsMemory) ref.Fail("mem must be 0 (context) or 1 (weights)");
  char* base = which == kContextMemory ? mem.context : mem.weights;
  auto size = static_cast<int64_t>(which == kContextMemory ? mem.contextBytes : mem.weightsBytes);
  const auto item = static_cast<int64_t>(elemBytes);
  if (offset % item != 0) ref.Fail("offset " + std::to_string(offset) + " is not aligned to " + std::to_string(item) + " bytes");
  const bool empty = extent.hi < extent.lo;
  const int64_t lo = empty ? offset : offset + extent.lo * item;
  const int64_t hi = empty ? offset : offset + (extent.hi + 1) * item;
  if (!empty && (lo < 0 || hi > size)) {
    ref.Fail("bytes [" + std::to_string(lo) + ", " + std::to_string(hi) + ") lie outside the " + std::to_string(size) +
             "-byte " + (which == kContextMemory ? "context memory" : "constants"));
  }
  if (which == kContextMemory) {
    // A bound slot: the access must lie wholly inside it, and goes to the caller's buffer.
    for (const SlotBinding& b : mem.bound) {
      const auto start = static_cast<int64_t>(b.start), end = static_cast<int64_t>(b.end);
      const bool inside = lo >= start && hi <= end && (empty ? offset < end : true);
      if (inside) return b.ptr + (offset - start);
      if (lo < end && hi > start) {
        ref.Fail("bytes [" + std::to_string(lo) + ", " + std::to_string(hi) + ") straddle the bound slot [" + std::to_string(start) +
                 ", " + std::to_string(end) + ")");
      }
    }
  }
  return base + offset;
}

}  // namespace fxrt::exec
