// The int8 GEMM's warp-specialized kernel for Hopper (sm_90a), included by igemm_kernel.cuh after
// the helpers it shares (LoadScale, RequantizeFactor, the wgmma wrappers).
//
// Persistent blocks of NC + 1 warpgroups (3 to 5), one block per multiprocessor, taking output tiles of BM =
// 64 * MB rows by BN columns in turn (the column tiles of one row tile on neighbouring blocks, so
// A's rows come from L2 for all of them). The operands stream from L2 once per tile, A's for every
// column tile and B's for every row tile: taller tiles (MB 2 or 4) read B fewer times (a 64-column
// tile of 64 rows would read as many bytes of B as of A):
//   - warpgroup 0, the producer: one thread moves 128-byte slices of K of A's BM rows and B's BN
//     rows with the tensor memory accelerator (TMA, cp.async.bulk.tensor, 128-byte swizzle) into a
//     ring of shared-memory stages, each completing on its full barrier (an mbarrier counting the
//     bytes). It refills a stage once its empty barrier says the MMAs reading it are done, running
//     ahead across tiles. Two of its other warps store each tile's column vectors (scales, biases)
//     into a slot of shared memory, up to two tiles ahead of the consumer that takes it, and a
//     thread of the last one moves each tile's residual (when the epilogue adds one) into its
//     consumer's residual buffer, so the K slices never wait for an epilogue to free that buffer;
//   - warpgroups 1 to NC (2 to 4), the consumers, take the block's tiles in turn ("ping-pong"): one
//     multiplies its tile with wgmma straight from the stages (MB wgmmas of 64 rows per K step,
//     sharing B) while the other finishes the previous tile, so the tensor cores keep working
//     through the epilogues. The epilogue runs in registers (igemm.h's arithmetic, each op over a
//     whole column chunk of 128 bytes, or 64 where a row of the tile has only 64; relu the only
//     activation), 64 rows at a time, into a swizzled staging tile that a TMA store writes out
//     (rows beyond M and columns beyond N clipped by the tensor map) while the next chunk is staged.
//     Problems without a residual or a per-row x scale run a build of the kernel without that code
//     (PLAIN): compact epilogue code, fewer instruction fetch stalls (fc1 of the seed MLP 6% faster).
//     Where the last wave of tiles is short, such a problem in tiles of two 64-row blocks or more
//     runs that wave in 64-row units, one per block (TAIL, TmaTailSplit): the blocks then finish
//     within a 64-row unit of each other (fc2 of the seed MLP, 2.42 128x128 tiles per block, 10%
//     faster; ResNet-50's last-stage 3x3 convolutions at batch 128 11%). A PLAIN int8 problem with
//     the fused requantize (fusedRange) runs its own build (FUSED): two fused multiply-adds per
//     value, its column vectors' alpha/beta pairs loaded once per 16-byte pair for all the 64-row
//     blocks of a group of two staging tiles, one barrier per group (fc1 9% faster than the fused
//     arithmetic in the general epilogue's chunk loop), each pair loaded one fragment ahead of
//     its use (fc1 5% faster).
// A is a row-major [M, K] matrix (a matrix product, a pointwise convolution, the im2col form) or
// the implicit im2col of a one-group NHWC convolution whose channels are a multiple of 64: the
// TMA's im2col mode then gathers each K slice (128 channels of one kernel tap, or 64 in 64-byte
// rows and swizzle where the channels are not a multiple of 128) for the tile's BM output pixels,
// zeros where the tap falls in the padding. One group, no split of K; TmaPlan says
// whether a problem qualifies. Where the launch reads a matrix A for the last time
// (IgemmParams::aEvictFirst), A's loads carry an evict-first L2 policy, so the dead activation
// leaves L2 before data read again (the seed MLP's next input: its quantize 8.1 -> 5.9 us).
#pragma once

#include <cuda.h>
#include <cudaTypedefs.h>

#include <cstring>

#include "kernels/device_cache.h"
#include <type_traits>

