import { Module } from '../nn/module.js';
import { Tensor } from '../tensor/tensor.js';
import type { Graph, TargetResolver } from './graph.js';
import { generateCode, toFolder } from './codegen.js';
import { Interpreter } from './interpreter.js';
import { loadGraphModule, saveGraphModule } from './serialize.js';

/**
 * A graph plus the parameters, buffers and submodules it references (torch.fx's
 * GraphModule). Built from a root module (or a plain map of attributes), it keeps
 * references to the root's weights: nothing is copied. It runs through the Interpreter.
 *
 * @example
 * const gm = symbolicTrace(new nn.Linear(4, 2));
 * console.log(gm.graph.toString());
 * const y = gm.forward(Tensor.randn([3, 4]));
 */
export class GraphModule extends Module {
  #graph: Graph;
  readonly className: string;

  constructor(root: Module | Record<string, Module | Tensor>, graph: Graph, className = 'GraphModule') {
    super();
    this.#graph = graph;
    this.className = className;
    const lookup = (path: string): unknown => (root instanceof Module ? root.getAttr(path) : root[path]);
    // Submodules first, so a get_attr under a module path does not create an empty module there.
    const nodes = graph.nodeList();
    const targets = [...nodes.filter((n) => n.op === 'call_module'), ...nodes.filter((n) => n.op === 'get_attr')];
    for (const n of targets) {
      if (n.op !== 'get_attr' && n.op !== 'call_module') continue;
      if (this.getAttr(n.target) !== undefined) continue;
      const v = lookup(n.target);
      if (n.op === 'call_module') {
        if (!(v instanceof Module)) throw new Error(`GraphModule: node '${n.name}' calls '${n.target}', which is not a submodule of the root`);
        this.setAttr(n.target, v);
      } else {
        if (!(v instanceof Tensor)) throw new Error(`GraphModule: node '${n.name}' reads '${n.target}', which is not a tensor attribute of the root`);
        this.setAttr(n.target, v);
      }
    }
    if (root instanceof Module) this.training = root.training;
  }

  get graph(): Graph { return this.#graph; }
  /** Replaces the graph (the new graph must only reference attributes this module has; lint() checks). */
  set graph(g: Graph) { this.#graph = g; }

  override forward(...args: unknown[]): unknown {
    return new Interpreter(this).run(...args);
  }

  /** Checks the graph's invariants and that every get_attr / call_module target resolves here. */
  lint(): void {
    this.#graph.lint(this.resolver());
  }

  resolver(): TargetResolver {
    return {
      hasAttr: (p) => this.getAttr(p) instanceof Tensor,
      hasModule: (p) => this.getAttr(p) instanceof Module,
    };
  }

  /** Registers a new tensor attribute under a unique name derived from `base`; returns its path. */
  addConstant(base: string, t: Tensor): string {
    let name = base.replace(/[^\w]/g, '_');
    for (let i = 0; this.getAttr(name) !== undefined; i++) name = `${base}_${i}`;
    this.setAttr(name, t);
    return name;
  }

  /** Removes attributes and submodules that no node references any more; returns their paths. */
  deleteUnusedAttributes(): string[] {
    const used = new Set<string>();
    const called = new Set<string>();
    for (const n of this.#graph.nodes()) {
      if (n.op !== 'get_attr' && n.op !== 'call_module') continue;
      if (n.op === 'call_module') called.add(n.target);
      const atoms = n.target.split('.');
      for (let i = 1; i <= atoms.length; i++) used.add(atoms.slice(0, i).join('.'));
    }
    const removed: string[] = [];
    const visit = (m: Module, prefix: string): void => {
      for (const key of Object.keys(m)) {
        const v: unknown = Reflect.get(m, key);
        if (!(v instanceof Module) && !(v instanceof Tensor)) continue;
        const path = prefix ? `${prefix}.${key}` : key;
        if (!used.has(path)) {
          Reflect.deleteProperty(m, key);
          removed.push(path);
        } else if (v instanceof Module && !called.has(path)) visit(v, path);
      }
    };
    visit(this, '');
    return removed;
  }

  /** The forward as readable TypeScript source (torch.fx's `gm.code`); see codegen.ts. */
  get code(): string {
    return generateCode(this);
  }

  /** The graph, called layers, parameters and buffers as `.fxgm` bytes; see serialize.ts. */
  save(): Uint8Array {
    return saveGraphModule(this);
  }

  /**
   * Loads a module saved with `save()` (validated, then lint()ed); aligned weights share memory with `bytes`.
   *
   * @example
   * const copy = GraphModule.load(gm.save());
   */
  static load(bytes: Uint8Array): GraphModule {
    return loadGraphModule(bytes);
  }

  /** Writes `<dir>/module.ts` (a standalone class with the generated forward) and `<dir>/weights.fxgm`; returns the module path. */
  toFolder(dir: string, className: string = this.className): string {
    return toFolder(this, dir, className);
  }

  override toString(): string {
    return `${this.className}(\n${this.#graph.toString().split('\n').map((l) => '  ' + l).join('\n')}\n)`;
  }
}
