import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Certificates and PFX files made with the openssl CLI at test time (no key is
 * ever committed): a root CA, an intermediate, and leaves signed by it.
 */
export interface TestPki {
  readonly dir: string;
  /** The password of every PFX unless a file says otherwise. */
  readonly password: string;
  /** Path of a PFX by name; see `PFX_FILES`. */
  pfx(name: PfxName): string;
  /** PEM of a certificate by leaf name, or `root` / `intermediate`. */
  pem(name: LeafName | 'root' | 'intermediate'): string;
  /** SHA-1 thumbprint as openssl prints it (upper-case hex, no colons). */
  thumbprint(name: LeafName | 'root' | 'intermediate'): string;
}

const DAY = 86_400_000;

/** The leaves: key, names, dates (days from now), signature hash. */
const LEAVES = {
  good: { key: 'rsa2048', subject: '/C=US/O=Contoso, Ltd/CN=mail.contoso.com', names: ['mail.contoso.com', 'autodiscover.contoso.com'], from: -1, to: 90, md: 'sha256' },
  rsa1024: { key: 'rsa1024', subject: '/CN=mail.contoso.com', names: ['mail.contoso.com'], from: -1, to: 90, md: 'sha256' },
  ecc: { key: 'ecc', subject: '/CN=mail.contoso.com', names: ['mail.contoso.com'], from: -1, to: 90, md: 'sha256' },
  sha1: { key: 'rsa2048', subject: '/CN=mail.contoso.com', names: ['mail.contoso.com'], from: -1, to: 90, md: 'sha1' },
  wildcard: { key: 'rsa2048', subject: '/CN=*.contoso.com', names: ['*.contoso.com'], from: -1, to: 90, md: 'sha256' },
  expired: { key: 'rsa2048', subject: '/CN=mail.contoso.com', names: ['mail.contoso.com'], from: -400, to: -35, md: 'sha256' },
  future: { key: 'rsa2048', subject: '/CN=mail.contoso.com', names: ['mail.contoso.com'], from: 10, to: 100, md: 'sha256' },
  other: { key: 'rsa2048', subject: '/CN=www.fabrikam.com', names: ['www.fabrikam.com'], from: -1, to: 90, md: 'sha256' },
  hostile: {
    key: 'rsa2048',
    subject: '/O=Evil\u001b]0;owned\u0007 Corp/CN=mail.contoso.com\u001b[2J\u001b[31m\u202eevil\u200b',
    names: ['mail.contoso.com', 'evil\u001b[2J.contoso.com'],
    from: -1,
    to: 90,
    md: 'sha256',
  },
} as const;
export type LeafName = keyof typeof LEAVES;

/** Each PFX: which leaf, and how it is exported. */
export const PFX_FILES = {
  /** OpenSSL 3's default: PBES2 AES-256-CBC, PBKDF2 HMAC-SHA256, HMAC-SHA256 MAC; with the intermediate. */
  'aes-chain': { leaf: 'good', args: [], chain: true },
  'aes-no-chain': { leaf: 'good', args: [], chain: false },
  /** `-legacy`: certificates RC2-40, key 3DES, SHA-1 MAC. */
  'legacy-chain': { leaf: 'good', args: ['-legacy'], chain: true },
  '3des': { leaf: 'good', args: ['-certpbe', 'PBE-SHA1-3DES', '-keypbe', 'PBE-SHA1-3DES', '-macalg', 'sha1'], chain: true },
  rc2: { leaf: 'good', args: ['-legacy', '-certpbe', 'PBE-SHA1-RC2-40', '-keypbe', 'PBE-SHA1-RC2-40', '-macalg', 'sha1'], chain: true },
  'no-mac': { leaf: 'good', args: ['-nomac'], chain: true },
  'legacy-no-mac': { leaf: 'good', args: ['-legacy', '-nomac', '-certpbe', 'PBE-SHA1-RC2-40'], chain: true },
  'no-key': { leaf: 'good', args: ['-nokeys'], chain: true },
  rsa1024: { leaf: 'rsa1024', args: [], chain: true },
  ecc: { leaf: 'ecc', args: [], chain: true },
  sha1: { leaf: 'sha1', args: [], chain: true },
  wildcard: { leaf: 'wildcard', args: [], chain: true },
  expired: { leaf: 'expired', args: [], chain: true },
  future: { leaf: 'future', args: [], chain: true },
  other: { leaf: 'other', args: [], chain: true },
  hostile: { leaf: 'hostile', args: ['-legacy'], chain: true },
  /** A key and no certificate. */
  'key-only': { leaf: 'good', args: ['-nocerts'], chain: false },
  /** Only the certificate, no key, not encrypted. */
  'certificate-only': { leaf: 'good', args: ['-nokeys', '-certpbe', 'NONE', '-nomac'], chain: false },
} as const satisfies Record<string, { leaf: LeafName; args: readonly string[]; chain: boolean }>;
export type PfxName = keyof typeof PFX_FILES;

