import { describe, expect, it } from 'vitest';
import { formatReference, parseTemplate, soleReference } from '../../src/runbook/template.js';

describe('parseTemplate', () => {
  it('splits text and references', () => {
    const parsed = parseTemplate('C:\\backup\\${{ steps.find-old.outputs.thumbprint }}.pfx');
    expect(parsed).toEqual({
      ok: true,
      parts: [
        { kind: 'text', text: 'C:\\backup\\' },
        { kind: 'ref', ref: { kind: 'output', step: 'find-old', name: 'thumbprint' }, offset: 10, length: 40 },
        { kind: 'text', text: '.pfx' },
      ],
    });
  });

  it('accepts params with or without inner spaces', () => {
    for (const text of ['${{params.server}}', '${{ params.server }}', '${{   params.server   }}']) {
      const parsed = parseTemplate(text);
      expect(parsed.ok && soleReference(parsed.parts)).toEqual({ kind: 'param', name: 'server' });
    }
  });

  it.each([
    ['${{ params.server', 'unclosed template'],
    ['${{ env.PATH }}', "unsupported template expression 'env.PATH'"],
    ['${{ params.a || params.b }}', 'unsupported template expression'],
    ["${{ format('{0}', params.a) }}", 'unsupported template expression'],
    ['${{ steps.import.thumbprint }}', 'unsupported template expression'],
    ['${{ params.}}', 'unsupported template expression'],
    ['${{ steps.Import.outputs.x }}', 'unsupported template expression'],
  ])('rejects %s', (text, message) => {
    const parsed = parseTemplate(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error.message).toContain(message);
  });

  it('has no sole reference when text surrounds the template', () => {
    const parsed = parseTemplate('x${{ params.a }}');
    expect(parsed.ok && soleReference(parsed.parts)).toBeUndefined();
  });

  it('formats references as written in runbooks', () => {
    expect(formatReference({ kind: 'param', name: 'a' })).toBe('params.a');
    expect(formatReference({ kind: 'output', step: 's', name: 'o' })).toBe('steps.s.outputs.o');
  });
});
