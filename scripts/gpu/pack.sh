#!/usr/bin/env bash
# Packs Node and node_modules into .gpu/ for scripts/gpu/run.sh: the GPU machine has no Node and
# reaches no registry. Run it here after `npm ci` (or after changing dependencies), then name
# ".gpu" in the device run's carry list. node_modules/onnxruntime-node and typescript stay
# behind: the GPU suite needs neither, and they would exceed the 64 MiB the device run carries.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .gpu
node_bin="$(command -v node)"
if [ ! -f .gpu/node.xz ] || [ "$node_bin" -nt .gpu/node.xz ]; then
  xz -T2 -c "$node_bin" > .gpu/node.xz.part && mv .gpu/node.xz.part .gpu/node.xz
fi
tar cJf .gpu/nm.tar.xz.part --exclude=node_modules/onnxruntime-node --exclude=node_modules/typescript node_modules
mv .gpu/nm.tar.xz.part .gpu/nm.tar.xz
ls -l .gpu
