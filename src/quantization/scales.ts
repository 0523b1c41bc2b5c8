/**
 * Symmetric scales: scale = amax / 127 for int8, amax / 448 for FP8 (float8e4m3, whose largest
 * value is 448), zero point 0, per tensor for activations and per output channel for weights. A zero amax (a tensor or channel that is all zeros) gets PyTorch's
 * floor, float32's machine epsilon, so the scale stays a valid positive float32.
 */
import { normDim } from '../tensor/shape.js';
import { FLOAT8E4M3_MAX } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';

/** int8's largest magnitude, the level amax maps to. */
export const INT8_MAX = 127;

/** What post-training quantization quantizes to: int8, or FP8 (float8e4m3) for precision 'fp8'. */
export type QuantFormat = 'int8' | 'float8e4m3';

/** The largest magnitude of each format: the level a threshold (amax) maps to. */
export const FORMAT_MAX: Readonly<Record<QuantFormat, number>> = { int8: INT8_MAX, float8e4m3: FLOAT8E4M3_MAX };

/** The smallest scale handed out (float32 epsilon, as PyTorch's observers). */
export const MIN_SCALE = 2 ** -23;

/**
 * The symmetric scale of a clipping threshold, for int8 (default) or FP8.
 * @example scaleOf(12.7); // 0.1
 * @example scaleOf(44.8, 'float8e4m3'); // 0.1
 */
export function scaleOf(amax: number, format: QuantFormat = 'int8'): number {
  if (!(amax >= 0 && amax < Infinity)) throw new RangeError(`quantization: amax must be finite and >= 0, got ${amax}`);
  return Math.max(amax / FORMAT_MAX[format], MIN_SCALE);
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
export function perChannelScales(weight: Tensor, axis: number, format: QuantFormat = 'int8'): Float32Array {
  return Float32Array.from(perChannelAmax(weight, axis), (a) => scaleOf(a, format));
}
