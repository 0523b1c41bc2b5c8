#include "stream.h"

#include <string>

#include "addon_state.h"
#include "cuda_check.h"

namespace fxrt {

namespace {

// What native code hands the constructor through an External.
struct StreamInit {
  std::shared_ptr<StreamState> state;
  bool isDefault;
};

}  // namespace

Napi::Function Stream::Define(Napi::Env env) {
  return DefineClass(env, "Stream", {
    InstanceMethod<&Stream::Synchronize>("synchronize"),
    InstanceMethod<&Stream::Query>("query"),
    InstanceMethod<&Stream::Destroy>("destroy"),
    InstanceAccessor<&Stream::IsDestroyed>("destroyed"),
  });
}

Napi::Object Stream::Wrap(Napi::Env env, std::shared_ptr<StreamState> state, bool isDefault) {
  StreamInit init{std::move(state), isDefault};
  return AddonState::Of(env).streamClass.New({Napi::External<StreamInit>::New(env, &init)});
}

Stream::Stream(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Stream>(info) {
  if (info.Length() != 1 || !info[0].IsExternal()) {
    ThrowType(info.Env(), "Stream", "streams are created by createStream(), not by the constructor");
  }
  StreamInit* init = info[0].As<Napi::External<StreamInit>>().Data();
  state_ = init->state;
  isDefault_ = init->isDefault;
}

std::shared_ptr<StreamState> Stream::From(Napi::Env env, Napi::Value v, const char* op, const char* arg) {
  if (v.IsUndefined() || v.IsNull()) return AddonState::Of(env).Device(env)->defaultStream();
  AddonState& addon = AddonState::Of(env);
  if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(addon.streamClass.Value())) {
    ThrowType(env, op, std::string("argument '") + arg + "' must be a Stream");
  }
  Stream* s = Unwrap(v.As<Napi::Object>());
  if (!s->state_) ThrowError(env, op, std::string("argument '") + arg + "': the stream was destroyed");
  return s->state_;
}

Napi::Value Stream::Synchronize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!state_) ThrowError(env, "synchronize", "the stream was destroyed");
  return AddonState::Of(env).completions().Enqueue(env, state_, nullptr, "synchronize");
}

// Whether all work enqueued so far has finished (cudaStreamQuery); throws the CUDA error of a fault.
Napi::Value Stream::Query(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!state_) ThrowError(env, "query", "the stream was destroyed");
  const cudaError_t err = cudaStreamQuery(state_->stream());
  if (err == cudaErrorNotReady) return Napi::Boolean::New(env, false);
  if (err != cudaSuccess) ThrowCuda(env, err, "query", "cudaStreamQuery");
  return Napi::Boolean::New(env, true);
}

Napi::Value Stream::Destroy(const Napi::CallbackInfo& info) {
  if (isDefault_) ThrowError(info.Env(), "destroy", "the default stream cannot be destroyed");
  // Work already enqueued still runs; buffers last used on it keep the CUDA stream alive.
  state_.reset();
  return info.Env().Undefined();
}

Napi::Value Stream::IsDestroyed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), !state_);
}

Napi::Value CreateStream(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Stream::Wrap(env, AddonState::Of(env).Device(env)->CreateStream(env), false);
}

Napi::Value DefaultStream(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AddonState& addon = AddonState::Of(env);
  if (addon.defaultStream.IsEmpty()) {
    addon.defaultStream = Napi::Persistent(Stream::Wrap(env, addon.Device(env)->defaultStream(), true));
  }
  return addon.defaultStream.Value();
}

Napi::Value PollCompletions(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Napi::Number::New(env, static_cast<double>(AddonState::Of(env).completions().Poll(env)));
}

}  // namespace fxrt
