import { describe, expect, it } from 'vitest';
import { compile, CompileError, type CompileStage } from '../src/compile.js';
import { EngineInputError } from '../src/engine/execution_context.js';
import { PlanFormatError, type BuilderPrecision } from '../src/engine/plan.js';
import type { GraphModule } from '../src/ir/graph_module.js';
import { formatArgument, targetName } from '../src/ir/print.js';
import { wrap } from '../src/ir/wrap.js';
import { symbolicTrace } from '../src/ir/tracer.js';
import { compareWithReference } from '../src/lowering/accuracy.js';
import { readFrame, SavedFormatError, writeFrame } from '../src/lowering/container.js';
import { EngineModule } from '../src/lowering/engine_module.js';
import { InputMismatchError } from '../src/lowering/input_check.js';
import { LoweredModule } from '../src/lowering/lowered_module.js';
import { modelZoo } from '../src/models/index.js';
import { F } from '../src/nn/functional.js';
import { nn } from '../src/nn/index.js';
import { Module, Parameter } from '../src/nn/module.js';
import { Tensor } from '../src/tensor/tensor.js';

function reference(gm: GraphModule, x: Tensor): Tensor[] {
  const out = gm.forward(x.clone());
  return Array.isArray(out) ? out.filter((t): t is Tensor => t instanceof Tensor) : [out as Tensor];
}

function bits(ts: readonly Tensor[]): number[][] {
  return ts.map((t) => Array.from(new Uint8Array(t.bytes())));
}

/**
 * Sets BN running statistics to those of `x`, as a trained network has, so activations stay O(1)
 * (at init MobileNetV2's outputs are ~1e-9, below fp16's range). Variances are floored at 1e-2:
 * a channel that is almost constant on a small calibration batch would otherwise multiply the
 * rounding noise of its input by up to 1/sqrt(eps) ≈ 300.
 */
function calibrateBatchNorm(model: Module, x: Tensor): void {
  const bns = model.modules().filter((m): m is nn.BatchNorm2d => m instanceof nn.BatchNorm2d);
  for (const m of bns) {
    // momentum null = cumulative average: after one batch, the running statistics are that batch's.
    Reflect.set(m, 'momentum', null);
    m.num_batches_tracked!.setData(new BigInt64Array(1));
  }
  model.train();
  model.forward(x);
  model.eval();
  for (const m of bns) m.running_var!.setData(m.running_var!.toFloat32().map((v) => Math.max(v, 1e-2)));
}

interface Case {
  readonly name: 'resnet18' | 'mobilenetV2' | 'bertEncoderLayer';
  readonly shape: readonly number[];
}

const CASES: readonly Case[] = [
  { name: 'resnet18', shape: [1, 3, 64, 64] },
  { name: 'mobilenetV2', shape: [1, 3, 64, 64] },
  { name: 'bertEncoderLayer', shape: [1, 8, 768] },
];

describe.each(CASES)('compile $name', ({ name, shape }) => {
  const entry = modelZoo[name];
  const model = entry.create().eval();
  const x = Tensor.randn(shape, { seed: 7 });
  if (name === 'mobilenetV2') calibrateBatchNorm(model, Tensor.randn([2, ...shape.slice(1)], { seed: 8 }));
  const gm = symbolicTrace(model, entry.traceOptions);
  const concreteArgs = entry.traceOptions.concreteArgs;
  const expected = reference(gm, x);

  it('fp32 on the cpu matches the interpreter within 1e-5 relative, as one engine', async () => {
    const lowered = await compile(model, [x], { precision: 'fp32', device: 'cpu', ...(concreteArgs ? { concreteArgs } : {}) });
    expect([...lowered.engines.keys()]).toEqual(['_run_on_acc_0']);
    expect(lowered.cpuParts.size).toBe(0);
    const report = compareWithReference(expected, await lowered.run([x]), 1e-5);
    expect(report.maxRelError).toBeLessThanOrEqual(1e-5);
    expect(report.passed).toBe(true);
    const engine = lowered.engines.get('_run_on_acc_0')!;
    expect(engine.report.stepsAfter).toBeLessThan(engine.report.layersBefore);
  });

  it('fp16 emulation stays within 1e-2 relative', async () => {
    const lowered = await compile(gm, [x], { precision: 'fp16', device: 'cpu', validate: true });
    const v = lowered.validation!;
    expect(v.passed).toBe(true);
    expect(v.maxRelError).toBeLessThanOrEqual(1e-2);
    expect(v.maxRelError).toBeGreaterThan(0);
    expect(v.minCosineSimilarity).toBeGreaterThan(0.9999);
  });
});

