#include "kernels/attention.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cfloat>
#include <climits>
#include <string>

#include "kernels/smem_async.cuh"

namespace fxrt::kernels {

namespace {

// A kernel configuration: warps per CTA (each owns 16 query rows), key positions per shared-memory
// tile, and the CTAs per multiprocessor its registers are capped for (per padded head dim).
struct Config {
  int warps;
  int blockN;
  int minBlocks32, minBlocks64, minBlocks128;
};
// Index 0 is the default (no timing). The others trade registers (and spills) for occupancy, or
// share each key/value tile among more query rows; the builder times them per attention shape.
// At some head dims two of them compile to the same kernel (AttentionConfigRepeats).
constexpr Config kConfigs[] = {
    {4, 64, 4, 3, 2},
    {4, 64, 4, 4, 2},
    {8, 64, 2, 2, 1},
    {4, 32, 4, 4, 2},
};
constexpr int kConfigCount = sizeof(kConfigs) / sizeof(kConfigs[0]);

// Shared-memory row pitch of a tile with head dim D (16-bit words): 8 words of padding put the
// rows read by one fragment load in distinct banks.
template <int D>
constexpr int Pitch() {
  return D + 8;
}

// d += a · b on tensor cores: a 16x16 (row-major fragment), b 16x8 (column fragment), d 16x8 float32.
template <bool kBf16>
__device__ __forceinline__ void Mma(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  if constexpr (kBf16) {
    asm(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  } else {
    asm(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
#else
  __trap();  // the kernel is built for sm_80 and newer only
#endif
}

// Two floats rounded to the storage dtype, `lo` in the low half (the lower matrix index).
template <bool kBf16>
__device__ __forceinline__ uint32_t Pack(float lo, float hi) {
  if constexpr (kBf16) {
    __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<uint32_t*>(&h);
  } else {
    __half2 h = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<uint32_t*>(&h);
  }
}

__device__ __forceinline__ float LoadMask(const void* p, int64_t i, DType t) {
  switch (t) {
    case DType::Float16: return __half2float(static_cast<const __half*>(p)[i]);
    case DType::BFloat16: return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
    case DType::Bool: return static_cast<const uint8_t*>(p)[i] != 0 ? 1.f : 0.f;
    default: return static_cast<const float*>(p)[i];
  }
}

// Starts copying rows [first, first + kRows) of a [count, cols] operand (row stride `rowStride`,
// contiguous cols) into a [kRows, D] shared tile, 16 bytes per copy by kThreads threads; rows past
// `count` and cols past `cols` are zero.
template <int D, int kRows, int kThreads>
__device__ __forceinline__ void LoadTile(uint16_t* dst, const uint16_t* src, int64_t first, int64_t count, int cols,
                                         int64_t rowStride) {
  constexpr int kChunks = D / 8;
  for (int i = threadIdx.x; i < kRows * kChunks; i += kThreads) {
    const int r = i / kChunks, c = i % kChunks;
    const bool ok = first + r < count && c * 8 < cols;
    CpAsync16(SmemAddr(dst + r * Pitch<D>() + c * 8), ok ? src + (first + r) * rowStride + c * 8 : src, ok);
  }
}

// Blocks per multiprocessor configuration c is compiled for at padded head dim d (registers capped to fit them).
constexpr int MinBlocksOf(int c, int d) {
  return d <= 32 ? kConfigs[c].minBlocks32 : d <= 64 ? kConfigs[c].minBlocks64 : kConfigs[c].minBlocks128;
}
template <int C, int D>
constexpr int MinBlocks() {
  return MinBlocksOf(C, D);
}

// Shared memory of one CTA: the query tile, two stages of key and value tiles, and two stages of
// a key mask's tile as float32 (the key-mask mode's).
template <int C, int D>
constexpr int SmemBytes() {
  return (kConfigs[C].warps * 16 + 4 * kConfigs[C].blockN) * Pitch<D>() * 2 + 2 * kConfigs[C].blockN * 4;
}

// One CTA: query rows [q0, q0 + kBlockM) of one batch item. Thread (warp w, lane = 4g + t) holds, in
// every 16x8 accumulator fragment, rows 16w + g and 16w + g + 8, columns 2t and 2t + 1. Key/value
// tiles are double-buffered: the copy of tile i + 2 starts when tile i is done, so it runs behind
// the math of tile i + 1. Scores are kept in the log2 domain (scaled by log2 e) for exp2.
//
// The mode picks how scores are masked; the per-score checks of the general path are most of its
// instructions at short sequences, so the common cases have their own:
//   kPlain: no mask, not causal, a positive scale. Scores stay unscaled until the exponent (max
//     commutes with a positive scale; exp2(s · scale·log2e − max · scale·log2e) as one FMA), and
//     only the last key tile, when partial, masks anything.
//   kKeyMask: a mask that depends on the key only (its row stride 0, as BERT's [B, 1, 1, S]
//     padding mask), not causal: each key tile's mask is staged in shared memory once, as
//     log2-scaled additive terms, beside the tile's keys and values.
//   kGeneral: anything else (causal, masks per query row).
enum AttentionMode { kGeneral = 0, kPlain = 1, kKeyMask = 2 };

template <bool kBf16, int D, int kMode, int C>
__global__ void __launch_bounds__(kConfigs[C].warps * 32, MinBlocks<C, D>()) AttentionKernel(const AttentionParams p) {
  constexpr int kThreads = kConfigs[C].warps * 32;
  constexpr int kBlockM = kConfigs[C].warps * 16;  // query rows per CTA
  constexpr int kBlockN = kConfigs[C].blockN;      // key positions per tile
  constexpr int kP = Pitch<D>();
  constexpr int kTile = kBlockN * kP;  // 16-bit words of one key or value tile
  constexpr int kSteps = D / 16;     // k-steps of q kᵀ over the head dim
  constexpr int kOut = D / 8;        // 8-wide column blocks of the output
  constexpr int kScore = kBlockN / 8;  // 8-wide key blocks of a score tile
  constexpr float kLog2e = 1.4426950408889634f;
  extern __shared__ __align__(16) uint16_t smem[];
  uint16_t* const qs = smem;
  uint16_t* const ks = smem + kBlockM * kP;              // two stages
  uint16_t* const vs = smem + kBlockM * kP + 2 * kTile;  // two stages
  float* const maskS = reinterpret_cast<float*>(smem + kBlockM * kP + 4 * kTile);  // two stages of kBlockN

  const int64_t queryTiles = (p.l + kBlockM - 1) / kBlockM;
  int64_t item = blockIdx.x / queryTiles;
  const int64_t q0 = (blockIdx.x % queryTiles) * kBlockM;
  int64_t qo = 0, ko = 0, vo = 0, oo = 0, mo = 0;
  for (int d = p.batchRank - 1; d >= 0; d--) {
    const int64_t i = item % p.batch[d];
    item /= p.batch[d];
    qo += i * p.qBatch[d];
    ko += i * p.kBatch[d];
    vo += i * p.vBatch[d];
    oo += i * p.outBatch[d];
    mo += i * p.maskBatch[d];
  }
  const uint16_t* q = static_cast<const uint16_t*>(p.q) + qo;
  const uint16_t* k = static_cast<const uint16_t*>(p.k) + ko;
  const uint16_t* v = static_cast<const uint16_t*>(p.v) + vo;
  uint16_t* out = static_cast<uint16_t*>(p.out) + oo;

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  const int r0 = warp * 16 + g;
  const int64_t rows[2] = {q0 + r0, q0 + r0 + 8};
  // ldmatrix addressing: this lane's row (lm % 8) of matrix lm / 8.
  const int lm = lane / 8, lr = lane % 8;

  // The key mask's values for keys [first, first + kBlockN) into stage `st`, as log2-scaled
  // additive terms (-inf: masked, also past s); read after the next __syncthreads.
  auto stageMask = [&](int st, int64_t first) {
    if constexpr (kMode == kKeyMask) {
      for (int i = threadIdx.x; i < kBlockN; i += kThreads) {
        float add = -INFINITY;
        if (first + i < p.s) {
          const float m = LoadMask(p.mask, mo + (first + i) * p.maskCol, p.maskDtype);
          add = p.maskDtype == DType::Bool ? (m != 0.f ? 0.f : -INFINITY) : m * kLog2e;
        }
        maskS[st * kBlockN + i] = add;
      }
    }
  };

  int64_t keyTiles = (p.s + kBlockN - 1) / kBlockN;
  if (p.causal) {
    // Keys after the tile's last query row are masked for every row of it.
    const int64_t needed = (q0 + kBlockM - 1) / kBlockN + 1;
    keyTiles = needed < keyTiles ? needed : keyTiles;
  }
  // Group 0: the query tile and key/value tile 0; group 1: tile 1 (empty when there is none).
  LoadTile<D, kBlockM, kThreads>(qs, q, q0, p.l, p.e, p.qRow);
  for (int st = 0; st < 2; st++) {
    if (st < keyTiles) {
      LoadTile<D, kBlockN, kThreads>(ks + st * kTile, k, st * kBlockN, p.s, p.e, p.kRow);
      LoadTile<D, kBlockN, kThreads>(vs + st * kTile, v, st * kBlockN, p.s, p.ev, p.vRow);
      stageMask(st, st * kBlockN);
    }
    CpAsyncCommit();
  }
  CpAsyncWait<1>();
  __syncthreads();

  // The warp's 16 query rows as A fragments, kept in registers for every key tile.
  uint32_t qf[kSteps][4];
#pragma unroll
  for (int kc = 0; kc < kSteps; kc++) {
    // matrices: (rows +0, k +0), (rows +8, k +0), (rows +0, k +8), (rows +8, k +8)
    Ldmatrix4<false>(SmemAddr(qs + (warp * 16 + (lm % 2) * 8 + lr) * kP + kc * 16 + (lm / 2) * 8), qf[kc][0], qf[kc][1], qf[kc][2], qf[kc][3]);
  }

  float acc[kOut][4];
#pragma unroll
  for (int db = 0; db < kOut; db++) acc[db][0] = acc[db][1] = acc[db][2] = acc[db][3] = 0.f;
  float rowMax[2] = {-INFINITY, -INFINITY};
  float rowSum[2] = {0.f, 0.f};  // this thread's share; the 4 threads of a row add theirs at the end
  const float scale = p.scale * kLog2e;

  for (int64_t tile = 0; tile < keyTiles; tile++) {
    if (tile > 0) {
      CpAsyncWait<1>();  // this tile's group (the most recent one may still be in flight)
      __syncthreads();
    }
    const int64_t k0 = tile * kBlockN;
    const uint16_t* kt = ks + (tile % 2) * kTile;
    const uint16_t* vt = vs + (tile % 2) * kTile;

    // Scores of the warp's 16 rows against the tile's 64 keys.
    float sc[kScore][4];
#pragma unroll
    for (int nb = 0; nb < kScore; nb++) sc[nb][0] = sc[nb][1] = sc[nb][2] = sc[nb][3] = 0.f;
#pragma unroll
    for (int kc = 0; kc < kSteps; kc++) {
#pragma unroll
      for (int nb = 0; nb < kScore; nb += 2) {
        // matrices: (keys nb, k +0), (keys nb, k +8), (keys nb + 1, k +0), (keys nb + 1, k +8)
        uint32_t b0, b1, b2, b3;
        Ldmatrix4<false>(SmemAddr(kt + ((nb + lm / 2) * 8 + lr) * kP + kc * 16 + (lm % 2) * 8), b0, b1, b2, b3);
        Mma<kBf16>(sc[nb], qf[kc], b0, b1);
        Mma<kBf16>(sc[nb + 1], qf[kc], b2, b3);
      }
    }

    // Mask, scale (the general path) and the tile's row maxima (NaN scores are left to propagate
    // through the sums).
    float tileMax[2] = {-INFINITY, -INFINITY};
    if constexpr (kMode == kPlain) {
      if (k0 + kBlockN > p.s) {  // the last tile, partial: keys past s are masked
        const int left = static_cast<int>(p.s - k0);
#pragma unroll
        for (int nb = 0; nb < kScore; nb++) {
#pragma unroll
          for (int i = 0; i < 4; i++) {
            if (nb * 8 + 2 * t + (i & 1) >= left) sc[nb][i] = -INFINITY;
          }
        }
      }
#pragma unroll
      for (int nb = 0; nb < kScore; nb++) {
#pragma unroll
        for (int i = 0; i < 4; i++) tileMax[i >> 1] = fmaxf(tileMax[i >> 1], sc[nb][i]);
      }
    } else if constexpr (kMode == kKeyMask) {
      // The staged mask of this thread's two key columns per block (both of its rows read the same).
      const float* mt = maskS + (tile % 2) * kBlockN + 2 * t;
#pragma unroll
      for (int nb = 0; nb < kScore; nb++) {
        const float2 add = *reinterpret_cast<const float2*>(mt + nb * 8);
        sc[nb][0] = fmaf(sc[nb][0], scale, add.x);
        sc[nb][1] = fmaf(sc[nb][1], scale, add.y);
        sc[nb][2] = fmaf(sc[nb][2], scale, add.x);
        sc[nb][3] = fmaf(sc[nb][3], scale, add.y);
        tileMax[0] = fmaxf(tileMax[0], fmaxf(sc[nb][0], sc[nb][1]));
        tileMax[1] = fmaxf(tileMax[1], fmaxf(sc[nb][2], sc[nb][3]));
      }
    } else {
#pragma unroll
      for (int nb = 0; nb < kScore; nb++) {
#pragma unroll
        for (int i = 0; i < 4; i++) {
          const int r = i >> 1;
          const int64_t j = k0 + nb * 8 + 2 * t + (i & 1);
          float x;
          if (j >= p.s || rows[r] >= p.l || (p.causal && j > rows[r])) {
            x = -INFINITY;
          } else if (p.mask != nullptr) {
            const float m = LoadMask(p.mask, mo + rows[r] * p.maskRow + j * p.maskCol, p.maskDtype);
            x = p.maskDtype == DType::Bool ? (m != 0.f ? sc[nb][i] * scale : -INFINITY) : (sc[nb][i] * p.scale + m) * kLog2e;
          } else {
            x = sc[nb][i] * scale;
          }
          sc[nb][i] = x;
          tileMax[r] = fmaxf(tileMax[r], x);
        }
      }
    }

    // Online softmax: rescale what was accumulated to the new row maxima. base: the row maximum
    // in the exponent's (log2) domain.
    float base[2];
#pragma unroll
    for (int r = 0; r < 2; r++) {
      tileMax[r] = fmaxf(tileMax[r], __shfl_xor_sync(0xffffffff, tileMax[r], 1));
      tileMax[r] = fmaxf(tileMax[r], __shfl_xor_sync(0xffffffff, tileMax[r], 2));
      const float next = fmaxf(rowMax[r], tileMax[r]);
      base[r] = next == -INFINITY ? 0.f : next;  // a row masked so far: exp(-inf - 0) = 0, not NaN
      if constexpr (kMode == kPlain) base[r] *= scale;
      const float alpha = kMode == kPlain ? exp2f(fmaf(rowMax[r], scale, -base[r])) : exp2f(rowMax[r] - base[r]);
      rowMax[r] = next;
      rowSum[r] *= alpha;
#pragma unroll
      for (int db = 0; db < kOut; db++) {
        acc[db][2 * r] *= alpha;
        acc[db][2 * r + 1] *= alpha;
      }
    }

    // Probabilities as A fragments: key block nb fills half nb % 2 of k-step nb / 2.
    uint32_t pf[kBlockN / 16][4];
#pragma unroll
    for (int nb = 0; nb < kScore; nb++) {
      float pr[4];
#pragma unroll
      for (int i = 0; i < 4; i++) {
        pr[i] = kMode == kPlain ? exp2f(fmaf(sc[nb][i], scale, -base[i >> 1])) : exp2f(sc[nb][i] - base[i >> 1]);
        rowSum[i >> 1] += pr[i];
      }
      pf[nb / 2][(nb % 2) * 2] = Pack<kBf16>(pr[0], pr[1]);
      pf[nb / 2][(nb % 2) * 2 + 1] = Pack<kBf16>(pr[2], pr[3]);
    }

    // acc += p · v: B fragments of v (keys along k) through transposing loads.
#pragma unroll
    for (int kc = 0; kc < kBlockN / 16; kc++) {
#pragma unroll
      for (int db = 0; db < kOut; db += 2) {
        // matrices: (keys +0, dims db), (keys +8, dims db), (keys +0, dims db + 1), (keys +8, dims db + 1)
        uint32_t b0, b1, b2, b3;
        Ldmatrix4<true>(SmemAddr(vt + (kc * 16 + (lm % 2) * 8 + lr) * kP + (db + lm / 2) * 8), b0, b1, b2, b3);
        Mma<kBf16>(acc[db], pf[kc], b0, b1);
        Mma<kBf16>(acc[db + 1], pf[kc], b2, b3);
      }
    }
    __syncthreads();  // every warp is done with this stage: tile + 2 may overwrite it
    if (tile + 2 < keyTiles) {
      LoadTile<D, kBlockN, kThreads>(ks + (tile % 2) * kTile, k, (tile + 2) * kBlockN, p.s, p.e, p.kRow);
      LoadTile<D, kBlockN, kThreads>(vs + (tile % 2) * kTile, v, (tile + 2) * kBlockN, p.s, p.ev, p.vRow);
      stageMask(static_cast<int>(tile % 2), (tile + 2) * kBlockN);
    }
    CpAsyncCommit();
  }

#pragma unroll
  for (int r = 0; r < 2; r++) {
    rowSum[r] += __shfl_xor_sync(0xffffffff, rowSum[r], 1);
    rowSum[r] += __shfl_xor_sync(0xffffffff, rowSum[r], 2);
    if (rows[r] >= p.l) continue;
    // A row with every key masked yields 0 (PyTorch's safe softmax); NaN sums stay NaN.
    const bool empty = rowSum[r] == 0.f;
    const float inv = empty ? 0.f : 1.f / rowSum[r];
    uint16_t* o = out + rows[r] * p.outRow;
#pragma unroll
    for (int db = 0; db < kOut; db++) {
      const int col = db * 8 + 2 * t;
      if (col >= p.ev) continue;
      const float lo = empty ? 0.f : acc[db][2 * r] * inv;
      const float hi = empty ? 0.f : acc[db][2 * r + 1] * inv;
      *reinterpret_cast<uint32_t*>(o + col) = Pack<kBf16>(lo, hi);
    }
  }
}

// The padded head dim the kernel is instantiated for.
int PaddedHead(int e, int ev) {
  const int m = e > ev ? e : ev;
  return m <= 32 ? 32 : m <= 64 ? 64 : 128;
}

template <bool kBf16, int D, int kMode, int C>
cudaError_t LaunchKernel(const AttentionParams& p, unsigned blocks, cudaStream_t stream) {
  constexpr int kBytes = SmemBytes<C, D>();
  if constexpr (kBytes > 48 * 1024) {
    // Above the default dynamic shared memory limit (a graph replay launches without this call).
    const cudaError_t err = cudaFuncSetAttribute(AttentionKernel<kBf16, D, kMode, C>, cudaFuncAttributeMaxDynamicSharedMemorySize, kBytes);
    if (err != cudaSuccess) return err;
  }
  AttentionKernel<kBf16, D, kMode, C><<<blocks, kConfigs[C].warps * 32, kBytes, stream>>>(p);
  return cudaGetLastError();
}

template <bool kBf16, int D, int C>
cudaError_t LaunchConfig(const AttentionParams& p, cudaStream_t stream) {
  int64_t items = 1;
  for (int d = 0; d < p.batchRank; d++) items *= p.batch[d];
  constexpr int kBlockM = kConfigs[C].warps * 16;
  const int64_t blocks = items * ((p.l + kBlockM - 1) / kBlockM);
  if (blocks > INT_MAX) return cudaErrorInvalidConfiguration;
  const unsigned n = static_cast<unsigned>(blocks);
  if (!p.causal && p.mask == nullptr && p.scale > 0.f && p.scale <= FLT_MAX) return LaunchKernel<kBf16, D, kPlain, C>(p, n, stream);
  if (!p.causal && p.mask != nullptr && p.maskRow == 0) return LaunchKernel<kBf16, D, kKeyMask, C>(p, n, stream);
  return LaunchKernel<kBf16, D, kGeneral, C>(p, n, stream);
}

template <bool kBf16, int D>
cudaError_t LaunchHead(const AttentionParams& p, int config, cudaStream_t stream) {
  switch (config) {
    case 0: return LaunchConfig<kBf16, D, 0>(p, stream);
    case 1: return LaunchConfig<kBf16, D, 1>(p, stream);
    case 2: return LaunchConfig<kBf16, D, 2>(p, stream);
    default: return LaunchConfig<kBf16, D, 3>(p, stream);
  }
}
static_assert(kConfigCount == 4, "LaunchHead dispatches every configuration");

template <bool kBf16>
cudaError_t Launch(const AttentionParams& p, int config, cudaStream_t stream) {
  switch (PaddedHead(p.e, p.ev)) {
    case 32: return LaunchHead<kBf16, 32>(p, config, stream);
    case 64: return LaunchHead<kBf16, 64>(p, config, stream);
    default: return LaunchHead<kBf16, 128>(p, config, stream);
  }
}

}  // namespace

bool AttentionSupports(DType dtype, int64_t e, int64_t ev) {
  auto head = [](int64_t d) { return d >= kAttentionHeadAlign && d <= kMaxAttentionHead && d % kAttentionHeadAlign == 0; };
  return (dtype == DType::Float16 || dtype == DType::BFloat16) && head(e) && head(ev);
}

int AttentionConfigCount() { return kConfigCount; }

std::string AttentionConfigName(int config, int e, int ev) {
  if (config < 0 || config >= kConfigCount) return "?";
  const Config& c = kConfigs[config];
  return std::to_string(c.warps * 16) + " rows x " + std::to_string(c.blockN) + " keys, registers for " +
         std::to_string(MinBlocksOf(config, PaddedHead(e, ev))) + " CTAs/SM";
}

bool AttentionConfigRepeats(int config, int e, int ev) {
  const int d = PaddedHead(e, ev);
  for (int earlier = 0; earlier < config && earlier < kConfigCount; earlier++) {
    const Config &a = kConfigs[earlier], &b = kConfigs[config];
    if (a.warps == b.warps && a.blockN == b.blockN && MinBlocksOf(earlier, d) == MinBlocksOf(config, d)) return true;
  }
  return false;
}

cudaError_t LaunchAttention(const AttentionParams& p, cudaStream_t stream, int config) {
  if (!AttentionSupports(p.dtype, p.e, p.ev) || config < 0 || config >= kConfigCount) return cudaErrorInvalidValue;
  int64_t items = 1;
  for (int d = 0; d < p.batchRank; d++) items *= p.batch[d];
  if (items == 0 || p.l == 0) return cudaSuccess;
  return p.dtype == DType::BFloat16 ? Launch<true>(p, config, stream) : Launch<false>(p, config, stream);
}

}  // namespace fxrt::kernels
