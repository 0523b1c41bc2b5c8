#!/usr/bin/env bash
# Kernel-level timing of the fused attention kernel (native/bench/attention_bench.cu) on a GPU
# machine: every kernel configuration on BERT-base's attention and longer, causal ones.
#   bash scripts/gpu/attention_bench.sh [problem-name-substring]
# Output also goes to $OUT/attention_bench.txt when OUT is set.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=/tmp/fxrt-gpu/attention_bench
mkdir -p "$(dirname "$BIN")"
CUDA="${CUDA_HOME:-/usr/local/cuda}"
"$CUDA/bin/nvcc" -O3 -std=c++17 -arch=sm_90a --expt-relaxed-constexpr -Inative/src \
  native/bench/attention_bench.cu native/src/kernels/attention.cu -o "$BIN"
if [ -n "${OUT:-}" ]; then "$BIN" "$@" | tee "$OUT/attention_bench.txt"; else "$BIN" "$@"; fi
