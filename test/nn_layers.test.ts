import { describe, expect, it } from 'vitest';
import { accTrace } from '../src/acc_ops/acc_tracer.js';
import { isBuiltinModule, symbolicTrace } from '../src/ir/tracer.js';
import { F } from '../src/nn/functional.js';
import { buildLayer, builtinModuleClasses, init, manualSeed, Module, nn, type ConfigurableModule } from '../src/nn/index.js';
import { Tensor } from '../src/tensor/tensor.js';

// ---- helpers ----

function tensorsOf(v: unknown): Tensor[] {
  if (v instanceof Tensor) return [v];
  if (Array.isArray(v)) return v.flatMap(tensorsOf);
  throw new TypeError(`expected tensors, got ${String(v)}`);
}

function sameBits(a: Tensor, b: Tensor): boolean {
  return a.dtype === b.dtype && a.shape.join() === b.shape.join() && Buffer.from(a.bytes()).equals(Buffer.from(b.bytes()));
}

function expectIdentical(actual: unknown, expected: unknown): void {
  const a = tensorsOf(actual);
  const e = tensorsOf(expected);
  expect(a.length).toBe(e.length);
  a.forEach((t, i) => expect(sameBits(t, e[i]!)).toBe(true));
}

const randn = (shape: number[], seed = 1): Tensor => Tensor.randn(shape, { seed });

/** One input: the layer is called as `layer.forward(x)` unless `call` says otherwise. */
class Harness1 extends Module {
  constructor(readonly layer: Module, readonly call: (m: Module, x: Tensor) => unknown) { super(); }
  override forward(x: Tensor): unknown { return this.call(this.layer, x); }
}
/** Two inputs (attention with a separate key/value or a mask). */
class Harness2 extends Module {
  constructor(readonly layer: Module, readonly call: (m: Module, x: Tensor, y: Tensor) => unknown) { super(); }
  override forward(x: Tensor, y: Tensor): unknown { return this.call(this.layer, x, y); }
}

interface Case {
  readonly make: () => ConfigurableModule;
  readonly inputs: () => Tensor[];
  readonly shapes: number[][];
  readonly call?: (m: Module, ...xs: Tensor[]) => unknown;
}

const mha = (m: Module): nn.MultiheadAttention => {
  if (!(m instanceof nn.MultiheadAttention)) throw new TypeError('not a MultiheadAttention');
  return m;
};

