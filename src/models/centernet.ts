/**
 * CenterNet's upsampling head over a ResNet backbone (msra_resnet.py): ConvTranspose2d (stride 2)
 * + BatchNorm2d + ReLU stages, then one 3×3 conv + ReLU + 1×1 conv branch per output
 * (heatmap `hm`, box size `wh`, centre offset `reg`).
 */
import type { Tensor } from '../tensor/tensor.js';
import { constant_, manualSeed, normal_ } from '../nn/init.js';
import { Module } from '../nn/module.js';
import { nn } from '../nn/index.js';

/** Options of CenterNet's head. */
export interface CenterNetHeadOptions {
  /** Channels of the backbone feature map (default 512, ResNet-18's last stage). */
  inChannels?: number;
  /** Heatmap classes (default 80, COCO). */
  numClasses?: number;
  /** Channels of each branch's 3×3 conv (default 64). */
  headConv?: number;
  /** Output channels of each upsampling stage (default [256, 256, 256]). */
  deconvChannels?: readonly number[];
}

/** A 3×3 conv + ReLU + 1×1 conv branch ending in `last`. */
function branch(inChannels: number, headConv: number, last: nn.Conv2d): nn.Sequential {
  return new nn.Sequential(new nn.Conv2d(inChannels, headConv, 3, { padding: 1 }), new nn.ReLU(), last);
}

/**
 * Upsamples a stride-32 feature map ×8 and predicts [hm, wh, reg] maps. Initialized as
 * CenterNet: deconvolutions N(0, 0.001), batch norms (1, 0), branch convs N(0, 0.001) with
 * zero bias, and the heatmap's last bias −2.19 (focal-loss prior).
 *
 * @example
 * const head = new CenterNetHead({ numClasses: 80 }).eval();
 * const [hm, wh, reg] = head.forward(Tensor.randn([1, 512, 16, 16])); // [1, 80, 128, 128], [1, 2, ...], [1, 2, ...]
 */
export class CenterNetHead extends Module {
  deconv_layers: nn.Sequential;
  hm: nn.Sequential;
  wh: nn.Sequential;
  reg: nn.Sequential;

  constructor(opts: CenterNetHeadOptions = {}) {
    super();
    const headConv = opts.headConv ?? 64;
    const stages: Module[] = [];
    let channels = opts.inChannels ?? 512;
    for (const planes of opts.deconvChannels ?? [256, 256, 256]) {
      stages.push(
        new nn.ConvTranspose2d(channels, planes, 4, { stride: 2, padding: 1, outputPadding: 0, bias: false }),
        new nn.BatchNorm2d(planes, { momentum: 0.1 }),
        new nn.ReLU(),
      );
      channels = planes;
    }
    this.deconv_layers = new nn.Sequential(...stages);
    const heatmap = new nn.Conv2d(headConv, opts.numClasses ?? 80, 1);
    this.hm = branch(channels, headConv, heatmap);
    this.wh = branch(channels, headConv, new nn.Conv2d(headConv, 2, 1));
    this.reg = branch(channels, headConv, new nn.Conv2d(headConv, 2, 1));
    for (const m of this.modules()) {
      if (m instanceof nn.ConvTranspose2d) normal_(m.weight, 0, 0.001);
      else if (m instanceof nn.BatchNorm2d) {
        constant_(m.weight!, 1);
        constant_(m.bias!, 0);
      } else if (m instanceof nn.Conv2d) {
        normal_(m.weight, 0, 0.001);
        constant_(m.bias!, 0);
      }
    }
    constant_(heatmap.bias!, -2.19);
  }

  override forward(x: Tensor): [Tensor, Tensor, Tensor] {
    const features = this.deconv_layers.forward(x);
    return [this.hm.forward(features), this.wh.forward(features), this.reg.forward(features)];
  }
}

/**
 * CenterNet's head for a ResNet-18 backbone, input [N, 512, H/32, W/32]; reseeds the global
 * generator with `seed` (default 0).
 *
 * @example
 * const head = centerNetHead({ numClasses: 80 }).eval();
 */
export function centerNetHead(opts: CenterNetHeadOptions & { seed?: number } = {}): CenterNetHead {
  const { seed, ...options } = opts;
  manualSeed(seed ?? 0);
  return new CenterNetHead(options);
}
