/**
 * Deterministic parameter initialization (torch.nn.init plus torch.manual_seed).
 *
 * Every layer draws its initial weights from one global seeded generator, so a model
 * built after `manualSeed(s)` has the same weights on every machine and every run.
 * The in-place fillers (`uniform_`, `kaimingUniform_`, ...) follow PyTorch's formulas.
 */
import { seedDropout } from '../kernels/reference/activation.js';
import { isFloating } from '../tensor/dtype.js';
import { formatShape, type Shape } from '../tensor/shape.js';
import { mulberry32 } from '../tensor/random.js';
import { Tensor } from '../tensor/tensor.js';

/**
 * A seeded stream of uniform [0, 1) numbers (mulberry32), like torch.Generator.
 *
 * @example
 * const g = new Generator(7);
 * const w = uniform_(Tensor.empty([3, 4]), -1, 1, g);
 */
export class Generator {
  #seed: number;
  #next: () => number;

  constructor(seed = 0) {
    this.#seed = checkSeed(seed);
    this.#next = mulberry32(this.#seed);
  }

  /** Restarts the stream from `seed`. */
  manualSeed(seed: number): this {
    this.#seed = checkSeed(seed);
    this.#next = mulberry32(this.#seed);
    return this;
  }

  /** The seed the stream last started from. */
  initialSeed(): number {
    return this.#seed;
  }

  /** The next uniform number in [0, 1). */
  random(): number {
    return this.#next();
  }
}

function checkSeed(seed: number): number {
  if (!Number.isSafeInteger(seed)) throw new TypeError(`manualSeed: seed must be an integer, got ${seed}`);
  return seed >>> 0;
}

/** The generator layers draw from when none is given. */
export const defaultGenerator = new Generator(0);

/**
 * Reseeds the global generator and the dropout generator (torch.manual_seed): layers built
 * and dropout masks drawn afterwards are reproducible.
 *
 * @example
 * manualSeed(0);
 * const a = new nn.Linear(4, 2);
 * manualSeed(0);
 * const b = new nn.Linear(4, 2); // same weights as a
 */
export function manualSeed(seed: number): Generator {
  defaultGenerator.manualSeed(seed);
  seedDropout(defaultGenerator.initialSeed());
  return defaultGenerator;
}

/** Overwrites `t`'s elements with `values` rounded to its dtype; t keeps its identity (and its users). */
function fill(t: Tensor, values: Float64Array, what: string): Tensor {
  if (!isFloating(t.dtype)) throw new TypeError(`init.${what}: expected a floating-point tensor, got ${t.dtype}`);
  t.setData(Tensor.fromNumbers(values, t.shape, t.dtype).data);
  return t;
}

/**
 * Fills `t` with U(low, high) in place.
 *
 * @example
 * uniform_(Tensor.empty([2, 2]), -0.5, 0.5);
 */
export function uniform_(t: Tensor, low = 0, high = 1, gen: Generator = defaultGenerator): Tensor {
  if (!(low <= high)) throw new RangeError(`init.uniform_: expected low <= high, got low=${low}, high=${high}`);
  const n = t.numel;
  const v = new Float64Array(n);
  const span = high - low;
  for (let i = 0; i < n; i++) v[i] = low + span * gen.random();
  return fill(t, v, 'uniform_');
}

/**
 * Fills `t` with N(mean, std²) in place (Box–Muller on the generator's stream).
 *
 * @example
 * normal_(Tensor.empty([10, 4]), 0, 0.02);
 */
export function normal_(t: Tensor, mean = 0, std = 1, gen: Generator = defaultGenerator): Tensor {
  if (!(std >= 0)) throw new RangeError(`init.normal_: std must be non-negative, got ${std}`);
  const n = t.numel;
  const v = new Float64Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(Math.max(gen.random(), 1e-12)));
    const theta = 2 * Math.PI * gen.random();
    v[i] = mean + std * r * Math.cos(theta);
    if (i + 1 < n) v[i + 1] = mean + std * r * Math.sin(theta);
  }
  return fill(t, v, 'normal_');
}

/** Fills `t` with `value` in place. @example constant_(bias, 0.1); */
export function constant_(t: Tensor, value: number): Tensor {
  return fill(t, new Float64Array(t.numel).fill(value), 'constant_');
}

/** Fills `t` with zeros in place. @example zeros_(layer.bias); */
export function zeros_(t: Tensor): Tensor {
  return constant_(t, 0);
}

/** Fills `t` with ones in place. @example ones_(norm.weight); */
export function ones_(t: Tensor): Tensor {
  return constant_(t, 1);
}

/**
 * fan_in and fan_out of a weight: dim 1 and dim 0 times the receptive field (the product
 * of the remaining dims), as torch.nn.init._calculate_fan_in_and_fan_out.
 *
 * @example
 * calculateFanInAndFanOut([64, 3, 7, 7]); // [147, 3136]
 */
export function calculateFanInAndFanOut(shape: Shape): [number, number] {
  if (shape.length < 2) {
    throw new RangeError(`init: fan in and fan out need a tensor of at least 2 dims, got shape ${formatShape(shape)}`);
  }
  let receptive = 1;
  for (let i = 2; i < shape.length; i++) receptive *= shape[i]!;
  return [shape[1]! * receptive, shape[0]! * receptive];
}

