/**
 * The `.fxgm` file format: a GraphModule's graph and weights in one self-checking file.
 *
 * Layout (all integers little-endian):
 *
 *     [0, 4)    magic 'FXGM'
 *     [4, 8)    u32 format version
 *     [8, 16)   u64 header length H
 *     [16, 24)  u64 data length D
 *     [24, 24+H)  header: UTF-8 JSON (nodes, called layers, aliases, tensor table)
 *     zero padding up to the next multiple of 64: the data section starts there
 *     D bytes   tensor data; each tensor at a 64-aligned offset, raw little-endian elements
 *     4 bytes   CRC32 (zlib) of every byte before it
 *
 * Graph arguments are JSON with tagged objects (`{"$": ...}`) for node references (by
 * name), slices, undefined and the numbers JSON cannot hold (NaN, ±Infinity, -0).
 * Called layers are stored as class name + `config()` and rebuilt on load; their weights
 * then come from the tensor table.
 */
import { crc32 } from 'node:zlib';
import '../acc_ops/ops/index.js';
import { builtinModuleClasses, type ConfigurableModule, type LayerClass, type LayerConfig } from '../nn/layers/registry.js';
import { Module, Parameter } from '../nn/module.js';
import { DTYPES, isDType, itemSize, storageFromBytes, type DType } from '../tensor/dtype.js';
import { formatShape, numelOf, shapesEqual } from '../tensor/shape.js';
import { Tensor, type QuantParams } from '../tensor/tensor.js';
import { lookupFunction } from './function.js';
import { isPlainObject } from './signature.js';
import { Graph } from './graph.js';
import { GraphModule } from './graph_module.js';
import { Node, Slice, type AnyNode, type Argument, type NodeOp, type TensorMeta, type ValueMeta } from './node.js';

/** Raised when a GraphModule cannot be saved, or a file cannot be loaded; says what and where. */
export class SerializationError extends Error {
  override name = 'SerializationError';
}

/** The format version this build writes and reads. */
export const FXGM_VERSION = 1;

const MAGIC = 'FXGM';
const PREFIX_BYTES = 24;
const ALIGN = 64;
const CRC_BYTES = 4;
const NODE_OPS: readonly NodeOp[] = ['placeholder', 'get_attr', 'call_function', 'call_method', 'call_module', 'output'];

// ---- module classes ----

const userClasses = new Map<string, LayerClass>();

/**
 * Makes a user layer class loadable: call_module nodes that call an instance are saved
 * as its class name and `config()`, and rebuilt on load with `new Cls(...args, options)`.
 *
 * @example
 * class Scale extends Module {
 *   constructor(readonly factor: number) { super(); }
 *   config() { return { args: [this.factor], options: {} }; }
 * }
 * registerModuleClass(Scale);
 */
export function registerModuleClass(cls: LayerClass): void {
  const builtin = builtinModuleClasses().get(cls.name);
  const prev = userClasses.get(cls.name) ?? builtin;
  if (prev && prev !== cls) {
    throw new Error(`registerModuleClass: a ${builtin ? 'built-in' : 'registered'} module class named '${cls.name}' already exists`);
  }
  userClasses.set(cls.name, cls);
}

function moduleClass(name: string): LayerClass | undefined {
  return userClasses.get(name) ?? builtinModuleClasses().get(name);
}

function hasConfig(m: Module): m is ConfigurableModule {
  return typeof Reflect.get(m, 'config') === 'function';
}

// ---- header JSON ----

/** JSON as written in the header. */
type Json = number | string | boolean | null | readonly Json[] | { readonly [key: string]: Json };

interface NodeEntry {
  op: NodeOp;
  name: string;
  target: string;
  args: Json[];
  kwargs: Record<string, Json>;
  meta?: { tensorMeta?: Json; stackTrace?: string };
}
interface ModuleEntry { path: string; class: string; config: { args: Json[]; options: Record<string, Json> }; training: boolean }
interface AliasEntry { path: string; of: string }
interface TensorEntry {
  path: string;
  kind: 'parameter' | 'buffer';
  dtype: DType;
  shape: number[];
  offset: number;
  byteLength: number;
  qparams?: { scale: Json[]; zeroPoint: number[]; axis?: number };
}
interface Header {
  className: string;
  training: boolean;
  nodes: NodeEntry[];
  modules: ModuleEntry[];
  aliases: AliasEntry[];
  tensors: TensorEntry[];
}

