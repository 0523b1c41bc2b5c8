/**
 * Bundled example models built with the `nn` API, each with a seeded factory, and the
 * `modelZoo` table the CLI, benchmarks and tests pick them from.
 */
import type { TraceOptions } from '../ir/tracer.js';
import type { Module } from '../nn/module.js';
import { bertEncoder, bertEncoderLayer } from './bert.js';
import { centerNetHead } from './centernet.js';
import { mlp } from './mlp.js';
import { mobilenetV2 } from './mobilenet_v2.js';
import { resnet18, resnet18Cifar, resnet50 } from './resnet.js';

export * from './bert.js';
export * from './centernet.js';
export * from './mlp.js';
export * from './mobilenet_v2.js';
export * from './resnet.js';

/** The names of the bundled models. */
export type ModelName = 'mlp' | 'resnet18' | 'resnet50' | 'resnet18Cifar' | 'mobilenetV2' | 'bertEncoderLayer' | 'bertEncoder' | 'centerNetHead';

/** A bundled model: how to build it and what it takes. */
export interface ZooEntry {
  /** Builds the model with weights drawn after reseeding the global generator (default seed 0). */
  readonly create: (opts?: { seed?: number }) => Module;
  /** Shape of the single float32 example input (the reference benchmark size). */
  readonly inputShape: readonly number[];
  /** Options for symbolicTrace (e.g. optional inputs bound to null). */
  readonly traceOptions: TraceOptions;
  readonly description: string;
}

const noMask: TraceOptions = { concreteArgs: { attentionMask: null } };

/**
 * The bundled models by name.
 *
 * @example
 * const { create, inputShape, traceOptions } = modelZoo.resnet18;
 * const gm = symbolicTrace(create().eval(), traceOptions);
 * const y = gm.forward(Tensor.randn(inputShape));
 */
export const modelZoo: Readonly<Record<ModelName, ZooEntry>> = Object.freeze({
  mlp: { create: mlp, inputShape: [10240, 512], traceOptions: {}, description: 'Linear(512, 2048) → ReLU → Linear(2048, 512) (seed 000)' },
  resnet18: { create: resnet18, inputShape: [1, 3, 224, 224], traceOptions: {}, description: 'torchvision ResNet-18, 1000 classes' },
  resnet50: { create: resnet50, inputShape: [1, 3, 224, 224], traceOptions: {}, description: 'torchvision ResNet-50 (v1.5), 1000 classes' },
  resnet18Cifar: {
    create: resnet18Cifar, inputShape: [1, 3, 32, 32], traceOptions: {},
    description: 'ResNet-18 with a 3×3 stride-1 stem and no max pool, 10 classes (seed 003)',
  },
  mobilenetV2: { create: mobilenetV2, inputShape: [1, 3, 224, 224], traceOptions: {}, description: 'torchvision MobileNetV2, width 1.0, 1000 classes' },
  bertEncoderLayer: {
    create: bertEncoderLayer, inputShape: [1, 128, 768], traceOptions: noMask,
    description: 'one BERT-base encoder layer (768 hidden, 12 heads, 3072 intermediate) on hidden states',
  },
  bertEncoder: {
    create: (opts) => bertEncoder(12, opts), inputShape: [1, 128, 768], traceOptions: noMask,
    description: 'the 12-layer BERT-base encoder on hidden states',
  },
  centerNetHead: {
    create: centerNetHead, inputShape: [1, 512, 16, 16], traceOptions: {},
    description: 'CenterNet upsampling head (3× ConvTranspose2d + BN + ReLU) with hm/wh/reg branches',
  },
});
