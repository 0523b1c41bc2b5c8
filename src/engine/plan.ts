/**
 * The Plan: what the builder decides, as plain data. A backend executes it without any
 * TypeScript logic of the builder: JSON-compatible metadata (inputs, outputs, values with their
 * memory slots, constants, steps with their params, epilogues and pointwise programs) plus one
 * binary blob holding every constant's bytes.
 *
 * Serialized form (little-endian):
 *   0  'FXRT'                     magic
 *   4  u32 version                PLAN_VERSION
 *   8  u32 header length          bytes of the UTF-8 JSON header
 *   12 u32 blob alignment         the blob offset is a multiple of it
 *   16 u64 blob offset
 *   24 u64 blob length
 *   32 JSON header, zero padding up to the blob offset, the blob
 *   end-4 u32 CRC-32 (zlib) of every byte before it
 */
import { crc32 } from 'node:zlib';
import { DTYPES, itemSize, type DType } from '../tensor/dtype.js';
import { numelOf } from '../tensor/shape.js';
import type { ActivationOp, ElementWiseOp, LayerParamsMap, LayerType, ShapeRange, UnaryOp } from './network.js';
import type { BuildReport } from './report.js';

/**
 * Format version written by `serializePlan`; `deserializePlan` reads only this version (2: int8
 * steps, `quant`; 3: the fused requantize of int8 anchors, StepQuantization).
 */
export const PLAN_VERSION = 3;
/** Alignment of the constant blob and of each constant inside it, in bytes. */
export const BLOB_ALIGNMENT = 64;

const MAGIC = [0x46, 0x58, 0x52, 0x54]; // 'FXRT'
const FIXED_HEADER = 32;

/** Reduced precisions a build may use (TensorRT's builder flags). */
export type BuilderPrecision = 'fp32' | 'fp16' | 'bf16' | 'int8' | 'fp8';
/**
 * The precisions of explicitly quantized builds: the network's Q/DQ layers decide what runs
 * quantized (int8, or FP8 e4m3 matrix products), the other layers run in the float fallback.
 * compile's post-training quantization inserts int8 Q/DQ for 'int8' and FP8 Q/DQ for 'fp8'.
 */
export type QuantizedPrecision = 'int8' | 'fp8';
/** Whether a build precision is explicitly quantized ('int8' or 'fp8'). */
export function isQuantizedPrecision(p: BuilderPrecision): p is QuantizedPrecision {
  return p === 'int8' || p === 'fp8';
}
/** Backends that execute plans. */
export type BackendName = 'reference' | 'cuda';

/** Layer kinds that become steps (constants become plan constants instead). */
export type LayerStepKind = Exclude<LayerType, 'constant'>;
/** Every step kind: the layer kinds plus fused pointwise regions. */
export type StepKind = LayerStepKind | 'pointwise';
/** Layer kinds whose output an epilogue may be fused into (TensorRT's conv/gemm epilogues). */
export const ANCHOR_KINDS = ['convolution', 'deconvolution', 'matrix_multiply'] as const;
/** A layer kind that can carry an epilogue. */
export type AnchorKind = (typeof ANCHOR_KINDS)[number];

/**
 * One operation applied in registers to a step's result before it is stored.
 * `input` is a position in the step's `inputs`; the anchor layer reads the positions that no
 * epilogue op names.
 */
export type EpilogueOp =
  /** + a constant that broadcasts to the result without expanding it (conv/gemm bias). */
  | { readonly op: 'bias'; readonly input: number }
  /** + another tensor (a residual connection). */
  | { readonly op: 'residual'; readonly input: number }
  /** An activation layer's function. */
  | { readonly op: 'activation'; readonly fn: ActivationOp; readonly alpha: number; readonly beta: number };

/**
 * One instruction of a pointwise program. Registers 0..n-1 hold the step's n inputs (each
 * broadcast to the step's output shape); instruction k writes register n + k. `dtype` is the
 * dtype of the layer the instruction came from: integer and bool results wrap/convert like a
 * store to that dtype, float results stay in the compute precision (float32), and only `cast`
 * rounds to a narrower float.
 */
