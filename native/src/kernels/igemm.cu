// The int8 GEMM's entry points (igemm.h): tactic queries, the launch (split-K's zeroing and
// epilogue kernel around the main kernel of igemm_kernel.cuh, whose tile configurations are
// compiled one per translation unit from igemm_tile.cu.in) and the explicit im2col form.
#include "kernels/igemm_kernel.cuh"

#include <algorithm>
#include <array>
#include <utility>

namespace fxrt::kernels {

static_assert(kTileCount == 16, "CMakeLists.txt compiles igemm_tile.cu.in once per tile: keep FXRT_IGEMM_TILES equal to kTileCount");
#define FXRT_IGEMM_EXTERN(T) extern template cudaError_t LaunchTileAt<T>(const IgemmParams&, bool, bool, bool, int, cudaStream_t);
FXRT_IGEMM_EXTERN(0) FXRT_IGEMM_EXTERN(1) FXRT_IGEMM_EXTERN(2) FXRT_IGEMM_EXTERN(3) FXRT_IGEMM_EXTERN(4)
FXRT_IGEMM_EXTERN(5) FXRT_IGEMM_EXTERN(6) FXRT_IGEMM_EXTERN(7) FXRT_IGEMM_EXTERN(8) FXRT_IGEMM_EXTERN(9) FXRT_IGEMM_EXTERN(10) FXRT_IGEMM_EXTERN(11)
FXRT_IGEMM_EXTERN(12) FXRT_IGEMM_EXTERN(13) FXRT_IGEMM_EXTERN(14) FXRT_IGEMM_EXTERN(15)
#undef FXRT_IGEMM_EXTERN

namespace {

// Writes 1 where this image's kernels have wgmma (read by IgemmWgmmaAvailable).
__global__ void WgmmaProbeKernel(int* out) { *out = FXRT_WGMMA; }

// The residual epilogue op whose tile the kernel prefetches into shared memory, or -1: the first
// residual, when its rows and the block's columns are runs of whole 16-byte chunks.
int PrefetchedResidual(const IgemmParams& p) {
  for (int e = 0; e < p.nEpi; e++) {
    const IgemmEpilogueOp& op = p.epi[e];
    if (op.kind != IgemmEpilogueKind::Residual) continue;
    const int64_t size = ItemSize(op.dtype);
    const bool ok = reinterpret_cast<uintptr_t>(op.ptr) % 16 == 0 && (p.ldc * size) % 16 == 0 && (p.n * size) % 16 == 0;
    return ok ? e : -1;
  }
  return -1;
}

// Split-K's second kernel: every thread finishes four consecutive columns of one row of a group
// from the int32 sums in p.partial, with the arithmetic of the main kernel's epilogue (column
// vectors read from global memory instead of shared memory).
__global__ void IgemmSplitFinishKernel(const __grid_constant__ IgemmParams p, int64_t quads, bool vec4) {
  const int quadsPerGroup = (p.n + 3) / 4;
  const float inv = p.outScale != nullptr ? RequantizeFactor(LoadScale(p.outScale, 0, p.outScaleDtype)) : 1.f;
  const bool rowSx = p.sxRows > 1;
  for (int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; idx < quads; idx += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t rowGroup = idx / quadsPerGroup;
    const int c0 = static_cast<int>(idx - rowGroup * quadsPerGroup) * 4;
    const int64_t row = rowGroup / p.groups;
    const int group = static_cast<int>(rowGroup - row * p.groups);
    const int count = min(4, p.n - c0);
    const int gcol0 = group * p.n + c0;
    const int64_t at = row * p.ldc + gcol0;
    const float sx = LoadScale(p.sx, rowSx ? row % p.sxRows : 0, p.sxDtype);
    float y[4];
#pragma unroll
    for (int q = 0; q < 4; q++) {
      const int gcol = gcol0 + (q < count ? q : 0);
      const float s = __fmul_rn(sx, LoadScale(p.sw, p.swPerChannel ? gcol : 0, p.swDtype));
      y[q] = __fmul_rn(__int2float_rn(p.partial[at + (q < count ? q : 0)]), s);
      if (p.bias != nullptr) y[q] = __fadd_rn(y[q], LoadScale(p.bias, gcol, p.biasDtype));
    }
    ApplyEpilogue<4>(
        p, y,
        [&](int e, int q) {
          const IgemmEpilogueOp& op = p.epi[e];
          const int gcol = gcol0 + (q < count ? q : 0);
          if (op.kind == IgemmEpilogueKind::Bias) return LoadScale(op.ptr, op.stride * gcol, op.dtype);
          return op.scale != nullptr ? LoadScale(op.scale, op.scalePerChannel ? gcol : 0, op.scaleDtype) : 0.f;
        },
        [&](int e, float* r) { Load4(p.epi[e].ptr, at, p.epi[e].dtype, vec4, count, r); });
    Store4(p, at, y, count, inv, vec4);
  }
}

bool Aligned(const void* ptr, uintptr_t bytes) { return reinterpret_cast<uintptr_t>(ptr) % bytes == 0; }

// Whether the kernel's register epilogue applies (IgemmKernel): an int8 output in 16-byte column
// runs, and epilogue ops among bias vectors, the prefetched residual and relu.
bool FastEpilogue(const IgemmParams& p, int resOp) {
  if (p.outDtype != DType::Int8 || p.outScale == nullptr || p.n % 16 != 0 || p.ldc % 16 != 0 || !Aligned(p.out, 16)) return false;
  for (int e = 0; e < p.nEpi; e++) {
    const IgemmEpilogueOp& op = p.epi[e];
    if (op.kind == IgemmEpilogueKind::Residual && e != resOp) return false;
    if (op.kind == IgemmEpilogueKind::Activation && static_cast<PwActivation>(op.fn) != PwActivation::Relu) return false;
  }
  return true;
}

// The main kernel of every tile configuration, by index (each instantiated in its own unit).
using TileLaunch = cudaError_t (*)(const IgemmParams&, bool, bool, bool, int, cudaStream_t);
template <int... T>
constexpr std::array<TileLaunch, sizeof...(T)> TileLaunches(std::integer_sequence<int, T...>) {
  return {&LaunchTileAt<T>...};
}
constexpr auto kTileLaunches = TileLaunches(std::make_integer_sequence<int, kTileCount>{});

// The main kernel in tile configuration `tile` (resOp: the prefetched residual op, or -1; fast:
// the register epilogue, FastEpilogue).
cudaError_t LaunchMain(const IgemmParams& p, int tile, bool vec, bool vec4, bool fast, int resOp, cudaStream_t stream) {
  if (tile < 0 || tile >= kTileCount) return cudaErrorInvalidValue;
  return kTileLaunches[tile](p, vec, vec4, fast, resOp, stream);
}

}  // namespace

int IgemmTileCount() { return kTileCount; }


const char* IgemmTileName(int tile) { return tile >= 0 && tile < kTileCount ? kTiles[tile].name : "?"; }

bool IgemmTileUsesWgmma(int tile) { return tile >= 0 && tile < kTileCount && kTiles[tile].wgmma; }

bool IgemmTileSupports(const IgemmParams& p, int tile) {
  if (tile < 0 || tile >= kTileCount) return false;
  if (!kTiles[tile].tma) return true;
  return TmaPlan(p, kTiles[tile].bm, kTiles[tile].bn, kTiles[tile].warpsM, TmaDeviceOf().smem, nullptr);
}

cudaError_t IgemmWgmmaAvailable(bool* available) {
  *available = false;
  int device = 0, major = 0, minor = 0;
  cudaError_t err = cudaGetDevice(&device);
  if (err == cudaSuccess) err = cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device);
  if (err == cudaSuccess) err = cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device);
  if (err != cudaSuccess || major != 9 || minor != 0) return err;
  // Compute capability 9.0 runs the sm_90a image when the addon has one; the probe kernel says which
  // image was loaded (a compute_90 PTX or an sm_90 build has no wgmma).
  int* flag = nullptr;
  err = cudaMalloc(&flag, sizeof(int));
  if (err != cudaSuccess) return err;
  int value = 0;
  WgmmaProbeKernel<<<1, 1>>>(flag);
  err = cudaGetLastError();
  if (err == cudaSuccess) err = cudaMemcpy(&value, flag, sizeof(int), cudaMemcpyDeviceToHost);
  cudaFree(flag);
  *available = err == cudaSuccess && value == 1;
  return err;
}

