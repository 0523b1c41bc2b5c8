/**
 * Reference N-d convolution and transposed convolution (1, 2 or 3 spatial dims) over raw
 * Float32Arrays in NC[D]HW layout.
 *
 * Every case is run as 3-D with leading unit dims, so one im2col/col2im serves 1-D, 2-D and 3-D.
 * conv: per batch item and group, im2col over a bounded chunk of output positions + sgemm;
 *   1x1/stride-1/no-pad is a plain GEMM on the input, one-input-channel groups (depthwise,
 *   channel multiplier) run a direct loop.
 * conv transpose: per batch item and group, sgemm(W^T, X) into columns + col2im scatter-add.
 */
import { sgemm, type KernelResult } from './gemm.js';

/** Attributes of `convNd`, one value per spatial dim (a single value is broadcast). */
export interface ConvOptions {
  stride: readonly number[];
  padding: readonly number[];
  dilation: readonly number[];
  groups: number;
}

/** Attributes of `convTransposeNd`; `outputPadding` adds to one side of each output dim. */
export interface ConvTransposeOptions extends ConvOptions {
  outputPadding: readonly number[];
}

/** Cap on the column buffer, in floats (32 MiB): im2col/col2im work on chunks of positions below it. */
const COL_LIMIT = 8 * 1024 * 1024;
let colBuf: Float32Array = new Float32Array(0);
let accBuf: Float64Array = new Float64Array(0);

/**
 * Geometry shared by conv and its transpose, always 3-D ([D, H, W], leading dims padded with 1).
 * `img` is the image side (conv input, conv-transpose output), `pos` the positions side; image
 * coordinate = pos * s - p + k * d along each dim.
 */
interface Geometry {
  img: Vec3;
  pos: Vec3;
  k: Vec3;
  s: Vec3;
  p: Vec3;
  d: Vec3;
}

type Vec3 = [number, number, number];

/**
 * PyTorch `convNd` (cross-correlation) for 1-3 spatial dims: input [N, C, ...] (or unbatched
 * [C, ...]), weight [O, C/groups, k...], optional bias [O].
 * @example
 *   // 3x3 conv, 3 -> 16 channels, same padding
 *   const y = convNd(x, [1, 3, 32, 32], w, [16, 3, 3, 3], b,
 *                    { stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1 });
 *   y.shape // [1, 16, 32, 32]
 */
export function convNd(
  input: Float32Array, inShape: readonly number[], weight: Float32Array, wShape: readonly number[],
  bias: Float32Array | null, opts: ConvOptions,
): KernelResult {
  const nSp = spatialRank('convNd', wShape, '[O, C/groups, k...]');
  const op = `conv${nSp}d`;
  const x = checkInput(op, input, inShape, nSp);
  checkData(op, 'weight', weight, wShape);
  const groups = checkGroups(op, opts.groups);
  const [O, Cg] = [wShape[0]!, wShape[1]!];
  if (x.channels % groups !== 0) throw new RangeError(`${op}: input has ${x.channels} channels, not divisible by groups=${groups}`);
  if (O % groups !== 0) throw new RangeError(`${op}: weight has ${O} output channels, not divisible by groups=${groups}`);
  if (Cg * groups !== x.channels) {
    throw new RangeError(`${op}: weight has ${Cg} input channels per group, input has ${x.channels} channels with groups=${groups}`);
  }
  checkBias(op, bias, O);
  const kernel = wShape.slice(2);
  const stride = spatialParam(op, 'stride', opts.stride, nSp, 1);
  const padding = spatialParam(op, 'padding', opts.padding, nSp, 0);
  const dilation = spatialParam(op, 'dilation', opts.dilation, nSp, 1);
  const outSp = kernel.map((k, i) => Math.floor((x.spatial[i]! + 2 * padding[i]! - dilation[i]! * (k - 1) - 1) / stride[i]!) + 1);
  checkOutput(op, outSp, x.spatial, kernel);

  const g: Geometry = {
    img: to3(x.spatial, 1), pos: to3(outSp, 1), k: to3(kernel, 1), s: to3(stride, 1), p: to3(padding, 0), d: to3(dilation, 1),
  };
  const inVol = prod(x.spatial);
  const L = prod(outSp);
  const kvol = prod(kernel);
  const Og = O / groups;
  const Kdim = Cg * kvol;
  const out = new Float32Array(x.batch * O * L);
  if (bias) for (let i = 0; i < x.batch * O; i++) out.fill(bias[i % O]!, i * L, (i + 1) * L);
  const beta = bias ? 1 : 0;
  const pointwise = kvol === 1 && stride.every((v) => v === 1) && padding.every((v) => v === 0);
  const chunk = Math.max(1, Math.min(L, Math.floor(COL_LIMIT / Math.max(Kdim, 1))));
  if (Cg > 1 && !pointwise && colBuf.length < Kdim * chunk) colBuf = new Float32Array(Kdim * chunk);

  for (let n = 0; n < x.batch; n++) {
    for (let grp = 0; grp < groups; grp++) {
      const inOff = (n * x.channels + grp * Cg) * inVol;
      const outOff = (n * O + grp * Og) * L;
      const wOff = grp * Og * Kdim;
      if (Cg === 1) {
        directConv(input, inOff, Cg, weight, wOff, Og, g, out, outOff);
      } else if (pointwise) {
        sgemm(false, false, Og, L, Cg, 1, weight, wOff, Cg, input, inOff, L, beta, out, outOff, L);
      } else {
        for (let l0 = 0; l0 < L; l0 += chunk) {
          const cols = Math.min(chunk, L - l0);
          columns('im2col', input, inOff, Cg, g, l0, cols, colBuf);
          sgemm(false, false, Og, cols, Kdim, 1, weight, wOff, Kdim, colBuf, 0, cols, beta, out, outOff + l0, L);
        }
      }
    }
  }
  return { data: out, shape: x.unbatched ? [O, ...outSp] : [x.batch, O, ...outSp] };
}

