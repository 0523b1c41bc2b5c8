/** Indexing and filling tensor methods: index (Python-style x[...]), gather, where, maskedFill, fill, zero. */
import type { Emitter, MappingRule } from '../../acc_ops/mapping.js';
import { describeValue } from '../../acc_ops/registry.js';
import { Slice } from '../../ir/node.js';
import { sig, type Kwargs } from '../../ir/signature.js';
import { Tensor } from '../../tensor/tensor.js';
import { castTo, isInt, tensorArg } from '../functional/args.js';
import '../functional/indexing.js';
import { installFromF, installInplace, installMethod } from './define.js';

for (const name of ['gather', 'indexSelect'] as const) installFromF(name);

/** x.where(condition, other) = where(condition, x, other). */
installMethod('where', sig('input', 'condition', 'other'), { to: 'where' });

/** value where mask holds, else the receiver; the result keeps the receiver's dtype. */
installMethod('maskedFill', sig('input', 'mask', 'value'), (what): MappingRule => ({
  custom: (kw, e) => {
    const input = tensorArg(kw, 'input', what);
    const value = kw['value'];
    if (!(value instanceof Tensor) && typeof value !== 'number' && typeof value !== 'boolean') {
      throw new TypeError(`${what}: argument 'value' expects a number or a 0-d Tensor, got ${describeValue(value)}`);
    }
    const y = e.tensor('where', { condition: tensorArg(kw, 'mask', what), input: value, other: input });
    return castTo(e, y, e.meta(input).dtype);
  },
}));

/**
 * A tensor of the receiver's shape and dtype filled with `value`: a constant expanded to the
 * shape. (fx2trt writes x·0 + value, which turns NaN and ±inf elements into NaN.)
 */
function filled(e: Emitter, input: Tensor, value: unknown, what: string): Tensor {
  const m = e.meta(input);
  let scalar: Tensor;
  if (value instanceof Tensor) {
    const vm = e.meta(value);
    if (vm.shape.length !== 0) throw new RangeError(`${what}: a tensor fill value must be 0-d, got shape [${vm.shape.join(', ')}]`);
    scalar = castTo(e, value, m.dtype);
  } else if (typeof value === 'number' || typeof value === 'boolean') {
    scalar = e.constant(Tensor.full([], value, m.dtype));
  } else {
    throw new TypeError(`${what}: argument 'value' expects a number or a 0-d Tensor, got ${describeValue(value)}`);
  }
  return e.tensor('expand', { input: scalar, sizes: [...m.shape] });
}
installMethod('fill', sig('input', 'value'), (what): MappingRule => ({
  custom: (kw, e) => filled(e, tensorArg(kw, 'input', what), kw['value'], what),
}));
installMethod('zero', sig('input'), (what): MappingRule => ({
  custom: (kw, e) => filled(e, tensorArg(kw, 'input', what), 0, what),
}));

for (const name of ['fill', 'zero', 'maskedFill']) installInplace(name);

/** One element of an index expression: an int, a slice, null (new dim), '...' or an integer tensor. */
export type IndexItem = number | Slice | null | '...' | Tensor;

/**
 * Python-style indexing, x[None, 1:3, 0, ...]: slices become acc.slice, ints slice + squeeze,
 * null unsqueeze, '...' skips the dims no other item names; one integer tensor (not combined
 * with int items, so the result dims stay in place) becomes index_select.
 */
function indexExpr(kw: Kwargs, e: Emitter, what: string): Tensor {
  let x = tensorArg(kw, 'input', what);
  const raw = kw['indices'];
  const items: unknown[] = Array.isArray(raw) ? raw : [raw];
  const rank = e.meta(x).shape.length;
  let consumed = 0;
  let ellipses = 0;
  let tensors = 0;
  let ints = 0;
  items.forEach((it, i) => {
    if (isInt(it)) ints++;
    else if (it instanceof Tensor) tensors++;
    else if (it === '...') ellipses++;
    else if (it !== null && !(it instanceof Slice)) {
      throw new TypeError(`${what}: index item ${i} must be an int, a slice, null, '...' or an integer tensor, got ${describeValue(it)}`);
    }
    if (isInt(it) || it instanceof Tensor || it instanceof Slice) consumed++;
  });
  if (ellipses > 1) throw new TypeError(`${what}: an index can only have a single ellipsis ('...')`);
  if (consumed > rank) throw new RangeError(`${what}: too many indices for a tensor of rank ${rank} (${consumed} given)`);
  if (tensors > 1 || (tensors === 1 && ints > 0)) {
    throw new TypeError(`${what}: only a single tensor index, not combined with integer indices, is supported`);
  }
  let d = 0; // dim of the current value
  let src = 0; // dim of the input, for messages
  for (const it of items) {
    if (it === null) {
      x = e.tensor('unsqueeze', { input: x, dim: d++ });
    } else if (it === '...') {
      d += rank - consumed;
      src += rank - consumed;
    } else if (it instanceof Slice) {
      x = sliceDim(e, x, d++, it, what);
      src++;
    } else if (it instanceof Tensor) {
      const [y, added] = selectByTensor(e, x, d, it, what);
      x = y;
      d += added;
      src++;
    } else if (isInt(it)) {
      const size = e.meta(x).shape[d]!;
      if (it < -size || it >= size) throw new RangeError(`${what}: index ${it} is out of bounds for dim ${src} with size ${size}`);
      const i = it < 0 ? it + size : it;
      x = e.tensor('squeeze', { input: e.tensor('slice', { input: x, dim: d, start: i, end: i + 1, step: 1 }), dim: d });
      src++;
    }
  }
  return x;
}

function sliceDim(e: Emitter, x: Tensor, dim: number, s: Slice, what: string): Tensor {
  const step = s.step ?? 1;
  if (!isInt(step) || step <= 0) throw new RangeError(`${what}: slice step must be a positive int, got ${s.step}`);
  if ((s.start === null || s.start === 0) && s.stop === null && step === 1) return x; // ':' keeps the dim as it is
  return e.tensor('slice', { input: x, dim, start: s.start, end: s.stop, step });
}

/** x[..., idx, ...] for an integer tensor idx: the dim is replaced by idx's dims; negative indices count from the end. */
function selectByTensor(e: Emitter, x: Tensor, dim: number, index: Tensor, what: string): [Tensor, number] {
  const im = e.meta(index);
  if (im.dtype !== 'int64' && im.dtype !== 'int32') {
    throw new TypeError(`${what}: tensor indices must be int64 or int32 (boolean masks are not supported), got ${im.dtype}`);
  }
  const shape = e.meta(x).shape;
  const size = shape[dim]!;
  const wrapped = e.tensor('where', {
    condition: e.tensor('lt', { input: index, other: 0 }), input: e.tensor('add', { input: index, other: size }), other: index,
  });
  const flat = im.shape.length === 1 ? wrapped : e.tensor('reshape', { input: wrapped, shape: [-1] });
  const picked = e.tensor('index_select', { input: x, dim, index: flat });
  if (im.shape.length === 1) return [picked, 1];
  const out = [...shape.slice(0, dim), ...im.shape, ...shape.slice(dim + 1)];
  return [e.tensor('reshape', { input: picked, shape: out }), im.shape.length];
}

installMethod('index', sig('input', '...indices'), (what): MappingRule => ({ custom: (kw, e) => indexExpr(kw, e, what) }));
