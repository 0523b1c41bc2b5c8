import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { crc32 } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { accTrace } from '../src/acc_ops/acc_tracer.js';
import { callFunction, callMethod, defineMethod } from '../src/acc_ops/dispatch.js';
import { defineSourceFunction } from '../src/acc_ops/mapping.js';
import { defineAccOp, getAccOp } from '../src/acc_ops/registry.js';
import { generateCode, graphFunctions } from '../src/ir/codegen.js';
import { getFunction, getitem, registerFunction, type GraphFunction } from '../src/ir/function.js';
import { Graph } from '../src/ir/graph.js';
import { GraphModule } from '../src/ir/graph_module.js';
import { slice, Slice, type AnyNode, type Argument } from '../src/ir/node.js';
import { FXGM_VERSION, loadGraphModule, registerModuleClass, SerializationError } from '../src/ir/serialize.js';
import { sig } from '../src/ir/signature.js';
import { symbolicTrace } from '../src/ir/tracer.js';
import { F } from '../src/nn/functional.js';
import type { LayerConfig } from '../src/nn/layers/registry.js';
import { Module, Parameter } from '../src/nn/module.js';
import { Tensor } from '../src/tensor/tensor.js';

// ---- ops and layers of this file (unique names) ----

const mapValues = (t: Tensor, f: (v: number, i: number) => number): Tensor =>
  Tensor.fromNumbers(Array.from(t.toFloat64(), f), t.shape, t.dtype);
defineAccOp<{ input: Tensor; other: Tensor | number }>({
  name: 'cgtest_add', args: { input: { type: 'Tensor' }, other: { type: 'Tensor|scalar' } }, properties: ['pointwise'],
  infer: ({ input }) => input,
  kernel: ({ input, other }) => {
    const o = typeof other === 'number' ? null : other.toFloat64();
    return mapValues(input, (v, i) => v + (o ? o[i % o.length]! : (other as number)));
  },
});
defineAccOp<{ input: Tensor }>({
  name: 'cgtest_double', args: { input: { type: 'Tensor' } }, properties: ['pointwise', 'unary'],
  infer: ({ input }) => input,
  kernel: ({ input }) => mapValues(input, (v) => 2 * v),
});
const addFn = defineSourceFunction('cgtest.add', sig('input', 'other'), { to: 'cgtest_add' });
defineMethod('cgtest_double', sig('input'), { to: 'cgtest_double' });
/** Every `step`-th element of a 1-D tensor from `start` (a Slice argument). */
const takeFn = registerFunction({
  name: 'cgtest.take', signature: sig('input', 'range'),
  invoke([input, range]) {
    const t = input as Tensor;
    const s = range as Slice;
    const v = t.toFloat64();
    const out: number[] = [];
    for (let i = s.start ?? 0; i < (s.stop ?? v.length); i += s.step ?? 1) out.push(v[i]!);
    return Tensor.fromNumbers(out, [out.length], t.dtype);
  },
});
/** Splits a 1-D tensor into its first element and the rest (a tuple result). */
const split2Fn = registerFunction({
  name: 'cgtest.split2', signature: sig('input'),
  invoke([input]) {
    const v = (input as Tensor).toFloat64();
    return [Tensor.fromNumbers(v.subarray(0, 1), [1]), Tensor.fromNumbers(v.subarray(1), [v.length - 1])];
  },
});
/** Appends constant values (which may be NaN, -0, ±Infinity) to a 1-D float32 tensor. */
const appendFn = registerFunction({
  name: 'cgtest.append', signature: sig('input', 'values', ['tag', '']),
  invoke([input, values]) {
    const v = [...(input as Tensor).toFloat64(), ...(values as number[])];
    return Tensor.fromNumbers(v, [v.length]);
  },
});

const add = (a: Tensor, b: Tensor | number): Tensor => callFunction(addFn, [a, b]) as Tensor;
const double = (t: Tensor): Tensor => callMethod('cgtest_double', t, []) as Tensor;