namespace fxrt::kernels {

namespace {

constexpr int kTmaBM = 64;         // rows of one wgmma (a consumer warpgroup's); a tile has MB of them
constexpr int kTmaBK = 128;        // bytes of K per stage: one 128-byte swizzled row per tile row (64 for
                                   // a convolution over 64-channel multiples: 64-byte rows, 64-byte swizzle)
constexpr int kTmaMaxStages = 8;
constexpr int kTmaStageChunk = 64 * 128;  // a consumer's staging tile: 64 rows of one column chunk (up to 128 bytes)
constexpr int kTmaMaxConsumers = 4;
// Column-vector slots: two per consumer, so the column-vector warps fill a consumer's next tile's
// while the consumer still reads its current one.
constexpr int kTmaColSlotsPerConsumer = 2;
constexpr int kTmaBarBytes = 8 * (2 * kTmaMaxStages + (3 + 2 * kTmaColSlotsPerConsumer) * kTmaMaxConsumers);

// Shared-memory layout and problem constants of a launch (host-computed, TmaPlan).
struct TmaLayout {
  int stages;      // ring stages of stageBytes: A's BM rows, then B's BN rows, `slice` bytes each
  int stageBytes;
  int resOff;      // a residual buffer of resBytes per consumer (0: no residual), column boxes of BM rows
  int resBytes;
  int resBoxCols;  // residual columns per box (TmaBoxBytes: 128 bytes, or 64 where a tile row has 64)
  int resBoxBytes; // and its bytes per row
  int resOp;       // the residual epilogue op, or -1
  int stgOff;      // per consumer warpgroup two staging tiles of kTmaStageChunk bytes
  int colOff;      // column-vector slots (kTmaColSlotsPerConsumer per consumer), nVec vectors of BN floats each
  int barOff;      // full[stages], empty[stages], resFull[NC], resEmpty[NC], math[NC], colFull[slots], colEmpty[slots]
  int bytes;       // all of it, from a 1024-byte aligned base
  int nVec;        // 2 + nEpi: x scale * weight scale, the convolution's bias, one per epilogue op
  int nTiles;      // column tiles
  int slice;       // bytes of K per stage: kTmaBK, or 64 (TmaSliceOf)
  int kTiles;      // K slices of `slice` bytes
  int tiles;       // output tiles (TmaPlan keeps them below 2^30)
  // The units the blocks take in turn: the tiles (TmaPlan), or in the TAIL build (TmaTailSplit)
  // tiles 0 .. fullTiles - 1 whole, then each of the last wave's tiles as MB units of one 64-row
  // block.
  int fullTiles;
  int units;
};

// A unit of the TAIL build: its tile and its 64-row block within it (-1: the whole tile). The
// sub-units of a tile go to neighbouring blocks (MB is a power of two: shifts).
template <int MB>
__device__ __forceinline__ int2 TmaTailUnit(const TmaLayout& L, int u) {
  if (u < L.fullTiles) return make_int2(u, -1);
  const int v = u - L.fullTiles;
  return make_int2(L.fullTiles + v / MB, v % MB);
}

#if FXRT_WGMMA
__device__ __forceinline__ void MbarInit(uint32_t bar, int count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
}
// Arrives on the barrier and adds `bytes` to the transaction count its phase waits for.
__device__ __forceinline__ void MbarExpectTx(uint32_t bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}
__device__ __forceinline__ void MbarArrive(uint32_t bar) { asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory"); }
// Waits until the barrier's phase of this parity has completed (a fresh barrier's "previous"
// phase, parity 1, counts as completed).
__device__ __forceinline__ void MbarWait(uint32_t bar, uint32_t parity) {
  uint32_t done = 0;
  do {
    asm volatile(
        "{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}\n"
        : "=r"(done)
        : "r"(bar), "r"(parity)
        : "memory");
  } while (done == 0);
}
// The box of `map` at (c0 = column, c1 = row) into shared memory, completing on `bar`.
__device__ __forceinline__ void TmaLoad(uint32_t dst, const CUtensorMap* map, int c0, int c1, uint32_t bar) {
  asm volatile("cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];\n" ::"r"(dst),
               "l"(map), "r"(c0), "r"(c1), "r"(bar)
               : "memory");
}
// TmaLoad with an L2 cache policy (CreateEvictFirstPolicy).
__device__ __forceinline__ void TmaLoadHinted(uint32_t dst, const CUtensorMap* map, int c0, int c1, uint32_t bar, uint64_t policy) {
  asm volatile("cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes.L2::cache_hint [%0], [%1, {%2, %3}], [%4], %5;\n" ::"r"(dst),
               "l"(map), "r"(c0), "r"(c1), "r"(bar), "l"(policy)
               : "memory");
}
// An L2 cache policy under which the lines a load touches are the first to be evicted.
__device__ __forceinline__ uint64_t CreateEvictFirstPolicy() {
  uint64_t policy = 0;
  asm volatile("createpolicy.fractional.L2::evict_first.b64 %0, 1.0;\n" : "=l"(policy));
  return policy;
}
// The im2col box of `map` (BM output pixels by one K slice of channels, EncodeConvInput) from
// channel c, pixel (n, h, w) (the tap's position at offset 0) with the kernel tap's offsets
// (offW, offH), completing on `bar`.
__device__ __forceinline__ void TmaLoadIm2col(uint32_t dst, const CUtensorMap* map, int c, int w, int h, int n, uint16_t offW, uint16_t offH,
                                              uint32_t bar) {
  asm volatile(
      "cp.async.bulk.tensor.4d.shared::cluster.global.im2col.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3, %4, %5}], [%6], {%7, %8};\n" ::"r"(dst),
      "l"(map), "r"(c), "r"(w), "r"(h), "r"(n), "r"(bar), "h"(offW), "h"(offH)
      : "memory");
}
// Shared memory at `src` into the box of `map` at (c0, c1), in this thread's current bulk group.
__device__ __forceinline__ void TmaStore(const CUtensorMap* map, int c0, int c1, uint32_t src) {
  asm volatile("cp.async.bulk.tensor.2d.global.shared::cta.bulk_group [%0, {%1, %2}], [%3];\n" ::"l"(map), "r"(c0), "r"(c1), "r"(src)
               : "memory");
}
__device__ __forceinline__ void BulkCommit() { asm volatile("cp.async.bulk.commit_group;\n" ::: "memory"); }
// Waits until at most N of this thread's committed bulk groups still read their shared memory.
template <int N>
__device__ __forceinline__ void BulkWaitRead() {
  asm volatile("cp.async.bulk.wait_group.read %0;\n" ::"n"(N) : "memory");
}
// Waits until at most N of this thread's committed bulk groups are still in flight.
template <int N>
__device__ __forceinline__ void BulkWait() {
  asm volatile("cp.async.bulk.wait_group %0;\n" ::"n"(N) : "memory");
}
// A barrier among the 128 threads of one consumer warpgroup (ids 1 .. NC; 0 is __syncthreads').
__device__ __forceinline__ void WarpgroupBarrier(int id) { asm volatile("bar.sync %0, 128;\n" ::"r"(id) : "memory"); }
#endif

// Descriptor of a K-major operand at shared address `addr` (1024-byte aligned, plus a K offset
// within the row) in the 128-byte swizzle: 8-row groups 1024 bytes apart.
__device__ __forceinline__ uint64_t WgmmaDesc128(uint32_t addr) {
  return static_cast<uint64_t>((addr & 0x3FFFF) >> 4) | (uint64_t{1} << 16) | (uint64_t{1024 >> 4} << 32) | (uint64_t{1} << 62);
}

// Byte `byte` (0 .. W - 1) of row `row` in a tile of W-byte rows in the W-byte swizzle, W 128 or
// 64 (the TMA's and wgmma's layouts, from address bits: 16-byte chunk c of row r at chunk c ^ (r %
// 8) in the 128-byte swizzle, c ^ (r / 2 % 4) in the 64-byte one).
template <int W>
__device__ __forceinline__ int Swizzle(int row, int byte) {
  static_assert(W == 128 || W == 64, "128- or 64-byte swizzle");
  return row * W + ((((byte >> 4) ^ (W == 128 ? row : row >> 1)) & (W / 16 - 1)) << 4) + (byte & 15);
}

// Bytes per row of a box of a tile's columns in `size`-byte elements: 128, or 64 where the tile's
// row has only 64 (a box never overhangs the tile, whose edge the tensor map would not clip).
constexpr int TmaBoxBytes(int bn, int size) { return bn * size < 128 ? 64 : 128; }

// The residual pair at columns (lc, lc + 1) of `row` of a residual buffer (boxes of TmaBoxBytes
// bytes by BM rows, in the swizzle of that width), as float32.
template <DType T, int BM, int BN>
__device__ __forceinline__ float2 ResidualPair(const int8_t* buf, int row, int lc) {
  constexpr int size = static_cast<int>(ItemSize(T));
  constexpr int W = TmaBoxBytes(BN, size);
  const int byte = lc * size;
  const int8_t* at = buf + (byte / W) * BM * W + Swizzle<W>(row, byte % W);
  if constexpr (T == DType::Int8) {
    const char2 v = *reinterpret_cast<const char2*>(at);
    return make_float2(static_cast<float>(v.x), static_cast<float>(v.y));
  } else if constexpr (T == DType::Float16) {
    return __half22float2(*reinterpret_cast<const __half2*>(at));
  } else if constexpr (T == DType::BFloat16) {
    return __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(at));
  } else {
    return *reinterpret_cast<const float2*>(at);
  }
}

// y[jj * 4 + h * 2 + q] += (scaled ? scale[col] * r : r) of the residual at rows row0 + 8 h,
// columns col = lc0 + 8 jj + q (`scale`: the op's column vector of the tile).
template <DType T, int BM, int BN, int kJ>
__device__ __forceinline__ void AddResidual(float* y, const int8_t* buf, int row0, int lc0, const float* scale, bool scaled) {
#pragma unroll
  for (int jj = 0; jj < kJ; jj++) {
    const int lc = lc0 + jj * 8;
    const float2 s = scaled ? *reinterpret_cast<const float2*>(scale + lc) : make_float2(1.f, 1.f);
#pragma unroll
    for (int h = 0; h < 2; h++) {
      const float2 r = ResidualPair<T, BM, BN>(buf, row0 + h * 8, lc);
      float* v = y + jj * 4 + h * 2;
      v[0] = __fadd_rn(v[0], scaled ? __fmul_rn(s.x, r.x) : r.x);
      v[1] = __fadd_rn(v[1], scaled ? __fmul_rn(s.y, r.y) : r.y);
    }
  }
}

// requantize(y) (quant_math.cuh Requantize) in the low byte of the returned word (ClampRoundWord).
// lo 0 instead of -128 gives requantize(relu(y)) for a positive finite inv: fround(y * inv) has
// y's sign (a negative y, -inf included, clamps to 0 as relu's 0 requantizes to 0; NaN still
// gives 127), so a relu right before the requantize costs nothing (IgemmTmaKernel's reluFold).
__device__ __forceinline__ uint32_t RequantizeWord(float y, float inv, float lo) { return ClampRoundWord(__fmul_rn(y, inv), lo, 127.f); }
// Two requantized values (RequantizeWord's words) as 16 bits: one byte permute of the words' low
// bytes, no masks or shifts.
__device__ __forceinline__ uint16_t PackBytePair(uint32_t lo, uint32_t hi) { return static_cast<uint16_t>(__byte_perm(lo, hi, 0x0040)); }

// Registers per thread of the producer and of NC consumer warpgroups (setmaxnreg: multiples of 8,
// at most 256). setmaxnreg moves registers within the block's own allocation, the (NC + 1)
// warpgroups at the count the kernel was compiled for (__launch_bounds__: the multiprocessor's 64K
// shared out, in multiples of 8): a consumer that asks for more than the producer gave back waits
// forever. The consumers share what the producer leaves: 232 each for 2, 152 for 3, 112 for 4.
constexpr int TmaLaunchRegs(int nc) { return 65536 / (128 * (nc + 1)) / 8 * 8; }
constexpr int TmaProducerRegs(int nc) { return nc <= 3 ? 40 : 32; }
constexpr int TmaConsumerRegs(int nc) { return std::min(256, (TmaLaunchRegs(nc) * (nc + 1) - TmaProducerRegs(nc)) / nc / 8 * 8); }
constexpr bool TmaRegsFit(int nc) { return TmaProducerRegs(nc) + nc * TmaConsumerRegs(nc) <= (nc + 1) * TmaLaunchRegs(nc); }
static_assert(TmaConsumerRegs(2) == 232 && TmaConsumerRegs(3) == 152 && TmaConsumerRegs(4) == 112, "register budgets");
static_assert(TmaRegsFit(2) && TmaRegsFit(3) && TmaRegsFit(4), "register budget: the block's allocation");

// The fused build's column vectors alpha (v = 0) and beta (v = 1), interleaved by column pairs: for
// an even column c, alpha[c], alpha[c + 1], beta[c], beta[c + 1] are one 16-byte load at
// FusedColumnAt(c, 0).
__device__ __forceinline__ int FusedColumnAt(int col, int v) { return (col >> 1) * 4 + v * 2 + (col & 1); }

// MB: 64-row wgmmas per tile (BM = 64 * MB rows). OUTB: the output's bytes per element (1: int8,
// requantized; 2: float16 or bfloat16; 4: float32). NC: consumer warpgroups (2 to 4). SLICE: bytes
// of K per stage (TmaLayout::slice). PLAIN: an epilogue without a residual and without a per-row x
// scale (the launch picks it where the problem has neither), compiled without their code: the
// consumers' hot epilogue code is then compact, where the general one jumps over the residual's
// four dtype variants and the per-row scale's rescale (instruction fetch stalls). TAIL (PLAIN
// builds with MB > 1 only): the last wave's tiles in 64-row units (TmaTailSplit), whose A rows
// come through tmRes, a map of A (or of the convolution's im2col) in 64-row boxes; a separate
// build, so the others' code stays as compact as it was. FUSED (PLAIN int8 builds only): the fused
// requantize (quant_math.cuh FusedRequant) in place of the general epilogue, with its own order of
// work (the chunks of a unit in groups of two, one barrier per group, FusedColumnAt's vectors).
template <int MB, int BN, int OUTB, int NC, int SLICE, bool PLAIN, bool TAIL = false, bool FUSED = false>
__global__ void __launch_bounds__(128 * (NC + 1), 1)
    IgemmTmaKernel(const __grid_constant__ IgemmParams p, const __grid_constant__ CUtensorMap tmA, const __grid_constant__ CUtensorMap tmB,
                   const __grid_constant__ CUtensorMap tmOut, const __grid_constant__ CUtensorMap tmRes, const TmaLayout L) {
#if FXRT_WGMMA
  static_assert(!TAIL || (PLAIN && MB > 1), "the TAIL build: PLAIN, tiles of two 64-row blocks or more");
  static_assert(!FUSED || (PLAIN && OUTB == 1), "the FUSED build: PLAIN, an int8 output");
  constexpr int BM = kTmaBM * MB;
  extern __shared__ __align__(16) int8_t dynSmem[];
  // The swizzled tiles need 1024-byte alignment (the launch allocates the slack).
  int8_t* const smem = dynSmem + (1024u - SmemAddr(dynSmem) % 1024u) % 1024u;
  const uint32_t base = SmemAddr(smem);
  const uint32_t fullBar = base + L.barOff;
  const uint32_t emptyBar = fullBar + 8 * L.stages;
  const uint32_t resFullBar = emptyBar + 8 * L.stages;  // [NC]: one residual buffer per consumer
  const uint32_t resEmptyBar = resFullBar + 8 * NC;
  const uint32_t mathBar = resEmptyBar + 8 * NC;        // [NC]: a consumer issued the MMAs of a tile
  constexpr int kColSlots = kTmaColSlotsPerConsumer * NC;
  const uint32_t colFullBar = mathBar + 8 * NC;          // [kColSlots]: a slot's column vectors are stored
  const uint32_t colEmptyBar = colFullBar + 8 * kColSlots;  // [kColSlots]: its consumer is done reading them
  float* const colBase = reinterpret_cast<float*>(smem + L.colOff);
  const int tid = threadIdx.x;
  const int wg = tid / 128;
  if (tid == 0) {
    for (int s = 0; s < L.stages; s++) {
      MbarInit(fullBar + 8 * s, 1);
      MbarInit(emptyBar + 8 * s, 1);
    }
    for (int b = 0; b < NC; b++) {
      MbarInit(resFullBar + 8 * b, 1);
      MbarInit(resEmptyBar + 8 * b, 1);
      MbarInit(mathBar + 8 * b, 1);
    }
    for (int c = 0; c < kColSlots; c++) {
      MbarInit(colFullBar + 8 * c, 64);  // the two column-vector warps
      MbarInit(colEmptyBar + 8 * c, 1);
    }
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
  }
  __syncthreads();

  // The block's tiles in order (ordinal i: tile blockIdx.x + i * gridDim.x) go to the consumers in
  // turn (ordinal i to consumer i % NC); their K slices fill the stage ring in that order.
  if (wg == 0) {
    // The producer: registers go to the consumers.
    asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(TmaProducerRegs(NC)));
    if (tid >= 96) {
      // Warp 3, the residual loader: one thread moves each tile's residual into its consumer's
      // residual buffer once the consumer is done with the one before. Apart from the K slices'
      // producer, so those never wait for an epilogue to free a residual buffer.
      if (L.resOp < 0 || tid != 96) return;
      WaitForPriorGrids();
      int ordinal = 0;
      for (int tile = blockIdx.x; tile < L.tiles; tile += gridDim.x, ordinal++) {
        const int n0 = tile % L.nTiles * BN;
        const int m0 = tile / L.nTiles * BM;
        const int rb = ordinal % NC;
        MbarWait(resEmptyBar + 8 * rb, ((ordinal / NC) & 1) ^ 1);
        MbarExpectTx(resFullBar + 8 * rb, L.resBytes);
        for (int b = 0; b * L.resBoxCols < BN; b++) {
          TmaLoad(base + L.resOff + rb * L.resBytes + b * BM * L.resBoxBytes, &tmRes, n0 + b * L.resBoxCols, m0, resFullBar + 8 * rb);
        }
      }
      return;
    }
    if (tid >= 32) {
      // The column-vector warps (1 and 2): each tile's column vectors (x scale * weight scale, the
      // convolution's bias, one per bias or scaled residual epilogue op: igemm_kernel.cuh's colv)
      // into the tile's slot (ordinal modulo kColSlots), ahead of the consumer that takes the
      // tile, so no consumer waits for those loads between its tiles; warp w stores vectors
      // w - 1, w + 1, ... A slot whose previous tile had the same columns keeps its vectors. The
      // x scale may be an output of the kernels before (dynamic quantization).
      WaitForPriorGrids();
      const int lane = tid % 32;
      const int firstVec = tid / 32 - 1;
      const bool rowSx = p.sxRows > 1;
      const float sx0 = rowSx ? 0.f : LoadScale(p.sx, 0, p.sxDtype);
      // The fused requantize's vectors: alpha and beta (quant_math.cuh FusedRequant).
      constexpr bool fused = FUSED;
      const FusedRequant fr = fused ? FusedRequantOf(RequantizeFactor(LoadScale(p.outScale, 0, p.outScaleDtype)), p.fusedRange) : FusedRequant{};
      const int reuseStride = kColSlots * static_cast<int>(gridDim.x);  // tiles between a slot's tiles
      int ordinal = 0;
      for (int u = blockIdx.x; u < L.units; u += gridDim.x, ordinal++) {
        const int slot = ordinal % kColSlots;
        MbarWait(colEmptyBar + 8 * slot, ((ordinal / kColSlots) & 1) ^ 1);
        int tile = u, before = u - reuseStride;  // the tile, and the one the slot held before
        if constexpr (TAIL) {
          tile = TmaTailUnit<MB>(L, u).x;
          if (ordinal >= kColSlots) before = TmaTailUnit<MB>(L, before).x;
        }
        const int nTile = tile % L.nTiles;
        if (ordinal < kColSlots || before % L.nTiles != nTile) {
          float* const colv = colBase + slot * L.nVec * BN;
          const int n0 = nTile * BN;
          // The lane's BN / 32 columns of a vector loaded together (raw bits, converted after),
          // so a vector costs one load latency.
          for (int v = firstVec; v < L.nVec; v += 2) {
            const void* ptr = nullptr;
            DType t = DType::Float32;
            int64_t stride = 0;
            if (v == 0) {
              ptr = p.sw, t = p.swDtype, stride = p.swPerChannel ? 1 : 0;
            } else if (v == 1) {
              ptr = p.bias, t = p.biasDtype, stride = p.biasScalar ? 0 : 1;
            } else {
              const IgemmEpilogueOp& op = p.epi[v - 2];
              if (op.kind == IgemmEpilogueKind::Bias) ptr = op.ptr, t = op.dtype, stride = op.stride;
              else if (op.kind == IgemmEpilogueKind::Residual && op.scale != nullptr) ptr = op.scale, t = op.scaleDtype, stride = op.scalePerChannel ? 1 : 0;
            }
            if (ptr == nullptr && !(fused && v == 1)) continue;  // a vector no consumer reads (beta: c0 without a bias)
            // The lane's column lane + 32 i of vector v (FusedColumnAt in the fused build: lane + 32 i
            // is at FusedColumnAt(lane, v) + 64 i).
            float* const dst = colv + (fused ? FusedColumnAt(lane, v) : v * BN + lane);
            const bool narrow = t == DType::Float16 || t == DType::BFloat16;
            constexpr int kGroup = BN / 32 < 4 ? BN / 32 : 4;  // columns in flight per lane (the warp's 40 registers)
#pragma unroll 1
            for (int i0 = 0; i0 < BN / 32; i0 += kGroup) {
              uint32_t raw[kGroup];
#pragma unroll
              for (int i = 0; i < kGroup; i++) {
                const int col = n0 + lane + 32 * (i0 + i);
                const int64_t at = stride * (col < p.n ? col : 0);
                raw[i] = ptr == nullptr ? 0u : narrow ? static_cast<const uint16_t*>(ptr)[at] : static_cast<const uint32_t*>(ptr)[at];
              }
#pragma unroll
              for (int i = 0; i < kGroup; i++) {
                float x = t == DType::Float16    ? __half2float(__ushort_as_half(static_cast<unsigned short>(raw[i])))
                          : t == DType::BFloat16 ? __uint_as_float(raw[i] << 16)
                                                 : __uint_as_float(raw[i]);
                if (v == 0 && !rowSx) x = __fmul_rn(sx0, x);
                if (fused) x = v == 0 ? FusedAlpha(x, fr) : FusedBeta(x, fr);
                dst[fused ? 64 * (i0 + i) : 32 * (i0 + i)] = x;
              }
            }
          }
        }
        MbarArrive(colFullBar + 8 * slot);
      }
      return;
    }
    if (tid != 0) return;
    // Launched chained (chained_launch.cuh): a constant B (the weights) of the block's first tile
    // goes into the first stages before the wait for the kernels before, whose outputs the A
    // slices are. Each prefetched stage expects its A bytes too.
    // A 64-row unit's stages expect A's bytes for its 64 rows only.
    const auto unitBytes = [&](int sub) { return TAIL && sub >= 0 ? L.stageBytes - (BM - kTmaBM) * SLICE : L.stageBytes; };
    const int2 first = TAIL ? TmaTailUnit<MB>(L, blockIdx.x) : make_int2(static_cast<int>(blockIdx.x), -1);
    const int prefetched = p.bConstant && static_cast<int>(blockIdx.x) < L.units ? min(L.stages, L.kTiles) : 0;
    for (int kt = 0; kt < prefetched; kt++) {
      MbarExpectTx(fullBar + 8 * kt, unitBytes(first.y));
      TmaLoad(base + kt * L.stageBytes + BM * SLICE, &tmB, kt * SLICE, first.x % L.nTiles * BN, fullBar + 8 * kt);
    }
    WaitForPriorGrids();
    AllowDependentLaunch();
    const uint64_t aPolicy = p.aEvictFirst ? CreateEvictFirstPolicy() : 0;
    int s = 0;
    uint32_t phase = 0;
    int ordinal = 0;
    for (int u = blockIdx.x; u < L.units; u += gridDim.x, ordinal++) {
      const int2 unit = TAIL ? TmaTailUnit<MB>(L, u) : make_int2(u, -1);
      const int tile = unit.x;
      const int n0 = tile % L.nTiles * BN;
      const int m0 = tile / L.nTiles * BM + (TAIL && unit.y >= 0 ? unit.y * kTmaBM : 0);
      // A convolution's tile starts at output pixel m0 = (img, oy, ox), whose kernel taps read the
      // input from (oy * sh - ph, ox * sw - pw) plus the tap's offset; K slice kt is channels
      // c0 .. c0 + SLICE - 1 of tap (ky, kx) (k = (ky, kx, c), c a multiple of SLICE).
      int img = 0, y0 = 0, x0 = 0, c0 = 0, kx = 0, ky = 0;
      if (p.conv) {
        const int pixels = p.g.oh * p.g.ow;
        img = m0 / pixels;
        const int rest = m0 - img * pixels;
        const int oy = rest / p.g.ow;
        y0 = oy * p.g.sh - p.g.ph;
        x0 = (rest - oy * p.g.ow) * p.g.sw - p.g.pw;
      }
      for (int kt = 0; kt < L.kTiles; kt++) {
        const bool early = ordinal == 0 && kt < prefetched;  // B loaded, bytes expected
        if (!early) {
          MbarWait(emptyBar + 8 * s, phase ^ 1);
          MbarExpectTx(fullBar + 8 * s, unitBytes(unit.y));
        }
        const uint32_t stage = base + s * L.stageBytes;
        // A 64-row unit's A rows through the 64-row map (TAIL).
        const CUtensorMap* const mapA = TAIL && unit.y >= 0 ? &tmRes : &tmA;
        if (p.conv) {
          TmaLoadIm2col(stage, mapA, c0, x0, y0, img, static_cast<uint16_t>(kx * p.g.dw), static_cast<uint16_t>(ky * p.g.dh), fullBar + 8 * s);
          if ((c0 += SLICE) == p.g.c) {
            c0 = 0;
            if (++kx == p.g.kw) kx = 0, ky++;
          }
        } else {
          if (p.aEvictFirst) TmaLoadHinted(stage, mapA, kt * SLICE, m0, fullBar + 8 * s, aPolicy);
          else TmaLoad(stage, mapA, kt * SLICE, m0, fullBar + 8 * s);
        }
        if (!early) TmaLoad(stage + BM * SLICE, &tmB, kt * SLICE, n0, fullBar + 8 * s);
        if (++s == L.stages) s = 0, phase ^= 1;
      }
    }
    return;
  }

