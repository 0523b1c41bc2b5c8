import { describe, expect, it } from 'vitest';
import '../src/nn/functional.js';
import { accTrace } from '../src/acc_ops/acc_tracer.js';
import { invokeFunction } from '../src/acc_ops/dispatch.js';
import { defineAccOp, getAccOp } from '../src/acc_ops/registry.js';
import { NetworkError } from '../src/engine/network_definition.js';
import {
  ConversionError, converterSupport, MissingConverterError, NetworkInterpreter, printNetwork, type InputSpec,
} from '../src/converters/index.js';
import { registerFunction } from '../src/ir/function.js';
import { Graph } from '../src/ir/graph.js';
import { GraphModule } from '../src/ir/graph_module.js';
import { sig } from '../src/ir/signature.js';
import { symbolicTrace } from '../src/ir/tracer.js';
import * as nn from '../src/nn/layers/index.js';
import { Module } from '../src/nn/module.js';
import { Tensor } from '../src/tensor/tensor.js';

function acc(op: string, kwargs: Record<string, unknown>): Tensor {
  const r = invokeFunction(getAccOp(op), [], kwargs);
  if (!(r instanceof Tensor)) throw new TypeError(`acc.${op} did not return one tensor`);
  return r;
}

const W = Tensor.randn([4, 16], { seed: 1 });
const B = Tensor.randn([4], { seed: 2 });

class ConvNet extends Module {
  conv = new nn.Conv2d(3, 8, 3, { padding: 1, bias: false });
  bn = new nn.BatchNorm2d(8);
  pool = new nn.AdaptiveAvgPool2d([1, 1]);
  fc = new nn.Linear(8, 5);
  override forward(x: Tensor): unknown {
    const y = this.bn.forward(this.conv.forward(x) as Tensor) as Tensor;
    const p = this.pool.forward(acc('relu', { input: y })) as Tensor;
    return this.fc.forward(acc('flatten', { input: p, start_dim: 1 }));
  }
}

function convNet(): GraphModule {
  const m = new ConvNet();
  m.eval();
  return accTrace(m, [Tensor.randn([2, 3, 8, 8])]);
}

const dynamicBatch: InputSpec = { shape: [-1, 3, 8, 8], dtype: 'float32', shapeRanges: { min: [1, 3, 8, 8], opt: [4, 3, 8, 8], max: [16, 3, 8, 8] } };

describe('NetworkInterpreter: inputs', () => {
  it('creates dynamic inputs with their ranges and propagates -1 through the layers', () => {
    const { network, inputNames } = new NetworkInterpreter(convNet(), [dynamicBatch]).run();
    expect(inputNames).toEqual(['x']);
    expect(network.inputs[0]).toMatchObject({ name: 'x', dtype: 'float32', shape: [-1, 3, 8, 8], profile: dynamicBatch.shapeRanges });
    expect(network.layers.filter((l) => l.type !== 'constant').map((l) => `${l.type} ${l.outputs[0]!.shape.join('x')}`)).toEqual([
      'convolution -1x8x8x8', 'scale -1x8x8x8', 'activation -1x8x8x8', 'pooling -1x8x1x1', 'shuffle -1x8', 'matrix_multiply -1x5', 'elementwise -1x5',
    ]);
    expect(network.outputs.map((t) => t.shape)).toEqual([[-1, 5]]);
  });

  it('derives static input specs from the traced metadata when none are given', () => {
    const { network } = new NetworkInterpreter(convNet()).run();
    expect(network.inputs.map((t) => [t.name, t.shape, t.profile])).toEqual([['x', [2, 3, 8, 8], undefined]]);
    expect(network.outputs[0]!.shape).toEqual([2, 5]);
  });

  it('keeps a dynamic dim in place through a reshape sized by x.size(0), without the unused shape layers', () => {
    const fn = (x: Tensor) => {
      const y = acc('linear', { input: x, weight: W, bias: B });
      return acc('reshape', { input: y, shape: [acc('size', { input: y, dim: 0 }), -1] });
    };
    const spec: InputSpec = { shape: [-1, 3, 16], dtype: 'float32', shapeRanges: { min: [1, 3, 16], opt: [2, 3, 16], max: [8, 3, 16] } };
    const { network } = new NetworkInterpreter(accTrace(symbolicTrace(fn), [Tensor.randn([2, 3, 16])]), [spec]).run();
    const shuffle = network.layers.find((l) => l.type === 'shuffle');
    expect(shuffle?.params).toEqual({ firstTranspose: null, reshape: [0, -1], secondTranspose: null });
    expect(network.outputs[0]!.shape).toEqual([-1, 12]);
    expect(network.layers.some((l) => l.type === 'shape' || l.type === 'gather')).toBe(false);
  });

  it('reads a dynamic size at runtime with a shape layer and a gather when the network needs the value', () => {
    const fn = (x: Tensor) => acc('mul', { input: x, other: acc('size', { input: x, dim: 0 }) });
    const spec: InputSpec = { shape: [-1, 3], dtype: 'float32', shapeRanges: { min: [1, 3], opt: [2, 3], max: [8, 3] } };
    const { network } = new NetworkInterpreter(accTrace(symbolicTrace(fn), [Tensor.randn([2, 3])]), [spec]).run();
    expect(network.layers.map((l) => l.type)).toEqual(['shape', 'constant', 'gather', 'cast', 'shuffle', 'elementwise']);
    expect(network.layers[2]!.outputs[0]).toMatchObject({ dtype: 'int64', shape: [] });
  });

  it('rejects specs that do not fit the graph, naming the input', () => {
    const gm = convNet();
    expect(() => new NetworkInterpreter(gm, []).run()).toThrow(/the graph has 1 input\(s\) \(x\), got 0 input spec/);
    expect(() => new NetworkInterpreter(gm, [{ shape: [2, 3, 8, 8], dtype: 'float16' }]).run()).toThrow(/input 'x': spec dtype float16 differs from the traced float32/);
    expect(() => new NetworkInterpreter(gm, [{ shape: [2, 3, 9, 8], dtype: 'float32' }]).run()).toThrow(/input 'x': spec shape \[2, 3, 9, 8\] does not match the traced shape \[2, 3, 8, 8\]/);
    expect(() => new NetworkInterpreter(gm, [{ shape: [-1, 3, 8, 8], dtype: 'float32' }]).run()).toThrow(NetworkError);
  });

  it('fails on a dynamic dim a converter needs static, naming the node', () => {
    const fn = (x: Tensor) => acc('slice', { input: x, dim: 0, start: 1 });
    const spec: InputSpec = { shape: [-1, 3], dtype: 'float32', shapeRanges: { min: [1, 3], opt: [2, 3], max: [8, 3] } };
    const gm = accTrace(symbolicTrace(fn), [Tensor.randn([2, 3])]);
    const node = gm.graph.nodeList().find((n) => n.op === 'call_function')!;
    const run = () => new NetworkInterpreter(gm, [spec]).run();
    expect(run).toThrow(ConversionError);
    expect(run).toThrow(`node '${node.name}' (acc.slice): dim 0 is dynamic; slicing it needs its static size`);
  });
});