export type PointwiseInstr =
  | { readonly op: 'elementwise'; readonly fn: ElementWiseOp; readonly args: readonly [number, number]; readonly dtype: DType }
  | { readonly op: 'unary'; readonly fn: UnaryOp; readonly args: readonly [number]; readonly dtype: DType }
  | { readonly op: 'activation'; readonly fn: ActivationOp; readonly alpha: number; readonly beta: number; readonly args: readonly [number]; readonly dtype: DType }
  | { readonly op: 'cast'; readonly args: readonly [number]; readonly dtype: DType };

/** A fused region of pointwise layers; the step's single output is the last instruction's register. */
export interface PointwiseProgram {
  /**
   * Per step input, the shape it broadcasts as (same element count), or null for its own shape.
   * Lets a per-channel [C] weight broadcast along a channel axis that is not the last one.
   */
  readonly views: readonly (readonly number[] | null)[];
  readonly instrs: readonly PointwiseInstr[];
}

/** Step kinds with an int8 form (a `quant` field): the GEMM-shaped anchors, pooling and pointwise programs. */
export const QUANTIZED_KINDS = ['convolution', 'deconvolution', 'matrix_multiply', 'pooling', 'pointwise'] as const;
/** A step kind that can run in int8. */
export type QuantizedKind = (typeof QUANTIZED_KINDS)[number];

/** An int8 operand of a quantized step: the tensor at step input `input`, dequantized by the scale at step input `scale`. */
export interface QuantizedOperand {
  readonly input: number;
  readonly scale: number;
  /**
   * null: one scale for the whole tensor (a one-element float tensor); else one scale per index of
   * this axis of the operand: a weight's output-channel axis (convolution 0, deconvolution 1, the
   * second matrix_multiply operand's column axis), or the first matrix_multiply operand's row axis
   * (per-token dynamic quantization).
   */
  readonly axis: number | null;
}

/**
 * Explicit int8 quantization fused into a step (TensorRT's Q/DQ fusion). Quantization is symmetric
 * (zero point 0, int8 range [-128, 127]); scales are float tensors read at run time (constants, or
 * values computed by the engine for dynamic quantization). The step's inputs are, in order: the
 * layer's (or program's) inputs, the epilogue's inputs, then one scale input per operand (in the
 * order of `operands`) and the output scale last.
 *
 * Arithmetic (every float operation in float32, each result rounded to nearest even: fround;
 * no fused multiply-add but in the fused requantize, no reassociation; a GPU kernel uses
 * __fmul_rn/__fadd_rn/__fdiv_rn):
 *
 *   dequantize-on-load   deq(q)  = fround(s * q)                         (s: the operand's scale)
 *   convolution, deconvolution, matrix_multiply (int8 x and int8 w):
 *     acc[i, c] = Σ_k x[i, k] * w[k, c]       exact, in int32 (wrapping; K < 2^17 cannot overflow)
 *     m[c]      = fround(sx * sw[c])          (sw[c] = sw for a per-tensor weight; with per-row
 *                                             scales of a matrix product's x, m[i, c] = fround(sx[i] * sw[c]))
 *     y         = fround(fround(acc) * m[c])  (int32 → float32 rounds to nearest even above 2^24)
 *     y         = fround(y + b[c])            the (de)convolution's bias input, if any
 *     then the epilogue in order, in float32: + bias, + residual (deq(r) when the residual is an
 *     int8 operand), activation.
 *     c is the output channel (dim 1 of a convolution's output, the last dim of a matrix product).
 *   pooling (int8 x): p = the layer's pooling of the integer values q (max, or the exact integer
 *     window sum divided by the window's divisor: fround(Σq / n)), then y = fround(p * sx).
 *   pointwise: every int8 program input is deq(q) in its register; the program runs in float32
 *     registers as an unquantized one does.
 *   output, with an output scale so: requantize q = clamp(round_half_even(fround(y * fround(1 / so))), -128, 127)
 *     (NaN saturates to 127), exactly what a quantize layer computes; without one, y is stored in
 *     the output's float dtype (rounded once).
 *   the fused requantize (fusedRequantizeRange): a convolution, deconvolution or matrix product
 *     with an int8 output, x quantized per tensor, and an epilogue of at most one bias (its own
 *     bias input or one bias op) and a relu as its last op, rescales, adds the bias, requantizes
 *     and clamps in one fused multiply-add, instead of the steps above:
 *       R = 127 and o = 0 with the relu, R = 255 and o = 128 without
 *       k = fround(fround(1 / so) / R),  c0 = fround(o / R)
 *       α[c] = fround(m[c] * k),  β = fround(fround(b * k) + c0)   (b: the bias at the element, 0 without one)
 *       u = sat(fma(fround(acc), α[c], β))   the product and sum rounded once; sat clamps to [0, 1], NaN → 0
 *       q = round_half_even(u * R) - o       (u * R rounded once)
 *     The same value up to the roundings (q differs from the form above only where y / so lies
 *     within about 1e-5 of a rounding tie, or for NaN), in three float instructions per output
 *     where the form above takes seven: a GPU epilogue's cost (fma: __fmaf_rn, sat: __saturatef).
 * A fused step thus differs from its unfused layers only where fusion removes a rounding: the
 * float32 dequantized operands and the float GEMM of the unfused form (a conv/GEMM result differs
 * by float rounding, hence by at most one quantization step after requantizing), and the storage
 * of a 16-bit float intermediate. Pooling, pointwise and requantize are bit-exact with their
 * unfused float32 forms.
 */
