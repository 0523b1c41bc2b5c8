// Ops that move elements: strided copies (shuffle, layout conversion, slice, concatenation) and
// fills (padding borders, constants).
#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "exec/op_factory.h"
#include "kernels/copy.h"

namespace fxrt::exec {

namespace {

int64_t Numel(const kernels::StridedView& v) {
  int64_t n = 1;
  for (int d = 0; d < v.rank; d++) n *= v.size[d];
  return n;
}

// Whether the view walks memory contiguously from its base (row-major, stride 1 innermost).
bool IsContiguous(const kernels::StridedView& v) {
  int64_t expect = 1;
  for (int d = v.rank - 1; d >= 0; d--) {
    if (v.size[d] != 1 && v.stride[d] != expect) return false;
    expect *= v.size[d];
  }
  return true;
}

class CopyOp : public Op {
 public:
  CopyOp(const char* src, kernels::StridedView sv, char* dst, kernels::StridedView dv, int64_t numel, int elemBytes)
      : src_(src), dst_(dst), sv_(sv), dv_(dv), numel_(numel), elemBytes_(elemBytes),
        flat_(IsContiguous(sv) && IsContiguous(dv)) {}

  std::string Enqueue(const ExecEnv& env) override {
    if (numel_ == 0) return "";
    cudaError_t err = flat_ ? cudaMemcpyAsync(dst_, src_, static_cast<size_t>(numel_) * elemBytes_, cudaMemcpyDeviceToDevice, env.stream)
                            : kernels::LaunchStridedCopy(src_, sv_, dst_, dv_, numel_, elemBytes_, env.stream);
    return err == cudaSuccess ? "" : std::string("copy: ") + cudaGetErrorString(err);
  }
  std::string Tactic() const override { return flat_ ? "memcpy" : "strided_copy[" + std::to_string(elemBytes_) + "B words]"; }

 private:
  const char* src_;
  char* dst_;
  kernels::StridedView sv_, dv_;
  int64_t numel_;
  int elemBytes_;
  bool flat_;
};

class FillOp : public Op {
 public:
  FillOp(char* dst, kernels::StridedView dv, int64_t numel, int elemBytes, uint64_t value)
      : dst_(dst), dv_(dv), numel_(numel), elemBytes_(elemBytes), value_(value) {}
  std::string Enqueue(const ExecEnv& env) override {
    cudaError_t err = kernels::LaunchFill(dst_, dv_, numel_, elemBytes_, value_, env.stream);
    return err == cudaSuccess ? "" : std::string("fill: ") + cudaGetErrorString(err);
  }
  std::string Tactic() const override { return "fill"; }

 private:
  char* dst_;
  kernels::StridedView dv_;
  int64_t numel_;
  int elemBytes_;
  uint64_t value_;
};

// Re-expresses both views in words of `width` bytes when their innermost dims are contiguous runs
// of whole words and every other step and both pointers are word-aligned: a copy then moves 16
// bytes per thread instead of one element.
bool Widen(const char* src, kernels::StridedView& sv, char* dst, kernels::StridedView& dv, int& elemBytes, int64_t& numel, int width) {
  const int64_t ratio = width / elemBytes;
  if (ratio <= 1 || reinterpret_cast<uintptr_t>(src) % width != 0 || reinterpret_cast<uintptr_t>(dst) % width != 0) return false;
  for (const kernels::StridedView* v : {&sv, &dv}) {
    if (v->rank == 0 || v->stride[v->rank - 1] != 1 || v->size[v->rank - 1] % ratio != 0) return false;
    for (int d = 0; d < v->rank - 1; d++) {
      if (v->stride[d] % ratio != 0) return false;
    }
  }
  for (kernels::StridedView* v : {&sv, &dv}) {
    v->size[v->rank - 1] /= ratio;
    for (int d = 0; d < v->rank - 1; d++) v->stride[d] /= ratio;
  }
  elemBytes = width;
  numel /= ratio;
  return true;
}

int ElemBytes(const SpecReader& spec) {
  int64_t b = spec.Int("elemBytes");
  if (b != 1 && b != 2 && b != 4 && b != 8) spec.Fail("elemBytes must be 1, 2, 4 or 8, got " + std::to_string(b));
  return static_cast<int>(b);
}

}  // namespace

std::unique_ptr<Op> BuildCopy(const SpecReader& spec, BuildContext& ctx) {
  const int elem = ElemBytes(spec);
  kernels::StridedView sv = spec.View("srcView");
  kernels::StridedView dv = spec.View("dstView");
  const int64_t n = Numel(dv);
  if (Numel(sv) != n) spec.Fail("srcView and dstView hold different element counts");
  const char* src = ResolveRef(spec, "src", ctx.mem, ExtentOf(sv), elem);
  char* dst = ResolveRef(spec, "dst", ctx.mem, ExtentOf(dv), elem);
  int wide = elem;
  int64_t count = n;
  for (int width : {16, 8, 4}) {
    if (Widen(src, sv, dst, dv, wide, count, width)) break;
  }
  return std::make_unique<CopyOp>(src, sv, dst, dv, count, wide);
}

std::unique_ptr<Op> BuildFill(const SpecReader& spec, BuildContext& ctx) {
  const int elem = ElemBytes(spec);
  kernels::StridedView dv = spec.View("dstView");
  // The word to store, as its low and high 32-bit halves (a double cannot carry 64 bits exactly).
  const auto lo = static_cast<uint64_t>(spec.Int("wordLo")) & 0xffffffffu;
  const auto hi = static_cast<uint64_t>(spec.Int("wordHi")) & 0xffffffffu;
  char* dst = ResolveRef(spec, "dst", ctx.mem, ExtentOf(dv), elem);
  return std::make_unique<FillOp>(dst, dv, Numel(dv), elem, (hi << 32) | lo);
}

}  // namespace fxrt::exec
