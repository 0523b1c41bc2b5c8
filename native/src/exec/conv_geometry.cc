#include "exec/conv_geometry.h"

#include <algorithm>

#include "kernels/copy.h"

namespace fxrt::exec {

namespace {

constexpr int64_t kMaxDim = int64_t{1} << 30;

int64_t Numel(const kernels::StridedView& v) {
  int64_t n = 1;
  for (int d = 0; d < v.rank; d++) n *= v.size[d];
  return n;
}

// The largest word (at most `max` bytes) that a channel run of `channelBytes` splits into.
int WordFor(int64_t channelBytes, int elemBytes, int max) {
  for (int w = max; w > elemBytes; w /= 2) {
    if (channelBytes % w == 0) return w;
  }
  return elemBytes;
}

}  // namespace

ConvGeometry ReadConvGeometry(const SpecReader& spec) {
  ConvGeometry g;
  g.dtype = spec.Dtype("dtype");
  if (!IsFloating(g.dtype)) spec.Fail("(de)convolution needs float32, float16 or bfloat16 operands");
  auto count = [&](const char* key) {
    const int64_t v = spec.Int(key);
    if (v < 1 || v > kMaxDim) spec.Fail(std::string(key) + " must be a positive integer below 2^30, got " + std::to_string(v));
    return static_cast<int>(v);
  };
  g.n = count("n");
  g.c = count("c");
  g.k = count("k");
  g.groups = count("groups");
  if (g.c % g.groups != 0 || g.k % g.groups != 0) {
    spec.Fail("channels " + std::to_string(g.c) + " -> " + std::to_string(g.k) + " do not divide by groups " + std::to_string(g.groups));
  }
  const std::vector<int64_t> in = spec.Ints("inSpatial");
  if (in.empty() || in.size() > static_cast<size_t>(kMaxConvDims)) {
    spec.Fail("inSpatial must have 1 to 3 dims, got " + std::to_string(in.size()));
  }
  g.spatial = static_cast<int>(in.size());
  const int lift = g.spatial == 1 ? 1 : 0;
  g.nd = g.spatial + lift;
  struct Field {
    const char* key;
    int* dst;
    int64_t min;
  };
  const Field fields[] = {
      {"inSpatial", g.in, 1},      {"outSpatial", g.out, 1},       {"kernel", g.kernel, 1},          {"stride", g.stride, 1},
      {"dilation", g.dilation, 1}, {"prePadding", g.pre, -kMaxDim}, {"postPadding", g.post, -kMaxDim},
  };
  for (const Field& f : fields) {
    const std::vector<int64_t> v = spec.Ints(f.key);
    if (v.size() != in.size()) {
      spec.Fail(std::string(f.key) + " has " + std::to_string(v.size()) + " entries, inSpatial " + std::to_string(in.size()));
    }
    // A lifted 1-D layer gets a leading dim of size 1: kernel 1, stride 1, dilation 1, no padding.
    if (lift == 1) f.dst[0] = f.min == 1 ? 1 : 0;
    for (size_t d = 0; d < v.size(); d++) {
      if (v[d] < f.min || v[d] > kMaxDim) spec.Fail(std::string(f.key) + "[" + std::to_string(d) + "] is out of range: " + std::to_string(v[d]));
      f.dst[d + lift] = static_cast<int>(v[d]);
    }
  }
  g.relu = spec.Bool("relu");
  return g;
}

int64_t ChannelsLastVolume(int n, int ch, int nd, const int* dims) {
  int64_t v = static_cast<int64_t>(n) * ch;
  for (int d = 0; d < nd; d++) v *= dims[d];
  return v;
}

std::string GeometryKey(const ConvGeometry& g) {
  std::string key = std::string(DTypeName(g.dtype)) + " n" + std::to_string(g.n) + " c" + std::to_string(g.c) + " k" +
                    std::to_string(g.k) + " g" + std::to_string(g.groups);
  auto list = [&](const char* name, const int* v) {
    key += std::string(" ") + name;
    for (int d = 0; d < g.nd; d++) key += (d > 0 ? "," : "") + std::to_string(v[d]);
  };
  list("in", g.in);
  list("out", g.out);
  list("ker", g.kernel);
  list("str", g.stride);
  list("dil", g.dilation);
  list("pre", g.pre);
  list("post", g.post);
  return key;
}

WindowCopy::WindowCopy(DType dtype, int n, int ch, int nd, const int* srcDims, const int* dstDims, const int* offset)
    : elemBytes_(static_cast<int>(ItemSize(dtype))), channelBytes_(static_cast<int64_t>(ch) * static_cast<int64_t>(ItemSize(dtype))) {
  const int rank = nd + 2;
  int64_t srcSize[kMaxConvDims + 2], dstSize[kMaxConvDims + 2], srcStride[kMaxConvDims + 2], dstStride[kMaxConvDims + 2];
  srcSize[0] = dstSize[0] = n;
  srcSize[rank - 1] = dstSize[rank - 1] = ch;
  for (int d = 0; d < nd; d++) {
    srcSize[d + 1] = srcDims[d];
    dstSize[d + 1] = dstDims[d];
  }
  srcStride[rank - 1] = dstStride[rank - 1] = 1;
  for (int i = rank - 2; i >= 0; i--) {
    srcStride[i] = srcStride[i + 1] * srcSize[i + 1];
    dstStride[i] = dstStride[i + 1] * dstSize[i + 1];
  }
  // The overlap: dst [lo, hi) per spatial dim reads src [lo + offset, hi + offset).
  int64_t lo[kMaxConvDims], hi[kMaxConvDims];
  copies_ = true;
  for (int d = 0; d < nd; d++) {
    lo[d] = std::max<int64_t>(0, -static_cast<int64_t>(offset[d]));
    hi[d] = std::min<int64_t>(dstDims[d], static_cast<int64_t>(srcDims[d]) - offset[d]);
    if (hi[d] <= lo[d]) copies_ = false;
  }
  auto region = [&](const int64_t* start, const int64_t* size, const int64_t* strides) {
    Region r;
    r.view.rank = rank;
    for (int i = 0; i < rank; i++) {
      r.view.size[i] = size[i];
      r.view.stride[i] = strides[i];
      r.offset += start[i] * strides[i];
    }
    return r;
  };
  if (!copies_) {
    const int64_t zero[kMaxConvDims + 2] = {};
    fills_.push_back(region(zero, dstSize, dstStride));
  } else {
    int64_t start[kMaxConvDims + 2] = {}, srcStart[kMaxConvDims + 2] = {}, size[kMaxConvDims + 2];
    size[0] = n;
    size[rank - 1] = ch;
    for (int d = 0; d < nd; d++) {
      start[d + 1] = lo[d];
      srcStart[d + 1] = lo[d] + offset[d];
      size[d + 1] = hi[d] - lo[d];
    }
    src_ = region(srcStart, size, srcStride);
    dst_ = region(start, size, dstStride);
    // Borders, disjoint: along dim d the slabs before lo and from hi, spanning the overlap in the
    // dims before d and the whole extent in the dims after it.
    for (int d = 0; d < nd; d++) {
      for (const auto& [from, to] : {std::pair<int64_t, int64_t>{0, lo[d]}, std::pair<int64_t, int64_t>{hi[d], dstDims[d]}}) {
        if (to <= from) continue;
        int64_t fStart[kMaxConvDims + 2] = {}, fSize[kMaxConvDims + 2];
        fSize[0] = n;
        fSize[rank - 1] = ch;
        for (int e = 0; e < nd; e++) {
          fStart[e + 1] = e < d ? lo[e] : e == d ? from : 0;
          fSize[e + 1] = e < d ? hi[e] - lo[e] : e == d ? to - from : dstDims[e];
        }
        fills_.push_back(region(fStart, fSize, dstStride));
      }
    }
  }
  wide_ = Widen(WordFor(channelBytes_, elemBytes_, 16));
  narrow_ = Widen(elemBytes_);
}

WindowCopy::Words WindowCopy::Widen(int bytes) const {
  // Every stride but the channel dim's and every offset are whole channel runs, so whole words.
  const int fillBytes = WordFor(channelBytes_, elemBytes_, std::min(bytes, 8));
  auto convert = [&](const Region& r, int word) {
    Region out = r;
    const int64_t ratio = word / elemBytes_;
    if (ratio <= 1) return out;
    out.view.size[r.view.rank - 1] /= ratio;
    for (int i = 0; i < r.view.rank - 1; i++) out.view.stride[i] /= ratio;
    out.offset /= ratio;
    return out;
  };
  Words w;
  w.bytes = bytes;
  w.fillBytes = fillBytes;
  if (copies_) {
    w.src = convert(src_, bytes);
    w.dst = convert(dst_, bytes);
  }
  for (const Region& f : fills_) w.fills.push_back(convert(f, fillBytes));
  return w;
}

std::string WindowCopy::Run(const Words& w, const char* src, char* dst, cudaStream_t stream) const {
  for (const Region& f : w.fills) {
    cudaError_t err = kernels::LaunchFill(dst + f.offset * w.fillBytes, f.view, Numel(f.view), w.fillBytes, 0, stream);
    if (err != cudaSuccess) return std::string("window fill: ") + cudaGetErrorString(err);
  }
  if (!copies_) return "";
  cudaError_t err = kernels::LaunchStridedCopy(src + w.src.offset * w.bytes, w.src.view, dst + w.dst.offset * w.bytes, w.dst.view,
                                               Numel(w.dst.view), w.bytes, stream);
  return err == cudaSuccess ? "" : std::string("window copy: ") + cudaGetErrorString(err);
}

std::string WindowCopy::Enqueue(const void* src, void* dst, cudaStream_t stream) const {
  const auto s = reinterpret_cast<uintptr_t>(src), d = reinterpret_cast<uintptr_t>(dst);
  const bool aligned = s % wide_.bytes == 0 && d % wide_.bytes == 0;
  return aligned ? Run(wide_, static_cast<const char*>(src), static_cast<char*>(dst), stream)
                 : Run(narrow_, static_cast<const char*>(src), static_cast<char*>(dst), stream);
}

ScratchBuildContext::ScratchBuildContext(const BuildContext& ctx, size_t scratch) : ctx_(ctx) {
  if (scratch == 0 || scratch <= ctx.workspaceBytes / 2 || ctx.device == nullptr) return;
  const size_t bytes = scratch + ctx.workspaceBytes;
  ctx_.workspace = ctx.device->AllocateWorkspace(ctx.env, bytes, ctx.stream, "prepare");
  ctx_.workspaceBytes = bytes;
  owned_ = true;
}

ScratchBuildContext::~ScratchBuildContext() {
  if (owned_) ctx_.device->FreeWorkspace(ctx_.workspace, ctx_.workspaceBytes, ctx_.stream);
}

#ifdef FXRT_HAVE_CUDNN

cudnnDataType_t CudnnType(DType t) {
  switch (t) {
    case DType::Float16: return CUDNN_DATA_HALF;
    case DType::BFloat16: return CUDNN_DATA_BFLOAT16;
    default: return CUDNN_DATA_FLOAT;
  }
}

CudnnConvDescriptors::~CudnnConvDescriptors() {
  if (act != nullptr) cudnnDestroyActivationDescriptor(act);
  if (conv != nullptr) cudnnDestroyConvolutionDescriptor(conv);
  if (w != nullptr) cudnnDestroyFilterDescriptor(w);
  if (bias != nullptr) cudnnDestroyTensorDescriptor(bias);
  if (y != nullptr) cudnnDestroyTensorDescriptor(y);
  if (x != nullptr) cudnnDestroyTensorDescriptor(x);
}

std::string CudnnConvDescriptors::Create() {
  std::string err;
  auto check = [&](cudnnStatus_t st, const char* call) {
    if (st != CUDNN_STATUS_SUCCESS && err.empty()) err = std::string(call) + " failed: " + cudnnGetErrorString(st);
  };
  check(cudnnCreateTensorDescriptor(&x), "cudnnCreateTensorDescriptor");
  check(cudnnCreateTensorDescriptor(&y), "cudnnCreateTensorDescriptor");
  check(cudnnCreateTensorDescriptor(&bias), "cudnnCreateTensorDescriptor");
  check(cudnnCreateFilterDescriptor(&w), "cudnnCreateFilterDescriptor");
  check(cudnnCreateConvolutionDescriptor(&conv), "cudnnCreateConvolutionDescriptor");
  check(cudnnCreateActivationDescriptor(&act), "cudnnCreateActivationDescriptor");
  return err;
}

cudnnStatus_t SetChannelsLast(cudnnTensorDescriptor_t d, DType dtype, int n, int c, int nd, const int* dims) {
  int dimA[kMaxConvDims + 2] = {n, c};
  for (int i = 0; i < nd; i++) dimA[i + 2] = dims[i];
  return cudnnSetTensorNdDescriptorEx(d, CUDNN_TENSOR_NHWC, CudnnType(dtype), nd + 2, dimA);
}

cudnnStatus_t SetChannelsLastFilter(cudnnFilterDescriptor_t d, DType dtype, int out, int inPerGroup, int nd, const int* kernel) {
  int dimA[kMaxConvDims + 2] = {out, inPerGroup};
  for (int i = 0; i < nd; i++) dimA[i + 2] = kernel[i];
  return cudnnSetFilterNdDescriptor(d, CudnnType(dtype), CUDNN_TENSOR_NHWC, nd + 2, dimA);
}

std::string SetConvolution(cudnnConvolutionDescriptor_t conv, const ConvGeometry& g, const int* pad) {
  cudnnStatus_t st = cudnnSetConvolutionNdDescriptor(conv, g.nd, pad, g.stride, g.dilation, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT);
  if (st != CUDNN_STATUS_SUCCESS) return std::string("cudnnSetConvolutionNdDescriptor failed: ") + cudnnGetErrorString(st);
  st = cudnnSetConvolutionGroupCount(conv, g.groups);
  if (st != CUDNN_STATUS_SUCCESS) return std::string("cudnnSetConvolutionGroupCount failed: ") + cudnnGetErrorString(st);
  st = cudnnSetConvolutionMathType(conv, g.dtype == DType::Float32 ? CUDNN_FMA_MATH : CUDNN_TENSOR_OP_MATH);
  if (st != CUDNN_STATUS_SUCCESS) return std::string("cudnnSetConvolutionMathType failed: ") + cudnnGetErrorString(st);
  return "";
}

std::string CheckForwardOutput(const CudnnConvDescriptors& d, int n, int ch, int nd, const int* dims) {
  int got[kMaxConvDims + 2] = {};
  cudnnStatus_t st = cudnnGetConvolutionNdForwardOutputDim(d.conv, d.x, d.w, nd + 2, got);
  if (st != CUDNN_STATUS_SUCCESS) return std::string("cudnnGetConvolutionNdForwardOutputDim failed: ") + cudnnGetErrorString(st);
  auto shape = [&](int a, int b, const int* rest) {
    std::string s = "[" + std::to_string(a) + ", " + std::to_string(b);
    for (int i = 0; i < nd; i++) s += ", " + std::to_string(rest[i]);
    return s + "]";
  };
  bool same = got[0] == n && got[1] == ch;
  for (int i = 0; i < nd; i++) same = same && got[i + 2] == dims[i];
  return same ? "" : "cuDNN computes " + shape(got[0], got[1], got + 2) + ", the plan expects " + shape(n, ch, dims);
}

#endif  // FXRT_HAVE_CUDNN

}  // namespace fxrt::exec
