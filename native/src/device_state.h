// Per-environment CUDA state: the device, its stream-ordered memory pool, pinned staging buffers,
// library handles and the accounting behind cudaMemoryInUse(). Owned through shared_ptr by the
// addon instance and by every buffer, so whichever is released last frees it.
#pragma once

#include <cuda_runtime.h>
#include <napi.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <vector>

#ifdef FXRT_HAVE_CUBLASLT
#include <cublasLt.h>

#include <map>

#include "gemm_plan.h"
#endif

namespace fxrt {

class DeviceState;

// A CUDA stream plus what work on it needs privately: an event other streams wait on, and the
// GEMM workspace (one per stream, so concurrent streams never share scratch memory).
class StreamState {
 public:
  StreamState(const std::shared_ptr<DeviceState>& device, cudaStream_t stream, cudaEvent_t event);
  ~StreamState();
  StreamState(const StreamState&) = delete;
  StreamState& operator=(const StreamState&) = delete;

  cudaStream_t stream() const { return stream_; }
  // Makes `this` wait for everything enqueued on `other` so far (no-op when they are the same).
  void WaitFor(Napi::Env env, StreamState& other, const char* op);
  // Scratch memory of at least `bytes` for library calls on this stream.
  void* Workspace(Napi::Env env, size_t bytes, const char* op);

 private:
  std::weak_ptr<DeviceState> device_;
  cudaStream_t stream_;
  cudaEvent_t event_;
  void* workspace_ = nullptr;
  size_t workspaceBytes_ = 0;
  bool workspaceFromPool_ = false;
};

// A page-locked host block used to stage copies. `event` marks the end of the last copy that
// used it; the block is reusable once that event completed.
struct PinnedBlock {
  void* host = nullptr;
  size_t bytes = 0;
  cudaEvent_t event = nullptr;
  bool eventPending = false;
};

// Bytes and counts behind cudaMemoryInUse().
struct MemoryStats {
  size_t deviceBytes = 0;     // live buffers allocated through the addon
  size_t deviceBuffers = 0;
  size_t peakDeviceBytes = 0;
  size_t workspaceBytes = 0;  // per-stream library workspaces
  size_t pinnedBytes = 0;     // staging blocks, cached or in use
  size_t pinnedBlocks = 0;
};

class DeviceState : public std::enable_shared_from_this<DeviceState> {
 public:
  // Selects `device`, creates its memory pool and default stream; throws a JS error naming the
  // cause when the device cannot be used.
  static std::shared_ptr<DeviceState> Create(Napi::Env env, int device);
  ~DeviceState();
  DeviceState(const DeviceState&) = delete;
  DeviceState& operator=(const DeviceState&) = delete;

  int device() const { return device_; }
  // Whether allocations come from the stream-ordered pool (else plain cudaMalloc).
  bool pooled() const { return pool_ != nullptr; }
  const std::shared_ptr<StreamState>& defaultStream() const { return defaultStream_; }
  std::shared_ptr<StreamState> CreateStream(Napi::Env env);

  // Stream-ordered device allocation on `stream`; bytes == 0 gives nullptr.
  void* Allocate(Napi::Env env, size_t bytes, cudaStream_t stream, const char* op);
  // Frees after all work enqueued on `stream` so far. Never throws (finalizers call it).
  void Free(void* ptr, size_t bytes, cudaStream_t stream) noexcept;
  // The same without buffer accounting, for library workspaces.
  void* AllocateWorkspace(Napi::Env env, size_t bytes, cudaStream_t stream, const char* op);
  void FreeWorkspace(void* ptr, size_t bytes, cudaStream_t stream) noexcept;

  // A staging block of at least `bytes`, idle (no copy in flight uses it).
  PinnedBlock* AcquireStaging(Napi::Env env, size_t bytes, const char* op);
  // Returns a block whose last copy was enqueued on `stream` (nullptr: no copy in flight).
  void ReleaseStaging(PinnedBlock* block, cudaStream_t stream) noexcept;

  const MemoryStats& stats() const { return stats_; }

  // Whether the int8 GEMM's wgmma tiles run on this device, once op_igemm has probed it (empty
  // before): the probe launches a kernel and waits, so it runs once per device, not per op.
  std::optional<bool> igemmWgmma() const { return igemmWgmma_; }
  void setIgemmWgmma(bool available) { igemmWgmma_ = available; }

#ifdef FXRT_HAVE_CUBLASLT
  cublasLtHandle_t cublasLt() const { return cublasLt_; }
  std::map<GemmKey, GemmPlan>& gemmPlans() { return gemmPlans_; }
#endif

 private:
  explicit DeviceState(int device) : device_(device) {}
  void* RawAllocate(Napi::Env env, size_t bytes, cudaStream_t stream, const char* op);
  void RawFree(void* ptr, cudaStream_t stream) noexcept;
  void TrimStaging() noexcept;

  int device_;
  cudaMemPool_t pool_ = nullptr;  // nullptr: the device has no stream-ordered allocator
  std::shared_ptr<StreamState> defaultStream_;
  std::vector<PinnedBlock*> idleStaging_;
  MemoryStats stats_;
  std::optional<bool> igemmWgmma_;
#ifdef FXRT_HAVE_CUBLASLT
  cublasLtHandle_t cublasLt_ = nullptr;
  std::map<GemmKey, GemmPlan> gemmPlans_;
#endif
};

}  // namespace fxrt
