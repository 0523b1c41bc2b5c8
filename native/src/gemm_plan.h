// Cached cuBLASLt descriptors and the algorithm chosen for one GEMM signature, so that repeated
// calls skip descriptor creation and the heuristic query.
#pragma once

#ifdef FXRT_HAVE_CUBLASLT

#include <cublasLt.h>

#include <cstddef>
#include <cstdint>
#include <tuple>

#include "dtype.h"

namespace fxrt {

struct GemmKey {
  DType dtype;
  int64_t m, n, k;
  bool transA, transB, bias, relu, tf32;
  uint32_t alignA, alignB, alignOut, alignBias;  // pointer alignments (bytes, at most 256)

  bool operator<(const GemmKey& o) const {
    return std::tie(dtype, m, n, k, transA, transB, bias, relu, tf32, alignA, alignB, alignOut, alignBias) <
           std::tie(o.dtype, o.m, o.n, o.k, o.transA, o.transB, o.bias, o.relu, o.tf32, o.alignA, o.alignB, o.alignOut,
                    o.alignBias);
  }
};

struct GemmPlan {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t layoutA = nullptr;  // cuBLASLt's A: our `b` (see ops_gemm.cc)
  cublasLtMatrixLayout_t layoutB = nullptr;  // cuBLASLt's B: our `a`
  cublasLtMatrixLayout_t layoutOut = nullptr;
  cublasLtMatmulAlgo_t algo = {};
  size_t workspaceBytes = 0;

  void Destroy() noexcept {
    if (layoutOut != nullptr) cublasLtMatrixLayoutDestroy(layoutOut);
    if (layoutB != nullptr) cublasLtMatrixLayoutDestroy(layoutB);
    if (layoutA != nullptr) cublasLtMatrixLayoutDestroy(layoutA);
    if (desc != nullptr) cublasLtMatmulDescDestroy(desc);
    *this = GemmPlan{};
  }
};

}  // namespace fxrt

#endif  // FXRT_HAVE_CUBLASLT
