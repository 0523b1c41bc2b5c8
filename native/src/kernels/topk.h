// Top-k along one axis of a row-major [outer, size, inner] tensor: the k largest ('max',
// descending) or smallest ('min', ascending) elements and their indices, in the reference's
// total order (src/kernels/reference/reduce.ts topkOrder): NaN above every number, -0 equal to
// +0, equal values by lower index. Each element gets a unique 64-bit key (an order-preserving
// 32-bit key of its value above its index), so every algorithm below selects exactly the same
// elements in the same order as the reference's stable sort:
//   thread   one thread per row keeping the k <= 8 best keys in registers (short rows, or many
//            rows whose elements lie apart, where neighbouring threads read neighbouring rows);
//   argmax   k = 1: one block per row, a min-reduction of the keys;
//   sort     one block per row, a bitonic sort of the row's keys in shared memory;
//   select   long rows: a 4-pass radix select of the k-th value key in shared memory, the
//            elements before it gathered (ties by index) and bitonic-sorted;
//   global   long rows with k beyond shared memory: a bitonic sort of each row in the workspace.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "dtype.h"

namespace fxrt::kernels {

enum class TopkAlgorithm : uint8_t { Thread, Argmax, Sort, Select, Global };

struct TopkParams {
  const void* x;
  void* values;
  void* indices;
  DType dtype;       // float32, float16, bfloat16, int8, uint8 or int32
  DType indexDtype;  // int32 or int64
  bool largest;
  int64_t outer, size, inner, k;  // 1 <= k <= size < 2^31
};

// The algorithm LaunchTopk uses for these sizes.
TopkAlgorithm ChooseTopk(const TopkParams& params);
const char* TopkAlgorithmName(TopkAlgorithm algorithm);
// Device scratch LaunchTopk needs (only the global algorithm needs any), or -1 when it would
// exceed the cap: rows too long for the kernels.
int64_t TopkWorkspaceBytes(const TopkParams& params);

cudaError_t LaunchTopk(const TopkParams& params, void* workspace, size_t workspaceBytes, cudaStream_t stream);

}  // namespace fxrt::kernels
