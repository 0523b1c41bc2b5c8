/**
 * JSON form of a split module's top-level graph: placeholders, one call_module per part,
 * getitem on tuple results, constants returned as is (get_attr), and the output. Part modules
 * are stored separately (GraphModule.save / EngineModule.save); constants in a GraphModule.
 */
import { getitem } from '../ir/function.js';
import { Graph } from '../ir/graph.js';
import { GraphModule } from '../ir/graph_module.js';
import { isNode, type AnyNode, type Argument } from '../ir/node.js';
import type { Module } from '../nn/module.js';
import { Tensor } from '../tensor/tensor.js';
import { SavedFormatError } from './container.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** One node of the top-level graph. */
export type SplitGraphNode =
  | { readonly op: 'placeholder'; readonly name: string; readonly default?: Json }
  | { readonly op: 'get_attr'; readonly name: string; readonly target: string }
  | { readonly op: 'call_module'; readonly name: string; readonly target: string; readonly args: readonly Json[] }
  | { readonly op: 'getitem'; readonly name: string; readonly input: string; readonly index: number }
  | { readonly op: 'output'; readonly value: Json };

function encodeArg(a: Argument, where: string): Json {
  if (isNode(a)) return { $node: a.name };
  if (Array.isArray(a)) return a.map((x: Argument) => encodeArg(x, where));
  if (a === null || typeof a === 'boolean' || typeof a === 'string') return a;
  if (a === undefined) return { $undefined: true };
  if (typeof a === 'number') return Number.isFinite(a) && !Object.is(a, -0) ? a : { $num: Object.is(a, -0) ? '-0' : String(a) };
  throw new SavedFormatError(`${where}: cannot save argument ${String(a)} of the split graph`);
}

function decodeArg(v: unknown, where: string, node: (name: string) => AnyNode): Argument {
  if (v === null || typeof v === 'boolean' || typeof v === 'string' || typeof v === 'number') return v;
  if (Array.isArray(v)) return v.map((x) => decodeArg(x, where, node));
  if (typeof v === 'object') {
    const ref: unknown = Reflect.get(v, '$node');
    if (typeof ref === 'string') return node(ref);
    if (Reflect.get(v, '$undefined') === true) return undefined;
    const num: unknown = Reflect.get(v, '$num');
    if (num === '-0') return -0;
    if (num === 'NaN' || num === 'Infinity' || num === '-Infinity') return Number(num);
  }
  throw new SavedFormatError(`${where}: invalid argument ${JSON.stringify(v)}`);
}

/** The top-level graph as JSON nodes, plus a GraphModule holding the constants it returns directly. */
export function encodeSplitGraph(split: GraphModule): { nodes: SplitGraphNode[]; constants: GraphModule | null } {
  const nodes: SplitGraphNode[] = [];
  const constGraph = new Graph();
  const constAttrs: Record<string, Tensor> = {};
  const constValues: AnyNode[] = [];
  for (const n of split.graph.nodes()) {
    const where = `split graph node '${n.name}'`;
    switch (n.op) {
      case 'placeholder':
        nodes.push(n.args.length > 0 ? { op: 'placeholder', name: n.name, default: encodeArg(n.args[0], where) } : { op: 'placeholder', name: n.name });
        break;
      case 'get_attr': {
        const t = split.getAttr(n.target);
        if (!(t instanceof Tensor)) throw new SavedFormatError(`${where}: '${n.target}' is not a tensor`);
        constAttrs[n.target] = t;
        constValues.push(constGraph.getAttr(n.target));
        nodes.push({ op: 'get_attr', name: n.name, target: n.target });
        break;
      }
      case 'call_module':
        nodes.push({ op: 'call_module', name: n.name, target: n.target, args: n.args.map((a) => encodeArg(a, where)) });
        break;
      case 'call_function': {
        const [input, index] = n.args;
        if (n.target !== getitem || !isNode(input) || typeof index !== 'number') throw new SavedFormatError(`${where}: only getitem calls can be saved in a split graph`);
        nodes.push({ op: 'getitem', name: n.name, input: input.name, index });
        break;
      }
      case 'output':
        nodes.push({ op: 'output', value: encodeArg(n.args[0], where) });
        break;
      case 'call_method':
        throw new SavedFormatError(`${where}: method calls cannot appear in a split graph`);
    }
  }
  if (constValues.length === 0) return { nodes, constants: null };
  constGraph.output(constValues);
  return { nodes, constants: new GraphModule(constAttrs, constGraph, 'SplitConstants') };
}

/** Rebuilds the top-level graph module over loaded parts (and constants); validates references, then lint(). */
export function decodeSplitGraph(raw: unknown, parts: ReadonlyMap<string, Module>, constants: GraphModule | null, className: string): GraphModule {
  if (!Array.isArray(raw)) throw new SavedFormatError(`saved lowered module: 'graph' is not a list of nodes`);
  const graph = new Graph();
  const byName = new Map<string, AnyNode>();
  const attrs: Record<string, Module | Tensor> = {};
  const node = (where: string) => (name: string): AnyNode => {
    const n = byName.get(name);
    if (!n) throw new SavedFormatError(`${where}: refers to unknown node '${name}'`);
    return n;
  };
  raw.forEach((entry: unknown, i) => {
    const where = `saved lowered module: graph node ${i}`;
    if (entry === null || typeof entry !== 'object') throw new SavedFormatError(`${where} is not an object`);
    const op: unknown = Reflect.get(entry, 'op');
    const name: unknown = Reflect.get(entry, 'name');
    const target: unknown = Reflect.get(entry, 'target');
    let created: AnyNode;
    if (op === 'output') {
      graph.output(decodeArg(Reflect.get(entry, 'value'), where, node(where)));
      return;
    }
    if (typeof name !== 'string') throw new SavedFormatError(`${where} has no name`);
    if (op === 'placeholder') {
      const d: unknown = Reflect.get(entry, 'default');
      created = graph.placeholder(name, d === undefined ? undefined : decodeArg(d, where, node(where)));
    } else if (op === 'get_attr' && typeof target === 'string') {
      const t = constants?.getAttr(target);
      if (!(t instanceof Tensor)) throw new SavedFormatError(`${where}: constant '${target}' is missing`);
      attrs[target] = t;
      created = graph.getAttr(target, name);
    } else if (op === 'call_module' && typeof target === 'string') {
      const part = parts.get(target);
      if (!part) throw new SavedFormatError(`${where}: part '${target}' is missing`);
      attrs[target] = part;
      const args: unknown = Reflect.get(entry, 'args');
      if (!Array.isArray(args)) throw new SavedFormatError(`${where}: 'args' is not a list`);
      created = graph.callModule(target, args.map((a) => decodeArg(a, where, node(where))), {}, name);
    } else if (op === 'getitem') {
      const input: unknown = Reflect.get(entry, 'input');
      const index: unknown = Reflect.get(entry, 'index');
      if (typeof input !== 'string' || !Number.isInteger(index)) throw new SavedFormatError(`${where}: getitem needs an input name and an integer index`);
      created = graph.callFunction(getitem, [node(where)(input), index as number], {}, name);
    } else {
      throw new SavedFormatError(`${where} has unknown op ${JSON.stringify(op)}`);
    }
    if (created.name !== name) throw new SavedFormatError(`${where}: duplicate node name '${name}'`);
    byName.set(name, created);
  });
  const gm = new GraphModule(attrs, graph, className);
  gm.training = false;
  try {
    gm.lint();
  } catch (e) {
    throw new SavedFormatError(`saved lowered module: the split graph is malformed: ${(e as Error).message}`);
  }
  return gm;
}

