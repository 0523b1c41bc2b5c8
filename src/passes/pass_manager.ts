import { isAccOp } from '../acc_ops/registry.js';
import { LintError } from '../ir/graph.js';
import type { GraphModule } from '../ir/graph_module.js';
import { isNode, mapArgument, type AnyNode, type Argument, type TensorMeta } from '../ir/node.js';
import { Tensor } from '../tensor/tensor.js';

/** What a pass returns: the (possibly new) module and whether anything changed. */
export interface PassResult {
  gm: GraphModule;
  modified: boolean;
}

/** A graph transformation. Any `(gm) => ({ gm, modified })` is a pass. */
export type Pass = (gm: GraphModule) => PassResult;

/**
 * A pass with a name (for ordering constraints, error messages and per-step printing) and
 * the passes it must run after wherever both are in one pipeline.
 */
export type NamedPass = Pass & { readonly passName: string; readonly runsAfter: readonly string[] };

/** How a pass declares its place in a pipeline (see definePass). */
export interface PassOptions {
  /** Names of passes that, when present in the same pipeline, must run before this one. */
  readonly runsAfter?: readonly string[];
}

/**
 * Gives a pass a name and, optionally, the passes it depends on.
 *
 * @example
 * const dropRelu = definePass('dropRelu', (gm) => ({ gm, modified: false }), { runsAfter: ['constFold'] });
 * new PassManager([constFold, dropRelu]).run(gm);
 */
export function definePass(name: string, fn: Pass, opts: PassOptions = {}): NamedPass {
  if (!/^\S+$/.test(name)) throw new TypeError(`definePass: a pass name must be a non-empty word, got '${name}'`);
  return Object.assign((gm: GraphModule) => fn(gm), { passName: name, runsAfter: [...(opts.runsAfter ?? [])] });
}

/** The name a pass is known by: its definePass name, else the function's own name. */
export function passNameOf(p: Pass | NamedPass, index: number): string {
  if ('passName' in p && typeof p.passName === 'string') return p.passName;
  return p.name || `pass${index}`;
}

/**
 * "`before` must run before `after`": either `{ before: 'a', after: 'b' }` or `['a', 'b']`,
 * naming passes (or giving them). Every run of `before` must come before every run of `after`;
 * a constraint between passes that are not both in the pipeline holds.
 */
export type PassConstraint =
  | { readonly before: string | NamedPass; readonly after: string | NamedPass }
  | readonly [string | NamedPass, string | NamedPass];

/** Runs the module before and after each pass on these inputs and compares the outputs. */
export interface ValidateOptions {
  readonly inputs: readonly Tensor[];
  /** Relative tolerance (default 1e-4: folding passes reassociate float arithmetic). */
  readonly rtol?: number;
  /** Absolute tolerance (default 1e-5). */
  readonly atol?: number;
}

/** What a PassManager checks and reports besides running the passes. */
export interface PassManagerOptions {
  readonly constraints?: readonly PassConstraint[];
  /** Run `gm.lint()` after every pass (default true). */
  readonly lint?: boolean;
  readonly validate?: ValidateOptions;
  /** Called after each pass, e.g. to print the graph after a step. */
  readonly onPass?: (name: string, gm: GraphModule, ms: number, modified: boolean) => void;
}

/** An error raised by the pass manager on behalf of one pass; `passName` names it. */
export class PassError extends Error {
  override name = 'PassError';
  constructor(readonly passName: string, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
  }
}

/**
 * Runs an ordered list of passes: checks the ordering constraints up front (those given
 * here and each pass's own `runsAfter`), lints after every pass and, when asked, checks that
 * no pass changes the module's outputs.
 *
 * @example
 * const pm = new PassManager(defaultPasses(), {
 *   validate: { inputs: [x] },
 *   onPass: (name, gm) => console.log(name, gm.graph.toString()),
 * });
 * const { gm: optimized, modified } = pm.run(gm);
 */
export class PassManager {
  readonly passes: readonly NamedPass[];
  readonly constraints: readonly PassConstraint[];
  readonly #opts: PassManagerOptions;

  constructor(passes: readonly (Pass | NamedPass)[], opts: PassManagerOptions = {}) {
    this.passes = passes.map((p, i) => ('passName' in p ? p : definePass(passNameOf(p, i), p)));
    const declared = this.passes.flatMap((p) => p.runsAfter.map((a): PassConstraint => ({ before: a, after: p.passName })));
    this.constraints = [...declared, ...(opts.constraints ?? [])];
    this.#opts = opts;
    this.checkConstraints();
  }

  /** Throws naming both passes of the first violated ordering constraint. */
  checkConstraints(): void {
    const names = this.passes.map((p) => p.passName);
    for (const c of this.constraints) {
      const [first, then] = isPair(c) ? c : [c.before, c.after];
      const a = typeof first === 'string' ? first : first.passName;
      const b = typeof then === 'string' ? then : then.passName;
      const lastA = names.lastIndexOf(a);
      const firstB = names.indexOf(b);
      if (lastA >= 0 && firstB >= 0 && firstB <= lastA) {
        throw new Error(`pass ordering constraint violated: '${a}' must run before '${b}', ` +
          `but '${b}' is at position ${firstB} and '${a}' at position ${lastA}`);
      }
    }
  }

