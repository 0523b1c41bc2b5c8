/**
 * Bad data and device-resident I/O on the CUDA backend: a gather index out of range fails the
 * run naming the step, the index, its position and the valid range (the data error channel,
 * native/README.md), eagerly, while a CUDA graph is captured and when it is replayed, and the
 * next good run succeeds; EngineModule.run takes DeviceTensors and returns them with
 * `{ outputs: 'device' }`, matching the host path, and refuses what does not fit.
 */
import { describe, expect, it } from 'vitest';
import { CudaEngineRunner, cudaMemoryInUse, DeviceTensor } from '../../src/backends/cuda/index.js';
import { compile } from '../../src/compile.js';
import { Builder } from '../../src/engine/builder.js';
import type { Engine } from '../../src/engine/engine.js';
import { EngineInputError } from '../../src/engine/execution_context.js';
import { NetworkDefinition } from '../../src/engine/network_definition.js';
import { DeviceError } from '../../src/lowering/device.js';
import { EngineModule } from '../../src/lowering/engine_module.js';
import { nn } from '../../src/nn/index.js';
import type { DType } from '../../src/tensor/dtype.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { expectSameBytes } from './compare.js';
import { layer, settle } from './engine_harness.js';

function ints(values: readonly number[], shape: readonly number[], dtype: DType = 'int64'): Tensor {
  return Tensor.fromNumbers(values, shape, dtype);
}

/** Builds on the CUDA backend with CUDA graphs on or off (the backend reads FXRT_CUDA_GRAPHS when it loads the plan). */
async function buildCuda(net: NetworkDefinition, graphs: boolean): Promise<Engine> {
  const saved = process.env.FXRT_CUDA_GRAPHS;
  process.env.FXRT_CUDA_GRAPHS = graphs ? '1' : '0';
  try {
    return await new Builder().build(net, { backend: 'cuda' });
  } finally {
    if (saved === undefined) delete process.env.FXRT_CUDA_GRAPHS;
    else process.env.FXRT_CUDA_GRAPHS = saved;
  }
}

/** The error `run` rejects with (fails the test when it resolves). */
async function rejection(run: Promise<unknown>): Promise<Error> {
  try {
    await run;
  } catch (e) {
    if (e instanceof Error) return e;
    throw e;
  }
  return expect.fail('expected the run to reject');
}

/** The message of a gather index out of range, as the native op words it. */
function outOfRange(step: string, value: number, position: string, dim: number, size: number): string {
  return `fxrt cuda: run: step '${step}': gather index ${value} at position ${position} of the indices is out of range ` +
    `for dim ${dim} of size ${size} (expected ${-size}..${size - 1})`;
}

/** Expects a data error of `step` (its name in the message, its index in `step`). */
async function expectDataError(engine: Engine, run: Promise<unknown>, message: string): Promise<void> {
  const e = await rejection(run);
  expect(e.message).toBe(message);
  expect(Reflect.get(e, 'code')).toBe('FXRT_DATA_ERROR');
  const name = /step '([^']+)'/.exec(message)![1];
  expect(Reflect.get(e, 'step')).toBe(engine.plan.steps.findIndex((s) => s.name === name));
}

/** x float32 [3, 4], i int64 [3]: y = gather(x, i) along dim 0, in step 'g'. */
function rowGather(): NetworkDefinition {
  const net = new NetworkDefinition('row_gather');
  const x = net.addInput('x', 'float32', [3, 4]);
  const i = net.addInput('i', 'int64', [3]);
  net.markOutput(layer(net, 'gather', [x, i], { axis: 0, mode: 'default' }, 'g'), 'y');
  return net;
}

const rows = Tensor.fromNumbers(Array.from({ length: 12 }, (_, i) => i + 1), [3, 4]);

/** rows[i] for in-range indices (negative ones count from the end). */
function expectRows(got: Tensor, picked: readonly number[]): void {
  const want = picked.flatMap((r) => Array.from({ length: 4 }, (_, c) => ((r + 3) % 3) * 4 + c + 1));
  expect(Array.from(got.toFloat64())).toEqual(want);
}

