#include "kernels/topk.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "kernels/strided.h"

namespace fxrt::kernels {

namespace {

// Keys sorted in shared memory: 4096 keys of 8 bytes (32 KiB, within the default limit).
constexpr int kSortCap = 4096;
// Workspace cap of the global algorithm (rows are sorted a block at a time within it).
constexpr int64_t kGlobalWorkspaceCap = int64_t{256} << 20;
constexpr uint64_t kPad = ~uint64_t{0};

// Order-preserving unsigned key of a float: larger values give larger keys; -0 maps like +0.
__device__ __forceinline__ uint32_t FloatKey(float v) {
  const uint32_t b = __float_as_uint(v == 0.f ? 0.f : v);
  return (b & 0x80000000u) != 0 ? ~b : (b | 0x80000000u);
}

// The 32-bit key of element i: ascending key order is the output order (for 'max' the
// complement, NaN first; for 'min' NaN last).
__device__ __forceinline__ uint32_t ValueKey(const TopkParams& p, int64_t i) {
  uint32_t key;
  float f = 0.f;
  switch (p.dtype) {
    case DType::Float32: f = static_cast<const float*>(p.x)[i]; break;
    case DType::Float16: f = __half2float(static_cast<const __half*>(p.x)[i]); break;
    case DType::BFloat16: f = __bfloat162float(static_cast<const __nv_bfloat16*>(p.x)[i]); break;
    case DType::Int8: key = static_cast<uint32_t>(static_cast<int32_t>(static_cast<const int8_t*>(p.x)[i])) ^ 0x80000000u; return p.largest ? ~key : key;
    case DType::UInt8: key = static_cast<const uint8_t*>(p.x)[i]; return p.largest ? ~key : key;
    default: key = static_cast<uint32_t>(static_cast<const int32_t*>(p.x)[i]) ^ 0x80000000u; return p.largest ? ~key : key;
  }
  if (f != f) return p.largest ? 0u : 0xffffffffu;
  key = FloatKey(f);
  return p.largest ? ~key : key;
}

// A unique key per element: the value key above the index.
__device__ __forceinline__ uint64_t RowKey(uint32_t valueKey, int64_t r) {
  return (static_cast<uint64_t>(valueKey) << 32) | static_cast<uint32_t>(r);
}

__device__ __forceinline__ uint64_t Min64(uint64_t a, uint64_t b) { return a < b ? a : b; }
__device__ __forceinline__ uint64_t Max64(uint64_t a, uint64_t b) { return a < b ? b : a; }

struct Row {
  int64_t x;  // element 0 of the row in x
  int64_t y;  // element 0 of the row in values / indices
};

__device__ __forceinline__ Row RowAt(const TopkParams& p, int64_t row) {
  const int64_t o = row / p.inner;
  const int64_t i = row - o * p.inner;
  return Row{o * p.size * p.inner + i, o * p.k * p.inner + i};
}

// Output j of a row: the element with key `key` (raw bits, so values are bit-exact) and its index.
__device__ __forceinline__ void WriteOne(const TopkParams& p, int elemBytes, Row row, int64_t j, uint64_t key) {
  const int64_t r = static_cast<uint32_t>(key);
  const int64_t from = row.x + r * p.inner;
  const int64_t to = row.y + j * p.inner;
  switch (elemBytes) {
    case 1: static_cast<uint8_t*>(p.values)[to] = static_cast<const uint8_t*>(p.x)[from]; break;
    case 2: static_cast<uint16_t*>(p.values)[to] = static_cast<const uint16_t*>(p.x)[from]; break;
    default: static_cast<uint32_t*>(p.values)[to] = static_cast<const uint32_t*>(p.x)[from]; break;
  }
  if (p.indexDtype == DType::Int32) static_cast<int32_t*>(p.indices)[to] = static_cast<int32_t>(r);
  else static_cast<long long*>(p.indices)[to] = r;
}

// The first k keys of a sorted row, written by the block's threads.
__device__ __forceinline__ void WriteRow(const TopkParams& p, int elemBytes, Row row, const uint64_t* keys) {
  for (int64_t j = threadIdx.x; j < p.k; j += blockDim.x) WriteOne(p, elemBytes, row, j, keys[j]);
}

// Ascending bitonic sort of n (a power of two) keys by the whole block; ends synchronized.
__device__ void BitonicSort(uint64_t* keys, int n) {
  for (int k = 2; k <= n; k <<= 1) {
    for (int j = k >> 1; j > 0; j >>= 1) {
      for (int q = threadIdx.x; q < n / 2; q += blockDim.x) {
        const int i = 2 * q - (q & (j - 1));  // the lower element of pair q, whose bit j is clear
        const int l = i + j;
        const uint64_t a = keys[i], b = keys[l];
        if ((a > b) == ((i & k) == 0)) {
          keys[i] = b;
          keys[l] = a;
        }
      }
      __syncthreads();
    }
  }
}

// The count of set flags in threads before this one, and (in `total`) in the block.
__device__ __forceinline__ unsigned BlockExclusiveCount(bool flag, unsigned* warpCounts, unsigned* total) {
  const unsigned ballot = __ballot_sync(0xffffffffu, flag);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  if (lane == 0) warpCounts[warp] = __popc(ballot);
  __syncthreads();
  unsigned before = __popc(ballot & ((1u << lane) - 1u)), sum = 0;
  for (int w = 0; w < warps; w++) {
    const unsigned c = warpCounts[w];
    if (w < warp) before += c;
    sum += c;
  }
  __syncthreads();
  *total = sum;
  return before;
}

template <int KMax>
__global__ void __launch_bounds__(256) TopkThreadKernel(const TopkParams p, int elemBytes) {
  const int64_t rows = p.outer * p.inner;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; t < rows; t += stride) {
    const Row row = RowAt(p, t);
    uint64_t best[KMax];
#pragma unroll
    for (int j = 0; j < KMax; j++) best[j] = kPad;
    for (int64_t r = 0; r < p.size; r++) {
      uint64_t key = RowKey(ValueKey(p, row.x + r * p.inner), r);
      if (key < best[KMax - 1]) {
#pragma unroll
        for (int j = 0; j < KMax; j++) {  // insertion into the sorted list
          const uint64_t lo = Min64(best[j], key);
          key = Max64(best[j], key);
          best[j] = lo;
        }
      }
    }
#pragma unroll
    for (int j = 0; j < KMax; j++) {
      if (j < p.k) WriteOne(p, elemBytes, row, j, best[j]);
    }
  }
}

__global__ void TopkArgmaxKernel(const TopkParams p, int elemBytes) {
  __shared__ uint64_t warpBest[32];
  const int64_t rows = p.outer * p.inner;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  for (int64_t t = blockIdx.x; t < rows; t += gridDim.x) {
    const Row row = RowAt(p, t);
    uint64_t best = kPad;
    for (int64_t r = threadIdx.x; r < p.size; r += blockDim.x) best = Min64(best, RowKey(ValueKey(p, row.x + r * p.inner), r));
    for (int s = 16; s > 0; s >>= 1) best = Min64(best, __shfl_xor_sync(0xffffffffu, best, s));
    if (lane == 0) warpBest[warp] = best;
    __syncthreads();
    if (warp == 0) {
      best = lane < warps ? warpBest[lane] : kPad;
      for (int s = 16; s > 0; s >>= 1) best = Min64(best, __shfl_xor_sync(0xffffffffu, best, s));
      if (lane == 0) WriteOne(p, elemBytes, row, 0, best);
    }
    __syncthreads();
  }
}

__global__ void TopkSortKernel(const TopkParams p, int elemBytes, int n) {
  extern __shared__ uint64_t keys[];
  const int64_t rows = p.outer * p.inner;
  for (int64_t t = blockIdx.x; t < rows; t += gridDim.x) {
    const Row row = RowAt(p, t);
    for (int r = threadIdx.x; r < n; r += blockDim.x) keys[r] = r < p.size ? RowKey(ValueKey(p, row.x + r * p.inner), r) : kPad;
    __syncthreads();
    BitonicSort(keys, n);
    WriteRow(p, elemBytes, row, keys);
    __syncthreads();
  }
}

__global__ void TopkGlobalKernel(const TopkParams p, int elemBytes, int n, uint64_t* work) {
  uint64_t* keys = work + static_cast<int64_t>(blockIdx.x) * n;
  const int64_t rows = p.outer * p.inner;
  for (int64_t t = blockIdx.x; t < rows; t += gridDim.x) {
    const Row row = RowAt(p, t);
    for (int r = threadIdx.x; r < n; r += blockDim.x) keys[r] = r < p.size ? RowKey(ValueKey(p, row.x + r * p.inner), r) : kPad;
    __syncthreads();
    BitonicSort(keys, n);
    WriteRow(p, elemBytes, row, keys);
    __syncthreads();
  }
}

// Radix select of the k-th smallest value key V (8 bits a pass, most significant first), then the
// elements with keys below V and the first `need` equal to V (by index) into shared memory.
__global__ void TopkSelectKernel(const TopkParams p, int elemBytes, int kPow2) {
  extern __shared__ uint64_t sel[];
  __shared__ unsigned hist[256];
  __shared__ unsigned warpCounts[32];
  __shared__ unsigned shPrefix, shNeed, count;
  const int64_t rows = p.outer * p.inner;
  for (int64_t t = blockIdx.x; t < rows; t += gridDim.x) {
    const Row row = RowAt(p, t);
    unsigned prefix = 0, mask = 0, need = static_cast<unsigned>(p.k);
    for (int shift = 24; shift >= 0; shift -= 8) {
      for (int b = threadIdx.x; b < 256; b += blockDim.x) hist[b] = 0;
      __syncthreads();
      // Most keys share their high digits: lanes with the same digit add once, through their leader.
      for (int64_t c = 0; c < p.size; c += blockDim.x) {
        const int64_t r = c + threadIdx.x;
        const uint32_t key = r < p.size ? ValueKey(p, row.x + r * p.inner) : 0u;
        const bool counted = r < p.size && (key & mask) == prefix;
        const unsigned digit = counted ? (key >> shift) & 0xffu : 256u;
        const unsigned peers = __match_any_sync(0xffffffffu, digit);
        if (counted && (threadIdx.x & 31) == static_cast<unsigned>(__ffs(peers) - 1)) atomicAdd(&hist[digit], static_cast<unsigned>(__popc(peers)));
      }
      __syncthreads();
      if (threadIdx.x == 0) {
        unsigned cum = 0;
        unsigned d = 0;
        for (; d < 255; d++) {
          if (cum + hist[d] >= need) break;
          cum += hist[d];
        }
        shPrefix = prefix | (d << shift);
        shNeed = need - cum;
        count = 0;
      }
      __syncthreads();
      prefix = shPrefix;
      need = shNeed;
      mask |= 0xffu << shift;
    }
    unsigned tiesBefore = 0;
    for (int64_t c = 0; c < p.size; c += blockDim.x) {
      const int64_t r = c + threadIdx.x;
      const bool valid = r < p.size;
      const uint32_t key = valid ? ValueKey(p, row.x + r * p.inner) : 0u;
      const bool tie = valid && key == prefix;
      unsigned ties;
      const unsigned before = BlockExclusiveCount(tie, warpCounts, &ties);
      if ((valid && key < prefix) || (tie && tiesBefore + before < need)) sel[atomicAdd(&count, 1u)] = RowKey(key, r);
      tiesBefore += ties;
    }
    __syncthreads();
    for (int j = static_cast<int>(p.k + threadIdx.x); j < kPow2; j += blockDim.x) sel[j] = kPad;
    __syncthreads();
    BitonicSort(sel, kPow2);
    WriteRow(p, elemBytes, row, sel);
    __syncthreads();
  }
}

int NextPow2(int64_t n) {
  int64_t p = 1;
  while (p < n) p <<= 1;
  return static_cast<int>(p);
}

unsigned Blocks(int64_t rows) { return static_cast<unsigned>(rows < (int64_t{1} << 20) ? rows : (int64_t{1} << 20)); }

int64_t GlobalBlocks(const TopkParams& p) {
  const int64_t rowBytes = static_cast<int64_t>(NextPow2(p.size)) * 8;
  int64_t blocks = kGlobalWorkspaceCap / rowBytes;
  const int64_t rows = p.outer * p.inner;
  if (blocks > rows) blocks = rows;
  if (blocks > 1024) blocks = 1024;
  return blocks;
}

}  // namespace

