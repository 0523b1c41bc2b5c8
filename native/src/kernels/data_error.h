// The data error channel: a kernel that meets bad data (an index out of range, ...) cannot raise,
// so it records the first offence in a small record owned by the execution context; the program
// zeroes that record before its ops and copies it back after them (both captured in its CUDA
// graph), and the run's promise rejects with the reporting op's description of it (native/README.md).
// No N-API here: .cu files include it.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace fxrt::kernels {

// What went wrong; the op that reported it says what its values mean (Op::DescribeDataError).
enum class DataErrorCode : int32_t {
  None = 0,
  // values: { the index as read, its element offset in the index operand, the axis size }
  IndexOutOfRange = 1,
};

// One per execution context, in device memory.
struct DataErrorRecord {
  uint32_t claimed;   // 0 until the first report, whose atomicCAS sets it to 1: the first offence wins
  int32_t site;       // the reporting op's position in its program
  int32_t code;       // a DataErrorCode
  int32_t reserved;
  int64_t values[4];  // per code
};

// Where an op's kernels report: the context's record (null: reporting off, e.g. while an op is
// timed on its own) and the op's site.
struct DataErrorSink {
  DataErrorRecord* record = nullptr;
  int32_t site = -1;
};

#ifdef __CUDACC__
// Records an offence unless one was recorded already in this run (cheap on the error path only:
// a read of the claim, then one atomicCAS).
__device__ __forceinline__ void ReportDataError(const DataErrorSink& sink, DataErrorCode code, int64_t v0, int64_t v1 = 0,
                                                int64_t v2 = 0, int64_t v3 = 0) {
  DataErrorRecord* r = sink.record;
  if (r == nullptr) return;
  const volatile uint32_t* claimed = &r->claimed;
  if (*claimed != 0u || atomicCAS(&r->claimed, 0u, 1u) != 0u) return;
  r->site = sink.site;
  r->code = static_cast<int32_t>(code);
  r->values[0] = v0;
  r->values[1] = v1;
  r->values[2] = v2;
  r->values[3] = v3;
}
#endif

}  // namespace fxrt::kernels