  // The consumers: warpgroup cw (0 .. NC - 1) takes ordinals cw, cw + NC, ... Its main loop waits
  // until the previous ordinal's MMAs are issued (mathBar), so the consumers take turns on the tensor
  // cores, the others finishing their tiles' epilogues meanwhile. They wait for the kernels before
  // first: those may still read the output they store, or write a per-row x scale (dynamic
  // quantization) or the output scale.
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(TmaConsumerRegs(NC)));
  WaitForPriorGrids();
  AllowDependentLaunch();
  const int cw = wg - 1;
  const int ctid = tid - 128 * wg;
  const int warp = ctid >> 5;
  const int lane = ctid & 31;
  const int row0 = warp * 16 + (lane >> 2);  // the thread's rows of the tile: row0, row0 + 8
  const int tq = lane & 3;
  int8_t* const staging = smem + L.stgOff + cw * 2 * kTmaStageChunk;
  const bool rowSx = !PLAIN && p.sxRows > 1;
  const bool hasBias = p.bias != nullptr;
  const float inv = OUTB == 1 ? RequantizeFactor(LoadScale(p.outScale, 0, p.outScaleDtype)) : 1.f;
  // The fused requantize (PLAIN int8 builds only: its problems have no residual and one x scale).
  constexpr bool fused = FUSED;
  const FusedRequant fr = fused ? FusedRequantOf(inv, p.fusedRange) : FusedRequant{};
  const DType resDtype = L.resOp >= 0 ? p.epi[L.resOp].dtype : DType::Int8;
  // A relu as the last epilogue op of an int8 output folds into the requantize's clamp
  // (RequantizeWord), where the requantize factor is positive and finite.
  const bool reluFold = OUTB == 1 && p.nEpi > 0 && p.epi[p.nEpi - 1].kind == IgemmEpilogueKind::Activation && inv > 0.f && inv < INFINITY;
  const int nEpi = reluFold ? p.nEpi - 1 : p.nEpi;
  const float lo = reluFold ? 0.f : -128.f;
  constexpr int kChunkBytes = TmaBoxBytes(BN, OUTB);  // a staged chunk's row
  constexpr int kChunkCols = kChunkBytes / OUTB;      // output columns per chunk
  constexpr int kChunks = BN / kChunkCols;
  constexpr int kJ = kChunkCols / 8;                  // 8-column fragments per chunk
  constexpr int kAcc = BN / 2;                        // accumulators per thread of one 64-row wgmma
  int buf = 0;
  int ordinal = cw;
  // The ring position (stage, phase) of the consumer's next K slice: its first tile's first slice
  // is slice cw * kTiles; after each of its tiles it skips the other consumers' (NC - 1) * kTiles.
  int s = cw * L.kTiles % L.stages;
  uint32_t phase = static_cast<uint32_t>(cw * L.kTiles / L.stages) & 1u;
  const int skip = (NC - 1) * L.kTiles;
  const int skipStages = skip % L.stages;
  const uint32_t skipPhase = static_cast<uint32_t>(skip / L.stages) & 1u;
  // The descriptor of the ring's first stage (shared addresses below 256 KB: stage offsets / 16
  // never carry out of the descriptor's 14-bit address field).
  const uint64_t stageDesc = SLICE == kTmaBK ? WgmmaDesc128(base) : WgmmaDesc(base);
  // One unit of work: output rows m0 .. m0 + 64 * UB - 1 (UB = MB: a whole tile; 1: a 64-row unit
  // of the TAIL build, a separate copy of the code, so each copy's MMAs issue unconditionally)
  // by BN columns from n0, its A rows the first 64 * UB of each stage's BM.
  const auto unitWork = [&](auto rowBlocks, const int n0, const int m0) {
    constexpr int UB = decltype(rowBlocks)::value;
    int32_t acc[UB * kAcc];
#pragma unroll
    for (int i = 0; i < UB * kAcc; i++) acc[i] = 0;
    if (ordinal > 0) MbarWait(mathBar + 8 * ((cw + NC - 1) % NC), ((ordinal - 1) / NC) & 1);
    int prev = -1;
    for (int kt = 0; kt < L.kTiles; kt++) {
      MbarWait(fullBar + 8 * s, phase);
      // The stage's descriptors (128-byte rows in the 128-byte swizzle, or 64-byte rows in the
      // 64-byte one: igemm_kernel.cuh's WgmmaDesc); a descriptor's low bits are the address / 16,
      // so the K steps and 64-row blocks within the stage add their offset / 16 to them.
      const uint64_t descA = stageDesc + static_cast<uint64_t>(s * L.stageBytes >> 4);
      const uint64_t descB = descA + (BM * SLICE >> 4);
      WgmmaFence();
#pragma unroll
      for (int ks = 0; ks < SLICE / 32; ks++) {
#pragma unroll
        for (int mb = 0; mb < UB; mb++) Wgmma<BN>(acc + mb * kAcc, descA + ((mb * kTmaBM * SLICE + ks * 32) >> 4), descB + (ks * 32 >> 4));
      }
      WgmmaCommit();
      // One group stays in flight; the one before it is done, so its stage goes back to the producer.
      WgmmaWait<1>();
      if (prev >= 0 && ctid == 0) MbarArrive(emptyBar + 8 * prev);
      prev = s;
      if (++s == L.stages) s = 0, phase ^= 1;
    }
    // The tile's MMAs are issued: the next consumer's may queue behind them on the tensor cores.
    if (ctid == 0) MbarArrive(mathBar + 8 * cw);
    WgmmaWait<0>();
    if (ctid == 0) MbarArrive(emptyBar + 8 * prev);

    s += skipStages;
    if (s >= L.stages) s -= L.stages, phase ^= 1u;
    phase ^= skipPhase;

    // The epilogue, with the column vectors of the tile's slot.
    const int colSlot = ordinal % kColSlots;
    const float* const colv = colBase + colSlot * L.nVec * BN;
    MbarWait(colFullBar + 8 * colSlot, (ordinal / kColSlots) & 1);
    [[maybe_unused]] const int8_t* const res = smem + L.resOff + cw * L.resBytes;  // read by the general epilogue only
    if (!PLAIN && L.resOp >= 0) MbarWait(resFullBar + 8 * cw, (ordinal / NC) & 1);
    if constexpr (fused) {
      // The fused requantize: two fused multiply-adds per value, u, then its byte. The unit's
      // chunks go in groups of two (both staging tiles: a whole 128x128 or 64x256 tile in one
      // group), each loading its alpha/beta pairs once for all its 64-row blocks and ending in
      // one warpgroup barrier. A group first waits until the stores before it have read the staging
      // tiles (at a unit's first group, stores issued before its main loop: long done).
      constexpr int kGroupBlocks = kChunks == 1 && UB > 1 ? 2 : 1;  // 64-row blocks per group
      static_assert(kGroupBlocks * kChunks <= 2 && UB % kGroupBlocks == 0, "a group fills at most the two staging tiles");
      // The thread's alpha/beta pair of fragment i (chunk i / kJ, 8-column fragment i % kJ):
      // alpha[lc], alpha[lc + 1], beta[lc], beta[lc + 1].
      const auto loadPair = [&](int i) {
        const int lc = (i / kJ) * kChunkCols + (i % kJ) * 8 + tq * 2;
        return *reinterpret_cast<const float4*>(colv + FusedColumnAt(lc, 0));
      };
#pragma unroll
      for (int g0 = 0; g0 < UB; g0 += kGroupBlocks) {
        // Each pair is loaded one fragment ahead of its use, above the previous fragment's staging
        // stores (which the compiler cannot move a shared load across), the first above the barrier:
        // used right after its load, each stalled the first multiply-add on the short scoreboard
        // (fc1: 21.0 -> 20.0 us, igemm_bench, session 31).
        float4 abNext = loadPair(0);
        if (ctid == 0) BulkWaitRead<0>();
        WarpgroupBarrier(1 + cw);
#pragma unroll
        for (int c = 0; c < kChunks; c++) {
#pragma unroll
          for (int jj = 0; jj < kJ; jj++) {
            const float4 ab = abNext;
            if (c * kJ + jj + 1 < kChunks * kJ) abNext = loadPair(c * kJ + jj + 1);
#pragma unroll
            for (int g = 0; g < kGroupBlocks; g++) {
              int8_t* const stg = staging + (g * kChunks + c) * kTmaStageChunk;
              const int32_t* a = acc + (g0 + g) * kAcc + (c * kJ + jj) * 4;
#pragma unroll
              for (int h = 0; h < 2; h++) {
                int8_t* const dst = stg + Swizzle<kChunkBytes>(row0 + h * 8, tq * 2 + jj * 8);
                *reinterpret_cast<uint16_t*>(dst) =
                    PackBytePair(FusedWord(FusedUnit(a[h * 2], ab.x, ab.z), fr), FusedWord(FusedUnit(a[h * 2 + 1], ab.y, ab.w), fr));
              }
            }
          }
        }
        FenceProxyAsync();
        WarpgroupBarrier(1 + cw);
        if (ctid == 0) {
          if (g0 + kGroupBlocks == UB) MbarArrive(colEmptyBar + 8 * colSlot);
#pragma unroll
          for (int g = 0; g < kGroupBlocks; g++) {
#pragma unroll
            for (int c = 0; c < kChunks; c++) {
              TmaStore(&tmOut, n0 + c * kChunkCols, m0 + (g0 + g) * kTmaBM, SmemAddr(staging + (g * kChunks + c) * kTmaStageChunk));
            }
          }
          BulkCommit();
        }
      }
    } else {
#pragma unroll
      for (int mb = 0; mb < UB; mb++) {
        // The tile's rows 64 * mb ...: the thread's rows r0 and r0 + 8 of them.
        const int r0 = mb * kTmaBM + row0;
        float sxr[2] = {0.f, 0.f};
        if (rowSx) {
#pragma unroll
          for (int h = 0; h < 2; h++) {
            const int64_t row = m0 + r0 + h * 8;
            if (row < p.m) sxr[h] = LoadScale(p.sx, row % p.sxRows, p.sxDtype);
          }
        }
#pragma unroll
        for (int c = 0; c < kChunks; c++) {
          int8_t* const stg = staging + buf * kTmaStageChunk;
          // The chunk's values: y[jj * 4 + h * 2 + q] at row r0 + 8 h, column lc0 + 8 jj + q.
          const int lc0 = c * kChunkCols + tq * 2;
          // Rescaled accumulators; the loop is compiled twice (kRowSx), so the per-row x scale's
          // multiply is not paid where there is none.
          float y[kJ * 4];
          const auto rescale = [&](auto kRowSx) {
#pragma unroll
            for (int jj = 0; jj < kJ; jj++) {
              const int32_t* a = acc + mb * kAcc + (c * kJ + jj) * 4;
              const float2 sc = *reinterpret_cast<const float2*>(colv + lc0 + jj * 8);
#pragma unroll
              for (int h = 0; h < 2; h++) {
                const float s0 = decltype(kRowSx)::value ? __fmul_rn(sxr[h], sc.x) : sc.x;
                const float s1 = decltype(kRowSx)::value ? __fmul_rn(sxr[h], sc.y) : sc.y;
                y[jj * 4 + h * 2] = __fmul_rn(__int2float_rn(a[h * 2]), s0);
                y[jj * 4 + h * 2 + 1] = __fmul_rn(__int2float_rn(a[h * 2 + 1]), s1);
              }
            }
          };
          if constexpr (PLAIN) {
            rescale(std::false_type{});
          } else {
            if (rowSx) rescale(std::true_type{});
            else rescale(std::false_type{});
          }
          // + the convolution's bias, then the epilogue ops in order (igemm.h), each over the whole chunk.
          for (int e = -1; e < nEpi; e++) {
            const IgemmEpilogueKind kind = e < 0 ? IgemmEpilogueKind::Bias : p.epi[e].kind;
            if (kind == IgemmEpilogueKind::Bias) {
              if (e < 0 && !hasBias) continue;
              const float* vec = colv + (e < 0 ? 1 : 2 + e) * BN;
#pragma unroll
              for (int jj = 0; jj < kJ; jj++) {
                const float2 b = *reinterpret_cast<const float2*>(vec + lc0 + jj * 8);
#pragma unroll
                for (int h = 0; h < 2; h++) {
                  y[jj * 4 + h * 2] = __fadd_rn(y[jj * 4 + h * 2], b.x);
                  y[jj * 4 + h * 2 + 1] = __fadd_rn(y[jj * 4 + h * 2 + 1], b.y);
                }
              }
            } else if (!PLAIN && kind == IgemmEpilogueKind::Residual) {
              // TmaPlan admits one residual op: the buffer's.
              const float* scale = colv + (2 + e) * BN;
              const bool scaled = p.epi[e].scale != nullptr;
              switch (resDtype) {
                case DType::Int8: AddResidual<DType::Int8, BM, BN, kJ>(y, res, r0, lc0, scale, scaled); break;
                case DType::Float16: AddResidual<DType::Float16, BM, BN, kJ>(y, res, r0, lc0, scale, scaled); break;
                case DType::BFloat16: AddResidual<DType::BFloat16, BM, BN, kJ>(y, res, r0, lc0, scale, scaled); break;
                default: AddResidual<DType::Float32, BM, BN, kJ>(y, res, r0, lc0, scale, scaled); break;
              }
            } else {
              // TmaPlan admits relu as the only activation (NaN stays NaN).
#pragma unroll
              for (int v = 0; v < kJ * 4; v++) y[v] = y[v] > 0.f || y[v] != y[v] ? y[v] : 0.f;
            }
          }
#pragma unroll
          for (int jj = 0; jj < kJ; jj++) {
            const int ob = (tq * 2 + jj * 8) * OUTB;
#pragma unroll
            for (int h = 0; h < 2; h++) {
              int8_t* const dst = stg + Swizzle<kChunkBytes>(row0 + h * 8, ob);
              const float* v = y + jj * 4 + h * 2;
              if constexpr (OUTB == 1) {
                *reinterpret_cast<uint16_t*>(dst) = PackBytePair(RequantizeWord(v[0], inv, lo), RequantizeWord(v[1], inv, lo));
              } else if constexpr (OUTB == 2) {
                if (p.outDtype == DType::BFloat16) {
                  *reinterpret_cast<__nv_bfloat162*>(dst) = __nv_bfloat162(__float2bfloat16_rn(v[0]), __float2bfloat16_rn(v[1]));
                } else {
                  *reinterpret_cast<__half2*>(dst) = __floats2half2_rn(v[0], v[1]);
                }
              } else {
                *reinterpret_cast<float2*>(dst) = make_float2(v[0], v[1]);
              }
            }
          }
          // The staged chunk goes out through the TMA (its reads of shared memory are the async proxy's).
          // Before the barrier, the storing thread waits for the previous chunk's store to have read the
          // other staging tile: past the barrier, the next chunk may overwrite that one.
          FenceProxyAsync();
          if (ctid == 0) BulkWaitRead<0>();
          WarpgroupBarrier(1 + cw);
          if (ctid == 0) {
            // The warpgroup's residual reads are done after its last chunk.
            if (mb == UB - 1 && c == kChunks - 1) {
              if (!PLAIN && L.resOp >= 0) MbarArrive(resEmptyBar + 8 * cw);
              MbarArrive(colEmptyBar + 8 * colSlot);
            }
            TmaStore(&tmOut, n0 + c * kChunkCols, m0 + mb * kTmaBM, SmemAddr(stg));
            BulkCommit();
          }
          buf ^= 1;
        }
      }
    }
  };
  for (int u = blockIdx.x + cw * gridDim.x; u < L.units; u += NC * gridDim.x, ordinal += NC) {
    if constexpr (TAIL) {
      const int2 unit = TmaTailUnit<MB>(L, u);
      if (unit.y >= 0) {
        unitWork(std::integral_constant<int, 1>{}, unit.x % L.nTiles * BN, unit.x / L.nTiles * BM + unit.y * kTmaBM);
        continue;
      }
    }
    unitWork(std::integral_constant<int, MB>{}, u % L.nTiles * BN, u / L.nTiles * BM);
  }
  if (ctid == 0) BulkWait<0>();
#else
  __trap();
#endif
}

