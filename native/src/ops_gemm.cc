// GEMM through cuBLASLt, with bias and ReLU fused as epilogues.
//
// cuBLASLt is column-major and our tensors are row-major. A row-major X (r x c) is the same
// memory as a column-major X^T (c x r), so out = op(a)·op(b) is computed as the column-major
// out^T = op(b)^T · op(a)^T: cuBLASLt's A is our b, its B is our a, and its m, n are our n, m.
// The bias epilogue adds a vector along cuBLASLt's rows, i.e. along our columns: bias[n].
#include <cstdint>
#include <string>
#include <utility>

#include "addon_state.h"
#include "args.h"
#include "buffer.h"
#include "cuda_check.h"
#include "ops.h"
#include "stream.h"

namespace fxrt {

#ifdef FXRT_HAVE_CUBLASLT

namespace {

constexpr size_t kWorkspaceBytes = size_t{32} << 20;  // cuBLAS's recommendation for Hopper

void CheckLt(Napi::Env env, cublasStatus_t st, const char* call) {
  if (st != CUBLAS_STATUS_SUCCESS) ThrowError(env, "gemm", std::string(call) + " failed: " + cublasLtGetStatusString(st));
}

cudaDataType_t CudaType(DType t) {
  switch (t) {
    case DType::Float16: return CUDA_R_16F;
    case DType::BFloat16: return CUDA_R_16BF;
    default: return CUDA_R_32F;
  }
}

uint32_t Alignment(const void* p) {
  auto v = reinterpret_cast<uintptr_t>(p);
  uint32_t a = 256;
  while (a > 1 && v % a != 0) a >>= 1;
  return a;
}

template <typename T>
void SetDesc(Napi::Env env, cublasLtMatmulDesc_t desc, cublasLtMatmulDescAttributes_t attr, const T& value) {
  CheckLt(env, cublasLtMatmulDescSetAttribute(desc, attr, &value, sizeof(value)), "cublasLtMatmulDescSetAttribute");
}

// Builds the descriptors and asks the heuristic for its best algorithm within the workspace.
GemmPlan MakePlan(Napi::Env env, DeviceState& device, const GemmKey& key) {
  GemmPlan plan;
  try {
    cudaDataType_t type = CudaType(key.dtype);
    cublasComputeType_t compute = key.dtype == DType::Float32 && key.tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    CheckLt(env, cublasLtMatmulDescCreate(&plan.desc, compute, CUDA_R_32F), "cublasLtMatmulDescCreate");
    cublasOperation_t opA = key.transB ? CUBLAS_OP_T : CUBLAS_OP_N;  // cuBLASLt's A is our b
    cublasOperation_t opB = key.transA ? CUBLAS_OP_T : CUBLAS_OP_N;
    SetDesc(env, plan.desc, CUBLASLT_MATMUL_DESC_TRANSA, opA);
    SetDesc(env, plan.desc, CUBLASLT_MATMUL_DESC_TRANSB, opB);
    cublasLtEpilogue_t epilogue = key.bias ? (key.relu ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_BIAS)
                                           : (key.relu ? CUBLASLT_EPILOGUE_RELU : CUBLASLT_EPILOGUE_DEFAULT);
    SetDesc(env, plan.desc, CUBLASLT_MATMUL_DESC_EPILOGUE, epilogue);
    const uint64_t m = key.m, n = key.n, k = key.k;
    // Column-major views: our b is (n x k) when not transposed, else (k x n) used transposed.
    CheckLt(env, key.transB ? cublasLtMatrixLayoutCreate(&plan.layoutA, type, k, n, k)
                            : cublasLtMatrixLayoutCreate(&plan.layoutA, type, n, k, n),
            "cublasLtMatrixLayoutCreate");
    CheckLt(env, key.transA ? cublasLtMatrixLayoutCreate(&plan.layoutB, type, m, k, m)
                            : cublasLtMatrixLayoutCreate(&plan.layoutB, type, k, m, k),
            "cublasLtMatrixLayoutCreate");
    CheckLt(env, cublasLtMatrixLayoutCreate(&plan.layoutOut, type, n, m, n), "cublasLtMatrixLayoutCreate");

    cublasLtMatmulPreference_t pref = nullptr;
    CheckLt(env, cublasLtMatmulPreferenceCreate(&pref), "cublasLtMatmulPreferenceCreate");
    cublasLtMatmulHeuristicResult_t result = {};
    int found = 0;
    uint64_t ws = kWorkspaceBytes;
    cublasStatus_t st = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ws));
    const std::pair<cublasLtMatmulPreferenceAttributes_t, uint32_t> aligns[] = {
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, key.alignB},  // cuBLASLt's A is our b
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, key.alignA},
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, key.alignOut},
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, key.alignOut},
    };
    for (const auto& [attr, value] : aligns) {
      if (st == CUBLAS_STATUS_SUCCESS) st = cublasLtMatmulPreferenceSetAttribute(pref, attr, &value, sizeof(value));
    }
    if (st == CUBLAS_STATUS_SUCCESS) {
      st = cublasLtMatmulAlgoGetHeuristic(device.cublasLt(), plan.desc, plan.layoutA, plan.layoutB, plan.layoutOut,
                                          plan.layoutOut, pref, 1, &result, &found);
    }
    cublasLtMatmulPreferenceDestroy(pref);
    CheckLt(env, st, "cublasLtMatmulAlgoGetHeuristic");
    if (found == 0) {
      ThrowError(env, "gemm", std::string("cuBLASLt has no algorithm for ") + DTypeName(key.dtype) + " " +
                                  std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k));
    }
    plan.algo = result.algo;
    plan.workspaceBytes = result.workspaceSize;
  } catch (...) {
    plan.Destroy();
    throw;
  }
  return plan;
}

}  // namespace

