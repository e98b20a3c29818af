import { createPrivateKey, createPublicKey, type KeyObject, type X509Certificate } from 'node:crypto';
import { describeCertificate, isIssuedBy, parseX509, type CertificateDescription } from './describe-certificate.js';
import type { PfxContents, PfxProtection } from './read-pfx.js';

/** The PFX as inspect reports it: the certificate, its key, its chain, its protection. */
export interface PfxDescription {
  /** The certificate Exchange will use: the one the private key belongs to. */
  readonly certificate: CertificateDescription;
  /** A private key for that certificate is in the file. */
  readonly privateKey: boolean;
  /** Private keys in the file (one that fits none of the certificates counts too). */
  readonly privateKeyCount: number;
  /** The certificate's issuers found in the file, nearest first (intermediates, maybe the root). */
  readonly chain: readonly CertificateDescription[];
  /** Certificates in the file that are neither the certificate nor in its chain. */
  readonly others: readonly CertificateDescription[];
  readonly protection: PfxProtection;
}

interface Parsed {
  readonly der: Buffer;
  readonly x509: X509Certificate;
}

/** The longest chain inspect follows; real ones have two or three links. */
const MAX_CHAIN = 8;

/**
 * Finds the certificate in a PFX (the one whose public key matches a private
 * key; otherwise the one that issued none of the others), its key and the
 * chain of issuers that the file includes.
 * @throws DerError when a certificate in the file cannot be read
 */
export function describePfx(contents: PfxContents): PfxDescription {
  const certificates: Parsed[] = contents.certificates.map((der) => ({ der, x509: parseX509(der) }));
  const publicKeys = contents.privateKeys.flatMap((der) => {
    const key = publicKeyOf(der);
    return key ? [key] : [];
  });
  const keyed = certificates.find((certificate) => publicKeys.some((key) => sameKey(key, certificate.x509)));
  const endEntity = certificates.find((certificate) => !certificates.some((other) => other !== certificate && isIssuedBy(other.x509, certificate.x509)));
  const leaf = keyed ?? endEntity ?? certificates[0];
  if (!leaf) throw new Error('describePfx needs at least one certificate (readPfx guarantees it)');

  const chain: Parsed[] = [];
  let current = leaf;
  while (chain.length < MAX_CHAIN && !isIssuedBy(current.x509, current.x509)) {
    const issuer = certificates.find((candidate) => candidate !== current && !chain.includes(candidate) && isIssuedBy(current.x509, candidate.x509));
    if (!issuer) break;
    chain.push(issuer);
    current = issuer;
  }
  return {
    certificate: describeCertificate(leaf.der),
    privateKey: keyed !== undefined,
    privateKeyCount: contents.privateKeys.length,
    chain: chain.map((certificate) => describeCertificate(certificate.der)),
    others: certificates.filter((certificate) => certificate !== leaf && !chain.includes(certificate)).map((certificate) => describeCertificate(certificate.der)),
    protection: contents.protection,
  };
}

function publicKeyOf(pkcs8: Buffer): KeyObject | undefined {
  try {
    return createPublicKey(createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }));
  } catch {
    // A key type OpenSSL cannot load fits no certificate as far as Exchange is concerned either.
    return undefined;
  }
}

function sameKey(key: KeyObject, certificate: X509Certificate): boolean {
  try {
    // The publicKey getter throws for a public key OpenSSL cannot decode.
    return key.equals(certificate.publicKey);
  } catch {
    return false;
  }
}
