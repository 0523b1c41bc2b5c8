// Max / average pooling over 1, 2 or 3 spatial dims of [N, C, spatial...] logical tensors in any
// layout (strides per logical dim), with PyTorch's window rules: windows start at
// o*stride - prePadding, reads are clipped to the input, and the average's divisor is the
// override, the real-element count, or the window clipped to input + post padding
// (src/kernels/reference/pool.ts). Spatial parameters are right-aligned in arrays of three
// (D, H, W): a 2-D pooling leaves slot 0 a unit dim, a 1-D one slots 0 and 1; the kernels are
// specialized per spatial rank, so unit dims cost nothing.
//
// The int8 step of the Q/DQ fusion (src/engine/plan.ts, StepQuantization; xScale set): x is int8
// with one per-tensor scale sx; p = the max of the integers, or their exact int32 window sum
// divided by the divisor (fround(sum / n), the quotient correctly rounded from double); then
// y = fround(p * sx), requantized with yScale to int8, or stored in y's float dtype (rounded once).
// Both scales are read from device memory when the kernel runs (constants or run-time values).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "dtype.h"

namespace fxrt::kernels {

constexpr int kMaxPoolDims = 3;

struct PoolParams {
  const void* x;
  void* y;
  DType dtype;      // x's: a float, or int8 (max pooling of quantized values, or an int8 step)
  DType yDtype;     // y's: dtype, or for an int8 step int8 (with yScale) or a float
  int spatialDims;  // 1, 2 or 3
  int64_t n, c;
  int64_t in[kMaxPoolDims], out[kMaxPoolDims];  // spatial sizes (unit slots: 1)
  int window[kMaxPoolDims], stride[kMaxPoolDims], pre[kMaxPoolDims], post[kMaxPoolDims], dilation[kMaxPoolDims];
  bool isMax;
  bool excludePadding;  // average: divide by the number of real elements
  double divisor;       // average: 0 = none, else the divisor override (float steps divide in float32)
  int64_t xStride[2 + kMaxPoolDims];  // elements per step of n, c, then the spatial slots (unit slots: 0)
  int64_t yStride[2 + kMaxPoolDims];
  bool channelsLast;    // iterate with c fastest (coalesced for channels-last outputs)
  const void* xScale;   // int8 step: x's scale (one element); null: not an int8 step
  DType xScaleDtype;
  const void* yScale;   // int8 step with an int8 output: the output scale (one element); else null
  DType yScaleDtype;
};

// Whether LaunchPool runs the kernel that moves 16 bytes of channels per thread: dense
// channels-last x and y (16-byte aligned), 8 channels a multiple for 16-bit floats, 16 for int8
// (max pooling of quantized values, or an int8 step with an int8 output), no dilated average.
bool PoolVectorized(const PoolParams& p);
cudaError_t LaunchPool(const PoolParams& params, cudaStream_t stream);

}  // namespace fxrt::kernels
