import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Values that try to break out of a PowerShell literal: every quote character
 * PowerShell knows, sub-expressions, variables, backticks, comment and
 * here-string markers, newlines, dashes that start parameters, NUL, bidi and
 * zero-width characters, a 100 000-character string, and more.
 * Stored in test/fixtures/hostile-values.json, one JSON string each.
 */
export function loadHostileValues(): string[] {
  const values: unknown = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'hostile-values.json'), 'utf8'));
  if (!Array.isArray(values) || !values.every((value): value is string => typeof value === 'string')) {
    throw new Error('test/fixtures/hostile-values.json must be an array of strings');
  }
  return values;
}
