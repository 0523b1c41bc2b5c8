// Elementwise CUDA kernels on contiguous buffers (no N-API: the glue lives in ops_elementwise.cc).
// Every launcher returns the launch status (cudaGetLastError after the launch).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "dtype.h"

namespace fxrt::kernels {

enum class BinaryOp { Add };
enum class UnaryOp { Relu };

// out[i] = a[i] <op> b[i] for float32/float16/bfloat16, computed in float32, rounded once.
cudaError_t LaunchBinary(BinaryOp op, DType dtype, const void* a, const void* b, void* out, size_t n, cudaStream_t stream);
// out[i] = op(x[i]); NaN propagates.
cudaError_t LaunchUnary(UnaryOp op, DType dtype, const void* x, void* out, size_t n, cudaStream_t stream);
// out[i] = (dst) x[i] between float32/float16/bfloat16, rounding to nearest even.
cudaError_t LaunchCast(DType src, DType dst, const void* x, void* out, size_t n, cudaStream_t stream);
// Whether this build holds machine code or PTX the current device can run.
cudaError_t CheckKernelImage();

}  // namespace fxrt::kernels
