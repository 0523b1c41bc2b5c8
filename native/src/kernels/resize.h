// Resize of the spatial dims (after [N, C]) of 3-d to 5-d tensors in any layout, with PyTorch's
// F.interpolate index and weight arithmetic exactly as src/kernels/reference/pad_resize.ts does it:
// nearest (legacy floor(dst * scale), and nearest-exact) moves raw words; linear (1-3 spatial dims)
// and cubic (2 dims, A = -0.75, border-clamped taps) compute in float32 with every product and sum
// rounded (no FMA contraction) in the reference's order: the innermost dim's taps first. Weights
// are rounded to the input dtype, as PyTorch stores them. One thread per output element.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "dtype.h"

namespace fxrt::kernels {

constexpr int kMaxResizeRank = 5;

enum class ResizeKind : uint8_t { NearestFloor, NearestHalfUp, Linear, Cubic };

struct ResizeParams {
  const void* x;
  void* y;
  DType dtype;     // linear / cubic: a float dtype
  int elemBytes;   // nearest: the word size moved (1, 2, 4, 8 or 16)
  ResizeKind kind;
  bool alignCorners;  // linear / cubic: source = dst * scale, else the half-pixel rule
  bool channelsLast;  // rank 4 only: iterate with C fastest (the output is NHWC in memory)
  int rank;           // 3..5
  int64_t inSize[kMaxResizeRank];
  int64_t outSize[kMaxResizeRank];
  int64_t xStride[kMaxResizeRank];  // elements (words for nearest) per step of each logical dim
  int64_t yStride[kMaxResizeRank];
  float scale[kMaxResizeRank - 2];  // per spatial dim: the float32 ratio of the source index
  bool fits32;
};

cudaError_t LaunchResize(const ResizeParams& params, cudaStream_t stream);

}  // namespace fxrt::kernels
