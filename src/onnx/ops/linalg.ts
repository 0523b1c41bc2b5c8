/** ONNX MatMul, Gemm and Einsum. A Gemm that is a fully connected layer becomes acc.linear. */
import { eagerEmitter, type Emitter } from '../../acc_ops/mapping.js';
import type { Tensor } from '../../tensor/tensor.js';
import { defineOnnxOp } from './define.js';
import { floatAttr, input, inputs, intAttr, isConstant, optInput, strAttr } from './values.js';

defineOnnxOp({ opType: 'MatMul', inputs: ['A', 'B'], map: (kw, e) => e.tensor('matmul', { input: input(kw, 'A'), other: input(kw, 'B') }) });

/** The transpose of a 2-d value; computed at import for constants (weights). */
function transpose2d(e: Emitter, t: Tensor): Tensor {
  return (isConstant(t) ? eagerEmitter : e).tensor('permute', { input: t, permutation: [1, 0] });
}

// Y = alpha * A' @ B' + beta * C. With transA=0, alpha=1 and C absent or a [N] bias (beta=1) it is a
// linear layer: weight [N, K] is B when transB=1 (PyTorch's export) or B^T otherwise.
defineOnnxOp({
  opType: 'Gemm', inputs: ['A', 'B', 'C?'], attrs: { alpha: 1, beta: 1, transA: 0, transB: 0 },
  map: (kw, e) => {
    let a = input(kw, 'A');
    const b = input(kw, 'B');
    const c = optInput(kw, 'C');
    const alpha = floatAttr(kw, 'alpha');
    const beta = floatAttr(kw, 'beta');
    const transA = intAttr(kw, 'transA') === 1;
    const transB = intAttr(kw, 'transB') === 1;
    const bShape = e.meta(b).shape;
    const n = transB ? bShape[0] : bShape[1];
    const cShape = c === null ? null : e.meta(c).shape;
    const biasLike = cShape !== null && cShape.length === 1 && cShape[0] === n;
    if (!transA && alpha === 1 && (c === null || (beta === 1 && biasLike))) {
      return e.tensor('linear', { input: a, weight: transB ? b : transpose2d(e, b), bias: c });
    }
    if (transA) a = transpose2d(e, a);
    let y = e.tensor('matmul', { input: a, other: transB ? transpose2d(e, b) : b });
    if (alpha !== 1) y = e.tensor('mul', { input: y, other: alpha });
    if (c !== null && beta !== 0) y = e.tensor('add', { input: y, other: beta === 1 ? c : e.tensor('mul', { input: c, other: beta }) });
    return y;
  },
});

defineOnnxOp({
  opType: 'Einsum', inputs: ['...Inputs'], attrs: { equation: null }, minOpset: 12,
  map: (kw, e) => e.tensor('einsum', { equation: strAttr(kw, 'equation').replace(/\s+/g, ''), operands: inputs(kw, 'Inputs') }),
});
