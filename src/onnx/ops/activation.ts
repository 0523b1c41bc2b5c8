/**
 * ONNX activations and the softmax family. Forms PyTorch writes with fixed constants map onto the
 * matching acc op (HardSigmoid with alpha 1/6 → hardsigmoid, Selu with its constants → selu);
 * other constants are spelled out with elementwise acc ops.
 */
import type { Emitter } from '../../acc_ops/mapping.js';
import type { Tensor } from '../../tensor/tensor.js';
import { defineOnnxOp } from './define.js';
import { axisOf, ctxOf, floatAttr, input, intAttr, isConstant, optInput, rankOf, strAttr } from './values.js';

const SIMPLE: readonly (readonly [string, string])[] = [
  ['Relu', 'relu'], ['Sigmoid', 'sigmoid'], ['Tanh', 'tanh'], ['Softsign', 'softsign'], ['Softplus', 'softplus'],
];
for (const [opType, acc] of SIMPLE) {
  defineOnnxOp({ opType, inputs: ['X'], map: (kw, e) => e.tensor(acc, { input: input(kw, 'X') }) });
}

defineOnnxOp({
  opType: 'LeakyRelu', inputs: ['X'], attrs: { alpha: 0.01 },
  map: (kw, e) => e.tensor('leaky_relu', { input: input(kw, 'X'), negative_slope: floatAttr(kw, 'alpha') }),
});

defineOnnxOp({
  opType: 'Elu', inputs: ['X'], attrs: { alpha: 1 },
  map: (kw, e) => e.tensor('elu', { input: input(kw, 'X'), alpha: floatAttr(kw, 'alpha') }),
});

const SELU_ALPHA = 1.6732632423543772;
const SELU_GAMMA = 1.0507009873554805;
const close = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-6 * Math.abs(b);

// gamma * elu(x, alpha); PyTorch's constants (ONNX's defaults, as float32) are acc.selu.
defineOnnxOp({
  opType: 'Selu', inputs: ['X'], attrs: { alpha: 1.67326319217681884765625, gamma: 1.05070102214813232421875 },
  map: (kw, e) => {
    const x = input(kw, 'X');
    const alpha = floatAttr(kw, 'alpha');
    const gamma = floatAttr(kw, 'gamma');
    if (close(alpha, SELU_ALPHA) && close(gamma, SELU_GAMMA)) return e.tensor('selu', { input: x });
    return e.tensor('mul', { input: e.tensor('elu', { input: x, alpha }), other: gamma });
  },
});

/** clamp(alpha * x + beta, 0, 1); alpha = 1/6, beta = 0.5 is PyTorch's hardsigmoid. */
function hardSigmoid(e: Emitter, x: Tensor, alpha: number, beta: number): Tensor {
  if (close(alpha, 1 / 6) && beta === 0.5) return e.tensor('hardsigmoid', { input: x });
  const y = e.tensor('add', { input: e.tensor('mul', { input: x, other: alpha }), other: beta });
  return e.tensor('clamp', { input: y, min: 0, max: 1 });
}

defineOnnxOp({
  opType: 'HardSigmoid', inputs: ['X'], attrs: { alpha: 0.2, beta: 0.5 },
  map: (kw, e) => hardSigmoid(e, input(kw, 'X'), floatAttr(kw, 'alpha'), floatAttr(kw, 'beta')),
});

// x * hardsigmoid(x), as PyTorch's hardswish.
defineOnnxOp({
  opType: 'HardSwish', inputs: ['X'], minOpset: 14,
  map: (kw, e) => {
    const x = input(kw, 'X');
    return e.tensor('mul', { input: x, other: e.tensor('hardsigmoid', { input: x }) });
  },
});

defineOnnxOp({
  opType: 'Mish', inputs: ['X'], minOpset: 18,
  map: (kw, e) => {
    const x = input(kw, 'X');
    return e.tensor('mul', { input: x, other: e.tensor('tanh', { input: e.tensor('softplus', { input: x }) }) });
  },
});

defineOnnxOp({
  opType: 'Gelu', inputs: ['X'], attrs: { approximate: 'none' }, minOpset: 20,
  map: (kw, e) => e.tensor('gelu', { input: input(kw, 'X'), approximate: strAttr(kw, 'approximate') }),
});

defineOnnxOp({
  opType: 'ThresholdedRelu', inputs: ['X'], attrs: { alpha: 1 },
  map: (kw, e) => {
    const x = input(kw, 'X');
    return e.tensor('where', { condition: e.tensor('gt', { input: x, other: floatAttr(kw, 'alpha') }), input: x, other: 0 });
  },
});

// The slope broadcasts to X; a per-channel [C] or [C, 1, ...] slope is acc.prelu, others are spelled out.
defineOnnxOp({
  opType: 'PRelu', inputs: ['X', 'slope'],
  map: (kw, e) => {
    const x = input(kw, 'X');
    const slope = input(kw, 'slope');
    const xs = e.meta(x).shape;
    const ss = e.meta(slope).shape;
    const n = ss.reduce((a, b) => a * b, 1);
    const perChannel = xs.length >= 2 && n === xs[1] && ss.length === xs.length - 1 && ss.slice(1).every((d) => d === 1);
    if (n === 1 || perChannel) {
      const w = ss.length === 1 ? slope : e.tensor('reshape', { input: slope, shape: [n] });
      return e.tensor('prelu', { input: x, weight: w });
    }
    const neg = e.tensor('lt', { input: x, other: 0 });
    return e.tensor('where', { condition: neg, input: e.tensor('mul', { input: x, other: slope }), other: x });
  },
});

/**
 * Softmax before opset 13 works on the input flattened to 2-d at `axis` (default 1); from 13 it is
 * along one axis (default -1). The old form is a reshape around a softmax over the merged dims.
 */
function defineSoftmax(opType: string, acc: string): void {
  defineOnnxOp({
    opType, inputs: ['input'], attrs: { axis: null },
    map: (kw, e) => {
      const x = input(kw, 'input');
      const rank = rankOf(e, x);
      const old = ctxOf(kw).opset < 13;
      const axis = axisOf(kw['axis'] === null ? (old ? 1 : -1) : intAttr(kw, 'axis'), rank);
      if (!old || axis === rank - 1) return e.tensor(acc, { input: x, dim: axis });
      const shape = e.meta(x).shape;
      const inner = shape.slice(axis).reduce((a, b) => a * b, 1);
      const flat = e.tensor('reshape', { input: x, shape: [...shape.slice(0, axis), inner] });
      return e.tensor('reshape', { input: e.tensor(acc, { input: flat, dim: axis }), shape: [...shape] });
    },
  });
}
defineSoftmax('Softmax', 'softmax');
defineSoftmax('LogSoftmax', 'log_softmax');

// Inference: the identity; the mask output (rarely used) is not produced.
defineOnnxOp({
  opType: 'Dropout', inputs: ['data', 'ratio?', 'training_mode?'], attrs: { ratio: null, seed: null, is_test: null },
  map: (kw) => {
    const training = optInput(kw, 'training_mode');
    if (training !== null && (!isConstant(training) || training.toFloat64()[0] !== 0)) {
      throw new RangeError(`training_mode must be a constant false (inference only)`);
    }
    return [input(kw, 'data'), null];
  },
});
