/**
 * Reference max / average / adaptive pooling (1, 2 or 3 spatial dims) over raw Float32Arrays in
 * [..., C, [D,] [H,] W] layout; every leading dim is a batch of independent planes.
 *
 * Each op first turns its attributes into per-dim window bounds (`Axis`), then one 3-D loop
 * (leading unit dims for 1-D/2-D) reduces the windows, so the PyTorch clipping rules live in
 * exactly one place per op.
 */
import type { KernelResult } from './gemm.js';

/** Attributes of `maxPoolNd`, one value per spatial dim (a single value is broadcast). */
export interface MaxPoolOptions {
  kernel: readonly number[];
  /** Defaults to `kernel` (also when empty, as in PyTorch). */
  stride?: readonly number[];
  padding?: readonly number[];
  dilation?: readonly number[];
  ceilMode?: boolean;
  returnIndices?: boolean;
}

/** Attributes of `avgPoolNd`; `countIncludePad` defaults to true, as in PyTorch. */
export interface AvgPoolOptions {
  kernel: readonly number[];
  stride?: readonly number[];
  padding?: readonly number[];
  ceilMode?: boolean;
  countIncludePad?: boolean;
  divisorOverride?: number | null;
}

/** Max-pool output; `indices` (flat index within each input plane) only when asked for. */
export interface MaxPoolResult extends KernelResult {
  indices?: Float64Array;
}

/** Windows along one spatial dim: output i reads [lo[i], hi[i]) with `step`; `div[i]` is its divisor size. */
interface Axis {
  n: number;
  lo: Int32Array;
  hi: Int32Array;
  div: Int32Array;
  step: number;
}

/**
 * PyTorch `max_poolNd`: padding counts as -inf, NaN propagates, ties keep the first maximum.
 * @example
 *   maxPoolNd(x, [1, 64, 112, 112], { kernel: [3, 3], stride: [2, 2], padding: [1, 1] }).shape
 *   // [1, 64, 56, 56]
 */
export function maxPoolNd(input: Float32Array, inShape: readonly number[], opts: MaxPoolOptions): MaxPoolResult {
  const nSp = kernelRank('maxPoolNd', opts.kernel);
  const op = `max_pool${nSp}d`;
  const x = checkInput(op, input, inShape, nSp);
  const k = param(op, 'kernel', opts.kernel, nSp, 1);
  const s = opts.stride && opts.stride.length > 0 ? param(op, 'stride', opts.stride, nSp, 1) : k;
  const p = param(op, 'padding', opts.padding ?? [0], nSp, 0);
  const d = param(op, 'dilation', opts.dilation ?? [1], nSp, 1);
  const axes = x.spatial.map((size, i) => {
    const n = outputSize(op, size, k[i]!, s[i]!, p[i]!, d[i]!, opts.ceilMode ?? false);
    const ax = newAxis(n, d[i]!);
    for (let o = 0; o < n; o++) {
      let lo = o * s[i]! - p[i]!;
      ax.hi[o] = Math.min(lo + (k[i]! - 1) * d[i]! + 1, size);
      while (lo < 0) lo += d[i]!;
      ax.lo[o] = lo;
    }
    return ax;
  });
  return reduceMax(input, x.planes, x.spatial, axes, opts.returnIndices ?? false, x.lead);
}

/**
 * PyTorch `avg_poolNd`: windows clipped to input+padding; divisor is `divisorOverride`, else the
 * padded window size (countIncludePad) or the number of real inputs; empty windows give 0.
 * @example
 *   avgPoolNd(x, [1, 1, 5], { kernel: [2], ceilMode: true }).shape // [1, 1, 3]
 */
export function avgPoolNd(input: Float32Array, inShape: readonly number[], opts: AvgPoolOptions): KernelResult {
  const nSp = kernelRank('avgPoolNd', opts.kernel);
  const op = `avg_pool${nSp}d`;
  const x = checkInput(op, input, inShape, nSp);
  const k = param(op, 'kernel', opts.kernel, nSp, 1);
  const s = opts.stride && opts.stride.length > 0 ? param(op, 'stride', opts.stride, nSp, 1) : k;
  const p = param(op, 'padding', opts.padding ?? [0], nSp, 0);
  const override = opts.divisorOverride ?? null;
  if (override !== null && (!Number.isFinite(override) || override === 0)) {
    throw new RangeError(`${op}: divisorOverride must be a non-zero number, got ${override}`);
  }
  const includePad = opts.countIncludePad ?? true;
  const axes = x.spatial.map((size, i) => {
    const n = outputSize(op, size, k[i]!, s[i]!, p[i]!, 1, opts.ceilMode ?? false);
    const ax = newAxis(n, 1);
    for (let o = 0; o < n; o++) {
      const start = o * s[i]! - p[i]!;
      const end = Math.min(start + k[i]!, size + p[i]!);
      ax.lo[o] = Math.max(start, 0);
      ax.hi[o] = Math.min(end, size);
      ax.div[o] = includePad ? end - start : ax.hi[o]! - ax.lo[o]!;
    }
    return ax;
  });
  return reduceAvg(input, x.planes, x.spatial, axes, override, x.lead);
}

