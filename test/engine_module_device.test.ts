/**
 * EngineModule.run's device options on any machine: the option checks, and the errors for an
 * engine that does not run on CUDA. (Device tensors in and out on a GPU: test/gpu/cuda_device_io.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { EngineInputError } from '../src/engine/execution_context.js';
import { NetworkDefinition } from '../src/engine/network_definition.js';
import { DeviceError } from '../src/lowering/device.js';
import { EngineModule } from '../src/lowering/engine_module.js';
import { Tensor } from '../src/tensor/tensor.js';
import { build, layer } from './engine_helpers.js';

/** y = -x on the reference backend, x float32 [2, 3]. */
async function negModule(): Promise<EngineModule> {
  const net = new NetworkDefinition('neg');
  const x = net.addInput('x', 'float32', [2, 3]);
  net.markOutput(layer(net, 'unary', [x], { op: 'neg' }, 'neg'), 'y');
  return new EngineModule(await build(net), 'part_neg');
}

const x = Tensor.fromNumbers([1, -2, 3, -4, 5, -6], [2, 3]);

/** run() as an untyped JavaScript caller makes it, with inputs or options TypeScript would refuse. */
function runUntyped(m: EngineModule, options: unknown, inputs: unknown = [x]): Promise<unknown> {
  const result: unknown = Reflect.apply(m.run, m, [inputs, options]);
  if (!(result instanceof Promise)) throw new Error('EngineModule.run did not return a Promise');
  return result;
}

describe('EngineModule.run options', () => {
  it("runs with no options, {} and { outputs: 'host' } alike, returning host tensors", async () => {
    const m = await negModule();
    const want = [-1, 2, -3, 4, -5, 6];
    for (const options of [undefined, {}, { outputs: 'host' as const }]) {
      const [y] = await m.run([x], options);
      expect(y).toBeInstanceOf(Tensor);
      expect(Array.from(y!.toFloat64())).toEqual(want);
    }
  });

  it('rejects options that are not an object, unknown keys and unknown placements with a TypeError naming the module', async () => {
    const m = await negModule();
    await expect(runUntyped(m, 'device')).rejects.toThrow(new TypeError("EngineModule 'part_neg': run options must be an object such as { outputs: 'device' }, got string"));
    await expect(runUntyped(m, null)).rejects.toThrow(/run options must be an object .*, got null$/);
    await expect(runUntyped(m, ['device'])).rejects.toThrow(/run options must be an object .*, got an array$/);
    await expect(runUntyped(m, { output: 'device' })).rejects.toThrow(new TypeError("EngineModule 'part_neg': unknown run option 'output' (expected outputs)"));
    await expect(runUntyped(m, { outputs: 'gpu' })).rejects.toThrow(new TypeError("EngineModule 'part_neg': run option 'outputs' must be 'host' or 'device', got 'gpu'"));
    await expect(runUntyped(m, { outputs: 1 })).rejects.toThrow(/'outputs' must be 'host' or 'device', got 1$/);
    // A rejected call leaves the module usable.
    const [y] = await m.run([x]);
    expect(Array.from(y!.toFloat64())).toEqual([-1, 2, -3, 4, -5, 6]);
  });

  it("refuses { outputs: 'device' } on a reference engine with a DeviceError saying where the engine runs", async () => {
    const m = await negModule();
    const run = m.run([x], { outputs: 'device' });
    await expect(run).rejects.toBeInstanceOf(DeviceError);
    await expect(run).rejects.toThrow(
      "EngineModule 'part_neg': run option outputs: 'device' was given, but the engine runs on the 'reference' backend, not on CUDA: " +
      "pass host tensors (await t.download()) and host outputs, or build the engine for device 'cuda'",
    );
  });

  it('refuses inputs that are not tensors with an EngineInputError naming the input', async () => {
    const m = await negModule();
    await expect(runUntyped(m, undefined, [null])).rejects.toThrow(new EngineInputError("EngineModule 'part_neg': input 0 ('x') must be a Tensor or a DeviceTensor, got null"));
    await expect(runUntyped(m, { outputs: 'device' }, [x, 3])).rejects.toThrow(new EngineInputError("EngineModule 'part_neg': input 1 must be a Tensor or a DeviceTensor, got number"));
    await expect(runUntyped(m, undefined, x)).rejects.toThrow(new EngineInputError("EngineModule 'part_neg': inputs must be an array of tensors, got object"));
  });

  it('checks the inputs before the placement: a dtype or shape mismatch is an EngineInputError naming the input', async () => {
    const m = await negModule();
    await expect(m.run([Tensor.zeros([2, 3], 'float16')], { outputs: 'device' })).rejects.toThrow(
      new EngineInputError("engine 'neg': input 0 ('x') must be float32, got float16"),
    );
    await expect(m.run([Tensor.zeros([3, 2])], { outputs: 'device' })).rejects.toBeInstanceOf(EngineInputError);
    await expect(m.run([], { outputs: 'host' })).rejects.toThrow(/expects 1 input\(s\) \('x'\), got 0/);
  });
});