// A driver entry point (CUDA 12.0's version) through the runtime: the addon links no driver
// library. Null where the driver lacks it.
template <typename Fn>
Fn DriverEntryPoint(const char* name) {
  void* f = nullptr;
  cudaDriverEntryPointQueryResult status{};
  if (cudaGetDriverEntryPointByVersion(name, &f, 12000, cudaEnableDefault, &status) != cudaSuccess || status != cudaDriverEntryPointSuccess) {
    cudaGetLastError();
    return nullptr;
  }
  return reinterpret_cast<Fn>(f);
}

using TensorMapEncoder = PFN_cuTensorMapEncodeTiled_v12000;
using TensorMapIm2colEncoder = PFN_cuTensorMapEncodeIm2col_v12000;
// The driver's cuTensorMapEncodeTiled and cuTensorMapEncodeIm2col, looked up once.
TensorMapEncoder TmaEncoder() {
  static const TensorMapEncoder fn = DriverEntryPoint<TensorMapEncoder>("cuTensorMapEncodeTiled");
  return fn;
}
TensorMapIm2colEncoder TmaIm2colEncoder() {
  static const TensorMapIm2colEncoder fn = DriverEntryPoint<TensorMapIm2colEncoder>("cuTensorMapEncodeIm2col");
  return fn;
}

