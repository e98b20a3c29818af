import forge from 'node-forge';

/** One node of a parsed DER/BER structure (node-forge's representation). */
export type Asn1 = forge.asn1.Asn1;

/** The structure is not what the ASN.1 module of PKCS #12 or X.509 says it must be. */
export class DerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DerError';
  }
}

const { Class, Type } = forge.asn1;

interface FromDerOptions {
  readonly strict: boolean;
  readonly decodeBitStrings: boolean;
  readonly parseAllBytes: boolean;
}
// The typings only know the old boolean form; the options object has been there since forge 0.10.
const fromDer = forge.asn1.fromDer as unknown as (bytes: forge.util.ByteStringBuffer, options: FromDerOptions) => Asn1;

/**
 * Parses DER (or the BER that Java and older tools write) strictly: lengths
 * must fit, nothing may follow, and BIT STRINGs stay opaque.
 */
export function parseDer(bytes: Buffer): Asn1 {
  try {
    return fromDer(forge.util.createBuffer(bytes.toString('binary')), { strict: true, decodeBitStrings: false, parseAllBytes: true });
  } catch (error) {
    // forge throws plain Errors (and a hostile nesting depth a RangeError); all mean "not this structure".
    throw new DerError(error instanceof Error ? error.message : String(error));
  }
}

/** Re-encodes a node as DER. */
export function encodeDer(node: Asn1): Buffer {
  return Buffer.from(forge.asn1.toDer(node).getBytes(), 'binary');
}

/** The elements of a SEQUENCE or SET; `what` names it in the error. */
export function elementsOf(node: Asn1 | undefined, what: string, type: forge.asn1.Type = Type.SEQUENCE): Asn1[] {
  if (!node || node.tagClass !== Class.UNIVERSAL || node.type !== type || !Array.isArray(node.value)) throw new DerError(`${what} is not a ${type === Type.SET ? 'SET' : 'SEQUENCE'}`);
  return node.value;
}

/** The dotted form of an OBJECT IDENTIFIER. */
export function oidOf(node: Asn1 | undefined, what: string): string {
  if (!node || node.tagClass !== Class.UNIVERSAL || node.type !== Type.OID || typeof node.value !== 'string') throw new DerError(`${what} is not an OBJECT IDENTIFIER`);
  return forge.asn1.derToOid(node.value);
}

/** The bytes of an OCTET STRING, joining the pieces of a constructed (BER) one. */
export function octetsOf(node: Asn1 | undefined, what: string, tagClass: forge.asn1.Class = Class.UNIVERSAL, type: number = Type.OCTETSTRING): Buffer {
  if (!node || node.tagClass !== tagClass || (node.type as number) !== type) throw new DerError(`${what} is not an OCTET STRING`);
  if (typeof node.value === 'string') return Buffer.from(node.value, 'binary');
  return Buffer.concat(node.value.map((piece) => octetsOf(piece, what)));
}

/** A non-negative INTEGER small enough for a JavaScript number (versions, iteration counts, lengths). */
export function integerOf(node: Asn1 | undefined, what: string): number {
  if (!node || node.tagClass !== Class.UNIVERSAL || node.type !== Type.INTEGER || typeof node.value !== 'string') throw new DerError(`${what} is not an INTEGER`);
  const bytes = Buffer.from(node.value, 'binary');
  if (bytes.length === 0 || (bytes[0] ?? 0) & 0x80) throw new DerError(`${what} is negative`);
  if (bytes.length > 6) throw new DerError(`${what} is too large`);
  return bytes.readUIntBE(0, bytes.length);
}

/** The content of an explicitly tagged `[tag]` field. */
export function explicitOf(node: Asn1 | undefined, tag: number, what: string): Asn1 {
  if (!node || node.tagClass !== Class.CONTEXT_SPECIFIC || (node.type as number) !== tag || !Array.isArray(node.value) || node.value.length !== 1 || !node.value[0]) throw new DerError(`${what} is not a [${tag}] field`);
  return node.value[0];
}

/** True for a context-specific `[tag]` node. */
export function isTagged(node: Asn1 | undefined, tag: number): boolean {
  return node !== undefined && node.tagClass === Class.CONTEXT_SPECIFIC && (node.type as number) === tag;
}

/** An AlgorithmIdentifier: its OID and its parameters, if any. */
export function algorithmOf(node: Asn1 | undefined, what: string): { readonly oid: string; readonly parameters: Asn1 | undefined } {
  const [oid, parameters] = elementsOf(node, what);
  return { oid: oidOf(oid, `${what}'s algorithm`), parameters };
}

export { Class, Type };
