// Ops on the backend's own kernels: pointwise programs, 1-D to 3-D pooling, layer normalization
// and softmax.
#include <cuda_runtime.h>

#include <string>

#include "exec/op_factory.h"
#include "kernels/norm.h"
#include "kernels/pointwise.h"
#include "kernels/pool.h"

namespace fxrt::exec {

namespace {

using kernels::PwActivation;
using kernels::PwBinary;
using kernels::PwOp;
using kernels::PwUnary;

std::string Status(const char* what, cudaError_t err) {
  return err == cudaSuccess ? "" : std::string(what) + ": " + cudaGetErrorString(err);
}

// Index of `name` in `names` (the enum's order), or -1.
template <size_t N>
int IndexOf(const char* const (&names)[N], const std::string& name) {
  for (size_t i = 0; i < N; i++) {
    if (name == names[i]) return static_cast<int>(i);
  }
  return -1;
}

// Names in the order of kernels::PwBinary / PwUnary / PwActivation.
const char* const kBinaryNames[] = {"sum", "prod", "sub", "div", "pow", "max", "min", "floor_div", "mod", "and", "or", "xor",
                                    "equal", "greater", "less"};
const char* const kUnaryNames[] = {"exp", "log", "sqrt", "recip", "abs", "neg", "sin", "cos", "tan", "sinh", "cosh", "asin",
                                   "acos", "atan", "ceil", "floor", "erf", "not", "sign", "round", "trunc", "isnan", "rsqrt"};
const char* const kActivationNames[] = {"relu", "sigmoid", "tanh", "leaky_relu", "elu", "selu", "softsign", "softplus",
                                        "clip", "hard_sigmoid", "gelu_erf", "gelu_tanh", "silu"};

class PointwiseOp : public Op {
 public:
  PointwiseOp(const kernels::PwParams& p, bool wide, std::string tactic) : p_(p), wide_(wide), tactic_(std::move(tactic)) {}
  std::string Enqueue(const ExecEnv& env) override { return Status("pointwise", kernels::LaunchPointwise(p_, wide_, env.stream)); }
  std::string Tactic() const override { return tactic_; }

 private:
  kernels::PwParams p_;
  bool wide_;
  std::string tactic_;
};

kernels::StridedView ViewOf(const std::vector<int64_t>& shape, const std::vector<int64_t>& strides) {
  kernels::StridedView v;
  v.rank = static_cast<int>(shape.size());
  for (size_t d = 0; d < shape.size(); d++) {
    v.size[d] = shape[d];
    v.stride[d] = strides[d];
  }
  return v;
}

kernels::PwInstr ParseInstr(const SpecReader& s, int index, int nIn) {
  kernels::PwInstr ins{};
  const std::string op = s.Str("op");
  std::vector<int64_t> args = s.Ints("args");
  size_t arity = 1;
  if (op == "elementwise") {
    ins.op = PwOp::Elementwise;
    int fn = IndexOf(kBinaryNames, s.Str("fn"));
    if (fn < 0) s.Fail("unknown elementwise function '" + s.Str("fn") + "'");
    ins.fn = static_cast<uint8_t>(fn);
    ins.intMath = s.Bool("intMath") ? 1 : 0;
    arity = 2;
  } else if (op == "unary") {
    ins.op = PwOp::Unary;
    int fn = IndexOf(kUnaryNames, s.Str("fn"));
    if (fn < 0) s.Fail("unknown unary function '" + s.Str("fn") + "'");
    ins.fn = static_cast<uint8_t>(fn);
  } else if (op == "activation") {
    ins.op = PwOp::Activation;
    int fn = IndexOf(kActivationNames, s.Str("fn"));
    if (fn < 0) s.Fail("unknown activation '" + s.Str("fn") + "'");
    ins.fn = static_cast<uint8_t>(fn);
    ins.alpha = static_cast<float>(s.Num("alpha"));
    ins.beta = static_cast<float>(s.Num("beta"));
  } else if (op == "cast") {
    ins.op = PwOp::Cast;
  } else if (op == "select") {
    ins.op = PwOp::Select;
    arity = 3;
  } else if (op == "prelu") {
    ins.op = PwOp::Prelu;
    arity = 2;
  } else {
    s.Fail("unknown instruction '" + op + "'");
  }
  if (args.size() != arity) s.Fail(op + " takes " + std::to_string(arity) + " registers, got " + std::to_string(args.size()));
  for (int64_t a : args) {
    if (a < 0 || a >= nIn + index) s.Fail("reads register " + std::to_string(a) + ", which is not defined before it");
  }
  ins.a = static_cast<uint8_t>(args[0]);
  ins.b = static_cast<uint8_t>(arity > 1 ? args[1] : 0);
  ins.c = static_cast<uint8_t>(arity > 2 ? args[2] : 0);
  ins.dtype = s.Dtype("dtype");
  return ins;
}

class PoolOp : public Op {
 public:
  explicit PoolOp(const kernels::PoolParams& p) : p_(p) {}
  std::string Enqueue(const ExecEnv& env) override { return Status("pool", kernels::LaunchPool(p_, env.stream)); }
  std::string Tactic() const override {
    return std::string(p_.isMax ? "max_pool" : "avg_pool") + std::to_string(p_.spatialDims) + "d" + (p_.xScale != nullptr ? "_int8" : "") +
           (kernels::PoolVectorized(p_) ? " (16-byte channel runs)" : "");
  }