/** A user layer: adds `amount` (a parameter) and counts calls in an int64 buffer. */
class Shift extends Module {
  readonly amount: number;
  readonly twice: boolean;
  offset: Parameter;
  declare count: Tensor;
  constructor(amount: number, opts: { twice?: boolean } = {}) {
    super();
    this.amount = amount;
    this.twice = opts.twice ?? false;
    this.offset = new Parameter(Tensor.full([3], amount));
    this.registerBuffer('count', Tensor.fromArray([0n]));
  }
  override forward(x: Tensor): Tensor {
    const y = add(x, this.offset);
    return this.twice ? double(y) : y;
  }
  config(): LayerConfig {
    return { args: [this.amount], options: { twice: this.twice } };
  }
}
registerModuleClass(Shift);

/** A user layer with a child layer built by its constructor. */
class Pair extends Module {
  inner: Shift;
  constructor(amount: number) {
    super();
    this.inner = new Shift(amount);
  }
  override forward(x: Tensor): Tensor { return double(this.inner.forward(x)); }
  config(): LayerConfig { return { args: [this.inner.amount], options: {} }; }
}
registerModuleClass(Pair);

class Net extends Module {
  shift = new Shift(1, { twice: true });
  w = new Parameter(Tensor.fromArray([0.5, -1, 2]));
  constructor() {
    super();
    this.registerBuffer('stats', Tensor.fromArray([10, 20, 30]));
  }
  override forward(x: Tensor): [Tensor, Tensor] {
    const a = F.relu(this.shift.forward(x));
    const b = add(a, this.w).mul(this.getAttr('stats') as Tensor);
    const parts = callFunction(split2Fn, [double(b)]);
    const first = callFunction(getitem, [parts, 0]) as Tensor;
    const rest = callFunction(getitem, [parts, -1]) as Tensor;
    const picked = callFunction(takeFn, [rest, slice(0, null, 1)]) as Tensor;
    return [first, callFunction(appendFn, [picked, [NaN, -0, Infinity], { tag: 'end' }]) as Tensor];
  }
}

function traced(): GraphModule {
  return symbolicTrace(new Net(), { leafModules: [Shift] });
}

const input = Tensor.fromArray([1, -5, 3]);
const bits = (t: Tensor): number[] => Array.from(t.bytes());
/** Both results are lists of tensors with the same shapes and the same bytes. */
const sameOutputs = (a: unknown, b: unknown): void => {
  const x = a as Tensor[];
  const y = b as Tensor[];
  expect(y).toHaveLength(x.length);
  expect(y.map((t) => t.shape)).toEqual(x.map((t) => t.shape));
  expect(y.map(bits)).toEqual(x.map(bits));
};

// ---- the .fxgm frame, re-implemented from the format description ----

interface NodeJson { op: string; name: string; target: string; args: unknown[]; kwargs: Record<string, unknown> }
interface TensorJson { path: string; kind: string; dtype: string; shape: number[]; offset: number; byteLength: number }
interface ModuleJson { path: string; class: string }
interface HeaderJson { nodes: NodeJson[]; tensors: TensorJson[]; modules: ModuleJson[] }

function unframe(bytes: Uint8Array): { header: HeaderJson; data: Uint8Array } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const h = Number(view.getBigUint64(8, true));
  const d = Number(view.getBigUint64(16, true));
  const start = Math.ceil((24 + h) / 64) * 64;
  return { header: JSON.parse(new TextDecoder().decode(bytes.subarray(24, 24 + h))) as HeaderJson, data: bytes.slice(start, start + d) };
}

function frame(headerText: string, data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(headerText);
  const start = Math.ceil((24 + json.length) / 64) * 64;
  const out = new Uint8Array(start + data.length + 4);
  const view = new DataView(out.buffer);
  out.set([0x46, 0x58, 0x47, 0x4d]);
  view.setUint32(4, FXGM_VERSION, true);
  view.setBigUint64(8, BigInt(json.length), true);
  view.setBigUint64(16, BigInt(data.length), true);
  out.set(json, 24);
  out.set(data, start);
  view.setUint32(start + data.length, crc32(out.subarray(0, start + data.length)), true);
  return out;
}

/** Re-frames a saved module after `edit` changes its header (with a valid checksum). */
function tampered(bytes: Uint8Array, edit: (h: HeaderJson) => void): Uint8Array {
  const { header, data } = unframe(bytes);
  edit(header);
  return frame(JSON.stringify(header), data);
}

