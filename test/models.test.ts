import { describe, expect, it } from 'vitest';
import { accTrace } from '../src/acc_ops/acc_tracer.js';
import type { GraphModule } from '../src/ir/graph_module.js';
import { symbolicTrace, type TraceOptions } from '../src/ir/tracer.js';
import {
  BertLayer, CenterNetHead, MLP, MobileNetV2, ResNet, bertEncoder, bertEncoderLayer, modelZoo, resnet18Cifar, type ModelName,
} from '../src/models/index.js';
import { nn } from '../src/nn/index.js';
import type { Module } from '../src/nn/module.js';
import { Tensor } from '../src/tensor/tensor.js';

/** Every tensor in a (possibly nested) result, in order. */
function tensorsOf(v: unknown): Tensor[] {
  if (v instanceof Tensor) return [v];
  if (Array.isArray(v)) return v.flatMap(tensorsOf);
  throw new TypeError(`expected tensors, got ${String(v)}`);
}

/** Bit-for-bit equality of two results: same structure, shapes, dtypes and storage bytes. */
function expectIdentical(actual: unknown, expected: unknown): void {
  const a = tensorsOf(actual);
  const e = tensorsOf(expected);
  expect(a.length).toBe(e.length);
  a.forEach((t, i) => {
    expect(t.shape).toEqual(e[i]!.shape);
    expect(t.dtype).toBe(e[i]!.dtype);
    expect(Buffer.from(t.bytes()).equals(Buffer.from(e[i]!.bytes()))).toBe(true);
  });
}

function callFunctionTargets(gm: GraphModule): string[] {
  return gm.graph.nodeList().flatMap((n) => (n.op === 'call_function' ? [n.target.name] : []));
}

/** The three execution paths agree exactly; the traced graph keeps layers as call_module and the acc graph only acc ops. */
function checkModel(model: Module, inputs: Tensor[], traceOptions: TraceOptions = {}): { gm: GraphModule; acc: GraphModule } {
  model.eval();
  const eager = model.forward(...inputs);
  const gm = symbolicTrace(model, traceOptions);
  gm.lint();
  const modules = gm.graph.nodeList().filter((n) => n.op === 'call_module');
  expect(modules.length).toBeGreaterThan(0);
  for (const n of modules) {
    if (n.op === 'call_module') expect(gm.getSubmodule(n.target).constructor.name in nn).toBe(true);
  }
  expectIdentical(gm.forward(...inputs), eager);
  const acc = accTrace(gm, inputs);
  acc.lint();
  for (const n of acc.graph.nodeList()) {
    expect(['placeholder', 'get_attr', 'call_function', 'output']).toContain(n.op);
  }
  for (const name of callFunctionTargets(acc)) expect(name.startsWith('acc.')).toBe(true);
  expectIdentical(acc.forward(...inputs), eager);
  return { gm, acc };
}

function example(shape: readonly number[], seed = 1): Tensor {
  return Tensor.randn(shape, { seed });
}

