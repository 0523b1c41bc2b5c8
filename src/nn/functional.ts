/**
 * The functional API `F` (torch.* and torch.nn.functional.* with camelCase names and options
 * objects). Every function is a GraphFunction named 'F.<name>' defined by its mapping onto acc
 * ops: eager calls run that mapping on the reference kernels, symbolicTrace records
 * call_function nodes, accTrace expands them into acc ops. The family files in ./functional/
 * hold the definitions; importing this module also installs the tensor methods.
 */
import './tensor_methods.js';
import * as activation from './functional/activation.js';
import * as conv from './functional/conv.js';
import * as elementwise from './functional/elementwise.js';
import * as indexing from './functional/indexing.js';
import * as linalg from './functional/linalg.js';
import * as norm from './functional/norm.js';
import * as pool from './functional/pool.js';
import * as quant from './functional/quant.js';
import * as reduce from './functional/reduce.js';
import * as resize from './functional/resize.js';
import * as shape from './functional/shape.js';

/**
 * The functional namespace: positional arguments as in PyTorch, then an optional options object
 * with camelCase keys.
 *
 * @example
 * const y = F.relu(F.conv2d(x, w, b, { stride: 2, padding: 1 }));
 * const up = F.interpolate(y, { scaleFactor: 2, mode: 'bilinear', alignCorners: false });
 * const z = F.layerNorm(h, [768], gamma, beta, { eps: 1e-12 });
 */
export const F = Object.freeze({
  ...elementwise, ...activation, ...reduce, ...norm, ...linalg, ...conv, ...pool, ...resize, ...shape, ...indexing, ...quant,
});

export type { Operand, Scalar, RoundingMode } from './functional/elementwise.js';
export type { InplaceOpts } from './functional/activation.js';
export type { Dims, ReduceOpts } from './functional/reduce.js';
export type { BatchNormOpts, InstanceNormOpts } from './functional/norm.js';
export type { AttentionOpts } from './functional/linalg.js';
export type { ConvOpts, ConvPadding, ConvTransposeOpts, IntOrList } from './functional/conv.js';
export type { AdaptiveSize, AvgPoolOpts, MaxPoolOpts } from './functional/pool.js';
export type { InterpolateMode, InterpolateOpts, PadMode, ScaleFactor, SpatialSize } from './functional/resize.js';
export type { EmbeddingOpts } from './functional/indexing.js';
export type { QuantDType } from './functional/quant.js';