function loadError(bytes: Uint8Array): string {
  try {
    loadGraphModule(bytes);
  } catch (e) {
    expect(e).toBeInstanceOf(SerializationError);
    return (e as Error).message;
  }
  throw new Error('expected loading to fail');
}

const tempDirs: string[] = [];
afterAll(() => { for (const d of tempDirs) rmSync(d, { recursive: true, force: true }); });

// ---- code generation ----

describe('generateCode', () => {
  it('prints every node kind as exact, deterministic TypeScript', () => {
    const g = new Graph();
    const x = g.placeholder('x');
    const k = g.placeholder('k', 2);
    const w = g.getAttr('w');
    const bw = g.getAttr('blocks.0.weight');
    const sh = g.callModule('shift', [x]);
    const r = g.callFunction(getFunction('F.relu'), [sh]);
    const m = g.callMethod('mul', [r, w]);
    const d = g.callMethod('cgtest_double', [m]);
    const a = g.callFunction(getAccOp('cgtest_double'), [], { input: d });
    const t = g.callFunction(takeFn, [a, slice(1, null, 2)]);
    const s = g.callFunction(split2Fn, [t]);
    const g0 = g.callFunction(getitem, [s, 0]);
    const dict = g.callFunction(addFn, [g0, { scale: bw }]);
    const c = g.callFunction(appendFn, [dict, [NaN, -0, Infinity, -Infinity, 1.5e-7]],
      { tag: "it's", nested: { a: [1, null], 'odd-key': undefined, ['__proto__']: true } });
    g.output([c, { k }]);
    const root = new Module();
    root.setAttr('w', Tensor.ones([3]));
    root.setAttr('blocks.0.weight', Tensor.ones([3]));
    root.setAttr('shift', new Shift(1));
    const gm = new GraphModule(root, g);
    const expected = [
      'forward(x: Tensor, k = 2): unknown[] {',
      '  const w = this.w;',
      '  const blocks_0_weight = this.blocks[0].weight;',
      '  const shift = this.shift.forward(x);',
      '  const relu = F.relu(shift);',
      '  const mul = relu.mul(w);',
      "  const cgtest_double = fns['method:cgtest_double'](mul);",
      '  const cgtest_double_1 = acc.cgtest_double({ input: cgtest_double });',
      "  const take = fns['cgtest.take'](cgtest_double_1, slice(1, null, 2));",
      "  const split2 = fns['cgtest.split2'](take);",
      "  const getitem = fns['getitem'](split2, 0);",
      "  const add = fns['cgtest.add'](getitem, { scale: blocks_0_weight }, {});",
      "  const append = fns['cgtest.append'](add, [NaN, -0, Infinity, -Infinity, 1.5e-7], " +
        "{ tag: 'it\\'s', nested: { a: [1, null], 'odd-key': undefined, ['__proto__']: true } });",
      '  return [append, { k: k }];',
      '}',
    ].join('\n');
    expect(generateCode(gm)).toBe(expected);
    expect(gm.code).toBe(expected);
  });

  it('returns Tensor for a single tensor output, and checks the graph first', () => {
    const g = new Graph();
    const x = g.placeholder('x');
    g.output(g.callMethod('neg', [x]));
    const gm = new GraphModule(new Module(), g);
    expect(gm.code).toBe('forward(x: Tensor): Tensor {\n  const neg = x.neg();\n  return neg;\n}');
    gm.graph.callMethod('abs', [gm.graph.placeholders[0]!]);
    expect(() => gm.code).toThrow("node 'output_1' (output): the output node must be the last node");
  });

  it('builds the fns table of generated code lazily', () => {
    const fns = graphFunctions(['getitem', 'method:cgtest_double', 'cgtest.not_registered']);
    expect(fns['getitem']!([1, 2, 3], -1)).toBe(3);
    expect(Array.from((fns['method:cgtest_double']!(Tensor.fromArray([2])) as Tensor).toFloat64())).toEqual([4]);
    expect(() => fns['cgtest.not_registered']!(1)).toThrow(/unknown graph function 'cgtest.not_registered'/);
  });
});