 private:
  kernels::PoolParams p_;
};

class LayerNormOp : public Op {
 public:
  explicit LayerNormOp(const kernels::LayerNormParams& p) : p_(p) {}
  std::string Enqueue(const ExecEnv& env) override { return Status("layernorm", kernels::LaunchLayerNorm(p_, env.stream)); }
  std::string Tactic() const override { return kernels::LayerNormVariant(p_); }

 private:
  kernels::LayerNormParams p_;
};

class SoftmaxOp : public Op {
 public:
  explicit SoftmaxOp(const kernels::SoftmaxParams& p) : p_(p) {}
  std::string Enqueue(const ExecEnv& env) override { return Status("softmax", kernels::LaunchSoftmax(p_, env.stream)); }
  std::string Tactic() const override { return p_.mask != nullptr || p_.causalRows > 0 ? "softmax_rows_masked" : "softmax_rows"; }

 private:
  kernels::SoftmaxParams p_;
};

DType FloatDtype(const SpecReader& s, const char* key) {
  DType t = s.Dtype(key);
  if (!IsFloating(t)) s.Fail(std::string(key) + " must be float32, float16 or bfloat16, got " + DTypeName(t));
  return t;
}

}  // namespace

std::unique_ptr<Op> BuildPointwise(const SpecReader& spec, BuildContext& ctx) {
  kernels::PwParams p{};
  std::vector<int64_t> shape = spec.Ints("shape");
  if (shape.size() > static_cast<size_t>(kernels::kMaxRank)) spec.Fail("more than 8 iteration dims");
  p.rank = static_cast<int>(shape.size());
  for (size_t d = 0; d < shape.size(); d++) {
    if (shape[d] < 0) spec.Fail("negative iteration dim");
    p.size[d] = shape[d];
  }
  std::vector<SpecReader> inputs = spec.Objs("inputs");
  if (inputs.size() > static_cast<size_t>(kernels::kMaxPwInputs)) spec.Fail("more than 8 inputs");
  p.nIn = static_cast<int>(inputs.size());
  for (size_t j = 0; j < inputs.size(); j++) {
    std::vector<int64_t> strides = inputs[j].Ints("strides");
    if (strides.size() != shape.size()) inputs[j].Fail("needs one stride per iteration dim");
    p.in[j].dtype = inputs[j].Dtype("dtype");
    p.in[j].ptr = ResolveRef(inputs[j], "ref", ctx.mem, ExtentOf(ViewOf(shape, strides)), ItemSize(p.in[j].dtype));
    for (size_t d = 0; d < strides.size(); d++) p.in[j].stride[d] = strides[d];
    if (inputs[j].Has("scale")) {
      // An int8 operand of an int8 step, dequantized on load.
      if (p.in[j].dtype != DType::Int8) inputs[j].Fail(std::string("an input with a scale must be int8, got ") + DTypeName(p.in[j].dtype));
      SpecReader scale = inputs[j].Obj("scale");
      std::vector<int64_t> scaleStrides = scale.Ints("strides");
      if (scaleStrides.size() != shape.size()) scale.Fail("needs one stride per iteration dim");
      p.in[j].scaleDtype = FloatDtype(scale, "dtype");
      p.in[j].scale = ResolveRef(scale, "ref", ctx.mem, ExtentOf(ViewOf(shape, scaleStrides)), ItemSize(p.in[j].scaleDtype));
      for (size_t d = 0; d < scaleStrides.size(); d++) p.in[j].scaleStride[d] = scaleStrides[d];
    }
  }
  SpecReader out = spec.Obj("out");
  std::vector<int64_t> outStrides = out.Ints("strides");
  if (outStrides.size() != shape.size()) out.Fail("needs one stride per iteration dim");
  p.outDtype = out.Dtype("dtype");
  p.out = ResolveRef(out, "ref", ctx.mem, ExtentOf(ViewOf(shape, outStrides)), ItemSize(p.outDtype));
  for (size_t d = 0; d < outStrides.size(); d++) p.outStride[d] = outStrides[d];
  if (spec.Has("outScale")) {
    // An int8 step's output, requantized on store.
    if (p.outDtype != DType::Int8) out.Fail(std::string("an output with a scale must be int8, got ") + DTypeName(p.outDtype));
    SpecReader scale = spec.Obj("outScale");
    p.outScaleDtype = FloatDtype(scale, "dtype");
    p.outScale = ResolveRef(scale, "ref", ctx.mem, ContiguousExtent(1), ItemSize(p.outScaleDtype));
  }
  std::vector<SpecReader> instrs = spec.Objs("instrs");
  if (instrs.empty() || instrs.size() > static_cast<size_t>(kernels::kMaxPwInstrs)) {
    spec.Fail("a program needs 1 to " + std::to_string(kernels::kMaxPwInstrs) + " instructions, got " + std::to_string(instrs.size()));
  }
  p.nInstr = static_cast<int>(instrs.size());
  for (size_t k = 0; k < instrs.size(); k++) p.instr[k] = ParseInstr(instrs[k], static_cast<int>(k), p.nIn);
  const bool wide = spec.Bool("wide");
  if (kernels::PointwiseFastPath(p, wide)) {
    const std::string fn = p.instr[0].op == PwOp::Activation ? kActivationNames[p.instr[0].fn] : kUnaryNames[p.instr[0].fn];
    return std::make_unique<PointwiseOp>(p, wide, "pointwise_map[" + fn + "]");
  }
  return std::make_unique<PointwiseOp>(p, wide, std::string(wide ? "pointwise_f64" : "pointwise_f32") + "[" +
                                                    std::to_string(p.nInstr) + " instr" +
                                                    (kernels::PointwiseQuantized(p) ? ", int8" : "") + "]");
}

std::unique_ptr<Op> BuildPool(const SpecReader& spec, BuildContext& ctx) {
  kernels::PoolParams p{};
  p.dtype = spec.Dtype("dtype");
  std::vector<int64_t> in = spec.Ints("inShape"), out = spec.Ints("outShape");
  std::vector<int64_t> xs = spec.Ints("xStrides"), ys = spec.Ints("yStrides");
  std::vector<int64_t> window = spec.Ints("window"), stride = spec.Ints("stride"), pre = spec.Ints("prePadding"),
                       post = spec.Ints("postPadding"), dil = spec.Ints("dilation");
  const size_t ns = window.size();
  if (ns < 1 || ns > static_cast<size_t>(kernels::kMaxPoolDims)) spec.Fail("pooling takes 1 to 3 spatial dims, got " + std::to_string(ns));
  for (const auto* v : {&in, &out, &xs, &ys}) {
    if (v->size() != ns + 2) spec.Fail("shapes and strides must have " + std::to_string(ns + 2) + " entries (N, C, then the spatial dims)");
  }
  for (const auto* v : {&stride, &pre, &post, &dil}) {
    if (v->size() != ns) spec.Fail("window parameters must have one entry per spatial dim (" + std::to_string(ns) + ")");
  }
  if (in[0] != out[0] || in[1] != out[1]) spec.Fail("input and output must share N and C");
  p.spatialDims = static_cast<int>(ns);
  p.n = in[0];
  p.c = in[1];
  p.xStride[0] = xs[0];
  p.xStride[1] = xs[1];
  p.yStride[0] = ys[0];
  p.yStride[1] = ys[1];
  // Right-aligned spatial slots; the leading ones of a 1-D or 2-D pooling stay unit dims (stride 0).
  for (int d = 0; d < kernels::kMaxPoolDims; d++) {
    p.in[d] = p.out[d] = 1;
    p.window[d] = p.stride[d] = p.dilation[d] = 1;
  }
  const size_t first = kernels::kMaxPoolDims - ns;
  for (size_t s = 0; s < ns; s++) {
    const size_t d = first + s;
    p.in[d] = in[2 + s];
    p.out[d] = out[2 + s];
    p.window[d] = static_cast<int>(window[s]);
    p.stride[d] = static_cast<int>(stride[s]);
    p.pre[d] = static_cast<int>(pre[s]);
    p.post[d] = static_cast<int>(post[s]);
    p.dilation[d] = static_cast<int>(dil[s]);
    p.xStride[2 + d] = xs[2 + s];
    p.yStride[2 + d] = ys[2 + s];
    if (p.window[d] < 1 || p.stride[d] < 1 || p.dilation[d] < 1) spec.Fail("window, stride and dilation must be positive");
    if (p.pre[d] < 0 || p.post[d] < 0) spec.Fail("padding must be non-negative");
  }
  const std::string type = spec.Str("type");
  if (type != "max" && type != "average") spec.Fail("type must be max or average, got '" + type + "'");
  p.isMax = type == "max";
  p.yDtype = spec.Has("yDtype") ? spec.Dtype("yDtype") : p.dtype;
  if (spec.Has("xScale")) {
    // An int8 step: int8 x with its per-tensor scale; y int8 with an output scale, or a float.
    if (p.dtype != DType::Int8) spec.Fail(std::string("an int8 pooling step reads int8, got ") + DTypeName(p.dtype));
    SpecReader xScale = spec.Obj("xScale");
    p.xScaleDtype = FloatDtype(xScale, "dtype");
    p.xScale = ResolveRef(xScale, "ref", ctx.mem, ContiguousExtent(1), ItemSize(p.xScaleDtype));
    if (spec.Has("yScale")) {
      if (p.yDtype != DType::Int8) spec.Fail(std::string("an output scale needs an int8 output, got ") + DTypeName(p.yDtype));
      SpecReader yScale = spec.Obj("yScale");
      p.yScaleDtype = FloatDtype(yScale, "dtype");
      p.yScale = ResolveRef(yScale, "ref", ctx.mem, ContiguousExtent(1), ItemSize(p.yScaleDtype));
    } else if (!IsFloating(p.yDtype)) {
      spec.Fail(std::string("an int8 pooling step without an output scale writes a float, got ") + DTypeName(p.yDtype));
    }
    int64_t volume = 1;
    for (size_t s = 0; s < ns; s++) volume *= window[s];
    if (!p.isMax && volume > (int64_t{1} << 24)) {
      spec.Fail("an int8 average over windows of " + std::to_string(volume) + " elements (at most 16777216: the window sum is exact in int32)");
    }
  } else {
    if (spec.Has("yScale")) spec.Fail("an output scale needs an int8 step (xScale)");
    if (p.yDtype != p.dtype) spec.Fail(std::string("x and y must have one dtype, got ") + DTypeName(p.dtype) + " and " + DTypeName(p.yDtype));
    if (!IsFloating(p.dtype) && !(p.isMax && p.dtype == DType::Int8)) {
      spec.Fail(std::string("pooling takes float32, float16 or bfloat16 tensors (int8 for max pooling), got ") + DTypeName(p.dtype));
    }
  }
  p.excludePadding = spec.Bool("excludePadding");
  p.divisor = spec.Num("divisor");
  p.channelsLast = spec.Bool("channelsLast");
  kernels::StridedView xv, yv;
  xv.rank = yv.rank = static_cast<int>(ns + 2);
  for (size_t d = 0; d < ns + 2; d++) {
    xv.size[d] = in[d]; xv.stride[d] = xs[d];
    yv.size[d] = out[d]; yv.stride[d] = ys[d];
  }
  p.x = ResolveRef(spec, "x", ctx.mem, ExtentOf(xv), ItemSize(p.dtype));
  p.y = ResolveRef(spec, "y", ctx.mem, ExtentOf(yv), ItemSize(p.yDtype));
  return std::make_unique<PoolOp>(p);
}

std::unique_ptr<Op> BuildLayerNorm(const SpecReader& spec, BuildContext& ctx) {
  kernels::LayerNormParams p{};
  p.dtype = FloatDtype(spec, "dtype");
  p.affineDtype = FloatDtype(spec, "affineDtype");
  p.rows = spec.Int("rows");
  p.cols = spec.Int("cols");
  if (p.rows < 0 || p.cols < 0) spec.Fail("rows and cols must be non-negative");
  p.eps = static_cast<float>(spec.Num("eps"));
  p.scaleView = spec.View("scaleView");
  p.biasView = spec.View("biasView");
  const int64_t n = p.rows * p.cols;
  for (const auto* v : {&p.scaleView, &p.biasView}) {
    int64_t m = 1;
    for (int d = 0; d < v->rank; d++) m *= v->size[d];
    if (m != n) spec.Fail("scaleView and biasView must cover rows * cols elements");
  }
  auto perColumn = [&](const kernels::StridedView& v) {
    return (v.rank == 2 && v.size[0] == p.rows && v.size[1] == p.cols && v.stride[0] == 0 && v.stride[1] == 1) ||
           (v.rank == 1 && v.size[0] == p.cols && v.stride[0] == 1);
  };
  p.affinePerColumn = perColumn(p.scaleView) && perColumn(p.biasView);
  p.x = ResolveRef(spec, "x", ctx.mem, ContiguousExtent(n), ItemSize(p.dtype));
  p.y = ResolveRef(spec, "y", ctx.mem, ContiguousExtent(n), ItemSize(p.dtype));
  p.scale = ResolveRef(spec, "scale", ctx.mem, ExtentOf(p.scaleView), ItemSize(p.affineDtype));
  p.bias = ResolveRef(spec, "bias", ctx.mem, ExtentOf(p.biasView), ItemSize(p.affineDtype));
  return std::make_unique<LayerNormOp>(p);
}

std::unique_ptr<Op> BuildSoftmax(const SpecReader& spec, BuildContext& ctx) {
  kernels::SoftmaxParams p{};
  p.xDtype = FloatDtype(spec, "xDtype");
  p.yDtype = FloatDtype(spec, "yDtype");
  p.outer = spec.Int("outer");
  p.size = spec.Int("size");
  p.inner = spec.Int("inner");
  if (p.outer < 0 || p.size < 0 || p.inner < 1) spec.Fail("outer and size must be non-negative, inner positive");
  p.scale = static_cast<float>(spec.Num("scale"));
  p.log = spec.Bool("log");
  p.causalRows = spec.Int("causalRows");
  const int64_t n = p.outer * p.size * p.inner;
  p.x = ResolveRef(spec, "x", ctx.mem, ContiguousExtent(n), ItemSize(p.xDtype));
  p.y = ResolveRef(spec, "y", ctx.mem, ContiguousExtent(n), ItemSize(p.yDtype));
  if (spec.Has("mask")) {
    if (p.inner != 1) spec.Fail("a mask needs the softmax dim to be the last (inner 1)");
    p.maskDtype = spec.Dtype("maskDtype");
    if (!IsFloating(p.maskDtype) && p.maskDtype != DType::Bool) spec.Fail("the mask must be a float or bool tensor");
    p.maskView = spec.View("maskView");
    int64_t m = 1;
    for (int d = 0; d < p.maskView.rank; d++) m *= p.maskView.size[d];
    if (m != p.outer * p.size) spec.Fail("maskView must cover outer * size elements");
    p.mask = ResolveRef(spec, "mask", ctx.mem, ExtentOf(p.maskView), ItemSize(p.maskDtype));
  }
  return std::make_unique<SoftmaxOp>(p);
}

std::unique_ptr<Op> MakeEpilogueOp(DType dtype, void* y, const void* bias, const void* z, bool relu, int64_t rows, int64_t cols) {
  kernels::PwParams p{};
  p.rank = 2;
  p.size[0] = rows;
  p.size[1] = cols;
  p.out = y;
  p.outDtype = dtype;
  p.outStride[0] = cols;
  p.outStride[1] = 1;
  auto addInput = [&](const void* ptr, int64_t rowStride) {
    kernels::PwOperand& in = p.in[p.nIn++];
    in.ptr = ptr;
    in.dtype = dtype;
    in.stride[0] = rowStride;
    in.stride[1] = 1;
  };
  addInput(y, cols);
  auto addInstr = [&](kernels::PwInstr ins) { p.instr[p.nInstr++] = ins; };
  // Registers: y is input 0, then bias and z; instruction k writes register nIn + k and reads the
  // previous result (operand registers are filled in below, once nIn is known).
  for (const void* operand : {bias, z}) {
    if (operand == nullptr) continue;
    addInput(operand, operand == bias ? 0 : cols);
    kernels::PwInstr ins{};
    ins.op = PwOp::Elementwise;
    ins.fn = static_cast<uint8_t>(PwBinary::Sum);
    ins.dtype = DType::Float32;
    addInstr(ins);
  }
  if (relu) {
    kernels::PwInstr ins{};
    ins.op = PwOp::Activation;
    ins.fn = static_cast<uint8_t>(PwActivation::Relu);
    ins.dtype = DType::Float32;
    addInstr(ins);
  }
  if (p.nInstr == 0) {
    kernels::PwInstr ins{};
    ins.op = PwOp::Cast;
    ins.dtype = DType::Float32;
    addInstr(ins);
  }
  int operand = 1;
  for (int k = 0; k < p.nInstr; k++) {
    kernels::PwInstr& ins = p.instr[k];
    ins.a = static_cast<uint8_t>(k == 0 ? 0 : p.nIn + k - 1);
    if (ins.op == PwOp::Elementwise) ins.b = static_cast<uint8_t>(operand++);
  }
  return std::make_unique<PointwiseOp>(p, false, "epilogue_kernel");
}

int ActivationIndex(const std::string& name) { return IndexOf(kActivationNames, name); }

}  // namespace fxrt::exec
