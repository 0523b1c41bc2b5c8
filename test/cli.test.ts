import { describe, expect, it } from 'vitest';
import { HELP, main } from '../src/cli/main.js';
import { parseFlags } from '../src/cli/args.js';

async function runCli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, (l) => out.push(l), (l) => err.push(l));
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** The text between a section heading and the next one. */
function section(text: string, heading: string): string {
  const start = text.indexOf(heading);
  expect(start, `missing section '${heading}'`).toBeGreaterThanOrEqual(0);
  const next = text.indexOf('\n== ', start + heading.length);
  return text.slice(start, next < 0 ? undefined : next);
}

describe('fxrt demo', () => {
  it('prints the split, the engine layers after fusion, the accuracy, the latency and the backend', async () => {
    const { code, out, err } = await runCli('demo', '--iterations', '2');
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(out).toContain('fxrt demo: mlp');
    expect(out).toContain('input float32[64, 512], precision fp32, device auto');

    const compileLines = section(out, '== compile ==');
    for (const stage of ['trace', 'accTrace', 'passes', 'split', 'convert', 'build', 'validate', 'done']) expect(compileLines).toContain(`  ${stage}`);

    const split = section(out, '== split preview ==');
    expect(split).toContain('acc.linear × 2  [float32]');
    expect(split).toContain('_run_on_acc_0 (acc, 3 nodes)');

    const engine = section(out, '== engine _run_on_acc_0: 5 network layers -> 2 steps after fusion ==');
    expect(engine).toContain('fuses: [MATRIX_MULTIPLY]-[acc.linear]-[linear] + [ELEMENTWISE]-[acc.linear]-[linear] + [ACTIVATION]-[acc.relu]-[relu]');
    expect(engine).toMatch(/memory: arena \d+ bytes/);

    const accuracy = section(out, '== accuracy against the reference interpreter ==');
    expect(accuracy).toMatch(/output 0: max abs err \d\.\d{3}e[-+]\d+, rel err \S+, cosine similarity 1\.000000/);
    expect(accuracy).toContain('tolerance 0.0001 (relative): passed');

    const latency = section(out, '== latency ==');
    expect(latency).toMatch(/lowered module: median \d+(\.\d+)? ms .*2 runs\), [\d.]+ items\/s at batch 64/);
    expect(latency).toMatch(/reference interpreter \(unlowered\): median/);

    expect(out).toContain('ran on: reference TypeScript backend on the CPU (no GPU backend present)');
    expect(out).not.toMatch(/TensorRT|cuda backend ran|on the GPU/i);
  });

  it('compiles another bundled model in fp16', async () => {
    const { code, out } = await runCli('demo', '--model', 'resnet18Cifar', '--precision', 'fp16', '--shape', '1,3,16,16', '--iterations', '1');
    expect(code).toBe(0);
    expect(out).toContain('input float32[1, 3, 16, 16], precision fp16');
    expect(out).toMatch(/<convolution, float16\/float32, tactic reference>/);
    expect(out).toContain('(relative): passed');
  });

  it("fails clearly with --device cuda when the CUDA backend is absent", async () => {
    const { code, err } = await runCli('demo', '--device', 'cuda', '--iterations', '1');
    expect(code).toBe(1);
    expect(err).toContain("fxrt: device 'cuda' was requested, but the CUDA backend is not available");
  });
});

describe('fxrt bench-cpu', () => {
  it('reports ResNet-18 lowered and interpreted, with the median latency', async () => {
    const { code, out } = await runCli('bench-cpu', '--shape', '1,3,32,32', '--iterations', '1');
    expect(code).toBe(0);
    expect(out).toContain('fxrt bench-cpu: ResNet-18, input float32[1, 3, 32, 32], fp32, reference TypeScript backend (one CPU core)');
    expect(out).toMatch(/median latency: \d+\.\d ms \(lowered\), \d+\.\d ms \(interpreter\)/);
  });
});

describe('fxrt usage', () => {
  it('--help lists the commands and options', async () => {
    const { code, out } = await runCli('--help');
    expect(code).toBe(0);
    expect(out).toBe(HELP);
    for (const s of ['fxrt demo', 'fxrt bench-cpu', '--model', '--precision', '--device', 'resnet18', 'mobilenetV2']) expect(out).toContain(s);
  });

  it('no command prints the help and fails', async () => {
    const { code, out } = await runCli();
    expect(code).toBe(1);
    expect(out).toBe(HELP);
  });

  it('rejects unknown commands, options and values with exit code 2', async () => {
    expect(await runCli('train')).toMatchObject({ code: 2, err: "fxrt: unknown command 'train' (commands: demo, bench-cpu, bench, --help)\nrun 'fxrt --help' for usage" });
    expect((await runCli('demo', '--fast')).err).toContain('unknown option --fast');
    expect((await runCli('demo', '--precision', 'fp64')).err).toContain("--precision must be one of fp32, fp16, bf16, got 'fp64'");
    expect((await runCli('demo', '--iterations')).err).toContain('--iterations needs a value');
    expect((await runCli('bench-cpu', '--shape', '1,0')).code).toBe(2);
  });

  it('parses --name=value and --name value alike', () => {
    const specs = { model: ['a', 'b'], iterations: 'int', shape: 'shape' } as const;
    expect(parseFlags(['--model=b', '--iterations', '3', '--shape', '1x3x8x8'], specs)).toEqual({ model: 'b', iterations: 3, shape: [1, 3, 8, 8] });
    expect(() => parseFlags(['stray'], specs)).toThrow("unexpected argument 'stray'");
  });
});
