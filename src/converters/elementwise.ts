/**
 * Converters of the elementwise acc ops: binary arithmetic, comparisons and logical ops (operands
 * promoted as PyTorch does, then cast to one dtype and brought to one rank), unary math, where,
 * clamp and to_dtype. Composites where no layer matches: ne = not(equal), ge = or(greater, equal),
 * fmod = a - trunc(a / b) * b.
 */
import type { ElementWiseOp, NetTensor, UnaryOp } from '../engine/network.js';
import { isFloating, type DType } from '../tensor/dtype.js';
import type { ConversionContext } from './context.js';
import { computeType, materialize, type Operand } from './operands.js';
import { registerConverter } from './registry.js';

type BinaryArgs = { input: NetTensor; other: Operand };

/** A binary converter: the compute dtype of the operands, then `build` on equal-dtype, equal-rank tensors. */
function binary(name: string, build: (ctx: ConversionContext, a: NetTensor, b: NetTensor, dtype: DType) => NetTensor): void {
  registerConverter<BinaryArgs>(name, (ctx, _node, { input, other }) => {
    const dtype = computeType(ctx, [input, other]);
    const [a, b] = materialize(ctx, [input, other], dtype);
    return build(ctx, a!, b!, dtype);
  });
}

const ew = (op: ElementWiseOp) => (ctx: ConversionContext, a: NetTensor, b: NetTensor): NetTensor => ctx.elementwise(op, a, b);

// bool + bool is logical or, bool * bool logical and (PyTorch); max/min of bools likewise.
binary('add', (ctx, a, b, dt) => ctx.elementwise(dt === 'bool' ? 'or' : 'sum', a, b));
binary('sub', ew('sub'));
binary('mul', (ctx, a, b, dt) => ctx.elementwise(dt === 'bool' ? 'and' : 'prod', a, b));
binary('maximum', (ctx, a, b, dt) => ctx.elementwise(dt === 'bool' ? 'or' : 'max', a, b));
binary('minimum', (ctx, a, b, dt) => ctx.elementwise(dt === 'bool' ? 'and' : 'min', a, b));
binary('floor_div', ew('floor_div'));
binary('remainder', ew('mod'));
// fmod has the sign of the dividend: a - trunc(a / b) * b (integer div already truncates).
binary('fmod', (ctx, a, b, dt) => {
  const q = ctx.elementwise('div', a, b);
  const t = isFloating(dt) ? ctx.unary('trunc', q) : q;
  return ctx.elementwise('sub', a, ctx.elementwise('prod', t, b));
});

type PowArgs = { input: NetTensor; exponent: Operand };
registerConverter<PowArgs>('pow', (ctx, _node, { input, exponent }) => {
  const dtype = computeType(ctx, [input, exponent]);
  const [a, b] = materialize(ctx, [input, exponent], dtype);
  return ctx.elementwise('pow', a!, b!);
});

type DivArgs = BinaryArgs & { rounding_mode: 'trunc' | 'floor' | null };
registerConverter<DivArgs>('div', (ctx, _node, { input, other, rounding_mode }) => {
  let dtype = computeType(ctx, [input, other]);
  // True division of integers gives a float; the rounding modes keep the promoted dtype.
  if (rounding_mode === null && !isFloating(dtype)) dtype = ctx.precision;
  const [a, b] = materialize(ctx, [input, other], dtype);
  if (rounding_mode === 'floor') return ctx.elementwise('floor_div', a!, b!);
  const q = ctx.elementwise('div', a!, b!);
  return rounding_mode === 'trunc' && isFloating(dtype) ? ctx.unary('trunc', q) : q;
});

/** A comparison: computed in the promoted dtype (bools as int32, which the layers compare). */
function comparison(name: string, build: (ctx: ConversionContext, a: NetTensor, b: NetTensor) => NetTensor): void {
  registerConverter<BinaryArgs>(name, (ctx, _node, { input, other }) => {
    const promoted = computeType(ctx, [input, other]);
    const [a, b] = materialize(ctx, [input, other], promoted === 'bool' ? 'int32' : promoted);
    return build(ctx, a!, b!);
  });
}

