/** Activation layers (torch.nn.ReLU, GELU, Softmax, ...): each forward is one F call. */
import { Tensor } from '../../tensor/tensor.js';
import { F } from '../functional.js';
import { constant_ } from '../init.js';
import { Module, Parameter } from '../module.js';
import { boolArg, choiceArg, intArg, numberArg } from './args.js';
import { registerLayer, type LayerConfig } from './registry.js';
import { pyFloat, pyRepr } from './repr.js';

/** Options of the activations with an `inplace` flag. */
export interface InplaceOptions {
  /** Eager mode also writes the result into the input (as PyTorch); traced graphs stay functional. Default false. */
  inplace?: boolean;
}

/** An activation with PyTorch's `inplace` flag; `inplace=True` is all its extra_repr shows. */
abstract class InplaceActivation extends Module {
  readonly inplace: boolean;

  constructor(opts: InplaceOptions) {
    super();
    this.inplace = boolArg(this.constructor.name, 'inplace', opts.inplace ?? false);
  }

  /** The options object of the F call: empty unless in place, so graphs record the plain call. */
  protected get inplaceOpts(): InplaceOptions {
    return this.inplace ? { inplace: true } : {};
  }

  config(): LayerConfig {
    return { args: [], options: { inplace: this.inplace } };
  }

  override extraRepr(): string {
    return this.inplace ? 'inplace=True' : '';
  }
}

/** max(x, 0) (torch.nn.ReLU). @example new nn.ReLU().forward(x) */
export class ReLU extends InplaceActivation {
  constructor(opts: InplaceOptions = {}) { super(opts); }
  override forward(input: Tensor): Tensor { return F.relu(input, this.inplaceOpts); }
}
registerLayer(ReLU);

/** min(max(x, 0), 6) (torch.nn.ReLU6), MobileNet's activation. @example new nn.ReLU6().forward(x) */
export class ReLU6 extends InplaceActivation {
  constructor(opts: InplaceOptions = {}) { super(opts); }
  override forward(input: Tensor): Tensor { return F.relu6(input, this.inplaceOpts); }
}
registerLayer(ReLU6);

/** x × sigmoid(x) (torch.nn.SiLU). @example new nn.SiLU().forward(x) */
export class SiLU extends InplaceActivation {
  constructor(opts: InplaceOptions = {}) { super(opts); }
  override forward(input: Tensor): Tensor { return F.silu(input, this.inplaceOpts); }
}
registerLayer(SiLU);

/** x × relu6(x + 3) / 6 (torch.nn.Hardswish). @example new nn.Hardswish().forward(x) */
export class Hardswish extends InplaceActivation {
  constructor(opts: InplaceOptions = {}) { super(opts); }
  override forward(input: Tensor): Tensor { return F.hardswish(input, this.inplaceOpts); }
  override extraRepr(): string { return ''; }
}
registerLayer(Hardswish);

/** relu6(x + 3) / 6 (torch.nn.Hardsigmoid). @example new nn.Hardsigmoid().forward(x) */
export class Hardsigmoid extends InplaceActivation {
  constructor(opts: InplaceOptions = {}) { super(opts); }
  override forward(input: Tensor): Tensor { return F.hardsigmoid(input, this.inplaceOpts); }
  override extraRepr(): string { return ''; }
}
registerLayer(Hardsigmoid);

/** x × tanh(softplus(x)) (torch.nn.Mish). @example new nn.Mish().forward(x) */
export class Mish extends InplaceActivation {
  constructor(opts: InplaceOptions = {}) { super(opts); }
  override forward(input: Tensor): Tensor { return F.mish(input, this.inplaceOpts); }
}
registerLayer(Mish);

/** Scaled ELU (torch.nn.SELU). @example new nn.SELU().forward(x) */
export class SELU extends InplaceActivation {
  constructor(opts: InplaceOptions = {}) { super(opts); }
  override forward(input: Tensor): Tensor { return F.selu(input, this.inplaceOpts); }
}
registerLayer(SELU);

/** Options of LeakyReLU. */
export interface LeakyReLUOptions extends InplaceOptions {
  /** Slope for x < 0 (default 0.01). */
  negativeSlope?: number;
}