async function runDownload(runner: CudaEngineRunner, inputs: readonly Tensor[]): Promise<Tensor> {
  const [y, ...rest] = await runner.run(inputs);
  try {
    expect(rest).toEqual([]);
    return await y!.download();
  } finally {
    y!.dispose();
  }
}

describe('gather index out of range on the device', () => {
  for (const graphs of [true, false]) {
    it(`rejects naming the step, the index, its position and the range, then runs good indices again (CUDA graphs ${graphs ? 'on' : 'off'})`, async () => {
      const engine = await buildCuda(rowGather(), graphs);
      const runner = CudaEngineRunner.of(engine);
      const buffers = cudaMemoryInUse().deviceBuffers;
      // run 1 eager; from run 2 the output (freed by the rejected run, allocated again where it
      // was) is written in place by a program bound to it: eager once, then captured and replayed
      await expectDataError(engine, runner.run([rows, ints([0, 3, 1], [3])]), outOfRange('g', 3, '[1]', 0, 3));
      await expectDataError(engine, runner.run([rows, ints([2, 0, -4], [3])]), outOfRange('g', -4, '[2]', 0, 3));
      expectRows(await runDownload(runner, [rows, ints([2, -3, -1], [3])]), [2, -3, -1]);
      expect(runner.graphState([[3, 4], [3]])).toBe(graphs ? 'graph' : 'eager');
      await expectDataError(engine, runner.run([rows, ints([-1, 2 ** 40, 0], [3])]), outOfRange('g', 2 ** 40, '[1]', 0, 3));
      expectRows(await runDownload(runner, [rows, ints([1, 1, 0], [3])]), [1, 1, 0]);
      // the outputs of rejected runs went back to the runner (the next output's memory)
      expect(cudaMemoryInUse().deviceBuffers).toBe(buffers + 1);
      runner.dispose();
    });
  }

  it('rejects on the host path too (ExecutionContext.execute, profiled or not, and EngineModule.run)', async () => {
    const engine = await buildCuda(rowGather(), true);
    const ctx = engine.createExecutionContext();
    const module = new EngineModule(engine, 'part_gather');
    for (let k = 0; k < 3; k++) {
      await expectDataError(engine, ctx.execute([rows, ints([7, 0, 0], [3])]), outOfRange('g', 7, '[0]', 0, 3));
      expectRows((await ctx.execute([rows, ints([0, 1, 2], [3])]))[0]!, [0, 1, 2]);
      await expectDataError(engine, module.run([rows, ints([0, 0, -5], [3])]), outOfRange('g', -5, '[2]', 0, 3));
      await expectDataError(engine, module.run([rows, ints([0, 0, 3], [3])], { outputs: 'device' }), outOfRange('g', 3, '[2]', 0, 3));
      expectRows((await module.run([rows, ints([2, 1, 0], [3])]))[0]!, [2, 1, 0]);
    }
    // profiled runs enqueue the ops eagerly with an event around each: they report too
    const profiled = engine.createExecutionContext();
    profiled.profile = true;
    await expectDataError(engine, profiled.execute([rows, ints([1, -7, 1], [3])]), outOfRange('g', -7, '[1]', 0, 3));
    expectRows((await profiled.execute([rows, ints([1, 1, 1], [3])]))[0]!, [1, 1, 1]);
  });

  it('names the first step that reports (stream order), and positions in multi-dim int32 indices of element mode', async () => {
    const twoGathers = (): NetworkDefinition => {
      const net = new NetworkDefinition('two_gathers');
      const x = net.addInput('x', 'float32', [3, 4]);
      const i1 = net.addInput('i1', 'int64', [2]);
      const i2 = net.addInput('i2', 'int32', [2, 3]);
      const first = layer(net, 'gather', [x, i1], { axis: 0, mode: 'default' }, 'first'); // [2, 4]
      net.markOutput(layer(net, 'gather', [first, i2], { axis: 1, mode: 'element' }, 'second'), 'y'); // [2, 3]
      return net;
    };
    for (const graphs of [true, false]) {
      const engine = await buildCuda(twoGathers(), graphs);
      const runner = CudaEngineRunner.of(engine);
      const good2 = ints([0, 1, 2, 3, -1, -4], [2, 3], 'int32');
      const bad2 = ints([0, 1, 2, 3, 4, -4], [2, 3], 'int32');
      for (let k = 0; k < 3; k++) {
        await expectDataError(engine, runner.run([rows, ints([2, 0], [2]), bad2]), outOfRange('second', 4, '[1, 1]', 1, 4));
        await expectDataError(engine, runner.run([rows, ints([-9, 0], [2]), bad2]), outOfRange('first', -9, '[0]', 0, 3));
        const y = await runDownload(runner, [rows, ints([2, 0], [2]), good2]);
        expect(Array.from(y.toFloat64())).toEqual([9, 10, 11, 4, 4, 1]);
      }
      expect(runner.graphState([[3, 4], [2], [2, 3]])).toBe(graphs ? 'graph' : 'eager');
      runner.dispose();
    }
  });

  it('reports one of many offending indices of one kernel', async () => {
    const net = new NetworkDefinition('many');
    const x = net.addInput('x', 'float32', [5, 64]);
    const i = net.addInput('i', 'int64', [4096]);
    net.markOutput(layer(net, 'gather', [x, i], { axis: 0, mode: 'default' }, 'lookup'), 'y');
    const engine = await buildCuda(net, true);
    const runner = CudaEngineRunner.of(engine);
    const data = Tensor.zeros([5, 64], 'float32');
    const bad = ints(Array.from({ length: 4096 }, (_, k) => (k % 3 === 0 ? 5 + k : k % 5)), [4096]);
    for (let k = 0; k < 3; k++) {
      const e = await rejection(runner.run([data, bad]));
      const m = /^fxrt cuda: run: step 'lookup': gather index (\d+) at position \[(\d+)\] of the indices is out of range for dim 0 of size 5 \(expected -5\.\.4\)$/.exec(e.message);
      expect(m, e.message).not.toBeNull();
      const [value, position] = [Number(m![1]), Number(m![2])];
      expect(position % 3).toBe(0);
      expect(value).toBe(5 + position);
    }
    const good = ints(Array.from({ length: 4096 }, (_, k) => k % 5), [4096]);
    expect((await runDownload(runner, [data, good])).shape).toEqual([4096, 64]);
    runner.dispose();
  });
});

