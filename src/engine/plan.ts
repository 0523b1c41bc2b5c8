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

/** Format version written by `serializePlan`; `deserializePlan` reads only this version. */
export const PLAN_VERSION = 1;
/** Alignment of the constant blob and of each constant inside it, in bytes. */
export const BLOB_ALIGNMENT = 64;

const MAGIC = [0x46, 0x58, 0x52, 0x54]; // 'FXRT'
const FIXED_HEADER = 32;

/** Reduced precisions a build may use (TensorRT's builder flags). */
export type BuilderPrecision = 'fp32' | 'fp16' | 'bf16' | 'int8';
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

/** Number of step inputs the anchor layer reads (those no epilogue op names). */
export function anchorInputCount(step: LayerStep): number {
  let n = step.inputs.length;
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
  });
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
