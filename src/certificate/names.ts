import { DerError, elementsOf, isTagged, octetsOf, oidOf, Class, Type, type Asn1 } from './der.js';

/** One attribute of a distinguished name, e.g. `CN` = `mail.contoso.com`. */
export interface NameAttribute {
  /** The short name Windows shows (`CN`, `O`, `S`, ...) or `OID.2.5.4.97` for others. */
  readonly key: string;
  readonly oid: string;
  readonly value: string;
}

/** A name in the certificate's Subject Alternative Name extension. */
export interface AlternativeName {
  readonly type: 'dns' | 'ip' | 'email' | 'uri' | 'upn' | 'directory' | 'other';
  readonly value: string;
}

// The keys of CertNameToStr with CERT_X500_NAME_STR, so names read as Windows and Exchange print them.
const KEYS: Readonly<Record<string, string>> = {
  '2.5.4.3': 'CN',
  '2.5.4.4': 'SN',
  '2.5.4.5': 'SERIALNUMBER',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'S',
  '2.5.4.9': 'STREET',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.12': 'T',
  '2.5.4.13': 'Description',
  '2.5.4.17': 'PostalCode',
  '2.5.4.18': 'POBox',
  '2.5.4.20': 'Phone',
  '2.5.4.24': 'X21Address',
  '2.5.4.42': 'G',
  '2.5.4.43': 'I',
  '2.5.4.46': 'dnQualifier',
  '1.2.840.113549.1.9.1': 'E',
  '0.9.2342.19200300.100.1.25': 'DC',
};

const UPN = '1.3.6.1.4.1.311.20.2.3';
// Not in node-forge's Type enum.
const UNIVERSAL_STRING = 28 as (typeof Type)[keyof typeof Type];

/**
 * A Name (SEQUENCE OF RelativeDistinguishedName) as its RDNs, in DER order
 * (most general first, usually `C` then `O` then `CN`).
 */
export function readName(node: Asn1 | undefined, what: string): NameAttribute[][] {
  return elementsOf(node, what).map((rdn) =>
    elementsOf(rdn, `${what}'s RDN`, Type.SET).map((attribute) => {
      const [typeNode, valueNode] = elementsOf(attribute, `${what}'s attribute`);
      const oid = oidOf(typeNode, `${what}'s attribute type`);
      return { key: KEYS[oid] ?? `OID.${oid}`, oid, value: decodeString(valueNode, `${what}'s ${KEYS[oid] ?? oid}`) };
    }),
  );
}

/**
 * The name as Windows shows it (X509Certificate2.Subject, Exchange's Subject
 * and the `<I>issuer<S>subject` of TlsCertificateName): most specific RDN
 * first, `, ` between RDNs, ` + ` inside one, and a value quoted (quotes
 * doubled) when it holds a separator or leading or trailing space.
 */
export function formatWindowsName(rdns: readonly (readonly NameAttribute[])[]): string {
  return [...rdns]
    .reverse()
    .map((rdn) => rdn.map((attribute) => `${attribute.key}=${quoteValue(attribute.value)}`).join(' + '))
    .join(', ');
}

function quoteValue(value: string): string {
  return /[,+="\\<>#;\r\n]|^\s|\s$/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** The GeneralNames of a Subject Alternative Name extension (its extnValue, parsed). */
export function readAlternativeNames(node: Asn1): AlternativeName[] {
  return elementsOf(node, 'the subject alternative names').map((name): AlternativeName => {
    if (name.tagClass !== Class.CONTEXT_SPECIFIC) throw new DerError('a subject alternative name is not tagged');
    switch (name.type as number) {
      case 0: {
        // otherName: SEQUENCE { type-id, [0] EXPLICIT value }, sent with its tag implicit.
        const [typeNode, valueNode] = Array.isArray(name.value) ? name.value : [];
        const oid = oidOf(typeNode, 'an otherName type');
        const inner = Array.isArray(valueNode?.value) ? valueNode.value[0] : undefined;
        return oid === UPN && isTagged(valueNode, 0) ? { type: 'upn', value: decodeString(inner, 'a UPN') } : { type: 'other', value: `OID.${oid}` };
      }
      case 1:
        return { type: 'email', value: ascii(name, 'an rfc822Name') };
      case 2:
        return { type: 'dns', value: ascii(name, 'a dNSName') };
      case 4:
        return { type: 'directory', value: formatWindowsName(readName(Array.isArray(name.value) ? name.value[0] : undefined, 'a directoryName')) };
      case 6:
        return { type: 'uri', value: ascii(name, 'a URI') };
      case 7:
        return { type: 'ip', value: formatIp(octetsOf(name, 'an iPAddress', Class.CONTEXT_SPECIFIC, 7)) };
      default:
        return { type: 'other', value: `[${name.type}]` };
    }
  });
}

function ascii(node: Asn1, what: string): string {
  return octetsOf(node, what, Class.CONTEXT_SPECIFIC, node.type).toString('latin1');
}

function formatIp(bytes: Buffer): string {
  if (bytes.length === 4) return [...bytes].join('.');
  if (bytes.length !== 16) return `0x${bytes.toString('hex')}`;
  const groups = Array.from({ length: 8 }, (_, i) => bytes.readUInt16BE(i * 2).toString(16));
  // RFC 5952: the longest run of two or more zero groups becomes `::`.
  let start = -1;
  let length = 0;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > length && j - i > 1) [start, length] = [i, j - i];
    i = j > i ? j : i + 1;
  }
  return start < 0 ? groups.join(':') : `${groups.slice(0, start).join(':')}::${groups.slice(start + length).join(':')}`;
}

/** A DirectoryString (or any string type) as text. */
function decodeString(node: Asn1 | undefined, what: string): string {
  if (!node || node.tagClass !== Class.UNIVERSAL || typeof node.value !== 'string') throw new DerError(`${what} is not a string`);
  const bytes = Buffer.from(node.value, 'binary');
  switch (node.type) {
    case Type.UTF8:
      return bytes.toString('utf8');
    case Type.BMPSTRING:
      return bytes.length % 2 === 0 ? Buffer.from(bytes).swap16().toString('utf16le') : bytes.toString('latin1');
    case UNIVERSAL_STRING: {
      // UniversalString: UTF-32BE.
      const points = Array.from({ length: Math.floor(bytes.length / 4) }, (_, i) => bytes.readUInt32BE(i * 4));
      return points.map((point) => (point <= 0x10ffff ? String.fromCodePoint(point) : '\ufffd')).join('');
    }
    default:
      // PrintableString, IA5String, T61String, NumericString, VisibleString: bytes as Latin-1.
      return bytes.toString('latin1');
  }
}
