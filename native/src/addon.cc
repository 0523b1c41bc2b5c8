// Module entry: creates the per-environment state and exports the native functions.
#include <napi.h>

#include "abi.h"
#include "addon_state.h"
#include "buffer.h"
#include "exec/executor.h"
#include "ops.h"
#include "probe.h"
#include "stream.h"

namespace fxrt {

AddonState::AddonState(Napi::Env env) : completions_(env) {
  env.AddCleanupHook([this]() { OnEnvCleanup(); });
}

AddonState::~AddonState() = default;

const std::shared_ptr<DeviceState>& AddonState::Device(Napi::Env env) {
  if (device_ == nullptr) {
    EnsureUsable(env, "init");
    device_ = DeviceState::Create(env, 0);
  }
  return device_;
}

void AddonState::OnEnvCleanup() {
  if (device_ != nullptr) cudaDeviceSynchronize();
  completions_.Shutdown();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* state = new AddonState(env);
  env.SetInstanceData<AddonState>(state);
  state->streamClass = Napi::Persistent(Stream::Define(env));
  state->bufferClass = Napi::Persistent(DeviceBuffer::Define(env));
  state->execPlanClass = Napi::Persistent(exec::ExecPlan::Define(env));
  state->execContextClass = Napi::Persistent(exec::ExecContext::Define(env));
  state->execProgramClass = Napi::Persistent(exec::ExecProgram::Define(env));

  exports.Set("abiVersion", Napi::Number::New(env, FXRT_NATIVE_ABI));
  exports.Set("buildInfo", BuildInfo(env));
  auto fn = [&](const char* name, Napi::Function::Callback cb) { exports.Set(name, Napi::Function::New(env, cb, name)); };
  fn("probe", Probe);
  fn("deviceInfo", DeviceInfo);
  fn("memoryInUse", MemoryInUse);
  fn("createStream", CreateStream);
  fn("defaultStream", DefaultStream);
  fn("pollCompletions", PollCompletions);
  fn("allocBuffer", AllocBuffer);
  fn("upload", Upload);
  fn("download", Download);
  fn("binary", Binary);
  fn("unary", Unary);
  fn("cast", Cast);
  fn("gemm", Gemm);
  fn("loadPlan", exec::LoadPlan);
  return exports;
}

}  // namespace fxrt

static Napi::Object InitFxrtNative(Napi::Env env, Napi::Object exports) { return fxrt::Init(env, exports); }

NODE_API_MODULE(fxrt_native, InitFxrtNative)
