/** Pooling layers: MaxPool1d/2d/3d, AvgPool1d/2d/3d, AdaptiveAvgPool1d/2d/3d, AdaptiveMaxPool2d. */
import type { Tensor } from '../../tensor/tensor.js';
import { F } from '../functional.js';
import { Module } from '../module.js';
import { boolArg, describe, intArg, intTuple } from './args.js';
import { registerLayer, type LayerConfig } from './registry.js';
import { pyRepr } from './repr.js';

type Spatial = 1 | 2 | 3;
/** An int for every spatial dim, or one per dim; kept as given, as PyTorch prints it. */
export type IntOrTuple = number | readonly number[];

/** Options of MaxPool1d/2d/3d. */
export interface MaxPoolOptions {
  /** Default: the kernel size. */
  stride?: IntOrTuple | null;
  padding?: IntOrTuple;
  dilation?: IntOrTuple;
  /** Round the output size up instead of down (default false). */
  ceilMode?: boolean;
  /** Only false is supported: pooling indices have no acc op. */
  returnIndices?: boolean;
}

const MAX_POOL_FNS = { 1: F.maxPool1d, 2: F.maxPool2d, 3: F.maxPool3d } as const;

function copyOf(v: IntOrTuple): IntOrTuple {
  return typeof v === 'number' ? v : [...v];
}

/** Shared implementation of MaxPool1d/2d/3d. */
abstract class MaxPoolNd extends Module {
  readonly kernelSize: IntOrTuple;
  readonly stride: IntOrTuple;
  readonly padding: IntOrTuple;
  readonly dilation: IntOrTuple;
  readonly ceilMode: boolean;
  readonly #n: Spatial;

  constructor(n: Spatial, kernelSize: IntOrTuple, opts: MaxPoolOptions) {
    super();
    const layer = `MaxPool${n}d`;
    this.#n = n;
    const kernel = intTuple(layer, 'kernelSize', kernelSize, n);
    const stride = opts.stride ?? kernelSize;
    intTuple(layer, 'stride', stride, n);
    const padding = intTuple(layer, 'padding', opts.padding ?? 0, n, 0);
    const dilation = intTuple(layer, 'dilation', opts.dilation ?? 1, n);
    padding.forEach((p, i) => {
      const effective = (kernel[i]! - 1) * dilation[i]! + 1;
      if (2 * p > effective) {
        throw new RangeError(`${layer}: padding ${pyRepr(copyOf(opts.padding ?? 0))} must be at most half of the effective kernel size (${effective} in dim ${i})`);
      }
    });
    if (opts.returnIndices !== undefined && opts.returnIndices !== false) {
      throw new TypeError(`${layer}: returnIndices must be false (pooling indices are not supported), got ${describe(opts.returnIndices)}`);
    }
    this.kernelSize = copyOf(kernelSize);
    this.stride = copyOf(stride);
    this.padding = copyOf(opts.padding ?? 0);
    this.dilation = copyOf(opts.dilation ?? 1);
    this.ceilMode = boolArg(layer, 'ceilMode', opts.ceilMode ?? false);
  }

  override forward(input: Tensor): Tensor {
    return MAX_POOL_FNS[this.#n](input, this.kernelSize, {
      stride: this.stride, padding: this.padding, dilation: this.dilation, ceilMode: this.ceilMode,
    });
  }

  config(): LayerConfig {
    return {
      args: [copyOf(this.kernelSize)],
      options: { stride: copyOf(this.stride), padding: copyOf(this.padding), dilation: copyOf(this.dilation), ceilMode: this.ceilMode },
    };
  }

  override extraRepr(): string {
    return `kernel_size=${pyRepr(this.kernelSize)}, stride=${pyRepr(this.stride)}, padding=${pyRepr(this.padding)}, ` +
      `dilation=${pyRepr(this.dilation)}, ceil_mode=${pyRepr(this.ceilMode)}`;
  }
}

/** 1-D max pooling (torch.nn.MaxPool1d). @example new nn.MaxPool1d(2).forward(Tensor.randn([1, 4, 8])).shape; // [1, 4, 4] */
export class MaxPool1d extends MaxPoolNd {
  constructor(kernelSize: IntOrTuple, opts: MaxPoolOptions = {}) { super(1, kernelSize, opts); }
}
registerLayer(MaxPool1d);

/**
 * 2-D max pooling (torch.nn.MaxPool2d).
 *
 * @example
 * new nn.MaxPool2d(3, { stride: 2, padding: 1 }).forward(Tensor.randn([1, 64, 112, 112])).shape; // [1, 64, 56, 56]
 */