CUtensorMapDataType TmaType(DType t) {
  switch (t) {
    case DType::Float16: return CU_TENSOR_MAP_DATA_TYPE_FLOAT16;
    case DType::BFloat16: return CU_TENSOR_MAP_DATA_TYPE_BFLOAT16;
    case DType::Float32: return CU_TENSOR_MAP_DATA_TYPE_FLOAT32;
    default: return CU_TENSOR_MAP_DATA_TYPE_UINT8;
  }
}

// A row-major [rows, cols] matrix of `t` with rows `pitch` elements apart, in boxes of boxBytes
// (128 or 64) by boxRows in the swizzle of that many bytes (zeros read beyond its edges, stores
// there dropped).
bool EncodeMatrix(CUtensorMap* map, const void* ptr, DType t, int64_t cols, int64_t rows, int64_t pitch, int boxRows, int boxBytes = 128) {
  const TensorMapEncoder encode = TmaEncoder();
  if (encode == nullptr) return false;
  const int64_t size = static_cast<int64_t>(ItemSize(t));
  const cuuint64_t dims[2] = {static_cast<cuuint64_t>(cols), static_cast<cuuint64_t>(rows)};
  const cuuint64_t strides[1] = {static_cast<cuuint64_t>(pitch * size)};
  const cuuint32_t box[2] = {static_cast<cuuint32_t>(boxBytes / size), static_cast<cuuint32_t>(boxRows)};
  const cuuint32_t elementStrides[2] = {1, 1};
  return encode(map, TmaType(t), 2, const_cast<void*>(ptr), dims, strides, box, elementStrides, CU_TENSOR_MAP_INTERLEAVE_NONE,
                boxBytes == 128 ? CU_TENSOR_MAP_SWIZZLE_128B : CU_TENSOR_MAP_SWIZZLE_64B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
                CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) == CUDA_SUCCESS;
}

