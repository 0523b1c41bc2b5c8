// Element movement driven by indices: TensorRT's gather (default and element modes, one kernel)
// and slices that read past the input's edges (fill, clamp, reflect, wrap; constant padding is a
// fill-mode slice). Elements move as raw words, so every dtype is copied bit for bit, and both
// kernels walk the output in the iteration order the host chose (its memory order), so writes
// are coalesced whatever the operands' layouts.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "dtype.h"
#include "kernels/data_error.h"
#include "kernels/strided.h"

namespace fxrt::kernels {

// out[c] = data[dataOffset(c) + v * axisStride], v = index[indexOffset(c)] (+ axisSize when
// negative), for every iteration coordinate c; offsets are Σ c[d] * stride[d]. Default mode gives
// index dims data stride 0 and the others index stride 0; element mode (torch.gather) gives the
// axis data stride 0. An index outside [-axisSize, axisSize) writes a zero word (it must not read
// outside the data) and is reported to `dataError` (DataErrorCode::IndexOutOfRange with the index,
// its element offset in the index operand and axisSize): the run then fails naming it.
struct GatherParams {
  const void* data;
  const void* index;
  void* out;
  DType indexDtype;  // Int32 or Int64
  int elemBytes;     // word size: 1, 2, 4, 8 or 16 (elements widened to words by the host)
  int rank;
  int64_t size[kMaxRank];
  int64_t outStride[kMaxRank];
  int64_t dataStride[kMaxRank];
  int64_t indexStride[kMaxRank];
  int64_t axisStride;
  int64_t axisSize;
  bool fits32;  // every offset and the element count fit 32-bit signed indices
  DataErrorSink dataError;
};

cudaError_t LaunchGather(const GatherParams& params, cudaStream_t stream);

// TensorRT's slice modes for out-of-range source indices (src/engine/reference/layers_data.ts).
enum class SliceMapMode : uint8_t { Fill, Clamp, Reflect, Wrap };

// dst[c] = src[Σ map(start[d] + c[d] * step[d]) * srcStride[d]], where map sends an index
// outside [0, srcSize[d]) through `mode` (Fill: the whole element is `fill`).
struct SliceMapParams {
  const void* src;
  void* dst;
  int elemBytes;  // word size: 1, 2, 4, 8 or 16
  SliceMapMode mode;
  int rank;
  int64_t size[kMaxRank];  // output dims, in iteration order
  int64_t dstStride[kMaxRank];
  int64_t srcStride[kMaxRank];
  int64_t start[kMaxRank];
  int64_t step[kMaxRank];
  int64_t srcSize[kMaxRank];
  uint64_t fill[2];  // the fill word, little-endian (low 8 bytes first)
  bool fits32;       // offsets, the element count and every unmapped source index fit 32 bits
};

cudaError_t LaunchSliceMap(const SliceMapParams& params, cudaStream_t stream);

}  // namespace fxrt::kernels
