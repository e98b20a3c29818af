import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CERTIFICATE_RULES, checkCertificate, coversName, daysLeft, isUnfit, type CertificateDescription, type CheckOptions, type Finding, type PfxDescription, type PfxProtection } from '../../src/certificate/index.js';
import { repoRoot } from '../helpers/plan.js';

const LEGACY: PfxProtection = {
  mac: { algorithm: 'HMAC-SHA1', iterations: 2048 },
  certificates: [{ scheme: 'pkcs12-pbe', algorithm: 'pbeWithSHAAnd40BitRC2-CBC', iterations: 2048 }],
  keys: [{ scheme: 'pkcs12-pbe', algorithm: 'pbeWithSHAAnd3-KeyTripleDES-CBC', iterations: 2048 }],
};
const AES: PfxProtection = {
  mac: { algorithm: 'HMAC-SHA256', iterations: 2048 },
  certificates: [{ scheme: 'pbes2', cipher: 'AES-256-CBC', prf: 'HMAC-SHA256', iterations: 2048 }],
  keys: [{ scheme: 'pbes2', cipher: 'AES-256-CBC', prf: 'HMAC-SHA256', iterations: 2048 }],
};

const LEAF: CertificateDescription = {
  subject: 'CN=mail.contoso.com, O=Contoso, C=US',
  issuer: 'CN=Contoso Issuing CA, O=Contoso, C=US',
  commonNames: ['mail.contoso.com'],
  alternativeNames: [
    { type: 'dns', value: 'mail.contoso.com' },
    { type: 'dns', value: 'autodiscover.contoso.com' },
  ],
  serialNumber: '1000',
  notBefore: '2026-01-01T00:00:00.000Z',
  notAfter: '2026-12-31T00:00:00.000Z',
  key: { algorithm: 'RSA', bits: 2048 },
  signature: { algorithm: 'sha256RSA', hash: 'SHA-256', oid: '1.2.840.113549.1.1.11' },
  thumbprint: 'A803A6D467E2A072CD8F9889ED338BA90A764A31',
  selfSigned: false,
  certificateAuthority: false,
};
const INTERMEDIATE: CertificateDescription = {
  ...LEAF,
  subject: 'CN=Contoso Issuing CA, O=Contoso, C=US',
  issuer: 'CN=Contoso Root, O=Contoso, C=US',
  commonNames: ['Contoso Issuing CA'],
  alternativeNames: [],
  thumbprint: '1111111111111111111111111111111111111111',
  certificateAuthority: true,
};
const ROOT: CertificateDescription = { ...INTERMEDIATE, subject: INTERMEDIATE.issuer, commonNames: ['Contoso Root'], thumbprint: '2222222222222222222222222222222222222222', selfSigned: true };

const NOW = new Date('2026-06-01T00:00:00.000Z');

function pfx(certificate: Partial<CertificateDescription> = {}, rest: Partial<Omit<PfxDescription, 'certificate'>> = {}): PfxDescription {
  return { certificate: { ...LEAF, ...certificate }, privateKey: true, privateKeyCount: 1, chain: [INTERMEDIATE], others: [], protection: LEGACY, ...rest };
}

function check(description: PfxDescription, options: Partial<CheckOptions> = {}): Finding[] {
  return checkCertificate(description, { now: NOW, ...options });
}

const ids = (findings: readonly Finding[]): string[] => findings.map((finding) => `${finding.ruleId}:${finding.severity}`);
const dns = (...names: string[]): CertificateDescription['alternativeNames'] => names.map((value) => ({ type: 'dns', value }));

