// N-d convolution through cuDNN on channels-last activations (NHWC; a 1-D layer as NHWC with
// H = 1; NDHWC) and filters [K, spatial..., C/groups], with the conv step's epilogue fused by
// cudnnConvolutionBiasActivationForward: y = relu?(conv(x, w) + z + bias) (z: the residual,
// optional). cuDNN pads symmetrically; uneven padding pads the difference explicitly into the
// workspace first (one pass over the input, none when the padding is even).
// The algorithm: a timed entry of the plan's tactic cache (checked again: cuDNN must still accept
// it), else at engine load (`tune`) the candidates timed on the device, else cuDNN's heuristic.
// Where no fused algorithm works, the convolution runs alone and one epilogue kernel applies bias,
// residual and ReLU.
#include <algorithm>
#include <string>
#include <vector>

#include "exec/conv_geometry.h"
#include "exec/op_factory.h"

namespace fxrt::exec {

#ifdef FXRT_HAVE_CUDNN

namespace {

constexpr size_t kMaxConvWorkspace = size_t{256} << 20;

const char* AlgoName(cudnnConvolutionFwdAlgo_t a) {
  switch (a) {
    case CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM: return "implicit_gemm";
    case CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM: return "implicit_precomp_gemm";
    case CUDNN_CONVOLUTION_FWD_ALGO_GEMM: return "gemm";
    case CUDNN_CONVOLUTION_FWD_ALGO_DIRECT: return "direct";
    case CUDNN_CONVOLUTION_FWD_ALGO_FFT: return "fft";
    case CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING: return "fft_tiling";
    case CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD: return "winograd";
    case CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED: return "winograd_nonfused";
    default: return "unknown";
  }
}

class ConvOp : public Op {
 public:
  // Creates the descriptors and the explicit padding; returns "" or what cuDNN refused.
  std::string Init(const ConvGeometry& g, const void* x, const void* w, const void* bias, const void* z, void* y) {
    g_ = g;
    x_ = x; w_ = w; bias_ = bias; z_ = z; y_ = y;
    // cuDNN pads `pad` on both sides; the rest of each side (negative: a crop) is explicit.
    int padded[kMaxConvDims] = {}, offset[kMaxConvDims] = {};
    for (int d = 0; d < g.nd; d++) {
      pad_[d] = std::max(0, std::min(g.pre[d], g.post[d]));
      padded[d] = g.in[d] + (g.pre[d] - pad_[d]) + (g.post[d] - pad_[d]);
      offset[d] = pad_[d] - g.pre[d];
      if (g.pre[d] != pad_[d] || g.post[d] != pad_[d]) explicitPad_ = true;
      if (padded[d] < 1) return "the padding of spatial dim " + std::to_string(d) + " leaves no input";
    }
    if (explicitPad_) {
      padCopy_ = WindowCopy(g.dtype, g.n, g.c, g.nd, g.in, padded, offset);
      scratchBytes_ = AlignWorkspace(static_cast<size_t>(ChannelsLastVolume(g.n, g.c, g.nd, padded)) * ItemSize(g.dtype));
    }
    std::string err = d_.Create();
    if (!err.empty()) return err;
    auto check = [&](cudnnStatus_t st, const char* call) {
      if (st != CUDNN_STATUS_SUCCESS && err.empty()) err = std::string(call) + " failed: " + cudnnGetErrorString(st);
    };
    const int ones[kMaxConvDims] = {1, 1, 1};
    check(SetChannelsLast(d_.x, g.dtype, g.n, g.c, g.nd, explicitPad_ ? padded : g.in), "cudnnSetTensorNdDescriptorEx(x)");
    check(SetChannelsLast(d_.y, g.dtype, g.n, g.k, g.nd, g.out), "cudnnSetTensorNdDescriptorEx(y)");
    check(SetChannelsLast(d_.bias, g.dtype, 1, g.k, g.nd, ones), "cudnnSetTensorNdDescriptorEx(bias)");
    check(SetChannelsLastFilter(d_.w, g.dtype, g.k, g.c / g.groups, g.nd, g.kernel), "cudnnSetFilterNdDescriptor");
    check(cudnnSetActivationDescriptor(d_.act, g.relu ? CUDNN_ACTIVATION_RELU : CUDNN_ACTIVATION_IDENTITY, CUDNN_PROPAGATE_NAN, 0.0),
          "cudnnSetActivationDescriptor");
    if (err.empty()) err = SetConvolution(d_.conv, g, pad_);
    if (err.empty()) err = CheckForwardOutput(d_, g.n, g.k, g.nd, g.out);
    return err;
  }

