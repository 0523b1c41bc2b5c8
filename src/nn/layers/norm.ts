/** Per-sample normalization layers: LayerNorm, GroupNorm, InstanceNorm1d/2d/3d. */
import { Tensor } from '../../tensor/tensor.js';
import { F } from '../functional.js';
import { Module, Parameter } from '../module.js';
import { boolArg, checkChannels, checkInputRank, describe, intArg, isConcrete, knownShape, numberArg } from './args.js';
import { registerLayer, type LayerConfig } from './registry.js';
import { pyFloat, pyRepr } from './repr.js';
import { blendInto, channelStats, incrementCounter } from './running_stats.js';

/** Options of LayerNorm. */
export interface LayerNormOptions {
  /** Default 1e-5 (BERT uses 1e-12). */
  eps?: number;
  /** Learn a per-element scale (and bias) of the normalized shape (default true). */
  elementwiseAffine?: boolean;
  /** Learn the additive bias when elementwiseAffine (default true). */
  bias?: boolean;
}

/**
 * Normalizes over the trailing `normalizedShape` dims of each sample (torch.nn.LayerNorm).
 *
 * @example
 * new nn.LayerNorm(768, { eps: 1e-12 }).forward(Tensor.randn([2, 8, 768])).shape; // [2, 8, 768]
 */
export class LayerNorm extends Module {
  readonly normalizedShape: number[];
  readonly eps: number;
  readonly elementwiseAffine: boolean;
  weight: Parameter | null;
  bias: Parameter | null;

  constructor(normalizedShape: number | readonly number[], opts: LayerNormOptions = {}) {
    super();
    if (typeof normalizedShape !== 'number' && !(Array.isArray(normalizedShape) && normalizedShape.length > 0)) {
      throw new TypeError(`LayerNorm: normalizedShape must be an integer or a non-empty list of integers, got ${describe(normalizedShape)}`);
    }
    this.normalizedShape = (typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape])
      .map((d) => intArg('LayerNorm', 'normalizedShape', d));
    this.eps = numberArg('LayerNorm', 'eps', opts.eps ?? 1e-5, 0);
    this.elementwiseAffine = boolArg('LayerNorm', 'elementwiseAffine', opts.elementwiseAffine ?? true);
    const withBias = boolArg('LayerNorm', 'bias', opts.bias ?? true);
    this.weight = this.elementwiseAffine ? new Parameter(Tensor.ones(this.normalizedShape)) : null;
    this.bias = this.elementwiseAffine && withBias ? new Parameter(Tensor.zeros(this.normalizedShape)) : null;
  }

  override forward(input: Tensor): Tensor {
    return F.layerNorm(input, this.normalizedShape, this.weight, this.bias, { eps: this.eps });
  }

  config(): LayerConfig {
    return {
      args: [[...this.normalizedShape]],
      options: { eps: this.eps, elementwiseAffine: this.elementwiseAffine, bias: !this.elementwiseAffine || this.bias !== null },
    };
  }

  override extraRepr(): string {
    return `${pyRepr(this.normalizedShape)}, eps=${pyFloat(this.eps)}, elementwise_affine=${pyRepr(this.elementwiseAffine)}`;
  }
}
registerLayer(LayerNorm);

/** Options of GroupNorm. */
export interface GroupNormOptions {
  eps?: number;
  /** Learn a per-channel scale and shift (default true). */
  affine?: boolean;
}

/**
 * Splits the channels into groups and normalizes each group per sample (torch.nn.GroupNorm).
 *
 * @example
 * new nn.GroupNorm(8, 64).forward(Tensor.randn([2, 64, 16, 16])).shape; // [2, 64, 16, 16]
 */
export class GroupNorm extends Module {
  readonly numGroups: number;
  readonly numChannels: number;
  readonly eps: number;
  readonly affine: boolean;
  weight: Parameter | null;
  bias: Parameter | null;

  constructor(numGroups: number, numChannels: number, opts: GroupNormOptions = {}) {
    super();
    this.numGroups = intArg('GroupNorm', 'numGroups', numGroups);
    this.numChannels = intArg('GroupNorm', 'numChannels', numChannels);
    if (this.numChannels % this.numGroups !== 0) {
      throw new RangeError(`GroupNorm: numChannels (${this.numChannels}) must be divisible by numGroups (${this.numGroups})`);
    }
    this.eps = numberArg('GroupNorm', 'eps', opts.eps ?? 1e-5, 0);
    this.affine = boolArg('GroupNorm', 'affine', opts.affine ?? true);
    this.weight = this.affine ? new Parameter(Tensor.ones([this.numChannels])) : null;
    this.bias = this.affine ? new Parameter(Tensor.zeros([this.numChannels])) : null;
  }

  override forward(input: Tensor): Tensor {
    checkChannels('GroupNorm', input, this.numChannels);
    return F.groupNorm(input, this.numGroups, this.weight, this.bias, { eps: this.eps });
  }

  config(): LayerConfig {
    return { args: [this.numGroups, this.numChannels], options: { eps: this.eps, affine: this.affine } };
  }

  override extraRepr(): string {
    return `${this.numGroups}, ${this.numChannels}, eps=${pyFloat(this.eps)}, affine=${pyRepr(this.affine)}`;
  }
}
registerLayer(GroupNorm);

