import { Node, Slice, type AnyNode, type Argument } from './node.js';

/** Formats an argument the way fx prints it: nodes as %name, tuples in brackets, strings quoted. */
export function formatArgument(a: Argument): string {
  if (a instanceof Node) return `%${a.name}`;
  if (a instanceof Slice) return `slice(${a.start}, ${a.stop}, ${a.step})`;
  if (Array.isArray(a)) return `[${a.map(formatArgument).join(', ')}]`;
  if (a === undefined) return 'undefined';
  if (a === null) return 'null';
  if (typeof a === 'string') return JSON.stringify(a);
  if (typeof a === 'number') return Number.isNaN(a) ? 'NaN' : Object.is(a, -0) ? '-0' : String(a);
  if (typeof a === 'object') return formatKwargs(a as Record<string, Argument>);
  return String(a);
}

export function formatKwargs(k: Readonly<Record<string, Argument>>): string {
  const parts = Object.entries(k).map(([key, v]) => `${key}: ${formatArgument(v)}`);
  return `{${parts.join(', ')}}`;
}

export function targetName(n: AnyNode): string {
  return n.op === 'call_function' ? n.target.name : n.target;
}

/** One line per node, e.g. `%relu : [num_users=1] = call_function[target=acc.relu](args = (), kwargs = {input: %x})`. */
export function formatNode(n: AnyNode): string {
  if (n.op === 'output') return `return ${formatArgument(n.args[0])}`;
  const users = `[num_users=${n.users.size}]`;
  const meta = n.meta.tensorMeta;
  const ty = meta && typeof meta === 'object' && 'shape' in meta ? ` ${meta.dtype}[${meta.shape.join(', ')}]` : '';
  const head = `%${n.name} :${ty} ${users} = ${n.op}[target=${targetName(n)}]`;
  if (n.op === 'placeholder' || n.op === 'get_attr') {
    return n.args.length ? `${head}(default=${formatArgument(n.args[0])})` : head;
  }
  return `${head}(args = (${n.args.map(formatArgument).join(', ')}${n.args.length === 1 ? ',' : ''}), kwargs = ${formatKwargs(n.kwargs)})`;
}
