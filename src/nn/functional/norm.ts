/** Normalization F functions (batch, layer, group and instance norm), mapped onto the norm acc ops. */
import type { Emitter, MappingRule } from '../../acc_ops/mapping.js';
import { describeValue } from '../../acc_ops/registry.js';
import { sig, type Kwargs } from '../../ir/signature.js';
import type { Tensor } from '../../tensor/tensor.js';
import { boolArg, isInt, isIntList, numberArg, optTensorArg, tensorArg } from './args.js';
import { defineF, type FArgs } from './define.js';

type OptT = Tensor | null;
export interface BatchNormOpts { weight?: OptT; bias?: OptT; training?: boolean; momentum?: number; eps?: number }

/**
 * Batch normalization. Inference form (running statistics) unless `training`, which normalizes
 * with the batch's own statistics; running statistics are never updated (this library runs
 * inference), so `momentum` has no effect.
 *
 * @example
 * F.batchNorm(x, runningMean, runningVar, weight, bias, false, 0.1, 1e-5);
 * F.batchNorm(x, runningMean, runningVar, { weight, bias, eps: 1e-3 });
 */
export const batchNorm = defineF<FArgs<[input: Tensor, runningMean: OptT, runningVar: OptT],
  [weight?: OptT, bias?: OptT, training?: boolean, momentum?: number, eps?: number], BatchNormOpts>>(
  'batchNorm',
  sig('input', 'runningMean', 'runningVar', ['weight', null], ['bias', null], ['training', false], ['momentum', 0.1], ['eps', 1e-5]),
  (what): MappingRule => ({
    custom: (kw, e) => {
      const input = tensorArg(kw, 'input', what);
      const eps = numberArg(kw, 'eps', what);
      if (boolArg(kw, 'training', what)) return batchStatsNorm(e, input, kw, eps, what);
      const mean = optTensorArg(kw, 'runningMean', what);
      const variance = optTensorArg(kw, 'runningVar', what);
      if (!mean || !variance) throw new TypeError(`${what}: 'runningMean' and 'runningVar' are required when not training`);
      return e.tensor('batch_norm', {
        input, running_mean: mean, running_var: variance, weight: kw['weight'], bias: kw['bias'], eps,
      });
    },
  }));

/** (x − mean) / √(var + eps) × weight + bias with the biased statistics over every dim but the channel dim (1). */
function batchStatsNorm(e: Emitter, input: Tensor, kw: Kwargs, eps: number, what: string): Tensor {
  const shape = e.meta(input).shape;
  if (shape.length < 2) throw new RangeError(`${what}: expected an input of rank 2 or more, got shape [${shape.join(', ')}]`);
  const dims = [0, ...shape.slice(2).map((_, i) => i + 2)];
  if (shape.reduce((n, d, i) => (i === 1 ? n : n * d), 1) <= 1) {
    throw new RangeError(`${what}: expected more than 1 value per channel when training, got input shape [${shape.join(', ')}]`);
  }
  const mean = e.tensor('mean', { input, dim: dims, keepdim: true });
  const centered = e.tensor('sub', { input, other: mean });
  const variance = e.tensor('mean', { input: e.tensor('mul', { input: centered, other: centered }), dim: dims, keepdim: true });
  let y = e.tensor('mul', { input: centered, other: e.tensor('rsqrt', { input: e.tensor('add', { input: variance, other: eps }) }) });
  const perChannel = [shape[1]!, ...shape.slice(2).map(() => 1)];
  const weight = optTensorArg(kw, 'weight', what);
  const bias = optTensorArg(kw, 'bias', what);
  if (weight) y = e.tensor('mul', { input: y, other: e.tensor('reshape', { input: weight, shape: perChannel }) });
  if (bias) y = e.tensor('add', { input: y, other: e.tensor('reshape', { input: bias, shape: perChannel }) });
  return y;
}

/**
 * Layer normalization over the trailing `normalizedShape` dims (an int means one dim).
 *
 * @example F.layerNorm(x, [768], w, b, { eps: 1e-12 })
 */
export const layerNorm = defineF<FArgs<[input: Tensor, normalizedShape: number | readonly number[]],
  [weight?: OptT, bias?: OptT, eps?: number], { weight?: OptT; bias?: OptT; eps?: number }>>(
  'layerNorm', sig('input', 'normalizedShape', ['weight', null], ['bias', null], ['eps', 1e-5]),
  (what): MappingRule => ({
    custom: (kw, e) => {
      const ns = kw['normalizedShape'];
      if (!isInt(ns) && !isIntList(ns)) {
        throw new TypeError(`${what}: argument 'normalizedShape' expects an int or a list of ints, got ${describeValue(ns)}`);
      }
      return e.tensor('layer_norm', {
        input: kw['input'], normalized_shape: isInt(ns) ? [ns] : ns, weight: kw['weight'], bias: kw['bias'], eps: kw['eps'],
      });
    },
  }));

/** Group normalization: channels split into `numGroups` groups, each normalized over its channels and positions. @example F.groupNorm(x, 32, w, b) */
export const groupNorm = defineF<FArgs<[input: Tensor, numGroups: number],
  [weight?: OptT, bias?: OptT, eps?: number], { weight?: OptT; bias?: OptT; eps?: number }>>(
  'groupNorm', sig('input', 'numGroups', ['weight', null], ['bias', null], ['eps', 1e-5]),
  { to: 'group_norm', rename: { numGroups: 'num_groups' } });

export interface InstanceNormOpts {
  runningMean?: OptT; runningVar?: OptT; weight?: OptT; bias?: OptT; useInputStats?: boolean; momentum?: number; eps?: number;
}
/**
 * Instance normalization: each (sample, channel) over its positions; with `useInputStats: false`
 * the running statistics are used instead (a batch norm). Running statistics are never updated.
 *
 * @example F.instanceNorm(x, { weight: w, bias: b })
 */
export const instanceNorm = defineF<FArgs<[input: Tensor],
  [runningMean?: OptT, runningVar?: OptT, weight?: OptT, bias?: OptT, useInputStats?: boolean, momentum?: number, eps?: number], InstanceNormOpts>>(
  'instanceNorm',
  sig('input', ['runningMean', null], ['runningVar', null], ['weight', null], ['bias', null], ['useInputStats', true], ['momentum', 0.1], ['eps', 1e-5]),
  (what): MappingRule => ({
    custom: (kw, e) => {
      const common = { input: tensorArg(kw, 'input', what), weight: kw['weight'], bias: kw['bias'], eps: numberArg(kw, 'eps', what) };
      if (boolArg(kw, 'useInputStats', what)) return e.tensor('instance_norm', common);
      const mean = optTensorArg(kw, 'runningMean', what);
      const variance = optTensorArg(kw, 'runningVar', what);
      if (!mean || !variance) throw new TypeError(`${what}: 'runningMean' and 'runningVar' are required when 'useInputStats' is false`);
      return e.tensor('batch_norm', { ...common, running_mean: mean, running_var: variance });
    },
  }));
