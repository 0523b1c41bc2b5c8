// The int8 GEMM op (kernels/igemm.h) from its spec (src/backends/cuda/exec_spec.ts, 'igemm'):
// every operand range checked, the tile configuration a tactic: a timed entry of the plan's
// tactic cache, else each configuration timed on the device at engine load (`tune`), else the
// configuration that fills the device for this problem size (wgmma tiles only where the device
// and the kernel image have them).
#include <cuda_runtime.h>

#include <climits>
#include <cstdint>
#include <string>
#include <vector>

#include "exec/op_factory.h"
#include "kernels/igemm.h"
#include "kernels/pointwise.h"

namespace fxrt::exec {

namespace {

class IgemmOp : public Op {
 public:
  explicit IgemmOp(const kernels::IgemmParams& p) : p_(p) {}
  // Whether `tile` names a tile configuration this device runs (wgmma tiles only where available).
  static bool Valid(int tile, bool wgmma) {
    return tile >= 0 && tile < kernels::IgemmTileCount() && (wgmma || !kernels::IgemmTileUsesWgmma(tile));
  }
  void Choose(int tile) { tile_ = tile; }
  std::string Enqueue(const ExecEnv& env) override {
    const cudaError_t err = kernels::LaunchIgemm(p_, tile_, env.stream);
    return err == cudaSuccess ? "" : std::string("int8 gemm kernel: ") + cudaGetErrorString(err);
  }
  std::string Tactic() const override {
    return std::string("igemm:") + kernels::IgemmTileName(tile_) + (kernels::IgemmVectorLoads(p_) ? "" : " (bytewise loads)");
  }
  const kernels::IgemmParams& params() const { return p_; }

