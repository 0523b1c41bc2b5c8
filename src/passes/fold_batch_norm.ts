import type { GraphModule } from '../ir/graph_module.js';
import { isNode, type AnyNode, type Argument, type Node } from '../ir/node.js';
import { quantizePerChannel, quantizePerTensor } from '../kernels/reference/quant.js';
import { isDType, isFloating } from '../tensor/dtype.js';
import { Tensor, type QuantParams } from '../tensor/tensor.js';
import { accOpName, definePass, tensorMetaOf } from './pass_manager.js';

/** Layers batch norm folds into, and where their output channels sit in the weight. */
const FOLDABLE: Readonly<Record<string, 'out_first' | 'transposed' | 'linear'>> = {
  conv1d: 'out_first', conv2d: 'out_first', conv3d: 'out_first', // weight [out, in/groups, ...k]
  conv_transpose1d: 'transposed', conv_transpose2d: 'transposed', conv_transpose3d: 'transposed', // [in, out/groups, ...k]
  linear: 'linear', // [out, in]
};

/**
 * Folds inference batch norm into the conv / conv-transpose / linear that feeds it:
 * bn(conv(x, W, b)) = conv(x, W * s, b * s + (beta - mean * s)) with s = gamma / sqrt(var + eps),
 * per output channel. Applies when the layer's output has no other user, its weight and
 * bias and the norm's statistics are constants (get_attr), and the layer's output is
 * batched (channels in dim 1: a rank-2 linear output, a conv output of the weight's rank),
 * which needs node.meta.tensorMeta. New weights are computed in float64 and registered as
 * new constants: the originals may be shared and are never changed. acc.batch_norm is
 * always the inference form (running statistics), so folding never changes training behaviour.
 *
 * In a graph that is already quantized (explicit Q/DQ), the weight is `dequantize(codes)` with
 * the codes an integer constant or the quantize of a float constant. The fold is then the one
 * that would have happened before quantization: the per-channel weight scales become
 * scale * |s| and the codes of channels with s < 0 change sign, so the dequantized weight is
 * exactly s times the old one (up to the float32 rounding of the new scale). That needs the
 * weight quantized per tensor or per channel along the output-channel axis (dim 0 of a conv
 * or linear weight; dim 1 of a conv-transpose weight, whose groups must then be 1, since
 * index j of dim 1 is output channel j of every group), and, where a sign changes, symmetric
 * int8 codes (zero point 0, no -128). The result is per-channel along that axis.
 *
 * @example
 * // y = acc.batch_norm(acc.conv2d(x, w, b), mean, var, gamma, beta)  →  y = acc.conv2d(x, w', b')
 * foldBatchNorm(gm);
 */
export const foldBatchNorm = definePass('foldBatchNorm', (gm: GraphModule) => {
  let modified = false;
  for (const bn of gm.graph.nodes()) {
    if (accOpName(bn) !== 'batch_norm') continue;
    const layer = bn.kwargs['input'];
    if (isNode(layer) && layer.users.size === 1 && foldInto(gm, bn, layer)) modified = true;
  }
  if (modified) gm.deleteUnusedAttributes();
  return { gm, modified };
}, { runsAfter: ['constFold', 'qdqResidualRepair'] }); // needs constant weights (folding makes them), and no Q/DQ between layer and norm

/**
 * Whether foldBatchNorm would fold `bn` into `layer` once `bn` is the layer's only user (for
 * passes that first remove what sits between them, as qdqResidualRepair removes a Q/DQ pair).
 *
 * @example
 * if (canFoldBatchNorm(gm, bn, conv)) bn.replaceInputWith(dq, conv); // foldBatchNorm then folds it
 */
export function canFoldBatchNorm(gm: GraphModule, bn: AnyNode, layer: AnyNode): boolean {
  return accOpName(bn) === 'batch_norm' && planFold(gm, bn, layer) !== undefined;
}

/** The weight a layer reads: a float constant, or a dequantized integer one. */
type LayerWeight =
  | { readonly kind: 'float'; readonly value: Tensor }
  | { readonly kind: 'quantized'; readonly dq: AnyNode; readonly codes: Tensor; readonly qparams: QuantParams };

/** Everything a fold needs, validated. */
interface FoldPlan {
  readonly kind: 'out_first' | 'transposed' | 'linear';
  readonly weight: LayerWeight;
  readonly bias: Tensor | null;
  /** Per output channel: the norm's multiplier s and offset beta - mean * s. */
  readonly scale: Float64Array;
  readonly shift: Float64Array;
  readonly groups: number;
}

