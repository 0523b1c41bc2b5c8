// Elementwise kernels: one grid-stride loop over 16-byte packs (coalesced 16-byte accesses per
// thread), then the tail element by element. Values compute in float32 and round once on store,
// as PyTorch's CUDA kernels do for float16/bfloat16.
#include "kernels/elementwise.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <cstdint>

namespace fxrt::kernels {

namespace {

constexpr int kThreads = 256;
constexpr size_t kMaxBlocks = 4096;  // a few waves on any current GPU; the loop covers the rest

template <typename T> struct Io;
template <> struct Io<float> {
  static __device__ __forceinline__ float Load(float v) { return v; }
  static __device__ __forceinline__ float Store(float v) { return v; }
};
template <> struct Io<__half> {
  static __device__ __forceinline__ float Load(__half v) { return __half2float(v); }
  static __device__ __forceinline__ __half Store(float v) { return __float2half_rn(v); }
};
template <> struct Io<__nv_bfloat16> {
  static __device__ __forceinline__ float Load(__nv_bfloat16 v) { return __bfloat162float(v); }
  static __device__ __forceinline__ __nv_bfloat16 Store(float v) { return __float2bfloat16_rn(v); }
};

template <typename T, int V> struct alignas(sizeof(T) * V) Pack {
  T v[V];
};

struct AddFn {
  __device__ __forceinline__ float operator()(float a, float b) const { return a + b; }
};
struct ReluFn {
  // max(x, 0) that keeps NaN (fmaxf would drop it) and maps -0 to +0, as the reference.
  __device__ __forceinline__ float operator()(float x) const { return (x > 0.f || x != x) ? x : 0.f; }
};
struct IdentityFn {
  __device__ __forceinline__ float operator()(float x) const { return x; }
};

template <int V, typename In, typename Out, typename F>
__global__ void BinaryKernel(const In* __restrict__ a, const In* __restrict__ b, Out* __restrict__ out, size_t n, F f) {
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  const size_t tid = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const size_t packs = n / V;
  for (size_t i = tid; i < packs; i += stride) {
    Pack<In, V> pa = reinterpret_cast<const Pack<In, V>*>(a)[i];
    Pack<In, V> pb = reinterpret_cast<const Pack<In, V>*>(b)[i];
    Pack<Out, V> po;
#pragma unroll
    for (int j = 0; j < V; j++) po.v[j] = Io<Out>::Store(f(Io<In>::Load(pa.v[j]), Io<In>::Load(pb.v[j])));
    reinterpret_cast<Pack<Out, V>*>(out)[i] = po;
  }
  for (size_t i = packs * V + tid; i < n; i += stride) out[i] = Io<Out>::Store(f(Io<In>::Load(a[i]), Io<In>::Load(b[i])));
}

template <int V, typename In, typename Out, typename F>
__global__ void UnaryKernel(const In* __restrict__ x, Out* __restrict__ out, size_t n, F f) {
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  const size_t tid = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const size_t packs = n / V;
  for (size_t i = tid; i < packs; i += stride) {
    Pack<In, V> px = reinterpret_cast<const Pack<In, V>*>(x)[i];
    Pack<Out, V> po;
#pragma unroll
    for (int j = 0; j < V; j++) po.v[j] = Io<Out>::Store(f(Io<In>::Load(px.v[j])));
    reinterpret_cast<Pack<Out, V>*>(out)[i] = po;
  }
  for (size_t i = packs * V + tid; i < n; i += stride) out[i] = Io<Out>::Store(f(Io<In>::Load(x[i])));
}

bool Aligned(const void* p, size_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

unsigned Blocks(size_t work) {
  return static_cast<unsigned>(std::clamp<size_t>((work + kThreads - 1) / kThreads, 1, kMaxBlocks));
}

template <typename In, typename Out, typename F>
cudaError_t Binary(const void* a, const void* b, void* out, size_t n, cudaStream_t stream, F f) {
  constexpr int V = 16 / (sizeof(In) > sizeof(Out) ? sizeof(In) : sizeof(Out));
  auto* pa = static_cast<const In*>(a);
  auto* pb = static_cast<const In*>(b);
  auto* po = static_cast<Out*>(out);
  if (n == 0) return cudaSuccess;
  if (Aligned(a, sizeof(In) * V) && Aligned(b, sizeof(In) * V) && Aligned(out, sizeof(Out) * V)) {
    BinaryKernel<V><<<Blocks(std::max<size_t>(n / V, n % V)), kThreads, 0, stream>>>(pa, pb, po, n, f);
  } else {
    BinaryKernel<1><<<Blocks(n), kThreads, 0, stream>>>(pa, pb, po, n, f);
  }
  return cudaGetLastError();
}

template <typename In, typename Out, typename F>
cudaError_t Unary(const void* x, void* out, size_t n, cudaStream_t stream, F f) {
  constexpr int V = 16 / (sizeof(In) > sizeof(Out) ? sizeof(In) : sizeof(Out));
  auto* px = static_cast<const In*>(x);
  auto* po = static_cast<Out*>(out);
  if (n == 0) return cudaSuccess;
  if (Aligned(x, sizeof(In) * V) && Aligned(out, sizeof(Out) * V)) {
    UnaryKernel<V><<<Blocks(std::max<size_t>(n / V, n % V)), kThreads, 0, stream>>>(px, po, n, f);
  } else {
    UnaryKernel<1><<<Blocks(n), kThreads, 0, stream>>>(px, po, n, f);
  }
  return cudaGetLastError();
}

// Calls fn with a value of the CUDA storage type of `t` (float32/float16/bfloat16 only).
template <typename Fn>
cudaError_t WithFloatType(DType t, Fn fn) {
  switch (t) {
    case DType::Float32: return fn(float{});
    case DType::Float16: return fn(__half{});
    case DType::BFloat16: return fn(__nv_bfloat16{});
    default: return cudaErrorInvalidValue;
  }
}

}  // namespace

cudaError_t LaunchBinary(BinaryOp op, DType dtype, const void* a, const void* b, void* out, size_t n, cudaStream_t stream) {
  return WithFloatType(dtype, [&](auto tag) {
    using T = decltype(tag);
    switch (op) {
      case BinaryOp::Add: return Binary<T, T>(a, b, out, n, stream, AddFn{});
    }
    return cudaErrorInvalidValue;
  });
}

cudaError_t LaunchUnary(UnaryOp op, DType dtype, const void* x, void* out, size_t n, cudaStream_t stream) {
  return WithFloatType(dtype, [&](auto tag) {
    using T = decltype(tag);
    switch (op) {
      case UnaryOp::Relu: return Unary<T, T>(x, out, n, stream, ReluFn{});
    }
    return cudaErrorInvalidValue;
  });
}

cudaError_t LaunchCast(DType src, DType dst, const void* x, void* out, size_t n, cudaStream_t stream) {
  if (src == dst) {
    return n == 0 ? cudaSuccess : cudaMemcpyAsync(out, x, n * ItemSize(src), cudaMemcpyDeviceToDevice, stream);
  }
  return WithFloatType(src, [&](auto srcTag) {
    return WithFloatType(dst, [&](auto dstTag) {
      return Unary<decltype(srcTag), decltype(dstTag)>(x, out, n, stream, IdentityFn{});
    });
  });
}

cudaError_t CheckKernelImage() {
  cudaFuncAttributes attr;
  return cudaFuncGetAttributes(&attr, UnaryKernel<4, float, float, ReluFn>);
}

}  // namespace fxrt::kernels
