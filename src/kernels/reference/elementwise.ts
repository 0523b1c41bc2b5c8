/**
 * Reference kernels of the elementwise acc ops: unary and binary math on numbers, applied
 * over broadcast plans. The dtype rules (what a result's dtype is, which inputs are rejected)
 * belong to the op definitions; these kernels take the dtypes to compute in and write.
 *
 * Values are converted to the compute dtype first (as PyTorch casts inputs to the common dtype),
 * the math runs in float64 and the result is rounded once to the output dtype. For single IEEE
 * operations (+ - * / sqrt) on float32 inputs this is exactly float32 arithmetic; for fp16/bf16
 * it is PyTorch CPU's "compute in float32, round to half". int64 math runs exactly on BigInt
 * (see readInt64).
 */
import { isIntegral, type DType } from '../../tensor/dtype.js';
import { Tensor } from '../../tensor/tensor.js';
import {
  allocValues, int64ToTensor, mapBinary, mapTernary, operandInt64, operandNumel, operandShape, operandValues, planBroadcast,
  readAs, readInt64, scalarAs, toTensor, type Operand, type Scalar,
} from './broadcast.js';

// ---- scalar math ----

/** Thrown by integer division, fmod and remainder on a zero divisor (PyTorch's ZeroDivisionError). */
class IntegerDivisionByZero extends RangeError {}

function checkDivisor(b: number): void {
  if (b === 0) throw new IntegerDivisionByZero('integer division by zero');
}

/** Rounds half to even, like torch.round / nearbyint: 0.5 → 0, 1.5 → 2, 2.5 → 2, -0.5 → -0. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x); // rounds half up
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Python-style floor division of floats, as c10's div_floor_floating (exact where floor(a / b) is not). */
function floorDivFloat(a: number, b: number): number {
  if (b === 0) return a / b;
  const mod = a % b;
  let div = (a - mod) / b;
  if (mod !== 0 && (b < 0) !== (mod < 0)) div -= 1;
  if (div === 0) return a / b < 0 ? -0 : 0; // copysign(0, a / b)
  let floordiv = Math.floor(div);
  if (div - floordiv > 0.5) floordiv += 1;
  return floordiv;
}

/** Floor division of integers: truncating quotient, minus one when the remainder's sign differs from the divisor's. */
function floorDivInt(a: number, b: number): number {
  checkDivisor(b);
  const q = Math.trunc(a / b); // exact for |a|, |b| < 2^31: the true quotient is never within 2^-53 relative of an integer
  const r = a - q * b;
  return r !== 0 && (r < 0) !== (b < 0) ? q - 1 : q;
}

/** Python `%` (sign of the divisor) on top of C fmod (sign of the dividend). */
function remainder(a: number, b: number): number {
  const m = a % b;
  return m !== 0 && (b < 0) !== (m < 0) ? m + b : m;
}

/** C's pow: unlike Math.pow, pow(1, y) = 1 and pow(-1, ±inf) = 1 even for NaN / infinite y. */
function powFloat(a: number, b: number): number {
  if (a === 1 || (a === -1 && (b === Infinity || b === -Infinity))) return 1;
  return Math.pow(a, b);
}

/**
 * Integer power with c10's powi rules for negative exponents (1 → 1, -1 → ±1, otherwise 0);
 * `mul` is the dtype's product (Math.imul keeps ≤ 32-bit products exact modulo 2^32).
 */
function powInt(a: number, b: number, mul: (x: number, y: number) => number): number {
  if (b < 0) {
    if (a === 1) return 1;
    if (a === -1) return b % 2 !== 0 ? -1 : 1;
    return 0;
  }
  let result = 1;
  let base = a;
  for (let e = b; e > 0; e = Math.floor(e / 2)) {
    if (e % 2 === 1) result = mul(result, base);
    base = mul(base, base);
  }
  return result;
}

