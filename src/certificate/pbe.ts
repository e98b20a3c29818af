import { createDecipheriv, createHmac, pbkdf2Sync, timingSafeEqual } from 'node:crypto';
import forge from 'node-forge';
import { algorithmOf, DerError, elementsOf, integerOf, octetsOf, type Asn1 } from './der.js';

/** How one part of a PFX (the certificates, or a private key) is encrypted. */
export type Encryption =
  | { readonly scheme: 'none' }
  | {
      readonly scheme: 'pbes2';
      /** e.g. `AES-256-CBC`. */
      readonly cipher: string;
      /** The PBKDF2 pseudo-random function, e.g. `HMAC-SHA256`. */
      readonly prf: string;
      readonly iterations: number;
    }
  | {
      readonly scheme: 'pkcs12-pbe';
      /** The PKCS #12 name, e.g. `pbeWithSHAAnd3-KeyTripleDES-CBC`. */
      readonly algorithm: string;
      readonly iterations: number;
    };

/** The integrity MAC of a PFX. */
export interface Mac {
  /** e.g. `HMAC-SHA256`. */
  readonly algorithm: string;
  readonly iterations: number;
}

/**
 * The password in the two forms PKCS #12 uses: PBES2 derives keys from its
 * UTF-8 bytes (RFC 8018), the PKCS #12 KDF (MAC and legacy ciphers) from its
 * BMPString. An empty password is ambiguous in the wild (an empty BMPString
 * or none at all, as OpenSSL tries both), so `bmp` may be null.
 */
export interface Password {
  readonly utf8: Buffer;
  readonly bmp: string | null;
}

/** The password does not decrypt the data (or the data is damaged). */
export class DecryptionError extends Error {
  constructor() {
    super('the data does not decrypt with this password');
    this.name = 'DecryptionError';
  }
}

/** The file uses an algorithm exch-cert cannot read; the message names it. */
export class UnsupportedAlgorithmError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedAlgorithmError';
  }
}

/**
 * No common tool writes more (Windows 2,000, OpenSSL 2,048, Java 10,000); the
 * cap keeps a hostile file from holding the CPU for hours.
 */
export const MAX_ITERATIONS = 1_000_000;

const PBES2 = '1.2.840.113549.1.5.13';
const PBKDF2 = '1.2.840.113549.1.5.12';

const PKCS12_PBE: Readonly<Record<string, string>> = {
  '1.2.840.113549.1.12.1.1': 'pbeWithSHAAnd128BitRC4',
  '1.2.840.113549.1.12.1.2': 'pbeWithSHAAnd40BitRC4',
  '1.2.840.113549.1.12.1.3': 'pbeWithSHAAnd3-KeyTripleDES-CBC',
  '1.2.840.113549.1.12.1.4': 'pbeWithSHAAnd2-KeyTripleDES-CBC',
  '1.2.840.113549.1.12.1.5': 'pbeWithSHAAnd128BitRC2-CBC',
  '1.2.840.113549.1.12.1.6': 'pbeWithSHAAnd40BitRC2-CBC',
};
/** The ones node-forge implements (3DES and RC2-40: what Windows and `openssl -legacy` write). */
const FORGE_PKCS12_PBE = new Set(['1.2.840.113549.1.12.1.3', '1.2.840.113549.1.12.1.6']);

const PBES2_CIPHERS: Readonly<Record<string, { readonly name: string; readonly node: string; readonly keyLength: number; readonly ivLength: number }>> = {
  '2.16.840.1.101.3.4.1.2': { name: 'AES-128-CBC', node: 'aes-128-cbc', keyLength: 16, ivLength: 16 },
  '2.16.840.1.101.3.4.1.22': { name: 'AES-192-CBC', node: 'aes-192-cbc', keyLength: 24, ivLength: 16 },
  '2.16.840.1.101.3.4.1.42': { name: 'AES-256-CBC', node: 'aes-256-cbc', keyLength: 32, ivLength: 16 },
  '1.2.840.113549.3.7': { name: 'DES-EDE3-CBC', node: 'des-ede3-cbc', keyLength: 24, ivLength: 8 },
};

const PRFS: Readonly<Record<string, { readonly name: string; readonly hash: string }>> = {
  '1.2.840.113549.2.7': { name: 'HMAC-SHA1', hash: 'sha1' },
  '1.2.840.113549.2.8': { name: 'HMAC-SHA224', hash: 'sha224' },
  '1.2.840.113549.2.9': { name: 'HMAC-SHA256', hash: 'sha256' },
  '1.2.840.113549.2.10': { name: 'HMAC-SHA384', hash: 'sha384' },
  '1.2.840.113549.2.11': { name: 'HMAC-SHA512', hash: 'sha512' },
};

