/**
 * The op specs handed to the native executor's prepare() (native/src/exec/*: every field is
 * checked again there). Pointers are memory references: a byte offset into the execution
 * context's memory (arena, input/output slots, scratch regions) or into the plan's constants on
 * the device. Views give element strides per logical dim, so one kernel serves every layout.
 */
import type { DType } from '../../tensor/dtype.js';
import type { ActivationOp, ElementWiseOp, UnaryOp } from '../../engine/network.js';
import type { FloatDType } from './native.js';

/** Which device memory a reference points into. */
export const CONTEXT_MEMORY = 0;
export const CONSTANT_MEMORY = 1;

/** A byte offset into the context memory (0) or the plan's constants (1). */
export interface MemRef {
  readonly mem: typeof CONTEXT_MEMORY | typeof CONSTANT_MEMORY;
  readonly offset: number;
}

/** A strided view: logical shape and element strides (0 broadcasts, negative walks backwards). */
export interface View {
  readonly shape: readonly number[];
  readonly strides: readonly number[];
}

/** One instruction of a native pointwise program (kernels/pointwise.h). */
export type NativeInstr =
  | { readonly op: 'elementwise'; readonly fn: ElementWiseOp; readonly args: readonly number[]; readonly dtype: DType; readonly intMath: boolean }
  | { readonly op: 'unary'; readonly fn: UnaryOp; readonly args: readonly number[]; readonly dtype: DType }
  | { readonly op: 'activation'; readonly fn: ActivationOp; readonly alpha: number; readonly beta: number; readonly args: readonly number[]; readonly dtype: DType }
  | { readonly op: 'cast' | 'select' | 'prelu'; readonly args: readonly number[]; readonly dtype: DType };

/** An operand of a pointwise op: strides over the op's iteration shape. */
export interface PointwiseOperand {
  readonly ref: MemRef;
  readonly dtype: DType;
  readonly strides: readonly number[];
}

/** The native ops, each tagged with the plan step it belongs to (-1: plan input/output copies). */
export type NativeOpSpec = { readonly step: number } & (
  | { readonly op: 'copy'; readonly elemBytes: number; readonly src: MemRef; readonly srcView: View; readonly dst: MemRef; readonly dstView: View }
  | { readonly op: 'fill'; readonly elemBytes: number; readonly dst: MemRef; readonly dstView: View; readonly wordLo: number; readonly wordHi: number }
  | {
    readonly op: 'pointwise'; readonly shape: readonly number[]; readonly inputs: readonly PointwiseOperand[]; readonly out: PointwiseOperand;
    readonly instrs: readonly NativeInstr[]; readonly wide: boolean;
  }
  | {
    readonly op: 'pool2d'; readonly dtype: FloatDType; readonly type: 'max' | 'average';
    readonly x: MemRef; readonly inShape: readonly number[]; readonly xStrides: readonly number[];
    readonly y: MemRef; readonly outShape: readonly number[]; readonly yStrides: readonly number[];
    readonly window: readonly number[]; readonly stride: readonly number[]; readonly prePadding: readonly number[];
    readonly postPadding: readonly number[]; readonly dilation: readonly number[];
    readonly excludePadding: boolean; readonly divisor: number; readonly channelsLast: boolean;
  }
  | {
    readonly op: 'layernorm'; readonly dtype: FloatDType; readonly affineDtype: FloatDType; readonly rows: number; readonly cols: number;
    readonly eps: number; readonly x: MemRef; readonly y: MemRef; readonly scale: MemRef; readonly bias: MemRef;
    readonly scaleView: View; readonly biasView: View;
  }
  | {
    readonly op: 'softmax'; readonly xDtype: FloatDType; readonly yDtype: FloatDType; readonly x: MemRef; readonly y: MemRef;
    readonly outer: number; readonly size: number; readonly inner: number; readonly scale: number; readonly log: boolean;
    readonly causalRows: number; readonly mask?: MemRef; readonly maskDtype?: DType; readonly maskView?: View;
  }
  | {
    readonly op: 'gemm'; readonly dtype: FloatDType; readonly outDtype: FloatDType;
    readonly m: number; readonly n: number; readonly k: number; readonly batch: number;
    readonly transA: boolean; readonly transB: boolean; readonly alpha: number;
    readonly a: MemRef; readonly strideA: number; readonly b: MemRef; readonly strideB: number; readonly out: MemRef; readonly strideOut: number;
    readonly bias?: MemRef; readonly residual?: MemRef; readonly act: 'none' | 'relu' | 'gelu_tanh';
  }
  | {
    readonly op: 'conv2d'; readonly dtype: FloatDType;
    readonly n: number; readonly c: number; readonly h: number; readonly w: number; readonly k: number; readonly r: number; readonly s: number;
    readonly oh: number; readonly ow: number; readonly padH: number; readonly padW: number; readonly strideH: number; readonly strideW: number;
    readonly dilH: number; readonly dilW: number; readonly groups: number;
    readonly x: MemRef; readonly filter: MemRef; readonly bias: MemRef; readonly z?: MemRef; readonly y: MemRef; readonly relu: boolean;
  }
);

/** A byte range of the context memory holding one network input or output. */
export interface IoSlotSpec {
  readonly offset: number;
  readonly bytes: number;
}

/** Everything prepare() needs for one program. */
export interface ProgramSpec {
  readonly ops: readonly NativeOpSpec[];
  readonly inputs: readonly IoSlotSpec[];
  readonly outputs: readonly IoSlotSpec[];
  /** Step names, for errors and per-step profiles. */
  readonly stepNames: readonly string[];
  /** Time library algorithms on the device (engine load) instead of taking the heuristic's. */
  readonly tune: boolean;
  /** Capture the ops into a CUDA graph on the second run and replay it afterwards. */
  readonly graphs: boolean;
  /** Only library algorithms whose results do not depend on scheduling. */
  readonly deterministic: boolean;
}
