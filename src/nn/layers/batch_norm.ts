/** Batch normalization layers: BatchNorm1d/2d/3d (torch.nn.BatchNorm*). */
import { Tensor } from '../../tensor/tensor.js';
import { F } from '../functional.js';
import { Module, Parameter } from '../module.js';
import { boolArg, checkChannels, checkInputRank, intArg, isConcrete, knownShape, numberArg } from './args.js';
import { registerLayer, type LayerConfig } from './registry.js';
import { pyFloat, pyRepr } from './repr.js';
import { blendInto, channelStats, incrementCounter } from './running_stats.js';

/** Options of BatchNorm1d/2d/3d. */
export interface BatchNormOptions {
  /** Added to the variance for numerical stability (default 1e-5). */
  eps?: number;
  /** Weight of the new batch in the running statistics (default 0.1); null: cumulative average. */
  momentum?: number | null;
  /** Learn a per-channel scale and shift (default true). */
  affine?: boolean;
  /** Keep running_mean / running_var for eval mode (default true); otherwise batch statistics are always used. */
  trackRunningStats?: boolean;
}

/**
 * Shared implementation of BatchNorm1d/2d/3d. Eval mode normalizes with the running statistics
 * (acc.batch_norm). Train mode normalizes with the batch's statistics and, on concrete tensors,
 * updates running_mean / running_var (unbiased) with `momentum` and counts num_batches_tracked.
 * While tracing in train mode the graph computes the batch-statistics normalization; the buffer
 * update is a side effect a graph cannot record, so traced graphs leave the buffers unchanged.
 */
abstract class BatchNormNd extends Module {
  readonly numFeatures: number;
  readonly eps: number;
  readonly momentum: number | null;
  readonly affine: boolean;
  readonly trackRunningStats: boolean;
  weight: Parameter | null;
  bias: Parameter | null;
  declare running_mean: Tensor | null;
  declare running_var: Tensor | null;
  declare num_batches_tracked: Tensor | null;
  readonly #layer: string;
  readonly #ranks: readonly number[];

  constructor(layer: string, ranks: readonly number[], numFeatures: number, opts: BatchNormOptions) {
    super();
    this.#layer = layer;
    this.#ranks = ranks;
    this.numFeatures = intArg(layer, 'numFeatures', numFeatures);
    this.eps = numberArg(layer, 'eps', opts.eps ?? 1e-5, 0);
    this.momentum = opts.momentum === null ? null : numberArg(layer, 'momentum', opts.momentum ?? 0.1, 0, 1);
    this.affine = boolArg(layer, 'affine', opts.affine ?? true);
    this.trackRunningStats = boolArg(layer, 'trackRunningStats', opts.trackRunningStats ?? true);
    this.weight = this.affine ? new Parameter(Tensor.ones([this.numFeatures])) : null;
    this.bias = this.affine ? new Parameter(Tensor.zeros([this.numFeatures])) : null;
    const track = this.trackRunningStats;
    this.registerBuffer('running_mean', track ? Tensor.zeros([this.numFeatures]) : null);
    this.registerBuffer('running_var', track ? Tensor.ones([this.numFeatures]) : null);
    this.registerBuffer('num_batches_tracked', track ? Tensor.zeros([], 'int64') : null);
  }

  override forward(input: Tensor): Tensor {
    const ranks = this.#ranks;
    checkInputRank(this.#layer, input, ranks, ranks.map((r) => `${r}D`).join(' or '));
    checkChannels(this.#layer, input, this.numFeatures);
    const useBatchStats = this.training || this.running_mean === null || this.running_var === null;
    const y = F.batchNorm(input, this.running_mean, this.running_var, {
      weight: this.weight, bias: this.bias, training: useBatchStats, eps: this.eps,
    });
    if (this.training && this.trackRunningStats && isConcrete(input)) this.#updateRunningStats(input);
    return y;
  }

  /** PyTorch's train-mode update: factor = momentum, or 1/num_batches_tracked when momentum is null. */
  #updateRunningStats(input: Tensor): void {
    const shape = knownShape(input)!;
    const dims = [0, ...shape.slice(2).map((_, i) => i + 2)];
    const count = input.numel / this.numFeatures;
    const batches = incrementCounter(this.num_batches_tracked!);
    const factor = this.momentum ?? 1 / batches;
    const { mean, unbiasedVar } = channelStats(input, dims, count);
    blendInto(this.running_mean!, mean, factor);
    blendInto(this.running_var!, unbiasedVar, factor);
  }

  /** Resets the running statistics to mean 0, variance 1 and zero batches. */
  resetRunningStats(): void {
    if (!this.trackRunningStats) return;
    this.running_mean!.setData(Tensor.zeros([this.numFeatures]).data);
    this.running_var!.setData(Tensor.ones([this.numFeatures]).data);
    this.num_batches_tracked!.setData(Tensor.zeros([], 'int64').data);
  }

  config(): LayerConfig {
    return {
      args: [this.numFeatures],
      options: { eps: this.eps, momentum: this.momentum, affine: this.affine, trackRunningStats: this.trackRunningStats },
    };
  }

  override extraRepr(): string {
    return `${this.numFeatures}, eps=${pyFloat(this.eps)}, momentum=${this.momentum === null ? 'None' : pyFloat(this.momentum)}, ` +
      `affine=${pyRepr(this.affine)}, track_running_stats=${pyRepr(this.trackRunningStats)}`;
  }
}

/**
 * Batch norm over [N, C] or [N, C, L] (torch.nn.BatchNorm1d).
 *
 * @example
 * new nn.BatchNorm1d(64).eval().forward(Tensor.randn([8, 64])).shape; // [8, 64]
 */
export class BatchNorm1d extends BatchNormNd {
  constructor(numFeatures: number, opts: BatchNormOptions = {}) {
    super('BatchNorm1d', [2, 3], numFeatures, opts);
  }
}
registerLayer(BatchNorm1d);

/**
 * Batch norm over [N, C, H, W] (torch.nn.BatchNorm2d).
 *
 * @example
 * const bn = new nn.BatchNorm2d(64, { eps: 1e-5, momentum: 0.1 });
 * bn.forward(x); // train mode: batch statistics, running_mean/var updated
 * bn.eval().forward(x); // running statistics
 */
export class BatchNorm2d extends BatchNormNd {
  constructor(numFeatures: number, opts: BatchNormOptions = {}) {
    super('BatchNorm2d', [4], numFeatures, opts);
  }
}
registerLayer(BatchNorm2d);

/**
 * Batch norm over [N, C, D, H, W] (torch.nn.BatchNorm3d).
 *
 * @example
 * new nn.BatchNorm3d(8).eval().forward(Tensor.randn([1, 8, 2, 4, 4]));
 */
export class BatchNorm3d extends BatchNormNd {
  constructor(numFeatures: number, opts: BatchNormOptions = {}) {
    super('BatchNorm3d', [5], numFeatures, opts);
  }
}
registerLayer(BatchNorm3d);
