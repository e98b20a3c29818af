import { createHash, X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { algorithmOf, DerError, elementsOf, explicitOf, isTagged, octetsOf, oidOf, parseDer, Class, Type, type Asn1 } from './der.js';
import { formatWindowsName, readAlternativeNames, readName, type AlternativeName } from './names.js';

/** A certificate's public key. */
export interface KeyDescription {
  readonly algorithm: 'RSA' | 'ECC' | 'DSA' | 'Ed25519' | 'Ed448' | 'other';
  /** Modulus length for RSA, curve size for ECC. */
  readonly bits: number | undefined;
  /** ECC only, e.g. `P-256`. */
  readonly curve?: string;
}

/** How the certificate is signed. */
export interface SignatureDescription {
  /** As Windows shows it, e.g. `sha256RSA`, `sha384ECDSA`, `RSASSA-PSS`. */
  readonly algorithm: string;
  /** The hash, e.g. `SHA-256`; undefined for Ed25519 and unknown algorithms. */
  readonly hash: string | undefined;
  readonly oid: string;
}

/** What inspect shows about one certificate; plain data (dates as ISO 8601 strings). */
export interface CertificateDescription {
  /** As Windows and Exchange show it: `CN=mail.contoso.com, O=Contoso, C=US`. */
  readonly subject: string;
  readonly issuer: string;
  /** The subject's CN values (RFC 6125 uses them only when there are no DNS names). */
  readonly commonNames: readonly string[];
  /** The Subject Alternative Names, in certificate order. */
  readonly alternativeNames: readonly AlternativeName[];
  readonly serialNumber: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly key: KeyDescription;
  readonly signature: SignatureDescription;
  /** SHA-1 of the DER, 40 upper-case hex digits, as Exchange shows it. */
  readonly thumbprint: string;
  /** Issued by itself (its own key verifies its signature). */
  readonly selfSigned: boolean;
  /** basicConstraints cA: a CA certificate. */
  readonly certificateAuthority: boolean;
}

const HASHES: Readonly<Record<string, string>> = {
  '1.2.840.113549.2.2': 'MD2',
  '1.2.840.113549.2.5': 'MD5',
  '1.3.14.3.2.26': 'SHA-1',
  '2.16.840.1.101.3.4.2.4': 'SHA-224',
  '2.16.840.1.101.3.4.2.1': 'SHA-256',
  '2.16.840.1.101.3.4.2.2': 'SHA-384',
  '2.16.840.1.101.3.4.2.3': 'SHA-512',
};

const SIGNATURES: Readonly<Record<string, { readonly algorithm: string; readonly hash: string | undefined }>> = {
  '1.2.840.113549.1.1.2': { algorithm: 'md2RSA', hash: 'MD2' },
  '1.2.840.113549.1.1.4': { algorithm: 'md5RSA', hash: 'MD5' },
  '1.2.840.113549.1.1.5': { algorithm: 'sha1RSA', hash: 'SHA-1' },
  '1.3.14.3.2.29': { algorithm: 'sha1RSA', hash: 'SHA-1' },
  '1.2.840.113549.1.1.14': { algorithm: 'sha224RSA', hash: 'SHA-224' },
  '1.2.840.113549.1.1.11': { algorithm: 'sha256RSA', hash: 'SHA-256' },
  '1.2.840.113549.1.1.12': { algorithm: 'sha384RSA', hash: 'SHA-384' },
  '1.2.840.113549.1.1.13': { algorithm: 'sha512RSA', hash: 'SHA-512' },
  '1.2.840.10045.4.1': { algorithm: 'sha1ECDSA', hash: 'SHA-1' },
  '1.2.840.10045.4.3.1': { algorithm: 'sha224ECDSA', hash: 'SHA-224' },
  '1.2.840.10045.4.3.2': { algorithm: 'sha256ECDSA', hash: 'SHA-256' },
  '1.2.840.10045.4.3.3': { algorithm: 'sha384ECDSA', hash: 'SHA-384' },
  '1.2.840.10045.4.3.4': { algorithm: 'sha512ECDSA', hash: 'SHA-512' },
  '1.2.840.10040.4.3': { algorithm: 'sha1DSA', hash: 'SHA-1' },
  '2.16.840.1.101.3.4.3.2': { algorithm: 'sha256DSA', hash: 'SHA-256' },
  '1.3.101.112': { algorithm: 'Ed25519', hash: undefined },
  '1.3.101.113': { algorithm: 'Ed448', hash: undefined },
};
const RSASSA_PSS = '1.2.840.113549.1.1.10';

const CURVES: Readonly<Record<string, { readonly name: string; readonly bits: number }>> = {
  prime256v1: { name: 'P-256', bits: 256 },
  secp384r1: { name: 'P-384', bits: 384 },
  secp521r1: { name: 'P-521', bits: 521 },
};

const SUBJECT_ALT_NAME = '2.5.29.17';
const BASIC_CONSTRAINTS = '2.5.29.19';

/** SHA-1 of a certificate's DER as 40 upper-case hex digits: the thumbprint Exchange, IIS and netsh show. */
export function thumbprintOf(der: Buffer): string {
  return createHash('sha1').update(der).digest('hex').toUpperCase();
}

/**
 * Describes one DER certificate: names as Windows prints them, validity,
 * key, signature hash and thumbprint.
 * @throws DerError when the bytes are not an X.509 certificate
 */
export function describeCertificate(der: Buffer): CertificateDescription {
  const x509 = parseX509(der);
  const [tbs, signatureAlgorithm] = elementsOf(parseDer(der), 'the certificate');
  const fields = elementsOf(tbs, 'the certificate body');
  // version [0] EXPLICIT is absent in v1 certificates.
  const [serial, , issuer, validity, subject, , ...optional] = isTagged(fields[0], 0) ? fields.slice(1) : fields;
  const [notBefore, notAfter] = elementsOf(validity, 'the validity');
  const subjectName = readName(subject, 'the subject');
  const extensions = readExtensions(optional.find((node) => isTagged(node, 3)));
  const alternativeNames = extensions.get(SUBJECT_ALT_NAME);
  const basicConstraints = extensions.get(BASIC_CONSTRAINTS);
  return {
    subject: formatWindowsName(subjectName),
    issuer: formatWindowsName(readName(issuer, 'the issuer')),
    commonNames: subjectName.flat().filter((attribute) => attribute.key === 'CN').map((attribute) => attribute.value),
    alternativeNames: alternativeNames ? readAlternativeNames(alternativeNames) : [],
    serialNumber: octetsOf(serial, 'the serial number', Class.UNIVERSAL, Type.INTEGER).toString('hex').toUpperCase(),
    notBefore: readTime(notBefore, 'notBefore').toISOString(),
    notAfter: readTime(notAfter, 'notAfter').toISOString(),
    key: describeKey(x509),
    signature: describeSignature(signatureAlgorithm),
    thumbprint: thumbprintOf(der),
    selfSigned: isIssuedBy(x509, x509),
    certificateAuthority: basicConstraints ? isCa(basicConstraints) : false,
  };
}

/** Node's view of the certificate (keys, issuer checks); a DerError when OpenSSL cannot read it. */
export function parseX509(der: Buffer): X509Certificate {
  try {
    return new X509Certificate(der);
  } catch (error) {
    throw new DerError(`a certificate in the file cannot be read (${error instanceof Error ? error.message : String(error)})`);
  }
}

/** True when `issuer`'s subject and key identifiers match and its key verifies the signature. */
export function isIssuedBy(certificate: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return certificate.checkIssued(issuer) && certificate.verify(issuer.publicKey);
  } catch {
    // A key type OpenSSL cannot use for verification: not provably the issuer.
    return false;
  }
}

