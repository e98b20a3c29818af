import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import type { CertificateDescription } from './describe-certificate.js';
import type { PfxDescription } from './describe-pfx.js';
import type { Finding } from './rules.js';
import { DEFAULT_SERVICES, type ExchangeService, type ExchangeVersion, type WindowsVersion } from './versions.js';

/** What to check the PFX against. */
export interface CheckOptions {
  /** Names clients use; each must be covered. */
  readonly fqdns?: readonly string[];
  readonly windows?: WindowsVersion;
  readonly exchange?: ExchangeVersion;
  /** The services the certificate is for (default: IIS, SMTP, POP, IMAP, as `renew`). */
  readonly services?: readonly ExchangeService[];
  /** The clock's time; the core never reads the clock itself. */
  readonly now: Date;
}

// Two steps: `-export` reads the key and the certificates from one input, which a pipe cannot give twice. The PEM keeps the key encrypted.
const LEGACY_EXPORT = '`openssl pkcs12 -in FILE.pfx -out FILE.pem` (give the PEM a pass phrase), then `openssl pkcs12 -export -legacy -in FILE.pem -out FILE-legacy.pfx`, then delete FILE.pem';

/**
 * Every check of the renewal's preflight and `exch-cert inspect`, in rule
 * catalog order. Pure: the same description, options and time give the same findings.
 */
export function checkCertificate(pfx: PfxDescription, options: CheckOptions): Finding[] {
  return [
    ...checkNames(pfx.certificate, options.fqdns ?? []),
    ...checkPrivateKey(pfx),
    ...checkValidity(pfx.certificate, options.now),
    ...checkKey(pfx.certificate, options),
    ...checkSignatures(pfx),
    ...checkChain(pfx),
    ...checkProtection(pfx, options.windows),
    ...checkWildcard(pfx.certificate, options.fqdns ?? []),
  ];
}