int IgemmDefaultTile(const IgemmParams& p, int multiprocessors, bool wgmma) {
  // With wgmma: the warp-specialized kernel's largest tile that gives every multiprocessor a tile,
  // where it runs the problem. Else the largest other tile that still gives every multiprocessor
  // two blocks; else the smallest.
  if (wgmma) {
    for (int t = 0; t < kTileCount; t++) {
      if (kTiles[t].tma && IgemmBlocks(p, t) >= multiprocessors && IgemmTileSupports(p, t)) return t;
    }
  }
  const int64_t want = 2 * static_cast<int64_t>(std::max(1, multiprocessors));
  int last = 0;
  for (int t = 0; t < kTileCount; t++) {
    if (kTiles[t].wgmma != wgmma || kTiles[t].tma) continue;
    last = t;
    if (IgemmBlocks(p, t) >= want) return t;
  }
  return last;
}

bool IgemmVectorLoads(const IgemmParams& p) {
  if (p.k % 16 != 0 || !Aligned(p.a, 16) || !Aligned(p.b, 16)) return false;
  return p.conv ? p.g.cg % 16 == 0 && p.g.c % 16 == 0 : p.lda % 16 == 0;
}

namespace {

// One thread per 16-byte chunk of a row of the im2col matrix. A chunk's k run over channels of one
// kernel tap at a time: each tap's channels are contiguous in the NHWC input, so the padding test
// and the offset are worked out once per tap, not per byte.
// vec16: the channels are a multiple of 16 (as is K), so a chunk is 16 aligned channels of one tap,
// copied with one 16-byte load.
__global__ void IgemmIm2colKernel(const __grid_constant__ IgemmParams p, int8_t* __restrict__ dst, int kp, int64_t chunks, bool vec16) {
  const int perRow = kp / 16;
  for (int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; idx < chunks; idx += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t m = idx / perRow;
    const int k0 = static_cast<int>(idx - m * perRow) * 16;
    const ConvRow r = ConvRowOf(p, m, 0);
    ConvK e{};
    e.Set(p.g, min(k0, p.k - 1));
    if (vec16) {
      const int64_t off = ConvOffset(p.g, r, e.ky, e.kx, e.c);
      *reinterpret_cast<uint4*>(dst + m * kp + k0) = off >= 0 ? *reinterpret_cast<const uint4*>(p.a + off) : make_uint4(0, 0, 0, 0);
      continue;
    }
    uint64_t half[2] = {0, 0};
    const int end = min(16, p.k - k0);
    for (int j = 0; j < end;) {
      const int run = min(end - j, p.g.cg - e.c);
      const int64_t off = ConvOffset(p.g, r, e.ky, e.kx, e.c);
      if (off >= 0) {
        const uint8_t* src = reinterpret_cast<const uint8_t*>(p.a) + off;
        for (int q = 0; q < run; q++) {
          const int at = j + q;
          const uint64_t byte = src[q];
          if (at < 8) half[0] |= byte << (at * 8);
          else half[1] |= byte << ((at - 8) * 8);
        }
      }
      j += run;
      e.Advance(p.g, run);
    }
    *reinterpret_cast<uint4*>(dst + m * kp + k0) = make_uint4(static_cast<uint32_t>(half[0]), static_cast<uint32_t>(half[0] >> 32),
                                                              static_cast<uint32_t>(half[1]), static_cast<uint32_t>(half[1] >> 32));
  }
}

// The channels of one packed pixel (b*b blocks of c input channels, padded to a multiple of 16).
__host__ __device__ inline int SpaceToDepthChannels(const IgemmConv& g) { return (g.sh * g.sh * g.c + 15) / 16 * 16; }

// Output pixels per block of the packing kernel.
constexpr int kSpaceToDepthPixels = 64;

// Packs the input (IgemmSpaceToDepthGeometry's either geometry q): a block per output row i of
// image n and kSpaceToDepthPixels output pixels j0 ... . The packed channels of a packed pixel are b
// runs of b * c bytes, one per input row dy, each contiguous in the NHWC input. The block stages the
// b input rows over the columns its pixels cover in shared memory (zeros outside the input: the
// bounds are a byte range per row), copies each run to its place in a zeroed output tile there (a
// thread per pixel, kernel column u and row dy), and writes the tile, contiguous in the output,
// with 16-byte stores. The global loads and stores are contiguous.
__global__ void __launch_bounds__(256) IgemmSpaceToDepthKernel(const int8_t* __restrict__ x, const IgemmConv g, const IgemmConv q,
                                                               int8_t* __restrict__ dst) {
  extern __shared__ uint4 s2dSmem[];
  const int b = g.sh, c = g.c, run = b * c;
  const int cp = SpaceToDepthChannels(g);                   // channels of one packed pixel
  const int unfold = q.c / cp;                              // packed pixels side by side in an output pixel
  const int cols = (kSpaceToDepthPixels + unfold - 1) * b;  // input columns staged
  const int rowBytes = cols * c;
  int8_t* const out = reinterpret_cast<int8_t*>(s2dSmem);  // [kSpaceToDepthPixels][q.c]
  int8_t* const rows = out + kSpaceToDepthPixels * q.c;     // [b][cols][c]
  const int chunks = (q.w + kSpaceToDepthPixels - 1) / kSpaceToDepthPixels;
  const int i = static_cast<int>(blockIdx.x / chunks);
  const int j0 = static_cast<int>(blockIdx.x % chunks) * kSpaceToDepthPixels;
  const int x0 = j0 * b - g.pw;  // the first staged input column
  const int pixels = min(kSpaceToDepthPixels, q.w - j0);
  const int outChunks = pixels * q.c / 16;
  const int copies = pixels * unfold * b;
  // Staged row dy holds input row y's bytes from column x0; the columns within [0, w) are bytes [lo, hi).
  const int lo = max(0, -x0) * c, hi = max(lo, min(cols, g.w - x0) * c);
  for (int64_t n = blockIdx.y; n < g.batch; n += gridDim.y) {
    __syncthreads();  // the previous image's tile is written out
    for (int t = threadIdx.x; t < outChunks; t += blockDim.x) s2dSmem[t] = make_uint4(0, 0, 0, 0);
    for (int dy = 0; dy < b; dy++) {
      const int y = i * b + dy - g.ph;
      const bool inside = y >= 0 && y < g.h;
      const int8_t* const src = x + ((n * g.h + (inside ? y : 0)) * g.w + x0) * c;
      int8_t* const row = rows + dy * rowBytes;
      for (int t = threadIdx.x; t < rowBytes; t += blockDim.x) row[t] = inside && t >= lo && t < hi ? src[t] : int8_t{0};
    }
    __syncthreads();
    for (int t = threadIdx.x; t < copies; t += blockDim.x) {
      const int jl = t / (unfold * b), rest = t - jl * unfold * b, u = rest / b, dy = rest - u * b;
      const int8_t* from = rows + dy * rowBytes + (jl + u) * run;
      int8_t* to = out + jl * q.c + u * cp + dy * run;
      for (int k = 0; k < run; k++) to[k] = from[k];
    }
    __syncthreads();
    uint4* const d = reinterpret_cast<uint4*>(dst + ((n * q.h + i) * q.w + j0) * q.c);
    for (int t = threadIdx.x; t < outChunks; t += blockDim.x) d[t] = s2dSmem[t];
  }
}

// Shared memory of the packing kernel: the output tile and the staged rows (at most the default
// 48 KB, which IgemmSpaceToDepthGeometry keeps to).
constexpr size_t kMaxSpaceToDepthSmem = 48 * 1024;
size_t SpaceToDepthSmemBytes(const IgemmConv& g, const IgemmConv& q) {
  const int cp = SpaceToDepthChannels(g);
  return static_cast<size_t>(kSpaceToDepthPixels) * q.c + static_cast<size_t>(g.sh) * (kSpaceToDepthPixels + q.c / cp - 1) * g.sh * g.c;
}

}  // namespace