/** Options of InstanceNorm1d/2d/3d. */
export interface InstanceNormOptions {
  eps?: number;
  /** Weight of the new batch in the running statistics (default 0.1). */
  momentum?: number;
  /** Learn a per-channel scale and shift (default false). */
  affine?: boolean;
  /** Keep running statistics and use them in eval mode (default false). */
  trackRunningStats?: boolean;
}

/**
 * Shared implementation of InstanceNorm1d/2d/3d: each (sample, channel) is normalized over its
 * positions; with trackRunningStats, eval mode uses the running statistics and train mode
 * updates them on concrete tensors (the per-instance statistics averaged over the batch).
 */
abstract class InstanceNormNd extends Module {
  readonly numFeatures: number;
  readonly eps: number;
  readonly momentum: number;
  readonly affine: boolean;
  readonly trackRunningStats: boolean;
  weight: Parameter | null;
  bias: Parameter | null;
  declare running_mean: Tensor | null;
  declare running_var: Tensor | null;
  declare num_batches_tracked: Tensor | null;
  readonly #layer: string;
  readonly #rank: number;

  constructor(layer: string, rank: number, numFeatures: number, opts: InstanceNormOptions) {
    super();
    this.#layer = layer;
    this.#rank = rank;
    this.numFeatures = intArg(layer, 'numFeatures', numFeatures);
    this.eps = numberArg(layer, 'eps', opts.eps ?? 1e-5, 0);
    this.momentum = numberArg(layer, 'momentum', opts.momentum ?? 0.1, 0, 1);
    this.affine = boolArg(layer, 'affine', opts.affine ?? false);
    this.trackRunningStats = boolArg(layer, 'trackRunningStats', opts.trackRunningStats ?? false);
    this.weight = this.affine ? new Parameter(Tensor.ones([this.numFeatures])) : null;
    this.bias = this.affine ? new Parameter(Tensor.zeros([this.numFeatures])) : null;
    const track = this.trackRunningStats;
    this.registerBuffer('running_mean', track ? Tensor.zeros([this.numFeatures]) : null);
    this.registerBuffer('running_var', track ? Tensor.ones([this.numFeatures]) : null);
    this.registerBuffer('num_batches_tracked', track ? Tensor.zeros([], 'int64') : null);
  }

  override forward(input: Tensor): Tensor {
    checkInputRank(this.#layer, input, [this.#rank], `a ${this.#rank}D (batched)`);
    checkChannels(this.#layer, input, this.numFeatures);
    const useInputStats = this.training || !this.trackRunningStats;
    const y = F.instanceNorm(input, {
      runningMean: this.running_mean, runningVar: this.running_var, weight: this.weight, bias: this.bias,
      useInputStats, eps: this.eps,
    });
    if (this.training && this.trackRunningStats && isConcrete(input)) this.#updateRunningStats(input);
    return y;
  }

  #updateRunningStats(input: Tensor): void {
    const shape = knownShape(input)!;
    const positions = shape.slice(2);
    const dims = positions.map((_, i) => i + 2);
    const count = positions.reduce((n, d) => n * d, 1);
    incrementCounter(this.num_batches_tracked!);
    const { mean, unbiasedVar } = channelStats(input, dims, count);
    // Per-instance statistics [N·C] → averaged over the batch, as PyTorch's instance_norm does.
    const perChannel = (t: Tensor): Tensor => F.mean(F.reshape(t, [shape[0]!, this.numFeatures]), 0);
    blendInto(this.running_mean!, perChannel(mean), this.momentum);
    blendInto(this.running_var!, perChannel(unbiasedVar), this.momentum);
  }

  config(): LayerConfig {
    return {
      args: [this.numFeatures],
      options: { eps: this.eps, momentum: this.momentum, affine: this.affine, trackRunningStats: this.trackRunningStats },
    };
  }

  override extraRepr(): string {
    return `${this.numFeatures}, eps=${pyFloat(this.eps)}, momentum=${pyFloat(this.momentum)}, ` +
      `affine=${pyRepr(this.affine)}, track_running_stats=${pyRepr(this.trackRunningStats)}`;
  }
}

/**
 * Instance norm over [N, C, L] (torch.nn.InstanceNorm1d).
 *
 * @example
 * new nn.InstanceNorm1d(16).forward(Tensor.randn([2, 16, 32])).shape; // [2, 16, 32]
 */
export class InstanceNorm1d extends InstanceNormNd {
  constructor(numFeatures: number, opts: InstanceNormOptions = {}) {
    super('InstanceNorm1d', 3, numFeatures, opts);
  }
}
registerLayer(InstanceNorm1d);

/**
 * Instance norm over [N, C, H, W] (torch.nn.InstanceNorm2d), as in style-transfer networks.
 *
 * @example
 * new nn.InstanceNorm2d(64, { affine: true }).forward(Tensor.randn([1, 64, 32, 32]));
 */
export class InstanceNorm2d extends InstanceNormNd {
  constructor(numFeatures: number, opts: InstanceNormOptions = {}) {
    super('InstanceNorm2d', 4, numFeatures, opts);
  }
}
registerLayer(InstanceNorm2d);

/**
 * Instance norm over [N, C, D, H, W] (torch.nn.InstanceNorm3d).
 *
 * @example
 * new nn.InstanceNorm3d(8).forward(Tensor.randn([1, 8, 4, 8, 8]));
 */
export class InstanceNorm3d extends InstanceNormNd {
  constructor(numFeatures: number, opts: InstanceNormOptions = {}) {
    super('InstanceNorm3d', 5, numFeatures, opts);
  }
}
registerLayer(InstanceNorm3d);