 private:
  kernels::IgemmParams p_;
  int tile_ = 0;
};

int Positive(const SpecReader& spec, const char* key, int64_t limit = INT32_MAX) {
  const int64_t v = spec.Int(key);
  if (v < 1 || v > limit) spec.Fail(std::string("'") + key + "' must be 1 to " + std::to_string(limit) + ", got " + std::to_string(v));
  return static_cast<int>(v);
}

int NonNegative(const SpecReader& spec, const char* key) {
  const int64_t v = spec.Int(key);
  if (v < 0 || v > INT32_MAX) spec.Fail(std::string("'") + key + "' must be 0 to 2^31-1, got " + std::to_string(v));
  return static_cast<int>(v);
}

DType FloatDtype(const SpecReader& spec, const char* key) {
  const DType t = spec.Dtype(key);
  if (!IsFloating(t)) spec.Fail(std::string("'") + key + "' must be float32, float16 or bfloat16, got " + DTypeName(t));
  return t;
}

kernels::IgemmConv ReadConv(const SpecReader& c) {
  kernels::IgemmConv g{};
  g.batch = Positive(c, "batch");
  g.h = Positive(c, "h");
  g.w = Positive(c, "w");
  g.c = Positive(c, "c");
  g.cg = Positive(c, "cg");
  g.kh = Positive(c, "kh");
  g.kw = Positive(c, "kw");
  g.oh = Positive(c, "oh");
  g.ow = Positive(c, "ow");
  g.sh = Positive(c, "sh");
  g.sw = Positive(c, "sw");
  g.dh = Positive(c, "dh");
  g.dw = Positive(c, "dw");
  g.ph = NonNegative(c, "ph");
  g.pw = NonNegative(c, "pw");
  if (g.c % g.cg != 0) c.Fail("'c' (" + std::to_string(g.c) + ") must be a multiple of 'cg' (" + std::to_string(g.cg) + ")");
  return g;
}

}  // namespace

std::unique_ptr<Op> BuildIgemm(const SpecReader& spec, BuildContext& ctx) {
  kernels::IgemmParams p{};
  p.m = spec.Int("m");
  if (p.m < 0) spec.Fail("'m' must be >= 0, got " + std::to_string(p.m));
  p.n = Positive(spec, "n");
  p.k = Positive(spec, "k", 1 << 17);  // K < 2^17: the int32 accumulator cannot overflow
  p.groups = Positive(spec, "groups", 65535);
  p.conv = spec.Has("conv");
  p.ldc = static_cast<int64_t>(p.groups) * p.n;
  if (p.conv) {
    p.g = ReadConv(spec.Obj("conv"));
    if (p.g.c / p.g.cg != p.groups) spec.Fail("'conv.c' / 'conv.cg' must equal 'groups' (" + std::to_string(p.groups) + ")");
    if (static_cast<int64_t>(p.g.cg) * p.g.kh * p.g.kw != p.k) spec.Fail("'k' must equal cg * kh * kw");
    if (static_cast<int64_t>(p.g.batch) * p.g.oh * p.g.ow != p.m) spec.Fail("'m' must equal batch * oh * ow");
    p.a = reinterpret_cast<const int8_t*>(
        ResolveRef(spec, "a", ctx.mem, ContiguousExtent(static_cast<int64_t>(p.g.batch) * p.g.h * p.g.w * p.g.c), 1));
  } else {
    if (p.groups != 1) spec.Fail("a matrix product has one group, got " + std::to_string(p.groups));
    p.lda = spec.Int("lda");
    if (p.lda < p.k) spec.Fail("'lda' (" + std::to_string(p.lda) + ") must be at least 'k' (" + std::to_string(p.k) + ")");
    Extent e = ContiguousExtent(p.m == 0 ? 0 : (p.m - 1) * p.lda + p.k);
    p.a = reinterpret_cast<const int8_t*>(ResolveRef(spec, "a", ctx.mem, e, 1));
  }
  p.b = reinterpret_cast<const int8_t*>(ResolveRef(spec, "b", ctx.mem, ContiguousExtent(p.ldc * p.k), 1));

  p.sxDtype = FloatDtype(spec, "sxDtype");
  p.sxRows = spec.Int("sxRows");
  if (p.sxRows < 1) spec.Fail("'sxRows' must be >= 1, got " + std::to_string(p.sxRows));
  p.sx = ResolveRef(spec, "sx", ctx.mem, ContiguousExtent(p.sxRows), ItemSize(p.sxDtype));
  p.swDtype = FloatDtype(spec, "swDtype");
  p.swPerChannel = spec.Bool("swPerChannel");
  p.sw = ResolveRef(spec, "sw", ctx.mem, ContiguousExtent(p.swPerChannel ? p.ldc : 1), ItemSize(p.swDtype));
  if (spec.Has("bias")) {
    p.biasDtype = FloatDtype(spec, "biasDtype");
    p.bias = ResolveRef(spec, "bias", ctx.mem, ContiguousExtent(p.ldc), ItemSize(p.biasDtype));
  }

  p.outDtype = spec.Dtype("outDtype");
  p.out = ResolveRef(spec, "out", ctx.mem, ContiguousExtent(p.m * p.ldc), ItemSize(p.outDtype));
  if (spec.Has("outScale")) {
    if (p.outDtype != DType::Int8) spec.Fail(std::string("an output scale needs an int8 output, got ") + DTypeName(p.outDtype));
    p.outScaleDtype = FloatDtype(spec, "outScaleDtype");
    p.outScale = ResolveRef(spec, "outScale", ctx.mem, ContiguousExtent(1), ItemSize(p.outScaleDtype));
  } else if (!IsFloating(p.outDtype)) {
    spec.Fail(std::string("an output without a scale must be a float, got ") + DTypeName(p.outDtype));
  }

  std::vector<SpecReader> epi = spec.Objs("epilogue");
  if (epi.size() > static_cast<size_t>(kernels::kMaxIgemmEpilogue)) {
    spec.Fail("at most " + std::to_string(kernels::kMaxIgemmEpilogue) + " epilogue ops, got " + std::to_string(epi.size()));
  }
  p.nEpi = static_cast<int>(epi.size());
  for (size_t i = 0; i < epi.size(); i++) {
    const SpecReader& e = epi[i];
    kernels::IgemmEpilogueOp& op = p.epi[i];
    const std::string kind = e.Str("kind");
    if (kind == "bias") {
      op.kind = kernels::IgemmEpilogueKind::Bias;
      op.dtype = FloatDtype(e, "dtype");
      op.stride = e.Bool("perChannel") ? 1 : 0;
      op.ptr = ResolveRef(e, "ref", ctx.mem, ContiguousExtent(op.stride == 1 ? p.ldc : 1), ItemSize(op.dtype));
    } else if (kind == "residual") {
      op.kind = kernels::IgemmEpilogueKind::Residual;
      op.dtype = e.Dtype("dtype");
      op.ptr = ResolveRef(e, "ref", ctx.mem, ContiguousExtent(p.m * p.ldc), ItemSize(op.dtype));
      if (op.dtype == DType::Int8) {
        op.scaleDtype = FloatDtype(e, "scaleDtype");
        op.scalePerChannel = e.Bool("scalePerChannel");
        op.scale = ResolveRef(e, "scale", ctx.mem, ContiguousExtent(op.scalePerChannel ? p.ldc : 1), ItemSize(op.scaleDtype));
      } else if (!IsFloating(op.dtype)) {
        e.Fail(std::string("a residual must be a float or int8 (with a scale), got ") + DTypeName(op.dtype));
      }
    } else if (kind == "activation") {
      op.kind = kernels::IgemmEpilogueKind::Activation;
      const std::string fn = e.Str("fn");
      const int index = ActivationIndex(fn);
      if (index < 0) e.Fail("unknown activation '" + fn + "'");
      op.fn = static_cast<uint8_t>(index);
      op.alpha = static_cast<float>(e.Num("alpha"));
      op.beta = static_cast<float>(e.Num("beta"));
    } else {
      e.Fail("unknown epilogue op '" + kind + "' (expected bias, residual or activation)");
    }
  }

  auto op = std::make_unique<IgemmOp>(p);
  int device = 0, sms = 1;
  if (cudaGetDevice(&device) != cudaSuccess || cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess) {
    cudaGetLastError();
    sms = 1;
  }
  std::string key = "igemm m" + std::to_string(p.m) + " n" + std::to_string(p.n) + " k" + std::to_string(p.k) + " g" +
                    std::to_string(p.groups) + (kernels::IgemmVectorLoads(p) ? " v16" : " v1") + " out" + DTypeName(p.outDtype) +
                    " e" + std::to_string(p.nEpi);
  if (p.conv) {
    const kernels::IgemmConv& g = p.g;
    for (int v : {g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.dh, g.dw, g.ph, g.pw}) key += "," + std::to_string(v);
  }
  bool wgmma = false;
  if (ctx.device != nullptr && ctx.device->igemmWgmma().has_value()) {
    wgmma = *ctx.device->igemmWgmma();
  } else if (kernels::IgemmWgmmaAvailable(&wgmma) != cudaSuccess) {
    cudaGetLastError();
    wgmma = false;
  } else if (ctx.device != nullptr) {
    ctx.device->setIgemmWgmma(wgmma);
  }
  if (const Tactic* hit = ctx.cache->Lookup(key, ctx.tune)) {
    if (hit->kind == TacticKind::Igemm && IgemmOp::Valid(hit->algo, wgmma)) {
      op->Choose(hit->algo);
      ctx.source = ctx.cache->Reuse(key);
      return op;
    }
    ctx.cache->Reject(key);
  }
  int best = kernels::IgemmDefaultTile(p, sms, wgmma);
  float bestMs = -1.f;
  if (ctx.tune && p.m > 0) {
    ExecEnv env;
    env.stream = ctx.stream;
    for (int t = 0; t < kernels::IgemmTileCount(); t++) {
      if (!IgemmOp::Valid(t, wgmma)) continue;
      op->Choose(t);
      const float ms = TimeOp(*op, env);
      if (ms >= 0.f && (bestMs < 0.f || ms < bestMs)) {
        bestMs = ms;
        best = t;
      }
    }
    if (bestMs < 0.f) spec.Fail("the int8 gemm kernel failed to run in every tile configuration (" + key + ")");
  }
  op->Choose(best);
  Tactic t;
  t.kind = TacticKind::Igemm;
  t.algo = best;
  t.ms = bestMs;
  t.name = op->Tactic();
  ctx.source = ctx.cache->Record(key, std::move(t), bestMs >= 0.f);
  return op;
}

}  // namespace fxrt::exec
