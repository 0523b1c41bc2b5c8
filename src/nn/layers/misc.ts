/** Layers without weights or with a lookup table: Embedding, Dropout, Flatten, Upsample. */
import { Tensor } from '../../tensor/tensor.js';
import { F } from '../functional.js';
import { normal_ } from '../init.js';
import { Module, Parameter } from '../module.js';
import { boolArg, choiceArg, describe, intArg, numberArg } from './args.js';
import { registerLayer, type LayerConfig } from './registry.js';
import { pyFloat, pyRepr } from './repr.js';

/** Options of Embedding. */
export interface EmbeddingOptions {
  /** A row that is initialized to zeros (and, in PyTorch training, never updated); negative counts from the end. */
  paddingIdx?: number | null;
}

/**
 * A lookup table of `numEmbeddings` vectors of size `embeddingDim`, N(0, 1) initialized
 * (torch.nn.Embedding); the input holds integer indices.
 *
 * @example
 * const emb = new nn.Embedding(30522, 768, { paddingIdx: 0 });
 * emb.forward(Tensor.fromArray([[101, 2023, 102]], 'int64')).shape; // [1, 3, 768]
 */
export class Embedding extends Module {
  readonly numEmbeddings: number;
  readonly embeddingDim: number;
  readonly paddingIdx: number | null;
  weight: Parameter;

  constructor(numEmbeddings: number, embeddingDim: number, opts: EmbeddingOptions = {}) {
    super();
    this.numEmbeddings = intArg('Embedding', 'numEmbeddings', numEmbeddings);
    this.embeddingDim = intArg('Embedding', 'embeddingDim', embeddingDim);
    const pad = opts.paddingIdx ?? null;
    if (pad !== null && (!Number.isInteger(pad) || pad < -this.numEmbeddings || pad >= this.numEmbeddings)) {
      throw new RangeError(`Embedding: paddingIdx must be an integer in [${-this.numEmbeddings}, ${this.numEmbeddings - 1}], got ${describe(pad)}`);
    }
    this.paddingIdx = pad === null ? null : pad < 0 ? pad + this.numEmbeddings : pad;
    const weight = normal_(Tensor.empty([this.numEmbeddings, this.embeddingDim]));
    if (this.paddingIdx !== null) (weight.data as Float32Array).fill(0, this.paddingIdx * this.embeddingDim, (this.paddingIdx + 1) * this.embeddingDim);
    this.weight = new Parameter(weight);
  }

  override forward(input: Tensor): Tensor {
    return F.embedding(input, this.weight, this.paddingIdx === null ? {} : { paddingIdx: this.paddingIdx });
  }

  config(): LayerConfig {
    return { args: [this.numEmbeddings, this.embeddingDim], options: { paddingIdx: this.paddingIdx } };
  }

  override extraRepr(): string {
    return `${this.numEmbeddings}, ${this.embeddingDim}${this.paddingIdx === null ? '' : `, padding_idx=${this.paddingIdx}`}`;
  }
}
registerLayer(Embedding);

/** Options of Dropout. */
export interface DropoutOptions {
  /** Probability of zeroing an element in train mode (default 0.5). */
  p?: number;
  /** Eager train mode also writes the result into the input (default false). */
  inplace?: boolean;
}

/**
 * Zeroes elements with probability p and scales the rest by 1/(1−p) in train mode; the
 * identity in eval mode (torch.nn.Dropout).
 *
 * @example
 * const drop = new nn.Dropout({ p: 0.1 });
 * drop.eval().forward(x); // x unchanged
 */
export class Dropout extends Module {
  readonly p: number;
  readonly inplace: boolean;

  constructor(opts: DropoutOptions = {}) {
    super();
    this.p = numberArg('Dropout', 'p', opts.p ?? 0.5, 0, 1);
    this.inplace = boolArg('Dropout', 'inplace', opts.inplace ?? false);
  }

  override forward(input: Tensor): Tensor {
    return F.dropout(input, { p: this.p, training: this.training, ...(this.inplace ? { inplace: true } : {}) });
  }

  config(): LayerConfig {
    return { args: [], options: { p: this.p, inplace: this.inplace } };
  }

  override extraRepr(): string {
    return `p=${pyFloat(this.p)}, inplace=${pyRepr(this.inplace)}`;
  }
}
registerLayer(Dropout);

/** Options of Flatten. */
export interface FlattenOptions {
  /** Default 1 (keeps the batch dim). */
  startDim?: number;
  /** Default −1. */
  endDim?: number;
}

/**
 * Merges dims startDim..endDim into one (torch.nn.Flatten).
 *
 * @example
 * new nn.Flatten().forward(Tensor.randn([2, 512, 1, 1])).shape; // [2, 512]
 */
export class Flatten extends Module {
  readonly startDim: number;
  readonly endDim: number;

  constructor(opts: FlattenOptions = {}) {
    super();
    this.startDim = intArg('Flatten', 'startDim', opts.startDim ?? 1, -Infinity);
    this.endDim = intArg('Flatten', 'endDim', opts.endDim ?? -1, -Infinity);
  }

  override forward(input: Tensor): Tensor {
    return F.flatten(input, this.startDim, this.endDim);
  }

  config(): LayerConfig {
    return { args: [], options: { startDim: this.startDim, endDim: this.endDim } };
  }

  override extraRepr(): string {
    return `start_dim=${this.startDim}, end_dim=${this.endDim}`;
  }
}
registerLayer(Flatten);