// The bounding box of a convolution's im2col loads on one spatial axis (input size `in`, output
// size `out`, stride, leading padding): from -pad to the last output position's start,
// (out - 1) * stride - pad, which the upper corner gives relative to in - 1.
struct TmaPixelBox {
  int lower, upper;
};
TmaPixelBox PixelBoxOf(int in, int out, int stride, int pad) { return {-pad, (out - 1) * stride - pad - (in - 1)}; }

// Bytes of K per stage for a problem: 64 for a convolution over 64-channel multiples that are not
// 128-channel ones (a slice never spans two kernel taps), else kTmaBK.
int TmaSliceOf(const IgemmParams& p) { return p.conv && p.g.c % kTmaBK != 0 ? 64 : kTmaBK; }

// Whether the TMA's im2col mode gathers the convolution's A operand: not transposed (its taps
// fall between input pixels, which the mode cannot skip), one group of 64-channel
// multiples, the bounding box corners within the 4-D map's [-128, 127], strides up to 8 (its
// traversal strides), the kernel taps' offsets within 8 bits.
bool TmaConvSupported(const IgemmConv& g) {
  if (g.transposed || g.c != g.cg || g.c % 64 != 0 || g.sh > 8 || g.sw > 8) return false;
  if ((g.kh - 1) * g.dh > 255 || (g.kw - 1) * g.dw > 255) return false;
  for (const TmaPixelBox b : {PixelBoxOf(g.h, g.oh, g.sh, g.ph), PixelBoxOf(g.w, g.ow, g.sw, g.pw)}) {
    if (b.lower < -128 || b.lower > 127 || b.upper < -128 || b.upper > 127) return false;
  }
  return true;
}

