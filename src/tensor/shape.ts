/** Shape arithmetic shared by tensors, kernels and shape inference. */

export type Shape = readonly number[];

export function numelOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function contiguousStrides(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

/** Normalizes a possibly negative dim against `rank`; `what` names the caller in the error. */
export function normDim(dim: number, rank: number, what = 'dim'): number {
  const r = Math.max(rank, 1);
  if (!Number.isInteger(dim) || dim < -r || dim >= r) {
    throw new RangeError(`${what} ${dim} is out of range for a tensor of rank ${rank} (expected ${-r}..${r - 1})`);
  }
  return dim < 0 ? dim + r : dim;
}

/** NumPy/PyTorch broadcasting of two shapes; throws naming both shapes when they do not broadcast. */
export function broadcastShapes(a: Shape, b: Shape): number[] {
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new RangeError(`shapes [${a.join(', ')}] and [${b.join(', ')}] do not broadcast (dim ${i}: ${da} vs ${db})`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

export function shapesEqual(a: Shape, b: Shape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function formatShape(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

/** Resolves a single -1 in a target shape for a reshape of `numel` elements. */
export function inferReshape(target: readonly number[], numel: number): number[] {
  let known = 1;
  let hole = -1;
  for (let i = 0; i < target.length; i++) {
    const d = target[i]!;
    if (d === -1) {
      if (hole >= 0) throw new RangeError(`reshape: only one dimension can be -1, got [${target.join(', ')}]`);
      hole = i;
    } else if (!Number.isInteger(d) || d < 0) {
      throw new RangeError(`reshape: invalid size ${d} in [${target.join(', ')}]`);
    } else known *= d;
  }
  const out = [...target];
  if (hole >= 0) {
    if (known === 0 || numel % known !== 0) {
      throw new RangeError(`reshape: shape [${target.join(', ')}] is invalid for input of size ${numel}`);
    }
    out[hole] = numel / known;
  } else if (known !== numel) {
    throw new RangeError(`reshape: shape [${target.join(', ')}] is invalid for input of size ${numel}`);
  }
  return out;
}