function encodeNumber(v: number): Json {
  if (Number.isNaN(v)) return { $: 'num', value: 'NaN' };
  if (v === Infinity) return { $: 'num', value: 'Infinity' };
  if (v === -Infinity) return { $: 'num', value: '-Infinity' };
  if (Object.is(v, -0)) return { $: 'num', value: '-0' };
  return v;
}

/** Encodes an argument or config value; `where` names it in errors. */
function encodeValue(v: unknown, where: string): Json {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
  if (v === undefined) return { $: 'undefined' };
  if (typeof v === 'number') return encodeNumber(v);
  if (v instanceof Node) return { $: 'node', name: v.name };
  if (v instanceof Slice) return { $: 'slice', start: v.start, stop: v.stop, step: v.step };
  if (Array.isArray(v)) return v.map((x: unknown, i) => encodeValue(x, `${where}[${i}]`));
  if (isPlainObject(v)) return { $: 'object', entries: encodeEntries(v, where) };
  const what = typeof v === 'object' ? (v.constructor?.name ?? 'object') : typeof v;
  throw new SerializationError(`${where}: cannot save a value of type ${what}`);
}

/** Encodes each value of an object (fromEntries keeps a '__proto__' key an own property). */
function encodeEntries(o: Readonly<Record<string, unknown>>, where: string): Record<string, Json> {
  return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, encodeValue(x, `${where}.${k}`)]));
}

function encodeMeta(m: ValueMeta, where: string): Json {
  if (m === null || typeof m === 'boolean') return m;
  if (typeof m === 'number') return encodeNumber(m);
  if (Array.isArray(m)) return m.map((x: ValueMeta, i) => encodeMeta(x, `${where}[${i}]`));
  const t = m as TensorMeta;
  return { $: 'tensor', shape: [...t.shape], dtype: t.dtype, ...(t.qparams ? { qparams: encodeQParams(t.qparams) } : {}) };
}

function encodeQParams(q: QuantParams): { scale: Json[]; zeroPoint: number[]; axis?: number } {
  return { scale: Array.from(q.scale, encodeNumber), zeroPoint: Array.from(q.zeroPoint), ...(q.axis === undefined ? {} : { axis: q.axis }) };
}

// ---- save ----

function assertLittleEndianHost(): void {
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
    throw new SerializationError('.fxgm files hold little-endian data; big-endian hosts are not supported');
  }
}

const alignUp = (n: number): number => Math.ceil(n / ALIGN) * ALIGN;

/**
 * Serializes a GraphModule (graph, called layers, parameters and buffers) to `.fxgm` bytes.
 * Throws a SerializationError naming the node or module that cannot be saved.
 *
 * @example
 * writeFileSync('model.fxgm', saveGraphModule(gm));
 */
export function saveGraphModule(gm: GraphModule): Uint8Array {
  assertLittleEndianHost();
  try {
    gm.lint();
  } catch (e) {
    throw new SerializationError(`cannot save '${gm.className}': its graph is not well formed: ${(e as Error).message}`, { cause: e });
  }
  const called = new Set<Module>();
  const nodes: NodeEntry[] = [];
  for (const n of gm.graph.nodes()) {
    nodes.push(encodeNode(n));
    if (n.op === 'call_module') called.add(gm.getSubmodule(n.target));
  }
  const tree = walkTree(gm);
  const modules: ModuleEntry[] = [];
  for (const [path, m] of tree.modules) {
    if (called.has(m)) modules.push(encodeModule(path, m));
  }
  const tensors: TensorEntry[] = [];
  let dataLength = 0;
  for (const { path, tensor, kind } of tree.tensors) {
    const byteLength = tensor.numel * itemSize(tensor.dtype);
    const offset = alignUp(dataLength);
    tensors.push({
      path, kind, dtype: tensor.dtype, shape: tensor.shape, offset, byteLength,
      ...(tensor.qparams ? { qparams: encodeQParams(tensor.qparams) } : {}),
    });
    dataLength = offset + byteLength;
  }
  const header: Header = { className: gm.className, training: gm.training, nodes, modules, aliases: tree.aliases, tensors };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const dataStart = alignUp(PREFIX_BYTES + json.length);
  const end = dataStart + dataLength;
  const out = new Uint8Array(end + CRC_BYTES);
  const view = new DataView(out.buffer);
  for (let i = 0; i < MAGIC.length; i++) out[i] = MAGIC.charCodeAt(i);
  view.setUint32(4, FXGM_VERSION, true);
  view.setBigUint64(8, BigInt(json.length), true);
  view.setBigUint64(16, BigInt(dataLength), true);
  out.set(json, PREFIX_BYTES);
  tree.tensors.forEach(({ tensor }, i) => out.set(tensor.bytes(), dataStart + tensors[i]!.offset));
  view.setUint32(end, crc32(out.subarray(0, end)), true);
  return out;
}

