// The int8 GEMM op (kernels/igemm.h) from its spec (src/backends/cuda/exec_spec.ts, 'igemm'):
// every operand range checked, the tile configuration and the split of K a tactic: a timed entry
// of the plan's tactic cache, else each configuration timed on the device at engine load (`tune`),
// else the configuration that fills the device for this problem size (wgmma tiles only where the
// device and the kernel image have them). A problem of few output tiles and a long K (a late
// convolution at batch 1) splits K over several blocks; their int32 sums meet in the workspace.
// A one-group convolution may run in the im2col form: an explicit im2col matrix in the workspace,
// the weight padded alike (a timed candidate; the untimed choice where the channels keep the
// implicit form to bytewise loads, as in the 3-channel stem). Where they would, the space-to-depth
// form is a timed candidate too: the input packed into 16-byte channel runs in the workspace, a
// stride-1 convolution over it in the implicit form (kernels::IgemmSpaceToDepthGeometry), and so is
// its unfolded variant, whose packed channels are a multiple of 64 (the TMA tiles gather it).
// A convolution may take over the quantize step before it (src/backends/cuda/lower/program.ts: a
// per-tensor quantize whose int8 output only this convolution reads): the space-to-depth forms then
// quantize the float input as they pack it, the other forms run the quantize into the int8 input
// first, as the step would have.
// A transposed convolution (deconvolution, IgemmConv::transposed) gathers its output pixels' taps
// from the input: the implicit and im2col forms only (the TMA's im2col mode and the space-to-depth
// packing assume a forward convolution). With a stride above 1 it also has the stride-phase form
// (kernels::IgemmPhased, the untimed choice): one forward convolution per phase of output pixels,
// with that phase's taps only, into the workspace, then scattered into the output (a residual
// gathered into phase order first). A 3-D (de)convolution runs in the im2col form only: one
// group, its matrix at most 1 GiB.
// Tile, split and form are the tactic (cached: algo, words[0], words[1]). A pointwise convolution
// (1x1, stride 1, no padding, one group) runs as the matrix product of its NHWC input. The
// warp-specialized TMA tiles (Hopper) run only some problems (kernels::IgemmTileSupports): the
// others are neither timed nor accepted from the cache with them.
#include <cuda_runtime.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <string>
#include <vector>

#include "exec/conv_geometry.h"
#include "exec/op_factory.h"
#include "kernels/igemm.h"
#include "kernels/pointwise.h"
#include "kernels/quant.h"