describe('toFolder', () => {
  it('writes a module that imports, loads its weights and computes what the GraphModule computes', async () => {
    const gm = traced();
    const dir = mkdtempSync(join(tmpdir(), 'fxrt-codegen-'));
    tempDirs.push(dir);
    const file = gm.toFolder(dir, 'TracedNet');
    expect(file).toBe(join(dir, 'module.ts'));
    const source = readFileSync(file, 'utf8');
    expect(source).toContain('export class TracedNet extends Module {');
    expect(source).toContain("import { F } from 'file://");
    expect(source).toContain("const fns = graphFunctions(['cgtest.add', 'cgtest.append', 'cgtest.split2', 'cgtest.take', 'getitem', 'method:cgtest_double']);");
    expect(source).toContain(gm.code.split('\n').slice(1).map((l) => `  ${l}`).join('\n'));
    const mod: unknown = await import(pathToFileURL(file).href);
    const Cls: unknown = Reflect.get(mod as object, 'TracedNet');
    expect(typeof Cls).toBe('function');
    const made: unknown = Reflect.construct(Cls as Function, []);
    expect(made).toBeInstanceOf(Module);
    const m = made as Module;
    expect(m.getAttr('shift')).toBeInstanceOf(Shift);
    expect(m.isBuffer('stats')).toBe(true);
    expect(m.getAttr('w')).toBeInstanceOf(Parameter);
    sameOutputs(gm.forward(input), m.forward(input));
    sameOutputs(new Net().forward(input), m.forward(input));
  });

  it('writes an acc-traced module that calls acc ops by name', async () => {
    const gm = accTrace(traced(), [input], { leafModules: [Shift] });
    const dir = mkdtempSync(join(tmpdir(), 'fxrt-codegen-'));
    tempDirs.push(dir);
    const file = gm.toFolder(dir);
    const source = readFileSync(file, 'utf8');
    expect(source).toContain('export class Net extends Module {');
    expect(source).toContain("import { acc } from 'file://");
    expect(gm.code).toContain('acc.relu({ input: shift })');
    const mod: unknown = await import(pathToFileURL(file).href);
    const made: unknown = Reflect.construct(Reflect.get(mod as object, 'Net') as Function, []);
    sameOutputs(gm.forward(input), (made as Module).forward(input));
  });

  it('refuses a class name that is not an identifier or shadows an import', () => {
    const gm = traced();
    expect(() => gm.toFolder(join(tmpdir(), 'never-written'), 'my-net')).toThrow(/class name 'my-net' must be an identifier/);
    expect(() => gm.toFolder(join(tmpdir(), 'never-written'), 'Module')).toThrow(/class name 'Module' must be an identifier other than/);
  });
});

// ---- save / load ----

