import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { handshakeCommand, newNonce, parseEnvelope, parseHandshake, wrapBlock } from '../../src/powershell/envelope.js';

const NONCE = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';

/** What the PowerShell side prints: the JSON, Base64, between the markers. */
const marker = (json: unknown, nonce = NONCE): string => `<<${nonce} ${Buffer.from(JSON.stringify(json)).toString('base64')} ${nonce}>>`;
const rawMarker = (payload: string, nonce = NONCE): string => `<<${nonce} ${payload} ${nonce}>>`;

/** The Base64 payload inside a wrapped line. */
const payloadOf = (line: string): string => /^Invoke-ExchCertBlock '([^']*)'/.exec(line)?.[1] ?? '';

describe('newNonce', () => {
  it('is 32 random alphanumeric characters', () => {
    const nonces = new Set(Array.from({ length: 200 }, newNonce));
    expect(nonces.size).toBe(200);
    for (const nonce of nonces) expect(nonce).toMatch(/^[0-9a-f]{32}$/);
  });
});

describe('wrapBlock', () => {
  it('is one printable-ASCII line, the same for every script but for the Base64 payload, which decodes to the script', () => {
    const template = wrapBlock('', NONCE);
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 400 }), (script) => {
        const line = wrapBlock(script, NONCE);
        expect(line).toMatch(/^[\x20-\x7e]+$/);
        const payload = payloadOf(line);
        expect(payload).toMatch(/^[A-Za-z0-9+/]*={0,2}$/);
        // Nothing of the script reaches the PowerShell parser except as Base64 inside a single-quoted string.
        expect(line.replace(payload, '')).toBe(template);
        expect(Buffer.from(payload, 'base64').toString('utf8')).toBe(script);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps scripts that look dangerous on the stdin prompt inert: quotes, here-strings, unfinished statements, line breaks', () => {
    const script = ['$a = @"', "it's ’quoted’ \"twice\"", '"@', 'if ($true) {', "'unterminated", '`', '\r\n\u2028\u0000'].join('\n');
    const line = wrapBlock(script, NONCE);
    expect(line).not.toMatch(/[\r\n\u2028]/);
    expect(Buffer.from(payloadOf(line), 'base64').toString('utf8')).toBe(script);
  });

  it('carries lone surrogates as U+FFFD, which UTF-8 cannot hold', () => {
    expect(Buffer.from(payloadOf(wrapBlock('a\ud800b', NONCE)), 'base64').toString('utf8')).toBe('a\ufffdb');
  });

  it('is a short call of the wrapper the handshake defines, with the payload and the nonce as single-quoted strings', () => {
    expect(wrapBlock('x', NONCE)).toBe(`Invoke-ExchCertBlock '${Buffer.from('x').toString('base64')}' '${NONCE}'`);
  });

  it('defines a wrapper that resets the step report before running the block and reports with the nonce it is given', () => {
    const handshake = handshakeCommand(NONCE);
    expect(handshake).toContain('function global:Invoke-ExchCertBlock {');
    expect(handshake.indexOf('$global:ExchCert.Current = $null')).toBeLessThan(handshake.indexOf('FromBase64String($args[0])'));
    expect(handshake).toContain("$ErrorActionPreference = 'Stop'");
    expect(handshake).toContain('ConvertTo-Json -InputObject $r -Depth 8 -Compress');
    expect(handshake).toContain("[Console]::Out.WriteLine('<<' + $args[1] + ' '");
  });

  it('uses nothing Windows PowerShell 5.1 cannot parse', () => {
    for (const line of [wrapBlock('x', NONCE), handshakeCommand(NONCE)]) {
      for (const sevenOnly of ['&&', '||', '??', '?.', '-AsHashtable', '-AsArray', '::new(']) expect(line).not.toContain(sevenOnly);
      expect(line).not.toMatch(/\s\?\s/);
    }
  });

  it('refuses a nonce that is not alphanumeric', () => {
    expect(() => wrapBlock('x', "a'b")).toThrow(/nonce/);
    expect(() => wrapBlock('x', '')).toThrow(/nonce/);
  });
});

