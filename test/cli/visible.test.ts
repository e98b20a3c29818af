import { describe, expect, it } from 'vitest';
import { safeJson, visibleText } from '../../src/cli/visible.js';
import { loadHostileValues } from '../helpers/hostile.js';

/** Anything a terminal would act on or hide. */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/;

describe('visibleText', () => {
  it.each([
    ['ESC sequences', 'a\u001b[2Jb', 'a\\x1B[2Jb'],
    ['a title-setting OSC ended by BEL', '\u001b]0;owned\u0007', '\\x1B]0;owned\\x07'],
    ['line breaks and tabs', 'one\r\ntwo\tthree', 'one\\x0D\\x0Atwo\\x09three'],
    ['NUL and DEL', '\u0000\u007f', '\\x00\\x7F'],
    ['the C1 CSI', 'x\u009b31m', 'x\\x9B31m'],
    ['bidi overrides and isolates', '\u202egnp.exe\u2066', '\\u{202E}gnp.exe\\u{2066}'],
    ['zero-width characters and the BOM', 'ma\u200bil\ufeff', 'ma\\u{200B}il\\u{FEFF}'],
    ['backslashes, so escapes are unambiguous', 'C:\\x1B', 'C:\\\\x1B'],
  ])('escapes %s', (_label, input, expected) => {
    expect(visibleText(input)).toBe(expected);
  });

  it('leaves ordinary text alone, accents and CJK included', () => {
    expect(visibleText('CN=mail.contoso.com, O="Müller & Söhne", L=東京')).toBe('CN=mail.contoso.com, O="Müller & Söhne", L=東京');
  });

  it('never lets an unsafe character through, for every hostile value', () => {
    for (const value of loadHostileValues()) expect(visibleText(value)).not.toMatch(UNSAFE);
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
