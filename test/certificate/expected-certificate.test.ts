import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describePfx, PfxReadError, readPfx } from '../../src/certificate/index.js';
import { createTestPki, exportPfx, issueLeaf, type TestLeaf, type TestPki } from '../helpers/tls-certificates.js';

/** What verify-tls --pfx expects: the certificate the PFX would install. */
const readPfxCertificate = (bytes: Buffer, password: string): { thumbprint: string; subject: string } => describePfx(readPfx(bytes, password)).certificate;

/** The shared PFX reader, cross-checked against another test PKI (EC keys, legacy ciphers, non-ASCII passwords). */
describe('the certificate verify-tls --pfx expects', () => {
  let dir: string;
  let pki: TestPki;
  let rsaLeaf: TestLeaf;
  let ecLeaf: TestLeaf;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'exch-cert-pfx-'));
    pki = createTestPki(dir);
    rsaLeaf = issueLeaf(pki, { names: ['mail.contoso.test', 'autodiscover.contoso.test'] });
    ecLeaf = issueLeaf(pki, { names: ['ec.contoso.test'], keyType: 'ec' });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ['RSA, AES-256 (OpenSSL 3 default), with the intermediate', () => rsaLeaf, { chain: true }],
    ['RSA, 3DES/RC2 (older Windows), with the intermediate', () => rsaLeaf, { legacy: true }],
    ['RSA, without the intermediate', () => rsaLeaf, { chain: false }],
    ['EC P-256, with the intermediate', () => ecLeaf, {}],
    ['EC P-256, 3DES/RC2', () => ecLeaf, { legacy: true }],
  ])('gives the leaf thumbprint openssl computes: %s', (_name, leaf, options) => {
    const pfx = exportPfx(pki, leaf(), 'pfx-pässword', options);
    const certificate = readPfxCertificate(pfx, 'pfx-pässword');
    expect(certificate.thumbprint).toBe(leaf().thumbprint);
    expect(certificate.thumbprint).toMatch(/^[0-9A-F]{40}$/);
  });

  it('shows the subject as Windows does, most specific first', () => {
    expect(readPfxCertificate(exportPfx(pki, rsaLeaf, 'x'), 'x').subject).toBe('CN=mail.contoso.test');
  });

  it('picks the leaf by its place in the chain when the PFX holds no key', () => {
    const pfx = exportPfx(pki, rsaLeaf, 'x', { withKey: false });
    expect(readPfxCertificate(pfx, 'x').thumbprint).toBe(rsaLeaf.thumbprint);
  });

  it('says the password is wrong, without repeating it', () => {
    const pfx = exportPfx(pki, rsaLeaf, 'right');
    expect(() => readPfxCertificate(pfx, 'wrong')).toThrow(PfxReadError);
    expect(() => readPfxCertificate(pfx, 'wrong')).toThrow(/password/);
    // A non-ASCII password takes the second path (UTF-8 for PBES2); a wrong one still fails there.
    expect(() => readPfxCertificate(exportPfx(pki, rsaLeaf, 'pässword'), 'päss')).toThrow(/password/);
    expect(() => readPfxCertificate(exportPfx(pki, rsaLeaf, 'pässword', { legacy: true }), 'päss')).toThrow(/password/);
  });

  it('says when the file is not a PFX', () => {
    expect(() => readPfxCertificate(Buffer.from('-----BEGIN CERTIFICATE-----\n'), 'x')).toThrow(PfxReadError);
  });
});
