import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { UnreachableError, type Connect, type Handshake, type ServedCertificate } from './connect.js';
import { endpointLabel, type Endpoint } from './endpoint.js';
import { escapeUntrusted } from '../text/untrusted.js';

/** The certificate every endpoint should serve. A PFX reader or a store record can provide it. */
export interface ExpectedCertificate {
  /** SHA-1, upper-case hex, as Exchange shows it. */
  readonly thumbprint: string;
}

/** A source of the current time, so that expiry can be judged in tests. */
export interface Clock {
  now(): Date;
}

/**
 * - `ok`: serves the expected certificate (or, with none expected, a valid one)
 * - `unexpected`: serves another certificate than the expected one
 * - `invalid`: serves a certificate clients will refuse (expired, wrong name, untrusted or incomplete chain)
 * - `unreachable`: no handshake (refused, timed out, protocol error)
 */
export type EndpointVerdict = 'ok' | 'unexpected' | 'invalid' | 'unreachable';

/** What one endpoint serves and what is wrong with it. */
export interface EndpointResult {
  readonly endpoint: Endpoint;
  /** `host:port`. */
  readonly label: string;
  /** The name sent as SNI and checked against the certificate. */
  readonly servername: string;
  readonly verdict: EndpointVerdict;
  /** What is wrong, one sentence each, for people (server text in them escaped); empty when ok. */
  readonly problems: readonly string[];
  /** Present unless unreachable. */
  readonly handshake?: Handshake;
  /** Whether the certificate is valid for `servername` (RFC 6125, as Node checks it). */
  readonly nameMatches?: boolean;
  /** Why the endpoint could not be checked. */
  readonly error?: string;
}

export interface VerifyOptions {
  readonly connect: Connect;
  readonly clock: Clock;
  /** Per endpoint (default 10 s). */
  readonly timeoutMs?: number;
}

export const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * Handshakes with every endpoint (all at once) and judges what each serves:
 * the expected thumbprint when one is given, and always validity (dates at
 * `clock.now()`, the name, a trusted and complete chain). The one check for
 * `verify-tls`, `status` and the renewal's verification step.
 */
export async function verifyEndpoints(endpoints: readonly Endpoint[], expected: ExpectedCertificate | undefined, options: VerifyOptions): Promise<EndpointResult[]> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return Promise.all(
    endpoints.map(async (endpoint): Promise<EndpointResult> => {
      const servername = endpoint.servername ?? endpoint.host;
      try {
        const handshake = await options.connect(endpoint, { servername, timeoutMs });
        return judgeHandshake(endpoint, handshake, expected, options.clock.now());
      } catch (error) {
        if (!(error instanceof UnreachableError)) throw error;
        return { endpoint, label: endpointLabel(endpoint), servername, verdict: 'unreachable', problems: [`cannot be checked: ${error.message}`], error: error.message };
      }
    }),
  );
}

/** Judges one handshake; pure. */
export function judgeHandshake(endpoint: Endpoint, handshake: Handshake, expected: ExpectedCertificate | undefined, now: Date): EndpointResult {
  const servername = endpoint.servername ?? endpoint.host;
  const { certificate } = handshake;
  const problems: string[] = [];
  const unexpected = expected !== undefined && certificate.thumbprint !== expected.thumbprint;
  const text = escapeUntrusted;
  if (unexpected) problems.push(`serves ${certificate.thumbprint} (${text(certificate.subject)}) instead of ${expected.thumbprint}`);
  if (now.getTime() > certificate.notAfter.getTime()) problems.push(`the certificate expired on ${certificate.notAfter.toISOString()}`);
  if (now.getTime() < certificate.notBefore.getTime()) problems.push(`the certificate is not valid before ${certificate.notBefore.toISOString()}`);
  const nameError = checkName(servername, certificate);
  if (nameError) {
    const named = certificate.names.length > 0 ? certificate.names : certificate.identity.commonNames;
    problems.push(`the certificate is not valid for ${text(servername)}: it names ${named.length > 0 ? text(named.join(', ')) : 'nothing'}`);
  }
  if (!handshake.intermediatesSent) {
    problems.push(`the server does not send the intermediate certificate(s) above it (issuer ${text(certificate.issuer)}); clients that do not fetch them cannot build the chain`);
  } else if (handshake.trustError && !DATE_ERRORS.has(handshake.trustError)) {
    problems.push(`the chain is not trusted here (${text(handshake.trustError)})`);
  } else if (handshake.trustError && now.getTime() <= certificate.notAfter.getTime() && now.getTime() >= certificate.notBefore.getTime()) {
    problems.push(`a certificate in the chain is outside its validity dates (${handshake.trustError})`);
  }
  const verdict = unexpected ? 'unexpected' : problems.length > 0 ? 'invalid' : 'ok';
  return { endpoint, label: endpointLabel(endpoint), servername, verdict, problems, handshake, nameMatches: !nameError };
}

// OpenSSL's date errors: reported for the leaf by our own check (with the caller's clock), else for a CA in the chain.
const DATE_ERRORS = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);

function checkName(servername: string, certificate: ServedCertificate): Error | undefined {
  const { commonNames, subjectaltname } = certificate.identity;
  // checkServerIdentity reads only these two fields.
  const peer = { subject: commonNames.length > 0 ? { CN: commonNames.length === 1 ? commonNames[0] : commonNames } : {}, subjectaltname } as unknown as PeerCertificate;
  return checkServerIdentity(servername, peer);
}

/**
 * The exit code of a verification: 0 all ok, 1 when one serves another or an
 * invalid certificate (a finding, so it wins over 3), 3 when one could not be
 * checked.
 */
export function verificationExitCode(results: readonly EndpointResult[]): 0 | 1 | 3 {
  if (results.some((result) => result.verdict === 'unexpected' || result.verdict === 'invalid')) return 1;
  if (results.some((result) => result.verdict === 'unreachable')) return 3;
  return 0;
}