const CASES: Record<string, Case> = {
  'Linear': { make: () => new nn.Linear(8, 4), inputs: () => [randn([2, 3, 8])], shapes: [[2, 3, 4]] },
  'Linear no bias': { make: () => new nn.Linear(8, 4, { bias: false }), inputs: () => [randn([2, 8])], shapes: [[2, 4]] },
  'Identity': { make: () => new nn.Identity(), inputs: () => [randn([2, 3])], shapes: [[2, 3]] },
  'Conv1d': { make: () => new nn.Conv1d(4, 6, 3, { stride: 2 }), inputs: () => [randn([2, 4, 9])], shapes: [[2, 6, 4]] },
  'Conv2d': { make: () => new nn.Conv2d(3, 8, 3, { stride: 2, padding: 1 }), inputs: () => [randn([1, 3, 8, 8])], shapes: [[1, 8, 4, 4]] },
  'Conv2d same even kernel': { make: () => new nn.Conv2d(4, 8, 2, { padding: 'same' }), inputs: () => [randn([1, 4, 5, 6])], shapes: [[1, 8, 5, 6]] },
  'Conv2d same reflect': {
    make: () => new nn.Conv2d(4, 8, 4, { padding: 'same', paddingMode: 'reflect', bias: false }), inputs: () => [randn([1, 4, 7, 7])], shapes: [[1, 8, 7, 7]],
  },
  'Conv2d circular depthwise': {
    make: () => new nn.Conv2d(4, 4, 3, { padding: 1, groups: 4, paddingMode: 'circular' }), inputs: () => [randn([2, 4, 5, 5])], shapes: [[2, 4, 5, 5]],
  },
  'Conv2d replicate dilated': {
    make: () => new nn.Conv2d(2, 3, 3, { padding: [2, 1], dilation: [2, 1], paddingMode: 'replicate' }), inputs: () => [randn([1, 2, 6, 6])], shapes: [[1, 3, 6, 6]],
  },
  'Conv2d valid': { make: () => new nn.Conv2d(2, 3, 3, { padding: 'valid' }), inputs: () => [randn([1, 2, 6, 6])], shapes: [[1, 3, 4, 4]] },
  'Conv3d': { make: () => new nn.Conv3d(2, 4, 3, { padding: [1, 0, 1] }), inputs: () => [randn([1, 2, 4, 5, 6])], shapes: [[1, 4, 4, 3, 6]] },
  'ConvTranspose1d': { make: () => new nn.ConvTranspose1d(4, 2, 3, { stride: 2 }), inputs: () => [randn([1, 4, 5])], shapes: [[1, 2, 11]] },
  'ConvTranspose2d': {
    make: () => new nn.ConvTranspose2d(4, 6, 4, { stride: 2, padding: 1, bias: false }), inputs: () => [randn([1, 4, 5, 5])], shapes: [[1, 6, 10, 10]],
  },
  'ConvTranspose2d grouped output padding': {
    make: () => new nn.ConvTranspose2d(4, 6, 3, { stride: 2, padding: 1, outputPadding: 1, groups: 2 }), inputs: () => [randn([1, 4, 5, 5])], shapes: [[1, 6, 10, 10]],
  },
  'ConvTranspose3d': { make: () => new nn.ConvTranspose3d(2, 2, 2, { stride: 2 }), inputs: () => [randn([1, 2, 2, 2, 2])], shapes: [[1, 2, 4, 4, 4]] },
  'BatchNorm1d': { make: () => new nn.BatchNorm1d(6), inputs: () => [randn([4, 6, 5])], shapes: [[4, 6, 5]] },
  'BatchNorm2d': { make: () => new nn.BatchNorm2d(3), inputs: () => [randn([2, 3, 4, 4])], shapes: [[2, 3, 4, 4]] },
  'BatchNorm3d': { make: () => new nn.BatchNorm3d(2, { affine: false }), inputs: () => [randn([2, 2, 2, 3, 3])], shapes: [[2, 2, 2, 3, 3]] },
  'LayerNorm': { make: () => new nn.LayerNorm([4, 5], { eps: 1e-6 }), inputs: () => [randn([2, 3, 4, 5])], shapes: [[2, 3, 4, 5]] },
  'LayerNorm no bias': { make: () => new nn.LayerNorm(5, { bias: false }), inputs: () => [randn([2, 5])], shapes: [[2, 5]] },
  'GroupNorm': { make: () => new nn.GroupNorm(2, 6), inputs: () => [randn([2, 6, 3, 3])], shapes: [[2, 6, 3, 3]] },
  'InstanceNorm1d': { make: () => new nn.InstanceNorm1d(3), inputs: () => [randn([2, 3, 8])], shapes: [[2, 3, 8]] },
  'InstanceNorm2d': { make: () => new nn.InstanceNorm2d(3, { affine: true }), inputs: () => [randn([2, 3, 4, 4])], shapes: [[2, 3, 4, 4]] },
  'InstanceNorm2d running stats': {
    make: () => new nn.InstanceNorm2d(3, { trackRunningStats: true }), inputs: () => [randn([2, 3, 4, 4])], shapes: [[2, 3, 4, 4]],
  },
  'InstanceNorm3d': { make: () => new nn.InstanceNorm3d(2), inputs: () => [randn([1, 2, 2, 3, 3])], shapes: [[1, 2, 2, 3, 3]] },
  'Embedding': {
    make: () => new nn.Embedding(10, 4, { paddingIdx: 0 }), inputs: () => [Tensor.fromArray([[1, 0, 9], [3, 3, 2]], 'int64')], shapes: [[2, 3, 4]],
  },
  'Dropout': { make: () => new nn.Dropout({ p: 0.3 }), inputs: () => [randn([2, 3])], shapes: [[2, 3]] },
  'ReLU': { make: () => new nn.ReLU(), inputs: () => [randn([2, 3, 4])], shapes: [[2, 3, 4]] },
  'ReLU6': { make: () => new nn.ReLU6(), inputs: () => [randn([2, 3, 4], 7).mul(5)], shapes: [[2, 3, 4]] },
  'LeakyReLU': { make: () => new nn.LeakyReLU({ negativeSlope: 0.2 }), inputs: () => [randn([2, 3, 4])], shapes: [[2, 3, 4]] },
  'GELU': { make: () => new nn.GELU(), inputs: () => [randn([2, 3, 4])], shapes: [[2, 3, 4]] },
  'GELU tanh': { make: () => new nn.GELU({ approximate: 'tanh' }), inputs: () => [randn([2, 3, 4])], shapes: [[2, 3, 4]] },
  'SiLU': { make: () => new nn.SiLU(), inputs: () => [randn([2, 3, 4])], shapes: [[2, 3, 4]] },
  'Sigmoid': { make: () => new nn.Sigmoid(), inputs: () => [randn([2, 3, 4])], shapes: [[2, 3, 4]] },
  'Tanh': { make: () => new nn.Tanh(), inputs: () => [randn([2, 3, 4])], shapes: [[2, 3, 4]] },
  'Hardswish': { make: () => new nn.Hardswish(), inputs: () => [randn([2, 3, 4], 3).mul(4)], shapes: [[2, 3, 4]] },
  'Hardsigmoid': { make: () => new nn.Hardsigmoid(), inputs: () => [randn([2, 3, 4], 3).mul(4)], shapes: [[2, 3, 4]] },
  'Hardtanh': { make: () => new nn.Hardtanh({ minVal: -0.5, maxVal: 2 }), inputs: () => [randn([2, 3, 4])], shapes: [[2, 3, 4]] },
  'ELU': { make: () => new nn.ELU({ alpha: 0.5 }), inputs: () => [randn([2, 3, 4])], shapes: [[2, 3, 4]] },
  'SELU': { make: () => new nn.SELU(), inputs: () => [randn([2, 3, 4])], shapes: [[2, 3, 4]] },
  'Mish': { make: () => new nn.Mish(), inputs: () => [randn([2, 3, 4])], shapes: [[2, 3, 4]] },
  'Softplus': { make: () => new nn.Softplus({ beta: 2, threshold: 10 }), inputs: () => [randn([2, 3, 4])], shapes: [[2, 3, 4]] },
  'Softsign': { make: () => new nn.Softsign(), inputs: () => [randn([2, 3, 4])], shapes: [[2, 3, 4]] },
  'PReLU': { make: () => new nn.PReLU({ numParameters: 3 }), inputs: () => [randn([2, 3, 4])], shapes: [[2, 3, 4]] },
  'Softmax': { make: () => new nn.Softmax(1), inputs: () => [randn([2, 3, 4])], shapes: [[2, 3, 4]] },
  'LogSoftmax': { make: () => new nn.LogSoftmax(-1), inputs: () => [randn([2, 3, 4])], shapes: [[2, 3, 4]] },
  'MaxPool1d': { make: () => new nn.MaxPool1d(2), inputs: () => [randn([1, 2, 8])], shapes: [[1, 2, 4]] },
  'MaxPool2d': { make: () => new nn.MaxPool2d(3, { stride: 2, padding: 1 }), inputs: () => [randn([1, 2, 8, 8])], shapes: [[1, 2, 4, 4]] },
  'MaxPool2d ceil': { make: () => new nn.MaxPool2d(2, { ceilMode: true }), inputs: () => [randn([1, 1, 5, 5])], shapes: [[1, 1, 3, 3]] },
  'MaxPool3d': { make: () => new nn.MaxPool3d([2, 2, 1]), inputs: () => [randn([1, 2, 4, 4, 3])], shapes: [[1, 2, 2, 2, 3]] },
  'AvgPool1d': { make: () => new nn.AvgPool1d(3, { stride: 2, padding: 1 }), inputs: () => [randn([1, 2, 8])], shapes: [[1, 2, 4]] },
  'AvgPool2d': { make: () => new nn.AvgPool2d(2), inputs: () => [randn([1, 2, 6, 6])], shapes: [[1, 2, 3, 3]] },
  'AvgPool2d exclude pad': {
    make: () => new nn.AvgPool2d(3, { stride: 1, padding: 1, countIncludePad: false }), inputs: () => [randn([1, 2, 4, 4])], shapes: [[1, 2, 4, 4]],
  },
  'AvgPool3d': { make: () => new nn.AvgPool3d(2, { divisorOverride: 3 }), inputs: () => [randn([1, 1, 4, 4, 4])], shapes: [[1, 1, 2, 2, 2]] },
  'AdaptiveAvgPool1d': { make: () => new nn.AdaptiveAvgPool1d(3), inputs: () => [randn([1, 2, 7])], shapes: [[1, 2, 3]] },
  'AdaptiveAvgPool2d': { make: () => new nn.AdaptiveAvgPool2d([1, 1]), inputs: () => [randn([2, 4, 5, 5])], shapes: [[2, 4, 1, 1]] },
  'AdaptiveAvgPool2d keep dim': { make: () => new nn.AdaptiveAvgPool2d([2, null]), inputs: () => [randn([1, 2, 5, 3])], shapes: [[1, 2, 2, 3]] },
  'AdaptiveAvgPool3d': { make: () => new nn.AdaptiveAvgPool3d(1), inputs: () => [randn([1, 2, 3, 3, 3])], shapes: [[1, 2, 1, 1, 1]] },
  'AdaptiveMaxPool2d': { make: () => new nn.AdaptiveMaxPool2d(2), inputs: () => [randn([1, 2, 5, 5])], shapes: [[1, 2, 2, 2]] },
  'Flatten': { make: () => new nn.Flatten(), inputs: () => [randn([2, 3, 4])], shapes: [[2, 12]] },
  'Flatten dims': { make: () => new nn.Flatten({ startDim: 0, endDim: 1 }), inputs: () => [randn([2, 3, 4])], shapes: [[6, 4]] },
  'Upsample': { make: () => new nn.Upsample({ scaleFactor: 2 }), inputs: () => [randn([1, 2, 3, 3])], shapes: [[1, 2, 6, 6]] },
  'Upsample bilinear': {
    make: () => new nn.Upsample({ size: [5, 7], mode: 'bilinear', alignCorners: false }), inputs: () => [randn([1, 2, 3, 3])], shapes: [[1, 2, 5, 7]],
  },
  'UpsamplingNearest2d': { make: () => new nn.UpsamplingNearest2d({ scaleFactor: 2 }), inputs: () => [randn([1, 1, 2, 2])], shapes: [[1, 1, 4, 4]] },
  'UpsamplingBilinear2d': { make: () => new nn.UpsamplingBilinear2d({ size: [4, 4] }), inputs: () => [randn([1, 1, 2, 3])], shapes: [[1, 1, 4, 4]] },
  'MultiheadAttention self': {
    make: () => new nn.MultiheadAttention(8, 2), inputs: () => [randn([5, 2, 8])], shapes: [[5, 2, 8]],
    call: (m, x) => mha(m).forward(x!, x!, x!),
  },
  'MultiheadAttention cross batch-first': {
    make: () => new nn.MultiheadAttention(8, 4, { batchFirst: true, bias: false }), inputs: () => [randn([2, 3, 8]), randn([2, 5, 8], 2)], shapes: [[2, 3, 8]],
    call: (m, q, kv) => mha(m).forward(q!, kv!, kv!),
  },
  'MultiheadAttention padding mask': {
    make: () => new nn.MultiheadAttention(8, 2, { batchFirst: true }),
    inputs: () => [randn([2, 4, 8]), Tensor.fromArray([[false, false, true, true], [false, false, false, false]])], shapes: [[2, 4, 8]],
    call: (m, x, mask) => mha(m).forward(x!, x!, x!, { keyPaddingMask: mask! }),
  },
  'MultiheadAttention weights': {
    make: () => new nn.MultiheadAttention(8, 2), inputs: () => [randn([4, 2, 8]), Tensor.fromArray([[false, true, false, false]])],
    shapes: [[4, 2, 8], [2, 4, 4]],
    call: (m, x, mask) => mha(m).forward(x!, x!, x!, { needWeights: true, attnMask: F.reshape(mask!, [1, 4]).expand(4, 4) }),
  },
};

