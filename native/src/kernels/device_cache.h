// Facts about a device (its attributes, what this image's kernels can do there) that the kernels'
// host side asks at every launch or tactic query: asked once per device, then read from a cache.
#pragma once

#include <cuda_runtime.h>

#include <atomic>

namespace fxrt::kernels {

constexpr int kCachedDevices = 64;

// query(device) (a value >= 0) for the current device, asked on the first call for that device and
// kept in `cache` (value + 1; 0: not asked yet); -1 where the current device is unknown or its
// ordinal is kCachedDevices or more.
template <typename Query>
int CachedPerDevice(std::atomic<int> (&cache)[kCachedDevices], Query&& query) {
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess || device < 0 || device >= kCachedDevices) {
    cudaGetLastError();
    return -1;
  }
  int v = cache[device].load(std::memory_order_relaxed);
  if (v == 0) {
    v = query(device) + 1;
    cache[device].store(v, std::memory_order_relaxed);
  }
  return v - 1;
}

// A device attribute, 0 where the runtime cannot say.
inline int DeviceAttribute(cudaDeviceAttr attr, int device) {
  int v = 0;
  if (cudaDeviceGetAttribute(&v, attr, device) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return v;
}

}  // namespace fxrt::kernels
