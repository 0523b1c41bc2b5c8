// 2-D convolution through cuDNN on NHWC activations and KRSC (NHWC) filters, with the conv
// step's epilogue fused by cudnnConvolutionBiasActivationForward: y = relu?(conv(x, w) + z + bias)
// (z: the residual, optional). At engine load (`tune`) cudnnFindConvolutionForwardAlgorithmEx
// times the algorithms on the device and the fastest one the fused call accepts is kept in the
// plan's tactic cache; otherwise the cache or the heuristic decides. Where no fused algorithm
// works, the convolution runs alone and one epilogue kernel applies bias, residual and ReLU.
#include <string>
#include <vector>

#include "exec/op_factory.h"

namespace fxrt::exec {

#ifdef FXRT_HAVE_CUDNN

namespace {

constexpr size_t kMaxConvWorkspace = size_t{256} << 20;

cudnnDataType_t CudnnType(DType t) {
  switch (t) {
    case DType::Float16: return CUDNN_DATA_HALF;
    case DType::BFloat16: return CUDNN_DATA_BFLOAT16;
    default: return CUDNN_DATA_FLOAT;
  }
}

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

struct ConvShape {
  DType dtype;
  int n, c, h, w, k, r, s, oh, ow, padH, padW, strideH, strideW, dilH, dilW, groups;
  bool relu;
};

class ConvOp : public Op {
 public:
  ~ConvOp() override {
    if (act_ != nullptr) cudnnDestroyActivationDescriptor(act_);
    if (conv_ != nullptr) cudnnDestroyConvolutionDescriptor(conv_);
    if (wDesc_ != nullptr) cudnnDestroyFilterDescriptor(wDesc_);
    if (biasDesc_ != nullptr) cudnnDestroyTensorDescriptor(biasDesc_);
    if (yDesc_ != nullptr) cudnnDestroyTensorDescriptor(yDesc_);
    if (xDesc_ != nullptr) cudnnDestroyTensorDescriptor(xDesc_);
  }

  // Creates the descriptors; returns "" or what cuDNN refused.
  std::string Init(const ConvShape& s, const void* x, const void* w, const void* bias, const void* z, void* y) {
    s_ = s;
    x_ = x; w_ = w; bias_ = bias; z_ = z; y_ = y;
    const cudnnDataType_t type = CudnnType(s.dtype);
    std::string err;
    auto check = [&](cudnnStatus_t st, const char* call) {
      if (st != CUDNN_STATUS_SUCCESS && err.empty()) err = std::string(call) + " failed: " + cudnnGetErrorString(st);
    };
    check(cudnnCreateTensorDescriptor(&xDesc_), "cudnnCreateTensorDescriptor");
    check(cudnnCreateTensorDescriptor(&yDesc_), "cudnnCreateTensorDescriptor");
    check(cudnnCreateTensorDescriptor(&biasDesc_), "cudnnCreateTensorDescriptor");
    check(cudnnCreateFilterDescriptor(&wDesc_), "cudnnCreateFilterDescriptor");
    check(cudnnCreateConvolutionDescriptor(&conv_), "cudnnCreateConvolutionDescriptor");
    check(cudnnCreateActivationDescriptor(&act_), "cudnnCreateActivationDescriptor");
    if (!err.empty()) return err;
    check(cudnnSetTensor4dDescriptor(xDesc_, CUDNN_TENSOR_NHWC, type, s.n, s.c, s.h, s.w), "cudnnSetTensor4dDescriptor(x)");
    check(cudnnSetTensor4dDescriptor(yDesc_, CUDNN_TENSOR_NHWC, type, s.n, s.k, s.oh, s.ow), "cudnnSetTensor4dDescriptor(y)");
    check(cudnnSetTensor4dDescriptor(biasDesc_, CUDNN_TENSOR_NHWC, type, 1, s.k, 1, 1), "cudnnSetTensor4dDescriptor(bias)");
    check(cudnnSetFilter4dDescriptor(wDesc_, type, CUDNN_TENSOR_NHWC, s.k, s.c / s.groups, s.r, s.s), "cudnnSetFilter4dDescriptor");
    check(cudnnSetConvolution2dDescriptor(conv_, s.padH, s.padW, s.strideH, s.strideW, s.dilH, s.dilW, CUDNN_CROSS_CORRELATION,
                                          CUDNN_DATA_FLOAT),
          "cudnnSetConvolution2dDescriptor");
    check(cudnnSetConvolutionGroupCount(conv_, s.groups), "cudnnSetConvolutionGroupCount");
    // float32 stays IEEE float32 (no TF32), as the reference; 16-bit types use the tensor cores.
    check(cudnnSetConvolutionMathType(conv_, s.dtype == DType::Float32 ? CUDNN_FMA_MATH : CUDNN_TENSOR_OP_MATH),
          "cudnnSetConvolutionMathType");
    check(cudnnSetActivationDescriptor(act_, s.relu ? CUDNN_ACTIVATION_RELU : CUDNN_ACTIVATION_IDENTITY, CUDNN_PROPAGATE_NAN, 0.0),
          "cudnnSetActivationDescriptor");
    if (!err.empty()) return err;
    int n = 0, c = 0, h = 0, w2 = 0;
    check(cudnnGetConvolution2dForwardOutputDim(conv_, xDesc_, wDesc_, &n, &c, &h, &w2), "cudnnGetConvolution2dForwardOutputDim");
    if (err.empty() && (n != s.n || c != s.k || h != s.oh || w2 != s.ow)) {
      err = "cuDNN computes output [" + std::to_string(n) + ", " + std::to_string(c) + ", " + std::to_string(h) + ", " +
            std::to_string(w2) + "], the plan expects [" + std::to_string(s.n) + ", " + std::to_string(s.k) + ", " +
            std::to_string(s.oh) + ", " + std::to_string(s.ow) + "]";
    }
    return err;
  }

