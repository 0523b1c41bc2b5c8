/** The two-layer MLP of seed 000 (TensorRT issue #3266): Linear(512, 2048) → ReLU → Linear(2048, 512). */
import type { Tensor } from '../tensor/tensor.js';
import { manualSeed } from '../nn/init.js';
import { Module } from '../nn/module.js';
import { nn } from '../nn/index.js';

/** Widths of the MLP. */
export interface MLPOptions {
  /** Input and output width (default 512). */
  dModel?: number;
  /** Hidden width (default 2048). */
  dFF?: number;
}

/**
 * lin1 → activation (ReLU) → lin2, with the seed's attribute names.
 *
 * @example
 * new MLP().forward(Tensor.randn([10240, 512])).shape; // [10240, 512]
 */
export class MLP extends Module {
  lin1: nn.Linear;
  activation = new nn.ReLU();
  lin2: nn.Linear;

  constructor(opts: MLPOptions = {}) {
    super();
    const dModel = opts.dModel ?? 512;
    const dFF = opts.dFF ?? 2048;
    this.lin1 = new nn.Linear(dModel, dFF);
    this.lin2 = new nn.Linear(dFF, dModel);
  }

  override forward(x: Tensor): Tensor {
    return this.lin2.forward(this.activation.forward(this.lin1.forward(x)));
  }
}

/**
 * The seed-000 MLP (512 → 2048 → 512), input [10240, 512]; reseeds the global generator with `seed` (default 0).
 *
 * @example
 * const model = mlp().eval();
 */
export function mlp(opts: MLPOptions & { seed?: number } = {}): MLP {
  const { seed, ...options } = opts;
  manualSeed(seed ?? 0);
  return new MLP(options);
}
