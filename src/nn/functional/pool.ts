/** Pooling F functions (max, average, adaptive), mapped onto the pool acc ops. */
import type { MappingRule } from '../../acc_ops/mapping.js';
import { describeValue } from '../../acc_ops/registry.js';
import { sig, type Kwargs } from '../../ir/signature.js';
import type { Tensor } from '../../tensor/tensor.js';
import { boolArg, isInt, ntuple, tensorArg } from './args.js';
import type { IntOrList } from './conv.js';
import { defineF, type FArgs, type RuleFactory } from './define.js';

/** `stride` defaults to the kernel size when null or an empty list (PyTorch). */
function strideOf(kw: Kwargs, n: number, kernel: number[], what: string): number[] {
  const s = kw['stride'];
  return s === null || (Array.isArray(s) && s.length === 0) ? kernel : ntuple(s, n, what, 'stride');
}

function noIndices(kw: Kwargs, what: string): void {
  if (boolArg(kw, 'returnIndices', what)) throw new TypeError(`${what}: returnIndices=true is not supported (pooling indices have no acc op)`);
}

export interface MaxPoolOpts { stride?: IntOrList | null; padding?: IntOrList; dilation?: IntOrList; ceilMode?: boolean; returnIndices?: boolean }
type MaxPoolArgs = FArgs<[input: Tensor, kernelSize: IntOrList],
  [stride?: IntOrList | null, padding?: IntOrList, dilation?: IntOrList, ceilMode?: boolean], MaxPoolOpts>;

const maxPoolRule = (n: 1 | 2 | 3): RuleFactory => (what): MappingRule => ({
  custom: (kw, e) => {
    noIndices(kw, what);
    const kernel = ntuple(kw['kernelSize'], n, what, 'kernelSize');
    return e.tensor(`max_pool${n}d`, {
      input: kw['input'], kernel_size: kernel, stride: strideOf(kw, n, kernel, what),
      padding: ntuple(kw['padding'], n, what, 'padding'), dilation: ntuple(kw['dilation'], n, what, 'dilation'),
      ceil_mode: boolArg(kw, 'ceilMode', what),
    });
  },
});
const maxPoolSig = sig('input', 'kernelSize', ['stride', null], ['padding', 0], ['dilation', 1], ['ceilMode', false], ['returnIndices', false]);

/** 1-D max pooling. @example F.maxPool1d(x, 3, 2) */
export const maxPool1d = defineF<MaxPoolArgs>('maxPool1d', maxPoolSig, maxPoolRule(1));
/** 2-D max pooling; the stride defaults to the kernel size. @example F.maxPool2d(x, 3, 2, 1) */
export const maxPool2d = defineF<MaxPoolArgs>('maxPool2d', maxPoolSig, maxPoolRule(2));
/** 3-D max pooling. @example F.maxPool3d(x, 2) */
export const maxPool3d = defineF<MaxPoolArgs>('maxPool3d', maxPoolSig, maxPoolRule(3));

export interface AvgPoolOpts {
  stride?: IntOrList | null; padding?: IntOrList; ceilMode?: boolean; countIncludePad?: boolean; divisorOverride?: number | null;
}
type AvgPoolArgs = FArgs<[input: Tensor, kernelSize: IntOrList],
  [stride?: IntOrList | null, padding?: IntOrList, ceilMode?: boolean, countIncludePad?: boolean, divisorOverride?: number | null], AvgPoolOpts>;
type AvgPool1dArgs = FArgs<[input: Tensor, kernelSize: IntOrList],
  [stride?: IntOrList | null, padding?: IntOrList, ceilMode?: boolean, countIncludePad?: boolean], Omit<AvgPoolOpts, 'divisorOverride'>>;

