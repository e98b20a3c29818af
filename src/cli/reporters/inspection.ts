import type { ChalkInstance } from 'chalk';
import { daysLeft, formatProtection, protectionKind, type AlternativeName, type CertificateDescription, type Finding, type Inspection } from '../../certificate/index.js';
import { escapeUntrusted } from '../../text/untrusted.js';

/** What the report says besides the inspection itself. */
export interface ReportContext {
  /** The file as the user named it. */
  readonly file: string;
  readonly now: Date;
  readonly strict: boolean;
  readonly fit: boolean;
}

/** The inspection as data: what `--json` prints. */
export function inspectionData(inspection: Inspection, context: ReportContext): Record<string, unknown> {
  const { pfx, findings } = inspection;
  return {
    file: context.file,
    fit: context.fit,
    strict: context.strict,
    checkedAt: context.now.toISOString(),
    certificate: pfx.certificate,
    daysLeft: daysLeft(pfx.certificate, context.now),
    privateKey: pfx.privateKey,
    privateKeyCount: pfx.privateKeyCount,
    chainIncluded: pfx.chain.length > 0,
    chain: pfx.chain,
    others: pfx.others,
    protection: { kind: protectionKind(pfx.protection), ...pfx.protection },
    findings,
  };
}

/** The report for people: one field a line, then the findings, every certificate text escaped. */
export function formatInspection(inspection: Inspection, context: ReportContext, color: ChalkInstance): string {
  const { pfx, findings } = inspection;
  const { certificate } = pfx;
  const rows: Array<[string, string]> = [
    ['file', escapeUntrusted(context.file)],
    ['subject', escapeUntrusted(certificate.subject)],
    ['names', certificate.alternativeNames.length > 0 ? certificate.alternativeNames.map(formatName).join(', ') : color.dim('none (clients fall back to the CN)')],
    ['issuer', escapeUntrusted(certificate.issuer)],
    ['chain', formatChain(pfx.certificate, pfx.chain)],
    ...(pfx.others.length > 0 ? [['other certificates', pfx.others.map((other) => escapeUntrusted(other.subject)).join('; ')] as [string, string]] : []),
    ['valid', formatValidity(certificate, context.now)],
    ['key', formatKey(certificate)],
    ['private key', pfx.privateKey ? 'present' : color.red(pfx.privateKeyCount > 0 ? 'missing (the key in the file is for another certificate)' : 'missing')],
    ['signature', `${certificate.signature.algorithm}${certificate.signature.hash ? ` (${certificate.signature.hash})` : ''}`],
    ['thumbprint', certificate.thumbprint],
    ['protection', `${protectionKind(pfx.protection)}: ${formatProtection(pfx.protection)}`],
  ];
  const width = Math.max(...rows.map(([label]) => label.length)) + 2;
  const lines = rows.map(([label, value]) => `${color.bold(label.padEnd(width))}${value}`);
  if (findings.length > 0) lines.push('', ...findings.map((finding) => formatFinding(finding, color)));
  return lines.join('\n');
}

/** One line for stderr: the verdict and the counts. */
export function summarizeInspection(findings: readonly Finding[], context: ReportContext): string {
  const count = (severity: Finding['severity'], word: string): string | undefined => {
    const n = findings.filter((finding) => finding.severity === severity).length;
    return n > 0 ? `${n} ${word}${n === 1 ? '' : 's'}` : undefined;
  };
  const counts = [count('error', 'error'), count('warning', 'warning'), count('note', 'note')].filter((text) => text !== undefined);
  const verdict = context.fit ? 'fit' : context.strict && !findings.some((finding) => finding.severity === 'error') ? 'not fit (--strict fails on warnings)' : 'not fit';
  return `exch-cert inspect: ${escapeUntrusted(context.file)}: ${verdict}${counts.length > 0 ? ` (${counts.join(', ')})` : ''}`;
}

function formatFinding(finding: Finding, color: ChalkInstance): string {
  const label = finding.severity === 'error' ? color.red.bold('error') : finding.severity === 'warning' ? color.yellow.bold('warning') : color.cyan.bold('note');
  const head = `${label}: ${escapeUntrusted(finding.message)} ${color.gray(`[${finding.ruleId}]`)}`;
  return finding.hint ? `${head}\n  ${color.cyan('hint:')} ${escapeUntrusted(finding.hint)}` : head;
}

function formatName(name: AlternativeName): string {
  const prefix = { dns: '', ip: 'IP:', email: 'email:', uri: 'URI:', upn: 'UPN:', directory: 'DirName:', other: 'other:' }[name.type];
  return `${prefix}${escapeUntrusted(name.value)}`;
}

function formatChain(certificate: CertificateDescription, chain: readonly CertificateDescription[]): string {
  if (certificate.selfSigned) return 'none (self-signed)';
  if (chain.length === 0) return 'not included (the file holds no issuer of the certificate)';
  const links = chain.map((issuer) => `${escapeUntrusted(issuer.subject)}${issuer.selfSigned ? ' (root)' : ''}`);
  return `included: ${links.join(' <- ')}`;
}

function formatValidity(certificate: CertificateDescription, now: Date): string {
  const range = `${formatDate(certificate.notBefore)} to ${formatDate(certificate.notAfter)}`;
  if (now.getTime() < Date.parse(certificate.notBefore)) return `${range} (not valid yet)`;
  const days = daysLeft(certificate, now);
  if (now.getTime() > Date.parse(certificate.notAfter)) return `${range} (expired ${-days - 1 === 0 ? 'today' : `${-days - 1} day${-days - 1 === 1 ? '' : 's'} ago`})`;
  return `${range} (${days} day${days === 1 ? '' : 's'} left)`;
}

function formatDate(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

function formatKey(certificate: CertificateDescription): string {
  const { key } = certificate;
  if (key.algorithm === 'ECC') return `ECC ${key.curve ?? ''}${key.bits ? ` (${key.bits} bits)` : ''}`;
  return `${key.algorithm}${key.bits ? ` ${key.bits} bits` : ''}`;
}
