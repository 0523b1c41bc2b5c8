// The executor's state: a loaded plan (its constants on the device and its tactic cache), an
// execution context (one stream, one device memory for arena + inputs + outputs + scratch, a
// library workspace, a data error record), and a program (the ops of one plan for one set of
// input shapes, with its pinned staging and, after a warm-up run, its CUDA graph).
#pragma once

#include <cuda_runtime.h>
#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "device_state.h"
#include "exec/op.h"
#include "exec/tactics.h"

namespace fxrt::exec {

class PlanState {
 public:
  PlanState(std::shared_ptr<DeviceState> device, char* weights, size_t bytes)
      : device_(std::move(device)), weights_(weights), bytes_(bytes) {}
  ~PlanState();
  PlanState(const PlanState&) = delete;
  PlanState& operator=(const PlanState&) = delete;

  const std::shared_ptr<DeviceState>& device() const { return device_; }
  char* weights() const { return weights_; }
  size_t bytes() const { return bytes_; }
  TacticCache& cache() { return cache_; }

 private:
  std::shared_ptr<DeviceState> device_;
  char* weights_;
  size_t bytes_;
  TacticCache cache_;
};

class ContextState {
 public:
  // A stream that waits for the plan's constant upload, and `memoryBytes` of device memory.
  static std::shared_ptr<ContextState> Create(Napi::Env env, std::shared_ptr<PlanState> plan, size_t memoryBytes);
  ~ContextState();
  ContextState(const ContextState&) = delete;
  ContextState& operator=(const ContextState&) = delete;

  const std::shared_ptr<PlanState>& plan() const { return plan_; }
  const std::shared_ptr<StreamState>& stream() const { return stream_; }
  char* memory() const { return memory_; }
  size_t memoryBytes() const { return memoryBytes_; }
  // Grows the library workspace to at least `bytes`; a new allocation invalidates captured graphs.
  void EnsureWorkspace(Napi::Env env, size_t bytes);
  void* workspace() const { return workspace_; }
  size_t workspaceBytes() const { return workspaceBytes_; }
  uint64_t workspaceGeneration() const { return workspaceGeneration_; }
  // Where this context's kernels report bad data (kernels/data_error.h); programs zero it per run.
  kernels::DataErrorRecord* dataError() const { return dataError_; }
#ifdef FXRT_HAVE_CUDNN
  cudnnHandle_t Cudnn(Napi::Env env);
  // The handle when a prepared program needed one, else null.
  cudnnHandle_t cudnnIfCreated() const { return cudnn_; }
#endif
  // Whether a run is in flight (runs on one context never overlap).
  bool busy = false;

 private:
  ContextState() = default;
  std::shared_ptr<PlanState> plan_;
  std::shared_ptr<StreamState> stream_;
  char* memory_ = nullptr;
  size_t memoryBytes_ = 0;
  void* workspace_ = nullptr;
  size_t workspaceBytes_ = 0;
  uint64_t workspaceGeneration_ = 0;
  kernels::DataErrorRecord* dataError_ = nullptr;
#ifdef FXRT_HAVE_CUDNN
  cudnnHandle_t cudnn_ = nullptr;
#endif
};

// A byte range of the context memory that a network input or output occupies.
struct IoSlot {
  size_t offset = 0;
  size_t bytes = 0;
};

// One run's copy of a network input into its slot, or of an output out of its slot: the other
// side is a device buffer or the program's pinned staging.
struct IoCopy {
  void* dst = nullptr;
  const void* src = nullptr;
  size_t bytes = 0;
  cudaMemcpyKind kind = cudaMemcpyDeviceToDevice;
};

// Bad data a run's kernels reported: the plan step (-1: plan I/O) and what the op says about it.
struct DataErrorReport {
  bool found = false;
  int step = -1;
  std::string message;  // "step '<name>': <the op's description>"
};

class Program {
 public:
  // `stepNames`: one per plan step, for errors and profiles.
  // `graphCopies`: capture the input/output copies with the ops (else they run beside the graph).
  Program(std::shared_ptr<ContextState> ctx, bool useGraph, bool graphCopies, std::vector<std::string> stepNames)
      : ctx_(std::move(ctx)), useGraph_(useGraph), stepNames_(std::move(stepNames)), copiesInGraph_(graphCopies) {}
  ~Program();
  Program(const Program&) = delete;
  Program& operator=(const Program&) = delete;

