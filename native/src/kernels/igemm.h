// The int8 GEMM of the Q/DQ fusion (src/engine/plan.ts, StepQuantization): int8 x int8 products
// accumulated exactly in int32 on the tensor cores (mma.sync m16n8k32 s8, or wgmma m64nNk32 s8 on
// Hopper, also in a warp-specialized kernel fed by the TMA), then (in registers and a shared-memory
// tile) the plan's float32 arithmetic, each operation rounded once as the reference rounds it:
//   y = fround(fround(acc) * fround(sx[row] * sw[col]))
//   y = fround(y + bias[col])                     the convolution's own bias, if any
//   then the epilogue ops in order: + a bias vector, + a residual (deq(r) = fround(s * r) when it
//   is int8), an activation;
//   out = requantize(y) = clamp(round_half_even(fround(y * fround(1 / so))), -128, 127) (NaN: 127),
//   or y stored in the output's float dtype.
// Or, where the plan says so (fusedRange), the fused requantize: rescale, bias, requantize and clamp
// in one fused multiply-add (quant_math.cuh FusedRequant).
// Two forms of the A operand: a row-major [M, K] matrix, or the implicit im2col of a channels-last
// convolution input (NHWC; a 1-D convolution runs with H = 1), row = output pixel (n, oh, ow),
// k = (kh, kw, c). B is [groups * N, K] with K contiguous (a KRSC filter, or a transposed weight);
// the output is [M, groups * N] row-major (channels-last for a convolution), group g writing
// columns [g * N, (g + 1) * N).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "dtype.h"