  // Fused: one cuDNN call. Unfused (algo chosen for the plain conv): conv, then the epilogue kernel.
  void Choose(cudnnConvolutionFwdAlgo_t algo, size_t workspace, bool fused) {
    algo_ = algo;
    algoWorkspace_ = workspace;
    fused_ = fused;
    epilogue_ = fused ? nullptr
                      : MakeEpilogueOp(g_.dtype, y_, bias_, z_, g_.relu, ChannelsLastVolume(g_.n, 1, g_.nd, g_.out), g_.k);
  }

  std::string Enqueue(const ExecEnv& env) override {
    char* ws = static_cast<char*>(env.workspace);
    const void* x = x_;
    if (explicitPad_) {
      std::string err = padCopy_.Enqueue(x_, ws, env.stream);
      if (!err.empty()) return err;
      x = ws;
    }
    cudnnStatus_t st = Launch(env.cudnn, x, ws + scratchBytes_);
    if (st != CUDNN_STATUS_SUCCESS) {
      return std::string(fused_ ? "cudnnConvolutionBiasActivationForward" : "cudnnConvolutionForward") + " failed: " + cudnnGetErrorString(st);
    }
    return epilogue_ ? epilogue_->Enqueue(env) : "";
  }

  size_t WorkspaceBytes() const override { return scratchBytes_ + algoWorkspace_; }
  std::string Tactic() const override { return Name(algo_, fused_); }

  // The readable tactic of `algo` run fused or not.
  std::string Name(cudnnConvolutionFwdAlgo_t algo, bool fused) const {
    const std::string epi = std::string("+bias") + (z_ != nullptr ? "+residual" : "") + (g_.relu ? "+relu" : "");
    return std::string("cudnn:") + AlgoName(algo) + (fused ? epi : " then epilogue_kernel" + epi) +
           (explicitPad_ ? " after pad_kernel" : "");
  }

  // Bytes of the workspace's start that hold the explicitly padded input.
  size_t scratchBytes() const { return scratchBytes_; }

  // The chosen algorithm once on the build context's memory (the fused call refuses some).
  bool TrialLaunch(const BuildContext& ctx) const {
    if (WorkspaceBytes() > ctx.workspaceBytes) return false;
    char* ws = static_cast<char*>(ctx.workspace);
    return Launch(ctx.cudnn, explicitPad_ ? ws : x_, ws + scratchBytes_) == CUDNN_STATUS_SUCCESS;
  }

  // Whether `algo` (fused or not) still runs here; chooses it if so. For cached choices.
  bool Accept(const BuildContext& ctx, cudnnConvolutionFwdAlgo_t algo, bool fused) {
    size_t bytes = 0;
    if (cudnnGetConvolutionForwardWorkspaceSize(ctx.cudnn, d_.x, d_.w, d_.conv, d_.y, algo, &bytes) != CUDNN_STATUS_SUCCESS ||
        bytes > kMaxConvWorkspace) {
      return false;
    }
    Choose(algo, bytes, fused);
    return TrialLaunch(ctx);
  }

