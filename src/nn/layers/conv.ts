/** Convolution layers: Conv1d/2d/3d and ConvTranspose1d/2d/3d (torch.nn.Conv*, ConvTranspose*). */
import type { Tensor } from '../../tensor/tensor.js';
import { F } from '../functional.js';
import { defaultAffineInit } from '../init.js';
import { Module, Parameter } from '../module.js';
import { boolArg, choiceArg, describe, intArg, intTuple } from './args.js';
import { registerLayer, type LayerConfig } from './registry.js';
import { pyRepr } from './repr.js';

/** How a convolution's padded border is filled. */
export type PaddingMode = 'zeros' | 'reflect' | 'replicate' | 'circular';
const PADDING_MODES: readonly PaddingMode[] = ['zeros', 'reflect', 'replicate', 'circular'];
type Spatial = 1 | 2 | 3;

/** Options of Conv1d/2d/3d. */
export interface ConvOptions {
  stride?: number | readonly number[];
  /** Zero padding per side: an int, one int per spatial dim, 'valid' (none) or 'same' (output size = input size; stride 1 only). */
  padding?: number | readonly number[] | 'same' | 'valid';
  dilation?: number | readonly number[];
  groups?: number;
  bias?: boolean;
  /** How the padded border is filled (default 'zeros'). */
  paddingMode?: PaddingMode;
}

const CONV_FNS = { 1: F.conv1d, 2: F.conv2d, 3: F.conv3d } as const;

/** Shared state and checks of the Conv1d/2d/3d layers. */
abstract class ConvNd extends Module {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: number[];
  readonly stride: number[];
  readonly padding: number[] | 'same' | 'valid';
  readonly dilation: number[];
  readonly groups: number;
  readonly paddingMode: PaddingMode;
  weight: Parameter;
  bias: Parameter | null;
  readonly #n: Spatial;
  /** F.pad amounts (last dim first) for a non-zero padding mode, as PyTorch's _reversed_padding_repeated_twice. */
  readonly #modePad: number[];

  constructor(n: Spatial, inChannels: number, outChannels: number, kernelSize: number | readonly number[], opts: ConvOptions) {
    super();
    const layer = `Conv${n}d`;
    this.#n = n;
    this.inChannels = intArg(layer, 'inChannels', inChannels);
    this.outChannels = intArg(layer, 'outChannels', outChannels);
    this.kernelSize = intTuple(layer, 'kernelSize', kernelSize, n);
    this.stride = intTuple(layer, 'stride', opts.stride ?? 1, n);
    this.dilation = intTuple(layer, 'dilation', opts.dilation ?? 1, n);
    this.groups = checkGroups(layer, opts.groups ?? 1, this.inChannels, this.outChannels);
    this.paddingMode = choiceArg(layer, 'paddingMode', opts.paddingMode ?? 'zeros', PADDING_MODES);
    const padding = opts.padding ?? 0;
    if (typeof padding === 'string') {
      this.padding = choiceArg(layer, 'padding', padding, ['same', 'valid'] as const);
      if (this.padding === 'same' && this.stride.some((s) => s !== 1)) {
        throw new RangeError(`${layer}: padding='same' is not supported for strided convolutions (stride ${pyRepr(this.stride)})`);
      }
    } else this.padding = intTuple(layer, 'padding', padding, n, 0);
    this.#modePad = reversedPadding(this.padding, this.kernelSize, this.dilation);
    const withBias = boolArg(layer, 'bias', opts.bias ?? true);
    const { weight, bias } = defaultAffineInit(
      [this.outChannels, this.inChannels / this.groups, ...this.kernelSize], withBias ? this.outChannels : null);
    this.weight = new Parameter(weight);
    this.bias = bias && new Parameter(bias);
  }

