import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import '../src/nn/functional.js';
import { accTrace } from '../src/acc_ops/acc_tracer.js';
import { invokeFunction } from '../src/acc_ops/dispatch.js';
import { getAccOp } from '../src/acc_ops/registry.js';
import {
  emitNetworkSource, NetworkDefinition, NetworkInterpreter, networkWeights, printLayer, printNetwork,
} from '../src/converters/index.js';
import { TraceProxy } from '../src/ir/proxy.js';
import * as nn from '../src/nn/layers/index.js';
import { Module } from '../src/nn/module.js';
import { Tensor } from '../src/tensor/tensor.js';

function acc(op: string, kwargs: Record<string, unknown>): Tensor {
  const r = invokeFunction(getAccOp(op), [], kwargs);
  if (!(r instanceof Tensor)) throw new TypeError(`acc.${op} did not return one tensor`);
  return r;
}

/** A small network built by hand with every printed feature: a range, small and large constants, two outputs. */
function handNetwork(): NetworkDefinition {
  const net = new NetworkDefinition('demo');
  const x = net.addInput('x', 'float32', [-1, 4], { min: [1, 4], opt: [2, 4], max: [8, 4] });
  const [c] = net.addLayer('constant', [], { value: Tensor.fromArray([[0.5, -1, 2, 3]]) }, 'c');
  const [big] = net.addLayer('constant', [], { value: Tensor.zeros([4, 4]) }, 'big');
  const [s] = net.addLayer('elementwise', [x!, c!], { op: 'sum' }, 'add', 'add');
  const [m] = net.addLayer('matrix_multiply', [s!, big!], { transpose0: false, transpose1: true, vector0: false, vector1: false }, 'mm', 'mm');
  const [y] = net.addLayer('activation', [m!], { op: 'clip', alpha: -Infinity, beta: 6 }, 'clip', 'clip');
  const [v, i] = net.addLayer('topk', [y!], { op: 'max', k: 2, axis: 1 }, 'top', 'top');
  net.markOutput(v!, 'values');
  net.markOutput(i!, 'indices');
  return net;
}

describe('printNetwork', () => {
  it('prints inputs with ranges, one line per layer, and outputs', () => {
    expect(printNetwork(handNetwork())).toBe([
      "network 'demo'",
      '  input x: float32[-1, 4] min=[1, 4] opt=[2, 4] max=[8, 4]',
      '  c: constant(value=float32[1, 4](0.5, -1, 2, 3)) () -> c_out: float32[1, 4]',
      '  big: constant(value=float32[4, 4]) () -> big_out: float32[4, 4]',
      '  add: elementwise(op=sum) (x: float32[-1, 4], c_out: float32[1, 4]) -> add_out: float32[-1, 4]',
      '  mm: matrix_multiply(transpose0=false, transpose1=true, vector0=false, vector1=false) (add_out: float32[-1, 4], big_out: float32[4, 4]) -> mm_out: float32[-1, 4]',
      '  clip: activation(op=clip, alpha=-Infinity, beta=6) (mm_out: float32[-1, 4]) -> clip_out: float32[-1, 4]',
      '  top: topk(op=max, k=2, axis=1) (clip_out: float32[-1, 4]) -> values: float32[-1, 2], indices: int64[-1, 2]',
      '  output values: float32[-1, 2]',
      '  output indices: int64[-1, 2]',
    ].join('\n'));
  });

  it('prints one layer with nested and null parameters', () => {
    const net = new NetworkDefinition();
    const x = net.addInput('x', 'float32', [2, 3]);
    net.addLayer('shuffle', [x], { firstTranspose: [1, 0], reshape: null, secondTranspose: null }, 't');
    expect(printLayer(net.layers[0]!)).toBe('t: shuffle(firstTranspose=[1, 0], reshape=null, secondTranspose=null) (x: float32[2, 3]) -> t_out: float32[3, 2]');
  });

  it('extracts the constants by layer name', () => {
    const w = networkWeights(handNetwork());
    expect(Object.keys(w)).toEqual(['c', 'big']);
    expect(w['big']!.shape).toEqual([4, 4]);
  });
});

