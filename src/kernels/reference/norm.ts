/**
 * Tensor-level reference kernels of the norm acc ops: batch_norm (inference, running statistics),
 * layer_norm, group_norm and instance_norm (statistics of the input, biased variance).
 *
 * Statistics accumulate in float64 (two passes: mean, then squared deviations); each output is
 * x * a + b with per-channel a, b folded in float64, written as float32 and rounded once to half
 * dtypes. Parameters may have any floating dtype (PyTorch's mixed-precision norms); the output has
 * the input's dtype.
 */
import { formatShape, numelOf, shapesEqual } from '../../tensor/shape.js';
import type { Tensor } from '../../tensor/tensor.js';
import { floatDType, floatResult, type FloatDType, type ResultInfo, type TensorInfo } from './float_io.js';

function channelParam(op: string, arg: string, t: TensorInfo | null, channels: number): void {
  if (!t) return;
  floatDType(op, arg, t);
  if (t.shape.length !== 1 || t.shape[0] !== channels) {
    throw new RangeError(`${op}: argument '${arg}' must have shape [${channels}] (one value per channel of input dim 1), got ${formatShape(t.shape)}`);
  }
}

function channelInput(op: string, input: TensorInfo): FloatDType {
  const dtype = floatDType(op, 'input', input);
  if (input.shape.length < 2) {
    throw new RangeError(`${op}: argument 'input' must have at least 2 dims [N, C, ...], got shape ${formatShape(input.shape)}`);
  }
  return dtype;
}

/** Values of an optional parameter as float64, or null when absent. */
function values(t: Tensor | null): Float64Array | null {
  return t ? t.toFloat64() : null;
}

// ---------------------------------------------------------------- batch_norm

/**
 * Shape/dtype of inference `batch_norm`: input [N, C, ...], every parameter [C].
 * @example
 *   batchNormMeta(x, mean, vari, null, null).shape // x's shape
 */
export function batchNormMeta(input: TensorInfo, runningMean: TensorInfo, runningVar: TensorInfo, weight: TensorInfo | null, bias: TensorInfo | null): ResultInfo {
  const op = 'acc.batch_norm';
  const dtype = channelInput(op, input);
  const C = input.shape[1]!;
  channelParam(op, 'running_mean', runningMean, C);
  channelParam(op, 'running_var', runningVar, C);
  channelParam(op, 'weight', weight, C);
  channelParam(op, 'bias', bias, C);
  return { shape: [...input.shape], dtype };
}

/**
 * `(x - running_mean) / sqrt(running_var + eps) * weight + bias` per channel (dim 1).
 * @example
 *   batchNorm(x, mean, vari, gamma, beta, 1e-5)
 */
export function batchNorm(input: Tensor, runningMean: Tensor, runningVar: Tensor, weight: Tensor | null, bias: Tensor | null, eps: number): Tensor {
  const { shape, dtype } = batchNormMeta(input, runningMean, runningVar, weight, bias);
  const [N, C] = [shape[0]!, shape[1]!];
  const inner = numelOf(shape.slice(2));
  const mean = runningMean.toFloat64();
  const vari = runningVar.toFloat64();
  const w = values(weight);
  const b = values(bias);
  const x = input.toFloat32();
  const out = new Float32Array(x.length);
  for (let c = 0; c < C; c++) {
    const a = (w ? w[c]! : 1) / Math.sqrt(vari[c]! + eps);
    const s = (b ? b[c]! : 0) - mean[c]! * a;
    for (let n = 0; n < N; n++) {
      const base = (n * C + c) * inner;
      for (let i = base; i < base + inner; i++) out[i] = x[i]! * a + s;
    }
  }
  return floatResult(out, shape, dtype);
}

// ---------------------------------------------------------------- layer_norm

/**
 * Shape/dtype of `layer_norm`: the input's trailing dims must equal `normalizedShape`, as must
 * weight's and bias's shapes.
 * @example
 *   layerNormMeta({ shape: [2, 7, 16], dtype: 'float32' }, [16], null, null).shape // [2, 7, 16]
 */
export function layerNormMeta(input: TensorInfo, normalizedShape: readonly number[], weight: TensorInfo | null, bias: TensorInfo | null): ResultInfo {
  const op = 'acc.layer_norm';
  const dtype = floatDType(op, 'input', input);
  const x = input.shape;
  const k = normalizedShape.length;
  if (k === 0) throw new RangeError(`${op}: argument 'normalized_shape' must have at least 1 dim, got []`);
  if (x.length < k || !shapesEqual(x.slice(x.length - k), normalizedShape)) {
    throw new RangeError(`${op}: input of shape ${formatShape(x)} does not end with normalized_shape ${formatShape(normalizedShape)}`);
  }
  for (const [arg, t] of [['weight', weight], ['bias', bias]] as const) {
    if (!t) continue;
    floatDType(op, arg, t);
    if (!shapesEqual(t.shape, normalizedShape)) {
      throw new RangeError(`${op}: argument '${arg}' must have shape normalized_shape ${formatShape(normalizedShape)}, got ${formatShape(t.shape)}`);
    }
  }
  return { shape: [...x], dtype };
}

/**
 * Normalizes over the trailing `normalizedShape` dims (biased variance), then applies the
 * elementwise affine weight and bias.
 * @example
 *   layerNorm(x, [768], gamma, beta, 1e-5)
 */