/** A PFX of the good leaf with its own password (for empty and non-ASCII passwords). */
export function exportWithPassword(pki: TestPki, name: string, password: string, args: readonly string[] = []): string {
  const out = join(pki.dir, `${name}.pfx`);
  openssl(pki.dir, ['pkcs12', '-export', '-in', 'good.pem', '-inkey', 'rsa2048.key', '-certfile', 'intermediate.pem', '-out', out, '-passout', 'env:PFX_PASSWORD', ...args], { PFX_PASSWORD: password });
  return out;
}

let made: TestPki | undefined;

/** Makes the PKI once per test file (a few seconds: three RSA keys). */
export function makeTestPki(): TestPki {
  if (made) return made;
  const dir = mkdtempSync(join(tmpdir(), 'exch-cert-pki-'));
  const password = 'Test-PFX-password-4711';
  const run = (args: readonly string[]): string => openssl(dir, args);
  run(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'ca.key']);
  run(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'rsa2048.key']);
  run(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024', '-out', 'rsa1024.key']);
  run(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'ecc.key']);
  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(join(dir, 'serial'), '1000\n');
  writeFileSync(join(dir, 'ca.cnf'), CA_CONFIG);
  // The root and the intermediate share a key: the chain is told apart by names and signatures.
  run(['req', '-x509', '-new', '-key', 'ca.key', '-subj', '/C=US/O=Contoso Test/CN=Contoso Test Root', '-days', '3650', '-sha256', '-addext', 'basicConstraints=critical,CA:true', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', 'root.pem']);
  run(['req', '-new', '-key', 'ca.key', '-subj', '/C=US/O=Contoso Test/CN=Contoso Test Issuing CA', '-out', 'intermediate.csr']);
  signWithCa(dir, 'root', 'intermediate', { from: -30, to: 3000, md: 'sha256' }, 'v3_intermediate');
  for (const [name, leaf] of Object.entries(LEAVES)) {
    writeFileSync(join(dir, `${name}.ext`), `[leaf]\nbasicConstraints = CA:false\nkeyUsage = digitalSignature, keyEncipherment\nextendedKeyUsage = serverAuth\nsubjectAltName = @san\n[san]\n${leaf.names.map((dns, i) => `DNS.${i + 1} = ${dns}`).join('\n')}\n`);
    run(['req', '-new', '-utf8', '-key', `${leaf.key}.key`, '-subj', leaf.subject, '-out', `${name}.csr`]);
    signWithCa(dir, 'intermediate', name, leaf, 'leaf', `${name}.ext`);
  }
  for (const [name, file] of Object.entries(PFX_FILES)) {
    const leaf = LEAVES[file.leaf];
    const keyArgs: readonly string[] = (file.args as readonly string[]).includes('-nokeys') ? [] : ['-inkey', `${leaf.key}.key`];
    openssl(dir, ['pkcs12', '-export', '-in', `${file.leaf}.pem`, ...keyArgs, ...(file.chain ? ['-certfile', 'intermediate.pem'] : []), '-out', `${name}.pfx`, '-passout', 'env:PFX_PASSWORD', ...file.args], { PFX_PASSWORD: password });
  }
  made = {
    dir,
    password,
    pfx: (name) => join(dir, `${name}.pfx`),
    pem: (name) => readFileSync(join(dir, `${name}.pem`), 'utf8'),
    thumbprint: (name) => run(['x509', '-in', `${name}.pem`, '-noout', '-fingerprint', '-sha1']).trim().replace(/^.*=/, '').replace(/:/g, ''),
  };
  return made;
}

function signWithCa(dir: string, issuer: string, name: string, validity: { readonly from: number; readonly to: number; readonly md: string }, extensions: string, extfile?: string): void {
  const now = Date.now();
  openssl(dir, [
    'ca', '-batch', '-notext', '-preserveDN', '-utf8', '-config', 'ca.cnf',
    '-cert', `${issuer}.pem`, '-keyfile', 'ca.key', '-in', `${name}.csr`, '-out', `${name}.pem`,
    '-md', validity.md, '-startdate', asn1Time(now + validity.from * DAY), '-enddate', asn1Time(now + validity.to * DAY),
    '-extensions', extensions, ...(extfile ? ['-extfile', extfile] : []),
  ]);
}

function asn1Time(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:T]/g, '').replace(/\.\d+Z$/, 'Z');
}

function openssl(cwd: string, args: readonly string[], env: Record<string, string> = {}): string {
  return execFileSync('openssl', args, { cwd, env: { PATH: process.env['PATH'], ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

const CA_CONFIG = `[ca]
default_ca = test
[test]
database = index.txt
new_certs_dir = .
serial = serial
policy = anything
unique_subject = no
copy_extensions = none
[anything]
countryName = optional
stateOrProvinceName = optional
localityName = optional
organizationName = optional
organizationalUnitName = optional
commonName = optional
emailAddress = optional
[v3_intermediate]
basicConstraints = critical, CA:true, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
`;
