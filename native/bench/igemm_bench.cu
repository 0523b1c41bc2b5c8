// Kernel-level timing of the int8 GEMM (kernels/igemm.cu) on the problems of the INT8 benchmark
// workloads (the seed-000 MLP, ResNet-50 at batch 128 as implicit-GEMM convolutions), every tile
// configuration (a convolution also over an explicit [m, k] matrix of its size), beside cuBLASLt's
// int8 (IMMA, int32 out) and fp16 GEMMs of the same matrix shapes.
// Built and run by scripts/gpu/igemm_bench.sh; prints one line per problem and tactic. IGEMM_TILES
// (a comma-separated list of tile indices) times only those tiles, e.g. for a profiler run over one
// kernel: IGEMM_TILES=12 ncu --launch-skip 2 --launch-count 1 -k regex:Igemm igemm_bench fc1.
// A TMA tile whose last wave runs in 64-row units (IgemmTmaTailParts) is timed twice, so ("last
// wave in 64-row tiles") and in whole tiles (IgemmParams::unsplitTail), both checked against the
// first tile's bytes. A problem on the network's float16 input (the MLP's fc1) also times the
// quantize kernel of that input alone and followed by each tile.
#include <cublasLt.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench_util.cuh"
#include "kernels/igemm.h"
#include "kernels/pointwise.h"
#include "kernels/quant.h"

using namespace fxrt;
using namespace fxrt::kernels;

#define CB(x)                                                                   \
  do {                                                                          \
    cublasStatus_t s_ = (x);                                                    \
    if (s_ != CUBLAS_STATUS_SUCCESS) {                                          \
      std::fprintf(stderr, "%s:%d %s: status %d\n", __FILE__, __LINE__, #x, (int)s_); \
      return -1.f;                                                              \
    }                                                                           \
  } while (0)

__global__ void Fill(int8_t* p, int64_t n, uint32_t seed) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    p[i] = (int8_t)((int)(BenchHash(i, seed) >> 24) % 64);
  }
}
__global__ void FillH(__half* p, int64_t n, uint32_t seed) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    p[i] = __float2half(static_cast<float>(static_cast<int>(BenchHash(i, seed) >> 20) - 2048) / 1024.f);
  }
}
__global__ void FillF(float* p, int64_t n, float v) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) p[i] = v * (1 + (i % 7) * 0.01f);
}

void* Alloc(size_t bytes) {
  void* p = nullptr;
  CK(cudaMalloc(&p, bytes < 256 ? 256 : bytes));
  return p;
}

template <typename F>
float TimeMs(F&& fn, int iters = 30) {
  cudaEvent_t a, b;
  CK(cudaEventCreate(&a));
  CK(cudaEventCreate(&b));
  for (int i = 0; i < 3; i++) fn();
  CK(cudaEventRecord(a));
  for (int i = 0; i < iters; i++) fn();
  CK(cudaEventRecord(b));
  CK(cudaEventSynchronize(b));
  float ms = 0;
  CK(cudaEventElapsedTime(&ms, a, b));
  CK(cudaEventDestroy(a));
  CK(cudaEventDestroy(b));
  return ms / iters;
}

struct Problem {
  const char* name;
  int64_t m;
  int n, k;
  bool conv;
  IgemmConv g;
  bool int8Out, relu, residual;
  bool floatInput;  // the network's float16 input, quantized per tensor right before (the MLP's fc1)
};

Problem Matrix(const char* name, int64_t m, int n, int k, bool int8Out, bool relu) {
  Problem p{};
  p.name = name;
  p.m = m;
  p.n = n;
  p.k = k;
  p.int8Out = int8Out;
  p.relu = relu;
  return p;
}

Problem Conv(const char* name, int batch, int h, int c, int n, int kh, int s, bool relu, bool residual) {
  Problem p{};
  p.name = name;
  p.conv = true;
  IgemmConv& g = p.g;
  g.batch = batch;
  g.h = g.w = h;
  g.c = g.cg = c;
  g.kh = g.kw = kh;
  g.sh = g.sw = s;
  g.dh = g.dw = 1;
  g.ph = g.pw = kh / 2;
  g.oh = g.ow = (h + 2 * g.ph - kh) / s + 1;
  p.m = static_cast<int64_t>(batch) * g.oh * g.ow;
  p.n = n;
  p.k = c * kh * kh;
  p.int8Out = true;
  p.relu = relu;
  p.residual = residual;
  return p;
}

