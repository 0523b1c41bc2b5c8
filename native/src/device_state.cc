#include "device_state.h"

#include <algorithm>
#include <cstdint>
#include <string>

#include "cuda_check.h"

namespace fxrt {

namespace {

// Staging blocks are kept for reuse up to this many bytes in total; beyond it, idle blocks are
// freed (largest first) whenever one is returned.
constexpr size_t kStagingCacheBytes = size_t{256} << 20;
constexpr size_t kMinStagingBytes = size_t{64} << 10;

size_t RoundUpPow2(size_t n) {
  size_t p = kMinStagingBytes;
  while (p < n) p <<= 1;
  return p;
}

std::string OutOfMemory(size_t bytes, const MemoryStats& s) {
  return "out of device memory allocating " + std::to_string(bytes) + " bytes (" +
         std::to_string(s.deviceBytes) + " bytes in " + std::to_string(s.deviceBuffers) +
         " buffers held by fxrt)";
}

// Whether no copy in flight still uses the block.
bool IsIdle(PinnedBlock* b) {
  if (b->eventPending && cudaEventQuery(b->event) == cudaSuccess) b->eventPending = false;
  return !b->eventPending;
}

}  // namespace

// ---- StreamState ----

StreamState::StreamState(const std::shared_ptr<DeviceState>& device, cudaStream_t stream, cudaEvent_t event)
    : device_(device), stream_(stream), event_(event) {}

StreamState::~StreamState() {
  if (workspace_ != nullptr) {
    if (auto device = device_.lock()) {
      device->FreeWorkspace(workspace_, workspaceBytes_, stream_);
    } else if (workspaceFromPool_) {  // teardown released the device state first
      cudaFreeAsync(workspace_, stream_);  // a destroyed pool lives on until its last allocation is freed
    } else {
      cudaStreamSynchronize(stream_);
      cudaFree(workspace_);
    }
  }
  cudaEventDestroy(event_);
  cudaStreamDestroy(stream_);  // returns at once; queued work still completes
}

void StreamState::WaitFor(Napi::Env env, StreamState& other, const char* op) {
  if (&other == this) return;
  FXRT_CUDA_CHECK(env, op, cudaEventRecord(other.event_, other.stream_));
  FXRT_CUDA_CHECK(env, op, cudaStreamWaitEvent(stream_, other.event_, 0));
}

void* StreamState::Workspace(Napi::Env env, size_t bytes, const char* op) {
  if (workspaceBytes_ >= bytes) return workspace_;
  auto device = device_.lock();
  if (!device) ThrowError(env, op, "the CUDA device state was released");
  if (workspace_ != nullptr) device->FreeWorkspace(workspace_, workspaceBytes_, stream_);
  workspace_ = nullptr;
  workspaceBytes_ = 0;
  workspace_ = device->AllocateWorkspace(env, bytes, stream_, op);
  workspaceBytes_ = bytes;
  workspaceFromPool_ = device->pooled();
  return workspace_;
}

// ---- DeviceState ----

std::shared_ptr<DeviceState> DeviceState::Create(Napi::Env env, int device) {
  const char* op = "init";
  FXRT_CUDA_CHECK(env, op, cudaSetDevice(device));
  std::shared_ptr<DeviceState> state(new DeviceState(device));

  int poolsSupported = 0;
  FXRT_CUDA_CHECK(env, op, cudaDeviceGetAttribute(&poolsSupported, cudaDevAttrMemoryPoolsSupported, device));
  if (poolsSupported != 0) {
    cudaMemPoolProps props = {};
    props.allocType = cudaMemAllocationTypePinned;
    props.location.type = cudaMemLocationTypeDevice;
    props.location.id = device;
    FXRT_CUDA_CHECK(env, op, cudaMemPoolCreate(&state->pool_, &props));
    // Keep freed memory in the pool (a caching allocator, as PyTorch's): the next allocation
    // of a similar size is then a pointer bump instead of a driver call.
    uint64_t threshold = UINT64_MAX;
    FXRT_CUDA_CHECK(env, op, cudaMemPoolSetAttribute(state->pool_, cudaMemPoolAttrReleaseThreshold, &threshold));
  }
  state->defaultStream_ = state->CreateStream(env);
#ifdef FXRT_HAVE_CUBLASLT
  cublasStatus_t st = cublasLtCreate(&state->cublasLt_);
  if (st != CUBLAS_STATUS_SUCCESS) {
    state->cublasLt_ = nullptr;
    ThrowError(env, op, std::string("cublasLtCreate failed: ") + cublasLtGetStatusString(st));
  }
#endif
  return state;
}

DeviceState::~DeviceState() {
  // Nothing may still use the staging blocks or the pool once the last owner is gone.
  cudaDeviceSynchronize();
  for (PinnedBlock* b : idleStaging_) {
    cudaFreeHost(b->host);
    cudaEventDestroy(b->event);
    delete b;
  }
#ifdef FXRT_HAVE_CUBLASLT
  for (auto& entry : gemmPlans_) entry.second.Destroy();
  if (cublasLt_ != nullptr) cublasLtDestroy(cublasLt_);
#endif
  defaultStream_.reset();
  if (pool_ != nullptr) cudaMemPoolDestroy(pool_);
}

std::shared_ptr<StreamState> DeviceState::CreateStream(Napi::Env env) {
  const char* op = "createStream";
  cudaStream_t stream = nullptr;
  cudaEvent_t event = nullptr;
  FXRT_CUDA_CHECK(env, op, cudaSetDevice(device_));
  // Non-blocking: never serialized with the legacy default stream of other libraries.
  FXRT_CUDA_CHECK(env, op, cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  cudaError_t err = cudaEventCreateWithFlags(&event, cudaEventDisableTiming);
  if (err != cudaSuccess) {
    cudaStreamDestroy(stream);
    ThrowCuda(env, err, op, "cudaEventCreateWithFlags(&event, cudaEventDisableTiming)");
  }
  return std::make_shared<StreamState>(shared_from_this(), stream, event);
}

void* DeviceState::RawAllocate(Napi::Env env, size_t bytes, cudaStream_t stream, const char* op) {
  void* ptr = nullptr;
  cudaError_t err = pool_ != nullptr ? cudaMallocFromPoolAsync(&ptr, bytes, pool_, stream) : cudaMalloc(&ptr, bytes);
  if (err == cudaErrorMemoryAllocation) {
    cudaGetLastError();  // clear the (non-sticky) error so later calls do not report it
    Napi::Error e = Napi::Error::New(env, std::string("fxrt cuda: ") + op + ": " + OutOfMemory(bytes, stats_));
    e.Set("code", Napi::String::New(env, "cudaErrorMemoryAllocation"));
    throw e;
  }
  CheckCuda(env, err, op, pool_ != nullptr ? "cudaMallocFromPoolAsync" : "cudaMalloc");
  return ptr;
}

void DeviceState::RawFree(void* ptr, cudaStream_t stream) noexcept {
  if (pool_ != nullptr) {
    cudaFreeAsync(ptr, stream);
  } else {
    cudaStreamSynchronize(stream);  // cudaFree must not race work still reading the memory
    cudaFree(ptr);
  }
}

void* DeviceState::Allocate(Napi::Env env, size_t bytes, cudaStream_t stream, const char* op) {
  if (bytes == 0) return nullptr;
  void* ptr = RawAllocate(env, bytes, stream, op);
  stats_.deviceBytes += bytes;
  stats_.deviceBuffers += 1;
  stats_.peakDeviceBytes = std::max(stats_.peakDeviceBytes, stats_.deviceBytes);
  return ptr;
}

void DeviceState::Free(void* ptr, size_t bytes, cudaStream_t stream) noexcept {
  if (ptr == nullptr) return;
  RawFree(ptr, stream);
  stats_.deviceBytes -= bytes;
  stats_.deviceBuffers -= 1;
}

void* DeviceState::AllocateWorkspace(Napi::Env env, size_t bytes, cudaStream_t stream, const char* op) {
  if (bytes == 0) return nullptr;
  void* ptr = RawAllocate(env, bytes, stream, op);
  stats_.workspaceBytes += bytes;
  return ptr;
}

void DeviceState::FreeWorkspace(void* ptr, size_t bytes, cudaStream_t stream) noexcept {
  if (ptr == nullptr) return;
  RawFree(ptr, stream);
  stats_.workspaceBytes -= bytes;
}

PinnedBlock* DeviceState::AcquireStaging(Napi::Env env, size_t bytes, const char* op) {
  // The smallest idle block that fits and whose last copy has finished.
  size_t bestIndex = 0;
  PinnedBlock* best = nullptr;
  for (size_t i = 0; i < idleStaging_.size(); i++) {
    PinnedBlock* b = idleStaging_[i];
    if (b->bytes < bytes || (best != nullptr && best->bytes <= b->bytes) || !IsIdle(b)) continue;
    best = b;
    bestIndex = i;
  }
  if (best != nullptr) {
    idleStaging_.erase(idleStaging_.begin() + static_cast<std::ptrdiff_t>(bestIndex));
    return best;
  }
  auto* b = new PinnedBlock();
  b->bytes = RoundUpPow2(bytes);
  cudaError_t err = cudaHostAlloc(&b->host, b->bytes, cudaHostAllocDefault);
  if (err == cudaSuccess) err = cudaEventCreateWithFlags(&b->event, cudaEventDisableTiming);
  if (err != cudaSuccess) {
    if (b->host != nullptr) cudaFreeHost(b->host);
    delete b;
    cudaGetLastError();
    ThrowCuda(env, err, op, "cudaHostAlloc (pinned staging buffer)");
  }
  stats_.pinnedBytes += b->bytes;
  stats_.pinnedBlocks += 1;
  return b;
}

void DeviceState::ReleaseStaging(PinnedBlock* block, cudaStream_t stream) noexcept {
  block->eventPending = false;
  if (stream != nullptr && cudaEventRecord(block->event, stream) == cudaSuccess) block->eventPending = true;
  idleStaging_.push_back(block);
  if (stats_.pinnedBytes > kStagingCacheBytes) TrimStaging();
}

void DeviceState::TrimStaging() noexcept {
  std::sort(idleStaging_.begin(), idleStaging_.end(),
            [](const PinnedBlock* a, const PinnedBlock* b) { return a->bytes > b->bytes; });
  for (size_t i = 0; i < idleStaging_.size() && stats_.pinnedBytes > kStagingCacheBytes;) {
    PinnedBlock* b = idleStaging_[i];
    if (!IsIdle(b)) {
      i++;  // still in flight: freed on a later trim
      continue;
    }
    cudaFreeHost(b->host);
    cudaEventDestroy(b->event);
    stats_.pinnedBytes -= b->bytes;
    stats_.pinnedBlocks -= 1;
    delete b;
    idleStaging_.erase(idleStaging_.begin() + static_cast<std::ptrdiff_t>(i));
  }
}

}  // namespace fxrt
