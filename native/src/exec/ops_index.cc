// Ops that move or select elements by index: gather, slices past the edges (fill / clamp /
// reflect / wrap, and constant padding), resize, topk and cumulative sums. Each builder checks
// its spec against the memory it addresses, then picks the launch form (32-bit indexing, words
// wider than an element) once, so enqueueing is a single launch.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "exec/op_factory.h"
#include "kernels/index.h"
#include "kernels/resize.h"
#include "kernels/scan.h"
#include "kernels/topk.h"

namespace fxrt::exec {

namespace {

constexpr int64_t kLimit32 = int64_t{1} << 31;

std::string Status(const char* what, cudaError_t err) {
  return err == cudaSuccess ? "" : std::string(what) + ": " + cudaGetErrorString(err);
}

int ElemBytes(const SpecReader& spec) {
  const int64_t b = spec.Int("elemBytes");
  if (b != 1 && b != 2 && b != 4 && b != 8) spec.Fail("elemBytes must be 1, 2, 4 or 8, got " + std::to_string(b));
  return static_cast<int>(b);
}

DType IndexDtype(const SpecReader& spec) {
  const DType t = spec.Dtype("indexDtype");
  if (t != DType::Int32 && t != DType::Int64) spec.Fail(std::string("indexDtype must be int32 or int64, got ") + DTypeName(t));
  return t;
}

// Integer arrays that must all have `rank` entries (at most kernels::kMaxRank).
std::vector<int64_t> RankInts(const SpecReader& spec, const char* key, size_t rank, size_t maxRank) {
  std::vector<int64_t> v = spec.Ints(key);
  if (v.size() != rank || rank > maxRank) {
    spec.Fail(std::string("field '") + key + "' needs one entry per dim (" + std::to_string(rank) + ", at most " +
              std::to_string(maxRank) + "), got " + std::to_string(v.size()));
  }
  return v;
}

int64_t Numel(const int64_t* size, int rank) {
  int64_t n = 1;
  for (int d = 0; d < rank; d++) n *= size[d];
  return n;
}

// The largest element offset a view reaches from its base, in absolute value.
int64_t Reach(const int64_t* size, const int64_t* stride, int rank) {
  int64_t r = 0;
  for (int d = 0; d < rank; d++) {
    if (size[d] == 0) return 0;
    r += (size[d] - 1) * (stride[d] < 0 ? -stride[d] : stride[d]);
  }
  return r;
}

kernels::StridedView ViewOf(const int64_t* size, const int64_t* stride, int rank) {
  kernels::StridedView v;
  v.rank = rank;
  for (int d = 0; d < rank; d++) {
    v.size[d] = size[d];
    v.stride[d] = stride[d];
  }
  return v;
}

bool Aligned(const void* p, int width) { return reinterpret_cast<uintptr_t>(p) % width == 0; }

// The widest word (16, 8 or 4 bytes) that `elemBytes` elements can move as when the innermost dim
// of `count` elements is contiguous in every operand: every stride in `others` and every pointer
// must then be a whole number of words. 0 when none fits.
int WordWidth(int elemBytes, int64_t count, const std::vector<int64_t>& others, const std::vector<const void*>& ptrs) {
  for (int width : {16, 8, 4}) {
    const int64_t ratio = width / elemBytes;
    if (ratio <= 1 || count % ratio != 0) continue;
    bool ok = true;
    for (int64_t s : others) ok = ok && s % ratio == 0;
    for (const void* p : ptrs) ok = ok && Aligned(p, width);
    if (ok) return width;
  }
  return 0;
}

// ---- gather ----

// The coordinates of element `offset` of a view whose dims have non-negative strides in any order
// (the layouts of plan values), e.g. "[1, 0]"; "" when no coordinate reaches it.
std::string PositionOf(int64_t offset, const kernels::StridedView& v) {
  std::vector<int> order;
  for (int d = 0; d < v.rank; d++) {
    if (v.size[d] > 1) order.push_back(d);
  }
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return v.stride[a] > v.stride[b]; });
  int64_t coord[kernels::kMaxRank] = {};
  int64_t rem = offset;
  for (int d : order) {
    if (v.stride[d] <= 0) return "";
    coord[d] = rem / v.stride[d];
    if (coord[d] < 0 || coord[d] >= v.size[d]) return "";
    rem -= coord[d] * v.stride[d];
  }
  if (rem != 0) return "";
  std::string out = "[";
  for (int d = 0; d < v.rank; d++) out += (d > 0 ? ", " : "") + std::to_string(coord[d]);
  return out + "]";
}

