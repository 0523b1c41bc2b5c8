/** Command-line flags of `fxrt`: `--name value` or `--name=value`, each flag declared with its allowed values. */

/** A flag: its allowed values (strings), or 'int' / 'shape' for numbers. */
export type FlagSpec = readonly string[] | 'int' | 'shape';

/** Raised for command lines that cannot be understood; the message says what to type instead. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Parsed flags: strings for choices, numbers for 'int', number lists for 'shape'. */
export type FlagValues = Record<string, string | number | number[]>;

function parseValue(flag: string, spec: FlagSpec, raw: string): string | number | number[] {
  if (spec === 'int') {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${flag} expects a non-negative integer, got '${raw}'`);
    return n;
  }
  if (spec === 'shape') {
    const dims = raw.split(/[,x]/).map(Number);
    if (dims.length === 0 || dims.some((d) => !Number.isInteger(d) || d < 1)) throw new UsageError(`--${flag} expects positive dims like 1,3,224,224, got '${raw}'`);
    return dims;
  }
  if (!spec.includes(raw)) throw new UsageError(`--${flag} must be one of ${spec.join(', ')}, got '${raw}'`);
  return raw;
}

/**
 * Parses `args` against the declared flags; unknown flags and stray arguments are errors.
 *
 * @example
 * parseFlags(['--precision', 'fp16'], { precision: ['fp32', 'fp16'] }); // { precision: 'fp16' }
 */
export function parseFlags(args: readonly string[], specs: Readonly<Record<string, FlagSpec>>): FlagValues {
  const out: FlagValues = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument '${arg}'`);
    const eq = arg.indexOf('=');
    const flag = arg.slice(2, eq < 0 ? undefined : eq);
    const spec = specs[flag];
    if (!spec) throw new UsageError(`unknown option --${flag} (options: ${Object.keys(specs).map((k) => `--${k}`).join(', ')})`);
    let raw: string | undefined;
    if (eq >= 0) raw = arg.slice(eq + 1);
    else raw = args[++i];
    if (raw === undefined) throw new UsageError(`--${flag} needs a value`);
    out[flag] = parseValue(flag, spec, raw);
  }
  return out;
}

/** A parsed flag as a string (choices), with a default. */
export function stringFlag(v: FlagValues, name: string, fallback: string): string {
  const x = v[name];
  return typeof x === 'string' ? x : fallback;
}

/** A parsed flag as an integer, with a default. */
export function intFlag(v: FlagValues, name: string, fallback: number): number {
  const x = v[name];
  return typeof x === 'number' ? x : fallback;
}

/** A parsed flag as a shape, if given. */
export function shapeFlag(v: FlagValues, name: string): number[] | undefined {
  const x = v[name];
  return Array.isArray(x) ? x : undefined;
}