const CONTAINERS = new Set(['Sequential', 'ModuleList']);

function harness(c: Case, layer: Module): Module {
  const call = c.call ?? ((m: Module, x: Tensor) => m.forward(x));
  if (c.inputs().length === 1) return new Harness1(layer, (m, x) => call(m, x));
  return new Harness2(layer, (m, x, y) => call(m, x, y));
}

// ---- tests ----

describe('built-in layers: shapes, and eager = symbolicTrace = accTrace bit for bit', () => {
  for (const [name, c] of Object.entries(CASES)) {
    it(name, () => {
      manualSeed(0);
      const layer = c.make();
      const model = harness(c, layer).eval();
      const inputs = c.inputs();
      const eager = model.forward(...inputs);
      expect(tensorsOf(eager).map((t) => t.shape)).toEqual(c.shapes);
      const gm = symbolicTrace(model);
      gm.lint();
      const calls = gm.graph.nodeList().filter((n) => n.op === 'call_module');
      expect(calls.map((n) => n.target)).toEqual(['layer']);
      expectIdentical(gm.forward(...inputs), eager);
      const acc = accTrace(gm, inputs);
      for (const n of acc.graph.nodeList()) {
        expect(['placeholder', 'get_attr', 'call_function', 'output']).toContain(n.op);
        if (n.op === 'call_function') expect(n.target.name.startsWith('acc.')).toBe(true);
      }
      expectIdentical(acc.forward(...inputs), eager);
    });
  }

  it('every registered layer class has a case', () => {
    const covered = new Set(Object.values(CASES).map((c) => c.make().constructor.name));
    const missing = [...builtinModuleClasses().keys()].filter((k) => !covered.has(k) && !CONTAINERS.has(k));
    expect(missing).toEqual([]);
  });
});