export interface StepQuantization {
  /**
   * Absent: int8 (the arithmetic above). 'float8e4m3': an FP8 matrix product, both operands
   * float8e4m3 per tensor: acc = Σ x·w of their e4m3 values in float32 (the reference's float32
   * GEMM; a GPU's tensor cores sum in another order, so results agree to float32 accumulation,
   * not bit for bit), y = fround(acc * fround(sx * sw)), the epilogue in float32, and with an
   * output scale q = e4m3(fround(y * fround(1 / so))), rounding to nearest even, saturating at ±448.
   */
  readonly format?: 'float8e4m3';
  readonly operands: readonly QuantizedOperand[];
  /** Position of the one-element output scale (int8 output), or null: the output is float. */
  readonly outputScale: number | null;
}

/**
 * Whether an int8 step requantizes in the fused form (StepQuantization): its R (127: it ends in a
 * relu, 255: it does not), or null for the general arithmetic. `anchorInputs`: the step's inputs
 * before the epilogue's (anchorInputCount; a (de)convolution's third is its own bias). Both
 * backends decide with this function.
 */
export function fusedRequantizeRange(
  step: { readonly kind: string; readonly epilogue: readonly EpilogueOp[]; readonly quant?: StepQuantization | undefined },
  anchorInputs: number,
): 127 | 255 | null {
  const q = step.quant;
  if (q === undefined || q.format !== undefined || q.outputScale === null) return null;
  if (step.kind !== 'convolution' && step.kind !== 'deconvolution' && step.kind !== 'matrix_multiply') return null;
  const x = q.operands.find((o) => o.input === 0);
  if (x === undefined || x.axis !== null) return null;
  const ops = step.epilogue;
  const last = ops[ops.length - 1];
  const relu = last?.op === 'activation';
  if (relu && last.fn !== 'relu') return null;
  const rest = relu ? ops.slice(0, -1) : ops;
  const ownBias = step.kind !== 'matrix_multiply' && anchorInputs > 2;
  if (rest.some((op) => op.op !== 'bias') || rest.length + (ownBias ? 1 : 0) > 1) return null;
  return relu ? 127 : 255;
}

/** Number of trailing step inputs that are scales of a quantized step. */
export function quantInputCount(quant: StepQuantization | undefined): number {
  return quant === undefined ? 0 : quant.operands.length + (quant.outputScale === null ? 0 : 1);
}

/** Storage dtype of a step's main output and the precision it computes/accumulates in. */
export interface StepPrecision {
  readonly storage: DType;
  readonly compute: DType;
}

interface StepBase {
  /** Unique step name: the name of its main layer (the conv of a conv + epilogue, the last layer of a region). */
  readonly name: string;
  /** Names of the network layers this step executes, in order. */
  readonly layers: readonly string[];
  readonly inputs: readonly number[];
  readonly outputs: readonly number[];
  readonly precision: StepPrecision;
  /** Which implementation the backend chose ('reference' on the reference backend). */
  readonly tactic: string;
  /** Present on the int8 form of a step (kinds in QUANTIZED_KINDS): its int8 operands and output. */
  readonly quant?: StepQuantization;
}

/** A step running one layer kind, optionally with a fused epilogue. */
export interface LayerStepOf<K extends LayerStepKind> extends StepBase {
  readonly kind: K;
  readonly params: LayerParamsMap[K];
  readonly epilogue: readonly EpilogueOp[];
}

