#!/usr/bin/env node
/**
 * The `fxrt` command (the package's bin): `demo` compiles a bundled model and reports on it,
 * `bench-cpu` times ResNet-18 on the reference backend, `bench` compiles and times an ONNX file,
 * `--help` lists them.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { modelZoo, type ModelName } from '../models/index.js';
import { intFlag, parseFlags, shapeFlag, stringFlag, UsageError } from './args.js';
import { runBenchCpu } from './bench_cpu.js';
import { benchOnnx } from './bench_onnx.js';
import { runDemo, type Print } from './demo.js';

const MODELS: readonly ModelName[] = Object.keys(modelZoo).filter((k): k is ModelName => k in modelZoo);
const PRECISIONS = ['fp32', 'fp16', 'bf16'] as const;
const DEVICES = ['auto', 'cpu', 'cuda'] as const;

/** The text of `fxrt --help`. */
export const HELP = `fxrt: an FX-style graph compiler that lowers models to TensorRT-shaped engines.
Without a GPU backend, engines run on the reference TypeScript backend on the CPU.

usage:
  fxrt demo [options]     compile a bundled model; print the split, the engine's layers
                          after fusion, the accuracy against the reference interpreter,
                          the latency, and which backend ran it
      --model NAME        ${MODELS.join(' | ')} (default mlp)
      --precision P       ${PRECISIONS.join(' | ')} (default fp32)
      --device D          ${DEVICES.join(' | ')} (default auto; cuda fails without the CUDA backend)
      --shape DIMS        input shape, e.g. 1,3,64,64 (default: a small size per model)
      --iterations N      timed runs (default 10)
  fxrt bench-cpu [options]
                          ResNet-18 at 1x3x224x224 on the reference kernels (one core),
                          lowered and interpreted, median latency
      --shape DIMS        input shape (default 1,3,224,224)
      --iterations N      timed runs (default 5)
  fxrt bench MODEL.onnx [options]
                          import an ONNX file, compile it, validate it against the
                          reference interpreter and time it
      --precision P       fp32 | fp16 | bf16 | int8 (default fp32)
      --batch N           batch size for a dynamic first dim (default 1)
      --device D          ${DEVICES.join(' | ')} (default auto)
      --dims NAME=N,...   sizes of other symbolic dims
      --iterations N      timed runs; --warmup N untimed runs
  fxrt --help             this text
`;

function isModelName(s: string): s is ModelName {
  return (MODELS as readonly string[]).includes(s);
}

function isPrecision(s: string): s is (typeof PRECISIONS)[number] {
  return (PRECISIONS as readonly string[]).includes(s);
}

function isDevice(s: string): s is (typeof DEVICES)[number] {
  return (DEVICES as readonly string[]).includes(s);
}

/**
 * Runs the command line `argv` (without `node` and the script); returns the exit code.
 * Output goes to `out`, errors to `err`.
 *
 * @example
 * const code = await main(['demo', '--model', 'mlp'], console.log, console.error);
 */
export async function main(argv: readonly string[], out: Print, err: Print): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
      out(HELP);
      return command === undefined ? 1 : 0;
    }
    if (command === 'demo') {
      const flags = parseFlags(rest, { model: MODELS, precision: PRECISIONS, device: DEVICES, shape: 'shape', iterations: 'int' });
      const model = stringFlag(flags, 'model', 'mlp');
      const precision = stringFlag(flags, 'precision', 'fp32');
      const device = stringFlag(flags, 'device', 'auto');
      if (!isModelName(model) || !isPrecision(precision) || !isDevice(device)) throw new UsageError('invalid option value');
      const shape = shapeFlag(flags, 'shape');
      await runDemo({ model, precision, device, iterations: Math.max(1, intFlag(flags, 'iterations', 10)), ...(shape ? { shape } : {}) }, out);
      return 0;
    }
    if (command === 'bench-cpu') {
      const flags = parseFlags(rest, { shape: 'shape', iterations: 'int' });
      const shape = shapeFlag(flags, 'shape');
      await runBenchCpu({ iterations: Math.max(1, intFlag(flags, 'iterations', 5)), ...(shape ? { shape } : {}) }, out);
      return 0;
    }
    if (command === 'bench') {
      await benchOnnx([...rest], out);
      return 0;
    }
    throw new UsageError(`unknown command '${command}' (commands: demo, bench-cpu, bench, --help)`);
  } catch (e) {
    if (e instanceof UsageError) {
      err(`fxrt: ${e.message}\nrun 'fxrt --help' for usage`);
      return 2;
    }
    err(`fxrt: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}

/** Whether this file is the process's entry script (also through the npm bin symlink). */
function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  const code = await main(process.argv.slice(2), (l) => process.stdout.write(`${l}\n`), (l) => process.stderr.write(`${l}\n`));
  process.exitCode = code;
}
