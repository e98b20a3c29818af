import { describe, expect, it } from 'vitest';
import { UnreachableError, type Connect, type Handshake, type ServedCertificate } from '../../src/tls/connect.js';
import type { Endpoint } from '../../src/tls/endpoint.js';
import { judgeHandshake, verificationExitCode, verifyEndpoints } from '../../src/tls/verify.js';

const NOW = new Date('2026-06-01T12:00:00Z');
const clock = { now: () => NOW };
const EXPECTED = 'A'.repeat(40);

function served(overrides: Partial<ServedCertificate> = {}): ServedCertificate {
  return {
    thumbprint: EXPECTED,
    subject: 'CN=mail.contoso.com',
    issuer: 'CN=Contoso Issuing CA, O=Contoso',
    names: ['mail.contoso.com', 'autodiscover.contoso.com'],
    notBefore: new Date('2026-03-01T00:00:00Z'),
    notAfter: new Date('2026-09-16T00:00:00Z'),
    identity: { commonNames: ['mail.contoso.com'], subjectaltname: 'DNS:mail.contoso.com, DNS:autodiscover.contoso.com' },
    ...overrides,
  };
}

function handshake(overrides: Partial<Handshake> = {}, certificate: Partial<ServedCertificate> = {}): Handshake {
  return { certificate: served(certificate), issuers: [], intermediatesSent: true, trustError: undefined, tlsVersion: 'TLSv1.3', ...overrides };
}

const endpoint = (port: number, protocol: Endpoint['protocol'] = 'tls', host = 'mail.contoso.com'): Endpoint => ({ host, port, protocol });

describe('judgeHandshake', () => {
  it('is ok when the expected, valid certificate is served', () => {
    const result = judgeHandshake(endpoint(443), handshake(), { thumbprint: EXPECTED }, NOW);
    expect(result).toMatchObject({ verdict: 'ok', problems: [], nameMatches: true, label: 'mail.contoso.com:443', servername: 'mail.contoso.com' });
  });

  it('names what is served instead of the expected certificate', () => {
    const result = judgeHandshake(endpoint(25, 'smtp'), handshake({}, { thumbprint: 'B'.repeat(40), subject: 'CN=old.contoso.com' }), { thumbprint: EXPECTED }, NOW);
    expect(result.verdict).toBe('unexpected');
    expect(result.problems).toEqual([`serves ${'B'.repeat(40)} (CN=old.contoso.com) instead of ${EXPECTED}`]);
  });

  it('without an expected certificate, a valid one is ok', () => {
    expect(judgeHandshake(endpoint(443), handshake({}, { thumbprint: 'C'.repeat(40) }), undefined, NOW).verdict).toBe('ok');
  });

  it('judges expiry with the clock it is given', () => {
    const certificate = { notAfter: new Date('2026-06-01T11:59:59Z') };
    expect(judgeHandshake(endpoint(443), handshake({}, certificate), undefined, NOW).problems).toEqual(['the certificate expired on 2026-06-01T11:59:59.000Z']);
    expect(judgeHandshake(endpoint(443), handshake({}, certificate), undefined, new Date('2026-06-01T11:59:59Z')).verdict).toBe('ok');
    expect(judgeHandshake(endpoint(443), handshake({}, { notBefore: new Date('2026-06-02T00:00:00Z') }), undefined, NOW).problems).toEqual(['the certificate is not valid before 2026-06-02T00:00:00.000Z']);
  });

  it('checks the name with RFC 6125 rules (wildcards one label deep)', () => {
    const wildcard = { names: ['*.contoso.com'], identity: { commonNames: ['*.contoso.com'], subjectaltname: 'DNS:*.contoso.com' } };
    expect(judgeHandshake(endpoint(443), handshake({}, wildcard), undefined, NOW).nameMatches).toBe(true);
    const deeper = judgeHandshake(endpoint(443, 'tls', 'a.mail.contoso.com'), handshake({}, wildcard), undefined, NOW);
    expect(deeper).toMatchObject({ verdict: 'invalid', nameMatches: false, problems: ['the certificate is not valid for a.mail.contoso.com: it names *.contoso.com'] });
  });

  it('checks the servername instead of the host when one is given', () => {
    const result = judgeHandshake({ ...endpoint(443, 'tls', '127.0.0.1'), servername: 'mail.contoso.com' }, handshake(), undefined, NOW);
    expect(result).toMatchObject({ verdict: 'ok', servername: 'mail.contoso.com', label: '127.0.0.1:443' });
    expect(judgeHandshake(endpoint(443, 'tls', '127.0.0.1'), handshake(), undefined, NOW).nameMatches).toBe(false);
  });

  it('matches IP addresses only against IP entries, not against the CN', () => {
    const byAddress = { names: ['192.0.2.7'], identity: { commonNames: ['192.0.2.7'], subjectaltname: 'IP Address:192.0.2.7' } };
    expect(judgeHandshake(endpoint(443, 'tls', '192.0.2.7'), handshake({}, byAddress), undefined, NOW).nameMatches).toBe(true);
    const cnOnly = { names: [], identity: { commonNames: ['192.0.2.7'], subjectaltname: undefined } };
    expect(judgeHandshake(endpoint(443, 'tls', '192.0.2.7'), handshake({}, cnOnly), undefined, NOW).nameMatches).toBe(false);
  });

  it('reports missing intermediates rather than the trust error they cause', () => {
    const result = judgeHandshake(endpoint(443), handshake({ intermediatesSent: false, trustError: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }), { thumbprint: EXPECTED }, NOW);
    expect(result.verdict).toBe('invalid');
    expect(result.problems).toEqual(['the server does not send the intermediate certificate(s) above it (issuer CN=Contoso Issuing CA, O=Contoso); clients that do not fetch them cannot build the chain']);
  });

  it('reports an untrusted chain', () => {
    const result = judgeHandshake(endpoint(443), handshake({ trustError: 'SELF_SIGNED_CERT_IN_CHAIN' }), undefined, NOW);
    expect(result).toMatchObject({ verdict: 'invalid', problems: ['the chain is not trusted here (SELF_SIGNED_CERT_IN_CHAIN)'] });
  });

  it('reports an expired CA in the chain once, and an expired leaf only as such', () => {
    expect(judgeHandshake(endpoint(443), handshake({ trustError: 'CERT_HAS_EXPIRED' }), undefined, NOW).problems).toEqual(['a certificate in the chain is outside its validity dates (CERT_HAS_EXPIRED)']);
    const expired = judgeHandshake(endpoint(443), handshake({ trustError: 'CERT_HAS_EXPIRED' }, { notAfter: new Date('2026-05-01T00:00:00Z') }), undefined, NOW);
    expect(expired.problems).toEqual(['the certificate expired on 2026-05-01T00:00:00.000Z']);
  });

  it('escapes what the server put in its certificate', () => {
    const hostile = { thumbprint: 'B'.repeat(40), subject: 'CN=\u001b[2Jevil\r\n', names: ['x\u202etxt.exe'], identity: { commonNames: ['x'], subjectaltname: 'DNS:"x\\u202etxt.exe"' } };
    const result = judgeHandshake(endpoint(443), handshake({}, hostile), { thumbprint: EXPECTED }, NOW);
    expect(result.problems.join('\n')).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u202e]/);
    expect(result.problems[0]).toContain('CN=\\e[2Jevil\\r\\n');
    expect(result.problems[1]).toContain('x\\u202etxt.exe');
  });
});