/** A step running a fused pointwise region. */
export interface PointwiseStep extends StepBase {
  readonly kind: 'pointwise';
  readonly program: PointwiseProgram;
}

/** A step of any layer kind (discriminated by `kind`). */
export type LayerStep = { [K in LayerStepKind]: LayerStepOf<K> }[LayerStepKind];
/** One step of a plan, executed in order. */
export type PlanStep = LayerStep | PointwiseStep;

/** Where a value's elements live during execution. */
export type ValueLocation =
  | { readonly kind: 'input'; readonly index: number }
  | { readonly kind: 'output'; readonly index: number }
  | { readonly kind: 'constant'; readonly index: number }
  /** `size` bytes at `offset` in the execution context's arena (sized for the profile's max shapes). */
  | { readonly kind: 'arena'; readonly offset: number; readonly size: number };

/** A tensor of the plan; `id` is its index in `Plan.values`. Dims of -1 are resolved per execution. */
export interface PlanValue {
  readonly id: number;
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly location: ValueLocation;
}

/** A constant's bytes in the plan's blob (dense, row-major, little-endian; float16/bfloat16 as 16-bit words). */
export interface PlanConstant {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  /** Byte range in the blob. */
  readonly offset: number;
  readonly byteLength: number;
}

/** A network input: its value, dtype, shape (-1 dynamic) and optimization profile. */
export interface PlanInput {
  readonly name: string;
  readonly value: number;
  readonly dtype: DType;
  readonly shape: readonly number[];
  /** Accepted shapes: min ≤ dims ≤ max; opt is what the plan was tuned for. */
  readonly profile: ShapeRange;
}

/** A network output: the value returned under `name`. */
export interface PlanOutput {
  readonly name: string;
  readonly value: number;
  readonly dtype: DType;
  readonly shape: readonly number[];
}

/** The activation arena of an execution context. */
export interface PlanMemory {
  /** Bytes of the activation arena (shared by values whose lifetimes do not overlap). */
  readonly arenaSize: number;
  /** What the arena values would take without sharing. */
  readonly unsharedSize: number;
  readonly alignment: number;
}

/** A built engine's executable description. */
export interface Plan {
  readonly version: number;
  readonly name: string;
  readonly backend: BackendName;
  readonly precision: BuilderPrecision;
  readonly inputs: readonly PlanInput[];
  readonly outputs: readonly PlanOutput[];
  readonly values: readonly PlanValue[];
  readonly constants: readonly PlanConstant[];
  readonly steps: readonly PlanStep[];
  readonly memory: PlanMemory;
  readonly report: BuildReport;
  readonly blob: Uint8Array;
}

/** Every step kind, for validating plans read from outside (exhaustive by type). */
const STEP_KINDS: Readonly<Record<StepKind, true>> = {
  convolution: true, deconvolution: true, matrix_multiply: true, elementwise: true, activation: true, unary: true, scale: true,
  pooling: true, reduce: true, softmax: true, shuffle: true, concatenation: true, slice: true, gather: true, padding: true,
  resize: true, normalization: true, select: true, cast: true, topk: true, quantize: true, dequantize: true, identity: true,
  shape: true, parametric_relu: true, cumulative: true, einsum: true, attention: true, pointwise: true,
};

/** Number of step inputs the anchor layer reads (those no epilogue op names, before a quantized step's scales). */
export function anchorInputCount(step: LayerStep): number {
  let n = step.inputs.length - quantInputCount(step.quant);
  for (const op of step.epilogue) if (op.op !== 'activation') n--;
  return n;
}

/** Bytes of a dense tensor of `dtype` and (static) `shape`. */
export function byteSizeOf(dtype: DType, shape: readonly number[]): number {
  return numelOf(shape) * itemSize(dtype);
}

/** Thrown by `deserializePlan` for data that is not a plan this version can read. */
export class PlanFormatError extends Error {
  override name = 'PlanFormatError';
}

// ---------------------------------------------------------------- serialization

/**
 * Serializes a plan: magic, version, JSON header, aligned constant blob, CRC-32.
 * @example
 * const bytes = serializePlan(engine.plan);
 * const again = deserializePlan(bytes); // bit-identical execution
 */
