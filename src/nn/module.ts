import { Tensor } from '../tensor/tensor.js';

/** A trainable weight of a module: a Tensor that module traversal reports as a parameter. */
export class Parameter extends Tensor {
  constructor(t: Tensor) {
    super(t.data, t.shape, t.dtype, t.qparams);
  }
}

/**
 * Base class of layers and models (PyTorch's nn.Module). Children and parameters are
 * found from the instance's own properties in definition order: assign a Module or a
 * Parameter to `this.x` and it is registered; buffers are declared with registerBuffer.
 *
 * @example
 * class Net extends Module {
 *   fc = new nn.Linear(4, 2);
 *   forward(x: Tensor) { return F.relu(this.fc.forward(x)); }
 * }
 */
export class Module {
  training = true;
  readonly #buffers = new Set<string>();

  /** The computation; subclasses override it. */
  forward(...args: unknown[]): unknown {
    throw new TypeError(`${this.constructor.name}.forward is not defined (${args.length} argument(s) given)`);
  }

  /** Declares a non-parameter tensor (e.g. running statistics) saved with the module. */
  registerBuffer(name: string, value: Tensor | null): void {
    this.#buffers.add(name);
    Object.defineProperty(this, name, { value, writable: true, enumerable: true, configurable: true });
  }
  isBuffer(name: string): boolean {
    return this.#buffers.has(name);
  }

  /** Direct children, in definition order. */
  *namedChildren(): IterableIterator<[string, Module]> {
    for (const [k, v] of Object.entries(this)) if (v instanceof Module) yield [k, v];
  }
  /** This module and every descendant with dotted paths ('' is this module); shared modules appear once. */
  *namedModules(prefix = '', seen = new Set<Module>()): IterableIterator<[string, Module]> {
    if (seen.has(this)) return;
    seen.add(this);
    yield [prefix, this];
    for (const [name, child] of this.namedChildren()) {
      yield* child.namedModules(prefix ? `${prefix}.${name}` : name, seen);
    }
  }
  *namedParameters(prefix = '', recurse = true): IterableIterator<[string, Parameter]> {
    const seen = new Set<Tensor>();
    for (const [path, m] of recurse ? this.namedModules(prefix) : [[prefix, this] as [string, Module]]) {
      for (const [k, v] of Object.entries(m)) {
        if (v instanceof Parameter && !seen.has(v)) {
          seen.add(v);
          yield [path ? `${path}.${k}` : k, v];
        }
      }
    }
  }
  *namedBuffers(prefix = '', recurse = true): IterableIterator<[string, Tensor]> {
    for (const [path, m] of recurse ? this.namedModules(prefix) : [[prefix, this] as [string, Module]]) {
      for (const k of m.#buffers) {
        const v: unknown = Reflect.get(m, k);
        if (v instanceof Tensor) yield [path ? `${path}.${k}` : k, v];
      }
    }
  }
  parameters(): Parameter[] { return [...this.namedParameters()].map(([, p]) => p); }
  buffers(): Tensor[] { return [...this.namedBuffers()].map(([, b]) => b); }
  children(): Module[] { return [...this.namedChildren()].map(([, c]) => c); }
  modules(): Module[] { return [...this.namedModules()].map(([, m]) => m); }