  void AddOp(std::unique_ptr<Op> op, int step) {
    reportsDataErrors_ = reportsDataErrors_ || op->ReportsDataErrors();
    ops_.push_back(std::move(op));
    opSteps_.push_back(step);
  }
  // Allocates the pinned staging of inputs, outputs and the data error record once the slots are set.
  void SetIo(Napi::Env env, std::vector<IoSlot> inputs, std::vector<IoSlot> outputs);
  // Slots the ops address in caller buffers (null: not bound), set before the ops are built.
  void SetBound(std::vector<char*> inputs, std::vector<char*> outputs) {
    boundInputs_ = std::move(inputs);
    boundOutputs_ = std::move(outputs);
  }
  char* boundInput(size_t i) const { return i < boundInputs_.size() ? boundInputs_[i] : nullptr; }
  char* boundOutput(size_t i) const { return i < boundOutputs_.size() ? boundOutputs_[i] : nullptr; }

  const std::shared_ptr<ContextState>& context() const { return ctx_; }
  const std::vector<std::unique_ptr<Op>>& ops() const { return ops_; }
  const std::vector<int>& opSteps() const { return opSteps_; }
  const std::vector<IoSlot>& inputs() const { return inputs_; }
  const std::vector<IoSlot>& outputs() const { return outputs_; }
  int steps() const { return static_cast<int>(stepNames_.size()); }
  const std::vector<std::string>& stepNames() const { return stepNames_; }
  // Whether an op can report bad data: each run then zeroes the context's record before the ops
  // and copies it to pinned memory after them.
  bool reportsDataErrors() const { return reportsDataErrors_; }
  char* pinnedInput(size_t i) const { return static_cast<char*>(pinned_) + pinnedOffsets_[i]; }
  char* pinnedOutput(size_t i) const { return static_cast<char*>(pinned_) + pinnedOffsets_[inputs_.size() + i]; }
  size_t WorkspaceBytes() const;
  // "eager" (not yet captured / graphs off), "graph", or why capture failed.
  const std::string& graphState() const { return graphState_; }
  // The chained launches (kernels/chained_launch.cuh's programmatic dependent launch) in the CUDA graph:
  // its programmatic edges, or -1 while there is no graph.
  int chainedLaunches() const { return graph_ != nullptr ? chainedLaunches_ : -1; }

  // Enqueues a run: the input copies, the ops, the output copies. Replays the CUDA graph when there
  // is one (captured on the second run, copies included: a run whose buffers moved rebinds the
  // graph's copy nodes to them), eagerly otherwise; with `profile`, eagerly with an event around
  // every op. Returns "" or the failure, naming the op's step.
  std::string Enqueue(const ExecEnv& env, bool profile, const std::vector<IoCopy>& inputs, const std::vector<IoCopy>& outputs);
  // Per-step GPU ms of the last profiled run (call once its work completed).
  std::vector<double> StepTimes() const;
  // The bad data the last run reported, if any (call once its work completed); clears it.
  DataErrorReport TakeDataError();

 private:
  std::string EnqueueOps(const ExecEnv& env, bool profile);
  // Which copies EnqueueCopies enqueues: all (an eager run), the device-to-device ones into a
  // capture (recording their nodes), or those beside a graph run (no node in the graph).
  enum class CopyPass { All, Capture, Beside };
  std::string EnqueueCopies(cudaStream_t stream, const std::vector<IoCopy>& copies, size_t first, CopyPass pass);
  // Points the graph's copy nodes at this run's buffers; false when the graph cannot take them.
  bool RebindCopies(const std::vector<IoCopy>& inputs, const std::vector<IoCopy>& outputs);
  std::string StepName(int step) const;
  void DropGraph() noexcept;

  std::shared_ptr<ContextState> ctx_;
  bool useGraph_;
  std::vector<std::string> stepNames_;
  bool reportsDataErrors_ = false;
  std::vector<std::unique_ptr<Op>> ops_;
  std::vector<int> opSteps_;
  std::vector<IoSlot> inputs_, outputs_;
  std::vector<char*> boundInputs_, boundOutputs_;
  void* pinned_ = nullptr;
  std::vector<size_t> pinnedOffsets_;
  kernels::DataErrorRecord* pinnedDataError_ = nullptr;  // in pinned_: the record copied back
  int runs_ = 0;
  cudaGraph_t graphTemplate_ = nullptr;  // kept: the copy nodes are named through it
  cudaGraphExec_t graph_ = nullptr;
  uint64_t graphGeneration_ = 0;
  // Whether captures include the device-to-device I/O copies (host ones always run beside the
  // graph: measured faster there), until slots switched memory kinds too often.
  bool copiesInGraph_;
  static constexpr int kMaxCopyRecaptures = 2;
  int copyRecaptures_ = 0;
  std::vector<cudaGraphNode_t> copyNodes_;  // per copy (inputs, then outputs); null: not in the graph
  std::vector<IoCopy> boundCopies_;         // what the graph's copy nodes do now
  bool captureFailed_ = false;
  std::string graphState_ = "eager";
  int chainedLaunches_ = 0;
  std::vector<cudaEvent_t> events_;
};

}  // namespace fxrt::exec
