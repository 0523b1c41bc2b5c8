/**
 * Q/DQ insertion: rewrites an acc graph so the chosen layers read their quantized inputs through
 * quantize → dequantize pairs (acc.quantize_per_tensor / acc.quantize_per_channel, then
 * acc.dequantize), which the converters turn into TensorRT-style Q/DQ layers. Activations are
 * symmetric int8 per tensor (scale = amax / 127, zero point 0), weights symmetric int8 per
 * output channel; in the FP8 format (float8e4m3) scales are amax / 448 and weights per tensor.
 * An activation read by several quantized layers gets one pair, placed before its first quantized
 * reader; readers that stay float keep reading the float value.
 */
import { accDequantize, accQuantizePerChannel, accQuantizePerTensor } from '../acc_ops/ops/quant.js';
import type { GraphModule } from '../ir/graph_module.js';
import type { AnyNode, Node, TensorMeta } from '../ir/node.js';
import { definePass, tensorMetaOf, type NamedPass, type PassResult } from '../passes/pass_manager.js';
import { Tensor } from '../tensor/tensor.js';
import { nodesByName } from './graph_copy.js';
import type { LayerPlan, QdqInput } from './placement.js';
import { perChannelScales, scaleOf, type QuantFormat } from './scales.js';

function metaOf(n: AnyNode): TensorMeta {
  const m = tensorMetaOf(n);
  if (!m) throw new Error(`insertQdq: node '${n.name}' has no recorded shape/dtype (run accTrace or ShapeProp first)`);
  return m;
}

/** A constant registered on `gm` and read by a new get_attr node before `before`. */
function constantNode(gm: GraphModule, before: AnyNode, base: string, t: Tensor): Node<'get_attr'> {
  const graph = gm.graph;
  const n = graph.insertingBefore(before, () => graph.getAttr(gm.addConstant(base, t)));
  n.meta.tensorMeta = { shape: t.shape, dtype: t.dtype };
  return n;
}

/** quantize_per_tensor(value, scale, 0, format) → dequantize, before `before`; returns the dequantize. */
function perTensorPair(gm: GraphModule, value: AnyNode, scale: number, before: AnyNode, format: QuantFormat): AnyNode {
  const graph = gm.graph;
  const input = metaOf(value);
  return graph.insertingBefore(before, () => {
    const q = graph.callFunction(accQuantizePerTensor, [], { input: value, scale, zero_point: 0, dtype: format }, `${value.name}_quant`);
    q.meta.tensorMeta = accQuantizePerTensor.infer({ input, scale, zero_point: 0, dtype: format });
    const dq = graph.callFunction(accDequantize, [], { input: q }, `${value.name}_dequant`);
    dq.meta.tensorMeta = accDequantize.infer({ input: metaOf(q) });
    return dq;
  });
}

/** quantize_per_channel(weight, scales, zeros, axis, int8) → dequantize, before `before`. */
function perChannelPair(gm: GraphModule, weight: AnyNode, tensor: Tensor, axis: number, before: AnyNode): AnyNode {
  const graph = gm.graph;
  const scales = Tensor.fromStorage(perChannelScales(tensor, axis), [tensor.shape[axis]!], 'float32');
  const zeros = Tensor.zeros([tensor.shape[axis]!], 'int32');
  const s = constantNode(gm, before, `${weight.name}_scale`, scales);
  const z = constantNode(gm, before, `${weight.name}_zero_point`, zeros);
  const input = metaOf(weight);
  return graph.insertingBefore(before, () => {
    const q = graph.callFunction(accQuantizePerChannel, [], { input: weight, scales: s, zero_points: z, axis, dtype: 'int8' }, `${weight.name}_quant`);
    q.meta.tensorMeta = accQuantizePerChannel.infer({ input, scales: metaOf(s), zero_points: metaOf(z), axis, dtype: 'int8' });
    const dq = graph.callFunction(accDequantize, [], { input: q }, `${weight.name}_dequant`);
    dq.meta.tensorMeta = accDequantize.infer({ input: metaOf(q) });
    return dq;
  });
}

