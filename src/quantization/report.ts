/**
 * The quantization report: how the thresholds were obtained, which layers run in int8 and which
 * stayed in float and why, the activation scales, and the sensitivity analysis when it ran.
 */
import type { CalibrationMethod } from './calibrator.js';
import type { QuantFormat } from './scales.js';
import { formatAgreement, type AccuracyTarget, type Agreement, type LayerSensitivity } from './sensitivity.js';

/** Why a layer stayed in float. */
export type FloatReasonKind =
  /** quantization.exclude names it. */
  | 'excluded'
  /** The accuracy target needed it in float. */
  | 'sensitivity'
  /** It has no int8 form (op, dtype or operand kinds). */
  | 'unsupported'
  /** It runs on the interpreter, outside the engines (excludeOps or no converter). */
  | 'outside-engine';

/** One layer's precision. */
export interface LayerPrecisionRecord {
  /** Node name in the acc graph. */
  readonly node: string;
  /** The acc op ('conv2d', 'add', ...). */
  readonly op: string;
  readonly precision: 'int8' | 'fp8' | 'float';
  /** Float layers: why, in words ('excluded by the user', 'sensitivity: cosine 0.9312 when quantized', ...). */
  readonly reason?: string;
  readonly reasonKind?: FloatReasonKind;
  /** Int8 layers: the tensors it reads through Q/DQ (activations per tensor, weights per channel). */
  readonly quantizedInputs: readonly string[];
}

/** Where the activation thresholds came from. */
export interface CalibrationRecord {
  readonly method: CalibrationMethod;
  readonly params: Readonly<Record<string, number>>;
  /**
   * 'data': calibration.data; 'example-inputs': compile's example inputs; 'cache': a calibration
   * cache, without running the model; 'none': no layer needed an activation threshold.
   */
  readonly source: 'data' | 'example-inputs' | 'cache' | 'none';
  /** Batches the thresholds were calibrated on. */
  readonly batches: number;
  /** Where the float model ran ('the reference interpreter', ...), or 'cache' / 'none'. */
  readonly where: string;
}

/** What quantizing a graph did. */
export interface QuantizationReport {
  /** What the quantized layers run in: int8, or FP8 (float8e4m3, precision 'fp8'). */
  readonly format: QuantFormat;
  readonly calibration: CalibrationRecord;
  /** Every layer int8 could run, in graph order. */
  readonly layers: readonly LayerPrecisionRecord[];
  /** Activation scales by tensor name (amax / 127; FP8: amax / 448). */
  readonly scales: Readonly<Record<string, number>>;
  /** Per layer, the agreement with fp32 with only it quantized, worst first (when the analysis ran). */
  readonly sensitivity?: readonly LayerSensitivity[];
  /** The accuracy target, the agreement with every candidate layer quantized, and the final one. */
  readonly accuracy?: { readonly target?: AccuracyTarget; readonly allQuantized: Agreement; readonly final: Agreement };
}

/**
 * A readable summary of a quantization report.
 * @example
 * console.log(formatQuantizationReport(report));
 */
export function formatQuantizationReport(r: QuantizationReport): string {
  const c = r.calibration;
  const quantized = r.layers.filter((l) => l.precision !== 'float').length;
  const from = c.source === 'none' ? 'nothing to calibrate'
    : c.source === 'cache' ? `${c.method} thresholds from the calibration cache`
      : `${c.method} thresholds from ${c.batches} batch(es) of ${c.source === 'data' ? 'calibration data' : 'the example inputs'} on ${c.where}`;
  const lines = [`${r.format === 'float8e4m3' ? 'fp8' : 'int8'}: ${quantized} of ${r.layers.length} layer(s) quantized; ${from}`];
  for (const l of r.layers) if (l.precision === 'float') lines.push(`  float ${l.node} (${l.op}): ${l.reason ?? ''}`);
  if (r.accuracy) {
    const a = r.accuracy;
    lines.push(`accuracy: all quantized ${formatAgreement(a.allQuantized)}; final ${formatAgreement(a.final)}`);
  }
  return lines.join('\n');
}
