/**
 * Symmetric int8 scales: scale = amax / 127 with zero point 0, per tensor for activations and per
 * output channel for weights. A zero amax (a tensor or channel that is all zeros) gets PyTorch's
 * floor, float32's machine epsilon, so the scale stays a valid positive float32.
 */
import { normDim } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';

/** int8's largest magnitude, the level amax maps to. */
export const INT8_MAX = 127;

/** The smallest scale handed out (float32 epsilon, as PyTorch's observers). */
export const MIN_SCALE = 2 ** -23;

/**
 * The symmetric int8 scale of a clipping threshold.
 * @example scaleOf(12.7); // 0.1
 */
export function scaleOf(amax: number): number {
  if (!(amax >= 0 && amax < Infinity)) throw new RangeError(`quantization: amax must be finite and >= 0, got ${amax}`);
  return Math.max(amax / INT8_MAX, MIN_SCALE);
}

/**
 * max |w| over every slice of `axis` (the output channels of a weight).
 * @example perChannelAmax(Tensor.fromArray([[1, -3], [0.5, 2]]), 0); // Float64Array [3, 2]
 */
export function perChannelAmax(weight: Tensor, axis: number): Float64Array {
  const a = normDim(axis, weight.rank, 'quantization: weight axis');
  const shape = weight.shape;
  const channels = shape[a]!;
  const inner = shape.slice(a + 1).reduce((p, d) => p * d, 1);
  const outer = shape.slice(0, a).reduce((p, d) => p * d, 1);
  const w = weight.toFloat32();
  const amax = new Float64Array(channels);
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      let m = amax[c]!;
      const base = (o * channels + c) * inner;
      for (let k = base; k < base + inner; k++) {
        const v = Math.abs(w[k]!);
        if (!(v <= Number.MAX_VALUE)) throw new RangeError(`quantization: weight element ${k} is ${w[k]} (weights must be finite)`);
        if (v > m) m = v;
      }
      amax[c] = m;
    }
  }
  return amax;
}

/** Per-channel symmetric scales of a weight along `axis`. */
export function perChannelScales(weight: Tensor, axis: number): Float32Array {
  return Float32Array.from(perChannelAmax(weight, axis), scaleOf);
}
