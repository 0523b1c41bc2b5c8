// Reading the op specs that TypeScript hands to prepare() (src/backends/cuda/exec_spec.ts), with
// every field checked: a malformed spec throws a JS error naming the op and the field, and a
// memory reference outside its buffer is refused before anything touches the device.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "dtype.h"
#include "kernels/strided.h"

namespace fxrt::exec {

class SpecReader {
 public:
  SpecReader(Napi::Env env, Napi::Value value, std::string where);

  Napi::Env env() const { return env_; }
  const std::string& where() const { return where_; }
  bool Has(const char* key) const;
  int64_t Int(const char* key) const;
  double Num(const char* key) const;
  bool Bool(const char* key) const;
  std::string Str(const char* key) const;
  DType Dtype(const char* key) const;
  std::vector<int64_t> Ints(const char* key) const;
  SpecReader Obj(const char* key) const;
  std::vector<SpecReader> Objs(const char* key) const;
  // A view {shape, strides} (rank <= kMaxRank; shape entries >= 0).
  kernels::StridedView View(const char* key) const;
  [[noreturn]] void Fail(const std::string& what) const;

 private:
  Napi::Value Get(const char* key) const;
  Napi::Env env_;
  Napi::Object obj_;
  std::string where_;
};

// A byte range of the context memory (a network input or output slot) that a bound program
// addresses in a caller's device buffer instead.
struct SlotBinding {
  size_t start = 0, end = 0;
  char* ptr = nullptr;
};

// The two memories an op may address: the execution context's (arena, inputs, outputs, scratch)
// and the loaded plan's constants; and the slots bound to caller buffers.
struct Memories {
  char* context = nullptr;
  size_t contextBytes = 0;
  char* weights = nullptr;
  size_t weightsBytes = 0;
  std::vector<SlotBinding> bound;
};

// Element-offset range [lo, hi] a view reaches (hi < lo when it is empty).
struct Extent {
  int64_t lo = 0;
  int64_t hi = -1;
};
Extent ExtentOf(const kernels::StridedView& v);
Extent ContiguousExtent(int64_t elements);

// The pointer of memory reference `key` ({ mem: 0 | 1, offset }) after checking that elements
// [extent.lo, extent.hi] of `elemBytes` bytes around it lie inside that memory.
char* ResolveRef(const SpecReader& spec, const char* key, const Memories& mem, Extent extent, size_t elemBytes);
// Whether memory reference `key` lies in the plan's weights (mem 1: constants no kernel writes).
bool RefersToWeights(const SpecReader& spec, const char* key);

}  // namespace fxrt::exec
