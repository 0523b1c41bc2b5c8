// Transposed convolution (1 to 3 spatial dims, groups, dilation) through cuDNN's backward-data
// convolution on channels-last memory: x [N, C, s...] is the output gradient of a forward
// convolution whose filter is the layer's kernel [C, K/groups, k...] (stored [C, k..., K/groups]),
// and y [N, K, o...] is that convolution's input gradient. cuDNN computes the full result F
// (size f = (s-1)*stride + dilation*(k-1) + 1 per dim) cropped by a symmetric p and extended at
// the end by e < stride (PyTorch's padding and output_padding). Layer paddings of that form
// (pre = p >= 0, post = p - e) write y directly; any other computes a window of F that covers
// y's overlap with F into the workspace and copies it into y, zeros outside F. Bias, residual and
// ReLU then run as one epilogue kernel (the rest of a step's epilogue is lowered in TypeScript).
// The algorithm: a timed entry of the plan's tactic cache (checked again), else at engine load
// (`tune`) the fastest that cuDNN times on the device, else cuDNN's heuristic.
#include <algorithm>
#include <string>
#include <vector>

#include "exec/conv_geometry.h"
#include "exec/op_factory.h"

namespace fxrt::exec {

#ifdef FXRT_HAVE_CUDNN

namespace {

constexpr size_t kMaxDeconvWorkspace = size_t{256} << 20;

const char* AlgoName(cudnnConvolutionBwdDataAlgo_t a) {
  switch (a) {
    case CUDNN_CONVOLUTION_BWD_DATA_ALGO_0: return "bwd_data_algo_0";
    case CUDNN_CONVOLUTION_BWD_DATA_ALGO_1: return "bwd_data_algo_1";
    case CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT: return "bwd_data_fft";
    case CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING: return "bwd_data_fft_tiling";
    case CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD: return "bwd_data_winograd";
    case CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED: return "bwd_data_winograd_nonfused";
    default: return "bwd_data_unknown";
  }
}

class DeconvOp : public Op {
 public:
  // Creates the descriptors (in forward-convolution terms: cuDNN's x is our y, its y our x) and
  // the window copy; returns "" or what cuDNN refused.
  std::string Init(const ConvGeometry& g, const void* x, const void* w, const void* bias, const void* z, void* y) {
    g_ = g;
    x_ = x; w_ = w; bias_ = bias; z_ = z; y_ = y;
    int pad[kMaxConvDims] = {}, window[kMaxConvDims] = {}, offset[kMaxConvDims] = {};
    for (int d = 0; d < g.nd; d++) {
      const int64_t full = static_cast<int64_t>(g.in[d] - 1) * g.stride[d] + static_cast<int64_t>(g.dilation[d]) * (g.kernel[d] - 1) + 1;
      const int64_t extend = static_cast<int64_t>(g.pre[d]) - g.post[d];
      int64_t size;
      if (g.pre[d] >= 0 && extend >= 0 && extend < g.stride[d]) {
        pad[d] = g.pre[d];
        size = full - 2 * static_cast<int64_t>(pad[d]) + extend;
      } else {  // the window F[p, f - p) with p = the smaller padding (none if negative)
        pad[d] = std::max(0, std::min(g.pre[d], g.post[d]));
        size = full - 2 * static_cast<int64_t>(pad[d]);
        direct_ = false;
      }
      if (size < 1 || size > (int64_t{1} << 30)) return "spatial dim " + std::to_string(d) + ": the computed window has size " + std::to_string(size);
      window[d] = static_cast<int>(size);
      offset[d] = g.pre[d] - pad[d];
    }
    if (!direct_) {
      crop_ = WindowCopy(g.dtype, g.n, g.k, g.nd, window, g.out, offset);
      scratchBytes_ = AlignWorkspace(static_cast<size_t>(ChannelsLastVolume(g.n, g.k, g.nd, window)) * ItemSize(g.dtype));
    }
    if (bias != nullptr || z != nullptr || g.relu) {
      epilogue_ = MakeEpilogueOp(g.dtype, y, bias, z, g.relu, ChannelsLastVolume(g.n, 1, g.nd, g.out), g.k);
    }
    std::string err = d_.Create();
    if (!err.empty()) return err;
    auto check = [&](cudnnStatus_t st, const char* call) {
      if (st != CUDNN_STATUS_SUCCESS && err.empty()) err = std::string(call) + " failed: " + cudnnGetErrorString(st);
    };
    check(SetChannelsLast(d_.x, g.dtype, g.n, g.k, g.nd, window), "cudnnSetTensorNdDescriptorEx(y)");
    check(SetChannelsLast(d_.y, g.dtype, g.n, g.c, g.nd, g.in), "cudnnSetTensorNdDescriptorEx(x)");
    check(SetChannelsLastFilter(d_.w, g.dtype, g.c, g.k / g.groups, g.nd, g.kernel), "cudnnSetFilterNdDescriptor");
    if (err.empty()) err = SetConvolution(d_.conv, g, pad);
    if (err.empty()) err = CheckForwardOutput(d_, g.n, g.c, g.nd, g.in);
    return err;
  }

