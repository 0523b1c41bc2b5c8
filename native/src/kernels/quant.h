// Explicit quantization (TensorRT's Q/DQ layers) over strided tensors, per tensor or per channel,
// bit-identical to the reference (src/kernels/reference/quant.ts, PyTorch CPU's arithmetic):
//   quantize:   q = saturate(zeroPoint + round_half_even(x * fround(1 / scale)))  in int8/uint8/int32
//               (x * inv rounded to float32; zeroPoint + that integer rounded to float32; NaN → qmax)
//   dequantize: y = fround(scale * fround(q - zeroPoint)), then rounded to the output float type.
// The iteration shape is the output's; x, y, scale and zero point each have strides over it (the
// scale's and zero point's are 0 except along the channel axis).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "kernels/strided.h"

namespace fxrt::kernels {

struct QuantOperand {
  const void* ptr;
  DType dtype;
  int64_t stride[kMaxRank];
};

struct QuantParams {
  int rank;
  int64_t size[kMaxRank];
  QuantOperand x;      // quantize: a float; dequantize: int8, uint8 or int32
  QuantOperand scale;  // a float
  void* y;             // the other side
  DType yDtype;
  int64_t yStride[kMaxRank];
  // The zero point (y's dtype when quantizing, x's when dequantizing), with the scale's strides; null: 0.
  const void* zeroPoint;
  DType zeroPointDtype;
  bool quantize;
};

cudaError_t LaunchQuant(const QuantParams& params, cudaStream_t stream);
// The kernel LaunchQuant runs for these parameters, as a tactic names it: "quantize_contiguous[32
// values per thread]" (a per-tensor quantize whose iteration shape coalesces to one contiguous run,
// x 16-byte and y 8-byte aligned, into a one-byte type), "quantize_rows[c values per row]" (short
// rows, y contiguous), "quantize_strided[...]" / "dequantize_strided[...]" otherwise.
std::string QuantKernelName(const QuantParams& params);

}  // namespace fxrt::kernels
