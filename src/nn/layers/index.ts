/**
 * The built-in layers (torch.nn), re-exported as the `nn` namespace by src/nn/index.ts:
 * classes usable as values and as types (`nn.Conv2d`), with their option types.
 */
export { Module, Parameter } from '../module.js';
export * from './linear.js';
export * from './conv.js';
export * from './batch_norm.js';
export * from './norm.js';
export * from './activation.js';
export * from './pooling.js';
export * from './misc.js';
export * from './container.js';
export * from './attention.js';