describe('config() rebuilds an equal layer', () => {
  for (const [name, c] of Object.entries(CASES)) {
    it(name, () => {
      const layer = c.make().eval();
      const config = layer.config();
      expect(JSON.parse(JSON.stringify(config))).toEqual(config);
      const copy = buildLayer(layer.constructor.name, config);
      expect(copy.constructor).toBe(layer.constructor);
      expect(copy.config()).toEqual(config);
      expect(copy.toString()).toBe(layer.toString());
      copy.loadStateDict(layer.stateDict());
      copy.eval();
      const inputs = c.inputs();
      expectIdentical((c.call ?? ((m: Module, x: Tensor) => m.forward(x)))(copy, ...inputs), (c.call ?? ((m: Module, x: Tensor) => m.forward(x)))(layer, ...inputs));
    });
  }

  it('the registry holds every layer class by name; containers are not call_module leaves', () => {
    const classes = builtinModuleClasses();
    expect(classes.get('Conv2d')).toBe(nn.Conv2d);
    expect(classes.get('MultiheadAttention')).toBe(nn.MultiheadAttention);
    expect(classes.get('Sequential')).toBe(nn.Sequential);
    expect(isBuiltinModule(new nn.Linear(2, 2))).toBe(true);
    expect(isBuiltinModule(new nn.Sequential())).toBe(false);
    expect(isBuiltinModule(new nn.ModuleList())).toBe(false);
    expect(() => buildLayer('Conv9d', { args: [], options: {} })).toThrow(/unknown built-in layer class 'Conv9d'/);
  });

  it('Sequential and ModuleList rebuild from their children', () => {
    const seq = new nn.Sequential(new nn.Linear(4, 3), new nn.ReLU());
    const copy = buildLayer('Sequential', seq.config());
    expect(copy.toString()).toBe(seq.toString());
    const list = new nn.ModuleList([new nn.ReLU(), new nn.Tanh()]);
    expect(buildLayer('ModuleList', list.config()).toString()).toBe(list.toString());
  });
});

describe('printing matches PyTorch', () => {
  const cases: [Module, string][] = [
    [new nn.Linear(512, 2048), 'Linear(in_features=512, out_features=2048, bias=True)'],
    [new nn.Conv2d(3, 64, 7, { stride: 2, padding: 3, bias: false }), 'Conv2d(3, 64, kernel_size=(7, 7), stride=(2, 2), padding=(3, 3), bias=False)'],
    [new nn.Conv1d(16, 33, 3, { stride: 2 }), 'Conv1d(16, 33, kernel_size=(3,), stride=(2,))'],
    [new nn.Conv2d(4, 8, 3, { padding: 'same', dilation: 2, groups: 2, paddingMode: 'reflect' }),
      'Conv2d(4, 8, kernel_size=(3, 3), stride=(1, 1), padding=same, dilation=(2, 2), groups=2, padding_mode=reflect)'],
    [new nn.ConvTranspose2d(512, 256, 4, { stride: 2, padding: 1, bias: false }),
      'ConvTranspose2d(512, 256, kernel_size=(4, 4), stride=(2, 2), padding=(1, 1), bias=False)'],
    [new nn.ConvTranspose2d(4, 4, 3, { stride: 2, outputPadding: 1 }), 'ConvTranspose2d(4, 4, kernel_size=(3, 3), stride=(2, 2), output_padding=(1, 1))'],
    [new nn.BatchNorm2d(64), 'BatchNorm2d(64, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)'],
    [new nn.BatchNorm1d(10, { momentum: null, affine: false }), 'BatchNorm1d(10, eps=1e-05, momentum=None, affine=False, track_running_stats=True)'],
    [new nn.LayerNorm(768, { eps: 1e-12 }), 'LayerNorm((768,), eps=1e-12, elementwise_affine=True)'],
    [new nn.GroupNorm(32, 64), 'GroupNorm(32, 64, eps=1e-05, affine=True)'],
    [new nn.InstanceNorm2d(64), 'InstanceNorm2d(64, eps=1e-05, momentum=0.1, affine=False, track_running_stats=False)'],
    [new nn.Embedding(10, 3, { paddingIdx: -1 }), 'Embedding(10, 3, padding_idx=9)'],
    [new nn.Dropout({ p: 0.1 }), 'Dropout(p=0.1, inplace=False)'],
    [new nn.ReLU(), 'ReLU()'],
    [new nn.ReLU6({ inplace: true }), 'ReLU6(inplace=True)'],
    [new nn.LeakyReLU(), 'LeakyReLU(negative_slope=0.01)'],
    [new nn.GELU(), "GELU(approximate='none')"],
    [new nn.Hardswish(), 'Hardswish()'],
    [new nn.Softmax(1), 'Softmax(dim=1)'],
    [new nn.MaxPool2d(3, { stride: 2, padding: 1 }), 'MaxPool2d(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=False)'],
    [new nn.MaxPool2d([2, 3]), 'MaxPool2d(kernel_size=(2, 3), stride=(2, 3), padding=0, dilation=1, ceil_mode=False)'],
    [new nn.AvgPool2d(2), 'AvgPool2d(kernel_size=2, stride=2, padding=0)'],
    [new nn.AdaptiveAvgPool2d([1, 1]), 'AdaptiveAvgPool2d(output_size=(1, 1))'],
    [new nn.AdaptiveAvgPool2d([null, 7]), 'AdaptiveAvgPool2d(output_size=(None, 7))'],
    [new nn.Flatten(), 'Flatten(start_dim=1, end_dim=-1)'],
    [new nn.Upsample({ scaleFactor: 2 }), "Upsample(scale_factor=2.0, mode='nearest')"],
    [new nn.Upsample({ size: [4, 4], mode: 'bilinear' }), "Upsample(size=(4, 4), mode='bilinear')"],
    [new nn.Identity(), 'Identity()'],
    [new nn.Sequential(new nn.Linear(4, 2), new nn.ReLU()), 'Sequential(\n  (0): Linear(in_features=4, out_features=2, bias=True)\n  (1): ReLU()\n)'],
    [new nn.MultiheadAttention(16, 4), 'MultiheadAttention(\n  (out_proj): Linear(in_features=16, out_features=16, bias=True)\n)'],
  ];
  for (const [m, text] of cases) it(text.split('\n')[0]!, () => expect(m.toString()).toBe(text));

  it('nested containers indent their children', () => {
    const m = new nn.Sequential(new nn.Sequential(new nn.Conv2d(1, 2, 1)), new nn.ModuleList([new nn.Tanh()]));
    expect(m.toString()).toBe([
      'Sequential(',
      '  (0): Sequential(',
      '    (0): Conv2d(1, 2, kernel_size=(1, 1), stride=(1, 1))',
      '  )',
      '  (1): ModuleList(',
      '    (0): Tanh()',
      '  )',
      ')',
    ].join('\n'));
  });
});

