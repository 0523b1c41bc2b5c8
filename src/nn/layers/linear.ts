/** Affine layers: Linear, and Identity (the placeholder layer). */
import { Tensor } from '../../tensor/tensor.js';
import { F } from '../functional.js';
import { defaultAffineInit } from '../init.js';
import { Module, Parameter } from '../module.js';
import { boolArg, intArg } from './args.js';
import { registerLayer, type LayerConfig } from './registry.js';
import { pyRepr } from './repr.js';

/** Options of Linear. */
export interface LinearOptions {
  /** Learn an additive bias (default true). */
  bias?: boolean;
}

/**
 * y = x Wᵀ + b over the last dim (torch.nn.Linear); weight [out, in], kaiming-uniform initialized.
 *
 * @example
 * const fc = new nn.Linear(512, 2048);
 * fc.forward(Tensor.randn([8, 512])).shape; // [8, 2048]
 */
export class Linear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  weight: Parameter;
  bias: Parameter | null;

  constructor(inFeatures: number, outFeatures: number, opts: LinearOptions = {}) {
    super();
    this.inFeatures = intArg('Linear', 'inFeatures', inFeatures, 0);
    this.outFeatures = intArg('Linear', 'outFeatures', outFeatures, 0);
    const withBias = boolArg('Linear', 'bias', opts.bias ?? true);
    const { weight, bias } = defaultAffineInit([this.outFeatures, this.inFeatures], withBias ? this.outFeatures : null);
    this.weight = new Parameter(weight);
    this.bias = bias && new Parameter(bias);
  }

  override forward(input: Tensor): Tensor {
    return F.linear(input, this.weight, this.bias);
  }

  config(): LayerConfig {
    return { args: [this.inFeatures, this.outFeatures], options: { bias: this.bias !== null } };
  }

  override extraRepr(): string {
    return `in_features=${this.inFeatures}, out_features=${this.outFeatures}, bias=${pyRepr(this.bias !== null)}`;
  }
}
registerLayer(Linear);

/**
 * Returns its input unchanged (torch.nn.Identity): stands in for a removed layer.
 *
 * @example
 * model.maxpool = new nn.Identity();
 */
export class Identity extends Module {
  override forward(input: Tensor): Tensor {
    return input;
  }

  config(): LayerConfig {
    return { args: [], options: {} };
  }
}
registerLayer(Identity);