class GatherOp : public Op {
 public:
  // `indices`: the index operand's logical view and `axis` the data dim it picks from (for errors).
  GatherOp(const kernels::GatherParams& p, const kernels::StridedView& indices, int64_t axis) : p_(p), indices_(indices), axis_(axis) {}
  std::string Enqueue(const ExecEnv& env) override {
    p_.dataError = env.dataError;
    return Status("gather", kernels::LaunchGather(p_, env.stream));
  }
  std::string Tactic() const override { return "gather[" + std::to_string(p_.elemBytes) + "B words]"; }
  bool ReportsDataErrors() const override { return true; }
  // As the reference backend's gather says it (src/kernels/reference/index.ts readIndices).
  std::string DescribeDataError(const kernels::DataErrorRecord& r) const override {
    if (r.code != static_cast<int32_t>(kernels::DataErrorCode::IndexOutOfRange)) return Op::DescribeDataError(r);
    const int64_t size = r.values[2];
    const std::string position = PositionOf(r.values[1], indices_);
    const std::string where = position.empty() ? "at element offset " + std::to_string(r.values[1]) : "at position " + position;
    return "gather index " + std::to_string(r.values[0]) + " " + where + " of the indices is out of range for dim " +
           std::to_string(axis_) + " of size " + std::to_string(size) + " (expected " + std::to_string(-size) + ".." +
           std::to_string(size - 1) + ")";
  }

 private:
  kernels::GatherParams p_;
  kernels::StridedView indices_;
  int64_t axis_;
};

// ---- slice past the edges / padding ----

const char* const kSliceModes[] = {"fill", "clamp", "reflect", "wrap"};

class SliceMapOp : public Op {
 public:
  explicit SliceMapOp(const kernels::SliceMapParams& p) : p_(p) {}
  std::string Enqueue(const ExecEnv& env) override { return Status("slice_map", kernels::LaunchSliceMap(p_, env.stream)); }
  std::string Tactic() const override {
    return std::string("slice_map_") + kSliceModes[static_cast<int>(p_.mode)] + "[" + std::to_string(p_.elemBytes) + "B words]";
  }

 private:
  kernels::SliceMapParams p_;
};

// ---- resize ----

const char* const kResizeKinds[] = {"nearest_floor", "nearest_half_up", "linear", "cubic"};

class ResizeOp : public Op {
 public:
  explicit ResizeOp(const kernels::ResizeParams& p) : p_(p) {}
  std::string Enqueue(const ExecEnv& env) override { return Status("resize", kernels::LaunchResize(p_, env.stream)); }
  std::string Tactic() const override {
    std::string t = std::string("resize_") + kResizeKinds[static_cast<int>(p_.kind)];
    if (p_.channelsLast) t += "_nhwc";
    if (p_.kind == kernels::ResizeKind::NearestFloor || p_.kind == kernels::ResizeKind::NearestHalfUp) {
      t += "[" + std::to_string(p_.elemBytes) + "B words]";
    }
    return t;
  }

 private:
  kernels::ResizeParams p_;
};

// ---- topk / cumulative ----

class TopkOp : public Op {
 public:
  TopkOp(const kernels::TopkParams& p, size_t workspace) : p_(p), workspace_(workspace) {}
  std::string Enqueue(const ExecEnv& env) override {
    return Status("topk", kernels::LaunchTopk(p_, env.workspace, env.workspaceBytes, env.stream));
  }
  size_t WorkspaceBytes() const override { return workspace_; }
  std::string Tactic() const override { return kernels::TopkAlgorithmName(kernels::ChooseTopk(p_)); }

 private:
  kernels::TopkParams p_;
  size_t workspace_;
};

