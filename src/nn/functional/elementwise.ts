/** Pointwise F functions (torch.add, torch.eq, torch.exp, ...), mapped onto the elementwise acc ops. */
import type { Emitter, MappingRule } from '../../acc_ops/mapping.js';
import { describeValue } from '../../acc_ops/registry.js';
import { sig, type Kwargs } from '../../ir/signature.js';
import { isFloating, type DType } from '../../tensor/dtype.js';
import { Tensor } from '../../tensor/tensor.js';
import { tensorArg } from './args.js';
import { defineF, type FArgs, type RuleFactory } from './define.js';

/** A tensor or a Python-style scalar operand. */
export type Operand = Tensor | number | boolean;
/** A scalar (numbers and booleans). */
export type Scalar = number | boolean;
export type RoundingMode = 'trunc' | 'floor' | null;

const binary = (name: string, to = name): ((input: Tensor, other: Operand) => Tensor) =>
  defineF<[input: Tensor, other: Operand]>(name, sig('input', 'other'), { to });
const unary = (name: string, to = name): ((input: Tensor) => Tensor) => defineF<[input: Tensor]>(name, sig('input'), { to });

/** `other * alpha` for add/sub, rejecting a fractional alpha on integral operands as PyTorch does. */
function scaledOther(kw: Kwargs, e: Emitter, what: string): Operand {
  const other = kw['other'];
  const alpha = kw['alpha'];
  if (typeof alpha !== 'number') throw new TypeError(`${what}: argument 'alpha' expects a number, got ${describeValue(alpha)}`);
  if (!(other instanceof Tensor) && typeof other !== 'number' && typeof other !== 'boolean') {
    throw new TypeError(`${what}: argument 'other' expects a Tensor or a scalar, got ${describeValue(other)}`);
  }
  if (alpha === 1) return other;
  const input = tensorArg(kw, 'input', what);
  const floating = isFloating(e.meta(input).dtype) ||
    (other instanceof Tensor ? isFloating(e.meta(other).dtype) : !Number.isInteger(Number(other)));
  if (!floating && !Number.isInteger(alpha)) {
    throw new TypeError(`${what}: for integral input tensors, argument 'alpha' must not be a floating point number, got ${alpha}`);
  }
  return other instanceof Tensor ? e.tensor('mul', { input: other, other: alpha }) : Number(other) * alpha;
}

const alphaRule = (op: 'add' | 'sub'): RuleFactory => (what): MappingRule => ({
  custom: (kw, e) => e.tensor(op, { input: kw['input'], other: scaledOther(kw, e, what) }),
});

type AlphaArgs = [input: Tensor, other: Operand, opts?: { alpha?: number }];

/** input + alpha × other, broadcasting, with PyTorch's type promotion. @example F.add(x, y, { alpha: 2 }) */
export const add = defineF<AlphaArgs>('add', sig('input', 'other', '*', ['alpha', 1]), alphaRule('add'));
/** input − alpha × other. @example F.sub(x, 1) */
export const sub = defineF<AlphaArgs>('sub', sig('input', 'other', '*', ['alpha', 1]), alphaRule('sub'));
/** input × other. @example F.mul(x, y) */
export const mul = binary('mul');
/** input ÷ other: true division, or rounded with `roundingMode` 'trunc' / 'floor'. @example F.div(x, 2, { roundingMode: 'floor' }) */
export const div = defineF<[input: Tensor, other: Operand, opts?: { roundingMode?: RoundingMode }]>(
  'div', sig('input', 'other', '*', ['roundingMode', null]), { to: 'div', rename: { roundingMode: 'rounding_mode' } });
/** ⌊input ÷ other⌋ (torch.floor_divide). @example F.floorDivide(x, 3) */
export const floorDivide = binary('floorDivide', 'floor_div');
/** input ** exponent. @example F.pow(x, 2) */
export const pow = defineF<[input: Tensor, exponent: Operand]>('pow', sig('input', 'exponent'), { to: 'pow' });
/** Elementwise maximum, propagating NaN. @example F.maximum(x, y) */
export const maximum = binary('maximum');
/** Elementwise minimum, propagating NaN. @example F.minimum(x, y) */
export const minimum = binary('minimum');
/** C-style remainder (sign of the dividend). @example F.fmod(x, 3) */
export const fmod = binary('fmod');
/** Python-style remainder (sign of the divisor). @example F.remainder(x, 3) */
export const remainder = binary('remainder');