describe('checkCertificate', () => {
  it('finds nothing in a fit certificate', () => {
    expect(check(pfx(), { fqdns: ['mail.contoso.com', 'AutoDiscover.Contoso.com'], windows: '2016', exchange: '2016' })).toEqual([]);
  });

  describe('fqdn-not-covered', () => {
    it('is an error per name the certificate does not cover, naming the names it has', () => {
      const findings = check(pfx(), { fqdns: ['mail.contoso.com', 'mail.fabrikam.com', 'owa.contoso.com'] });
      expect(ids(findings)).toEqual(['fqdn-not-covered:error', 'fqdn-not-covered:error']);
      expect(findings[0]?.message).toBe('mail.fabrikam.com is not covered by the certificate (its names: mail.contoso.com, autodiscover.contoso.com)');
      expect(findings[1]?.message).toContain('owa.contoso.com');
    });

    it.each([
      ['*.contoso.com', 'mail.contoso.com', true],
      ['*.contoso.com', 'MAIL.CONTOSO.COM.', true],
      ['*.contoso.com', 'contoso.com', false],
      ['*.contoso.com', 'a.mail.contoso.com', false],
      ['*.com', 'contoso.com', false],
      ['mail.*.com', 'mail.contoso.com', false],
      ['m*.contoso.com', 'mail.contoso.com', true],
      ['*.xn--bcher-kva.example', 'www.xn--bcher-kva.example', true],
      ['mail.contoso.com', 'mail.contoso.com.evil.com', false],
    ])('RFC 6125: %s covers %s: %s', (pattern, host, covered) => {
      expect(coversName({ ...LEAF, commonNames: [], alternativeNames: dns(pattern) }, host)).toBe(covered);
    });

    it('uses the CN only when the certificate has no DNS names', () => {
      expect(coversName({ ...LEAF, commonNames: ['legacy.contoso.com'], alternativeNames: [] }, 'legacy.contoso.com')).toBe(true);
      expect(coversName({ ...LEAF, commonNames: ['legacy.contoso.com'], alternativeNames: dns('mail.contoso.com') }, 'legacy.contoso.com')).toBe(false);
    });

    it('matches IP addresses only against IP names', () => {
      const certificate = { ...LEAF, alternativeNames: [{ type: 'ip' as const, value: '192.0.2.10' }, ...dns('mail.contoso.com')] };
      expect(coversName(certificate, '192.0.2.10')).toBe(true);
      expect(coversName(certificate, '192.0.2.11')).toBe(false);
    });

    it('is not fooled by a name that smuggles a separator into the list Node parses', () => {
      const certificate = { ...LEAF, commonNames: [], alternativeNames: dns('evil.example, DNS:mail.contoso.com', 'x"y') };
      expect(coversName(certificate, 'mail.contoso.com')).toBe(false);
    });
  });

  it('private-key-missing: an error, saying whether a key for another certificate is in the file', () => {
    expect(check(pfx({}, { privateKey: false, privateKeyCount: 0 }))).toEqual([expect.objectContaining({ ruleId: 'private-key-missing', severity: 'error', message: 'the file holds no private key: Exchange cannot serve TLS with it' })]);
    expect(check(pfx({}, { privateKey: false, privateKeyCount: 1 }))[0]?.message).toBe('the file holds a private key, but none belongs to the certificate');
  });

  it.each([
    ['2025-12-31T23:59:59.999Z', ['not-yet-valid:error']],
    ['2026-01-01T00:00:00.000Z', []],
    ['2026-12-31T00:00:00.000Z', []],
    ['2026-12-31T00:00:00.001Z', ['expired:error']],
  ])('validity at %s: %j', (now, expected) => {
    expect(ids(check(pfx(), { now: new Date(now) }))).toEqual(expected);
  });

  it('says when the certificate expired and when it becomes valid, in UTC', () => {
    expect(check(pfx(), { now: new Date('2027-01-05T00:00:00Z') })[0]?.message).toBe('the certificate expired on 2026-12-31 00:00:00 UTC');
    expect(check(pfx(), { now: new Date('2025-06-01T00:00:00Z') })[0]?.message).toBe('the certificate is not valid before 2026-01-01 00:00:00 UTC');
  });

  it('counts whole days left from the clock passed in', () => {
    expect(daysLeft(LEAF, new Date('2026-12-30T00:00:00Z'))).toBe(1);
    expect(daysLeft(LEAF, new Date('2026-12-30T00:00:01Z'))).toBe(0);
    expect(daysLeft(LEAF, new Date('2027-01-01T00:00:00Z'))).toBe(-1);
  });

  it.each([
    [1024, ['rsa-key-too-small:error']],
    [2047, ['rsa-key-too-small:error']],
    [2048, []],
    [4096, []],
  ])('an RSA key of %i bits: %j', (bits, expected) => {
    expect(ids(check(pfx({ key: { algorithm: 'RSA', bits } })))).toEqual(expected);
  });

  it.each(['DSA', 'Ed25519', 'other'] as const)('unsupported-key-type: a %s key is an error', (algorithm) => {
    expect(ids(check(pfx({ key: { algorithm, bits: 256 } })))).toEqual(['unsupported-key-type:error']);
  });

  describe('ecc-key', () => {
    const ecc = pfx({ key: { algorithm: 'ECC', bits: 256, curve: 'P-256' } });

    it('without --exchange: a warning naming the builds and services that accept ECC, and Auth never', () => {
      const [finding] = check(ecc);
      expect(finding?.severity).toBe('warning');
      for (const text of ['P-256', 'Exchange 2019 CU14 HU2', 'Exchange 2016 CU23 HU13', 'IIS and SMTP', 'POP, IMAP and Edge Transport only from Exchange 2019 CU15 and Exchange SE', 'Auth certificate']) {
        expect(finding?.message).toContain(text);
      }
    });

    it.each([
      ['2016', undefined, 'error', 'Exchange 2016 does not accept it for POP, IMAP'],
      ['2016', ['IIS', 'SMTP'], 'warning', 'Exchange 2016 accepts it for IIS and SMTP only from CU23 HU13'],
      ['2016', ['IIS', 'UM'], 'error', 'does not accept it for UM'],
      ['2019', undefined, 'warning', 'from CU14 HU2 (April 2024), for POP, IMAP only from CU15'],
      ['2019', ['IIS', 'SMTP'], 'warning', 'Exchange 2019 accepts it for IIS and SMTP from CU14 HU2 (April 2024); never'],
      ['SE', undefined, 'note', 'Exchange SE accepts it for IIS, SMTP, POP and IMAP'],
    ] as const)('--exchange %s, services %j: %s', (exchange, services, severity, text) => {
      const findings = check(ecc, { exchange, ...(services ? { services } : {}) });
      expect(findings).toHaveLength(1);
      expect(findings[0]).toMatchObject({ ruleId: 'ecc-key', severity });
      expect(findings[0]?.message).toContain(text);
    });
  });

  describe('weak-signature-hash', () => {
    it.each(['SHA-1', 'MD5', 'MD2'])('the certificate signed with %s is an error', (hash) => {
      expect(ids(check(pfx({ signature: { algorithm: 'x', hash, oid: '1.2.3' } })))).toEqual(['weak-signature-hash:error']);
    });

    it('names an intermediate signed with SHA-1, and ignores a self-signed root', () => {
      const weak = { algorithm: 'sha1RSA', hash: 'SHA-1', oid: '1.2.840.113549.1.1.5' };
      const findings = check(pfx({}, { chain: [{ ...INTERMEDIATE, signature: weak }, { ...ROOT, signature: weak }] }));
      expect(findings).toEqual([expect.objectContaining({ ruleId: 'weak-signature-hash', message: 'the intermediate CN=Contoso Issuing CA, O=Contoso, C=US is signed with sha1RSA (SHA-1); clients reject SHA-1 signatures' })]);
    });

    it('accepts SHA-256 and better, and Ed25519 (no separate hash)', () => {
      for (const hash of ['SHA-256', 'SHA-384', 'SHA-512', undefined]) expect(check(pfx({ signature: { algorithm: 'x', hash, oid: '1.2.3' } }))).toEqual([]);
    });
  });

  it('intermediates-missing: a warning unless the issuer is in the file or the certificate is self-signed', () => {
    expect(ids(check(pfx({}, { chain: [] })))).toEqual(['intermediates-missing:warning']);
    expect(check(pfx({ selfSigned: true }, { chain: [] }))).toEqual([]);
    expect(check(pfx({}, { chain: [INTERMEDIATE, ROOT] }))).toEqual([]);
  });

  describe('pbes2-protection', () => {
    it('is an error for Windows Server 2016, with the openssl -legacy fix', () => {
      const [finding] = check(pfx({}, { protection: AES }), { windows: '2016' });
      expect(finding).toMatchObject({ ruleId: 'pbes2-protection', severity: 'error' });
      expect(finding?.message).toContain('Windows Server 2016 cannot read it');
      expect(finding?.hint).toContain('openssl pkcs12 -export -legacy');
    });

    it('is a warning when the Windows version is not known, a note for 2019 and later', () => {
      expect(ids(check(pfx({}, { protection: AES })))).toEqual(['pbes2-protection:warning']);
      for (const windows of ['2019', '2022', '2025'] as const) expect(ids(check(pfx({}, { protection: AES }), { windows }))).toEqual(['pbes2-protection:note']);
    });

    it('flags a file where only the key uses PBES2, and never a legacy one', () => {
      const mixed: PfxProtection = { ...LEGACY, keys: AES.keys };
      expect(ids(check(pfx({}, { protection: mixed }), { windows: '2016' }))).toEqual(['pbes2-protection:error']);
      expect(check(pfx({}, { protection: LEGACY }), { windows: '2016' })).toEqual([]);
    });
  });

  it('wildcard-certificate: a note whose hint names the --fqdn it covers for X509CertificateName', () => {
    const findings = check(pfx({ commonNames: ['*.contoso.com'], alternativeNames: dns('*.contoso.com') }), { fqdns: ['mail.contoso.com'] });
    expect(findings).toEqual([expect.objectContaining({ ruleId: 'wildcard-certificate', severity: 'note', message: 'a wildcard certificate (*.contoso.com): POP and IMAP need an X509CertificateName that it covers' })]);
    expect(findings[0]?.hint).toContain('-X509CertificateName mail.contoso.com');
  });

  it('reports in catalog order, every rule id and default severity from the catalog', () => {
    const bad = pfx(
      { alternativeNames: dns('*.fabrikam.com'), key: { algorithm: 'ECC', bits: 256, curve: 'P-256' }, signature: { algorithm: 'sha1ECDSA', hash: 'SHA-1', oid: '1.2.840.10045.4.1' } },
      { privateKey: false, privateKeyCount: 0, chain: [], protection: AES },
    );
    const findings = check(bad, { fqdns: ['mail.contoso.com'], now: new Date('2027-06-01T00:00:00Z') });
    const order = CERTIFICATE_RULES.map((rule) => rule.id);
    expect(findings.map((finding) => finding.ruleId)).toEqual(['fqdn-not-covered', 'private-key-missing', 'expired', 'ecc-key', 'weak-signature-hash', 'intermediates-missing', 'pbes2-protection', 'wildcard-certificate']);
    expect(findings.map((finding) => order.indexOf(finding.ruleId))).toEqual([...findings.map((finding) => order.indexOf(finding.ruleId))].sort((a, b) => a - b));
    for (const finding of findings) expect(CERTIFICATE_RULES.find((rule) => rule.id === finding.ruleId)?.severity).toBe(finding.severity);
  });

  it('has stable kebab-case rule ids, each documented in the README', () => {
    const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
    for (const rule of CERTIFICATE_RULES) {
      expect(rule.id).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
      expect(readme).toContain(`\`${rule.id}\``);
    }
    expect(new Set(CERTIFICATE_RULES.map((rule) => rule.id)).size).toBe(CERTIFICATE_RULES.length);
  });
});

describe('isUnfit', () => {
  const finding = (severity: Finding['severity']): Finding => ({ ruleId: 'expired', severity, message: 'm' });
  it('fails on errors, on warnings only when strict, never on notes', () => {
    expect(isUnfit([finding('error')], false)).toBe(true);
    expect(isUnfit([finding('warning')], false)).toBe(false);
    expect(isUnfit([finding('warning')], true)).toBe(true);
    expect(isUnfit([finding('note')], true)).toBe(false);
    expect(isUnfit([], true)).toBe(false);
  });
});