describe('train and eval behaviour', () => {
  it('Dropout zeroes and rescales in train mode, is the identity in eval mode', () => {
    manualSeed(5);
    const drop = new nn.Dropout({ p: 0.5 });
    const x = Tensor.ones([4000]);
    const y = drop.forward(x).toFloat32();
    const zeros = y.filter((v) => v === 0).length;
    expect(zeros).toBeGreaterThan(1800);
    expect(zeros).toBeLessThan(2200);
    expect(y.every((v) => v === 0 || v === 2)).toBe(true);
    expect(sameBits(drop.eval().forward(x), x)).toBe(true);
  });

  it('manualSeed makes dropout masks reproducible', () => {
    const drop = new nn.Dropout({ p: 0.5 });
    const x = Tensor.ones([64]);
    manualSeed(9);
    const a = drop.forward(x);
    manualSeed(9);
    expect(sameBits(drop.forward(x), a)).toBe(true);
  });

  it('train() and eval() reach every child', () => {
    const m = new nn.Sequential(new nn.Dropout(), new nn.Sequential(new nn.BatchNorm1d(2)));
    m.eval();
    expect(m.modules().every((c) => !c.training)).toBe(true);
    m.train();
    expect(m.modules().every((c) => c.training)).toBe(true);
  });

  it('BatchNorm2d in train mode normalizes with batch statistics and updates the running statistics', () => {
    const bn = new nn.BatchNorm2d(3);
    const x = F.add(F.mul(randn([4, 3, 5, 5], 3), 2), 1);
    const y = bn.forward(x);
    const stats = channelStats(x);
    const ys = channelStats(y);
    for (let c = 0; c < 3; c++) {
      expect(ys.mean[c]!).toBeCloseTo(0, 5);
      expect(ys.biasedVar[c]!).toBeCloseTo(1, 3);
      expect(bn.running_mean!.toFloat32()[c]!).toBeCloseTo(0.1 * stats.mean[c]!, 5);
      expect(bn.running_var!.toFloat32()[c]!).toBeCloseTo(0.9 + 0.1 * stats.unbiasedVar[c]!, 5);
    }
    expect(bn.num_batches_tracked!.item()).toBe(1);
    const rm1 = bn.running_mean!.toFloat32().slice();
    bn.forward(x);
    for (let c = 0; c < 3; c++) expect(bn.running_mean!.toFloat32()[c]!).toBeCloseTo(0.9 * rm1[c]! + 0.1 * stats.mean[c]!, 5);
    expect(bn.num_batches_tracked!.item()).toBe(2);
  });

  it('BatchNorm with momentum null keeps the cumulative average', () => {
    const bn = new nn.BatchNorm1d(2, { momentum: null });
    const a = randn([8, 2], 1);
    const b = F.add(randn([8, 2], 2), 3);
    bn.forward(a);
    bn.forward(b);
    const ma = channelStats(a).mean;
    const mb = channelStats(b).mean;
    for (let c = 0; c < 2; c++) expect(bn.running_mean!.toFloat32()[c]!).toBeCloseTo((ma[c]! + mb[c]!) / 2, 5);
  });

  it('BatchNorm2d in eval mode uses the running statistics', () => {
    const bn = new nn.BatchNorm2d(2, { eps: 1e-3 });
    bn.running_mean!.setData(Float32Array.from([1, -2]));
    bn.running_var!.setData(Float32Array.from([4, 0.25]));
    bn.weight!.setData(Float32Array.from([2, 1]));
    bn.bias!.setData(Float32Array.from([0.5, 0]));
    bn.eval();
    const x = randn([1, 2, 2, 2]);
    const y = bn.forward(x).toFloat32();
    const xs = x.toFloat32();
    for (let i = 0; i < 8; i++) {
      const c = Math.floor(i / 4);
      const expected = c === 0 ? ((xs[i]! - 1) / Math.sqrt(4.001)) * 2 + 0.5 : (xs[i]! + 2) / Math.sqrt(0.251);
      expect(y[i]!).toBeCloseTo(expected, 5);
    }
    const before = bn.running_mean!.toFloat32().slice();
    bn.forward(x);
    expect([...bn.running_mean!.toFloat32()]).toEqual([...before]);
  });

  it('BatchNorm without running statistics always uses batch statistics', () => {
    const bn = new nn.BatchNorm1d(3, { trackRunningStats: false }).eval();
    expect(bn.running_mean).toBeNull();
    expect([...bn.stateDict().keys()]).toEqual(['weight', 'bias']);
    const y = bn.forward(F.add(randn([16, 3]), 5));
    for (const m of channelStats(y).mean) expect(m).toBeCloseTo(0, 5);
  });

  it('BatchNorm buffers are in the state dict, num_batches_tracked as int64', () => {
    const bn = new nn.BatchNorm2d(4);
    expect([...bn.stateDict().keys()]).toEqual(['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']);
    expect(bn.num_batches_tracked!.dtype).toBe('int64');
    expect(bn.num_batches_tracked!.shape).toEqual([]);
  });

  it('a traced BatchNorm in train mode computes batch statistics like eager', () => {
    const model = new Harness1(new nn.BatchNorm2d(3), (m, x) => m.forward(x));
    const x = randn([2, 3, 4, 4]);
    const eager = model.forward(x);
    const acc = accTrace(symbolicTrace(model), [x]);
    expect(acc.graph.nodeList().some((n) => n.op === 'call_function' && n.target.name === 'acc.batch_norm')).toBe(false);
    expectIdentical(acc.forward(x), eager);
  });

  it('InstanceNorm2d with running statistics updates them in train mode and uses them in eval mode', () => {
    const norm = new nn.InstanceNorm2d(2, { trackRunningStats: true, momentum: 0.5 });
    const x = F.add(randn([3, 2, 4, 4]), 2);
    const y = norm.forward(x);
    const xs = x.toFloat32();
    let meanOfMeans = 0;
    for (let n = 0; n < 3; n++) {
      let s = 0;
      for (let i = 0; i < 16; i++) s += xs[(n * 2) * 16 + i]!;
      meanOfMeans += s / 16 / 3;
    }
    expect(norm.running_mean!.toFloat32()[0]!).toBeCloseTo(0.5 * meanOfMeans, 5);
    expect(sameBits(y, F.instanceNorm(x))).toBe(true);
    norm.eval();
    const expected = F.batchNorm(x, norm.running_mean, norm.running_var);
    expect(sameBits(norm.forward(x), expected)).toBe(true);
  });
});

