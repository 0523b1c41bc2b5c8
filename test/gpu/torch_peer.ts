/** Runs a bundled model's PyTorch twin (scripts/bench_gpu_peers.py reference) on fxrt's weights. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Module } from '../../src/nn/module.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { readTensors, writeTensors } from './tensor_file.js';

const SCRIPT = join(import.meta.dirname, '..', '..', 'scripts', 'bench_gpu_peers.py');

/** PyTorch's float32 output of model `name` with `model`'s state dict on input `x`. */
export function torchOutput(name: string, model: Module, x: Tensor): Tensor {
  const dir = mkdtempSync(join(tmpdir(), 'fxrt-torch-'));
  const [weights, input, output] = ['weights.bin', 'input.bin', 'output.bin'].map((f) => join(dir, f)) as [string, string, string];
  writeTensors(weights, model.stateDict());
  writeTensors(input, new Map([['input', x]]));
  const r = spawnSync('python3', [SCRIPT, 'reference', '--model', name, '--weights', weights, '--input', input, '--output', output], {
    encoding: 'utf8', timeout: 300_000,
  });
  if (r.status !== 0) throw new Error(`PyTorch reference for ${name} failed (${r.status ?? r.signal}): ${r.stderr || r.error?.message}`);
  const y = readTensors(output).get('output');
  if (!y) throw new Error(`PyTorch reference for ${name} wrote no output`);
  return y;
}
