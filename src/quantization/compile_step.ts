/**
 * How compile() applies post-training quantization: for precision 'int8' on a float graph it
 * quantizes the optimized acc graph (quantizeGraph); a graph that already carries Q/DQ is
 * explicitly quantized and used as it is; engines of parts without any Q/DQ build in fp32.
 */
import type { Int8Fallback } from '../engine/optimize/precision.js';
import type { NetworkDefinition } from '../engine/network_definition.js';
import { isQuantizedPrecision, type BuilderPrecision } from '../engine/plan.js';
import type { GraphModule } from '../ir/graph_module.js';
import { accOpName } from '../passes/pass_manager.js';
import type { ObserverFactory } from './observe.js';
import type { CalibrationOptions, QuantizationOptions, QuantizeGraphOptions } from './quantize.js';

/** Warning code of calibration or quantization options that a compile does not use. */
export const CALIBRATION_IGNORED_WARNING = 'FXRT_CALIBRATION_IGNORED';

const QDQ_OPS = new Set(['quantize_per_tensor', 'quantize_per_channel', 'dequantize']);

/** Whether the acc graph already carries quantize/dequantize ops (explicit quantization). */
export function carriesQdq(gm: GraphModule): boolean {
  for (const n of gm.graph.nodes()) if (QDQ_OPS.has(accOpName(n) ?? '')) return true;
  return false;
}

/** The parts of compile's options that quantization reads. */
export interface CompileQuantizationOptions {
  readonly calibration?: CalibrationOptions;
  readonly quantization?: QuantizationOptions;
  readonly excludeOps?: readonly string[];
}

/** quantizeGraph's options from compile's, observing on `observer` when given. */
export function quantizeOptionsOf(options: CompileQuantizationOptions, observer?: ObserverFactory): QuantizeGraphOptions {
  return {
    ...(options.calibration ? { calibration: options.calibration } : {}),
    ...(options.quantization ? { quantization: options.quantization } : {}),
    ...(options.excludeOps ? { excludeOps: options.excludeOps } : {}),
    ...(observer ? { observer } : {}),
  };
}

/** Warns when calibration or quantization options were given to a compile that does not quantize. */
export function warnUnusedQuantization(precision: BuilderPrecision, options: CompileQuantizationOptions): void {
  if (options.calibration === undefined && options.quantization === undefined) return;
  const why = isQuantizedPrecision(precision)
    ? 'the graph already carries quantize/dequantize ops (explicit quantization), so its own scales are used'
    : `precision is '${precision}'; they apply to precisions 'int8' and 'fp8'`;
  process.emitWarning(`calibration/quantization options ignored: ${why}`, { code: CALIBRATION_IGNORED_WARNING });
}

/**
 * The precision an engine builds with: an int8 (or fp8) compile's part without Q/DQ layers (nothing
 * in it was quantized) builds in its float fallback, since a quantized build needs explicit quantization.
 */
export function enginePrecision(precision: BuilderPrecision, network: NetworkDefinition, int8Fallback: Int8Fallback = 'fp16'): BuilderPrecision {
  if (!isQuantizedPrecision(precision)) return precision;
  return network.layers.some((l) => l.type === 'quantize' || l.type === 'dequantize') ? precision : int8Fallback;
}
