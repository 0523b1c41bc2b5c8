// Every acc op's reference kernel against PyTorch's results (test/fixtures/acc_ops, written by
// scripts/gen_fixtures.py): same dtype, same shape, values within the case's tolerance.
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import '../src/acc_ops/ops/index.js';
import { accOps, describeValue, getAccOp, hasAccOp, type MetaArgs } from '../src/acc_ops/registry.js';
import type { TensorMeta, ValueMeta } from '../src/ir/node.js';
import { bindArgs, type Kwargs } from '../src/ir/signature.js';
import { isFloating } from '../src/tensor/dtype.js';
import { Tensor } from '../src/tensor/tensor.js';
import { loadFixtures, type GoldenValue } from './fixtures_loader.js';

const FIXTURE_DIR = fileURLToPath(new URL('./fixtures/acc_ops', import.meta.url));
const fixtures = loadFixtures(FIXTURE_DIR);

/** Denominator floor of the norm-wise error, so an all-zero golden is compared (almost) exactly. */
const TINY = 1.1754943508222875e-38;

/** Multi-index of flat position `i` in `shape`, for error messages. */
function indexOf(i: number, shape: readonly number[]): string {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = i % shape[d]!;
    i = Math.floor(i / shape[d]!);
  }
  return `[${idx.join(', ')}]`;
}

function compareFloats(ours: Float64Array, golden: Float64Array, shape: readonly number[], rtol: number, atol: number): string | null {
  let maxAbs = 0;
  let worst = -1;
  let worstDiff = 0;
  for (let i = 0; i < golden.length; i++) {
    const g = golden[i]!;
    const o = ours[i]!;
    if (Number.isNaN(g) || !Number.isFinite(g) || !Number.isFinite(o)) {
      const same = Number.isNaN(g) ? Number.isNaN(o) : o === g;
      if (!same) return `at ${indexOf(i, shape)}: ours ${o}, golden ${g}`;
      continue;
    }
    maxAbs = Math.max(maxAbs, Math.abs(g));
    const diff = Math.abs(o - g);
    if (diff > worstDiff) { worstDiff = diff; worst = i; }
  }
  const allowed = rtol * Math.max(maxAbs, TINY) + atol;
  if (worst < 0 || worstDiff <= allowed) return null;
  return `max error ${worstDiff.toExponential(3)} at ${indexOf(worst, shape)} (ours ${ours[worst]}, golden ${golden[worst]}), `
    + `allowed ${allowed.toExponential(3)} = rtol ${rtol} * max|golden| ${maxAbs} + atol ${atol}`;
}

function compareTensor(ours: Tensor, golden: Tensor, rtol: number, atol: number): string | null {
  if (ours.dtype !== golden.dtype) return `dtype ${ours.dtype}, expected ${golden.dtype}`;
  if (ours.shape.join(',') !== golden.shape.join(',')) return `shape [${ours.shape.join(', ')}], expected [${golden.shape.join(', ')}]`;
  const q = golden.qparams;
  if (!q && ours.qparams) return 'has quantization parameters, expected a plain tensor';
  if (q) {
    const p = ours.qparams;
    if (!p) return 'no quantization parameters, expected some';
    if ((p.axis ?? null) !== (q.axis ?? null)) return `qparams axis ${p.axis ?? null}, expected ${q.axis ?? null}`;
    if (p.scale.join(',') !== q.scale.join(',')) return `qparams scale [${p.scale.join(', ')}], expected [${q.scale.join(', ')}]`;
    if (p.zeroPoint.join(',') !== q.zeroPoint.join(',')) return `qparams zero_point [${p.zeroPoint.join(', ')}], expected [${q.zeroPoint.join(', ')}]`;
  }
  if (golden.dtype === 'int64') {
    const a = ours.data as BigInt64Array;
    const b = golden.data as BigInt64Array;
    for (let i = 0; i < b.length; i++) if (a[i] !== b[i]) return `at ${indexOf(i, golden.shape)}: ours ${a[i]}, golden ${b[i]}`;
    return null;
  }
  if (!isFloating(golden.dtype) || (rtol === 0 && atol === 0)) return compareExactly(ours, golden);
  return compareFloats(ours.toFloat64(), golden.toFloat64(), golden.shape, rtol, atol);
}

