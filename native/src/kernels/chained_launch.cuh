// Chained kernel launches: programmatic dependent launch (compute capability 9.0 and later).
//
// A kernel launched through LaunchChained (or LaunchChainedEx) may begin (its blocks scheduled, shared memory and
// barriers set up, constant operands fetched) while the kernel before it in the stream is still
// finishing: the runtime starts it once every block of the kernel before has called
// AllowDependentLaunch or exited. Before anything that reads what an earlier kernel wrote, or
// writes what an earlier kernel reads, it calls WaitForPriorGrids, which returns once the grids it
// depends on have completed and their memory is visible. In a stream capture the pair becomes a
// programmatic edge of the graph, so a replayed engine overlaps each kernel's launch and preamble
// with the tail of the one before, which at batch 1 (a few microseconds per kernel) is a large
// part of the time. Where the kernel before is not chained (a library's), or is not a kernel (a
// copy, a memset), the launch waits for it as any launch does.
//
// The rule every chained kernel keeps: no access to memory that another kernel writes or reads
// before WaitForPriorGrids, except the plan's constants (weights, which no kernel writes). Both
// device calls are no-ops in a launch without the attribute. FXRT_CUDA_PDL=0 launches plainly
// (for comparisons).
#pragma once

#include <cuda_runtime.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "kernels/device_cache.h"

namespace fxrt::kernels {

// Waits until the grids this one depends on have completed and their memory is visible.
__device__ __forceinline__ void WaitForPriorGrids() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif
}

// Lets the next chained kernel in the stream launch once every block of this grid has called this
// or exited (its WaitForPriorGrids still waits for this grid to complete).
__device__ __forceinline__ void AllowDependentLaunch() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
#endif
}

// How launches are chained (FXRT_CUDA_PDL, read once per process): "0" never, "all" every launch
// through LaunchChainedEx (for comparisons), anything else (the default) grids of one wave.
enum class ChainMode { Off, OneWave, All };
inline ChainMode ChainedLaunchMode() {
  static const ChainMode mode = [] {
    const char* v = std::getenv("FXRT_CUDA_PDL");
    if (v != nullptr && std::strcmp(v, "0") == 0) return ChainMode::Off;
    if (v != nullptr && std::strcmp(v, "all") == 0) return ChainMode::All;
    return ChainMode::OneWave;
  }();
  return mode;
}

// The multiprocessors of the current device where its launches may be chained (compute capability
// 9.0 or later, and FXRT_CUDA_PDL is not "0"), else 0. Cached per device.
inline int ChainedLaunchMultiprocessors() {
  if (ChainedLaunchMode() == ChainMode::Off) return 0;
  static std::atomic<int> cache[kCachedDevices];
  const int sms = CachedPerDevice(cache, [](int device) {
    return DeviceAttribute(cudaDevAttrComputeCapabilityMajor, device) >= 9 ? DeviceAttribute(cudaDevAttrMultiProcessorCount, device) : 0;
  });
  return sms > 0 ? sms : 0;
}

// The blocks of a grid.
inline int64_t GridBlocks(dim3 grid) { return static_cast<int64_t>(grid.x) * grid.y * grid.z; }

// Launches `kernel` in clusters of (1, 1, clusterZ) blocks when clusterZ > 1, chained where the
// device allows it and the grid is one wave: its blocks fit one per multiprocessor. That covers
// the short launches, where the launch and the preamble are a large part of the time (batch 1),
// and the persistent kernels (the warp-specialized int8 GEMM: one block per multiprocessor,
// however many tiles), which start on the multiprocessors the kernel before has left and load
// their first weight slices meanwhile. Measured on the H100 (2026-11-23, alternating processes):
// the seed MLP's int8 engine (two persistent GEMMs of 9.7 and 2.8 units per block) at 1.29-1.33x
// our fp16 into bound outputs chained against 1.27-1.29x plain; ResNet-50 b128 with every launch
// chained no different from plain (int8 2.41 / 2.48 ms against 2.47 / 2.46). Grids of several waves launch plainly, as before: chaining every
// launch showed no gain (ResNet-50 at batch 1: 0.340-0.357 ms against 0.329-0.342, within the
// spread between processes).
template <typename... Params, typename... Args>
cudaError_t LaunchChainedEx(void (*kernel)(Params...), dim3 grid, dim3 block, size_t smemBytes, cudaStream_t stream, int clusterZ,
                            Args&&... args) {
  cudaLaunchConfig_t config{};
  config.gridDim = grid;
  config.blockDim = block;
  config.dynamicSmemBytes = smemBytes;
  config.stream = stream;
  cudaLaunchAttribute attrs[2]{};
  unsigned n = 0;
  if (clusterZ > 1) {
    attrs[n].id = cudaLaunchAttributeClusterDimension;
    attrs[n].val.clusterDim.x = 1;
    attrs[n].val.clusterDim.y = 1;
    attrs[n].val.clusterDim.z = static_cast<unsigned>(clusterZ);
    n++;
  }
  const int sms = ChainedLaunchMultiprocessors();
  if (sms > 0 && (GridBlocks(grid) <= sms || ChainedLaunchMode() == ChainMode::All)) {
    attrs[n].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attrs[n].val.programmaticStreamSerializationAllowed = 1;
    n++;
  }
  config.attrs = n > 0 ? attrs : nullptr;
  config.numAttrs = n;
  return cudaLaunchKernelEx(&config, kernel, std::forward<Args>(args)...);
}

// LaunchChainedEx without clusters.
template <typename... Params, typename... Args>
cudaError_t LaunchChained(void (*kernel)(Params...), dim3 grid, dim3 block, size_t smemBytes, cudaStream_t stream, Args&&... args) {
  return LaunchChainedEx(kernel, grid, block, smemBytes, stream, 1, std::forward<Args>(args)...);
}

}  // namespace fxrt::kernels