Napi::Value Gemm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "gemm";
  Napi::Object o = ParseObject(env, info[0], op, "options");
  DType dtype = ParseDType(env, o.Get("dtype"), op, "dtype");
  if (!IsFloating(dtype)) ThrowType(env, op, std::string("dtype must be float32, float16 or bfloat16, got ") + DTypeName(dtype));
  size_t m = ParseSize(env, o.Get("m"), op, "m");
  size_t n = ParseSize(env, o.Get("n"), op, "n");
  size_t k = ParseSize(env, o.Get("k"), op, "k");
  if (k == 0) ThrowRange(env, op, "k must be positive");
  const size_t limit = size_t{1} << 31;  // cuBLASLt dimensions are 64-bit, leading dims of rows must fit int32 kernels
  if (m >= limit || n >= limit || k >= limit) ThrowRange(env, op, "m, n and k must each be below 2^31");
  bool transA = ParseBool(env, o.Get("transA"), op, "transA");
  bool transB = ParseBool(env, o.Get("transB"), op, "transB");
  bool relu = ParseBool(env, o.Get("relu"), op, "relu");
  bool tf32 = ParseBool(env, o.Get("allowTf32"), op, "allowTf32");
  DeviceBuffer* a = DeviceBuffer::From(env, o.Get("a"), op, "a");
  DeviceBuffer* b = DeviceBuffer::From(env, o.Get("b"), op, "b");
  DeviceBuffer* out = DeviceBuffer::From(env, o.Get("out"), op, "out");
  Napi::Value biasValue = o.Get("bias");
  DeviceBuffer* bias = biasValue.IsNull() || biasValue.IsUndefined() ? nullptr : DeviceBuffer::From(env, biasValue, op, "bias");
  size_t item = ItemSize(dtype);
  a->RequireBytes(env, m * k * item, op, "a");
  b->RequireBytes(env, k * n * item, op, "b");
  out->RequireBytes(env, m * n * item, op, "out");
  if (bias != nullptr) bias->RequireBytes(env, n * item, op, "bias");
  std::shared_ptr<StreamState> stream = Stream::From(env, o.Get("stream"), op, "stream");
  if (m == 0 || n == 0) return env.Undefined();

  DeviceState& device = *AddonState::Of(env).Device(env);
  GemmKey key{dtype, static_cast<int64_t>(m), static_cast<int64_t>(n), static_cast<int64_t>(k), transA, transB,
              bias != nullptr, relu, tf32, Alignment(a->data()), Alignment(b->data()), Alignment(out->data()),
              bias != nullptr ? Alignment(bias->data()) : 256u};
  auto& plans = device.gemmPlans();
  auto it = plans.find(key);
  if (it == plans.end()) it = plans.emplace(key, MakePlan(env, device, key)).first;
  GemmPlan& plan = it->second;

  a->UseOn(env, stream, op);
  b->UseOn(env, stream, op);
  out->UseOn(env, stream, op);
  if (bias != nullptr) {
    bias->UseOn(env, stream, op);
    const void* ptr = bias->data();
    SetDesc(env, plan.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, ptr);
  }
  void* workspace = plan.workspaceBytes > 0 ? stream->Workspace(env, kWorkspaceBytes, op) : nullptr;
  const float alpha = 1.0f, beta = 0.0f;
  CheckLt(env,
          cublasLtMatmul(device.cublasLt(), plan.desc, &alpha, b->data(), plan.layoutA, a->data(), plan.layoutB, &beta,
                         out->data(), plan.layoutOut, out->data(), plan.layoutOut, &plan.algo, workspace,
                         plan.workspaceBytes, stream->stream()),
          "cublasLtMatmul");
  return env.Undefined();
}

#else  // !FXRT_HAVE_CUBLASLT

Napi::Value Gemm(const Napi::CallbackInfo& info) {
  ThrowError(info.Env(), "gemm",
             "this build of the addon has no cuBLASLt (cublasLt.h or libcublasLt was not found when it was built)");
}

#endif

}  // namespace fxrt
