// Batched GEMM through cuBLASLt with its epilogues: row-major
//   out[b] = act(alpha · op(a[b]) · op(b[b]) + residual[b] + bias)
// computed as the column-major product of the transposes (see ops_gemm.cc): cuBLASLt's A is our
// b, its B our a, its m and n our n and m; the bias runs along cuBLASLt's rows, our columns.
// A batch stride of 0 broadcasts an operand. The algorithm: a timed entry of the plan's tactic
// cache that cublasLtMatmulAlgoCheck still accepts, else at engine load (`tune`) the heuristic's
// candidates timed on the device, else the heuristic's first.
// FP8 (float8e4m3 operands, Hopper): the "TN" form only (our b transposed, i.e. both operands
// K-contiguous), float32 accumulation, alpha = sx · sw; C has a 16-bit type (the output's, or the
// bias's for an e4m3 output, whose D scale 1 / so lives in a 4-byte device buffer the op owns).
#include <cstring>
#include <string>
#include <vector>

#include "exec/op_factory.h"

namespace fxrt::exec {

#ifdef FXRT_HAVE_CUBLASLT

namespace {

constexpr size_t kGemmWorkspace = size_t{32} << 20;
constexpr int kCandidates = 8;

cudaDataType_t CudaType(DType t) {
  switch (t) {
    case DType::Float16: return CUDA_R_16F;
    case DType::BFloat16: return CUDA_R_16BF;
    case DType::Float8E4M3: return CUDA_R_8F_E4M3;
    default: return CUDA_R_32F;
  }
}

struct GemmShape {
  DType dtype, outDtype;
  int64_t m, n, k, batch, strideA, strideB, strideOut;
  bool transA, transB;
  cublasLtEpilogue_t epilogue;
  bool residual;
  float alpha;
  DType cDtype;   // C's type: the output's, or (an e4m3 output) a 16-bit float, the bias's
  float dScale;   // e4m3 output: D = dScale · epilogue(alpha · a · b + bias)
  bool fastAccum; // FP8: no periodic promotion of the accumulator to float32
};

class GemmOp : public Op {
 public:
  ~GemmOp() override {
    if (dScale_ != nullptr) cudaFree(dScale_);
    if (layoutC_ != nullptr) cublasLtMatrixLayoutDestroy(layoutC_);
    if (layoutOut_ != nullptr) cublasLtMatrixLayoutDestroy(layoutOut_);
    if (layoutB_ != nullptr) cublasLtMatrixLayoutDestroy(layoutB_);
    if (layoutA_ != nullptr) cublasLtMatrixLayoutDestroy(layoutA_);
    if (desc_ != nullptr) cublasLtMatmulDescDestroy(desc_);
  }

  std::string Enqueue(const ExecEnv& env) override {
    const float beta = s_.residual ? 1.f : 0.f;
    // C is read only with a residual; an FP8 output's C (another type than D) is never read, and
    // cuBLASLt refuses a C aliasing D with another type: null then (beta is 0).
    const void* c = s_.residual ? residual_ : layoutC_ != nullptr ? nullptr : out_;
    cublasStatus_t st = cublasLtMatmul(env.cublasLt, desc_, &s_.alpha, b_, layoutA_, a_, layoutB_, &beta,
                                       c, layoutC(), out_, layoutOut_, &algo_,
                                       workspaceBytes_ > 0 ? env.workspace : nullptr, workspaceBytes_, env.stream);
    return st == CUBLAS_STATUS_SUCCESS ? "" : std::string("cublasLtMatmul failed: ") + cublasLtGetStatusString(st);
  }
  size_t WorkspaceBytes() const override { return workspaceBytes_; }
  std::string Tactic() const override { return tactic_; }

