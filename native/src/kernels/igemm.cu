// The int8 GEMM kernel (igemm.h): a block computes a BM x BN tile of one group's output from
// 64-byte slices of K staged in shared memory (three stages, cp.async where the operands allow
// 16-byte loads), each warp a (BM / WARPS_M) x (BN / WARPS_N) part with mma.sync m16n8k32 s8 from
// ldmatrix fragments; the epilogue runs on the accumulators in registers.
#include "kernels/igemm.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>

#include "kernels/activation.cuh"
#include "kernels/float_convert.cuh"
#include "kernels/quant_math.cuh"

namespace fxrt::kernels {

namespace {

constexpr int kBK = 64;     // bytes of K per stage: one 64-byte row per tile row
constexpr int kStages = 3;
constexpr int64_t kMaxGridY = 65535;

// A float element, or an int8 one (a quantized residual) as its integer value.
__device__ __forceinline__ float LoadFloat(const void* p, int64_t i, DType t) {
  return t == DType::Int8 ? static_cast<float>(static_cast<const int8_t*>(p)[i]) : LoadScale(p, i, t);
}

__device__ __forceinline__ uint32_t SmemAddr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// Byte offset of 16-byte chunk `kc` (0..3) of tile row `row` in a stage: rows of 64 bytes with the
// chunks XOR-swizzled so that the 8 rows one ldmatrix phase reads lie in 8 different bank groups.
__device__ __forceinline__ int Swizzle(int row, int kc) { return row * kBK + ((kc ^ ((row >> 1) & 3)) << 4); }

__device__ __forceinline__ void CpAsync16(uint32_t dst, const void* src, bool valid) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(valid ? 16 : 0));
#endif
}
__device__ __forceinline__ void CpAsyncCommit() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.commit_group;\n" ::);
#endif
}
template <int N>
__device__ __forceinline__ void CpAsyncWait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
#endif
}

__device__ __forceinline__ void Ldmatrix4(uint32_t addr, uint32_t& r0, uint32_t& r1, uint32_t& r2, uint32_t& r3) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
               : "r"(addr));
#endif
}

// c += a (16x32 s8, row) * b (32x8 s8, col), exact in int32.
__device__ __forceinline__ void Mma(int32_t* c, const uint32_t* a, const uint32_t* b) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile(
      "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
      : "+r"(c[0]), "+r"(c[1]), "+r"(c[2]), "+r"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#endif
}

// Where one A row (an output pixel or a matrix row) reads from.
struct RowSource {
  int64_t base;  // element offset of the row (matrix) or of its image and group (conv)
  int ih0, iw0;  // conv: input position of kernel tap (0, 0)
  bool valid;
};

__device__ __forceinline__ RowSource RowOf(const IgemmParams& p, int64_t m, int group) {
  RowSource r{0, 0, 0, m < p.m};
  if (!r.valid) return r;
  if (!p.conv) {
    r.base = m * p.lda;
    return r;
  }
  const IgemmConv& g = p.g;
  const int64_t pixels = static_cast<int64_t>(g.oh) * g.ow;
  const int64_t img = m / pixels;
  const int rem = static_cast<int>(m - img * pixels);
  const int oy = rem / g.ow;
  const int ox = rem - oy * g.ow;
  r.base = img * g.h * g.w * g.c + static_cast<int64_t>(group) * g.cg;
  r.ih0 = oy * g.sh - g.ph;
  r.iw0 = ox * g.sw - g.pw;
  return r;
}

// The A element (row source `r`, reduction index k < p.k) as an element offset, or -1 for padding.
__device__ __forceinline__ int64_t AOffset(const IgemmParams& p, const RowSource& r, int k) {
  if (!p.conv) return r.base + k;
  const IgemmConv& g = p.g;
  const int rs = k / g.cg;
  const int c = k - rs * g.cg;
  const int ky = rs / g.kw;
  const int kx = rs - ky * g.kw;
  const int ih = r.ih0 + ky * g.dh;
  const int iw = r.iw0 + kx * g.dw;
  if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) return -1;
  return r.base + (static_cast<int64_t>(ih) * g.w + iw) * g.c + c;
}

