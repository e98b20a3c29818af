/**
 * Certificates for the TLS tests, made with the openssl CLI: a root CA, an
 * intermediate, and leaves with any names and validity dates (`openssl ca`
 * takes explicit start and end dates, which `x509 -days` cannot).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const DAY_MS = 24 * 60 * 60 * 1000;

/** A certificate authority for one test file, in its own folder. */
export interface TestPki {
  readonly dir: string;
  /** The root CA certificate (PEM): what NODE_EXTRA_CA_CERTS and -CAfile get. */
  readonly rootCert: string;
  readonly intermediateCert: string;
  readonly intermediateKey: string;
}

/** A leaf with its files. */
export interface TestLeaf {
  readonly cert: string;
  readonly key: string;
  /** Leaf then intermediate, as a server sends them. */
  readonly chain: string;
  /** SHA-1, upper-case hex, computed by openssl. */
  readonly thumbprint: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

export interface LeafOptions {
  readonly names: readonly string[];
  readonly notBefore?: Date;
  readonly notAfter?: Date;
  /** Subject CN (default: the first name). */
  readonly commonName?: string;
  /** A fresh key of this type instead of the PKI's shared RSA leaf key. */
  readonly keyType?: 'rsa' | 'ec';
}

// The config refers to LEAF_SAN, so every command that reads it needs one.
const openssl = (args: readonly string[], cwd: string, env: Record<string, string> = {}): string =>
  execFileSync('openssl', args, { cwd, encoding: 'utf8', env: { ...process.env, LEAF_SAN: 'DNS:unnamed.invalid', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });

const CA_CONFIG = `
[ ca ]
default_ca = intermediate
[ intermediate ]
dir = .
database = index.txt
new_certs_dir = issued
serial = serial
default_md = sha256
policy = any
unique_subject = no
email_in_dn = no
[ any ]
commonName = supplied
[ leaf ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = \${ENV::LEAF_SAN}
[ ca_ext ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
`;

/** A root CA and an intermediate under `dir`. */
export function createTestPki(dir: string): TestPki {
  mkdirSync(join(dir, 'issued'), { recursive: true });
  writeFileSync(join(dir, 'ca.cnf'), CA_CONFIG);
  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(join(dir, 'serial'), '1000\n');
  for (const name of ['root', 'intermediate']) openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${name}.key`], dir);
  openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'leaf.key'], dir);
  openssl(['req', '-x509', '-new', '-key', 'root.key', '-subj', '/O=exch-cert tests/CN=exch-cert Test Root CA', '-days', '3650', '-config', 'ca.cnf', '-extensions', 'ca_ext', '-out', 'root.pem'], dir);
  openssl(['req', '-new', '-key', 'intermediate.key', '-subj', '/O=exch-cert tests/CN=exch-cert Test Issuing CA', '-out', 'intermediate.csr'], dir);
  openssl(['x509', '-req', '-in', 'intermediate.csr', '-CA', 'root.pem', '-CAkey', 'root.key', '-set_serial', '2', '-days', '3650', '-extfile', 'ca.cnf', '-extensions', 'ca_ext', '-out', 'intermediate.pem'], dir);
  return { dir, rootCert: join(dir, 'root.pem'), intermediateCert: join(dir, 'intermediate.pem'), intermediateKey: join(dir, 'intermediate.key') };
}

let leafCount = 0;

/** A leaf issued by the intermediate, valid from `notBefore` (default: a day ago) to `notAfter` (default: in 90 days). */
export function issueLeaf(pki: TestPki, options: LeafOptions): TestLeaf {
  const id = `leaf-${process.pid}-${++leafCount}`;
  const notBefore = options.notBefore ?? new Date(Date.now() - DAY_MS);
  const notAfter = options.notAfter ?? new Date(Date.now() + 90 * DAY_MS);
  let key = join(pki.dir, 'leaf.key');
  if (options.keyType) {
    key = join(pki.dir, `${id}.key`);
    openssl(['genpkey', '-algorithm', options.keyType.toUpperCase(), ...(options.keyType === 'ec' ? ['-pkeyopt', 'ec_paramgen_curve:P-256'] : ['-pkeyopt', 'rsa_keygen_bits:2048']), '-out', key], pki.dir);
  }
  const commonName = options.commonName ?? options.names[0] ?? 'unnamed';
  openssl(['req', '-new', '-utf8', '-key', key, '-subj', `/CN=${commonName}`, '-out', `${id}.csr`], pki.dir);
  const san = options.names.map((name) => (/^[\d.]+$|:/.test(name) ? `IP:${name}` : `DNS:${name}`)).join(',');
  openssl(
    ['ca', '-batch', '-config', 'ca.cnf', '-cert', 'intermediate.pem', '-keyfile', 'intermediate.key', '-extensions', 'leaf', '-notext', '-startdate', asn1Time(notBefore), '-enddate', asn1Time(notAfter), '-in', `${id}.csr`, '-out', `${id}.pem`],
    pki.dir,
    san ? { LEAF_SAN: san } : {},
  );
  const cert = join(pki.dir, `${id}.pem`);
  const chain = join(pki.dir, `${id}-chain.pem`);
  writeFileSync(chain, readFileSync(cert, 'utf8') + readFileSync(pki.intermediateCert, 'utf8'));
  const fingerprint = openssl(['x509', '-in', cert, '-noout', '-fingerprint', '-sha1'], pki.dir);
  const thumbprint = fingerprint.replace(/^.*=/s, '').replace(/[:\s]/g, '');
  // openssl keeps whole seconds.
  return { cert, key, chain, thumbprint, notBefore: new Date(Math.floor(notBefore.getTime() / 1000) * 1000), notAfter: new Date(Math.floor(notAfter.getTime() / 1000) * 1000) };
}

/** A PFX of the leaf (with the intermediate unless `chain: false`); `legacy` uses the 3DES/RC2 format older Windows writes. */
export function exportPfx(pki: TestPki, leaf: TestLeaf, password: string, options: { legacy?: boolean; chain?: boolean; withKey?: boolean } = {}): Buffer {
  const out = join(pki.dir, `export-${process.pid}-${++leafCount}.pfx`);
  const args = ['pkcs12', '-export', '-in', options.chain === false ? leaf.cert : leaf.chain, '-passout', 'env:TEST_PFX_PASSWORD', '-out', out];
  if (options.withKey === false) args.push('-nokeys');
  else args.push('-inkey', leaf.key);
  if (options.legacy) args.push('-legacy');
  openssl(args, pki.dir, { TEST_PFX_PASSWORD: password });
  return readFileSync(out);
}

/** YYYYMMDDHHMMSSZ, as `openssl ca -startdate` takes it. */
function asn1Time(date: Date): string {
  return date.toISOString().replace(/[-:T]/g, '').replace(/\.\d+Z$/, 'Z');
}
