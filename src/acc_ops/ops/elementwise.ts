/**
 * Elementwise acc ops: binary arithmetic, comparisons and logical ops with broadcasting and
 * PyTorch type promotion; unary math; where, clamp and the cast op to_dtype.
 * Shape/dtype rules are written once (the *Types functions) and used by both infer and kernel.
 */
import type { TensorMeta } from '../../ir/node.js';
import { isDType, isFloating, isIntegral, type DType } from '../../tensor/dtype.js';
import type { Tensor } from '../../tensor/tensor.js';
import {
  broadcastAll, describeOperand, operandShape, resultType, type Operand, type OperandMeta, type Scalar, type ShapedType,
} from '../../kernels/reference/broadcast.js';
import {
  binaryKernel, castKernel, clampKernel, unaryOpKernel, whereKernel,
  type BinaryDTypes, type BinaryMathName, type UnaryMathName,
} from '../../kernels/reference/elementwise.js';
import { defineAccOp, meta } from '../registry.js';

// ---- binary ops ----

/** How a binary op's dtypes follow from the promoted dtype of its operands. */
interface BinaryDef {
  readonly name: string;
  readonly math: BinaryMathName;
  /** 'promoted': computed and returned in the promoted dtype; 'bool': computed in it, returned as bool. */
  readonly result: 'promoted' | 'bool';
  /** Why a bool promoted dtype is rejected (PyTorch has no bool kernel); absent: bool is fine. */
  readonly noBool?: string;
  /** Why any bool operand is rejected, whatever the promoted dtype (sub). */
  readonly noBoolOperand?: string;
  /** A one-element `other` keeps float32 precision for fp16/bf16 (PyTorch's mul/div scalar kernels). */
  readonly opmathScalar?: boolean;
  /** `other` must be a tensor (PyTorch's logical ops take no scalar). */
  readonly tensorOther?: boolean;
}

const NO_BOOL_KERNEL = 'bool tensors are not supported (PyTorch has no bool kernel for it)';
const NO_BOOL_SUB = 'subtraction with a bool operand is not supported; use logical_xor or logical_not instead';

const BINARY: readonly BinaryDef[] = [
  { name: 'add', math: 'add', result: 'promoted' }, // bool + bool is logical or
  { name: 'sub', math: 'sub', result: 'promoted', noBoolOperand: NO_BOOL_SUB },
  { name: 'mul', math: 'mul', result: 'promoted', opmathScalar: true }, // bool * bool is logical and
  { name: 'floor_div', math: 'div_floor', result: 'promoted', noBool: NO_BOOL_KERNEL, opmathScalar: true }, // Python //: rounds toward -inf
  { name: 'maximum', math: 'maximum', result: 'promoted' }, // NaN propagates
  { name: 'minimum', math: 'minimum', result: 'promoted' },
  { name: 'fmod', math: 'fmod', result: 'promoted', noBool: NO_BOOL_KERNEL }, // sign of the dividend, like C fmod
  { name: 'remainder', math: 'remainder', result: 'promoted', noBool: NO_BOOL_KERNEL }, // sign of the divisor, like Python %
  { name: 'eq', math: 'eq', result: 'bool' },
  { name: 'ne', math: 'ne', result: 'bool' },
  { name: 'gt', math: 'gt', result: 'bool' },
  { name: 'ge', math: 'ge', result: 'bool' },
  { name: 'lt', math: 'lt', result: 'bool' },
  { name: 'le', math: 'le', result: 'bool' },
  { name: 'logical_and', math: 'logical_and', result: 'bool', tensorOther: true }, // nonzero (NaN included) is true
  { name: 'logical_or', math: 'logical_or', result: 'bool', tensorOther: true },
  { name: 'logical_xor', math: 'logical_xor', result: 'bool', tensorOther: true },
];

interface BinaryTypes extends BinaryDTypes {
  readonly shape: number[];
}

/** Output shape and the compute/output dtypes of `def(input, other)`; throws naming the op. */
function binaryTypes(
  op: string, input: ShapedType, other: OperandMeta, def: Pick<BinaryDef, 'result' | 'noBool' | 'noBoolOperand' | 'opmathScalar'>,
): BinaryTypes {
  const shape = broadcastAll(op, [input.shape, operandShape(other)]);
  const compute = resultType([input, other]);
  const anyBool = input.dtype === 'bool' || (typeof other === 'object' ? other.dtype === 'bool' : typeof other === 'boolean');
  const why = compute === 'bool' ? def.noBool ?? def.noBoolOperand : anyBool ? def.noBoolOperand : undefined;
  if (why !== undefined) throw new TypeError(`${op}: ${why} (got ${describeOperand(input)} and ${describeOperand(other)})`);
  const out = def.result === 'bool' ? 'bool' : compute;
  const half = compute === 'float16' || compute === 'bfloat16';
  return def.opmathScalar && half ? { shape, compute, out, scalarOther: 'float32' } : { shape, compute, out };
}