  // Creates descriptors and layouts; returns "" or what cuBLASLt refused.
  std::string Init(const GemmShape& s, const void* a, const void* b, void* out, const void* bias, const void* residual) {
    s_ = s;
    a_ = a;
    b_ = b;
    out_ = out;
    residual_ = residual;
    const cudaDataType_t type = CudaType(s.dtype), outType = CudaType(s.outDtype);
    std::string err;
    auto check = [&](cublasStatus_t st, const char* call) {
      if (st != CUBLAS_STATUS_SUCCESS && err.empty()) err = std::string(call) + " failed: " + cublasLtGetStatusString(st);
    };
    check(cublasLtMatmulDescCreate(&desc_, CUBLAS_COMPUTE_32F, CUDA_R_32F), "cublasLtMatmulDescCreate");
    if (!err.empty()) return err;
    const cublasOperation_t opA = s.transB ? CUBLAS_OP_T : CUBLAS_OP_N, opB = s.transA ? CUBLAS_OP_T : CUBLAS_OP_N;
    check(cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_TRANSA, &opA, sizeof(opA)), "set TRANSA");
    check(cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_TRANSB, &opB, sizeof(opB)), "set TRANSB");
    check(cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_EPILOGUE, &s.epilogue, sizeof(s.epilogue)), "set EPILOGUE");
    if (bias != nullptr) check(cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias)), "set BIAS_POINTER");
    if (s.dtype == DType::Float8E4M3) {
      if (s.fastAccum) {
        const int8_t fast = 1;
        check(cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_FAST_ACCUM, &fast, sizeof(fast)), "set FAST_ACCUM");
      }
      const cudaDataType_t biasType = CudaType(s.cDtype);
      if (bias != nullptr) {
        check(cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &biasType, sizeof(biasType)), "set BIAS_DATA_TYPE");
      }
      if (s.outDtype == DType::Float8E4M3) {
        if (err.empty() && cudaMalloc(&dScale_, sizeof(float)) != cudaSuccess) {
          cudaGetLastError();
          dScale_ = nullptr;
          err = "cudaMalloc of the FP8 output scale failed";
        }
        if (err.empty() && cudaMemcpy(dScale_, &s.dScale, sizeof(float), cudaMemcpyHostToDevice) != cudaSuccess) {
          cudaGetLastError();
          err = "cudaMemcpy of the FP8 output scale failed";
        }
        if (err.empty()) check(cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_D_SCALE_POINTER, &dScale_, sizeof(dScale_)), "set D_SCALE_POINTER");
      }
    }
    const uint64_t m = s.m, n = s.n, k = s.k;
    check(s.transB ? cublasLtMatrixLayoutCreate(&layoutA_, type, k, n, k) : cublasLtMatrixLayoutCreate(&layoutA_, type, n, k, n),
          "cublasLtMatrixLayoutCreate(b)");
    check(s.transA ? cublasLtMatrixLayoutCreate(&layoutB_, type, m, k, m) : cublasLtMatrixLayoutCreate(&layoutB_, type, k, m, k),
          "cublasLtMatrixLayoutCreate(a)");
    check(cublasLtMatrixLayoutCreate(&layoutOut_, outType, n, m, n), "cublasLtMatrixLayoutCreate(out)");
    if (s.cDtype != s.outDtype) check(cublasLtMatrixLayoutCreate(&layoutC_, CudaType(s.cDtype), n, m, n), "cublasLtMatrixLayoutCreate(c)");
    if (!err.empty()) return err;
    if (s.batch > 1) {
      const int32_t count = static_cast<int32_t>(s.batch);
      const std::pair<cublasLtMatrixLayout_t, int64_t> layouts[] = {{layoutA_, s.strideB}, {layoutB_, s.strideA}, {layoutOut_, s.strideOut}};
      for (const auto& [layout, stride] : layouts) {
        check(cublasLtMatrixLayoutSetAttribute(layout, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &count, sizeof(count)), "set BATCH_COUNT");
        check(cublasLtMatrixLayoutSetAttribute(layout, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride, sizeof(stride)),
              "set STRIDED_BATCH_OFFSET");
      }
    }
    return err;
  }

  // Candidate algorithms from the heuristic, best first.
  std::vector<cublasLtMatmulHeuristicResult_t> Candidates(cublasLtHandle_t lt, int count, std::string& err) {
    cublasLtMatmulPreference_t pref = nullptr;
    std::vector<cublasLtMatmulHeuristicResult_t> results(count);
    int found = 0;
    cublasStatus_t st = cublasLtMatmulPreferenceCreate(&pref);
    uint64_t ws = kGemmWorkspace;
    if (st == CUBLAS_STATUS_SUCCESS) st = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ws));
    const std::pair<cublasLtMatmulPreferenceAttributes_t, uint32_t> aligns[] = {
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, PointerAlignment(b_)},
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, PointerAlignment(a_)},
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, PointerAlignment(s_.residual ? residual_ : out_)},
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, PointerAlignment(out_)},
    };
    for (const auto& [attr, value] : aligns) {
      if (st == CUBLAS_STATUS_SUCCESS) st = cublasLtMatmulPreferenceSetAttribute(pref, attr, &value, sizeof(value));
    }
    if (st == CUBLAS_STATUS_SUCCESS) {
      st = cublasLtMatmulAlgoGetHeuristic(lt, desc_, layoutA_, layoutB_, layoutC(), layoutOut_, pref, count, results.data(), &found);
    }
    if (pref != nullptr) cublasLtMatmulPreferenceDestroy(pref);
    if (st != CUBLAS_STATUS_SUCCESS) {
      err = std::string("cublasLtMatmulAlgoGetHeuristic failed: ") + cublasLtGetStatusString(st);
      return {};
    }
    results.resize(found);
    return results;
  }

  void Choose(const cublasLtMatmulAlgo_t& algo, size_t workspace, std::string tactic) {
    algo_ = algo;
    workspaceBytes_ = workspace;
    tactic_ = std::move(tactic);
  }

  // Whether cuBLASLt still runs `algo` for these descriptors within the workspace. For cached choices.
  bool Accepts(cublasLtHandle_t lt, const cublasLtMatmulAlgo_t& algo) const {
    cublasLtMatmulHeuristicResult_t result{};
    return cublasLtMatmulAlgoCheck(lt, desc_, layoutA_, layoutB_, layoutC(), layoutOut_, &algo, &result) == CUBLAS_STATUS_SUCCESS &&
           result.workspaceSize <= kGemmWorkspace;
  }

 private:
  cublasLtMatrixLayout_t layoutC() const { return layoutC_ != nullptr ? layoutC_ : layoutOut_; }

  GemmShape s_{};
  const void* a_ = nullptr;
  const void* b_ = nullptr;
  void* out_ = nullptr;
  const void* residual_ = nullptr;
  cublasLtMatmulDesc_t desc_ = nullptr;
  cublasLtMatrixLayout_t layoutA_ = nullptr, layoutB_ = nullptr, layoutOut_ = nullptr, layoutC_ = nullptr;
  void* dScale_ = nullptr;
  cublasLtMatmulAlgo_t algo_{};
  size_t workspaceBytes_ = 0;
  std::string tactic_;
};