/** A model whose output feeds its input: y = relu(x W^T + b), x [4, 8]. */
async function squareModule(): Promise<{ module: EngineModule; x: Tensor }> {
  const x = Tensor.randn([4, 8], { seed: 21 });
  const lowered = await compile(new nn.Sequential(new nn.Linear(8, 8), new nn.ReLU()).eval(), [x], { device: 'cuda', precision: 'fp32' });
  const [module, ...rest] = [...lowered.engines.values()];
  if (!module || rest.length > 0) throw new Error(`expected one engine for the whole model, got ${lowered.engines.size}`);
  return { module, x };
}

describe('EngineModule.run with device tensors', () => {
  it('takes DeviceTensors and returns them with { outputs: "device" }, matching the host path; outputs chain on the GPU', async () => {
    const { module, x } = await squareModule();
    const [hostY] = await module.run([x]);
    const [hostZ] = await module.run([hostY!]);
    // the first device run makes the module's device execution context; what earlier tests left
    // to the garbage collector is freed before counting
    (await module.run([x], { outputs: 'device' })).forEach((t) => t.dispose());
    await settle();
    const buffers = cudaMemoryInUse().deviceBuffers;

    const dx = DeviceTensor.upload(x);
    const [dy] = await module.run([dx], { outputs: 'device' });
    expect(dy).toBeInstanceOf(DeviceTensor);
    expect(dy!.shape).toEqual([4, 8]);
    expect(dy!.dtype).toBe('float32');
    expectSameBytes(await dy!.download(), hostY!, 'device in, device out');
    const [dz] = await module.run([dy!], { outputs: 'device' });
    expectSameBytes(await dz!.download(), hostZ!, 'device output fed back in');

    const [fromDevice] = await module.run([dx]);
    expect(fromDevice).toBeInstanceOf(Tensor);
    expectSameBytes(fromDevice!, hostY!, 'device in, host out');
    const [toDevice] = await module.run([x], { outputs: 'device' });
    expectSameBytes(await toDevice!.download(), hostY!, 'host in, device out');

    for (const t of [dx, dy!, dz!, toDevice!]) t.dispose();
    expect(cudaMemoryInUse().deviceBuffers).toBe(buffers);
  });

  it('refuses device tensors of the wrong dtype or shape, disposed ones, and device tensors for a reference engine', async () => {
    const { module, x } = await squareModule();
    const name = module.inputNames[0]!;
    const half = DeviceTensor.upload(x.castTo('float16'));
    await expect(module.run([half], { outputs: 'device' })).rejects.toThrow(new EngineInputError(`engine '${module.engine.plan.name}': input 0 ('${name}') must be float32, got float16`));
    const wide = DeviceTensor.upload(Tensor.randn([4, 9], { seed: 1 }));
    await expect(module.run([wide])).rejects.toBeInstanceOf(EngineInputError);
    const gone = DeviceTensor.upload(x);
    gone.dispose();
    await expect(module.run([gone])).rejects.toThrow(new EngineInputError(`EngineModule '${module.name}': input 0 ('${name}') is a DeviceTensor that was disposed`));

    const net = new NetworkDefinition('ref');
    const input = net.addInput('x', 'float32', [4, 8]);
    net.markOutput(layer(net, 'unary', [input], { op: 'neg' }, 'neg'), 'y');
    const reference = new EngineModule(await new Builder().build(net, { backend: 'reference' }), 'part_ref');
    const dx = DeviceTensor.upload(x);
    const run = reference.run([dx]);
    await expect(run).rejects.toBeInstanceOf(DeviceError);
    await expect(run).rejects.toThrow(/^EngineModule 'part_ref': input 0 \('x'\) is a DeviceTensor, but the engine runs on the 'reference' backend, not on CUDA/);
    // still usable with host tensors, and the module on CUDA after its refusals
    const [y] = await reference.run([x]);
    expect(Array.from(y!.toFloat64())).toEqual(Array.from(x.toFloat64(), (v) => -v));
    const [ok] = await module.run([dx]);
    expect(ok!.shape).toEqual([4, 8]);
    for (const t of [half, wide, dx]) t.dispose();
  });
});

