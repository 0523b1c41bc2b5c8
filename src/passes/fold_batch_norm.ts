import type { GraphModule } from '../ir/graph_module.js';
import { isNode, type AnyNode, type Argument, type Node } from '../ir/node.js';
import { isFloating } from '../tensor/dtype.js';
import { Tensor } from '../tensor/tensor.js';
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
 * @example
 * // y = acc.batch_norm(acc.conv2d(x, w, b), mean, var, gamma, beta)  →  y = acc.conv2d(x, w', b')
 * foldBatchNorm(gm);
 */
export const foldBatchNorm = definePass('foldBatchNorm', (gm: GraphModule) => {
  let modified = false;
  for (const bn of gm.graph.nodes()) {
    if (accOpName(bn) !== 'batch_norm') continue;
    const layer = bn.kwargs['input'];
    if (isNode(layer) && foldInto(gm, bn, layer)) modified = true;
  }
  if (modified) gm.deleteUnusedAttributes();
  return { gm, modified };
}, { runsAfter: ['constFold'] }); // needs the weights as constants, which folding produces

/** Folds `bn` into `layer` if every condition holds; returns whether it did. */
function foldInto(gm: GraphModule, bn: AnyNode, layer: AnyNode): boolean {
  const kind = FOLDABLE[accOpName(layer) ?? ''];
  if (kind === undefined || layer.users.size !== 1) return false;
  const weight = constant(gm, layer.kwargs['weight']);
  const bias = optionalConstant(gm, layer.kwargs['bias']);
  const mean = constant(gm, bn.kwargs['running_mean']);
  const variance = constant(gm, bn.kwargs['running_var']);
  const gamma = optionalConstant(gm, bn.kwargs['weight']);
  const beta = optionalConstant(gm, bn.kwargs['bias']);
  const eps = bn.kwargs['eps'] ?? 1e-5;
  const groups = layer.kwargs['groups'] ?? 1;
  if (!weight || !mean || !variance || bias === false || gamma === false || beta === false) return false;
  if (typeof eps !== 'number' || typeof groups !== 'number' || !isFloating(weight.dtype)) return false;
  const outMeta = tensorMetaOf(layer);
  const rank = outMeta?.shape.length;
  if (rank !== (kind === 'linear' ? 2 : weight.rank)) return false;
  const channels = kind === 'transposed' ? weight.shape[1]! * groups : weight.shape[0]!;
  for (const t of [bias, mean, variance, gamma, beta]) {
    if (t && (t.rank !== 1 || t.numel !== channels)) return false;
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
  const w = weight.toFloat64();
  if (kind === 'transposed') {
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
    const per = weight.numel / channels;
    for (let c = 0; c < channels; c++) {
      const s = scale[c]!;
      for (let e = c * per; e < (c + 1) * per; e++) w[e] *= s;
    }
  }
  const b0 = bias?.toFloat64();
  const newBias = new Float64Array(channels);
  for (let c = 0; c < channels; c++) newBias[c] = (b0 ? b0[c]! : 0) * scale[c]! + shift[c]!;

  const graph = gm.graph;
  const attr = (suffix: string, t: Tensor): Node<'get_attr'> => {
    const n = graph.insertingBefore(layer, () => graph.getAttr(gm.addConstant(`${layer.name}_${suffix}`, t)));
    n.meta.tensorMeta = { shape: t.shape, dtype: t.dtype };
    return n;
  };
  const old = [layer.kwargs['weight'], layer.kwargs['bias'], ...Object.values(bn.kwargs)];
  layer.updateKwarg('weight', attr('bn_weight', Tensor.fromNumbers(w, weight.shape, weight.dtype)));
  layer.updateKwarg('bias', attr('bn_bias', Tensor.fromNumbers(newBias, [channels], bias?.dtype ?? weight.dtype)));
  bn.replaceAllUsesWith(layer);
  graph.eraseNode(bn);
  for (const a of old) {
    if (isGetAttr(a) && !a.isErased && a.users.size === 0) graph.eraseNode(a);
  }
  return true;
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
