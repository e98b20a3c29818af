import { describe, expect, it } from 'vitest';
import { MAX_NESTING_DEPTH, measureNesting, parseRunbookDocument } from '../../src/runbook/document.js';

const parse = (text: string) => parseRunbookDocument({ file: 'a.yaml', text });

describe('parseRunbookDocument', () => {
  it('reports every syntax error with its position', () => {
    const result = parse('a: [1, 2\nb: {\n');
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.diagnostics.length).toBeGreaterThan(0);
      expect(result.diagnostics.every((d) => d.ruleId === 'yaml-syntax' && d.line >= 1 && d.column >= 1)).toBe(true);
    }
  });

  it('reports duplicate keys at the duplicate', () => {
    const result = parse('version: 1\nname: a\nname: b\n');
    expect(!result.ok && result.diagnostics.map((d) => [d.line, d.column, d.message.slice(0, 14)])).toEqual([[3, 1, 'duplicate key:']]);
  });

  it('explains tab indentation', () => {
    const result = parse('params:\n\tserver: 1\n');
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.diagnostics[0]).toMatchObject({ line: 2, ruleId: 'yaml-syntax' });
      expect(result.diagnostics.some((d) => d.hint?.includes('spaces'))).toBe(true);
    }
  });

  it('caps alias expansion (billion laughs)', () => {
    const levels = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 8; i++) levels.push(`l${i}: &l${i} [${Array(10).fill(i === 1 ? '*a' : `*l${i - 1}`).join(', ')}]`);
    const result = parse(levels.join('\n') + '\n');
    expect(!result.ok && result.diagnostics[0]?.message).toMatch(/^cannot expand aliases/);
  });

  it('refuses deep nesting before the parser sees it', () => {
    for (const text of ['a: ' + '['.repeat(100_000) + ']'.repeat(100_000), 'a: ' + '{b: '.repeat(5000) + '1' + '}'.repeat(5000), '- '.repeat(5000) + 'x']) {
      const result = parse(text);
      expect(!result.ok && result.diagnostics[0]?.message).toBe(`nesting is deeper than ${MAX_NESTING_DEPTH} levels`);
    }
  });

  it('reports more than one document', () => {
    const result = parse('a: 1\n---\nb: 2\n');
    expect(!result.ok && result.diagnostics[0]?.line).toBe(2);
  });

  it('parses CRLF files with the same positions', () => {
    const result = parse('version: 1\r\nname: x\r\n');
    expect(result.ok && result.document.data).toEqual({ version: 1, name: 'x' });
  });
});

describe('measureNesting', () => {
  it('ignores brackets in quoted strings, comments and block scalars', () => {
    const text = ["a: '[[[[[['", 'b: "{{{{"  # [[[[[[', 'script: |', '  if ($a) { if ($b) { if ($c) { [[[[ } } }', 'c: [1, [2]]'].join('\n');
    expect(measureNesting(text).depth).toBeLessThan(5);
  });

  it('counts block indentation and sequence markers', () => {
    expect(measureNesting('a:\n  b:\n    c:\n      - - d\n').depth).toBe(6);
  });
});
