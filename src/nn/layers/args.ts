/** Checks of layer constructor arguments; errors name the layer and argument and say what was expected. */
import { TraceProxy } from '../../ir/proxy.js';
import type { Tensor } from '../../tensor/tensor.js';

/** An integer >= `min` (1 unless given). */
export function intArg(layer: string, name: string, v: unknown, min = 1): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    const what = min === -Infinity ? 'an integer' : `an integer >= ${min}`;
    throw new TypeError(`${layer}: ${name} must be ${what}, got ${describe(v)}`);
  }
  return v;
}

/** An int or a list of `n` ints, each >= min, as a list of n ints (PyTorch's _ntuple). */
export function intTuple(layer: string, name: string, v: unknown, n: number, min = 1): number[] {
  if (typeof v === 'number') return new Array<number>(n).fill(intArg(layer, name, v, min));
  if (Array.isArray(v) && v.length === n) return v.map((x: unknown) => intArg(layer, name, x, min));
  throw new TypeError(`${layer}: ${name} must be an integer or a list of ${n} integers, got ${describe(v)}`);
}

/** A finite number in [lo, hi]. */
export function numberArg(layer: string, name: string, v: unknown, lo = -Infinity, hi = Infinity): number {
  if (typeof v !== 'number' || Number.isNaN(v) || v < lo || v > hi) {
    const range = hi === Infinity ? (lo === -Infinity ? 'a number' : `a number >= ${lo}`) : `a number in [${lo}, ${hi}]`;
    throw new TypeError(`${layer}: ${name} must be ${range}, got ${describe(v)}`);
  }
  return v;
}

/** A boolean. */
export function boolArg(layer: string, name: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw new TypeError(`${layer}: ${name} must be a boolean, got ${describe(v)}`);
  return v;
}

/** One of the allowed strings. */
export function choiceArg<const C extends string>(layer: string, name: string, v: unknown, choices: readonly C[]): C {
  if (typeof v !== 'string' || !(choices as readonly string[]).includes(v)) {
    throw new TypeError(`${layer}: ${name} must be one of ${choices.map((c) => `'${c}'`).join(', ')}, got ${describe(v)}`);
  }
  return v as C;
}

/** A short description of an argument value for error messages. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return `[${v.map(describe).join(', ')}]`;
  if (typeof v === 'string') return `'${v}'`;
  if (typeof v === 'object') return v.constructor?.name ?? 'object';
  return String(v);
}

/** The static shape of a layer input: concrete tensors and acc-traced values have one; symbolic ones may not. */
export function knownShape(x: Tensor): readonly number[] | undefined {
  return x instanceof TraceProxy ? x.knownMeta?.shape : x.shape;
}

/** Whether `x` holds data (false while tracing): stateful updates such as running statistics happen only then. */
export function isConcrete(x: Tensor): boolean {
  return !(x instanceof TraceProxy);
}

/** Checks an input's rank against what a layer accepts, when the rank is known. */
export function checkInputRank(layer: string, x: Tensor, ranks: readonly number[], what: string): void {
  const shape = knownShape(x);
  if (shape && !ranks.includes(shape.length)) {
    throw new RangeError(`${layer}: expected ${what} input, got shape [${shape.join(', ')}] (rank ${shape.length})`);
  }
}

/** Checks dim 1 (channels) of an input against the layer's feature count, when the shape is known. */
export function checkChannels(layer: string, x: Tensor, channels: number): void {
  const shape = knownShape(x);
  if (shape && shape.length >= 2 && shape[1] !== channels) {
    throw new RangeError(`${layer}: expected ${channels} channels in dim 1, got input shape [${shape.join(', ')}]`);
  }
}