describe('save and load', () => {
  it('round-trips graph, code, layers and outputs', () => {
    const gm = traced();
    const bytes = gm.save();
    const back = GraphModule.load(bytes);
    expect(back.graph.toString()).toBe(gm.graph.toString());
    expect(back.code).toBe(gm.code);
    expect(back.className).toBe('Net');
    sameOutputs(gm.forward(input), back.forward(input));
    const shift = back.getAttr('shift');
    expect(shift).toBeInstanceOf(Shift);
    expect((shift as Shift).twice).toBe(true);
    expect(bits((shift as Shift).offset)).toEqual(bits((gm.getAttr('shift') as Shift).offset));
    expect((shift as Shift).isBuffer('count')).toBe(true);
    // Saving is deterministic, and a loaded module saves to a file that loads the same again.
    expect(gm.save()).toEqual(bytes);
    const again = GraphModule.load(back.save());
    expect(again.graph.toString()).toBe(gm.graph.toString());
    sameOutputs(gm.forward(input), again.forward(input));
  });

  it('round-trips an acc-traced module with its shape metadata', () => {
    const gm = accTrace(traced(), [input], { leafModules: [Shift] });
    const back = GraphModule.load(gm.save());
    expect(back.graph.toString()).toBe(gm.graph.toString());
    expect(back.graph.toString()).toContain('%relu : float32[3] [num_users=1] = call_function[target=acc.relu]');
    sameOutputs(gm.forward(input), back.forward(input));
  });

  it('keeps training flags, node metadata and stack traces', () => {
    const gm = symbolicTrace(new Net(), { leafModules: [Shift], recordStackTraces: true });
    gm.eval();
    (gm.getAttr('shift') as Module).train();
    const relu = gm.graph.nodeList().find((n) => n.name === 'relu')!;
    relu.meta.tensorMeta = { shape: [3], dtype: 'float32' };
    const sp = gm.graph.nodeList().find((n) => n.name === 'split2')!;
    sp.meta.tensorMeta = [{ shape: [1], dtype: 'int8', qparams: { scale: Float32Array.from([0.5]), zeroPoint: Int32Array.from([-3]) } }, 7, NaN, null, true];
    const back = GraphModule.load(gm.save());
    expect(back.training).toBe(false);
    expect((back.getAttr('shift') as Module).training).toBe(true);
    const get = (name: string): AnyNode => back.graph.nodeList().find((n) => n.name === name)!;
    expect(get('relu').meta.tensorMeta).toEqual({ shape: [3], dtype: 'float32' });
    expect(get('split2').meta.tensorMeta).toEqual(sp.meta.tensorMeta);
    expect(get('relu').meta.stackTrace).toBe(relu.meta.stackTrace);
    expect(relu.meta.stackTrace).toContain('ir_codegen_serialize.test.ts');
  });

  it('preserves NaN, -0, ±Infinity, undefined and Slice arguments exactly', () => {
    const g = new Graph();
    const x = g.placeholder('x');
    const opts = { a: undefined, b: -0, c: [NaN, { deep: -Infinity, ['__proto__']: 'own key' }], s: slice(null, -1, 2) };
    g.output(g.callFunction(appendFn, [x, [NaN, -0, Infinity, -Infinity, 0, 1e-300]], { tag: 'x', opts }));
    const back = GraphModule.load(new GraphModule(new Module(), g).save());
    const node = back.graph.outputNode!.args[0] as AnyNode;
    const [, values] = node.args as [Argument, number[]];
    expect(values.map((v) => (Object.is(v, -0) ? '-0' : String(v)))).toEqual(['NaN', '-0', 'Infinity', '-Infinity', '0', '1e-300']);
    const o = node.kwargs['opts'] as { a: undefined; b: number; c: [number, { deep: number }]; s: Slice };
    expect(Object.keys(o)).toEqual(['a', 'b', 'c', 's']);
    expect(o.a).toBeUndefined();
    expect(Object.is(o.b, -0)).toBe(true);
    expect(Number.isNaN(o.c[0])).toBe(true);
    expect(o.c[1].deep).toBe(-Infinity);
    expect(Object.getOwnPropertyDescriptor(o.c[1], '__proto__')?.value).toBe('own key');
    expect(o.s).toBeInstanceOf(Slice);
    expect([o.s.start, o.s.stop, o.s.step]).toEqual([null, -1, 2]);
    const out = back.forward(Tensor.fromArray([1])) as Tensor;
    expect(Object.is(out.toFloat64()[2], -0)).toBe(true);
  });

  it('round-trips every dtype and quantization bit-exactly, keeping parameters and buffers apart', () => {
    const tensors: Record<string, Tensor> = {
      f32: Tensor.fromStorage(new Float32Array([1.5, -0, NaN, Infinity, 1e-45]), [5], 'float32'),
      f16: Tensor.fromStorage(new Uint16Array([0x7e01, 0x8000, 0x7c00, 0xfc00, 0x3c00, 0x0001]), [2, 3], 'float16'),
      bf16: Tensor.fromStorage(new Uint16Array([0x7fc1, 0xff80, 0x3f80]), [3], 'bfloat16'),
      i64: Tensor.fromStorage(new BigInt64Array([2n ** 62n + 1n, -(2n ** 63n), -5n]), [3], 'int64'),
      i32: Tensor.fromStorage(new Int32Array([-(2 ** 31), 7]), [2], 'int32'),
      i8: Tensor.fromStorage(new Int8Array([-128, 127]), [2], 'int8'),
      u8: Tensor.fromStorage(new Uint8Array([0, 255]), [2], 'uint8'),
      b: Tensor.fromStorage(new Uint8Array([0, 1, 1]), [3], 'bool'),
      scalar: Tensor.fromStorage(new Float32Array([3]), [], 'float32'),
      empty: Tensor.fromStorage(new Float32Array(0), [2, 0], 'float32'),
      qt: new Tensor(new Int8Array([-3, 5]), [2], 'int8', { scale: Float32Array.from([0.1]), zeroPoint: Int32Array.from([3]) }),
      qc: new Tensor(new Uint8Array([1, 2, 3, 4]), [2, 2], 'uint8', { scale: Float32Array.from([0.5, 0.25]), zeroPoint: Int32Array.from([1, 2]), axis: 0 }),
    };
    const g = new Graph();
    const nodes = Object.keys(tensors).map((k) => g.getAttr(k));
    g.output(nodes);
    const root: Record<string, Tensor> = {};
    for (const [k, t] of Object.entries(tensors)) root[k] = k.startsWith('q') || k === 'b' ? t : new Parameter(t);
    const gm = new GraphModule(root, g);
    const bytes = gm.save();
    const back = GraphModule.load(bytes);
    for (const [k, t] of Object.entries(tensors)) {
      const l = back.getAttr(k) as Tensor;
      expect(l.dtype, k).toBe(t.dtype);
      expect(l.shape, k).toEqual(t.shape);
      expect(bits(l), k).toEqual(bits(t));
      expect(l instanceof Parameter, k).toBe(root[k] instanceof Parameter);
      expect(back.isBuffer(k), k).toBe(!(root[k] instanceof Parameter));
      expect(l.qparams, k).toEqual(t.qparams);
    }
    // Aligned tensors are views of the loaded bytes; an unaligned copy still loads (by copying).
    expect((back.getAttr('f32') as Tensor).data.buffer).toBe(bytes.buffer);
    const shifted = new Uint8Array(bytes.length + 1).subarray(1);
    shifted.set(bytes);
    const fromShifted = GraphModule.load(shifted);
    expect(bits(fromShifted.getAttr('i64') as Tensor)).toEqual(bits(tensors['i64']!));
    expect((fromShifted.getAttr('i64') as Tensor).data.buffer).not.toBe(shifted.buffer);
  });

  it('keeps shared tensors, shared layers and nested called layers as one object each', () => {
    const shared = new Parameter(Tensor.fromArray([1, 2, 3]));
    const layer = new Shift(3);
    const pair = new Pair(5);
    const g = new Graph();
    const x = g.placeholder('x');
    const a = g.callModule('p', [g.callFunction(addFn, [x, g.getAttr('t1')])]);
    const b = g.callModule('q', [g.callFunction(addFn, [a, g.getAttr('t2')])]);
    const c = g.callModule('pair.inner', [g.callModule('pair', [b])]);
    g.output(c);
    const gm = new GraphModule({ t1: shared, t2: shared, p: layer, q: layer, pair, 'pair.inner': pair.inner }, g);
    const back = GraphModule.load(gm.save());
    expect(back.getAttr('t1')).toBe(back.getAttr('t2'));
    expect(back.getAttr('p')).toBe(back.getAttr('q'));
    const backPair = back.getAttr('pair');
    expect(backPair).toBeInstanceOf(Pair);
    expect(back.getAttr('pair.inner')).toBe((backPair as Pair).inner);
    expect(bits((backPair as Pair).inner.offset)).toEqual(bits(pair.inner.offset));
    sameOutputs([gm.forward(input)], [back.forward(input)]);
  });

  it('generates, saves and loads a 50,000-node graph quickly', () => {
    const N = 50_000;
    const start = performance.now();
    const g = new Graph();
    let prev: AnyNode = g.placeholder('x').self;
    for (let i = 0; i < N; i++) prev = g.callFunction(addFn, [prev, 1]).self;
    g.output(prev);
    const gm = new GraphModule(new Module(), g);
    expect(gm.code.split('\n')).toHaveLength(N + 3);
    const back = GraphModule.load(gm.save());
    expect(back.graph.length).toBe(N + 2);
    expect(Array.from((back.forward(Tensor.fromArray([0])) as Tensor).toFloat64())).toEqual([N]);
    expect(performance.now() - start).toBeLessThan(20_000);
  });

  it('reports what cannot be saved', () => {
    class Unregistered extends Module {
      override forward(x: Tensor): Tensor { return x; }
    }
    const g = new Graph();
    g.output(g.callModule('blocks.odd', [g.placeholder('x')]));
    const root = new Module();
    root.setAttr('blocks.odd', new Unregistered());
    expect(() => new GraphModule(root, g).save()).toThrow(new SerializationError(
      "module 'blocks.odd' (Unregistered): class 'Unregistered' is not registered for serialization; call registerModuleClass(Unregistered)"));

    const loose: GraphFunction = { name: 'cgtest.loose', signature: sig('input'), invoke: ([v]) => v };
    const g2 = new Graph();
    g2.output(g2.callFunction(loose, [g2.placeholder('x')]));
    expect(() => new GraphModule(new Module(), g2).save()).toThrow(
      "node 'loose' calls function 'cgtest.loose', which is not registered under that name");

    class Callback extends Module {
      config(): LayerConfig { return { args: [], options: { onDone: () => 1 } }; }
    }
    registerModuleClass(Callback);
    const g3 = new Graph();
    g3.output(g3.callModule('cb', [g3.placeholder('x')]));
    const root3 = new Module();
    root3.setAttr('cb', new Callback());
    expect(() => new GraphModule(root3, g3).save()).toThrow(
      "module 'cb' (Callback) config.options.onDone: cannot save a value of type function");

    const g4 = new Graph();
    g4.placeholder('x');
    expect(() => new GraphModule(new Module(), g4).save()).toThrow(/cannot save 'GraphModule': its graph is not well formed: graph: has no output node/);
  });

  it('refuses to register a second class under a taken name', () => {
    const make = (): typeof Shift => class Shift2 extends Shift {};
    const A = make();
    registerModuleClass(A);
    registerModuleClass(A);
    expect(() => registerModuleClass(make())).toThrow("registerModuleClass: a registered module class named 'Shift2' already exists");
  });
});

