/**
 * TypeScript source for a GraphModule's forward (torch.fx's `gm.code`), and `toFolder`,
 * which writes a standalone module class plus its weights.
 *
 * One statement per node, named after the node:
 *   get_attr       `const w = this.linear.weight;`
 *   call_module    `const conv1 = this.conv1.forward(x);`
 *   call_method    `const add = relu.add(1);`
 *   call_function  `F.relu(x)`, `acc.linear({ input: x, ... })`, any other registered function
 *                  through the `fns` table: `fns['getitem'](split, 0)`, `fns['user.op'](x)`
 * Options (kwargs) become a trailing options object, the calling convention of every
 * graph-callable (see signature.ts), so the generated code calls exactly what the graph does.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { callFunction, callMethod, getMethod } from '../acc_ops/dispatch.js';
import { hasAccOp } from '../acc_ops/registry.js';
import { F } from '../nn/functional.js';
import { Tensor } from '../tensor/tensor.js';
import { getFunction } from './function.js';
import type { GraphModule } from './graph_module.js';
import { Node, Slice, type Argument } from './node.js';
import { saveGraphModule } from './serialize.js';

const IDENT = /^[A-Za-z_$][\w$]*$/;
/** Prefix of `fns` keys that call a tensor method not installed on Tensor.prototype. */
const METHOD_KEY = 'method:';
/** Where generated code imports the `F` and `acc` namespaces from (relative to this file). */
const F_MODULE = '../nn/functional.js';
const ACC_MODULE = '../acc_ops/callable.js';

/** Whether the generated code can call `ns.member`: an F wrapper, or a registered acc op (`acc` resolves any). */
function namespaceHas(ns: 'F' | 'acc', member: string): boolean {
  return ns === 'F' ? typeof Reflect.get(F, member) === 'function' : hasAccOp(member);
}

/** How the generated code reaches call_function targets; decided once per function name. */
type Callee = { kind: 'F' | 'acc'; member: string } | { kind: 'fns'; key: string };

function calleeOf(name: string): Callee {
  const dot = name.indexOf('.');
  const ns = name.slice(0, dot);
  const member = name.slice(dot + 1);
  if (dot > 0 && (ns === 'F' || ns === 'acc') && IDENT.test(member) && namespaceHas(ns, member)) return { kind: ns, member };
  return { kind: 'fns', key: name };
}

/** The pieces of a generated forward: its text and what it needs imported. */
interface ForwardCode {
  readonly text: string;
  readonly usesF: boolean;
  readonly usesAcc: boolean;
  readonly usesSlice: boolean;
  /** Keys of the `fns` table the code calls, sorted. */
  readonly fnsKeys: readonly string[];
}

/**
 * The graph's forward as readable, deterministic TypeScript (a method of the module class).
 *
 * @example
 * generateCode(gm);
 * // forward(x: Tensor): Tensor {
 * //   const linear = this.linear.forward(x);
 * //   const relu = F.relu(linear);
 * //   return relu;
 * // }
 */
export function generateCode(gm: GraphModule): string {
  return generateForward(gm).text;
}

function generateForward(gm: GraphModule): ForwardCode {
  gm.graph.lint();
  let usesF = false;
  let usesAcc = false;
  const fns = new Set<string>();
  const flags = { slice: false };
  const expr = (a: Argument): string => formatExpr(a, flags);
  const params: string[] = [];
  const body: string[] = [];
  let returnType = 'unknown';
  for (const n of gm.graph.nodes()) {
    switch (n.op) {
      case 'placeholder':
        params.push(n.args.length ? `${n.name} = ${expr(n.args[0])}` : `${n.name}: Tensor`);
        continue;
      case 'output':
        body.push(`return ${expr(n.args[0])};`);
        returnType = outputType(n.args[0]);
        continue;
      case 'get_attr':
        body.push(`const ${n.name} = ${accessor(n.target)};`);
        continue;
      case 'call_module':
        body.push(`const ${n.name} = ${accessor(n.target)}.forward(${callArgs(n.args, n.kwargs, expr)});`);
        continue;
      case 'call_method': {
        const [self, ...rest] = n.args;
        const receiver = expr(self);
        if (isTensorMethod(n.target)) {
          const recv = IDENT.test(receiver) ? receiver : `(${receiver})`;
          body.push(`const ${n.name} = ${recv}.${n.target}(${callArgs(rest, n.kwargs, expr)});`);
        } else {
          const key = METHOD_KEY + n.target;
          fns.add(key);
          body.push(`const ${n.name} = fns[${quote(key)}](${callArgs(n.args, n.kwargs, expr)});`);
        }
        continue;
      }
      case 'call_function': {
        const callee = calleeOf(n.target.name);
        let call: string;
        if (callee.kind === 'fns') {
          fns.add(callee.key);
          call = `fns[${quote(callee.key)}]`;
        } else {
          if (callee.kind === 'F') usesF = true; else usesAcc = true;
          call = `${callee.kind}.${callee.member}`;
        }
        body.push(`const ${n.name} = ${call}(${callArgs(n.args, n.kwargs, expr)});`);
        continue;
      }
    }
  }
  const text = [`forward(${params.join(', ')}): ${returnType} {`, ...body.map((l) => '  ' + l), '}'].join('\n');
  return { text, usesF, usesAcc, usesSlice: flags.slice, fnsKeys: [...fns].sort() };
}