describe('verifyEndpoints', () => {
  it('asks the network once per endpoint, with the servername and timeout, and keeps their order', async () => {
    const calls: Array<[string, string, number]> = [];
    const connect: Connect = async (target, options) => {
      calls.push([`${target.port}/${target.protocol}`, options.servername, options.timeoutMs]);
      // Answers out of order: results still follow the endpoints.
      await new Promise((resolve) => setTimeout(resolve, target.port === 443 ? 20 : 0));
      if (target.port === 995) throw new UnreachableError('connection refused');
      return handshake({}, target.port === 25 ? { thumbprint: 'B'.repeat(40) } : {});
    };
    const results = await verifyEndpoints([endpoint(443), endpoint(995), endpoint(25, 'smtp')], { thumbprint: EXPECTED }, { connect, clock, timeoutMs: 1234 });
    expect(calls).toEqual([
      ['443/tls', 'mail.contoso.com', 1234],
      ['995/tls', 'mail.contoso.com', 1234],
      ['25/smtp', 'mail.contoso.com', 1234],
    ]);
    expect(results.map((result) => [result.label, result.verdict])).toEqual([
      ['mail.contoso.com:443', 'ok'],
      ['mail.contoso.com:995', 'unreachable'],
      ['mail.contoso.com:25', 'unexpected'],
    ]);
    expect(results[1]).toMatchObject({ error: 'connection refused', problems: ['cannot be checked: connection refused'] });
    expect(verificationExitCode(results)).toBe(1);
  });

  it('lets bugs through instead of calling them unreachable', async () => {
    const connect: Connect = () => Promise.reject(new TypeError('a bug'));
    await expect(verifyEndpoints([endpoint(443)], undefined, { connect, clock })).rejects.toThrow(TypeError);
  });
});

describe('verificationExitCode', () => {
  const result = (verdict: 'ok' | 'unexpected' | 'invalid' | 'unreachable') => ({ verdict }) as Parameters<typeof verificationExitCode>[0][number];
  it('is 0 when all are ok, 1 on any finding, else 3 when one could not be checked', () => {
    expect(verificationExitCode([result('ok'), result('ok')])).toBe(0);
    expect(verificationExitCode([result('ok'), result('invalid')])).toBe(1);
    expect(verificationExitCode([result('unreachable'), result('unexpected')])).toBe(1);
    expect(verificationExitCode([result('ok'), result('unreachable')])).toBe(3);
  });
});
