// Ops on the reduction-like kernels: reduce (sum, prod, max, min, avg over any dims), quantize and
// dequantize (per tensor or per channel), and the generic einsum kernel.
#include <cuda_runtime.h>

#include <string>
#include <vector>

#include "exec/op_factory.h"
#include "kernels/einsum.h"
#include "kernels/quant.h"
#include "kernels/reduce.h"

namespace fxrt::exec {

namespace {

std::string Status(const char* what, cudaError_t err) {
  return err == cudaSuccess ? "" : std::string(what) + ": " + cudaGetErrorString(err);
}

// The elements two views reach together when their offsets add (an output's base plus a reduced
// position); empty when either is.
Extent AddExtents(Extent a, Extent b) {
  if (a.hi < a.lo || b.hi < b.lo) return Extent{};
  return Extent{a.lo + b.lo, a.hi + b.hi};
}

kernels::StridedView WithStrides(const kernels::StridedView& v, const std::vector<int64_t>& strides) {
  kernels::StridedView out = v;
  for (int d = 0; d < v.rank; d++) out.stride[d] = strides[d];
  return out;
}

// `key` as a list of `rank` strides.
std::vector<int64_t> StridesOf(const SpecReader& spec, const char* key, int rank) {
  std::vector<int64_t> s = spec.Ints(key);
  if (s.size() != static_cast<size_t>(rank)) {
    spec.Fail(std::string(key) + " needs " + std::to_string(rank) + " strides, got " + std::to_string(s.size()));
  }
  return s;
}

class ReduceOp : public Op {
 public:
  ReduceOp(const kernels::ReduceParams& p, std::string tactic) : p_(p), tactic_(std::move(tactic)) {}
  std::string Enqueue(const ExecEnv& env) override { return Status("reduce", kernels::LaunchReduce(p_, env.stream)); }
  std::string Tactic() const override { return tactic_; }

 private:
  kernels::ReduceParams p_;
  std::string tactic_;
};

class QuantOp : public Op {
 public:
  explicit QuantOp(const kernels::QuantParams& p) : p_(p) {}
  std::string Enqueue(const ExecEnv& env) override {
    return Status(p_.quantize ? "quantize" : "dequantize", kernels::LaunchQuant(p_, env.stream));
  }
  std::string Tactic() const override { return kernels::QuantKernelName(p_); }

 private:
  kernels::QuantParams p_;
};

class EinsumOp : public Op {
 public:
  explicit EinsumOp(const kernels::EinsumParams& p) : p_(p) {}
  std::string Enqueue(const ExecEnv& env) override { return Status("einsum", kernels::LaunchEinsum(p_, env.stream)); }
  std::string Tactic() const override { return "einsum_generic[" + std::to_string(p_.nOperands) + " operands]"; }