/** MAC digests: the Node hash, and the same in node-forge for the PKCS #12 KDF. */
const MAC_DIGESTS: Readonly<Record<string, { readonly name: string; readonly hash: string; readonly forge: () => forge.md.MessageDigest }>> = {
  '1.3.14.3.2.26': { name: 'HMAC-SHA1', hash: 'sha1', forge: () => forge.md.sha1.create() },
  '2.16.840.1.101.3.4.2.1': { name: 'HMAC-SHA256', hash: 'sha256', forge: () => forge.md.sha256.create() },
  '2.16.840.1.101.3.4.2.2': { name: 'HMAC-SHA384', hash: 'sha384', forge: () => forge.md.sha384.create() },
  '2.16.840.1.101.3.4.2.3': { name: 'HMAC-SHA512', hash: 'sha512', forge: () => forge.md.sha512.create() },
};

const PBMAC1 = '1.2.840.113549.1.5.14';

interface ForgeCipher {
  update(input: forge.util.ByteStringBuffer): void;
  finish(): boolean;
  readonly output: forge.util.ByteStringBuffer;
}
// node-forge's PKCS #12 PBE (key and IV from the PKCS #12 KDF, then 3DES or RC2); not in its typings.
const forgePbe = (forge.pki as unknown as { pbe: { getCipher(oid: string, params: Asn1, password: string | null): ForgeCipher } }).pbe;

/** Names the encryption an AlgorithmIdentifier describes, without decrypting anything. */
export function describeEncryption(algorithm: Asn1 | undefined, what: string): Encryption {
  const { oid, parameters } = algorithmOf(algorithm, what);
  if (oid === PBES2) {
    const { kdf, cipher } = readPbes2(parameters, what);
    return { scheme: 'pbes2', cipher: cipher.name, prf: kdf.prf.name, iterations: kdf.iterations };
  }
  const name = PKCS12_PBE[oid];
  if (name === undefined) throw new UnsupportedAlgorithmError(`${what} uses an encryption exch-cert cannot read (OID ${oid})`);
  const [, iterations] = elementsOf(parameters, `${what}'s parameters`);
  return { scheme: 'pkcs12-pbe', algorithm: name, iterations: integerOf(iterations, `${what}'s iteration count`) };
}

/** Decrypts data encrypted with PBES2 or a PKCS #12 PBE; throws DecryptionError for a wrong password. */
export function decrypt(algorithm: Asn1 | undefined, ciphertext: Buffer, password: Password, what: string): Buffer {
  const { oid, parameters } = algorithmOf(algorithm, what);
  if (oid === PBES2) {
    const { kdf, cipher, iv } = readPbes2(parameters, what);
    // Node's OpenSSL: native speed, and AES needs nothing that forge would add.
    const key = pbkdf2Sync(password.utf8, kdf.salt, kdf.iterations, kdf.keyLength ?? cipher.keyLength, kdf.prf.hash);
    try {
      const decipher = createDecipheriv(cipher.node, key, iv);
      return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
    } catch {
      throw new DecryptionError();
    }
  }
  const encryption = describeEncryption(algorithm, what);
  if (encryption.scheme !== 'pkcs12-pbe' || !FORGE_PKCS12_PBE.has(oid)) throw new UnsupportedAlgorithmError(`${what} uses ${encryption.scheme === 'pkcs12-pbe' ? encryption.algorithm : oid}, which exch-cert cannot decrypt`);
  checkIterations(encryption.iterations, what);
  // RC2-40 is in OpenSSL 3's legacy provider only, which Node does not load: forge does these.
  let cipher: ForgeCipher;
  try {
    cipher = forgePbe.getCipher(oid, parameters as Asn1, password.bmp);
  } catch (error) {
    throw new DerError(`${what}'s parameters: ${error instanceof Error ? error.message : String(error)}`);
  }
  cipher.update(forge.util.createBuffer(ciphertext.toString('binary')));
  if (!cipher.finish()) throw new DecryptionError();
  return Buffer.from(cipher.output.getBytes(), 'binary');
}

/**
 * Checks the PFX's integrity MAC (RFC 7292 appendix B: HMAC keyed by the
 * PKCS #12 KDF) and returns which password form verified it, or undefined
 * for a wrong password.
 */
