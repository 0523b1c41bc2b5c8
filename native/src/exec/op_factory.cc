#include "exec/op_factory.h"

#include <string>

namespace fxrt::exec {

std::unique_ptr<Op> BuildOp(const SpecReader& spec, BuildContext& ctx) {
  const std::string op = spec.Str("op");
  if (op == "copy") return BuildCopy(spec, ctx);
  if (op == "fill") return BuildFill(spec, ctx);
  if (op == "pointwise") return BuildPointwise(spec, ctx);
  if (op == "pool") return BuildPool(spec, ctx);
  if (op == "layernorm") return BuildLayerNorm(spec, ctx);
  if (op == "softmax") return BuildSoftmax(spec, ctx);
  if (op == "attention") return BuildAttention(spec, ctx);
  if (op == "gemm") return BuildGemm(spec, ctx);
  if (op == "conv") return BuildConv(spec, ctx);
  if (op == "deconv") return BuildDeconv(spec, ctx);
  if (op == "gather") return BuildGather(spec, ctx);
  if (op == "slice_map") return BuildSliceMap(spec, ctx);
  if (op == "resize") return BuildResize(spec, ctx);
  if (op == "topk") return BuildTopk(spec, ctx);
  if (op == "cumsum") return BuildCumsum(spec, ctx);
  if (op == "reduce") return BuildReduce(spec, ctx);
  if (op == "quantize") return BuildQuantize(spec, ctx);
  if (op == "dequantize") return BuildDequantize(spec, ctx);
  if (op == "einsum") return BuildEinsum(spec, ctx);
  if (op == "igemm") return BuildIgemm(spec, ctx);
  spec.Fail("unknown op '" + op + "' (expected copy, fill, pointwise, pool, layernorm, softmax, attention, gemm, conv, deconv, gather, slice_map, resize, topk, cumsum, reduce, quantize, dequantize, einsum or igemm)");
}

namespace {

// Mean ms per enqueue of `reps` enqueues replayed from a CUDA graph (pure GPU time: small ops
// would otherwise be timed by their host launch cost), the least of kRounds replays after a
// warm-up one (a single replay picked different algorithms build after build: the clocks ramp,
// other work interferes); negative when capture fails.
float TimeGraph(Op& op, const ExecEnv& env, int reps, cudaEvent_t start, cudaEvent_t stop) {
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  bool ok = cudaStreamBeginCapture(env.stream, cudaStreamCaptureModeThreadLocal) == cudaSuccess;
  for (int i = 0; i < reps && ok; i++) ok = op.Enqueue(env).empty();
  ok = cudaStreamEndCapture(env.stream, &graph) == cudaSuccess && ok;
  ok = ok && cudaGraphInstantiate(&exec, graph, 0) == cudaSuccess;
  float ms = -1.f;
  constexpr int kRounds = 3;
  if (ok && cudaGraphLaunch(exec, env.stream) == cudaSuccess) {  // warm-up
    for (int r = 0; r < kRounds; r++) {
      float roundMs = -1.f;
      cudaEventRecord(start, env.stream);
      cudaGraphLaunch(exec, env.stream);
      cudaEventRecord(stop, env.stream);
      if (cudaEventSynchronize(stop) != cudaSuccess || cudaEventElapsedTime(&roundMs, start, stop) != cudaSuccess) {
        ms = -1.f;
        break;
      }
      if (ms < 0.f || roundMs / reps < ms) ms = roundMs / reps;
    }
  }
  if (exec != nullptr) cudaGraphExecDestroy(exec);
  if (graph != nullptr) cudaGraphDestroy(graph);
  cudaGetLastError();
  return ms;
}

}  // namespace

float TimeOp(Op& op, const ExecEnv& env) {
  constexpr int kReps = 5;
  cudaEvent_t start = nullptr, stop = nullptr;
  if (cudaEventCreate(&start) != cudaSuccess || cudaEventCreate(&stop) != cudaSuccess) {
    if (start != nullptr) cudaEventDestroy(start);
    cudaGetLastError();
    return -1.f;
  }
  float ms = -1.f;
  if (op.Enqueue(env).empty()) {
    ms = TimeGraph(op, env, kReps, start, stop);
    if (ms < 0.f) {  // not capturable: time eager enqueues
      cudaEventRecord(start, env.stream);
      bool ok = true;
      for (int i = 0; i < kReps && ok; i++) ok = op.Enqueue(env).empty();
      cudaEventRecord(stop, env.stream);
      if (ok && cudaEventSynchronize(stop) == cudaSuccess && cudaEventElapsedTime(&ms, start, stop) == cudaSuccess) ms /= kReps;
      else ms = -1.f;
    }
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  cudaGetLastError();
  return ms;
}

}  // namespace fxrt::exec