type BinaryArgs = { input: Tensor; other: Operand };

for (const def of BINARY) {
  const op = `acc.${def.name}`;
  defineAccOp<BinaryArgs>({
    name: def.name,
    args: { input: { type: 'Tensor' }, other: { type: def.tensorOther ? 'Tensor' : 'Tensor|scalar' } },
    properties: ['pointwise'],
    infer: ({ input, other }) => {
      const t = binaryTypes(op, input, other, def);
      return meta(t.shape, t.out);
    },
    kernel: ({ input, other }) => binaryKernel(op, input, other, def.math, binaryTypes(op, input, other, def)),
  });
}

type RoundingMode = 'trunc' | 'floor' | null;

/** div: true division gives a float (int / int → float32); 'trunc' and 'floor' keep the promoted dtype. */
function divTypes(input: ShapedType, other: OperandMeta, mode: RoundingMode): BinaryTypes {
  if (mode === null) {
    const t = binaryTypes('acc.div', input, other, { result: 'promoted', opmathScalar: true });
    const float = isFloating(t.compute) ? t.compute : 'float32'; // integers are promoted to float before dividing
    return { ...t, compute: float, out: float };
  }
  return binaryTypes('acc.div', input, other, { result: 'promoted', noBool: NO_BOOL_KERNEL, opmathScalar: true });
}

const DIV_MATH: Record<'none' | 'trunc' | 'floor', BinaryMathName> = { none: 'div', trunc: 'div_trunc', floor: 'div_floor' };

/** `input / other`, optionally rounded toward zero ('trunc') or toward -inf ('floor'). */
export const accDiv = defineAccOp<BinaryArgs & { rounding_mode: RoundingMode }>({
  name: 'div',
  args: {
    input: { type: 'Tensor' },
    other: { type: 'Tensor|scalar' },
    rounding_mode: { type: 'str?', default: null, choices: ['trunc', 'floor'] },
  },
  properties: ['pointwise'],
  infer: ({ input, other, rounding_mode }) => {
    const t = divTypes(input, other, rounding_mode);
    return meta(t.shape, t.out);
  },
  kernel: ({ input, other, rounding_mode }) =>
    binaryKernel('acc.div', input, other, DIV_MATH[rounding_mode ?? 'none'], divTypes(input, other, rounding_mode)),
});

/** pow: promoted dtype; integer bases take integer powers (c10's powi), a negative integer scalar exponent is an error. */
function powTypes(input: ShapedType, exponent: OperandMeta): BinaryTypes {
  const t = binaryTypes('acc.pow', input, exponent, { result: 'promoted', noBool: NO_BOOL_KERNEL });
  if (typeof exponent === 'number' && isIntegral(t.compute) && exponent < 0) {
    throw new RangeError(
      `acc.pow: integers to negative integer powers are not allowed (base ${describeOperand(input)}, exponent ${exponent})`);
  }
  return t;
}

/** `input ** exponent` with broadcasting. */
export const accPow = defineAccOp<{ input: Tensor; exponent: Operand }>({
  name: 'pow',
  args: { input: { type: 'Tensor' }, exponent: { type: 'Tensor|scalar' } },
  properties: ['pointwise'],
  infer: ({ input, exponent }) => {
    const t = powTypes(input, exponent);
    return meta(t.shape, t.out);
  },
  kernel: ({ input, exponent }) => binaryKernel('acc.pow', input, exponent, 'pow', powTypes(input, exponent)),
});

// ---- unary ops ----

/**
 * Result dtype of a unary op: 'float' promotes integer and bool inputs to float32 (exp, sin, ...);
 * 'same' keeps the dtype and rejects bool unless `bool` is set; 'bool' returns bool.
 */
interface UnaryDef {
  readonly name: UnaryMathName;
  readonly result: 'float' | 'same' | 'bool';
  readonly bool?: true;
}

const UNARY: readonly UnaryDef[] = [
  { name: 'logical_not', result: 'bool' }, // x == 0
  { name: 'abs', result: 'same' },
  { name: 'neg', result: 'same' }, // ints wrap: neg(int8 -128) = -128
  { name: 'exp', result: 'float' },
  { name: 'log', result: 'float' },
  { name: 'sqrt', result: 'float' },
  { name: 'rsqrt', result: 'float' }, // 1 / sqrt(x)
  { name: 'reciprocal', result: 'float' },
  { name: 'sin', result: 'float' },
  { name: 'cos', result: 'float' },
  { name: 'tan', result: 'float' },
  { name: 'asin', result: 'float' },
  { name: 'acos', result: 'float' },
  { name: 'atan', result: 'float' },
  { name: 'sinh', result: 'float' },
  { name: 'cosh', result: 'float' },
  { name: 'erf', result: 'float' },
  { name: 'floor', result: 'same' }, // identity on integers
  { name: 'ceil', result: 'same' },
  { name: 'round', result: 'same' }, // half to even: 0.5 → 0, 1.5 → 2, 2.5 → 2
  { name: 'trunc', result: 'same' },
  { name: 'sign', result: 'same', bool: true }, // NaN → 0; sign of a bool is itself
  { name: 'isnan', result: 'bool' },
];

