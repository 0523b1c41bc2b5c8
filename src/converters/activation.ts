/**
 * Converters of the activation acc ops onto activation layers (alpha/beta as each layer op
 * defines them in layer_inference.ts), prelu onto parametric_relu, dropout onto nothing.
 */
import type { ActivationOp, NetTensor } from '../engine/network.js';
import { isFloating } from '../tensor/dtype.js';
import { Tensor } from '../tensor/tensor.js';
import type { ConversionContext } from './context.js';
import { argValue } from './node_meta.js';
import { registerConverter } from './registry.js';

type UnaryArgs = { input: NetTensor };

function activation(ctx: ConversionContext, x: NetTensor, op: ActivationOp, alpha = 0, beta = 0): NetTensor {
  return ctx.layer1('activation', [x], { op, alpha, beta });
}

/** Integer and bool inputs of ops PyTorch computes in float (sigmoid, tanh, softsign) become the precision. */
function floatInput(ctx: ConversionContext, x: NetTensor): NetTensor {
  return isFloating(x.dtype) ? x : ctx.cast(x, ctx.precision);
}

registerConverter<UnaryArgs>('relu', (ctx, _node, { input }) => activation(ctx, input, 'relu'));
registerConverter<UnaryArgs>('sigmoid', (ctx, _node, { input }) => activation(ctx, floatInput(ctx, input), 'sigmoid'));
registerConverter<UnaryArgs>('tanh', (ctx, _node, { input }) => activation(ctx, floatInput(ctx, input), 'tanh'));
registerConverter<UnaryArgs>('softsign', (ctx, _node, { input }) => activation(ctx, floatInput(ctx, input), 'softsign'));
registerConverter<UnaryArgs>('silu', (ctx, _node, { input }) => activation(ctx, input, 'silu'));
// SELU's fixed constants (Klambauer et al.), as PyTorch.
registerConverter<UnaryArgs>('selu', (ctx, _node, { input }) => activation(ctx, input, 'selu', 1.6732632423543772, 1.0507009873554805));
// hardsigmoid(x) = relu6(x + 3) / 6 = clamp(x / 6 + 1 / 2, 0, 1).
registerConverter<UnaryArgs>('hardsigmoid', (ctx, _node, { input }) => activation(ctx, input, 'hard_sigmoid', 1 / 6, 0.5));

registerConverter<UnaryArgs & { negative_slope: number }>('leaky_relu', (ctx, _node, { input, negative_slope }) =>
  activation(ctx, input, 'leaky_relu', negative_slope));
registerConverter<UnaryArgs & { alpha: number }>('elu', (ctx, _node, { input, alpha }) => activation(ctx, input, 'elu', alpha));
registerConverter<UnaryArgs & { approximate: 'none' | 'tanh' }>('gelu', (ctx, _node, { input, approximate }) =>
  activation(ctx, input, approximate === 'tanh' ? 'gelu_tanh' : 'gelu_erf'));

// The linear region above the threshold: at 20 and beyond log1p(exp(z)) and z agree to far below
// float32 resolution, so only a smaller threshold needs the explicit select.
const SOFTPLUS_EXACT_THRESHOLD = 20;

registerConverter<UnaryArgs & { beta: number; threshold: number }>('softplus', (ctx, _node, { input, beta, threshold }) => {
  const soft = activation(ctx, input, 'softplus', 1 / beta, beta);
  if (threshold >= SOFTPLUS_EXACT_THRESHOLD) return soft;
  const rank = input.shape.length;
  const scaled = ctx.elementwise('prod', input, ctx.scalarConstant(beta, input.dtype, rank));
  const linear = ctx.elementwise('greater', scaled, ctx.scalarConstant(threshold, input.dtype, rank));
  return ctx.layer1('select', [linear, input, soft], {});
});

// hardtanh → clip; integer inputs keep their dtype with the bounds truncated (PyTorch's rule).
registerConverter<UnaryArgs & { min_val: number; max_val: number }>('hardtanh', (ctx, _node, { input, min_val, max_val }) => {
  const int = !isFloating(input.dtype);
  return activation(ctx, input, 'clip', int ? Math.trunc(min_val) : min_val, int ? Math.trunc(max_val) : max_val);
});

type PreluArgs = { input: NetTensor; weight: NetTensor | Tensor };
// The slope broadcasts per channel (dim 1) or as one value: reshaped to [1, C, 1, ...] or [1, ..., 1].
registerConverter<PreluArgs>('prelu', (ctx, _node, { input, weight }) => {
  const rank = input.shape.length;
  const n = weight instanceof Tensor ? weight.numel : weight.shape.reduce((a, b) => a * b, 1);
  const view = new Array<number>(rank).fill(1);
  if (n !== 1) view[1] = n;
  const slope = weight instanceof Tensor ? ctx.constant(weight, { shape: view }) : ctx.reshape(weight, view);
  return ctx.layer1('parametric_relu', [input, slope], {});
}, { weights: ['weight'] });

type DropoutArgs = { input: NetTensor; p: number; training: boolean };
registerConverter<DropoutArgs>('dropout', (_ctx, _node, { input }) => input, {
  supports: (node) => (argValue(node, 'training') === true && argValue(node, 'p') !== 0 ? 'dropout in training mode is random and has no layer' : true),
});
