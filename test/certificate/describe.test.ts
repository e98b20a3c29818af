import { execFileSync } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { describeCertificate, describePfx, readPfx, thumbprintOf, type PfxContents } from '../../src/certificate/index.js';
import { formatWindowsName } from '../../src/certificate/names.js';
import { makeTestPki, type LeafName, type TestPki } from '../helpers/certificates.js';

let pki: TestPki;
beforeAll(() => {
  pki = makeTestPki();
});

const der = (name: LeafName | 'root' | 'intermediate'): Buffer => Buffer.from(new X509Certificate(pki.pem(name)).raw);
const pkcs8 = (key: string): Buffer => createPrivateKey(readFileSync(join(pki.dir, `${key}.key`))).export({ type: 'pkcs8', format: 'der' });
const contents = (certificates: Buffer[], privateKeys: Buffer[] = []): PfxContents => ({ protection: { mac: undefined, certificates: [{ scheme: 'none' }], keys: [] }, certificates, privateKeys });

/** What openssl says about a certificate, to compare with. */
function opensslDates(name: string): { notBefore: string; notAfter: string } {
  const out = execFileSync('openssl', ['x509', '-in', join(pki.dir, `${name}.pem`), '-noout', '-startdate', '-enddate'], { encoding: 'utf8' });
  const value = (key: string): string => new Date(/^\w+=(.*)$/m.exec(out.split('\n').find((line) => line.startsWith(key)) ?? '')?.[1] ?? '').toISOString();
  return { notBefore: value('notBefore'), notAfter: value('notAfter') };
}

describe('describeCertificate', () => {
  it('describes the renewed certificate as Windows and Exchange show it', () => {
    const description = describeCertificate(der('good'));
    expect(description).toMatchObject({
      subject: 'CN=mail.contoso.com, O="Contoso, Ltd", C=US',
      issuer: 'CN=Contoso Test Issuing CA, O=Contoso Test, C=US',
      commonNames: ['mail.contoso.com'],
      alternativeNames: [
        { type: 'dns', value: 'mail.contoso.com' },
        { type: 'dns', value: 'autodiscover.contoso.com' },
      ],
      key: { algorithm: 'RSA', bits: 2048 },
      signature: { algorithm: 'sha256RSA', hash: 'SHA-256', oid: '1.2.840.113549.1.1.11' },
      thumbprint: pki.thumbprint('good'),
      selfSigned: false,
      certificateAuthority: false,
      ...opensslDates('good'),
    });
    expect(description.thumbprint).toMatch(/^[0-9A-F]{40}$/);
  });

  it.each([
    ['rsa1024', { algorithm: 'RSA', bits: 1024 }],
    ['ecc', { algorithm: 'ECC', bits: 256, curve: 'P-256' }],
  ] as const)('reads the key of %s', (name, key) => {
    expect(describeCertificate(der(name)).key).toEqual(key);
  });

  it('reads a SHA-1 signature', () => {
    expect(describeCertificate(der('sha1')).signature).toEqual({ algorithm: 'sha1RSA', hash: 'SHA-1', oid: '1.2.840.113549.1.1.5' });
  });

  it('knows a self-signed CA', () => {
    expect(describeCertificate(der('root'))).toMatchObject({ selfSigned: true, certificateAuthority: true, subject: 'CN=Contoso Test Root, O=Contoso Test, C=US' });
    expect(describeCertificate(der('intermediate'))).toMatchObject({ selfSigned: false, certificateAuthority: true });
  });

  it('keeps hostile text exactly as the certificate has it (escaping is the display’s job)', () => {
    const description = describeCertificate(der('hostile'));
    expect(description.subject).toBe('CN=mail.contoso.com\u001b[2J\u001b[31m\u202eevil\u200b, O="Evil\u001b]0;owned\u0007 Corp"');
    expect(description.alternativeNames[1]).toEqual({ type: 'dns', value: 'evil\u001b[2J.contoso.com' });
  });

  it('thumbprintOf gives the SHA-1 that openssl prints', () => {
    for (const name of ['good', 'ecc', 'root'] as const) expect(thumbprintOf(der(name))).toBe(pki.thumbprint(name));
  });
});

describe('formatWindowsName', () => {
  const attribute = (key: string, value: string) => ({ key, oid: '2.5.4.3', value });
  it('puts the most specific RDN first and quotes values as CertNameToStr does', () => {
    expect(formatWindowsName([[attribute('C', 'US')], [attribute('O', 'Contoso, Ltd')], [attribute('CN', 'mail.contoso.com')]])).toBe('CN=mail.contoso.com, O="Contoso, Ltd", C=US');
    expect(formatWindowsName([[attribute('O', 'Say "hi"')]])).toBe('O="Say ""hi"""');
    expect(formatWindowsName([[attribute('O', ' padded')]])).toBe('O=" padded"');
    expect(formatWindowsName([[attribute('OU', 'a=b;c')]])).toBe('OU="a=b;c"');
    expect(formatWindowsName([[attribute('CN', 'one'), attribute('OU', 'two')]])).toBe('CN=one + OU=two');
  });
});

describe('describePfx', () => {
  it('finds the certificate by its private key, whatever the order of the file', () => {
    const pfx = describePfx(contents([der('intermediate'), der('good')], [pkcs8('rsa2048')]));
    expect(pfx.certificate.thumbprint).toBe(pki.thumbprint('good'));
    expect(pfx.privateKey).toBe(true);
    expect(pfx.chain.map((c) => c.thumbprint)).toEqual([pki.thumbprint('intermediate')]);
    expect(pfx.others).toEqual([]);
  });

  it('without a key, takes the certificate that issued none of the others', () => {
    const pfx = describePfx(contents([der('intermediate'), der('good')]));
    expect(pfx.certificate.thumbprint).toBe(pki.thumbprint('good'));
    expect(pfx.privateKey).toBe(false);
    expect(pfx.privateKeyCount).toBe(0);
  });

  it('says a key in the file belongs to no certificate', () => {
    const pfx = describePfx(contents([der('good')], [pkcs8('ecc')]));
    expect(pfx).toMatchObject({ privateKey: false, privateKeyCount: 1 });
  });

  it('follows the chain to the root and keeps unrelated certificates apart', () => {
    const pfx = describePfx(contents([der('good'), der('other'), der('root'), der('intermediate')], [pkcs8('rsa2048')]));
    expect(pfx.certificate.thumbprint).toBe(pki.thumbprint('good'));
    expect(pfx.chain.map((c) => c.subject)).toEqual(['CN=Contoso Test Issuing CA, O=Contoso Test, C=US', 'CN=Contoso Test Root, O=Contoso Test, C=US']);
    expect(pfx.others.map((c) => c.subject)).toEqual(['CN=www.fabrikam.com']);
  });

  it('describes a real PFX: no chain when the intermediate is not in it', () => {
    const pfx = describePfx(readPfx(readFileSync(pki.pfx('aes-no-chain')), pki.password));
    expect(pfx.certificate.thumbprint).toBe(pki.thumbprint('good'));
    expect(pfx.chain).toEqual([]);
  });
});
