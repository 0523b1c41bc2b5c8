// 2-D max / average pooling over [N, C, H, W] logical tensors in any layout (strides per logical
// dim), with PyTorch's window rules: windows start at o*stride - prePadding, reads are clipped to
// the input, and the average's divisor is the override, the real-element count, or the window
// clipped to input + post padding (src/kernels/reference/pool.ts).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "dtype.h"

namespace fxrt::kernels {

struct PoolParams {
  const void* x;
  void* y;
  DType dtype;
  int64_t n, c, h, w, oh, ow;
  int kh, kw, sh, sw, ph, pw, dh, dw;
  int postH, postW;     // post padding (bounds the average's window)
  bool isMax;
  bool excludePadding;  // average: divide by the number of real elements
  float divisor;        // average: 0 = none, else the divisor override
  int64_t xStride[4];   // elements per step of n, c, h, w
  int64_t yStride[4];
  bool channelsLast;    // iterate with c fastest (coalesced for NHWC outputs)
};

cudaError_t LaunchPool2d(const PoolParams& params, cudaStream_t stream);

}  // namespace fxrt::kernels
