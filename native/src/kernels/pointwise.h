// The pointwise program interpreter: one kernel runs any fused region of elementwise, unary,
// activation, cast, select and prelu operations over broadcast, arbitrarily strided inputs
// (src/engine/plan.ts, PointwiseProgram). Registers 0..nIn-1 hold the inputs; instruction k writes
// register nIn + k; the last register is stored. Floats compute in float32 (registers `float`), or
// the whole program in `double` when it touches integers, so that int32 results are exact.
//
// The int8 pointwise step of the Q/DQ fusion (src/engine/plan.ts, StepQuantization): an int8
// input with a scale is dequantized on load, fround(s * q) (the scale broadcast like an operand:
// stride 0 except along its channel axis), and with an output scale the result is requantized to
// int8 on store (kernels/quant_math.cuh). Scales are read from device memory when the kernel runs.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/strided.h"

namespace fxrt::kernels {

constexpr int kMaxPwInputs = 8;
constexpr int kMaxPwInstrs = 48;

enum class PwOp : uint8_t { Elementwise, Unary, Activation, Cast, Select, Prelu };

// TensorRT's ElementWiseOperation (src/engine/network.ts ElementWiseOp).
enum class PwBinary : uint8_t { Sum, Prod, Sub, Div, Pow, Max, Min, FloorDiv, Mod, And, Or, Xor, Equal, Greater, Less };
// src/engine/network.ts UnaryOp.
enum class PwUnary : uint8_t {
  Exp, Log, Sqrt, Recip, Abs, Neg, Sin, Cos, Tan, Sinh, Cosh, Asin, Acos, Atan, Ceil, Floor, Erf, Not, Sign, Round, Trunc,
  IsNan, Rsqrt
};
// src/engine/network.ts ActivationOp.
enum class PwActivation : uint8_t {
  Relu, Sigmoid, Tanh, LeakyRelu, Elu, Selu, Softsign, Softplus, Clip, HardSigmoid, GeluErf, GeluTanh, Silu
};

struct PwInstr {
  PwOp op;
  uint8_t fn;       // PwBinary / PwUnary / PwActivation by op
  uint8_t a, b, c;  // register operands (b: Elementwise, Select, Prelu; c: Select)
  uint8_t intMath;  // Elementwise on integer operands: integer semantics
  DType dtype;      // the dtype the result is kept as (integers wrap, bools are 0/1, floats float32)
  float alpha, beta;
};

struct PwOperand {
  const void* ptr;
  int64_t stride[kMaxRank];  // per dim of the iteration shape; 0 broadcasts
  DType dtype;
  const void* scale;              // int8 operand of an int8 step: its scale(s); null: loaded as it is
  int64_t scaleStride[kMaxRank];  // per dim of the iteration shape (0 but along the channel axis)
  DType scaleDtype;
};

struct PwParams {
  int rank;
  int64_t size[kMaxRank];  // the iteration shape (the output's, in the order its strides walk best)
  int nIn;
  PwOperand in[kMaxPwInputs];
  void* out;
  int64_t outStride[kMaxRank];
  DType outDtype;
  const void* outScale;  // int8 step: requantize to int8 (outDtype) with this one-element scale; null: store
  DType outScaleDtype;
  int nInstr;
  PwInstr instr[kMaxPwInstrs];
};

// Whether LaunchPointwise runs `params` on a kernel specialized for its one function (a single
// activation or unary instruction over one contiguous input of the output's float dtype, no scales).
bool PointwiseFastPath(const PwParams& params, bool wide);

// Whether `params` is an int8 step's program (an input scale or an output scale).
bool PointwiseQuantized(const PwParams& params);

// Runs the program over numel = prod(size) elements. `wide`: double registers (integers).
cudaError_t LaunchPointwise(const PwParams& params, bool wide, cudaStream_t stream);

}  // namespace fxrt::kernels