  /** Runs every pass in order; returns the final module and whether any pass changed it. */
  run(gm: GraphModule): PassResult {
    const lint = this.#opts.lint ?? true;
    const validate = this.#opts.validate;
    let reference = validate ? runOn(gm, validate.inputs) : undefined;
    let modified = false;
    for (const pass of this.passes) {
      const name = pass.passName;
      const t0 = performance.now();
      let result: PassResult;
      try {
        result = pass(gm);
      } catch (e) {
        if (e instanceof PassError) throw e;
        throw new PassError(name, `pass '${name}' failed: ${e instanceof Error ? e.message : String(e)}`, e);
      }
      const ms = performance.now() - t0;
      gm = result.gm;
      modified ||= result.modified;
      if (lint) {
        try {
          gm.lint();
        } catch (e) {
          if (!(e instanceof LintError)) throw e;
          throw new PassError(name, `pass '${name}' produced a malformed graph: ${e.message}`, e);
        }
      }
      if (validate && reference !== undefined) {
        let out: unknown;
        try {
          out = runOn(gm, validate.inputs);
        } catch (e) {
          throw new PassError(name, `pass '${name}' produced a module that fails to run: ${e instanceof Error ? e.message : String(e)}`, e);
        }
        const problem = compareOutputs(reference, out, validate.rtol ?? 1e-4, validate.atol ?? 1e-5, 'output');
        if (problem) throw new PassError(name, `pass '${name}' changed the module's outputs: ${problem}`);
        reference = out;
      }
      this.#opts.onPass?.(name, gm, ms, result.modified);
    }
    return { gm, modified };
  }
}

function isPair(c: PassConstraint): c is readonly [string | NamedPass, string | NamedPass] {
  return Array.isArray(c);
}

/** Runs the module on copies of the inputs (in-place ops must not leak between runs). */
function runOn(gm: GraphModule, inputs: readonly Tensor[]): unknown {
  return gm.forward(...inputs.map((t) => t.clone()));
}

/**
 * Compares two output structures like allclose (|a - b| <= atol + rtol * |b|, NaN only
 * matching NaN); returns a description of the first mismatch, or undefined when they agree.
 */
export function compareOutputs(expected: unknown, actual: unknown, rtol: number, atol: number, path: string): string | undefined {
  if (expected instanceof Tensor) {
    if (!(actual instanceof Tensor)) return `${path}: expected a tensor, got ${describe(actual)}`;
    const es = expected.shape;
    const as = actual.shape;
    if (es.length !== as.length || es.some((d, i) => d !== as[i])) return `${path}: shape changed from [${es}] to [${as}]`;
    if (expected.dtype !== actual.dtype) return `${path}: dtype changed from ${expected.dtype} to ${actual.dtype}`;
    const e = expected.toFloat64();
    const a = actual.toFloat64();
    let maxAbs = 0;
    let maxRel = 0;
    let bad = -1;
    for (let i = 0; i < e.length; i++) {
      const x = e[i]!;
      const y = a[i]!;
      if (Number.isNaN(x) || Number.isNaN(y)) {
        if (Number.isNaN(x) !== Number.isNaN(y) && bad < 0) bad = i;
        continue;
      }
      if (x === y) continue;
      const abs = Math.abs(x - y);
      const rel = abs / Math.abs(x);
      if (!(abs <= maxAbs)) maxAbs = abs;
      if (!(rel <= maxRel)) maxRel = rel;
      if (!(abs <= atol + rtol * Math.abs(x)) && bad < 0) bad = i;
    }
    if (bad < 0) return undefined;
    return `${path}: max abs error ${maxAbs}, max rel error ${maxRel} (rtol=${rtol}, atol=${atol}); ` +
      `first mismatch at flat index ${bad}: expected ${e[bad]}, got ${a[bad]}`;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) {
      return `${path}: expected a list of ${expected.length}, got ${describe(actual)}`;
    }
    for (let i = 0; i < expected.length; i++) {
      const p = compareOutputs(expected[i], actual[i], rtol, atol, `${path}[${i}]`);
      if (p) return p;
    }
    return undefined;
  }
  return Object.is(expected, actual) ? undefined : `${path}: expected ${describe(expected)}, got ${describe(actual)}`;
}

function describe(v: unknown): string {
  if (v instanceof Tensor) return `Tensor(${v.dtype}[${v.shape.join(', ')}])`;
  if (Array.isArray(v)) return `a list of ${v.length}`;
  return String(v);
}

// ---- helpers for pass authors ----

/** The acc op name ('relu') of an acc call_function node, else undefined. */
export function accOpName(n: AnyNode): string | undefined {
  return n.op === 'call_function' && isAccOp(n.target) ? n.target.accName : undefined;
}

/** A node's recorded tensor metadata (shape/dtype), when it is a single tensor. */
export function tensorMetaOf(a: Argument): TensorMeta | undefined {
  if (!isNode(a)) return undefined;
  const m = a.meta.tensorMeta;
  return m !== null && typeof m === 'object' && !Array.isArray(m) && 'shape' in m ? m : undefined;
}

/**
 * Makes every user of `node` use `value` instead, where `value` may be a literal (a folded
 * size) as well as another node. Returns the number of users rewritten.
 */
export function replaceUsesWith(node: AnyNode, value: Argument): number {
  const users = [...node.users];
  const swap = (a: Argument): Argument => mapArgument(a, (n) => (n === node ? value : n));
  for (const u of users) {
    u.args = u.args.map(swap);
    const kwargs: Record<string, Argument> = {};
    for (const [k, v] of Object.entries(u.kwargs)) kwargs[k] = swap(v);
    u.kwargs = kwargs;
  }
  return users.length;
}