/** Per-channel statistics of a [N, C, ...] tensor in float64. */
function channelStats(t: Tensor): { mean: number[]; biasedVar: number[]; unbiasedVar: number[] } {
  const [n, c] = t.shape as [number, number];
  const inner = t.numel / (n * c);
  const v = t.toFloat64();
  const mean: number[] = [];
  const biasedVar: number[] = [];
  const unbiasedVar: number[] = [];
  for (let ch = 0; ch < c; ch++) {
    let s = 0;
    for (let b = 0; b < n; b++) for (let i = 0; i < inner; i++) s += v[(b * c + ch) * inner + i]!;
    const m = s / (n * inner);
    let q = 0;
    for (let b = 0; b < n; b++) for (let i = 0; i < inner; i++) q += (v[(b * c + ch) * inner + i]! - m) ** 2;
    mean.push(m);
    biasedVar.push(q / (n * inner));
    unbiasedVar.push(q / (n * inner - 1));
  }
  return { mean, biasedVar, unbiasedVar };
}

describe('layer semantics', () => {
  it('Conv2d padding modes pad the border as F.pad does', () => {
    const conv = new nn.Conv2d(2, 3, 3, { padding: 1, paddingMode: 'reflect' });
    const x = randn([1, 2, 5, 5]);
    const expected = F.conv2d(F.pad(x, [1, 1, 1, 1], { mode: 'reflect' }), conv.weight, conv.bias);
    expect(sameBits(conv.forward(x), expected)).toBe(true);
  });

  it("Conv2d padding 'same' with an even kernel pads the extra element on the right", () => {
    const conv = new nn.Conv2d(1, 1, 2, { padding: 'same', bias: false });
    const x = randn([1, 1, 4, 4]);
    const expected = F.conv2d(F.pad(x, [0, 1, 0, 1]), conv.weight);
    expect(sameBits(conv.forward(x), expected)).toBe(true);
  });

  it('Embedding looks rows up and zero-initializes the padding row', () => {
    const emb = new nn.Embedding(5, 3, { paddingIdx: 2 });
    expect([...emb.weight.toFloat32().subarray(6, 9)]).toEqual([0, 0, 0]);
    const y = emb.forward(Tensor.fromArray([4, 2], 'int64')).toFloat32();
    expect([...y.subarray(0, 3)]).toEqual([...emb.weight.toFloat32().subarray(12, 15)]);
    expect([...y.subarray(3, 6)]).toEqual([0, 0, 0]);
  });

  it('MultiheadAttention matches an explicit softmax(q kᵀ / √d) v computation', () => {
    manualSeed(2);
    const m = new nn.MultiheadAttention(8, 2, { batchFirst: true }).eval();
    const x = randn([1, 3, 8]);
    const y = m.forward(x, x, x).toFloat32();
    const [q, k, v] = F.chunk(F.linear(x, m.in_proj_weight, m.in_proj_bias), 3, { dim: -1 });
    const heads = (t: Tensor) => F.transpose(F.reshape(t, [1, 3, 2, 4]), 1, 2);
    const w = F.softmax(F.div(F.matmul(heads(q!), F.transpose(heads(k!), -2, -1)), 2), -1);
    const ctx = F.flatten(F.transpose(F.matmul(w, heads(v!)), 1, 2), 2);
    const expected = F.linear(ctx, m.out_proj.weight, m.out_proj.bias).toFloat32();
    expected.forEach((e, i) => expect(y[i]!).toBeCloseTo(e, 5));
  });

  it('MultiheadAttention: batchFirst is a transpose; needWeights gives row-stochastic weights and the same output', () => {
    manualSeed(3);
    const a = new nn.MultiheadAttention(8, 2).eval();
    const b = new nn.MultiheadAttention(8, 2, { batchFirst: true }).eval();
    b.loadStateDict(a.stateDict());
    const x = randn([4, 2, 8]);
    const xb = F.transpose(x, 0, 1);
    expect(sameBits(F.transpose(a.forward(x, x, x), 0, 1), b.forward(xb, xb, xb))).toBe(true);
    const [out, weights] = a.forward(x, x, x, { needWeights: true });
    expect(weights.shape).toEqual([2, 4, 4]);
    F.sum(weights, -1).toFloat32().forEach((s) => expect(s).toBeCloseTo(1, 5));
    const fused = a.forward(x, x, x).toFloat32();
    out.toFloat32().forEach((o, i) => expect(o).toBeCloseTo(fused[i]!, 5));
    const [, perHead] = a.forward(x, x, x, { needWeights: true, averageAttnWeights: false });
    expect(perHead.shape).toEqual([2, 2, 4, 4]);
  });

  it('MultiheadAttention: boolean and additive key padding masks agree, and masked keys get zero weight', () => {
    manualSeed(4);
    const m = new nn.MultiheadAttention(8, 2, { batchFirst: true }).eval();
    const x = randn([1, 4, 8]);
    const mask = Tensor.fromArray([[false, true, false, true]]);
    const additive = Tensor.fromArray([[0, -Infinity, 0, -Infinity]]);
    const a = m.forward(x, x, x, { keyPaddingMask: mask }).toFloat32();
    const b = m.forward(x, x, x, { keyPaddingMask: additive }).toFloat32();
    a.forEach((v, i) => expect(v).toBeCloseTo(b[i]!, 5));
    const [, w] = m.forward(x, x, x, { keyPaddingMask: mask, needWeights: true });
    const wf = w.toFloat32();
    for (let row = 0; row < 4; row++) {
      expect(wf[row * 4 + 1]).toBe(0);
      expect(wf[row * 4 + 3]).toBe(0);
    }
  });

  it('MultiheadAttention: a 3-D attention mask applies per batch and head; isCausal needs the mask', () => {
    manualSeed(5);
    const m = new nn.MultiheadAttention(4, 2).eval();
    const x = randn([3, 2, 4]);
    const causal = Tensor.fromArray([[false, true, true], [false, false, true], [false, false, false]]);
    const twoD = m.forward(x, x, x, { attnMask: causal });
    const threeD = m.forward(x, x, x, { attnMask: F.reshape(causal, [1, 3, 3]).expand(4, 3, 3) });
    expect(sameBits(twoD, threeD)).toBe(true);
    const hinted = m.forward(x, x, x, { attnMask: causal, isCausal: true }).toFloat32();
    twoD.toFloat32().forEach((v, i) => expect(hinted[i]!).toBeCloseTo(v, 5));
    expect(() => m.forward(x, x, x, { isCausal: true })).toThrow(/isCausal needs the causal attnMask/);
  });

  it('Sequential names children 0, 1, ... and chains them; ModuleList indexes and iterates', () => {
    const a = new nn.Linear(4, 3);
    const b = new nn.ReLU();
    const seq = new nn.Sequential(a, b);
    expect([...seq.namedChildren()].map(([k]) => k)).toEqual(['0', '1']);
    expect(seq.get(0)).toBe(a);
    expect(seq.get(-1)).toBe(b);
    expect(seq.length).toBe(2);
    expect([...seq]).toEqual([a, b]);
    const x = randn([2, 4]);
    expect(sameBits(seq.forward(x), b.forward(a.forward(x)))).toBe(true);
    seq.append(new nn.Linear(3, 1));
    expect(seq.forward(x).shape).toEqual([2, 1]);
    expect([...seq.namedParameters()].map(([k]) => k)).toEqual(['0.weight', '0.bias', '2.weight', '2.bias']);
    expect(seq.getSubmodule('2')).toBe(seq.get(2));

    const list = new nn.ModuleList([a]).append(b).extend([new nn.Tanh()]);
    expect(list.length).toBe(3);
    expect(list.get(1)).toBe(b);
    expect([...list].map((m) => m.constructor.name)).toEqual(['Linear', 'ReLU', 'Tanh']);
    expect(() => list.get(3)).toThrow(/index 3 is out of range for 3 module/);
    expect(() => list.forward(x)).toThrow(/ModuleList has no forward/);
  });

  it('Sequential is traced through: its children become the call_module nodes', () => {
    const seq = new nn.Sequential(new nn.Linear(4, 3), new nn.Sequential(new nn.ReLU(), new nn.Linear(3, 2)));
    const gm = symbolicTrace(seq);
    expect(gm.graph.nodeList().filter((n) => n.op === 'call_module').map((n) => n.target)).toEqual(['0', '1.0', '1.1']);
  });
});