bool IgemmSpaceToDepthGeometry(const IgemmParams& p, IgemmConv* packed, bool unfold) {
  const IgemmConv& g = p.g;
  if (!p.conv || p.groups != 1 || g.c % 16 == 0 || g.sh != g.sw || g.dh != 1 || g.dw != 1) return false;
  const int64_t b = g.sh;
  if (b * b * g.c > kMaxSpaceToDepthChannels) return false;
  const int64_t channels = SpaceToDepthChannels(g);
  IgemmConv q{};
  q.batch = g.batch;
  q.c = q.cg = static_cast<int>(channels);
  q.kh = static_cast<int>((g.kh + b - 1) / b);
  q.kw = static_cast<int>((g.kw + b - 1) / b);
  q.oh = g.oh;
  q.ow = g.ow;
  q.h = g.oh + q.kh - 1;
  q.w = g.ow + q.kw - 1;
  q.sh = q.sw = q.dh = q.dw = 1;
  q.ph = q.pw = 0;
  if (unfold) {
    if (q.kw < 2 || q.kw * q.c % 64 != 0) return false;
    q.c = q.cg = q.kw * q.c;
    q.kw = 1;
    q.w = g.ow;
  }
  if (SpaceToDepthSmemBytes(g, q) > kMaxSpaceToDepthSmem) return false;
  *packed = q;
  return true;
}