export function layerNorm(input: Tensor, normalizedShape: readonly number[], weight: Tensor | null, bias: Tensor | null, eps: number): Tensor {
  const { shape, dtype } = layerNormMeta(input, normalizedShape, weight, bias);
  const D = numelOf(normalizedShape);
  const rows = numelOf(shape.slice(0, shape.length - normalizedShape.length));
  const x = input.toFloat32();
  const w = values(weight);
  const b = values(bias);
  const out = new Float32Array(x.length);
  for (let r = 0; r < rows; r++) {
    const base = r * D;
    const [mean, rstd] = moments(x, base, D, eps);
    for (let j = 0; j < D; j++) {
      const v = (x[base + j]! - mean) * rstd;
      out[base + j] = (w ? v * w[j]! : v) + (b ? b[j]! : 0);
    }
  }
  return floatResult(out, shape, dtype);
}

/** Mean and 1/sqrt(biased variance + eps) of x[base, base+n), in float64. */
function moments(x: Float32Array, base: number, n: number, eps: number): [number, number] {
  let sum = 0;
  for (let i = base; i < base + n; i++) sum += x[i]!;
  const mean = sum / n;
  let sq = 0;
  for (let i = base; i < base + n; i++) {
    const d = x[i]! - mean;
    sq += d * d;
  }
  return [mean, 1 / Math.sqrt(sq / n + eps)];
}

// ---------------------------------------------------------------- group_norm / instance_norm

/**
 * Shape/dtype of `group_norm`: input [N, C, ...] with C divisible by `numGroups`, weight/bias [C].
 * @example
 *   groupNormMeta({ shape: [2, 32, 8, 8], dtype: 'float32' }, 8, null, null).shape // [2, 32, 8, 8]
 */
export function groupNormMeta(input: TensorInfo, numGroups: number, weight: TensorInfo | null, bias: TensorInfo | null): ResultInfo {
  const op = 'acc.group_norm';
  const dtype = channelInput(op, input);
  const x = input.shape;
  const C = x[1]!;
  if (!Number.isInteger(numGroups) || numGroups < 1 || C % numGroups !== 0) {
    throw new RangeError(`${op}: num_groups must be a positive divisor of the ${C} channels of input ${formatShape(x)}, got ${numGroups}`);
  }
  channelParam(op, 'weight', weight, C);
  channelParam(op, 'bias', bias, C);
  // PyTorch's F.group_norm refuses groups of a single value (their variance is 0).
  if (x[0]! * (C / numGroups) * numelOf(x.slice(2)) === 1) {
    throw new RangeError(`${op}: expected more than 1 value per group, got input ${formatShape(x)} with num_groups=${numGroups}`);
  }
  return { shape: [...x], dtype };
}

/**
 * Normalizes each group of C/num_groups channels of each sample, then applies per-channel weight/bias.
 * @example
 *   groupNorm(x, 32, gamma, beta, 1e-5)
 */
export function groupNorm(input: Tensor, numGroups: number, weight: Tensor | null, bias: Tensor | null, eps: number): Tensor {
  const { shape, dtype } = groupNormMeta(input, numGroups, weight, bias);
  return floatResult(normalizeGroups(input.toFloat32(), shape, numGroups, values(weight), values(bias), eps), shape, dtype);
}

/**
 * Shape/dtype of `instance_norm`: input [N, C, ...] with more than one spatial element, weight/bias [C].
 * @example
 *   instanceNormMeta({ shape: [2, 3, 8, 8], dtype: 'float16' }, null, null).dtype // 'float16'
 */
export function instanceNormMeta(input: TensorInfo, weight: TensorInfo | null, bias: TensorInfo | null): ResultInfo {
  const op = 'acc.instance_norm';
  const dtype = channelInput(op, input);
  const x = input.shape;
  channelParam(op, 'weight', weight, x[1]!);
  channelParam(op, 'bias', bias, x[1]!);
  // As F.instance_norm with use_input_stats: a single spatial element has no variance.
  if (numelOf(x.slice(2)) === 1) {
    throw new RangeError(`${op}: expected more than 1 spatial element per channel, got input ${formatShape(x)}`);
  }
  return { shape: [...x], dtype };
}

/**
 * Normalizes each (sample, channel) plane by its own statistics, then applies per-channel weight/bias.
 * @example
 *   instanceNorm(x, null, null, 1e-5)
 */
export function instanceNorm(input: Tensor, weight: Tensor | null, bias: Tensor | null, eps: number): Tensor {
  const { shape, dtype } = instanceNormMeta(input, weight, bias);
  return floatResult(normalizeGroups(input.toFloat32(), shape, shape[1]!, values(weight), values(bias), eps), shape, dtype);
}

/** Group statistics over contiguous [C/G, spatial] blocks of each sample; per-channel affine. */
function normalizeGroups(x: Float32Array, shape: readonly number[], G: number, w: Float64Array | null, b: Float64Array | null, eps: number): Float32Array {
  const [N, C] = [shape[0]!, shape[1]!];
  const inner = numelOf(shape.slice(2));
  const Cg = C / G;
  const out = new Float32Array(x.length);
  for (let n = 0; n < N; n++) {
    for (let g = 0; g < G; g++) {
      const start = (n * C + g * Cg) * inner;
      const [mean, rstd] = moments(x, start, Cg * inner, eps);
      for (let cc = 0; cc < Cg; cc++) {
        const c = g * Cg + cc;
        const a = (w ? w[c]! : 1) * rstd;
        const s = (b ? b[c]! : 0) - mean * a;
        const base = start + cc * inner;
        for (let i = base; i < base + inner; i++) out[i] = x[i]! * a + s;
      }
    }
  }
  return out;
}
