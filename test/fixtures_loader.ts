// Decodes the golden fixtures written by scripts/gen_fixtures.py (see its docstring for the format).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Kwargs } from '../src/ir/signature.js';
import { isDType, type DType } from '../src/tensor/dtype.js';
import { Tensor, type QuantParams } from '../src/tensor/tensor.js';

/** What an acc op returns, as recorded by PyTorch: one tensor, a tuple of tensors, an int or a list of ints. */
export type GoldenValue = Tensor | readonly Tensor[] | number | readonly number[];

/** One call of an acc op with its PyTorch result and the tolerance for float outputs. */
export interface GoldenCase {
  readonly name: string;
  readonly kwargs: Kwargs;
  readonly expected: GoldenValue;
  /** Allowed max|ours - golden| is rtol * max|golden| + atol; integer and bool outputs are always exact. */
  readonly rtol: number;
  readonly atol: number;
}

/** The cases of one acc op (one JSON file). */
export interface GoldenFixture {
  readonly op: string;
  readonly torchVersion: string;
  readonly file: string;
  readonly cases: readonly GoldenCase[];
}

interface TensorRecord {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly bytes: Uint8Array;
  readonly qparams: QuantParams | undefined;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * Every `*.json` fixture in `dir`, sorted by op name.
 *
 * @example
 * for (const fx of loadFixtures('test/fixtures/acc_ops')) console.log(fx.op, fx.cases.length);
 */
export function loadFixtures(dir: string): GoldenFixture[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => loadFixture(join(dir, f)));
}

/** Reads and decodes one fixture file; errors name the file (and case) at fault. */
export function loadFixture(path: string): GoldenFixture {
  let json: Json;
  try {
    json = JSON.parse(readFileSync(path, 'utf8')) as Json;
  } catch (e) {
    throw new Error(`${path}: not valid JSON (${(e as Error).message})`);
  }
  return decodeFixture(json, path);
}

/**
 * Decodes a parsed fixture. Every `{"tensor": i}` reference becomes a fresh Tensor over its own
 * copy of the bytes, so a kernel that wrongly mutates an input cannot affect another case.
 */
export function decodeFixture(json: Json, file: string): GoldenFixture {
  const root = asObject(json, file);
  const op = asString(root['op'], `${file}: "op"`);
  const torchVersion = asString(root['torch_version'], `${file}: "torch_version"`);
  const records = asArray(root['tensors'], `${file}: "tensors"`).map((t, i) => decodeTensorRecord(t, `${file}: tensors[${i}]`));
  const cases = asArray(root['cases'], `${file}: "cases"`).map((c, i) => {
    const obj = asObject(c, `${file}: cases[${i}]`);
    const name = asString(obj['name'], `${file}: cases[${i}].name`);
    const where = `${file}: case '${name}'`;
    const kwargs: Kwargs = {};
    for (const [k, v] of Object.entries(asObject(obj['kwargs'], `${where}: kwargs`))) {
      kwargs[k] = decodeValue(v, records, `${where}: kwargs.${k}`);
    }
    return {
      name,
      kwargs,
      expected: decodeExpected(obj['expected'] ?? null, records, `${where}: expected`),
      rtol: asNumber(obj['rtol'], `${where}: rtol`),
      atol: asNumber(obj['atol'], `${where}: atol`),
    };
  });
  return { op, torchVersion, file, cases };
}

/** A kwarg: JSON scalars and lists as they are, tensor references as Tensors, non-finite floats as numbers. */
function decodeValue(v: Json, records: readonly TensorRecord[], where: string): unknown {
  if (Array.isArray(v)) return v.map((x, i) => decodeValue(x, records, `${where}[${i}]`));
  if (v !== null && typeof v === 'object') {
    if ('tensor' in v) return tensorAt(v['tensor'] ?? null, records, where);
    if ('float' in v) return specialFloat(v['float'] ?? null, where);
    throw new Error(`${where}: expected {"tensor": i} or {"float": ...}, got keys ${Object.keys(v).join(', ')}`);
  }
  return v;
}