class CumsumOp : public Op {
 public:
  explicit CumsumOp(const kernels::CumsumParams& p) : p_(p) {}
  std::string Enqueue(const ExecEnv& env) override { return Status("cumsum", kernels::LaunchCumsum(p_, env.stream)); }
  std::string Tactic() const override { return p_.inner > 1 ? "cumsum_lines" : "cumsum_rows"; }

 private:
  kernels::CumsumParams p_;
};

// The three outer dims of a row-major [outer, size, inner] operand.
void AxisDims(const SpecReader& spec, int64_t& outer, int64_t& size, int64_t& inner) {
  outer = spec.Int("outer");
  size = spec.Int("size");
  inner = spec.Int("inner");
  if (outer < 0 || size < 0 || inner < 0) spec.Fail("outer, size and inner must be non-negative");
}

}  // namespace

std::unique_ptr<Op> BuildGather(const SpecReader& spec, BuildContext& ctx) {
  kernels::GatherParams p{};
  const int elem = ElemBytes(spec);
  p.indexDtype = IndexDtype(spec);
  const std::vector<int64_t> shape = spec.Ints("shape");
  const size_t rank = shape.size();
  const std::vector<int64_t> os = RankInts(spec, "outStrides", rank, kernels::kMaxRank);
  const std::vector<int64_t> ds = RankInts(spec, "dataStrides", rank, kernels::kMaxRank);
  const std::vector<int64_t> is = RankInts(spec, "indexStrides", rank, kernels::kMaxRank);
  p.rank = static_cast<int>(rank);
  for (size_t d = 0; d < rank; d++) {
    if (shape[d] < 0) spec.Fail("shape has a negative dim");
    p.size[d] = shape[d];
    p.outStride[d] = os[d];
    p.dataStride[d] = ds[d];
    p.indexStride[d] = is[d];
  }
  p.axisSize = spec.Int("axisSize");
  p.axisStride = spec.Int("axisStride");
  if (p.axisSize < 0) spec.Fail("axisSize must be non-negative");
  const int64_t n = Numel(p.size, p.rank);
  // The data elements any in-range index can reach: the data view plus the axis.
  Extent dataExtent = ExtentOf(ViewOf(p.size, p.dataStride, p.rank));
  if (n == 0 || p.axisSize == 0) dataExtent = Extent{};
  else if (p.axisStride < 0) dataExtent.lo += (p.axisSize - 1) * p.axisStride;
  else dataExtent.hi += (p.axisSize - 1) * p.axisStride;
  p.data = ResolveRef(spec, "data", ctx.mem, dataExtent, elem);
  p.index = ResolveRef(spec, "index", ctx.mem, ExtentOf(ViewOf(p.size, p.indexStride, p.rank)), ItemSize(p.indexDtype));
  p.out = ResolveRef(spec, "out", ctx.mem, ExtentOf(ViewOf(p.size, p.outStride, p.rank)), elem);
  p.elemBytes = elem;
  const int last = p.rank - 1;
  if (last >= 0 && p.outStride[last] == 1 && p.dataStride[last] == 1 && p.indexStride[last] == 0) {
    std::vector<int64_t> others{p.axisStride};
    for (int d = 0; d < last; d++) {
      others.push_back(p.outStride[d]);
      others.push_back(p.dataStride[d]);
    }
    const int width = WordWidth(elem, p.size[last], others, {p.data, p.out});
    if (width > 0) {
      const int64_t ratio = width / elem;
      p.size[last] /= ratio;
      for (int d = 0; d < last; d++) {
        p.outStride[d] /= ratio;
        p.dataStride[d] /= ratio;
      }
      p.axisStride /= ratio;
      p.elemBytes = width;
    }
  }
  const int64_t m = Numel(p.size, p.rank);
  const int64_t axisReach = p.axisSize > 0 ? (p.axisSize - 1) * (p.axisStride < 0 ? -p.axisStride : p.axisStride) : 0;
  p.fits32 = m < kLimit32 && Reach(p.size, p.outStride, p.rank) < kLimit32 && Reach(p.size, p.indexStride, p.rank) < kLimit32 &&
             Reach(p.size, p.dataStride, p.rank) + axisReach < kLimit32;
  const kernels::StridedView indices = spec.View("indexView");
  const int64_t axis = spec.Int("axis");
  if (axis < 0) spec.Fail("axis must be non-negative, got " + std::to_string(axis));
  return std::make_unique<GatherOp>(p, indices, axis);
}

