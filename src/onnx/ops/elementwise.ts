/**
 * ONNX elementwise ops: arithmetic, comparisons, logic, unary math, Where, Clip, Cast and the
 * variadic Sum/Max/Min/Mean. ONNX broadcasting is numpy's, as the acc ops'; ONNX requires equal
 * operand types, so PyTorch's promotion never changes a result type here.
 */
import type { Emitter } from '../../acc_ops/mapping.js';
import { isFloating } from '../../tensor/dtype.js';
import type { Tensor } from '../../tensor/tensor.js';
import { defineOnnxOp } from './define.js';
import { constScalar, ctxOf, dtypeAttr, floatAttr, input, inputs, intAttr, isConstant, optInput } from './values.js';

const BINARY: readonly (readonly [string, string])[] = [
  ['Add', 'add'], ['Sub', 'sub'], ['Mul', 'mul'],
  ['Equal', 'eq'], ['Greater', 'gt'], ['GreaterOrEqual', 'ge'], ['Less', 'lt'], ['LessOrEqual', 'le'],
  ['And', 'logical_and'], ['Or', 'logical_or'], ['Xor', 'logical_xor'],
];

for (const [opType, acc] of BINARY) {
  defineOnnxOp({ opType, inputs: ['A', 'B'], map: (kw, e) => e.tensor(acc, { input: input(kw, 'A'), other: input(kw, 'B') }) });
}

// Integer division truncates toward zero in ONNX (C semantics); floats divide exactly.
defineOnnxOp({
  opType: 'Div',
  inputs: ['A', 'B'],
  map: (kw, e) => {
    const a = input(kw, 'A');
    const float = isFloating(e.meta(a).dtype);
    return e.tensor('div', { input: a, other: input(kw, 'B'), rounding_mode: float ? null : 'trunc' });
  },
});

// fmod=1: the sign of the dividend (C fmod); fmod=0: the sign of the divisor (Python %).
defineOnnxOp({
  opType: 'Mod',
  inputs: ['A', 'B'],
  attrs: { fmod: 0 },
  map: (kw, e) => e.tensor(intAttr(kw, 'fmod') === 1 ? 'fmod' : 'remainder', { input: input(kw, 'A'), other: input(kw, 'B') }),
});

defineOnnxOp({
  opType: 'Pow',
  inputs: ['X', 'Y'],
  map: (kw, e) => {
    const x = input(kw, 'X');
    const y = input(kw, 'Y');
    // A constant one-element exponent stays a scalar, so x^2 keeps x's dtype whatever Y's type.
    const exponent = isConstant(y) && y.numel === 1 && e.meta(y).shape.length <= e.meta(x).shape.length ? y.item() : y;
    const out = e.tensor('pow', { input: x, exponent });
    const want = e.meta(x).dtype;
    return e.meta(out).dtype === want ? out : e.tensor('to_dtype', { input: out, dtype: want });
  },
});

const UNARY: readonly (readonly [string, string])[] = [
  ['Abs', 'abs'], ['Neg', 'neg'], ['Exp', 'exp'], ['Log', 'log'], ['Sqrt', 'sqrt'], ['Reciprocal', 'reciprocal'],
  ['Sin', 'sin'], ['Cos', 'cos'], ['Tan', 'tan'], ['Asin', 'asin'], ['Acos', 'acos'], ['Atan', 'atan'],
  ['Sinh', 'sinh'], ['Cosh', 'cosh'], ['Erf', 'erf'], ['Floor', 'floor'], ['Ceil', 'ceil'],
  ['Round', 'round'], // half to even in both
  ['Sign', 'sign'], ['IsNaN', 'isnan'], ['Not', 'logical_not'],
];

for (const [opType, acc] of UNARY) {
  defineOnnxOp({ opType, inputs: ['X'], map: (kw, e) => e.tensor(acc, { input: input(kw, 'X') }) });
}

defineOnnxOp({ opType: 'Identity', inputs: ['input'], map: (kw) => input(kw, 'input') });

defineOnnxOp({
  opType: 'Where',
  inputs: ['condition', 'X', 'Y'],
  map: (kw, e) => e.tensor('where', { condition: input(kw, 'condition'), input: input(kw, 'X'), other: input(kw, 'Y') }),
});

/** x.to(dtype), or x itself when it already has it. */
function cast(e: Emitter, x: Tensor, dtype: string): Tensor {
  return e.meta(x).dtype === dtype ? x : e.tensor('to_dtype', { input: x, dtype });
}

defineOnnxOp({
  opType: 'Cast',
  inputs: ['input'],
  attrs: { to: null, saturate: 1 },
  map: (kw, e) => cast(e, input(kw, 'input'), dtypeAttr(kw, 'to')),
});

defineOnnxOp({
  opType: 'CastLike',
  inputs: ['input', 'target_type'],
  attrs: { saturate: 1 },
  map: (kw, e) => cast(e, input(kw, 'input'), e.meta(input(kw, 'target_type')).dtype),
});

const FLT_MAX = 3.4028234663852886e38;

// Opset < 11: bounds are attributes; from 11 they are optional inputs (tensors fall back to maximum/minimum).
defineOnnxOp({
  opType: 'Clip',
  inputs: ['input', 'min?', 'max?'],
  attrs: { min: null, max: null },
  map: (kw, e) => {
    const x = input(kw, 'input');
    if (ctxOf(kw).opset < 11) {
      const lo = kw['min'] === null ? -FLT_MAX : floatAttr(kw, 'min');
      const hi = kw['max'] === null ? FLT_MAX : floatAttr(kw, 'max');
      if (lo <= -FLT_MAX && hi >= FLT_MAX) return x;
      return e.tensor('clamp', { input: x, min: lo <= -FLT_MAX ? null : lo, max: hi >= FLT_MAX ? null : hi });
    }
    const bound = (name: string): number | Tensor | null => {
      const t = optInput(kw, name);
      return t === null ? null : isConstant(t) ? constScalar(kw, name) : t;
    };
    const lo = bound('min');
    const hi = bound('max');
    if (typeof lo !== 'object' && typeof hi !== 'object') return e.tensor('clamp', { input: x, min: lo, max: hi });
    if (lo === null && hi === null) return x;
    let y = x;
    if (lo !== null) y = e.tensor('maximum', { input: y, other: lo });
    if (hi !== null) y = e.tensor('minimum', { input: y, other: hi });
    return y;
  },
});

/** Folds variadic inputs pairwise with acc op `op`. */
function foldPairs(e: Emitter, xs: readonly Tensor[], op: string): Tensor {
  if (xs.length === 0) throw new RangeError('needs at least one input');
  let acc = xs[0]!;
  for (let i = 1; i < xs.length; i++) acc = e.tensor(op, { input: acc, other: xs[i]! });
  return acc;
}

defineOnnxOp({ opType: 'Sum', inputs: ['...data_0'], map: (kw, e) => foldPairs(e, inputs(kw, 'data_0'), 'add') });
defineOnnxOp({ opType: 'Max', inputs: ['...data_0'], map: (kw, e) => foldPairs(e, inputs(kw, 'data_0'), 'maximum') });
defineOnnxOp({ opType: 'Min', inputs: ['...data_0'], map: (kw, e) => foldPairs(e, inputs(kw, 'data_0'), 'minimum') });
defineOnnxOp({
  opType: 'Mean',
  inputs: ['...data_0'],
  map: (kw, e) => {
    const xs = inputs(kw, 'data_0');
    return e.tensor('div', { input: foldPairs(e, xs, 'add'), other: xs.length });
  },
});