// One cuBLASLt GEMM configuration: operand and output types, compute and scale types, alpha per
// output column (a device vector, beta zero: CUBLASLT_POINTER_MODE_ALPHA_DEVICE_VECTOR_BETA_ZERO)
// or one host value, and the epilogue (a bias one reads a float32 vector).
struct LtGemm {
  cudaDataType_t ab, cd;
  cublasComputeType_t compute;
  cudaDataType_t scale;
  bool alphaVector = false;
  cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_DEFAULT;
};
const LtGemm kLtInt8Int32{CUDA_R_8I, CUDA_R_32I, CUBLAS_COMPUTE_32I, CUDA_R_32I};
const LtGemm kLtFp16{CUDA_R_16F, CUDA_R_16F, CUBLAS_COMPUTE_32F, CUDA_R_32F};
// int8 -> int8 (IMMA, int32 accumulation, float scale): D = sat(round(alpha * acc [+ bias], relu)),
// a peer for the fused requantize's fc1 (not the same rounding definition, so only times compare).
LtGemm LtInt8Int8(bool alphaVector, cublasLtEpilogue_t epi) { return LtGemm{CUDA_R_8I, CUDA_R_8I, CUBLAS_COMPUTE_32I, CUDA_R_32F, alphaVector, epi}; }

size_t LtTypeBytes(cudaDataType_t t) { return t == CUDA_R_8I ? 1 : t == CUDA_R_16F ? 2 : 4; }

