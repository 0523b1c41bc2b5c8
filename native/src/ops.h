// Native functions that enqueue device work on a stream (the JS wrappers in
// src/backends/cuda/kernels.ts and gemm.ts validate shapes; these re-check sizes against the
// buffers so that no call can touch memory outside them).
#pragma once

#include <napi.h>

namespace fxrt {

// binary(op: 'add', dtype, a, b, out, n, stream?)
Napi::Value Binary(const Napi::CallbackInfo& info);
// unary(op: 'relu', dtype, x, out, n, stream?)
Napi::Value Unary(const Napi::CallbackInfo& info);
// cast(srcDtype, dstDtype, x, out, n, stream?)
Napi::Value Cast(const Napi::CallbackInfo& info);
// gemm({ dtype, m, n, k, transA, transB, a, b, out, bias, relu, allowTf32, stream }): row-major
// out[m,n] = op(a)[m,k] · op(b)[k,n] (+ bias[n]) (relu), through cuBLASLt.
Napi::Value Gemm(const Napi::CallbackInfo& info);

}  // namespace fxrt