class Model extends Module {
  conv = new nn.Conv2d(3, 4, 3, { padding: 1 });
  bn = new nn.BatchNorm2d(4);
  override forward(x: Tensor, m: Tensor): unknown {
    const y = acc('relu', { input: this.bn.forward(this.conv.forward(x) as Tensor) as Tensor });
    const up = acc('interpolate', { input: y, scale_factor: [2, 2], mode: 'bilinear', align_corners: false });
    const flat = acc('flatten', { input: acc('max_pool2d', { input: up, kernel_size: [2, 2], stride: [2, 2], padding: [0, 0], dilation: [1, 1] }), start_dim: 1 });
    const q = acc('dequantize', { input: acc('quantize_per_tensor', { input: flat, scale: 0.05, zero_point: 3, dtype: 'int8' }) });
    const masked = acc('where', { condition: acc('gt', { input: q, other: 0 }), input: q, other: acc('clamp', { input: q, min: -1 }) });
    const t = invokeFunction(getAccOp('topk'), [], { input: masked, k: 3 });
    const it = t instanceof TraceProxy ? t[Symbol.iterator]() : undefined;
    const values = it?.next().value;
    return [acc('cat', { tensors: [values, acc('slice', { input: m, dim: 1, start: 0, end: 3 })], dim: 1 }), acc('softmax', { input: masked, dim: -1 })];
  }
}

const dir = mkdtempSync(join(tmpdir(), 'fxrt-emit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('emitNetworkSource', () => {
  it('emits readable NetworkDefinition calls', () => {
    const src = emitNetworkSource(handNetwork(), { importFrom: 'fxrt' });
    expect(src).toContain('import { NetworkDefinition, type Tensor } from "fxrt";');
    expect(src).toContain('export function buildNetwork(weights: Readonly<Record<string, Tensor>>): NetworkDefinition {');
    expect(src).toContain('const x = net.addInput("x", "float32", [-1, 4], { min: [1, 4], opt: [2, 4], max: [8, 4] });');
    expect(src).toContain('const [constant] = net.addLayer("constant", [], { value: weight("c") }, "c");');
    expect(src).toContain('const [clip] = net.addLayer("activation", [mm], { op: "clip", alpha: -Infinity, beta: 6 }, "clip", "clip");');
    expect(src).toContain('const [top, top_1] = net.addLayer("topk", [clip], { op: "max", k: 2, axis: 1 }, "top", "top");');
    expect(src).toContain('net.markOutput(top_1, "indices");');
  });

  it('emits source that, compiled and run, rebuilds a network that prints the same', async () => {
    const gm = accTrace(new Model().eval(), [Tensor.randn([1, 3, 4, 4]), Tensor.randn([1, 5])]);
    const { network } = new NetworkInterpreter(gm, [
      { shape: [-1, 3, 4, 4], dtype: 'float32', shapeRanges: { min: [1, 3, 4, 4], opt: [1, 3, 4, 4], max: [4, 3, 4, 4] } },
      { shape: [-1, 5], dtype: 'float32', shapeRanges: { min: [1, 5], opt: [1, 5], max: [4, 5] } },
    ], { precision: 'float16' }).run();
    const types = new Set(network.layers.map((l) => l.type));
    for (const t of ['convolution', 'scale', 'resize', 'pooling', 'shuffle', 'quantize', 'dequantize', 'select', 'topk', 'slice', 'concatenation', 'softmax', 'cast']) {
      expect(types.has(t as never), t).toBe(true);
    }
    const file = join(dir, 'rebuilt.ts');
    writeFileSync(file, emitNetworkSource(network, {
      importFrom: resolve('src/converters/index.js'), tensorImportFrom: resolve('src/tensor/tensor.js'), functionName: 'rebuild',
    }));
    const mod: Record<string, unknown> = await import(pathToFileURL(file).href);
    const rebuild = mod['rebuild'];
    if (typeof rebuild !== 'function') throw new Error('the emitted module has no rebuild function');
    const copy: unknown = rebuild(networkWeights(network));
    expect(copy).toBeInstanceOf(NetworkDefinition);
    if (!(copy instanceof NetworkDefinition)) return;
    expect(printNetwork(copy)).toBe(printNetwork(network));
    expect(() => rebuild({})).toThrow(/missing weight for constant layer '\[CONSTANT\]-\[get_attr\]-\[conv_weight\]'/);
  });

  it('makes valid, unique identifiers from any layer source', () => {
    const net = new NetworkDefinition('n');
    const x = net.addInput('in put', 'float32', [2]);
    const [a] = net.addLayer('identity', [x], {}, 'a', 'class');
    net.addLayer('identity', [a!], {}, 'b', '1st.node');
    const src = emitNetworkSource(net);
    expect(src).toContain('const in_put = net.addInput("in put", "float32", [2]);');
    expect(src).toContain('const [class_] = net.addLayer("identity", [in_put], {}, "a", "class");');
    expect(src).toContain('const [_1st_node] = net.addLayer("identity", [class_], {}, "b", "1st.node");');
  });
});
