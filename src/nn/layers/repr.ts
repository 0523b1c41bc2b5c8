/** Python-style formatting of layer settings, so `extraRepr()` reads like PyTorch's. */

/** A value as Python's repr would print it: floats keep a decimal point, lists print as tuples. */
export type ReprValue = number | boolean | string | null | readonly ReprValue[];

/** A float as Python prints it (`1e-05`, `0.1`, `2.0`). */
export function pyFloat(v: number): string {
  if (Number.isNaN(v)) return 'nan';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-4 || a >= 1e16)) {
    const [mant, exp] = v.toExponential().split('e') as [string, string];
    const sign = exp.startsWith('-') ? '-' : '+';
    const digits = exp.replace(/^[+-]/, '').padStart(2, '0');
    return `${mant}e${sign}${digits}`;
  }
  return Number.isInteger(v) ? `${v}.0` : String(v);
}

/** An integer-valued setting (kernel sizes, dims) as Python prints it. */
export function pyRepr(v: ReprValue): string {
  if (v === null) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'string') return `'${v}'`;
  if (typeof v === 'number') return String(v);
  return v.length === 1 ? `(${pyRepr(v[0]!)},)` : `(${v.map(pyRepr).join(', ')})`;
}
