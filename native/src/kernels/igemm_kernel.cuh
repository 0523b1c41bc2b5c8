// The int8 GEMM kernel (igemm.h): a block computes a BM x BN tile of one group's output from
// 64-byte slices of K staged in (dynamic) shared memory (cp.async where the operands allow 16-byte
// loads, two stages ahead), either each warp a (BM / WARPS_M) x (BN / WARPS_N) part with mma.sync
// m16n8k32 s8 from ldmatrix fragments, or (Hopper, sm_90a) each warpgroup 64 rows with wgmma
// reading the stages through descriptors. The block's per-column scales and biases are loaded
// before the main loop and a residual tile is prefetched with the first stage; the epilogue reuses
// the pipeline's shared memory as a float tile of rescaled accumulators from which every thread
// finishes four consecutive columns (epilogue ops, requantize) with coalesced stores.
//
// igemm_tma.cuh adds a warp-specialized persistent kernel (TMA producer, wgmma consumers taking
// tiles in turn) for matrix-form problems on Hopper, as further tile configurations.
//
// This header holds the kernel template and its launch; igemm_tile.cu.in instantiates one tile
// configuration (kTiles) per translation unit, so the tiles compile in parallel, and igemm.cu
// has the entry points (igemm.h), the split-K epilogue kernel and the im2col kernel.
#pragma once

#include "kernels/igemm.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <utility>

#include "kernels/activation.cuh"
#include "kernels/chained_launch.cuh"
#include "kernels/float_convert.cuh"
#include "kernels/quant_math.cuh"
#include "kernels/smem_async.cuh"

namespace fxrt::kernels {

namespace {

constexpr int kBK = 64;     // bytes of K per stage: one 64-byte row per tile row
constexpr int kAhead = 2;   // stages loaded ahead of the one being multiplied
// Stages in shared memory: the mma.sync kernel multiplies a stage before the barrier that precedes
// its next load, so kAhead + 1 suffice; the wgmma kernel leaves one group of MMAs in flight across
// that barrier, so the stage it reads is not reloaded until two iterations later.
constexpr int StagesOf(bool wg) { return wg ? kAhead + 2 : kAhead + 1; }
constexpr int64_t kMaxGridY = 65535;

// The problem's K tiles of kBK bytes.
__host__ __device__ __forceinline__ int KTiles(const IgemmParams& p) { return (p.k + kBK - 1) / kBK; }

// Byte offset of 16-byte chunk `kc` (0..3) of tile row `row` in a stage: rows of 64 bytes with the
// chunks XOR-swizzled so that the 8 rows one ldmatrix phase reads lie in 8 different bank groups.
__device__ __forceinline__ int Swizzle(int row, int kc) { return row * kBK + ((kc ^ ((row >> 1) & 3)) << 4); }

// c += a (16x32 s8, row) * b (32x8 s8, col), exact in int32.
__device__ __forceinline__ void Mma(int32_t* c, const uint32_t* a, const uint32_t* b) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile(
      "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
      : "+r"(c[0]), "+r"(c[1]), "+r"(c[2]), "+r"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#endif
}

// Hopper's warpgroup MMA (wgmma, sm_90a only): a warpgroup of 4 warps multiplies a 64 x 32 int8 A
// and an N x 32 int8 B (both K-major) read from shared memory through descriptors, accumulating a
// 64 x N int32 tile in registers asynchronously. The stage layout above is wgmma's 64-byte swizzle
// (16-byte chunk c of row r at chunk c ^ ((r >> 1) & 3) of its 64-byte row, 8-row atoms of 512
// bytes), so both kernels share the loaders. Compiled only where the architecture has it
// (__CUDA_ARCH_FEAT_SM90_ALL); IgemmWgmmaAvailable() asks the loaded kernel image.
#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define FXRT_WGMMA 1
#else
#define FXRT_WGMMA 0
#endif

// Descriptor of a K-major operand at shared address `addr` in the 64-byte swizzle: 8-row groups
// 512 bytes apart (stride byte offset), leading byte offset unused for a swizzled K-major layout.
__device__ __forceinline__ uint64_t WgmmaDesc(uint32_t addr) {
  return static_cast<uint64_t>((addr & 0x3FFFF) >> 4) | (uint64_t{1} << 16) | (uint64_t{512 >> 4} << 32) | (uint64_t{2} << 62);
}

__device__ __forceinline__ void WgmmaFence() {
#if FXRT_WGMMA
  asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#endif
}
__device__ __forceinline__ void WgmmaCommit() {
#if FXRT_WGMMA
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
#endif
}
// Waits until at most N committed groups of this warpgroup's MMAs are pending.
template <int N>
__device__ __forceinline__ void WgmmaWait() {
#if FXRT_WGMMA
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
#endif
}
// Makes this thread's shared-memory writes (st.shared, cp.async) visible to wgmma's async proxy.
__device__ __forceinline__ void FenceProxyAsync() {
#if FXRT_WGMMA
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
#endif
}

#define FXRT_D8(i) "+r"(d[i]), "+r"(d[i + 1]), "+r"(d[i + 2]), "+r"(d[i + 3]), "+r"(d[i + 4]), "+r"(d[i + 5]), "+r"(d[i + 6]), "+r"(d[i + 7])

// d (64 x N, the fragment order of mma.sync m16n8 per 8 columns) += A (64 x 32) * B (N x 32)^T.
template <int N>
__device__ __forceinline__ void Wgmma(int32_t* d, uint64_t descA, uint64_t descB);

template <>
__device__ __forceinline__ void Wgmma<64>(int32_t* d, uint64_t descA, uint64_t descB) {
#if FXRT_WGMMA
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, 1, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n64k32.s32.s8.s8 "
      "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, %32, %33, p;\n}\n"
      : FXRT_D8(0), FXRT_D8(8), FXRT_D8(16), FXRT_D8(24)
      : "l"(descA), "l"(descB));
#else
  __trap();
#endif
}

template <>
__device__ __forceinline__ void Wgmma<128>(int32_t* d, uint64_t descA, uint64_t descB) {
#if FXRT_WGMMA
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, 1, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n128k32.s32.s8.s8 "
      "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
      "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
      "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, %64, %65, p;\n}\n"
      : FXRT_D8(0), FXRT_D8(8), FXRT_D8(16), FXRT_D8(24), FXRT_D8(32), FXRT_D8(40), FXRT_D8(48), FXRT_D8(56)
      : "l"(descA), "l"(descB));
#else
  __trap();
#endif
}
template <>
__device__ __forceinline__ void Wgmma<256>(int32_t* d, uint64_t descA, uint64_t descB) {
#if FXRT_WGMMA
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, 1, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n256k32.s32.s8.s8 "
      "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
      "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
      "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, "
      "%64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, "
      "%80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, "
      "%96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, "
      "%112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127}, %128, %129, p;\n}\n"
      : FXRT_D8(0), FXRT_D8(8), FXRT_D8(16), FXRT_D8(24), FXRT_D8(32), FXRT_D8(40), FXRT_D8(48), FXRT_D8(56), FXRT_D8(64), FXRT_D8(72),
        FXRT_D8(80), FXRT_D8(88), FXRT_D8(96), FXRT_D8(104), FXRT_D8(112), FXRT_D8(120)
      : "l"(descA), "l"(descB));