void IgemmSpaceToDepthWeight(const IgemmParams& p, const IgemmConv& q, const int8_t* w, int8_t* dst) {
  const IgemmConv& g = p.g;
  const int b = g.sh;
  // Packed taps (ky / b, kx / b) of kw' = ceil(kw / b) per kernel row, cp channels each: in the
  // unfolded geometry, kernel row ky / b's channels, in the same order.
  const int cp = SpaceToDepthChannels(g);
  const int kwp = (g.kw + b - 1) / b;
  const int64_t kq = static_cast<int64_t>(q.kh) * q.kw * q.c;
  for (int64_t o = 0; o < static_cast<int64_t>(p.n); o++) {
    int8_t* row = dst + o * kq;
    std::fill(row, row + kq, int8_t{0});
    for (int ky = 0; ky < g.kh; ky++) {
      for (int kx = 0; kx < g.kw; kx++) {
        const int tap = (ky / b) * kwp + kx / b;
        const int block = (ky % b) * b + kx % b;
        for (int ch = 0; ch < g.c; ch++) row[static_cast<int64_t>(tap) * cp + block * g.c + ch] = w[o * p.k + (static_cast<int64_t>(ky) * g.kw + kx) * g.c + ch];
      }
    }
  }
}

cudaError_t LaunchIgemmSpaceToDepth(const IgemmParams& p, const IgemmConv& q, int8_t* dst, cudaStream_t stream) {
  if (!p.conv || p.groups != 1 || p.g.sh < 1 || p.g.sh * p.g.sh * p.g.c > kMaxSpaceToDepthChannels || q.c % SpaceToDepthChannels(p.g) != 0 ||
      !Aligned(dst, 16)) {
    return cudaErrorInvalidValue;
  }
  if (static_cast<int64_t>(q.batch) * q.h * q.w == 0) return cudaSuccess;
  const int64_t rowBlocks = static_cast<int64_t>(q.h) * ((q.w + kSpaceToDepthPixels - 1) / kSpaceToDepthPixels);
  const size_t smem = SpaceToDepthSmemBytes(p.g, q);
  if (rowBlocks >= (int64_t{1} << 31) || smem > kMaxSpaceToDepthSmem) return cudaErrorInvalidValue;
  const dim3 grid(static_cast<unsigned>(rowBlocks), static_cast<unsigned>(std::min(q.batch, 65535)));
  IgemmSpaceToDepthKernel<<<grid, 256, smem, stream>>>(p.a, p.g, q, dst);
  return cudaGetLastError();
}

