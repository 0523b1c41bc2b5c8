/**
 * Reading a quantization report back from its JSON form (as stored in a saved lowered module),
 * field by field; an error names the field at fault. JSON writes non-finite numbers (a NaN cosine,
 * an infinite relative error) as null: they read back as NaN.
 */
import type { CalibrationMethod } from './calibrator.js';
import type { CalibrationRecord, FloatReasonKind, LayerPrecisionRecord, QuantizationReport } from './report.js';
import type { AccuracyTarget, Agreement, LayerSensitivity } from './sensitivity.js';

const METHODS: readonly CalibrationMethod[] = ['entropy', 'minmax', 'percentile'];
const SOURCES: readonly CalibrationRecord['source'][] = ['data', 'example-inputs', 'cache', 'none'];
const REASONS: readonly FloatReasonKind[] = ['excluded', 'sensitivity', 'unsupported', 'outside-engine'];

function object(v: unknown, where: string): object {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new TypeError(`${where} is not an object`);
  return v;
}

function field(o: unknown, key: string, where: string): unknown {
  return Reflect.get(object(o, where), key);
}

function str(o: unknown, key: string, where: string): string {
  const v = field(o, key, where);
  if (typeof v !== 'string') throw new TypeError(`${where}.${key} is not a string`);
  return v;
}

function num(o: unknown, key: string, where: string): number {
  const v = field(o, key, where);
  if (v === null) return NaN;
  if (typeof v !== 'number') throw new TypeError(`${where}.${key} is not a number`);
  return v;
}

function oneOf<T extends string>(o: unknown, key: string, where: string, choices: readonly T[]): T {
  const v = str(o, key, where);
  const found = choices.find((c) => c === v);
  if (found === undefined) throw new TypeError(`${where}.${key} is '${v}', expected one of ${choices.map((c) => `'${c}'`).join(', ')}`);
  return found;
}

function list<T>(o: unknown, key: string, where: string, item: (v: unknown, where: string) => T): T[] {
  const v = field(o, key, where);
  if (!Array.isArray(v)) throw new TypeError(`${where}.${key} is not a list`);
  return v.map((x: unknown, i) => item(x, `${where}.${key}[${i}]`));
}

function numbers(o: unknown, key: string, where: string): Record<string, number> {
  const v = object(field(o, key, where), `${where}.${key}`);
  const out: Record<string, number> = {};
  for (const k of Object.keys(v)) out[k] = num(v, k, `${where}.${key}`);
  return out;
}

function calibration(v: unknown, where: string): CalibrationRecord {
  return {
    method: oneOf(v, 'method', where, METHODS), params: numbers(v, 'params', where), source: oneOf(v, 'source', where, SOURCES),
    batches: num(v, 'batches', where), where: str(v, 'where', where),
  };
}

function layer(v: unknown, where: string): LayerPrecisionRecord {
  const precision = oneOf(v, 'precision', where, ['int8', 'fp8', 'float'] as const);
  const base = {
    node: str(v, 'node', where), op: str(v, 'op', where), precision,
    quantizedInputs: list(v, 'quantizedInputs', where, (s, w) => {
      if (typeof s !== 'string') throw new TypeError(`${w} is not a string`);
      return s;
    }),
  };
  if (field(v, 'reason', where) === undefined) return base;
  return { ...base, reason: str(v, 'reason', where), reasonKind: oneOf(v, 'reasonKind', where, REASONS) };
}

function agreement(v: unknown, where: string): Agreement {
  return { cosine: num(v, 'cosine', where), relativeError: num(v, 'relativeError', where) };
}

function sensitivity(v: unknown, where: string): LayerSensitivity {
  return { node: str(v, 'node', where), op: str(v, 'op', where), ...agreement(v, where) };
}

function target(v: unknown, where: string): AccuracyTarget {
  const metric = oneOf(v, 'metric', where, ['cosine', 'relativeError'] as const);
  return metric === 'cosine' ? { metric, min: num(v, 'min', where) } : { metric, max: num(v, 'max', where) };
}

function accuracy(v: unknown, where: string): NonNullable<QuantizationReport['accuracy']> {
  const t = field(v, 'target', where);
  return {
    ...(t === undefined ? {} : { target: target(t, `${where}.target`) }),
    allQuantized: agreement(field(v, 'allQuantized', where), `${where}.allQuantized`),
    final: agreement(field(v, 'final', where), `${where}.final`),
  };
}

/**
 * A quantization report from its JSON form, checking every field.
 *
 * @example
 * const report = quantizationReportFromJSON(JSON.parse(JSON.stringify(lowered.quantization)));
 */
export function quantizationReportFromJSON(raw: unknown): QuantizationReport {
  const where = 'quantization';
  const ranked = field(raw, 'sensitivity', where);
  const acc = field(raw, 'accuracy', where);
  // Reports saved before FP8 existed have no format: they are int8.
  const format = field(raw, 'format', where) === undefined ? 'int8' : oneOf(raw, 'format', where, ['int8', 'float8e4m3'] as const);
  return {
    format,
    calibration: calibration(field(raw, 'calibration', where), `${where}.calibration`),
    layers: list(raw, 'layers', where, layer),
    scales: numbers(raw, 'scales', where),
    ...(ranked === undefined ? {} : { sensitivity: list(raw, 'sensitivity', where, sensitivity) }),
    ...(acc === undefined ? {} : { accuracy: accuracy(acc, `${where}.accuracy`) }),
  };
}