#else
  __trap();
#endif
}
#undef FXRT_D8

// Where one A row of a convolution (an output pixel) reads from.
struct ConvRow {
  int64_t base;  // element offset of its image and group
  int ih0, iw0;  // input position of kernel tap (0, 0); transposed: oy + ph, ox + pw (ConvOffset divides)
  bool valid;
};

__device__ __forceinline__ ConvRow ConvRowOf(const IgemmParams& p, int64_t m, int group) {
  ConvRow r{0, 0, 0, m < p.m};
  if (!r.valid) return r;
  const IgemmConv& g = p.g;
  const int64_t pixels = static_cast<int64_t>(g.oh) * g.ow;
  const int64_t img = m / pixels;
  const int rem = static_cast<int>(m - img * pixels);
  const int oy = rem / g.ow;
  const int ox = rem - oy * g.ow;
  r.base = img * g.h * g.w * g.c + static_cast<int64_t>(group) * g.cg;
  r.ih0 = g.transposed ? oy + g.ph : oy * g.sh - g.ph;
  r.iw0 = g.transposed ? ox + g.pw : ox * g.sw - g.pw;
  return r;
}

// The input index along one axis of kernel tap t, for an output position whose tap 0 is at o0
// (ConvRow's ih0 / iw0: o * s - pad; transposed: o + pad), with stride s, dilation d and input
// extent `size`; -1 outside the input (transposed: also where the tap falls between input pixels).
__device__ __forceinline__ int TapInput(bool transposed, int o0, int t, int s, int d, int size) {
  int i;
  if (transposed) {
    const int q = o0 - t * d;
    if (q < 0) return -1;
    i = q / s;
    if (i * s != q) return -1;
  } else {
    i = o0 + t * d;
    if (i < 0) return -1;
  }
  return i < size ? i : -1;
}

// The input element of row `r` at kernel tap (ky, kx), channel c of its group, as an element
// offset, or -1 for padding (transposed: also where the tap falls between input pixels).
__device__ __forceinline__ int64_t ConvOffset(const IgemmConv& g, const ConvRow& r, int ky, int kx, int c) {
  const int ih = TapInput(g.transposed, r.ih0, ky, g.sh, g.dh, g.h);
  const int iw = TapInput(g.transposed, r.iw0, kx, g.sw, g.dw, g.w);
  if ((ih | iw) < 0) return -1;
  return r.base + (static_cast<int64_t>(ih) * g.w + iw) * g.c + c;
}

// The reduction index k of a convolution as its kernel tap and channel, advanced in steps without
// dividing (the loaders visit k in increasing order).
struct ConvK {
  int c, kx, ky;
  __device__ __forceinline__ void Set(const IgemmConv& g, int k) {
    const int rs = k / g.cg;
    c = k - rs * g.cg;
    ky = rs / g.kw;
    kx = rs - ky * g.kw;
  }
  __device__ __forceinline__ void Advance(const IgemmConv& g, int step) {
    c += step;
    while (c >= g.cg) {
      c -= g.cg;
      if (++kx == g.kw) {
        kx = 0;
        ++ky;
      }
    }
  }
};

// Shared memory (dynamic): the pipeline's stages, reused by the epilogue as a float tile of
// kRows rows per pass; the block's column vectors; and, when the residual can be prefetched, the
// block's residual tile (copied with cp.async alongside the first stage, so its latency hides behind
// the main loop).
constexpr int kColVecs = 2 + kMaxIgemmEpilogue;  // x scale * weight scale, conv bias, one per epilogue op
constexpr int StagePitch(int bn) { return bn + 8; }  // floats; +8 spreads the fragment rows over the banks
constexpr int StageBytes(int bm, int bn) { return (bm + bn) * kBK; }  // A's BM rows, then B's BN rows
constexpr int PipelineBytes(int bm, int bn, bool wg) { return StagesOf(wg) * StageBytes(bm, bn); }
constexpr int OutTileBytes(int bm, int bn) { return bm * (bn + 16); }  // the register epilogue's int8 tile
constexpr int StagingRows(int bm, int bn, bool wg) {
  int r = bm;
  while (r > 8 && r * StagePitch(bn) * 4 > PipelineBytes(bm, bn, wg)) r /= 2;
  return r;
}
constexpr int ColVecBytes(int bn) { return kColVecs * bn * 4; }

// Element i of a float or int8 tensor as float32 (an int8 residual as its integer value).
__device__ __forceinline__ float LoadElem(const void* ptr, int64_t i, DType t) {
  return t == DType::Int8 ? static_cast<float>(static_cast<const int8_t*>(ptr)[i]) : LoadScale(ptr, i, t);
}

