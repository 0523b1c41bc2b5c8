// The JS device buffer: device memory owned by a JS object, freed by free() or, as a safety net,
// when the object is garbage collected. Remembers the stream of its last use so that work on
// another stream waits for it, and so that freeing is ordered after it.
#pragma once

#include <napi.h>

#include <cstddef>
#include <memory>

#include "device_state.h"

namespace fxrt {

class DeviceBuffer : public Napi::ObjectWrap<DeviceBuffer> {
 public:
  static Napi::Function Define(Napi::Env env);
  // The live buffer passed as argument `arg` of `op`.
  static DeviceBuffer* From(Napi::Env env, Napi::Value v, const char* op, const char* arg);

  explicit DeviceBuffer(const Napi::CallbackInfo& info);
  ~DeviceBuffer() override;

  void* data() const { return ptr_; }
  size_t bytes() const { return bytes_; }
  // Orders this use on `stream` after every earlier use on other streams, and records `stream`
  // as the last user.
  void UseOn(Napi::Env env, const std::shared_ptr<StreamState>& stream, const char* op);
  // The stream of the last use (the default stream before any use).
  const std::shared_ptr<StreamState>& lastStream() const { return lastStream_; }
  // Throws unless the buffer holds at least `bytes`.
  void RequireBytes(Napi::Env env, size_t bytes, const char* op, const char* arg) const;

 private:
  Napi::Value Free(const Napi::CallbackInfo& info);
  Napi::Value Take(const Napi::CallbackInfo& info);
  Napi::Value ByteLength(const Napi::CallbackInfo& info);
  Napi::Value IsFreed(const Napi::CallbackInfo& info);
  Napi::Value Address(const Napi::CallbackInfo& info);
  void Release() noexcept;

  std::shared_ptr<DeviceState> device_;
  std::shared_ptr<StreamState> lastStream_;
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
  bool freed_ = false;
};

// allocBuffer(bytes, stream?): uninitialized device memory, allocated in stream order.
Napi::Value AllocBuffer(const Napi::CallbackInfo& info);
// upload(buffer, typedArray, stream?): copies the array's bytes into the buffer through a pinned
// staging block; returns at once (the array may be reused immediately).
Napi::Value Upload(const Napi::CallbackInfo& info);
// download(buffer, stream?): Promise<ArrayBuffer> of the buffer's bytes, resolved when the copy
// (and all earlier work on the stream) finished. The stream defaults to the buffer's last.
Napi::Value Download(const Napi::CallbackInfo& info);
// memoryInUse(): the addon's own allocations (see MemoryStats).
Napi::Value MemoryInUse(const Napi::CallbackInfo& info);

}  // namespace fxrt
