import { execFileSync } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import forge from 'node-forge';
import { beforeAll, describe, expect, it } from 'vitest';
import { inspectPfx, PfxReadError, readPfx, thumbprintOf, type PfxProtection } from '../../src/certificate/index.js';
import { exportWithPassword, makeTestPki, type PfxName, type TestPki } from '../helpers/certificates.js';

let pki: TestPki;
beforeAll(() => {
  pki = makeTestPki();
});

const read = (name: PfxName, password = pki.password) => readPfx(readFileSync(pki.pfx(name)), password);

function readError(bytes: Buffer, password: string): PfxReadError {
  try {
    readPfx(bytes, password);
  } catch (error) {
    if (error instanceof PfxReadError) return error;
    throw error;
  }
  throw new Error('readPfx did not throw');
}

const MAC_SHA256 = { algorithm: 'HMAC-SHA256', iterations: 2048 };
const MAC_SHA1 = { algorithm: 'HMAC-SHA1', iterations: 2048 };
const AES = { scheme: 'pbes2', cipher: 'AES-256-CBC', prf: 'HMAC-SHA256', iterations: 2048 } as const;
const TRIPLE_DES = { scheme: 'pkcs12-pbe', algorithm: 'pbeWithSHAAnd3-KeyTripleDES-CBC', iterations: 2048 } as const;
const RC2_40 = { scheme: 'pkcs12-pbe', algorithm: 'pbeWithSHAAnd40BitRC2-CBC', iterations: 2048 } as const;