const userOp = registerFunction({
  name: 'test.interp_user_op', signature: sig('input'),
  invoke: (args) => args[0],
});
defineAccOp<{ input: Tensor }>({
  name: 'interp_no_converter', args: { input: { type: 'Tensor' } },
  infer: ({ input }) => input, kernel: ({ input }) => input,
});

describe('NetworkInterpreter: nodes without converters', () => {
  it('lists every node that has no converter in one error, with its op', () => {
    const g = new Graph();
    const x = g.placeholder('x');
    const a = g.callFunction(userOp, [x], {}, 'mine');
    const b = g.callMethod('relu', [a]);
    const c = g.callFunction(getAccOp('interp_no_converter'), [], { input: b });
    const d = g.callFunction(getAccOp('relu'), [], { input: c });
    g.output(d);
    x.meta.tensorMeta = { shape: [2], dtype: 'float32' };
    const gm = new GraphModule({}, g);
    let error: unknown;
    try {
      new NetworkInterpreter(gm).run();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(MissingConverterError);
    const missing = error instanceof MissingConverterError ? error.nodes : [];
    expect(missing.map((n) => [n.node, n.op])).toEqual([
      ['mine', 'test.interp_user_op'], ['relu', 'call_method relu'], ['interp_no_converter', 'acc.interp_no_converter'],
    ]);
    expect(String(error)).toContain('no converter for 3 node(s)');
    expect(String(error)).toContain("%mine (test.interp_user_op): 'test.interp_user_op' is not an acc op");
    expect(String(error)).toContain('%interp_no_converter (acc.interp_no_converter): no converter for acc.interp_no_converter');
  });

  it('answers the splitter through converterSupport', () => {
    const g = new Graph();
    const x = g.placeholder('x');
    x.meta.tensorMeta = { shape: [1, 1, 7, 7], dtype: 'float32' };
    const ok = g.callFunction(getAccOp('adaptive_avg_pool2d'), [], { input: x, output_size: [7, 1] });
    const bad = g.callFunction(getAccOp('adaptive_avg_pool2d'), [], { input: x, output_size: [3, 3] });
    const method = g.callMethod('relu', [x]);
    g.output([ok, bad, method]);
    expect(converterSupport(x)).toEqual({ supported: true });
    expect(converterSupport(ok)).toEqual({ supported: true });
    expect(converterSupport(bad)).toEqual({ supported: false, reason: 'acc.adaptive_avg_pool2d: input size 7 is not a multiple of output size 3 (spatial dim 0); windows would vary' });
    expect(converterSupport(method)).toEqual({ supported: false, reason: "method call 'relu' is not an acc op (run accTrace first)" });
  });
});

describe('NetworkInterpreter: precision', () => {
  it('float16 casts float inputs in and outputs back, stores float constants in fp16 and leaves integers alone', () => {
    const fn = (x: Tensor, i: Tensor) => [acc('linear', { input: x, weight: W, bias: B }), acc('add', { input: i, other: 1 })];
    const gm = accTrace(symbolicTrace(fn), [Tensor.randn([2, 16]), Tensor.fromArray([1, 2], 'int32')]);
    const r = new NetworkInterpreter(gm, undefined, { precision: 'float16' }).run();
    const net = r.network;
    expect(net.inputs.map((t) => t.dtype)).toEqual(['float32', 'int32']);
    expect(net.layers[0]).toMatchObject({ name: '[CAST]-[placeholder]-[x]', type: 'cast', params: { toType: 'float16' } });
    const consts = net.layers.filter((l) => l.type === 'constant').map((l) => l.type === 'constant' && l.params.value.dtype);
    expect(consts).toEqual(['float16', 'float16', 'int32']);
    const last = net.layers.find((l) => l.name === '[CAST]-[output]-[output0]');
    expect(last?.params).toEqual({ toType: 'float32' });
    expect(net.layers.filter((l) => l.type === 'cast')).toHaveLength(2);
    expect(r.outputDtypes).toEqual(['float32', 'int32']);
    expect(net.outputs.map((t) => t.dtype)).toEqual(['float32', 'int32']);
    // Every float tensor inside the network is fp16: only the casts change precision.
    for (const l of net.layers) {
      if (l.type === 'cast') continue;
      for (const t of [...l.inputs, ...l.outputs]) expect(['float16', 'int32']).toContain(t.dtype);
    }
  });

  it('bfloat16 computes a float16 graph in bfloat16 and returns float16', () => {
    const gm = accTrace(symbolicTrace((x: Tensor) => acc('relu', { input: x })), [Tensor.randn([3], { dtype: 'float16' })]);
    const net = new NetworkInterpreter(gm, undefined, { precision: 'bfloat16' }).run().network;
    expect(net.layers.map((l) => `${l.type}:${l.outputs[0]!.dtype}`)).toEqual(['cast:bfloat16', 'activation:bfloat16', 'cast:float16']);
  });
});

describe('NetworkInterpreter: outputs and names', () => {
  it('names every layer [LAYER]-[acc.op]-[node] after a node of the graph', () => {
    const gm = convNet();
    const { network } = new NetworkInterpreter(gm).run();
    const nodes = new Set(gm.graph.nodeList().map((n) => n.name));
    for (const l of network.layers) {
      const m = /^\[([A-Z_]+)\]-\[(acc\.[a-z0-9_]+|get_attr|placeholder|output)\]-\[(\w+?)\](?:_[a-z_]+)?$/.exec(l.name);
      expect(m, l.name).not.toBeNull();
      expect(m![1]).toBe(l.type.toUpperCase());
      expect(nodes.has(m![3]!) || m![2] === 'output', l.name).toBe(true);
    }
    expect(network.layers.map((l) => l.name)).toContain('[CONVOLUTION]-[acc.conv2d]-[conv2d]');
    expect(network.layers.map((l) => l.name)).toContain('[CONSTANT]-[get_attr]-[conv_weight]');
    expect(network.layers.map((l) => l.name)).toContain('[CONSTANT]-[acc.batch_norm]-[batch_norm]_scale');
  });

  it('marks tuple outputs output0.., and passes inputs and repeated tensors through identity layers', () => {
    const fn = (x: Tensor, y: Tensor) => {
      const r = acc('relu', { input: x });
      return [r, [y, r]];
    };
    const r = new NetworkInterpreter(accTrace(symbolicTrace(fn), [Tensor.randn([2]), Tensor.randn([3])])).run();
    expect(r.outputNames).toEqual(['output0', 'output1', 'output2']);
    expect(r.inputNames).toEqual(['x', 'y']);
    expect(printNetwork(r.network)).toBe([
      "network 'fn'",
      '  input x: float32[2]',
      '  input y: float32[3]',
      '  [ACTIVATION]-[acc.relu]-[relu]: activation(op=relu, alpha=0, beta=0) (x: float32[2]) -> output0: float32[2]',
      '  [IDENTITY]-[output]-[output1]: identity() (y: float32[3]) -> output1: float32[3]',
      '  [IDENTITY]-[output]-[output2]: identity() (output0: float32[2]) -> output2: float32[2]',
      '  output output0: float32[2]',
      '  output output1: float32[3]',
      '  output output2: float32[2]',
    ].join('\n'));
  });

  it('refuses a graph output that is not a tensor', () => {
    const gm = accTrace(symbolicTrace((x: Tensor) => acc('size', { input: x, dim: 0 })), [Tensor.randn([2])]);
    expect(() => new NetworkInterpreter(gm).run()).toThrow(/output 0 \('size'\) is not a tensor in the network \(got 2\)/);
  });
});