/** x for x > 0, else negativeSlope × x (torch.nn.LeakyReLU). @example new nn.LeakyReLU({ negativeSlope: 0.2 }) */
export class LeakyReLU extends InplaceActivation {
  readonly negativeSlope: number;
  constructor(opts: LeakyReLUOptions = {}) {
    super(opts);
    this.negativeSlope = numberArg('LeakyReLU', 'negativeSlope', opts.negativeSlope ?? 0.01);
  }
  override forward(input: Tensor): Tensor {
    return F.leakyRelu(input, { negativeSlope: this.negativeSlope, ...this.inplaceOpts });
  }
  override config(): LayerConfig {
    return { args: [], options: { negativeSlope: this.negativeSlope, inplace: this.inplace } };
  }
  override extraRepr(): string {
    return `negative_slope=${pyFloat(this.negativeSlope)}${this.inplace ? ', inplace=True' : ''}`;
  }
}
registerLayer(LeakyReLU);

/** Options of ELU. */
export interface ELUOptions extends InplaceOptions {
  /** Scale of the negative part (default 1). */
  alpha?: number;
}

/** x for x > 0, else alpha × (eˣ − 1) (torch.nn.ELU). @example new nn.ELU({ alpha: 1 }) */
export class ELU extends InplaceActivation {
  readonly alpha: number;
  constructor(opts: ELUOptions = {}) {
    super(opts);
    this.alpha = numberArg('ELU', 'alpha', opts.alpha ?? 1);
  }
  override forward(input: Tensor): Tensor { return F.elu(input, { alpha: this.alpha, ...this.inplaceOpts }); }
  override config(): LayerConfig { return { args: [], options: { alpha: this.alpha, inplace: this.inplace } }; }
  override extraRepr(): string { return `alpha=${pyFloat(this.alpha)}${this.inplace ? ', inplace=True' : ''}`; }
}
registerLayer(ELU);

/** Options of Hardtanh (defaults −1 and 1). */
export interface HardtanhOptions extends InplaceOptions {
  minVal?: number;
  maxVal?: number;
}

/** Clamps into [minVal, maxVal] (torch.nn.Hardtanh; defaults −1, 1). @example new nn.Hardtanh({ minVal: -2, maxVal: 2 }) */
export class Hardtanh extends InplaceActivation {
  readonly minVal: number;
  readonly maxVal: number;
  constructor(opts: HardtanhOptions = {}) {
    super(opts);
    this.minVal = numberArg('Hardtanh', 'minVal', opts.minVal ?? -1);
    this.maxVal = numberArg('Hardtanh', 'maxVal', opts.maxVal ?? 1);
    if (this.maxVal <= this.minVal) throw new RangeError(`Hardtanh: maxVal (${this.maxVal}) must be greater than minVal (${this.minVal})`);
  }
  override forward(input: Tensor): Tensor {
    return F.hardtanh(input, { minVal: this.minVal, maxVal: this.maxVal, ...this.inplaceOpts });
  }
  override config(): LayerConfig {
    return { args: [], options: { minVal: this.minVal, maxVal: this.maxVal, inplace: this.inplace } };
  }
  override extraRepr(): string {
    return `min_val=${pyFloat(this.minVal)}, max_val=${pyFloat(this.maxVal)}${this.inplace ? ', inplace=True' : ''}`;
  }
}
registerLayer(Hardtanh);

/** GELU's exact form ('none') or its tanh approximation. */
export type GELUApproximate = 'none' | 'tanh';

/** Gaussian error linear unit, exact or tanh-approximated (torch.nn.GELU). @example new nn.GELU({ approximate: 'tanh' }) */
export class GELU extends Module {
  readonly approximate: GELUApproximate;
  constructor(opts: { approximate?: GELUApproximate } = {}) {
    super();
    this.approximate = choiceArg('GELU', 'approximate', opts.approximate ?? 'none', ['none', 'tanh'] as const);
  }
  override forward(input: Tensor): Tensor {
    return F.gelu(input, { approximate: this.approximate });
  }
  config(): LayerConfig { return { args: [], options: { approximate: this.approximate } }; }
  override extraRepr(): string { return `approximate=${pyRepr(this.approximate)}`; }
}
registerLayer(GELU);