std::unique_ptr<Op> BuildSliceMap(const SpecReader& spec, BuildContext& ctx) {
  kernels::SliceMapParams p{};
  const int elem = ElemBytes(spec);
  const std::string mode = spec.Str("mode");
  int m = -1;
  for (int i = 0; i < 4; i++) {
    if (mode == kSliceModes[i]) m = i;
  }
  if (m < 0) spec.Fail("mode must be fill, clamp, reflect or wrap, got '" + mode + "'");
  p.mode = static_cast<kernels::SliceMapMode>(m);
  const std::vector<int64_t> shape = spec.Ints("shape");
  const size_t rank = shape.size();
  const std::vector<int64_t> dst = RankInts(spec, "dstStrides", rank, kernels::kMaxRank);
  const std::vector<int64_t> src = RankInts(spec, "srcStrides", rank, kernels::kMaxRank);
  const std::vector<int64_t> start = RankInts(spec, "start", rank, kernels::kMaxRank);
  const std::vector<int64_t> step = RankInts(spec, "stride", rank, kernels::kMaxRank);
  const std::vector<int64_t> srcSize = RankInts(spec, "srcSize", rank, kernels::kMaxRank);
  p.rank = static_cast<int>(rank);
  for (size_t d = 0; d < rank; d++) {
    if (shape[d] < 0 || srcSize[d] < 0) spec.Fail("shape and srcSize must be non-negative");
    p.size[d] = shape[d];
    p.dstStride[d] = dst[d];
    p.srcStride[d] = src[d];
    p.start[d] = start[d];
    p.step[d] = step[d];
    p.srcSize[d] = srcSize[d];
  }
  const int64_t n = Numel(p.size, p.rank);
  if (n > 0 && p.mode != kernels::SliceMapMode::Fill) {
    for (int d = 0; d < p.rank; d++) {
      if (p.srcSize[d] == 0) spec.Fail("mode '" + mode + "' cannot read from the empty source dim " + std::to_string(d));
    }
  }
  // The fill element, as its low and high 32-bit halves (a double cannot carry 64 bits exactly).
  const auto lo = static_cast<uint64_t>(spec.Int("wordLo")) & 0xffffffffu;
  const auto hi = static_cast<uint64_t>(spec.Int("wordHi")) & 0xffffffffu;
  const uint64_t word = (hi << 32) | lo;
  // Mapped source indices stay in [0, srcSize) on every dim; fill mode reads nothing from an empty dim.
  const Extent srcExtent = n == 0 ? Extent{} : ExtentOf(ViewOf(p.srcSize, p.srcStride, p.rank));
  p.src = ResolveRef(spec, "src", ctx.mem, srcExtent, elem);
  p.dst = ResolveRef(spec, "dst", ctx.mem, ExtentOf(ViewOf(p.size, p.dstStride, p.rank)), elem);
  p.elemBytes = elem;
  int64_t ratio = 1;
  const int last = p.rank - 1;
  if (last >= 0 && p.dstStride[last] == 1 && p.srcStride[last] == 1 && p.start[last] == 0 && p.step[last] == 1 &&
      p.srcSize[last] == p.size[last]) {
    std::vector<int64_t> others;
    for (int d = 0; d < last; d++) {
      others.push_back(p.dstStride[d]);
      others.push_back(p.srcStride[d]);
    }
    const int width = WordWidth(elem, p.size[last], others, {p.src, p.dst});
    if (width > 0) {
      ratio = width / elem;
      p.size[last] /= ratio;
      p.srcSize[last] /= ratio;
      for (int d = 0; d < last; d++) {
        p.dstStride[d] /= ratio;
        p.srcStride[d] /= ratio;
      }
      p.elemBytes = width;
    }
  }
  // The fill word repeated over the (possibly widened) word.
  char bytes[16] = {};
  for (int64_t r = 0; r < ratio; r++) std::memcpy(bytes + r * elem, &word, static_cast<size_t>(elem));
  std::memcpy(p.fill, bytes, sizeof(bytes));
  bool fits = Numel(p.size, p.rank) < kLimit32 && Reach(p.size, p.dstStride, p.rank) < kLimit32 &&
              Reach(p.srcSize, p.srcStride, p.rank) < kLimit32;
  for (int d = 0; d < p.rank && fits; d++) {
    const int64_t first = p.start[d] < 0 ? -p.start[d] : p.start[d];
    const int64_t walk = p.size[d] > 0 ? (p.size[d] - 1) * (p.step[d] < 0 ? -p.step[d] : p.step[d]) : 0;
    fits = first + walk < kLimit32 && 2 * p.srcSize[d] < kLimit32;
  }
  p.fits32 = fits;
  return std::make_unique<SliceMapOp>(p);
}

