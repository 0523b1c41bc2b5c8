// One enqueued unit of a program: a kernel launch or a library call with every parameter and
// pointer resolved when the program was prepared, so enqueueing is a plain launch (and can be
// captured into a CUDA graph). No N-API here: ops are built by op_factory.cc.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <string>

#include "kernels/data_error.h"

#ifdef FXRT_HAVE_CUBLASLT
#include <cublasLt.h>
#endif
#ifdef FXRT_HAVE_CUDNN
#include <cudnn.h>
#endif

namespace fxrt::exec {

// What enqueueing needs besides the op's own parameters.
struct ExecEnv {
  cudaStream_t stream = nullptr;
  void* workspace = nullptr;  // at least the largest WorkspaceBytes() of the program
  size_t workspaceBytes = 0;
#ifdef FXRT_HAVE_CUBLASLT
  cublasLtHandle_t cublasLt = nullptr;
#endif
#ifdef FXRT_HAVE_CUDNN
  cudnnHandle_t cudnn = nullptr;
#endif
  // Where this op's kernels report bad data (set per op by the program; no record while timing).
  kernels::DataErrorSink dataError;
};

class Op {
 public:
  virtual ~Op() = default;
  // Enqueues the work on env.stream; returns "" on success, else what failed.
  virtual std::string Enqueue(const ExecEnv& env) = 0;
  // Scratch memory the op needs during Enqueue.
  virtual size_t WorkspaceBytes() const { return 0; }
  // The implementation chosen (e.g. "cudnn:implicit_precomp_gemm+bias+relu"), for layer info.
  virtual std::string Tactic() const = 0;
  // Whether the op's kernels report bad data through env.dataError (kernels/data_error.h): the
  // program then zeroes the context's record before its ops and reads it back after them.
  virtual bool ReportsDataErrors() const { return false; }
  // What a record this op reported means, e.g. "index 7 at position [1] of the indices is out of
  // range ..." (the program prefixes the step's name).
  virtual std::string DescribeDataError(const kernels::DataErrorRecord& r) const {
    return "bad data (code " + std::to_string(r.code) + ")";
  }
};

}  // namespace fxrt::exec
