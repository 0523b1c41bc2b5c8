// Row kernels: layer normalization with a broadcast affine (scale, bias), and softmax / log-softmax
// along one dim, optionally with attention's scale, additive or boolean mask and causal masking.
// Statistics accumulate in float32 with tree reductions; results round once to the output dtype.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/strided.h"

namespace fxrt::kernels {

struct LayerNormParams {
  const void* x;
  void* y;
  DType dtype;
  int64_t rows, cols;  // contiguous rows of `cols` elements are normalized independently
  float eps;
  const void* scale;
  const void* bias;
  DType affineDtype;
  // The affine operands' strides over `view` (the output's logical shape, row-major over rows x cols).
  StridedView scaleView, biasView;
  // Both affine operands are [cols] vectors indexed by the column (the usual layer norm).
  bool affinePerColumn;
};

// Rows held in registers (a warp per row up to 1024 16-bit / 512 float32 elements, a block per
// row up to 8192 / 4096), read once with 16-byte vectors, when the rows and pointers allow it and
// the affine is per column; otherwise a block per row reading the row three times.
cudaError_t LaunchLayerNorm(const LayerNormParams& params, cudaStream_t stream);
// Which of those kernels LaunchLayerNorm runs for `params` (for layer info).
const char* LayerNormVariant(const LayerNormParams& params);

struct SoftmaxParams {
  const void* x;
  DType xDtype;
  void* y;
  DType yDtype;
  int64_t outer, size, inner;  // softmax along `size`; element (o, s, i) at (o * size + s) * inner + i
  float scale;                 // multiplies x first (attention); 1 otherwise
  bool log;
  const void* mask;            // null, or added (float) / -inf where false (bool) before the softmax
  DType maskDtype;
  StridedView maskView;        // the mask's strides over [outer, size] (inner must be 1 with a mask)
  int64_t causalRows;          // > 0: row r masks columns > r % causalRows (attention's L)
};

cudaError_t LaunchSoftmax(const SoftmaxParams& params, cudaStream_t stream);

}  // namespace fxrt::kernels
