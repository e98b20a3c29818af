import { Class, DerError, elementsOf, encodeDer, explicitOf, integerOf, octetsOf, oidOf, parseDer } from './der.js';
import { decrypt, DecryptionError, describeEncryption, passwordCandidates, UnsupportedAlgorithmError, verifyMac, type Encryption, type Mac, type Password } from './pbe.js';

/** How a PFX is protected: its MAC and the encryption of each part. */
export interface PfxProtection {
  /** Absent for a file without a MAC (`openssl pkcs12 -nomac`). */
  readonly mac: Mac | undefined;
  /** One entry per block of certificates (usually one); `none` when they are not encrypted. */
  readonly certificates: readonly Encryption[];
  /** One entry per private key. */
  readonly keys: readonly Encryption[];
}

/** What a PFX holds, decrypted: exact bytes, nothing interpreted yet. */
export interface PfxContents {
  readonly protection: PfxProtection;
  /** Each X.509 certificate's DER, in file order. */
  readonly certificates: readonly Buffer[];
  /** Each private key as PKCS #8 PrivateKeyInfo DER, in file order. */
  readonly privateKeys: readonly Buffer[];
}

/** Why a PFX could not be read; each is exit 2 for the CLI. */
export type PfxReadErrorCode = 'not-pkcs12' | 'wrong-password' | 'unsupported' | 'no-certificate' | 'file';

/** A PFX that cannot be read: not PKCS #12, wrong password, an algorithm exch-cert lacks, or no certificate in it. */
export class PfxReadError extends Error {
  constructor(
    readonly code: PfxReadErrorCode,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'PfxReadError';
  }
}

const OID = {
  data: '1.2.840.113549.1.7.1',
  signedData: '1.2.840.113549.1.7.2',
  envelopedData: '1.2.840.113549.1.7.3',
  encryptedData: '1.2.840.113549.1.7.6',
  keyBag: '1.2.840.113549.1.12.10.1.1',
  pkcs8ShroudedKeyBag: '1.2.840.113549.1.12.10.1.2',
  certBag: '1.2.840.113549.1.12.10.1.3',
  safeContentsBag: '1.2.840.113549.1.12.10.1.6',
  x509Certificate: '1.2.840.113549.1.9.22.1',
} as const;

const WRONG_PASSWORD_HINT = 'check the password, and that it belongs to this file';

/**
 * Opens a PKCS #12 file (RFC 7292): verifies its MAC with the password, then
 * decrypts every certificate and key. Reads OpenSSL 3's default (PBES2 with
 * PBKDF2 and AES-256-CBC, HMAC-SHA256 MAC) and the legacy files Windows and
 * `openssl -legacy` write (pbeWithSHAAnd3-KeyTripleDES-CBC,
 * pbeWithSHAAnd40BitRC2-CBC, HMAC-SHA1 MAC).
 * @throws PfxReadError
 */
export function readPfx(bytes: Buffer, password: string): PfxContents {
  try {
    return readPfxStructure(bytes, password);
  } catch (error) {
    if (error instanceof PfxReadError) throw error;
    if (error instanceof UnsupportedAlgorithmError) throw new PfxReadError('unsupported', error.message, 'export it again with `openssl pkcs12 -export` (AES-256) or with `-legacy` (3DES)');
    if (error instanceof DecryptionError) throw new PfxReadError('wrong-password', 'wrong password: the PFX does not decrypt with it (or the file is damaged)', WRONG_PASSWORD_HINT);
    if (error instanceof DerError) throw new PfxReadError('not-pkcs12', `not a PKCS #12 (PFX) file: ${error.message}`, 'inspect reads binary .pfx/.p12 files; convert a PEM file with `openssl pkcs12 -export`');
    throw error;
  }
}

function readPfxStructure(bytes: Buffer, password: string): PfxContents {
  if (bytes.length === 0) throw new PfxReadError('not-pkcs12', 'not a PKCS #12 (PFX) file: the file is empty');
  const [versionNode, authSafe, macData] = elementsOf(parseDer(bytes), 'the file');
  const version = integerOf(versionNode, 'the PFX version');
  if (version !== 3) throw new DerError(`PFX version ${version} (PKCS #12 files are version 3)`);
  const [contentType, content] = elementsOf(authSafe, 'the PFX content');
  const type = oidOf(contentType, 'the PFX content type');
  if (type === OID.signedData) throw new UnsupportedAlgorithmError('the file is in public-key integrity mode (signed), which exch-cert cannot read');
  if (type !== OID.data) throw new DerError(`the PFX content has type ${type}, not data`);
  const authSafeBytes = octetsOf(explicitOf(content, 0, 'the PFX content'), 'the PFX content');

  const candidates = passwordCandidates(password);
  let chosen: Password | undefined;
  let mac: Mac | undefined;
  if (macData !== undefined) {
    const verified = verifyMac(macData, authSafeBytes, candidates);
    mac = verified.mac;
    chosen = verified.password;
    if (!chosen) throw new PfxReadError('wrong-password', 'wrong password: the PFX integrity check (MAC) fails with it', WRONG_PASSWORD_HINT);
  }

  // Without a MAC only decryption can tell the password; try each reading of it.
  let lastError: unknown;
  for (const candidate of chosen ? [chosen] : candidates) {
    try {
      const collected = readAuthenticatedSafe(authSafeBytes, candidate);
      if (collected.certificates.length === 0) throw new PfxReadError('no-certificate', 'the PFX holds no certificate', 'export it again with the certificate (`openssl pkcs12 -export -in CERT.pem -inkey KEY.pem`)');
      return { protection: { mac, certificates: collected.certificateEncryption, keys: collected.keyEncryption }, certificates: collected.certificates, privateKeys: collected.privateKeys };
    } catch (error) {
      // After a verified MAC the password is right, so a failure is the file's own.
      if (chosen || !(error instanceof DecryptionError || error instanceof DerError)) throw error;
      lastError = error;
    }
  }
  throw lastError instanceof DerError ? new DecryptionError() : lastError;
}