// ---- corrupted and malformed files ----

describe('load rejects damaged files', () => {
  const good = traced().save();
  const view = new DataView(good.buffer);
  const headerLength = Number(view.getBigUint64(8, true));
  const dataStart = Math.ceil((24 + headerLength) / 64) * 64;

  it('checks the test frame helper against the real format', () => {
    const { header, data } = unframe(good);
    expect(frame(JSON.stringify(header), data)).toEqual(good);
  });

  it('rejects a wrong magic', () => {
    const bad = good.slice();
    bad[1] = 0x00;
    expect(loadError(bad)).toBe("not an .fxgm file: expected magic 'FXGM' (46 58 47 4d), got 46 00 47 4d");
    expect(loadError(new TextEncoder().encode('{"nodes": []}'))).toMatch(/^not an \.fxgm file/);
  });

  it('rejects an unsupported version', () => {
    const bad = good.slice();
    new DataView(bad.buffer).setUint32(4, 2, true);
    expect(loadError(bad)).toBe('unsupported .fxgm format version 2 (this build reads version 1)');
  });

  it('rejects a file truncated anywhere', () => {
    for (const at of [0, 2, 4, 10, 23]) {
      expect(loadError(good.subarray(0, at)), `at ${at}`).toBe(`truncated file: ${at} bytes, shorter than the 24-byte prefix`);
    }
    for (const at of [24, 24 + (headerLength >> 1), dataStart, dataStart + 5, good.length - 4, good.length - 1]) {
      expect(loadError(good.subarray(0, at)), `at ${at}`).toMatch(new RegExp(`^truncated file: the prefix declares ${headerLength} header and \\d+ data bytes \\(${good.length} bytes in all\\), the file has ${at}$`));
    }
    const longer = new Uint8Array(good.length + 3);
    longer.set(good);
    expect(loadError(longer)).toBe('corrupted file: 3 unexpected bytes after the checksum');
  });

  it('rejects flipped bytes in the header, the data and the checksum', () => {
    for (const at of [30, 24 + headerLength - 2, dataStart + 1, good.length - 6, good.length - 1]) {
      const bad = good.slice();
      bad[at]! ^= 0x10;
      expect(loadError(bad), `at ${at}`).toMatch(/^checksum mismatch: the file stores crc32 0x[0-9a-f]{8}, its contents hash to 0x[0-9a-f]{8} \(the file is corrupted\)$/);
    }
  });

  it('rejects a header that is not JSON', () => {
    const { data } = unframe(good);
    expect(loadError(frame('{"nodes": [', data))).toMatch(/^header is not valid UTF-8 JSON: /);
    expect(loadError(frame('[1, 2]', data))).toBe('header: expected an object, got an array');
  });

  it('rejects tensor table entries that do not fit the data', () => {
    const { data } = unframe(good);
    const past = Math.ceil(data.length / 64) * 64;
    const offsetEntry = (h: HeaderJson): TensorJson => h.tensors.find((t) => t.path === 'shift.offset')!;
    expect(loadError(tampered(good, (h) => { offsetEntry(h).offset = past; })))
      .toBe(`tensor 'shift.offset': byte range [${past}, ${past + 12}) is outside the data section of ${data.length} bytes`);
    expect(loadError(tampered(good, (h) => { offsetEntry(h).offset = 4; })))
      .toBe("tensor 'shift.offset': data offset 4 is not a multiple of 64");
    expect(loadError(tampered(good, (h) => { offsetEntry(h).dtype = 'float64'; })))
      .toBe("tensor 'shift.offset' dtype: unknown dtype string \"float64\" (expected one of float32, float16, bfloat16, float8e4m3, int8, uint8, int32, int64, bool)");
    expect(loadError(tampered(good, (h) => { offsetEntry(h).shape = [4]; })))
      .toBe("tensor 'shift.offset': shape [4] of float32 needs 16 bytes, the table says 12");
    expect(loadError(tampered(good, (h) => { offsetEntry(h).shape = [-3]; })))
      .toBe("tensor 'shift.offset' shape[0]: expected an integer >= 0, got number -3");
    expect(loadError(tampered(good, (h) => { offsetEntry(h).kind = 'weight'; })))
      .toBe("tensor 'shift.offset': kind must be 'parameter' or 'buffer', got string \"weight\"");
  });

  it('rejects node references to unknown or later names, and duplicate names', () => {
    const firstUser = (h: HeaderJson): NodeJson => h.nodes.find((n) => n.op === 'call_module')!;
    expect(loadError(tampered(good, (h) => { firstUser(h).args = [{ $: 'node', name: 'ghost' }]; })))
      .toBe("node 'shift' args[0]: refers to node 'ghost', which is not defined before it");
    expect(loadError(tampered(good, (h) => { h.nodes[1]!.args = [{ $: 'node', name: 'relu' }]; })))
      .toMatch(/^node '\w+' args\[0\]: refers to node 'relu', which is not defined before it$/);
    expect(loadError(tampered(good, (h) => { h.nodes[2]!.name = h.nodes[1]!.name; })))
      .toMatch(/^node '\w+': duplicate or invalid node name \(it would load as '\w+_1'\)$/);
    expect(loadError(tampered(good, (h) => { h.nodes[1]!.op = 'call_lambda'; })))
      .toMatch(/^node '\w+': unknown op string "call_lambda" \(expected one of placeholder, get_attr, call_function, call_method, call_module, output\)$/);
  });

  it('rejects unknown functions and module classes, saying how to fix it', () => {
    expect(loadError(tampered(good, (h) => { h.nodes.find((n) => n.target === 'F.relu')!.target = 'user.not_imported'; })))
      .toBe("node 'relu': calls unknown function 'user.not_imported': import the module that defines it (or register it with wrap()) before loading");
    expect(loadError(tampered(good, (h) => { h.modules[0]!.class = 'Conv9d'; })))
      .toBe("module 'shift': unknown module class 'Conv9d': import the module that defines it and call registerModuleClass(Conv9d) before loading");
  });

  it('rejects weights that do not match the layer rebuilt from its config', () => {
    expect(loadError(tampered(good, (h) => { h.tensors = h.tensors.filter((t) => t.path !== 'shift.offset'); })))
      .toBe("module 'shift' (Shift): its config() builds tensor 'offset', which the file does not contain");
    const shapeChanged = tampered(good, (h) => {
      const t = h.tensors.find((e) => e.path === 'shift.offset')!;
      t.shape = [1, 3];
    });
    expect(loadError(shapeChanged)).toBe("tensor 'shift.offset': the layer 'shift' rebuilt from its config has shape [3] here, the file has [1, 3]");
  });

  it('runs lint on the loaded graph', () => {
    const bad = tampered(good, (h) => {
      const i = h.nodes.findIndex((n) => n.op === 'get_attr');
      h.nodes.unshift(...h.nodes.splice(i, 1));
    });
    expect(loadError(bad)).toBe("the loaded graph is not well formed: node 'x' (placeholder): placeholders must come before every other node");
  });
});
