#include "kernels/einsum.h"

#include "kernels/float_convert.cuh"

namespace fxrt::kernels {

namespace {

template <typename T>
__global__ void __launch_bounds__(256) EinsumKernel(const EinsumParams p, long long outputs, long long sums) {
  const int n = p.nOperands;
  const long long step = static_cast<long long>(gridDim.x) * blockDim.x;
  for (long long o = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; o < outputs; o += step) {
    long long at[kMaxEinsumOperands];
    for (int k = 0; k < n; k++) at[k] = 0;
    long long yo = 0;
    long long rem = o;
    for (int d = p.out.rank - 1; d >= 0; d--) {
      const long long c = rem % p.out.size[d];
      rem /= p.out.size[d];
      yo += c * p.out.stride[d];
      for (int k = 0; k < n; k++) at[k] += c * p.operand[k].outStride[d];
    }
    long long idx[kMaxRank];
    for (int d = 0; d < p.sumRank; d++) idx[d] = 0;
    double acc = 0.0;
    for (long long s = 0; s < sums; s++) {
      double prod = 1.0;
      for (int k = 0; k < n; k++) prod *= static_cast<double>(ToF(static_cast<const T*>(p.operand[k].ptr)[at[k]]));
      acc += prod;
      // Next summed index: the last dim fastest.
      for (int d = p.sumRank - 1; d >= 0; d--) {
        if (++idx[d] < p.sumSize[d]) {
          for (int k = 0; k < n; k++) at[k] += p.operand[k].sumStride[d];
          break;
        }
        idx[d] = 0;
        for (int k = 0; k < n; k++) at[k] -= p.operand[k].sumStride[d] * (p.sumSize[d] - 1);
      }
    }
    static_cast<T*>(p.y)[yo] = FromF<T>(__double2float_rn(acc));
  }
}

template <typename T>
cudaError_t Launch(const EinsumParams& p, long long outputs, long long sums, cudaStream_t stream) {
  EinsumKernel<T><<<GridFor(outputs), 256, 0, stream>>>(p, outputs, sums);
  return cudaGetLastError();
}

}  // namespace

cudaError_t LaunchEinsum(const EinsumParams& p, cudaStream_t stream) {
  long long outputs = 1, sums = 1;
  for (int d = 0; d < p.out.rank; d++) outputs *= p.out.size[d];
  for (int d = 0; d < p.sumRank; d++) sums *= p.sumSize[d];
  if (outputs == 0) return cudaSuccess;
  switch (p.dtype) {
    case DType::Float32: return Launch<float>(p, outputs, sums, stream);
    case DType::Float16: return Launch<__half>(p, outputs, sums, stream);
    case DType::BFloat16: return Launch<__nv_bfloat16>(p, outputs, sums, stream);
    default: return cudaErrorInvalidValue;
  }
}

}  // namespace fxrt::kernels