function encodeNode(n: AnyNode): NodeEntry {
  const where = `node '${n.name}'`;
  let target: string;
  if (n.op === 'call_function') {
    if (lookupFunction(n.target.name) !== n.target) {
      throw new SerializationError(`${where} calls function '${n.target.name}', which is not registered under that name; ` +
        'register it (registerFunction or wrap) so that the file can be loaded');
    }
    target = n.target.name;
  } else target = n.target;
  const args = n.args.map((a, i) => encodeValue(a, `${where} args[${i}]`));
  const entry: NodeEntry = { op: n.op, name: n.name, target, args, kwargs: encodeEntries(n.kwargs, `${where} kwargs`) };
  const meta: { tensorMeta?: Json; stackTrace?: string } = {};
  if (n.meta.tensorMeta !== undefined) meta.tensorMeta = encodeMeta(n.meta.tensorMeta, `${where} meta.tensorMeta`);
  if (typeof n.meta.stackTrace === 'string') meta.stackTrace = n.meta.stackTrace;
  if (Object.keys(meta).length) entry.meta = meta;
  return entry;
}

function encodeModule(path: string, m: Module): ModuleEntry {
  const name = m.constructor.name;
  const where = `module '${path}' (${name})`;
  if (moduleClass(name) !== m.constructor) {
    throw new SerializationError(`${where}: class '${name}' is not registered for serialization; call registerModuleClass(${name})`);
  }
  if (!hasConfig(m)) throw new SerializationError(`${where}: has no config() method to rebuild it from`);
  const c = m.config();
  const args = c.args.map((a, i) => encodeValue(a, `${where} config.args[${i}]`));
  return { path, class: name, config: { args, options: encodeEntries(c.options, `${where} config.options`) }, training: m.training };
}

interface TreeTensor { path: string; tensor: Tensor; kind: 'parameter' | 'buffer' }

/** Every module and tensor under `root` by first path, in definition order; later paths to the same object become aliases. */
function walkTree(root: Module): { modules: [string, Module][]; tensors: TreeTensor[]; aliases: AliasEntry[] } {
  const modules: [string, Module][] = [];
  const tensors: TreeTensor[] = [];
  const aliases: AliasEntry[] = [];
  const seen = new Map<object, string>([[root, '']]);
  const stack: [string, Module][] = [['', root]];
  while (stack.length) {
    const [prefix, m] = stack.pop()!;
    const children: [string, Module][] = [];
    for (const [key, v] of Object.entries(m)) {
      if (!(v instanceof Module) && !(v instanceof Tensor)) continue;
      const path = prefix ? `${prefix}.${key}` : key;
      const first = seen.get(v);
      if (first !== undefined) { aliases.push({ path, of: first }); continue; }
      seen.set(v, path);
      if (v instanceof Tensor) tensors.push({ path, tensor: v, kind: v instanceof Parameter ? 'parameter' : 'buffer' });
      else { modules.push([path, v]); children.push([path, v]); }
    }
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]!);
  }
  return { modules, tensors, aliases };
}

// ---- load ----

