// The fused attention op (kernels/attention.h) built from its spec:
//   { op: 'attention', dtype, q, qView, k, kView, v, vView, out, outView, scale, causal,
//     [mask, maskDtype, maskView] }
// Views are [batch..., positions, head dim] (the mask's [batch..., l, s]) with element strides;
// the batch dims are shared. Checked here: the kernel takes the dtype and head dims, every head
// dim is contiguous, and every other stride and base address allows 16-byte vector access.
#include <cstdint>
#include <string>

#include "exec/op_factory.h"
#include "kernels/attention.h"

namespace fxrt::exec {

namespace {

class AttentionOp : public Op {
 public:
  AttentionOp(const kernels::AttentionParams& p, std::string what) : p_(p), what_(std::move(what)) {}
  std::string Enqueue(const ExecEnv& env) override {
    cudaError_t err = kernels::LaunchAttention(p_, env.stream, config_);
    return err == cudaSuccess ? "" : std::string("attention: ") + cudaGetErrorString(err);
  }
  std::string Tactic() const override { return what_ + " " + kernels::AttentionConfigName(config_, p_.e, p_.ev); }
  void Choose(int config) { config_ = config; }

 private:
  kernels::AttentionParams p_;
  std::string what_;  // dtype, head dims, masking
  int config_ = 0;
};

std::string Dims(const kernels::StridedView& v) {
  std::string s = "[";
  for (int d = 0; d < v.rank; d++) s += (d > 0 ? ", " : "") + std::to_string(v.size[d]);
  return s + "]";
}

}  // namespace

std::unique_ptr<Op> BuildAttention(const SpecReader& spec, BuildContext& ctx) {
  kernels::AttentionParams p{};
  p.dtype = spec.Dtype("dtype");
  const kernels::StridedView q = spec.View("qView"), k = spec.View("kView"), v = spec.View("vView"), o = spec.View("outView");
  const int rank = q.rank;
  const int nb = rank - 2;
  if (rank < 2 || nb > kernels::kMaxAttentionBatch) {
    spec.Fail("qView needs [batch..., positions, head dim] with at most " + std::to_string(kernels::kMaxAttentionBatch) +
              " batch dims, got " + Dims(q));
  }
  if (k.rank != rank || v.rank != rank || o.rank != rank) {
    spec.Fail("q, k, v and out views must have the same rank, got " + Dims(q) + ", " + Dims(k) + ", " + Dims(v) + ", " + Dims(o));
  }
  for (int d = 0; d < nb; d++) {
    if (k.size[d] != q.size[d] || v.size[d] != q.size[d] || o.size[d] != q.size[d]) {
      spec.Fail("q, k, v and out must share their batch dims, got " + Dims(q) + ", " + Dims(k) + ", " + Dims(v) + ", " + Dims(o));
    }
  }
  p.l = q.size[nb];
  p.s = k.size[nb];
  const int64_t e = q.size[nb + 1], ev = v.size[nb + 1];
  if (k.size[nb + 1] != e || v.size[nb] != p.s || o.size[nb] != p.l || o.size[nb + 1] != ev) {
    spec.Fail("expected q [..., l, e], k [..., s, e], v [..., s, ev], out [..., l, ev], got " + Dims(q) + ", " + Dims(k) + ", " +
              Dims(v) + ", " + Dims(o));
  }
  if (!kernels::AttentionSupports(p.dtype, e, ev)) {
    spec.Fail(std::string("the fused kernel takes float16 or bfloat16 with head dims that are multiples of ") +
              std::to_string(kernels::kAttentionHeadAlign) + " up to " + std::to_string(kernels::kMaxAttentionHead) + ", got " +
              DTypeName(p.dtype) + " with head dims " + std::to_string(e) + " and " + std::to_string(ev));
  }
  p.e = static_cast<int>(e);
  p.ev = static_cast<int>(ev);
  const size_t item = ItemSize(p.dtype);
  auto operand = [&](const char* key, const char* viewKey, const kernels::StridedView& view) -> char* {
    if (view.stride[rank - 1] != 1) spec.Fail(std::string(viewKey) + ": the head dim must be contiguous (stride 1)");
    for (int d = 0; d < rank - 1; d++) {
      if (view.stride[d] % kernels::kAttentionHeadAlign != 0) {
        spec.Fail(std::string(viewKey) + ": strides must be multiples of " + std::to_string(kernels::kAttentionHeadAlign) +
                  " elements (16-byte vectors), got " + std::to_string(view.stride[d]) + " in dim " + std::to_string(d));
      }
    }
    char* ptr = ResolveRef(spec, key, ctx.mem, ExtentOf(view), item);
    if (reinterpret_cast<uintptr_t>(ptr) % 16 != 0) spec.Fail(std::string(key) + " must be 16-byte aligned");
    return ptr;
  };
  p.q = operand("q", "qView", q);
  p.k = operand("k", "kView", k);
  p.v = operand("v", "vView", v);
  p.out = operand("out", "outView", o);
  p.batchRank = nb;
  for (int d = 0; d < nb; d++) {
    p.batch[d] = q.size[d];
    p.qBatch[d] = q.stride[d];
    p.kBatch[d] = k.stride[d];
    p.vBatch[d] = v.stride[d];
    p.outBatch[d] = o.stride[d];
  }
  p.qRow = q.stride[nb];
  p.kRow = k.stride[nb];
  p.vRow = v.stride[nb];
  p.outRow = o.stride[nb];
  p.scale = static_cast<float>(spec.Num("scale"));
  p.causal = spec.Bool("causal");
  std::string what = p.causal ? ",causal" : "";
  if (spec.Has("mask")) {
    p.maskDtype = spec.Dtype("maskDtype");
    if (!IsFloating(p.maskDtype) && p.maskDtype != DType::Bool) spec.Fail("the mask must be a float or bool tensor");
    const kernels::StridedView m = spec.View("maskView");
    kernels::StridedView scores = q;
    scores.size[nb + 1] = p.s;
    bool fits = m.rank == rank;
    for (int d = 0; d < rank && fits; d++) fits = m.size[d] == scores.size[d];
    if (!fits) spec.Fail("maskView must have the scores' shape " + Dims(scores) + ", got " + Dims(m));
    p.mask = ResolveRef(spec, "mask", ctx.mem, ExtentOf(m), ItemSize(p.maskDtype));
    for (int d = 0; d < nb; d++) p.maskBatch[d] = m.stride[d];
    p.maskRow = m.stride[nb];
    p.maskCol = m.stride[nb + 1];
    what += p.maskDtype == DType::Bool ? ",bool mask" : ",additive mask";
  }
  auto op = std::make_unique<AttentionOp>(p, std::string("flash_attention_") + (p.dtype == DType::BFloat16 ? "bf16" : "f16") + "[e" +
                                                 std::to_string(e) + ",ev" + std::to_string(ev) + what + "]");

  // The kernel configuration: the plan's or the timing cache's choice for this signature, else
  // each one timed on the device (`tune`), else the default.
  std::string key = "attention " + std::string(DTypeName(p.dtype)) + " e" + std::to_string(e) + " ev" + std::to_string(ev) + " l" +
                    std::to_string(p.l) + " s" + std::to_string(p.s) + " b";
  for (int d = 0; d < nb; d++) key += (d > 0 ? "x" : "") + std::to_string(p.batch[d]);
  key += " rows" + std::to_string(p.qRow) + "," + std::to_string(p.kRow) + "," + std::to_string(p.vRow) + "," + std::to_string(p.outRow) + what;
  if (p.mask != nullptr) key += " maskRow" + std::to_string(p.maskRow);  // 0: the key-mask mode
  if (const Tactic* hit = ctx.cache->Lookup(key, ctx.tune)) {
    if (hit->kind == TacticKind::Attention && hit->algo >= 0 && hit->algo < kernels::AttentionConfigCount()) {
      op->Choose(hit->algo);
      ctx.source = ctx.cache->Reuse(key);
      return op;
    }
    ctx.cache->Reject(key);
  }
  int best = 0;
  float bestMs = -1.f;
  if (ctx.tune) {
    ExecEnv env;
    env.stream = ctx.stream;
    for (int c = 0; c < kernels::AttentionConfigCount(); c++) {
      if (kernels::AttentionConfigRepeats(c, p.e, p.ev)) continue;
      op->Choose(c);
      const float ms = TimeOp(*op, env);
      if (ms >= 0.f && (bestMs < 0.f || ms < bestMs)) {
        bestMs = ms;
        best = c;
      }
    }
    if (bestMs < 0.f) spec.Fail("the attention kernel failed to run in every configuration (" + key + ")");
  }
  op->Choose(best);
  Tactic t;
  t.kind = TacticKind::Attention;
  t.algo = best;
  t.ms = bestMs;
  t.name = op->Tactic();
  ctx.source = ctx.cache->Record(key, std::move(t), bestMs >= 0.f);
  return op;
}

}  // namespace fxrt::exec