function decodeExpected(v: Json, records: readonly TensorRecord[], where: string): GoldenValue {
  const value = decodeValue(v, records, where);
  if (value instanceof Tensor || typeof value === 'number') return value;
  if (Array.isArray(value)) {
    if (value.every((x): x is Tensor => x instanceof Tensor)) return value;
    if (value.every((x): x is number => typeof x === 'number')) return value;
  }
  throw new Error(`${where}: expected a tensor, a list of tensors, an int or a list of ints`);
}

function tensorAt(ref: Json, records: readonly TensorRecord[], where: string): Tensor {
  if (typeof ref !== 'number' || !Number.isInteger(ref) || ref < 0 || ref >= records.length) {
    throw new Error(`${where}: tensor reference ${JSON.stringify(ref)} is not an index below ${records.length}`);
  }
  const r = records[ref]!;
  const t = Tensor.fromBytes(r.bytes.slice(), r.shape, r.dtype);
  if (r.qparams) t.qparams = copyQParams(r.qparams);
  return t;
}

function copyQParams(q: QuantParams): QuantParams {
  const base = { scale: q.scale.slice(), zeroPoint: q.zeroPoint.slice() };
  return q.axis === undefined ? base : { ...base, axis: q.axis };
}

function specialFloat(v: Json, where: string): number {
  switch (v) {
    case 'nan': return Number.NaN;
    case 'inf': return Number.POSITIVE_INFINITY;
    case '-inf': return Number.NEGATIVE_INFINITY;
    default: throw new Error(`${where}: {"float": ...} must be "nan", "inf" or "-inf", got ${JSON.stringify(v)}`);
  }
}

function decodeTensorRecord(json: Json, where: string): TensorRecord {
  const obj = asObject(json, where);
  const dtype = obj['dtype'];
  if (!isDType(dtype)) throw new Error(`${where}: unknown dtype ${JSON.stringify(dtype)}`);
  const shape = asArray(obj['shape'], `${where}.shape`).map((d, i) => {
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 0) throw new Error(`${where}.shape[${i}]: expected a size, got ${JSON.stringify(d)}`);
    return d;
  });
  const bytes = new Uint8Array(Buffer.from(asString(obj['data'], `${where}.data`), 'base64'));
  const q = obj['qparams'];
  return { dtype, shape, bytes, qparams: q === undefined ? undefined : decodeQParams(q, `${where}.qparams`) };
}

function decodeQParams(json: Json, where: string): QuantParams {
  const obj = asObject(json, where);
  const scale = Float32Array.from(asArray(obj['scale'], `${where}.scale`).map((s, i) => asNumber(s, `${where}.scale[${i}]`)));
  const zeroPoint = Int32Array.from(asArray(obj['zero_point'], `${where}.zero_point`).map((z, i) => asNumber(z, `${where}.zero_point[${i}]`)));
  if (scale.length !== zeroPoint.length) throw new Error(`${where}: ${scale.length} scales but ${zeroPoint.length} zero points`);
  const axis = obj['axis'] ?? null;
  if (axis === null) return { scale, zeroPoint };
  return { scale, zeroPoint, axis: asNumber(axis, `${where}.axis`) };
}

function asObject(v: Json | undefined, where: string): { [key: string]: Json } {
  if (v === null || v === undefined || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${where}: expected an object`);
  return v;
}

function asArray(v: Json | undefined, where: string): Json[] {
  if (!Array.isArray(v)) throw new Error(`${where}: expected a list`);
  return v;
}

function asString(v: Json | undefined, where: string): string {
  if (typeof v !== 'string') throw new Error(`${where}: expected a string, got ${JSON.stringify(v)}`);
  return v;
}

function asNumber(v: Json | undefined, where: string): number {
  if (typeof v !== 'number') throw new Error(`${where}: expected a number, got ${JSON.stringify(v)}`);
  return v;
}
