/**
 * Reference execution of pointwise programs (fused pointwise regions and conv/gemm epilogues).
 *
 * Every step input broadcasts to the output shape; the program runs over chunks of output
 * elements, one instruction at a time over the whole chunk (registers are Float64Arrays of the
 * chunk's length). Intermediate floats stay in float32 registers (no rounding to the storage
 * dtype); integers and bools are kept as stored values; only the final result is rounded to the
 * output dtype, where the GPU writes memory.
 */
import { planBroadcast, readAs, toTensor, allocValues, type Values } from '../../kernels/reference/broadcast.js';
import type { DType } from '../../tensor/dtype.js';
import { formatShape, numelOf } from '../../tensor/shape.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { EpilogueOp, PointwiseInstr, PointwiseProgram } from '../plan.js';
import { activationFn, elementwiseFn, registerFn, storeFn, unaryFn, type ScalarFn1, type ScalarFn2 } from './scalar_math.js';

/** Output elements processed per chunk. */
const CHUNK = 4096;

type Compiled =
  | { readonly arity: 1; readonly a: number; readonly f: ScalarFn1; readonly keep: ScalarFn1 }
  | { readonly arity: 2; readonly a: number; readonly b: number; readonly f: ScalarFn2; readonly keep: ScalarFn1 };

/** The scalar function of each instruction, given the dtypes of the registers before it. */
function compile(instrs: readonly PointwiseInstr[], regTypes: DType[], stepName: string): Compiled[] {
  const n = regTypes.length;
  return instrs.map((ins, k) => {
    for (const a of ins.args) {
      if (!Number.isInteger(a) || a < 0 || a >= n + k) {
        throw new RangeError(`step '${stepName}': pointwise instruction ${k} reads register ${a}, which is not defined before it`);
      }
    }
    regTypes.push(ins.dtype);
    const keep = registerFn(ins.dtype);
    switch (ins.op) {
      case 'elementwise': return { arity: 2, a: ins.args[0], b: ins.args[1], f: elementwiseFn(ins.fn, regTypes[ins.args[0]]!), keep };
      case 'unary': return { arity: 1, a: ins.args[0], f: unaryFn(ins.fn), keep };
      case 'activation': return { arity: 1, a: ins.args[0], f: activationFn(ins.fn, ins.alpha, ins.beta), keep };
      case 'cast': return { arity: 1, a: ins.args[0], f: storeFn(ins.dtype), keep };
    }
  });
}

/**
 * Runs `program` over `inputs` (broadcast to a common shape) and stores the result as `outDtype`.
 * @example
 * // relu(x * 2): inputs [x, two]
 * runPointwise('s', { views: [null, null], instrs: [
 *   { op: 'elementwise', fn: 'prod', args: [0, 1], dtype: 'float32' },
 *   { op: 'activation', fn: 'relu', alpha: 0, beta: 0, args: [2], dtype: 'float32' }] }, [x, two], 'float32');
 */
export function runPointwise(stepName: string, program: PointwiseProgram, inputs: readonly Tensor[], outDtype: DType): Tensor {
  if (program.instrs.length === 0) throw new RangeError(`step '${stepName}': pointwise program has no instructions`);
  if (program.views.length !== inputs.length) {
    throw new RangeError(`step '${stepName}': pointwise program has ${program.views.length} input views for ${inputs.length} inputs`);
  }
  const shapes = inputs.map((t, i) => {
    const view = program.views[i] ?? null;
    if (view === null) return t.shape;
    if (numelOf(view) !== t.numel) {
      throw new RangeError(`step '${stepName}': input ${i} ${formatShape(t.shape)} cannot be viewed as ${formatShape(view)}`);
    }
    return view;
  });
  const plan = planBroadcast(`step '${stepName}'`, shapes);
  const nIn = inputs.length;
  const ops = compile(program.instrs, inputs.map((t) => t.dtype), stepName);
  const vals: Values[] = inputs.map((t) => readAs(t, t.dtype));
  const out = allocValues(outDtype, plan.numel);
  if (plan.numel > 0) {
    const len = plan.rowLength;
    const cap = len >= CHUNK ? CHUNK : Math.floor(CHUNK / len) * len;
    const regs = Array.from({ length: nIn + ops.length }, () => new Float64Array(cap));
    const rows = plan.rowStarts[0]!.length;
    let o = 0;
    for (let r = 0; r < rows;) {
      if (len >= CHUNK) {
        for (let j0 = 0; j0 < len; j0 += CHUNK) {
          const m = Math.min(CHUNK, len - j0);
          for (let i = 0; i < nIn; i++) gatherRun(vals[i]!, plan.rowStarts[i]![r]! + j0 * plan.rowStrides[i]!, plan.rowStrides[i]!, m, regs[i]!, 0);
          evaluate(ops, regs, nIn, m);
          store(regs[regs.length - 1]!, m, out, o);
          o += m;
        }
        r++;
      } else {
        const k = Math.min(cap / len, rows - r);
        for (let i = 0; i < nIn; i++) {
          const starts = plan.rowStarts[i]!;
          const stride = plan.rowStrides[i]!;
          for (let q = 0; q < k; q++) gatherRun(vals[i]!, starts[r + q]!, stride, len, regs[i]!, q * len);
        }
        const m = k * len;
        evaluate(ops, regs, nIn, m);
        store(regs[regs.length - 1]!, m, out, o);
        o += m;
        r += k;
      }
    }
  }
  // toTensor rounds once to the storage dtype (registers already hold float32 or stored integers).
  return toTensor(out, plan.shape, outDtype);
}

function gatherRun(src: Values, start: number, stride: number, n: number, dst: Float64Array, at: number): void {
  if (stride === 1) {
    for (let j = 0; j < n; j++) dst[at + j] = src[start + j]!;
  } else {
    for (let j = 0, p = start; j < n; j++, p += stride) dst[at + j] = src[p]!;
  }
}

function evaluate(ops: readonly Compiled[], regs: Float64Array[], nIn: number, m: number): void {
  for (let k = 0; k < ops.length; k++) {
    const op = ops[k]!;
    const dst = regs[nIn + k]!;
    const a = regs[op.a]!;
    const keep = op.keep;
    if (op.arity === 1) {
      const f = op.f;
      for (let j = 0; j < m; j++) dst[j] = keep(f(a[j]!));
    } else {
      const b = regs[op.b]!;
      const f = op.f;
      for (let j = 0; j < m; j++) dst[j] = keep(f(a[j]!, b[j]!));
    }
  }
}

function store(src: Float64Array, m: number, out: Values, at: number): void {
  for (let j = 0; j < m; j++) out[at + j] = src[j]!;
}

/**
 * The pointwise program of an epilogue: register 0 is the anchor's (unrounded) result, then the
 * step inputs named by the epilogue ops, in order. Returns the program and those input positions.
 */
export function epilogueProgram(ops: readonly EpilogueOp[], dtype: DType): { program: PointwiseProgram; inputs: number[] } {
  const inputs: number[] = [];
  const instrs: PointwiseInstr[] = [];
  let acc = 0;
  const nIn = 1 + ops.filter((op) => op.op !== 'activation').length;
  for (const op of ops) {
    if (op.op === 'activation') {
      instrs.push({ op: 'activation', fn: op.fn, alpha: op.alpha, beta: op.beta, args: [acc], dtype });
    } else {
      inputs.push(op.input);
      instrs.push({ op: 'elementwise', fn: 'sum', args: [acc, inputs.length], dtype });
    }
    acc = nIn + instrs.length - 1;
  }
  return { program: { views: new Array<null>(nIn).fill(null), instrs }, inputs };
}
