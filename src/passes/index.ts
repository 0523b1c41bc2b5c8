// The graph passes of the compiler and the default pipeline that compile runs.
import { setDefaultAccPrepare } from '../acc_ops/acc_tracer.js';
import { constFold } from './const_fold.js';
import { cse } from './cse.js';
import { eliminateDeadCode } from './dce.js';
import { dynamicQuantize, type DynamicQuantizeOptions } from './dynamic_quantize.js';
import { foldBatchNorm } from './fold_batch_norm.js';
import { fusePermuteMatmul } from './fuse_permute_matmul.js';
import { mergeParallelLinears } from './merge_parallel_linears.js';
import type { NamedPass } from './pass_manager.js';
import { qdqCastRepair } from './qdq_cast_repair.js';
import { qdqResidualRepair } from './qdq_residual_repair.js';
import { removeNoOps } from './remove_noops.js';
import { functionalize, replaceMutableOps } from './replace_mutable_ops.js';

export { constFold, foldStaticSizes } from './const_fold.js';
export { cse, isPureNode } from './cse.js';
export { eliminateDeadCode } from './dce.js';
export { dynamicQuantize, MIN_DYNAMIC_SCALE, quantizeWeight, type DynamicQuantizeOptions } from './dynamic_quantize.js';
export { canFoldBatchNorm, foldBatchNorm } from './fold_batch_norm.js';
export { fusePermuteMatmul, swapsLastTwoDims } from './fuse_permute_matmul.js';
export { mergeParallelLinears } from './merge_parallel_linears.js';
export {
  accOpName, compareOutputs, definePass, PassError, PassManager, passNameOf, replaceUsesWith, tensorMetaOf,
  type NamedPass, type Pass, type PassConstraint, type PassManagerOptions, type PassOptions, type PassResult,
  type ValidateOptions,
} from './pass_manager.js';
export { qdqCastRepair } from './qdq_cast_repair.js';
export { qdqResidualRepair } from './qdq_residual_repair.js';
export { noOpIdentities, removeNoOps } from './remove_noops.js';
export { functionalize, functionalMethodOf, isInplaceMethod, replaceMutableOps } from './replace_mutable_ops.js';
export { ShapeProp, valueMetaOf } from './shape_prop.js';
export { definePatternPass, replacePattern, type Match, type PatternSource } from './subgraph_rewriter.js';

// accTrace makes source graphs functional before mapping them to acc ops.
setDefaultAccPrepare(functionalize);

/** What defaultPasses adds for quantized builds. */
export interface DefaultPassOptions {
  /**
   * Graphs with explicit Q/DQ (compile runs these for precision 'int8'): qdqCastRepair and
   * qdqResidualRepair, before foldBatchNorm, repair Q/DQ placements that block INT8 fusion.
   */
  readonly qdqRepairs?: boolean;
  /** Dynamically quantize linear/matmul layers (compile's `quantization: { mode: 'dynamic' }`). */
  readonly dynamicQuantization?: DynamicQuantizeOptions;
  /**
   * Merge linears that share their input (mergeParallelLinears). Default: on for float builds,
   * off when `qdqRepairs` or `dynamicQuantization` is given, since quantization is per layer
   * (its names in `exclude`, one activation scale per layer output).
   */
  readonly mergeParallelLinears?: boolean;
}

/**
 * The default pass pipeline of compile: replaceMutableOps → constFold → eliminateDeadCode →
 * cse → (qdqCastRepair → qdqResidualRepair) → foldBatchNorm → fusePermuteMatmul →
 * (mergeParallelLinears) → removeNoOps → (dynamicQuantize) → eliminateDeadCode, the parenthesized passes as `opts` asks. The
 * ordering constraints are declared by the passes themselves (`runsAfter`) and checked by PassManager.
 *
 * @example
 * const { gm: optimized } = new PassManager(defaultPasses()).run(accTrace(model, [x]));
 * new PassManager(defaultPasses(), { onPass: (name, gm) => console.log(name, gm.graph.toString()) }).run(gm);
 * new PassManager(defaultPasses({ qdqRepairs: true })).run(importOnnx('resnet_qdq.onnx'));
 */
export function defaultPasses(opts: DefaultPassOptions = {}): NamedPass[] {
  const repairs = opts.qdqRepairs ? [qdqCastRepair, qdqResidualRepair] : [];
  const dynamic = opts.dynamicQuantization ? [dynamicQuantize(opts.dynamicQuantization)] : [];
  const merge = opts.mergeParallelLinears ?? !(opts.qdqRepairs || opts.dynamicQuantization) ? [mergeParallelLinears] : [];
  return [replaceMutableOps, constFold, eliminateDeadCode, cse, ...repairs, foldBatchNorm, fusePermuteMatmul, ...merge, removeNoOps, ...dynamic, eliminateDeadCode];
}