// One output value from its accumulator (the plan's arithmetic, see igemm.h).
__device__ __forceinline__ float OutputValue(const IgemmParams& p, int32_t acc, int64_t row, int col, float sx) {
  const float sw = LoadFloat(p.sw, p.swPerChannel ? col : 0, p.swDtype);
  float y = __fmul_rn(__int2float_rn(acc), __fmul_rn(sx, sw));
  if (p.bias != nullptr) y = __fadd_rn(y, LoadFloat(p.bias, col, p.biasDtype));
  for (int e = 0; e < p.nEpi; e++) {
    const IgemmEpilogueOp& op = p.epi[e];
    switch (op.kind) {
      case IgemmEpilogueKind::Bias: y = __fadd_rn(y, LoadFloat(op.ptr, op.stride * col, op.dtype)); break;
      case IgemmEpilogueKind::Residual: {
        float r = LoadFloat(op.ptr, row * p.ldc + col, op.dtype);
        if (op.scale != nullptr) r = __fmul_rn(LoadFloat(op.scale, op.scalePerChannel ? col : 0, op.scaleDtype), r);
        y = __fadd_rn(y, r);
        break;
      }
      case IgemmEpilogueKind::Activation:
        y = ActivationFn<float>(static_cast<PwActivation>(op.fn), y, op.alpha, op.beta);
        break;
    }
  }
  return y;
}

template <typename T>
__device__ __forceinline__ void StoreFloat(void* out, int64_t i, float v) {
  static_cast<T*>(out)[i] = FromF<T>(v);
}

// Stores columns col and col + 1 (when `two`) of `row`.
__device__ __forceinline__ void StorePair(const IgemmParams& p, int64_t row, int col, float v0, float v1, bool two, float inv,
                                          bool pair) {
  const int64_t i = row * p.ldc + col;
  switch (p.outDtype) {
    case DType::Int8: {
      int8_t* o = static_cast<int8_t*>(p.out);
      const int8_t q0 = Requantize(v0, inv);
      if (two && pair) {
        *reinterpret_cast<char2*>(o + i) = make_char2(q0, Requantize(v1, inv));
      } else {
        o[i] = q0;
        if (two) o[i + 1] = Requantize(v1, inv);
      }
      return;
    }
    case DType::Float16:
      if (two && pair) {
        *reinterpret_cast<__half2*>(static_cast<__half*>(p.out) + i) = __halves2half2(__float2half_rn(v0), __float2half_rn(v1));
        return;
      }
      StoreFloat<__half>(p.out, i, v0);
      if (two) StoreFloat<__half>(p.out, i + 1, v1);
      return;
    case DType::BFloat16:
      if (two && pair) {
        *reinterpret_cast<__nv_bfloat162*>(static_cast<__nv_bfloat16*>(p.out) + i) =
            __halves2bfloat162(__float2bfloat16_rn(v0), __float2bfloat16_rn(v1));
        return;
      }
      StoreFloat<__nv_bfloat16>(p.out, i, v0);
      if (two) StoreFloat<__nv_bfloat16>(p.out, i + 1, v1);
      return;
    default:
      if (two && pair) {
        *reinterpret_cast<float2*>(static_cast<float*>(p.out) + i) = make_float2(v0, v1);
        return;
      }
      StoreFloat<float>(p.out, i, v0);
      if (two) StoreFloat<float>(p.out, i + 1, v1);
      return;
  }
}

