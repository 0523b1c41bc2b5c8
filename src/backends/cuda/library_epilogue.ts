/**
 * Which part of a conv/gemm step's epilogue the library call itself applies. cuDNN's
 * cudnnConvolutionBiasActivationForward computes act(conv + z + bias) with act ∈ {identity,
 * relu}; cuBLASLt computes act(a·b + c + bias) with act ∈ {identity, relu, gelu (tanh form)}.
 * The longest prefix of the epilogue of that form (bias constants along the channel / column dim,
 * at most one residual of the output's shape, a supported activation last) runs inside the call;
 * the rest, if any, runs as one pointwise kernel on its result.
 */
import type { ActivationOp } from '../../engine/network.js';
import type { EpilogueOp, LayerStep, Plan } from '../../engine/plan.js';

/** The library's share of a step's epilogue. */
export interface LibraryEpilogue {
  /** Whether the whole epilogue runs inside the library call. */
  readonly fused: boolean;
  /** Step input positions of bias constants folded into the call's one bias vector. */
  readonly bias: readonly number[];
  /** Step input position of the residual the call adds. */
  readonly residual: number | null;
  /** The activation the call applies last. */
  readonly act: 'none' | 'relu' | 'gelu_tanh';
  /** The epilogue ops after the fused prefix, applied by a pointwise kernel. */
  readonly rest: readonly EpilogueOp[];
}

/** Whether constant `shape` varies only along dim `axis` of an output of rank `rank` (right-aligned), with `size` entries. */
export function alongOneDim(shape: readonly number[], rank: number, axis: number, size: number): boolean {
  const offset = rank - shape.length;
  if (offset < 0) return false;
  let numel = 1;
  for (let i = 0; i < shape.length; i++) {
    numel *= shape[i]!;
    if (shape[i] !== 1 && i + offset !== axis) return false;
  }
  return numel === size;
}

function sameStaticShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * Splits the epilogue of conv/gemm `step` into what the library fuses, given the activations it
 * supports and the output dim the bias runs along.
 */
export function libraryEpilogue(step: LayerStep, plan: Plan, activations: readonly ActivationOp[], biasAxis: (rank: number) => number, channels: number): LibraryEpilogue {
  const out = plan.values[step.outputs[0]!]!;
  const rank = out.shape.length;
  const bias: number[] = [];
  let residual: number | null = null;
  let act: LibraryEpilogue['act'] = 'none';
  const ops = step.epilogue;
  let k = 0;
  // Sums commute, so bias and residual may come in any order; an activation ends the prefix.
  for (; k < ops.length && act === 'none'; k++) {
    const op = ops[k]!;
    if (op.op === 'bias') {
      const v = plan.values[step.inputs[op.input]!]!;
      if (v.location.kind !== 'constant' || !alongOneDim(v.shape, rank, biasAxis(rank), channels)) break;
      bias.push(op.input);
    } else if (op.op === 'residual') {
      const v = plan.values[step.inputs[op.input]!]!;
      if (residual !== null || v.dtype !== out.dtype || !sameStaticShape(v.shape, out.shape)) break;
      residual = op.input;
    } else {
      if (!activations.includes(op.fn)) break;
      act = op.fn === 'relu' ? 'relu' : 'gelu_tanh';
    }
  }
  const rest = ops.slice(k);
  return { fused: rest.length === 0, bias, residual, act, rest };
}