/**
 * Whether `x.name(...)` calls graph method `name`: it is registered and installed on
 * Tensor.prototype (a getter is not a method, and reading it on the prototype would throw).
 */
function isTensorMethod(name: string): boolean {
  if (!IDENT.test(name) || name === 'constructor' || !getMethod(name)) return false;
  for (let p: object | null = Tensor.prototype; p !== null && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    const d = Object.getOwnPropertyDescriptor(p, name);
    if (d) return typeof d.value === 'function';
  }
  return false;
}

function outputType(a: Argument): string {
  if (a instanceof Node) {
    const m = a.meta.tensorMeta;
    return m === undefined || (m !== null && typeof m === 'object' && !Array.isArray(m)) ? 'Tensor' : 'unknown';
  }
  return Array.isArray(a) ? 'unknown[]' : 'unknown';
}

/** `this.layer1[0].conv` for the dotted path 'layer1.0.conv'. */
function accessor(path: string): string {
  let out = 'this';
  for (const atom of path.split('.')) {
    if (IDENT.test(atom)) out += `.${atom}`;
    else if (/^(0|[1-9]\d*)$/.test(atom)) out += `[${atom}]`;
    else out += `[${quote(atom)}]`;
  }
  return out;
}

/** Positional arguments, then the options object; a trailing dict argument gets an empty options object so it is not taken for one. */
function callArgs(args: readonly Argument[], kwargs: Readonly<Record<string, Argument>>, expr: (a: Argument) => string): string {
  const parts = args.map(expr);
  if (Object.keys(kwargs).length > 0) parts.push(objectLiteral(kwargs, expr));
  else if (args.length > 0 && isDict(args[args.length - 1])) parts.push('{}');
  return parts.join(', ');
}

function isDict(a: Argument): boolean {
  return a !== null && typeof a === 'object' && !(a instanceof Node) && !(a instanceof Slice) && !Array.isArray(a);
}

function objectLiteral(o: Readonly<Record<string, Argument>>, expr: (a: Argument) => string): string {
  const entries = Object.entries(o);
  if (entries.length === 0) return '{}';
  // `__proto__: v` in a literal would set the prototype; a computed key makes it an own property.
  const key = (k: string): string => (k === '__proto__' ? `[${quote(k)}]` : IDENT.test(k) ? k : quote(k));
  return `{ ${entries.map(([k, v]) => `${key(k)}: ${expr(v)}`).join(', ')} }`;
}

function formatExpr(a: Argument, flags: { slice: boolean }): string {
  if (a instanceof Node) return a.name;
  if (a instanceof Slice) {
    flags.slice = true;
    const parts = [a.start, a.stop, a.step];
    while (parts.length > 0 && parts[parts.length - 1] === null) parts.pop();
    return `slice(${parts.map(String).join(', ')})`;
  }
  if (Array.isArray(a)) return `[${a.map((x: Argument) => formatExpr(x, flags)).join(', ')}]`;
  if (a === undefined) return 'undefined';
  if (a === null) return 'null';
  if (typeof a === 'string') return quote(a);
  if (typeof a === 'number') return Object.is(a, -0) ? '-0' : String(a);
  if (typeof a === 'boolean') return String(a);
  return objectLiteral(a as Readonly<Record<string, Argument>>, (x) => formatExpr(x, flags));
}