describe('CudaEngineRunner.run into bound outputs', () => {
  it('writes into the tensors given, run after run, with the bytes of a fresh output; no allocation per call', async () => {
    const { module, x } = await squareModule();
    const runner = CudaEngineRunner.of(module.engine);
    const dx = DeviceTensor.upload(x);
    const [fresh] = await runner.run([dx]);
    const want = await fresh!.download();
    const bound = DeviceTensor.empty([4, 8], 'float32');
    let buffers = -1;
    for (let k = 0; k < 6; k++) {
      // copying, then (from run 2, same tensors) the program bound to them: eager, captured,
      // replayed; the same tensor comes back holding the output
      const [y, ...rest] = await runner.run([dx], { outputs: [bound] });
      expect(rest).toEqual([]);
      expect(y).toBe(bound);
      expectSameBytes(await bound.download(), want, `run ${k} into the bound output`);
      if (k === 1) buffers = cudaMemoryInUse().deviceBuffers;
    }
    expect(cudaMemoryInUse().deviceBuffers).toBe(buffers);
    // the output bound as the next run's input: stream order keeps it correct
    const [hostZ] = await module.run([want]);
    const z = DeviceTensor.empty([4, 8], 'float32');
    await runner.run([bound], { outputs: [z] });
    expectSameBytes(await z.download(), hostZ!, 'bound output fed back in');
    for (const t of [dx, fresh!, bound, z]) t.dispose();
    runner.dispose();
  });

  it('refuses outputs of the wrong count, dtype or shape, and disposed ones, naming the output', async () => {
    const { module, x } = await squareModule();
    const runner = CudaEngineRunner.of(module.engine);
    const plan = module.engine.plan;
    const out = plan.outputs[0]!.name;
    const prefix = `engine '${plan.name}': runDevice`;
    const half = DeviceTensor.empty([4, 8], 'float16');
    const wide = DeviceTensor.empty([4, 9], 'float32');
    const gone = DeviceTensor.empty([4, 8], 'float32');
    gone.dispose();
    await expect(runner.run([x], { outputs: [] })).rejects.toThrow(`${prefix}: expected 1 output tensor(s), got 0`);
    await expect(runner.run([x], { outputs: [half] })).rejects.toThrow(`${prefix}: output 0 ('${out}') is float32[4, 8], the tensor given is float16[4, 8]`);
    await expect(runner.run([x], { outputs: [wide] })).rejects.toThrow(`${prefix}: output 0 ('${out}') is float32[4, 8], the tensor given is float32[4, 9]`);
    await expect(runner.run([x], { outputs: [gone] })).rejects.toThrow(`${prefix}: output 0 ('${out}'): the tensor given was disposed`);
    // the refused calls left the runner usable
    const [y] = await runner.run([x]);
    expect(y!.shape).toEqual([4, 8]);
    for (const t of [half, wide, y!]) t.dispose();
    runner.dispose();
  });
});