std::unique_ptr<Op> BuildResize(const SpecReader& spec, BuildContext& ctx) {
  kernels::ResizeParams p{};
  p.dtype = spec.Dtype("dtype");
  const std::string kind = spec.Str("kind");
  int k = -1;
  for (int i = 0; i < 4; i++) {
    if (kind == kResizeKinds[i]) k = i;
  }
  if (k < 0) spec.Fail("kind must be nearest_floor, nearest_half_up, linear or cubic, got '" + kind + "'");
  p.kind = static_cast<kernels::ResizeKind>(k);
  const bool interp = p.kind == kernels::ResizeKind::Linear || p.kind == kernels::ResizeKind::Cubic;
  if (interp && !IsFloating(p.dtype)) spec.Fail(kind + " resize needs float32, float16 or bfloat16 data, got " + DTypeName(p.dtype));
  p.alignCorners = spec.Bool("alignCorners");
  p.channelsLast = spec.Bool("channelsLast");
  const std::vector<int64_t> in = spec.Ints("inShape");
  const size_t rank = in.size();
  if (rank < 3 || rank > static_cast<size_t>(kernels::kMaxResizeRank)) spec.Fail("resize takes 3-d to 5-d tensors, got rank " + std::to_string(rank));
  if (p.kind == kernels::ResizeKind::Cubic && rank != 4) spec.Fail("cubic resize takes 4-d tensors");
  if (p.channelsLast && rank != 4) spec.Fail("channelsLast needs a 4-d tensor");
  const std::vector<int64_t> out = RankInts(spec, "outShape", rank, kernels::kMaxResizeRank);
  const std::vector<int64_t> xs = RankInts(spec, "xStrides", rank, kernels::kMaxResizeRank);
  const std::vector<int64_t> ys = RankInts(spec, "yStrides", rank, kernels::kMaxResizeRank);
  const std::vector<int64_t> scaleBits = RankInts(spec, "scaleBits", rank - 2, kernels::kMaxResizeRank - 2);
  p.rank = static_cast<int>(rank);
  for (size_t d = 0; d < rank; d++) {
    if (in[d] < 0 || out[d] < 0) spec.Fail("shapes must be non-negative");
    if (d < 2 && in[d] != out[d]) spec.Fail("resize keeps dims 0 and 1 (N, C)");
    // Coordinates are exact in float32 below 2^23, as the reference's arithmetic needs.
    if (d >= 2 && (in[d] >= (int64_t{1} << 23) || out[d] >= (int64_t{1} << 23))) spec.Fail("spatial dims must be below 2^23");
    if (d >= 2 && out[d] > 0 && in[d] == 0) spec.Fail("cannot resize an empty spatial dim to a non-empty one");
    p.inSize[d] = in[d];
    p.outSize[d] = out[d];
    p.xStride[d] = xs[d];
    p.yStride[d] = ys[d];
  }
  for (size_t l = 0; l + 2 < rank; l++) {
    if (scaleBits[l] < 0 || scaleBits[l] > 0xffffffffLL) spec.Fail("scaleBits must hold float32 bit patterns");
    const auto bits = static_cast<uint32_t>(scaleBits[l]);
    std::memcpy(&p.scale[l], &bits, sizeof(bits));
  }
  const size_t item = ItemSize(p.dtype);
  const int64_t n = Numel(p.outSize, p.rank);
  const Extent xExtent = n == 0 ? Extent{} : ExtentOf(ViewOf(p.inSize, p.xStride, p.rank));
  p.x = ResolveRef(spec, "x", ctx.mem, xExtent, item);
  p.y = ResolveRef(spec, "y", ctx.mem, ExtentOf(ViewOf(p.outSize, p.yStride, p.rank)), item);
  p.elemBytes = static_cast<int>(item);
  if (!interp && p.channelsLast && p.xStride[1] == 1 && p.yStride[1] == 1) {
    const std::vector<int64_t> others{p.xStride[0], p.xStride[2], p.xStride[3], p.yStride[0], p.yStride[2], p.yStride[3]};
    const int width = WordWidth(p.elemBytes, p.outSize[1], others, {p.x, p.y});
    if (width > 0) {
      const int64_t ratio = width / p.elemBytes;
      p.inSize[1] /= ratio;
      p.outSize[1] /= ratio;
      for (int d : {0, 2, 3}) {
        p.xStride[d] /= ratio;
        p.yStride[d] /= ratio;
      }
      p.elemBytes = width;
    }
  }
  p.fits32 = Numel(p.outSize, p.rank) < kLimit32 && Reach(p.inSize, p.xStride, p.rank) < kLimit32 &&
             Reach(p.outSize, p.yStride, p.rank) < kLimit32;
  return std::make_unique<ResizeOp>(p);
}