comparison('eq', ew('equal'));
comparison('gt', ew('greater'));
comparison('lt', ew('less'));
comparison('ne', (ctx, a, b) => ctx.unary('not', ctx.elementwise('equal', a, b)));
comparison('ge', (ctx, a, b) => ctx.elementwise('or', ctx.elementwise('greater', a, b), ctx.elementwise('equal', a, b)));
comparison('le', (ctx, a, b) => ctx.elementwise('or', ctx.elementwise('less', a, b), ctx.elementwise('equal', a, b)));

// Logical ops read any dtype as "nonzero is true" (NaN included), which is what a cast to bool does.
for (const [name, op] of [['logical_and', 'and'], ['logical_or', 'or'], ['logical_xor', 'xor']] as const) {
  registerConverter<BinaryArgs>(name, (ctx, _node, { input, other }) => {
    const [a, b] = materialize(ctx, [input, other], 'bool');
    return ctx.elementwise(op, a!, b!);
  });
}

type UnaryArgs = { input: NetTensor };

registerConverter<UnaryArgs>('logical_not', (ctx, _node, { input }) => ctx.unary('not', ctx.cast(input, 'bool')));

// Ops computed in floating point: integer and bool inputs become the precision first.
const FLOAT_UNARY: readonly (readonly [string, UnaryOp])[] = [
  ['exp', 'exp'], ['log', 'log'], ['sqrt', 'sqrt'], ['rsqrt', 'rsqrt'], ['reciprocal', 'recip'], ['sin', 'sin'], ['cos', 'cos'],
  ['tan', 'tan'], ['asin', 'asin'], ['acos', 'acos'], ['atan', 'atan'], ['sinh', 'sinh'], ['cosh', 'cosh'], ['erf', 'erf'],
];
for (const [name, op] of FLOAT_UNARY) {
  registerConverter<UnaryArgs>(name, (ctx, _node, { input }) => ctx.unary(op, ctx.cast(input, isFloating(input.dtype) ? input.dtype : ctx.precision)));
}

registerConverter<UnaryArgs>('abs', (ctx, _node, { input }) => ctx.unary('abs', input));
registerConverter<UnaryArgs>('neg', (ctx, _node, { input }) => ctx.unary('neg', input));
// Rounding is the identity on integers (PyTorch returns them unchanged); sign of a bool is itself.
for (const name of ['floor', 'ceil', 'round', 'trunc'] as const) {
  registerConverter<UnaryArgs>(name, (ctx, _node, { input }) => (isFloating(input.dtype) ? ctx.unary(name, input) : input));
}
registerConverter<UnaryArgs>('sign', (ctx, _node, { input }) => (input.dtype === 'bool' ? input : ctx.unary('sign', input)));
registerConverter<UnaryArgs>('isnan', (ctx, _node, { input }) => ctx.unary('isnan', input.dtype === 'bool' ? ctx.cast(input, 'int32') : input));

type WhereArgs = { condition: NetTensor; input: Operand; other: Operand };
registerConverter<WhereArgs>('where', (ctx, _node, { condition, input, other }) => {
  const dtype = computeType(ctx, [input, other]);
  const [a, b] = materialize(ctx, [input, other], dtype, condition.shape.length);
  const cond = ctx.unsqueezeTo(ctx.cast(condition, 'bool'), a!.shape.length);
  return ctx.layer1('select', [cond, a!, b!], {});
});

type ClampArgs = { input: NetTensor; min: number | boolean | null; max: number | boolean | null };
// clamp → clip (min(max(x, lo), hi): NaN propagates, and hi wins when lo > hi, as in PyTorch).
registerConverter<ClampArgs>('clamp', (ctx, _node, { input, min, max }) => {
  const bounds: Operand[] = [input];
  if (min !== null) bounds.push(min);
  if (max !== null) bounds.push(max);
  const dtype = computeType(ctx, bounds);
  const alpha = min === null ? -Infinity : Number(min);
  const beta = max === null ? Infinity : Number(max);
  return ctx.layer1('activation', [ctx.cast(input, dtype)], { op: 'clip', alpha, beta });
});

type ToDtypeArgs = { input: NetTensor; dtype: DType };
registerConverter<ToDtypeArgs>('to_dtype', (ctx, _node, { input, dtype }) => ctx.cast(input, ctx.netType(dtype)));
