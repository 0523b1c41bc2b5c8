// The generic einsum kernel, for equations that are not a plain contraction (those lower to
// strided copies and a cuBLASLt GEMM): diagonals ('ii->i', 'iij,jk->ik'), labels summed within
// one operand, size-1 broadcasting, three or more operands. One thread per output element walks
// the summed index space (an odometer, no divisions) and accumulates the product of the
// operands' elements in float64; the result rounds once to the output type.
//
// Every operand is a strided view over [output dims..., summed dims...]: a label it lacks (or
// holds with size 1) has stride 0, a repeated label the sum of its dims' strides (a diagonal).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/strided.h"

namespace fxrt::kernels {

constexpr int kMaxEinsumOperands = 8;

struct EinsumOperand {
  const void* ptr;
  int64_t outStride[kMaxRank];
  int64_t sumStride[kMaxRank];
};

struct EinsumParams {
  DType dtype;  // of every operand and of y: float32, float16 or bfloat16
  int nOperands;
  EinsumOperand operand[kMaxEinsumOperands];
  void* y;
  StridedView out;  // the output dims (walked row-major) and y's strides
  int sumRank;
  int64_t sumSize[kMaxRank];
};

cudaError_t LaunchEinsum(const EinsumParams& params, cudaStream_t stream);

}  // namespace fxrt::kernels