  // Candidate algorithms, fastest first: timed by cuDNN on the device (tune) or the heuristic's.
  std::vector<cudnnConvolutionFwdAlgoPerf_t> Candidates(const BuildContext& ctx, std::string& err) const {
    std::vector<cudnnConvolutionFwdAlgoPerf_t> perf(CUDNN_CONVOLUTION_FWD_ALGO_COUNT);
    int found = 0;
    const bool find = ctx.tune && ctx.workspace != nullptr && ctx.workspaceBytes > scratchBytes_;
    char* ws = static_cast<char*>(ctx.workspace);
    cudnnStatus_t st = find
        ? cudnnFindConvolutionForwardAlgorithmEx(ctx.cudnn, d_.x, explicitPad_ ? ws : x_, d_.w, w_, d_.conv, d_.y, y_,
                                                 static_cast<int>(perf.size()), &found, perf.data(), ws + scratchBytes_,
                                                 ctx.workspaceBytes - scratchBytes_)
        : cudnnGetConvolutionForwardAlgorithm_v7(ctx.cudnn, d_.x, d_.w, d_.conv, d_.y, static_cast<int>(perf.size()), &found,
                                                 perf.data());
    if (st != CUDNN_STATUS_SUCCESS) {
      err = std::string(find ? "cudnnFindConvolutionForwardAlgorithmEx" : "cudnnGetConvolutionForwardAlgorithm_v7") +
            " failed: " + cudnnGetErrorString(st);
      return {};
    }
    perf.resize(found);
    return perf;
  }

 private:
  cudnnStatus_t Launch(cudnnHandle_t handle, const void* x, void* workspace) const {
    const float one = 1.f, zero = 0.f, alpha2 = z_ != nullptr ? 1.f : 0.f;
    if (fused_) {
      return cudnnConvolutionBiasActivationForward(handle, &one, d_.x, x, d_.w, w_, d_.conv, algo_, workspace, algoWorkspace_,
                                                   &alpha2, d_.y, z_ != nullptr ? z_ : y_, d_.bias, bias_, d_.act, d_.y, y_);
    }
    return cudnnConvolutionForward(handle, &one, d_.x, x, d_.w, w_, d_.conv, algo_, workspace, algoWorkspace_, &zero, d_.y, y_);
  }