/** 1 / (1 + e⁻ˣ) (torch.nn.Sigmoid). @example new nn.Sigmoid().forward(x) */
export class Sigmoid extends Module {
  override forward(input: Tensor): Tensor { return F.sigmoid(input); }
  config(): LayerConfig { return { args: [], options: {} }; }
}
registerLayer(Sigmoid);

/** Hyperbolic tangent (torch.nn.Tanh). @example new nn.Tanh().forward(x) */
export class Tanh extends Module {
  override forward(input: Tensor): Tensor { return F.tanh(input); }
  config(): LayerConfig { return { args: [], options: {} }; }
}
registerLayer(Tanh);

/** x / (1 + |x|) (torch.nn.Softsign). @example new nn.Softsign().forward(x) */
export class Softsign extends Module {
  override forward(input: Tensor): Tensor { return F.softsign(input); }
  config(): LayerConfig { return { args: [], options: {} }; }
}
registerLayer(Softsign);

/** log(1 + e^(beta·x)) / beta, linear above threshold (torch.nn.Softplus). @example new nn.Softplus({ beta: 2 }) */
export class Softplus extends Module {
  readonly beta: number;
  readonly threshold: number;
  constructor(opts: { beta?: number; threshold?: number } = {}) {
    super();
    this.beta = numberArg('Softplus', 'beta', opts.beta ?? 1);
    this.threshold = numberArg('Softplus', 'threshold', opts.threshold ?? 20);
  }
  override forward(input: Tensor): Tensor { return F.softplus(input, { beta: this.beta, threshold: this.threshold }); }
  config(): LayerConfig { return { args: [], options: { beta: this.beta, threshold: this.threshold } }; }
  override extraRepr(): string { return `beta=${pyFloat(this.beta)}, threshold=${pyFloat(this.threshold)}`; }
}
registerLayer(Softplus);

/** Softmax along `dim` (torch.nn.Softmax). @example new nn.Softmax(-1).forward(scores) */
export class Softmax extends Module {
  readonly dim: number;
  constructor(dim: number) {
    super();
    this.dim = intArg('Softmax', 'dim', dim, -Infinity);
  }
  override forward(input: Tensor): Tensor { return F.softmax(input, this.dim); }
  config(): LayerConfig { return { args: [this.dim], options: {} }; }
  override extraRepr(): string { return `dim=${this.dim}`; }
}
registerLayer(Softmax);

/** log(softmax(x)) along `dim` (torch.nn.LogSoftmax). @example new nn.LogSoftmax(1).forward(logits) */
export class LogSoftmax extends Module {
  readonly dim: number;
  constructor(dim: number) {
    super();
    this.dim = intArg('LogSoftmax', 'dim', dim, -Infinity);
  }
  override forward(input: Tensor): Tensor { return F.logSoftmax(input, this.dim); }
  config(): LayerConfig { return { args: [this.dim], options: {} }; }
  override extraRepr(): string { return `dim=${this.dim}`; }
}
registerLayer(LogSoftmax);

/** Options of PReLU. */
export interface PReLUOptions {
  /** 1 (one shared slope) or the channel count (default 1). */
  numParameters?: number;
  /** Initial slope (default 0.25). */
  init?: number;
}

/** x for x > 0, else a learned slope × x, per channel or shared (torch.nn.PReLU). @example new nn.PReLU({ numParameters: 64 }) */
export class PReLU extends Module {
  readonly numParameters: number;
  weight: Parameter;
  constructor(opts: PReLUOptions = {}) {
    super();
    this.numParameters = intArg('PReLU', 'numParameters', opts.numParameters ?? 1);
    this.weight = new Parameter(constant_(Tensor.empty([this.numParameters]), numberArg('PReLU', 'init', opts.init ?? 0.25)));
  }
  override forward(input: Tensor): Tensor { return F.prelu(input, this.weight); }
  config(): LayerConfig { return { args: [], options: { numParameters: this.numParameters } }; }
  override extraRepr(): string { return `num_parameters=${this.numParameters}`; }
}
registerLayer(PReLU);