 private:
  kernels::EinsumParams p_;
};

bool IsQuantized(DType t) { return t == DType::Int8 || t == DType::UInt8 || t == DType::Int32 || t == DType::Float8E4M3; }

// Operand `key` of a quantize/dequantize spec ({ ref, dtype, strides } over the iteration shape), resolved.
struct QuantRef {
  char* ptr;
  DType dtype;
  int64_t stride[kernels::kMaxRank];
};

QuantRef ResolveQuantRef(const SpecReader& spec, const char* key, const kernels::QuantParams& p, BuildContext& ctx) {
  SpecReader o = spec.Obj(key);
  QuantRef q{};
  q.dtype = o.Dtype("dtype");
  std::vector<int64_t> strides = StridesOf(o, "strides", p.rank);
  kernels::StridedView v;
  v.rank = p.rank;
  for (int d = 0; d < p.rank; d++) {
    v.size[d] = p.size[d];
    v.stride[d] = q.stride[d] = strides[d];
  }
  q.ptr = ResolveRef(o, "ref", ctx.mem, ExtentOf(v), ItemSize(q.dtype));
  return q;
}

kernels::QuantOperand InputOf(const QuantRef& r, int rank) {
  kernels::QuantOperand q{};
  q.ptr = r.ptr;
  q.dtype = r.dtype;
  for (int d = 0; d < rank; d++) q.stride[d] = r.stride[d];
  return q;
}

std::unique_ptr<Op> BuildQuant(const SpecReader& spec, BuildContext& ctx, bool quantize) {
  kernels::QuantParams p{};
  p.quantize = quantize;
  std::vector<int64_t> shape = spec.Ints("shape");
  if (shape.size() > static_cast<size_t>(kernels::kMaxRank)) spec.Fail("more than 8 iteration dims");
  p.rank = static_cast<int>(shape.size());
  for (size_t d = 0; d < shape.size(); d++) {
    if (shape[d] < 0) spec.Fail("negative iteration dim");
    p.size[d] = shape[d];
  }
  p.x = InputOf(ResolveQuantRef(spec, "x", p, ctx), p.rank);
  p.scale = InputOf(ResolveQuantRef(spec, "scale", p, ctx), p.rank);
  const QuantRef y = ResolveQuantRef(spec, "y", p, ctx);
  p.y = y.ptr;
  p.yDtype = y.dtype;
  for (int d = 0; d < p.rank; d++) p.yStride[d] = y.stride[d];
  const DType floatSide = quantize ? p.x.dtype : p.yDtype, intSide = quantize ? p.yDtype : p.x.dtype;
  if (!IsFloating(floatSide)) spec.Fail(std::string(quantize ? "x" : "y") + " must be float32, float16 or bfloat16, got " + DTypeName(floatSide));
  if (!IsQuantized(intSide)) spec.Fail(std::string(quantize ? "y" : "x") + " must be int8, uint8, int32 or float8e4m3, got " + DTypeName(intSide));
  if (!IsFloating(p.scale.dtype)) spec.Fail(std::string("the scale must be a float tensor, got ") + DTypeName(p.scale.dtype));
  if (spec.Has("zeroPoint")) {
    const QuantRef zp = ResolveQuantRef(spec, "zeroPoint", p, ctx);
    if (zp.dtype != intSide) spec.Fail(std::string("the zero point must be ") + DTypeName(intSide) + ", got " + DTypeName(zp.dtype));
    for (int d = 0; d < p.rank; d++) {
      if (p.size[d] > 1 && zp.stride[d] != p.scale.stride[d]) spec.Fail("the zero point must have the scale's strides");
    }
    p.zeroPoint = zp.ptr;
    p.zeroPointDtype = zp.dtype;
  }
  return std::make_unique<QuantOp>(p);
}

}  // namespace

std::unique_ptr<Op> BuildReduce(const SpecReader& spec, BuildContext& ctx) {
  kernels::ReduceParams p{};
  const std::string fn = spec.Str("fn");
  if (fn == "sum") p.fn = kernels::ReduceFn::Sum;
  else if (fn == "prod") p.fn = kernels::ReduceFn::Prod;
  else if (fn == "max") p.fn = kernels::ReduceFn::Max;
  else if (fn == "min") p.fn = kernels::ReduceFn::Min;
  else if (fn == "avg") p.fn = kernels::ReduceFn::Avg;
  else spec.Fail("fn must be sum, prod, max, min or avg, got '" + fn + "'");
  p.dtype = spec.Dtype("dtype");
  if (p.dtype == DType::Bool) spec.Fail("reduce takes numeric tensors, got bool");
  if (p.fn == kernels::ReduceFn::Avg && !IsFloating(p.dtype)) spec.Fail(std::string("avg needs a float tensor, got ") + DTypeName(p.dtype));
  p.kept = spec.View("kept");
  p.reduced = spec.View("reduced");
  std::vector<int64_t> ys = StridesOf(spec, "yStrides", p.kept.rank);
  for (int d = 0; d < p.kept.rank; d++) p.yStride[d] = ys[d];
  const size_t item = ItemSize(p.dtype);
  p.x = ResolveRef(spec, "x", ctx.mem, AddExtents(ExtentOf(p.kept), ExtentOf(p.reduced)), item);
  p.y = ResolveRef(spec, "y", ctx.mem, ExtentOf(WithStrides(p.kept, ys)), item);
  std::string tactic = "reduce_" + fn + "_" + kernels::ReducePathName(kernels::ChooseReducePath(p));
  return std::make_unique<ReduceOp>(p, std::move(tactic));
}

std::unique_ptr<Op> BuildQuantize(const SpecReader& spec, BuildContext& ctx) { return BuildQuant(spec, ctx, true); }

std::unique_ptr<Op> BuildDequantize(const SpecReader& spec, BuildContext& ctx) { return BuildQuant(spec, ctx, false); }

std::unique_ptr<Op> BuildEinsum(const SpecReader& spec, BuildContext& ctx) {
  kernels::EinsumParams p{};
  p.dtype = spec.Dtype("dtype");
  if (!IsFloating(p.dtype)) spec.Fail(std::string("einsum takes float32, float16 or bfloat16 tensors, got ") + DTypeName(p.dtype));
  p.out = spec.View("out");
  std::vector<int64_t> sumShape = spec.Ints("sumShape");
  if (sumShape.size() > static_cast<size_t>(kernels::kMaxRank)) spec.Fail("more than 8 summed dims");
  p.sumRank = static_cast<int>(sumShape.size());
  kernels::StridedView sumView;
  sumView.rank = p.sumRank;
  for (int d = 0; d < p.sumRank; d++) {
    if (sumShape[d] < 0) spec.Fail("negative summed dim");
    p.sumSize[d] = sumView.size[d] = sumShape[d];
  }
  std::vector<SpecReader> operands = spec.Objs("operands");
  if (operands.empty() || operands.size() > static_cast<size_t>(kernels::kMaxEinsumOperands)) {
    spec.Fail("einsum takes 1 to " + std::to_string(kernels::kMaxEinsumOperands) + " operands, got " + std::to_string(operands.size()));
  }
  p.nOperands = static_cast<int>(operands.size());
  const size_t item = ItemSize(p.dtype);
  for (int k = 0; k < p.nOperands; k++) {
    const SpecReader& o = operands[k];
    std::vector<int64_t> outStrides = StridesOf(o, "outStrides", p.out.rank), sumStrides = StridesOf(o, "sumStrides", p.sumRank);
    kernels::EinsumOperand& e = p.operand[k];
    for (int d = 0; d < p.out.rank; d++) e.outStride[d] = outStrides[d];
    for (int d = 0; d < p.sumRank; d++) e.sumStride[d] = sumStrides[d];
    e.ptr = ResolveRef(o, "ref", ctx.mem, AddExtents(ExtentOf(WithStrides(p.out, outStrides)), ExtentOf(WithStrides(sumView, sumStrides))), item);
  }
  p.y = ResolveRef(spec, "y", ctx.mem, ExtentOf(p.out), item);
  return std::make_unique<EinsumOp>(p);
}

}  // namespace fxrt::exec
