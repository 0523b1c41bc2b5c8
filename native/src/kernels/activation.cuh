// Scalar math shared by the pointwise interpreter and the epilogues of other kernels (the int8
// GEMM): NaN-propagating max/min and the activation functions of src/engine/network.ts
// ActivationOp, in the register type R (float, or double for programs touching integers), as the
// reference computes them (src/engine/reference/scalar_math.ts).
#pragma once

#include <cuda_runtime.h>

#include <cmath>

#include "kernels/pointwise.h"

namespace fxrt::kernels {

template <typename R>
__device__ __forceinline__ R Max(R a, R b) {
  if (a != a) return a;
  if (b != b) return b;
  return a > b ? a : b > a ? b : (signbit(a) ? b : a);  // max(-0, 0) = 0
}

template <typename R>
__device__ __forceinline__ R Min(R a, R b) {
  if (a != a) return a;
  if (b != b) return b;
  return a < b ? a : b < a ? b : (signbit(a) ? a : b);
}

template <typename R>
__device__ R ActivationFn(PwActivation fn, R x, R alpha, R beta) {
  switch (fn) {
    case PwActivation::Relu: return x > R(0) || x != x ? x : R(0);
    case PwActivation::Sigmoid: return R(1) / (R(1) + exp(-x));
    case PwActivation::Tanh: return tanh(x);
    case PwActivation::LeakyRelu: return x > R(0) ? x : x * alpha;
    case PwActivation::Elu: return x <= R(0) ? expm1(x) * alpha : x;
    case PwActivation::Selu: return x <= R(0) ? expm1(x) * alpha * beta : x * beta;
    case PwActivation::Softsign: return x / (R(1) + fabs(x));
    case PwActivation::Softplus: {
      R v = beta * x;
      return alpha * ((v > R(0) ? v : R(0)) + log1p(exp(-fabs(v))));
    }
    case PwActivation::Clip: {
      R t = x < alpha ? alpha : x;
      return beta < t ? beta : t;
    }
    case PwActivation::HardSigmoid: return Min(Max(alpha * x + beta, R(0)), R(1));
    case PwActivation::GeluErf: return x * R(0.5) * (R(1) + erf(x * R(0.70710678118654752440)));
    case PwActivation::GeluTanh:
      return R(0.5) * x * (R(1) + tanh(R(0.79788456080286535588) * (x + R(0.044715) * x * x * x)));
    case PwActivation::Silu: return x / (R(1) + exp(-x));
  }
  return R(0);
}

}  // namespace fxrt::kernels
