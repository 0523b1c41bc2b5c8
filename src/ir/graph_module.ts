import { Module } from '../nn/module.js';
import { Tensor } from '../tensor/tensor.js';
import type { Graph, TargetResolver } from './graph.js';
import { Interpreter } from './interpreter.js';

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
    for (const n of graph.nodes()) {
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

  override toString(): string {
    return `${this.className}(\n${this.#graph.toString().split('\n').map((l) => '  ' + l).join('\n')}\n)`;
  }
}