std::string EpilogueName(cublasLtEpilogue_t e) {
  switch (e) {
    case CUBLASLT_EPILOGUE_BIAS: return "+bias";
    case CUBLASLT_EPILOGUE_RELU: return "+relu";
    case CUBLASLT_EPILOGUE_RELU_BIAS: return "+bias+relu";
    case CUBLASLT_EPILOGUE_GELU: return "+gelu_tanh";
    case CUBLASLT_EPILOGUE_GELU_BIAS: return "+bias+gelu_tanh";
    default: return "";
  }
}

// "algo 21 tile 15 stages 9 splitk 1": which cuBLASLt kernel configuration `algo` is.
std::string AlgoConfig(const cublasLtMatmulAlgo_t& algo) {
  int32_t id = -1, splitK = 1;
  uint32_t tile = 0, stages = 0;
  size_t written = 0;
  cublasLtMatmulAlgoConfigGetAttribute(&algo, CUBLASLT_ALGO_CONFIG_ID, &id, sizeof(id), &written);
  cublasLtMatmulAlgoConfigGetAttribute(&algo, CUBLASLT_ALGO_CONFIG_TILE_ID, &tile, sizeof(tile), &written);
  cublasLtMatmulAlgoConfigGetAttribute(&algo, CUBLASLT_ALGO_CONFIG_STAGES_ID, &stages, sizeof(stages), &written);
  cublasLtMatmulAlgoConfigGetAttribute(&algo, CUBLASLT_ALGO_CONFIG_SPLITK_NUM, &splitK, sizeof(splitK), &written);
  return "algo " + std::to_string(id) + " tile " + std::to_string(tile) + " stages " + std::to_string(stages) + " splitk " +
         std::to_string(splitK);
}

}  // namespace