function fail(where: string, msg: string): never {
  throw new SerializationError(`${where}: ${msg}`);
}
function describeJson(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${JSON.stringify(v)}`;
}
function asObject(v: unknown, where: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) fail(where, `expected an object, got ${describeJson(v)}`);
  return v as Record<string, unknown>;
}
function asArray(v: unknown, where: string): unknown[] {
  if (!Array.isArray(v)) fail(where, `expected an array, got ${describeJson(v)}`);
  return v;
}
function asString(v: unknown, where: string): string {
  if (typeof v !== 'string') fail(where, `expected a string, got ${describeJson(v)}`);
  return v;
}
function asBool(v: unknown, where: string): boolean {
  if (typeof v !== 'boolean') fail(where, `expected a boolean, got ${describeJson(v)}`);
  return v;
}
function asInt(v: unknown, where: string, min = 0): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) fail(where, `expected an integer >= ${min}, got ${describeJson(v)}`);
  return v;
}
function asIntOrNull(v: unknown, where: string): number | null {
  return v === null ? null : asInt(v, where, Number.MIN_SAFE_INTEGER);
}

function decodeNumber(v: unknown, where: string): number {
  if (typeof v === 'number') return v;
  const o = asObject(v, where);
  if (o['$'] !== 'num') fail(where, `expected a number, got ${describeJson(v)}`);
  switch (o['value']) {
    case 'NaN': return NaN;
    case 'Infinity': return Infinity;
    case '-Infinity': return -Infinity;
    case '-0': return -0;
    default: return fail(where, `unknown special number ${describeJson(o['value'])}`);
  }
}

/** Decodes an argument; `node` resolves references (null where none are allowed, e.g. configs). */
function decodeValue(v: unknown, where: string, node: ((name: string, where: string) => AnyNode) | null): Argument {
  if (v === null || typeof v === 'string' || typeof v === 'boolean' || typeof v === 'number') return v;
  if (Array.isArray(v)) return v.map((x: unknown, i) => decodeValue(x, `${where}[${i}]`, node));
  const o = asObject(v, where);
  switch (o['$']) {
    case 'num': return decodeNumber(o, where);
    case 'undefined': return undefined;
    case 'node': {
      if (!node) fail(where, 'a node reference is not allowed here');
      return node(asString(o['name'], `${where}.name`), where);
    }
    case 'slice': return new Slice(asIntOrNull(o['start'], `${where}.start`), asIntOrNull(o['stop'], `${where}.stop`), asIntOrNull(o['step'], `${where}.step`));
    case 'object': {
      const entries = asObject(o['entries'], `${where}.entries`);
      return Object.fromEntries(Object.entries(entries).map(([k, x]) => [k, decodeValue(x, `${where}.${k}`, node)]));
    }
    default: return fail(where, `unknown value tag ${describeJson(o['$'])}`);
  }
}

function decodeDType(v: unknown, where: string): DType {
  if (!isDType(v)) fail(where, `unknown dtype ${describeJson(v)} (expected one of ${DTYPES.join(', ')})`);
  return v;
}
function decodeShape(v: unknown, where: string): number[] {
  return asArray(v, where).map((d, i) => asInt(d, `${where}[${i}]`));
}

function decodeQParams(v: unknown, where: string, shape: readonly number[] | null): QuantParams {
  const o = asObject(v, where);
  const scale = Float32Array.from(asArray(o['scale'], `${where}.scale`), (x, i) => decodeNumber(x, `${where}.scale[${i}]`));
  const zeroPoint = Int32Array.from(asArray(o['zeroPoint'], `${where}.zeroPoint`), (x, i) => asInt(x, `${where}.zeroPoint[${i}]`, -(2 ** 31)));
  if (scale.length !== zeroPoint.length) fail(where, `${scale.length} scales but ${zeroPoint.length} zero points`);
  if (o['axis'] === undefined) {
    if (scale.length !== 1) fail(where, `per-tensor quantization needs 1 scale, got ${scale.length}`);
    return { scale, zeroPoint };
  }
  const axis = asInt(o['axis'], `${where}.axis`);
  if (shape) {
    if (axis >= shape.length) fail(where, `axis ${axis} is out of range for shape ${formatShape(shape)}`);
    if (scale.length !== shape[axis]) fail(where, `per-channel quantization along axis ${axis} needs ${shape[axis]} scales, got ${scale.length}`);
  }
  return { scale, zeroPoint, axis };
}

function decodeMeta(v: unknown, where: string): ValueMeta {
  if (v === null || typeof v === 'boolean') return v;
  if (Array.isArray(v)) return v.map((x: unknown, i) => decodeMeta(x, `${where}[${i}]`));
  if (typeof v === 'number') return v;
  const o = asObject(v, where);
  if (o['$'] === 'num') return decodeNumber(o, where);
  if (o['$'] !== 'tensor') fail(where, `expected tensor metadata, got ${describeJson(v)}`);
  const shape = decodeShape(o['shape'], `${where}.shape`);
  const dtype = decodeDType(o['dtype'], `${where}.dtype`);
  return o['qparams'] === undefined ? { shape, dtype } : { shape, dtype, qparams: decodeQParams(o['qparams'], `${where}.qparams`, shape) };
}

/** Checks the fixed prefix, length and checksum; returns where the header and data lie. */
function readFrame(bytes: Uint8Array): { header: Uint8Array; data: Uint8Array } {
  const size = bytes.byteLength;
  const magicLen = Math.min(size, MAGIC.length);
  for (let i = 0; i < magicLen; i++) {
    if (bytes[i] !== MAGIC.charCodeAt(i)) {
      const got = Array.from(bytes.subarray(0, magicLen), (b) => b.toString(16).padStart(2, '0')).join(' ');
      throw new SerializationError(`not an .fxgm file: expected magic 'FXGM' (46 58 47 4d), got ${got}`);
    }
  }
  if (size < PREFIX_BYTES) throw new SerializationError(`truncated file: ${size} bytes, shorter than the ${PREFIX_BYTES}-byte prefix`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, size);
  const version = view.getUint32(4, true);
  if (version !== FXGM_VERSION) {
    throw new SerializationError(`unsupported .fxgm format version ${version} (this build reads version ${FXGM_VERSION})`);
  }
  const headerLength = view.getBigUint64(8, true);
  const dataLength = view.getBigUint64(16, true);
  const align = BigInt(ALIGN);
  const dataStart = ((BigInt(PREFIX_BYTES) + headerLength + align - 1n) / align) * align;
  const expected = dataStart + dataLength + BigInt(CRC_BYTES);
  if (expected > BigInt(size)) {
    throw new SerializationError(`truncated file: the prefix declares ${headerLength} header and ${dataLength} data bytes (${expected} bytes in all), the file has ${size}`);
  }
  if (expected < BigInt(size)) throw new SerializationError(`corrupted file: ${BigInt(size) - expected} unexpected bytes after the checksum`);
  const end = Number(dataStart + dataLength);
  const stored = view.getUint32(end, true);
  const computed = crc32(bytes.subarray(0, end));
  if (stored !== computed) {
    const hex = (x: number): string => `0x${x.toString(16).padStart(8, '0')}`;
    throw new SerializationError(`checksum mismatch: the file stores crc32 ${hex(stored)}, its contents hash to ${hex(computed)} (the file is corrupted)`);
  }
  return {
    header: bytes.subarray(PREFIX_BYTES, PREFIX_BYTES + Number(headerLength)),
    data: bytes.subarray(Number(dataStart), end),
  };
}

function parseHeader(raw: Uint8Array): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw));
  } catch (e) {
    throw new SerializationError(`header is not valid UTF-8 JSON: ${(e as Error).message}`, { cause: e });
  }
  return asObject(parsed, 'header');
}

/**
 * Loads a GraphModule from `.fxgm` bytes, validating the frame, checksum, header, tensor
 * table, node references, functions and layer classes, then lint(). Aligned tensors share
 * memory with `bytes` (no copy): do not modify `bytes` while the module is in use.
 *
 * @example
 * const gm = loadGraphModule(readFileSync('model.fxgm'));
 * const y = gm.forward(x);
 */
export function loadGraphModule(bytes: Uint8Array): GraphModule {
  assertLittleEndianHost();
  const { header: rawHeader, data } = readFrame(bytes);
  const header = parseHeader(rawHeader);
  const className = asString(header['className'], 'header.className');
  const gm = new GraphModule(new Module(), new Graph(), className);
  gm.training = asBool(header['training'], 'header.training');

  const rebuilt = buildModules(gm, asArray(header['modules'], 'header.modules'));
  const loaded = loadTensors(gm, asArray(header['tensors'], 'header.tensors'), data, rebuilt);
  for (const [i, raw] of asArray(header['aliases'], 'header.aliases').entries()) {
    const where = `header.aliases[${i}]`;
    const a = asObject(raw, where);
    const path = asString(a['path'], `${where}.path`);
    const of = asString(a['of'], `${where}.of`);
    const v = gm.getAttr(of);
    if (!(v instanceof Module) && !(v instanceof Tensor)) fail(`alias '${path}'`, `refers to '${of}', which is not a module or tensor of the file`);
    gm.setAttr(path, v);
  }
  for (const [path, m] of rebuilt) {
    for (const [key, t] of [...m.namedParameters(), ...m.namedBuffers()]) {
      if (!loaded.has(t)) {
        fail(`module '${path}' (${m.constructor.name})`, `its config() builds tensor '${key}', which the file does not contain`);
      }
    }
  }
  gm.graph = buildGraph(asArray(header['nodes'], 'header.nodes'));
  try {
    gm.lint();
  } catch (e) {
    throw new SerializationError(`the loaded graph is not well formed: ${(e as Error).message}`, { cause: e });
  }
  return gm;
}

/** Rebuilds the called layers from class name and config, parents before children. */
function buildModules(gm: GraphModule, entries: readonly unknown[]): Map<string, Module> {
  const rebuilt = new Map<string, Module>();
  const decoded = entries.map((raw, i) => {
    const where = `header.modules[${i}]`;
    const e = asObject(raw, where);
    const config = asObject(e['config'], `${where}.config`);
    return {
      path: asString(e['path'], `${where}.path`),
      cls: asString(e['class'], `${where}.class`),
      args: asArray(config['args'], `${where}.config.args`),
      options: asObject(config['options'], `${where}.config.options`),
      training: asBool(e['training'], `${where}.training`),
    };
  });
  decoded.sort((a, b) => a.path.split('.').length - b.path.split('.').length);
  for (const e of decoded) {
    const where = `module '${e.path}'`;
    if (e.path === '') fail(where, 'the root cannot be a rebuilt layer');
    const cls = moduleClass(e.cls);
    if (!cls) {
      fail(where, `unknown module class '${e.cls}': import the module that defines it and call registerModuleClass(${e.cls}) before loading`);
    }
    const existing = gm.getAttr(e.path);
    let m: Module;
    if (existing instanceof cls) m = existing;
    else {
      const args = e.args.map((a, i) => decodeValue(a, `${where} config.args[${i}]`, null));
      const options = Object.fromEntries(Object.entries(e.options).map(([k, v]) => [k, decodeValue(v, `${where} config.options.${k}`, null)]));
      const config: LayerConfig = { args, options };
      let made: unknown;
      try {
        made = Reflect.construct(cls, [...config.args, config.options]);
      } catch (err) {
        throw new SerializationError(`${where}: rebuilding ${e.cls} from its config failed: ${(err as Error).message}`, { cause: err });
      }
      if (!(made instanceof Module)) fail(where, `class '${e.cls}' did not construct a Module`);
      m = made;
      gm.setAttr(e.path, m);
    }
    m.train(e.training);
    rebuilt.set(e.path, m);
  }
  return rebuilt;
}

/** Reads the tensor table and places each tensor at its path; returns the set of loaded tensors. */
function loadTensors(gm: GraphModule, entries: readonly unknown[], data: Uint8Array, rebuilt: ReadonlyMap<string, Module>): Set<Tensor> {
  const loaded = new Set<Tensor>();
  for (const [i, raw] of entries.entries()) {
    const e = asObject(raw, `header.tensors[${i}]`);
    const path = asString(e['path'], `header.tensors[${i}].path`);
    const where = `tensor '${path}'`;
    const kind = e['kind'];
    if (kind !== 'parameter' && kind !== 'buffer') fail(where, `kind must be 'parameter' or 'buffer', got ${describeJson(kind)}`);
    const dtype = decodeDType(e['dtype'], `${where} dtype`);
    const shape = decodeShape(e['shape'], `${where} shape`);
    const offset = asInt(e['offset'], `${where} offset`);
    const byteLength = asInt(e['byteLength'], `${where} byteLength`);
    const numel = numelOf(shape);
    if (!Number.isSafeInteger(numel) || numel * itemSize(dtype) !== byteLength) {
      fail(where, `shape ${formatShape(shape)} of ${dtype} needs ${numel * itemSize(dtype)} bytes, the table says ${byteLength}`);
    }
    if (offset % ALIGN !== 0) fail(where, `data offset ${offset} is not a multiple of ${ALIGN}`);
    if (offset + byteLength > data.byteLength) {
      fail(where, `byte range [${offset}, ${offset + byteLength}) is outside the data section of ${data.byteLength} bytes`);
    }
    const qparams = e['qparams'] === undefined ? undefined : decodeQParams(e['qparams'], `${where} qparams`, shape);
    const storage = storageFromBytes(dtype, data.subarray(offset, offset + byteLength), numel);
    const plain = new Tensor(storage, shape, dtype, qparams);
    const t = kind === 'parameter' ? new Parameter(plain) : plain;
    const owner = [...rebuilt.keys()].find((p) => path.startsWith(`${p}.`));
    const existing = gm.getAttr(path);
    if (owner !== undefined && existing instanceof Tensor && !shapesEqual(existing.shape, shape)) {
      fail(where, `the layer '${owner}' rebuilt from its config has shape ${formatShape(existing.shape)} here, the file has ${formatShape(shape)}`);
    }
    gm.setAttr(path, t);
    loaded.add(t);
  }
  return loaded;
}

/** Recreates the nodes in file order; every reference must name an earlier node. */
function buildGraph(entries: readonly unknown[]): Graph {
  const graph = new Graph();
  const byName = new Map<string, AnyNode>();
  for (const [i, raw] of entries.entries()) {
    const e = asObject(raw, `header.nodes[${i}]`);
    const name = asString(e['name'], `header.nodes[${i}].name`);
    const where = `node '${name}'`;
    const op = e['op'];
    if (typeof op !== 'string' || !(NODE_OPS as readonly string[]).includes(op)) {
      fail(where, `unknown op ${describeJson(op)} (expected one of ${NODE_OPS.join(', ')})`);
    }
    const target = asString(e['target'], `${where} target`);
    const resolve = (ref: string, at: string): AnyNode => byName.get(ref) ?? fail(at, `refers to node '${ref}', which is not defined before it`);
    const args = asArray(e['args'], `${where} args`).map((a, j) => decodeValue(a, `${where} args[${j}]`, resolve));
    const kwargs = Object.fromEntries(Object.entries(asObject(e['kwargs'], `${where} kwargs`))
      .map(([k, v]) => [k, decodeValue(v, `${where} kwargs.${k}`, resolve)]));
    const node = createNode(graph, op as NodeOp, target, args, kwargs, name, where);
    if (node.name !== name) fail(where, `duplicate or invalid node name (it would load as '${node.name}')`);
    if (e['meta'] !== undefined) {
      const meta = asObject(e['meta'], `${where} meta`);
      if (meta['tensorMeta'] !== undefined) node.meta.tensorMeta = decodeMeta(meta['tensorMeta'], `${where} meta.tensorMeta`);
      if (meta['stackTrace'] !== undefined) node.meta.stackTrace = asString(meta['stackTrace'], `${where} meta.stackTrace`);
    }
    byName.set(name, node);
  }
  return graph;
}

function createNode(graph: Graph, op: NodeOp, target: string, args: Argument[], kwargs: Record<string, Argument>, name: string, where: string): AnyNode {
  switch (op) {
    case 'call_function': {
      const fn = lookupFunction(target);
      if (!fn) fail(where, `calls unknown function '${target}': import the module that defines it (or register it with wrap()) before loading`);
      return graph.createNode('call_function', fn, args, kwargs, name).self;
    }
    case 'output':
      if (target !== 'output') fail(where, `an output node's target must be 'output', got '${target}'`);
      return graph.createNode('output', 'output', args, kwargs, name).self;
    default:
      return graph.createNode(op, target, args, kwargs, name).self;
  }
}

/**
 * Copies the top-level submodules and tensors of a saved GraphModule into `target` (the
 * constructor of a module generated by toFolder uses it to load its weights).
 *
 * @example
 * constructor() { super(); loadAttributes(this, readFileSync(new URL('./weights.fxgm', import.meta.url))); }
 */
export function loadAttributes(target: Module, bytes: Uint8Array): void {
  const gm = loadGraphModule(bytes);
  for (const [key, v] of Object.entries(gm)) {
    if (v instanceof Module || v instanceof Tensor) target.setAttr(key, v);
  }
  target.training = gm.training;
}
