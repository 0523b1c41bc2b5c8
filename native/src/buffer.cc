#include "buffer.h"

#include <cstring>
#include <string>

#include "addon_state.h"
#include "args.h"
#include "cuda_check.h"
#include "stream.h"

namespace fxrt {

namespace {

// What AllocBuffer hands the constructor through an External.
struct BufferInit {
  std::shared_ptr<DeviceState> device;
  std::shared_ptr<StreamState> stream;
  void* ptr;
  size_t bytes;
};

// Returns a staging block to the pool when the download finishes, fails or is dropped at teardown;
// while `inFlight`, the pool waits for the stream before reusing the block.
struct StagingLease {
  StagingLease(std::shared_ptr<DeviceState> d, std::shared_ptr<StreamState> s, PinnedBlock* b)
      : device(std::move(d)), stream(std::move(s)), block(b) {}
  StagingLease(const StagingLease&) = delete;
  StagingLease& operator=(const StagingLease&) = delete;
  ~StagingLease() { device->ReleaseStaging(block, inFlight ? stream->stream() : nullptr); }
  std::shared_ptr<DeviceState> device;
  std::shared_ptr<StreamState> stream;
  PinnedBlock* block;
  bool inFlight = true;
};

}  // namespace

Napi::Function DeviceBuffer::Define(Napi::Env env) {
  return DefineClass(env, "DeviceBuffer", {
    InstanceMethod<&DeviceBuffer::Free>("free"),
    InstanceMethod<&DeviceBuffer::Take>("take"),
    InstanceAccessor<&DeviceBuffer::ByteLength>("byteLength"),
    InstanceAccessor<&DeviceBuffer::IsFreed>("freed"),
    InstanceAccessor<&DeviceBuffer::Address>("address"),
  });
}

DeviceBuffer::DeviceBuffer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DeviceBuffer>(info) {
  if (info.Length() != 1 || !info[0].IsExternal()) {
    ThrowType(info.Env(), "DeviceBuffer", "buffers are created by allocBuffer(), not by the constructor");
  }
  BufferInit* init = info[0].As<Napi::External<BufferInit>>().Data();
  device_ = init->device;
  lastStream_ = init->stream;
  ptr_ = init->ptr;
  bytes_ = init->bytes;
}

DeviceBuffer::~DeviceBuffer() { Release(); }

void DeviceBuffer::Release() noexcept {
  if (freed_) return;
  freed_ = true;
  if (device_) device_->Free(ptr_, bytes_, lastStream_->stream());
  ptr_ = nullptr;
  lastStream_.reset();
  device_.reset();
}

DeviceBuffer* DeviceBuffer::From(Napi::Env env, Napi::Value v, const char* op, const char* arg) {
  AddonState& addon = AddonState::Of(env);
  if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(addon.bufferClass.Value())) {
    ThrowType(env, op, std::string("argument '") + arg + "' must be a DeviceBuffer");
  }
  DeviceBuffer* b = Unwrap(v.As<Napi::Object>());
  if (b->freed_) ThrowError(env, op, std::string("argument '") + arg + "': the buffer was freed");
  return b;
}

void DeviceBuffer::UseOn(Napi::Env env, const std::shared_ptr<StreamState>& stream, const char* op) {
  if (lastStream_ != stream) {
    stream->WaitFor(env, *lastStream_, op);
    lastStream_ = stream;
  }
}

void DeviceBuffer::RequireBytes(Napi::Env env, size_t bytes, const char* op, const char* arg) const {
  if (bytes_ < bytes) {
    ThrowRange(env, op, std::string("argument '") + arg + "' holds " + std::to_string(bytes_) + " bytes, needs " +
                            std::to_string(bytes));
  }
}

Napi::Value DeviceBuffer::Free(const Napi::CallbackInfo& info) {
  Release();
  return info.Env().Undefined();
}

// A new buffer object owning this one's memory (and its last stream), this one left freed without
// freeing the memory: how a runner takes back an output the caller disposed, to write the next
// run's output there (no stream-ordered free and allocation on its stream per call).
Napi::Value DeviceBuffer::Take(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (freed_) ThrowError(env, "DeviceBuffer.take", "the buffer was freed");
  BufferInit init{device_, lastStream_, ptr_, bytes_};
  Napi::Object taken = AddonState::Of(env).bufferClass.New({Napi::External<BufferInit>::New(env, &init)});
  freed_ = true;
  ptr_ = nullptr;
  lastStream_.reset();
  device_.reset();
  return taken;
}

Napi::Value DeviceBuffer::ByteLength(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(bytes_));
}