describe('constructor and input errors name the layer and argument', () => {
  const bad: [() => unknown, RegExp][] = [
    [() => new nn.Conv2d(3, 64, 0), /Conv2d: kernelSize must be an integer >= 1, got 0/],
    [() => new nn.Conv2d(3, 64, [3, 3, 3]), /Conv2d: kernelSize must be an integer or a list of 2 integers, got \[3, 3, 3\]/],
    [() => new nn.Conv2d(3, 64, 3, { groups: 2 }), /Conv2d: inChannels \(3\) must be divisible by groups \(2\)/],
    [() => new nn.Conv2d(3, 64, 3, { stride: 2, padding: 'same' }), /Conv2d: padding='same' is not supported for strided convolutions/],
    [() => new nn.Conv2d(3, 64, 3, { padding: -1 }), /Conv2d: padding must be an integer >= 0, got -1/],
    [() => buildLayer('Conv2d', { args: [3, 8, 3], options: { paddingMode: 'mirror' } }), /Conv2d: paddingMode must be one of 'zeros', 'reflect', 'replicate', 'circular', got 'mirror'/],
    [() => new nn.ConvTranspose2d(4, 4, 3, { stride: 2, outputPadding: 2 }), /ConvTranspose2d: outputPadding \(2, 2\) must be smaller than either stride/],
    [() => new nn.Linear(-1, 2), /Linear: inFeatures must be an integer >= 0, got -1/],
    [() => new nn.Linear(2.5, 2), /Linear: inFeatures must be an integer >= 0, got 2.5/],
    [() => new nn.BatchNorm2d(64, { momentum: 2 }), /BatchNorm2d: momentum must be a number in \[0, 1\], got 2/],
    [() => new nn.GroupNorm(3, 8), /GroupNorm: numChannels \(8\) must be divisible by numGroups \(3\)/],
    [() => new nn.LayerNorm([]), /LayerNorm: normalizedShape must be an integer or a non-empty list/],
    [() => new nn.Dropout({ p: 1.5 }), /Dropout: p must be a number in \[0, 1\], got 1.5/],
    [() => new nn.MaxPool2d(2, { padding: 2 }), /MaxPool2d: padding 2 must be at most half of the effective kernel size/],
    [() => new nn.MaxPool2d(2, { returnIndices: true }), /MaxPool2d: returnIndices must be false/],
    [() => new nn.AvgPool2d(2, { divisorOverride: 0 }), /AvgPool2d: divisorOverride must be an integer >= 1, got 0/],
    [() => new nn.AdaptiveAvgPool2d([1, 2, 3]), /AdaptiveAvgPool2d: outputSize must be an integer >= 1 or null, or a list of 2/],
    [() => new nn.MultiheadAttention(10, 3), /MultiheadAttention: embedDim \(10\) must be divisible by numHeads \(3\)/],
    [() => new nn.Upsample({}), /Upsample: exactly one of size and scaleFactor must be given \(got neither\)/],
    [() => new nn.Upsample({ scaleFactor: 2, alignCorners: true }), /Upsample: alignCorners can only be set with the interpolating modes/],
    [() => new nn.Embedding(10, 3, { paddingIdx: 10 }), /Embedding: paddingIdx must be an integer in \[-10, 9\], got 10/],
    [() => new nn.Hardtanh({ minVal: 1, maxVal: 0 }), /Hardtanh: maxVal \(0\) must be greater than minVal \(1\)/],
    [() => buildLayer('GELU', { args: [], options: { approximate: 'fast' } }), /GELU: approximate must be one of 'none', 'tanh', got 'fast'/],
    [() => buildLayer('Sequential', { args: [42], options: {} }), /Sequential: element 0 must be a Module, got 42/],
    [() => new nn.BatchNorm2d(3).forward(randn([2, 3, 4])), /BatchNorm2d: expected 4D input, got shape \[2, 3, 4\]/],
    [() => new nn.BatchNorm1d(3).forward(randn([2, 4])), /BatchNorm1d: expected 3 channels in dim 1, got input shape \[2, 4\]/],
    [() => new nn.InstanceNorm2d(3).forward(randn([3, 4, 4])), /InstanceNorm2d: expected a 4D \(batched\) input/],
    [() => new nn.MultiheadAttention(4, 2).forward(randn([3, 4]), randn([3, 4]), randn([3, 4])), /MultiheadAttention: expected a 3D \(batched\) query input/],
  ];
  for (const [fn, re] of bad) it(re.source.slice(0, 60), () => expect(fn).toThrow(re));
});

