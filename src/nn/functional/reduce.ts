/** Reductions and scans (torch.sum, torch.max, softmax, topk, ...), mapped onto the reduce acc ops. */
import type { MappingRule } from '../../acc_ops/mapping.js';
import { describeValue } from '../../acc_ops/registry.js';
import { sig } from '../../ir/signature.js';
import type { DType } from '../../tensor/dtype.js';
import { Tensor } from '../../tensor/tensor.js';
import { boolArg, isInt, tensorArg, withDtype } from './args.js';
import { defineF, type FArgs, type RuleFactory } from './define.js';

/** One dim, several, or null for all. */
export type Dims = number | readonly number[] | null;
export interface ReduceOpts { dim?: Dims; keepdim?: boolean; dtype?: DType | null }

type ReduceArgs = FArgs<[input: Tensor], [dim?: Dims, keepdim?: boolean], ReduceOpts>;
const reduction = (name: 'sum' | 'mean' | 'prod'): ((...a: ReduceArgs) => Tensor) =>
  defineF<ReduceArgs>(name, sig('input', ['dim', null], ['keepdim', false], '*', ['dtype', null]), { to: name });

/** Sum over `dim` (all dims when null), optionally accumulating in `dtype`. @example F.sum(x, [1, 2], true) */
export const sum = reduction('sum');
/** Mean over `dim` (all dims when null). @example F.mean(x, -1, true) */
export const mean = reduction('mean');
/** Product over `dim` (all dims when null). @example F.prod(x, 0) */
export const prod = reduction('prod');

type AmaxArgs = FArgs<[input: Tensor], [dim?: Dims, keepdim?: boolean], { dim?: Dims; keepdim?: boolean }>;
/** Maximum over `dim` (all dims when null), values only. @example F.amax(x, [2, 3]) */
export const amax = defineF<AmaxArgs>('amax', sig('input', ['dim', null], ['keepdim', false]), { to: 'amax' });
/** Minimum over `dim` (all dims when null), values only. @example F.amin(x, -1) */
export const amin = defineF<AmaxArgs>('amin', sig('input', ['dim', null], ['keepdim', false]), { to: 'amin' });

type ArgArgs = FArgs<[input: Tensor], [dim?: number | null, keepdim?: boolean], { dim?: number | null; keepdim?: boolean }>;
/** Index (int64) of the first maximum along `dim`, or in the flattened input when null. @example F.argmax(x, 1) */
export const argmax = defineF<ArgArgs>('argmax', sig('input', ['dim', null], ['keepdim', false]), { to: 'argmax' });
/** Index (int64) of the first minimum along `dim`, or in the flattened input when null. @example F.argmin(x, 1) */
export const argmin = defineF<ArgArgs>('argmin', sig('input', ['dim', null], ['keepdim', false]), { to: 'argmin' });

/**
 * torch.max / torch.min: a full reduction (→ amax), values and indices along one dim
 * (→ amax + argmax), or the elementwise form with a second tensor (→ maximum).
 */
const extremum = (reduce: 'amax' | 'amin', arg: 'argmax' | 'argmin', pairwise: 'maximum' | 'minimum'): RuleFactory =>
  (what): MappingRule => ({
    custom: (kw, e) => {
      const input = tensorArg(kw, 'input', what);
      const dim = kw['dim'];
      const other = kw['other'];
      if (dim instanceof Tensor || other !== null) {
        if (dim instanceof Tensor && other !== null) throw new TypeError(`${what}: got both a tensor 'dim' and 'other'`);
        const rhs = dim instanceof Tensor ? dim : tensorArg(kw, 'other', what);
        return e.tensor(pairwise, { input, other: rhs });
      }
      const keepdim = boolArg(kw, 'keepdim', what);
      if (dim === null) {
        if (keepdim) throw new TypeError(`${what}: 'keepdim' needs a 'dim'`);
        return e.tensor(reduce, { input });
      }
      if (!isInt(dim)) throw new TypeError(`${what}: argument 'dim' expects an int, got ${describeValue(dim)}`);
      return [e.tensor(reduce, { input, dim, keepdim }), e.tensor(arg, { input, dim, keepdim })];
    },
  });

const extremumSig = sig('input', ['dim', null], ['keepdim', false], '*', ['other', null]);
const pairArity = (kw: Record<string, unknown>): number | undefined => (isInt(kw['dim']) ? 2 : undefined);
const maxCall = defineF<unknown[], unknown>('max', extremumSig, extremum('amax', 'argmax', 'maximum'), { arity: pairArity });
const minCall = defineF<unknown[], unknown>('min', extremumSig, extremum('amin', 'argmin', 'minimum'), { arity: pairArity });

/**
 * The maximum of all elements; with `dim`, [values, indices] along it; with a tensor, the
 * elementwise maximum.
 *
 * @example
 * const m = F.max(x);
 * const [values, indices] = F.max(x, 1, true);
 */
export function max(input: Tensor): Tensor;
export function max(input: Tensor, dim: number, keepdim?: boolean): [Tensor, Tensor];
export function max(input: Tensor, opts: { dim: number; keepdim?: boolean }): [Tensor, Tensor];
export function max(input: Tensor, other: Tensor): Tensor;
export function max(...a: unknown[]): unknown { return maxCall(...a); }

/**
 * The minimum of all elements; with `dim`, [values, indices] along it; with a tensor, the
 * elementwise minimum.
 *
 * @example
 * const [values, indices] = F.min(x, -1);
 */
export function min(input: Tensor): Tensor;
export function min(input: Tensor, dim: number, keepdim?: boolean): [Tensor, Tensor];
export function min(input: Tensor, opts: { dim: number; keepdim?: boolean }): [Tensor, Tensor];
export function min(input: Tensor, other: Tensor): Tensor;
export function min(...a: unknown[]): unknown { return minCall(...a); }

/** Casts to `dtype` first when given (PyTorch's dtype argument), then applies `op`. */
const castThen = (op: string): RuleFactory => (what): MappingRule => ({
  custom: (kw, e) => e.tensor(op, { input: withDtype(e, kw, what), dim: kw['dim'] }),
});
type DimDtypeArgs = [input: Tensor, dim: number, opts?: { dtype?: DType | null }];
const dimDtypeSig = sig('input', 'dim', '*', ['dtype', null]);

/** exp(x) / Σ exp(x) along `dim`. @example F.softmax(scores, -1) */
export const softmax = defineF<DimDtypeArgs>('softmax', dimDtypeSig, castThen('softmax'));
/** log(softmax(x)) along `dim`, computed stably. @example F.logSoftmax(logits, 1) */
export const logSoftmax = defineF<DimDtypeArgs>('logSoftmax', dimDtypeSig, castThen('log_softmax'));
/** Running sum along `dim`. @example F.cumsum(x, 0) */
export const cumsum = defineF<DimDtypeArgs>('cumsum', dimDtypeSig, castThen('cumsum'));

type TopkOpts = { dim?: number; largest?: boolean; sorted?: boolean };
/** The k largest (or smallest) elements along `dim` and their int64 indices. @example const [v, i] = F.topk(x, 5) */
export const topk = defineF<FArgs<[input: Tensor, k: number], [dim?: number, largest?: boolean, sorted?: boolean], TopkOpts>, [Tensor, Tensor]>(
  'topk', sig('input', 'k', ['dim', -1], ['largest', true], ['sorted', true]), { to: 'topk' }, { arity: () => 2 });
