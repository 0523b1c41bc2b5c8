/**
 * The op specs handed to the native executor's prepare() (native/src/exec/*: every field is
 * checked again there). Pointers are memory references: a byte offset into the execution
 * context's memory (arena, input/output slots, scratch regions) or into the plan's constants on
 * the device. Views give element strides per logical dim, so one kernel serves every layout.
 */
import type { DType } from '../../tensor/dtype.js';
import type { ActivationOp, ElementWiseOp, ReduceOp, UnaryOp } from '../../engine/network.js';
import type { FloatDType, NativeBuffer } from './native.js';

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

/** A pointwise op's input; an int8 one with a `scale` (strides over the iteration shape) is dequantized on load. */
export interface PointwiseInput extends PointwiseOperand {
  readonly scale?: PointwiseOperand;
}

/** The one-element scale of an int8 step's per-tensor operand or output (read on the device when the op runs). */
export interface ScaleRef {
  readonly ref: MemRef;
  readonly dtype: FloatDType;
}

/**
 * A (transposed) convolution on channels-last memory (native/src/exec/conv_geometry.h): x [n, c,
 * inSpatial...] → y [n, k, outSpatial...], 1 to 3 spatial dims, the layer's paddings as they are
 * (uneven or negative ones too); filter [k, kernel..., c/groups] (deconv: [c, kernel..., k/groups]);
 * then y = relu?(y + z + bias).
 */
export interface ConvGeometrySpec {
  readonly dtype: FloatDType;
  readonly n: number; readonly c: number; readonly k: number; readonly groups: number;
  readonly inSpatial: readonly number[]; readonly outSpatial: readonly number[]; readonly kernel: readonly number[];
  readonly stride: readonly number[]; readonly dilation: readonly number[];
  readonly prePadding: readonly number[]; readonly postPadding: readonly number[];
  readonly x: MemRef; readonly filter: MemRef; readonly z?: MemRef; readonly y: MemRef; readonly relu: boolean;
}

/**
 * Ops that move or select elements by index (native/src/exec/ops_index.cc). gather and slice_map
 * iterate over dims in the output's memory order (a shape and per-operand strides per iteration
 * dim); resize takes logical shapes and strides; topk and cumsum row-major operands. Strides are
 * in elements.
 */
export type IndexOpSpec =
  /**
   * out[c] = data[c·dataStrides + v·axisStride], v = index[c·indexStrides] (negative: + axisSize; out of range: zero bits,
   * and the run rejects naming the step, the index and its position in `indexView`, the indices' logical view; `axis` is the data dim).
   */
  | {
    readonly op: 'gather'; readonly elemBytes: number; readonly indexDtype: 'int32' | 'int64'; readonly shape: readonly number[];
    readonly data: MemRef; readonly dataStrides: readonly number[]; readonly axisStride: number; readonly axisSize: number;
    readonly index: MemRef; readonly indexStrides: readonly number[]; readonly out: MemRef; readonly outStrides: readonly number[];
    readonly indexView: View; readonly axis: number;
  }
  /** dst[c] = src[Σ map(start + c·stride)·srcStrides] with out-of-range indices mapped by `mode` (fill: the word wordHi:wordLo). */
  | {
    readonly op: 'slice_map'; readonly elemBytes: number; readonly mode: 'fill' | 'clamp' | 'reflect' | 'wrap'; readonly shape: readonly number[];
    readonly src: MemRef; readonly srcStrides: readonly number[]; readonly srcSize: readonly number[];
    readonly start: readonly number[]; readonly stride: readonly number[];
    readonly dst: MemRef; readonly dstStrides: readonly number[]; readonly wordLo: number; readonly wordHi: number;
  }
  /** Resize of dims 2.. (logical shapes and strides); scaleBits: per spatial dim, the float32 bit pattern of its source-index ratio. */
  | {
    readonly op: 'resize'; readonly dtype: DType; readonly kind: 'nearest_floor' | 'nearest_half_up' | 'linear' | 'cubic';
    readonly alignCorners: boolean; readonly channelsLast: boolean;
    readonly x: MemRef; readonly inShape: readonly number[]; readonly xStrides: readonly number[];
    readonly y: MemRef; readonly outShape: readonly number[]; readonly yStrides: readonly number[]; readonly scaleBits: readonly number[];
  }
  /** Top-k along the middle dim of row-major [outer, size, inner] operands. */
  | {
    readonly op: 'topk'; readonly dtype: DType; readonly indexDtype: 'int32' | 'int64'; readonly largest: boolean;
    readonly outer: number; readonly size: number; readonly inner: number; readonly k: number;
    readonly x: MemRef; readonly values: MemRef; readonly indices: MemRef;
  }
  /** Running sum along the middle dim of row-major [outer, size, inner] operands. */
  | {
    readonly op: 'cumsum'; readonly dtype: DType; readonly outer: number; readonly size: number; readonly inner: number;
    readonly exclusive: boolean; readonly reverse: boolean; readonly x: MemRef; readonly y: MemRef;
  };

