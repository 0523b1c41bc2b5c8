/** Activation F functions (torch.nn.functional.relu, gelu, hardswish, ...), mapped onto the activation acc ops. */
import { sig } from '../../ir/signature.js';
import type { Tensor } from '../../tensor/tensor.js';
import { tensorArg } from './args.js';
import { defineF, type FArgs } from './define.js';

/** `inplace`: in eager mode the result is also written into the input, which is returned (as PyTorch); traced graphs stay functional. */
export interface InplaceOpts { inplace?: boolean }

type ActArgs = FArgs<[input: Tensor], [inplace?: boolean], InplaceOpts>;
const withInplace = (name: string, to = name): ((...a: ActArgs) => Tensor) =>
  defineF<ActArgs>(name, sig('input', ['inplace', false]), { to, ignore: ['inplace'] }, { inplace: true });

/** max(x, 0). @example F.relu(x) */
export const relu = withInplace('relu');
/** min(max(x, 0), 6), as hardtanh(x, 0, 6). @example F.relu6(x) */
export const relu6 = defineF<ActArgs>('relu6', sig('input', ['inplace', false]),
  { to: 'hardtanh', ignore: ['inplace'], fixed: { min_val: 0, max_val: 6 } }, { inplace: true });
/** x for x > 0, else negativeSlope × x. @example F.leakyRelu(x, 0.2) */
export const leakyRelu = defineF<FArgs<[input: Tensor], [negativeSlope?: number, inplace?: boolean], { negativeSlope?: number; inplace?: boolean }>>(
  'leakyRelu', sig('input', ['negativeSlope', 0.01], ['inplace', false]),
  { to: 'leaky_relu', rename: { negativeSlope: 'negative_slope' }, ignore: ['inplace'] }, { inplace: true });
/** x for x > 0, else alpha × (eˣ − 1). @example F.elu(x, 1.0) */
export const elu = defineF<FArgs<[input: Tensor], [alpha?: number, inplace?: boolean], { alpha?: number; inplace?: boolean }>>(
  'elu', sig('input', ['alpha', 1], ['inplace', false]), { to: 'elu', ignore: ['inplace'] }, { inplace: true });
/** Scaled ELU with the self-normalizing constants. @example F.selu(x) */
export const selu = withInplace('selu');
/** Gaussian error linear unit, exact ('none') or with the tanh approximation. @example F.gelu(x, { approximate: 'tanh' }) */
export const gelu = defineF<[input: Tensor, opts?: { approximate?: 'none' | 'tanh' }]>(
  'gelu', sig('input', '*', ['approximate', 'none']), { to: 'gelu' });
/** x × sigmoid(x). @example F.silu(x) */
export const silu = withInplace('silu');
/** x × tanh(softplus(x)). @example F.mish(x) */
export const mish = defineF<ActArgs>('mish', sig('input', ['inplace', false]), (what) => ({
  custom: (kw, e) => {
    const x = tensorArg(kw, 'input', what);
    const sp = e.tensor('softplus', { input: x });
    return e.tensor('mul', { input: x, other: e.tensor('tanh', { input: sp }) });
  },
}), { inplace: true });
/** log(1 + e^(beta·x)) / beta, linear above `threshold`. @example F.softplus(x, 2) */
export const softplus = defineF<FArgs<[input: Tensor], [beta?: number, threshold?: number], { beta?: number; threshold?: number }>>(
  'softplus', sig('input', ['beta', 1], ['threshold', 20]), { to: 'softplus' });
/** x / (1 + |x|). @example F.softsign(x) */
export const softsign = defineF<[input: Tensor]>('softsign', sig('input'), { to: 'softsign' });
/** 1 / (1 + e⁻ˣ). @example F.sigmoid(x) */
export const sigmoid = defineF<[input: Tensor]>('sigmoid', sig('input'), { to: 'sigmoid' });
/** Hyperbolic tangent. @example F.tanh(x) */
export const tanh = defineF<[input: Tensor]>('tanh', sig('input'), { to: 'tanh' });
/** relu6(x + 3) / 6. @example F.hardsigmoid(x) */
export const hardsigmoid = withInplace('hardsigmoid');
/** x × hardsigmoid(x). @example F.hardswish(x) */
export const hardswish = defineF<ActArgs>('hardswish', sig('input', ['inplace', false]), (what) => ({
  custom: (kw, e) => {
    const x = tensorArg(kw, 'input', what);
    return e.tensor('mul', { input: x, other: e.tensor('hardsigmoid', { input: x }) });
  },
}), { inplace: true });
/** Clamps into [minVal, maxVal]. @example F.hardtanh(x, -2, 2) */
export const hardtanh = defineF<FArgs<[input: Tensor], [minVal?: number, maxVal?: number, inplace?: boolean],
  { minVal?: number; maxVal?: number; inplace?: boolean }>>(
  'hardtanh', sig('input', ['minVal', -1], ['maxVal', 1], ['inplace', false]),
  { to: 'hardtanh', rename: { minVal: 'min_val', maxVal: 'max_val' }, ignore: ['inplace'] }, { inplace: true });
/** x for x > 0, else weight × x, with one weight per channel (dim 1) or a single one. @example F.prelu(x, w) */
export const prelu = defineF<[input: Tensor, weight: Tensor]>('prelu', sig('input', 'weight'), { to: 'prelu' });
/**
 * Zeroes elements with probability p and scales the rest by 1/(1−p) when `training` (PyTorch's
 * default for the function form); the identity otherwise. @example F.dropout(x, 0.1, false)
 */
export const dropout = defineF<FArgs<[input: Tensor], [p?: number, training?: boolean, inplace?: boolean],
  { p?: number; training?: boolean; inplace?: boolean }>>(
  'dropout', sig('input', ['p', 0.5], ['training', true], ['inplace', false]), { to: 'dropout', ignore: ['inplace'] }, { inplace: true });
