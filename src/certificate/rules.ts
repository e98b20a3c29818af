/** How much a finding matters: an error makes the PFX unfit, a warning fails only `--strict`, a note never fails. */
export type FindingSeverity = 'error' | 'warning' | 'note';

/** One rule of `exch-cert inspect` and the renewal's preflight. Ids are stable: scripts and docs use them. */
export interface CertificateRule {
  readonly id: RuleId;
  /** The usual severity; the rule's text says when it differs. */
  readonly severity: FindingSeverity;
  /** One line for the README and `--json` readers. */
  readonly description: string;
}

/** The rules, in the order findings are reported. */
export const CERTIFICATE_RULES = [
  { id: 'fqdn-not-covered', severity: 'error', description: 'a --fqdn name is not covered by the certificate (DNS names, wildcards as RFC 6125 defines them; the CN only when there are none)' },
  { id: 'private-key-missing', severity: 'error', description: 'the file holds no private key for the certificate' },
  { id: 'not-yet-valid', severity: 'error', description: 'the certificate is not valid yet (notBefore is in the future)' },
  { id: 'expired', severity: 'error', description: 'the certificate has expired' },
  { id: 'rsa-key-too-small', severity: 'error', description: 'an RSA key below 2048 bits' },
  {
    id: 'ecc-key',
    severity: 'warning',
    description:
      'an ECC key: only Exchange 2019 CU14 HU2 / 2016 CU23 HU13 and later accept it, for IIS and SMTP; POP/IMAP only from 2019 CU15 and SE; never for Auth or federation (an error for an --exchange version that does not accept it for --services, a note for SE)',
  },
  { id: 'unsupported-key-type', severity: 'error', description: 'a key Exchange cannot use (DSA, Ed25519, Ed448, ...)' },
  { id: 'weak-signature-hash', severity: 'error', description: 'the certificate, or an intermediate in the file, is signed with SHA-1, MD5 or MD2' },
  { id: 'intermediates-missing', severity: 'warning', description: 'the file does not include the certificate that issued it (the intermediate CA)' },
  { id: 'pbes2-protection', severity: 'warning', description: 'the file is protected with PBES2/AES (OpenSSL 3 default), which Windows Server 2016 cannot read (an error with --windows 2016, a note with 2019 and later)' },
  { id: 'wildcard-certificate', severity: 'note', description: 'a wildcard certificate: POP and IMAP need an X509CertificateName that it covers' },
] as const satisfies readonly { id: string; severity: FindingSeverity; description: string }[];

/** The id of a certificate rule. */
export type RuleId = (typeof CERTIFICATE_RULES)[number]['id'];

/** One result of a check: which rule, how bad, what is wrong, how to fix it. */
export interface Finding {
  readonly ruleId: RuleId;
  readonly severity: FindingSeverity;
  readonly message: string;
  readonly hint?: string;
}

/** True when the findings make the PFX unfit: any error, or any warning with `strict`. */
export function isUnfit(findings: readonly Finding[], strict: boolean): boolean {
  return findings.some((finding) => finding.severity === 'error' || (strict && finding.severity === 'warning'));
}
