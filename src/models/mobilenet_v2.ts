/** MobileNetV2 as torchvision builds it: inverted residuals with depthwise convolutions and ReLU6. */
import type { Tensor } from '../tensor/tensor.js';
import { F } from '../nn/functional.js';
import { constant_, kaimingNormal_, manualSeed, normal_, zeros_ } from '../nn/init.js';
import { Module } from '../nn/module.js';
import { nn, type LayerConfig } from '../nn/index.js';

/** Rounds a channel count to a multiple of `divisor`, never below 90% of it (torchvision's _make_divisible). */
export function makeDivisible(v: number, divisor: number): number {
  let next = Math.max(divisor, Math.floor((v + divisor / 2) / divisor) * divisor);
  if (next < 0.9 * v) next += divisor;
  return next;
}

/**
 * Conv2d (no bias, "same"-style padding) → BatchNorm2d → ReLU6, as a Sequential with children
 * '0', '1', '2' (torchvision's Conv2dNormActivation with MobileNetV2's settings).
 *
 * @example
 * new Conv2dNormActivation(3, 32, { stride: 2 }).forward(Tensor.randn([1, 3, 224, 224])).shape; // [1, 32, 112, 112]
 */
export class Conv2dNormActivation extends nn.Sequential {
  readonly #args: [number, number, { kernelSize: number; stride: number; groups: number }];

  constructor(inChannels: number, outChannels: number, opts: { kernelSize?: number; stride?: number; groups?: number } = {}) {
    const kernelSize = opts.kernelSize ?? 3;
    const stride = opts.stride ?? 1;
    const groups = opts.groups ?? 1;
    super(
      new nn.Conv2d(inChannels, outChannels, kernelSize, { stride, padding: Math.floor((kernelSize - 1) / 2), groups, bias: false }),
      new nn.BatchNorm2d(outChannels),
      new nn.ReLU6(),
    );
    this.#args = [inChannels, outChannels, { kernelSize, stride, groups }];
  }

  /** Its own constructor arguments (not the children, as Sequential's config would give). */
  override config(): LayerConfig {
    const [inChannels, outChannels, options] = this.#args;
    return { args: [inChannels, outChannels], options: { ...options } };
  }
}

/**
 * Expand (1×1) → depthwise 3×3 → project (1×1, linear), with a residual connection when the
 * shape is kept (torchvision's InvertedResidual).
 *
 * @example
 * new InvertedResidual(24, 24, 1, 6).forward(Tensor.randn([1, 24, 56, 56])).shape; // [1, 24, 56, 56]
 */
export class InvertedResidual extends Module {
  conv: nn.Sequential;
  readonly useResConnect: boolean;

  constructor(inp: number, oup: number, stride: 1 | 2, expandRatio: number) {
    super();
    const hidden = Math.round(inp * expandRatio);
    this.useResConnect = stride === 1 && inp === oup;
    const layers: Module[] = [];
    if (expandRatio !== 1) layers.push(new Conv2dNormActivation(inp, hidden, { kernelSize: 1 }));
    layers.push(
      new Conv2dNormActivation(hidden, hidden, { stride, groups: hidden }),
      new nn.Conv2d(hidden, oup, 1, { bias: false }),
      new nn.BatchNorm2d(oup),
    );
    this.conv = new nn.Sequential(...layers);
  }

  override forward(x: Tensor): Tensor {
    return this.useResConnect ? F.add(x, this.conv.forward(x)) : this.conv.forward(x);
  }
}

/** MobileNetV2's stages: expansion t, output channels c, repeats n, first stride s. */
const SETTINGS: readonly (readonly [number, number, number, 1 | 2])[] = [
  [1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1],
];

/** Options of MobileNetV2. */
export interface MobileNetV2Options {
  /** Classifier outputs (default 1000). */
  numClasses?: number;
  /** Channel multiplier (default 1.0). */
  widthMult?: number;
  /** Dropout before the classifier (default 0.2). */
  dropout?: number;
}

/**
 * torchvision's MobileNetV2: `features` (stem, 17 inverted residuals, 1×1 to 1280), global
 * average pool, `classifier` (Dropout, Linear). Kaiming-normal (fan_out) convolutions, N(0, 0.01) classifier.
 *
 * @example
 * const model = new MobileNetV2({ numClasses: 10 }).eval();
 */
export class MobileNetV2 extends Module {
  features: nn.Sequential;
  classifier: nn.Sequential;
  readonly lastChannel: number;

  constructor(opts: MobileNetV2Options = {}) {
    super();
    const width = opts.widthMult ?? 1;
    let input = makeDivisible(32 * width, 8);
    this.lastChannel = makeDivisible(1280 * Math.max(1, width), 8);
    const features: Module[] = [new Conv2dNormActivation(3, input, { stride: 2 })];
    for (const [t, c, n, s] of SETTINGS) {
      const output = makeDivisible(c * width, 8);
      for (let i = 0; i < n; i++) {
        features.push(new InvertedResidual(input, output, i === 0 ? s : 1, t));
        input = output;
      }
    }
    features.push(new Conv2dNormActivation(input, this.lastChannel, { kernelSize: 1 }));
    this.features = new nn.Sequential(...features);
    this.classifier = new nn.Sequential(new nn.Dropout({ p: opts.dropout ?? 0.2 }), new nn.Linear(this.lastChannel, opts.numClasses ?? 1000));
    for (const m of this.modules()) {
      if (m instanceof nn.Conv2d) {
        kaimingNormal_(m.weight, { mode: 'fan_out' });
        if (m.bias) zeros_(m.bias);
      } else if (m instanceof nn.BatchNorm2d) {
        constant_(m.weight!, 1);
        zeros_(m.bias!);
      } else if (m instanceof nn.Linear) {
        normal_(m.weight, 0, 0.01);
        if (m.bias) zeros_(m.bias);
      }
    }
  }

  override forward(x: Tensor): Tensor {
    const pooled = F.adaptiveAvgPool2d(this.features.forward(x), [1, 1]);
    return this.classifier.forward(F.flatten(pooled, 1));
  }
}

/**
 * MobileNetV2 (width 1.0), input [N, 3, 224, 224]; reseeds the global generator with `seed` (default 0).
 *
 * @example
 * const model = mobilenetV2().eval();
 */
export function mobilenetV2(opts: MobileNetV2Options & { seed?: number } = {}): MobileNetV2 {
  const { seed, ...options } = opts;
  manualSeed(seed ?? 0);
  return new MobileNetV2(options);
}