interface Collected {
  readonly certificates: Buffer[];
  readonly privateKeys: Buffer[];
  readonly certificateEncryption: Encryption[];
  readonly keyEncryption: Encryption[];
}

function readAuthenticatedSafe(authSafeBytes: Buffer, password: Password): Collected {
  const collected: Collected = { certificates: [], privateKeys: [], certificateEncryption: [], keyEncryption: [] };
  for (const contentInfo of elementsOf(parseDer(authSafeBytes), 'the authenticated safe')) {
    const [contentType, content] = elementsOf(contentInfo, 'a safe');
    const type = oidOf(contentType, 'a safe content type');
    if (type === OID.data) {
      readSafeContents(octetsOf(explicitOf(content, 0, 'a safe'), 'a safe'), password, collected, { scheme: 'none' }, 0);
    } else if (type === OID.encryptedData) {
      // EncryptedData ::= SEQUENCE { version, EncryptedContentInfo SEQUENCE { contentType, algorithm, [0] IMPLICIT encryptedContent } }
      const [, encryptedContentInfo] = elementsOf(explicitOf(content, 0, 'an encrypted safe'), 'an encrypted safe');
      const [, algorithm, encrypted] = elementsOf(encryptedContentInfo, 'an encrypted safe');
      const encryption = describeEncryption(algorithm, 'the certificates');
      const plain = decrypt(algorithm, octetsOf(encrypted, 'the encrypted certificates', Class.CONTEXT_SPECIFIC, 0), password, 'the certificates');
      readSafeContents(plain, password, collected, encryption, 0);
    } else if (type === OID.envelopedData) {
      throw new UnsupportedAlgorithmError('the file encrypts its contents to a public key (envelopedData), which exch-cert cannot read');
    } else {
      throw new DerError(`a safe has content type ${type}`);
    }
  }
  return collected;
}

function readSafeContents(bytes: Buffer, password: Password, collected: Collected, encryption: Encryption, depth: number): void {
  if (depth > 4) throw new DerError('safe contents nested too deeply');
  let certificates = 0;
  for (const bag of elementsOf(parseDer(bytes), 'the safe contents')) {
    const [bagIdNode, bagValue] = elementsOf(bag, 'a safe bag');
    const bagId = oidOf(bagIdNode, 'a safe bag type');
    const value = explicitOf(bagValue, 0, 'a safe bag value');
    switch (bagId) {
      case OID.certBag: {
        const [certId, certValue] = elementsOf(value, 'a certificate bag');
        // sdsiCertificate and other kinds are skipped, as Windows does.
        if (oidOf(certId, 'a certificate type') !== OID.x509Certificate) break;
        collected.certificates.push(octetsOf(explicitOf(certValue, 0, 'a certificate'), 'a certificate'));
        certificates++;
        break;
      }
      case OID.keyBag:
        collected.privateKeys.push(encodeDer(value));
        collected.keyEncryption.push({ scheme: 'none' });
        break;
      case OID.pkcs8ShroudedKeyBag: {
        const [algorithm, encrypted] = elementsOf(value, 'an encrypted private key');
        collected.keyEncryption.push(describeEncryption(algorithm, 'the private key'));
        const key = decrypt(algorithm, octetsOf(encrypted, 'the encrypted private key'), password, 'the private key');
        // Without a MAC, a wrong password can still leave valid padding (1 in 256): the DER tells.
        elementsOf(parseDer(key), 'the decrypted private key');
        collected.privateKeys.push(key);
        break;
      }
      case OID.safeContentsBag:
        readSafeContents(encodeDer(value), password, collected, encryption, depth + 1);
        break;
      default:
        // CRL and secret bags carry nothing inspect reports.
        break;
    }
  }
  if (certificates > 0) collected.certificateEncryption.push(encryption);
}
