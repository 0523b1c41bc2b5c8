/**
 * The plan's constants as the CUDA backend stores them on the device, in one blob uploaded once
 * at load: constants read as they are (row-major), plus the forms the libraries want, derived on
 * the host: (transposed) convolution filters reordered KCRS → KRSC (channels-last, any spatial
 * rank), the [K, N] weight of an int8 matrix product transposed to [N, K], and per conv/deconv/gemm step one bias vector summing the layer's bias and the
 * epilogue's bias constants (a convolution gets zeros when it has none, since cuDNN's fused call
 * always adds one).
 */
import { anchorInputCount, type Plan } from '../../engine/plan.js';
import { itemSize, storageFromBytes, type DType } from '../../tensor/dtype.js';
import { numelOf } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { MEMORY_ALIGNMENT, type PlanLayout } from './plan_layout.js';

/** Byte offsets of the constants in the device blob. */
export interface DeviceConstants {
  readonly blob: Uint8Array;
  /** Per plan constant index: its row-major copy, or -1 when nothing reads it as is. */
  readonly rowMajor: readonly number[];
  /**
   * Per conv/deconv step index: its channels-last (KRSC) filter (an int8 deconvolution's:
   * [K, kernel..., C/groups]); per int8 matrix product with a [K, N] weight: its [N, K] transpose.
   */
  readonly filters: ReadonlyMap<number, number>;
  /** Per conv step index, and per deconv/gemm step index with a library bias: the combined bias vector. */
  readonly biases: ReadonlyMap<number, number>;
}

class BlobBuilder {
  readonly #chunks: { offset: number; bytes: Uint8Array }[] = [];
  #size = 0;

