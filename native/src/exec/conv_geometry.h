// What convolution (op_conv.cc) and transposed convolution (op_deconv.cc) share: their geometry as
// the spec gives it ({ dtype, n, c, k, groups, inSpatial, outSpatial, kernel, stride, dilation,
// prePadding, postPadding, relu }, 1 to 3 spatial dims, channels-last memory) with a 1-D layer
// lifted to 2-D (H = 1), the channels-last cuDNN descriptors, and the window copy that pads an
// input or crops an output through a scratch buffer where cuDNN's symmetric padding cannot.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#ifdef FXRT_HAVE_CUDNN
#include <cudnn.h>
#endif

#include "dtype.h"
#include "exec/op_factory.h"
#include "exec/spec.h"
#include "kernels/strided.h"

namespace fxrt::exec {

constexpr int kMaxConvDims = 3;

struct ConvGeometry {
  DType dtype = DType::Float32;
  int spatial = 2;  // spatial dims of the layer (1 to 3)
  int nd = 2;       // spatial dims as cuDNN sees them (2 or 3: a 1-D layer runs with H = 1)
  int n = 0;
  int c = 0;        // channels of x
  int k = 0;        // channels of y
  int groups = 1;
  // Per spatial dim (the first `nd` entries): x's and y's sizes, the kernel and its parameters.
  int in[kMaxConvDims] = {}, out[kMaxConvDims] = {}, kernel[kMaxConvDims] = {};
  int stride[kMaxConvDims] = {}, dilation[kMaxConvDims] = {}, pre[kMaxConvDims] = {}, post[kMaxConvDims] = {};
  bool relu = false;
};

// Reads and checks the geometry fields of a conv/deconv spec (fails naming the field).
ConvGeometry ReadConvGeometry(const SpecReader& spec);

// Elements of a dense channels-last [n, dims..., ch] tensor.
int64_t ChannelsLastVolume(int n, int ch, int nd, const int* dims);

// The geometry as part of a tactic key: dtype, sizes, kernel, strides, dilations, paddings.
std::string GeometryKey(const ConvGeometry& g);

// Bytes rounded up to the workspace's alignment.
inline size_t AlignWorkspace(size_t bytes) { return (bytes + 255) / 256 * 256; }

// dst[o] = src[o + offset] per spatial dim where that lies inside src, else 0, between dense
// channels-last tensors [n, srcDims..., ch] and [n, dstDims..., ch]: explicit padding (negative
// offsets) or cropping (positive) in one pass that writes every dst element once (a strided copy
// of the overlap, fills of the borders), in 16-byte words where channel runs and pointers allow.
class WindowCopy {
 public:
  WindowCopy() = default;
  WindowCopy(DType dtype, int n, int ch, int nd, const int* srcDims, const int* dstDims, const int* offset);
  // Returns "" or what failed.
  std::string Enqueue(const void* src, void* dst, cudaStream_t stream) const;

 private:
  struct Region {
    kernels::StridedView view;  // in elements of the dtype
    int64_t offset = 0;         // elements from the base pointer
  };
  struct Words {  // the regions re-expressed in words (channel runs split into whole words)
    int bytes = 0;      // copy word
    int fillBytes = 0;  // fill word (the fill kernel stores at most 8 bytes)
    Region src, dst;
    std::vector<Region> fills;
  };
  Words Widen(int bytes) const;
  std::string Run(const Words& w, const char* src, char* dst, cudaStream_t stream) const;

  int elemBytes_ = 0;
  int64_t channelBytes_ = 0;
  bool copies_ = false;  // whether src and dst overlap at all
  Region src_, dst_;
  std::vector<Region> fills_;
  Words wide_, narrow_;
};

// A copy of the build context whose workspace also has room for `scratch` bytes of an op's own
// data (a padded input, a cropped result) besides the library's: the context's workspace when it
// has room to spare, else a temporary allocation that this object frees.
class ScratchBuildContext {
 public:
  ScratchBuildContext(const BuildContext& ctx, size_t scratch);
  ~ScratchBuildContext();
  ScratchBuildContext(const ScratchBuildContext&) = delete;
  ScratchBuildContext& operator=(const ScratchBuildContext&) = delete;
  const BuildContext& get() const { return ctx_; }

 private:
  BuildContext ctx_;
  bool owned_ = false;
};

#ifdef FXRT_HAVE_CUDNN

cudnnDataType_t CudnnType(DType t);

// Owns the descriptors of one (transposed) convolution.
struct CudnnConvDescriptors {
  CudnnConvDescriptors() = default;
  ~CudnnConvDescriptors();
  CudnnConvDescriptors(const CudnnConvDescriptors&) = delete;
  CudnnConvDescriptors& operator=(const CudnnConvDescriptors&) = delete;
  // Creates every descriptor; returns "" or what cuDNN refused.
  std::string Create();

  cudnnTensorDescriptor_t x = nullptr, y = nullptr, bias = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  cudnnActivationDescriptor_t act = nullptr;
};

// A channels-last (NHWC, NDHWC) tensor [n, c, dims...] with `nd` spatial dims.
cudnnStatus_t SetChannelsLast(cudnnTensorDescriptor_t d, DType dtype, int n, int c, int nd, const int* dims);
// A channels-last filter [out, inPerGroup, kernel...] (stored [out, kernel..., inPerGroup]).
cudnnStatus_t SetChannelsLastFilter(cudnnFilterDescriptor_t d, DType dtype, int out, int inPerGroup, int nd, const int* kernel);
// Cross-correlation with symmetric `pad`, float accumulation, `groups`; float32 stays IEEE float32
// (no TF32, as the reference), 16-bit types use the tensor cores.
std::string SetConvolution(cudnnConvolutionDescriptor_t conv, const ConvGeometry& g, const int* pad);
// "" when cuDNN's forward output of (x, w, conv) is [n, ch, dims...], else what it computes.
std::string CheckForwardOutput(const CudnnConvDescriptors& d, int n, int ch, int nd, const int* dims);

#endif  // FXRT_HAVE_CUDNN

}  // namespace fxrt::exec