/** Interpolation modes of Upsample. */
export type UpsampleMode = 'nearest' | 'nearest-exact' | 'linear' | 'bilinear' | 'bicubic' | 'trilinear';
const UPSAMPLE_MODES: readonly UpsampleMode[] = ['nearest', 'nearest-exact', 'linear', 'bilinear', 'bicubic', 'trilinear'];

/** Options of Upsample. */
export interface UpsampleOptions {
  /** Output spatial size (exactly one of size and scaleFactor). */
  size?: number | readonly number[] | null;
  /** Multiplier of the spatial size. */
  scaleFactor?: number | readonly number[] | null;
  /** Default 'nearest'. */
  mode?: UpsampleMode;
  /** Interpolating modes only: align the corner pixels' centres (default false there). */
  alignCorners?: boolean | null;
}

function sizeOption(layer: string, v: UpsampleOptions['size']): number | number[] | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') return intArg(layer, 'size', v);
  if (Array.isArray(v) && v.length > 0) return v.map((d: unknown) => intArg(layer, 'size', d));
  throw new TypeError(`${layer}: size must be an integer or a list of integers, got ${describe(v)}`);
}

function scaleOption(layer: string, v: UpsampleOptions['scaleFactor']): number | number[] | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') return numberArg(layer, 'scaleFactor', v, Number.MIN_VALUE);
  if (Array.isArray(v) && v.length > 0) return v.map((s: unknown) => numberArg(layer, 'scaleFactor', s, Number.MIN_VALUE));
  throw new TypeError(`${layer}: scaleFactor must be a positive number or a list of them, got ${describe(v)}`);
}

/**
 * Resizes the spatial dims by a size or a scale (torch.nn.Upsample), through F.interpolate.
 *
 * @example
 * new nn.Upsample({ scaleFactor: 2, mode: 'nearest' }).forward(Tensor.randn([1, 3, 8, 8])).shape; // [1, 3, 16, 16]
 */
export class Upsample extends Module {
  readonly size: number | number[] | null;
  readonly scaleFactor: number | number[] | null;
  readonly mode: UpsampleMode;
  readonly alignCorners: boolean | null;

  constructor(opts: UpsampleOptions = {}) {
    super();
    const layer = this.constructor.name;
    this.size = sizeOption(layer, opts.size);
    this.scaleFactor = scaleOption(layer, opts.scaleFactor);
    if ((this.size === null) === (this.scaleFactor === null)) {
      throw new TypeError(`${layer}: exactly one of size and scaleFactor must be given (got ${this.size === null ? 'neither' : 'both'})`);
    }
    this.mode = choiceArg(layer, 'mode', opts.mode ?? 'nearest', UPSAMPLE_MODES);
    const align = opts.alignCorners ?? null;
    this.alignCorners = align === null ? null : boolArg(layer, 'alignCorners', align);
    if (this.alignCorners !== null && (this.mode === 'nearest' || this.mode === 'nearest-exact')) {
      throw new TypeError(`${layer}: alignCorners can only be set with the interpolating modes linear, bilinear, bicubic and trilinear (mode is '${this.mode}')`);
    }
  }

  override forward(input: Tensor): Tensor {
    return F.interpolate(input, { size: this.size, scaleFactor: this.scaleFactor, mode: this.mode, alignCorners: this.alignCorners });
  }

  config(): LayerConfig {
    return { args: [], options: { size: this.size, scaleFactor: this.scaleFactor, mode: this.mode, alignCorners: this.alignCorners } };
  }

  override extraRepr(): string {
    const s = this.scaleFactor;
    const info = s !== null
      ? `scale_factor=${typeof s === 'number' ? pyFloat(s) : `(${s.map(pyFloat).join(', ')})`}`
      : `size=${pyRepr(this.size)}`;
    return `${info}, mode=${pyRepr(this.mode)}`;
  }
}
registerLayer(Upsample);

/**
 * Nearest-neighbour 2-D upsampling (torch.nn.UpsamplingNearest2d).
 *
 * @example
 * new nn.UpsamplingNearest2d({ scaleFactor: 2 }).forward(Tensor.randn([1, 3, 4, 4])).shape; // [1, 3, 8, 8]
 */
export class UpsamplingNearest2d extends Upsample {
  constructor(opts: Pick<UpsampleOptions, 'size' | 'scaleFactor'> = {}) {
    super({ ...pickSize(opts), mode: 'nearest' });
  }
  override config(): LayerConfig {
    return { args: [], options: { size: this.size, scaleFactor: this.scaleFactor } };
  }
}
registerLayer(UpsamplingNearest2d);

/**
 * Bilinear 2-D upsampling with aligned corners (torch.nn.UpsamplingBilinear2d).
 *
 * @example
 * new nn.UpsamplingBilinear2d({ size: [16, 16] }).forward(Tensor.randn([1, 3, 4, 4])).shape; // [1, 3, 16, 16]
 */
export class UpsamplingBilinear2d extends Upsample {
  constructor(opts: Pick<UpsampleOptions, 'size' | 'scaleFactor'> = {}) {
    super({ ...pickSize(opts), mode: 'bilinear', alignCorners: true });
  }
  override config(): LayerConfig {
    return { args: [], options: { size: this.size, scaleFactor: this.scaleFactor } };
  }
}
registerLayer(UpsamplingBilinear2d);

function pickSize(opts: Pick<UpsampleOptions, 'size' | 'scaleFactor'>): Pick<UpsampleOptions, 'size' | 'scaleFactor'> {
  return { size: opts.size ?? null, scaleFactor: opts.scaleFactor ?? null };
}