/**
 * erf in double precision: a port of fdlibm's s_erf.c (Sun Microsystems, freely distributable),
 * error below 1 ulp. JavaScript has no Math.erf.
 */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  if (ax < 0.84375) {
    if (ax < 2 ** -28) return x + 1.28379167095512586316e-01 * x;
    const z = x * x;
    const r = 1.28379167095512558561e-01 + z * (-3.25042107247001499370e-01 + z * (-2.84817495755985104766e-02
      + z * (-5.77027029648944159157e-03 + z * -2.37630166566501626084e-05)));
    const s = 1 + z * (3.97917223959155352819e-01 + z * (6.50222499887672944485e-02 + z * (5.08130628187576562776e-03
      + z * (1.32494738004321644526e-04 + z * -3.96022827877536812320e-06))));
    return x + x * (r / s);
  }
  if (ax < 1.25) {
    const s = ax - 1;
    const p = -2.36211856075265944077e-03 + s * (4.14856118683748331666e-01 + s * (-3.72207876035701323847e-01
      + s * (3.18346619901161753674e-01 + s * (-1.10894694282396677476e-01 + s * (3.54783043256182359371e-02
      + s * -2.16637559486879084300e-03)))));
    const q = 1 + s * (1.06420880400844228286e-01 + s * (5.40397917702171048937e-01 + s * (7.18286544141962662868e-02
      + s * (1.26171219808761642112e-01 + s * (1.36370839120290507362e-02 + s * 1.19844998467991074170e-02)))));
    const erx = 8.45062911510467529297e-01;
    return x >= 0 ? erx + p / q : -erx - p / q;
  }
  if (ax >= 6) return x > 0 ? 1 : -1;
  const s = 1 / (ax * ax);
  let R: number;
  let S: number;
  if (ax < 1 / 0.35) {
    R = -9.86494403484714822705e-03 + s * (-6.93858572707181764372e-01 + s * (-1.05586262253232909814e+01
      + s * (-6.23753324503260060396e+01 + s * (-1.62396669462573470355e+02 + s * (-1.84605092906711035994e+02
      + s * (-8.12874355063065934246e+01 + s * -9.81432934416914548592e+00))))));
    S = 1 + s * (1.96512716674392571292e+01 + s * (1.37657754143519042600e+02 + s * (4.34565877475229228821e+02
      + s * (6.45387271733267880336e+02 + s * (4.29008140027567833386e+02 + s * (1.08635005541779435134e+02
      + s * (6.57024977031928170135e+00 + s * -6.04244152148580987438e-02)))))));
  } else {
    R = -9.86494292470009928597e-03 + s * (-7.99283237680523006574e-01 + s * (-1.77579549177547519889e+01
      + s * (-1.60636384855821916062e+02 + s * (-6.37566443368389627722e+02 + s * (-1.02509513161107724954e+03
      + s * -4.83519191608651397019e+02)))));
    S = 1 + s * (3.03380607434824582924e+01 + s * (3.25792512996573918826e+02 + s * (1.53672958608443695994e+03
      + s * (3.19985821950859553908e+03 + s * (2.55305040643316442583e+03 + s * (4.74528541206955367215e+02
      + s * -2.24409524465858183362e+01))))));
  }
  const z = Math.fround(ax); // fdlibm clears the low word; any nearby value with a short mantissa works
  const r = Math.exp(-z * z - 0.5625) * Math.exp((z - ax) * (z + ax) + R / S);
  return x >= 0 ? 1 - r / ax : r / ax - 1;
}

// ---- op tables ----

/** The unary math functions, on values already converted to the compute dtype. */
export const UNARY_MATH = {
  logical_not: (x: number) => (x === 0 ? 1 : 0),
  abs: Math.abs,
  neg: (x: number) => -x,
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  rsqrt: (x: number) => 1 / Math.fround(Math.sqrt(x)), // two float32 roundings, as PyTorch's 1 / sqrt(x)
  reciprocal: (x: number) => 1 / x,
  sin: Math.sin,
  cos: Math.cos,
  tan: Math.tan,
  asin: Math.asin,
  acos: Math.acos,
  atan: Math.atan,
  sinh: Math.sinh,
  cosh: Math.cosh,
  erf,
  floor: Math.floor,
  ceil: Math.ceil,
  round: roundHalfEven,
  trunc: Math.trunc,
  sign: (x: number) => (x > 0 ? 1 : x < 0 ? -1 : 0), // NaN → 0, as torch.sign
  isnan: (x: number) => (x !== x ? 1 : 0),
} satisfies Record<string, (x: number) => number>;

