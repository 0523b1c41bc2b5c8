#include "exec/program.h"

#include <cstring>
#include <string>

#include "cuda_check.h"

namespace fxrt::exec {

PlanState::~PlanState() {
  device_->Free(weights_, bytes_, device_->defaultStream()->stream());
}

std::shared_ptr<ContextState> ContextState::Create(Napi::Env env, std::shared_ptr<PlanState> plan, size_t memoryBytes) {
  const char* op = "createContext";
  std::shared_ptr<ContextState> ctx(new ContextState());
  const std::shared_ptr<DeviceState>& device = plan->device();
  ctx->plan_ = std::move(plan);
  ctx->stream_ = device->CreateStream(env);
  ctx->stream_->WaitFor(env, *device->defaultStream(), op);  // the constants' upload
  ctx->memory_ = static_cast<char*>(device->Allocate(env, memoryBytes, ctx->stream_->stream(), op));
  ctx->memoryBytes_ = memoryBytes;
  ctx->dataError_ = static_cast<kernels::DataErrorRecord*>(device->Allocate(env, sizeof(kernels::DataErrorRecord), ctx->stream_->stream(), op));
  return ctx;
}

ContextState::~ContextState() {
  const std::shared_ptr<DeviceState>& device = plan_->device();
#ifdef FXRT_HAVE_CUDNN
  if (cudnn_ != nullptr) cudnnDestroy(cudnn_);
#endif
  if (!stream_) return;  // Create failed before anything was allocated
  if (workspace_ != nullptr) device->FreeWorkspace(workspace_, workspaceBytes_, stream_->stream());
  if (dataError_ != nullptr) device->Free(dataError_, sizeof(kernels::DataErrorRecord), stream_->stream());
  if (memory_ != nullptr) device->Free(memory_, memoryBytes_, stream_->stream());
}

void ContextState::EnsureWorkspace(Napi::Env env, size_t bytes) {
  if (bytes <= workspaceBytes_) return;
  const std::shared_ptr<DeviceState>& device = plan_->device();
  if (workspace_ != nullptr) device->FreeWorkspace(workspace_, workspaceBytes_, stream_->stream());
  workspace_ = nullptr;
  workspaceBytes_ = 0;
  workspace_ = device->AllocateWorkspace(env, bytes, stream_->stream(), "prepare");
  workspaceBytes_ = bytes;
  workspaceGeneration_++;
}

#ifdef FXRT_HAVE_CUDNN
cudnnHandle_t ContextState::Cudnn(Napi::Env env) {
  if (cudnn_ == nullptr) {
    cudnnStatus_t st = cudnnCreate(&cudnn_);
    if (st != CUDNN_STATUS_SUCCESS) {
      cudnn_ = nullptr;
      ThrowError(env, "prepare", std::string("cudnnCreate failed: ") + cudnnGetErrorString(st));
    }
    st = cudnnSetStream(cudnn_, stream_->stream());
    if (st != CUDNN_STATUS_SUCCESS) ThrowError(env, "prepare", std::string("cudnnSetStream failed: ") + cudnnGetErrorString(st));
  }
  return cudnn_;
}
#endif

Program::~Program() {
  DropGraph();
  for (cudaEvent_t e : events_) cudaEventDestroy(e);
  if (pinned_ != nullptr) cudaFreeHost(pinned_);
}

namespace {

// The edges of a captured graph that are programmatic dependencies (a chained launch after the
// kernel before it), or 0 where the runtime cannot say.
int CountProgrammaticEdges(cudaGraph_t graph) {
#if CUDART_VERSION >= 12030
  size_t n = 0;
#if CUDART_VERSION >= 13000
  if (cudaGraphGetEdges(graph, nullptr, nullptr, nullptr, &n) != cudaSuccess) {
#else
  if (cudaGraphGetEdges_v2(graph, nullptr, nullptr, nullptr, &n) != cudaSuccess) {
#endif
    cudaGetLastError();
    return 0;
  }
  std::vector<cudaGraphNode_t> from(n), to(n);
  std::vector<cudaGraphEdgeData> data(n);
#if CUDART_VERSION >= 13000
  const cudaError_t err = cudaGraphGetEdges(graph, from.data(), to.data(), data.data(), &n);
#else
  const cudaError_t err = cudaGraphGetEdges_v2(graph, from.data(), to.data(), data.data(), &n);
#endif
  if (err != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  int programmatic = 0;
  for (size_t i = 0; i < n; i++) programmatic += data[i].type == cudaGraphDependencyTypeProgrammatic ? 1 : 0;
  return programmatic;
#else
  (void)graph;
  return 0;
#endif
}

}  // namespace

void Program::DropGraph() noexcept {
  if (graph_ != nullptr) cudaGraphExecDestroy(graph_);
  if (graphTemplate_ != nullptr) cudaGraphDestroy(graphTemplate_);
  graph_ = nullptr;
  graphTemplate_ = nullptr;
  copyNodes_.clear();
  boundCopies_.clear();
}

void Program::SetIo(Napi::Env env, std::vector<IoSlot> inputs, std::vector<IoSlot> outputs) {
  inputs_ = std::move(inputs);
  outputs_ = std::move(outputs);
  size_t total = 0;
  for (const auto* list : {&inputs_, &outputs_}) {
    for (const IoSlot& s : *list) {
      if (s.offset + s.bytes > ctx_->memoryBytes()) {
        ThrowRange(env, "prepare", "an input/output slot [" + std::to_string(s.offset) + ", " + std::to_string(s.offset + s.bytes) +
                                       ") lies outside the " + std::to_string(ctx_->memoryBytes()) + "-byte context memory");
      }
      pinnedOffsets_.push_back(total);
      total += (s.bytes + 255) / 256 * 256;
    }
  }
  const size_t recordOffset = total;
  total += sizeof(kernels::DataErrorRecord);
  FXRT_CUDA_CHECK(env, "prepare", cudaHostAlloc(&pinned_, total, cudaHostAllocDefault));
  pinnedDataError_ = reinterpret_cast<kernels::DataErrorRecord*>(static_cast<char*>(pinned_) + recordOffset);
  std::memset(pinnedDataError_, 0, sizeof(kernels::DataErrorRecord));
}

size_t Program::WorkspaceBytes() const {
  size_t bytes = 0;
  for (const auto& op : ops_) bytes = std::max(bytes, op->WorkspaceBytes());
  return bytes;
}

std::string Program::StepName(int step) const {
  return step >= 0 && static_cast<size_t>(step) < stepNames_.size() ? stepNames_[static_cast<size_t>(step)] : "(plan I/O)";
}

std::string Program::EnqueueOps(const ExecEnv& env, bool profile) {
  if (profile && events_.size() != ops_.size() + 1) {
    for (size_t i = events_.size(); i < ops_.size() + 1; i++) {
      cudaEvent_t e = nullptr;
      if (cudaEventCreate(&e) != cudaSuccess) return "cudaEventCreate failed";
      events_.push_back(e);
    }
  }
  // The data error record: zeroed before the ops and copied back after them, in stream order (so
  // both are nodes of a captured graph and every replay starts clean).
  kernels::DataErrorRecord* record = reportsDataErrors_ ? ctx_->dataError() : nullptr;
  if (record != nullptr) {
    cudaError_t err = cudaMemsetAsync(record, 0, sizeof(*record), env.stream);
    if (err != cudaSuccess) return std::string("cudaMemsetAsync(data error record) failed: ") + cudaGetErrorString(err);
  }
  ExecEnv opEnv = env;
  opEnv.dataError.record = record;
  if (profile) cudaEventRecord(events_[0], env.stream);
  for (size_t i = 0; i < ops_.size(); i++) {
    opEnv.dataError.site = static_cast<int32_t>(i);
    std::string err = ops_[i]->Enqueue(opEnv);
    if (!err.empty()) return "step '" + StepName(opSteps_[i]) + "': " + err;
    if (profile) cudaEventRecord(events_[i + 1], env.stream);
  }
  if (record != nullptr) {
    cudaError_t err = cudaMemcpyAsync(pinnedDataError_, record, sizeof(*record), cudaMemcpyDeviceToHost, env.stream);
    if (err != cudaSuccess) return std::string("cudaMemcpyAsync(data error record) failed: ") + cudaGetErrorString(err);
  }
  return "";
}

DataErrorReport Program::TakeDataError() {
  DataErrorReport report;
  if (!reportsDataErrors_ || pinnedDataError_ == nullptr || pinnedDataError_->claimed == 0) return report;
  const kernels::DataErrorRecord r = *pinnedDataError_;
  std::memset(pinnedDataError_, 0, sizeof(kernels::DataErrorRecord));
  report.found = true;
  if (r.site < 0 || static_cast<size_t>(r.site) >= ops_.size()) {
    report.message = "an op reported bad data (code " + std::to_string(r.code) + ") from an unknown site " + std::to_string(r.site);
    return report;
  }
  const size_t site = static_cast<size_t>(r.site);
  report.step = opSteps_[site];
  report.message = "step '" + StepName(report.step) + "': " + ops_[site]->DescribeDataError(r);
  return report;
}

std::string Program::EnqueueCopies(cudaStream_t stream, const std::vector<IoCopy>& copies, size_t first, CopyPass pass) {
  for (size_t i = 0; i < copies.size(); i++) {
    const IoCopy& c = copies[i];
    if (c.bytes == 0) continue;
    // Capture takes the device-to-device copies (host copies are faster beside the graph); beside
    // a graph run the copies it has no node for.
    if (pass == CopyPass::Capture && !(copiesInGraph_ && c.kind == cudaMemcpyDeviceToDevice)) continue;
    if (pass == CopyPass::Beside && copyNodes_[first + i] != nullptr) continue;
    cudaError_t err = cudaMemcpyAsync(c.dst, c.src, c.bytes, c.kind, stream);
    if (err != cudaSuccess) return std::string("cudaMemcpyAsync(network input/output) failed: ") + cudaGetErrorString(err);
    if (pass != CopyPass::Capture) continue;
    // The node just captured is the stream's one dependency now.
    cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
    const cudaGraphNode_t* deps = nullptr;
    size_t n = 0;
    err = cudaStreamGetCaptureInfo(stream, &status, nullptr, nullptr, &deps, nullptr, &n);
    if (err != cudaSuccess || n != 1) return "the captured copy of a network input/output has no single node";
    copyNodes_[first + i] = deps[0];
  }
  return "";
}

bool Program::RebindCopies(const std::vector<IoCopy>& inputs, const std::vector<IoCopy>& outputs) {
  size_t i = 0;
  for (const auto* list : {&inputs, &outputs}) {
    for (const IoCopy& c : *list) {
      IoCopy& bound = boundCopies_[i];
      cudaGraphNode_t node = copyNodes_[i++];
      if (node == nullptr || (c.dst == bound.dst && c.src == bound.src && c.kind == bound.kind)) continue;
      if (c.kind != bound.kind || cudaGraphExecMemcpyNodeSetParams1D(graph_, node, c.dst, c.src, c.bytes, c.kind) != cudaSuccess) {
        cudaGetLastError();
        return false;
      }
      bound = c;
    }
  }
  return true;
}

std::string Program::Enqueue(const ExecEnv& env, bool profile, const std::vector<IoCopy>& inputs, const std::vector<IoCopy>& outputs) {
  auto eager = [&](bool withEvents) -> std::string {
    std::string err = EnqueueCopies(env.stream, inputs, 0, CopyPass::All);
    if (err.empty()) err = EnqueueOps(env, withEvents);
    if (err.empty()) err = EnqueueCopies(env.stream, outputs, inputs.size(), CopyPass::All);
    return err;
  };
  if (profile) return eager(true);
  if (graph_ != nullptr && graphGeneration_ != ctx_->workspaceGeneration()) {
    DropGraph();  // the workspace moved: capture again
    graphState_ = "eager";
  }
  if (graph_ != nullptr && !RebindCopies(inputs, outputs)) {
    // A captured copy's slot is host memory this time: capture again; a context whose slots keep
    // switching gets its copies beside the graph from then on.
    DropGraph();
    if (++copyRecaptures_ > kMaxCopyRecaptures) copiesInGraph_ = false;
  }
  const bool capture = useGraph_ && graph_ == nullptr && !captureFailed_ && runs_ >= 1;
  runs_++;
  if (capture) {
    cudaGraph_t graph = nullptr;
    cudaError_t err = cudaStreamBeginCapture(env.stream, cudaStreamCaptureModeThreadLocal);
    std::string failure;
    bool copyFailure = false;
    if (err == cudaSuccess) {
      copyNodes_.assign(inputs.size() + outputs.size(), nullptr);
      failure = EnqueueCopies(env.stream, inputs, 0, CopyPass::Capture);
      copyFailure = !failure.empty();
      if (failure.empty()) failure = EnqueueOps(env, false);
      if (failure.empty()) {
        failure = EnqueueCopies(env.stream, outputs, inputs.size(), CopyPass::Capture);
        copyFailure = !failure.empty();
      }
      err = cudaStreamEndCapture(env.stream, &graph);
    }
    if (err == cudaSuccess && failure.empty()) err = cudaGraphInstantiate(&graph_, graph, 0);
    if (err != cudaSuccess || !failure.empty()) {
      if (graph != nullptr) cudaGraphDestroy(graph);
      cudaGetLastError();
      graph_ = nullptr;
      copyNodes_.clear();
      if (copyFailure && copiesInGraph_) {
        copiesInGraph_ = false;  // the next run captures the ops alone
      } else {
        captureFailed_ = true;
        graphState_ = "capture failed: " + (failure.empty() ? std::string(cudaGetErrorString(err)) : failure);
      }
    } else {
      graphTemplate_ = graph;
      boundCopies_.assign(inputs.begin(), inputs.end());
      boundCopies_.insert(boundCopies_.end(), outputs.begin(), outputs.end());
      graphGeneration_ = ctx_->workspaceGeneration();
      graphState_ = "graph";
      chainedLaunches_ = CountProgrammaticEdges(graph);
    }
  }
  if (graph_ != nullptr) {
    std::string err = EnqueueCopies(env.stream, inputs, 0, CopyPass::Beside);
    if (!err.empty()) return err;
    cudaError_t launched = cudaGraphLaunch(graph_, env.stream);
    if (launched != cudaSuccess) return std::string("cudaGraphLaunch failed: ") + cudaGetErrorString(launched);
    return EnqueueCopies(env.stream, outputs, inputs.size(), CopyPass::Beside);
  }
  return eager(false);
}

std::vector<double> Program::StepTimes() const {
  const int steps = this->steps();
  std::vector<double> ms(static_cast<size_t>(steps), 0.0);
  if (events_.size() != ops_.size() + 1) return ms;
  for (size_t i = 0; i < ops_.size(); i++) {
    float t = 0.f;
    if (cudaEventElapsedTime(&t, events_[i], events_[i + 1]) != cudaSuccess) continue;
    const int step = opSteps_[i];
    if (step >= 0 && step < steps) ms[static_cast<size_t>(step)] += t;
  }
  return ms;
}

}  // namespace fxrt::exec
