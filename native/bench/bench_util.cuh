// Shared by the kernel benchmarks (native/bench/*_bench.cu): exit on a CUDA error, and a hash of
// an element index for filling inputs with reproducible pseudo-random values.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

#define CK(x)                                                                                 \
  do {                                                                                        \
    cudaError_t e_ = (x);                                                                     \
    if (e_ != cudaSuccess) {                                                                  \
      std::fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_)); \
      std::exit(1);                                                                           \
    }                                                                                         \
  } while (0)

// 32 well-mixed bits of (index, seed).
__device__ __forceinline__ uint32_t BenchHash(int64_t i, uint32_t seed) {
  uint32_t s = (uint32_t)i * 2654435761u ^ seed;
  s ^= s >> 13;
  s *= 0x5bd1e995u;
  s ^= s >> 15;
  return s;
}