/** input == other, as bool. @example F.eq(x, 0) */
export const eq = binary('eq');
/** input != other, as bool. @example F.ne(x, 0) */
export const ne = binary('ne');
/** input > other, as bool. @example F.gt(x, 0) */
export const gt = binary('gt');
/** input >= other, as bool. @example F.ge(x, 0) */
export const ge = binary('ge');
/** input < other, as bool. @example F.lt(x, 0) */
export const lt = binary('lt');
/** input <= other, as bool. @example F.le(x, 0) */
export const le = binary('le');
/** Logical and of truth values, as bool. @example F.logicalAnd(a, b) */
export const logicalAnd = binary('logicalAnd', 'logical_and');
/** Logical or, as bool. @example F.logicalOr(a, b) */
export const logicalOr = binary('logicalOr', 'logical_or');
/** Logical exclusive or, as bool. @example F.logicalXor(a, b) */
export const logicalXor = binary('logicalXor', 'logical_xor');
/** Logical not, as bool. @example F.logicalNot(mask) */
export const logicalNot = unary('logicalNot', 'logical_not');

/** |x|. @example F.abs(x) */
export const abs = unary('abs');
/** −x. @example F.neg(x) */
export const neg = unary('neg');
/** eˣ. @example F.exp(x) */
export const exp = unary('exp');
/** Natural logarithm. @example F.log(x) */
export const log = unary('log');
/** √x. @example F.sqrt(x) */
export const sqrt = unary('sqrt');
/** 1/√x. @example F.rsqrt(x) */
export const rsqrt = unary('rsqrt');
/** 1/x. @example F.reciprocal(x) */
export const reciprocal = unary('reciprocal');
/** sin x. @example F.sin(x) */
export const sin = unary('sin');
/** cos x. @example F.cos(x) */
export const cos = unary('cos');
/** tan x. @example F.tan(x) */
export const tan = unary('tan');
/** arcsin x. @example F.asin(x) */
export const asin = unary('asin');
/** arccos x. @example F.acos(x) */
export const acos = unary('acos');
/** arctan x. @example F.atan(x) */
export const atan = unary('atan');
/** sinh x. @example F.sinh(x) */
export const sinh = unary('sinh');
/** cosh x. @example F.cosh(x) */
export const cosh = unary('cosh');
/** The Gauss error function. @example F.erf(x) */
export const erf = unary('erf');
/** Round toward −∞. @example F.floor(x) */
export const floor = unary('floor');
/** Round toward +∞. @example F.ceil(x) */
export const ceil = unary('ceil');
/** Round half to even. @example F.round(x) */
export const round = unary('round');
/** Round toward zero. @example F.trunc(x) */
export const trunc = unary('trunc');
/** −1, 0 or 1 by sign. @example F.sign(x) */
export const sign = unary('sign');
/** Whether each element is NaN, as bool. @example F.isnan(x) */
export const isnan = unary('isnan');

/** Elements of `input` where `condition` holds, else of `other` (broadcasting). @example F.where(mask, x, 0) */
export const where = defineF<[condition: Tensor, input: Operand, other: Operand]>(
  'where', sig('condition', 'input', 'other'), { to: 'where' });
/** Clamps into [min, max]; either bound may be null. @example F.clamp(x, 0, 6); F.clamp(x, { min: 0 }) */
export const clamp = defineF<FArgs<[input: Tensor], [min?: Scalar | null, max?: Scalar | null], { min?: Scalar | null; max?: Scalar | null }>>(
  'clamp', sig('input', ['min', null], ['max', null]), { to: 'clamp' });
/** Converts the element type (rounding to nearest even into floats, truncating into ints). @example F.to(x, 'float16') */
export const to = defineF<[input: Tensor, dtype: DType]>('to', sig('input', 'dtype'), { to: 'to_dtype' });
/** The same cast as F.to, under the name graph passes use for it. @example F.cast(x, 'int32') */
export const cast = defineF<[input: Tensor, dtype: DType]>('cast', sig('input', 'dtype'), { to: 'to_dtype' });