namespace fxrt::kernels {

constexpr int kMaxIgemmEpilogue = 4;

enum class IgemmEpilogueKind : uint8_t { Bias, Residual, Activation };

struct IgemmEpilogueOp {
  IgemmEpilogueKind kind;
  uint8_t fn;           // Activation: PwActivation
  float alpha, beta;    // Activation
  const void* ptr;      // Bias: [channels] or one value; Residual: [M, ldc] like the output
  DType dtype;          // of ptr's elements (a float, or int8 for a quantized residual)
  int64_t stride;       // Bias: 1 per channel, 0 one value
  const void* scale;    // Residual int8: its scale(s)
  DType scaleDtype;
  bool scalePerChannel;
};

// The convolution geometry of the A operand (2-D; a 1-D layer has h = kh = 1; a 3-D one has a
// depth axis, which only the explicit im2col reads).
struct IgemmConv {
  int batch, h, w, c;   // input [batch, h, w, c], c = groups * cg
  int cg;               // input channels per group
  int kh, kw, oh, ow;
  int sh, sw, dh, dw, ph, pw;
  // Bytes from one input pixel to the next along w and along h: 0 and 0 for the dense NHWC input
  // (c and w * c bytes). Others make a strided view, which only the warp-specialized TMA tiles
  // read (the unfolded space-to-depth form: overlapping pixels of the packed input).
  int pixelBytes, rowBytes;
  // A transposed convolution (deconvolution) as the gather of its output pixels: output pixel
  // (oy, ox) takes tap (ky, kx) from input pixel ((oy + ph - ky * dh) / sh, (ox + pw - kx * dw) / sw)
  // where both divide evenly and fall inside the input, else zero; its filter per group is
  // [n, kh, kw, cg] as a convolution's (no flip: src/backends/cuda/device_constants.ts). Only the
  // implicit form of the loaders that read through ConvOffset, and the explicit im2col, take it.
  bool transposed;
  // 3-D only (kd > 0): the depth axis, outermost of the input [batch, d, h, w, c] and of the output
  // pixels, and the kernel's taps (kd, kh, kw, c). Zero for 1-D and 2-D (a zero-initialized
  // geometry is 2-D). Only the explicit im2col form runs it (IgemmTileSupports refuses the
  // implicit form of a 3-D convolution on every tile).
  int d, kd, od, sd, dd, pd;
};

// Whether the geometry has a depth axis (IgemmConv::kd).
__host__ __device__ inline bool IgemmConvDeep(const IgemmConv& g) { return g.kd > 0; }

struct IgemmParams {
  int64_t m;            // rows (matrix rows, or output pixels)
  int n;                // output columns per group
  int k;                // reduction length per group (cg * kh * kw for a convolution)
  int groups;
  bool conv;
  IgemmConv g;          // conv only
  const int8_t* a;      // matrix [m, lda] (k used) or the NHWC convolution input
  int64_t lda;
  const int8_t* b;      // [groups * n, k]
  bool bConstant;       // b is a constant no kernel writes (the plan's weights): the warp-specialized
                        // kernel, launched chained, loads its first slices before waiting for the
                        // kernels before it (chained_launch.cuh)
  bool aEvictFirst;     // this launch reads a (a matrix) for the last time: the warp-specialized
                        // kernel's loads of it mark its lines first to leave L2, so a dead
                        // activation does not push out data read again (the weights, the next
                        // run's input). A hint only: the results are the same either way.
  const void* sx;       // x's scale: one value, or one per row index modulo sxRows
  DType sxDtype;
  int64_t sxRows;       // 1: per tensor
  const void* sw;       // the weight's scale: one value, or one per output column (all groups)
  DType swDtype;
  bool swPerChannel;
  const void* bias;     // the convolution's bias per output column, or null
  DType biasDtype;
  bool biasScalar;      // bias is one value for every column (a fused requantize's bias op)
  // The fused requantize (quant_math.cuh FusedRequant; plan.ts StepQuantization): 127 (the epilogue
  // ends in a relu) or 255; 0: the general arithmetic above. IgemmFuseRequantize sets it, folding
  // the epilogue's one bias op into `bias` and leaving no epilogue ops.
  int fusedRange;
  int nEpi;
  IgemmEpilogueOp epi[kMaxIgemmEpilogue];
  void* out;            // [m, ldc], ldc = groups * n
  DType outDtype;       // int8 (with outScale) or a float
  int64_t ldc;
  const void* outScale; // null: float output
  DType outScaleDtype;
  // Split-K: `splits` blocks share each output tile, block s reducing K tiles (of 64) from
  // s * kSplitTiles. Where the device launches thread-block clusters and the split has at most
  // kMaxClusterSplits parts (IgemmClusterSplit), the parts of a tile are one cluster: each leaves
  // its int32 sums in its shared memory, the first part adds the others' (distributed shared
  // memory) and finishes the epilogue, all in one launch. Otherwise they add their sums into
  // `partial` ([m, ldc], zeroed first by LaunchIgemm) with integer atomics and count themselves
  // in on the tile's counter (`splitCounters`, after the sums in the same zeroed bytes): the last
  // part to arrive reads the tile's sums back and finishes the epilogue, also in one launch.
  // Integer sums are exact in any order either way (deterministic). 1: no split (partial unused).
  int splits;
  int kSplitTiles;
  int32_t* partial;
  bool clusterSplit;        // set by LaunchIgemm
  uint32_t* splitCounters;  // set by LaunchIgemm: one per 64 x 64 block of each group's output
  bool unsplitTail;         // the TMA tiles' last wave in whole tiles (IgemmTmaTailParts; for comparisons)
};

// The most parts a split of K reduces within one cluster (Hopper's largest, non-portable, cluster:
// the blocks of a tile's parts, at most a few tens of KB of shared memory each, fit one GPC).
constexpr int kMaxClusterSplits = 16;

// Tile configurations (the tactic): indices 0 .. IgemmTileCount() - 1.
int IgemmTileCount();
const char* IgemmTileName(int tile);
// Whether the tile runs on Hopper's warpgroup MMA (wgmma): only where IgemmWgmmaAvailable says so.
bool IgemmTileUsesWgmma(int tile);
// Whether `tile` is one of the warp-specialized TMA tiles (igemm_tma.cuh).
bool IgemmTileUsesTma(int tile);
// Whether the tile configuration runs this problem: every problem, except for the warp-specialized
// TMA tiles (Hopper), which take the matrix form, or the implicit convolution over 64-channel
// multiples (the TMA's im2col mode), with one group and no split of K, 16-byte aligned operands and
// rows, relu as the only activation and at most one residual (igemm_tma.cuh). A launch of a tile
// that does not is refused (cudaErrorInvalidValue).
// A convolution over a strided view of its input (IgemmConv::pixelBytes) runs only in the TMA tiles;
// the implicit form of a 3-D convolution (IgemmConv::kd) in none (its im2col form in any).
bool IgemmTileSupports(const IgemmParams& p, int tile);
// Whether this device runs the wgmma tiles: compute capability 9.0 and an sm_90a kernel image
// (CUDA architecture 90a, the addon's default). Launches a probe kernel and waits for it.
cudaError_t IgemmWgmmaAvailable(bool* available);
// A tile that suits the problem without timing (enough blocks to fill the device), among the
// wgmma tiles or the others.
int IgemmDefaultTile(const IgemmParams& p, int multiprocessors, bool wgmma);
// Whether the operands allow 16-byte loads (K runs of 16 aligned bytes); else bytewise loads.
bool IgemmVectorLoads(const IgemmParams& p);
// Blocks of a tile configuration over the problem (before any split of K).
int64_t IgemmBlocks(const IgemmParams& p, int tile);
// K tiles of 64 each block of a `splits`-way split reduces.
int IgemmSplitTiles(const IgemmParams& p, int splits);
// The parts a `splits`-way split of K really makes (every part gets at least one K tile, so fewer
// when K has fewer tiles than splits, or when rounding leaves the last parts empty).
int IgemmEffectiveSplits(const IgemmParams& p, int splits);
// Whether a `splits`-way split of K reduces within a cluster on this device (IgemmParams::splits):
// 2 to kMaxClusterSplits effective parts, a device that launches clusters and kernels built for it.
bool IgemmClusterSplit(const IgemmParams& p, int splits);
// Bytes of the int32 partial sums a split-K launch needs (0 without a split, or reduced in a cluster).
size_t IgemmPartialBytes(const IgemmParams& p, int splits);
// The warp-specialized TMA tiles take their output tiles in waves of one per multiprocessor. Where
// the last wave is short, a tile of MB > 1 64-row blocks runs it in 64-row units: MB units per
// tile, on MB blocks, where that many fit the multiprocessors (problems without a residual or a
// per-row x scale, and not p.unsplitTail). The blocks' work then ends within a 64-row unit of each
// other instead of a whole tile (the same sums: the output does not change). The units per tile of
// the last wave for a tile configuration on this device: MB, or 1 where the last wave stays whole
// (and for the other tiles).
int IgemmTmaTailParts(const IgemmParams& p, int tile);
cudaError_t LaunchIgemm(const IgemmParams& p, int tile, cudaStream_t stream);
// Puts p in the fused requantize form (fusedRange): an int8 output, x scaled per tensor, and
// epilogue ops of at most one bias (none where p has its own bias) and a relu as the last; the
// bias op moves into p->bias. Null where it did, else what does not fit (p unchanged).
const char* IgemmFuseRequantize(IgemmParams* p);
// Explicit im2col of a one-group convolution's A operand (1-D to 3-D, forward or transposed): dst
// [m, kp] with row = output pixel and k = (kd, kh, kw, c) as the implicit form reads it, zero for padding and for k >= p.k (kp: p.k rounded
// up to 16). With B padded alike, the convolution runs as a matrix product with 16-byte loads (for
// inputs whose channels do not allow them in the implicit form, the 3-channel stem), in any tile,
// the warp-specialized TMA ones included. Channels in multiples of 16 are copied 16 bytes at a time.
cudaError_t LaunchIgemmIm2col(const IgemmParams& p, int8_t* dst, int kp, cudaStream_t stream);

// The space-to-depth form of a one-group convolution whose channels keep the implicit form to
// bytewise loads (the 3-channel stem): with b = the stride (equal on both axes, dilation 1), the
// input is packed as x'[n, i, j, (dy * b + dx) * c + ch] = x[n, i*b + dy - ph, j*b + dx - pw, ch]
// (zero outside, and in the channels past b*b*c up to a multiple of 16), and the convolution becomes
// one of stride 1 and no padding on it, kernel ceil(kh / b) x ceil(kw / b), with the weight packed
// alike (IgemmSpaceToDepthWeight). The same int32 sums (only zero products added), but 16-byte
// loads in the implicit form: ResNet's 7x7 stride-2 stem on 3 channels becomes a 4x4 convolution on
// 16, with no im2col matrix. False (and `packed` untouched) where the form does not apply: not a
// one-group convolution with equal strides and dilation 1, channels already a multiple of 16, or
// more than kMaxSpaceToDepthChannels packed channels.
// `unfold`: the same packed input read as a view whose pixels overlap, x''[n, i, j, u * c' + ch'] =
// x'[n, i, j + u, ch'] for u < kw' (c' the packed channels: pixelBytes c', rowBytes the packed
// row), and the convolution kh' x 1 on kw' * c' channels, the packed weight's bytes unchanged:
// where kw' * c' is a multiple of 64, a convolution the TMA tiles gather (the stem's 4x4 on 16
// channels becomes 4x1 on 64) without writing the packed input out kw' times. False where kw' is
// 1 or kw' * c' is not a multiple of 64.
constexpr int kMaxSpaceToDepthChannels = 64;
bool IgemmSpaceToDepthGeometry(const IgemmParams& p, IgemmConv* packed, bool unfold = false);
// The packed weight [n, packed k] from the convolution's [n, k] (host memory, KRSC per output; the
// same bytes for the unfolded geometry).
void IgemmSpaceToDepthWeight(const IgemmParams& p, const IgemmConv& packed, const int8_t* w, int8_t* dst);
// What the packing reads: the int8 NHWC input (dtype int8), or a float tensor that it quantizes
// per tensor on the way (a quantize step fused into the convolution: quant_math.cuh Requantize
// with inv = fround(1 / scale), the quantize kernel's arithmetic), in any layout: x[n, ch, y, x] at
// element offset n * stride[0] + ch * stride[1] + y * stride[2] + x * stride[3].
struct SpaceToDepthSource {
  const void* x;
  DType dtype;
  int64_t stride[4];
  const void* scale;  // float sources: the quantize's scale (one value)
  DType scaleDtype;
};
// The source of a convolution's own int8 NHWC input p.a.
SpaceToDepthSource IgemmInt8Source(const IgemmParams& p);
// Packs `src` into dst (16-byte aligned): the packed geometry of IgemmSpaceToDepthGeometry.
cudaError_t LaunchIgemmSpaceToDepth(const IgemmParams& p, const SpaceToDepthSource& src, int8_t* dst, cudaStream_t stream);

// The stride phases of a transposed convolution with stride s > 1 (2-D or 1-D, dilation 1, kernel
// at least the stride on both axes): the output pixels (oy, ox) with oy % sh == ry and
// ox % sw == rx take only the taps ky == (ry + ph) mod sh (mod sh), kx alike, and those from
// consecutive input pixels. So phase (ry, rx) is a forward stride-1 convolution of the same input
// with the phase's taps flipped (ceil((k - k0) / s) per axis; its leading padding may be negative)
// into a [batch, ceil((oh - ry) / sh), ceil((ow - rx) / sw)] output: all the phases together do
// the useful work of the gather form (IgemmConv::transposed), which runs every tap for every
// output pixel, s^2 times as much at stride s. The same int32 sums (the gather's other taps
// add zero products only).
constexpr int kMaxIgemmPhases = 64;
// Whether p splits into stride phases (at most kMaxIgemmPhases).
bool IgemmPhased(const IgemmParams& p);
// Phase (ry, rx)'s problem: p with its forward geometry, m and k; its b (IgemmPhaseWeight), out and
// residual left for the caller to point at phase-major buffers. An empty phase has m == 0.
IgemmParams IgemmPhaseProblem(const IgemmParams& p, int ry, int rx);
// Phase problem q's weight [groups * n, q.k] from the transposed convolution's weight w
// [groups * n, p.k] (host memory both).
void IgemmPhaseWeight(const IgemmParams& p, int ry, int rx, const IgemmParams& q, const int8_t* w, int8_t* dst);
// Where each phase's rows lie in a phase-major buffer: phase ry * sw + rx from byte offset[phase],
// its pixels (image, row, column) in order, pixelBytes apart.
struct IgemmPhaseLayout {
  int count;
  int64_t offset[kMaxIgemmPhases];
};
// Copies the pixels (pixelBytes each) of the transposed convolution's output geometry between
// its NHWC layout and the phase-major buffer of `layout`: toPhases gathers a tensor laid out like
// the output (a residual) into the phases, else the phases' outputs scatter into the output.
cudaError_t LaunchIgemmPhaseShuffle(const IgemmConv& g, const void* src, void* dst, int pixelBytes, const IgemmPhaseLayout& layout, bool toPhases,
                                    cudaStream_t stream);

}  // namespace fxrt::kernels