  // Fused: one cuDNN call. Unfused (algo chosen for the plain conv): conv, then the epilogue kernel.
  void Choose(cudnnConvolutionFwdAlgo_t algo, size_t workspace, bool fused, std::string tactic) {
    algo_ = algo;
    workspaceBytes_ = workspace;
    fused_ = fused;
    tactic_ = std::move(tactic);
    epilogue_ = fused ? nullptr
                      : MakeEpilogueOp(s_.dtype, y_, bias_, z_, s_.relu, static_cast<int64_t>(s_.n) * s_.oh * s_.ow, s_.k);
  }

  std::string Enqueue(const ExecEnv& env) override {
    cudnnStatus_t st = Launch(env.cudnn, env.workspace);
    if (st != CUDNN_STATUS_SUCCESS) return std::string(fused_ ? "cudnnConvolutionBiasActivationForward" : "cudnnConvolutionForward") +
                                          " failed: " + cudnnGetErrorString(st);
    return epilogue_ ? epilogue_->Enqueue(env) : "";
  }

  cudnnStatus_t Launch(cudnnHandle_t handle, void* workspace) const {
    const float one = 1.f, zero = 0.f, alpha2 = z_ != nullptr ? 1.f : 0.f;
    if (fused_) {
      return cudnnConvolutionBiasActivationForward(handle, &one, xDesc_, x_, wDesc_, w_, conv_, algo_, workspace, workspaceBytes_,
                                                   &alpha2, yDesc_, z_ != nullptr ? z_ : y_, biasDesc_, bias_, act_, yDesc_, y_);
    }
    return cudnnConvolutionForward(handle, &one, xDesc_, x_, wDesc_, w_, conv_, algo_, workspace, workspaceBytes_, &zero, yDesc_, y_);
  }

  size_t WorkspaceBytes() const override { return workspaceBytes_; }
  std::string Tactic() const override { return tactic_; }

  size_t WorkspaceFor(cudnnHandle_t handle, cudnnConvolutionFwdAlgo_t algo, bool& ok) const {
    size_t bytes = 0;
    ok = cudnnGetConvolutionForwardWorkspaceSize(handle, xDesc_, wDesc_, conv_, yDesc_, algo, &bytes) == CUDNN_STATUS_SUCCESS;
    return bytes;
  }