/** Folds `bn` into `layer` if every condition holds; returns whether it did. */
function foldInto(gm: GraphModule, bn: AnyNode, layer: AnyNode): boolean {
  const plan = planFold(gm, bn, layer);
  if (!plan) return false;
  const graph = gm.graph;
  const attr = (before: AnyNode, suffix: string, t: Tensor): Node<'get_attr'> => {
    const n = graph.insertingBefore(before, () => graph.getAttr(gm.addConstant(`${layer.name}_${suffix}`, t)));
    n.meta.tensorMeta = { shape: t.shape, dtype: t.dtype, ...(t.qparams ? { qparams: t.qparams } : {}) };
    return n;
  };
  const { scale, shift, bias, weight } = plan;
  const channels = scale.length;
  const old = [layer.kwargs['weight'], layer.kwargs['bias'], ...Object.values(bn.kwargs)];
  if (weight.kind === 'float') {
    layer.updateKwarg('weight', attr(layer, 'bn_weight', Tensor.fromNumbers(scaledWeight(plan, weight.value), weight.value.shape, weight.value.dtype)));
  } else {
    const src = weight.dq.kwargs['input'];
    weight.dq.updateKwarg('input', attr(weight.dq, 'bn_weight', scaledCodes(plan, weight.codes, weight.qparams)));
    // A quantize of a float constant is replaced by its (rescaled) codes.
    if (isNode(src) && src.op === 'call_function' && src.users.size === 0) {
      old.push(...Object.values(src.kwargs));
      graph.eraseNode(src);
    } else old.push(src);
  }
  const b0 = bias?.toFloat64();
  const newBias = new Float64Array(channels);
  for (let c = 0; c < channels; c++) newBias[c] = (b0 ? b0[c]! : 0) * scale[c]! + shift[c]!;
  const biasDtype = bias?.dtype ?? (weight.kind === 'float' ? weight.value.dtype : 'float32');
  layer.updateKwarg('bias', attr(layer, 'bn_bias', Tensor.fromNumbers(newBias, [channels], biasDtype)));
  bn.replaceAllUsesWith(layer);
  graph.eraseNode(bn);
  for (const a of old) {
    if (isGetAttr(a) && !a.isErased && a.users.size === 0) graph.eraseNode(a);
  }
  return true;
}

/** Checks every condition of a fold of `bn` into `layer` (except the layer's users) and computes s. */
function planFold(gm: GraphModule, bn: AnyNode, layer: AnyNode): FoldPlan | undefined {
  const kind = FOLDABLE[accOpName(layer) ?? ''];
  if (kind === undefined) return undefined;
  const weight = layerWeight(gm, layer.kwargs['weight']);
  const bias = optionalConstant(gm, layer.kwargs['bias']);
  const mean = constant(gm, bn.kwargs['running_mean']);
  const variance = constant(gm, bn.kwargs['running_var']);
  const gamma = optionalConstant(gm, bn.kwargs['weight']);
  const beta = optionalConstant(gm, bn.kwargs['bias']);
  const eps = bn.kwargs['eps'] ?? 1e-5;
  const groups = layer.kwargs['groups'] ?? 1;
  if (!weight || !mean || !variance || bias === false || gamma === false || beta === false) return undefined;
  if (typeof eps !== 'number' || typeof groups !== 'number') return undefined;
  const w = weight.kind === 'float' ? weight.value : weight.codes;
  const rank = tensorMetaOf(layer)?.shape.length;
  if (rank !== (kind === 'linear' ? 2 : w.rank)) return undefined;
  const channels = kind === 'transposed' ? w.shape[1]! * groups : w.shape[0]!;
  for (const t of [bias, mean, variance, gamma, beta]) {
    if (t && (t.rank !== 1 || t.numel !== channels)) return undefined;
  }
  const m = mean.toFloat64();
  const v = variance.toFloat64();
  const g = gamma?.toFloat64();
  const b = beta?.toFloat64();
  const scale = new Float64Array(channels);
  const shift = new Float64Array(channels);
  for (let c = 0; c < channels; c++) {
    scale[c] = (g ? g[c]! : 1) / Math.sqrt(v[c]! + eps);
    shift[c] = (b ? b[c]! : 0) - m[c]! * scale[c]!;
  }
  const plan: FoldPlan = { kind, weight, bias, scale, shift, groups };
  return weight.kind === 'float' || quantizedFoldable(plan, weight.codes, weight.qparams) ? plan : undefined;
}

/** The layer's weight: a float constant, or dequantize of integer codes that only this layer reads. */
function layerWeight(gm: GraphModule, a: Argument): LayerWeight | undefined {
  const direct = constant(gm, a);
  if (direct) return isFloating(direct.dtype) ? { kind: 'float', value: direct } : undefined;
  if (!isNode(a) || accOpName(a) !== 'dequantize' || a.users.size !== 1) return undefined;
  const src = a.kwargs['input'];
  const codes = constant(gm, src) ?? quantizedConstant(gm, src);
  return codes?.qparams ? { kind: 'quantized', dq: a, codes, qparams: codes.qparams } : undefined;
}