  /** The submodule at a dotted path ('' is this module). */
  getSubmodule(path: string): Module {
    if (path === '') return this;
    let m: Module = this;
    for (const atom of path.split('.')) {
      const next: unknown = Reflect.get(m, atom);
      if (!(next instanceof Module)) throw new Error(`${this.constructor.name} has no submodule '${path}' ('${atom}' is not a module)`);
      m = next;
    }
    return m;
  }
  /** The value at a dotted path (a parameter, buffer, submodule or plain attribute), or undefined. */
  getAttr(path: string): unknown {
    let v: unknown = this;
    for (const atom of path.split('.')) {
      if (v === null || typeof v !== 'object') return undefined;
      v = Reflect.get(v, atom);
    }
    return v;
  }
  /** Sets the value at a dotted path, creating empty intermediate modules. Tensors that are not Parameters become buffers. */
  setAttr(path: string, value: Module | Tensor | null): void {
    const atoms = path.split('.');
    let m: Module = this;
    for (const atom of atoms.slice(0, -1)) {
      let next: unknown = Reflect.get(m, atom);
      if (next === undefined) {
        next = new Module();
        Object.defineProperty(m, atom, { value: next, writable: true, enumerable: true, configurable: true });
      }
      if (!(next instanceof Module)) throw new Error(`setAttr('${path}'): '${atom}' is not a module`);
      m = next;
    }
    const last = atoms[atoms.length - 1]!;
    if (value instanceof Tensor && !(value instanceof Parameter)) m.registerBuffer(last, value);
    else Object.defineProperty(m, last, { value, writable: true, enumerable: true, configurable: true });
  }

  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }
  eval(): this { return this.train(false); }

  /**
   * Casts every floating-point parameter and buffer to `dtype` in place (PyTorch's
   * module.to(dtype)); integer and quantized tensors are kept. Returns the module.
   * @example
   *   const model = modelZoo.resnet18.create().eval().to('float16');   // for an fp16 engine with float16 I/O
   */
  to(dtype: 'float32' | 'float16' | 'bfloat16'): this {
    for (const m of this.modules()) {
      for (const [k, v] of Object.entries(m)) {
        if (!(v instanceof Tensor) || v.qparams || v.dtype === dtype || !(v.dtype === 'float32' || v.dtype === 'float16' || v.dtype === 'bfloat16')) continue;
        if (v instanceof Parameter) Reflect.set(m, k, new Parameter(v.castTo(dtype)));
        else if (m.isBuffer(k)) m.registerBuffer(k, v.castTo(dtype));
      }
    }
    return this;
  }

  /** `to('float16')`. */
  half(): this {
    return this.to('float16');
  }

  /** Parameters and buffers by dotted path. */
  stateDict(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const [k, v] of this.namedParameters()) out.set(k, v);
    for (const [k, v] of this.namedBuffers()) out.set(k, v);
    return out;
  }
  /** Copies values into existing parameters and buffers; strict mode reports missing and unexpected keys. */
  loadStateDict(state: Map<string, Tensor> | Record<string, Tensor>, strict = true): void {
    const entries = state instanceof Map ? [...state.entries()] : Object.entries(state);
    const own = this.stateDict();
    const missing = [...own.keys()].filter((k) => !entries.some(([e]) => e === k));
    const unexpected = entries.map(([k]) => k).filter((k) => !own.has(k));
    if (strict && (missing.length || unexpected.length)) {
      throw new Error(`loadStateDict: missing keys [${missing.join(', ')}], unexpected keys [${unexpected.join(', ')}]`);
    }
    for (const [k, v] of entries) {
      const dst = own.get(k);
      if (!dst) continue;
      const a = dst.shape;
      const b = v.shape;
      if (a.length !== b.length || a.some((d, i) => d !== b[i])) {
        throw new Error(`loadStateDict: '${k}' has shape [${a.join(', ')}] in the module, [${b.join(', ')}] in the state`);
      }
      dst.setData(v.dtype === dst.dtype ? v.data.slice() : v.castTo(dst.dtype).data);
    }
  }

  /** One-line description of this layer's configuration (PyTorch's extra_repr). */
  extraRepr(): string { return ''; }

  toString(): string {
    const children = [...this.namedChildren()];
    const head = `${this.constructor.name}(${this.extraRepr()}`;
    if (children.length === 0) return head + ')';
    const lines = children.map(([k, c]) => `  (${k}): ${c.toString().split('\n').join('\n  ')}`);
    return `${head}\n${lines.join('\n')}\n)`;
  }
}