template <int BM, int BN, int WARPS_M, int WARPS_N, bool VEC>
__global__ void __launch_bounds__(WARPS_M* WARPS_N * 32)
    IgemmKernel(const __grid_constant__ IgemmParams p, int64_t mBase, bool pair) {
  constexpr int kThreads = WARPS_M * WARPS_N * 32;
  constexpr int WM = BM / WARPS_M;
  constexpr int WN = BN / WARPS_N;
  constexpr int MI = WM / 16;
  constexpr int NI = WN / 8;
  constexpr int CA = BM * 4 / kThreads;  // 16-byte chunks of A per thread per stage
  constexpr int CB = BN * 4 / kThreads;
  constexpr int kRowStep = kThreads / 4;
  static_assert(MI >= 1 && NI % 2 == 0 && CA >= 1 && CB >= 1, "tile shape");

  __shared__ __align__(128) int8_t smem[kStages * (BM + BN) * kBK];
  int8_t* const sA = smem;
  int8_t* const sB = smem + kStages * BM * kBK;

  const int tid = threadIdx.x;
  const int lane = tid & 31;
  const int warp = tid >> 5;
  const int wm0 = (warp / WARPS_N) * WM;
  const int wn0 = (warp % WARPS_N) * WN;
  const int group = blockIdx.z;
  const int n0 = blockIdx.x * BN;
  const int64_t m0 = mBase + static_cast<int64_t>(blockIdx.y) * BM;
  const int kc = tid & 3;

  RowSource rows[CA];
#pragma unroll
  for (int i = 0; i < CA; i++) rows[i] = RowOf(p, m0 + tid / 4 + i * kRowStep, group);
  const int8_t* bRows[CB];
  bool bValid[CB];
#pragma unroll
  for (int i = 0; i < CB; i++) {
    const int n = n0 + tid / 4 + i * kRowStep;
    bValid[i] = n < p.n;
    bRows[i] = p.b + static_cast<int64_t>(group * p.n + (bValid[i] ? n : 0)) * p.k;
  }

  auto load = [&](int stage, int kt) {
    const int k = kt * kBK + kc * 16;
    int8_t* a = sA + stage * BM * kBK;
    int8_t* b = sB + stage * BN * kBK;
    if constexpr (VEC) {
#pragma unroll
      for (int i = 0; i < CA; i++) {
        const int row = tid / 4 + i * kRowStep;
        const int64_t off = rows[i].valid && k < p.k ? AOffset(p, rows[i], k) : -1;
        CpAsync16(SmemAddr(a + Swizzle(row, kc)), off >= 0 ? p.a + off : p.a, off >= 0);
      }
#pragma unroll
      for (int i = 0; i < CB; i++) {
        const int row = tid / 4 + i * kRowStep;
        const bool ok = bValid[i] && k < p.k;
        CpAsync16(SmemAddr(b + Swizzle(row, kc)), ok ? bRows[i] + k : p.b, ok);
      }
    } else {
#pragma unroll
      for (int i = 0; i < CA; i++) {
        const int row = tid / 4 + i * kRowStep;
        uint32_t words[4] = {0, 0, 0, 0};
        if (rows[i].valid) {
          for (int j = 0; j < 16 && k + j < p.k; j++) {
            const int64_t off = AOffset(p, rows[i], k + j);
            if (off >= 0) words[j >> 2] |= static_cast<uint32_t>(static_cast<uint8_t>(p.a[off])) << ((j & 3) * 8);
          }
        }
        *reinterpret_cast<uint4*>(a + Swizzle(row, kc)) = make_uint4(words[0], words[1], words[2], words[3]);
      }
#pragma unroll
      for (int i = 0; i < CB; i++) {
        const int row = tid / 4 + i * kRowStep;
        uint32_t words[4] = {0, 0, 0, 0};
        if (bValid[i]) {
          for (int j = 0; j < 16 && k + j < p.k; j++) {
            words[j >> 2] |= static_cast<uint32_t>(static_cast<uint8_t>(bRows[i][k + j])) << ((j & 3) * 8);
          }
        }
        *reinterpret_cast<uint4*>(b + Swizzle(row, kc)) = make_uint4(words[0], words[1], words[2], words[3]);
      }
    }
  };

  int32_t acc[MI][NI][4];
#pragma unroll
  for (int i = 0; i < MI; i++) {
#pragma unroll
    for (int j = 0; j < NI; j++) {
#pragma unroll
      for (int r = 0; r < 4; r++) acc[i][j][r] = 0;
    }
  }

  const int kTiles = (p.k + kBK - 1) / kBK;
#pragma unroll
  for (int s = 0; s < kStages - 1; s++) {
    if (s < kTiles) load(s, s);
    CpAsyncCommit();
  }
  for (int kt = 0; kt < kTiles; kt++) {
    CpAsyncWait<kStages - 2>();
    __syncthreads();
    const int next = kt + kStages - 1;
    if (next < kTiles) load(next % kStages, next);
    CpAsyncCommit();
    const int stage = kt % kStages;
    const int8_t* a = sA + stage * BM * kBK;
    const int8_t* b = sB + stage * BN * kBK;
#pragma unroll
    for (int ks = 0; ks < 2; ks++) {
      uint32_t af[MI][4];
      uint32_t bf[NI][2];
#pragma unroll
      for (int i = 0; i < MI; i++) {
        const int row = wm0 + i * 16 + ((lane >> 3) & 1) * 8 + (lane & 7);
        Ldmatrix4(SmemAddr(a + Swizzle(row, ks * 2 + (lane >> 4))), af[i][0], af[i][1], af[i][2], af[i][3]);
      }
#pragma unroll
      for (int j = 0; j < NI; j += 2) {
        const int row = wn0 + (j + (lane >> 4)) * 8 + (lane & 7);
        Ldmatrix4(SmemAddr(b + Swizzle(row, ks * 2 + ((lane >> 3) & 1))), bf[j][0], bf[j][1], bf[j + 1][0], bf[j + 1][1]);
      }
#pragma unroll
      for (int i = 0; i < MI; i++) {
#pragma unroll
        for (int j = 0; j < NI; j++) Mma(acc[i][j], af[i], bf[j]);
      }
    }
  }
  CpAsyncWait<0>();

  // Epilogue: accumulator r of fragment (i, j) is row g (+8 for r >= 2), column 2t + (r & 1).
  const float inv = p.outScale != nullptr ? RequantizeFactor(LoadScale(p.outScale, 0, p.outScaleDtype)) : 1.f;
  const int gq = lane >> 2;
  const int tq = lane & 3;
#pragma unroll
  for (int i = 0; i < MI; i++) {
#pragma unroll
    for (int half = 0; half < 2; half++) {
      const int64_t row = m0 + wm0 + i * 16 + gq + half * 8;
      if (row >= p.m) continue;
      const float sx = LoadFloat(p.sx, p.sxRows > 1 ? row % p.sxRows : 0, p.sxDtype);
#pragma unroll
      for (int j = 0; j < NI; j++) {
        const int col = n0 + wn0 + j * 8 + tq * 2;
        if (col >= p.n) continue;
        const int gcol = group * p.n + col;
        const bool two = col + 1 < p.n;
        const float v0 = OutputValue(p, acc[i][j][half * 2], row, gcol, sx);
        const float v1 = two ? OutputValue(p, acc[i][j][half * 2 + 1], row, gcol + 1, sx) : 0.f;
        StorePair(p, row, gcol, v0, v1, two, inv, pair);
      }
    }
  }
}

