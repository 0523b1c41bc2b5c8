// Running sums along one axis of a row-major [outer, size, inner] tensor (the cumulative layer):
// inclusive or exclusive (the element itself left out), from the start or from the end. Float
// data accumulates in double and each result is rounded to float32, then to a 16-bit output
// type, as src/engine/reference/layers_reduce.ts does; integers accumulate exactly in int64 and
// wrap to their dtype. Axis not innermost: one thread per line, neighbouring threads on
// neighbouring lines, summing in order (the reference's exact arithmetic). Innermost axis: one
// block per row scanning chunks (a tree of partial sums: exact for integers, for floats the
// double rounding of the partial sums may differ from the sequential order's).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "dtype.h"

namespace fxrt::kernels {

struct CumsumParams {
  const void* x;
  void* y;
  DType dtype;  // x and y: any dtype but bool
  int64_t outer, size, inner;
  bool exclusive;
  bool reverse;
};

cudaError_t LaunchCumsum(const CumsumParams& params, cudaStream_t stream);

}  // namespace fxrt::kernels