/** First element that differs (NaN matches NaN, -0 matches 0), or null. */
function compareExactly(ours: Tensor, golden: Tensor): string | null {
  const a = ours.toFloat64();
  const b = golden.toFloat64();
  const show = (v: number): string => (golden.dtype === 'bool' ? String(v !== 0) : String(v));
  for (let i = 0; i < b.length; i++) {
    if (a[i] !== b[i] && !(Number.isNaN(a[i]!) && Number.isNaN(b[i]!))) {
      return `at ${indexOf(i, golden.shape)}: ours ${show(a[i]!)}, golden ${show(b[i]!)}`;
    }
  }
  return null;
}

/** Why `ours` differs from the golden value, or null when it matches within tolerance. */
function compareGolden(ours: unknown, golden: GoldenValue, rtol: number, atol: number): string | null {
  if (golden instanceof Tensor) {
    return ours instanceof Tensor ? compareTensor(ours, golden, rtol, atol) : `expected a tensor, got ${describeValue(ours)}`;
  }
  if (typeof golden === 'number') return ours === golden ? null : `expected ${golden}, got ${describeValue(ours)}`;
  if (!Array.isArray(ours)) return `expected a tuple of ${golden.length}, got ${describeValue(ours)}`;
  if (ours.length !== golden.length) return `expected a tuple of ${golden.length}, got ${ours.length} values`;
  for (let i = 0; i < golden.length; i++) {
    const why = compareGolden(ours[i], golden[i]!, rtol, atol);
    if (why !== null) return `output ${i}: ${why}`;
  }
  return null;
}

/** The metadata `infer` sees for a kwarg value: tensors become TensorMeta. */
function metaOf(v: unknown): unknown {
  if (v instanceof Tensor) {
    const m: TensorMeta = v.qparams ? { shape: v.shape, dtype: v.dtype, qparams: v.qparams } : { shape: v.shape, dtype: v.dtype };
    return m;
  }
  return Array.isArray(v) ? v.map(metaOf) : v;
}

/** Why the inferred metadata differs from the golden's shape and dtype, or null. */
function compareMeta(meta: ValueMeta, golden: GoldenValue): string | null {
  if (golden instanceof Tensor) {
    if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) return `inferred ${JSON.stringify(meta)}, expected a tensor`;
    const m = meta as TensorMeta;
    if (m.dtype !== golden.dtype || m.shape.join(',') !== golden.shape.join(',')) {
      return `inferred ${m.dtype}[${m.shape.join(', ')}], expected ${golden.dtype}[${golden.shape.join(', ')}]`;
    }
    return null;
  }
  if (typeof golden === 'number') return meta === golden ? null : `inferred ${JSON.stringify(meta)}, expected ${golden}`;
  if (!Array.isArray(meta) || meta.length !== golden.length) return `inferred ${JSON.stringify(meta)}, expected a tuple of ${golden.length}`;
  for (let i = 0; i < golden.length; i++) {
    const why = compareMeta(meta[i] as ValueMeta, golden[i]!);
    if (why !== null) return `output ${i}: ${why}`;
  }
  return null;
}

function inferFor(opName: string, kwargs: Kwargs): ValueMeta {
  const op = getAccOp(opName);
  const metaKwargs: Kwargs = {};
  for (const [k, v] of Object.entries(kwargs)) metaKwargs[k] = metaOf(v);
  return op.infer(bindArgs(op.signature, [], metaKwargs, op.name) as MetaArgs<Kwargs>);
}

