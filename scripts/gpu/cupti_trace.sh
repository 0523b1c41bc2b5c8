#!/usr/bin/env bash
# A kernel trace of one workload's engine without Nsight Systems (the GPU machine has none):
# builds scripts/gpu/cupti_trace.cc against the CUDA toolkit's CUPTI, runs scripts/gpu_trace.ts
# (its arguments are this script's) with CUDA_INJECTION64_PATH naming the library, and summarizes
# the last runs' activities with scripts/gpu/trace_summary.py.
#
#   FXRT_GPU_TESTS=0 FXRT_GPU_BENCH=0 bash scripts/gpu/run.sh     # Node and the addon first
#   TRACE_PER_RUN=3 bash scripts/gpu/cupti_trace.sh --only mlp --precision int8 --runs 200
#
# TRACE_RUNS (default 100): how many of the last runs to summarize; TRACE_PER_RUN: activities per
# run (default: the number of distinct names among the last 50); FXRT_TRACE_CSV: where the CSV
# goes (default /tmp/fxrt-gpu/trace.csv). Tracing adds a little to each kernel's launch; compare
# traced runs with traced runs.
set -euo pipefail
cd "$(dirname "$0")/../.."
TMP=/tmp/fxrt-gpu
mkdir -p "$TMP"
[ -x "$TMP/bin/node" ] && export PATH="$TMP/bin:$PATH"
command -v node > /dev/null || { echo "no node: run scripts/gpu/run.sh first (it unpacks .gpu/node.xz)" >&2; exit 1; }
CUDA="${CUDA_HOME:-/usr/local/cuda}"
lib="$(find -L "$CUDA/lib64" "$CUDA/extras/CUPTI/lib64" -maxdepth 1 -name 'libcupti.so' 2> /dev/null | head -1 || true)"
[ -n "$lib" ] || { echo "no libcupti.so under $CUDA/lib64 or $CUDA/extras/CUPTI/lib64" >&2; exit 1; }
libdir="$(dirname "$lib")"
g++ -std=c++17 -O2 -shared -fPIC -Wall -I"$CUDA/include" -I"$CUDA/extras/CUPTI/include" scripts/gpu/cupti_trace.cc \
  -L"$libdir" -Wl,-rpath,"$libdir" -lcupti -o "$TMP/libfxrt_trace.so"
csv="${FXRT_TRACE_CSV:-$TMP/trace.csv}"
rm -f "$csv"
CUDA_INJECTION64_PATH="$TMP/libfxrt_trace.so" FXRT_TRACE_CSV="$csv" \
  node node_modules/vite-node/vite-node.mjs scripts/gpu_trace.ts "$@"
[ -s "$csv" ] || { echo "no trace written to $csv" >&2; exit 1; }
python3 scripts/gpu/trace_summary.py "$csv" --runs "${TRACE_RUNS:-100}" ${TRACE_PER_RUN:+--per-run "$TRACE_PER_RUN"}
