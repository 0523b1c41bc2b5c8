/**
 * Converters of the structural acc ops: getitem (an element of a tuple of network values) and size
 * (static dims are plain numbers; a dynamic dim is read at runtime by a shape layer + gather).
 */
import type { NetTensor } from '../engine/network.js';
import { normDim } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import { isNetTensor, type ConversionContext } from './context.js';
import { registerConverter } from './registry.js';

registerConverter<{ input: readonly (NetTensor | number)[] | NetTensor | number; index: number }>('getitem', (ctx, _node, { input, index }) => {
  if (!Array.isArray(input)) return ctx.fail(`getitem needs a tuple input, got ${isNetTensor(input) ? `tensor '${input.name}'` : String(input)}`);
  const i = index < 0 ? index + input.length : index;
  const v = input[i];
  if (v === undefined) return ctx.fail(`index ${index} is out of range for a tuple of ${input.length}`);
  return v;
});

/** Dim `d` of `x`: a number when static, else a 0-d int64 tensor from the runtime shape. */
function dimSize(ctx: ConversionContext, x: NetTensor, d: number): NetTensor | number {
  const n = x.shape[d]!;
  if (n !== -1) return n;
  const shape = ctx.layer1('shape', [x], {});
  const index = ctx.constant(Tensor.fromNumbers([d], [], 'int32'));
  const size = ctx.layer1('gather', [shape, index], { axis: 0, mode: 'default' });
  ctx.recordSizeOrigin(size, { tensor: x, dim: d });
  return size;
}

registerConverter<{ input: NetTensor; dim: number | null }>('size', (ctx, _node, { input, dim }) => {
  if (dim !== null) return dimSize(ctx, input, normDim(dim, input.shape.length, 'acc.size: dim'));
  return input.shape.map((_, d) => dimSize(ctx, input, d));
});