// cuBLASLt D[n x m] (col-major) = op(W)[n x k] * X^T[k x m], the row-major [m, n] product, in
// configuration g: the fastest of its heuristic's algorithms (ms), or -1 where it offers none.
float TimeLt(cublasLtHandle_t lt, int64_t m, int n, int k, const LtGemm& g, void* ws, size_t wsBytes, std::string& algoName) {
  void* A = Alloc(LtTypeBytes(g.ab) * n * k);
  void* B = Alloc(LtTypeBytes(g.ab) * m * k);
  void* D = Alloc(LtTypeBytes(g.cd) * m * n);
  float* vec = static_cast<float*>(Alloc(sizeof(float) * n));  // alpha per column, or the bias
  FillF<<<16, 256>>>(vec, n, 0.001f);
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t la = nullptr, lb = nullptr, ld = nullptr;
  cublasLtMatmulPreference_t pref = nullptr;
  const auto run = [&]() -> float {
    CB(cublasLtMatmulDescCreate(&desc, g.compute, g.scale));
    cublasOperation_t t = CUBLAS_OP_T, nn = CUBLAS_OP_N;
    CB(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &t, sizeof(t)));
    CB(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSB, &nn, sizeof(nn)));
    if (g.alphaVector) {
      cublasLtPointerMode_t mode = CUBLASLT_POINTER_MODE_ALPHA_DEVICE_VECTOR_BETA_ZERO;
      CB(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_POINTER_MODE, &mode, sizeof(mode)));
    }
    if (g.epi != CUBLASLT_EPILOGUE_DEFAULT) CB(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &g.epi, sizeof(g.epi)));
    if (g.epi == CUBLASLT_EPILOGUE_BIAS || g.epi == CUBLASLT_EPILOGUE_RELU_BIAS) {
      const void* bias = vec;
      cudaDataType_t bt = CUDA_R_32F;
      CB(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias)));
      CB(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bt, sizeof(bt)));
    }
    CB(cublasLtMatrixLayoutCreate(&la, g.ab, k, n, k));
    CB(cublasLtMatrixLayoutCreate(&lb, g.ab, k, m, k));
    CB(cublasLtMatrixLayoutCreate(&ld, g.cd, n, m, n));
    CB(cublasLtMatmulPreferenceCreate(&pref));
    CB(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &wsBytes, sizeof(wsBytes)));
    cublasLtMatmulHeuristicResult_t res[8];
    int found = 0;
    // NOT_SUPPORTED: cuBLASLt has no kernel for this combination (printed as "unsupported").
    const cublasStatus_t heuristic = cublasLtMatmulAlgoGetHeuristic(lt, desc, la, lb, ld, ld, pref, 8, res, &found);
    if (heuristic == CUBLAS_STATUS_NOT_SUPPORTED) return -1.f;
    CB(heuristic);
    const int32_t ai = 1, bi = 0;
    const float af = 1.f, bf = 0.f;
    const bool intScale = g.scale == CUDA_R_32I;
    const void* alpha = g.alphaVector ? static_cast<const void*>(vec) : intScale ? static_cast<const void*>(&ai) : static_cast<const void*>(&af);
    const void* beta = intScale ? static_cast<const void*>(&bi) : static_cast<const void*>(&bf);
    float best = -1.f;
    for (int i = 0; i < found; i++) {
      if (cublasLtMatmul(lt, desc, alpha, A, la, B, lb, beta, D, ld, D, ld, &res[i].algo, ws, wsBytes, 0) != CUBLAS_STATUS_SUCCESS) continue;
      const float ms = TimeMs([&] { cublasLtMatmul(lt, desc, alpha, A, la, B, lb, beta, D, ld, D, ld, &res[i].algo, ws, wsBytes, 0); });
      if (best < 0 || ms < best) {
        best = ms;
        algoName = "heuristic #" + std::to_string(i) + " of " + std::to_string(found);
      }
    }
    return best;
  };
  const float ms = run();
  cudaGetLastError();
  if (pref) cublasLtMatmulPreferenceDestroy(pref);
  if (la) cublasLtMatrixLayoutDestroy(la);
  if (lb) cublasLtMatrixLayoutDestroy(lb);
  if (ld) cublasLtMatrixLayoutDestroy(ld);
  if (desc) cublasLtMatmulDescDestroy(desc);
  CK(cudaFree(A));
  CK(cudaFree(B));
  CK(cudaFree(D));
  CK(cudaFree(vec));
  return ms;
}

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // each line out as it comes, also into a pipe (a run under `timeout` keeps what it printed)
  std::vector<Problem> problems = {
      [] {
        Problem p = Matrix("mlp fc1 10240x2048x512 relu->int8", 10240, 2048, 512, true, true);
        p.floatInput = true;
        return p;
      }(),
      Matrix("mlp fc2 10240x512x2048 ->fp16", 10240, 512, 2048, false, false),
      Conv("r50 conv1 7x7/2 3->64 @224", 128, 224, 3, 64, 7, 2, true, false),
      Conv("cifar conv1 3x3 3->64 @32 b1", 1, 32, 3, 64, 3, 1, true, false),
      Conv("r50 l1 1x1 64->64 @56", 128, 56, 64, 64, 1, 1, true, false),
      Conv("r50 l1 3x3 64->64 @56", 128, 56, 64, 64, 3, 1, true, false),
      Conv("r50 l1 1x1 64->256 @56 +res", 128, 56, 64, 256, 1, 1, true, true),
      Conv("r50 l1 1x1 256->64 @56", 128, 56, 256, 64, 1, 1, true, false),
      Conv("r50 l2 3x3 128->128 @28", 128, 28, 128, 128, 3, 1, true, false),
      Conv("r50 l3 3x3 256->256 @14", 128, 14, 256, 256, 3, 1, true, false),
      Conv("r50 l3 1x1 1024->256 @14", 128, 14, 1024, 256, 1, 1, true, false),
      Conv("r50 l4 3x3 512->512 @7", 128, 7, 512, 512, 3, 1, true, false),
  };
  const char* only = argc > 1 ? argv[1] : nullptr;
  const char* tileList = std::getenv("IGEMM_TILES");
  auto tileWanted = [&](int t) {
    if (tileList == nullptr || *tileList == 0) return true;
    const std::string list = std::string(",") + tileList + ",";
    return list.find("," + std::to_string(t) + ",") != std::string::npos;
  };
  cudaDeviceProp prop;
  CK(cudaGetDeviceProperties(&prop, 0));
  bool wgmma = false;
  CK(IgemmWgmmaAvailable(&wgmma));
  std::printf("device %s, %d SMs, wgmma tiles %s\n", prop.name, prop.multiProcessorCount, wgmma ? "available" : "not available");
  cublasLtHandle_t lt;
  if (cublasLtCreate(&lt) != CUBLAS_STATUS_SUCCESS) return 1;
  size_t wsBytes = 32 << 20;
  void* ws = Alloc(wsBytes);
  float* scales = static_cast<float*>(Alloc(sizeof(float) * 4096));
  FillF<<<16, 256>>>(scales, 4096, 0.01f);
  for (const Problem& pr : problems) {
    if (only && std::string(pr.name).find(only) == std::string::npos) continue;
    IgemmParams p{};
    p.m = pr.m;
    p.n = pr.n;
    p.k = pr.k;
    p.groups = 1;
    p.conv = pr.conv;
    p.g = pr.g;
    const int64_t aElems = pr.conv ? static_cast<int64_t>(pr.g.batch) * pr.g.h * pr.g.w * pr.g.c : pr.m * pr.k;
    int8_t* a = static_cast<int8_t*>(Alloc(aElems));
    int8_t* b = static_cast<int8_t*>(Alloc(static_cast<int64_t>(pr.n) * pr.k));
    Fill<<<1024, 256>>>(a, aElems, 1);
    Fill<<<1024, 256>>>(b, static_cast<int64_t>(pr.n) * pr.k, 2);
    p.a = a;
    p.lda = pr.k;
    p.b = b;
    p.bConstant = true;
    p.sx = scales;
    p.sxDtype = DType::Float32;
    p.sxRows = 1;
    p.sw = scales;
    p.swDtype = DType::Float32;
    p.swPerChannel = true;
    p.bias = scales;
    p.biasDtype = DType::Float32;
    p.ldc = pr.n;
    const size_t outBytes = static_cast<size_t>(pr.m) * pr.n * (pr.int8Out ? 1 : 2);
    void* out = Alloc(outBytes);
    void* res = pr.residual ? Alloc(pr.m * pr.n) : nullptr;
    if (res) Fill<<<1024, 256>>>(static_cast<int8_t*>(res), pr.m * pr.n, 3);
    p.out = out;
    p.outDtype = pr.int8Out ? DType::Int8 : DType::Float16;
    if (pr.int8Out) {
      p.outScale = scales;
      p.outScaleDtype = DType::Float32;
    }
    if (pr.residual) {
      IgemmEpilogueOp& e = p.epi[p.nEpi++];
      e.kind = IgemmEpilogueKind::Residual;
      e.ptr = res;
      e.dtype = DType::Int8;
      e.scale = scales;
      e.scaleDtype = DType::Float32;
    }
    if (pr.relu) {
      IgemmEpilogueOp& e = p.epi[p.nEpi++];
      e.kind = IgemmEpilogueKind::Activation;
      e.fn = static_cast<uint8_t>(PwActivation::Relu);
    }
    // An int8 output without a residual takes the fused requantize, as an engine's plan gives it
    // (IGEMM_GENERAL=1: the general arithmetic, for comparison).
    if (pr.int8Out && !pr.residual && std::getenv("IGEMM_GENERAL") == nullptr) {
      if (const char* why = IgemmFuseRequantize(&p)) {
        std::fprintf(stderr, "%s: %s\n", pr.name, why);
        return 1;
      }
    }
    const double ops = 2.0 * pr.m * pr.n * pr.k;
    std::printf("%s: m %lld n %d k %d%s%s\n", pr.name, (long long)pr.m, pr.n, pr.k, IgemmVectorLoads(p) ? "" : " (bytewise loads)",
                p.fusedRange != 0 ? ", fused requantize" : "");
    // Every tile configuration must write the same bytes as the first one timed (the same
    // arithmetic in another order of blocks); each one that runs the problem `q` is timed, its
    // lines labelled `label`.
    std::vector<uint8_t> first(outBytes), other(outBytes);
    auto everyTile = [&](const IgemmParams& q, const char* label) {
      bool haveFirst = false;  // the first tile timed: the bytes the others must match
      for (int t = 0; t < IgemmTileCount(); t++) {
        if ((IgemmTileUsesWgmma(t) && !wgmma) || !IgemmTileSupports(q, t) || !tileWanted(t)) continue;
        const bool tail = IgemmTmaTailParts(q, t) > 1;
        IgemmParams unsplit = q;
        unsplit.unsplitTail = true;
        for (const bool split : {true, false}) {
          if (!split && !tail) continue;
          const IgemmParams& r = split ? q : unsplit;
          const std::string name = std::string(IgemmTileName(t)) + (!tail ? "" : split ? ", last wave in 64-row tiles" : ", last wave whole");
          CK(cudaMemset(out, 0x5a, outBytes));
          if (LaunchIgemm(r, t, 0) != cudaSuccess) {
            std::printf("  %s %-62s launch failed\n", label, name.c_str());
            continue;
          }
          CK(cudaDeviceSynchronize());
          CK(cudaMemcpy(haveFirst ? other.data() : first.data(), out, outBytes, cudaMemcpyDeviceToHost));
          const bool same = !haveFirst || first == other;
          haveFirst = true;
          const float ms = TimeMs([&] { LaunchIgemm(r, t, 0); });
          std::printf("  %s %-62s %8.4f ms %7.1f TOPS%s\n", label, name.c_str(), ms, ops / ms / 1e9, same ? "" : "  OUTPUT DIFFERS FROM THE FIRST TILE");
        }
      }
    };
    // A layer on the network's float16 input (the MLP's fc1): A as the quantize of x [m, k] (the
    // quantize kernel's vector path, as an engine's quantize step runs it), timed alone and as the
    // quantize followed by the GEMM (back to back, not chained).
    if (pr.floatInput) {
      __half* x = static_cast<__half*>(Alloc(static_cast<size_t>(pr.m) * pr.k * 2));
      FillH<<<1024, 256>>>(x, pr.m * pr.k, 4);
      QuantParams qp{};
      qp.rank = 1;
      qp.size[0] = pr.m * pr.k;
      qp.x = QuantOperand{x, DType::Float16, {1}};
      qp.scale = QuantOperand{scales + 1, DType::Float32, {0}};
      qp.y = a;
      qp.yDtype = DType::Int8;
      qp.yStride[0] = 1;
      qp.quantize = true;
      CK(LaunchQuant(qp, 0));
      const float alone = TimeMs([&] { LaunchQuant(qp, 0); });
      std::printf("  quantize kernel alone (float16 x [m, k] -> int8)%27s %8.4f ms %7.1f GB/s\n", "", alone, pr.m * pr.k * 3.0 / alone / 1e6);
      for (int t = 0; t < IgemmTileCount(); t++) {
        if ((IgemmTileUsesWgmma(t) && !wgmma) || !IgemmTileSupports(p, t) || !tileWanted(t)) continue;
        const float both = TimeMs([&] {
          LaunchQuant(qp, 0);
          LaunchIgemm(p, t, 0);
        });
        std::printf("  quantize kernel, then igemm %-46s %8.4f ms\n", IgemmTileName(t), both);
      }
      CK(cudaFree(x));
    }
    everyTile(p, "igemm");
    if (pr.conv && pr.k % 16 == 0) {
      // The same product over an explicit [m, k] matrix: what the convolution's implicit loads cost.
      IgemmParams q = p;
      q.conv = false;
      q.lda = pr.k;
      int8_t* am = static_cast<int8_t*>(Alloc(static_cast<size_t>(pr.m) * pr.k));
      Fill<<<1024, 256>>>(am, pr.m * pr.k, 1);
      q.a = am;
      everyTile(q, "as a matrix");
      CK(cudaFree(am));
    }
    {
      std::string algo;
      float ms = TimeLt(lt, pr.m, pr.n, pr.k, kLtInt8Int32, ws, wsBytes, algo);
      std::printf("  cublasLt int8->int32     %8.4f ms %7.1f TOPS (%s)\n", ms, ops / ms / 1e9, algo.c_str());
      if (pr.int8Out && !pr.conv) {
        struct LtInt8Variant {
          const char* name;
          bool alphaVector;
          cublasLtEpilogue_t epi;
        };
        for (const LtInt8Variant v : {LtInt8Variant{"alpha", false, CUBLASLT_EPILOGUE_DEFAULT}, LtInt8Variant{"alpha[n]", true, CUBLASLT_EPILOGUE_DEFAULT},
                                      LtInt8Variant{"alpha[n], relu(+bias)", true, CUBLASLT_EPILOGUE_RELU_BIAS},
                                      LtInt8Variant{"alpha, relu(+bias)", false, CUBLASLT_EPILOGUE_RELU_BIAS}}) {
          algo.clear();
          ms = TimeLt(lt, pr.m, pr.n, pr.k, LtInt8Int8(v.alphaVector, v.epi), ws, wsBytes, algo);
          if (ms < 0) std::printf("  cublasLt int8->int8 %-24s unsupported\n", v.name);
          else std::printf("  cublasLt int8->int8 %-24s %8.4f ms %7.1f TOPS (%s)\n", v.name, ms, ops / ms / 1e9, algo.c_str());
        }
      }
      ms = TimeLt(lt, pr.m, pr.n, pr.k, kLtFp16, ws, wsBytes, algo);
      std::printf("  cublasLt fp16            %8.4f ms %7.1f TFLOPS (%s)\n", ms, ops / ms / 1e9, algo.c_str());
    }
    CK(cudaFree(a));
    CK(cudaFree(b));
    CK(cudaFree(out));
    if (res) CK(cudaFree(res));
  }
  return 0;
}
