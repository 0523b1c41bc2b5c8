// Reductions (sum, product, max, min, mean) of a strided tensor over any set of its dims, in one
// kernel launch and without atomics (results never depend on scheduling). The host splits the
// input's dims into kept dims (one output element each) and reduced dims; which dims and in what
// order does not matter to the kernels, only to their speed:
//   - rows: the reduced dims hold the smallest input stride (e.g. the last dim). A warp (short
//     rows) or a whole block (long rows) reduces each output, lanes reading consecutive elements,
//     then combining with warp shuffles;
//   - columns: a kept dim holds the smallest stride. Each thread of a 32-wide block row owns one
//     output (consecutive outputs, coalesced reads) and the block's rows split the reduction.
// Arithmetic follows the reference kernels (src/kernels/reference/reduce.ts): float sums and
// products accumulate in float64 and round once; integers accumulate in wrapping 64-bit integers
// (exact where the reference is); max/min propagate NaN, and among equal values keep the first in
// index order (so -0 versus 0 is decided as the reference decides it).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/strided.h"

namespace fxrt::kernels {

// src/engine/network.ts ReduceOp.
enum class ReduceFn : uint8_t { Sum, Prod, Max, Min, Avg };

struct ReduceParams {
  const void* x;
  void* y;
  DType dtype;  // of x and y (any but bool; Avg: a float)
  ReduceFn fn;
  // The kept dims, walked row-major (one output each): sizes and x strides; y strides beside.
  StridedView kept;
  int64_t yStride[kMaxRank];
  // The reduced dims and their x strides (empty: every output reduces one element).
  StridedView reduced;
};

// How LaunchReduce runs a reduction.
enum class ReducePath : uint8_t { WarpRows, BlockRows, Columns };

// The path LaunchReduce takes for `params` (decided by the strides and sizes only).
ReducePath ChooseReducePath(const ReduceParams& params);
const char* ReducePathName(ReducePath path);

cudaError_t LaunchReduce(const ReduceParams& params, cudaStream_t stream);

}  // namespace fxrt::kernels