export function verifyMac(macData: Asn1 | undefined, content: Buffer, candidates: readonly Password[]): { readonly mac: Mac; readonly password: Password | undefined } {
  const [digestInfo, saltNode, iterationsNode] = elementsOf(macData, 'the MAC data');
  const [digestAlgorithm, digestNode] = elementsOf(digestInfo, 'the MAC');
  const { oid } = algorithmOf(digestAlgorithm, 'the MAC algorithm');
  if (oid === PBMAC1) throw new UnsupportedAlgorithmError('the file is protected with PBMAC1 (RFC 9579), which exch-cert cannot verify yet');
  const digest = MAC_DIGESTS[oid];
  if (!digest) throw new UnsupportedAlgorithmError(`the file's MAC uses a digest exch-cert cannot verify (OID ${oid})`);
  const expected = octetsOf(digestNode, 'the MAC value');
  const salt = octetsOf(saltNode, 'the MAC salt');
  const iterations = iterationsNode ? integerOf(iterationsNode, 'the MAC iteration count') : 1;
  if (iterations < 1) throw new DerError('the MAC iteration count is 0');
  checkIterations(iterations, 'the MAC');
  const mac: Mac = { algorithm: digest.name, iterations };
  for (const password of candidates) {
    const keyLength = digest.forge().digestLength;
    const key = Buffer.from(forge.pkcs12.generateKey(password.bmp, forge.util.createBuffer(salt.toString('binary')), 3, iterations, keyLength, digest.forge()).getBytes(), 'binary');
    const actual = createHmac(digest.hash, key).update(content).digest();
    if (actual.length === expected.length && timingSafeEqual(actual, expected)) return { mac, password };
  }
  return { mac, password: undefined };
}

/** The forms to try for a password: both readings of an empty one. */
export function passwordCandidates(password: string): Password[] {
  const utf8 = Buffer.from(password, 'utf8');
  return password === '' ? [{ utf8, bmp: '' }, { utf8, bmp: null }] : [{ utf8, bmp: password }];
}

function readPbes2(parameters: Asn1 | undefined, what: string) {
  const [kdfNode, schemeNode] = elementsOf(parameters, `${what}'s PBES2 parameters`);
  const kdfAlgorithm = algorithmOf(kdfNode, `${what}'s key derivation`);
  if (kdfAlgorithm.oid !== PBKDF2) throw new UnsupportedAlgorithmError(`${what} derives its key with OID ${kdfAlgorithm.oid}, not PBKDF2; exch-cert cannot read it`);
  const [saltNode, iterationsNode, ...rest] = elementsOf(kdfAlgorithm.parameters, `${what}'s PBKDF2 parameters`);
  const salt = octetsOf(saltNode, `${what}'s PBKDF2 salt`);
  const iterations = integerOf(iterationsNode, `${what}'s PBKDF2 iteration count`);
  checkIterations(iterations, what);
  // keyLength INTEGER OPTIONAL, then prf AlgorithmIdentifier DEFAULT hmacWithSHA1.
  const keyLengthNode = rest[0]?.type === forge.asn1.Type.INTEGER ? rest.shift() : undefined;
  const prfOid = rest[0] ? algorithmOf(rest[0], `${what}'s PBKDF2 PRF`).oid : '1.2.840.113549.2.7';
  const prf = PRFS[prfOid];
  if (!prf) throw new UnsupportedAlgorithmError(`${what} uses a PBKDF2 PRF exch-cert cannot read (OID ${prfOid})`);
  const scheme = algorithmOf(schemeNode, `${what}'s encryption scheme`);
  const cipher = PBES2_CIPHERS[scheme.oid];
  if (!cipher) throw new UnsupportedAlgorithmError(`${what} uses a cipher exch-cert cannot read (OID ${scheme.oid})`);
  const iv = octetsOf(scheme.parameters, `${what}'s IV`);
  if (iv.length !== cipher.ivLength) throw new DerError(`${what}'s IV has ${iv.length} bytes; ${cipher.name} needs ${cipher.ivLength}`);
  const keyLength = keyLengthNode ? integerOf(keyLengthNode, `${what}'s key length`) : undefined;
  if (keyLength !== undefined && keyLength !== cipher.keyLength) throw new DerError(`${what}'s key length ${keyLength} does not fit ${cipher.name}`);
  return { kdf: { salt, iterations, keyLength, prf }, cipher, iv };
}

function checkIterations(iterations: number, what: string): void {
  if (iterations > MAX_ITERATIONS) throw new UnsupportedAlgorithmError(`${what} asks for ${iterations} key derivation iterations; exch-cert refuses more than ${MAX_ITERATIONS}`);
}
