// Building ops from their specs. Each builder validates its spec (shapes, dtypes, memory ranges)
// and, for library ops, picks the implementation: timed on the device when `tune` is set (at
// engine load), else from the plan's cache or the library's heuristic (no device sync).
#pragma once

#include <napi.h>

#include <memory>

#include "device_state.h"
#include "exec/op.h"
#include "exec/spec.h"
#include "exec/tactics.h"

namespace fxrt::exec {

struct BuildContext {
  explicit BuildContext(Napi::Env e) : env(e) {}
  Napi::Env env;
  Memories mem;
  cudaStream_t stream = nullptr;
  bool tune = false;
  // Only algorithms whose results do not depend on scheduling (no atomics): concurrent contexts
  // then give bit-identical results.
  bool deterministic = false;
  TacticCache* cache = nullptr;
  DeviceState* device = nullptr;
  void* workspace = nullptr;  // for timing library algorithms (tune only)
  size_t workspaceBytes = 0;
#ifdef FXRT_HAVE_CUBLASLT
  cublasLtHandle_t cublasLt = nullptr;
#endif
#ifdef FXRT_HAVE_CUDNN
  cudnnHandle_t cudnn = nullptr;
#endif
};

// Dispatches on spec.op: copy, fill, pointwise, pool2d, layernorm, softmax, gemm, conv2d.
std::unique_ptr<Op> BuildOp(const SpecReader& spec, BuildContext& ctx);

std::unique_ptr<Op> BuildCopy(const SpecReader& spec, BuildContext& ctx);
std::unique_ptr<Op> BuildFill(const SpecReader& spec, BuildContext& ctx);
std::unique_ptr<Op> BuildPointwise(const SpecReader& spec, BuildContext& ctx);
std::unique_ptr<Op> BuildPool2d(const SpecReader& spec, BuildContext& ctx);
std::unique_ptr<Op> BuildLayerNorm(const SpecReader& spec, BuildContext& ctx);
std::unique_ptr<Op> BuildSoftmax(const SpecReader& spec, BuildContext& ctx);
std::unique_ptr<Op> BuildGemm(const SpecReader& spec, BuildContext& ctx);
std::unique_ptr<Op> BuildConv2d(const SpecReader& spec, BuildContext& ctx);

// Mean device ms of `op` over a few enqueues on env.stream after a warm-up, replayed from a CUDA
// graph where the op can be captured (synchronizes: engine load only); negative when it fails.
float TimeOp(Op& op, const ExecEnv& env);

// The float32 epilogue run after a library call that could not fuse it: y = act(y + bias + z)
// over an [rows, cols] contiguous y, bias per column, z like y (each optional). Used by conv.
std::unique_ptr<Op> MakeEpilogueOp(DType dtype, void* y, const void* bias, const void* z, bool relu, int64_t rows, int64_t cols);

}  // namespace fxrt::exec