cudaError_t LaunchIgemmIm2col(const IgemmParams& p, int8_t* dst, int kp, cudaStream_t stream) {
  if (!p.conv || p.groups != 1 || kp % 16 != 0 || kp < p.k || !Aligned(dst, 16)) return cudaErrorInvalidValue;
  if (p.m == 0) return cudaSuccess;
  const int64_t chunks = p.m * (kp / 16);
  const int64_t blocks = std::min<int64_t>((chunks + 255) / 256, 65535 * 8);
  const bool vec16 = p.k == kp && p.g.cg % 16 == 0 && p.g.c % 16 == 0 && Aligned(p.a, 16);
  IgemmIm2colKernel<<<static_cast<unsigned>(blocks), 256, 0, stream>>>(p, dst, kp, chunks, vec16);
  return cudaGetLastError();
}

int64_t IgemmBlocks(const IgemmParams& p, int tile) {
  if (tile < 0 || tile >= kTileCount) return 0;
  return (p.m + kTiles[tile].bm - 1) / kTiles[tile].bm * ((p.n + kTiles[tile].bn - 1) / kTiles[tile].bn) * p.groups;
}

int IgemmSplitTiles(const IgemmParams& p, int splits) { return (KTiles(p) + std::max(1, splits) - 1) / std::max(1, splits); }