std::unique_ptr<Op> BuildGemm(const SpecReader& spec, BuildContext& ctx) {
  GemmShape s{};
  s.dtype = spec.Dtype("dtype");
  s.outDtype = spec.Dtype("outDtype");
  s.cDtype = s.outDtype;
  const bool fp8 = s.dtype == DType::Float8E4M3;
  if (fp8) {
    // cuBLASLt's FP8 GEMM: e4m3 x e4m3 → float16/bfloat16, or e4m3 with a D scale (C then 16-bit).
    if (s.outDtype != DType::Float16 && s.outDtype != DType::BFloat16 && s.outDtype != DType::Float8E4M3) {
      spec.Fail(std::string("an FP8 gemm writes float16, bfloat16 or float8e4m3, got ") + DTypeName(s.outDtype));
    }
    if (spec.Has("biasDtype")) s.cDtype = spec.Dtype("biasDtype");
    else if (s.outDtype == DType::Float8E4M3) s.cDtype = DType::Float16;
    s.fastAccum = ctx.fp8FastAccumulation;
    if (s.cDtype != DType::Float16 && s.cDtype != DType::BFloat16) spec.Fail(std::string("an FP8 gemm's bias must be float16 or bfloat16, got ") + DTypeName(s.cDtype));
    if (s.outDtype != DType::Float8E4M3 && s.cDtype != s.outDtype) spec.Fail("an FP8 gemm's bias must have its output's dtype");
    if (s.outDtype == DType::Float8E4M3) {
      s.dScale = static_cast<float>(spec.Num("dScale"));
      if (!(s.dScale > 0.f) || !(s.dScale < 3.4e38f)) spec.Fail("'dScale' must be a positive finite float");
    }
  } else {
    if (!IsFloating(s.dtype) || !IsFloating(s.outDtype)) spec.Fail("gemm operands must be float32, float16 or bfloat16 (or float8e4m3)");
    if (s.outDtype != s.dtype && s.outDtype != DType::Float32) spec.Fail("the output dtype must be the operands' or float32");
  }
  s.m = spec.Int("m"); s.n = spec.Int("n"); s.k = spec.Int("k"); s.batch = spec.Int("batch");
  s.strideA = spec.Int("strideA"); s.strideB = spec.Int("strideB"); s.strideOut = spec.Int("strideOut");
  s.transA = spec.Bool("transA"); s.transB = spec.Bool("transB");
  s.alpha = static_cast<float>(spec.Num("alpha"));
  if (s.m < 1 || s.n < 1 || s.k < 1 || s.batch < 1) spec.Fail("m, n, k and batch must be positive");
  if (s.strideA < 0 || s.strideB < 0 || (s.batch > 1 && s.strideOut < s.m * s.n)) spec.Fail("invalid batch strides");
  if (fp8 && (s.transA || !s.transB || s.k % 16 != 0 || s.n % 16 != 0)) {
    spec.Fail("an FP8 gemm takes a [m, k] by a transposed [n, k] operand with k and n multiples of 16, got m " + std::to_string(s.m) +
              " n " + std::to_string(s.n) + " k " + std::to_string(s.k) + (s.transA ? " transA" : "") + (s.transB ? "" : " (b not transposed)"));
  }
  const std::string act = spec.Str("act");
  const bool hasBias = spec.Has("bias");
  s.residual = spec.Has("residual");
  if (act == "none") s.epilogue = hasBias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT;
  else if (act == "relu") s.epilogue = hasBias ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_RELU;
  else if (act == "gelu_tanh") s.epilogue = hasBias ? CUBLASLT_EPILOGUE_GELU_BIAS : CUBLASLT_EPILOGUE_GELU;
  else spec.Fail("act must be none, relu or gelu_tanh, got '" + act + "'");
  const size_t item = ItemSize(s.dtype), outItem = ItemSize(s.outDtype);
  auto span = [](int64_t batch, int64_t stride, int64_t matrix) { return ContiguousExtent((batch - 1) * stride + matrix); };
  const void* a = ResolveRef(spec, "a", ctx.mem, span(s.batch, s.strideA, s.m * s.k), item);
  const void* b = ResolveRef(spec, "b", ctx.mem, span(s.batch, s.strideB, s.k * s.n), item);
  void* out = ResolveRef(spec, "out", ctx.mem, span(s.batch, s.strideOut, s.m * s.n), outItem);
  const void* bias = hasBias ? ResolveRef(spec, "bias", ctx.mem, ContiguousExtent(s.n), ItemSize(s.cDtype)) : nullptr;
  if (fp8 && s.residual) spec.Fail("an FP8 gemm takes no residual");
  const void* residual = s.residual ? ResolveRef(spec, "residual", ctx.mem, span(s.batch, s.strideOut, s.m * s.n), outItem) : nullptr;

  auto op = std::make_unique<GemmOp>();
  std::string err = op->Init(s, a, b, out, bias, residual);
  if (!err.empty()) spec.Fail(err);
  const std::string key = std::string("gemm ") + DTypeName(s.dtype) + ">" + DTypeName(s.outDtype) + " m" + std::to_string(s.m) +
                          " n" + std::to_string(s.n) + " k" + std::to_string(s.k) + " b" + std::to_string(s.batch) + " sa" +
                          std::to_string(s.strideA) + " sb" + std::to_string(s.strideB) + " so" + std::to_string(s.strideOut) +
                          (s.transA ? " tA" : "") + (s.transB ? " tB" : "") + " e" + std::to_string(static_cast<int>(s.epilogue)) +
                          (s.residual ? " res" : "") + " alpha" + std::to_string(s.alpha) + (fp8 ? std::string(" c") + DTypeName(s.cDtype) + (s.fastAccum ? " fast" : "") : "") +
                          " al" + std::to_string(PointerAlignment(a)) +
                          "," + std::to_string(PointerAlignment(b)) + "," + std::to_string(PointerAlignment(out)) + "," +
                          std::to_string(residual != nullptr ? PointerAlignment(residual) : 0) + "," +
                          std::to_string(bias != nullptr ? PointerAlignment(bias) : 0);
  const std::string epilogue = std::string(EpilogueName(s.epilogue)) + (s.residual ? "+residual" : "");
  auto name = [&](const cublasLtMatmulAlgo_t& algo) {
    return std::string(fp8 ? "cublaslt fp8[" : "cublaslt[") + AlgoConfig(algo) + "]" + epilogue +
           (s.outDtype == DType::Float8E4M3 ? " fp8 out" : "") + (s.fastAccum ? " fast-accum" : "");
  };
  auto algoOf = [](const Tactic& t) {
    cublasLtMatmulAlgo_t algo{};
    static_assert(sizeof(algo.data) == sizeof(t.words), "cublasLtMatmulAlgo_t is 8 words");
    std::memcpy(algo.data, t.words, sizeof(algo.data));
    return algo;
  };
  if (const Tactic* hit = ctx.cache->Lookup(key, ctx.tune)) {
    const Tactic t = *hit;
    if (t.kind == TacticKind::Matmul && op->Accepts(ctx.cublasLt, algoOf(t))) {
      op->Choose(algoOf(t), kGemmWorkspace, name(algoOf(t)));
      ctx.source = ctx.cache->Reuse(key);
      return op;
    }
    ctx.cache->Reject(key);
  }
  std::vector<cublasLtMatmulHeuristicResult_t> candidates = op->Candidates(ctx.cublasLt, ctx.tune ? kCandidates : 1, err);
  if (!err.empty()) spec.Fail(err);
  if (candidates.empty()) {
    spec.Fail(std::string("cuBLASLt has no algorithm for ") + DTypeName(s.dtype) + " " + std::to_string(s.m) + "x" +
              std::to_string(s.n) + "x" + std::to_string(s.k) + " (batch " + std::to_string(s.batch) + ")");
  }
  size_t best = 0;
  float bestMs = -1.f;
  const bool timed = ctx.tune && ctx.workspaceBytes >= kGemmWorkspace;
  if (timed) {
    ExecEnv env;
    env.stream = ctx.stream;
    env.workspace = ctx.workspace;
    env.workspaceBytes = ctx.workspaceBytes;
    env.cublasLt = ctx.cublasLt;
    for (size_t i = 0; i < candidates.size(); i++) {
      op->Choose(candidates[i].algo, candidates[i].workspaceSize, "");
      float ms = TimeOp(*op, env);
      if (ms >= 0.f && (bestMs < 0.f || ms < bestMs)) {
        bestMs = ms;
        best = i;
      }
    }
  }
  op->Choose(candidates[best].algo, kGemmWorkspace, name(candidates[best].algo));
  Tactic t;
  t.kind = TacticKind::Matmul;
  std::memcpy(t.words, candidates[best].algo.data, sizeof(t.words));
  t.ms = bestMs;
  t.name = op->Tactic();
  ctx.source = ctx.cache->Record(key, std::move(t), timed);
  return op;
}

#else  // !FXRT_HAVE_CUBLASLT

std::unique_ptr<Op> BuildGemm(const SpecReader& spec, BuildContext&) {
  spec.Fail("this build of the addon has no cuBLASLt (cublasLt.h or libcublasLt was not found when it was built)");
}

#endif

}  // namespace fxrt::exec
