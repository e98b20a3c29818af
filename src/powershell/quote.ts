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

/** The stop-parsing token: after it, PowerShell reads the rest of the line (up to a `|`) as verbatim text. */
const STOP_PARSING = '--%';

/**
 * A PowerShell string literal holding exactly `value`: single-quoted, with
 * every single-quote character doubled.
 *
 * Two kinds of value need more:
 * - A value with line breaks is built from single-line pieces and `[char]`
 *   codes, `('a' + [char]10 + 'b')`, so that no literal spans lines: indenting
 *   the generated script, or writing it with CRLF line ends, would otherwise
 *   change the value.
 * - A string argument whose value is `--%` right after a parameter name is
 *   the stop-parsing token even when quoted, so `-Name '--%' -Other 'x |
 *   Stop-Computer #'` would run Stop-Computer (the verbatim text ends at the
 *   `|`). In parentheses it is an expression and stays data.
 */
export function psString(value: string): string {
  if (value === STOP_PARSING) return `('${STOP_PARSING}')`;
  if (!LINE_BREAK.test(value)) return quote(value);
  const pieces = value.split(/([\r\n])/);
  // The first piece is always a string, even an empty one, so + concatenates instead of adding char codes.
  const parts = pieces.flatMap((piece, index) => {
    if (piece === '\r') return ['[char]13'];
    if (piece === '\n') return ['[char]10'];
    return index === 0 || piece !== '' ? [quote(piece)] : [];
  });
  return `(${parts.join(' + ')})`;
}

const LINE_BREAK = /[\r\n]/;

function quote(text: string): string {
  return `'${text.replace(SINGLE_QUOTES, (mark) => mark + mark)}'`;
}

/** `$true` or `$false`. */
export function psBoolean(value: boolean): string {
  return value ? '$true' : '$false';
}

/**
 * A finite number as a PowerShell numeric literal. A negative one is
 * parenthesized: as a command argument, `-5` is the bareword string '-5' to
 * PowerShell, while `(-5)` is the number -5 everywhere.
 */
export function psNumber(value: number): string {
  if (!Number.isFinite(value)) {
    throw new RangeError(`cannot emit the non-finite number ${String(value)} as PowerShell`);
  }
  // Integers print without exponent; other numbers use JavaScript's shortest
  // round-trip form, which PowerShell parses as a double (e.g. 1.5, 1e-7).
  const text = Number.isInteger(value) && Math.abs(value) < 2 ** 53 ? value.toFixed(0) : String(value);
  return text.startsWith('-') ? `(${text})` : text;
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
