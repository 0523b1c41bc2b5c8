#include "probe.h"

#include <cuda_runtime.h>

#include <string>

#include "addon_state.h"
#include "cuda_check.h"
#include "kernels/elementwise.h"

#ifdef FXRT_HAVE_CUDNN
#include <cudnn.h>
#endif

namespace fxrt {

namespace {

std::string VersionString(int v) {
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

struct ProbeResult {
  const char* code = "ok";
  std::string message;
  int driverVersion = 0;
  int runtimeVersion = 0;
  int deviceCount = 0;
  std::string deviceName;
  int ccMajor = 0;
  int ccMinor = 0;
};

ProbeResult RunProbe() {
  ProbeResult r;
  cudaRuntimeGetVersion(&r.runtimeVersion);
  if (cudaDriverGetVersion(&r.driverVersion) != cudaSuccess || r.driverVersion == 0) {
    cudaGetLastError();
    r.code = "no-driver";
    r.message = "no NVIDIA driver is installed (libcuda.so.1 could not be loaded)";
    return r;
  }
  // Minor versions are compatible within a major version; a driver of an older major is not.
  cudaError_t err = cudaGetDeviceCount(&r.deviceCount);
  if (r.driverVersion / 1000 < r.runtimeVersion / 1000 || err == cudaErrorInsufficientDriver) {
    cudaGetLastError();
    r.code = "old-driver";
    r.message = "the NVIDIA driver supports CUDA " + VersionString(r.driverVersion) + ", the addon was built with CUDA " +
                VersionString(r.runtimeVersion) + ": update the driver";
    return r;
  }
  if (err == cudaErrorNoDevice || (err == cudaSuccess && r.deviceCount == 0)) {
    cudaGetLastError();
    r.deviceCount = 0;
    r.code = "no-device";
    r.message = "the NVIDIA driver (CUDA " + VersionString(r.driverVersion) + ") found no CUDA device";
    return r;
  }
  if (err != cudaSuccess) {
    cudaGetLastError();
    r.code = "cuda-error";
    r.message = std::string("CUDA cannot be initialized: ") + cudaGetErrorString(err) + " (" + cudaGetErrorName(err) + ")";
    return r;
  }
  cudaDeviceProp prop = {};
  err = cudaGetDeviceProperties(&prop, 0);
  if (err != cudaSuccess) {
    cudaGetLastError();
    r.code = "cuda-error";
    r.message = std::string("cannot read the properties of device 0: ") + cudaGetErrorString(err);
    return r;
  }
  r.deviceName = prop.name;
  r.ccMajor = prop.major;
  r.ccMinor = prop.minor;
  err = kernels::CheckKernelImage();
  if (err != cudaSuccess) {
    cudaGetLastError();
    std::string cc = std::to_string(prop.major) + std::to_string(prop.minor);
    r.code = "no-kernel-image";
    r.message = std::string("the addon was built for CUDA architectures ") + FXRT_CUDA_ARCHITECTURES + ", which cannot run on " +
                prop.name + " (compute capability " + std::to_string(prop.major) + "." + std::to_string(prop.minor) +
                "): rebuild with CUDAARCHS=" + cc + " npm run build:native (" + cudaGetErrorName(err) + ")";
    return r;
  }
  return r;
}

}  // namespace

Napi::Value Probe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ProbeResult r = RunProbe();
  Napi::Object o = Napi::Object::New(env);
  o.Set("ok", Napi::Boolean::New(env, std::string(r.code) == "ok"));
  o.Set("code", r.code);
  o.Set("message", r.message);
  o.Set("driverVersion", r.driverVersion);
  o.Set("runtimeVersion", r.runtimeVersion);
  o.Set("deviceCount", r.deviceCount);
  if (!r.deviceName.empty()) {
    o.Set("deviceName", r.deviceName);
    Napi::Array cc = Napi::Array::New(env, 2);
    cc.Set(0u, r.ccMajor);
    cc.Set(1u, r.ccMinor);
    o.Set("computeCapability", cc);
  }
  return o;
}

void EnsureUsable(Napi::Env env, const char* op) {
  ProbeResult r = RunProbe();
  if (std::string(r.code) == "ok") return;
  Napi::Error e = Napi::Error::New(env, std::string("fxrt cuda: ") + op + ": " + r.message);
  e.Set("code", Napi::String::New(env, r.code));
  throw e;
}

Napi::Value DeviceInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "deviceInfo";
  int device = AddonState::Of(env).Device(env)->device();
  cudaDeviceProp prop = {};
  FXRT_CUDA_CHECK(env, op, cudaGetDeviceProperties(&prop, device));
  int driver = 0, runtime = 0;
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  Napi::Object o = Napi::Object::New(env);
  o.Set("ordinal", device);
  o.Set("name", prop.name);
  Napi::Array cc = Napi::Array::New(env, 2);
  cc.Set(0u, prop.major);
  cc.Set(1u, prop.minor);
  o.Set("computeCapability", cc);
  o.Set("multiprocessors", prop.multiProcessorCount);
  o.Set("totalMemoryBytes", static_cast<double>(prop.totalGlobalMem));
  o.Set("l2CacheBytes", prop.l2CacheSize);
  o.Set("sharedMemoryPerBlockOptin", static_cast<double>(prop.sharedMemPerBlockOptin));
  char bus[32] = {};
  FXRT_CUDA_CHECK(env, op, cudaDeviceGetPCIBusId(bus, static_cast<int>(sizeof(bus)), device));
  o.Set("pciBusId", std::string(bus));
  o.Set("driverVersion", VersionString(driver));
  o.Set("runtimeVersion", VersionString(runtime));
#ifdef FXRT_HAVE_CUDNN
  o.Set("cudnnVersion", static_cast<double>(cudnnGetVersion()));
#else
  o.Set("cudnnVersion", env.Null());
#endif
  return o;
}

Napi::Object BuildInfo(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("cudaArchitectures", FXRT_CUDA_ARCHITECTURES);
  o.Set("cudaVersion", VersionString(CUDART_VERSION));
#ifdef FXRT_HAVE_CUBLASLT
  o.Set("cublasLt", true);
#else
  o.Set("cublasLt", false);
#endif
#ifdef FXRT_HAVE_CUDNN
  o.Set("cudnn", true);
  o.Set("cudnnHeaderVersion", static_cast<double>(CUDNN_VERSION));
#else
  o.Set("cudnn", false);
  o.Set("cudnnHeaderVersion", env.Null());
#endif
  return o;
}

}  // namespace fxrt