// Four consecutive elements starting at i (4-element aligned when `vec`).
__device__ __forceinline__ void Load4(const void* ptr, int64_t i, DType t, bool vec, int count, float* v) {
  if (vec && count == 4) {
    switch (t) {
      case DType::Int8: {
        const char4 q = *reinterpret_cast<const char4*>(static_cast<const int8_t*>(ptr) + i);
        v[0] = q.x, v[1] = q.y, v[2] = q.z, v[3] = q.w;
        return;
      }
      case DType::Float16: {
        const uint2 u = *reinterpret_cast<const uint2*>(static_cast<const __half*>(ptr) + i);
        const float2 a = __half22float2(*reinterpret_cast<const __half2*>(&u.x));
        const float2 b = __half22float2(*reinterpret_cast<const __half2*>(&u.y));
        v[0] = a.x, v[1] = a.y, v[2] = b.x, v[3] = b.y;
        return;
      }
      case DType::Float32: {
        const float4 f = *reinterpret_cast<const float4*>(static_cast<const float*>(ptr) + i);
        v[0] = f.x, v[1] = f.y, v[2] = f.z, v[3] = f.w;
        return;
      }
      default: break;
    }
  }
  for (int q = 0; q < count; q++) v[q] = LoadElem(ptr, i + q, t);
}

// How an int8 output is requantized: quant_math.cuh Requantize with inv, or the fused requantize
// (IgemmParams::fusedRange), whose values are already u (FusedUnit).
struct OutQuant {
  float inv;
  FusedRequant fr;
  bool fused;
};
__device__ __forceinline__ OutQuant OutQuantOf(const IgemmParams& p) {
  OutQuant q{};
  q.inv = p.outScale != nullptr ? RequantizeFactor(LoadScale(p.outScale, 0, p.outScaleDtype)) : 1.f;
  q.fused = p.fusedRange != 0;
  if (q.fused) q.fr = FusedRequantOf(q.inv, p.fusedRange);
  return q;
}
__device__ __forceinline__ int8_t QuantizeOut(float v, const OutQuant& q) { return q.fused ? FusedQuantize(v, q.fr) : Requantize(v, q.inv); }

// Stores `count` (1..4) values at element i of the output, requantized when it is int8.
__device__ __forceinline__ void Store4(const IgemmParams& p, int64_t i, const float* v, int count, const OutQuant& inv, bool vec) {
  if (vec && count == 4) {
    switch (p.outDtype) {
      case DType::Int8:
        *reinterpret_cast<char4*>(static_cast<int8_t*>(p.out) + i) =
            make_char4(QuantizeOut(v[0], inv), QuantizeOut(v[1], inv), QuantizeOut(v[2], inv), QuantizeOut(v[3], inv));
        return;
      case DType::Float16: {
        const __half2 a = __floats2half2_rn(v[0], v[1]);
        const __half2 b = __floats2half2_rn(v[2], v[3]);
        uint2 u;
        u.x = *reinterpret_cast<const uint32_t*>(&a);
        u.y = *reinterpret_cast<const uint32_t*>(&b);
        *reinterpret_cast<uint2*>(static_cast<__half*>(p.out) + i) = u;
        return;
      }
      case DType::Float32:
        *reinterpret_cast<float4*>(static_cast<float*>(p.out) + i) = make_float4(v[0], v[1], v[2], v[3]);
        return;
      default: break;
    }
  }
  for (int q = 0; q < count; q++) {
    switch (p.outDtype) {
      case DType::Int8: static_cast<int8_t*>(p.out)[i + q] = QuantizeOut(v[q], inv); break;
      case DType::Float16: static_cast<__half*>(p.out)[i + q] = __float2half_rn(v[q]); break;
      case DType::BFloat16: static_cast<__nv_bfloat16*>(p.out)[i + q] = __float2bfloat16_rn(v[q]); break;
      default: static_cast<float*>(p.out)[i + q] = v[q]; break;
    }
  }
}

// The epilogue ops in order on N consecutive columns' values y: + a bias vector, + a residual
// (times its scale when int8), an activation. vecOf(e, q): op e's bias or residual scale at column
// q; residualOf(e, r): the N residual values of op e. kReluOnly: the caller knows every activation
// is a relu (FastEpilogue), so the other activations are not compiled in (registers).
template <int N, bool kReluOnly = false, class VecOf, class ResidualOf>
__device__ __forceinline__ void ApplyEpilogue(const IgemmParams& p, float* y, VecOf vecOf, ResidualOf residualOf) {
  for (int e = 0; e < p.nEpi; e++) {
    const IgemmEpilogueOp& op = p.epi[e];
    switch (op.kind) {
      case IgemmEpilogueKind::Bias:
#pragma unroll
        for (int q = 0; q < N; q++) y[q] = __fadd_rn(y[q], vecOf(e, q));
        break;
      case IgemmEpilogueKind::Residual: {
        float r[N];
        residualOf(e, r);
        const bool scaled = op.scale != nullptr;
#pragma unroll
        for (int q = 0; q < N; q++) y[q] = __fadd_rn(y[q], scaled ? __fmul_rn(vecOf(e, q), r[q]) : r[q]);
        break;
      }
      case IgemmEpilogueKind::Activation:
        if (kReluOnly || static_cast<PwActivation>(op.fn) == PwActivation::Relu) {
#pragma unroll
          for (int q = 0; q < N; q++) y[q] = y[q] > 0.f || y[q] != y[q] ? y[q] : 0.f;
        } else {
#pragma unroll
          for (int q = 0; q < N; q++) y[q] = ActivationFn<float>(static_cast<PwActivation>(op.fn), y[q], op.alpha, op.beta);
        }
        break;
    }
  }
}

// Finishes `count` (1..4) consecutive columns lc.. of staged row lrow, output element `at`: the
// epilogue ops, then the store (requantized for an int8 output).
template <int BN, int kPitch>
__device__ __forceinline__ void FinishQuad(const IgemmParams& p, const float* colv, const float* stage, int lrow, int lc, int64_t at,
                                           int count, const OutQuant& inv, bool vec4, int resOp, const int8_t* resTile, int resRow) {
  const float4 f = *reinterpret_cast<const float4*>(stage + lrow * kPitch + lc);
  float y[4] = {f.x, f.y, f.z, f.w};
  ApplyEpilogue<4>(
      p, y, [&](int e, int q) { return colv[(2 + e) * BN + lc + q]; },
      [&](int e, float* r) {
        // The prefetched tile: row resRow of the block, columns lc.. (zero beyond n, unused).
        if (e == resOp) Load4(resTile, static_cast<int64_t>(resRow) * BN + lc, p.epi[e].dtype, true, 4, r);
        else Load4(p.epi[e].ptr, at, p.epi[e].dtype, vec4, count, r);
      });
  Store4(p, at, y, count, inv, vec4);
}

