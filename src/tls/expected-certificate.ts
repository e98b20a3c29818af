import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { thumbprintOf } from './thumbprint.js';

/*
 * A minimal PKCS#12 reader for `verify-tls --pfx`: the thumbprint of the
 * certificate the PFX would install. node-forge decrypts (it reads the 3DES
 * and RC2 files Windows exports as well as OpenSSL 3's AES ones); Node's
 * crypto parses certificates and keys of every algorithm. Kept in this one
 * file so the project's shared PFX reader can replace it.
 */

/** The certificate a PFX holds, as far as verification needs it. */
export interface PfxCertificate {
  /** SHA-1 of the leaf, upper-case hex, as Exchange shows it. */
  readonly thumbprint: string;
  readonly subject: string;
}

/** The PFX cannot be opened: wrong password, not PKCS#12, or no certificate in it. */
export class PfxReadError extends Error {
  override name = 'PfxReadError';
}

/**
 * The leaf certificate of a PFX: the one whose public key belongs to a private
 * key in the file, or, without keys, the one that issued no other.
 */
export function readPfxCertificate(bytes: Uint8Array, password: string): PfxCertificate {
  const p12 = openPkcs12(bytes, password);
  const certificates = bagsOf(p12, 'certBag').map((bag) => new X509Certificate(Buffer.from(certificateDer(bag), 'binary')));
  const keys = [...bagsOf(p12, 'pkcs8ShroudedKeyBag'), ...bagsOf(p12, 'keyBag')].map(privateKeyOf);
  const candidates =
    keys.length > 0
      ? certificates.filter((cert) => keys.some((key) => cert.checkPrivateKey(key)))
      : certificates.filter((cert) => !certificates.some((other) => other !== cert && other.checkIssued(cert)));
  const thumbprints = new Set(candidates.map((cert) => thumbprintOf(cert.raw)));
  const [found] = candidates;
  if (!found || thumbprints.size > 1) {
    throw new PfxReadError(
      certificates.length === 0
        ? 'it holds no certificate'
        : keys.length > 0
          ? found
            ? 'several certificates in it match its private keys'
            : 'no certificate in it matches its private key'
          : 'it holds several certificates and no private key, so which one is meant is unclear',
    );
  }
  return { thumbprint: thumbprintOf(found.raw), subject: found.subject.split('\n').reverse().join(', ') };
}

/*
 * The MAC and the PKCS#12 ciphers (3DES, RC2) derive keys from the password's
 * characters, PBES2 (AES) from its UTF-8 bytes, which forge wants as a binary
 * string. forge checks the MAC before it decrypts, so when decryption fails
 * after the MAC passed with a non-ASCII password, the file is read again
 * (without the MAC, already checked) with the UTF-8 form.
 */
function openPkcs12(bytes: Uint8Array, password: string): forge.pkcs12.Pkcs12Pfx {
  const parse = (): forge.asn1.Asn1 => forge.asn1.fromDer(forge.util.createBuffer(Buffer.from(bytes).toString('binary')));
  try {
    return forge.pkcs12.pkcs12FromAsn1(parse(), false, password);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (/MAC could not be verified/.test(message)) throw new PfxReadError('the password does not open it');
    if (/^[\x00-\x7f]*$/.test(password) || !/decrypt/i.test(message)) throw new PfxReadError(`it is not a PKCS#12 (PFX) file that can be read (${message})`);
  }
  const withoutMac = parse();
  if (Array.isArray(withoutMac.value)) withoutMac.value = withoutMac.value.slice(0, 2);
  try {
    return forge.pkcs12.pkcs12FromAsn1(withoutMac, false, Buffer.from(password, 'utf8').toString('binary'));
  } catch {
    throw new PfxReadError('the password does not open it');
  }
}

type BagType = 'certBag' | 'pkcs8ShroudedKeyBag' | 'keyBag';

function bagsOf(p12: forge.pkcs12.Pkcs12Pfx, type: BagType): forge.pkcs12.Bag[] {
  const oid = forge.pki.oids[type] as string;
  return p12.getBags({ bagType: oid })[oid] ?? [];
}

/*
 * forge parses RSA certificates and leaves others (EC) as ASN.1. A parsed one
 * is put together again from the TBSCertificate forge kept, the signature
 * algorithm inside it (RFC 5280 requires the outer one to be the same;
 * forge's own re-encoding would add NULL parameters where a certificate has
 * none) and the signature, so the bytes, and with them the thumbprint, are
 * the file's.
 */
function certificateDer(bag: forge.pkcs12.Bag): string {
  const { asn1 } = forge;
  if (!bag.cert) return asn1.toDer(bag.asn1).getBytes();
  const tbs = bag.cert.tbsCertificate;
  const fields = Array.isArray(tbs.value) ? tbs.value : [];
  const algorithm = fields[fields[0]?.tagClass === asn1.Class.CONTEXT_SPECIFIC ? 2 : 1];
  if (!algorithm) throw new PfxReadError('a certificate in it is malformed');
  const signature = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BITSTRING, false, String.fromCharCode(0) + String(bag.cert.signature));
  return asn1.toDer(asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [tbs, algorithm, signature])).getBytes();
}

function privateKeyOf(bag: forge.pkcs12.Bag): KeyObject {
  // forge parses RSA keys (PKCS#1 out) and hands others over as PKCS#8 PrivateKeyInfo.
  const { der, type } = bag.key
    ? { der: forge.asn1.toDer(forge.pki.privateKeyToAsn1(bag.key)).getBytes(), type: 'pkcs1' as const }
    : { der: forge.asn1.toDer(bag.asn1).getBytes(), type: 'pkcs8' as const };
  return createPrivateKey({ key: Buffer.from(der, 'binary'), format: 'der', type });
}
