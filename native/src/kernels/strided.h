// Strided views shared by the executor's kernels (no N-API here: .cu files include it). A view is
// a logical shape plus per-dim element strides; kernels walk a linear index in row-major order of
// the shape and turn it into an element offset, so one kernel serves every layout, transpose,
// broadcast (stride 0) and slice (offset base pointer, any stride sign).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "dtype.h"

namespace fxrt::kernels {

// Most dims of a view after the host merged contiguous dims (the plan's tensors have at most 8).
constexpr int kMaxRank = 8;

struct StridedView {
  int rank = 0;
  int64_t size[kMaxRank] = {};
  int64_t stride[kMaxRank] = {};  // elements; 0 broadcasts, negative walks backwards
};

// Element offset of row-major linear index `i` in `v` (I: the index type, 32-bit when it fits).
template <typename I>
__device__ __forceinline__ I StridedOffset(I i, const StridedView& v) {
  I off = 0;
  for (int d = v.rank - 1; d >= 0; d--) {
    const I size = static_cast<I>(v.size[d]);
    const I q = i / size;
    off += (i - q * size) * static_cast<I>(v.stride[d]);
    i = q;
  }
  return off;
}

// Grid size for a grid-stride loop over `work` items of 256-thread blocks.
inline unsigned GridFor(int64_t work, int threads = 256) {
  int64_t blocks = (work + threads - 1) / threads;
  if (blocks < 1) blocks = 1;
  if (blocks > 8192) blocks = 8192;
  return static_cast<unsigned>(blocks);
}

// Whether 32-bit signed indices cover `numel` elements and every offset a view can reach.
inline bool Fits32(int64_t numel, const StridedView& v) {
  int64_t reach = 0;
  for (int d = 0; d < v.rank; d++) reach += (v.size[d] - 1) * (v.stride[d] < 0 ? -v.stride[d] : v.stride[d]);
  return numel < (int64_t{1} << 31) && reach < (int64_t{1} << 31);
}

}  // namespace fxrt::kernels
