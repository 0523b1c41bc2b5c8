/**
 * The inputs a lowered module accepts: per model input, its dtype, its shape (-1 where the
 * optimization profile lets a dim vary) and the min/max range; checked before anything runs, so
 * an error names the model's input rather than an inner part's.
 */
import type { ShapeRange } from '../engine/network.js';
import { isDType, type DType } from '../tensor/dtype.js';
import { formatShape } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';

/** One model input of a lowered module. */
export interface ModelInputSpec {
  readonly name: string;
  readonly dtype: DType;
  /** -1 for dims that vary within the profile. */
  readonly shape: readonly number[];
  readonly profile: ShapeRange;
}

/** A call's inputs do not match the lowered module's inputs; the message names the input. */
export class InputMismatchError extends Error {
  override name = 'InputMismatchError';
}

/**
 * Checks the count, dtypes, ranks and dims (within the profile) of a call's inputs.
 *
 * @example
 * checkModelInputs(specs, [x]); // InputMismatchError: input 0 ('x') must be float32, got float16
 */
export function checkModelInputs(specs: readonly ModelInputSpec[], inputs: readonly unknown[]): asserts inputs is readonly Tensor[] {
  if (inputs.length !== specs.length) {
    throw new InputMismatchError(`the lowered module expects ${specs.length} input(s) (${specs.map((s) => `'${s.name}'`).join(', ')}), got ${inputs.length}`);
  }
  specs.forEach((spec, i) => {
    const t = inputs[i];
    const what = `input ${i} ('${spec.name}')`;
    if (!(t instanceof Tensor)) throw new InputMismatchError(`${what} must be a Tensor, got ${t === null ? 'null' : typeof t}`);
    if (t.dtype !== spec.dtype) throw new InputMismatchError(`${what} must be ${spec.dtype}, got ${t.dtype}`);
    const shape = t.shape;
    if (shape.length !== spec.shape.length) {
      throw new InputMismatchError(`${what} must have rank ${spec.shape.length} ${formatShape(spec.shape)}, got rank ${shape.length} ${formatShape(shape)}`);
    }
    const { min, max } = spec.profile;
    for (let d = 0; d < shape.length; d++) {
      if (shape[d]! < min[d]! || shape[d]! > max[d]!) {
        const allowed = min[d] === max[d] ? `${min[d]}` : `${min[d]}..${max[d]}`;
        throw new InputMismatchError(`${what} has shape ${formatShape(shape)} outside the optimization profile: dim ${d} is ${shape[d]}, expected ${allowed} (min ${formatShape(min)}, max ${formatShape(max)})`);
      }
    }
  });
}

function intList(v: unknown, what: string): number[] {
  if (!Array.isArray(v) || !v.every((d) => Number.isInteger(d))) throw new TypeError(`${what} is not a list of integers`);
  return v;
}

/**
 * Validates input specs read back from a saved module (JSON) and returns them typed.
 *
 * @example
 * const specs = decodeInputSpecs(JSON.parse(text).inputs);
 */
export function decodeInputSpecs(raw: unknown): ModelInputSpec[] {
  if (!Array.isArray(raw)) throw new TypeError(`'inputs' is not a list`);
  return raw.map((entry: unknown, i) => {
    const what = `input spec ${i}`;
    if (entry === null || typeof entry !== 'object') throw new TypeError(`${what} is not an object`);
    const name: unknown = Reflect.get(entry, 'name');
    const dtype: unknown = Reflect.get(entry, 'dtype');
    const profile: unknown = Reflect.get(entry, 'profile');
    if (typeof name !== 'string') throw new TypeError(`${what} has no name`);
    if (!isDType(dtype)) throw new TypeError(`${what} ('${name}') has an unknown dtype`);
    if (profile === null || typeof profile !== 'object') throw new TypeError(`${what} ('${name}') has no profile`);
    const shape = intList(Reflect.get(entry, 'shape'), `${what}.shape`);
    const range = {
      min: intList(Reflect.get(profile, 'min'), `${what}.profile.min`),
      opt: intList(Reflect.get(profile, 'opt'), `${what}.profile.opt`),
      max: intList(Reflect.get(profile, 'max'), `${what}.profile.max`),
    };
    if (range.min.length !== shape.length || range.opt.length !== shape.length || range.max.length !== shape.length) {
      throw new TypeError(`${what} ('${name}'): profile ranks differ from the shape's`);
    }
    return { name, dtype, shape, profile: range };
  });
}
