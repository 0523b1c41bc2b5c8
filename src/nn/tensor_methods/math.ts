/** Arithmetic, comparison, activation, reduction and matmul tensor methods: the F mappings with the receiver as input. */
import { sig } from '../../ir/signature.js';
// The F definitions these methods reuse.
import '../functional/elementwise.js';
import '../functional/activation.js';
import '../functional/reduce.js';
import '../functional/linalg.js';
import { installFromF, installInplace, installMethod } from './define.js';

const SAME_AS_F = [
  // elementwise
  'add', 'sub', 'mul', 'div', 'floorDivide', 'pow', 'maximum', 'minimum', 'fmod', 'remainder',
  'eq', 'ne', 'gt', 'ge', 'lt', 'le', 'logicalAnd', 'logicalOr', 'logicalXor', 'logicalNot',
  'abs', 'neg', 'exp', 'log', 'sqrt', 'rsqrt', 'reciprocal', 'sin', 'cos', 'tan', 'asin', 'acos', 'atan',
  'sinh', 'cosh', 'erf', 'floor', 'ceil', 'round', 'trunc', 'sign', 'isnan', 'clamp',
  // activations without an inplace flag
  'sigmoid', 'tanh',
  // reductions
  'sum', 'mean', 'prod', 'max', 'min', 'amax', 'amin', 'argmax', 'argmin', 'softmax', 'logSoftmax', 'cumsum', 'topk',
  // linalg
  'matmul', 'mm', 'bmm',
] as const;

for (const name of SAME_AS_F) installFromF(name);
// x.relu() has no inplace flag (x.relu_() is the in-place form).
installMethod('relu', sig('input'), { to: 'relu' });

for (const name of ['add', 'sub', 'mul', 'div', 'clamp', 'relu', 'sigmoid', 'tanh']) installInplace(name);