  void Choose(cudnnConvolutionBwdDataAlgo_t algo, size_t workspace) {
    algo_ = algo;
    algoWorkspace_ = workspace;
  }

  std::string Enqueue(const ExecEnv& env) override {
    char* ws = static_cast<char*>(env.workspace);
    cudnnStatus_t st = Launch(env.cudnn, direct_ ? y_ : ws, ws + scratchBytes_);
    if (st != CUDNN_STATUS_SUCCESS) return std::string("cudnnConvolutionBackwardData failed: ") + cudnnGetErrorString(st);
    if (!direct_) {
      std::string err = crop_.Enqueue(ws, y_, env.stream);
      if (!err.empty()) return err;
    }
    return epilogue_ ? epilogue_->Enqueue(env) : "";
  }

  size_t WorkspaceBytes() const override { return scratchBytes_ + algoWorkspace_; }

  std::string Tactic() const override {
    const std::string epi = std::string(bias_ != nullptr ? "+bias" : "") + (z_ != nullptr ? "+residual" : "") + (g_.relu ? "+relu" : "");
    return std::string("cudnn:") + AlgoName(algo_) + (direct_ ? "" : " then window_copy_kernel") +
           (epilogue_ ? " then epilogue_kernel" + epi : "");
  }

  size_t scratchBytes() const { return scratchBytes_; }

  // The chosen algorithm once on the build context's memory.
  bool TrialLaunch(const BuildContext& ctx) const {
    if (WorkspaceBytes() > ctx.workspaceBytes) return false;
    char* ws = static_cast<char*>(ctx.workspace);
    return Launch(ctx.cudnn, direct_ ? y_ : ws, ws + scratchBytes_) == CUDNN_STATUS_SUCCESS;
  }

  // Whether `algo` still runs here; chooses it if so. For cached choices.
  bool Accept(const BuildContext& ctx, cudnnConvolutionBwdDataAlgo_t algo) {
    size_t bytes = 0;
    if (cudnnGetConvolutionBackwardDataWorkspaceSize(ctx.cudnn, d_.w, d_.y, d_.conv, d_.x, algo, &bytes) != CUDNN_STATUS_SUCCESS ||
        bytes > kMaxDeconvWorkspace) {
      return false;
    }
    Choose(algo, bytes);
    return TrialLaunch(ctx);
  }

  // Candidate algorithms, fastest first: timed by cuDNN on the device (`timed`) or the heuristic's.
  std::vector<cudnnConvolutionBwdDataAlgoPerf_t> Candidates(const BuildContext& ctx, bool& timed, std::string& err) const {
    std::vector<cudnnConvolutionBwdDataAlgoPerf_t> perf(CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT);
    int found = 0;
    timed = ctx.tune && ctx.workspace != nullptr && ctx.workspaceBytes > scratchBytes_;
    char* ws = static_cast<char*>(ctx.workspace);
    cudnnStatus_t st = timed
        ? cudnnFindConvolutionBackwardDataAlgorithmEx(ctx.cudnn, d_.w, w_, d_.y, x_, d_.conv, d_.x, direct_ ? y_ : ws,
                                                      static_cast<int>(perf.size()), &found, perf.data(), ws + scratchBytes_,
                                                      ctx.workspaceBytes - scratchBytes_)
        : cudnnGetConvolutionBackwardDataAlgorithm_v7(ctx.cudnn, d_.w, d_.y, d_.conv, d_.x, static_cast<int>(perf.size()), &found,
                                                      perf.data());
    if (st != CUDNN_STATUS_SUCCESS) {
      err = std::string(timed ? "cudnnFindConvolutionBackwardDataAlgorithmEx" : "cudnnGetConvolutionBackwardDataAlgorithm_v7") +
            " failed: " + cudnnGetErrorString(st);
      return {};
    }
    perf.resize(found);
    return perf;
  }

 private:
  cudnnStatus_t Launch(cudnnHandle_t handle, void* dx, void* workspace) const {
    const float one = 1.f, zero = 0.f;
    return cudnnConvolutionBackwardData(handle, &one, d_.w, w_, d_.y, x_, d_.conv, algo_, workspace, algoWorkspace_, &zero, d_.x, dx);
  }

