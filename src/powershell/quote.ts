/**
 * Turning data into PowerShell literals.
 *
 * Every value that comes from a runbook, a parameter or the command line is
 * emitted through these functions and nothing else, so it can only ever be a
 * literal: never a variable, a sub-expression or a parameter name.
 */

/**
 * PowerShell treats all five of these as single quotes (CharTraits.IsSingleQuote):
 * ASCII ' and U+2018, U+2019, U+201A, U+201B. Open and close need not match,
 * so every one of them must be doubled inside a single-quoted string.
 */
const SINGLE_QUOTES = /['\u2018\u2019\u201A\u201B]/g;

/** A single-quoted PowerShell string literal holding exactly `value`. */
export function psString(value: string): string {
  return `'${value.replace(SINGLE_QUOTES, (quote) => quote + quote)}'`;
}

/** `$true` or `$false`. */
export function psBoolean(value: boolean): string {
  return value ? '$true' : '$false';
}

/** A finite number as a PowerShell numeric literal. */
export function psNumber(value: number): string {
  if (!Number.isFinite(value)) {
    throw new RangeError(`cannot emit the non-finite number ${String(value)} as PowerShell`);
  }
  // Integers print without exponent; other numbers use JavaScript's shortest
  // round-trip form, which PowerShell parses as a double (e.g. 1.5, 1e-7).
  return Number.isInteger(value) && Math.abs(value) < 2 ** 53 ? value.toFixed(0) : String(value);
}

/** An array literal `@('a','b')`; `@()` when empty. Always the `@()` form, never a bare `a,b`. */
export function psStringArray(values: readonly string[]): string {
  return `@(${values.map(psString).join(',')})`;
}

/** A literal for any plain data value: string, number, boolean, list of strings, or null. */
export function psLiteral(value: string | number | boolean | readonly string[] | null): string {
  if (value === null) return '$null';
  if (typeof value === 'string') return psString(value);
  if (typeof value === 'number') return psNumber(value);
  if (typeof value === 'boolean') return psBoolean(value);
  return psStringArray(value);
}
