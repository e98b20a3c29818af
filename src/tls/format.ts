import type { ChalkInstance } from 'chalk';
import type { ServedCertificate } from './connect.js';
import type { EndpointResult, EndpointVerdict } from './verify.js';
import { escapeUntrusted } from '../text/untrusted.js';

const DAY_MS = 24 * 60 * 60 * 1000;

/*
 * JSON.stringify escapes C0 controls but passes C1 controls, bidi overrides
 * and line separators through. Those can only occur inside strings, where a
 * \u escape means the same character, so the data is unchanged.
 */
const JSON_UNSAFE = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/gu;

/** JSON (two-space indented) that cannot act on a terminal, whatever its strings hold. */
export function toSafeJson(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(JSON_UNSAFE, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** One endpoint's result as data (`verify-tls --json`): the server's text as it sent it, dates in ISO 8601. */
export function resultToJson(result: EndpointResult): Record<string, unknown> {
  const { endpoint, handshake } = result;
  return {
    endpoint: result.label,
    host: endpoint.host,
    port: endpoint.port,
    protocol: endpoint.protocol,
    servername: result.servername,
    verdict: result.verdict,
    problems: result.problems,
    ...(handshake
      ? {
          certificate: certificateToJson(handshake.certificate),
          nameMatches: result.nameMatches,
          intermediatesSent: handshake.intermediatesSent,
          trusted: handshake.trustError === undefined,
          trustError: handshake.trustError ?? null,
          tlsVersion: handshake.tlsVersion,
          issuers: handshake.issuers.map((issuer) => ({ thumbprint: issuer.thumbprint, subject: issuer.subject, notAfter: issuer.notAfter.toISOString() })),
        }
      : { error: result.error }),
  };
}

function certificateToJson(certificate: ServedCertificate): Record<string, unknown> {
  return {
    thumbprint: certificate.thumbprint,
    subject: certificate.subject,
    issuer: certificate.issuer,
    names: certificate.names,
    notBefore: certificate.notBefore.toISOString(),
    notAfter: certificate.notAfter.toISOString(),
  };
}

const VERDICT_WORDS: Record<EndpointVerdict, string> = { ok: 'OK', unexpected: 'ANOTHER CERTIFICATE', invalid: 'INVALID', unreachable: 'UNREACHABLE' };

/**
 * The results for people (`verify-tls` without --json): a block per endpoint
 * with what it serves and what is wrong; server text escaped.
 */
export function formatResultsText(results: readonly EndpointResult[], now: Date, color: ChalkInstance): string {
  const blocks = results.map((result) => {
    const verdictColor = result.verdict === 'ok' ? color.green : result.verdict === 'unreachable' ? color.yellow : color.red;
    const lines = [`${color.bold(`${result.label}/${result.endpoint.protocol}`)}  ${verdictColor(VERDICT_WORDS[result.verdict])}`];
    const field = (name: string, value: string): number => lines.push(`  ${name.padEnd(11)} ${value}`);
    const { handshake } = result;
    if (handshake) {
      const { certificate } = handshake;
      const days = Math.floor((certificate.notAfter.getTime() - now.getTime()) / DAY_MS);
      field('thumbprint', certificate.thumbprint);
      field('subject', escapeUntrusted(certificate.subject));
      field('names', escapeUntrusted(certificate.names.join(', ')) || color.dim('(none)'));
      field('issuer', escapeUntrusted(certificate.issuer));
      field(days < 0 ? 'expired' : 'expires', `${timestamp(certificate.notAfter)} (${days < 0 ? `${-days} days ago` : `${days} days`})`);
      field('name', `${result.nameMatches ? 'matches' : color.red('does not match')} ${escapeUntrusted(result.servername)}`);
      field('chain', `${handshake.intermediatesSent ? 'intermediates sent' : color.red('intermediates missing')}, ${handshake.trustError ? color.red(`not trusted (${handshake.trustError})`) : 'trusted'}`);
      field('TLS', handshake.tlsVersion);
    }
    for (const problem of result.problems) field('problem', verdictColor(problem));
    return lines.join('\n');
  });
  return `${blocks.join('\n\n')}\n`;
}

/** A one-line account for stderr: how many passed, and which endpoints did not. */
export function summarizeResults(results: readonly EndpointResult[], expecting: boolean): string {
  const labels = (verdict: EndpointVerdict): string[] => results.filter((result) => result.verdict === verdict).map((result) => `${result.label}/${result.endpoint.protocol}`);
  const parts = [`${labels('ok').length} of ${results.length} endpoint(s) ${expecting ? 'serve the expected certificate' : 'serve a valid certificate'}`];
  if (labels('unexpected').length > 0) parts.push(`another certificate on ${labels('unexpected').join(', ')}`);
  if (labels('invalid').length > 0) parts.push(`an invalid certificate on ${labels('invalid').join(', ')}`);
  if (labels('unreachable').length > 0) parts.push(`could not check ${labels('unreachable').join(', ')}`);
  return parts.join('; ');
}

const timestamp = (date: Date): string => `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