// The device address (0 once freed or for an empty buffer): the executor recognises a new output
// allocated where the last one was (a bound program then writes into it in place). Exact as a
// double: device virtual addresses stay below 2^53.
Napi::Value DeviceBuffer::Address(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(reinterpret_cast<uintptr_t>(data())));
}

Napi::Value DeviceBuffer::IsFreed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), freed_);
}

Napi::Value AllocBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "allocBuffer";
  size_t bytes = ParseSize(env, info[0], op, "bytes");
  std::shared_ptr<StreamState> stream = Stream::From(env, info[1], op, "stream");
  const std::shared_ptr<DeviceState>& device = AddonState::Of(env).Device(env);
  BufferInit init{device, stream, device->Allocate(env, bytes, stream->stream(), op), bytes};
  try {
    return AddonState::Of(env).bufferClass.New({Napi::External<BufferInit>::New(env, &init)});
  } catch (...) {
    device->Free(init.ptr, bytes, stream->stream());
    throw;
  }
}

Napi::Value Upload(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "upload";
  DeviceBuffer* buf = DeviceBuffer::From(env, info[0], op, "buffer");
  if (!info[1].IsTypedArray()) ThrowType(env, op, "argument 'source' must be a typed array");
  Napi::TypedArray src = info[1].As<Napi::TypedArray>();
  size_t bytes = src.ByteLength();
  if (bytes != buf->bytes()) {
    ThrowRange(env, op, "source has " + std::to_string(bytes) + " bytes, the buffer " + std::to_string(buf->bytes()));
  }
  std::shared_ptr<StreamState> stream = Stream::From(env, info[2], op, "stream");
  buf->UseOn(env, stream, op);
  if (bytes == 0) return env.Undefined();
  const std::shared_ptr<DeviceState>& device = AddonState::Of(env).Device(env);
  PinnedBlock* block = device->AcquireStaging(env, bytes, op);
  std::memcpy(block->host, static_cast<const uint8_t*>(src.ArrayBuffer().Data()) + src.ByteOffset(), bytes);
  cudaError_t err = cudaMemcpyAsync(buf->data(), block->host, bytes, cudaMemcpyHostToDevice, stream->stream());
  device->ReleaseStaging(block, err == cudaSuccess ? stream->stream() : nullptr);
  CheckCuda(env, err, op, "cudaMemcpyAsync(HostToDevice)");
  return env.Undefined();
}

Napi::Value Download(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "download";
  DeviceBuffer* buf = DeviceBuffer::From(env, info[0], op, "buffer");
  std::shared_ptr<StreamState> stream =
      info[1].IsUndefined() ? buf->lastStream() : Stream::From(env, info[1], op, "stream");
  buf->UseOn(env, stream, op);
  size_t bytes = buf->bytes();
  AddonState& addon = AddonState::Of(env);
  if (bytes == 0) {
    return addon.completions().Enqueue(env, stream, [](Napi::Env e) { return Napi::ArrayBuffer::New(e, 0); }, op);
  }
  const std::shared_ptr<DeviceState>& device = addon.Device(env);
  auto lease = std::make_shared<StagingLease>(device, stream, device->AcquireStaging(env, bytes, op));
  FXRT_CUDA_CHECK(env, op, cudaMemcpyAsync(lease->block->host, buf->data(), bytes, cudaMemcpyDeviceToHost, stream->stream()));
  return addon.completions().Enqueue(env, stream, [lease, bytes](Napi::Env e) -> Napi::Value {
    Napi::ArrayBuffer out = Napi::ArrayBuffer::New(e, bytes);
    std::memcpy(out.Data(), lease->block->host, bytes);
    lease->inFlight = false;
    return out;
  }, op);
}

Napi::Value MemoryInUse(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AddonState& addon = AddonState::Of(env);
  MemoryStats s = addon.deviceCreated() ? addon.Device(env)->stats() : MemoryStats{};
  Napi::Object o = Napi::Object::New(env);
  o.Set("deviceBytes", static_cast<double>(s.deviceBytes));
  o.Set("deviceBuffers", static_cast<double>(s.deviceBuffers));
  o.Set("peakDeviceBytes", static_cast<double>(s.peakDeviceBytes));
  o.Set("workspaceBytes", static_cast<double>(s.workspaceBytes));
  o.Set("pinnedBytes", static_cast<double>(s.pinnedBytes));
  o.Set("pinnedBlocks", static_cast<double>(s.pinnedBlocks));
  o.Set("pendingCompletions", static_cast<double>(addon.completions().pending()));
  o.Set("polledCompletions", static_cast<double>(addon.completions().polled()));
  return o;
}

}  // namespace fxrt