int IgemmEffectiveSplits(const IgemmParams& p, int splits) {
  const int per = IgemmSplitTiles(p, splits);
  return (KTiles(p) + per - 1) / per;
}

size_t IgemmPartialBytes(const IgemmParams& p, int splits) {
  return splits > 1 ? static_cast<size_t>(p.m) * static_cast<size_t>(p.ldc) * sizeof(int32_t) : 0;
}

cudaError_t LaunchIgemm(const IgemmParams& given, int tile, cudaStream_t stream) {
  if (given.m == 0 || given.n == 0) return cudaSuccess;
  IgemmParams p = given;
  p.splits = std::max(1, p.splits);
  if (p.splits > 1) {
    // Every part gets at least one K tile (the caller's splits may round to fewer parts).
    p.kSplitTiles = IgemmSplitTiles(p, p.splits);
    p.splits = IgemmEffectiveSplits(p, p.splits);
  }
  const bool vec = IgemmVectorLoads(p);
  // Four-element loads and stores in the epilogue: every row's columns of a group start 4-aligned.
  bool vec4 = p.ldc % 4 == 0 && p.n % 4 == 0 && Aligned(p.out, 4 * ItemSize(p.outDtype));
  for (int e = 0; e < p.nEpi; e++) {
    if (p.epi[e].kind == IgemmEpilogueKind::Residual) vec4 = vec4 && Aligned(p.epi[e].ptr, 4 * ItemSize(p.epi[e].dtype));
  }
  if (tile >= 0 && tile < kTileCount && kTiles[tile].tma) {
    // The warp-specialized kernel: no split of K, its own epilogue (LaunchTmaTile checks TmaPlan).
    return p.splits > 1 ? cudaErrorInvalidValue : LaunchMain(p, tile, vec, vec4, false, -1, stream);
  }
  if (p.splits > 1) {
    if (p.partial == nullptr) return cudaErrorInvalidValue;
    cudaError_t err = cudaMemsetAsync(p.partial, 0, IgemmPartialBytes(p, p.splits), stream);
    if (err == cudaSuccess) err = LaunchMain(p, tile, vec, vec4, false, -1, stream);
    if (err != cudaSuccess) return err;
    const int64_t quads = p.m * p.groups * ((p.n + 3) / 4);
    const int64_t blocks = std::min<int64_t>((quads + 255) / 256, 65535);
    IgemmSplitFinishKernel<<<static_cast<unsigned>(blocks), 256, 0, stream>>>(p, quads, vec4);
    return cudaGetLastError();
  }
  const int resOp = PrefetchedResidual(p);
  return LaunchMain(p, tile, vec, vec4, FastEpilogue(p, resOp), resOp, stream);
}

}  // namespace fxrt::kernels