/** Whether the certificate covers `name` for TLS clients (RFC 6125, as Node's TLS client decides it). */
export function coversName(certificate: CertificateDescription, name: string): boolean {
  // Node splits subjectaltname on ", " (and treats quotes specially); a name with either can match no host anyway.
  const usable = (value: string): boolean => !/[\s,"]/.test(value);
  const altNames = certificate.alternativeNames
    .filter((alt) => (alt.type === 'dns' || alt.type === 'ip') && usable(alt.value))
    .map((alt) => `${alt.type === 'dns' ? 'DNS' : 'IP Address'}:${alt.value}`);
  const peer = { subject: { CN: [...certificate.commonNames] }, subjectaltname: altNames.join(', ') };
  // checkServerIdentity reads only subject.CN and subjectaltname.
  return checkServerIdentity(name, peer as unknown as PeerCertificate) === undefined;
}

/** The certificate's DNS names, or its CNs when it has none (as TLS clients read them). */
export function dnsNamesOf(certificate: CertificateDescription): string[] {
  const dns = certificate.alternativeNames.filter((alt) => alt.type === 'dns').map((alt) => alt.value);
  return dns.length > 0 ? dns : [...certificate.commonNames];
}

/** Whole days from `now` until the certificate expires (negative once it has). */
export function daysLeft(certificate: CertificateDescription, now: Date): number {
  return Math.floor((Date.parse(certificate.notAfter) - now.getTime()) / 86_400_000);
}

/** `2026-10-27 09:31:33 UTC`: ISO 8601 for people. */
function formatTime(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;
}

function checkNames(certificate: CertificateDescription, fqdns: readonly string[]): Finding[] {
  const names = dnsNamesOf(certificate);
  return fqdns
    .filter((fqdn) => !coversName(certificate, fqdn))
    .map((fqdn) => ({
      ruleId: 'fqdn-not-covered',
      severity: 'error',
      message: `${fqdn} is not covered by the certificate (its names: ${names.length > 0 ? names.join(', ') : 'none'})`,
      hint: 'request the certificate with this name in its Subject Alternative Names, or check the --fqdn',
    }));
}

function checkPrivateKey(pfx: PfxDescription): Finding[] {
  if (pfx.privateKey) return [];
  return [
    {
      ruleId: 'private-key-missing',
      severity: 'error',
      message: pfx.privateKeyCount > 0 ? `the file holds ${pfx.privateKeyCount === 1 ? 'a private key' : `${pfx.privateKeyCount} private keys`}, but none belongs to the certificate` : 'the file holds no private key: Exchange cannot serve TLS with it',
      hint: 'export the certificate with its private key (`openssl pkcs12 -export -in CERT.pem -inkey KEY.pem`, or Export-PfxCertificate on the machine that made the request)',
    },
  ];
}

function checkValidity(certificate: CertificateDescription, now: Date): Finding[] {
  const time = now.getTime();
  if (time < Date.parse(certificate.notBefore)) {
    return [{ ruleId: 'not-yet-valid', severity: 'error', message: `the certificate is not valid before ${formatTime(certificate.notBefore)}`, hint: 'wait until it is valid, or check the clock of this machine' }];
  }
  if (time > Date.parse(certificate.notAfter)) {
    return [{ ruleId: 'expired', severity: 'error', message: `the certificate expired on ${formatTime(certificate.notAfter)}`, hint: 'renew it with the CA and export the new one' }];
  }
  return [];
}

function checkKey(certificate: CertificateDescription, options: CheckOptions): Finding[] {
  const { key } = certificate;
  switch (key.algorithm) {
    case 'RSA':
      return (key.bits ?? 0) < 2048
        ? [{ ruleId: 'rsa-key-too-small', severity: 'error', message: `the RSA key has ${key.bits ?? 'an unknown number of'} bits; Exchange and clients need at least 2048`, hint: 'request a new certificate with a 2048-bit (or larger) RSA key' }]
        : [];
    case 'ECC':
      return [checkEcc(key.curve ?? 'ECC', options)];
    default:
      return [{ ruleId: 'unsupported-key-type', severity: 'error', message: `the key is ${key.algorithm === 'other' ? 'of a type' : key.algorithm}, which Exchange cannot use`, hint: 'request a certificate with an RSA key of 2048 bits or more' }];
  }
}

/** Which builds accept ECC for which services (pitfall P4: the April 2024 HU and 2019 CU15). */
function checkEcc(curve: string, options: CheckOptions): Finding {
  const services = options.services ?? DEFAULT_SERVICES;
  const popImap = services.filter((service) => service === 'POP' || service === 'IMAP' || service === 'UM' || service === 'UMCallRouter');
  const never = 'never use it as the Auth certificate or for federation (hybrid)';
  const general = `an ECC (${curve}) key: Exchange 2019 CU14 HU2 and Exchange 2016 CU23 HU13 (the April 2024 hotfix updates) and later accept it for IIS and SMTP; POP, IMAP and Edge Transport only from Exchange 2019 CU15 and Exchange SE; ${never}`;
  const hint = 'check the Exchange build, or request an RSA 2048 certificate, which every build accepts';
  switch (options.exchange) {
    case undefined:
      return { ruleId: 'ecc-key', severity: 'warning', message: general, hint: 'pass --exchange 2016|2019|SE to check for the target server; an RSA 2048 certificate works on every build' };
    case 'SE':
      return { ruleId: 'ecc-key', severity: 'note', message: `an ECC (${curve}) key: Exchange SE accepts it for IIS, SMTP, POP and IMAP; ${never}` };
    case '2016':
      return popImap.length > 0
        ? { ruleId: 'ecc-key', severity: 'error', message: `an ECC (${curve}) key: Exchange 2016 does not accept it for ${popImap.join(', ')} (only IIS and SMTP, from CU23 HU13)`, hint: 'request an RSA 2048 certificate, or enable the ECC one for IIS and SMTP only (--services IIS,SMTP)' }
        : { ruleId: 'ecc-key', severity: 'warning', message: `an ECC (${curve}) key: Exchange 2016 accepts it for IIS and SMTP only from CU23 HU13 (April 2024); ${never}`, hint };
    case '2019':
      return {
        ruleId: 'ecc-key',
        severity: 'warning',
        message: `an ECC (${curve}) key: Exchange 2019 accepts it for IIS and SMTP from CU14 HU2 (April 2024)${popImap.length > 0 ? `, for ${popImap.join(', ')} only from CU15` : ''}; ${never}`,
        hint,
      };
  }
}

function checkSignatures(pfx: PfxDescription): Finding[] {
  // A self-signed root's own signature is never checked by clients.
  const signed = [pfx.certificate, ...pfx.chain.filter((issuer) => !issuer.selfSigned)];
  return signed
    .filter((certificate) => certificate.signature.hash === 'SHA-1' || certificate.signature.hash === 'MD5' || certificate.signature.hash === 'MD2')
    .map((certificate) => ({
      ruleId: 'weak-signature-hash',
      severity: 'error',
      message: `${certificate === pfx.certificate ? 'the certificate' : `the intermediate ${certificate.subject}`} is signed with ${certificate.signature.algorithm} (${certificate.signature.hash ?? ''}); clients reject ${certificate.signature.hash ?? ''} signatures`,
      hint: 'have the CA issue it again with SHA-256',
    }));
}

function checkChain(pfx: PfxDescription): Finding[] {
  if (pfx.certificate.selfSigned || pfx.chain.length > 0) return [];
  return [
    {
      ruleId: 'intermediates-missing',
      severity: 'warning',
      message: `the file does not include the issuer of the certificate (${pfx.certificate.issuer}): clients that lack the intermediate CA will not trust the server`,
      hint: 'export the PFX with its chain (`openssl pkcs12 -export ... -certfile INTERMEDIATES.pem`, or Export-PfxCertificate -ChainOption BuildChain), or install the intermediate on the server',
    },
  ];
}

function checkProtection(pfx: PfxDescription, windows: WindowsVersion | undefined): Finding[] {
  const { protection } = pfx;
  if (![...protection.certificates, ...protection.keys].some((encryption) => encryption.scheme === 'pbes2')) return [];
  const what = 'the file is protected with PBES2/AES (OpenSSL 3 default)';
  const hint = `export it again with legacy protection: ${LEGACY_EXPORT}`;
  if (windows === '2016') {
    return [{ ruleId: 'pbes2-protection', severity: 'error', message: `${what}: Windows Server 2016 cannot read it (the import fails with "The specified network password is not correct")`, hint }];
  }
  if (windows !== undefined) return [{ ruleId: 'pbes2-protection', severity: 'note', message: `${what}: Windows Server ${windows} reads it` }];
  return [{ ruleId: 'pbes2-protection', severity: 'warning', message: `${what}: Windows Server 2016 and older cannot read it`, hint: `pass --windows VERSION for the target server; for 2016, ${hint}` }];
}

function checkWildcard(certificate: CertificateDescription, fqdns: readonly string[]): Finding[] {
  const wildcards = dnsNamesOf(certificate).filter((name) => name.startsWith('*'));
  if (wildcards.length === 0) return [];
  const covered = fqdns.find((fqdn) => coversName(certificate, fqdn));
  return [
    {
      ruleId: 'wildcard-certificate',
      severity: 'note',
      message: `a wildcard certificate (${wildcards.join(', ')}): POP and IMAP need an X509CertificateName that it covers`,
      hint: `Set-PopSettings and Set-ImapSettings -X509CertificateName ${covered ?? 'mail.example.com'} (renew does this with --fqdn), then restart the POP3 and IMAP4 services`,
    },
  ];
}