  add(bytes: Uint8Array): number {
    const offset = Math.ceil(this.#size / MEMORY_ALIGNMENT) * MEMORY_ALIGNMENT;
    this.#chunks.push({ offset, bytes });
    this.#size = offset + bytes.byteLength;
    return offset;
  }

  build(): Uint8Array {
    const blob = new Uint8Array(Math.ceil(this.#size / MEMORY_ALIGNMENT) * MEMORY_ALIGNMENT);
    for (const c of this.#chunks) blob.set(c.bytes, c.offset);
    return blob;
  }
}

function constantTensor(plan: Plan, index: number): Tensor {
  const c = plan.constants[index]!;
  const bytes = plan.blob.subarray(c.offset, c.offset + c.byteLength);
  return new Tensor(storageFromBytes(c.dtype, bytes, numelOf(c.shape)), c.shape, c.dtype);
}

/** A filter [K, C, spatial...] → [K, spatial..., C] (deconvolution: [C, K/groups, ...] alike), moving raw elements. */
function krsc(t: Tensor): Uint8Array {
  const [k, c] = t.shape as [number, number];
  const rs = numelOf(t.shape.slice(2));
  const src = new Uint8Array(t.bytes());
  const size = itemSize(t.dtype);
  const out = new Uint8Array(src.byteLength);
  const Arr = size === 4 ? Uint32Array : size === 2 ? Uint16Array : Uint8Array;
  const a = new Arr(src.buffer, src.byteOffset, src.byteLength / size);
  const b = new Arr(out.buffer, 0, out.byteLength / size);
  for (let ki = 0; ki < k; ki++) {
    for (let ci = 0; ci < c; ci++) {
      const from = (ki * c + ci) * rs;
      for (let p = 0; p < rs; p++) b[(ki * rs + p) * c + ci] = a[from + p]!;
    }
  }
  return out;
}

/**
 * A deconvolution filter [C, K/groups, spatial...] → [K, spatial..., C/groups] (int8 bytes): per
 * group, the output channels' rows of taps and input channels, as the int8 GEMM kernel gathers a
 * transposed convolution (IgemmConvSpec.transposed: no flip).
 */
function deconvRows(t: Tensor, groups: number): Uint8Array {
  const [c, kg] = t.shape as [number, number];
  const rs = numelOf(t.shape.slice(2));
  const cg = c / groups;
  if (itemSize(t.dtype) !== 1) throw new TypeError(`an int8 deconvolution filter must have one-byte elements, got ${t.dtype}`);
  const src = new Uint8Array(t.bytes());
  const out = new Uint8Array(src.byteLength);
  for (let ci = 0; ci < c; ci++) {
    const g = Math.floor(ci / cg);
    const cl = ci - g * cg;
    for (let o = 0; o < kg; o++) {
      const from = (ci * kg + o) * rs;
      const row = (g * kg + o) * rs;
      for (let p = 0; p < rs; p++) out[(row + p) * cg + cl] = src[from + p]!;
    }
  }
  return out;
}

/** A [..., K, N] weight (no batch, or a batch of one) → [N, K], moving raw elements. */
function transposed(t: Tensor): Uint8Array {
  const [k, n] = t.shape.slice(-2) as [number, number];
  const size = itemSize(t.dtype);
  const src = t.bytes();
  const out = new Uint8Array(src.byteLength);
  for (let r = 0; r < k; r++) {
    for (let c = 0; c < n; c++) out.set(src.subarray((r * n + c) * size, (r * n + c + 1) * size), (c * k + r) * size);
  }
  return out;
}

/** The sum of bias constants as a [channels] vector of `dtype` (float64 sum, one rounding). */
function biasVector(tensors: readonly Tensor[], channels: number, dtype: DType): Uint8Array {
  const sum = new Float64Array(channels);
  for (const t of tensors) {
    const v = t.toFloat64();
    for (let i = 0; i < channels; i++) sum[i] += v[i]!;
  }
  return Tensor.fromNumbers(sum, [channels], dtype).bytes();
}

/**
 * Builds the device blob of `plan` for the layouts and epilogues decided in `layout`.
 * @example
 *   const constants = deviceConstants(plan, planLayout(plan));
 *   addon.loadPlan(constants.blob);
 */
export function deviceConstants(plan: Plan, layout: PlanLayout): DeviceConstants {
  const special = new Set<string>(); // "step:position" read in a derived form only
  const filters = new Map<number, number>();
  const biases = new Map<number, number>();
  const builder = new BlobBuilder();
  const valueConstant = (id: number): number => {
    const loc = plan.values[id]!.location;
    return loc.kind === 'constant' ? loc.index : -1;
  };
  plan.steps.forEach((step, i) => {
    if (step.kind !== 'convolution' && step.kind !== 'deconvolution' && step.kind !== 'matrix_multiply') return;
    const fp8 = step.quant?.format === 'float8e4m3';
    if (step.quant !== undefined) {
      // The int8 GEMM kernel and cuBLASLt's FP8 GEMM read the weight as [N, K] with K contiguous; only FP8 takes a combined bias.
      const w = valueConstant(step.inputs[1]!);
      if (!(step.kind === 'matrix_multiply' ? step.params.transpose1 || step.params.vector1 || w < 0 : w < 0)) {
        special.add(`${i}:1`);
        const t = constantTensor(plan, w);
        filters.set(i, builder.add(step.kind === 'matrix_multiply' ? transposed(t) : step.kind === 'deconvolution' ? deconvRows(t, step.params.groups) : krsc(t)));
      }
      if (!fp8) return;
    }
    const epilogue = layout.epilogues.get(i);
    const biasPositions = epilogue ? [...epilogue.bias] : [];
    if (step.kind !== 'matrix_multiply') {
      special.add(`${i}:1`);
      filters.set(i, builder.add(krsc(constantTensor(plan, valueConstant(step.inputs[1]!)))));
      if (anchorInputCount(step) > 2) biasPositions.unshift(2);
    }
    for (const p of biasPositions) special.add(`${i}:${p}`);
    // cuDNN's fused convolution always adds a bias; the others only take one where there is one.
    if (biasPositions.length === 0 && step.kind !== 'convolution') return;
    const out = plan.values[step.outputs[0]!]!;
    const channels = step.kind === 'matrix_multiply' ? out.shape[out.shape.length - 1]! : step.params.numOutputMaps;
    const tensors = biasPositions.map((p) => constantTensor(plan, valueConstant(step.inputs[p]!)));
    // An FP8 GEMM's bias has the type of cuBLASLt's C: the output's, or float16 for an e4m3 output (lower/fp8.ts).
    biases.set(i, builder.add(biasVector(tensors, channels, fp8 && out.dtype === 'float8e4m3' ? 'float16' : out.dtype)));
  });
  const used = new Set<number>();
  plan.steps.forEach((step, i) => {
    step.inputs.forEach((id, p) => {
      const c = valueConstant(id);
      if (c >= 0 && !special.has(`${i}:${p}`)) used.add(c);
    });
  });
  for (const o of plan.outputs) {
    const c = valueConstant(o.value);
    if (c >= 0) used.add(c);
  }
  const rowMajor = plan.constants.map((c, i) => (used.has(i) ? builder.add(plan.blob.subarray(c.offset, c.offset + c.byteLength)) : -1));
  return { blob: builder.build(), rowMajor, filters, biases };
}