describe('bundled models: eager, symbolicTrace and accTrace agree bit for bit', () => {
  it('mlp (seed 000)', () => {
    const model = modelZoo.mlp.create();
    const { gm } = checkModel(model, [example([16, 512])]);
    expect(gm.graph.nodeList().filter((n) => n.op === 'call_module').map((n) => n.target)).toEqual(['lin1', 'activation', 'lin2']);
  });

  it('resnet18 at 1×3×64×64', () => {
    const { gm, acc } = checkModel(modelZoo.resnet18.create(), [example([1, 3, 64, 64])]);
    const targets = gm.graph.nodeList().filter((n) => n.op === 'call_module').map((n) => n.target);
    expect(targets).toContain('layer2.0.downsample.0');
    expect(targets).toContain('fc');
    expect(callFunctionTargets(acc).filter((t) => t === 'acc.conv2d')).toHaveLength(20);
  });

  it('resnet18Cifar at 1×3×32×32 has the 3×3 stride-1 stem and no max pool', () => {
    const model = resnet18Cifar();
    const { acc } = checkModel(model, [example([1, 3, 32, 32])]);
    expect(model.conv1.kernelSize).toEqual([3, 3]);
    expect(model.conv1.stride).toEqual([1, 1]);
    expect(callFunctionTargets(acc)).not.toContain('acc.max_pool2d');
    expect((acc.forward(example([1, 3, 32, 32])) as Tensor).shape).toEqual([1, 10]);
  });

  it('resnet50 at 1×3×64×64', () => {
    const model = modelZoo.resnet50.create();
    const { acc } = checkModel(model, [example([1, 3, 64, 64])]);
    expect(callFunctionTargets(acc).filter((t) => t === 'acc.conv2d')).toHaveLength(53);
    expect(model.parameters().reduce((n, p) => n + p.numel, 0)).toBe(25_557_032);
  });

  it('mobilenetV2 at 1×3×64×64', () => {
    const model = modelZoo.mobilenetV2.create();
    const { acc } = checkModel(model, [example([1, 3, 64, 64])]);
    expect(model.parameters().reduce((n, p) => n + p.numel, 0)).toBe(3_504_872);
    const depthwise = acc.graph.nodeList().filter((n) => n.op === 'call_function' && n.target.name === 'acc.conv2d' && n.kwargs['groups'] !== 1);
    expect(depthwise).toHaveLength(17);
  });

  it('bertEncoderLayer at seq 8 without a mask', () => {
    const model = modelZoo.bertEncoderLayer.create();
    const { acc } = checkModel(model, [example([2, 8, 768])], modelZoo.bertEncoderLayer.traceOptions);
    expect(callFunctionTargets(acc)).toContain('acc.scaled_dot_product_attention');
    expect(callFunctionTargets(acc).filter((t) => t === 'acc.layer_norm')).toHaveLength(2);
  });

  it('bertEncoderLayer at seq 8 with a boolean attention mask', () => {
    const model = bertEncoderLayer();
    const mask = Tensor.fromArray([[true, true, true, true, true, true, false, false], [true, true, true, true, true, true, true, true]]);
    checkModel(model, [example([2, 8, 768]), mask]);
    // Masked keys do not influence the unmasked positions' outputs.
    const x = example([2, 8, 768]);
    const changed = x.clone();
    (changed.data as Float32Array).fill(7, 6 * 768, 8 * 768);
    const a = (model.forward(x, mask)).toFloat32().subarray(0, 6 * 768);
    const b = (model.forward(changed, mask)).toFloat32().subarray(0, 6 * 768);
    expect(Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))).toBe(true);
  });

  it('bertEncoder with 2 layers, with and without a mask', () => {
    const model = bertEncoder(2);
    expect(model.toString().match(/\(\d+\): BertLayer/g)).toHaveLength(2);
    const { gm } = checkModel(model, [example([1, 8, 768])], modelZoo.bertEncoder.traceOptions);
    expect(gm.graph.nodeList().filter((n) => n.op === 'call_module' && n.target.endsWith('LayerNorm'))).toHaveLength(4);
    checkModel(model, [example([1, 8, 768]), Tensor.fromArray([[true, true, true, true, true, false, false, false]])]);
  });

  it('centerNetHead returns hm, wh and reg', () => {
    const model = modelZoo.centerNetHead.create();
    const { acc } = checkModel(model, [example([1, 512, 4, 4])]);
    const [hm, wh, reg] = tensorsOf(acc.forward(example([1, 512, 4, 4])));
    expect(hm!.shape).toEqual([1, 80, 32, 32]);
    expect(wh!.shape).toEqual([1, 2, 32, 32]);
    expect(reg!.shape).toEqual([1, 2, 32, 32]);
    expect(callFunctionTargets(acc).filter((t) => t === 'acc.conv_transpose2d')).toHaveLength(3);
  });
});

describe('model zoo', () => {
  it('seeded factories are deterministic and seeds differ', () => {
    const a = modelZoo.mlp.create({ seed: 3 });
    const b = modelZoo.mlp.create({ seed: 3 });
    const c = modelZoo.mlp.create({ seed: 4 });
    const bytes = (m: Module) => Buffer.concat(m.parameters().map((p) => Buffer.from(p.bytes())));
    expect(bytes(a).equals(bytes(b))).toBe(true);
    expect(bytes(a).equals(bytes(c))).toBe(false);
  });

  it('every entry builds its model, and the example input fits the first layer', () => {
    const names = Object.keys(modelZoo) as ModelName[];
    expect(names.sort()).toEqual(['bertEncoder', 'bertEncoderLayer', 'centerNetHead', 'mlp', 'mobilenetV2', 'resnet18', 'resnet18Cifar', 'resnet50']);
    const expected: Record<Exclude<ModelName, 'bertEncoder'>, [new (...args: never[]) => Module, number]> = {
      mlp: [MLP, 512], resnet18: [ResNet, 3], resnet50: [ResNet, 3], resnet18Cifar: [ResNet, 3],
      mobilenetV2: [MobileNetV2, 3], bertEncoderLayer: [BertLayer, 768], centerNetHead: [CenterNetHead, 512],
    };
    for (const [name, [cls, width]] of Object.entries(expected)) {
      const entry = modelZoo[name as ModelName];
      const model = entry.create();
      expect(model).toBeInstanceOf(cls);
      const first = model.modules().find((m) => m instanceof nn.Conv2d || m instanceof nn.Linear || m instanceof nn.ConvTranspose2d);
      const inWidth = first instanceof nn.Linear ? first.inFeatures : first instanceof nn.Conv2d || first instanceof nn.ConvTranspose2d ? first.inChannels : -1;
      expect(inWidth).toBe(width);
      const dim = name === 'mlp' || name === 'bertEncoderLayer' ? -1 : 1;
      expect(entry.inputShape.at(dim)).toBe(width);
    }
    expect(modelZoo.bertEncoder.inputShape).toEqual([1, 128, 768]);
  });
});