/** Nonlinearities with a recommended gain (torch.nn.init.calculate_gain). */
export type Nonlinearity =
  | 'linear' | 'conv1d' | 'conv2d' | 'conv3d' | 'conv_transpose1d' | 'conv_transpose2d' | 'conv_transpose3d'
  | 'sigmoid' | 'tanh' | 'relu' | 'leaky_relu' | 'selu';

/**
 * The gain PyTorch recommends for a nonlinearity; `param` is leaky_relu's negative slope (default 0.01).
 *
 * @example
 * calculateGain('relu'); // √2
 */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case 'linear': case 'conv1d': case 'conv2d': case 'conv3d':
    case 'conv_transpose1d': case 'conv_transpose2d': case 'conv_transpose3d': case 'sigmoid':
      return 1;
    case 'tanh': return 5 / 3;
    case 'relu': return Math.SQRT2;
    case 'leaky_relu': {
      const slope = param ?? 0.01;
      return Math.sqrt(2 / (1 + slope * slope));
    }
    case 'selu': return 3 / 4;
  }
}

/** Options of kaimingUniform_ / kaimingNormal_ (torch.nn.init keyword arguments). */
export interface KaimingOptions {
  /** Negative slope of the rectifier after this layer (leaky_relu only). Default 0. */
  a?: number;
  /** Preserve the variance of the forward pass ('fan_in', default) or of the backward pass. */
  mode?: 'fan_in' | 'fan_out';
  /** Default 'leaky_relu'. */
  nonlinearity?: Nonlinearity;
  generator?: Generator;
}

function kaimingStd(t: Tensor, opts: KaimingOptions): number {
  const [fanIn, fanOut] = calculateFanInAndFanOut(t.shape);
  const fan = (opts.mode ?? 'fan_in') === 'fan_in' ? fanIn : fanOut;
  const gain = calculateGain(opts.nonlinearity ?? 'leaky_relu', opts.a ?? 0);
  return fan === 0 ? 0 : gain / Math.sqrt(fan);
}

/**
 * He-uniform init in place: U(-b, b) with b = gain·√(3 / fan). PyTorch's default for
 * Linear and Conv weights is `kaimingUniform_(w, { a: Math.sqrt(5) })`.
 *
 * @example
 * kaimingUniform_(conv.weight, { mode: 'fan_out', nonlinearity: 'relu' });
 */
export function kaimingUniform_(t: Tensor, opts: KaimingOptions = {}): Tensor {
  const bound = Math.sqrt(3) * kaimingStd(t, opts);
  return uniform_(t, -bound, bound, opts.generator);
}

/**
 * He-normal init in place: N(0, std²) with std = gain / √fan (torchvision's ResNet conv init).
 *
 * @example
 * kaimingNormal_(conv.weight, { mode: 'fan_out', nonlinearity: 'relu' });
 */
export function kaimingNormal_(t: Tensor, opts: KaimingOptions = {}): Tensor {
  return normal_(t, 0, kaimingStd(t, opts), opts.generator);
}

/**
 * Glorot-uniform init in place: U(-b, b) with b = gain·√(6 / (fan_in + fan_out)).
 *
 * @example
 * xavierUniform_(attn.in_proj_weight);
 */
export function xavierUniform_(t: Tensor, gain = 1, gen: Generator = defaultGenerator): Tensor {
  const [fanIn, fanOut] = calculateFanInAndFanOut(t.shape);
  const bound = fanIn + fanOut === 0 ? 0 : gain * Math.sqrt(6 / (fanIn + fanOut));
  return uniform_(t, -bound, bound, gen);
}

/**
 * Glorot-normal init in place: N(0, std²) with std = gain·√(2 / (fan_in + fan_out)).
 *
 * @example
 * xavierNormal_(linear.weight);
 */
export function xavierNormal_(t: Tensor, gain = 1, gen: Generator = defaultGenerator): Tensor {
  const [fanIn, fanOut] = calculateFanInAndFanOut(t.shape);
  const std = fanIn + fanOut === 0 ? 0 : gain * Math.sqrt(2 / (fanIn + fanOut));
  return normal_(t, 0, std, gen);
}

/**
 * PyTorch's default init of a Linear/Conv weight and its bias: kaiming-uniform with a = √5
 * (b = 1/√fan_in) for the weight, U(-1/√fan_in, 1/√fan_in) for a bias of `biasSize`
 * elements (null: no bias). Draws the weight first, then the bias, as PyTorch does.
 *
 * @example
 * const { weight, bias } = defaultAffineInit([2048, 512], 2048);
 */
export function defaultAffineInit(weightShape: Shape, biasSize: number | null, gen: Generator = defaultGenerator): { weight: Tensor; bias: Tensor | null } {
  const weight = kaimingUniform_(Tensor.empty(weightShape), { a: Math.sqrt(5), generator: gen });
  if (biasSize === null) return { weight, bias: null };
  const [fanIn] = calculateFanInAndFanOut(weightShape);
  const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
  return { weight, bias: uniform_(Tensor.empty([biasSize]), -bound, bound, gen) };
}