  override forward(input: Tensor): Tensor {
    const conv = CONV_FNS[this.#n];
    const common = { stride: this.stride, dilation: this.dilation, groups: this.groups };
    if (this.paddingMode === 'zeros') return conv(input, this.weight, this.bias, { ...common, padding: this.padding });
    const padded = F.pad(input, this.#modePad, { mode: this.paddingMode });
    return conv(padded, this.weight, this.bias, { ...common, padding: 0 });
  }

  config(): LayerConfig {
    return {
      args: [this.inChannels, this.outChannels, [...this.kernelSize]],
      options: {
        stride: [...this.stride], padding: typeof this.padding === 'string' ? this.padding : [...this.padding],
        dilation: [...this.dilation], groups: this.groups, bias: this.bias !== null, paddingMode: this.paddingMode,
      },
    };
  }

  override extraRepr(): string {
    return convRepr(this, null);
  }
}

/** Per-side padding pairs, last spatial dim first, with 'same' putting the odd element on the right. */
function reversedPadding(padding: number[] | 'same' | 'valid', kernel: readonly number[], dilation: readonly number[]): number[] {
  const out: number[] = [];
  for (let i = kernel.length - 1; i >= 0; i--) {
    if (padding === 'valid') out.push(0, 0);
    else if (padding === 'same') {
      const total = dilation[i]! * (kernel[i]! - 1);
      const left = Math.floor(total / 2);
      out.push(left, total - left);
    } else out.push(padding[i]!, padding[i]!);
  }
  return out;
}

function checkGroups(layer: string, groups: unknown, inChannels: number, outChannels: number): number {
  const g = intArg(layer, 'groups', groups);
  if (inChannels % g !== 0) throw new RangeError(`${layer}: inChannels (${inChannels}) must be divisible by groups (${g})`);
  if (outChannels % g !== 0) throw new RangeError(`${layer}: outChannels (${outChannels}) must be divisible by groups (${g})`);
  return g;
}

interface ConvLike {
  readonly inChannels: number; readonly outChannels: number; readonly kernelSize: number[]; readonly stride: number[];
  readonly padding: number[] | 'same' | 'valid'; readonly dilation: number[]; readonly groups: number;
  readonly paddingMode: PaddingMode; readonly bias: Parameter | null;
}

/** PyTorch's _ConvNd.extra_repr: settings that differ from their defaults. */
function convRepr(c: ConvLike, outputPadding: readonly number[] | null): string {
  let s = `${c.inChannels}, ${c.outChannels}, kernel_size=${pyRepr(c.kernelSize)}, stride=${pyRepr(c.stride)}`;
  if (typeof c.padding === 'string') s += `, padding=${c.padding}`;
  else if (c.padding.some((p) => p !== 0)) s += `, padding=${pyRepr(c.padding)}`;
  if (c.dilation.some((d) => d !== 1)) s += `, dilation=${pyRepr(c.dilation)}`;
  if (outputPadding && outputPadding.some((p) => p !== 0)) s += `, output_padding=${pyRepr(outputPadding)}`;
  if (c.groups !== 1) s += `, groups=${c.groups}`;
  if (c.bias === null) s += ', bias=False';
  if (c.paddingMode !== 'zeros') s += `, padding_mode=${c.paddingMode}`;
  return s;
}

/**
 * 1-D convolution over [N, C, L] (torch.nn.Conv1d).
 *
 * @example
 * new nn.Conv1d(16, 33, 3, { stride: 2 }).forward(Tensor.randn([20, 16, 50])).shape; // [20, 33, 24]
 */
export class Conv1d extends ConvNd {
  constructor(inChannels: number, outChannels: number, kernelSize: number | readonly number[], opts: ConvOptions = {}) {
    super(1, inChannels, outChannels, kernelSize, opts);
  }
}
registerLayer(Conv1d);

/**
 * 2-D convolution over [N, C, H, W] (torch.nn.Conv2d).
 *
 * @example
 * const conv = new nn.Conv2d(3, 64, 7, { stride: 2, padding: 3, bias: false });
 * conv.forward(Tensor.randn([1, 3, 224, 224])).shape; // [1, 64, 112, 112]
 */
export class Conv2d extends ConvNd {
  constructor(inChannels: number, outChannels: number, kernelSize: number | readonly number[], opts: ConvOptions = {}) {
    super(2, inChannels, outChannels, kernelSize, opts);
  }
}
registerLayer(Conv2d);

/**
 * 3-D convolution over [N, C, D, H, W] (torch.nn.Conv3d).
 *
 * @example
 * new nn.Conv3d(4, 8, 3, { padding: 'same' }).forward(Tensor.randn([1, 4, 5, 6, 7])).shape; // [1, 8, 5, 6, 7]
 */
export class Conv3d extends ConvNd {
  constructor(inChannels: number, outChannels: number, kernelSize: number | readonly number[], opts: ConvOptions = {}) {
    super(3, inChannels, outChannels, kernelSize, opts);
  }
}
registerLayer(Conv3d);

/** Options of ConvTranspose1d/2d/3d. */
export interface ConvTransposeOptions {
  stride?: number | readonly number[];
  /** Removes dilation·(k−1)−padding from each side of the full output. */
  padding?: number | readonly number[];
  /** Extra size added to one side of the output (smaller than stride or dilation). */
  outputPadding?: number | readonly number[];
  groups?: number;
  bias?: boolean;
  dilation?: number | readonly number[];
  /** Only 'zeros' is supported, as in PyTorch. */
  paddingMode?: 'zeros';
}

const CONV_T_FNS = { 1: F.convTranspose1d, 2: F.convTranspose2d, 3: F.convTranspose3d } as const;

/** Shared state and checks of the ConvTranspose1d/2d/3d layers; weight [in, out / groups, ...kernel]. */
abstract class ConvTransposeNd extends Module {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: number[];
  readonly stride: number[];
  readonly padding: number[];
  readonly outputPadding: number[];
  readonly dilation: number[];
  readonly groups: number;
  readonly paddingMode = 'zeros' as const;
  weight: Parameter;
  bias: Parameter | null;
  readonly #n: Spatial;

  constructor(n: Spatial, inChannels: number, outChannels: number, kernelSize: number | readonly number[], opts: ConvTransposeOptions) {
    super();
    const layer = `ConvTranspose${n}d`;
    this.#n = n;
    this.inChannels = intArg(layer, 'inChannels', inChannels);
    this.outChannels = intArg(layer, 'outChannels', outChannels);
    this.kernelSize = intTuple(layer, 'kernelSize', kernelSize, n);
    this.stride = intTuple(layer, 'stride', opts.stride ?? 1, n);
    this.padding = intTuple(layer, 'padding', opts.padding ?? 0, n, 0);
    this.outputPadding = intTuple(layer, 'outputPadding', opts.outputPadding ?? 0, n, 0);
    this.dilation = intTuple(layer, 'dilation', opts.dilation ?? 1, n);
    this.groups = checkGroups(layer, opts.groups ?? 1, this.inChannels, this.outChannels);
    if (opts.paddingMode !== undefined && opts.paddingMode !== 'zeros') {
      throw new TypeError(`${layer}: only paddingMode 'zeros' is supported, got ${describe(opts.paddingMode)}`);
    }
    this.outputPadding.forEach((p, i) => {
      if (p >= this.stride[i]! && p >= this.dilation[i]!) {
        throw new RangeError(`${layer}: outputPadding ${pyRepr(this.outputPadding)} must be smaller than either stride ${pyRepr(this.stride)} or dilation ${pyRepr(this.dilation)} in every dim`);
      }
    });
    const withBias = boolArg(layer, 'bias', opts.bias ?? true);
    const { weight, bias } = defaultAffineInit(
      [this.inChannels, this.outChannels / this.groups, ...this.kernelSize], withBias ? this.outChannels : null);
    this.weight = new Parameter(weight);
    this.bias = bias && new Parameter(bias);
  }

  override forward(input: Tensor): Tensor {
    return CONV_T_FNS[this.#n](input, this.weight, this.bias, {
      stride: this.stride, padding: this.padding, outputPadding: this.outputPadding, groups: this.groups, dilation: this.dilation,
    });
  }

  config(): LayerConfig {
    return {
      args: [this.inChannels, this.outChannels, [...this.kernelSize]],
      options: {
        stride: [...this.stride], padding: [...this.padding], outputPadding: [...this.outputPadding],
        groups: this.groups, bias: this.bias !== null, dilation: [...this.dilation],
      },
    };
  }

  override extraRepr(): string {
    return convRepr(this, this.outputPadding);
  }
}

/**
 * 1-D transposed convolution (torch.nn.ConvTranspose1d).
 *
 * @example
 * new nn.ConvTranspose1d(8, 4, 4, { stride: 2, padding: 1 }).forward(Tensor.randn([1, 8, 10])).shape; // [1, 4, 20]
 */
export class ConvTranspose1d extends ConvTransposeNd {
  constructor(inChannels: number, outChannels: number, kernelSize: number | readonly number[], opts: ConvTransposeOptions = {}) {
    super(1, inChannels, outChannels, kernelSize, opts);
  }
}
registerLayer(ConvTranspose1d);

/**
 * 2-D transposed convolution (torch.nn.ConvTranspose2d), e.g. CenterNet's 2× upsampling stages.
 *
 * @example
 * new nn.ConvTranspose2d(512, 256, 4, { stride: 2, padding: 1, bias: false }).forward(Tensor.randn([1, 512, 8, 8])).shape; // [1, 256, 16, 16]
 */
export class ConvTranspose2d extends ConvTransposeNd {
  constructor(inChannels: number, outChannels: number, kernelSize: number | readonly number[], opts: ConvTransposeOptions = {}) {
    super(2, inChannels, outChannels, kernelSize, opts);
  }
}
registerLayer(ConvTranspose2d);

/**
 * 3-D transposed convolution (torch.nn.ConvTranspose3d).
 *
 * @example
 * new nn.ConvTranspose3d(4, 2, 2, { stride: 2 }).forward(Tensor.randn([1, 4, 3, 3, 3])).shape; // [1, 2, 6, 6, 6]
 */
export class ConvTranspose3d extends ConvTransposeNd {
  constructor(inChannels: number, outChannels: number, kernelSize: number | readonly number[], opts: ConvTransposeOptions = {}) {
    super(3, inChannels, outChannels, kernelSize, opts);
  }
}
registerLayer(ConvTranspose3d);
