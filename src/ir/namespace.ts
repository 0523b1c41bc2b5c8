/** JS reserved words and names the generated code uses: never valid node names. */
const RESERVED = new Set([
  'break', 'case', 'catch', 'class', 'const', 'continue', 'debugger', 'default', 'delete', 'do', 'else', 'enum',
  'export', 'extends', 'false', 'finally', 'for', 'function', 'if', 'import', 'in', 'instanceof', 'new', 'null',
  'return', 'super', 'switch', 'this', 'throw', 'true', 'try', 'typeof', 'var', 'void', 'while', 'with', 'yield',
  'let', 'static', 'implements', 'interface', 'package', 'private', 'protected', 'public', 'await', 'async',
  'arguments', 'eval', 'undefined', 'NaN', 'Infinity', 'F', 'acc', 'fns', 'self', 'Tensor', 'slice', 'output',
]);

/**
 * Hands out unique identifier-safe names: `relu`, `relu_1`, `relu_2`, ...
 * Amortized O(1) per name (a counter per base), so graphs of many nodes stay fast.
 */
export class Namespace {
  readonly #used = new Set<string>();
  readonly #counters = new Map<string, number>();

  create(candidate: string): string {
    let base = sanitize(candidate);
    // A name like `relu_3` restarts from base `relu` so suffixes stay short.
    const m = /^(.*)_(\d+)$/.exec(base);
    if (m && this.#used.has(base)) base = m[1]!;
    if (!this.#used.has(base) && !RESERVED.has(base)) {
      this.#used.add(base);
      return base;
    }
    let i = this.#counters.get(base) ?? 1;
    let name = `${base}_${i}`;
    while (this.#used.has(name)) name = `${base}_${++i}`;
    this.#counters.set(base, i + 1);
    this.#used.add(name);
    return name;
  }

  release(name: string): void {
    this.#used.delete(name);
  }
}

export function sanitize(s: string): string {
  let out = s.replace(/[^A-Za-z0-9_$]/g, '_');
  if (out === '' || /^[0-9]/.test(out)) out = '_' + out;
  return out;
}