/** A single-quoted string literal. */
function quote(s: string): string {
  return `'${JSON.stringify(s).slice(1, -1).replace(/\\"/g, '"').replace(/'/g, "\\'")}'`;
}

/** A function the generated code calls through `fns`. */
export type GeneratedCallable = (...args: unknown[]) => unknown;

/**
 * The `fns` table of generated code: registered graph functions by name (looked up when
 * called, so the defining module may be imported later) and, under 'method:<name>',
 * tensor methods that Tensor.prototype does not carry.
 *
 * @example
 * const fns = graphFunctions(['getitem']);
 * fns['getitem']([a, b], 1); // b
 */
export function graphFunctions(keys: readonly string[]): Record<string, GeneratedCallable> {
  const table: Record<string, GeneratedCallable> = {};
  for (const key of keys) {
    const fn: GeneratedCallable = key.startsWith(METHOD_KEY)
      ? (self, ...rest) => callMethod(key.slice(METHOD_KEY.length), self, rest)
      : (...raw) => callFunction(getFunction(key), raw);
    Object.defineProperty(table, key, { value: fn, enumerable: true });
  }
  return table;
}

/** Names the generated module file imports or declares; a class name must not shadow them. */
const MODULE_SCOPE = new Set(['Module', 'Tensor', 'F', 'acc', 'fns', 'slice', 'readFileSync', 'graphFunctions', 'loadAttributes', 'URL']);

/**
 * The full source of a standalone module class for `gm`: its generated forward and a
 * constructor that loads the weights from `weights.fxgm` beside the file (see toFolder).
 *
 * @example
 * writeFileSync('net/module.ts', generateModuleSource(gm, 'Net'));
 */
export function generateModuleSource(gm: GraphModule, className: string): string {
  if (!IDENT.test(className) || MODULE_SCOPE.has(className)) {
    throw new TypeError(`toFolder: class name '${className}' must be an identifier other than ${[...MODULE_SCOPE].join(', ')}`);
  }
  const fwd = generateForward(gm);
  const url = (rel: string): string => quote(new URL(rel, import.meta.url).href);
  const lines = [
    `// Generated by fxrt from GraphModule '${gm.className}'; regenerating overwrites edits.`,
    '// @ts-nocheck: the values flowing between calls are checked at run time by the ops themselves.',
    "import { readFileSync } from 'node:fs';",
    `import { Module } from ${url('../nn/module.js')};`,
    `import type { Tensor } from ${url('../tensor/tensor.js')};`,
    `import { loadAttributes } from ${url('./serialize.js')};`,
  ];
  if (fwd.fnsKeys.length) lines.push(`import { graphFunctions } from ${url('./codegen.js')};`);
  if (fwd.usesSlice) lines.push(`import { slice } from ${url('./node.js')};`);
  if (fwd.usesF) lines.push(`import { F } from ${url(F_MODULE)};`);
  if (fwd.usesAcc) lines.push(`import { acc } from ${url(ACC_MODULE)};`);
  lines.push('');
  if (fwd.fnsKeys.length) lines.push(`const fns = graphFunctions([${fwd.fnsKeys.map(quote).join(', ')}]);`, '');
  lines.push(
    `export class ${className} extends Module {`,
    '  constructor() {',
    '    super();',
    "    loadAttributes(this, readFileSync(new URL('./weights.fxgm', import.meta.url)));",
    '  }',
    '',
    ...fwd.text.split('\n').map((l, i) => (i === 0 ? `  override ${l}` : `  ${l}`)),
    '}',
    '',
  );
  return lines.join('\n');
}

/**
 * Writes `<dir>/module.ts` (a class `className` extending Module, with the generated
 * forward) and `<dir>/weights.fxgm` (what its constructor loads). Returns the module path.
 *
 * @example
 * toFolder(gm, 'out/net', 'Net');
 * const { Net } = await import(pathToFileURL('out/net/module.ts').href);
 * new Net().forward(x);
 */
export function toFolder(gm: GraphModule, dir: string, className: string = gm.className): string {
  const source = generateModuleSource(gm, className);
  const weights = saveGraphModule(gm);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'module.ts');
  writeFileSync(join(dir, 'weights.fxgm'), weights);
  writeFileSync(file, source);
  return file;
}
