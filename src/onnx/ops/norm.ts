/** ONNX normalizations: BatchNormalization (inference), InstanceNormalization, LayerNormalization, GroupNormalization. */
import type { Emitter } from '../../acc_ops/mapping.js';
import type { Tensor } from '../../tensor/tensor.js';
import { defineOnnxOp } from './define.js';
import { axisOf, floatAttr, input, intAttr, optInput, rankOf } from './values.js';

// Only Y is produced: the running statistics outputs exist for training.
defineOnnxOp({
  opType: 'BatchNormalization', inputs: ['X', 'scale', 'B', 'input_mean', 'input_var'],
  attrs: { epsilon: 1e-5, momentum: 0.9, training_mode: 0, spatial: 1 },
  map: (kw, e) => {
    if (intAttr(kw, 'training_mode') !== 0) throw new RangeError(`training_mode=1 is not supported (inference only)`);
    if (intAttr(kw, 'spatial') !== 1) throw new RangeError(`spatial=0 is not supported`);
    const y = e.tensor('batch_norm', {
      input: input(kw, 'X'), running_mean: input(kw, 'input_mean'), running_var: input(kw, 'input_var'),
      weight: input(kw, 'scale'), bias: input(kw, 'B'), eps: floatAttr(kw, 'epsilon'),
    });
    return [y, null, null];
  },
});

defineOnnxOp({
  opType: 'InstanceNormalization', inputs: ['input', 'scale', 'B'], attrs: { epsilon: 1e-5 },
  map: (kw, e) => e.tensor('instance_norm', {
    input: input(kw, 'input'), weight: input(kw, 'scale'), bias: input(kw, 'B'), eps: floatAttr(kw, 'epsilon'),
  }),
});

/** `t` reshaped to `shape` when it holds the same elements in another shape (a [1, C] scale for [C]). */
function asShape(e: Emitter, t: Tensor | null, shape: readonly number[], what: string): Tensor | null {
  if (t === null) return null;
  const have = e.meta(t).shape;
  if (have.length === shape.length && have.every((d, i) => d === shape[i])) return t;
  const n = shape.reduce((a, b) => a * b, 1);
  if (have.reduce((a, b) => a * b, 1) !== n) throw new RangeError(`${what} of shape [${have.join(', ')}] does not match the normalized shape [${shape.join(', ')}]`);
  return e.tensor('reshape', { input: t, shape: [...shape] });
}

defineOnnxOp({
  opType: 'LayerNormalization', inputs: ['X', 'Scale', 'B?'], attrs: { axis: -1, epsilon: 1e-5, stash_type: 1 }, minOpset: 17,
  map: (kw, e) => {
    const x = input(kw, 'X');
    const axis = axisOf(intAttr(kw, 'axis'), rankOf(e, x));
    const normalized = e.meta(x).shape.slice(axis);
    const y = e.tensor('layer_norm', {
      input: x, normalized_shape: normalized, weight: asShape(e, input(kw, 'Scale'), normalized, 'Scale'),
      bias: asShape(e, optInput(kw, 'B'), normalized, 'B'), eps: floatAttr(kw, 'epsilon'),
    });
    return [y, null, null];
  },
});

/** Opset 18's per-group scale/bias [G] repeated to per-channel [C] (opset 21 gives [C] directly). */
function perChannel(e: Emitter, t: Tensor, groups: number, channels: number): Tensor {
  const n = e.meta(t).shape.reduce((a, b) => a * b, 1);
  if (n === channels) return t;
  if (n !== groups) throw new RangeError(`scale/bias has ${n} values; expected num_groups (${groups}) or channels (${channels})`);
  const g = e.tensor('reshape', { input: t, shape: [groups, 1] });
  return e.tensor('reshape', { input: e.tensor('expand', { input: g, sizes: [groups, channels / groups] }), shape: [channels] });
}

defineOnnxOp({
  opType: 'GroupNormalization', inputs: ['X', 'scale', 'bias'], attrs: { epsilon: 1e-5, num_groups: null, stash_type: 1 }, minOpset: 18,
  map: (kw, e) => {
    const x = input(kw, 'X');
    const groups = intAttr(kw, 'num_groups');
    const channels = e.meta(x).shape[1]!;
    const scale = input(kw, 'scale');
    const bias = input(kw, 'bias');
    return e.tensor('group_norm', {
      input: x, num_groups: groups, weight: perChannel(e, scale, groups, channels), bias: perChannel(e, bias, groups, channels),
      eps: floatAttr(kw, 'epsilon'),
    });
  },
});