/** The codes of quantize_per_tensor / _per_channel of a float constant with constant parameters, read by one node. */
function quantizedConstant(gm: GraphModule, a: Argument): Tensor | undefined {
  if (!isNode(a) || a.users.size !== 1) return undefined;
  const op = accOpName(a);
  const x = constant(gm, a.kwargs['input']);
  const dtype = a.kwargs['dtype'];
  if (!x || typeof dtype !== 'string' || !isDType(dtype)) return undefined;
  if (op === 'quantize_per_tensor') {
    const { scale, zero_point: zp } = a.kwargs;
    return typeof scale === 'number' && typeof zp === 'number' ? quantizePerTensor(x, scale, zp, dtype) : undefined;
  }
  if (op !== 'quantize_per_channel') return undefined;
  const scales = constant(gm, a.kwargs['scales']);
  const zps = constant(gm, a.kwargs['zero_points']);
  const axis = a.kwargs['axis'];
  return scales && zps && typeof axis === 'number' ? quantizePerChannel(x, scales, zps, axis, dtype) : undefined;
}

/** The output-channel axis of the weight, for per-channel quantization along it. */
function outAxis(plan: Pick<FoldPlan, 'kind'>): number {
  return plan.kind === 'transposed' ? 1 : 0;
}

/** Quantized weights: per tensor or along the output-channel axis, nonzero s, and symmetric int8 where a sign flips. */
function quantizedFoldable(plan: FoldPlan, codes: Tensor, q: QuantParams): boolean {
  const axis = outAxis(plan);
  if (q.axis !== undefined && q.axis !== axis) return false;
  if (plan.kind === 'transposed' && plan.groups !== 1) return false;
  const channels = plan.scale.length;
  const flips: boolean[] = [];
  for (let c = 0; c < channels; c++) {
    const s = plan.scale[c]!;
    if (!Number.isFinite(s) || s === 0) return false;
    const ch = q.axis === undefined ? 0 : c;
    const scaled = Math.fround(q.scale[ch]! * Math.abs(s));
    if (!(scaled > 0) || !Number.isFinite(1 / scaled)) return false;
    flips.push(s < 0);
    if (s < 0 && (codes.dtype !== 'int8' || q.zeroPoint[ch] !== 0)) return false;
  }
  if (!flips.includes(true)) return true;
  let ok = true;
  forEachChannel(codes, axis, (c, i) => { if (flips[c] && codes.data[i] === -128) ok = false; });
  return ok;
}

/** Calls `fn(channel, flatIndex)` for every element, with its index along `axis`. */
function forEachChannel(t: Tensor, axis: number, fn: (c: number, i: number) => void): void {
  const shape = t.shape;
  const channels = shape[axis]!;
  let inner = 1;
  for (let d = axis + 1; d < shape.length; d++) inner *= shape[d]!;
  for (let i = 0; i < t.numel; i++) fn(Math.floor(i / inner) % channels, i);
}

/** The float weight times s per output channel (in float64). */
function scaledWeight(plan: FoldPlan, weight: Tensor): Float64Array {
  const { scale, groups } = plan;
  const w = weight.toFloat64();
  if (plan.kind === 'transposed') {
    const inChannels = weight.shape[0]!;
    const outPerGroup = weight.shape[1]!;
    const inPerGroup = inChannels / groups;
    const k = weight.numel / (inChannels * outPerGroup);
    for (let i = 0; i < inChannels; i++) {
      const first = Math.floor(i / inPerGroup) * outPerGroup;
      for (let j = 0; j < outPerGroup; j++) {
        const s = scale[first + j]!;
        const base = (i * outPerGroup + j) * k;
        for (let e = 0; e < k; e++) w[base + e] *= s;
      }
    }
  } else {
    const per = weight.numel / scale.length;
    for (let c = 0; c < scale.length; c++) {
      const s = scale[c]!;
      for (let e = c * per; e < (c + 1) * per; e++) w[e] *= s;
    }
  }
  return w;
}

/** The codes with signs flipped where s < 0 and per-channel scales scale * |s| along the output-channel axis. */
function scaledCodes(plan: FoldPlan, codes: Tensor, q: QuantParams): Tensor {
  const axis = outAxis(plan);
  const channels = plan.scale.length;
  const scale = new Float32Array(channels);
  const zeroPoint = new Int32Array(channels);
  for (let c = 0; c < channels; c++) {
    const ch = q.axis === undefined ? 0 : c;
    scale[c] = q.scale[ch]! * Math.abs(plan.scale[c]!);
    zeroPoint[c] = q.zeroPoint[ch]!;
  }
  const values = codes.toFloat64();
  forEachChannel(codes, axis, (c, i) => { if (plan.scale[c]! < 0) values[i] = -values[i]!; });
  return new Tensor(Tensor.fromNumbers(values, codes.shape, codes.dtype).data, codes.shape, codes.dtype, { scale, zeroPoint, axis });
}

function isGetAttr(a: Argument): a is Node<'get_attr'> {
  return isNode(a) && a.op === 'get_attr';
}

/** The tensor a get_attr argument reads, or undefined. */
function constant(gm: GraphModule, a: Argument): Tensor | undefined {
  if (!isGetAttr(a)) return undefined;
  const v = gm.getAttr(a.target);
  return v instanceof Tensor ? v : undefined;
}

/** null for an absent optional tensor, the tensor for a constant, false for anything else. */
function optionalConstant(gm: GraphModule, a: Argument): Tensor | null | false {
  if (a === null || a === undefined) return null;
  return constant(gm, a) ?? false;
}
