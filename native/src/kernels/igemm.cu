// The int8 GEMM's entry points (igemm.h): tactic queries, the launch (split-K's zeroing before
// the main kernel of igemm_kernel.cuh, whose tile configurations are compiled one per translation
// unit from igemm_tile.cu.in) and the explicit im2col form.
#include "kernels/igemm_kernel.cuh"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <type_traits>
#include <utility>

namespace fxrt::kernels {

static_assert(kTileCount == 17, "CMakeLists.txt compiles igemm_tile.cu.in once per tile: keep FXRT_IGEMM_TILES equal to kTileCount");
#define FXRT_IGEMM_EXTERN(T) extern template cudaError_t LaunchTileAt<T>(const IgemmParams&, bool, bool, bool, int, cudaStream_t);
FXRT_IGEMM_EXTERN(0) FXRT_IGEMM_EXTERN(1) FXRT_IGEMM_EXTERN(2) FXRT_IGEMM_EXTERN(3) FXRT_IGEMM_EXTERN(4)
FXRT_IGEMM_EXTERN(5) FXRT_IGEMM_EXTERN(6) FXRT_IGEMM_EXTERN(7) FXRT_IGEMM_EXTERN(8) FXRT_IGEMM_EXTERN(9) FXRT_IGEMM_EXTERN(10) FXRT_IGEMM_EXTERN(11)
FXRT_IGEMM_EXTERN(12) FXRT_IGEMM_EXTERN(13) FXRT_IGEMM_EXTERN(14) FXRT_IGEMM_EXTERN(15) FXRT_IGEMM_EXTERN(16)
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
bool IgemmTileUsesTma(int tile) { return tile >= 0 && tile < kTileCount && kTiles[tile].tma; }

// Whether the convolution reads a strided view of its input (IgemmConv::pixelBytes).
static bool StridedInput(const IgemmParams& p) { return p.conv && (p.g.pixelBytes != 0 || p.g.rowBytes != 0); }

bool IgemmTileSupports(const IgemmParams& p, int tile) {
  if (tile < 0 || tile >= kTileCount) return false;
  if (p.conv && IgemmConvDeep(p.g)) return false;  // a 3-D convolution runs in the im2col form only
  if (!kTiles[tile].tma) return !StridedInput(p);
  return TmaPlan(p, kTiles[tile].bm, kTiles[tile].bn, kTiles[tile].warpsM, TmaDeviceOf().smem, nullptr);
}

int IgemmTmaTailParts(const IgemmParams& p, int tile) {
  if (tile < 0 || tile >= kTileCount || !kTiles[tile].tma) return 1;
  const TmaDevice d = TmaDeviceOf();
  const int mb = kTiles[tile].bm / kTmaBM;
  TmaLayout L;
  if (!TmaPlan(p, kTiles[tile].bm, kTiles[tile].bn, kTiles[tile].warpsM, d.smem, &L)) return 1;
  return TmaTailSplit(p, mb, d.sms, &L) ? mb : 1;
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

// Where one row of the im2col matrix (an output pixel) reads from, in any geometry (1-D to 3-D,
// forward or transposed): its image's first element and, per axis (depth, rows, columns), the input
// position of kernel tap 0 as TapInput takes it.
struct Im2colRow {
  int64_t base;
  int z0, y0, x0;
};

__device__ __forceinline__ Im2colRow Im2colRowOf(const IgemmConv& g, int64_t m) {
  const bool deep = IgemmConvDeep(g);
  const int64_t plane = static_cast<int64_t>(g.oh) * g.ow;
  const int64_t img = m / (plane * (deep ? g.od : 1));
  int64_t rem = m - img * plane * (deep ? g.od : 1);
  const int oz = static_cast<int>(rem / plane);
  rem -= oz * plane;
  const int oy = static_cast<int>(rem / g.ow);
  const int ox = static_cast<int>(rem - static_cast<int64_t>(oy) * g.ow);
  Im2colRow r;
  r.base = img * (deep ? g.d : 1) * g.h * g.w * g.c;
  r.z0 = !deep ? 0 : g.transposed ? oz + g.pd : oz * g.sd - g.pd;
  r.y0 = g.transposed ? oy + g.ph : oy * g.sh - g.ph;
  r.x0 = g.transposed ? ox + g.pw : ox * g.sw - g.pw;
  return r;
}

// The reduction index k as its kernel tap (kz, ky, kx) and channel: ConvK's (ky, kx, c), whose ky
// counts kernel rows across the depth taps, split into kz and ky.
struct Im2colTap {
  ConvK t;
  int kz;
  __device__ __forceinline__ void Set(const IgemmConv& g, int k) {
    t.Set(g, k);
    kz = 0;
    Carry(g);
  }
  __device__ __forceinline__ void Advance(const IgemmConv& g, int step) {
    t.Advance(g, step);
    Carry(g);
  }

 private:
  // Kernel rows past the last one carry into the depth tap.
  __device__ __forceinline__ void Carry(const IgemmConv& g) {
    const int q = t.ky / g.kh;
    kz += q;
    t.ky -= q * g.kh;
  }
};

// The input element of row `r` at tap `t`, or -1 for padding.
__device__ __forceinline__ int64_t Im2colOffset(const IgemmConv& g, const Im2colRow& r, const Im2colTap& t) {
  const int iz = IgemmConvDeep(g) ? TapInput(g.transposed, r.z0, t.kz, g.sd, g.dd, g.d) : 0;
  const int ih = TapInput(g.transposed, r.y0, t.t.ky, g.sh, g.dh, g.h);
  const int iw = TapInput(g.transposed, r.x0, t.t.kx, g.sw, g.dw, g.w);
  if ((iz | ih | iw) < 0) return -1;
  return r.base + ((static_cast<int64_t>(iz) * g.h + ih) * g.w + iw) * g.c + t.t.c;
}

// One thread per 16-byte chunk of a row of the im2col matrix. A chunk's k run over channels of one
// kernel tap at a time: each tap's channels are contiguous in the NHWC input, so the padding test
// and the offset are worked out once per tap, not per byte.
// vec16: the channels are a multiple of 16 (as is K), so a chunk is 16 aligned channels of one tap,
// copied with one 16-byte load.
__global__ void IgemmIm2colKernel(const __grid_constant__ IgemmParams p, int8_t* __restrict__ dst, int kp, int64_t chunks, bool vec16) {
  WaitForPriorGrids();  // launched chained (chained_launch.cuh)
  AllowDependentLaunch();
  const int perRow = kp / 16;
  for (int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; idx < chunks; idx += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t m = idx / perRow;
    const int k0 = static_cast<int>(idx - m * perRow) * 16;
    const Im2colRow r = Im2colRowOf(p.g, m);
    Im2colTap e{};
    e.Set(p.g, min(k0, p.k - 1));
    if (vec16) {
      const int64_t off = Im2colOffset(p.g, r, e);
      *reinterpret_cast<uint4*>(dst + m * kp + k0) = off >= 0 ? *reinterpret_cast<const uint4*>(p.a + off) : make_uint4(0, 0, 0, 0);
      continue;
    }
    uint64_t half[2] = {0, 0};
    const int end = min(16, p.k - k0);
    for (int j = 0; j < end;) {
      const int run = min(end - j, p.g.cg - e.t.c);
      const int64_t off = Im2colOffset(p.g, r, e);
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

// Packs the input into the packed geometry q (IgemmSpaceToDepthGeometry): a thread per packed
// pixel (n, i, j), blockIdx.y the row i. Its channels (dy * b + dx) * c + ch run in that order over
// the b x b block of input pixels, so the thread walks (dy, dx, ch) with counters and a running
// element offset (32-bit: the launch checks the input's extent), reading each value once (zero
// where the block row or column lies outside the input: bit masks worked out once), quantizing it
// for a float source, and assembling the packed pixel's CP bytes in registers (unrolled over CP,
// the packed channels: 16 for ResNet's stem), which it writes with 16-byte stores. Neighbouring
// threads read neighbouring input columns of NCHW floats (b elements apart) and write neighbouring
// runs of CP bytes.
template <typename T, int CP>
__global__ void __launch_bounds__(128) IgemmSpaceToDepthKernel(const SpaceToDepthSource src, const IgemmConv g, const IgemmConv q,
                                                               int8_t* __restrict__ dst) {
  constexpr bool kInt8 = std::is_same_v<T, int8_t>;
  WaitForPriorGrids();  // launched chained (chained_launch.cuh)
  AllowDependentLaunch();
  const int j = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (j >= q.w) return;
  const int i = static_cast<int>(blockIdx.y);
  const int b = g.sh, run = b * b * g.c;
  float inv = 0.f;
  if constexpr (!kInt8) inv = RequantizeFactor(LoadScale(src.scale, 0, src.scaleDtype));
  const int y0 = i * b - g.ph, x0 = j * b - g.pw;
  // Bit dy / dx: block row / column inside the input (b <= 8).
  uint32_t rows = 0, cols = 0;
  for (int d = 0; d < b; d++) {
    rows |= (y0 + d >= 0 && y0 + d < g.h ? 1u : 0u) << d;
    cols |= (x0 + d >= 0 && x0 + d < g.w ? 1u : 0u) << d;
  }
  const int sc = static_cast<int>(src.stride[1]), sy = static_cast<int>(src.stride[2]), sx = static_cast<int>(src.stride[3]);
  for (int64_t n = blockIdx.z; n < g.batch; n += gridDim.z) {
    // Element (dy, dx, ch) at corner + dy * sy + dx * sx + ch * sc; the corner itself may lie outside.
    const T* const corner = static_cast<const T*>(src.x) + n * src.stride[0] + static_cast<int64_t>(y0) * sy + static_cast<int64_t>(x0) * sx;
    uint32_t word[CP / 4] = {};
    int dy = 0, dx = 0, ch = 0, off = 0;
#pragma unroll
    for (int e = 0; e < CP; e++) {
      if (e < run) {
        if ((rows >> dy) & (cols >> dx) & 1u) {
          const T v = corner[off];
          int8_t q8;
          if constexpr (kInt8) q8 = v;
          else q8 = Requantize(ToF(v), inv);
          word[e / 4] |= static_cast<uint32_t>(static_cast<uint8_t>(q8)) << (8 * (e % 4));
        }
        off += sc;
        if (++ch == g.c) {
          ch = 0;
          off += sx - g.c * sc;
          if (++dx == b) dx = 0, dy++, off += sy - b * sx;
        }
      }
    }
    uint4* const out = reinterpret_cast<uint4*>(dst + ((n * q.h + i) * q.w + j) * CP);
#pragma unroll
    for (int v = 0; v < CP / 16; v++) out[v] = make_uint4(word[4 * v], word[4 * v + 1], word[4 * v + 2], word[4 * v + 3]);
  }
}

template <typename T>
cudaError_t LaunchSpaceToDepthOf(const SpaceToDepthSource& src, const IgemmConv& g, const IgemmConv& q, int8_t* dst, dim3 grid, cudaStream_t stream) {
  switch (q.c) {
    case 16: return LaunchChained(IgemmSpaceToDepthKernel<T, 16>, grid, dim3(128), 0, stream, src, g, q, dst);
    case 32: return LaunchChained(IgemmSpaceToDepthKernel<T, 32>, grid, dim3(128), 0, stream, src, g, q, dst);
    case 48: return LaunchChained(IgemmSpaceToDepthKernel<T, 48>, grid, dim3(128), 0, stream, src, g, q, dst);
    default: return LaunchChained(IgemmSpaceToDepthKernel<T, 64>, grid, dim3(128), 0, stream, src, g, q, dst);
  }
}

}  // namespace

bool IgemmSpaceToDepthGeometry(const IgemmParams& p, IgemmConv* packed, bool unfold) {
  const IgemmConv& g = p.g;
  if (!p.conv || g.transposed || IgemmConvDeep(g) || p.groups != 1 || g.c % 16 == 0 || g.sh != g.sw || g.dh != 1 || g.dw != 1) return false;
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
    q.pixelBytes = q.c;
    q.rowBytes = q.w * q.c;
    q.c = q.cg = q.kw * q.c;
    q.kw = 1;
    q.w = g.ow;
  }
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

SpaceToDepthSource IgemmInt8Source(const IgemmParams& p) {
  const IgemmConv& g = p.g;
  const int64_t c = g.c, w = g.w;
  return SpaceToDepthSource{p.a, DType::Int8, {g.h * w * c, 1, w * c, c}, nullptr, DType::Float32};
}

cudaError_t LaunchIgemmSpaceToDepth(const IgemmParams& p, const SpaceToDepthSource& src, int8_t* dst, cudaStream_t stream) {
  IgemmConv q{};
  const bool floatSource = IsFloating(src.dtype);
  if (!IgemmSpaceToDepthGeometry(p, &q) || !Aligned(dst, 16) || src.x == nullptr || (floatSource ? src.scale == nullptr || !IsFloating(src.scaleDtype) : src.dtype != DType::Int8)) {
    return cudaErrorInvalidValue;
  }
  if (static_cast<int64_t>(q.batch) * q.h * q.w == 0) return cudaSuccess;
  // One image's elements within int32 offsets of a block corner (the kernel's running offset).
  const IgemmConv& g = p.g;
  const int64_t reach = (g.c + 1) * std::abs(src.stride[1]) + (g.h + g.sh) * std::abs(src.stride[2]) + (g.w + g.sh) * std::abs(src.stride[3]);
  if (q.h > 65535 || q.c > kMaxSpaceToDepthChannels || q.c % 16 != 0 || reach >= (int64_t{1} << 31)) return cudaErrorInvalidValue;
  const dim3 grid(static_cast<unsigned>((q.w + 127) / 128), static_cast<unsigned>(q.h), static_cast<unsigned>(std::min(q.batch, 65535)));
  switch (src.dtype) {
    case DType::Int8: return LaunchSpaceToDepthOf<int8_t>(src, g, q, dst, grid, stream);
    case DType::Float32: return LaunchSpaceToDepthOf<float>(src, g, q, dst, grid, stream);
    case DType::Float16: return LaunchSpaceToDepthOf<__half>(src, g, q, dst, grid, stream);
    case DType::BFloat16: return LaunchSpaceToDepthOf<__nv_bfloat16>(src, g, q, dst, grid, stream);
    default: return cudaErrorInvalidValue;
  }
}

namespace {

// One phase axis: output positions o, o + s, ... of `out`; the taps k0, k0 + s, ... of k flipped
// into a forward stride-1 kernel whose leading padding is (taps - 1) - (o + pad) / s.
struct PhaseAxis {
  int out, taps, pad;
};
PhaseAxis PhaseAxisOf(int o, int out, int k, int s, int pad) {
  const int k0 = (o + pad) % s;
  const int taps = (k - k0 + s - 1) / s;
  return {std::max(0, (out - o + s - 1) / s), taps, taps - 1 - (o + pad) / s};
}

// Pixel rows between the output layout and a phase-major buffer, in W-sized words (pixelWords
// per pixel): one thread per word, consecutive threads along a pixel's words, then the pixels of
// an output row (whose phases alternate).
template <typename W>
__global__ void IgemmPhaseShuffleKernel(const __grid_constant__ IgemmPhaseLayout layout, const W* __restrict__ src, W* __restrict__ dst, int oh,
                                        int ow, int sh, int sw, int pixelWords, bool toPhases, int64_t total) {
  WaitForPriorGrids();  // launched chained (chained_launch.cuh)
  AllowDependentLaunch();
  for (int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; idx < total; idx += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t pixel = idx / pixelWords;
    const int word = static_cast<int>(idx - pixel * pixelWords);
    const int64_t plane = static_cast<int64_t>(oh) * ow;
    const int64_t img = pixel / plane;
    const int rem = static_cast<int>(pixel - img * plane);
    const int oy = rem / ow, ox = rem - oy * ow;
    const int ry = oy % sh, rx = ox % sw;
    const int64_t rows = (oh - ry + sh - 1) / sh, cols = (ow - rx + sw - 1) / sw;
    const int64_t local = (img * rows + oy / sh) * cols + ox / sw;
    // The phase regions start on W words (LaunchIgemmPhaseShuffle).
    const int64_t phaseWord = layout.offset[ry * sw + rx] / static_cast<int64_t>(sizeof(W)) + local * pixelWords + word;
    const int64_t outWord = pixel * pixelWords + word;
    if (toPhases) dst[phaseWord] = src[outWord];
    else dst[outWord] = src[phaseWord];
  }
}

}  // namespace

bool IgemmPhased(const IgemmParams& p) {
  const IgemmConv& g = p.g;
  return p.conv && g.transposed && !IgemmConvDeep(g) && !StridedInput(p) && (g.sh > 1 || g.sw > 1) && g.dh == 1 && g.dw == 1 && g.kh >= g.sh &&
         g.kw >= g.sw && g.sh * g.sw <= kMaxIgemmPhases;
}

IgemmParams IgemmPhaseProblem(const IgemmParams& p, int ry, int rx) {
  const IgemmConv& g = p.g;
  const PhaseAxis y = PhaseAxisOf(ry, g.oh, g.kh, g.sh, g.ph), x = PhaseAxisOf(rx, g.ow, g.kw, g.sw, g.pw);
  IgemmParams q = p;
  IgemmConv& f = q.g;
  f.transposed = false;
  f.oh = y.out;
  f.kh = y.taps;
  f.ph = y.pad;
  f.ow = x.out;
  f.kw = x.taps;
  f.pw = x.pad;
  f.sh = f.sw = 1;
  q.m = static_cast<int64_t>(g.batch) * f.oh * f.ow;
  q.k = g.cg * f.kh * f.kw;
  q.splits = 1;
  return q;
}

void IgemmPhaseWeight(const IgemmParams& p, int ry, int rx, const IgemmParams& q, const int8_t* w, int8_t* dst) {
  const IgemmConv& g = p.g;
  const int k0y = (ry + g.ph) % g.sh, k0x = (rx + g.pw) % g.sw;
  for (int64_t col = 0; col < p.ldc; col++) {
    for (int ty = 0; ty < q.g.kh; ty++) {
      for (int tx = 0; tx < q.g.kw; tx++) {
        // Forward tap (ty, tx) is the transposed convolution's (k0 + (taps - 1 - t) * s) on each axis.
        const int ky = k0y + (q.g.kh - 1 - ty) * g.sh, kx = k0x + (q.g.kw - 1 - tx) * g.sw;
        const int8_t* from = w + col * p.k + (static_cast<int64_t>(ky) * g.kw + kx) * g.cg;
        std::copy(from, from + g.cg, dst + col * q.k + (static_cast<int64_t>(ty) * q.g.kw + tx) * g.cg);
      }
    }
  }
}

cudaError_t LaunchIgemmPhaseShuffle(const IgemmConv& g, const void* src, void* dst, int pixelBytes, const IgemmPhaseLayout& layout, bool toPhases,
                                    cudaStream_t stream) {
  if (g.sh * g.sw != layout.count || layout.count > kMaxIgemmPhases || pixelBytes <= 0) return cudaErrorInvalidValue;
  const int64_t pixels = static_cast<int64_t>(g.batch) * g.oh * g.ow;
  if (pixels == 0) return cudaSuccess;
  // The widest word every pixel row and phase region starts on.
  int wordBytes = 16;
  const auto fits = [&](int b) {
    if (pixelBytes % b != 0 || !Aligned(src, b) || !Aligned(dst, b)) return false;
    for (int i = 0; i < layout.count; i++) {
      if (layout.offset[i] % b != 0) return false;
    }
    return true;
  };
  while (wordBytes > 1 && !fits(wordBytes)) wordBytes /= 2;
  const int words = pixelBytes / wordBytes;
  const int64_t total = pixels * words;
  const dim3 grid(GridFor(total)), block(256);
  const auto launch = [&](auto word) {
    using W = decltype(word);
    return LaunchChained(IgemmPhaseShuffleKernel<W>, grid, block, 0, stream, layout, static_cast<const W*>(src), static_cast<W*>(dst), g.oh, g.ow, g.sh,
                         g.sw, words, toPhases, total);
  };
  switch (wordBytes) {
    case 16: return launch(uint4{});
    case 8: return launch(uint2{});
    case 4: return launch(uint32_t{});
    case 2: return launch(uint16_t{});
    default: return launch(uint8_t{});
  }
}

cudaError_t LaunchIgemmIm2col(const IgemmParams& p, int8_t* dst, int kp, cudaStream_t stream) {
  if (!p.conv || StridedInput(p) || p.groups != 1 || kp % 16 != 0 || kp < p.k || !Aligned(dst, 16)) return cudaErrorInvalidValue;
  if (p.m == 0) return cudaSuccess;
  const int64_t chunks = p.m * (kp / 16);
  const int64_t blocks = std::min<int64_t>((chunks + 255) / 256, 65535 * 8);
  const bool vec16 = p.k == kp && p.g.cg % 16 == 0 && p.g.c % 16 == 0 && Aligned(p.a, 16);
  return LaunchChained(IgemmIm2colKernel, dim3(static_cast<unsigned>(blocks)), dim3(256), 0, stream, p, dst, kp, chunks, vec16);
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

namespace {

// Whether the current device launches clusters to kernels of this image (compiled for sm_90 or
// later: ClusterReduce is compiled out below that), asked once per device.
bool ClusterLaunchAvailable() {
  static std::atomic<int> cache[kCachedDevices];
  return CachedPerDevice(cache, [](int device) {
           cudaFuncAttributes attrs{};
           if (cudaFuncGetAttributes(&attrs, WgmmaProbeKernel) != cudaSuccess) {
             cudaGetLastError();
             return 0;
           }
           return DeviceAttribute(cudaDevAttrClusterLaunch, device) != 0 && attrs.binaryVersion >= 90 ? 1 : 0;
         }) == 1;
}

}  // namespace

bool IgemmClusterSplit(const IgemmParams& p, int splits) {
  if (splits < 2) return false;
  const int parts = IgemmEffectiveSplits(p, splits);
  return parts >= 2 && parts <= kMaxClusterSplits && ClusterLaunchAvailable();
}

// The int32 sums [m, ldc], then (from a 256-byte boundary) the tiles' arrival counters, one per
// 64 x 64 block of each group's output (every tile is a whole number of those blocks).
static size_t SplitSumBytes(const IgemmParams& p) { return (static_cast<size_t>(p.m) * static_cast<size_t>(p.ldc) * sizeof(int32_t) + 255) / 256 * 256; }

size_t IgemmPartialBytes(const IgemmParams& p, int splits) {
  if (splits < 2 || IgemmClusterSplit(p, splits)) return 0;
  const size_t counters = static_cast<size_t>(p.groups) * static_cast<size_t>((p.m + 63) / 64) * static_cast<size_t>((p.n + 63) / 64);
  return SplitSumBytes(p) + counters * sizeof(uint32_t);
}

cudaError_t LaunchIgemm(const IgemmParams& given, int tile, cudaStream_t stream) {
  if (given.m == 0 || given.n == 0) return cudaSuccess;
  if (given.conv && IgemmConvDeep(given.g)) return cudaErrorInvalidValue;  // the im2col form only
  IgemmParams p = given;
  p.splits = std::max(1, p.splits);
  p.clusterSplit = IgemmClusterSplit(p, p.splits);
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
  if (StridedInput(p)) return cudaErrorInvalidValue;
  if (p.splits > 1 && !p.clusterSplit) {
    // The sums and counters start at zero; the last part of each tile finishes it (staged epilogue).
    if (p.partial == nullptr) return cudaErrorInvalidValue;
    p.splitCounters = reinterpret_cast<uint32_t*>(reinterpret_cast<char*>(p.partial) + SplitSumBytes(p));
    const cudaError_t err = cudaMemsetAsync(p.partial, 0, IgemmPartialBytes(p, p.splits), stream);
    return err != cudaSuccess ? err : LaunchMain(p, tile, vec, vec4, false, -1, stream);
  }
  const int resOp = PrefetchedResidual(p);
  return LaunchMain(p, tile, vec, vec4, FastEpilogue(p, resOp), resOp, stream);
}

const char* IgemmFuseRequantize(IgemmParams* p) {
  if (p->outDtype != DType::Int8 || p->outScale == nullptr) return "the fused requantize needs an int8 output with a scale";
  if (p->sxRows > 1) return "the fused requantize needs x quantized per tensor";
  const bool relu = p->nEpi > 0 && p->epi[p->nEpi - 1].kind == IgemmEpilogueKind::Activation;
  if (relu && static_cast<PwActivation>(p->epi[p->nEpi - 1].fn) != PwActivation::Relu) return "the fused requantize takes relu as the only activation";
  const int biases = relu ? p->nEpi - 1 : p->nEpi;
  for (int e = 0; e < biases; e++) {
    if (p->epi[e].kind != IgemmEpilogueKind::Bias) return "the fused requantize takes a bias and a relu as its only epilogue ops";
  }
  if (biases + (p->bias != nullptr ? 1 : 0) > 1) return "the fused requantize takes one bias at most";
  if (biases == 1) {
    p->bias = p->epi[0].ptr;
    p->biasDtype = p->epi[0].dtype;
    p->biasScalar = p->epi[0].stride == 0;
  }
  p->nEpi = 0;
  p->fusedRange = relu ? 127 : 255;
  return nullptr;
}

}  // namespace fxrt::kernels
