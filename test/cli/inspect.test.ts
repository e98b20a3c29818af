import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasAnsi, runCli, STACK_LINE, type CliResult } from '../helpers/cli.js';
import { makeTestPki, type PfxName, type TestPki } from '../helpers/certificates.js';

let pki: TestPki;
const outputs: CliResult[] = [];

beforeAll(() => {
  pki = makeTestPki();
});

/** Runs `exch-cert inspect` on a PKI file (by name) or a path, with the PKI's password in EXCH_CERT_PFX_PASSWORD unless env says otherwise. */
function inspect(target: string, args: readonly string[] = [], env: Record<string, string | undefined> = {}): CliResult {
  const file = target.includes('/') ? target : pki.pfx(target as PfxName);
  const result = runCli(['inspect', file, ...args], { env: { EXCH_CERT_PFX_PASSWORD: pki.password, ...env }, cwd: pki.dir });
  outputs.push(result);
  return result;
}

function json(result: CliResult): Record<string, unknown> & { findings?: Array<{ ruleId: string; severity: string }> } {
  return JSON.parse(result.stdout) as Record<string, unknown>;
}

const ruleIds = (result: CliResult): string[] => [...result.stdout.matchAll(/^(?:error|warning|note): .* \[([a-z0-9-]+)\]$/gm)].map((match) => match[1] ?? '');

afterAll(() => {
  // Whatever happened, the password was never printed, and no run showed a stack trace.
  for (const result of outputs) {
    expect(result.stdout + result.stderr).not.toContain(pki.password);
    expect(result.stderr).not.toMatch(STACK_LINE);
  }
});

