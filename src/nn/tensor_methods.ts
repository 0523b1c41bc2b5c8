/**
 * Tensor methods (x.add(y), x.reshape(2, -1), x.relu_(), x.index([null, slice(1, 3)]), ...),
 * each defined by its acc mapping and installed on Tensor.prototype. Importing this module
 * installs them; the declarations below type them.
 */
import './tensor_methods/math.js';
import './tensor_methods/shape.js';
import './tensor_methods/convert.js';
import './tensor_methods/indexing.js';
import type { DType } from '../tensor/dtype.js';
import type { Operand, RoundingMode, Scalar } from './functional/elementwise.js';
import type { Dims } from './functional/reduce.js';
import type { IndexItem } from './tensor_methods/indexing.js';

export type { IndexItem } from './tensor_methods/indexing.js';

type Ints = readonly number[];
type ReduceOpts = { dim?: Dims; keepdim?: boolean; dtype?: DType | null };

declare module '../tensor/tensor.js' {
  interface Tensor {
    // ---- arithmetic (broadcasting, PyTorch type promotion) ----
    /** this + alpha × other. @example x.add(y, { alpha: 2 }) */
    add(other: Operand, opts?: { alpha?: number }): Tensor;
    /** this − alpha × other. */
    sub(other: Operand, opts?: { alpha?: number }): Tensor;
    mul(other: Operand): Tensor;
    /** True division, or rounded with roundingMode. @example x.div(2, { roundingMode: 'trunc' }) */
    div(other: Operand, opts?: { roundingMode?: RoundingMode }): Tensor;
    floorDivide(other: Operand): Tensor;
    pow(exponent: Operand): Tensor;
    maximum(other: Operand): Tensor;
    minimum(other: Operand): Tensor;
    fmod(other: Operand): Tensor;
    remainder(other: Operand): Tensor;
    // ---- comparisons and logic (→ bool) ----
    eq(other: Operand): Tensor;
    ne(other: Operand): Tensor;
    gt(other: Operand): Tensor;
    ge(other: Operand): Tensor;
    lt(other: Operand): Tensor;
    le(other: Operand): Tensor;
    logicalAnd(other: Operand): Tensor;
    logicalOr(other: Operand): Tensor;
    logicalXor(other: Operand): Tensor;
    logicalNot(): Tensor;
    // ---- unary ----
    abs(): Tensor;
    neg(): Tensor;
    exp(): Tensor;
    log(): Tensor;
    sqrt(): Tensor;
    rsqrt(): Tensor;
    reciprocal(): Tensor;
    sin(): Tensor;
    cos(): Tensor;
    tan(): Tensor;
    asin(): Tensor;
    acos(): Tensor;
    atan(): Tensor;
    sinh(): Tensor;
    cosh(): Tensor;
    erf(): Tensor;
    floor(): Tensor;
    ceil(): Tensor;
    round(): Tensor;
    trunc(): Tensor;
    sign(): Tensor;
    isnan(): Tensor;
    /** Clamps into [min, max]. @example x.clamp(0, 6); x.clamp({ max: 1 }) */
    clamp(min?: Scalar | null, max?: Scalar | null): Tensor;
    clamp(opts: { min?: Scalar | null; max?: Scalar | null }): Tensor;
    relu(): Tensor;
    sigmoid(): Tensor;
    tanh(): Tensor;
    // ---- reductions ----
    sum(dim?: Dims, keepdim?: boolean, opts?: { dtype?: DType | null }): Tensor;
    sum(opts: ReduceOpts): Tensor;
    mean(dim?: Dims, keepdim?: boolean, opts?: { dtype?: DType | null }): Tensor;
    mean(opts: ReduceOpts): Tensor;
    prod(dim?: Dims, keepdim?: boolean, opts?: { dtype?: DType | null }): Tensor;
    prod(opts: ReduceOpts): Tensor;
    /** The maximum; along a dim, [values, indices]; with a tensor, elementwise. @example const [v, i] = x.max(1) */
    max(): Tensor;
    max(dim: number, keepdim?: boolean): [Tensor, Tensor];
    max(other: Tensor): Tensor;
    min(): Tensor;
    min(dim: number, keepdim?: boolean): [Tensor, Tensor];
    min(other: Tensor): Tensor;
    amax(dim?: Dims, keepdim?: boolean): Tensor;
    amin(dim?: Dims, keepdim?: boolean): Tensor;
    argmax(dim?: number | null, keepdim?: boolean): Tensor;
    argmin(dim?: number | null, keepdim?: boolean): Tensor;
    softmax(dim: number, opts?: { dtype?: DType | null }): Tensor;
    logSoftmax(dim: number, opts?: { dtype?: DType | null }): Tensor;
    cumsum(dim: number, opts?: { dtype?: DType | null }): Tensor;
    /** The k largest (or smallest) along dim, and their indices. @example const [v, i] = x.topk(3) */
    topk(k: number, dim?: number, largest?: boolean, sorted?: boolean): [Tensor, Tensor];
    topk(k: number, opts: { dim?: number; largest?: boolean; sorted?: boolean }): [Tensor, Tensor];
    // ---- linalg ----
    matmul(other: Tensor): Tensor;
    mm(mat2: Tensor): Tensor;
    bmm(mat2: Tensor): Tensor;
    // ---- shape ----
    /** A new shape (one dim may be −1). @example x.reshape(2, -1); x.reshape([2, -1]) */
    reshape(...shape: number[]): Tensor;
    reshape(shape: Ints): Tensor;
    /** Same as reshape (storage is always contiguous). */
    view(...shape: number[]): Tensor;
    view(shape: Ints): Tensor;
    /** @example x.permute(0, 2, 1) */
    permute(...dims: number[]): Tensor;
    permute(dims: Ints): Tensor;
    transpose(dim0: number, dim1: number): Tensor;
    /** The 2-D transpose (rank ≤ 2). */
    t(): Tensor;
    flatten(startDim?: number, endDim?: number): Tensor;
    squeeze(dim?: number | Ints | null): Tensor;
    unsqueeze(dim: number): Tensor;
    /** Broadcasts to sizes (−1 keeps a dim). @example x.expand(4, -1, -1) */
    expand(...sizes: number[]): Tensor;
    expand(sizes: Ints): Tensor;
    expandAs(other: Tensor): Tensor;
    /** Repeats along each dim (at least one count per dim). @example x.repeat(2, 1) */
    repeat(...repeats: number[]): Tensor;
    repeat(repeats: Ints): Tensor;
    tile(...dims: number[]): Tensor;
    tile(dims: Ints): Tensor;
    /** The tensor itself (storage is always contiguous). */
    contiguous(): Tensor;
    /** The shape, or one dim's size. */
    size(): number[];
    size(dim: number): number;
    chunk(chunks: number, dim?: number): Tensor[];
    split(splitSize: number | Ints, dim?: number): Tensor[];
    narrow(dim: number, start: number, length: number): Tensor;
    // ---- indexing ----
    gather(dim: number, index: Tensor): Tensor;
    indexSelect(dim: number, index: Tensor): Tensor;
    /** where(condition, this, other). */
    where(condition: Tensor, other: Operand): Tensor;
    /** value where mask holds, keeping this tensor's dtype. @example x.maskedFill(mask, -Infinity) */
    maskedFill(mask: Tensor, value: Scalar | Tensor): Tensor;
    /** Python-style indexing: x[None, 1:3, 0] is x.index(null, slice(1, 3), 0). */
    index(...indices: IndexItem[]): Tensor;
    index(indices: readonly IndexItem[]): Tensor;
    /** A tensor like this one filled with value. */
    fill(value: Scalar | Tensor): Tensor;
    zero(): Tensor;
    // ---- conversion ----
    /** Casts to dtype (or other's dtype); returns this tensor when it already has it. @example x.to('float16') */
    to(dtype: DType | Tensor): Tensor;
    float(): Tensor;
    half(): Tensor;
    bfloat16(): Tensor;
    int(): Tensor;
    long(): Tensor;
    bool(): Tensor;
    byte(): Tensor;
    char(): Tensor;
    typeAs(other: Tensor): Tensor;
    dequantize(): Tensor;
    // ---- in place: write the result into this tensor (in its dtype) and return it ----
    add_(other: Operand, opts?: { alpha?: number }): Tensor;
    sub_(other: Operand, opts?: { alpha?: number }): Tensor;
    mul_(other: Operand): Tensor;
    div_(other: Operand, opts?: { roundingMode?: RoundingMode }): Tensor;
    clamp_(min?: Scalar | null, max?: Scalar | null): Tensor;
    clamp_(opts: { min?: Scalar | null; max?: Scalar | null }): Tensor;
    relu_(): Tensor;
    sigmoid_(): Tensor;
    tanh_(): Tensor;
    fill_(value: Scalar | Tensor): Tensor;
    zero_(): Tensor;
    maskedFill_(mask: Tensor, value: Scalar | Tensor): Tensor;
  }
}