describe('initialization', () => {
  it('manualSeed makes construction deterministic; generators are independent', () => {
    manualSeed(11);
    const a = new nn.Conv2d(3, 4, 3);
    manualSeed(11);
    const b = new nn.Conv2d(3, 4, 3);
    expect(sameBits(a.weight, b.weight) && sameBits(a.bias!, b.bias!)).toBe(true);
    const c = new nn.Conv2d(3, 4, 3);
    expect(sameBits(a.weight, c.weight)).toBe(false);
    const g = new init.Generator(11);
    const first = g.random();
    g.manualSeed(11);
    expect(g.random()).toBe(first);
    expect(g.initialSeed()).toBe(11);
  });

  it('Linear and Conv use kaiming-uniform(a=√5): weights and biases within 1/√fan_in', () => {
    const fc = new nn.Linear(64, 32);
    const bound = 1 / Math.sqrt(64);
    const w = fc.weight.toFloat32();
    expect(w.every((v) => Math.abs(v) <= bound)).toBe(true);
    expect(Math.max(...w.map(Math.abs))).toBeGreaterThan(0.9 * bound);
    expect(fc.bias!.toFloat32().every((v) => Math.abs(v) <= bound)).toBe(true);
    const conv = new nn.Conv2d(4, 8, 3, { groups: 2 });
    const cb = 1 / Math.sqrt(2 * 9);
    expect(conv.weight.shape).toEqual([8, 2, 3, 3]);
    expect(conv.weight.toFloat32().every((v) => Math.abs(v) <= cb)).toBe(true);
    const deconv = new nn.ConvTranspose2d(4, 6, 2, { groups: 2 });
    expect(deconv.weight.shape).toEqual([4, 3, 2, 2]);
    expect(deconv.bias!.shape).toEqual([6]);
    expect(deconv.bias!.toFloat32().every((v) => Math.abs(v) <= 1 / Math.sqrt(12))).toBe(true);
  });

  it('norms start at (1, 0), Embedding at N(0, 1), MultiheadAttention with xavier in_proj and zero biases', () => {
    const ln = new nn.LayerNorm(6);
    expect([...ln.weight!.toFloat32()]).toEqual([1, 1, 1, 1, 1, 1]);
    expect([...ln.bias!.toFloat32()]).toEqual([0, 0, 0, 0, 0, 0]);
    const emb = new nn.Embedding(200, 50);
    const v = emb.weight.toFloat64();
    const mean = v.reduce((s, x) => s + x, 0) / v.length;
    const std = Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / v.length);
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(std - 1)).toBeLessThan(0.03);
    const m = new nn.MultiheadAttention(16, 4);
    const xb = Math.sqrt(6 / (16 + 48));
    expect(m.in_proj_weight.toFloat32().every((x) => Math.abs(x) <= xb)).toBe(true);
    expect(m.in_proj_bias!.toFloat32().every((x) => x === 0)).toBe(true);
    expect(m.out_proj.bias!.toFloat32().every((x) => x === 0)).toBe(true);
    expect([...m.stateDict().keys()]).toEqual(['in_proj_weight', 'in_proj_bias', 'out_proj.weight', 'out_proj.bias']);
  });

  it('fan and gain helpers follow torch.nn.init', () => {
    expect(init.calculateFanInAndFanOut([64, 3, 7, 7])).toEqual([147, 3136]);
    expect(init.calculateFanInAndFanOut([10, 20])).toEqual([20, 10]);
    expect(() => init.calculateFanInAndFanOut([5])).toThrow(/at least 2 dims/);
    expect(init.calculateGain('relu')).toBe(Math.SQRT2);
    expect(init.calculateGain('leaky_relu', Math.sqrt(5))).toBeCloseTo(Math.sqrt(1 / 3), 12);
    expect(init.calculateGain('tanh')).toBeCloseTo(5 / 3, 12);
    const w = init.kaimingNormal_(Tensor.empty([256, 128]), { mode: 'fan_out', nonlinearity: 'relu' }).toFloat64();
    const std = Math.sqrt(w.reduce((s, x) => s + x * x, 0) / w.length);
    expect(std).toBeCloseTo(Math.sqrt(2 / 256), 2);
    expect(() => init.uniform_(Tensor.zeros([2], 'int32'))).toThrow(/init.uniform_: expected a floating-point tensor, got int32/);
  });

  it('in-place initializers keep the tensor identity', () => {
    const p = new nn.Linear(2, 2).weight;
    expect(init.constant_(p, 3)).toBe(p);
    expect([...p.toFloat32()]).toEqual([3, 3, 3, 3]);
  });
});

describe('Module.to(dtype) and half()', () => {
  it('casts floating parameters and buffers in place, keeps integer buffers, and the model runs in the new dtype', () => {
    const model = new nn.Sequential(new nn.Conv2d(3, 4, 3), new nn.BatchNorm2d(4), new nn.ReLU()).eval();
    const before = [...model.stateDict()].map(([k, v]) => [k, v.dtype, v.toFloat64()] as const);
    expect(model.half()).toBe(model);
    const after = model.stateDict();
    for (const [k, dtype, values] of before) {
      const t = after.get(k)!;
      // num_batches_tracked (int64) stays; floats become float16, rounded
      expect(t.dtype, k).toBe(dtype === 'float32' ? 'float16' : dtype);
      expect(Array.from(t.toFloat64()), k).toEqual(Array.from(values, (v) => (dtype === 'float32' ? Tensor.fromNumbers([v], [1], 'float16').toFloat64()[0]! : v)));
    }
    expect([...model.namedParameters()].every(([, p]) => p instanceof nn.Parameter)).toBe(true);
    const y = model.forward(Tensor.randn([1, 3, 6, 6], { seed: 1, dtype: 'float16' })) as Tensor;
    expect(y.dtype).toBe('float16');
    expect(model.to('float32').stateDict().get('0.weight')!.dtype).toBe('float32');
  });
});