/**
 * PyTorch `conv_transposeNd` for 1-3 spatial dims: input [N, C_in, ...] (or unbatched), weight
 * [C_in, C_out/groups, k...]; out = (in-1)*stride - 2*padding + dilation*(k-1) + outputPadding + 1.
 * @example
 *   const y = convTransposeNd(x, [1, 8, 7, 7], w, [8, 4, 4, 4], null,
 *     { stride: [2, 2], padding: [1, 1], outputPadding: [0, 0], dilation: [1, 1], groups: 1 });
 *   y.shape // [1, 4, 14, 14]
 */
export function convTransposeNd(
  input: Float32Array, inShape: readonly number[], weight: Float32Array, wShape: readonly number[],
  bias: Float32Array | null, opts: ConvTransposeOptions,
): KernelResult {
  const nSp = spatialRank('convTransposeNd', wShape, '[C_in, C_out/groups, k...]');
  const op = `conv_transpose${nSp}d`;
  const x = checkInput(op, input, inShape, nSp);
  checkData(op, 'weight', weight, wShape);
  const groups = checkGroups(op, opts.groups);
  const Cin = x.channels;
  if (wShape[0] !== Cin) throw new RangeError(`${op}: weight has ${wShape[0]} input channels (dim 0), input has ${Cin} channels`);
  if (Cin % groups !== 0) throw new RangeError(`${op}: input has ${Cin} channels, not divisible by groups=${groups}`);
  const Cog = wShape[1]!;
  const Cout = Cog * groups;
  checkBias(op, bias, Cout);
  const kernel = wShape.slice(2);
  const stride = spatialParam(op, 'stride', opts.stride, nSp, 1);
  const padding = spatialParam(op, 'padding', opts.padding, nSp, 0);
  const dilation = spatialParam(op, 'dilation', opts.dilation, nSp, 1);
  const outPad = spatialParam(op, 'outputPadding', opts.outputPadding, nSp, 0);
  outPad.forEach((v, i) => {
    if (v >= stride[i]! && v >= dilation[i]!) {
      throw new RangeError(
        `${op}: outputPadding ${fmt(outPad)} must be smaller than either stride ${fmt(stride)} or dilation ${fmt(dilation)} in each dim`,
      );
    }
  });
  const outSp = kernel.map((k, i) => (x.spatial[i]! - 1) * stride[i]! - 2 * padding[i]! + dilation[i]! * (k - 1) + outPad[i]! + 1);
  checkOutput(op, outSp, x.spatial, kernel);

  const g: Geometry = {
    img: to3(outSp, 1), pos: to3(x.spatial, 1), k: to3(kernel, 1), s: to3(stride, 1), p: to3(padding, 0), d: to3(dilation, 1),
  };
  const L = prod(x.spatial);
  const outVol = prod(outSp);
  const Cig = Cin / groups;
  const rows = Cog * prod(kernel);
  const out = new Float32Array(x.batch * Cout * outVol);
  if (bias) for (let i = 0; i < x.batch * Cout; i++) out.fill(bias[i % Cout]!, i * outVol, (i + 1) * outVol);
  const chunk = Math.max(1, Math.min(L, Math.floor(COL_LIMIT / Math.max(rows, 1))));
  if (colBuf.length < rows * chunk) colBuf = new Float32Array(rows * chunk);

  for (let n = 0; n < x.batch; n++) {
    for (let grp = 0; grp < groups; grp++) {
      const inOff = (n * Cin + grp * Cig) * L;
      const outOff = (n * Cout + grp * Cog) * outVol;
      for (let l0 = 0; l0 < L; l0 += chunk) {
        const cols = Math.min(chunk, L - l0);
        // columns[rows, cols] = W_g^T [rows, Cig] * X_g[Cig, l0:l0+cols]
        sgemm(true, false, rows, cols, Cig, 1, weight, grp * Cig * rows, rows, input, inOff + l0, L, 0, colBuf, 0, cols);
        columns('col2im', out, outOff, Cog, g, l0, cols, colBuf);
      }
    }
  }
  return { data: out, shape: x.unbatched ? [Cout, ...outSp] : [x.batch, Cout, ...outSp] };
}