export type UnaryMathName = keyof typeof UNARY_MATH;

/**
 * A binary op's math per kind of compute dtype: `float` (also used for bool, where 0/1 arithmetic
 * followed by the "nonzero is true" cast gives logical results); `int`, integer semantics on
 * numbers (exact below 2^53); `int32`, an override for int8/uint8/int32 where products must wrap
 * exactly (Math.imul); `int64`, exact int64 on BigInt. Integer divisions throw on a zero divisor.
 * The reference kernels use int32 ?? int ?? float for ≤ 32-bit ints and int64 for int64.
 */
export interface BinaryMath {
  readonly float: (a: number, b: number) => number;
  readonly int?: (a: number, b: number) => number;
  readonly int32?: (a: number, b: number) => number;
  /** Absent only for true division, whose compute dtype is always a float. */
  readonly int64?: (a: bigint, b: bigint) => bigint;
}

const bool64 = (c: boolean): bigint => (c ? 1n : 0n);

function checkDivisor64(b: bigint): void {
  if (b === 0n) throw new IntegerDivisionByZero('integer division by zero');
}

/** Floor division of int64 values: BigInt `/` truncates, so step down when the remainder's sign differs. */
function floorDiv64(a: bigint, b: bigint): bigint {
  checkDivisor64(b);
  const q = a / b;
  const r = a % b;
  return r !== 0n && (r < 0n) !== (b < 0n) ? q - 1n : q;
}

function remainder64(a: bigint, b: bigint): bigint {
  checkDivisor64(b);
  const m = a % b;
  return m !== 0n && (b < 0n) !== (m < 0n) ? m + b : m;
}

/** c10's powi on int64 with wrapping products (see powInt). */
function pow64(a: bigint, b: bigint): bigint {
  if (b < 0n) {
    if (a === 1n) return 1n;
    if (a === -1n) return b % 2n !== 0n ? -1n : 1n;
    return 0n;
  }
  let result = 1n;
  let base = a;
  for (let e = b; e > 0n; e >>= 1n) {
    if (e & 1n) result = BigInt.asIntN(64, result * base);
    base = BigInt.asIntN(64, base * base);
  }
  return result;
}

/** The binary math functions, on values already converted to the compute dtype. */
export const BINARY_MATH = {
  add: { float: (a, b) => a + b, int64: (a, b) => a + b },
  sub: { float: (a, b) => a - b, int64: (a, b) => a - b },
  mul: { float: (a, b) => a * b, int32: Math.imul, int64: (a, b) => a * b },
  div: { float: (a, b) => a / b },
  div_trunc: {
    float: (a, b) => Math.trunc(a / b),
    int: (a, b) => { checkDivisor(b); return Math.trunc(a / b); },
    int64: (a, b) => { checkDivisor64(b); return a / b; }, // BigInt division truncates
  },
  div_floor: { float: floorDivFloat, int: floorDivInt, int64: floorDiv64 },
  pow: { float: powFloat, int: (a, b) => powInt(a, b, (x, y) => x * y), int32: (a, b) => powInt(a, b, Math.imul), int64: pow64 },
  maximum: { float: Math.max, int64: (a, b) => (a > b ? a : b) }, // Math.max/min propagate NaN, as torch.maximum/minimum
  minimum: { float: Math.min, int64: (a, b) => (a < b ? a : b) },
  fmod: { // sign of the dividend: JS % on numbers is C fmod, on BigInt a truncating remainder
    float: (a, b) => a % b,
    int: (a, b) => { checkDivisor(b); return a % b; },
    int64: (a, b) => { checkDivisor64(b); return a % b; },
  },
  remainder: { float: remainder, int: (a, b) => { checkDivisor(b); return remainder(a, b); }, int64: remainder64 },
  eq: { float: (a, b) => (a === b ? 1 : 0), int64: (a, b) => bool64(a === b) },
  ne: { float: (a, b) => (a !== b ? 1 : 0), int64: (a, b) => bool64(a !== b) },
  gt: { float: (a, b) => (a > b ? 1 : 0), int64: (a, b) => bool64(a > b) },
  ge: { float: (a, b) => (a >= b ? 1 : 0), int64: (a, b) => bool64(a >= b) },
  lt: { float: (a, b) => (a < b ? 1 : 0), int64: (a, b) => bool64(a < b) },
  le: { float: (a, b) => (a <= b ? 1 : 0), int64: (a, b) => bool64(a <= b) },
  logical_and: { float: (a, b) => (a !== 0 && b !== 0 ? 1 : 0), int64: (a, b) => bool64(a !== 0n && b !== 0n) }, // NaN is nonzero: true
  logical_or: { float: (a, b) => (a !== 0 || b !== 0 ? 1 : 0), int64: (a, b) => bool64(a !== 0n || b !== 0n) },
  logical_xor: { float: (a, b) => ((a !== 0) !== (b !== 0) ? 1 : 0), int64: (a, b) => bool64((a !== 0n) !== (b !== 0n)) },
} satisfies Record<string, BinaryMath>;

