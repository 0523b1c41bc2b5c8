#!/usr/bin/env bash
# The GPU side in one command, on a machine with an NVIDIA GPU and the CUDA toolkit:
#   1. Node and node_modules: used as installed, else unpacked into /tmp from .gpu/ (the GPU
#      machine has no Node and reaches no registry): prepare it with scripts/gpu/pack.sh and
#      carry ".gpu" in the device run;
#   2. builds the CUDA addon with cmake-js (scripts/build_native.mjs), cuDNN headers found from
#      the Python nvidia-cudnn wheel unless FXRT_CUDNN_INCLUDE is set;
#   3. runs the GPU test suite (vitest.gpu.config.ts: test/gpu/**);
#   4. runs the benchmark against PyTorch (scripts/bench_gpu.ts), results into $OUT/bench.
# Logs and results go to $OUT (default /tmp/fxrt-gpu/out). Extra arguments go to vitest (e.g. a test file).
# FXRT_GPU_TESTS=0 / FXRT_GPU_BENCH=0 skip a step; FXRT_GPU_BENCH_ARGS adds benchmark arguments
# (e.g. "--only resnet18 --iters 20" or "--compile").
# Exit status: that of the first failing step.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT="${OUT:-/tmp/fxrt-gpu/out}"
mkdir -p "$OUT"
TMP=/tmp/fxrt-gpu
SUMMARY="$OUT/summary.txt"
: > "$SUMMARY"

note() { echo "== $*" | tee -a "$SUMMARY"; }

# ---- 1. Node and node_modules ----
if ! command -v node > /dev/null 2>&1; then
  [ -f .gpu/node.xz ] || { note "no node on PATH and no .gpu/node.xz to unpack (run scripts/gpu/pack.sh and carry .gpu)"; exit 1; }
  mkdir -p "$TMP/bin"
  xz -dc .gpu/node.xz > "$TMP/bin/node.part" && chmod +x "$TMP/bin/node.part" && mv "$TMP/bin/node.part" "$TMP/bin/node"
  export PATH="$TMP/bin:$PATH"
fi
if [ -f .gpu/nm.tar.xz ] && { [ -L node_modules ] || [ ! -e node_modules ]; }; then
  stamp="$(sha1sum .gpu/nm.tar.xz | cut -d' ' -f1)"
  if [ ! -d "$TMP/nm/node_modules" ] || [ "$(cat "$TMP/nm.stamp" 2> /dev/null)" != "$stamp" ]; then
    rm -rf "$TMP/nm" && mkdir -p "$TMP/nm"
    tar xJf .gpu/nm.tar.xz -C "$TMP/nm"
    echo "$stamp" > "$TMP/nm.stamp"
  fi
  rm -f node_modules
  ln -s "$TMP/nm/node_modules" node_modules
fi
[ -d node_modules ] || { note "no node_modules and no .gpu/nm.tar.xz to unpack (run scripts/gpu/pack.sh and carry .gpu)"; exit 1; }
note "node $(node --version) at $(command -v node)"

# ---- device ----
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv > "$OUT/device.txt" 2>&1 || true
note "device: $(tail -n +2 "$OUT/device.txt" | head -1)"

# ---- 2. the addon ----
if [ -z "${FXRT_CUDNN_INCLUDE:-}" ]; then
  FXRT_CUDNN_INCLUDE="$(python3 -c 'import nvidia.cudnn, os; print(os.path.join(list(nvidia.cudnn.__path__)[0], "include"))' 2> /dev/null || true)"
  export FXRT_CUDNN_INCLUDE
fi
build_start=$(date +%s)
if ! node scripts/build_native.mjs > "$OUT/build-native.log" 2>&1; then
  tail -n 40 "$OUT/build-native.log"
  note "addon build FAILED (log: build-native.log)"
  exit 1
fi
grep -E '^-- fxrt:' "$OUT/build-native.log" | tee -a "$SUMMARY" || true  # absent when nothing was reconfigured
note "addon built in $(( $(date +%s) - build_start )) s"

# ---- 3. GPU tests ----
status=0
if [ "${FXRT_GPU_TESTS:-1}" != "0" ]; then
  set +e
  node node_modules/vitest/vitest.mjs run --config vitest.gpu.config.ts \
    --reporter=default --reporter=junit --outputFile.junit="$OUT/gpu-tests.junit.xml" "$@" 2>&1 | tee "$OUT/gpu-tests.log"
  status=${PIPESTATUS[0]}
  set -e
  grep -E '^ *(Test Files|Tests) ' "$OUT/gpu-tests.log" | tee -a "$SUMMARY" || true
  note "GPU tests exit status $status"
fi

# ---- 4. benchmark ----
if [ "${FXRT_GPU_BENCH:-1}" != "0" ]; then
  bench_start=$(date +%s)
  # shellcheck disable=SC2086
  if node node_modules/vite-node/vite-node.mjs scripts/bench_gpu.ts --out "$OUT/bench" ${FXRT_GPU_BENCH_ARGS:-} > "$OUT/bench.log" 2>&1; then
    note "benchmark done in $(( $(date +%s) - bench_start )) s: $(ls "$OUT/bench" | tr '\n' ' ')"
  else
    tail -n 30 "$OUT/bench.log"
    note "benchmark FAILED (log: bench.log)"
    [ "$status" -ne 0 ] || status=1
  fi
fi
exit "$status"
