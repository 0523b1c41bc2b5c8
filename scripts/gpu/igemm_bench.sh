#!/usr/bin/env bash
# Kernel-level timing of the int8 GEMM (native/bench/igemm_bench.cu) on a GPU machine: every tile
# configuration on the INT8 benchmark's problems, beside cuBLASLt int8 and fp16 GEMMs.
#   bash scripts/gpu/igemm_bench.sh [problem-name-substring]
# Output also goes to $OUT/igemm_bench.txt when OUT is set.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=/tmp/fxrt-gpu/igemm_bench
mkdir -p "$(dirname "$BIN")"
CUDA="${CUDA_HOME:-/usr/local/cuda}"
"$CUDA/bin/nvcc" -O3 -std=c++17 -arch=sm_90a --expt-relaxed-constexpr -Inative/src -I"$CUDA/include" \
  native/bench/igemm_bench.cu native/src/kernels/igemm.cu -o "$BIN" -L"$CUDA/lib64" -lcublasLt
if [ -n "${OUT:-}" ]; then "$BIN" "$@" | tee "$OUT/igemm_bench.txt"; else "$BIN" "$@"; fi
