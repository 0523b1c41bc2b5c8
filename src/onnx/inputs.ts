/**
 * Graph inputs: their element types and shapes, with symbolic dims (dim_param, or no dim_value)
 * resolved to min/opt/max ranges. The graph is built at the opt shape; the ranges travel with the
 * imported module (`inputSpecs`) for engines built with dynamic shapes.
 */
import type { DType } from '../tensor/dtype.js';
import { onnxTypeInfo, onnxTypeName } from './dtypes.js';
import { OnnxError } from './errors.js';
import type { ValueInfoProto } from './proto/onnx_model_pb.js';

/** A range of sizes for one dynamic dim. */
export interface DimRange {
  readonly min: number;
  readonly opt: number;
  readonly max: number;
}

/** Min/opt/max shapes of one input (the same structure the converters' InputSpec takes). */
export interface ShapeRanges {
  readonly min: readonly number[];
  readonly opt: readonly number[];
  readonly max: readonly number[];
}

/**
 * One graph input of an imported model: `shape` has -1 for dynamic dims, which `shapeRanges`
 * bounds (absent when every dim is static). Structurally the converters' InputSpec, plus names.
 */
export interface OnnxInputSpec {
  /** The ONNX input name. */
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly shapeRanges?: ShapeRanges;
  /** The symbolic name of each dim (dim_param), null for fixed or unnamed dims. */
  readonly dimNames: readonly (string | null)[];
}

/** The range a symbolic dim gets when neither `inputShapes` nor `dims` says otherwise. */
export const DEFAULT_DIM_RANGE: DimRange = { min: 1, opt: 1, max: 64 };

/** How the user fixes or bounds input shapes at import. */
export interface InputShapeOptions {
  /** Per input name: a static shape, or min/opt/max shapes. Wins over `dims`. */
  readonly inputShapes?: Readonly<Record<string, readonly number[] | ShapeRanges>>;
  /** Per symbolic dim name (dim_param, e.g. 'batch_size'): a fixed size or a range. */
  readonly dims?: Readonly<Record<string, number | DimRange>>;
  /** The range of symbolic dims not named in `dims` (default DEFAULT_DIM_RANGE). */
  readonly defaultDimRange?: DimRange;
}

/** A dim of a declared input: fixed, or symbolic (named or not). */
export type DeclaredDim = number | { readonly param: string | null };

/** Element type and declared dims of an input; throws for non-tensor or unsupported types. */
export function declaredInput(v: ValueInfoProto): { dtype: DType; dims: DeclaredDim[] } {
  const where = { tensor: v.name };
  const t = v.type?.value;
  if (t === undefined || t.case !== 'tensorType') throw new OnnxError(`graph input is not a tensor (sequence, map and optional inputs are not supported)`, where);
  const info = onnxTypeInfo(t.value.elemType);
  if (!info) throw new OnnxError(`graph input has element type ${onnxTypeName(t.value.elemType)}, which is not supported`, where);
  const shape = t.value.shape;
  if (shape === undefined) throw new OnnxError(`graph input has no shape (its rank is unknown); give it a shape in the model`, where);
  const dims: DeclaredDim[] = shape.dim.map((d) => {
    if (d.value.case === 'dimValue') {
      if (d.value.value < 0n || d.value.value > 2n ** 31n) throw new OnnxError(`graph input has invalid dim ${d.value.value}`, where);
      return Number(d.value.value);
    }
    return { param: d.value.case === 'dimParam' && d.value.value !== '' ? d.value.value : null };
  });
  return { dtype: info.dtype, dims };
}

function checkRange(r: DimRange, what: string, input: string): DimRange {
  const ok = [r.min, r.opt, r.max].every((x) => Number.isInteger(x) && x >= 0) && r.min <= r.opt && r.opt <= r.max;
  if (!ok) throw new OnnxError(`${what}: expected integers with 0 <= min <= opt <= max, got {min: ${r.min}, opt: ${r.opt}, max: ${r.max}}`, { tensor: input });
  return r;
}

/** The range of each dim of one input, from the user's options and the declared dims. */
export function resolveInputDims(name: string, dims: readonly DeclaredDim[], opts: InputShapeOptions): DimRange[] {
  const override = opts.inputShapes?.[name];
  if (override !== undefined) {
    const ranges = Array.isArray(override)
      ? (override as readonly number[]).map((d) => ({ min: d, opt: d, max: d }))
      : (() => {
        const r = override as ShapeRanges;
        if (r.min.length !== r.opt.length || r.max.length !== r.opt.length) throw new OnnxError(`inputShapes: min, opt and max must have the same rank`, { tensor: name });
        return r.opt.map((o, i) => ({ min: r.min[i]!, opt: o, max: r.max[i]! }));
      })();
    if (ranges.length !== dims.length) throw new OnnxError(`inputShapes gives rank ${ranges.length}, but the model declares rank ${dims.length}`, { tensor: name });
    ranges.forEach((r, i) => {
      checkRange(r, `inputShapes dim ${i}`, name);
      const d = dims[i]!;
      if (typeof d === 'number' && (r.min !== d || r.max !== d)) throw new OnnxError(`inputShapes dim ${i} must be ${d} (fixed in the model), got ${r.min}..${r.max}`, { tensor: name });
    });
    return ranges;
  }
  return dims.map((d) => {
    if (typeof d === 'number') return { min: d, opt: d, max: d };
    const given = d.param === null ? undefined : opts.dims?.[d.param];
    if (typeof given === 'number') return checkRange({ min: given, opt: given, max: given }, `dims['${d.param}']`, name);
    return checkRange(given ?? opts.defaultDimRange ?? DEFAULT_DIM_RANGE, d.param === null ? 'defaultDimRange' : `dims['${d.param}']`, name);
  });
}

/** The spec of an input from its per-dim ranges. */
export function inputSpecOf(name: string, dtype: DType, ranges: readonly DimRange[], dims: readonly DeclaredDim[]): OnnxInputSpec {
  const dynamic = ranges.some((r) => r.min !== r.max);
  const dimNames = dims.map((d) => (typeof d === 'number' ? null : d.param));
  if (!dynamic) return { name, shape: ranges.map((r) => r.opt), dtype, dimNames };
  return {
    name, dtype, dimNames,
    shape: ranges.map((r) => (r.min === r.max ? r.opt : -1)),
    shapeRanges: { min: ranges.map((r) => r.min), opt: ranges.map((r) => r.opt), max: ranges.map((r) => r.max) },
  };
}