/** Compute and output dtype of a unary op on `input`. */
function unaryTypes(def: UnaryDef, input: ShapedType): { compute: DType; out: DType } {
  const dt = input.dtype;
  switch (def.result) {
    case 'bool': return { compute: dt, out: 'bool' };
    case 'float': {
      const f = isFloating(dt) ? dt : 'float32';
      return { compute: f, out: f };
    }
    case 'same':
      if (dt === 'bool' && !def.bool) {
        throw new TypeError(`acc.${def.name}: bool input is not supported (PyTorch has no bool kernel for it); got ${describeOperand(input)}`);
      }
      return { compute: dt, out: dt };
  }
}

for (const def of UNARY) {
  defineAccOp<{ input: Tensor }>({
    name: def.name,
    args: { input: { type: 'Tensor' } },
    properties: ['pointwise', 'unary'],
    infer: ({ input }) => meta(input.shape, unaryTypes(def, input).out),
    kernel: ({ input }) => {
      const t = unaryTypes(def, input);
      return unaryOpKernel(def.name, input, t.compute, t.out);
    },
  });
}

// ---- where, clamp, to_dtype ----

/** Shape and dtype of where(condition, input, other): the branches promote like a binary op. */
function whereTypes(condition: ShapedType, input: OperandMeta, other: OperandMeta): TensorMeta {
  if (condition.dtype !== 'bool' && condition.dtype !== 'uint8') {
    throw new TypeError(`acc.where: condition must be a bool tensor, got ${describeOperand(condition)}`);
  }
  return meta(broadcastAll('acc.where', [condition.shape, operandShape(input), operandShape(other)]), resultType([input, other]));
}

/** Elements of `input` where `condition` holds, of `other` elsewhere. */
export const accWhere = defineAccOp<{ condition: Tensor; input: Operand; other: Operand }>({
  name: 'where',
  args: { condition: { type: 'Tensor' }, input: { type: 'Tensor|scalar' }, other: { type: 'Tensor|scalar' } },
  properties: ['pointwise'],
  infer: ({ condition, input, other }) => whereTypes(condition, input, other),
  kernel: ({ condition, input, other }) => whereKernel('acc.where', condition, input, other, whereTypes(condition, input, other).dtype),
});

/** dtype of clamp: the input promoted with the given bounds (clamp(int, 0.5) is float32, as in PyTorch). */
function clampType(input: ShapedType, min: Scalar | null, max: Scalar | null): DType {
  if (min === null && max === null) throw new TypeError(`acc.clamp: at least one of 'min' and 'max' must be given, got neither`);
  const operands: OperandMeta[] = [input];
  if (min !== null) operands.push(min);
  if (max !== null) operands.push(max);
  const dt = resultType(operands);
  if (dt === 'bool') {
    throw new TypeError(`acc.clamp: bool results are not supported (PyTorch has no bool kernel for it); got ${describeOperand(input)}`);
  }
  return dt;
}

/** Limits `input` to [min, max]; either bound may be omitted. */
export const accClamp = defineAccOp<{ input: Tensor; min: Scalar | null; max: Scalar | null }>({
  name: 'clamp',
  args: { input: { type: 'Tensor' }, min: { type: 'scalar?', default: null }, max: { type: 'scalar?', default: null } },
  properties: ['pointwise', 'unary'],
  infer: ({ input, min, max }) => meta(input.shape, clampType(input, min, max)),
  kernel: ({ input, min, max }) => clampKernel(input, min, max, clampType(input, min, max)),
});

function checkDType(dtype: string): DType {
  if (!isDType(dtype)) throw new TypeError(`acc.to_dtype: argument 'dtype' must be a dtype name, got '${dtype}'`);
  return dtype;
}

/** The cast op: `x.to(dtype)`. */
export const accToDtype = defineAccOp<{ input: Tensor; dtype: string }>({
  name: 'to_dtype',
  args: { input: { type: 'Tensor' }, dtype: { type: 'dtype' } },
  properties: ['pointwise', 'unary'],
  infer: ({ input, dtype }) => meta(input.shape, checkDType(dtype)),
  kernel: ({ input, dtype }) => castKernel(input, checkDType(dtype)),
});
