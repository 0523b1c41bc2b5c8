#!/usr/bin/env node
// Builds the CUDA backend's addon (build/Release/fxrt_native.node) with cmake-js when the CUDA
// toolkit is installed; without one it says so and exits 0, since the reference backend needs
// nothing native. A failing build exits non-zero, so CI catches a broken native build.
//
//   npm run build:native                  # sm_90a machine code + compute_90 PTX
//   CUDAARCHS="80;90" npm run build:native  # other architectures (CMake reads CUDAARCHS)
//   FXRT_CUDNN_INCLUDE=/path/to/cudnn/include npm run build:native
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function isExecutable(file) {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** First executable named `name` on PATH, or null. */
function onPath(name) {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && isExecutable(path.join(dir, name))) return path.join(dir, name);
  }
  return null;
}

/** nvcc from CUDACXX, CUDA_HOME, CUDA_PATH, PATH or /usr/local/cuda, in that order. */
function findNvcc() {
  const candidates = [
    process.env.CUDACXX,
    process.env.CUDA_HOME && path.join(process.env.CUDA_HOME, 'bin', 'nvcc'),
    process.env.CUDA_PATH && path.join(process.env.CUDA_PATH, 'bin', 'nvcc'),
    onPath('nvcc'),
    '/usr/local/cuda/bin/nvcc',
  ];
  return candidates.find((c) => c && isExecutable(c)) ?? null;
}

function main() {
  const nvcc = findNvcc();
  if (nvcc === null) {
    console.log(
      'fxrt: CUDA toolkit not found (no nvcc in $CUDACXX, $CUDA_HOME/bin, $CUDA_PATH/bin, on PATH or in /usr/local/cuda/bin); ' +
        "the native CUDA addon is not built. Everything runs on the reference backend; device: 'cuda' needs the addon: " +
        'install the CUDA toolkit and run `npm run build:native`.',
    );
    return 0;
  }
  const cmake = process.env.CMAKE ?? onPath('cmake');
  if (cmake === null) {
    console.error(`fxrt: found nvcc (${nvcc}) but no cmake on PATH: install CMake >= 3.20 to build the native CUDA addon.`);
    return 1;
  }
  let cmakeJs;
  try {
    cmakeJs = path.join(path.dirname(createRequire(import.meta.url).resolve('cmake-js/package.json')), 'bin', 'cmake-js');
  } catch {
    console.error('fxrt: cmake-js is not installed: run `npm ci` (it is a devDependency) before `npm run build:native`.');
    return 1;
  }
  console.log(`fxrt: building the native CUDA addon with ${nvcc}`);
  const args = [
    cmakeJs, 'build',
    '--directory', root,
    '--out', path.join(root, 'build'),
    '--cmake-path', cmake,
    '--parallel', String(os.availableParallelism()),
    `--CDCMAKE_CUDA_COMPILER=${nvcc}`,
  ];
  if (process.env.FXRT_CUDNN_INCLUDE) args.push(`--CDFXRT_CUDNN_INCLUDE=${process.env.FXRT_CUDNN_INCLUDE}`);
  const result = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  if (result.error) {
    console.error(`fxrt: could not run cmake-js: ${result.error.message}`);
    return 1;
  }
  if (result.status !== 0) {
    console.error(`fxrt: the native CUDA addon failed to build (cmake-js exited with ${result.status ?? result.signal}).`);
    return result.status ?? 1;
  }
  console.log(`fxrt: built ${path.join(root, 'build', 'Release', 'fxrt_native.node')}`);
  return 0;
}

process.exitCode = main();
