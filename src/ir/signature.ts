/**
 * Call signatures of graph-callable things (functions, tensor methods, acc ops).
 *
 * TypeScript has no keyword arguments, so the calling convention is: positional
 * arguments first, then an optional trailing plain object holding any parameter by
 * name ("options"). Keyword-only parameters can only be given in that object;
 * acc ops take all their arguments that way: `acc.relu({ input: x })`.
 */
export interface Param {
  readonly name: string;
  /** Absent: the parameter is required. */
  readonly default?: unknown;
  /** Collects the remaining positional arguments (`x.permute(0, 2, 1)`); a single array argument is taken as the list. */
  readonly rest?: boolean;
  /** Only accepted in the options object. */
  readonly kwOnly?: boolean;
}

export interface Signature {
  readonly params: readonly Param[];
}

export type Kwargs = Record<string, unknown>;

/** Shorthand: `sig('input', 'other', ['alpha', 1], '*', ['out', null])`; names after '*' are keyword-only; '...shape' is a rest param. */
export function sig(...spec: (string | readonly [string, unknown])[]): Signature {
  const params: Param[] = [];
  let kwOnly = false;
  for (const s of spec) {
    if (s === '*') { kwOnly = true; continue; }
    if (typeof s === 'string') {
      if (s.startsWith('...')) params.push({ name: s.slice(3), rest: true });
      else params.push({ name: s, kwOnly });
    } else params.push({ name: s[0], default: s[1], kwOnly });
  }
  return { params };
}

/** A plain `{...}` object (not a tensor, array, or class instance): the options bag of a call. */
export function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (x === null || typeof x !== 'object' || Array.isArray(x)) return false;
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

/**
 * Splits a raw JS argument list into positional args and options by the signature:
 * a trailing plain object is the options bag when the signature has more params than
 * positional args supplied before it (or has keyword-only params).
 */
export function splitCallArgs(signature: Signature, raw: readonly unknown[]): [unknown[], Kwargs] {
  const last = raw[raw.length - 1];
  if (raw.length > 0 && isPlainObject(last)) {
    return [raw.slice(0, -1), { ...last }];
  }
  return [[...raw], {}];
}

/**
 * Binds positional args and kwargs to parameter names, filling defaults.
 * Throws a TypeError naming `what` (e.g. "F.conv2d") for missing, duplicate or unknown arguments.
 */
export function bindArgs(signature: Signature, args: readonly unknown[], kwargs: Kwargs, what: string): Kwargs {
  const out: Kwargs = {};
  let i = 0;
  for (const p of signature.params) {
    if (p.rest) {
      const restArgs = args.slice(i);
      i = args.length;
      if (restArgs.length === 1 && Array.isArray(restArgs[0])) out[p.name] = restArgs[0];
      else if (restArgs.length > 0) out[p.name] = restArgs;
      continue;
    }
    if (p.kwOnly) break;
    if (i < args.length) out[p.name] = args[i++];
  }
  if (i < args.length) {
    const positional = signature.params.filter((p) => !p.kwOnly).length;
    throw new TypeError(`${what}: takes at most ${positional} positional arguments, got ${args.length}`);
  }
  for (const [k, v] of Object.entries(kwargs)) {
    const p = signature.params.find((q) => q.name === k);
    if (!p) {
      const names = signature.params.map((q) => q.name).join(', ');
      throw new TypeError(`${what}: unexpected argument '${k}' (expected one of: ${names})`);
    }
    if (k in out) throw new TypeError(`${what}: got multiple values for argument '${k}'`);
    out[k] = v;
  }
  for (const p of signature.params) {
    if (p.name in out && out[p.name] !== undefined) continue;
    if ('default' in p) out[p.name] = p.default;
    else throw new TypeError(`${what}: missing required argument '${p.name}'`);
  }
  return out;
}