struct TileConfig {
  const char* name;
  int bm, bn, threads;
};

constexpr TileConfig kTiles[] = {
    {"128x128 tile, 8 warps", 128, 128, 256},
    {"128x64 tile, 8 warps", 128, 64, 256},
    {"64x128 tile, 8 warps", 64, 128, 256},
    {"64x64 tile, 4 warps", 64, 64, 128},
};
constexpr int kTileCount = sizeof(kTiles) / sizeof(kTiles[0]);

template <int BM, int BN, int WARPS_M, int WARPS_N>
cudaError_t LaunchTile(const IgemmParams& p, bool vec, bool pair, cudaStream_t stream) {
  constexpr int kThreads = WARPS_M * WARPS_N * 32;
  const int64_t mTiles = (p.m + BM - 1) / BM;
  const unsigned nTiles = static_cast<unsigned>((p.n + BN - 1) / BN);
  // Rows beyond the grid's y limit run as further launches, each from its own first row.
  for (int64_t t = 0; t < mTiles; t += kMaxGridY) {
    const dim3 grid(nTiles, static_cast<unsigned>(std::min<int64_t>(kMaxGridY, mTiles - t)), static_cast<unsigned>(p.groups));
    if (vec) IgemmKernel<BM, BN, WARPS_M, WARPS_N, true><<<grid, kThreads, 0, stream>>>(p, t * BM, pair);
    else IgemmKernel<BM, BN, WARPS_M, WARPS_N, false><<<grid, kThreads, 0, stream>>>(p, t * BM, pair);
    const cudaError_t err = cudaGetLastError();
    if (err != cudaSuccess) return err;
  }
  return cudaSuccess;
}

bool Aligned(const void* ptr, uintptr_t bytes) { return reinterpret_cast<uintptr_t>(ptr) % bytes == 0; }

}  // namespace

int IgemmTileCount() { return kTileCount; }

const char* IgemmTileName(int tile) { return tile >= 0 && tile < kTileCount ? kTiles[tile].name : "?"; }

int IgemmDefaultTile(const IgemmParams& p, int multiprocessors) {
  // The largest tile that still gives every multiprocessor two blocks; else the smallest.
  const int64_t want = 2 * static_cast<int64_t>(std::max(1, multiprocessors));
  for (int t = 0; t < kTileCount; t++) {
    const int64_t blocks = (p.m + kTiles[t].bm - 1) / kTiles[t].bm * ((p.n + kTiles[t].bn - 1) / kTiles[t].bn) * p.groups;
    if (blocks >= want) return t;
  }
  return kTileCount - 1;
}

bool IgemmVectorLoads(const IgemmParams& p) {
  if (p.k % 16 != 0 || !Aligned(p.a, 16) || !Aligned(p.b, 16)) return false;
  return p.conv ? p.g.cg % 16 == 0 && p.g.c % 16 == 0 : p.lda % 16 == 0;
}

cudaError_t LaunchIgemm(const IgemmParams& p, int tile, cudaStream_t stream) {
  if (p.m == 0 || p.n == 0) return cudaSuccess;
  const bool vec = IgemmVectorLoads(p);
  const bool pair = p.ldc % 2 == 0 && Aligned(p.out, 8);
  switch (tile) {
    case 0: return LaunchTile<128, 128, 2, 4>(p, vec, pair, stream);
    case 1: return LaunchTile<128, 64, 4, 2>(p, vec, pair, stream);
    case 2: return LaunchTile<64, 128, 2, 4>(p, vec, pair, stream);
    case 3: return LaunchTile<64, 64, 2, 2>(p, vec, pair, stream);
    default: return cudaErrorInvalidValue;
  }
}

}  // namespace fxrt::kernels