/**
 * PyTorch `adaptive_avg_poolNd`: output i averages input [floor(i*in/out), ceil((i+1)*in/out)).
 * `outputSize` entries may be null to keep that input dim.
 * @example
 *   adaptiveAvgPoolNd(x, [1, 512, 7, 7], [1, 1]).shape // [1, 512, 1, 1]
 */
export function adaptiveAvgPoolNd(input: Float32Array, inShape: readonly number[], outputSize: readonly (number | null)[]): KernelResult {
  const nSp = kernelRank('adaptiveAvgPoolNd', outputSize, 'output size');
  const x = checkInput(`adaptive_avg_pool${nSp}d`, input, inShape, nSp);
  const axes = adaptiveAxes(`adaptive_avg_pool${nSp}d`, x.spatial, outputSize);
  return reduceAvg(input, x.planes, x.spatial, axes, null, x.lead);
}

/**
 * PyTorch `adaptive_max_poolNd` with the adaptive windows of `adaptiveAvgPoolNd`; `indices` as in
 * `maxPoolNd` when `returnIndices`.
 * @example
 *   adaptiveMaxPoolNd(x, [2, 8, 10], [4], true).indices // Float64Array(64)
 */
export function adaptiveMaxPoolNd(
  input: Float32Array, inShape: readonly number[], outputSize: readonly (number | null)[], returnIndices = false,
): MaxPoolResult {
  const nSp = kernelRank('adaptiveMaxPoolNd', outputSize, 'output size');
  const x = checkInput(`adaptive_max_pool${nSp}d`, input, inShape, nSp);
  const axes = adaptiveAxes(`adaptive_max_pool${nSp}d`, x.spatial, outputSize);
  return reduceMax(input, x.planes, x.spatial, axes, returnIndices, x.lead);
}

function adaptiveAxes(op: string, spatial: readonly number[], outputSize: readonly (number | null)[]): Axis[] {
  return spatial.map((size, i) => {
    const n = outputSize[i] ?? size;
    if (!Number.isInteger(n) || n < 0) {
      throw new RangeError(`${op}: output size must be non-negative integers or null, got [${outputSize.join(', ')}]`);
    }
    const ax = newAxis(n, 1);
    for (let o = 0; o < n; o++) {
      ax.lo[o] = Math.floor((o * size) / n);
      ax.hi[o] = Math.ceil(((o + 1) * size) / n);
      ax.div[o] = ax.hi[o]! - ax.lo[o]!;
    }
    return ax;
  });
}

function newAxis(n: number, step: number): Axis {
  return { n, lo: new Int32Array(n), hi: new Int32Array(n), div: new Int32Array(n), step };
}

/** Pads per-dim inputs on the left to 3-D (a unit dim with one window [0, 1)). */
function to3(spatial: readonly number[], axes: readonly Axis[]): { size: number[]; ax: Axis[] } {
  const unit: Axis = { n: 1, lo: Int32Array.of(0), hi: Int32Array.of(1), div: Int32Array.of(1), step: 1 };
  const pad = 3 - spatial.length;
  return { size: [...new Array<number>(pad).fill(1), ...spatial], ax: [...new Array<Axis>(pad).fill(unit), ...axes] };
}

function reduceMax(
  src: Float32Array, planes: number, spatial: readonly number[], axes: readonly Axis[], withIndices: boolean, lead: readonly number[],
): MaxPoolResult {
  const { size, ax } = to3(spatial, axes);
  const [A, B, C] = [ax[0]!, ax[1]!, ax[2]!];
  const [, iH, iW] = [size[0]!, size[1]!, size[2]!];
  const inVol = size[0]! * iH * iW;
  const outVol = A.n * B.n * C.n;
  const out = new Float32Array(planes * outVol);
  const idx = withIndices ? new Float64Array(planes * outVol) : null;
  let q = 0;
  for (let pl = 0; pl < planes; pl++) {
    const base = pl * inVol;
    for (let a = 0; a < A.n; a++) {
      for (let b = 0; b < B.n; b++) {
        for (let c = 0; c < C.n; c++, q++) {
          const aLo = A.lo[a]!, bLo = B.lo[b]!, cLo = C.lo[c]!;
          let best = -Infinity;
          let at = (aLo * iH + bLo) * iW + cLo;
          for (let i = aLo; i < A.hi[a]!; i += A.step) {
            for (let j = bLo; j < B.hi[b]!; j += B.step) {
              const row = (i * iH + j) * iW;
              for (let l = cLo; l < C.hi[c]!; l += C.step) {
                const v = src[base + row + l]!;
                if (v > best || v !== v) {
                  best = v;
                  at = row + l;
                }
              }
            }
          }
          out[q] = best;
          if (idx) idx[q] = at;
        }
      }
    }
  }
  const shape = [...lead, ...axes.map((x) => x.n)];
  return idx ? { data: out, shape, indices: idx } : { data: out, shape };
}