describe('parseEnvelope', () => {
  it('maps a step report and returns the text around the marker as log', () => {
    const stdout = [
      'exch-cert: importing',
      'WARNING: the certificate expires in 20 days',
      marker({ ok: true, step: { Id: 'import', Status: 'changed', Outputs: { thumbprint: 'AB12', services: ['IIS'], none: null } } }),
      'formatted output after the marker',
      '',
    ].join('\n');
    expect(parseEnvelope(stdout, NONCE)).toEqual({
      envelope: { ok: true, step: { id: 'import', status: 'changed', outputs: { thumbprint: 'AB12', services: ['IIS'], none: null } } },
      log: 'exch-cert: importing\nWARNING: the certificate expires in 20 days\nformatted output after the marker',
    });
  });

  it('keeps an output named __proto__ as data, never as the prototype', () => {
    const parsed = parseEnvelope(marker({ ok: true, step: { Id: 's', Status: 'ok', Outputs: JSON.parse('{"__proto__":{"polluted":true}}') as unknown } }), NONCE);
    if (!parsed.envelope?.ok || !parsed.envelope.step) throw new Error('no step report');
    const { outputs } = parsed.envelope.step;
    expect(Object.keys(outputs)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(outputs)).toBe(Object.prototype);
    expect((outputs as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it('accepts every status, a null step and a null or missing Outputs', () => {
    for (const status of ['ok', 'changed', 'skipped'] as const) {
      expect(parseEnvelope(marker({ ok: true, step: { Id: 's', Status: status, Outputs: null } }), NONCE).envelope).toEqual({ ok: true, step: { id: 's', status, outputs: {} } });
    }
    expect(parseEnvelope(marker({ ok: true, step: { Id: 's', Status: 'ok' } }), NONCE).envelope).toEqual({ ok: true, step: { id: 's', status: 'ok', outputs: {} } });
    expect(parseEnvelope(marker({ ok: true, step: null }), NONCE)).toEqual({ envelope: { ok: true, step: null }, log: '' });
  });

  it('maps an error and drops what PowerShell did not know ([string]$null, line 0)', () => {
    const full = { ok: false, error: { message: 'boom', category: 'OperationStopped', fqid: 'boom', line: 7 } };
    expect(parseEnvelope(marker(full), NONCE).envelope).toEqual({ ok: false, error: { message: 'boom', category: 'OperationStopped', fullyQualifiedErrorId: 'boom', line: 7 } });
    const bare = { ok: false, error: { message: 'boom', category: '', fqid: '', line: 0 } };
    expect(parseEnvelope(marker(bare), NONCE).envelope).toEqual({ ok: false, error: { message: 'boom' } });
  });

  it('finds a marker printed after a partial line, and normalizes Windows line ends', () => {
    const stdout = `one\r\ntwo no newline${marker({ ok: true, step: null })}\r\n`;
    expect(parseEnvelope(stdout, NONCE)).toEqual({ envelope: { ok: true, step: null }, log: 'one\ntwo no newline' });
  });

  it('ignores a marker with another nonce: a step cannot forge its result', () => {
    const stdout = `log\n${marker({ ok: true, step: null }, 'ffff0000')}\n`;
    const parsed = parseEnvelope(stdout, NONCE);
    expect(parsed).toMatchObject({ envelope: undefined, problem: 'no envelope' });
    expect(parsed.log).toContain('log');
  });

  it('reports a missing or truncated envelope, keeping the log', () => {
    expect(parseEnvelope('just text\n', NONCE)).toEqual({ envelope: undefined, log: 'just text', problem: 'no envelope' });
    expect(parseEnvelope('', NONCE)).toEqual({ envelope: undefined, log: '', problem: 'no envelope' });
    const cut = marker({ ok: true, step: null }).slice(0, -10);
    expect(parseEnvelope(`before\n${cut}`, NONCE)).toEqual({ envelope: undefined, log: 'before', problem: 'the envelope is truncated' });
  });

  it('rejects a payload that is not strict Base64 instead of half-decoding it', () => {
    const good = Buffer.from(JSON.stringify({ ok: true, step: null })).toString('base64');
    for (const payload of [`${good.slice(0, 4)}!${good.slice(4)}`, good.slice(0, -1), `${good}====`, 'e30', 'not base64 at all']) {
      expect(parseEnvelope(rawMarker(payload), NONCE), payload).toMatchObject({ envelope: undefined, problem: 'the envelope is not valid Base64' });
    }
  });

  it('rejects a payload that is not UTF-8 JSON', () => {
    for (const bytes of [Buffer.from('not json'), Buffer.from('{"ok":true,'), Buffer.from([0x7b, 0xff, 0xfe, 0x7d])]) {
      expect(parseEnvelope(rawMarker(bytes.toString('base64')), NONCE)).toMatchObject({ envelope: undefined, problem: 'the envelope is not valid UTF-8 JSON' });
    }
  });

  it('rejects JSON of the wrong shape', () => {
    const wrong: unknown[] = [
      null,
      [],
      { ok: 'yes', step: null },
      { step: null },
      { ok: true },
      { ok: true, step: { Id: 's', Status: 'done', Outputs: {} } },
      { ok: true, step: { Status: 'ok', Outputs: {} } },
      { ok: true, step: { Id: 's', Status: 'ok', Outputs: ['a'] } },
      { ok: false },
      { ok: false, error: { category: 'x' } },
      { ok: false, error: { message: 'm', line: 1.5 } },
    ];
    for (const json of wrong) {
      const parsed = parseEnvelope(marker(json), NONCE);
      expect(parsed.envelope, JSON.stringify(json)).toBeUndefined();
      expect(parsed).toMatchObject({ problem: expect.stringMatching(/^the envelope does not match the expected shape: /) });
    }
  });

  it('round-trips any envelope through any surrounding log text', () => {
    const logLine = fc.string({ unit: 'grapheme', maxLength: 60 }).filter((line) => !line.includes('<<') && !/[\r\n]/.test(line));
    const json = fc.jsonValue({ maxDepth: 3 });
    const envelope = fc.oneof(
      fc.record({ ok: fc.constant(true), step: fc.constant(null) }),
      fc.record({ ok: fc.constant(true), step: fc.record({ Id: fc.string(), Status: fc.constantFrom('ok', 'changed', 'skipped'), Outputs: fc.dictionary(fc.string(), json) }) }),
      fc.record({ ok: fc.constant(false), error: fc.record({ message: fc.string({ unit: 'binary' }), category: fc.string({ minLength: 1 }), fqid: fc.string({ minLength: 1 }), line: fc.integer({ min: 1, max: 5000 }) }) }),
    );
    fc.assert(
      fc.property(fc.array(logLine, { maxLength: 4 }), envelope, fc.array(logLine, { maxLength: 2 }), (before, value, after) => {
        const stdout = [...before, marker(value), ...after].join('\n');
        const parsed = parseEnvelope(stdout, NONCE);
        expect(parsed.envelope).toBeDefined();
        // Compared with what JSON carries (-0 arrives as 0).
        const outputs: unknown = value.ok && value.step ? JSON.parse(JSON.stringify(value.step.Outputs)) : undefined;
        if (value.ok && value.step) expect(parsed.envelope).toEqual({ ok: true, step: { id: value.step.Id, status: value.step.Status, outputs } });
        if (!value.ok) expect(parsed.envelope).toMatchObject({ ok: false, error: { message: value.error.message, line: value.error.line } });
        expect(parsed.log).toBe([...before, ...after].join('\n').replace(/^\s*\n/, '').trimEnd());
      }),
      { numRuns: 200 },
    );
  });
});

describe('handshake', () => {
  it('is one printable-ASCII line that sets the preferences globally', () => {
    const line = handshakeCommand(NONCE);
    expect(line).toMatch(/^[\x20-\x7e]+$/);
    expect(line).toContain("$global:ProgressPreference = 'SilentlyContinue'");
  });

  it('reads the edition and version of PowerShell 7 and Windows PowerShell 5.1', () => {
    expect(parseHandshake(`x\n<<${NONCE} Core 7.6.9 ${NONCE}>>\n`, NONCE)).toEqual({ edition: 'Core', version: '7.6.9' });
    expect(parseHandshake(`<<${NONCE} Desktop 5.1.17763.6414 ${NONCE}>>`, NONCE)).toEqual({ edition: 'Desktop', version: '5.1.17763.6414' });
    expect(parseHandshake(`<<${NONCE} Core 7.5.0-preview.2 ${NONCE}>>`, NONCE)).toEqual({ edition: 'Core', version: '7.5.0-preview.2' });
  });

  it('reads PowerShell 4.0, which has no PSEdition, as Desktop', () => {
    expect(parseHandshake(`<<${NONCE}  4.0 ${NONCE}>>`, NONCE)).toEqual({ edition: 'Desktop', version: '4.0' });
  });

  it('rejects anything else', () => {
    for (const stdout of ['', 'PS C:\\>', `<<${NONCE}   ${NONCE}>>`, `<<${NONCE} Core  ${NONCE}>>`, `<<${NONCE} Mono 1.0 ${NONCE}>>`, `<<ffff Core 7.6.9 ffff>>`]) {
      expect(parseHandshake(stdout, NONCE), stdout).toBeUndefined();
    }
  });
});
