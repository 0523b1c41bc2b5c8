/**
 * Activation memory planning: values whose lifetimes do not overlap share arena bytes.
 *
 * Steps run in a fixed (topological) order, so a value is live from the step that writes it to
 * the last step that reads it, both inclusive. Walking the steps in order, each step's outputs
 * are placed (greedy best fit: the smallest free block that fits, else the end of the arena)
 * while its inputs are still live, then the values it read for the last time are released and
 * merged with free neighbours. Every size and offset is a multiple of the alignment.
 */

/** One value to place: `size` bytes, live over steps [def, lastUse]. */
export interface MemoryRequest {
  readonly id: number;
  readonly size: number;
  readonly def: number;
  readonly lastUse: number;
}

/** Where one value lives in the arena. */
export interface MemoryAssignment {
  readonly id: number;
  readonly offset: number;
  /** The aligned size reserved for the value. */
  readonly size: number;
}

/** A memory plan: every value's slot and the arena size. */
export interface MemoryPlanResult {
  readonly assignments: ReadonlyMap<number, MemoryAssignment>;
  /** Arena bytes needed. */
  readonly arenaSize: number;
  /** Sum of the aligned sizes: the arena without any sharing. */
  readonly unsharedSize: number;
  readonly alignment: number;
}

/** Default arena alignment, in bytes (what CUDA allocations guarantee). */
export const ARENA_ALIGNMENT = 256;

interface Block {
  offset: number;
  size: number;
}

/**
 * Places every request in one arena so that no two values live at the same step overlap.
 * @example
 * // a chain a -> b -> c: c reuses a's bytes
 * planMemory([{ id: 0, size: 100, def: 0, lastUse: 1 }, { id: 1, size: 100, def: 1, lastUse: 2 },
 *             { id: 2, size: 100, def: 2, lastUse: 3 }]).arenaSize // 512
 */
export function planMemory(requests: readonly MemoryRequest[], alignment = ARENA_ALIGNMENT): MemoryPlanResult {
  if (!Number.isInteger(alignment) || alignment < 1) throw new RangeError(`planMemory: alignment must be a positive integer, got ${alignment}`);
  for (const r of requests) {
    if (!Number.isInteger(r.size) || r.size < 0 || !Number.isInteger(r.def) || !(r.lastUse >= r.def)) {
      throw new RangeError(`planMemory: value ${r.id} has an invalid request (size ${r.size}, live ${r.def}..${r.lastUse})`);
    }
  }
  // Deterministic order: by definition step, larger values first within a step (they fit worst).
  const byDef = [...requests].sort((a, b) => a.def - b.def || b.size - a.size || a.id - b.id);
  const byEnd = [...requests].sort((a, b) => a.lastUse - b.lastUse || a.id - b.id);
  const assignments = new Map<number, MemoryAssignment>();
  const free: Block[] = []; // sorted by offset, never adjacent (merged on release)
  let arenaSize = 0;
  let unsharedSize = 0;
  let d = 0;
  let e = 0;
  while (d < byDef.length || e < byEnd.length) {
    const step = Math.min(byDef[d]?.def ?? Infinity, byEnd[e]?.lastUse ?? Infinity);
    for (; d < byDef.length && byDef[d]!.def === step; d++) {
      const r = byDef[d]!;
      const size = alignUp(r.size, alignment);
      unsharedSize += size;
      let offset = 0;
      if (size > 0) {
        offset = takeBestFit(free, size);
        if (offset < 0) {
          // Grow the arena, starting inside a free block that ends at the arena's end.
          const last = free[free.length - 1];
          if (last && last.offset + last.size === arenaSize) {
            free.pop();
            offset = last.offset;
          } else offset = arenaSize;
          arenaSize = offset + size;
        }
      }
      assignments.set(r.id, { id: r.id, offset, size });
    }
    for (; e < byEnd.length && byEnd[e]!.lastUse === step; e++) {
      const a = assignments.get(byEnd[e]!.id)!;
      if (a.size > 0) release(free, a.offset, a.size);
    }
  }
  return { assignments, arenaSize, unsharedSize, alignment };
}

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

/** Offset of the smallest free block of at least `size` bytes (taken from its start), or -1. */
function takeBestFit(free: Block[], size: number): number {
  let best = -1;
  for (let i = 0; i < free.length; i++) {
    const b = free[i]!;
    if (b.size >= size && (best < 0 || b.size < free[best]!.size)) best = i;
  }
  if (best < 0) return -1;
  const b = free[best]!;
  const offset = b.offset;
  if (b.size === size) free.splice(best, 1);
  else {
    b.offset += size;
    b.size -= size;
  }
  return offset;
}

/** Returns [offset, offset+size) to the free list, merging it with adjacent free blocks. */
function release(free: Block[], offset: number, size: number): void {
  let i = 0;
  while (i < free.length && free[i]!.offset < offset) i++;
  const prev = free[i - 1];
  const next = free[i];
  if (prev && prev.offset + prev.size === offset) {
    prev.size += size;
    if (next && prev.offset + prev.size === next.offset) {
      prev.size += next.size;
      free.splice(i, 1);
    }
  } else if (next && offset + size === next.offset) {
    next.offset = offset;
    next.size += size;
  } else free.splice(i, 0, { offset, size });
}
