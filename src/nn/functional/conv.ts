/** Convolutions and transposed convolutions (1-D, 2-D, 3-D), mapped onto the conv acc ops. */
import type { Emitter, MappingRule } from '../../acc_ops/mapping.js';
import { describeValue } from '../../acc_ops/registry.js';
import { sig, type Kwargs } from '../../ir/signature.js';
import type { Tensor } from '../../tensor/tensor.js';
import { intArg, ntuple, tensorArg } from './args.js';
import { defineF, type FArgs, type RuleFactory } from './define.js';

/** An int for every spatial dim, or one per dim. */
export type IntOrList = number | readonly number[];
export type ConvPadding = IntOrList | 'same' | 'valid';
type OptT = Tensor | null;

export interface ConvOpts { bias?: OptT; stride?: IntOrList; padding?: ConvPadding; dilation?: IntOrList; groups?: number }
type ConvArgs = FArgs<[input: Tensor, weight: Tensor],
  [bias?: OptT, stride?: IntOrList, padding?: ConvPadding, dilation?: IntOrList, groups?: number], ConvOpts>;

/**
 * Resolves PyTorch's padding forms to explicit per-dim pads. 'same' pads d·(k−1) in total per dim,
 * the extra element on the right as ATen does; when that is asymmetric the input is zero-padded
 * first (acc.pad) and the conv gets the symmetric part.
 */
function resolvePadding(e: Emitter, kw: Kwargs, n: number, stride: number[], dilation: number[], what: string): [Tensor, number[]] {
  const input = tensorArg(kw, 'input', what);
  const p = kw['padding'];
  if (p === 'valid') return [input, new Array<number>(n).fill(0)];
  if (p !== 'same') {
    if (typeof p === 'string') throw new TypeError(`${what}: argument 'padding' must be an int, a list of ${n} ints, 'same' or 'valid', got '${p}'`);
    return [input, ntuple(p, n, what, 'padding')];
  }
  if (stride.some((s) => s !== 1)) throw new RangeError(`${what}: padding='same' is not supported for strided convolutions (stride [${stride.join(', ')}])`);
  const wShape = e.meta(tensorArg(kw, 'weight', what)).shape;
  if (wShape.length !== n + 2) throw new RangeError(`${what}: 'weight' must have rank ${n + 2}, got shape [${wShape.join(', ')}]`);
  const left: number[] = [];
  const extra = new Array<number>(2 * n).fill(0);
  let asymmetric = false;
  for (let i = 0; i < n; i++) {
    const total = dilation[i]! * (wShape[i + 2]! - 1);
    const l = Math.floor(total / 2);
    left.push(l);
    if (total - l !== l) {
      extra[2 * (n - 1 - i) + 1] = total - 2 * l; // acc.pad lists the last dim first: [left, right] pairs
      asymmetric = true;
    }
  }
  const padded = asymmetric ? e.tensor('pad', { input, pad: extra, mode: 'constant', value: 0 }) : input;
  return [padded, left];
}

const convRule = (n: 1 | 2 | 3): RuleFactory => (what): MappingRule => ({
  custom: (kw, e) => {
    const stride = ntuple(kw['stride'], n, what, 'stride');
    const dilation = ntuple(kw['dilation'], n, what, 'dilation');
    const [input, padding] = resolvePadding(e, kw, n, stride, dilation, what);
    return e.tensor(`conv${n}d`, {
      input, weight: kw['weight'], bias: kw['bias'], stride, padding, dilation, groups: intArg(kw, 'groups', what),
    });
  },
});
const convSig = sig('input', 'weight', ['bias', null], ['stride', 1], ['padding', 0], ['dilation', 1], ['groups', 1]);

/** 1-D convolution over [N, C, L]; padding may be an int, a list, 'same' or 'valid'. @example F.conv1d(x, w, b, { padding: 'same' }) */
export const conv1d = defineF<ConvArgs>('conv1d', convSig, convRule(1));
/** 2-D convolution over [N, C, H, W]. @example F.conv2d(x, w, b, { stride: 2, padding: 1 }) */
export const conv2d = defineF<ConvArgs>('conv2d', convSig, convRule(2));
/** 3-D convolution over [N, C, D, H, W]. @example F.conv3d(x, w, null, { padding: [0, 1, 1] }) */
export const conv3d = defineF<ConvArgs>('conv3d', convSig, convRule(3));

export interface ConvTransposeOpts {
  bias?: OptT; stride?: IntOrList; padding?: IntOrList; outputPadding?: IntOrList; groups?: number; dilation?: IntOrList;
}
type ConvTransposeArgs = FArgs<[input: Tensor, weight: Tensor],
  [bias?: OptT, stride?: IntOrList, padding?: IntOrList, outputPadding?: IntOrList, groups?: number, dilation?: IntOrList], ConvTransposeOpts>;

const convTransposeRule = (n: 1 | 2 | 3): RuleFactory => (what): MappingRule => ({
  custom: (kw, e) => {
    const p = kw['padding'];
    if (typeof p === 'string') throw new TypeError(`${what}: argument 'padding' expects an int or a list of ${n} ints, got ${describeValue(p)}`);
    return e.tensor(`conv_transpose${n}d`, {
      input: kw['input'], weight: kw['weight'], bias: kw['bias'],
      stride: ntuple(kw['stride'], n, what, 'stride'),
      padding: ntuple(p, n, what, 'padding'),
      output_padding: ntuple(kw['outputPadding'], n, what, 'outputPadding'),
      groups: intArg(kw, 'groups', what),
      dilation: ntuple(kw['dilation'], n, what, 'dilation'),
    });
  },
});
const convTransposeSig = sig('input', 'weight', ['bias', null], ['stride', 1], ['padding', 0], ['outputPadding', 0], ['groups', 1], ['dilation', 1]);

/** 1-D transposed convolution (weight [C_in, C_out / groups, k]). @example F.convTranspose1d(x, w, b, { stride: 2 }) */
export const convTranspose1d = defineF<ConvTransposeArgs>('convTranspose1d', convTransposeSig, convTransposeRule(1));
/** 2-D transposed convolution. @example F.convTranspose2d(x, w, b, { stride: 2, padding: 1, outputPadding: 1 }) */
export const convTranspose2d = defineF<ConvTransposeArgs>('convTranspose2d', convTransposeSig, convTransposeRule(2));
/** 3-D transposed convolution. @example F.convTranspose3d(x, w, null, { stride: 2 }) */
export const convTranspose3d = defineF<ConvTransposeArgs>('convTranspose3d', convTransposeSig, convTransposeRule(3));
