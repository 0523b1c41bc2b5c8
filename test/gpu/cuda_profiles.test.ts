/**
 * Optimization profiles on the CUDA backend: an engine built for a range of input shapes
 * (min/opt/max) runs every shape in the range — each distinct shape gets its own prepared program
 * and CUDA graph, in memory sized once for the max — with the results the reference backend gives
 * for the same plan, and refuses shapes outside the range naming the input.
 */
import { describe, expect, it } from 'vitest';
import { CudaEngineRunner } from '../../src/backends/cuda/index.js';
import { compile } from '../../src/compile.js';
import { Engine } from '../../src/engine/engine.js';
import { modelZoo } from '../../src/models/index.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { relativeError } from './compare.js';

describe('optimization profiles (dynamic batch)', () => {
  it('one ResNet-18 (CIFAR stem) engine runs batches 1, 5 and 16 of a 1..16 profile like the reference backend', async () => {
    const model = modelZoo.resnet18Cifar.create().eval();
    const example = Tensor.randn([4, 3, 32, 32], { seed: 11 });
    const lowered = await compile(model, [example], {
      device: 'cuda', precision: 'fp16', inputSpecs: [{ min: [1, 3, 32, 32], opt: [4, 3, 32, 32], max: [16, 3, 32, 32] }],
    });
    expect(lowered.engines.size).toBe(1);
    const engine = [...lowered.engines.values()][0]!.engine;
    expect(engine.plan.inputs[0]!.profile).toEqual({ min: [1, 3, 32, 32], opt: [4, 3, 32, 32], max: [16, 3, 32, 32] });
    const reference = Engine.deserialize(engine.serialize(), { backend: 'reference' });
    const runner = CudaEngineRunner.of(engine);
    for (const batch of [1, 5, 16, 5]) {
      const x = Tensor.randn([batch, 3, 32, 32], { seed: 20 + batch });
      const [y] = await runner.run([x]);
      const got = await y!.download();
      y!.dispose();
      const [want] = await reference.createExecutionContext().execute([x]);
      expect(got.shape).toEqual([batch, 10]);
      const err = relativeError(got, want!);
      expect(err, `batch ${batch}: relative error ${err}`).toBeLessThan(4e-3);
      // The same context keeps one program (and graph) per shape. The second run at this batch gets
      // its output in the memory of the first one (disposed: back to the runner), so it moves to
      // the program bound to that address, which warms up eagerly once; the third replays.
      for (let k = 0; k < 2; k++) (await runner.run([x]))[0]!.dispose();
      expect(runner.boundSlots([[batch, 3, 32, 32]])).toEqual({ inputs: [], outputs: [0] });
      expect(runner.graphState([[batch, 3, 32, 32]])).toBe('graph');
    }
    await expect((async () => runner.run([Tensor.randn([17, 3, 32, 32], { seed: 1 })]))()).rejects.toThrow(
      /input 0 .*within the profile \[1, 3, 32, 32\]\.\.\[16, 3, 32, 32\], got .*\[17, 3, 32, 32\]/,
    );
    runner.dispose();
  });
});
