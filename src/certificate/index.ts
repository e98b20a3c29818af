import { checkCertificate, type CheckOptions } from './checks.js';
import { DerError } from './der.js';
import { describePfx, type PfxDescription } from './describe-pfx.js';
import { PfxReadError, readPfx } from './read-pfx.js';
import type { Finding } from './rules.js';

export { checkCertificate, coversName, daysLeft, dnsNamesOf } from './checks.js';
export type { CheckOptions } from './checks.js';
export { describeCertificate, thumbprintOf } from './describe-certificate.js';
export type { CertificateDescription, KeyDescription, SignatureDescription } from './describe-certificate.js';
export { describePfx } from './describe-pfx.js';
export type { PfxDescription } from './describe-pfx.js';
export type { AlternativeName } from './names.js';
export type { Encryption, Mac } from './pbe.js';
export { readPfxFile } from './pfx-file.js';
export { formatProtection, protectionKind } from './protection.js';
export type { ProtectionKind } from './protection.js';
export { PfxReadError, readPfx } from './read-pfx.js';
export type { PfxContents, PfxProtection, PfxReadErrorCode } from './read-pfx.js';
export { CERTIFICATE_RULES, isUnfit } from './rules.js';
export type { CertificateRule, Finding, FindingSeverity, RuleId } from './rules.js';
export { DEFAULT_SERVICES, EXCHANGE_SERVICES, EXCHANGE_VERSIONS, WINDOWS_VERSIONS } from './versions.js';
export type { ExchangeService, ExchangeVersion, WindowsVersion } from './versions.js';

/** A PFX read, described and checked. */
export interface Inspection {
  readonly pfx: PfxDescription;
  readonly findings: readonly Finding[];
}

/**
 * Reads, describes and checks a PFX in one call: what `exch-cert inspect`
 * and the renewal's preflight do. Pure apart from the bytes passed in.
 * @throws PfxReadError when the file cannot be read (not PKCS #12, wrong password, ...)
 */
export function inspectPfx(bytes: Buffer, password: string, options: CheckOptions): Inspection {
  const contents = readPfx(bytes, password);
  let pfx: PfxDescription;
  try {
    pfx = describePfx(contents);
  } catch (error) {
    if (error instanceof DerError) throw new PfxReadError('not-pkcs12', `the PFX holds a damaged certificate: ${error.message}`);
    throw error;
  }
  return { pfx, findings: checkCertificate(pfx, options) };
}