/** The weight's own values: the get_attr's tensor. */
function weightTensor(gm: GraphModule, n: AnyNode, layer: string): Tensor {
  const v = n.op === 'get_attr' ? gm.getAttr(n.target) : undefined;
  if (!(v instanceof Tensor)) throw new Error(`insertQdq: the weight '${n.name}' of layer '${layer}' is not a constant tensor`);
  return v;
}

/**
 * Rewrites `gm` in place so every layer of `layers` reads its `inputs` through Q/DQ pairs of
 * `format` (default int8); activation scales come from `amax` (by tensor name), weight scales
 * from the weights.
 *
 * @example
 * const layers = planLayers(gm);
 * const { amax } = await collectAmax(gm, activationTensors(layers), data, opts);
 * insertQdq(gm, layers, amax);
 */
export function insertQdq(gm: GraphModule, layers: readonly LayerPlan[], amax: ReadonlyMap<string, number>, format: QuantFormat = 'int8'): PassResult {
  const nodes = nodesByName(gm.graph);
  const activations = new Map<string, AnyNode>();
  const weights = new Map<string, AnyNode>();
  const find = (name: string, layer: string): AnyNode => {
    const n = nodes.get(name);
    if (!n) throw new Error(`insertQdq: layer '${layer}' refers to '${name}', which is not in the graph`);
    return n;
  };
  const pairFor = (input: QdqInput, layer: AnyNode): AnyNode => {
    const value = find(input.tensor, layer.name);
    if (input.kind === 'activation') {
      let dq = activations.get(input.tensor);
      if (!dq) {
        const a = amax.get(input.tensor);
        if (a === undefined) throw new Error(`insertQdq: no calibrated amax for tensor '${input.tensor}' (input '${input.slot}' of layer '${layer.name}')`);
        activations.set(input.tensor, (dq = perTensorPair(gm, value, scaleOf(a, format), layer, format)));
      }
      return dq;
    }
    const key = `${input.tensor}/${input.axis}`;
    let dq = weights.get(key);
    if (!dq) {
      const w = weightTensor(gm, value, layer.name);
      try {
        if (format === 'float8e4m3' && input.axis !== null) throw new Error('FP8 weights are quantized per tensor (the plan asks for per-channel scales)');
        dq = input.axis === null ? perTensorPair(gm, value, scaleOf(maxAbs(w), format), layer, format) : perChannelPair(gm, value, w, input.axis, layer);
      } catch (e) {
        throw new Error(`insertQdq: weight '${value.name}' of layer '${layer.name}': ${e instanceof Error ? e.message : String(e)}`, { cause: e });
      }
      weights.set(key, dq);
    }
    return dq;
  };
  const position = new Map<string, number>();
  for (const n of gm.graph.nodes()) position.set(n.name, position.size);
  // In graph order, so a shared pair lands before the first of its quantized readers.
  const ordered = [...layers].sort((a, b) => (position.get(a.node) ?? -1) - (position.get(b.node) ?? -1));
  let modified = false;
  for (const plan of ordered) {
    const layer = find(plan.node, plan.node);
    for (const input of plan.inputs) {
      const current = layer.kwargs[input.slot];
      if (current !== find(input.tensor, plan.node)) {
        throw new Error(`insertQdq: input '${input.slot}' of layer '${plan.node}' is not '${input.tensor}' (the plan is for another graph)`);
      }
      layer.updateKwarg(input.slot, pairFor(input, layer));
      modified = true;
    }
  }
  return { gm, modified };
}

function maxAbs(t: Tensor): number {
  let m = 0;
  for (const v of t.toFloat32()) m = Math.max(m, Math.abs(v));
  return m;
}

/**
 * insertQdq as a named pass for a PassManager pipeline; it runs after batch-norm folding, so
 * weights are quantized as the engine will use them.
 *
 * @example
 * new PassManager([...defaultPasses(), insertQdqPass(layers, amax)]).run(gm);
 */
export function insertQdqPass(layers: readonly LayerPlan[], amax: ReadonlyMap<string, number>, format: QuantFormat = 'int8'): NamedPass {
  return definePass('insertQdq', (gm) => insertQdq(gm, layers, amax, format), { runsAfter: ['constFold', 'foldBatchNorm'] });
}