/** Builds squareModule with FXRT_CUDA_BIND_IO set to `value` (undefined: unset, the default), read when the backend loads the plan (inside compile). */
async function squareModuleWithBinding(value: string | undefined): Promise<Awaited<ReturnType<typeof squareModule>>> {
  const saved = process.env.FXRT_CUDA_BIND_IO;
  if (value === undefined) delete process.env.FXRT_CUDA_BIND_IO;
  else process.env.FXRT_CUDA_BIND_IO = value;
  try {
    return await squareModule();
  } finally {
    if (saved === undefined) delete process.env.FXRT_CUDA_BIND_IO;
    else process.env.FXRT_CUDA_BIND_IO = saved;
  }
}

describe('device I/O read and written in place (bound programs, on by default)', () => {
  it('FXRT_CUDA_BIND_IO=0 copies every run, with the same results', async () => {
    const { module, x } = await squareModuleWithBinding('0');
    const runner = CudaEngineRunner.of(module.engine);
    const [want] = await module.run([x]);
    const dx = DeviceTensor.upload(x);
    const y = DeviceTensor.empty([4, 8], 'float32');
    for (let k = 0; k < 4; k++) {
      await runner.run([dx], { outputs: [y] });
      expectSameBytes(await y.download(), want!, `copying run ${k}`);
    }
    expect(runner.boundSlots([[4, 8]])).toEqual({ inputs: [], outputs: [] });
    expect(runner.graphState([[4, 8]])).toBe('graph');
    for (const t of [dx, y]) t.dispose();
    runner.dispose();
  });

  it('binds the tensors that fill the same slots two runs in a row; other tensors, alternation and aliasing stay correct', async () => {
    const built = await squareModuleWithBinding(undefined);
    const { module, x } = built;
    const runner = CudaEngineRunner.of(module.engine);
    const x2 = Tensor.randn([4, 8], { seed: 22 });
    const [want1] = await module.run([x]);
    const [want2] = await module.run([x2]);
    const [wantChained] = await module.run([want1!]);
    const dx = DeviceTensor.upload(x);
    const dx2 = DeviceTensor.upload(x2);
    const y = DeviceTensor.empty([4, 8], 'float32');
    const shape = [[4, 8]];
    expect(runner.boundSlots(shape)).toEqual({ inputs: [], outputs: [] });
    // runs 1..5 on dx → y: from run 2 a program bound to both (eager, captured, replayed)
    for (let k = 0; k < 5; k++) {
      await runner.run([dx], { outputs: [y] });
      expectSameBytes(await y.download(), want1!, `run ${k} on the same tensors`);
    }
    expect(runner.boundSlots(shape)).toEqual({ inputs: [0], outputs: [0] });
    expect(runner.graphState(shape)).toBe('graph');  // the bound program, captured and replayed
    // another input: copied again, never read through the old binding
    await runner.run([dx2], { outputs: [y] });
    expectSameBytes(await y.download(), want2!, 'another input tensor');
    expect(runner.boundSlots(shape)).toEqual({ inputs: [], outputs: [] });
    for (let k = 0; k < 4; k++) {
      const [t, want] = k % 2 === 0 ? [dx, want1!] : [dx2, want2!];
      await runner.run([t], { outputs: [y] });
      expectSameBytes(await y.download(), want, `alternating inputs, run ${k}`);
    }
    // the output fed back as the input (the same tensor both ways) is never bound
    const z = DeviceTensor.empty([4, 8], 'float32');
    await runner.run([dx], { outputs: [z] });
    for (let k = 0; k < 3; k++) {
      await runner.run([z], { outputs: [z] });
      expect(runner.boundSlots(shape)).toEqual({ inputs: [], outputs: [] });
    }
    await runner.run([dx], { outputs: [z] });
    await runner.run([z], { outputs: [z] });
    expectSameBytes(await z.download(), wantChained!, 'in place over its own input');
    // new outputs per call, each disposed before the next run: the disposed output's memory goes
    // back to the runner and holds the next run's output (no allocation per call), written in
    // place by the program bound to that address
    const addresses: number[] = [];
    const buffers: number[] = [];
    for (let k = 0; k < 4; k++) {
      const [fresh] = await runner.run([dx2]);
      addresses.push(fresh!.handle('test').address);
      buffers.push(cudaMemoryInUse().deviceBuffers);
      expectSameBytes(await fresh!.download(), want2!, `new output, run ${k}`);
      expect(runner.boundSlots(shape), `run ${k}`).toEqual(k === 0 ? { inputs: [], outputs: [] } : { inputs: [0], outputs: [0] });
      fresh!.dispose();
      expect(fresh!.disposed).toBe(true);
      expect(() => fresh!.handle('test')).toThrow(/was disposed/);
    }
    expect(new Set(addresses).size, `output addresses ${addresses.join(', ')}`).toBe(1);
    expect(new Set(buffers).size, `device buffers per run ${buffers.join(', ')}`).toBe(1);
    // new outputs that are kept (so they get new addresses): copied, never written through the binding
    const kept: DeviceTensor[] = [];
    for (let k = 0; k < 3; k++) {
      const [fresh] = await runner.run([dx2]);
      kept.push(fresh!);
      expectSameBytes(await fresh!.download(), want2!, `kept new output, run ${k}`);
    }
    expect(new Set(kept.map((t) => t.handle('test').address)).size).toBe(3);
    expect(runner.boundSlots(shape)).toEqual({ inputs: [0], outputs: [] });
    for (const t of kept) expectSameBytes(await t.download(), want2!, 'a kept output after later runs');
    for (const t of kept) t.dispose();
    // a disposed input's successor (maybe at the same address) is a new tensor: copied, then bound
    dx2.dispose();
    const dx3 = DeviceTensor.upload(x);
    for (let k = 0; k < 3; k++) {
      const [fresh] = await runner.run([dx3]);
      expectSameBytes(await fresh!.download(), want1!, `successor tensor, run ${k}`);
      fresh!.dispose();
    }
    // the runner still holds the last output's memory; it goes with the runner: one buffer more
    // than a runner that only wrote into bound outputs frees
    const freed = (r: CudaEngineRunner): number => {
      const held = cudaMemoryInUse().deviceBuffers;
      r.dispose();
      return held - cudaMemoryInUse().deviceBuffers;
    };
    const other = CudaEngineRunner.of(module.engine);
    await other.run([dx], { outputs: [y] });
    expect(freed(runner)).toBe(freed(other) + 1);
    for (const t of [dx, dx3, y, z]) t.dispose();
  });
});
