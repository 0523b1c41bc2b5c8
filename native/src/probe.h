// Whether CUDA can run here, and what was built in: the answers behind cudaAvailable().
#pragma once

#include <napi.h>

namespace fxrt {

// probe(): { ok, code, message, driverVersion, runtimeVersion, deviceCount, deviceName?,
// computeCapability? } — never throws. code: 'ok' | 'no-driver' | 'old-driver' | 'no-device' |
// 'no-kernel-image' | 'cuda-error'.
Napi::Value Probe(const Napi::CallbackInfo& info);
// deviceInfo(): properties of the device in use (initializes it).
Napi::Value DeviceInfo(const Napi::CallbackInfo& info);
// What this build contains: CUDA architectures, cuBLASLt, cuDNN, the CUDA version compiled against.
Napi::Object BuildInfo(Napi::Env env);
// Throws the probe's message (with its code) unless the device is usable.
void EnsureUsable(Napi::Env env, const char* op);

}  // namespace fxrt