TopkAlgorithm ChooseTopk(const TopkParams& p) {
  const int64_t rows = p.outer * p.inner;
  // Neighbouring threads read neighbouring rows when the axis is not the innermost dim.
  if (p.k <= 8 && (p.size <= 32 || (p.inner >= 32 && rows >= 16384 && p.size <= kSortCap))) return TopkAlgorithm::Thread;
  if (p.k == 1) return TopkAlgorithm::Argmax;
  if (NextPow2(p.size) <= kSortCap) return TopkAlgorithm::Sort;
  if (NextPow2(p.k) <= kSortCap) return TopkAlgorithm::Select;
  return TopkAlgorithm::Global;
}

const char* TopkAlgorithmName(TopkAlgorithm a) {
  switch (a) {
    case TopkAlgorithm::Thread: return "topk_thread";
    case TopkAlgorithm::Argmax: return "topk_argmax";
    case TopkAlgorithm::Sort: return "topk_sort";
    case TopkAlgorithm::Select: return "topk_radix_select";
    case TopkAlgorithm::Global: return "topk_global_sort";
  }
  return "topk";
}

int64_t TopkWorkspaceBytes(const TopkParams& p) {
  if (p.outer * p.inner == 0 || ChooseTopk(p) != TopkAlgorithm::Global) return 0;
  const int64_t blocks = GlobalBlocks(p);
  if (blocks < 1) return -1;
  return blocks * NextPow2(p.size) * 8;
}