/** First t >= 0 with t*s + off >= 0. */
function firstInside(off: number, s: number): number {
  return off >= 0 ? 0 : Math.ceil(-off / s);
}

/** One past the last t with t*s + off < size (may be <= 0). */
function endInside(off: number, s: number, size: number): number {
  return Math.ceil((size - off) / s);
}

/**
 * Moves data between image channels [C, img] (at `imgOff`) and columns [C*kvol, cols] for positions
 * l0..l0+cols: 'im2col' fills the columns (zeros where a tap falls in padding), 'col2im' adds the
 * columns back into the image (taps in padding are dropped).
 */
function columns(
  mode: 'im2col' | 'col2im', img: Float32Array, imgOff: number, C: number, g: Geometry, l0: number, cols: number, col: Float32Array,
): void {
  const [iD, iH, iW] = g.img;
  const [, oH, oW] = g.pos;
  const [kD, kH, kW] = g.k;
  const [sD, sH, sW] = g.s;
  const [pD, pH, pW] = g.p;
  const [dD, dH, dW] = g.d;
  const gather = mode === 'im2col';
  const l1 = l0 + cols;
  let d = 0;
  for (let c = 0; c < C; c++) {
    for (let kd = 0; kd < kD; kd++) {
      for (let kh = 0; kh < kH; kh++) {
        for (let kw = 0; kw < kW; kw++) {
          const offW = kw * dW - pW;
          const loW = firstInside(offW, sW);
          const hiW = endInside(offW, sW, iW);
          let ow = l0 % oW;
          let oh = ((l0 - ow) / oW) % oH;
          let od = (l0 - ow - oh * oW) / (oW * oH);
          for (let pos = l0; pos < l1;) {
            // One run of positions along the output row: same image row, consecutive ow.
            const seg = Math.min(oW - ow, l1 - pos);
            const id = od * sD - pD + kd * dD;
            const ih = oh * sH - pH + kh * dH;
            if (id >= 0 && id < iD && ih >= 0 && ih < iH) {
              const base = imgOff + ((c * iD + id) * iH + ih) * iW + offW;
              const end = ow + seg;
              const lo = Math.min(Math.max(loW, ow), end);
              const hi = Math.max(Math.min(hiW, end), lo);
              if (gather) {
                let q = d;
                for (let t = ow; t < lo; t++) col[q++] = 0;
                for (let t = lo; t < hi; t++) col[q++] = img[base + t * sW]!;
                for (let t = hi; t < end; t++) col[q++] = 0;
              } else {
                for (let t = lo, q = d + lo - ow; t < hi; t++, q++) img[base + t * sW] += col[q]!;
              }
            } else if (gather) {
              col.fill(0, d, d + seg);
            }
            d += seg;
            pos += seg;
            ow += seg;
            if (ow === oW) {
              ow = 0;
              if (++oh === oH) { oh = 0; od++; }
            }
          }
        }
      }
    }
  }
}

