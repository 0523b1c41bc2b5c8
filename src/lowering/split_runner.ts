/**
 * Runs a split module asynchronously: its graph calls `_run_on_cpu_N` parts (GraphModules, on
 * the Interpreter) and `_run_on_acc_N` parts (EngineModules, whose `run` returns a Promise).
 * The Interpreter is synchronous, so the top-level graph gets this async walk instead; values
 * are dropped after their last use, as the Interpreter does.
 */
import type { GraphModule } from '../ir/graph_module.js';
import { Interpreter, InterpreterError, lastUses } from '../ir/interpreter.js';
import type { AnyNode } from '../ir/node.js';
import { Module } from '../nn/module.js';
import { Tensor } from '../tensor/tensor.js';
import { EngineModule } from './engine_module.js';

/** An error raised by one part of a split module; names the part. */
export class PartError extends Error {
  override name = 'PartError';
  readonly part: string;
  constructor(part: string, kind: 'engine' | 'interpreter', cause: unknown) {
    super(`part '${part}' (${kind}): ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.part = part;
  }
}

/**
 * Executes the top-level graph of a split module; engine parts are awaited, everything else
 * runs synchronously in between.
 *
 * @example
 * const out = await runSplitModule(lowered.split, [x]);
 */
export async function runSplitModule(split: GraphModule, inputs: readonly unknown[]): Promise<unknown> {
  const interp = new Interpreter(split);
  const graph = split.graph;
  const placeholders = graph.placeholders;
  const required = placeholders.filter((p) => p.args.length === 0).length;
  if (inputs.length < required || inputs.length > placeholders.length) {
    const names = placeholders.map((p) => p.name).join(', ');
    const want = required === placeholders.length ? `${required}` : `${required} to ${placeholders.length}`;
    throw new TypeError(`the lowered module expects ${want} input(s) (${names}), got ${inputs.length}`);
  }
  const freeAfter = lastUses(graph);
  const env = interp.env;
  env.clear();
  let index = 0;
  try {
    for (const node of graph.nodes()) {
      if (node.op === 'placeholder') {
        env.set(node, index < inputs.length ? inputs[index] : node.args[0]);
        index++;
        continue;
      }
      if (node.op === 'output') {
        const [args] = interp.fetchArgs(node);
        return args[0];
      }
      env.set(node, await runNode(interp, split, node));
      for (const dead of freeAfter.get(node) ?? []) env.delete(dead);
    }
  } finally {
    env.clear();
  }
  throw new Error('the split module has no output node');
}

async function runNode(interp: Interpreter, split: GraphModule, node: AnyNode): Promise<unknown> {
  if (node.op !== 'call_module') {
    try {
      return interp.runNode(node);
    } catch (e) {
      throw e instanceof InterpreterError ? e : new InterpreterError(node, e);
    }
  }
  const [args] = interp.fetchArgs(node);
  const sub: Module = split.getSubmodule(node.target);
  if (sub instanceof EngineModule) {
    const tensors = args.map((a, i) => {
      if (!(a instanceof Tensor)) throw new PartError(node.target, 'engine', `argument ${i} is not a tensor`);
      return a;
    });
    let outs: Tensor[];
    try {
      outs = await sub.run(tensors);
    } catch (e) {
      throw new PartError(node.target, 'engine', e);
    }
    // A part with one output returns it as is; several come back as a tuple (see the splitter).
    return outs.length === 1 ? outs[0] : outs;
  }
  try {
    return sub.forward(...args);
  } catch (e) {
    throw new PartError(node.target, 'interpreter', e);
  }
}

/** Flattens a module's output structure (a tensor or nested lists of tensors) into a list. */
export function flattenTensors(value: unknown, what = 'output'): Tensor[] {
  const out: Tensor[] = [];
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (v instanceof Tensor) out.push(v);
    else if (Array.isArray(v)) for (let i = v.length - 1; i >= 0; i--) stack.push(v[i]);
    else throw new TypeError(`${what}: expected tensors, got ${v === null ? 'null' : typeof v}`);
  }
  return out;
}