export class MaxPool2d extends MaxPoolNd {
  constructor(kernelSize: IntOrTuple, opts: MaxPoolOptions = {}) { super(2, kernelSize, opts); }
}
registerLayer(MaxPool2d);

/** 3-D max pooling (torch.nn.MaxPool3d). @example new nn.MaxPool3d(2).forward(Tensor.randn([1, 2, 4, 4, 4])).shape; // [1, 2, 2, 2, 2] */
export class MaxPool3d extends MaxPoolNd {
  constructor(kernelSize: IntOrTuple, opts: MaxPoolOptions = {}) { super(3, kernelSize, opts); }
}
registerLayer(MaxPool3d);

/** Options of AvgPool1d/2d/3d. */
export interface AvgPoolOptions {
  /** Default: the kernel size. */
  stride?: IntOrTuple | null;
  padding?: IntOrTuple;
  ceilMode?: boolean;
  /** Count the zero padding in the divisor (default true). */
  countIncludePad?: boolean;
  /** Divide by this instead of the window size (2-D and 3-D only). */
  divisorOverride?: number | null;
}

/** Shared implementation of AvgPool1d/2d/3d. */
abstract class AvgPoolNd extends Module {
  readonly kernelSize: IntOrTuple;
  readonly stride: IntOrTuple;
  readonly padding: IntOrTuple;
  readonly ceilMode: boolean;
  readonly countIncludePad: boolean;
  readonly divisorOverride: number | null;
  readonly #n: Spatial;

  constructor(n: Spatial, kernelSize: IntOrTuple, opts: AvgPoolOptions) {
    super();
    const layer = `AvgPool${n}d`;
    this.#n = n;
    const kernel = intTuple(layer, 'kernelSize', kernelSize, n);
    const stride = opts.stride ?? kernelSize;
    intTuple(layer, 'stride', stride, n);
    const padding = intTuple(layer, 'padding', opts.padding ?? 0, n, 0);
    padding.forEach((p, i) => {
      if (2 * p > kernel[i]!) throw new RangeError(`${layer}: padding ${pyRepr(copyOf(opts.padding ?? 0))} must be at most half of the kernel size ${pyRepr(kernel)}`);
    });
    const divisor = opts.divisorOverride ?? null;
    if (divisor !== null && n === 1) throw new TypeError('AvgPool1d: divisorOverride is not an option of 1-D average pooling');
    this.divisorOverride = divisor === null ? null : intArg(layer, 'divisorOverride', divisor);
    this.kernelSize = copyOf(kernelSize);
    this.stride = copyOf(stride);
    this.padding = copyOf(opts.padding ?? 0);
    this.ceilMode = boolArg(layer, 'ceilMode', opts.ceilMode ?? false);
    this.countIncludePad = boolArg(layer, 'countIncludePad', opts.countIncludePad ?? true);
  }