/** Direct convolution for groups with few input channels (depthwise): no im2col, float64 accumulation. */
function directConv(
  src: Float32Array, srcOff: number, C: number, weight: Float32Array, wOff: number, O: number,
  g: Geometry, dst: Float32Array, dstOff: number,
): void {
  const [iD, iH, iW] = g.img;
  const [oD, oH, oW] = g.pos;
  const [kD, kH, kW] = g.k;
  const [sD, sH, sW] = g.s;
  const [pD, pH, pW] = g.p;
  const [dD, dH, dW] = g.d;
  const L = oD * oH * oW;
  if (accBuf.length < L) accBuf = new Float64Array(L);
  const acc = accBuf;
  let w = wOff;
  for (let o = 0; o < O; o++) {
    const planeOut = dstOff + o * L;
    for (let l = 0; l < L; l++) acc[l] = dst[planeOut + l]!; // bias (or zeros) already there
    for (let c = 0; c < C; c++) {
      for (let kd = 0; kd < kD; kd++) {
        for (let kh = 0; kh < kH; kh++) {
          for (let kw = 0; kw < kW; kw++, w++) {
            const wv = weight[w]!;
            const offW = kw * dW - pW;
            const lo = Math.min(firstInside(offW, sW), oW);
            const hi = Math.max(Math.min(endInside(offW, sW, iW), oW), lo);
            for (let od = 0; od < oD; od++) {
              const id = od * sD - pD + kd * dD;
              if (id < 0 || id >= iD) continue;
              for (let oh = 0; oh < oH; oh++) {
                const ih = oh * sH - pH + kh * dH;
                if (ih < 0 || ih >= iH) continue;
                const base = srcOff + ((c * iD + id) * iH + ih) * iW + offW;
                const row = (od * oH + oh) * oW;
                for (let ow = lo; ow < hi; ow++) acc[row + ow] += wv * src[base + ow * sW]!;
              }
            }
          }
        }
      }
    }
    for (let l = 0; l < L; l++) dst[planeOut + l] = acc[l]!;
  }
}

function prod(v: readonly number[]): number {
  let n = 1;
  for (const x of v) n *= x;
  return n;
}

/** Pads a per-spatial-dim list on the left to [D, H, W]. */
function to3(v: readonly number[], fill: number): Vec3 {
  const at = (i: number): number => v[v.length - 3 + i] ?? fill;
  return [at(0), at(1), at(2)];
}

function fmt(v: readonly number[]): string {
  return `[${v.join(', ')}]`;
}

function spatialRank(fn: string, wShape: readonly number[], layout: string): number {
  const n = wShape.length - 2;
  if (n < 1 || n > 3) throw new RangeError(`${fn}: weight must be ${layout} with 1 to 3 kernel dims, got shape ${fmt(wShape)}`);
  for (const k of wShape.slice(2)) {
    if (!Number.isInteger(k) || k < 1) throw new RangeError(`${fn}: kernel dims must be positive integers, got weight shape ${fmt(wShape)}`);
  }
  return n;
}

function checkData(op: string, what: string, data: Float32Array, shape: readonly number[]): void {
  for (const d of shape) if (!Number.isInteger(d) || d < 0) throw new RangeError(`${op}: ${what} has invalid shape ${fmt(shape)}`);
  const n = prod(shape);
  if (data.length !== n) throw new RangeError(`${op}: ${what} of shape ${fmt(shape)} needs ${n} elements, got ${data.length}`);
}

interface InputInfo {
  unbatched: boolean;
  batch: number;
  channels: number;
  spatial: number[];
}

function checkInput(op: string, data: Float32Array, shape: readonly number[], nSp: number): InputInfo {
  if (shape.length !== nSp + 2 && shape.length !== nSp + 1) {
    const dims = ['L', 'H, W', 'D, H, W'][nSp - 1]!;
    throw new RangeError(`${op}: input must be [N, C, ${dims}] or unbatched [C, ${dims}], got shape ${fmt(shape)}`);
  }
  checkData(op, 'input', data, shape);
  const unbatched = shape.length === nSp + 1;
  return { unbatched, batch: unbatched ? 1 : shape[0]!, channels: shape[unbatched ? 0 : 1]!, spatial: shape.slice(-nSp) };
}

function checkGroups(op: string, groups: number): number {
  if (!Number.isInteger(groups) || groups < 1) throw new RangeError(`${op}: groups must be a positive integer, got ${groups}`);
  return groups;
}

function checkBias(op: string, bias: Float32Array | null, channels: number): void {
  if (bias && bias.length !== channels) {
    throw new RangeError(`${op}: bias has ${bias.length} elements, expected ${channels} (one per output channel)`);
  }
}

function checkOutput(op: string, outSp: readonly number[], inSp: readonly number[], kernel: readonly number[]): void {
  if (outSp.some((v) => v < 1)) {
    throw new RangeError(`${op}: computed output size ${fmt(outSp)} is too small (input spatial ${fmt(inSp)}, kernel ${fmt(kernel)})`);
  }
}

/** Per-spatial-dim attribute: `n` integers >= `min`; a single value is broadcast to every dim. */
function spatialParam(op: string, name: string, v: readonly number[], n: number, min: number): number[] {
  const out = v.length === 1 ? new Array<number>(n).fill(v[0]!) : v.slice();
  if (out.length !== n) throw new RangeError(`${op}: ${name} needs ${n} value(s), one per spatial dim, got ${fmt(v)}`);
  for (const x of out) {
    if (!Number.isInteger(x) || x < min) throw new RangeError(`${op}: ${name} must be integers >= ${min}, got ${fmt(v)}`);
  }
  return out;
}
