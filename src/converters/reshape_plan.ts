/**
 * Plans a reshape as one shuffle layer when the input may have dynamic dims. A shuffle's reshape
 * can only copy a dim at the same index (entry 0) and infer one entry (-1), so dynamic dims that
 * must survive are lined up by moving size-1 dims out of the way with the two transposes (moving a
 * size-1 dim never reorders elements).
 */
import type { LayerParamsMap } from '../engine/network.js';
import { formatShape } from '../tensor/shape.js';

/** One target dim: a static size, -1 (inferred from the element count), or a copy of input dim `copy`. */
export type ReshapeDim = number | { readonly copy: number };

function isIdentity(perm: readonly number[]): boolean {
  return perm.every((d, i) => d === i);
}

function describeTarget(target: readonly ReshapeDim[]): string {
  return `[${target.map((d) => (typeof d === 'number' ? String(d) : `dim ${d.copy}`)).join(', ')}]`;
}

/**
 * The shuffle that reshapes `inShape` (-1 = dynamic) to `target`, or null when the result is the
 * input itself. Throws an Error saying why when no single shuffle can express it.
 *
 * @example
 * planReshape([-1, 4, 5], [{ copy: 0 }, 20]) // { firstTranspose: null, reshape: [0, 20], secondTranspose: null }
 * planReshape([-1, 4], [1, { copy: 0 }, 4])  // reshape [0, 4, 1], then secondTranspose [2, 0, 1]
 */
export function planReshape(inShape: readonly number[], target: readonly ReshapeDim[]): LayerParamsMap['shuffle'] | null {
  const where = `reshape of ${formatShape(inShape)} to ${describeTarget(target)}`;
  let holes = 0;
  const resolved = target.map((d): ReshapeDim => {
    if (typeof d !== 'number') {
      if (!Number.isInteger(d.copy) || d.copy < 0 || d.copy >= inShape.length) throw new RangeError(`${where}: dim ${d.copy} does not exist`);
      const have = inShape[d.copy]!;
      return have === -1 ? d : have;
    }
    if (d === -1) holes++;
    else if (!Number.isInteger(d) || d < 0) throw new RangeError(`${where}: invalid size ${d}`);
    return d;
  });
  if (holes > 1) throw new RangeError(`${where}: only one size can be -1`);
  if (!inShape.includes(-1)) return staticPlan(inShape, resolved.map((d) => d as number), where);
  if (resolved.some((d) => d === 0)) throw new RangeError(`${where}: a zero-size dim cannot be requested from a dynamic shape`);

  const inKeep: number[] = [];
  const inOnes: number[] = [];
  inShape.forEach((d, i) => (d === 1 ? inOnes : inKeep).push(i));
  const outKeep: number[] = [];
  const outOnes: number[] = [];
  resolved.forEach((d, p) => (d === 1 ? outOnes : outKeep).push(p));

  const reshape: number[] = [];
  const copied = new Set<number>();
  outKeep.forEach((p, k) => {
    const d = resolved[p]!;
    if (typeof d === 'number') {
      reshape.push(d);
      return;
    }
    if (inKeep[k] !== d.copy) {
      throw new RangeError(`${where}: dynamic dim ${d.copy} would have to move to position ${p}, which a shuffle cannot express`);
    }
    copied.add(d.copy);
    reshape.push(0);
  });
  for (const i of inKeep) {
    if (inShape[i] === -1 && !copied.has(i) && holes === 0) {
      throw new RangeError(`${where}: dynamic dim ${i} is neither kept in place nor absorbed by a -1 size`);
    }
  }
  for (let m = 0; m < outOnes.length; m++) reshape.push(1);
  const first = [...inKeep, ...inOnes];
  const second = new Array<number>(resolved.length);
  outKeep.forEach((p, k) => { second[p] = k; });
  outOnes.forEach((p, m) => { second[p] = outKeep.length + m; });
  const trivial = isIdentity(first) && isIdentity(second) && reshape.length === inShape.length && reshape.every((d, i) => d === 0 || d === inShape[i]);
  if (trivial) return null;
  return { firstTranspose: isIdentity(first) ? null : first, reshape, secondTranspose: isIdentity(second) ? null : second };
}

function staticPlan(inShape: readonly number[], target: readonly number[], where: string): LayerParamsMap['shuffle'] | null {
  let numel = 1;
  for (const d of inShape) numel *= d;
  let known = 1;
  for (const d of target) if (d !== -1) known *= d;
  const out = target.map((d) => {
    if (d !== -1) return d;
    if (known === 0 || numel % known !== 0) throw new RangeError(`${where}: ${numel} elements do not divide into ${known}`);
    return numel / known;
  });
  if (!target.includes(-1) && known !== numel) throw new RangeError(`${where}: ${numel} elements cannot take the shape`);
  if (out.length === inShape.length && out.every((d, i) => d === inShape[i])) return null;
  // A literal 0 in a shuffle reshape means "copy"; an empty target dim is requested through -1.
  if (out.includes(0)) {
    const zeros = out.filter((d) => d === 0).length;
    if (zeros > 1 || target.includes(-1)) throw new RangeError(`${where}: several empty dims cannot be requested through a shuffle`);
    return { firstTranspose: null, reshape: out.map((d) => (d === 0 ? -1 : d)), secondTranspose: null };
  }
  return { firstTranspose: null, reshape: out, secondTranspose: null };
}
