/**
 * Shape ranges for engine inputs. The user gives min/opt/max shapes for the model's inputs; an
 * engine of a split model may also take intermediate values, whose ranges follow from running
 * the graph at the min, opt and max input shapes and comparing each value's shape: dims that
 * differ are dynamic (-1) with the observed range, the others static.
 */
import type { ShapeRange } from '../engine/network.js';
import type { InputSpec } from '../converters/network_interpreter.js';
import type { GraphModule } from '../ir/graph_module.js';
import { Interpreter } from '../ir/interpreter.js';
import type { AnyNode } from '../ir/node.js';
import type { DType } from '../tensor/dtype.js';
import { formatShape } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import type { ModelInputSpec } from './input_check.js';

/** The min/opt/max shapes of one model input (every dim given; equal values keep a dim static). */
export interface InputShapeRange {
  readonly min: readonly number[];
  readonly opt: readonly number[];
  readonly max: readonly number[];
}

/** Raised for shape ranges that are malformed or exclude the example input; names the input. */
export class InputSpecError extends Error {
  override name = 'InputSpecError';
}

/**
 * The model's input specs from the example inputs and the user's optional ranges: a range must
 * have the example's rank, satisfy min ≤ opt ≤ max, and contain the example's shape.
 *
 * @example
 * modelInputSpecs(['x'], [x], [{ min: [1, 3, 64, 64], opt: [4, 3, 64, 64], max: [8, 3, 64, 64] }]);
 */
export function modelInputSpecs(names: readonly string[], examples: readonly Tensor[], ranges: readonly (InputShapeRange | null | undefined)[] | undefined): ModelInputSpec[] {
  if (ranges !== undefined && ranges.length !== names.length) {
    throw new InputSpecError(`inputSpecs has ${ranges.length} entr${ranges.length === 1 ? 'y' : 'ies'}, the model has ${names.length} input(s) (${names.join(', ')})`);
  }
  return names.map((name, i) => {
    const x = examples[i]!;
    const shape = x.shape;
    const r = ranges?.[i];
    if (!r) return { name, dtype: x.dtype, shape, profile: { min: shape, opt: shape, max: shape } };
    const what = `inputSpecs[${i}] ('${name}')`;
    for (const [key, dims] of [['min', r.min], ['opt', r.opt], ['max', r.max]] as const) {
      if (dims.length !== shape.length) throw new InputSpecError(`${what}: ${key} ${formatShape(dims)} has rank ${dims.length}, the example input has rank ${shape.length} ${formatShape(shape)}`);
    }
    shape.forEach((d, k) => {
      const [lo, opt, hi] = [r.min[k]!, r.opt[k]!, r.max[k]!];
      if (!(Number.isInteger(lo) && Number.isInteger(opt) && Number.isInteger(hi) && 0 <= lo && lo <= opt && opt <= hi)) {
        throw new InputSpecError(`${what}: dim ${k} needs integers 0 <= min <= opt <= max, got ${lo} / ${opt} / ${hi}`);
      }
      if (d < lo || d > hi) throw new InputSpecError(`${what}: the example input's dim ${k} is ${d}, outside the range ${lo}..${hi}`);
    });
    return {
      name, dtype: x.dtype,
      shape: shape.map((_, k) => (r.min[k] === r.max[k] ? r.min[k]! : -1)),
      profile: { min: [...r.min], opt: [...r.opt], max: [...r.max] },
    };
  });
}

/** Whether any model input has a dim that varies. */
export function isDynamic(specs: readonly ModelInputSpec[]): boolean {
  return specs.some((s) => s.shape.some((d) => d === -1));
}

/** Records the shape of every tensor value while running. */
class ShapeRecorder extends Interpreter {
  readonly shapes = new Map<string, readonly number[]>();
  override runNode(n: AnyNode): unknown {
    const v = super.runNode(n);
    if (v instanceof Tensor) this.shapes.set(n.name, v.shape);
    return v;
  }
}

function shapesAt(gm: GraphModule, specs: readonly ModelInputSpec[], pick: (r: ShapeRange) => readonly number[]): Map<string, readonly number[]> {
  const rec = new ShapeRecorder(gm);
  // Placeholders are bound by run() without runNode: record them from the specs.
  specs.forEach((s) => rec.shapes.set(s.name, pick(s.profile)));
  rec.run(...specs.map((s) => Tensor.zeros(pick(s.profile), s.dtype)));
  return rec.shapes;
}

/**
 * Engine input specs for the values an acc part takes: static from their traced metadata when
 * the model's inputs are static, else with ranges observed at the min, opt and max input shapes.
 *
 * @example
 * const specsOf = engineInputSpecs(optimized, modelSpecs);
 * new NetworkInterpreter(part.module, specsOf(part.inputs, dtypes));
 */
export function engineInputSpecs(gm: GraphModule, specs: readonly ModelInputSpec[]): (names: readonly string[], dtypes: readonly DType[]) => InputSpec[] {
  const meta = new Map<string, readonly number[]>();
  for (const n of gm.graph.nodes()) {
    const m = n.meta.tensorMeta;
    if (m !== null && typeof m === 'object' && !Array.isArray(m) && 'shape' in m) meta.set(n.name, m.shape);
  }
  if (!isDynamic(specs)) {
    return (names, dtypes) => names.map((name, i) => ({ shape: shapeOf(meta, name), dtype: dtypes[i]! }));
  }
  const lo = shapesAt(gm, specs, (r) => r.min);
  const opt = shapesAt(gm, specs, (r) => r.opt);
  const hi = shapesAt(gm, specs, (r) => r.max);
  return (names, dtypes) => names.map((name, i) => {
    const a = shapeOf(lo, name);
    const b = shapeOf(opt, name);
    const c = shapeOf(hi, name);
    const min = a.map((d, k) => Math.min(d, b[k]!, c[k]!));
    const max = a.map((d, k) => Math.max(d, b[k]!, c[k]!));
    const shape = min.map((d, k) => (d === max[k] ? d : -1));
    if (shape.every((d) => d !== -1)) return { shape, dtype: dtypes[i]! };
    return { shape, dtype: dtypes[i]!, shapeRanges: { min, opt: [...b], max } };
  });
}

function shapeOf(shapes: ReadonlyMap<string, readonly number[]>, name: string): readonly number[] {
  const s = shapes.get(name);
  if (!s) throw new InputSpecError(`engine input '${name}' has no known shape (it is not a tensor, or did not run)`);
  return s;
}
