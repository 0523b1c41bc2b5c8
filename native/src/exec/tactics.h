// Implementation choices remembered per loaded plan, keyed by an op's full signature (shapes,
// dtypes, strides, alignments), so that every context and every shape seen again reuses what was
// timed or looked up once.
#pragma once

#include <map>
#include <string>

#ifdef FXRT_HAVE_CUBLASLT
#include <cublasLt.h>
#endif

namespace fxrt::exec {

struct TacticCache {
  std::map<std::string, int> convAlgos;  // cudnnConvolutionFwdAlgo_t, or -1: no fused algorithm works
#ifdef FXRT_HAVE_CUBLASLT
  std::map<std::string, cublasLtMatmulAlgo_t> gemmAlgos;
#endif
};

}  // namespace fxrt::exec