std::unique_ptr<Op> BuildTopk(const SpecReader& spec, BuildContext& ctx) {
  kernels::TopkParams p{};
  p.dtype = spec.Dtype("dtype");
  if (p.dtype == DType::Int64 || p.dtype == DType::Bool) spec.Fail(std::string("topk takes float, int8, uint8 or int32 data, got ") + DTypeName(p.dtype));
  p.indexDtype = IndexDtype(spec);
  p.largest = spec.Bool("largest");
  AxisDims(spec, p.outer, p.size, p.inner);
  p.k = spec.Int("k");
  if (p.k < 0 || p.k > p.size) spec.Fail("k must be in 0.." + std::to_string(p.size) + ", got " + std::to_string(p.k));
  if (p.size >= kLimit32) spec.Fail("topk takes dims of fewer than 2^31 elements");
  const int64_t in = p.outer * p.size * p.inner, out = p.outer * p.k * p.inner;
  p.x = ResolveRef(spec, "x", ctx.mem, ContiguousExtent(in), ItemSize(p.dtype));
  p.values = ResolveRef(spec, "values", ctx.mem, ContiguousExtent(out), ItemSize(p.dtype));
  p.indices = ResolveRef(spec, "indices", ctx.mem, ContiguousExtent(out), ItemSize(p.indexDtype));
  const int64_t workspace = kernels::TopkWorkspaceBytes(p);
  if (workspace < 0) spec.Fail("topk over " + std::to_string(p.size) + " elements with k = " + std::to_string(p.k) + " needs more than 256 MiB of workspace per row");
  return std::make_unique<TopkOp>(p, static_cast<size_t>(workspace));
}

std::unique_ptr<Op> BuildCumsum(const SpecReader& spec, BuildContext& ctx) {
  kernels::CumsumParams p{};
  p.dtype = spec.Dtype("dtype");
  if (p.dtype == DType::Bool) spec.Fail("cumsum takes numeric data, got bool");
  AxisDims(spec, p.outer, p.size, p.inner);
  p.exclusive = spec.Bool("exclusive");
  p.reverse = spec.Bool("reverse");
  const int64_t n = p.outer * p.size * p.inner;
  p.x = ResolveRef(spec, "x", ctx.mem, ContiguousExtent(n), ItemSize(p.dtype));
  p.y = ResolveRef(spec, "y", ctx.mem, ContiguousExtent(n), ItemSize(p.dtype));
  return std::make_unique<CumsumOp>(p);
}

}  // namespace fxrt::exec