const avgPoolRule = (n: 1 | 2 | 3): RuleFactory => (what): MappingRule => ({
  custom: (kw, e) => {
    const kernel = ntuple(kw['kernelSize'], n, what, 'kernelSize');
    const divisor = kw['divisorOverride'] ?? null;
    if (divisor !== null && (!isInt(divisor) || divisor === 0)) {
      throw new TypeError(`${what}: argument 'divisorOverride' expects a nonzero int, got ${describeValue(divisor)}`);
    }
    return e.tensor(`avg_pool${n}d`, {
      input: kw['input'], kernel_size: kernel, stride: strideOf(kw, n, kernel, what),
      padding: ntuple(kw['padding'], n, what, 'padding'), ceil_mode: boolArg(kw, 'ceilMode', what),
      count_include_pad: boolArg(kw, 'countIncludePad', what), divisor_override: divisor,
    });
  },
});
const avgPoolBase = ['input', 'kernelSize', ['stride', null], ['padding', 0], ['ceilMode', false], ['countIncludePad', true]] as const;

/** 1-D average pooling. @example F.avgPool1d(x, 2) */
export const avgPool1d = defineF<AvgPool1dArgs>('avgPool1d', sig(...avgPoolBase), avgPoolRule(1));
/** 2-D average pooling, optionally excluding padding from the count or with a fixed divisor. @example F.avgPool2d(x, 3, 1, 1, { countIncludePad: false }) */
export const avgPool2d = defineF<AvgPoolArgs>('avgPool2d', sig(...avgPoolBase, ['divisorOverride', null]), avgPoolRule(2));
/** 3-D average pooling. @example F.avgPool3d(x, 2) */
export const avgPool3d = defineF<AvgPoolArgs>('avgPool3d', sig(...avgPoolBase, ['divisorOverride', null]), avgPoolRule(3));

/** An output size per spatial dim; null keeps that dim's input size. */
export type AdaptiveSize = number | null | readonly (number | null)[];

/** Resolves `outputSize` (an int, or a list whose null entries keep the input size) against the last n dims. */
const adaptiveRule = (op: string, n: 1 | 2 | 3): RuleFactory => (what): MappingRule => ({
  custom: (kw, e) => {
    if ('returnIndices' in kw) noIndices(kw, what);
    const input = tensorArg(kw, 'input', what);
    const shape = e.meta(input).shape;
    const raw = kw['outputSize'];
    const list = Array.isArray(raw) ? raw : new Array<unknown>(n).fill(raw);
    if (list.length !== n || !list.every((v) => v === null || isInt(v)) || shape.length < n) {
      throw new TypeError(`${what}: argument 'outputSize' expects an int or a list of ${n} ints or nulls for an input of rank ` +
        `${n + 1} or ${n + 2}, got ${describeValue(raw)} for shape [${shape.join(', ')}]`);
    }
    const size = list.map((v, i) => (isInt(v) ? v : shape[shape.length - n + i]!));
    return e.tensor(op, { input, output_size: size });
  },
});

type AdaptiveArgs = [input: Tensor, outputSize: AdaptiveSize];
/** Average pooling to a fixed output length. @example F.adaptiveAvgPool1d(x, 1) */
export const adaptiveAvgPool1d = defineF<AdaptiveArgs>('adaptiveAvgPool1d', sig('input', 'outputSize'), adaptiveRule('adaptive_avg_pool1d', 1));
/** Average pooling to a fixed output size (global pooling with 1). @example F.adaptiveAvgPool2d(x, [7, 7]) */
export const adaptiveAvgPool2d = defineF<AdaptiveArgs>('adaptiveAvgPool2d', sig('input', 'outputSize'), adaptiveRule('adaptive_avg_pool2d', 2));
/** 3-D average pooling to a fixed output size. @example F.adaptiveAvgPool3d(x, 1) */
export const adaptiveAvgPool3d = defineF<AdaptiveArgs>('adaptiveAvgPool3d', sig('input', 'outputSize'), adaptiveRule('adaptive_avg_pool3d', 3));
/** Max pooling to a fixed output size. @example F.adaptiveMaxPool2d(x, 1) */
export const adaptiveMaxPool2d = defineF<FArgs<AdaptiveArgs, [returnIndices?: boolean], { returnIndices?: boolean }>>(
  'adaptiveMaxPool2d', sig('input', 'outputSize', ['returnIndices', false]), adaptiveRule('adaptive_max_pool2d', 2));
