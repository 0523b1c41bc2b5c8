/** ResNets as torchvision builds them (BasicBlock / Bottleneck, ResNet v1.5), plus the CIFAR-stem ResNet-18 of seed 003. */
import type { Tensor } from '../tensor/tensor.js';
import { F } from '../nn/functional.js';
import { constant_, kaimingNormal_, manualSeed } from '../nn/init.js';
import { Module } from '../nn/module.js';
import { nn } from '../nn/index.js';

/** A residual block: `expansion` is its output channels per `planes`. */
type BlockClass = (new (inplanes: number, planes: number, stride: number, downsample: nn.Sequential | null) => Module) & {
  readonly expansion: number;
};

/**
 * Two 3×3 convolutions with a residual connection (torchvision's BasicBlock).
 *
 * @example
 * new BasicBlock(64, 64, 1, null).forward(Tensor.randn([1, 64, 56, 56])).shape; // [1, 64, 56, 56]
 */
export class BasicBlock extends Module {
  static readonly expansion = 1;
  conv1: nn.Conv2d;
  bn1: nn.BatchNorm2d;
  relu = new nn.ReLU();
  conv2: nn.Conv2d;
  bn2: nn.BatchNorm2d;
  downsample: nn.Sequential | null;

  constructor(inplanes: number, planes: number, stride = 1, downsample: nn.Sequential | null = null) {
    super();
    this.conv1 = new nn.Conv2d(inplanes, planes, 3, { stride, padding: 1, bias: false });
    this.bn1 = new nn.BatchNorm2d(planes);
    this.conv2 = new nn.Conv2d(planes, planes, 3, { padding: 1, bias: false });
    this.bn2 = new nn.BatchNorm2d(planes);
    this.downsample = downsample;
  }

  override forward(x: Tensor): Tensor {
    const identity = this.downsample ? this.downsample.forward(x) : x;
    let out = this.relu.forward(this.bn1.forward(this.conv1.forward(x)));
    out = this.bn2.forward(this.conv2.forward(out));
    return this.relu.forward(F.add(out, identity));
  }
}

/**
 * 1×1 reduce, 3×3 (strided, v1.5), 1×1 expand ×4, with a residual connection (torchvision's Bottleneck).
 *
 * @example
 * new Bottleneck(256, 64, 1, null).forward(Tensor.randn([1, 256, 56, 56])).shape; // [1, 256, 56, 56]
 */
export class Bottleneck extends Module {
  static readonly expansion = 4;
  conv1: nn.Conv2d;
  bn1: nn.BatchNorm2d;
  conv2: nn.Conv2d;
  bn2: nn.BatchNorm2d;
  conv3: nn.Conv2d;
  bn3: nn.BatchNorm2d;
  relu = new nn.ReLU();
  downsample: nn.Sequential | null;

  constructor(inplanes: number, planes: number, stride = 1, downsample: nn.Sequential | null = null) {
    super();
    this.conv1 = new nn.Conv2d(inplanes, planes, 1, { bias: false });
    this.bn1 = new nn.BatchNorm2d(planes);
    this.conv2 = new nn.Conv2d(planes, planes, 3, { stride, padding: 1, bias: false });
    this.bn2 = new nn.BatchNorm2d(planes);
    this.conv3 = new nn.Conv2d(planes, planes * Bottleneck.expansion, 1, { bias: false });
    this.bn3 = new nn.BatchNorm2d(planes * Bottleneck.expansion);
    this.downsample = downsample;
  }

  override forward(x: Tensor): Tensor {
    const identity = this.downsample ? this.downsample.forward(x) : x;
    let out = this.relu.forward(this.bn1.forward(this.conv1.forward(x)));
    out = this.relu.forward(this.bn2.forward(this.conv2.forward(out)));
    out = this.bn3.forward(this.conv3.forward(out));
    return this.relu.forward(F.add(out, identity));
  }
}

/** Options of the ResNet class. */
export interface ResNetOptions {
  /** Classifier outputs (default 1000). */
  numClasses?: number;
  /** 3×3 stride-1 stem and no max pool, for 32×32 inputs (the CIFAR variant); default false. */
  cifarStem?: boolean;
}

/**
 * torchvision's ResNet: stem, four stages of residual blocks, global average pool, fc.
 * Convolutions are kaiming-normal (fan_out, relu) initialized, batch norms to (1, 0).
 *
 * @example
 * const model = new ResNet(BasicBlock, [2, 2, 2, 2], { numClasses: 10 }).eval();
 */
