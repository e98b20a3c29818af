import { describe, expect, it } from 'vitest';
import { escapeBlock, escapeControls, escapeUntrusted, quoteUntrusted, safeJson } from '../../src/text/untrusted.js';
import { loadHostileValues } from '../helpers/hostile.js';

/** Anything a terminal would act on or hide. */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/;

describe('escapeUntrusted', () => {
  it.each([
    ['ESC sequences', 'a\u001b[2Jb', 'a\\e[2Jb'],
    ['a title-setting OSC ended by BEL', '\u001b]0;owned\u0007', '\\e]0;owned\\a'],
    ['line breaks and tabs', 'one\r\ntwo\tthree', 'one\\r\\ntwo\\tthree'],
    ['NUL and DEL', '\u0000\u007f', '\\0\\x7f'],
    ['the C1 CSI and NEL', 'x\u009b31m\u0085', 'x\\u009b31m\\u0085'],
    ['bidi overrides, marks and isolates', '\u202egnp.exe\u2066\u200e', '\\u202egnp.exe\\u2066\\u200e'],
    ['zero-width characters, the soft hyphen and the BOM', 'ma\u200bil\u00ad\ufeff', 'ma\\u200bil\\u00ad\\ufeff'],
    ['line and paragraph separators', 'a\u2028b\u2029c', 'a\\u2028b\\u2029c'],
    ['backslashes, so escapes are unambiguous', 'C:\\e', 'C:\\\\e'],
  ])('escapes %s', (_label, input, expected) => {
    expect(escapeUntrusted(input)).toBe(expected);
  });

  it('leaves ordinary text alone, accents and CJK included', () => {
    expect(escapeUntrusted('CN=mail.contoso.com, O="Müller & Söhne", L=東京')).toBe('CN=mail.contoso.com, O="Müller & Söhne", L=東京');
  });

  it('never lets an unsafe character through, for every hostile value', () => {
    for (const value of loadHostileValues()) expect(escapeUntrusted(value)).not.toMatch(UNSAFE);
  });

  it('quotes, and keeps backslashes for text that already holds our escapes', () => {
    expect(quoteUntrusted('x\u001b')).toBe('"x\\e"');
    expect(escapeControls('C:\\certs \u001b')).toBe('C:\\certs \\e');
  });
});

describe('escapeBlock', () => {
  it('keeps line breaks and tabs of a block, and escapes everything else', () => {
    expect(escapeBlock('line 1\n\tline 2\u001b]0;x\u0007\r\n\u202e')).toBe('line 1\n\tline 2\\e]0;x\\a\\r\n\\u202e');
    for (const value of loadHostileValues()) expect(escapeBlock(value).replace(/[\n\t]/g, '')).not.toMatch(UNSAFE);
  });
});

describe('safeJson', () => {
  it('parses back to the same data and shows no unsafe character raw', () => {
    const data = { values: loadHostileValues(), subject: 'CN=x\u001b[31m\u202e\u0085' };
    const text = safeJson(data);
    // Line breaks between values are JSON's layout; inside strings they are escaped.
    expect(text.replace(/\n/g, '')).not.toMatch(UNSAFE);
    expect(JSON.parse(text)).toEqual(data);
  });
});