// The NHWC convolution input (or its strided view) as an im2col map: `pixels` output pixels by
// `slice` channels of one tap per load, in the swizzle of that many bytes (zeros where a tap falls
// outside the input).
bool EncodeConvInput(CUtensorMap* map, const IgemmParams& p, int slice, int pixels) {
  const TensorMapIm2colEncoder encode = TmaIm2colEncoder();
  if (encode == nullptr) return false;
  const IgemmConv& g = p.g;
  const cuuint64_t dims[4] = {static_cast<cuuint64_t>(g.c), static_cast<cuuint64_t>(g.w), static_cast<cuuint64_t>(g.h),
                              static_cast<cuuint64_t>(g.batch)};
  // Dense NHWC, or the strided view of IgemmConv::pixelBytes (pixels that may overlap).
  const cuuint64_t pixel = g.pixelBytes != 0 ? static_cast<cuuint64_t>(g.pixelBytes) : static_cast<cuuint64_t>(g.c);
  const cuuint64_t row = g.rowBytes != 0 ? static_cast<cuuint64_t>(g.rowBytes) : pixel * g.w;
  const cuuint64_t strides[3] = {pixel, row, row * g.h};
  const TmaPixelBox bh = PixelBoxOf(g.h, g.oh, g.sh, g.ph), bw = PixelBoxOf(g.w, g.ow, g.sw, g.pw);
  const int lower[2] = {bw.lower, bh.lower};
  const int upper[2] = {bw.upper, bh.upper};
  const cuuint32_t elementStrides[4] = {1, static_cast<cuuint32_t>(g.sw), static_cast<cuuint32_t>(g.sh), 1};
  return encode(map, CU_TENSOR_MAP_DATA_TYPE_UINT8, 4, const_cast<int8_t*>(p.a), dims, strides, lower, upper, static_cast<cuuint32_t>(slice),
                static_cast<cuuint32_t>(pixels), elementStrides, CU_TENSOR_MAP_INTERLEAVE_NONE, slice == kTmaBK ? CU_TENSOR_MAP_SWIZZLE_128B : CU_TENSOR_MAP_SWIZZLE_64B,
                CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
                CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) == CUDA_SUCCESS;
}

// The device's multiprocessors and its opt-in shared memory per block (the current device, asked
// once per device: every launch and tactic query wants them).
struct TmaDevice {
  int sms = 0, smem = 0;
};
TmaDevice TmaDeviceOf() {
  static std::atomic<int> sms[kCachedDevices], smem[kCachedDevices];
  const int s = CachedPerDevice(sms, [](int device) { return DeviceAttribute(cudaDevAttrMultiProcessorCount, device); });
  const int b = CachedPerDevice(smem, [](int device) { return DeviceAttribute(cudaDevAttrMaxSharedMemoryPerBlockOptin, device); });
  return s > 0 && b > 0 ? TmaDevice{s, b} : TmaDevice{};
}

bool Aligned16(const void* ptr) { return reinterpret_cast<uintptr_t>(ptr) % 16 == 0; }