  ConvGeometry g_;
  const void* x_ = nullptr;
  const void* w_ = nullptr;
  const void* bias_ = nullptr;
  const void* z_ = nullptr;
  void* y_ = nullptr;
  int pad_[kMaxConvDims] = {};
  bool explicitPad_ = false;
  WindowCopy padCopy_;
  size_t scratchBytes_ = 0;
  CudnnConvDescriptors d_;
  cudnnConvolutionFwdAlgo_t algo_ = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM;
  size_t algoWorkspace_ = 0;
  bool fused_ = true;
  std::unique_ptr<Op> epilogue_;
};

}  // namespace

std::unique_ptr<Op> BuildConv(const SpecReader& spec, BuildContext& ctx) {
  const ConvGeometry g = ReadConvGeometry(spec);
  const size_t item = ItemSize(g.dtype);
  const int64_t outElems = ChannelsLastVolume(g.n, g.k, g.nd, g.out);
  const void* x = ResolveRef(spec, "x", ctx.mem, ContiguousExtent(ChannelsLastVolume(g.n, g.c, g.nd, g.in)), item);
  const void* w = ResolveRef(spec, "filter", ctx.mem, ContiguousExtent(ChannelsLastVolume(g.k, g.c / g.groups, g.nd, g.kernel)), item);
  const void* bias = ResolveRef(spec, "bias", ctx.mem, ContiguousExtent(g.k), item);
  const void* z = spec.Has("z") ? ResolveRef(spec, "z", ctx.mem, ContiguousExtent(outElems), item) : nullptr;
  void* y = ResolveRef(spec, "y", ctx.mem, ContiguousExtent(outElems), item);
  if (ctx.cudnn == nullptr) spec.Fail("no cuDNN handle");

  auto op = std::make_unique<ConvOp>();
  std::string err = op->Init(g, x, w, bias, z, y);
  if (!err.empty()) spec.Fail(err);
  const std::string key = "conv " + GeometryKey(g) + (g.relu ? " relu" : " id") + (z != nullptr ? " z" : "") +
                          (ctx.deterministic ? " det" : "") + " al" + std::to_string(PointerAlignment(x)) + "," +
                          std::to_string(PointerAlignment(w)) + "," + std::to_string(PointerAlignment(y)) + "," +
                          std::to_string(z != nullptr ? PointerAlignment(z) : 0);
  // Trying and timing algorithms needs the op's scratch in the workspace too.
  const ScratchBuildContext scratch(ctx, op->scratchBytes());
  const BuildContext& lib = scratch.get();
  if (const Tactic* hit = ctx.cache->Lookup(key, ctx.tune)) {
    const Tactic t = *hit;
    if (t.kind == TacticKind::ConvForward && t.algo < CUDNN_CONVOLUTION_FWD_ALGO_COUNT &&
        op->Accept(lib, static_cast<cudnnConvolutionFwdAlgo_t>(t.algo), t.fused)) {
      ctx.source = ctx.cache->Reuse(key);
      return op;
    }
    ctx.cache->Reject(key);
  }

  std::vector<cudnnConvolutionFwdAlgoPerf_t> perf = op->Candidates(lib, err);
  if (!err.empty()) spec.Fail(err);
  // Each algorithm runs either inside the fused call (IDENTITY allows IMPLICIT_PRECOMP_GEMM only)
  // or alone followed by the epilogue kernel; `deterministic` keeps only algorithms whose results
  // do not depend on scheduling.
  struct Candidate {
    cudnnConvolutionFwdAlgo_t algo;
    size_t workspace;
    bool fused;
  };
  const size_t room = lib.workspaceBytes > op->scratchBytes() ? lib.workspaceBytes - op->scratchBytes() : 0;
  std::vector<Candidate> candidates;
  for (const auto& p : perf) {
    if (p.status != CUDNN_STATUS_SUCCESS || p.memory > kMaxConvWorkspace || p.memory > room ||
        (ctx.deterministic && p.determinism != CUDNN_DETERMINISTIC)) {
      continue;
    }
    if (g.relu || p.algo == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM) candidates.push_back({p.algo, p.memory, true});
    candidates.push_back({p.algo, p.memory, false});
  }
  ExecEnv env;
  env.stream = lib.stream;
  env.workspace = lib.workspace;
  env.workspaceBytes = lib.workspaceBytes;
  env.cudnn = lib.cudnn;
  int best = -1;
  float bestMs = -1.f;
  for (size_t i = 0; i < candidates.size(); i++) {
    const Candidate& c = candidates[i];
    op->Choose(c.algo, c.workspace, c.fused);
    // The fused call refuses some algorithms; and a heuristic choice is used untimed, so it must
    // be seen to run here first (cuDNN lists algorithms that then fail with BAD_PARAM).
    if ((c.fused || !ctx.tune) && !op->TrialLaunch(lib)) continue;
    if (!ctx.tune) {  // heuristic order: the first that runs
      best = static_cast<int>(i);
      break;
    }
    const float ms = TimeOp(*op, env);
    if (ms >= 0.f && (best < 0 || ms < bestMs)) {
      best = static_cast<int>(i);
      bestMs = ms;
    }
  }
  cudaGetLastError();
  if (best < 0) spec.Fail(std::string("cuDNN has no ") + (ctx.deterministic ? "deterministic " : "") + "algorithm for this convolution (" + key + ")");
  const Candidate& c = candidates[static_cast<size_t>(best)];
  op->Choose(c.algo, c.workspace, c.fused);
  Tactic t;
  t.kind = TacticKind::ConvForward;
  t.algo = static_cast<int32_t>(c.algo);
  t.fused = c.fused;
  t.ms = bestMs;
  t.name = op->Tactic();
  ctx.source = ctx.cache->Record(key, std::move(t), ctx.tune);
  return op;
}

#else  // !FXRT_HAVE_CUDNN

std::unique_ptr<Op> BuildConv(const SpecReader& spec, BuildContext&) {
  spec.Fail("this build of the addon has no cuDNN (cudnn.h or libcudnn was not found when it was built)");
}

#endif

}  // namespace fxrt::exec