export function serializePlan(plan: Plan): Uint8Array {
  const { blob, ...header } = plan;
  const json = Buffer.from(JSON.stringify(header, encodeNumber), 'utf8');
  const blobOffset = alignUp(FIXED_HEADER + json.byteLength, BLOB_ALIGNMENT);
  const total = blobOffset + blob.byteLength + 4;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  view.setUint32(4, PLAN_VERSION, true);
  view.setUint32(8, json.byteLength, true);
  view.setUint32(12, BLOB_ALIGNMENT, true);
  view.setBigUint64(16, BigInt(blobOffset), true);
  view.setBigUint64(24, BigInt(blob.byteLength), true);
  out.set(json, FIXED_HEADER);
  out.set(blob, blobOffset);
  view.setUint32(total - 4, crc32(out.subarray(0, total - 4)), true);
  return out;
}

/**
 * Reads a serialized plan, rejecting data that is truncated, corrupted (CRC), of another
 * version or structurally invalid with a PlanFormatError that says which.
 * @example
 * const plan = deserializePlan(readFileSync('model.fxrt'));
 */
export function deserializePlan(bytes: Uint8Array): Plan {
  if (bytes.byteLength < FIXED_HEADER + 4) {
    throw new PlanFormatError(`not an fxrt plan: ${bytes.byteLength} bytes is shorter than the ${FIXED_HEADER + 4}-byte minimum (truncated?)`);
  }
  for (let i = 0; i < MAGIC.length; i++) {
    if (bytes[i] !== MAGIC[i]) throw new PlanFormatError(`not an fxrt plan: the file does not start with the magic 'FXRT'`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(4, true);
  if (version !== PLAN_VERSION) {
    throw new PlanFormatError(`plan format version ${version} is not supported: this build reads version ${PLAN_VERSION} (rebuild the engine)`);
  }
  const jsonLength = view.getUint32(8, true);
  const alignment = view.getUint32(12, true);
  const blobOffset = Number(view.getBigUint64(16, true));
  const blobLength = Number(view.getBigUint64(24, true));
  const expected = blobOffset + blobLength + 4;
  if (bytes.byteLength < expected) {
    throw new PlanFormatError(`plan is truncated: the header announces ${expected} bytes, got ${bytes.byteLength}`);
  }
  if (bytes.byteLength > expected) {
    throw new PlanFormatError(`plan has ${bytes.byteLength - expected} trailing bytes after its checksum (expected ${expected} bytes in all)`);
  }
  const stored = view.getUint32(expected - 4, true);
  const actual = crc32(bytes.subarray(0, expected - 4));
  if (stored !== actual) {
    throw new PlanFormatError(`plan is corrupted: CRC-32 is ${hex(actual)}, the file records ${hex(stored)}`);
  }
  if (alignment === 0 || blobOffset % alignment !== 0 || FIXED_HEADER + jsonLength > blobOffset) {
    throw new PlanFormatError(`plan header is inconsistent: JSON of ${jsonLength} bytes, blob at ${blobOffset} with alignment ${alignment}`);
  }
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + FIXED_HEADER, jsonLength).toString('utf8'), decodeNumber);
  } catch (e) {
    throw new PlanFormatError(`plan header is not valid JSON: ${(e as Error).message}`);
  }
  // A private, aligned copy: constants are viewed as typed arrays of their dtype.
  const blob = new Uint8Array(blobLength);
  blob.set(bytes.subarray(blobOffset, blobOffset + blobLength));
  const plan = { ...(header as object), blob } as Plan;
  validatePlan(plan);
  return plan;
}

/**
 * Structural checks of a plan read from outside: value ids, constant ranges, step references.
 * Throws PlanFormatError naming the first inconsistency.
 */