  override forward(input: Tensor): Tensor {
    const common = { stride: this.stride, padding: this.padding, ceilMode: this.ceilMode, countIncludePad: this.countIncludePad };
    if (this.#n === 1) return F.avgPool1d(input, this.kernelSize, common);
    const pool = this.#n === 2 ? F.avgPool2d : F.avgPool3d;
    return pool(input, this.kernelSize, { ...common, divisorOverride: this.divisorOverride });
  }

  config(): LayerConfig {
    const options: Record<string, unknown> = {
      stride: copyOf(this.stride), padding: copyOf(this.padding), ceilMode: this.ceilMode, countIncludePad: this.countIncludePad,
    };
    if (this.#n !== 1) options['divisorOverride'] = this.divisorOverride;
    return { args: [copyOf(this.kernelSize)], options };
  }

  override extraRepr(): string {
    return `kernel_size=${pyRepr(this.kernelSize)}, stride=${pyRepr(this.stride)}, padding=${pyRepr(this.padding)}`;
  }
}

/** 1-D average pooling (torch.nn.AvgPool1d). @example new nn.AvgPool1d(2).forward(Tensor.randn([1, 4, 8])).shape; // [1, 4, 4] */
export class AvgPool1d extends AvgPoolNd {
  constructor(kernelSize: IntOrTuple, opts: Omit<AvgPoolOptions, 'divisorOverride'> = {}) { super(1, kernelSize, opts); }
}
registerLayer(AvgPool1d);

/** 2-D average pooling (torch.nn.AvgPool2d). @example new nn.AvgPool2d(2).forward(Tensor.randn([1, 4, 8, 8])).shape; // [1, 4, 4, 4] */
export class AvgPool2d extends AvgPoolNd {
  constructor(kernelSize: IntOrTuple, opts: AvgPoolOptions = {}) { super(2, kernelSize, opts); }
}
registerLayer(AvgPool2d);

/** 3-D average pooling (torch.nn.AvgPool3d). @example new nn.AvgPool3d(2).forward(Tensor.randn([1, 2, 4, 4, 4])).shape; // [1, 2, 2, 2, 2] */
export class AvgPool3d extends AvgPoolNd {
  constructor(kernelSize: IntOrTuple, opts: AvgPoolOptions = {}) { super(3, kernelSize, opts); }
}
registerLayer(AvgPool3d);

const ADAPTIVE_FNS = { 1: F.adaptiveAvgPool1d, 2: F.adaptiveAvgPool2d, 3: F.adaptiveAvgPool3d } as const;

/** An adaptive pool's output size: one for every dim or one per dim; null keeps that dim's input size. */
export type AdaptiveSize = number | null | readonly (number | null)[];

function checkAdaptiveSize(layer: string, v: AdaptiveSize, n: number): AdaptiveSize {
  const entries = v === null || typeof v === 'number' ? [v] : v;
  if ((entries.length !== 1 && entries.length !== n) || entries.some((e) => e !== null && !(Number.isInteger(e) && e >= 1))) {
    throw new TypeError(`${layer}: outputSize must be an integer >= 1 or null, or a list of ${n} of them, got ${describe(v)}`);
  }
  return v === null || typeof v === 'number' ? v : [...v];
}

/** Shared implementation of the adaptive poolings: the output size is fixed, windows adapt to the input. */
abstract class AdaptivePoolNd extends Module {
  readonly outputSize: AdaptiveSize;
  protected readonly n: Spatial;

  constructor(layer: string, n: Spatial, outputSize: AdaptiveSize) {
    super();
    this.n = n;
    this.outputSize = checkAdaptiveSize(layer, outputSize, n);
  }

  config(): LayerConfig {
    const s = this.outputSize;
    return { args: [s === null || typeof s === 'number' ? s : [...s]], options: {} };
  }

  override extraRepr(): string {
    return `output_size=${pyRepr(this.outputSize)}`;
  }
}

/** Shared implementation of AdaptiveAvgPool1d/2d/3d. */
abstract class AdaptiveAvgPoolNd extends AdaptivePoolNd {
  override forward(input: Tensor): Tensor {
    return ADAPTIVE_FNS[this.n](input, this.outputSize);
  }
}

/** 1-D adaptive average pooling (torch.nn.AdaptiveAvgPool1d). @example new nn.AdaptiveAvgPool1d(1) */
export class AdaptiveAvgPool1d extends AdaptiveAvgPoolNd {
  constructor(outputSize: AdaptiveSize) { super('AdaptiveAvgPool1d', 1, outputSize); }
}
registerLayer(AdaptiveAvgPool1d);

/**
 * 2-D adaptive average pooling (torch.nn.AdaptiveAvgPool2d), e.g. ResNet's global pool.
 *
 * @example
 * new nn.AdaptiveAvgPool2d([1, 1]).forward(Tensor.randn([1, 512, 7, 7])).shape; // [1, 512, 1, 1]
 */
export class AdaptiveAvgPool2d extends AdaptiveAvgPoolNd {
  constructor(outputSize: AdaptiveSize) { super('AdaptiveAvgPool2d', 2, outputSize); }
}
registerLayer(AdaptiveAvgPool2d);

/** 3-D adaptive average pooling (torch.nn.AdaptiveAvgPool3d). @example new nn.AdaptiveAvgPool3d(1) */
export class AdaptiveAvgPool3d extends AdaptiveAvgPoolNd {
  constructor(outputSize: AdaptiveSize) { super('AdaptiveAvgPool3d', 3, outputSize); }
}
registerLayer(AdaptiveAvgPool3d);

/** 2-D adaptive max pooling (torch.nn.AdaptiveMaxPool2d, values only). @example new nn.AdaptiveMaxPool2d(1) */
export class AdaptiveMaxPool2d extends AdaptivePoolNd {
  constructor(outputSize: AdaptiveSize) { super('AdaptiveMaxPool2d', 2, outputSize); }
  override forward(input: Tensor): Tensor {
    return F.adaptiveMaxPool2d(input, this.outputSize);
  }
  override extraRepr(): string {
    return `output_size=${pyRepr(this.outputSize)}, return_indices=False`;
  }
}
registerLayer(AdaptiveMaxPool2d);