export type BinaryMathName = keyof typeof BINARY_MATH;

/** Unary math on int64 values, for the ops that keep integers (or return bool) on int64 inputs. */
export const UNARY_INT64_MATH: Partial<Record<UnaryMathName, (x: bigint) => bigint>> = {
  logical_not: (x) => bool64(x === 0n),
  abs: (x) => (x < 0n ? -x : x), // abs(INT64_MIN) wraps back to INT64_MIN when stored
  neg: (x) => -x,
  floor: (x) => x,
  ceil: (x) => x,
  round: (x) => x,
  trunc: (x) => x,
  sign: (x) => (x > 0n ? 1n : x < 0n ? -1n : 0n),
  isnan: () => 0n,
};

// ---- kernels ----

/** y = f(x) elementwise: `input` converted to `compute`, the result written as `out`. */
export function unaryKernel(input: Tensor, compute: DType, out: DType, f: (x: number) => number): Tensor {
  const x = readAs(input, compute);
  const y = allocValues(out, x.length);
  for (let i = 0; i < x.length; i++) y[i] = f(x[i]!);
  return toTensor(y, input.shape, out);
}

/** y = f(x) elementwise on exact int64 values (an integer or bool input); the result is int64 or bool. */
export function unaryInt64Kernel(input: Tensor, out: 'int64' | 'bool', f: (x: bigint) => bigint): Tensor {
  const x = readInt64(input);
  const y = new BigInt64Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = f(x[i]!);
  return int64ToTensor(y, input.shape, out);
}

/** The unary op `name` of UNARY_MATH; integer-keeping ops on int64 run exactly (UNARY_INT64_MATH). */
export function unaryOpKernel(name: UnaryMathName, input: Tensor, compute: DType, out: DType): Tensor {
  const exact = UNARY_INT64_MATH[name];
  if (compute === 'int64' && exact && (out === 'int64' || out === 'bool')) return unaryInt64Kernel(input, out, exact);
  return unaryKernel(input, compute, out, UNARY_MATH[name]);
}

/** Dtypes of a binary kernel call. */
export interface BinaryDTypes {
  /** Both operands are converted to this dtype (PyTorch's common dtype) before the math. */
  readonly compute: DType;
  readonly out: DType;
  /**
   * When set, a one-element `other` is read in this dtype instead of `compute`: PyTorch's mul and
   * div kernels take a scalar divisor/factor at float32 ("opmath") precision for fp16/bf16 inputs.
   */
  readonly scalarOther?: DType;
}

/**
 * `math(input, other)` with broadcasting.
 * @example binaryKernel('acc.add', x, 1, 'add', { compute: 'float32', out: 'float32' })
 */
