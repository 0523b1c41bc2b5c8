/**
 * The module API: the `nn` namespace (the built-in layers, as torch.nn), Module and Parameter,
 * the deterministic initializers (`init`, `manualSeed`) and the layer registry.
 *
 * @example
 * const net = new nn.Sequential(
 *   new nn.Conv2d(3, 64, 7, { stride: 2, padding: 3, bias: false }),
 *   new nn.BatchNorm2d(64),
 *   new nn.ReLU(),
 *   new nn.MaxPool2d(3, { stride: 2, padding: 1 }),
 * );
 * const conv: nn.Conv2d = net.get(0) as nn.Conv2d;
 */
export * as nn from './layers/index.js';
export { Module, Parameter } from './module.js';
export * as init from './init.js';
export { manualSeed, Generator } from './init.js';
export { builtinModuleClasses, buildLayer, type LayerClass, type LayerConfig, type ConfigurableModule } from './layers/registry.js';