describe('exch-cert inspect', () => {
  it('shows a fit legacy PFX and exits 0', () => {
    const result = inspect('legacy-chain', ['--fqdn', 'mail.contoso.com', '--fqdn', 'autodiscover.contoso.com', '--windows', '2016', '--exchange', '2016']);
    expect(result.status).toBe(0);
    const lines = result.stdout.split('\n');
    expect(lines).toEqual(
      expect.arrayContaining([
        'file         legacy-chain.pfx',
        'subject      CN=mail.contoso.com, O="Contoso, Ltd", C=US',
        'names        mail.contoso.com, autodiscover.contoso.com',
        'issuer       CN=Contoso Test Issuing CA, O=Contoso Test, C=US',
        'chain        included: CN=Contoso Test Issuing CA, O=Contoso Test, C=US',
        'key          RSA 2048 bits',
        'private key  present',
        'signature    sha256RSA (SHA-256)',
        `thumbprint   ${pki.thumbprint('good')}`,
        'protection   legacy: certificates: pbeWithSHAAnd40BitRC2-CBC (2048 iterations); key: pbeWithSHAAnd3-KeyTripleDES-CBC (2048 iterations); MAC HMAC-SHA1 (2048 iterations)',
      ]),
    );
    expect(result.stdout).toMatch(/^valid {8}\d{4}-\d\d-\d\d \d\d:\d\d UTC to \d{4}-\d\d-\d\d \d\d:\d\d UTC \((89|90) days left\)$/m);
    expect(ruleIds(result)).toEqual([]);
    expect(result.stderr).toBe('exch-cert inspect: legacy-chain.pfx: fit\n');
    expect(hasAnsi(result.stdout + result.stderr)).toBe(false);
  });

  it('exits 0 with warnings, and 1 with --strict', () => {
    const relaxed = inspect('aes-no-chain', ['--fqdn', 'mail.contoso.com']);
    expect(relaxed.status).toBe(0);
    expect(ruleIds(relaxed)).toEqual(['intermediates-missing', 'pbes2-protection']);
    expect(relaxed.stderr).toContain('fit (2 warnings)');
    const strict = inspect('aes-no-chain', ['--fqdn', 'mail.contoso.com', '--strict']);
    expect(strict.status).toBe(1);
    expect(strict.stderr).toContain('not fit (--strict fails on warnings) (2 warnings)');
  });

  it.each<[string, PfxName, readonly string[], string]>([
    ['a name the certificate lacks', 'other', ['--fqdn', 'mail.contoso.com'], 'fqdn-not-covered'],
    ['no private key', 'no-key', [], 'private-key-missing'],
    ['an expired certificate', 'expired', [], 'expired'],
    ['a certificate not valid yet', 'future', [], 'not-yet-valid'],
    ['an RSA 1024 key', 'rsa1024', [], 'rsa-key-too-small'],
    ['a SHA-1 signature', 'sha1', [], 'weak-signature-hash'],
    ['AES protection for Windows Server 2016', 'aes-chain', ['--windows', '2016'], 'pbes2-protection'],
    ['ECC for Exchange 2016 POP/IMAP', 'ecc', ['--exchange', '2016'], 'ecc-key'],
  ])('exits 1 for %s, with the rule id as an error', (_label, file, args, ruleId) => {
    const result = inspect(file, args);
    expect(result.status).toBe(1);
    expect(result.stdout).toMatch(new RegExp(`^error: .* \\[${ruleId}\\]$`, 'm'));
    expect(result.stderr).toMatch(/: not fit \(\d+ errors?/);
  });

  it('warns about ECC without --exchange, and only notes it for Exchange SE', () => {
    expect(ruleIds(inspect('ecc', ['--windows', '2022']))).toEqual(['ecc-key', 'pbes2-protection']);
    const se = inspect('ecc', ['--windows', '2022', '--exchange', 'SE']);
    expect(se.status).toBe(0);
    expect(se.stdout).toMatch(/^note: an ECC \(P-256\) key: Exchange SE accepts it/m);
    expect(inspect('ecc', ['--exchange', '2016', '--services', 'IIS,smtp']).status).toBe(0);
  });

  it('notes a wildcard certificate and the X509CertificateName that POP and IMAP need', () => {
    const result = inspect('wildcard', ['--fqdn', 'mail.contoso.com', '--windows', '2019']);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('note: a wildcard certificate (*.contoso.com): POP and IMAP need an X509CertificateName that it covers [wildcard-certificate]');
    expect(result.stdout).toContain('-X509CertificateName mail.contoso.com');
  });

  it('--json prints the same as data on stdout, the verdict on stderr', () => {
    const result = inspect('aes-no-chain', ['--fqdn', 'mail.contoso.com', '--fqdn', 'owa.contoso.com', '--json']);
    expect(result.status).toBe(1);
    const data = json(result);
    expect(data).toMatchObject({
      readable: true,
      file: 'aes-no-chain.pfx',
      fit: false,
      strict: false,
      privateKey: true,
      chainIncluded: false,
      chain: [],
      certificate: { subject: 'CN=mail.contoso.com, O="Contoso, Ltd", C=US', thumbprint: pki.thumbprint('good'), key: { algorithm: 'RSA', bits: 2048 } },
      protection: { kind: 'pbes2', mac: { algorithm: 'HMAC-SHA256', iterations: 2048 } },
    });
    expect(data['daysLeft']).toBeGreaterThanOrEqual(89);
    expect(data.findings?.map((finding) => `${finding.ruleId}:${finding.severity}`)).toEqual(['fqdn-not-covered:error', 'intermediates-missing:warning', 'pbes2-protection:warning']);
    expect(result.stderr).toBe('exch-cert inspect: aes-no-chain.pfx: not fit (1 error, 2 warnings)\n');
  });

  it('escapes hostile certificate text in the report and in JSON', () => {
    const text = inspect('hostile');
    expect(text.status).toBe(0);
    expect(text.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u200b\u202e]/);
    expect(text.stdout).toContain('subject      CN=mail.contoso.com\\e[2J\\e[31m\\u202eevil\\u200b, O="Evil\\e]0;owned\\a Corp"');
    expect(text.stdout).toContain('names        mail.contoso.com, evil\\e[2J.contoso.com');
    const data = inspect('hostile', ['--json']);
    expect(data.stdout.replace(/\n/g, '')).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u200b\u202e]/);
    expect((json(data)['certificate'] as { subject: string }).subject).toBe('CN=mail.contoso.com\u001b[2J\u001b[31m\u202eevil\u200b, O="Evil\u001b]0;owned\u0007 Corp"');
  });

  describe('unreadable: exit 2, one message, nothing but JSON on stdout', () => {
    it('a wrong password', () => {
      const result = inspect('aes-chain', [], { EXCH_CERT_PFX_PASSWORD: 'wrong-one' });
      expect(result.status).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr).toBe('exch-cert: error: aes-chain.pfx: wrong password: the PFX integrity check (MAC) fails with it\n  hint: check EXCH_CERT_PFX_PASSWORD: it must hold this file\'s password\n');
      const data = inspect('aes-chain', ['--json'], { EXCH_CERT_PFX_PASSWORD: 'wrong-one' });
      expect(data.status).toBe(2);
      expect(json(data)).toEqual({ file: 'aes-chain.pfx', readable: false, error: { code: 'wrong-password', message: 'wrong password: the PFX integrity check (MAC) fails with it' } });
    });

    it('a missing password variable, and another one named with --password-env', () => {
      const missing = inspect('aes-chain', [], { EXCH_CERT_PFX_PASSWORD: undefined });
      expect(missing.status).toBe(2);
      expect(missing.stdout).toBe('');
      expect(missing.stderr).toContain('EXCH_CERT_PFX_PASSWORD is not set');
      const other = inspect('legacy-chain', ['--password-env', 'MY_PFX_SECRET'], { EXCH_CERT_PFX_PASSWORD: undefined, MY_PFX_SECRET: pki.password });
      expect(other.status).toBe(0);
      const wrong = inspect('legacy-chain', ['--password-env', 'MY_PFX_SECRET'], { MY_PFX_SECRET: 'nope' });
      expect(wrong.status).toBe(2);
      expect(wrong.stderr).toContain('check MY_PFX_SECRET');
    });

    it.each([
      ['not a PFX', () => writeAt('cert.pem', pki.pem('good')), 'not a PKCS #12 (PFX) file'],
      ['an empty file', () => writeAt('empty.pfx', ''), 'not a PKCS #12 (PFX) file: the file is empty'],
      ['a PFX with a key and no certificate', () => pki.pfx('key-only'), 'key-only.pfx: the PFX holds no certificate'],
      ['a missing file', () => join(pki.dir, 'missing.pfx'), 'file not found: missing.pfx'],
      ['a directory', () => (mkdirSync(join(pki.dir, 'folder.pfx'), { recursive: true }), join(pki.dir, 'folder.pfx')), 'folder.pfx is a directory'],
    ])('%s', (_label, make, message) => {
      const result = inspect(make());
      expect(result.status).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr).toContain(message);
    });
  });

  it.each([
    ['--windows 2012', ['--windows', '2012'], "argument '2012' is invalid"],
    ['--exchange 2013', ['--exchange', '2013'], "argument '2013' is invalid"],
    ['--fqdn with a space', ['--fqdn', 'mail contoso'], '--fqdn wants a host name'],
    ['--fqdn with an escape', ['--fqdn', 'mail\u001b[31m'], '--fqdn wants a host name such as mail.contoso.com, got "mail\\\\e[31m"'],
    ['--services FOO', ['--services', 'IIS,FOO'], '--services: unknown service "FOO"'],
    ['--password-env with a bad name', ['--password-env', 'A-B'], '--password-env wants an environment variable name'],
  ])('rejects %s with exit 2', (_label, args, message) => {
    const result = inspect('aes-chain', args);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(message);
    expect(result.stderr).not.toContain('\u001b');
  });
});

function writeAt(name: string, content: string): string {
  const path = join(pki.dir, name);
  writeFileSync(path, content);
  return path;
}