  // Candidate algorithms, fastest first: timed on the device (Find) or by the heuristic.
  std::vector<cudnnConvolutionFwdAlgoPerf_t> Candidates(const BuildContext& ctx, std::string& err) const {
    std::vector<cudnnConvolutionFwdAlgoPerf_t> perf(CUDNN_CONVOLUTION_FWD_ALGO_COUNT);
    int found = 0;
    cudnnStatus_t st = ctx.tune && ctx.workspace != nullptr
        ? cudnnFindConvolutionForwardAlgorithmEx(ctx.cudnn, xDesc_, x_, wDesc_, w_, conv_, yDesc_, y_, static_cast<int>(perf.size()),
                                                 &found, perf.data(), ctx.workspace, ctx.workspaceBytes)
        : cudnnGetConvolutionForwardAlgorithm_v7(ctx.cudnn, xDesc_, wDesc_, conv_, yDesc_, static_cast<int>(perf.size()), &found,
                                                 perf.data());
    if (st != CUDNN_STATUS_SUCCESS) {
      err = std::string(ctx.tune ? "cudnnFindConvolutionForwardAlgorithmEx" : "cudnnGetConvolutionForwardAlgorithm_v7") +
            " failed: " + cudnnGetErrorString(st);
      return {};
    }
    perf.resize(found);
    return perf;
  }

  const ConvShape& shape() const { return s_; }

