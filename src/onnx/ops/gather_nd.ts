/**
 * ONNX GatherND as a flat row lookup: data [d0..dr-1] becomes a table of
 * prod(d[:b]) * prod(d[b:b+k]) rows of shape d[b+k:], each index tuple idx[..., 0..k-1] (plus its
 * batch position when batch_dims = b > 0) names one row, and acc.index_select picks the rows.
 * Constant indices (the usual export) are flattened at import; runtime indices are flattened with
 * where/lt/add/mul/sum on int64, an out-of-range tuple mapped to a row past the end so that
 * index_select reports it instead of reading a neighbouring cell.
 */
import type { Emitter } from '../../acc_ops/mapping.js';
import type { Shape } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { defineOnnxOp } from './define.js';
import { input, int64Tensor, intAttr, isConstant } from './values.js';

/** How GatherND's indices address its data (all sizes static). */
interface GatherNdPlan {
  /** Number of batch dims b and index tuple length k. */
  readonly b: number;
  readonly k: number;
  /** Sizes of the k indexed dims data.shape[b:b+k]. */
  readonly indexed: readonly number[];
  /** Row-major strides of the indexed dims, in rows. */
  readonly strides: readonly number[];
  /** prod(data.shape[:b]), and rows per batch entry: prod(indexed). */
  readonly batch: number;
  readonly rowsPerBatch: number;
  /** Index tuples in all (prod(indices.shape[:-1])) and per batch entry. */
  readonly tuples: number;
  readonly tuplesPerBatch: number;
  /** data reshaped as [batch * rowsPerBatch, ...data.shape[b+k:]]. */
  readonly table: Shape;
  /** indices.shape[:-1] + data.shape[b+k:]. */
  readonly out: Shape;
}

const product = (dims: readonly number[]): number => dims.reduce((a, d) => a * d, 1);

/** Checks the shapes against the spec and derives the lookup; errors name the input or attribute. */
function planOf(data: Shape, indices: Shape, b: number): GatherNdPlan {
  const r = data.length;
  const q = indices.length;
  if (r < 1) throw new RangeError(`input 'data' must have rank >= 1, got a 0-d tensor`);
  if (q < 1) throw new RangeError(`input 'indices' must have rank >= 1, got a 0-d tensor`);
  if (b < 0 || b >= Math.min(r, q)) throw new RangeError(`attribute 'batch_dims' must be in 0..${Math.min(r, q) - 1} for data of rank ${r} and indices of rank ${q}, got ${b}`);
  for (let i = 0; i < b; i++) {
    if (data[i] !== indices[i]) {
      throw new RangeError(`the first ${b} (batch) dims of 'data' [${data.join(', ')}] and 'indices' [${indices.join(', ')}] must be equal, they differ at dim ${i}`);
    }
  }
  const k = indices[q - 1]!;
  if (k < 1 || b + k > r) throw new RangeError(`the last dim of 'indices' (the index tuple length) must be in 1..${r - b} for data of rank ${r} with batch_dims ${b}, got ${k}`);
  const indexed = data.slice(b, b + k);
  const strides = new Array<number>(k);
  for (let j = k - 1, s = 1; j >= 0; s *= indexed[j]!, j--) strides[j] = s;
  const batch = product(data.slice(0, b));
  const rowsPerBatch = product(indexed);
  const tuples = product(indices.slice(0, q - 1));
  const rest = data.slice(b + k);
  return {
    b, k, indexed, strides, batch, rowsPerBatch, tuples, tuplesPerBatch: product(indices.slice(b, q - 1)),
    table: [batch * rowsPerBatch, ...rest], out: [...indices.slice(0, q - 1), ...rest],
  };
}

/** The rows named by constant indices, wrapped and range-checked at import. */
function constantRows(indices: Tensor, p: GatherNdPlan): Tensor {
  const idx = indices.toFloat64();
  const rows = new Float64Array(p.tuples);
  for (let t = 0; t < p.tuples; t++) {
    let row = Math.floor(t / p.tuplesPerBatch) * p.rowsPerBatch;
    for (let j = 0; j < p.k; j++) {
      const v = idx[t * p.k + j]!;
      const size = p.indexed[j]!;
      if (v < -size || v >= size) throw new RangeError(`input 'indices': index ${v} (entry ${j} of tuple ${t}) is out of range for a dim of size ${size} (expected ${-size}..${size - 1})`);
      row += (v < 0 ? v + size : v) * p.strides[j]!;
    }
    rows[t] = row;
  }
  return Tensor.fromNumbers(rows, [p.tuples], 'int64');
}

/** The rows named by runtime indices: one int64 graph value of shape [tuples]. */
function runtimeRows(e: Emitter, indices: Tensor, p: GatherNdPlan): Tensor {
  const pairs = e.tensor('reshape', { input: indices, shape: [p.tuples, p.k] });
  const sizes = int64Tensor(p.indexed);
  // -size <= i < 0 counts from the end; anything outside -size..size-1 becomes the first row past the table.
  const wrapped = e.tensor('where', { condition: e.tensor('lt', { input: pairs, other: 0 }), input: e.tensor('add', { input: pairs, other: sizes }), other: pairs });
  const outside = e.tensor('logical_or', { input: e.tensor('lt', { input: wrapped, other: 0 }), other: e.tensor('ge', { input: wrapped, other: sizes }) });
  const checked = e.tensor('where', { condition: outside, input: p.table[0]!, other: wrapped });
  let rows = p.k === 1
    ? e.tensor('reshape', { input: checked, shape: [p.tuples] })
    : e.tensor('sum', { input: e.tensor('mul', { input: checked, other: int64Tensor(p.strides) }), dim: 1, keepdim: false, dtype: null });
  if (p.b > 0) {
    const offsets = int64Tensor(Array.from({ length: p.batch }, (_, i) => i * p.rowsPerBatch), [p.batch, 1]);
    const perBatch = e.tensor('add', { input: e.tensor('reshape', { input: rows, shape: [p.batch, p.tuplesPerBatch] }), other: offsets });
    rows = e.tensor('reshape', { input: perBatch, shape: [p.tuples] });
  }
  return rows;
}

function reshapeTo(e: Emitter, x: Tensor, shape: Shape): Tensor {
  const current = e.meta(x).shape;
  if (current.length === shape.length && current.every((d, i) => d === shape[i])) return x;
  return e.tensor('reshape', { input: x, shape: [...shape] });
}

// out = indices.shape[:-1] + data.shape[b+k:]; batch_dims exists from opset 12 (absent: 0).
defineOnnxOp({
  opType: 'GatherND', inputs: ['data', 'indices'], attrs: { batch_dims: 0 }, minOpset: 11,
  map: (kw, e) => {
    const data = input(kw, 'data');
    const indices = input(kw, 'indices');
    const idxMeta = e.meta(indices);
    if (idxMeta.dtype !== 'int64') throw new TypeError(`input 'indices' must be an int64 tensor, got ${idxMeta.dtype}`);
    const p = planOf(e.meta(data).shape, idxMeta.shape, intAttr(kw, 'batch_dims'));
    const rows = isConstant(indices) ? constantRows(indices, p) : runtimeRows(e, indices, p);
    const picked = e.tensor('index_select', { input: reshapeTo(e, data, p.table), dim: 0, index: rows });
    return reshapeTo(e, picked, p.out);
  },
});