describe('golden comparison', () => {
  const f16 = (v: number[]): Tensor => Tensor.fromNumbers(v, [v.length], 'float16');
  it('accepts values within the norm-wise tolerance', () => {
    const golden = Tensor.fromNumbers([100, 1e-3, 0], [3]);
    const ours = Tensor.fromNumbers([100.0005, 1.5e-3, 5e-4], [3]);
    expect(compareGolden(ours, golden, 1e-5, 0)).toBeNull();
  });
  it('rejects an error above rtol * max|golden|, naming the element', () => {
    const why = compareGolden(Tensor.fromNumbers([1, 2.001], [1, 2]), Tensor.fromNumbers([1, 2], [1, 2]), 1e-5, 0);
    expect(why).toMatch(/at \[0, 1\]/);
  });
  it('compares exactly at rtol 0: one float16 ulp is a mismatch', () => {
    expect(compareGolden(f16([1.0009765625]), f16([1]), 0, 0)).toMatch(/ours 1.0009765625, golden 1/);
    expect(compareGolden(f16([-0]), f16([0]), 0, 0)).toBeNull();
  });
  it('requires NaN and infinities in the same places', () => {
    const golden = Tensor.fromNumbers([Number.NaN, Number.POSITIVE_INFINITY], [2]);
    expect(compareGolden(Tensor.fromNumbers([0, Number.POSITIVE_INFINITY], [2]), golden, 1e-5, 0)).toMatch(/golden NaN/);
    expect(compareGolden(Tensor.fromNumbers([Number.NaN, 1e30], [2]), golden, 1e-5, 0)).toMatch(/golden Infinity/);
    expect(compareGolden(Tensor.fromNumbers([Number.NaN, Number.POSITIVE_INFINITY], [2]), golden, 0, 0)).toBeNull();
  });
  it('ignores the tolerance for integer outputs and checks dtype, shape and qparams', () => {
    const golden = Tensor.fromArray([1n, 9007199254740993n]);
    expect(compareGolden(Tensor.fromArray([1n, 9007199254740992n]), golden, 1, 1)).toMatch(/ours 9007199254740992/);
    expect(compareGolden(Tensor.fromNumbers([1, 2], [2], 'int32'), golden, 1, 1)).toMatch(/dtype int32, expected int64/);
    expect(compareGolden(Tensor.fromArray([[1n, 9007199254740993n]]), golden, 1, 1)).toMatch(/shape \[1, 2\]/);
    const q = Tensor.fromNumbers([3], [1], 'int8');
    q.qparams = { scale: Float32Array.of(0.5), zeroPoint: Int32Array.of(0) };
    const p = Tensor.fromNumbers([3], [1], 'int8');
    p.qparams = { scale: Float32Array.of(0.5), zeroPoint: Int32Array.of(1) };
    expect(compareGolden(p, q, 0, 0)).toMatch(/zero_point/);
  });
  it('compares tuples element by element and plain ints exactly', () => {
    expect(compareGolden([Tensor.fromNumbers([1], [1])], [Tensor.fromNumbers([2], [1])], 0, 0)).toMatch(/^output 0:/);
    expect(compareGolden([2, 3], [2, 4], 0, 0)).toMatch(/^output 1:/);
    expect(compareGolden(Tensor.fromNumbers([1], [1]), [Tensor.fromNumbers([1], [1])], 0, 0)).toMatch(/tuple/);
  });
});

describe('acc op golden coverage', () => {
  // No exceptions: getitem is checked on tuples and dropout in eval mode and at p = 0 and 1 in training.
  it('every registered acc op has a fixture with at least one case', () => {
    const covered = new Set(fixtures.filter((f) => f.cases.length > 0).map((f) => f.op));
    const missing = accOps().map((op) => op.accName).filter((name) => !covered.has(name));
    expect(missing).toEqual([]);
  });
  it('every fixture names a registered acc op', () => {
    expect(fixtures.filter((f) => !hasAccOp(f.op)).map((f) => f.op)).toEqual([]);
  });
  it('every fixture was recorded for the op its file is named after', () => {
    expect(fixtures.filter((f) => basename(f.file) !== `${f.op}.json`).map((f) => f.file)).toEqual([]);
  });
});

for (const fx of fixtures) {
  describe(`acc.${fx.op} vs PyTorch ${fx.torchVersion}`, () => {
    for (const c of fx.cases) {
      it(c.name, () => {
        const out = getAccOp(fx.op).invoke([], c.kwargs);
        expect(compareGolden(out, c.expected, c.rtol, c.atol), `acc.${fx.op} case ${c.name}`).toBeNull();
      });
      it(`${c.name}: infer gives PyTorch's shape and dtype`, () => {
        expect(compareMeta(inferFor(fx.op, c.kwargs), c.expected), `acc.${fx.op} case ${c.name}`).toBeNull();
      });
    }
  });
}
