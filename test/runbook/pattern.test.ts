import { describe, expect, it } from 'vitest';
import { bindParams } from '../../src/plan/params.js';
import { compileParamPattern } from '../../src/runbook/pattern.js';
import { analyze } from '../helpers/analyze.js';

const runbook = (pattern: string, value: string): string => `version: 1
name: patterns
params:
  text: { type: string, pattern: '${pattern.replace(/'/g, "''")}', default: '${value}' }
steps:
  - id: health
    action: test-service-health
    with: { server: EXCH01 }
`;

describe('param patterns', () => {
  // A backtracking engine takes minutes on these; the test's timeout only says "it finishes" (figures are in npm run bench).
  it('compiles with a linear-time engine: ^(a+)+$ against 41 characters and a bang lints at once', { timeout: 60_000 }, async () => {
    const { diagnostics } = await analyze(runbook('^(a+)+$', `${'a'.repeat(41)}!`));
    expect(diagnostics).toEqual([expect.objectContaining({ line: 4, ruleId: 'invalid-value', message: expect.stringContaining('does not match the pattern') as string })]);
  });

  it('binds --var values with the same engine', { timeout: 60_000 }, async () => {
    const { runbook: parsed } = await analyze(runbook('^(a+)+$', 'aaa'));
    expect(() => bindParams(parsed!, new Map([['text', `${'a'.repeat(5000)}!`]]))).toThrow(/does not match the pattern/);
    expect(bindParams(parsed!, new Map([['text', 'a'.repeat(5000)]])).get('text')).toMatchObject({ value: 'a'.repeat(5000) });
  });

  it.each([
    ['(a)\\1', 'invalid escape sequence'],
    ['(?=a)b', 'unsupported Perl syntax'],
    ['[A-Z', 'missing closing ]'],
  ])('refuses %s with the reason, at the pattern', async (pattern, reason) => {
    const { diagnostics } = await analyze(runbook(pattern, 'A'));
    expect(diagnostics).toEqual([
      expect.objectContaining({ line: 4, column: 34, ruleId: 'invalid-value', message: expect.stringContaining(reason) as string }),
    ]);
  });

  it('accepts JavaScript escapes and matches whole values', () => {
    const compiled = compileParamPattern('[a-z\\u00e9]+');
    expect(compiled.ok && compiled.matches('café')).toBe(true);
    expect(compiled.ok && compiled.matches('café!')).toBe(false);
    const alternation = compileParamPattern('a|b');
    expect(alternation.ok && alternation.matches('ab')).toBe(false);
  });
});