function describeKey(x509: X509Certificate): KeyDescription {
  let key;
  try {
    key = x509.publicKey;
  } catch {
    return { algorithm: 'other', bits: undefined };
  }
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'rsa':
    case 'rsa-pss':
      return { algorithm: 'RSA', bits: details.modulusLength };
    case 'ec': {
      const curve = details.namedCurve ?? 'unknown curve';
      return { algorithm: 'ECC', bits: CURVES[curve]?.bits, curve: CURVES[curve]?.name ?? curve };
    }
    case 'dsa':
      return { algorithm: 'DSA', bits: details.modulusLength };
    case 'ed25519':
      return { algorithm: 'Ed25519', bits: 256 };
    case 'ed448':
      return { algorithm: 'Ed448', bits: 456 };
    default:
      return { algorithm: 'other', bits: undefined };
  }
}

function describeSignature(node: Asn1 | undefined): SignatureDescription {
  const { oid, parameters } = algorithmOf(node, 'the signature algorithm');
  if (oid === RSASSA_PSS) {
    // RSASSA-PSS-params: hashAlgorithm [0] EXPLICIT, DEFAULT SHA-1.
    const fields = parameters && Array.isArray(parameters.value) ? parameters.value : [];
    const hashField = fields.find((field) => isTagged(field, 0));
    const hashOid = hashField ? algorithmOf(explicitOf(hashField, 0, 'the PSS hash'), 'the PSS hash').oid : '1.3.14.3.2.26';
    return { algorithm: 'RSASSA-PSS', hash: HASHES[hashOid], oid };
  }
  const known = SIGNATURES[oid];
  return known ? { ...known, oid } : { algorithm: `OID.${oid}`, hash: undefined, oid };
}

function readExtensions(node: Asn1 | undefined): Map<string, Asn1> {
  const found = new Map<string, Asn1>();
  if (!node) return found;
  for (const extension of elementsOf(explicitOf(node, 3, 'the extensions'), 'the extensions')) {
    const [idNode, second, third] = elementsOf(extension, 'an extension');
    // critical BOOLEAN DEFAULT FALSE sits between the id and the value when present.
    const valueNode = second?.type === Type.BOOLEAN ? third : second;
    found.set(oidOf(idNode, 'an extension id'), parseDer(octetsOf(valueNode, 'an extension value')));
  }
  return found;
}

function isCa(basicConstraints: Asn1): boolean {
  const [first] = elementsOf(basicConstraints, 'basicConstraints');
  // DER writes TRUE as 0xFF; BER allows any non-zero byte.
  return first?.type === Type.BOOLEAN && first.value !== '\u0000';
}

function readTime(node: Asn1 | undefined, what: string): Date {
  const date =
    node?.type === Type.UTCTIME && typeof node.value === 'string'
      ? forge.asn1.utcTimeToDate(node.value)
      : node?.type === Type.GENERALIZEDTIME && typeof node.value === 'string'
        ? forge.asn1.generalizedTimeToDate(node.value)
        : undefined;
  if (!date || Number.isNaN(date.getTime())) throw new DerError(`${what} is not a time`);
  return date;
}