// Whether the warp-specialized kernel runs the problem with bm x bn tiles, and its layout (for a
// device with `smemLimit` bytes of shared memory per block): the matrix form, or a convolution the
// im2col mode gathers (TmaConvSupported), with one group and no split, 16-byte aligned rows (the
// TMA's strides), relu the only activation, at most one residual, and room for two stages or more.
bool TmaPlan(const IgemmParams& p, int bm, int bn, int nc, int smemLimit, TmaLayout* out) {
  if (p.groups != 1 || p.splits > 1 || p.m >= (int64_t{1} << 31) - bm || (p.conv && !TmaConvSupported(p.g))) return false;
  if (p.k % 16 != 0 || (!p.conv && p.lda % 16 != 0) || !Aligned16(p.b) || (p.a != nullptr && !Aligned16(p.a))) return false;
  const int64_t outSize = static_cast<int64_t>(ItemSize(p.outDtype));
  const bool outOk = p.outDtype == DType::Int8 ? p.outScale != nullptr : IsFloating(p.outDtype);
  if (!outOk || !Aligned16(p.out) || (p.ldc * outSize) % 16 != 0) return false;
  TmaLayout L{};
  L.resOp = -1;
  for (int e = 0; e < p.nEpi; e++) {
    const IgemmEpilogueOp& op = p.epi[e];
    if (op.kind == IgemmEpilogueKind::Activation && static_cast<PwActivation>(op.fn) != PwActivation::Relu) return false;
    if (op.kind != IgemmEpilogueKind::Residual) continue;
    const int64_t size = static_cast<int64_t>(ItemSize(op.dtype));
    if (L.resOp >= 0 || !Aligned16(op.ptr) || (p.ldc * size) % 16 != 0) return false;
    if (op.dtype != DType::Int8 && !IsFloating(op.dtype)) return false;
    L.resOp = e;
    L.resBoxBytes = TmaBoxBytes(bn, static_cast<int>(size));
    L.resBoxCols = L.resBoxBytes / static_cast<int>(size);
    L.resBytes = bn * static_cast<int>(size) * bm;
  }
  L.nVec = 2 + p.nEpi;
  L.slice = TmaSliceOf(p);
  L.stageBytes = (bm + bn) * L.slice;
  const int fixed = nc * (L.resBytes + 2 * kTmaStageChunk + kTmaColSlotsPerConsumer * L.nVec * bn * 4) + kTmaBarBytes + 1024;
  L.stages = std::min(kTmaMaxStages, (smemLimit - fixed) / L.stageBytes);
  if (L.stages < 2) return false;
  L.resOff = L.stages * L.stageBytes;
  L.stgOff = L.resOff + nc * L.resBytes;
  L.colOff = L.stgOff + nc * 2 * kTmaStageChunk;
  L.barOff = L.colOff + nc * kTmaColSlotsPerConsumer * L.nVec * bn * 4;
  L.bytes = L.barOff + kTmaBarBytes;
  L.nTiles = (p.n + bn - 1) / bn;
  L.kTiles = (p.k + L.slice - 1) / L.slice;
  const int64_t tiles = (p.m + bm - 1) / bm * L.nTiles;
  if (tiles >= (int64_t{1} << 30)) return false;
  L.tiles = static_cast<int>(tiles);
  L.fullTiles = L.tiles;
  L.units = L.tiles;
  if (out != nullptr) *out = L;
  return true;
}

// Whether a planned problem runs in the PLAIN build: no residual, a per-tensor x scale.
bool TmaPlainProblem(const IgemmParams& p, const TmaLayout& L) { return L.resOp < 0 && p.sxRows <= 1; }

// Whether the last wave of a launch in `sms` blocks runs in 64-row units (igemm.h's
// IgemmTmaTailParts): a PLAIN problem (L its plan) in tiles of mb > 1 64-row blocks, whose last
// wave of rest tiles fits the blocks as rest * mb units (each block then ends with one 64-row unit
// where it would have ended with a whole tile, or nothing), unless p.unsplitTail. Sets L's
// fullTiles and units.
bool TmaTailSplit(const IgemmParams& p, int mb, int sms, TmaLayout* L) {
  L->fullTiles = L->tiles;
  L->units = L->tiles;
  if (mb < 2 || p.unsplitTail || !TmaPlainProblem(p, *L) || sms <= 0) return false;
  const int rest = L->tiles % sms;
  if (rest == 0 || rest * mb > sms) return false;
  L->fullTiles = L->tiles - rest;
  L->units = L->fullTiles + rest * mb;
  return true;
}

template <int MB, int BN, int OUTB, int NC, int SLICE, bool PLAIN, bool TAIL, bool FUSED = false>
cudaError_t LaunchTmaKernel(const IgemmParams& p, const TmaLayout& L, int sms, cudaStream_t stream) {
  constexpr int BM = kTmaBM * MB;
  CUtensorMap maps[4];
  std::memset(maps, 0, sizeof(maps));
  bool ok = (p.conv ? EncodeConvInput(&maps[0], p, L.slice, BM) : EncodeMatrix(&maps[0], p.a, DType::Int8, p.k, p.m, p.lda, BM)) &&
            EncodeMatrix(&maps[1], p.b, DType::Int8, p.k, p.n, p.k, BN, L.slice) &&
            EncodeMatrix(&maps[2], p.out, p.outDtype, p.n, p.m, p.ldc, kTmaBM, TmaBoxBytes(BN, OUTB));
  if (ok && L.resOp >= 0) ok = EncodeMatrix(&maps[3], p.epi[L.resOp].ptr, p.epi[L.resOp].dtype, p.n, p.m, p.ldc, BM, L.resBoxBytes);
  // The TAIL build's 64-row units read A through a map of 64-row boxes (in the residual's place).
  if (ok && TAIL) ok = p.conv ? EncodeConvInput(&maps[3], p, L.slice, kTmaBM) : EncodeMatrix(&maps[3], p.a, DType::Int8, p.k, p.m, p.lda, kTmaBM);
  if (!ok) return cudaErrorInvalidValue;
  auto* kernel = IgemmTmaKernel<MB, BN, OUTB, NC, SLICE, PLAIN, TAIL, FUSED>;
  const int bytes = L.bytes + 1024;
  cudaError_t err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
  if (err != cudaSuccess) return err;
  const unsigned grid = static_cast<unsigned>(std::min(L.units, std::max(1, sms)));
  return LaunchChainedEx(kernel, dim3(grid), dim3(128 * (NC + 1)), static_cast<size_t>(bytes), stream, 1, p, maps[0], maps[1], maps[2], maps[3], L);
}

// The kernel for the problem's output element size and K slice.
template <int MB, int BN, int NC, bool PLAIN, bool TAIL = false>
cudaError_t LaunchTmaOut(const IgemmParams& p, const TmaLayout& L, int sms, cudaStream_t stream) {
  const bool wide = L.slice == kTmaBK;
  switch (ItemSize(p.outDtype)) {
    case 1:
      if constexpr (PLAIN) {
        // The fused requantize's own build (LaunchTmaTile admits it on PLAIN int8 problems only).
        if (p.fusedRange != 0) {
          return wide ? LaunchTmaKernel<MB, BN, 1, NC, kTmaBK, true, TAIL, true>(p, L, sms, stream) : LaunchTmaKernel<MB, BN, 1, NC, 64, true, TAIL, true>(p, L, sms, stream);
        }
      }
      return wide ? LaunchTmaKernel<MB, BN, 1, NC, kTmaBK, PLAIN, TAIL>(p, L, sms, stream) : LaunchTmaKernel<MB, BN, 1, NC, 64, PLAIN, TAIL>(p, L, sms, stream);
    case 2: return wide ? LaunchTmaKernel<MB, BN, 2, NC, kTmaBK, PLAIN, TAIL>(p, L, sms, stream) : LaunchTmaKernel<MB, BN, 2, NC, 64, PLAIN, TAIL>(p, L, sms, stream);
    default: return wide ? LaunchTmaKernel<MB, BN, 4, NC, kTmaBK, PLAIN, TAIL>(p, L, sms, stream) : LaunchTmaKernel<MB, BN, 4, NC, 64, PLAIN, TAIL>(p, L, sms, stream);
  }
}

// The warp-specialized kernel with BM x BN tiles and NC consumer warpgroups
// (cudaErrorInvalidValue where TmaPlan refuses).
template <int BM, int BN, int NC>
cudaError_t LaunchTmaTile(const IgemmParams& p, cudaStream_t stream) {
  static_assert(BM % kTmaBM == 0 && BM / kTmaBM <= 4, "tiles of 1 to 4 wgmma heights");
  constexpr int MB = BM / kTmaBM;
  const TmaDevice d = TmaDeviceOf();
  TmaLayout L;
  if (p.a == nullptr || !TmaPlan(p, BM, BN, NC, d.smem, &L)) return cudaErrorInvalidValue;
  if (p.fusedRange != 0 && (!TmaPlainProblem(p, L) || p.outDtype != DType::Int8)) return cudaErrorInvalidValue;  // the PLAIN int8 builds only
  if constexpr (MB > 1) {
    if (TmaTailSplit(p, MB, d.sms, &L)) return LaunchTmaOut<MB, BN, NC, true, true>(p, L, d.sms, stream);
  }
  return TmaPlainProblem(p, L) ? LaunchTmaOut<MB, BN, NC, true>(p, L, d.sms, stream) : LaunchTmaOut<MB, BN, NC, false>(p, L, d.sms, stream);
}

}  // namespace

}  // namespace fxrt::kernels