export function binaryKernel(op: string, input: Tensor, other: Operand, math: BinaryMathName, dt: BinaryDTypes): Tensor {
  const plan = planBroadcast(op, [input.shape, operandShape(other)]);
  const m: BinaryMath = BINARY_MATH[math];
  try {
    if (dt.compute === 'int64') {
      if (!m.int64) throw new TypeError(`${op}: '${math}' has no int64 kernel`); // only true division, which computes in a float
      const out = new BigInt64Array(plan.numel);
      mapBinary(plan, readInt64(input), operandInt64(other), out, m.int64);
      return int64ToTensor(out, plan.shape, int64Result(op, dt.out));
    }
    const a = readAs(input, dt.compute);
    const b = operandValues(other, dt.scalarOther !== undefined && operandNumel(other) === 1 ? dt.scalarOther : dt.compute);
    const out = allocValues(dt.out, plan.numel);
    mapBinary(plan, a, b, out, isIntegral(dt.compute) ? m.int32 ?? m.int ?? m.float : m.float);
    return toTensor(out, plan.shape, dt.out);
  } catch (e) {
    if (e instanceof IntegerDivisionByZero) throw new RangeError(`${op}: integer division by zero (PyTorch raises ZeroDivisionError)`);
    throw e;
  }
}

/** Narrows the output dtype of an int64 computation, which is int64 or (comparisons, logic) bool. */
function int64Result(op: string, dtype: DType): 'int64' | 'bool' {
  if (dtype !== 'int64' && dtype !== 'bool') throw new TypeError(`${op}: an int64 computation cannot produce ${dtype}`);
  return dtype;
}

/** condition ? input : other with three-way broadcasting; both branches converted to `dtype`. */
export function whereKernel(op: string, condition: Tensor, input: Operand, other: Operand, dtype: DType): Tensor {
  const plan = planBroadcast(op, [condition.shape, operandShape(input), operandShape(other)]);
  const c = readAs(condition, 'bool');
  const pick = <T>(ci: number, xi: T, yi: T): T => (ci !== 0 ? xi : yi);
  if (dtype === 'int64') {
    const out = new BigInt64Array(plan.numel);
    mapTernary(plan, c, operandInt64(input), operandInt64(other), out, pick);
    return int64ToTensor(out, plan.shape, 'int64');
  }
  const out = allocValues(dtype, plan.numel);
  mapTernary(plan, c, operandValues(input, dtype), operandValues(other, dtype), out, pick);
  return toTensor(out, plan.shape, dtype);
}

/**
 * min(max(x, lo), hi) in `dtype`, with C++'s std::max/std::min semantics: a NaN input stays NaN,
 * a NaN bound is ignored, and lo > hi gives hi everywhere (as torch.clamp).
 */
export function clampKernel(input: Tensor, min: Scalar | null, max: Scalar | null, dtype: DType): Tensor {
  if (dtype === 'int64') {
    // The bounds are integers here: a float bound would have promoted the result to float32.
    const lo = min === null ? null : BigInt(Number(min));
    const hi = max === null ? null : BigInt(Number(max));
    return unaryInt64Kernel(input, 'int64', (v) => {
      const t = lo !== null && v < lo ? lo : v;
      return hi !== null && hi < t ? hi : t;
    });
  }
  const lo = min === null ? -Infinity : scalarAs(min, dtype);
  const hi = max === null ? Infinity : scalarAs(max, dtype);
  return unaryKernel(input, dtype, dtype, (v) => {
    const t = v < lo ? lo : v;
    return hi < t ? hi : t;
  });
}

/**
 * Converts to `dtype` like Tensor.to(dtype): floats round to nearest even, float → int truncates
 * and wraps; int64 → narrower ints keeps the exact low bits, as a C cast.
 */
export function castKernel(input: Tensor, dtype: DType): Tensor {
  if (input.dtype === 'int64' && (dtype === 'int8' || dtype === 'uint8' || dtype === 'int32')) {
    const x = readInt64(input);
    const low = new Float64Array(x.length);
    for (let i = 0; i < x.length; i++) low[i] = Number(BigInt.asIntN(32, x[i]!)); // the store to int8/uint8 wraps further
    return Tensor.fromNumbers(low, input.shape, dtype);
  }
  return input.castTo(dtype);
}