describe('readPfx', () => {
  it.each<[PfxName, string, PfxProtection]>([
    ['aes-chain', 'OpenSSL 3 default', { mac: MAC_SHA256, certificates: [AES], keys: [AES] }],
    ['legacy-chain', 'openssl -legacy', { mac: MAC_SHA1, certificates: [RC2_40], keys: [TRIPLE_DES] }],
    ['3des', '3DES with a SHA-1 MAC', { mac: MAC_SHA1, certificates: [TRIPLE_DES], keys: [TRIPLE_DES] }],
    ['rc2', 'RC2-40 everywhere', { mac: MAC_SHA1, certificates: [RC2_40], keys: [RC2_40] }],
  ])('reads %s (%s), reports its protection, and the leaf thumbprint is the one openssl computes', (name, _label, protection) => {
    const contents = read(name);
    expect(contents.protection).toEqual(protection);
    expect(contents.certificates).toHaveLength(2);
    expect(contents.certificates.map(thumbprintOf)).toEqual(expect.arrayContaining([pki.thumbprint('good'), pki.thumbprint('intermediate')]));
    expect(contents.privateKeys).toHaveLength(1);
  });

  it.each<PfxName>(['aes-chain', 'legacy-chain', '3des', 'rc2'])('refuses %s with a wrong password (the MAC tells)', (name) => {
    const error = readError(readFileSync(pki.pfx(name)), 'not-the-password');
    expect(error.code).toBe('wrong-password');
    expect(error.message).toContain('wrong password');
  });

  it('reads a file without a MAC, and tells a wrong password by decryption', () => {
    const contents = read('no-mac');
    expect(contents.protection.mac).toBeUndefined();
    expect(contents.protection.keys).toEqual([AES]);
    expect(readError(readFileSync(pki.pfx('no-mac')), 'not-the-password').code).toBe('wrong-password');
    expect(read('legacy-no-mac').protection).toEqual({ mac: undefined, certificates: [RC2_40], keys: [TRIPLE_DES] });
    expect(readError(readFileSync(pki.pfx('legacy-no-mac')), 'not-the-password').code).toBe('wrong-password');
  });

  it('reads a file with the certificates only, unencrypted and without a MAC', () => {
    const contents = read('certificate-only', '');
    expect(contents.protection).toEqual({ mac: undefined, certificates: [{ scheme: 'none' }], keys: [] });
    expect(contents.privateKeys).toEqual([]);
    expect(contents.certificates.map(thumbprintOf)).toEqual([pki.thumbprint('good')]);
  });

  it('reads a file without a key', () => {
    expect(read('no-key').privateKeys).toEqual([]);
  });

  it('returns the private key as PKCS #8 that belongs to the certificate', () => {
    const [key] = read('aes-chain').privateKeys;
    const expected = createPrivateKey(readFileSync(join(pki.dir, 'rsa2048.key')));
    expect(createPrivateKey({ key: key!, format: 'der', type: 'pkcs8' }).equals(expected)).toBe(true);
  });

  it.each([
    ['an empty password (AES)', '', []],
    ['an empty password (legacy)', '', ['-legacy']],
    ['a non-ASCII password (AES: UTF-8 for PBKDF2)', 'pässwörd-€-日本', []],
    ['a non-ASCII password (legacy: BMPString for the PKCS #12 KDF)', 'pässwörd-€-日本', ['-legacy']],
  ])('reads a PFX with %s', (label, password, args) => {
    const path = exportWithPassword(pki, label.replace(/\W+/g, '-'), password, args);
    expect(readPfx(readFileSync(path), password).certificates.map(thumbprintOf)).toContain(pki.thumbprint('good'));
    expect(readError(readFileSync(path), password === '' ? 'x' : 'passwörd').code).toBe('wrong-password');
  });

  it('reads a PFX that node-forge itself misreads: PBES2 with a non-ASCII password', () => {
    const path = exportWithPassword(pki, 'forge-utf8', 'pässwörd', []);
    const bytes = readFileSync(path);
    expect(() => forge.pkcs12.pkcs12FromAsn1(forge.asn1.fromDer(bytes.toString('binary')), false, 'pässwörd')).toThrow();
    expect(readPfx(bytes, 'pässwörd').privateKeys).toHaveLength(1);
  });

  it('refuses a hostile iteration count before spending time on it', () => {
    const path = exportWithPassword(pki, 'many-iterations', 'pw', ['-iter', '1000001']);
    const error = readError(readFileSync(path), 'pw');
    expect(error.code).toBe('unsupported');
    expect(error.message).toContain('1000001 key derivation iterations');
  });

  it.each([
    ['an empty file', () => Buffer.alloc(0)],
    ['random bytes', () => Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 7919) % 256))],
    ['a PEM certificate', () => Buffer.from(pki.pem('good'))],
    ['a DER certificate', () => execFileSync('openssl', ['x509', '-in', join(pki.dir, 'good.pem'), '-outform', 'DER'])],
    ['a truncated PFX', () => readFileSync(pki.pfx('aes-chain')).subarray(0, 1000)],
    ['a PFX with trailing bytes', () => Buffer.concat([readFileSync(pki.pfx('aes-chain')), Buffer.from('junk')])],
    ['deeply nested SEQUENCEs', () => Buffer.concat([...Array.from({ length: 20_000 }, () => Buffer.from([0x30, 0x80])), ...Array.from({ length: 20_000 }, () => Buffer.from([0, 0]))])],
  ])('says %s is not PKCS #12', (_label, make) => {
    const error = readError(make(), pki.password);
    expect(error.code).toBe('not-pkcs12');
    expect(error.message).toMatch(/^not a PKCS #12 \(PFX\) file: /);
  });
});

describe('damaged files', () => {
  // Files without a MAC let damage reach the ASN.1, certificate and key parsers instead of stopping at the MAC.
  it.each<PfxName>(['certificate-only', 'no-mac', 'legacy-no-mac', 'aes-chain'])('%s with flipped bytes or cut short: read, or a PfxReadError, nothing else', (name) => {
    const original = readFileSync(pki.pfx(name));
    const password = name === 'certificate-only' ? '' : pki.password;
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(original.length - 1), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }), fc.option(fc.nat(original.length - 1)), (flips, cut) => {
        const bytes = Buffer.from(original);
        for (const [at, xor] of flips) bytes[at] = (bytes[at] ?? 0) ^ xor;
        try {
          inspectPfx(cut === null ? bytes : bytes.subarray(0, cut), password, { now: new Date() });
        } catch (error) {
          if (!(error instanceof PfxReadError)) throw error;
        }
      }),
      { numRuns: 300 },
    );
  });
});