export function validatePlan(plan: Plan): void {
  const fail = (what: string): never => {
    throw new PlanFormatError(`invalid plan '${String(plan.name)}': ${what}`);
  };
  for (const key of ['inputs', 'outputs', 'values', 'constants', 'steps'] as const) {
    if (!Array.isArray(plan[key])) fail(`'${key}' is missing`);
  }
  if (typeof plan.memory !== 'object' || plan.memory === null || !Number.isInteger(plan.memory.arenaSize)) fail(`'memory' is missing`);
  const nValues = plan.values.length;
  const validId = (id: unknown): boolean => Number.isInteger(id) && (id as number) >= 0 && (id as number) < nValues;
  plan.values.forEach((v, i) => {
    if (v.id !== i) fail(`value ${i} has id ${v.id}`);
    if (!DTYPES.includes(v.dtype)) fail(`value ${i} ('${v.name}') has unknown dtype '${String(v.dtype)}'`);
    const loc = v.location;
    if (loc.kind === 'constant' && !(loc.index >= 0 && loc.index < plan.constants.length)) fail(`value ${i} names constant ${loc.index}`);
    if (loc.kind === 'arena' && !(loc.offset >= 0 && loc.offset + loc.size <= plan.memory.arenaSize)) {
      fail(`value ${i} ('${v.name}') lies outside the ${plan.memory.arenaSize}-byte arena`);
    }
  });
  plan.constants.forEach((c, i) => {
    if (!DTYPES.includes(c.dtype)) fail(`constant ${i} has unknown dtype '${String(c.dtype)}'`);
    if (c.offset % itemSize(c.dtype) !== 0 || c.offset + c.byteLength > plan.blob.byteLength || c.byteLength !== byteSizeOf(c.dtype, c.shape)) {
      fail(`constant ${i} ('${c.name}') does not fit the ${plan.blob.byteLength}-byte blob`);
    }
  });
  for (const io of [...plan.inputs, ...plan.outputs]) if (!validId(io.value)) fail(`'${io.name}' names value ${io.value}`);
  plan.steps.forEach((s, i) => {
    if (!Object.hasOwn(STEP_KINDS, s.kind)) fail(`step ${i} ('${s.name}') has unknown kind '${String(s.kind)}'`);
    if (s.kind === 'pointwise' ? !Array.isArray(s.program?.instrs) : typeof s.params !== 'object' || !Array.isArray(s.epilogue)) {
      fail(`step ${i} ('${s.name}') lacks its ${s.kind === 'pointwise' ? 'program' : 'params or epilogue'}`);
    }
    if (!Array.isArray(s.inputs) || !Array.isArray(s.outputs) || ![...s.inputs, ...s.outputs].every(validId)) {
      fail(`step ${i} ('${s.name}') names a value that does not exist`);
    }
    if (s.quant !== undefined) {
      const problem = quantProblem(s);
      if (problem !== null) fail(`step ${i} ('${s.name}', int8 ${s.kind}): ${problem}`);
    }
  });
}

/** What is wrong with a step's `quant` (kind, input positions), or null. */
function quantProblem(s: PlanStep): string | null {
  const q = s.quant!;
  if (!(QUANTIZED_KINDS as readonly string[]).includes(s.kind)) return `kind '${s.kind}' has no int8 form`;
  if (!Array.isArray(q.operands) || !(q.outputScale === null || Number.isInteger(q.outputScale))) return `'quant' is malformed`;
  if (q.format !== undefined && (q.format !== 'float8e4m3' || s.kind !== 'matrix_multiply')) return `'quant.format' ${String(q.format)} is not an FP8 matrix product ('float8e4m3' on matrix_multiply)`;
  const first = s.inputs.length - quantInputCount(q);
  const scales = [...q.operands.map((o) => o.scale), ...(q.outputScale === null ? [] : [q.outputScale])];
  if (first < 0 || !scales.every((p, k) => p === first + k)) return `scales must be the last ${scales.length} inputs, in operand order`;
  for (const o of q.operands) {
    if (!Number.isInteger(o.input) || o.input < 0 || o.input >= first) return `operand input ${o.input} is not a data input (0..${first - 1})`;
    if (o.axis !== null && !Number.isInteger(o.axis)) return `operand ${o.input} has axis ${String(o.axis)}`;
  }
  return null;
}

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

/** JSON has no ±Infinity, NaN or -0 (clip bounds, pad values): they travel as tagged strings. */
function encodeNumber(_key: string, v: unknown): unknown {
  if (typeof v !== 'number' || (Number.isFinite(v) && !Object.is(v, -0))) return v;
  return { $num: Object.is(v, -0) ? '-0' : String(v) };
}

function decodeNumber(_key: string, v: unknown): unknown {
  if (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 1 && '$num' in v) {
    const s = (v as { $num: unknown }).$num;
    if (s === '-0') return -0;
    if (s === 'Infinity' || s === '-Infinity' || s === 'NaN') return Number(s);
  }
  return v;
}