function reduceAvg(
  src: Float32Array, planes: number, spatial: readonly number[], axes: readonly Axis[], override: number | null, lead: readonly number[],
): KernelResult {
  const { size, ax } = to3(spatial, axes);
  const [A, B, C] = [ax[0]!, ax[1]!, ax[2]!];
  const [, iH, iW] = [size[0]!, size[1]!, size[2]!];
  const inVol = size[0]! * iH * iW;
  const outVol = A.n * B.n * C.n;
  const out = new Float32Array(planes * outVol);
  let q = 0;
  for (let pl = 0; pl < planes; pl++) {
    const base = pl * inVol;
    for (let a = 0; a < A.n; a++) {
      for (let b = 0; b < B.n; b++) {
        for (let c = 0; c < C.n; c++, q++) {
          const aLo = A.lo[a]!, aHi = A.hi[a]!, bLo = B.lo[b]!, bHi = B.hi[b]!, cLo = C.lo[c]!, cHi = C.hi[c]!;
          if (aLo >= aHi || bLo >= bHi || cLo >= cHi) continue; // window entirely in padding: 0
          let sum = 0;
          for (let i = aLo; i < aHi; i++) {
            for (let j = bLo; j < bHi; j++) {
              const row = base + (i * iH + j) * iW;
              for (let l = cLo; l < cHi; l++) sum += src[row + l]!;
            }
          }
          out[q] = sum / (override ?? A.div[a]! * B.div[b]! * C.div[c]!);
        }
      }
    }
  }
  return { data: out, shape: [...lead, ...axes.map((x) => x.n)] };
}

/**
 * PyTorch's pooling_output_shape: floor or ceil of (in + 2p - d(k-1) - 1)/s + 1, where in ceil
 * mode a last window starting in the right padding is dropped.
 */
function outputSize(op: string, size: number, k: number, s: number, p: number, d: number, ceil: boolean): number {
  if (p > Math.floor(((k - 1) * d + 1) / 2)) {
    throw new RangeError(`${op}: pad should be at most half of effective kernel size, but got pad=${p}, kernel_size=${k} and dilation=${d}`);
  }
  const span = size + 2 * p - d * (k - 1) - 1;
  let n = Math.floor((span + (ceil ? s - 1 : 0)) / s) + 1;
  if (ceil && (n - 1) * s >= size + p) n--;
  if (n < 1) {
    throw new RangeError(`${op}: output size ${n} is too small (input ${size}, kernel ${k}, stride ${s}, padding ${p}, dilation ${d})`);
  }
  return n;
}

function kernelRank(fn: string, v: readonly unknown[], what = 'kernel'): number {
  if (v.length < 1 || v.length > 3) throw new RangeError(`${fn}: ${what} must have 1 to 3 entries (one per spatial dim), got ${v.length}`);
  return v.length;
}

interface PoolInput {
  /** Leading (batch and channel) dims, kept in the output shape. */
  lead: number[];
  planes: number;
  spatial: number[];
}

function checkInput(op: string, data: Float32Array, shape: readonly number[], nSp: number): PoolInput {
  if (shape.length !== nSp + 1 && shape.length !== nSp + 2) {
    throw new RangeError(
      `${op}: input must have rank ${nSp + 1} or ${nSp + 2} ([N,] C, then ${nSp} spatial dims), got shape [${shape.join(', ')}]`,
    );
  }
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new RangeError(`${op}: input has invalid shape [${shape.join(', ')}]`);
    n *= d;
  }
  if (data.length !== n) throw new RangeError(`${op}: input of shape [${shape.join(', ')}] needs ${n} elements, got ${data.length}`);
  const spatial = shape.slice(-nSp);
  if (spatial.some((d) => d === 0)) throw new RangeError(`${op}: input spatial dims must be non-empty, got shape [${shape.join(', ')}]`);
  const lead = shape.slice(0, -nSp);
  return { lead, planes: lead.reduce((a, b) => a * b, 1), spatial };
}

/** Per-spatial-dim attribute: `n` integers >= `min`; a single value is broadcast to every dim. */
function param(op: string, name: string, v: readonly number[], n: number, min: number): number[] {
  const out = v.length === 1 ? new Array<number>(n).fill(v[0]!) : v.slice();
  if (out.length !== n) throw new RangeError(`${op}: ${name} needs ${n} value(s), one per spatial dim, got [${v.join(', ')}]`);
  for (const x of out) {
    if (!Number.isInteger(x) || x < min) throw new RangeError(`${op}: ${name} must be integers >= ${min}, got [${v.join(', ')}]`);
  }
  return out;
}
