// Kernel-level timing of the fused attention kernel (kernels/attention.cu): every configuration
// on BERT-base's attention (q, k and v read in place from the fused QKV projection's output, as
// the engine lowers it, and from contiguous [B, H, S, D]), a longer sequence, causal ones with head
// dims 64 and 128, and a key mask. Each configuration's output is compared with configuration 0's
// (largest difference, float16 units) so a broken one shows. Built and run by
// scripts/gpu/attention_bench.sh; prints one line per problem and configuration.
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench_util.cuh"
#include "kernels/attention.h"

using namespace fxrt;
using namespace fxrt::kernels;

__global__ void Fill(__half* p, int64_t n, uint32_t seed) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    p[i] = __float2half(((BenchHash(i, seed) & 0xffff) / 65536.f - 0.5f) * 4.f);
  }
}

struct Problem {
  std::string name;
  int b, h, l, s, d;
  bool fusedQkv;  // q, k, v interleaved per position as [B, S, 3, H, D], out [B, S, H, D]
  bool causal;
  bool mask;  // a bool key mask [B, 1, 1, S] (every 7th key masked)
};

int main(int argc, char** argv) {
  const std::string filter = argc > 1 ? argv[1] : "";
  const std::vector<Problem> problems = {
      {"bert-base 32x12 s128 d64, fused qkv", 32, 12, 128, 128, 64, true, false, false},
      {"bert-base 32x12 s128 d64, [B,H,S,D]", 32, 12, 128, 128, 64, false, false, false},
      {"bert-base 32x12 s128 d64, key mask", 32, 12, 128, 128, 64, true, false, true},
      {"bert 8x12 s512 d64, fused qkv", 8, 12, 512, 512, 64, true, false, false},
      {"causal 4x16 s1024 d64", 4, 16, 1024, 1024, 64, false, true, false},
      {"causal 1x32 s2048 d128", 1, 32, 2048, 2048, 128, false, true, false},
  };
  cudaStream_t stream;
  CK(cudaStreamCreate(&stream));
  cudaEvent_t e0, e1;
  CK(cudaEventCreate(&e0));
  CK(cudaEventCreate(&e1));
  for (const Problem& pr : problems) {
    if (!filter.empty() && pr.name.find(filter) == std::string::npos) continue;
    const int64_t rows = (int64_t)pr.b * pr.s, width = (int64_t)pr.h * pr.d;
    const int64_t inElems = pr.fusedQkv ? rows * 3 * width : 3 * rows * width;
    __half *in, *out;
    uint8_t* mask = nullptr;
    CK(cudaMalloc(&in, inElems * 2));
    CK(cudaMalloc(&out, (int64_t)pr.b * pr.l * width * 2));
    Fill<<<1024, 256, 0, stream>>>(in, inElems, 7);
    AttentionParams p{};
    p.dtype = DType::Float16;
    p.batchRank = 2;
    p.batch[0] = pr.b;
    p.batch[1] = pr.h;
    p.l = pr.l;
    p.s = pr.s;
    p.e = p.ev = pr.d;
    p.scale = 1.f / std::sqrt((float)pr.d);
    p.causal = pr.causal;
    if (pr.fusedQkv) {
      p.q = in;
      p.k = in + width;
      p.v = in + 2 * width;
      p.qRow = p.kRow = p.vRow = 3 * width;
      p.qBatch[0] = p.kBatch[0] = p.vBatch[0] = (int64_t)pr.s * 3 * width;
      p.qBatch[1] = p.kBatch[1] = p.vBatch[1] = pr.d;
      p.out = out;
      p.outRow = width;
      p.outBatch[0] = (int64_t)pr.l * width;
      p.outBatch[1] = pr.d;
    } else {
      const int64_t one = rows * width;
      p.q = in;
      p.k = in + one;
      p.v = in + 2 * one;
      p.qRow = p.kRow = p.vRow = p.outRow = pr.d;
      p.qBatch[0] = p.kBatch[0] = p.vBatch[0] = p.outBatch[0] = (int64_t)pr.h * pr.s * pr.d;
      p.qBatch[1] = p.kBatch[1] = p.vBatch[1] = p.outBatch[1] = (int64_t)pr.s * pr.d;
      p.out = out;
    }
    if (pr.mask) {
      std::vector<uint8_t> m(pr.b * pr.s);
      for (size_t i = 0; i < m.size(); i++) m[i] = (i % 7 == 3) ? 0 : 1;
      CK(cudaMalloc(&mask, m.size()));
      CK(cudaMemcpy(mask, m.data(), m.size(), cudaMemcpyHostToDevice));
      p.mask = mask;
      p.maskDtype = DType::Bool;
      p.maskBatch[0] = pr.s;
      p.maskBatch[1] = 0;
      p.maskRow = 0;
      p.maskCol = 1;
    }
    const int64_t outElems = (int64_t)pr.b * pr.l * width;
    std::vector<__half> want(outElems), got(outElems);
    // Bytes the kernel must move at least (q, k, v read once, out written once) and its FLOPs.
    const double bytes = 2.0 * (3.0 * rows * width + (double)pr.b * pr.l * width);
    const double flops = 4.0 * pr.b * pr.h * (double)pr.l * pr.s * pr.d * (pr.causal ? 0.5 : 1.0);
    for (int c = 0; c < AttentionConfigCount(); c++) {
      CK(LaunchAttention(p, stream, c));
      CK(cudaStreamSynchronize(stream));
      CK(cudaMemcpy(c == 0 ? want.data() : got.data(), out, outElems * 2, cudaMemcpyDeviceToHost));
      float diff = 0.f;
      if (c > 0) {
        for (int64_t i = 0; i < outElems; i++) diff = std::max(diff, std::fabs(__half2float(want[i]) - __half2float(got[i])));
      }
      for (int i = 0; i < 20; i++) CK(LaunchAttention(p, stream, c));
      std::vector<float> times;
      for (int rep = 0; rep < 7; rep++) {
        constexpr int kIters = 50;
        CK(cudaEventRecord(e0, stream));
        for (int i = 0; i < kIters; i++) CK(LaunchAttention(p, stream, c));
        CK(cudaEventRecord(e1, stream));
        CK(cudaEventSynchronize(e1));
        float ms;
        CK(cudaEventElapsedTime(&ms, e0, e1));
        times.push_back(ms * 1000.f / kIters);
      }
      std::sort(times.begin(), times.end());
      const float us = times[times.size() / 2];
      std::printf("%-40s config %d %-44s %8.2f us  %6.0f GB/s  %6.1f TFLOPS  max diff vs config 0 %.4g\n", pr.name.c_str(), c,
                  AttentionConfigName(c, pr.d, pr.d).c_str(), us, bytes / us / 1e3, flops / us / 1e6, diff);
    }
    CK(cudaFree(in));
    CK(cudaFree(out));
    if (mask) CK(cudaFree(mask));
  }
  return 0;
}