namespace fxrt::exec {

namespace {

constexpr size_t kAlign = 256;
// K (per group) below 2^17: an int32 sum of K int8 x int8 products cannot overflow.
constexpr int64_t kMaxK = int64_t{1} << 17;
size_t AlignUp(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

// How a convolution's A operand reaches the kernel (the tactic's form, words[1] of a cached entry).
enum Form : int {
  kImplicit = 0,      // read from the NHWC input by the kernel (the implicit im2col)
  kIm2col = 1,        // an explicit im2col matrix in the workspace, then the matrix form
  kSpaceToDepth = 2,  // the input packed space-to-depth in the workspace, then the implicit form on it
  kSpaceToDepthUnfolded = 3,  // the same with a kernel row's packed pixels side by side (kh' x 1 taps)
  kPhases = 4,        // a strided transposed convolution as its stride phases (kernels::IgemmPhased)
};
constexpr int kForms = 5;

// The problem with a `splits`-way split of K asked for.
kernels::IgemmParams SplitOf(const kernels::IgemmParams& p, int splits) {
  kernels::IgemmParams q = p;
  q.splits = splits;
  return q;
}

class IgemmOp : public Op {
 public:
  explicit IgemmOp(const kernels::IgemmParams& p) : p_(p) {}
  ~IgemmOp() override {
    if (paddedB_ != nullptr) cudaFree(paddedB_);
    if (packedB_ != nullptr) cudaFree(packedB_);
    if (phaseB_ != nullptr) cudaFree(phaseB_);
  }
  IgemmOp(const IgemmOp&) = delete;
  IgemmOp& operator=(const IgemmOp&) = delete;
  // Whether `tile` names a tile configuration this device runs (wgmma tiles only where available)
  // that runs problem `q` (kernels::IgemmTileSupports).
  static bool Valid(const kernels::IgemmParams& q, int tile, bool wgmma) {
    return tile >= 0 && tile < kernels::IgemmTileCount() && (wgmma || !kernels::IgemmTileUsesWgmma(tile)) &&
           kernels::IgemmTileSupports(q, tile);
  }
  // Readies the forms besides the implicit one that apply (their weights, once): the im2col form
  // (kernels::LaunchIgemmIm2col) for a one-group convolution whose im2col matrix takes at most
  // 1 GiB; the space-to-depth forms (kernels::IgemmSpaceToDepthGeometry) where the channels would
  // keep the implicit form to bytewise loads and the packed input takes at most 1 GiB (both forms
  // share one packed weight). A form whose weight cannot be made is left out.
  void PrepareForms() {
    // A 3-D convolution runs in the im2col form only (kernels::IgemmTileSupports).
    eligible_[kImplicit] = !p_.conv || !kernels::IgemmConvDeep(p_.g);
    if (p_.conv && p_.groups == 1 && static_cast<size_t>(p_.m) * static_cast<size_t>(Kp()) <= kMaxWorkspaceOperandBytes) {
      eligible_[kIm2col] = PrepareIm2col();
    }
    eligible_[kPhases] = kernels::IgemmPhased(p_) && PreparePhases() && OperandBytes(kPhases) <= kMaxWorkspaceOperandBytes;
    kernels::IgemmConv q{};
    if (!kernels::IgemmSpaceToDepthGeometry(p_, &q) || static_cast<int64_t>(q.kh) * q.kw * q.c >= kMaxK || !PrepareSpaceToDepth(q)) return;
    packed_[0] = q;
    eligible_[kSpaceToDepth] = PackedInputBytes() <= kMaxWorkspaceOperandBytes;
    if (kernels::IgemmSpaceToDepthGeometry(p_, &q, true)) {
      packed_[1] = q;
      eligible_[kSpaceToDepthUnfolded] = eligible_[kSpaceToDepth];
    }
  }
  // The quantize step this convolution takes over: `x` the float input it quantizes into p_.a.
  void FuseQuantize(const kernels::SpaceToDepthSource& x) {
    fused_ = true;
    xq_ = x;
  }
  bool Eligible(int form) const { return form >= 0 && form < kForms && eligible_[form]; }
  // The untimed form: space-to-depth where the op quantizes its input (the packing does it), else
  // im2col where the implicit form would load bytewise (the 3-channel stem), else the implicit form.
  int DefaultForm() const {
    if (eligible_[kPhases]) return kPhases;  // a strided transposed convolution: 1 / s^2 of the gather's work
    if (fused_ && eligible_[kSpaceToDepth]) return kSpaceToDepth;
    return eligible_[kIm2col] && (!eligible_[kImplicit] || !kernels::IgemmVectorLoads(p_)) ? kIm2col : kImplicit;
  }
  // Whether some form runs the problem (a 3-D convolution needs the im2col form).
  bool Runnable() const {
    for (bool e : eligible_) {
      if (e) return true;
    }
    return false;
  }
  // The problem as the kernel runs it in `form`: the im2col form is a matrix product over [m, kp];
  // the space-to-depth form a stride-1 convolution over the packed input. Their A operand is the
  // workspace (set at Enqueue).
  kernels::IgemmParams Problem(int form) const {
    kernels::IgemmParams q = p_;
    if (form == kPhases) {
      // The largest phase stands for them all in the untimed tile choice.
      const auto smaller = [](const kernels::IgemmParams& a, const kernels::IgemmParams& b) { return a.m < b.m; };
      return *std::max_element(phases_.begin(), phases_.end(), smaller);
    }
    if (form == kIm2col) {
      q.conv = false;
      q.k = Kp();
      q.lda = Kp();
      q.b = paddedB_ != nullptr ? paddedB_ : p_.b;
      q.a = nullptr;
    } else if (form == kSpaceToDepth || form == kSpaceToDepthUnfolded) {
      q.g = Packed(form);
      q.k = q.g.kh * q.g.kw * q.g.c;
      q.b = packedB_;
      q.a = nullptr;
    }
    return q;
  }
  // Whether `tile` with a `splits`-way split of K runs the problem in `form` (every phase of the
  // phase form, which does not split K).
  bool Runs(int form, int tile, int splits, bool wgmma) const {
    if (!Eligible(form)) return false;
    if (form != kPhases) return Valid(SplitOf(Problem(form), splits), tile, wgmma);
    if (splits > 1) return false;
    for (const kernels::IgemmParams& q : phases_) {
      if (q.m > 0 && !Valid(q, tile, wgmma)) return false;
    }
    return true;
  }
  void Choose(int tile, int splits, int form) {
    tile_ = tile;
    form_ = form;
    splits_ = splits > 1 && form != kPhases ? kernels::IgemmEffectiveSplits(Problem(form), splits) : 1;
  }
  std::string Enqueue(const ExecEnv& env) override {
    kernels::IgemmParams p = Problem(form_);
    p.splits = splits_;
    const size_t need = WorkspaceBytes();
    if (need > 0 && (env.workspace == nullptr || env.workspaceBytes < need)) {
      return "int8 gemm kernel: " + std::string(form_ == kImplicit ? "split-K" : FormName(form_)) + " needs " + std::to_string(need) +
             " bytes of workspace, got " + std::to_string(env.workspace == nullptr ? 0 : env.workspaceBytes);
    }
    char* ws = static_cast<char*>(env.workspace);
    if (form_ == kPhases) return EnqueuePhases(ws, env.stream);
    const bool packs = form_ == kSpaceToDepth || form_ == kSpaceToDepthUnfolded;
    if (fused_ && !packs) {
      // The taken-over quantize step, into the int8 input the form reads.
      const cudaError_t err = kernels::LaunchQuant(QuantizeParams(), env.stream);
      if (err != cudaSuccess) return std::string("int8 gemm kernel: the input quantize: ") + cudaGetErrorString(err);
    }
    if (form_ != kImplicit) {
      p.a = reinterpret_cast<const int8_t*>(ws);
      const cudaError_t err = form_ == kIm2col ? kernels::LaunchIgemmIm2col(p_, reinterpret_cast<int8_t*>(ws), Kp(), env.stream)
                                               : kernels::LaunchIgemmSpaceToDepth(p_, fused_ ? xq_ : kernels::IgemmInt8Source(p_),
                                                                                  reinterpret_cast<int8_t*>(ws), env.stream);
      if (err != cudaSuccess) return std::string("int8 ") + FormName(form_) + " kernel: " + cudaGetErrorString(err);
      ws += OperandBytes(form_);
    }
    if (splits_ > 1) p.partial = reinterpret_cast<int32_t*>(ws);
    const cudaError_t err = kernels::LaunchIgemm(p, tile_, env.stream);
    return err == cudaSuccess ? "" : std::string("int8 gemm kernel: ") + cudaGetErrorString(err);
  }
  size_t WorkspaceBytes() const override { return OperandBytes(form_) + kernels::IgemmPartialBytes(Problem(form_), splits_); }
  std::string Tactic() const override {
    const bool packs = form_ == kSpaceToDepth || form_ == kSpaceToDepthUnfolded;
    // The TMA tiles' last wave in 64-row units (kernels::IgemmTmaTailParts; the phases' problems
    // each decide alike, unnamed).
    const bool tail = splits_ < 2 && form_ != kPhases && kernels::IgemmTmaTailParts(Problem(form_), tile_) > 1;
    const std::string split = splits_ < 2 ? (tail ? ", last wave in 64-row tiles" : "")
                              : ", split-k " + std::to_string(splits_) +
                                    (kernels::IgemmClusterSplit(Problem(form_), splits_) ? " reduced in a cluster" : " through global memory");
    // A's loads evict-first (IgemmParams::aEvictFirst): the TMA tiles, where A is a matrix.
    const bool evictFirst = p_.aEvictFirst && kernels::IgemmTileUsesTma(tile_) && form_ != kPhases && !Problem(form_).conv;
    return std::string("igemm:") + kernels::IgemmTileName(tile_) + split + (evictFirst ? ", A evict-first" : "") +
           (form_ != kImplicit ? std::string(" (") + FormName(form_) + ")" : kernels::IgemmVectorLoads(p_) ? "" : " (bytewise loads)") +
           (!fused_ ? "" : packs ? ", input quantize fused into the packing" : ", after the input quantize: " + kernels::QuantKernelName(QuantizeParams()));
  }
  // Workspace bytes of the A operand the form writes (the im2col matrix, the packed input; 0 for
  // the implicit form).
  size_t OperandBytes(int form) const {
    if (form == kPhases) return phaseOutBytes_ + phaseResBytes_;
    if (form == kIm2col) return AlignUp(static_cast<size_t>(p_.m) * Kp());
    if (form == kSpaceToDepth || form == kSpaceToDepthUnfolded) return AlignUp(PackedInputBytes());
    return 0;
  }

 private:
  // The largest A operand a form writes into the workspace (else the form is left out).
  static constexpr size_t kMaxWorkspaceOperandBytes = size_t{1} << 30;
  static const char* FormName(int form) {
    switch (form) {
      case kIm2col: return "im2col";
      case kSpaceToDepth: return "space-to-depth";
      case kSpaceToDepthUnfolded: return "space-to-depth unfolded";
      case kPhases: return "stride phases";
      default: return "implicit";
    }
  }
  // A space-to-depth form's packed geometry.
  const kernels::IgemmConv& Packed(int form) const { return packed_[form == kSpaceToDepthUnfolded ? 1 : 0]; }
  int Kp() const { return (p_.k + 15) / 16 * 16; }
  // Bytes of the packed input both space-to-depth forms read (the packed geometry's [batch, h, w, c]).
  size_t PackedInputBytes() const {
    const kernels::IgemmConv& q = packed_[0];
    return static_cast<size_t>(q.batch) * static_cast<size_t>(q.h) * static_cast<size_t>(q.w) * static_cast<size_t>(q.c);
  }
  // The taken-over quantize step: xq_ over the iteration shape [batch, h, w, c] into p_.a (NHWC).
  kernels::QuantParams QuantizeParams() const {
    const kernels::IgemmConv& g = p_.g;
    kernels::QuantParams q{};
    q.rank = 4;
    const int64_t size[4] = {g.batch, g.h, g.w, g.c};
    const int64_t xs[4] = {xq_.stride[0], xq_.stride[2], xq_.stride[3], xq_.stride[1]};
    const int64_t ys[4] = {static_cast<int64_t>(g.h) * g.w * g.c, static_cast<int64_t>(g.w) * g.c, g.c, 1};
    for (int d = 0; d < 4; d++) {
      q.size[d] = size[d];
      q.x.stride[d] = xs[d];
      q.yStride[d] = ys[d];
      q.scale.stride[d] = 0;
    }
    q.x.ptr = xq_.x;
    q.x.dtype = xq_.dtype;
    q.scale.ptr = xq_.scale;
    q.scale.dtype = xq_.scaleDtype;
    q.y = const_cast<int8_t*>(p_.a);
    q.yDtype = DType::Int8;
    q.zeroPoint = nullptr;
    q.quantize = true;
    return q;
  }
  // The phase form's problems, their packed weights (one allocation) and the phase-major buffers
  // in the workspace: the phases' outputs, then a residual gathered into the same order; false if
  // the weights cannot be made.
  bool PreparePhases() {
    const kernels::IgemmConv& g = p_.g;
    const std::vector<int8_t> w = HostWeight();
    if (w.empty()) return false;
    // The residual epilogue op, if any: the phases read it from their region of the gathered copy.
    for (int e = 0; e < p_.nEpi; e++) {
      if (p_.epi[e].kind == kernels::IgemmEpilogueKind::Residual) phaseRes_ = e;
    }
    const size_t outPixel = static_cast<size_t>(p_.ldc) * ItemSize(p_.outDtype);
    const size_t resPixel = phaseRes_ >= 0 ? static_cast<size_t>(p_.ldc) * ItemSize(p_.epi[phaseRes_].dtype) : 0;
    std::vector<size_t> weightAt;
    size_t weightBytes = 0;
    phaseOut_.count = phaseResLayout_.count = g.sh * g.sw;
    for (int ry = 0; ry < g.sh; ry++) {
      for (int rx = 0; rx < g.sw; rx++) {
        const int i = ry * g.sw + rx;
        kernels::IgemmParams q = kernels::IgemmPhaseProblem(p_, ry, rx);
        weightAt.push_back(weightBytes);
        weightBytes += AlignUp(static_cast<size_t>(p_.ldc) * q.k);
        phaseOut_.offset[i] = static_cast<int64_t>(phaseOutBytes_);
        phaseOutBytes_ += AlignUp(static_cast<size_t>(q.m) * outPixel);
        phaseResLayout_.offset[i] = static_cast<int64_t>(phaseResBytes_);
        phaseResBytes_ += AlignUp(static_cast<size_t>(q.m) * resPixel);
        // Until Enqueue points them into the workspace: its alignment, for the tile checks.
        q.out = reinterpret_cast<void*>(kAlign);
        if (phaseRes_ >= 0) q.epi[phaseRes_].ptr = reinterpret_cast<void*>(kAlign);
        phases_.push_back(q);
      }
    }
    std::vector<int8_t> packed(weightBytes, int8_t{0});
    for (int ry = 0; ry < g.sh; ry++) {
      for (int rx = 0; rx < g.sw; rx++) {
        const int i = ry * g.sw + rx;
        kernels::IgemmPhaseWeight(p_, ry, rx, phases_[i], w.data(), packed.data() + weightAt[i]);
      }
    }
    phaseB_ = Upload(packed);
    if (phaseB_ == nullptr) return false;
    for (size_t i = 0; i < phases_.size(); i++) phases_[i].b = phaseB_ + weightAt[i];
    return true;
  }
  // The phase form: the residual gathered into phase order, each phase's convolution into its
  // region, then the regions scattered into the output.
  std::string EnqueuePhases(char* ws, cudaStream_t stream) {
    const kernels::IgemmConv& g = p_.g;
    char* res = ws + phaseOutBytes_;
    cudaError_t err = cudaSuccess;
    if (phaseRes_ >= 0) {
      const kernels::IgemmEpilogueOp& r = p_.epi[phaseRes_];
      err = kernels::LaunchIgemmPhaseShuffle(g, r.ptr, res, static_cast<int>(p_.ldc * ItemSize(r.dtype)), phaseResLayout_, true, stream);
      if (err != cudaSuccess) return std::string("int8 stride phases: the residual gather: ") + cudaGetErrorString(err);
    }
    for (size_t i = 0; i < phases_.size(); i++) {
      kernels::IgemmParams q = phases_[i];
      q.out = ws + phaseOut_.offset[i];
      if (phaseRes_ >= 0) q.epi[phaseRes_].ptr = res + phaseResLayout_.offset[i];
      err = kernels::LaunchIgemm(q, tile_, stream);
      if (err != cudaSuccess) return "int8 gemm kernel (stride phase " + std::to_string(i) + "): " + cudaGetErrorString(err);
    }
    err = kernels::LaunchIgemmPhaseShuffle(g, ws, p_.out, static_cast<int>(p_.ldc * ItemSize(p_.outDtype)), phaseOut_, false, stream);
    return err == cudaSuccess ? "" : std::string("int8 stride phases: the output scatter: ") + cudaGetErrorString(err);
  }
  // Pads the weight to [n, kp] (zeros beyond k) for the im2col form, once (a K that is a multiple
  // of 16 needs no padding: the weight is used as it is); false if it fails.
  bool PrepareIm2col() {
    if (paddedB_ != nullptr || Kp() == p_.k) return true;
    const size_t bytes = static_cast<size_t>(p_.ldc) * Kp();
    void* b = nullptr;
    if (cudaMalloc(&b, bytes) != cudaSuccess) {
      cudaGetLastError();
      return false;
    }
    if (cudaMemset(b, 0, bytes) != cudaSuccess ||
        cudaMemcpy2D(b, Kp(), p_.b, p_.k, p_.k, p_.ldc, cudaMemcpyDeviceToDevice) != cudaSuccess) {
      cudaGetLastError();
      cudaFree(b);
      return false;
    }
    paddedB_ = static_cast<int8_t*>(b);
    return true;
  }
  // Packs the weight for the space-to-depth forms (geometry q; on the host: a stem's weight is a
  // few KB); false if it fails.
  bool PrepareSpaceToDepth(const kernels::IgemmConv& q) {
    const std::vector<int8_t> w = HostWeight();
    if (w.empty()) return false;
    std::vector<int8_t> packed(static_cast<size_t>(p_.ldc) * q.kh * q.kw * q.c);
    kernels::IgemmSpaceToDepthWeight(p_, q, w.data(), packed.data());
    packedB_ = Upload(packed);
    return packedB_ != nullptr;
  }
  // The weight [ldc, k] in host memory, for the forms that repack it; empty if the copy fails.
  std::vector<int8_t> HostWeight() const {
    std::vector<int8_t> w(static_cast<size_t>(p_.ldc) * p_.k);
    if (cudaMemcpy(w.data(), p_.b, w.size(), cudaMemcpyDeviceToHost) != cudaSuccess) {
      cudaGetLastError();
      w.clear();
    }
    return w;
  }
  // A device copy of a repacked weight (the op owns it), or null if it fails.
  static int8_t* Upload(const std::vector<int8_t>& host) {
    void* b = nullptr;
    if (cudaMalloc(&b, host.size()) != cudaSuccess) {
      cudaGetLastError();
      return nullptr;
    }
    if (cudaMemcpy(b, host.data(), host.size(), cudaMemcpyHostToDevice) != cudaSuccess) {
      cudaGetLastError();
      cudaFree(b);
      return nullptr;
    }
    return static_cast<int8_t*>(b);
  }

  kernels::IgemmParams p_;
  int tile_ = 0;
  int splits_ = 1;
  int form_ = kImplicit;
  bool eligible_[kForms] = {true, false, false, false};
  kernels::IgemmConv packed_[2] = {};  // the space-to-depth forms' geometries: packed, unfolded
  bool fused_ = false;                 // whether it takes over the quantize step before it (xq_)
  kernels::SpaceToDepthSource xq_{};
  int8_t* paddedB_ = nullptr;          // owned: the weight padded to [n, kp] for the im2col form
  int8_t* packedB_ = nullptr;          // owned: the weight packed for the space-to-depth forms
  // The phase form (kernels::IgemmPhased): one problem per phase (ry * sw + rx), their weights
  // (owned, one allocation), the phase-major buffers of the outputs and of a gathered residual
  // (epilogue op phaseRes_) in the workspace.
  std::vector<kernels::IgemmParams> phases_;
  int8_t* phaseB_ = nullptr;
  int phaseRes_ = -1;
  kernels::IgemmPhaseLayout phaseOut_{}, phaseResLayout_{};
  size_t phaseOutBytes_ = 0, phaseResBytes_ = 0;
};

constexpr int kMaxSplits = 32;

// The splits of K worth trying for a tile configuration: 1, and powers of two while the problem
// has fewer blocks than the device has multiprocessors, every part keeps at least two K tiles, and
// the partial sums (of a split not reduced in a cluster) fit `room` bytes of workspace.
std::vector<int> SplitCandidates(const kernels::IgemmParams& p, int tile, int multiprocessors, size_t room) {
  std::vector<int> out{1};
  if (!kernels::IgemmTileSupports(SplitOf(p, 2), tile) || kernels::IgemmBlocks(p, tile) >= multiprocessors) return out;
  for (int s = 2; s <= kMaxSplits && kernels::IgemmSplitTiles(p, s) >= 2 && (s / 2) * kernels::IgemmBlocks(p, tile) < multiprocessors; s *= 2) {
    if (kernels::IgemmPartialBytes(p, s) <= room) out.push_back(s);
  }
  return out;
}

// Without timing: the largest candidate split that keeps the blocks within the multiprocessors.
int DefaultSplits(const kernels::IgemmParams& p, int tile, int multiprocessors, size_t room) {
  int best = 1;
  for (int s : SplitCandidates(p, tile, multiprocessors, room)) {
    if (s * kernels::IgemmBlocks(p, tile) <= multiprocessors) best = s;
  }
  return best;
}

int Positive(const SpecReader& spec, const char* key, int64_t limit = INT32_MAX) {
  const int64_t v = spec.Int(key);
  if (v < 1 || v > limit) spec.Fail(std::string("'") + key + "' must be 1 to " + std::to_string(limit) + ", got " + std::to_string(v));
  return static_cast<int>(v);
}

int NonNegative(const SpecReader& spec, const char* key) {
  const int64_t v = spec.Int(key);
  if (v < 0 || v > INT32_MAX) spec.Fail(std::string("'") + key + "' must be 0 to 2^31-1, got " + std::to_string(v));
  return static_cast<int>(v);
}

DType FloatDtype(const SpecReader& spec, const char* key) {
  const DType t = spec.Dtype(key);
  if (!IsFloating(t)) spec.Fail(std::string("'") + key + "' must be float32, float16 or bfloat16, got " + DTypeName(t));
  return t;
}

kernels::IgemmConv ReadConv(const SpecReader& c) {
  kernels::IgemmConv g{};
  g.batch = Positive(c, "batch");
  g.h = Positive(c, "h");
  g.w = Positive(c, "w");
  g.c = Positive(c, "c");
  g.cg = Positive(c, "cg");
  g.kh = Positive(c, "kh");
  g.kw = Positive(c, "kw");
  g.oh = Positive(c, "oh");
  g.ow = Positive(c, "ow");
  g.sh = Positive(c, "sh");
  g.sw = Positive(c, "sw");
  g.dh = Positive(c, "dh");
  g.dw = Positive(c, "dw");
  g.ph = NonNegative(c, "ph");
  g.pw = NonNegative(c, "pw");
  g.transposed = c.Has("transposed") && c.Bool("transposed");
  if (c.Has("kd")) {
    // 3-D: the depth axis (IgemmConv::kd > 0).
    g.d = Positive(c, "d");
    g.kd = Positive(c, "kd");
    g.od = Positive(c, "od");
    g.sd = Positive(c, "sd");
    g.dd = Positive(c, "dd");
    g.pd = NonNegative(c, "pd");
  }
  if (g.c % g.cg != 0) c.Fail("'c' (" + std::to_string(g.c) + ") must be a multiple of 'cg' (" + std::to_string(g.cg) + ")");
  return g;
}

}  // namespace

std::unique_ptr<Op> BuildIgemm(const SpecReader& spec, BuildContext& ctx) {
  kernels::IgemmParams p{};
  p.m = spec.Int("m");
  if (p.m < 0) spec.Fail("'m' must be >= 0, got " + std::to_string(p.m));
  p.n = Positive(spec, "n");
  p.k = Positive(spec, "k", kMaxK - 1);
  p.groups = Positive(spec, "groups", 65535);
  p.conv = spec.Has("conv");
  p.ldc = static_cast<int64_t>(p.groups) * p.n;
  if (p.conv) {
    p.g = ReadConv(spec.Obj("conv"));
    if (p.g.c / p.g.cg != p.groups) spec.Fail("'conv.c' / 'conv.cg' must equal 'groups' (" + std::to_string(p.groups) + ")");
    const kernels::IgemmConv& g = p.g;
    const bool deep = kernels::IgemmConvDeep(g);
    // The depth axis's extents (1 without one).
    const int64_t d = deep ? g.d : 1, kd = deep ? g.kd : 1, od = deep ? g.od : 1;
    if (kd * g.cg * g.kh * g.kw != p.k) spec.Fail(deep ? "'k' must equal cg * kd * kh * kw" : "'k' must equal cg * kh * kw");
    if (static_cast<int64_t>(g.batch) * od * g.oh * g.ow != p.m) spec.Fail(deep ? "'m' must equal batch * od * oh * ow" : "'m' must equal batch * oh * ow");
    p.a = reinterpret_cast<const int8_t*>(ResolveRef(spec, "a", ctx.mem, ContiguousExtent(static_cast<int64_t>(g.batch) * d * g.h * g.w * g.c), 1));
    const bool depthPointwise = !deep || (g.kd == 1 && g.sd == 1 && g.pd == 0 && g.od == g.d);
    if (p.groups == 1 && depthPointwise && g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0 && g.oh == g.h && g.ow == g.w) {
      // A pointwise convolution (1x1, stride 1, no padding: ResNet's bottleneck ends) is the matrix
      // product of its NHWC input [batch * h * w, c]: no per-row address arithmetic.
      p.conv = false;
      p.lda = g.c;
    }
  } else {
    if (p.groups != 1) spec.Fail("a matrix product has one group, got " + std::to_string(p.groups));
    p.lda = spec.Int("lda");
    if (p.lda < p.k) spec.Fail("'lda' (" + std::to_string(p.lda) + ") must be at least 'k' (" + std::to_string(p.k) + ")");
    Extent e = ContiguousExtent(p.m == 0 ? 0 : (p.m - 1) * p.lda + p.k);
    p.a = reinterpret_cast<const int8_t*>(ResolveRef(spec, "a", ctx.mem, e, 1));
  }
  p.b = reinterpret_cast<const int8_t*>(ResolveRef(spec, "b", ctx.mem, ContiguousExtent(p.ldc * p.k), 1));
  p.bConstant = RefersToWeights(spec, "b");
  p.aEvictFirst = spec.Has("aEvictFirst") && spec.Bool("aEvictFirst");

  p.sxDtype = FloatDtype(spec, "sxDtype");
  p.sxRows = spec.Int("sxRows");
  if (p.sxRows < 1) spec.Fail("'sxRows' must be >= 1, got " + std::to_string(p.sxRows));
  p.sx = ResolveRef(spec, "sx", ctx.mem, ContiguousExtent(p.sxRows), ItemSize(p.sxDtype));
  p.swDtype = FloatDtype(spec, "swDtype");
  p.swPerChannel = spec.Bool("swPerChannel");
  p.sw = ResolveRef(spec, "sw", ctx.mem, ContiguousExtent(p.swPerChannel ? p.ldc : 1), ItemSize(p.swDtype));
  if (spec.Has("bias")) {
    p.biasDtype = FloatDtype(spec, "biasDtype");
    p.bias = ResolveRef(spec, "bias", ctx.mem, ContiguousExtent(p.ldc), ItemSize(p.biasDtype));
  }

  p.outDtype = spec.Dtype("outDtype");
  p.out = ResolveRef(spec, "out", ctx.mem, ContiguousExtent(p.m * p.ldc), ItemSize(p.outDtype));
  if (spec.Has("outScale")) {
    if (p.outDtype != DType::Int8) spec.Fail(std::string("an output scale needs an int8 output, got ") + DTypeName(p.outDtype));
    p.outScaleDtype = FloatDtype(spec, "outScaleDtype");
    p.outScale = ResolveRef(spec, "outScale", ctx.mem, ContiguousExtent(1), ItemSize(p.outScaleDtype));
  } else if (!IsFloating(p.outDtype)) {
    spec.Fail(std::string("an output without a scale must be a float, got ") + DTypeName(p.outDtype));
  }

  std::vector<SpecReader> epi = spec.Objs("epilogue");
  if (epi.size() > static_cast<size_t>(kernels::kMaxIgemmEpilogue)) {
    spec.Fail("at most " + std::to_string(kernels::kMaxIgemmEpilogue) + " epilogue ops, got " + std::to_string(epi.size()));
  }
  p.nEpi = static_cast<int>(epi.size());
  for (size_t i = 0; i < epi.size(); i++) {
    const SpecReader& e = epi[i];
    kernels::IgemmEpilogueOp& op = p.epi[i];
    const std::string kind = e.Str("kind");
    if (kind == "bias") {
      op.kind = kernels::IgemmEpilogueKind::Bias;
      op.dtype = FloatDtype(e, "dtype");
      op.stride = e.Bool("perChannel") ? 1 : 0;
      op.ptr = ResolveRef(e, "ref", ctx.mem, ContiguousExtent(op.stride == 1 ? p.ldc : 1), ItemSize(op.dtype));
    } else if (kind == "residual") {
      op.kind = kernels::IgemmEpilogueKind::Residual;
      op.dtype = e.Dtype("dtype");
      op.ptr = ResolveRef(e, "ref", ctx.mem, ContiguousExtent(p.m * p.ldc), ItemSize(op.dtype));
      if (op.dtype == DType::Int8) {
        op.scaleDtype = FloatDtype(e, "scaleDtype");
        op.scalePerChannel = e.Bool("scalePerChannel");
        op.scale = ResolveRef(e, "scale", ctx.mem, ContiguousExtent(op.scalePerChannel ? p.ldc : 1), ItemSize(op.scaleDtype));
      } else if (!IsFloating(op.dtype)) {
        e.Fail(std::string("a residual must be a float or int8 (with a scale), got ") + DTypeName(op.dtype));
      }
    } else if (kind == "activation") {
      op.kind = kernels::IgemmEpilogueKind::Activation;
      const std::string fn = e.Str("fn");
      const int index = ActivationIndex(fn);
      if (index < 0) e.Fail("unknown activation '" + fn + "'");
      op.fn = static_cast<uint8_t>(index);
      op.alpha = static_cast<float>(e.Num("alpha"));
      op.beta = static_cast<float>(e.Num("beta"));
    } else {
      e.Fail("unknown epilogue op '" + kind + "' (expected bias, residual or activation)");
    }
  }

  // The fused requantize (kernels/igemm.h IgemmParams::fusedRange), where the plan says so.
  if (spec.Has("fusedRequantize") && spec.Bool("fusedRequantize")) {
    if (const char* why = kernels::IgemmFuseRequantize(&p)) spec.Fail(std::string("'fusedRequantize': ") + why);
  }

  // A taken-over quantize step (a convolution's only): its float input [batch, c, h, w] and scale.
  kernels::SpaceToDepthSource xq{};
  const bool fused = spec.Has("aQuant");
  if (fused) {
    const SpecReader q = spec.Obj("aQuant");
    if (!spec.Has("conv")) spec.Fail("'aQuant' (a taken-over input quantize) needs a convolution");
    const kernels::StridedView v = q.View("view");
    const int64_t want[4] = {p.g.batch, p.g.c, p.g.h, p.g.w};
    if (v.rank != 4 || v.size[0] != want[0] || v.size[1] != want[1] || v.size[2] != want[2] || v.size[3] != want[3]) {
      q.Fail("'view' must have the convolution input's shape [" + std::to_string(want[0]) + ", " + std::to_string(want[1]) + ", " +
             std::to_string(want[2]) + ", " + std::to_string(want[3]) + "]");
    }
    xq.dtype = FloatDtype(q, "dtype");
    xq.x = ResolveRef(q, "x", ctx.mem, ExtentOf(v), ItemSize(xq.dtype));
    for (int d = 0; d < 4; d++) xq.stride[d] = v.stride[d];
    xq.scaleDtype = FloatDtype(q, "scaleDtype");
    xq.scale = ResolveRef(q, "scale", ctx.mem, ContiguousExtent(1), ItemSize(xq.scaleDtype));
  }

  auto op = std::make_unique<IgemmOp>(p);
  if (fused) op->FuseQuantize(xq);
  int device = 0, sms = 1;
  if (cudaGetDevice(&device) != cudaSuccess || cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess) {
    cudaGetLastError();
    sms = 1;
  }
  std::string key = "igemm m" + std::to_string(p.m) + " n" + std::to_string(p.n) + " k" + std::to_string(p.k) + " g" +
                    std::to_string(p.groups) + (kernels::IgemmVectorLoads(p) ? " v16" : " v1") + " out" + DTypeName(p.outDtype) +
                    " e" + std::to_string(p.nEpi) + (p.fusedRange != 0 ? " fq" + std::to_string(p.fusedRange) : "") +
                    (fused ? std::string(" xq") + DTypeName(xq.dtype) : "");
  if (p.conv) {
    const kernels::IgemmConv& g = p.g;
    for (int v : {g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.dh, g.dw, g.ph, g.pw}) key += "," + std::to_string(v);
    if (kernels::IgemmConvDeep(g)) {
      for (int v : {g.d, g.kd, g.sd, g.dd, g.pd}) key += ",z" + std::to_string(v);
    }
    if (g.transposed) key += ",t";
  }
  bool wgmma = false;
  if (ctx.device != nullptr && ctx.device->igemmWgmma().has_value()) {
    wgmma = *ctx.device->igemmWgmma();
  } else if (kernels::IgemmWgmmaAvailable(&wgmma) != cudaSuccess) {
    cudaGetLastError();
    wgmma = false;
  } else if (ctx.device != nullptr) {
    ctx.device->setIgemmWgmma(wgmma);
  }
  // A cached tactic keeps its split of K in words[0] (0 in entries from before split-K: no split)
  // and the form in words[1] (Form).
  op->PrepareForms();
  if (!op->Runnable()) {
    spec.Fail("a 3-D int8 convolution runs in the im2col form only, which needs one group (got " + std::to_string(p.groups) +
              ") and an im2col matrix of at most 1 GiB (" + std::to_string(p.m) + " x " + std::to_string((p.k + 15) / 16 * 16) + " bytes)");
  }
  if (const Tactic* hit = ctx.cache->Lookup(key, ctx.tune)) {
    const uint64_t splits = hit->words[0];
    const int form = hit->words[1] < kForms ? static_cast<int>(hit->words[1]) : -1;
    if (hit->kind == TacticKind::Igemm && splits <= kMaxSplits && op->Runs(form, hit->algo, std::max<int>(1, static_cast<int>(splits)), wgmma)) {
      op->Choose(hit->algo, std::max<int>(1, static_cast<int>(splits)), form);
      ctx.source = ctx.cache->Reuse(key);
      return op;
    }
    ctx.cache->Reject(key);
  }
  // Untimed splits keep the partial sums within this much workspace.
  constexpr size_t kDefaultSplitRoom = size_t{64} << 20;
  int bestForm = op->DefaultForm();
  int best = kernels::IgemmDefaultTile(op->Problem(bestForm), sms, wgmma);
  // The phase form's tile runs every phase, and no split of K: the first tile, which runs every
  // problem, where the default for the largest phase does not run them all.
  if (!op->Runs(bestForm, best, 1, wgmma)) best = 0;
  int bestSplits = bestForm == kPhases ? 1 : DefaultSplits(op->Problem(bestForm), best, sms, kDefaultSplitRoom);
  float bestMs = -1.f;
  if (ctx.tune && p.m > 0) {
    // Room for the largest A operand a form writes besides the split-K sums (a temporary
    // allocation when the build's workspace is too small for it: ResNet's stem at batch 128 writes
    // a 257 MB im2col matrix).
    size_t operand = 0;
    for (int form = 0; form < kForms; form++) {
      if (op->Eligible(form)) operand = std::max(operand, op->OperandBytes(form));
    }
    const ScratchBuildContext scratch(ctx, operand);
    ExecEnv env;
    env.stream = ctx.stream;
    env.workspace = scratch.get().workspace;
    env.workspaceBytes = env.workspace != nullptr ? scratch.get().workspaceBytes : 0;
    for (int form = 0; form < kForms; form++) {
      if (!op->Eligible(form)) continue;
      const kernels::IgemmParams q = op->Problem(form);
      for (int t = 0; t < kernels::IgemmTileCount(); t++) {
        if (!op->Runs(form, t, 1, wgmma)) continue;
        for (int s : form == kPhases ? std::vector<int>{1} : SplitCandidates(q, t, sms, env.workspaceBytes)) {
          op->Choose(t, s, form);
          if (op->WorkspaceBytes() > env.workspaceBytes) continue;
          const float ms = TimeOp(*op, env);
          if (ms >= 0.f && (bestMs < 0.f || ms < bestMs)) {
            bestMs = ms;
            best = t;
            bestSplits = s;
            bestForm = form;
          }
        }
      }
    }
    if (bestMs < 0.f) spec.Fail("the int8 gemm kernel failed to run in every tile configuration (" + key + ")");
  }
  op->Choose(best, bestSplits, bestForm);
  Tactic t;
  t.kind = TacticKind::Igemm;
  t.algo = best;
  t.words[0] = static_cast<uint64_t>(bestSplits);
  t.words[1] = static_cast<uint64_t>(bestForm);
  t.ms = bestMs;
  t.name = op->Tactic();
  ctx.source = ctx.cache->Record(key, std::move(t), bestMs >= 0.f);
  return op;
}

}  // namespace fxrt::exec