// Split-K within a cluster (IgemmParams::clusterSplit): part `part` of a tile's `splits` parts is
// the cluster's block of that rank. Every part but the first stores its V int4 accumulator
// fragments in its own shared memory (fragment v of thread t at int4 v * kThreads + t: the stores
// and the remote loads are conflict-free runs), the cluster meets at a barrier (release / acquire:
// the stores are visible to the others), the first part adds every other part's fragments into
// its registers through distributed shared memory, and a second barrier keeps the others' shared
// memory alive until it has. Returns whether this block is the first part (which goes on to the
// epilogue). The caller has finished every read of the shared memory it reuses.
template <int V, int kThreads>
__device__ __forceinline__ bool ClusterReduce(int32_t* acc, int8_t* smem, int part, int splits) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  const int tid = threadIdx.x;
  int4* const tile = reinterpret_cast<int4*>(smem);
  __syncthreads();  // every warp is done with the stages
  if (part != 0) {
#pragma unroll
    for (int v = 0; v < V; v++) tile[v * kThreads + tid] = make_int4(acc[v * 4], acc[v * 4 + 1], acc[v * 4 + 2], acc[v * 4 + 3]);
  }
  asm volatile("barrier.cluster.arrive.release.aligned;\nbarrier.cluster.wait.acquire.aligned;\n" ::: "memory");
  if (part == 0) {
    const uint32_t local = SmemAddr(tile + tid);
    for (int r = 1; r < splits; r++) {
      uint32_t remote;
      asm volatile("mapa.shared::cluster.u32 %0, %1, %2;\n" : "=r"(remote) : "r"(local), "r"(r));
#pragma unroll
      for (int v = 0; v < V; v++) {
        int4 x;
        asm volatile("ld.shared::cluster.v4.s32 {%0, %1, %2, %3}, [%4];\n"
                     : "=r"(x.x), "=r"(x.y), "=r"(x.z), "=r"(x.w)
                     : "r"(remote + static_cast<uint32_t>(v * kThreads * 16))
                     : "memory");
        acc[v * 4] += x.x;
        acc[v * 4 + 1] += x.y;
        acc[v * 4 + 2] += x.z;
        acc[v * 4 + 3] += x.w;
      }
    }
  }
  asm volatile("barrier.cluster.arrive.release.aligned;\nbarrier.cluster.wait.acquire.aligned;\n" ::: "memory");
  return part == 0;
#else
  __trap();
  return false;
#endif
}

