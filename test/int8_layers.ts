/** Layer helpers for int8 test networks (CPU lowering tests and the GPU suite): scalars and per-tensor Q/DQ. */
import type { NetTensor } from '../src/engine/network.js';
import type { NetworkDefinition } from '../src/engine/network_definition.js';
import type { DType } from '../src/tensor/dtype.js';
import { Tensor } from '../src/tensor/tensor.js';

/** A one-element constant. */
export function scalar(net: NetworkDefinition, v: number, name: string, dtype: DType = 'float32'): NetTensor {
  return net.addLayer('constant', [], { value: Tensor.fromNumbers([v], [1], dtype) }, name)[0]!;
}

/** Per-tensor dequantize of `q` by scale `s`. */
export function dequantize(net: NetworkDefinition, q: NetTensor, s: NetTensor, name: string, toType: 'float32' | 'float16' = 'float32'): NetTensor {
  return net.addLayer('dequantize', [q, s], { axis: null, toType }, name)[0]!;
}

/** Per-tensor quantize of `x` to int8 by scale `s`. */
export function quantize(net: NetworkDefinition, x: NetTensor, s: NetTensor, name: string): NetTensor {
  return net.addLayer('quantize', [x, s], { axis: null, toType: 'int8' }, name)[0]!;
}
