#!/usr/bin/env bash
# Kernel-level timing of the int8 GEMM (native/bench/igemm_bench.cu) on a GPU machine: every tile
# configuration on the INT8 benchmark's problems, beside cuBLASLt int8 and fp16 GEMMs.
#   bash scripts/gpu/igemm_bench.sh [problem-name-substring]
# IGEMM_TILES=9,12 (tile indices) times only those tiles (the binary reads it).
# Output also goes to $OUT/igemm_bench.txt when OUT is set. IGEMM_BENCH_BIN names the binary (default
# /tmp/fxrt-gpu/igemm_bench; its objects go beside it), NVCC_EXTRA adds nvcc flags (for A/B builds of
# experiments: two binaries side by side).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${IGEMM_BENCH_BIN:-/tmp/fxrt-gpu/igemm_bench}
mkdir -p "$(dirname "$BIN")"
CUDA="${CUDA_HOME:-/usr/local/cuda}"
SRC=$BIN.src
mkdir -p "$SRC"
# The tile configurations' translation units, as CMakeLists.txt generates them (compiled in parallel).
tiles=$(grep -oE 'set\(FXRT_IGEMM_TILES [0-9]+' native/CMakeLists.txt | grep -oE '[0-9]+$')
units=(native/bench/igemm_bench.cu native/src/kernels/igemm.cu native/src/kernels/quant.cu)
for ((t = 0; t < tiles; t++)); do
  sed "s/@FXRT_IGEMM_TILE@/$t/g" native/src/kernels/igemm_tile.cu.in > "$SRC/igemm_tile$t.cu"
  units+=("$SRC/igemm_tile$t.cu")
done
printf '%s\n' "${units[@]}" | xargs -P "$(nproc)" -I{} sh -c \
  '"$0/bin/nvcc" $NVCC_EXTRA -O3 -std=c++17 -arch=sm_90a --expt-relaxed-constexpr -Inative/src -I"$0/include" -c {} -o "$1/$(basename {}).o"' "$CUDA" "$SRC"
"$CUDA/bin/nvcc" -arch=sm_90a "$SRC"/*.o -o "$BIN" -L"$CUDA/lib64" -lcublasLt
if [ -n "${OUT:-}" ]; then "$BIN" "$@" | tee "$OUT/igemm_bench.txt"; else "$BIN" "$@"; fi
