#!/usr/bin/env bash
# Full-size ONNX models on the GPU machine (it has torch, torchvision and transformers): exports them
# with random weights and PyTorch's outputs (scripts/gen_onnx_models.py --large), then imports each
# and compares on the reference backend (scripts/check_onnx_large.ts), then, when the CUDA addon is
# built (scripts/gpu/run.sh builds it; FXRT_ONNX_CUDA=0 skips this), compiles each for the CUDA
# backend, compares it with PyTorch and times it against PyTorch's fp16 timings taken by the
# export (check_onnx_large.ts --cuda). FXRT_ONNX_REFERENCE=0 skips the reference check. Node and node_modules as in
# scripts/gpu/run.sh (carry ".gpu" made by scripts/gpu/pack.sh). Results go to $OUT.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT="${OUT:-/tmp/fxrt-gpu/out}"
TMP=/tmp/fxrt-gpu
mkdir -p "$OUT" "$TMP/bin"
if ! command -v node > /dev/null 2>&1; then
  xz -dc .gpu/node.xz > "$TMP/bin/node" && chmod +x "$TMP/bin/node"
  export PATH="$TMP/bin:$PATH"
fi
if [ ! -e node_modules ]; then
  mkdir -p "$TMP/nm" && tar xJf .gpu/nm.tar.xz -C "$TMP/nm" && ln -s "$TMP/nm/node_modules" node_modules
fi
PYTHONUNBUFFERED=1 python3 scripts/gen_onnx_models.py --large --out "$TMP/onnx_large" 2>&1 | tail -n 20 | tee "$OUT/onnx_large_export.log"
status=0
if [ "${FXRT_ONNX_REFERENCE:-1}" != "0" ]; then
  node node_modules/vite-node/vite-node.mjs scripts/check_onnx_large.ts "$TMP/onnx_large" --results "$OUT" 2>&1 | tee "$OUT/onnx_large_check.log" || status=1
fi
if [ "${FXRT_ONNX_CUDA:-1}" != "0" ] && [ -f build/Release/fxrt_native.node ]; then
  node node_modules/vite-node/vite-node.mjs scripts/check_onnx_large.ts "$TMP/onnx_large" --results "$OUT" --cuda 2>&1 | tee "$OUT/onnx_cuda_check.log" || status=1
fi
exit "$status"