cudaError_t LaunchTopk(const TopkParams& p, void* workspace, size_t workspaceBytes, cudaStream_t stream) {
  const int64_t rows = p.outer * p.inner;
  if (rows == 0 || p.k == 0) return cudaSuccess;
  const int elemBytes = static_cast<int>(ItemSize(p.dtype));
  if (elemBytes > 4 || p.k > p.size || p.size >= (int64_t{1} << 31)) return cudaErrorInvalidValue;
  switch (ChooseTopk(p)) {
    case TopkAlgorithm::Thread:
      if (p.k == 1) TopkThreadKernel<1><<<GridFor(rows), 256, 0, stream>>>(p, elemBytes);
      else TopkThreadKernel<8><<<GridFor(rows), 256, 0, stream>>>(p, elemBytes);
      break;
    case TopkAlgorithm::Argmax: {
      const int threads = p.size >= 65536 ? 1024 : NextPow2(p.size) < 256 ? NextPow2(p.size) : 256;
      TopkArgmaxKernel<<<Blocks(rows), threads, 0, stream>>>(p, elemBytes);
      break;
    }
    case TopkAlgorithm::Sort: {
      const int n = NextPow2(p.size);
      const int threads = n / 2 < 32 ? 32 : n / 2 > 512 ? 512 : n / 2;
      TopkSortKernel<<<Blocks(rows), threads, static_cast<size_t>(n) * 8, stream>>>(p, elemBytes, n);
      break;
    }
    case TopkAlgorithm::Select: {
      const int kPow2 = NextPow2(p.k);
      TopkSelectKernel<<<Blocks(rows), 512, static_cast<size_t>(kPow2) * 8, stream>>>(p, elemBytes, kPow2);
      break;
    }
    case TopkAlgorithm::Global: {
      const int64_t need = TopkWorkspaceBytes(p);
      if (need < 0 || workspace == nullptr || workspaceBytes < static_cast<size_t>(need)) return cudaErrorInvalidValue;
      TopkGlobalKernel<<<static_cast<unsigned>(GlobalBlocks(p)), 1024, 0, stream>>>(p, elemBytes, NextPow2(p.size),
                                                                               static_cast<uint64_t*>(workspace));
      break;
    }
  }
  return cudaGetLastError();
}

}  // namespace fxrt::kernels