/** A user function without a converter (x * sigmoid(x), by hand): it stays on the interpreter. */
const swish = wrap('test_compile.swish', (x: Tensor): Tensor => {
  const v = x.toFloat32();
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = v[i]! / (1 + Math.exp(-v[i]!));
  return Tensor.fromStorage(out, x.shape, 'float32');
});

class Mixed extends Module {
  fc1 = new nn.Linear(8, 16);
  fc2 = new nn.Linear(16, 3);
  override forward(x: Tensor): Tensor {
    const h = swish(F.relu(this.fc1.forward(x)));
    return F.softmax(this.fc2.forward(h), -1);
  }
}

describe('compile: a model with a cpu part', () => {
  const model = new Mixed().eval();
  const x = Tensor.randn([2, 8], { seed: 9 });

  it('lowers the supported parts to engines and runs the rest on the interpreter', async () => {
    const lowered = await compile(model, [x], { device: 'cpu', validate: { tolerance: 1e-5 } });
    expect([...lowered.engines.keys()]).toEqual(['_run_on_acc_0', '_run_on_acc_2']);
    expect([...lowered.cpuParts.keys()]).toEqual(['_run_on_cpu_1']);
    expect(lowered.splitPreview.toString()).toContain('test_compile.swish');
    expect(lowered.validation!.passed).toBe(true);
  });

  it('takes dynamic shapes: engines of intermediate values get the ranges observed at min/opt/max', async () => {
    const lowered = await compile(model, [x], { device: 'cpu', inputSpecs: [{ min: [1, 8], opt: [2, 8], max: [4, 8] }] });
    const second = lowered.engines.get('_run_on_acc_2')!;
    expect(second.inputs.map((i) => [i.name, i.shape, i.profile])).toEqual([['swish', [-1, 16], { min: [1, 16], opt: [2, 16], max: [4, 16] }]]);
    for (const batch of [1, 3, 4]) {
      const xb = Tensor.randn([batch, 8], { seed: batch });
      const got = await lowered.run([xb]);
      expect(compareWithReference([model.forward(xb) as Tensor], got, 1e-5).passed).toBe(true);
    }
    await expect(lowered.run([Tensor.randn([5, 8])])).rejects.toThrow(
      "input 0 ('x') has shape [5, 8] outside the optimization profile: dim 0 is 5, expected 1..4 (min [1, 8], max [4, 8])");
  });

  it('rejects ranges that exclude the example input', async () => {
    await expect(compile(model, [x], { device: 'cpu', inputSpecs: [{ min: [3, 8], opt: [3, 8], max: [4, 8] }] }))
      .rejects.toThrow("inputSpecs[0] ('x'): the example input's dim 0 is 2, outside the range 3..4");
  });

  it('save → load → run is bit-identical', async () => {
    const lowered = await compile(model, [x], { device: 'cpu', precision: 'fp16', validate: true });
    const bytes = lowered.save();
    const loaded = LoweredModule.load(bytes);
    expect([...loaded.engines.keys()]).toEqual(['_run_on_acc_0', '_run_on_acc_2']);
    expect([...loaded.cpuParts.keys()]).toEqual(['_run_on_cpu_1']);
    expect(loaded.precision).toBe('fp16');
    expect(loaded.inputs).toEqual(lowered.inputs);
    expect(loaded.validation).toEqual(lowered.validation);
    expect(loaded.splitPreview.toJSON()).toEqual(lowered.splitPreview.toJSON());
    const structure = (l: LoweredModule): string[] => l.split.graph.nodeList().map((n) => `${n.op} ${n.name} ${targetName(n)} ${formatArgument(n.args)}`);
    expect(structure(loaded)).toEqual(structure(lowered));
    expect(bits(await loaded.run([x]))).toEqual(bits(await lowered.run([x])));
  });

  it('rejects corrupted and truncated files with a clear error', async () => {
    const lowered = await compile(model, [x], { device: 'cpu' });
    const bytes = lowered.save();
    const flipped = bytes.slice();
    flipped[Math.floor(bytes.length / 2)]! ^= 0x40;
    expect(() => LoweredModule.load(flipped)).toThrow(SavedFormatError);
    expect(() => LoweredModule.load(flipped)).toThrow(/corrupted: its CRC-32 is 0x[0-9a-f]{8}, the file records/);
    expect(() => LoweredModule.load(bytes.subarray(0, bytes.length - 100))).toThrow(/saved lowered module is truncated/);
    expect(() => LoweredModule.load(bytes.subarray(0, 10))).toThrow(/truncated/);
    expect(() => LoweredModule.load(new TextEncoder().encode('not a model at all'))).toThrow("not a saved lowered module: expected magic 'FXLM'");

    // A well-formed frame whose header is not: every reference is checked.
    const { header, sections } = readFrame(bytes, 'FXLM', 1, 'test');
    const graph = header['graph'] as { op: string; args?: unknown[] }[];
    graph.find((n) => n.op === 'call_module')!.args = [{ $node: 'nope' }];
    delete header['sections'];
    expect(() => LoweredModule.load(writeFrame('FXLM', 1, header, sections))).toThrow("saved lowered module: graph node 1: refers to unknown node 'nope'");
    header['inputs'] = [{ name: 'x', dtype: 'float99', shape: [2, 8], profile: { min: [2, 8], opt: [2, 8], max: [2, 8] } }];
    graph.find((n) => n.op === 'call_module')!.args = [{ $node: 'x' }];
    expect(() => LoweredModule.load(writeFrame('FXLM', 1, header, sections))).toThrow("saved lowered module: input spec 0 ('x') has an unknown dtype");

    const engineBytes = lowered.engines.get('_run_on_acc_0')!.save();
    const first = lowered.engines.get('_run_on_acc_0')!;
    expect(bits(await EngineModule.load(engineBytes).run([x]))).toEqual(bits(await first.run([x])));
    const badEngine = engineBytes.slice();
    badEngine[engineBytes.length - 200]! ^= 0x01;
    expect(() => EngineModule.load(badEngine)).toThrow(/saved engine module is corrupted/);
    expect(() => EngineModule.load(engineBytes.subarray(0, engineBytes.length - 1))).toThrow(/saved engine module is truncated/);
    // A plan damaged inside a frame whose checksum was recomputed is still caught by the plan's own check.
    const plan = first.engine.serialize();
    const badPlan = plan.slice();
    badPlan[40]! ^= 0xff;
    expect(() => EngineModule.load(resealEngine(engineBytes, badPlan))).toThrow(PlanFormatError);
  });
});

