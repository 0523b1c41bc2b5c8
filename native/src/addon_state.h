// The addon's per-environment state, stored with napi_set_instance_data: each Node environment
// (main thread, every worker) that loads the addon gets its own, and nothing lives in statics.
#pragma once

#include <napi.h>

#include <memory>

#include "completion.h"
#include "device_state.h"

namespace fxrt {

class AddonState {
 public:
  explicit AddonState(Napi::Env env);
  ~AddonState();
  AddonState(const AddonState&) = delete;
  AddonState& operator=(const AddonState&) = delete;

  static AddonState& Of(Napi::Env env) { return *env.GetInstanceData<AddonState>(); }

  // The CUDA device state, created on first use; throws a JS error when no device can be used.
  const std::shared_ptr<DeviceState>& Device(Napi::Env env);
  bool deviceCreated() const { return device_ != nullptr; }
  CompletionQueue& completions() { return completions_; }

  Napi::FunctionReference streamClass;
  Napi::FunctionReference bufferClass;
  Napi::FunctionReference execPlanClass;
  Napi::FunctionReference execContextClass;
  Napi::FunctionReference execProgramClass;
  Napi::ObjectReference defaultStream;  // the JS object wrapping the device's default stream

 private:
  // Runs before the completion queue's thread-safe function is torn down (cleanup hooks run in
  // reverse order of registration): waits for the device so no host function can still call it.
  void OnEnvCleanup();

  CompletionQueue completions_;
  std::shared_ptr<DeviceState> device_;
};

}  // namespace fxrt