  ConvGeometry g_;
  const void* x_ = nullptr;
  const void* w_ = nullptr;
  const void* bias_ = nullptr;
  const void* z_ = nullptr;
  void* y_ = nullptr;
  bool direct_ = true;
  WindowCopy crop_;
  size_t scratchBytes_ = 0;
  CudnnConvDescriptors d_;
  cudnnConvolutionBwdDataAlgo_t algo_ = CUDNN_CONVOLUTION_BWD_DATA_ALGO_1;
  size_t algoWorkspace_ = 0;
  std::unique_ptr<Op> epilogue_;
};

}  // namespace

std::unique_ptr<Op> BuildDeconv(const SpecReader& spec, BuildContext& ctx) {
  const ConvGeometry g = ReadConvGeometry(spec);
  const size_t item = ItemSize(g.dtype);
  const int64_t outElems = ChannelsLastVolume(g.n, g.k, g.nd, g.out);
  const void* x = ResolveRef(spec, "x", ctx.mem, ContiguousExtent(ChannelsLastVolume(g.n, g.c, g.nd, g.in)), item);
  const void* w = ResolveRef(spec, "filter", ctx.mem, ContiguousExtent(ChannelsLastVolume(g.c, g.k / g.groups, g.nd, g.kernel)), item);
  const void* bias = spec.Has("bias") ? ResolveRef(spec, "bias", ctx.mem, ContiguousExtent(g.k), item) : nullptr;
  const void* z = spec.Has("z") ? ResolveRef(spec, "z", ctx.mem, ContiguousExtent(outElems), item) : nullptr;
  void* y = ResolveRef(spec, "y", ctx.mem, ContiguousExtent(outElems), item);
  if (ctx.cudnn == nullptr) spec.Fail("no cuDNN handle");

  auto op = std::make_unique<DeconvOp>();
  std::string err = op->Init(g, x, w, bias, z, y);
  if (!err.empty()) spec.Fail(err);
  // The epilogue kernel does not depend on the algorithm: it stays out of the key.
  const std::string key = "deconv " + GeometryKey(g) + (ctx.deterministic ? " det" : "") + " al" + std::to_string(PointerAlignment(x)) +
                          "," + std::to_string(PointerAlignment(w)) + "," + std::to_string(PointerAlignment(y));
  // Trying and timing algorithms needs the op's scratch in the workspace too.
  const ScratchBuildContext scratch(ctx, op->scratchBytes());
  const BuildContext& lib = scratch.get();
  if (const Tactic* hit = ctx.cache->Lookup(key, ctx.tune)) {
    const Tactic t = *hit;
    if (t.kind == TacticKind::ConvBackwardData && t.algo < CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT &&
        op->Accept(lib, static_cast<cudnnConvolutionBwdDataAlgo_t>(t.algo))) {
      ctx.source = ctx.cache->Reuse(key);
      return op;
    }
    ctx.cache->Reject(key);
  }

  bool timed = false;
  std::vector<cudnnConvolutionBwdDataAlgoPerf_t> perf = op->Candidates(lib, timed, err);
  if (!err.empty()) spec.Fail(err);
  const size_t room = lib.workspaceBytes > op->scratchBytes() ? lib.workspaceBytes - op->scratchBytes() : 0;
  // Fastest first when timed, heuristic order otherwise: the first that runs here.
  const cudnnConvolutionBwdDataAlgoPerf_t* chosen = nullptr;
  for (const auto& p : perf) {
    if (p.status != CUDNN_STATUS_SUCCESS || p.memory > kMaxDeconvWorkspace || p.memory > room ||
        (ctx.deterministic && p.determinism != CUDNN_DETERMINISTIC)) {
      continue;
    }
    op->Choose(p.algo, p.memory);
    if (op->TrialLaunch(lib)) {
      chosen = &p;
      break;
    }
  }
  cudaGetLastError();
  if (chosen == nullptr) {
    spec.Fail(std::string("cuDNN has no ") + (ctx.deterministic ? "deterministic " : "") + "algorithm for this transposed convolution (" + key + ")");
  }
  Tactic t;
  t.kind = TacticKind::ConvBackwardData;
  t.algo = static_cast<int32_t>(chosen->algo);
  t.ms = timed ? chosen->time : -1.f;
  t.name = op->Tactic();
  ctx.source = ctx.cache->Record(key, std::move(t), timed);
  return op;
}

#else  // !FXRT_HAVE_CUDNN

std::unique_ptr<Op> BuildDeconv(const SpecReader& spec, BuildContext&) {
  spec.Fail("this build of the addon has no cuDNN (cudnn.h or libcudnn was not found when it was built)");
}

#endif

}  // namespace fxrt::exec
