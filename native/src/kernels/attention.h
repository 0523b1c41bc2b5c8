// Fused scaled-dot-product attention (flash-attention style): softmax(q kᵀ · scale + mask) v with
// the scores kept on chip. One CTA of 4 or 8 warps takes 16 query rows per warp of one batch item;
// key/value tiles of 32 or 64 positions (per configuration) pass through shared memory, double-buffered (cp.async: the next tile's
// copy runs behind the current one's math); q kᵀ and p v run on tensor cores (mma.sync m16n8k16
// from ldmatrix fragments, fp16 or bf16 in, float32 accumulate); the softmax is the online one in
// float32 (exp2 of log2e-scaled scores), with the probabilities rounded to the storage dtype for
// the second product.
//
// Operands are read and written through strides: any batch dims (each with its own stride per
// operand), a position stride, and a contiguous head dim. So q, k, v stored [B, S, H, D] and
// viewed as [B, H, S, D], and an output written as [B, S, H * D], need no copies.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "dtype.h"

namespace fxrt::kernels {

// Most batch dims of an attention (its operands have at most 8 dims).
constexpr int kMaxAttentionBatch = 6;
// Largest head dim the kernel takes; head dims must be multiples of kAttentionHeadAlign.
constexpr int kMaxAttentionHead = 128;
constexpr int kAttentionHeadAlign = 8;

struct AttentionParams {
  const void* q;  // [batch..., l, e]
  const void* k;  // [batch..., s, e]
  const void* v;  // [batch..., s, ev]
  void* out;      // [batch..., l, ev]
  DType dtype;    // Float16 or BFloat16, every operand
  int batchRank = 0;
  int64_t batch[kMaxAttentionBatch] = {};
  // Element strides per batch dim (0 broadcasts).
  int64_t qBatch[kMaxAttentionBatch] = {}, kBatch[kMaxAttentionBatch] = {}, vBatch[kMaxAttentionBatch] = {},
          outBatch[kMaxAttentionBatch] = {}, maskBatch[kMaxAttentionBatch] = {};
  int64_t l = 0, s = 0;  // query and key positions
  int e = 0, ev = 0;     // head dims of q/k and of v/out
  // Element strides between consecutive positions (the head dim itself is contiguous). With the
  // batch strides and the base pointers they are multiples of 16 bytes (vector loads).
  int64_t qRow = 0, kRow = 0, vRow = 0, outRow = 0;
  const void* mask = nullptr;  // null, or bool (false: -inf) or float (added) over [batch..., l, s]
  DType maskDtype = DType::Bool;
  int64_t maskRow = 0, maskCol = 0;
  float scale = 1.f;
  bool causal = false;  // query i sees keys 0..i
};

// Whether the kernel takes these dtype and head dims.
bool AttentionSupports(DType dtype, int64_t e, int64_t ev);

// Kernel configurations (tile shapes and register caps), timed per shape by the builder; 0 is the
// default. LaunchAttention rejects an index outside [0, AttentionConfigCount()).
int AttentionConfigCount();
// What configuration `config` is at these head dims, e.g. "64 rows x 64 keys, registers for 3 CTAs/SM".
std::string AttentionConfigName(int config, int e, int ev);
// Whether an earlier configuration compiles to the same kernel at these head dims (not worth timing).
bool AttentionConfigRepeats(int config, int e, int ev);

cudaError_t LaunchAttention(const AttentionParams& params, cudaStream_t stream, int config = 0);

}  // namespace fxrt::kernels
