// Building ops from their specs. Each builder validates its spec (shapes, dtypes, memory ranges)
// and, for library ops, picks the implementation: a timed choice from the plan's tactic cache
// (which the persistent timing cache fills), else timed on the device when `tune` is set (at
// engine load), else the library's heuristic (no device sync).
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
  // FP8 GEMMs accumulate in the tensor cores' accumulator without periodic promotion (CUBLASLT_MATMUL_DESC_FAST_ACCUM).
  bool fp8FastAccumulation = false;
  TacticCache* cache = nullptr;
  DeviceState* device = nullptr;
  void* workspace = nullptr;  // for timing library algorithms (tune only)
  size_t workspaceBytes = 0;
  // Where the last op built got its implementation (library builders set it; BuildOp's caller reads it).
  TacticSource source = TacticSource::Fixed;
#ifdef FXRT_HAVE_CUBLASLT
  cublasLtHandle_t cublasLt = nullptr;
#endif
#ifdef FXRT_HAVE_CUDNN
  cudnnHandle_t cudnn = nullptr;
#endif
};

// Dispatches on spec.op: copy, fill, pointwise, pool, layernorm, softmax, attention, gemm, conv, deconv, gather,
// slice_map, resize, topk, cumsum, reduce, quantize, dequantize, einsum.
std::unique_ptr<Op> BuildOp(const SpecReader& spec, BuildContext& ctx);

std::unique_ptr<Op> BuildCopy(const SpecReader& spec, BuildContext& ctx);
std::unique_ptr<Op> BuildFill(const SpecReader& spec, BuildContext& ctx);
std::unique_ptr<Op> BuildPointwise(const SpecReader& spec, BuildContext& ctx);
std::unique_ptr<Op> BuildPool(const SpecReader& spec, BuildContext& ctx);
std::unique_ptr<Op> BuildLayerNorm(const SpecReader& spec, BuildContext& ctx);
std::unique_ptr<Op> BuildSoftmax(const SpecReader& spec, BuildContext& ctx);
// Fused attention on tensor cores (op_attention.cc).
std::unique_ptr<Op> BuildAttention(const SpecReader& spec, BuildContext& ctx);
std::unique_ptr<Op> BuildGemm(const SpecReader& spec, BuildContext& ctx);
// N-d convolution (1 to 3 spatial dims, any padding) and transposed convolution through cuDNN.
std::unique_ptr<Op> BuildConv(const SpecReader& spec, BuildContext& ctx);
std::unique_ptr<Op> BuildDeconv(const SpecReader& spec, BuildContext& ctx);
// Index ops (ops_index.cc): gather, slice past the edges / padding, resize, topk, cumulative sum.
std::unique_ptr<Op> BuildGather(const SpecReader& spec, BuildContext& ctx);
std::unique_ptr<Op> BuildSliceMap(const SpecReader& spec, BuildContext& ctx);
std::unique_ptr<Op> BuildResize(const SpecReader& spec, BuildContext& ctx);
std::unique_ptr<Op> BuildTopk(const SpecReader& spec, BuildContext& ctx);
std::unique_ptr<Op> BuildCumsum(const SpecReader& spec, BuildContext& ctx);
// Reductions, Q/DQ and the generic einsum (ops_reduce.cc).
std::unique_ptr<Op> BuildReduce(const SpecReader& spec, BuildContext& ctx);
std::unique_ptr<Op> BuildQuantize(const SpecReader& spec, BuildContext& ctx);
std::unique_ptr<Op> BuildDequantize(const SpecReader& spec, BuildContext& ctx);
std::unique_ptr<Op> BuildEinsum(const SpecReader& spec, BuildContext& ctx);

// Mean device ms of `op` over a few enqueues on env.stream after a warm-up, replayed from a CUDA
// graph where the op can be captured (synchronizes: engine load only); negative when it fails.
float TimeOp(Op& op, const ExecEnv& env);

// The float32 epilogue run after a library call that could not fuse it: y = act(y + bias + z)
// over an [rows, cols] contiguous y, bias per column, z like y (each optional). Used by conv.
std::unique_ptr<Op> MakeEpilogueOp(DType dtype, void* y, const void* bias, const void* z, bool relu, int64_t rows, int64_t cols);

// The kernels::PwActivation of an activation name of src/engine/network.ts ActivationOp, or -1.
int ActivationIndex(const std::string& name);

// The int8 GEMM of the Q/DQ fusion: convolutions and matrix products (op_igemm.cc).
std::unique_ptr<Op> BuildIgemm(const SpecReader& spec, BuildContext& ctx);

}  // namespace fxrt::exec