/** An operand of the generic einsum kernel: strides over the output dims, then over the summed dims. */
export interface EinsumOperandSpec {
  readonly ref: MemRef;
  readonly outStrides: readonly number[];
  readonly sumStrides: readonly number[];
}

/** Ops on the reduction-like kernels (native/src/exec/ops_reduce.cc). */
export type ReduceOpSpec =
  /** y[kept] = fn over the reduced dims of x; kept.strides and reduced.strides are x's, yStrides y's per kept dim. */
  | {
    readonly op: 'reduce'; readonly fn: ReduceOp; readonly dtype: DType; readonly x: MemRef; readonly y: MemRef;
    readonly kept: View; readonly yStrides: readonly number[]; readonly reduced: View;
  }
  /** Q/DQ over an iteration shape; the scale (and zero point) broadcast to it with stride 0 except along the channel axis. */
  | {
    readonly op: 'quantize' | 'dequantize'; readonly shape: readonly number[];
    readonly x: PointwiseOperand; readonly y: PointwiseOperand; readonly scale: PointwiseOperand; readonly zeroPoint?: PointwiseOperand;
  }
  /** y[o] = Σ over the summed dims of the product of the operands (kernels/einsum.h). */
  | {
    readonly op: 'einsum'; readonly dtype: FloatDType; readonly y: MemRef; readonly out: View;
    readonly sumShape: readonly number[]; readonly operands: readonly EinsumOperandSpec[];
  };

/** One epilogue op of the int8 GEMM, applied in order after the rescale (kernels/igemm.h). */
export type IgemmEpilogueSpec =
  /** + a float vector per output column (channel), or one value. */
  | { readonly kind: 'bias'; readonly ref: MemRef; readonly dtype: FloatDType; readonly perChannel: boolean }
  /** + a tensor laid out like the output: a float, or int8 dequantized by its scale(s) on load. */
  | {
    readonly kind: 'residual'; readonly ref: MemRef; readonly dtype: FloatDType | 'int8';
    readonly scale?: MemRef; readonly scaleDtype?: FloatDType; readonly scalePerChannel?: boolean;
  }
  | { readonly kind: 'activation'; readonly fn: ActivationOp; readonly alpha: number; readonly beta: number };

/**
 * The implicit im2col of a channels-last 2-D convolution input [batch, h, w, c] (1-D: h = kh = 1;
 * 3-D: [batch, d, h, w, c] with the depth fields).
 * `transposed`: a deconvolution, as the gather of its output pixels (output (oy, ox) takes tap
 * (ky, kx) from input ((oy + ph - ky * dh) / sh, (ox + pw - kx * dw) / sw) where both divide evenly
 * and fall inside, else zero; the filter per group [n, kh, kw, cg], not flipped).
 */
export interface IgemmConvSpec {
  readonly batch: number; readonly h: number; readonly w: number; readonly c: number; readonly cg: number;
  readonly kh: number; readonly kw: number; readonly oh: number; readonly ow: number;
  readonly sh: number; readonly sw: number; readonly dh: number; readonly dw: number; readonly ph: number; readonly pw: number;
  readonly transposed?: boolean;
  /** 3-D only: the depth axis (input [batch, d, h, w, c], kernel taps (kd, kh, kw, c)); the native op runs it in the im2col form. */
  readonly d?: number; readonly kd?: number; readonly od?: number; readonly sd?: number; readonly dd?: number; readonly pd?: number;
}

/**
 * A per-tensor quantize (to int8, zero point 0) that an int8 convolution takes over
 * (lower/igemm.ts quantizeTakeover): its float input [batch, c, h, w] (the view's strides, any
 * layout) and scale. The convolution's `a` is still the quantize's int8 output, which forms that
 * do not quantize while packing write first.
 */
export interface IgemmInputQuantizeSpec {
  readonly x: MemRef; readonly dtype: FloatDType; readonly view: View; readonly scale: MemRef; readonly scaleDtype: FloatDType;
}

/**
 * The int8 GEMM of an int8 convolution or matrix product (kernels/igemm.h): out [m, groups * n] =
 * the plan's rescale of a [m, k] (a matrix with row stride lda, or the convolution's im2col) times
 * b [groups * n, k]^T per group, then the epilogue, requantized by outScale or stored as a float.
 */
