// Strided copies: dst view ← src view element by element in row-major order of each view's own
// shape (the two shapes may differ, with the same element count). This one kernel implements
// shuffles (transpose + reshape + transpose), layout conversions (NCHW ↔ NHWC), slices,
// concatenation into sub-views and copies of whole tensors. Elements move as raw words.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "kernels/strided.h"

namespace fxrt::kernels {

// Copies `numel` elements of `elemBytes` (1, 2, 4, 8 or 16) bytes; returns the launch status.
cudaError_t LaunchStridedCopy(const void* src, const StridedView& srcView, void* dst, const StridedView& dstView,
                              int64_t numel, int elemBytes, cudaStream_t stream);
// Fills `numel` elements of the dst view with the `elemBytes`-byte word at `value`.
cudaError_t LaunchFill(void* dst, const StridedView& dstView, int64_t numel, int elemBytes, uint64_t value,
                       cudaStream_t stream);

}  // namespace fxrt::kernels
