/** Containers: Sequential and ModuleList. Traced through (never call_module leaves); children are named '0', '1', .... */
import { isPlainObject } from '../../ir/signature.js';
import { Tensor } from '../../tensor/tensor.js';
import { Module } from '../module.js';
import { describe } from './args.js';
import { registerContainer, type LayerConfig } from './registry.js';

/** Defines child `index` as an enumerable own property, so module traversal and dotted paths ('layer1.0.conv1') find it. */
function setChild(owner: Module, index: number, m: unknown, what: string): void {
  if (!(m instanceof Module)) throw new TypeError(`${what}: element ${index} must be a Module, got ${describe(m)}`);
  Object.defineProperty(owner, String(index), { value: m, writable: true, enumerable: true, configurable: true });
}

/** The children stored at '0', '1', ... in index order. */
function indexedChildren(owner: Module): Module[] {
  const out: Module[] = [];
  for (let i = 0; ; i++) {
    const m: unknown = Reflect.get(owner, String(i));
    if (!(m instanceof Module)) return out;
    out.push(m);
  }
}

function indexOf(i: number, length: number, what: string): number {
  if (!Number.isInteger(i) || i < -length || i >= length) {
    throw new RangeError(`${what}: index ${i} is out of range for ${length} module(s)`);
  }
  return i < 0 ? i + length : i;
}

/**
 * Runs its modules in order, each on the previous one's output (torch.nn.Sequential).
 *
 * @example
 * const mlp = new nn.Sequential(new nn.Linear(512, 2048), new nn.ReLU(), new nn.Linear(2048, 512));
 * mlp.forward(Tensor.randn([4, 512])).shape; // [4, 512]
 * mlp.get(0); // the first Linear
 */
export class Sequential extends Module {
  constructor(...modules: Module[]) {
    super();
    // `new Sequential(...config.args, config.options)`: the trailing options object is empty.
    const last: unknown = modules[modules.length - 1];
    const list = isPlainObject(last) && Object.keys(last).length === 0 ? modules.slice(0, -1) : modules;
    list.forEach((m, i) => setChild(this, i, m, this.constructor.name));
  }

  get length(): number {
    return indexedChildren(this).length;
  }

  /** The module at `index` (negative counts from the end). */
  get(index: number): Module {
    const all = indexedChildren(this);
    return all[indexOf(index, all.length, `${this.constructor.name}.get`)]!;
  }

  /** Adds a module at the end. */
  append(m: Module): this {
    setChild(this, this.length, m, `${this.constructor.name}.append`);
    return this;
  }

  [Symbol.iterator](): Iterator<Module> {
    return indexedChildren(this)[Symbol.iterator]();
  }

  /** Chains the modules; the result must be a tensor. */
  override forward(input: Tensor): Tensor {
    let x: unknown = input;
    indexedChildren(this).forEach((m) => { x = m.forward(x); });
    if (!(x instanceof Tensor)) {
      throw new TypeError(`${this.constructor.name}: the last module returned ${describe(x)}; Sequential.forward returns a tensor`);
    }
    return x;
  }

  config(): LayerConfig {
    return { args: indexedChildren(this), options: {} };
  }
}
registerContainer(Sequential);

/**
 * A list of modules registered as children '0', '1', ... (torch.nn.ModuleList); it has no
 * forward of its own: the owner iterates it.
 *
 * @example
 * const layers = new nn.ModuleList([new nn.Linear(8, 8), new nn.Linear(8, 8)]);
 * for (const layer of layers) x = layer.forward(x) as Tensor;
 */
export class ModuleList extends Module {
  constructor(modules: readonly Module[] = []) {
    super();
    if (!Array.isArray(modules)) throw new TypeError(`ModuleList: expected an array of modules, got ${describe(modules)}`);
    modules.forEach((m, i) => setChild(this, i, m, 'ModuleList'));
  }

  get length(): number {
    return indexedChildren(this).length;
  }

  /** The module at `index` (negative counts from the end). */
  get(index: number): Module {
    const all = indexedChildren(this);
    return all[indexOf(index, all.length, 'ModuleList.get')]!;
  }

  /** Adds a module at the end. */
  append(m: Module): this {
    setChild(this, this.length, m, 'ModuleList.append');
    return this;
  }

  /** Adds several modules at the end. */
  extend(modules: Iterable<Module>): this {
    for (const m of modules) this.append(m);
    return this;
  }

  [Symbol.iterator](): Iterator<Module> {
    return indexedChildren(this)[Symbol.iterator]();
  }

  override forward(...args: unknown[]): never {
    throw new TypeError(`ModuleList has no forward (called with ${args.length} argument(s)); iterate over it and call its modules`);
  }

  config(): LayerConfig {
    return { args: [indexedChildren(this)], options: {} };
  }
}
registerContainer(ModuleList);