describe('compile: outputs that are constants', () => {
  class WithConstant extends Module {
    w = new Parameter(Tensor.fromArray([1, 2, 3]));
    override forward(x: Tensor): Tensor[] {
      return [F.relu(x), this.w];
    }
  }

  it('returns the constant from the split module, also after save → load', async () => {
    const x = Tensor.fromArray([-1, 0, 2]);
    const lowered = await compile(new WithConstant(), [x], { device: 'cpu' });
    const check = async (l: LoweredModule): Promise<void> => {
      const out = await l.run([x]);
      expect(out.map((t) => t.toArray())).toEqual([[0, 0, 2], [1, 2, 3]]);
    };
    await check(lowered);
    await check(LoweredModule.load(lowered.save()));
  });
});

/** An engine-module frame around different plan bytes (valid frame, broken plan). */
function resealEngine(frame: Uint8Array, plan: Uint8Array): Uint8Array {
  const headerLength = new DataView(frame.buffer, frame.byteOffset).getUint32(8, true);
  const header = JSON.parse(new TextDecoder().decode(frame.subarray(16, 16 + headerLength))) as Record<string, unknown>;
  delete header['sections'];
  return writeFrame('FXEM', 1, header, [plan]);
}

describe('compile: input checks name the input', () => {
  const model = new nn.Sequential(new nn.Linear(4, 4), new nn.ReLU()).eval();
  const x = Tensor.randn([2, 4], { seed: 11 });

  it('wrong count, dtype and shape', async () => {
    const lowered = await compile(model, [x], { device: 'cpu' });
    await expect(lowered.run([x, x])).rejects.toThrow(InputMismatchError);
    await expect(lowered.run([x, x])).rejects.toThrow("the lowered module expects 1 input(s) ('input'), got 2");
    await expect(lowered.run([x.castTo('float16')])).rejects.toThrow("input 0 ('input') must be float32, got float16");
    await expect(lowered.run([Tensor.randn([3, 4])])).rejects.toThrow(
      "input 0 ('input') has shape [3, 4] outside the optimization profile: dim 0 is 3, expected 2");
    await expect(lowered.run([Tensor.randn([2, 4, 1])])).rejects.toThrow("input 0 ('input') must have rank 2 [2, 4], got rank 3 [2, 4, 1]");
  });

  it('an engine module checks its own inputs the same way', async () => {
    const lowered = await compile(model, [x], { device: 'cpu' });
    const engine = lowered.engines.get('_run_on_acc_0')!;
    expect(engine.inputNames).toEqual(['input']);
    expect(engine.inputDtypes).toEqual(['float32']);
    expect(engine.outputShapes).toEqual([[2, 4]]);
    await expect(engine.run([])).rejects.toThrow(EngineInputError);
    await expect(engine.run([x.castTo('int32')])).rejects.toThrow("engine '_run_on_acc_0': input 0 ('input') must be float32, got int32");
    await expect(engine.run([Tensor.randn([5, 4])])).rejects.toThrow(/input 0 \('input'\) must have shape \[2, 4\], got \[5, 4\]/);
    expect(() => engine.forward(x)).toThrow(/runs asynchronously: call `await module.run/);
  });

  it('profiles per layer and reports layer info as JSON', async () => {
    const lowered = await compile(model, [x], { device: 'cpu' });
    const engine = lowered.engines.get('_run_on_acc_0')!;
    engine.enableProfiling();
    await engine.run([x]);
    await engine.run([x]);
    const profile = engine.profile();
    expect(profile.length).toBe(engine.layerInfo().length);
    expect(profile.every((p) => p.calls === 2 && p.totalMs >= 0)).toBe(true);
    engine.disableProfiling();
    await engine.run([x]);
    expect(engine.profile().every((p) => p.calls === 2)).toBe(true);
    const info = JSON.parse(engine.layerInfoJSON()) as { engine: string; backend: string; layers: { name: string; layers: string[] }[] };
    expect(info.engine).toBe('_run_on_acc_0');
    expect(info.backend).toBe('reference');
    expect(info.layers.flatMap((l) => l.layers).some((l) => l.includes('acc.linear'))).toBe(true);
  });
});

describe('compile: options', () => {
  const model = new Mixed().eval();
  const x = Tensor.randn([2, 8], { seed: 12 });

  it('reports every stage in order', async () => {
    const stages: CompileStage[] = [];
    const parts: (string | undefined)[] = [];
    await compile(model, [x], { device: 'cpu', validate: true, onProgress: (s, info) => { stages.push(s); parts.push(info.part); } });
    expect(stages).toEqual(['trace', 'accTrace', 'passes', 'split', 'convert', 'build', 'convert', 'build', 'validate', 'done']);
    expect(parts.filter((p) => p !== undefined)).toEqual(['_run_on_acc_0', '_run_on_acc_0', '_run_on_acc_2', '_run_on_acc_2']);
  });

  it('validate reports max abs error and cosine similarity, and fails beyond the tolerance', async () => {
    const lowered = await compile(model, [x], { device: 'cpu', precision: 'fp16', validate: true });
    const v = lowered.validation!;
    expect(v.tolerance).toBe(2e-2);
    expect(v.outputs.length).toBe(1);
    expect(v.outputs[0]!.maxAbsError).toBeGreaterThan(0);
    expect(v.outputs[0]!.cosineSimilarity).toBeGreaterThan(0.999);
    const failing = compile(model, [x], { device: 'cpu', precision: 'fp16', validate: { tolerance: 1e-9 } });
    await expect(failing).rejects.toThrow(CompileError);
    await expect(compile(model, [x], { device: 'cpu', precision: 'fp16', validate: { tolerance: 1e-9 } }))
      .rejects.toThrow(/compile failed at stage 'validate': the lowered module differs from the reference interpreter beyond the tolerance: max abs err .* cosine similarity/);
  });

  it("device 'cuda' fails clearly without the CUDA backend; 'auto' says it uses the reference backend", async () => {
    await expect(compile(model, [x], { device: 'cuda' })).rejects.toThrow(
      /device 'cuda' was requested, but the CUDA backend is not available: .+\. Use device: 'cpu'/);
    const lowered = await compile(model, [x], { device: 'auto' });
    expect(lowered.backend).toBe('reference');
    expect(lowered.backendDescription).toMatch(/^reference TypeScript backend on the CPU .*device 'auto' fell back to it/);
  });

  it('excludeOps, minAccModuleSize and leafModules reach the splitter', async () => {
    const excluded = await compile(model, [x], { device: 'cpu', excludeOps: ['acc.softmax'] });
    expect([...excluded.cpuParts.keys()]).toEqual(['_run_on_cpu_1', '_run_on_cpu_3']);
    const merged = await compile(model, [x], { device: 'cpu', excludeOps: ['acc.softmax'], minAccModuleSize: 3 });
    expect(merged.engines.size).toBe(0);
    expect(merged.splitPreview.demoted.map((d) => d.node)).toEqual(['linear', 'relu', 'linear_1']);
    const leaf = await compile(model, [x], { device: 'cpu', leafModules: [nn.Linear] });
    expect(leaf.splitPreview.unsupported.map((u) => u.op)).toEqual(['module:fc1', 'test_compile.swish', 'module:fc2']);
    expect(compareWithReference([model.forward(x) as Tensor], await leaf.run([x]), 1e-6).passed).toBe(true);
  });

  it('rejects an unknown precision', async () => {
    const unknown: string = 'int4';
    await expect(compile(model, [x], { precision: unknown as BuilderPrecision })).rejects.toThrow("precision must be 'fp32', 'fp16', 'bf16', 'int8' or 'fp8', got 'int4'");
  });
});

describe('compareWithReference', () => {
  const t = (v: number[]): Tensor => Tensor.fromArray(v);

  it('reports max abs error, error relative to the largest reference magnitude, and cosine similarity', () => {
    const r = compareWithReference([t([1, -2, 4])], [t([1, -2, 4.5])], 0.2);
    expect(r.outputs[0]).toMatchObject({ index: 0, maxAbsError: 0.5, relError: 0.125, nanMismatch: false });
    expect(r.outputs[0]!.cosineSimilarity).toBeCloseTo((1 + 4 + 18) / Math.sqrt(21 * 25.25), 12);
    expect(r.passed).toBe(true);
    expect(compareWithReference([t([1, -2, 4])], [t([1, -2, 4.5])], 0.1).passed).toBe(false);
  });

  it('treats all-zero outputs as equal and NaNs as equal only where both have them', () => {
    expect(compareWithReference([t([0, 0])], [t([0, 0])], 0).outputs[0]).toMatchObject({ relError: 0, cosineSimilarity: 1 });
    expect(compareWithReference([t([NaN, 1])], [t([NaN, 1])], 0).passed).toBe(true);
    const r = compareWithReference([t([NaN, 1])], [t([0, 1])], 0.5);
    expect(r.outputs[0]!.nanMismatch).toBe(true);
    expect(r.passed).toBe(false);
  });

  it('refuses outputs that cannot be compared', () => {
    expect(() => compareWithReference([t([1])], [], 1)).toThrow('the lowered module returned 0 output(s), the reference 1');
    expect(() => compareWithReference([t([1, 2])], [t([1])], 1)).toThrow('output 0: shape [1] differs from the reference [2]');
    expect(() => compareWithReference([t([1])], [t([1]).castTo('float16')], 1)).toThrow('output 0: dtype float16 differs from the reference float32');
  });
});