// WG: the warpgroup MMA (BM / 64 warpgroups, each 64 rows by BN; WARPS_M = BM / 16, WARPS_N = 1, so
// every warp holds the fragments of 16 rows by BN as the mma.sync kernel's would).
template <int BM, int BN, int WARPS_M, int WARPS_N, bool CONV, bool VEC, bool WG>
__global__ void __launch_bounds__(WARPS_M* WARPS_N * 32)
    IgemmKernel(const __grid_constant__ IgemmParams p, int64_t mBase, bool vec4, bool fast, int resOp, int pipe) {
  constexpr int kThreads = WARPS_M * WARPS_N * 32;
  constexpr int kStages = StagesOf(WG);
  constexpr int WM = BM / WARPS_M;
  constexpr int WN = BN / WARPS_N;
  constexpr int MI = WM / 16;
  constexpr int NI = WN / 8;
  constexpr int CA = BM * 4 / kThreads;  // 16-byte chunks of A per thread per stage
  constexpr int CB = BN * 4 / kThreads;
  constexpr int kRowStep = kThreads / 4;
  constexpr int kRows = StagingRows(BM, BN, WG);
  constexpr int kPitch = StagePitch(BN);
  static_assert(MI >= 1 && NI % 2 == 0 && CA >= 1 && CB >= 1, "tile shape");
  static_assert(!WG || (BM % 64 == 0 && WARPS_M == BM / 16 && WARPS_N == 1 && (BN == 64 || BN == 128)), "warpgroup tile shape");
  static_assert(kRows * kPitch * 4 <= PipelineBytes(BM, BN, WG) && BM % kRows == 0, "epilogue staging");
  // Launched chained: everything below reads or writes other kernels' memory.
  WaitForPriorGrids();
  AllowDependentLaunch();

  // wgmma reads the stages through their shared addresses, whose bits the 64-byte swizzle uses: the
  // wgmma kernel starts them at a 1024-byte boundary (LaunchKernel allocates the slack).
  extern __shared__ __align__(16) int8_t dynSmem[];
  int8_t* const smem = dynSmem + (WG ? (1024u - SmemAddr(dynSmem) % 1024u) % 1024u : 0u);
  // Stage s: A's BM rows then B's BN rows at s * StageBytes. `pipe` bytes of them exist: all the
  // stages (and the staged epilogue's tile), or, for the register epilogue and split-K, only the
  // stages a block's K tiles reach (LaunchKernel): small-K problems then fit more blocks per SM.
  const auto stageA = [&](int stage) { return smem + stage * StageBytes(BM, BN); };
  const auto stageB = [&](int stage) { return smem + stage * StageBytes(BM, BN) + BM * kBK; };
  float* const colv = reinterpret_cast<float*>(smem + pipe);
  int8_t* const resTile = smem + pipe + ColVecBytes(BN);

  const int tid = threadIdx.x;
  const int lane = tid & 31;
  const int warp = tid >> 5;
  const int wm0 = (warp / WARPS_N) * WM;
  const int wn0 = (warp % WARPS_N) * WN;
  // z: group * splits + the block's part of K (split-K, IgemmParams::splits; in a cluster, the
  // part is the block's rank in it).
  const int group = p.splits > 1 ? static_cast<int>(blockIdx.z) / p.splits : static_cast<int>(blockIdx.z);
  const int part = p.splits > 1 ? static_cast<int>(blockIdx.z) - group * p.splits : 0;
  const int ktBegin = part * p.kSplitTiles;
  const int n0 = blockIdx.x * BN;
  const int64_t m0 = mBase + static_cast<int64_t>(blockIdx.y) * BM;
  const int kc = tid & 3;

  // Loader state: each thread loads 16-byte chunk kc of CA rows of A and CB rows of B per stage.
  const int8_t* aRows[CA];  // matrix: the row's start, or null beyond m
  ConvRow convRows[CA];     // convolution
  ConvK ck{};
#pragma unroll
  for (int i = 0; i < CA; i++) {
    const int64_t m = m0 + tid / 4 + i * kRowStep;
    if constexpr (CONV) {
      convRows[i] = ConvRowOf(p, m, group);
    } else {
      aRows[i] = m < p.m ? p.a + m * p.lda : nullptr;
    }
  }
  if constexpr (CONV) ck.Set(p.g, ktBegin * kBK + kc * 16);
  const int8_t* bRows[CB];
#pragma unroll
  for (int i = 0; i < CB; i++) {
    const int n = n0 + tid / 4 + i * kRowStep;
    bRows[i] = n < p.n ? p.b + static_cast<int64_t>(group * p.n + n) * p.k : nullptr;
  }

  auto load = [&](int stage, int kt) {
    const int k = kt * kBK + kc * 16;
    int8_t* a = stageA(stage);
    int8_t* b = stageB(stage);
    const bool inK = k < p.k;
    if constexpr (VEC) {
#pragma unroll
      for (int i = 0; i < CA; i++) {
        const int row = tid / 4 + i * kRowStep;
        const int8_t* src = nullptr;
        if constexpr (CONV) {
          if (convRows[i].valid && inK) {
            const int64_t off = ConvOffset(p.g, convRows[i], ck.ky, ck.kx, ck.c);
            if (off >= 0) src = p.a + off;
          }
        } else {
          if (aRows[i] != nullptr && inK) src = aRows[i] + k;
        }
        CpAsync16(SmemAddr(a + Swizzle(row, kc)), src != nullptr ? src : p.a, src != nullptr);
      }
    } else {
#pragma unroll
      for (int i = 0; i < CA; i++) {
        const int row = tid / 4 + i * kRowStep;
        uint32_t words[4] = {0, 0, 0, 0};
        if constexpr (CONV) {
          if (convRows[i].valid) {
            ConvK e = ck;
            for (int j = 0; j < 16 && k + j < p.k; j++) {
              const int64_t off = ConvOffset(p.g, convRows[i], e.ky, e.kx, e.c);
              if (off >= 0) words[j >> 2] |= static_cast<uint32_t>(static_cast<uint8_t>(p.a[off])) << ((j & 3) * 8);
              e.Advance(p.g, 1);
            }
          }
        } else {
          if (aRows[i] != nullptr) {
            for (int j = 0; j < 16 && k + j < p.k; j++) {
              words[j >> 2] |= static_cast<uint32_t>(static_cast<uint8_t>(aRows[i][k + j])) << ((j & 3) * 8);
            }
          }
        }
        *reinterpret_cast<uint4*>(a + Swizzle(row, kc)) = make_uint4(words[0], words[1], words[2], words[3]);
      }
    }
#pragma unroll
    for (int i = 0; i < CB; i++) {
      const int row = tid / 4 + i * kRowStep;
      if constexpr (VEC) {
        const bool ok = bRows[i] != nullptr && inK;
        CpAsync16(SmemAddr(b + Swizzle(row, kc)), ok ? bRows[i] + k : p.b, ok);
      } else {
        uint32_t words[4] = {0, 0, 0, 0};
        if (bRows[i] != nullptr) {
          for (int j = 0; j < 16 && k + j < p.k; j++) {
            words[j >> 2] |= static_cast<uint32_t>(static_cast<uint8_t>(bRows[i][k + j])) << ((j & 3) * 8);
          }
        }
        *reinterpret_cast<uint4*>(b + Swizzle(row, kc)) = make_uint4(words[0], words[1], words[2], words[3]);
      }
    }
    if constexpr (CONV) ck.Advance(p.g, kBK);
  };

  // Column vectors of the block's BN columns: [0] fround(sx * sw) (sw alone when sx is per row),
  // [1] the convolution's bias, [2 + e] epilogue op e's bias or int8 residual scale. In the fused
  // requantize: [0] alpha, [1] beta (quant_math.cuh FusedRequant).
  const bool rowSx = p.sxRows > 1;
  const float sx0 = rowSx ? 0.f : LoadScale(p.sx, 0, p.sxDtype);
  const OutQuant colq = p.fusedRange != 0 ? OutQuantOf(p) : OutQuant{};
  for (int lc = tid; lc < BN; lc += kThreads) {
    const int col = n0 + lc;
    const int gcol = group * p.n + (col < p.n ? col : 0);
    const float sw = LoadScale(p.sw, p.swPerChannel ? gcol : 0, p.swDtype);
    const float bias = p.bias != nullptr ? LoadScale(p.bias, p.biasScalar ? 0 : gcol, p.biasDtype) : 0.f;
    if (colq.fused) {
      colv[lc] = FusedAlpha(__fmul_rn(sx0, sw), colq.fr);
      colv[BN + lc] = FusedBeta(bias, colq.fr);
      continue;  // no epilogue ops
    }
    colv[lc] = rowSx ? sw : __fmul_rn(sx0, sw);
    colv[BN + lc] = bias;
    for (int e = 0; e < p.nEpi; e++) {
      const IgemmEpilogueOp& op = p.epi[e];
      float v = 0.f;
      if (op.kind == IgemmEpilogueKind::Bias) v = LoadScale(op.ptr, op.stride * gcol, op.dtype);
      else if (op.kind == IgemmEpilogueKind::Residual && op.scale != nullptr) v = LoadScale(op.scale, op.scalePerChannel ? gcol : 0, op.scaleDtype);
      colv[(2 + e) * BN + lc] = v;
    }
  }

  // The residual tile [BM, BN] of the prefetched residual op, 16-byte chunks, rows beyond m and
  // columns beyond n zero-filled; part of the first stage's cp.async group.
  auto prefetchResidual = [&]() {
    if (resOp < 0 || part != 0) return;  // in a cluster split, the first part finishes the tile
    const IgemmEpilogueOp& op = p.epi[resOp];
    const int size = static_cast<int>(ItemSize(op.dtype));
    const int chunksPerRow = BN * size / 16;
    const int64_t col0 = static_cast<int64_t>(group) * p.n + n0;
    for (int c = tid; c < BM * chunksPerRow; c += kThreads) {
      const int row = c / chunksPerRow;
      const int cc = c - row * chunksPerRow;
      const int64_t m = m0 + row;
      const bool ok = m < p.m && n0 + cc * 16 / size < p.n;
      const int8_t* src = static_cast<const int8_t*>(op.ptr) + ((ok ? m * p.ldc + col0 : 0) * size + (ok ? cc * 16 : 0));
      CpAsync16(SmemAddr(resTile + (static_cast<int64_t>(row) * BN * size + cc * 16)), src, ok);
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

  // This block's K tiles: all of them, or its part of a split.
  const int kTilesAll = KTiles(p);
  const int kTiles = p.splits > 1 ? min(p.kSplitTiles, kTilesAll - ktBegin) : kTilesAll;
  prefetchResidual();
#pragma unroll
  for (int s = 0; s < kAhead; s++) {
    if (s < kTiles) load(s, ktBegin + s);
    CpAsyncCommit();
  }
  for (int kt = 0; kt < kTiles; kt++) {
    CpAsyncWait<kAhead - 1>();
    if constexpr (WG) FenceProxyAsync();
    __syncthreads();
    const int next = kt + kAhead;
    if (next < kTiles) load(next % kStages, ktBegin + next);
    CpAsyncCommit();
    const int stage = kt % kStages;
    const int8_t* a = stageA(stage);
    const int8_t* b = stageB(stage);
    if constexpr (WG) {
      // The whole stage (K = 64) as two k32 steps: the descriptors advance 32 bytes along the rows.
      // One group stays in flight: the previous stage's MMAs are done before this thread passes the
      // next barrier, after which that stage may be reloaded (StagesOf).
      const uint32_t aAddr = SmemAddr(a + (warp >> 2) * 64 * kBK);
      const uint32_t bAddr = SmemAddr(b);
      WgmmaFence();
#pragma unroll
      for (int ks = 0; ks < 2; ks++) Wgmma<BN>(&acc[0][0][0], WgmmaDesc(aAddr + ks * 32), WgmmaDesc(bAddr + ks * 32));
      WgmmaCommit();
      WgmmaWait<1>();
    } else {
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
  }
  if constexpr (WG) WgmmaWait<0>();
  CpAsyncWait<0>();
  const int gq = lane >> 2;
  const int tq = lane & 3;
  const bool hasBias = p.bias != nullptr;
  // fround(fround(acc) * scale), + the convolution's bias, of an accumulator at block column lc
  // (sx: its row's x scale when x is scaled per row).
  // In the fused requantize: u (FusedUnit), which Store4 / QuantizeOut finish.
  const bool fusedOut = p.fusedRange != 0;
  auto rescaled = [&](int32_t acc, float sx, int lc) {
    if (fusedOut) return FusedUnit(acc, colv[lc], colv[BN + lc]);
    const float s = rowSx ? __fmul_rn(sx, colv[lc]) : colv[lc];
    const float y = __fmul_rn(__int2float_rn(acc), s);
    return hasBias ? __fadd_rn(y, colv[BN + lc]) : y;
  };
  // The staged epilogue's second half for pass `pass` (kRows rows of rescaled values in `stage`):
  // every thread finishes four consecutive columns at a time (epilogue ops, requantize or
  // convert, inv: the requantize factor; res: the prefetched residual op or -1) and stores them, a
  // warp writing whole rows.
  float* const stage = reinterpret_cast<float*>(smem);
  auto finishPass = [&](int pass, const OutQuant& inv, int res) {
    constexpr int kQuads = BN / 4;
    for (int idx = tid; idx < kRows * kQuads; idx += kThreads) {
      const int lrow = idx / kQuads;
      const int lc = (idx - lrow * kQuads) * 4;
      const int64_t row = m0 + pass * kRows + lrow;
      const int count = min(4, p.n - (n0 + lc));
      if (row < p.m && count > 0) {
        FinishQuad<BN, kPitch>(p, colv, stage, lrow, lc, row * p.ldc + group * p.n + n0 + lc, count, inv, vec4, res, resTile,
                               pass * kRows + lrow);
      }
    }
  };
  if (p.splits > 1 && p.clusterSplit) {
    // Split-K in a cluster: the first part gathers the others' sums and goes on to the epilogue.
    if (!ClusterReduce<MI * NI, kThreads>(&acc[0][0][0], smem, part, p.splits)) return;
  } else if (p.splits > 1) {
    // Split-K through global memory: add this part's exact int32 sums into the partial tile, then
    // count the part in on the tile's counter (the classic fence-then-count handshake: every
    // thread's atomics are visible device-wide before the count). The last part to arrive reads
    // the complete sums back (from L2: __ldcg) and finishes the tile; the others are done.
#pragma unroll
    for (int i = 0; i < MI; i++) {
#pragma unroll
      for (int half = 0; half < 2; half++) {
        const int64_t row = m0 + wm0 + i * 16 + gq + half * 8;
        if (row >= p.m) continue;
        int32_t* dst = p.partial + row * p.ldc + static_cast<int64_t>(group) * p.n + n0;
#pragma unroll
        for (int j = 0; j < NI; j++) {
#pragma unroll
          for (int q = 0; q < 2; q++) {
            const int lc = wn0 + j * 8 + tq * 2 + q;
            if (n0 + lc < p.n) atomicAdd(dst + lc, acc[i][j][half * 2 + q]);
          }
        }
      }
    }
    __threadfence();
    __syncthreads();
    __shared__ int lastPart;
    if (tid == 0) {
      const int64_t rows64 = (p.m + 63) / 64, cols64 = (p.n + 63) / 64;
      uint32_t* counter = p.splitCounters + (group * rows64 + m0 / 64) * cols64 + n0 / 64;
      lastPart = atomicAdd(counter, 1u) == static_cast<uint32_t>(p.splits - 1);
    }
    __syncthreads();
    if (!lastPart) return;
    __threadfence();
    // The last part finishes the tile from its complete sums through the staged epilogue, reading
    // them row by row (coalesced) rather than into the accumulators' fragment layout.
    const OutQuant inv = OutQuantOf(p);
    for (int pass = 0; pass < BM / kRows; pass++) {
      __syncthreads();  // the pipeline's reads are done / the previous pass's tile consumed
      for (int idx = tid; idx < kRows * BN; idx += kThreads) {
        const int lrow = idx / BN;
        const int lc = idx - lrow * BN;
        const int64_t row = m0 + pass * kRows + lrow;
        const bool inside = row < p.m && n0 + lc < p.n;
        const int32_t sum = inside ? __ldcg(p.partial + row * p.ldc + static_cast<int64_t>(group) * p.n + n0 + lc) : 0;
        stage[lrow * kPitch + lc] = rescaled(sum, rowSx && inside ? LoadScale(p.sx, row % p.sxRows, p.sxDtype) : 0.f, lc);
      }
      __syncthreads();
      finishPass(pass, inv, -1);
    }
    return;
  }
  __syncthreads();  // the pipeline's shared memory now holds the epilogue's staging tile; the residual tile has arrived

  const OutQuant inv = OutQuantOf(p);
  if (fast) {
    // The register epilogue (FastEpilogue): every thread finishes its own accumulators (the same
    // float32 operations, in the same order, as FinishQuad: ApplyEpilogue), requantizes them into an int8 tile in
    // shared memory, and the block stores the tile in 16-byte chunks.
    constexpr int kOutPitch = BN + 16;  // bytes; rows 4 banks apart, 16-byte aligned
    static_assert(BM * kOutPitch == OutTileBytes(BM, BN), "int8 output tile (LaunchKernel allocates it)");
    int8_t* const otile = smem;
#pragma unroll
    for (int i = 0; i < MI; i++) {
#pragma unroll
      for (int half = 0; half < 2; half++) {
        const int lrow = wm0 + i * 16 + gq + half * 8;
        const int64_t row = m0 + lrow;
        const float sx = rowSx && row < p.m ? LoadScale(p.sx, row % p.sxRows, p.sxDtype) : 0.f;
#pragma unroll
        for (int j = 0; j < NI; j++) {
          const int lc = wn0 + j * 8 + tq * 2;
          float y[2] = {rescaled(acc[i][j][half * 2], sx, lc), rescaled(acc[i][j][half * 2 + 1], sx, lc + 1)};
          // FastEpilogue: the only residual is the prefetched tile's (row lrow, columns lc..).
          ApplyEpilogue<2, true>(
              p, y, [&](int e, int q) { return colv[(2 + e) * BN + lc + q]; },
              [&](int e, float* r) {
                for (int q = 0; q < 2; q++) r[q] = LoadElem(resTile, static_cast<int64_t>(lrow) * BN + lc + q, p.epi[e].dtype);
              });
          const uint32_t packed = static_cast<uint8_t>(QuantizeOut(y[0], inv)) | (static_cast<uint32_t>(static_cast<uint8_t>(QuantizeOut(y[1], inv))) << 8);
          *reinterpret_cast<uint16_t*>(otile + lrow * kOutPitch + lc) = static_cast<uint16_t>(packed);
        }
      }
    }
    __syncthreads();
    constexpr int kChunks = BN / 16;
    int8_t* const out = static_cast<int8_t*>(p.out) + static_cast<int64_t>(group) * p.n;
    for (int c = tid; c < BM * kChunks; c += kThreads) {
      const int lrow = c / kChunks;
      const int cc = c - lrow * kChunks;
      const int64_t row = m0 + lrow;
      if (row < p.m && n0 + cc * 16 < p.n) {
        *reinterpret_cast<uint4*>(out + row * p.ldc + n0 + cc * 16) = *reinterpret_cast<const uint4*>(otile + lrow * kOutPitch + cc * 16);
      }
    }
    return;
  }

  // Per pass, the accumulators of kRows rows become fround(fround(acc) * scale) (+ bias) in the
  // staging tile, which finishPass finishes.
  for (int pass = 0; pass < BM / kRows; pass++) {
    __syncthreads();  // column vectors written / the previous pass's tile consumed
#pragma unroll
    for (int i = 0; i < MI; i++) {
#pragma unroll
      for (int half = 0; half < 2; half++) {
        const int lrow = wm0 + i * 16 + gq + half * 8 - pass * kRows;
        if (lrow < 0 || lrow >= kRows) continue;
        const int64_t row = m0 + pass * kRows + lrow;
        const float sx = rowSx && row < p.m ? LoadScale(p.sx, row % p.sxRows, p.sxDtype) : 0.f;
#pragma unroll
        for (int j = 0; j < NI; j++) {
          const int lc = wn0 + j * 8 + tq * 2;
          *reinterpret_cast<float2*>(stage + lrow * kPitch + lc) =
              make_float2(rescaled(acc[i][j][half * 2], sx, lc), rescaled(acc[i][j][half * 2 + 1], sx, lc + 1));
        }
      }
    }
    __syncthreads();
    finishPass(pass, inv, resOp);
  }
}

template <int BM, int BN, int WARPS_M, int WARPS_N, bool WG, bool CONV, bool VEC>
cudaError_t LaunchKernel(const IgemmParams& p, bool vec4, bool fast, int resOp, cudaStream_t stream) {
  constexpr int kThreads = WARPS_M * WARPS_N * 32;
  auto* kernel = IgemmKernel<BM, BN, WARPS_M, WARPS_N, CONV, VEC, WG>;
  const int resBytes = resOp >= 0 ? BM * BN * static_cast<int>(ItemSize(p.epi[resOp].dtype)) : 0;
  // The staged epilogue uses the whole pipeline as its tile; the register epilogue and split-K need
  // only the stages a block's K tiles reach (and the int8 output tile, or the staged epilogue's
  // tile for the last part of a split through global memory).
  // A split in a cluster: its first part runs the epilogue, and every part's shared memory holds
  // the int32 tile its sums pass through.
  const bool cluster = p.splits > 1 && p.clusterSplit;
  int pipe = PipelineBytes(BM, BN, WG);
  if (fast || (p.splits > 1 && !cluster)) {
    const int blockTiles = p.splits > 1 ? p.kSplitTiles : KTiles(p);
    pipe = std::min(blockTiles, StagesOf(WG)) * StageBytes(BM, BN);
    if (fast) pipe = std::max(pipe, OutTileBytes(BM, BN));
    if (p.splits > 1) pipe = std::max(pipe, StagingRows(BM, BN, WG) * StagePitch(BN) * 4);
  }
  if (cluster) pipe = std::max(pipe, BM * BN * 4);
  const int bytes = pipe + ColVecBytes(BN) + resBytes + (WG ? 1024 : 0);
  if (bytes > 48 * 1024) {
    const cudaError_t err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
    if (err != cudaSuccess) return err;
  }
  if (cluster && p.splits > 8) {
    // Clusters beyond the portable 8 blocks (Hopper: 16).
    const cudaError_t err = cudaFuncSetAttribute(kernel, cudaFuncAttributeNonPortableClusterSizeAllowed, 1);
    if (err != cudaSuccess) return err;
  }
  const int64_t mTiles = (p.m + BM - 1) / BM;
  const unsigned nTiles = static_cast<unsigned>((p.n + BN - 1) / BN);
  // Rows beyond the grid's y limit run as further launches, each from its own first row.
  for (int64_t t = 0; t < mTiles; t += kMaxGridY) {
    const dim3 grid(nTiles, static_cast<unsigned>(std::min<int64_t>(kMaxGridY, mTiles - t)), static_cast<unsigned>(p.groups * std::max(1, p.splits)));
    // A split in a cluster: the parts of a tile (consecutive z) are one cluster.
    const cudaError_t err = LaunchChainedEx(kernel, grid, dim3(kThreads), static_cast<size_t>(bytes), stream, cluster ? p.splits : 1, p, t * BM, vec4, fast, resOp, pipe);
    if (err != cudaSuccess) return err;
  }
  return cudaSuccess;
}

template <int BM, int BN, int WARPS_M, int WARPS_N, bool WG = false>
cudaError_t LaunchTile(const IgemmParams& p, bool vec, bool vec4, bool fast, int resOp, cudaStream_t stream) {
  if (p.conv) {
    return vec ? LaunchKernel<BM, BN, WARPS_M, WARPS_N, WG, true, true>(p, vec4, fast, resOp, stream)
               : LaunchKernel<BM, BN, WARPS_M, WARPS_N, WG, true, false>(p, vec4, fast, resOp, stream);
  }
  return vec ? LaunchKernel<BM, BN, WARPS_M, WARPS_N, WG, false, true>(p, vec4, fast, resOp, stream)
             : LaunchKernel<BM, BN, WARPS_M, WARPS_N, WG, false, false>(p, vec4, fast, resOp, stream);
}

}  // namespace

}  // namespace fxrt::kernels

#include "kernels/igemm_tma.cuh"

namespace fxrt::kernels {

// The int8 GEMM's tile configurations: the tactic's tile index is a position in kTiles. `tma`: the
// warp-specialized kernel of igemm_tma.cuh (bm a multiple of its kTmaBM up to 4; warpsM its
// consumer warpgroups), only where TmaPlan admits the problem. New tiles go at the end: a cached
// tactic names its tile by position.
struct TileConfig {
  const char* name;
  int bm, bn, warpsM, warpsN;
  bool wgmma;
  bool tma;
};

constexpr TileConfig kTiles[] = {
    {"128x128 tile, 8 warps", 128, 128, 2, 4, false},
    {"128x64 tile, 8 warps", 128, 64, 4, 2, false},
    {"64x128 tile, 8 warps", 64, 128, 2, 4, false},
    {"64x64 tile, 4 warps", 64, 64, 2, 2, false},
    {"128x128 tile, 4 warps", 128, 128, 2, 2, false},
    {"128x128 tile, 2 warpgroups wgmma", 128, 128, 8, 1, true},
    {"128x64 tile, 2 warpgroups wgmma", 128, 64, 8, 1, true},
    {"64x128 tile, 1 warpgroup wgmma", 64, 128, 4, 1, true},
    {"64x64 tile, 1 warpgroup wgmma", 64, 64, 4, 1, true},
    {"64x256 tile, TMA warp-specialized wgmma", 64, 256, 2, 0, true, true},
    {"64x128 tile, TMA warp-specialized wgmma", 64, 128, 2, 0, true, true},
    {"64x128 tile, TMA warp-specialized wgmma 3 consumers", 64, 128, 3, 0, true, true},
    {"128x128 tile, TMA warp-specialized wgmma", 128, 128, 2, 0, true, true},
    {"128x64 tile, TMA warp-specialized wgmma", 128, 64, 2, 0, true, true},
    {"256x64 tile, TMA warp-specialized wgmma", 256, 64, 2, 0, true, true},
    {"128x64 tile, TMA warp-specialized wgmma 3 consumers", 128, 64, 3, 0, true, true},
    {"64x64 tile, TMA warp-specialized wgmma 4 consumers", 64, 64, 4, 0, true, true},
};
constexpr int kTileCount = sizeof(kTiles) / sizeof(kTiles[0]);

// The main kernel in tile configuration T (resOp: the prefetched residual op, or -1; fast: the
// register epilogue). Instantiated once per T, each in its own translation unit (igemm_tile.cu.in).
template <int T>
cudaError_t LaunchTileAt(const IgemmParams& p, bool vec, bool vec4, bool fast, int resOp, cudaStream_t stream) {
  constexpr TileConfig c = kTiles[T];
  if constexpr (c.tma) {
    return LaunchTmaTile<c.bm, c.bn, c.warpsM>(p, stream);
  } else {
    return LaunchTile<c.bm, c.bn, c.warpsM, c.warpsN, c.wgmma>(p, vec, vec4, fast, resOp, stream);
  }
}

}  // namespace fxrt::kernels
