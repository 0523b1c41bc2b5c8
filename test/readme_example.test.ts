import { describe, expect, it } from 'vitest';
import { accTrace, compile, defaultPasses, F, nn, PassManager, symbolicTrace, Tensor } from '../src/index.js';

// The example of README.md "Using it", kept runnable.
class Block extends nn.Module {
  conv = new nn.Conv2d(3, 16, 3, { padding: 1, bias: false });
  bn = new nn.BatchNorm2d(16);
  override forward(x: Tensor) { return F.relu(this.bn.forward(this.conv.forward(x))); }
}

describe('README example', () => {
  it('compiles and runs, and the staged API folds the batch norm', async () => {
    const model = new Block().eval();
    const x = Tensor.randn([1, 3, 32, 32], { seed: 0 });
    const lowered = await compile(model, [x], { precision: 'fp16', validate: true });
    const [y] = await lowered.run([x]);
    expect(y!.shape).toEqual([1, 16, 32, 32]);
    expect(lowered.splitPreview.toString()).toContain('_run_on_acc_0');
    expect(lowered.validation).toBeDefined();

    const gm = symbolicTrace(model);
    const acc = accTrace(gm, [x]);
    const { gm: optimized } = new PassManager(defaultPasses()).run(acc);
    expect(optimized.graph.toString()).not.toContain('acc.batch_norm');
    expect(optimized.code).toContain('acc.conv2d');
  });
});