export class ResNet extends Module {
  conv1: nn.Conv2d;
  bn1: nn.BatchNorm2d;
  relu = new nn.ReLU();
  maxpool: nn.MaxPool2d | nn.Identity;
  layer1: nn.Sequential;
  layer2: nn.Sequential;
  layer3: nn.Sequential;
  layer4: nn.Sequential;
  avgpool = new nn.AdaptiveAvgPool2d([1, 1]);
  fc: nn.Linear;
  #inplanes = 64;

  constructor(block: BlockClass, layers: readonly [number, number, number, number], opts: ResNetOptions = {}) {
    super();
    const cifar = opts.cifarStem ?? false;
    this.conv1 = cifar
      ? new nn.Conv2d(3, 64, 3, { stride: 1, padding: 1, bias: false })
      : new nn.Conv2d(3, 64, 7, { stride: 2, padding: 3, bias: false });
    this.bn1 = new nn.BatchNorm2d(64);
    this.maxpool = cifar ? new nn.Identity() : new nn.MaxPool2d(3, { stride: 2, padding: 1 });
    this.layer1 = this.#makeLayer(block, 64, layers[0], 1);
    this.layer2 = this.#makeLayer(block, 128, layers[1], 2);
    this.layer3 = this.#makeLayer(block, 256, layers[2], 2);
    this.layer4 = this.#makeLayer(block, 512, layers[3], 2);
    this.fc = new nn.Linear(512 * block.expansion, opts.numClasses ?? 1000);
    for (const m of this.modules()) {
      if (m instanceof nn.Conv2d) kaimingNormal_(m.weight, { mode: 'fan_out', nonlinearity: 'relu' });
      else if (m instanceof nn.BatchNorm2d) {
        constant_(m.weight!, 1);
        constant_(m.bias!, 0);
      }
    }
  }

  #makeLayer(block: BlockClass, planes: number, blocks: number, stride: number): nn.Sequential {
    const out = planes * block.expansion;
    const downsample = stride !== 1 || this.#inplanes !== out
      ? new nn.Sequential(new nn.Conv2d(this.#inplanes, out, 1, { stride, bias: false }), new nn.BatchNorm2d(out))
      : null;
    const seq = new nn.Sequential(new block(this.#inplanes, planes, stride, downsample));
    this.#inplanes = out;
    for (let i = 1; i < blocks; i++) seq.append(new block(this.#inplanes, planes, 1, null));
    return seq;
  }

  override forward(x: Tensor): Tensor {
    let y = this.maxpool.forward(this.relu.forward(this.bn1.forward(this.conv1.forward(x))));
    y = this.layer4.forward(this.layer3.forward(this.layer2.forward(this.layer1.forward(y))));
    return this.fc.forward(F.flatten(this.avgpool.forward(y), 1));
  }
}

/** Options of the resnet18 / resnet50 / resnet18Cifar factories. */
export interface ResNetFactoryOptions {
  numClasses?: number;
  /** Seed of the global generator the weights are drawn from (default 0); the factory reseeds it. */
  seed?: number;
}

/**
 * ResNet-18 (BasicBlock, [2, 2, 2, 2]), input [N, 3, 224, 224].
 *
 * @example
 * const model = resnet18({ numClasses: 1000 }).eval();
 */
export function resnet18(opts: ResNetFactoryOptions = {}): ResNet {
  manualSeed(opts.seed ?? 0);
  return new ResNet(BasicBlock, [2, 2, 2, 2], { numClasses: opts.numClasses ?? 1000 });
}

/**
 * ResNet-50 (Bottleneck, [3, 4, 6, 3]), input [N, 3, 224, 224].
 *
 * @example
 * const model = resnet50().eval();
 */
export function resnet50(opts: ResNetFactoryOptions = {}): ResNet {
  manualSeed(opts.seed ?? 0);
  return new ResNet(Bottleneck, [3, 4, 6, 3], { numClasses: opts.numClasses ?? 1000 });
}

/**
 * ResNet-18 for CIFAR-10 (seed 003): 3×3 stride-1 stem, no max pool, 10 classes; input [N, 3, 32, 32].
 *
 * @example
 * const model = resnet18Cifar().eval();
 */
export function resnet18Cifar(opts: ResNetFactoryOptions = {}): ResNet {
  manualSeed(opts.seed ?? 0);
  return new ResNet(BasicBlock, [2, 2, 2, 2], { numClasses: opts.numClasses ?? 10, cifarStem: true });
}