export interface IgemmSpec {
  readonly op: 'igemm';
  readonly m: number; readonly n: number; readonly k: number; readonly groups: number;
  readonly a: MemRef; readonly lda?: number; readonly conv?: IgemmConvSpec; readonly aQuant?: IgemmInputQuantizeSpec; readonly b: MemRef;
  readonly sx: MemRef; readonly sxDtype: FloatDType; readonly sxRows: number;
  readonly sw: MemRef; readonly swDtype: FloatDType; readonly swPerChannel: boolean;
  readonly bias?: MemRef; readonly biasDtype?: FloatDType;
  readonly epilogue: readonly IgemmEpilogueSpec[];
  readonly out: MemRef; readonly outDtype: FloatDType | 'int8'; readonly outScale?: MemRef; readonly outScaleDtype?: FloatDType;
  /** The fused requantize (plan.ts fusedRequantizeRange): the epilogue's bias and relu fold into it. */
  readonly fusedRequantize?: boolean;
  /**
   * The op reads `a` for the last time (Operands.lastRead): the warp-specialized kernel loads a
   * matrix `a` with an evict-first L2 policy, so the dead activation leaves L2 before data read
   * again. A cache hint: the results are the same either way.
   */
  readonly aEvictFirst?: boolean;
}

/** The native ops, each tagged with the plan step it belongs to (-1: plan input/output copies). */
export type NativeOpSpec = { readonly step: number } & (
  | { readonly op: 'copy'; readonly elemBytes: number; readonly src: MemRef; readonly srcView: View; readonly dst: MemRef; readonly dstView: View }
  | { readonly op: 'fill'; readonly elemBytes: number; readonly dst: MemRef; readonly dstView: View; readonly wordLo: number; readonly wordHi: number }
  | {
    readonly op: 'pointwise'; readonly shape: readonly number[]; readonly inputs: readonly PointwiseInput[]; readonly out: PointwiseOperand;
    /** An int8 step's output scale: the result is requantized to int8 on store. */
    readonly outScale?: ScaleRef;
    readonly instrs: readonly NativeInstr[]; readonly wide: boolean;
  }
  /** Max / average pooling of [N, C, 1 to 3 spatial dims] in any layout (int8: max pooling of quantized values). */
  | {
    readonly op: 'pool'; readonly dtype: FloatDType | 'int8'; readonly type: 'max' | 'average';
    readonly x: MemRef; readonly inShape: readonly number[]; readonly xStrides: readonly number[];
    readonly y: MemRef; readonly outShape: readonly number[]; readonly yStrides: readonly number[];
    readonly window: readonly number[]; readonly stride: readonly number[]; readonly prePadding: readonly number[];
    readonly postPadding: readonly number[]; readonly dilation: readonly number[];
    readonly excludePadding: boolean; readonly divisor: number; readonly channelsLast: boolean;
    /**
     * An int8 step (int8 x): x's per-tensor scale, y's dtype (a float, or int8 requantized with
     * yScale); the pooled integers are rescaled by xScale (kernels/pool.h).
     */
    readonly xScale?: ScaleRef; readonly yDtype?: FloatDType | 'int8'; readonly yScale?: ScaleRef;
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
  /**
   * Fused attention (kernels/attention.h): views [batch..., positions, head dim] with a contiguous
   * head dim and 16-byte strides; the mask's view is over the scores [batch..., l, s].
   */
  | {
    readonly op: 'attention'; readonly dtype: 'float16' | 'bfloat16'; readonly scale: number; readonly causal: boolean;
    readonly q: MemRef; readonly qView: View; readonly k: MemRef; readonly kView: View; readonly v: MemRef; readonly vView: View;
    readonly out: MemRef; readonly outView: View; readonly mask?: MemRef; readonly maskDtype?: DType; readonly maskView?: View;
  }
  | {
    readonly op: 'gemm'; readonly dtype: FloatDType | 'float8e4m3'; readonly outDtype: FloatDType | 'float8e4m3';
    readonly m: number; readonly n: number; readonly k: number; readonly batch: number;
    readonly transA: boolean; readonly transB: boolean; readonly alpha: number;
    readonly a: MemRef; readonly strideA: number; readonly b: MemRef; readonly strideB: number; readonly out: MemRef; readonly strideOut: number;
    readonly bias?: MemRef; readonly residual?: MemRef; readonly act: 'none' | 'relu' | 'gelu_tanh';
    /** FP8 (float8e4m3 operands): the bias's dtype (float16 or bfloat16), and for an e4m3 output the factor it is scaled by (1 / its scale). */
    readonly biasDtype?: FloatDType; readonly dScale?: number;
  }
  | ({ readonly op: 'conv'; readonly bias: MemRef } & ConvGeometrySpec)
  | ({ readonly op: 'deconv'; readonly bias?: MemRef } & ConvGeometrySpec)
  | IndexOpSpec
  | ReduceOpSpec
  | IgemmSpec
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
  /** Capture the network input/output copies into that graph too (else they run beside it). */
  readonly graphCopies: boolean;
  /** Only library algorithms whose results do not depend on scheduling. */
  readonly deterministic: boolean;
  /** FP8 GEMMs without cuBLASLt's periodic promotion of the accumulator to float32 (faster, less precise). */
  readonly fp8FastAccumulation?: boolean;
  /**
   * Slots the program addresses in these device buffers instead of copying (null: copied);
   * runs of it must pass exactly these buffers there.
   */
  readonly bind?: { readonly inputs: readonly (NativeBuffer | null)[]; readonly outputs: readonly (NativeBuffer | null)[] };
}
