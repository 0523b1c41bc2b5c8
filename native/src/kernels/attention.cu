#include "kernels/attention.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <climits>

namespace fxrt::kernels {

namespace {

constexpr int kWarps = 4;
constexpr int kThreads = kWarps * 32;
constexpr int kBlockM = kWarps * 16;  // query rows per CTA: each warp owns 16
constexpr int kBlockN = 64;           // key positions per shared-memory tile
static_assert(kBlockM == kBlockN, "LoadTile stages the query tile in a key tile's buffer");

// Shared-memory row pitch of a tile with head dim D (16-bit words): 8 words of padding put the
// rows read by one fragment load in distinct banks.
template <int D>
constexpr int Pitch() {
  return D + 8;
}

__device__ __forceinline__ uint32_t Lds32(const uint16_t* p) { return *reinterpret_cast<const uint32_t*>(p); }

// d += a · b on tensor cores: a 16x16 (row-major fragment), b 16x8 (column fragment), d 16x8 float32.
template <bool kBf16>
__device__ __forceinline__ void Mma(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  if constexpr (kBf16) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  } else {
    asm volatile(
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

// Rows [first, first + 64) of a [count, cols] operand (row stride `rowStride`, contiguous cols)
// into a [64, D] shared tile, 16 bytes per load; rows past `count` and cols past `cols` are zero.
template <int D>
__device__ __forceinline__ void LoadTile(uint16_t* dst, const uint16_t* src, int64_t first, int64_t count, int cols,
                                         int64_t rowStride) {
  constexpr int kChunks = D / 8;
  for (int i = threadIdx.x; i < kBlockN * kChunks; i += kThreads) {
    const int r = i / kChunks, c = i % kChunks;
    uint4 v = make_uint4(0, 0, 0, 0);
    if (first + r < count && c * 8 < cols) v = __ldg(reinterpret_cast<const uint4*>(src + (first + r) * rowStride + c * 8));
    *reinterpret_cast<uint4*>(dst + r * Pitch<D>() + c * 8) = v;
  }
}

// One CTA: query rows [q0, q0 + 64) of one batch item. Thread (warp w, lane = 4g + t) holds, in
// every 16x8 accumulator fragment, rows 16w + g and 16w + g + 8, columns 2t and 2t + 1.
template <bool kBf16, int D>
__global__ void __launch_bounds__(kThreads) AttentionKernel(const AttentionParams p) {
  constexpr int kP = Pitch<D>();
  constexpr int kSteps = D / 16;     // k-steps of q kᵀ over the head dim
  constexpr int kOut = D / 8;        // 8-wide column blocks of the output
  constexpr int kScore = kBlockN / 8;  // 8-wide key blocks of a score tile
  __shared__ __align__(16) uint16_t ks[kBlockN * kP];
  __shared__ __align__(16) uint16_t vs[kBlockN * kP];

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

  // The warp's 16 query rows as A fragments, kept in registers for every key tile.
  LoadTile<D>(ks, q, q0, p.l, p.e, p.qRow);
  __syncthreads();
  uint32_t qf[kSteps][4];
#pragma unroll
  for (int kc = 0; kc < kSteps; kc++) {
    const uint16_t* a = ks + r0 * kP + kc * 16 + 2 * t;
    qf[kc][0] = Lds32(a);
    qf[kc][1] = Lds32(a + 8 * kP);
    qf[kc][2] = Lds32(a + 8);
    qf[kc][3] = Lds32(a + 8 * kP + 8);
  }
  __syncthreads();

  float acc[kOut][4];
#pragma unroll
  for (int db = 0; db < kOut; db++) acc[db][0] = acc[db][1] = acc[db][2] = acc[db][3] = 0.f;
  float rowMax[2] = {-INFINITY, -INFINITY};
  float rowSum[2] = {0.f, 0.f};  // this thread's share; the 4 threads of a row add theirs at the end

  int64_t keyTiles = (p.s + kBlockN - 1) / kBlockN;
  if (p.causal) {
    // Keys after the tile's last query row are masked for every row of it.
    const int64_t needed = (q0 + kBlockM - 1) / kBlockN + 1;
    keyTiles = needed < keyTiles ? needed : keyTiles;
  }
  for (int64_t tile = 0; tile < keyTiles; tile++) {
    const int64_t k0 = tile * kBlockN;
    LoadTile<D>(ks, k, k0, p.s, p.e, p.kRow);
    LoadTile<D>(vs, v, k0, p.s, p.ev, p.vRow);
    __syncthreads();

    // Scores of the warp's 16 rows against the tile's 64 keys.
    float sc[kScore][4];
#pragma unroll
    for (int nb = 0; nb < kScore; nb++) sc[nb][0] = sc[nb][1] = sc[nb][2] = sc[nb][3] = 0.f;
#pragma unroll
    for (int kc = 0; kc < kSteps; kc++) {
#pragma unroll
      for (int nb = 0; nb < kScore; nb++) {
        const uint16_t* b = ks + (nb * 8 + g) * kP + kc * 16 + 2 * t;
        Mma<kBf16>(sc[nb], qf[kc], Lds32(b), Lds32(b + 8));
      }
    }

    // Scale, mask, and the tile's row maxima (NaN scores are left to propagate through the sums).
    float tileMax[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int nb = 0; nb < kScore; nb++) {
#pragma unroll
      for (int i = 0; i < 4; i++) {
        const int r = i >> 1;
        const int64_t j = k0 + nb * 8 + 2 * t + (i & 1);
        float x = sc[nb][i] * p.scale;
        if (j >= p.s || rows[r] >= p.l || (p.causal && j > rows[r])) {
          x = -INFINITY;
        } else if (p.mask != nullptr) {
          const float m = LoadMask(p.mask, mo + rows[r] * p.maskRow + j * p.maskCol, p.maskDtype);
          x = p.maskDtype == DType::Bool ? (m != 0.f ? x : -INFINITY) : x + m;
        }
        sc[nb][i] = x;
        tileMax[r] = fmaxf(tileMax[r], x);
      }
    }

    // Online softmax: rescale what was accumulated to the new row maxima.
    float base[2];
#pragma unroll
    for (int r = 0; r < 2; r++) {
      tileMax[r] = fmaxf(tileMax[r], __shfl_xor_sync(0xffffffff, tileMax[r], 1));
      tileMax[r] = fmaxf(tileMax[r], __shfl_xor_sync(0xffffffff, tileMax[r], 2));
      const float next = fmaxf(rowMax[r], tileMax[r]);
      base[r] = next == -INFINITY ? 0.f : next;  // a row masked so far: exp(-inf - 0) = 0, not NaN
      const float alpha = expf(rowMax[r] - base[r]);
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
        pr[i] = expf(sc[nb][i] - base[i >> 1]);
        rowSum[i >> 1] += pr[i];
      }
      pf[nb / 2][(nb % 2) * 2] = Pack<kBf16>(pr[0], pr[1]);
      pf[nb / 2][(nb % 2) * 2 + 1] = Pack<kBf16>(pr[2], pr[3]);
    }

    // acc += p · v: the B fragment of keys 2t, 2t+1 (and +8) at column g of each 8-wide block.
#pragma unroll
    for (int kc = 0; kc < kBlockN / 16; kc++) {
#pragma unroll
      for (int db = 0; db < kOut; db++) {
        const uint16_t* b = vs + (kc * 16 + 2 * t) * kP + db * 8 + g;
        const uint32_t b0 = static_cast<uint32_t>(b[0]) | (static_cast<uint32_t>(b[kP]) << 16);
        const uint32_t b1 = static_cast<uint32_t>(b[8 * kP]) | (static_cast<uint32_t>(b[9 * kP]) << 16);
        Mma<kBf16>(acc[db], pf[kc], b0, b1);
      }
    }
    __syncthreads();  // the next tile overwrites ks and vs
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

template <bool kBf16>
cudaError_t Launch(const AttentionParams& p, unsigned blocks, cudaStream_t stream) {
  switch (PaddedHead(p.e, p.ev)) {
    case 32: AttentionKernel<kBf16, 32><<<blocks, kThreads, 0, stream>>>(p); break;
    case 64: AttentionKernel<kBf16, 64><<<blocks, kThreads, 0, stream>>>(p); break;
    default: AttentionKernel<kBf16, 128><<<blocks, kThreads, 0, stream>>>(p); break;
  }
  return cudaGetLastError();
}

}  // namespace

bool AttentionSupports(DType dtype, int64_t e, int64_t ev) {
  auto head = [](int64_t d) { return d >= kAttentionHeadAlign && d <= kMaxAttentionHead && d % kAttentionHeadAlign == 0; };
  return (dtype == DType::Float16 || dtype == DType::BFloat16) && head(e) && head(ev);
}

cudaError_t LaunchAttention(const AttentionParams& p, cudaStream_t stream) {
  if (!AttentionSupports(p.dtype, p.e, p.ev)) return cudaErrorInvalidValue;
  int64_t items = 1;
  for (int d = 0; d < p.batchRank; d++) items *= p.batch[d];
  if (items == 0 || p.l == 0) return cudaSuccess;
  const int64_t blocks = items * ((p.l + kBlockM - 1) / kBlockM);
  if (blocks > INT_MAX) return cudaErrorInvalidConfiguration;
  return p.dtype == DType::BFloat16 ? Launch<true>(p, static_cast<unsigned>(blocks), stream)
                                   : Launch<false>(p, static_cast<unsigned>(blocks), stream);
}

}  // namespace fxrt::kernels