 private:
  ConvShape s_{};
  const void* x_ = nullptr;
  const void* w_ = nullptr;
  const void* bias_ = nullptr;
  const void* z_ = nullptr;
  void* y_ = nullptr;
  cudnnTensorDescriptor_t xDesc_ = nullptr, yDesc_ = nullptr, biasDesc_ = nullptr;
  cudnnFilterDescriptor_t wDesc_ = nullptr;
  cudnnConvolutionDescriptor_t conv_ = nullptr;
  cudnnActivationDescriptor_t act_ = nullptr;
  cudnnConvolutionFwdAlgo_t algo_ = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM;
  size_t workspaceBytes_ = 0;
  bool fused_ = true;
  std::unique_ptr<Op> epilogue_;
  std::string tactic_;
};

int Dim(const SpecReader& spec, const char* key, int64_t min) {
  int64_t v = spec.Int(key);
  if (v < min || v > (int64_t{1} << 30)) spec.Fail(std::string(key) + " must be at least " + std::to_string(min) + ", got " + std::to_string(v));
  return static_cast<int>(v);
}

std::string Signature(const ConvShape& s, bool hasZ) {
  const int v[] = {s.n, s.c, s.h, s.w, s.k, s.r, s.s, s.padH, s.padW, s.strideH, s.strideW, s.dilH, s.dilW, s.groups};
  std::string key = std::string(DTypeName(s.dtype)) + (s.relu ? " relu" : " id") + (hasZ ? " z" : "");
  for (int x : v) key += " " + std::to_string(x);
  return key;
}

}  // namespace

std::unique_ptr<Op> BuildConv2d(const SpecReader& spec, BuildContext& ctx) {
  ConvShape s{};
  s.dtype = spec.Dtype("dtype");
  if (!IsFloating(s.dtype)) spec.Fail("convolution needs float32, float16 or bfloat16 operands");
  s.n = Dim(spec, "n", 1); s.c = Dim(spec, "c", 1); s.h = Dim(spec, "h", 1); s.w = Dim(spec, "w", 1);
  s.k = Dim(spec, "k", 1); s.r = Dim(spec, "r", 1); s.s = Dim(spec, "s", 1);
  s.oh = Dim(spec, "oh", 1); s.ow = Dim(spec, "ow", 1);
  s.padH = Dim(spec, "padH", 0); s.padW = Dim(spec, "padW", 0);
  s.strideH = Dim(spec, "strideH", 1); s.strideW = Dim(spec, "strideW", 1);
  s.dilH = Dim(spec, "dilH", 1); s.dilW = Dim(spec, "dilW", 1);
  s.groups = Dim(spec, "groups", 1);
  if (s.c % s.groups != 0 || s.k % s.groups != 0) spec.Fail("channels must divide by groups");
  s.relu = spec.Bool("relu");
  const size_t item = ItemSize(s.dtype);
  const auto nhwc = [](int64_t a, int64_t b, int64_t c, int64_t d) { return ContiguousExtent(a * b * c * d); };
  const void* x = ResolveRef(spec, "x", ctx.mem, nhwc(s.n, s.h, s.w, s.c), item);
  const void* w = ResolveRef(spec, "filter", ctx.mem, nhwc(s.k, s.r, s.s, s.c / s.groups), item);
  const void* bias = ResolveRef(spec, "bias", ctx.mem, ContiguousExtent(s.k), item);
  const void* z = spec.Has("z") ? ResolveRef(spec, "z", ctx.mem, nhwc(s.n, s.oh, s.ow, s.k), item) : nullptr;
  void* y = ResolveRef(spec, "y", ctx.mem, nhwc(s.n, s.oh, s.ow, s.k), item);
  if (ctx.cudnn == nullptr) spec.Fail("no cuDNN handle");

  auto op = std::make_unique<ConvOp>();
  std::string err = op->Init(s, x, w, bias, z, y);
  if (!err.empty()) spec.Fail(err);
  const std::string key = Signature(s, z != nullptr) + (ctx.deterministic ? " det" : "");
  const std::string epi = std::string("+bias") + (z != nullptr ? "+residual" : "") + (s.relu ? "+relu" : "");
  auto describe = [&](cudnnConvolutionFwdAlgo_t algo, bool fused, const std::string& how) {
    return std::string("cudnn:") + AlgoName(algo) + (fused ? epi : " then epilogue_kernel" + epi) + " (" + how + ")";
  };
  auto cached = ctx.cache->convAlgos.find(key);
  if (cached != ctx.cache->convAlgos.end() && !ctx.tune) {
    const bool fused = cached->second >= 0;
    auto algo = static_cast<cudnnConvolutionFwdAlgo_t>(fused ? cached->second : -cached->second - 1);
    bool ok = false;
    size_t ws = op->WorkspaceFor(ctx.cudnn, algo, ok);
    if (ok) {
      op->Choose(algo, ws, fused, describe(algo, fused, "cached"));
      return op;
    }
  }
  std::vector<cudnnConvolutionFwdAlgoPerf_t> perf = op->Candidates(ctx, err);
  if (!err.empty()) spec.Fail(err);
  // Each algorithm runs either inside the fused call (IDENTITY allows IMPLICIT_PRECOMP_GEMM only)
  // or alone followed by the epilogue kernel; `deterministic` keeps only algorithms whose results
  // do not depend on scheduling.
  struct Candidate {
    cudnnConvolutionFwdAlgo_t algo;
    size_t workspace;
    bool fused;
  };
  std::vector<Candidate> candidates;
  for (const auto& p : perf) {
    if (p.status != CUDNN_STATUS_SUCCESS || p.memory > kMaxConvWorkspace || p.memory > ctx.workspaceBytes ||
        (ctx.deterministic && p.determinism != CUDNN_DETERMINISTIC)) {
      continue;
    }
    if (s.relu || p.algo == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM) candidates.push_back({p.algo, p.memory, true});
    candidates.push_back({p.algo, p.memory, false});
  }
  ExecEnv env;
  env.stream = ctx.stream;
  env.workspace = ctx.workspace;
  env.workspaceBytes = ctx.workspaceBytes;
  env.cudnn = ctx.cudnn;
  int best = -1;
  float bestMs = -1.f;
  for (size_t i = 0; i < candidates.size(); i++) {
    const Candidate& c = candidates[i];
    op->Choose(c.algo, c.workspace, c.fused, "");
    if (c.fused && op->Launch(ctx.cudnn, ctx.workspace) != CUDNN_STATUS_SUCCESS) continue;  // the fused call refuses it
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
  ctx.cache->convAlgos[key] = c.fused ? static_cast<int>(c.algo) : -static_cast<int>(c.algo) - 1;
  op->Choose(c.algo, c.workspace, c.fused,
             describe(c.algo, c.fused, ctx.tune ? "timed " + std::to_string(candidates.size()) + " candidates" : "heuristic"));
  return op;
}

#else  // !FXRT_HAVE_CUDNN

std::unique_ptr<Op> BuildConv2d(const SpecReader& spec, BuildContext&) {
  spec.Fail("this build of the addon has no cuDNN (cudnn.h or libcudnn was not found when it was built)");
}

#endif

}  // namespace fxrt::exec
