// Shared-memory helpers of the tensor-core kernels (igemm.cu, attention.cu): shared addresses,
// cp.async 16-byte copies global → shared (sm_80+), and ldmatrix fragment loads.
#pragma once

#include <cstdint>

namespace fxrt::kernels {

__device__ __forceinline__ uint32_t SmemAddr(const void* p) { return static_cast<uint32_t>(__cvta_generic_to_shared(p)); }

// 16 bytes from global `src` to shared address `dst` without passing through registers; `valid`
// false writes zeros (src is then not read, but must be a valid address).
__device__ __forceinline__ void CpAsync16(uint32_t dst, const void* src, bool valid) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(valid ? 16 : 0));
#endif
}
__device__ __forceinline__ void CpAsyncCommit() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.commit_group;\n" ::);
#endif
}
// Waits until at most N committed groups of this thread's copies are pending.
template <int N>
__device__ __forceinline__ void CpAsyncWait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
#endif
}

// Four 8x8 16-bit matrices from shared address `addr`, lane i giving the address of row i % 8 of
// matrix i / 8; register j holds matrix j's (row lane / 4, columns 2 (lane % 4), +1), or with
// `kTrans` its (rows 2 (lane % 4), +1, column lane / 4).
template <bool kTrans = false>
__device__ __forceinline__ void Ldmatrix4(uint32_t addr, uint32_t& r0, uint32_t& r1, uint32_t& r2, uint32_t& r3) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  if constexpr (kTrans) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
                 : "r"(addr));
  } else {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
                 : "r"(addr));
  }
#endif
}

}  // namespace fxrt::kernels
