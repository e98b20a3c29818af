import { Chalk } from 'chalk';
import type { LocalStepOutcome } from '../engine/local-step.js';
import { UnreachableError, type Connect } from './connect.js';
import { endpointLabel, PROTOCOLS, type Endpoint, type Protocol } from './endpoint.js';
import { formatResultsText } from './format.js';
import { judgeHandshake, type Clock, type EndpointResult } from './verify.js';

/** How the renewal's TLS steps reach endpoints: directly, or through the rehearsal's loopback listeners. */
export interface TlsStepEnvironment {
  readonly connect: Connect;
  readonly clock: Clock;
  /** Where to connect for a real endpoint (the rehearsal maps it to a loopback port); undefined: nothing listens there. */
  readonly reach?: (endpoint: Endpoint) => Endpoint | undefined;
}

/** One endpoint of the steps' input (`host|port|protocol|primary`), with the name clients send. */
interface StepEndpoint {
  readonly real: Endpoint;
  readonly label: string;
  /** Default Web Site through the name clients use: must serve the new certificate, whatever it served before. */
  readonly primary: boolean;
}

// The log goes to the journal and --verbose: plain text, escaped by whoever prints it.
const PLAIN = new Chalk({ level: 0 });

/**
 * The step `probe-tls`: which certificate each endpoint serves before the change, as
 * `host:port=THUMBPRINT` (empty when it cannot be reached). Fails, so the renewal stops before its
 * first change, when the primary endpoint cannot be reached: the check after the change could not
 * pass either.
 */
export async function runProbeStep(inputs: Readonly<Record<string, unknown>>, environment: TlsStepEnvironment): Promise<LocalStepOutcome> {
  const endpoints = endpointsOf(inputs);
  const timeoutMs = timeoutOf(inputs);
  const served = await Promise.all(endpoints.map(async (endpoint) => ({ endpoint, outcome: await handshake(endpoint, environment, timeoutMs) })));
  const record = served.map(({ endpoint, outcome }) => `${endpoint.label}=${'certificate' in outcome ? outcome.certificate.thumbprint : ''}`);
  const log = served.map(({ endpoint, outcome }) => `${endpoint.label}/${endpoint.real.protocol}: ${'certificate' in outcome ? `serves ${outcome.certificate.thumbprint}` : `${outcome.answered === true ? 'answers, but completes no TLS handshake' : 'cannot be reached'} (${outcome.error})`}`).join('\n');
  // A primary endpoint that answers but completes no handshake (a binding whose certificate is gone:
  // the emergency the renewal repairs) is recorded as serving nothing; only one this machine cannot
  // reach at all stops the renewal.
  const primary = served.find(({ endpoint, outcome }) => endpoint.primary && !('certificate' in outcome) && outcome.answered !== true);
  if (primary) {
    return {
      status: 'failed',
      outputs: {},
      error: `${primary.endpoint.label} cannot be reached from here (${'error' in primary.outcome ? primary.outcome.error : ''}), so the renewal could not prove that clients get the new certificate; nothing was changed. Run exch-cert where clients connect from, or turn the check off (--var verifyTls=false)`,
      log,
    };
  }
  return { status: 'ok', outputs: { served: record }, log };
}

/**
 * The step `verify-tls`: the primary endpoint must serve the new certificate, valid for the name
 * clients use, as `exch-cert verify-tls` judges it. With `before` (probe-tls's record), every other
 * endpoint that served the old certificate (or already the new one) must serve the new one, one
 * that served a third certificate must serve it or the new one, one that could not be reached is
 * skipped; without `before`, every endpoint must serve the new certificate.
 */
export async function runVerifyStep(inputs: Readonly<Record<string, unknown>>, environment: TlsStepEnvironment): Promise<LocalStepOutcome> {
  const thumbprint = textOf(inputs['thumbprint']).toUpperCase();
  const oldThumbprint = textOf(inputs['oldThumbprint']).toUpperCase();
  if (!/^[0-9A-F]{40}$/.test(thumbprint)) return { status: 'failed', outputs: {}, error: `there is no certificate to check for: the thumbprint is ${thumbprint === '' ? 'empty' : 'not a SHA-1 thumbprint'}` };
  const before = inputs['before'] === undefined ? undefined : parseRecord(inputs['before']);
  const timeoutMs = timeoutOf(inputs);
  const now = environment.clock.now();
  const checks = endpointsOf(inputs).map((endpoint) => ({ endpoint, earlier: before?.get(endpoint.label) }));
  const skipped = checks.filter((check) => before !== undefined && !check.endpoint.primary && !check.earlier);
  const judged = await Promise.all(
    checks
      .filter((check) => !skipped.includes(check))
      .map(async ({ endpoint, earlier }): Promise<EndpointResult> => {
        const outcome = await handshake(endpoint, environment, timeoutMs);
        if (!('certificate' in outcome)) return { endpoint: endpoint.real, label: endpoint.label, servername: endpoint.real.servername ?? '', verdict: 'unreachable', problems: [`cannot be checked: ${outcome.error}`], error: outcome.error };
        const result = { ...judgeHandshake(endpoint.real, outcome, { thumbprint }, now), label: endpoint.label };
        // A port that served a third certificate (SMTP by connector FQDN) and still serves it is as it was.
        const unchanged = earlier !== undefined && !endpoint.primary && earlier !== oldThumbprint && earlier !== thumbprint && outcome.certificate.thumbprint === earlier;
        return unchanged ? { ...result, verdict: 'ok', problems: [] } : result;
      }),
  );
  const problems = judged.filter((result) => result.verdict !== 'ok').map((result) => `${result.label}: ${result.problems.join('; ')}`);
  const log = [formatResultsText(judged, now, PLAIN).trimEnd(), ...skipped.map((check) => `${check.endpoint.label}: skipped (it could not be reached before the change either)`)].join('\n');
  if (problems.length > 0) {
    const unreachable = judged.some((result) => result.verdict === 'unreachable');
    return {
      status: 'failed',
      outputs: {},
      error: `${problems.length} of ${judged.length} endpoint(s) do not serve certificate ${thumbprint} as clients need it: ${problems.join(' | ')}${unreachable ? '. If this machine cannot reach the server on these ports, run exch-cert where clients connect from, or turn the check off (--var verifyTls=false)' : ''}`,
      log,
    };
  }
  return { status: 'ok', outputs: { checked: judged.map((result) => `${result.label}=${result.handshake?.certificate.thumbprint ?? ''}`) }, log };
}

/** One handshake with an endpoint, reached as the environment says; an unreachable endpoint is a value, not an error. */
async function handshake(endpoint: StepEndpoint, environment: TlsStepEnvironment, timeoutMs: number): Promise<Awaited<ReturnType<Connect>> | { error: string; answered?: boolean }> {
  const reached = environment.reach ? environment.reach(endpoint.real) : endpoint.real;
  if (!reached) return { error: 'nothing listens there' };
  try {
    return await environment.connect(reached, { servername: endpoint.real.servername ?? endpoint.real.host, timeoutMs });
  } catch (error) {
    if (error instanceof UnreachableError) return { error: error.message, answered: error.answered };
    throw error;
  }
}

function endpointsOf(inputs: Readonly<Record<string, unknown>>): StepEndpoint[] {
  const servername = textOf(inputs['servername']);
  return stringsOf(inputs['endpoints']).map((entry) => {
    const [host = '', port = '', protocol = 'tls', primary = ''] = entry.split('|');
    const known: Protocol = (PROTOCOLS as readonly string[]).includes(protocol) ? (protocol as Protocol) : 'tls';
    const real: Endpoint = { host, port: Number(port), protocol: known, servername };
    return { real, label: endpointLabel(real), primary: primary !== '' };
  });
}

/** `host:port=THUMBPRINT` entries as a map; an empty thumbprint (unreachable) is left out. */
function parseRecord(value: unknown): Map<string, string> {
  const record = new Map<string, string>();
  for (const entry of stringsOf(value)) {
    const at = entry.lastIndexOf('=');
    if (at > 0 && at < entry.length - 1) record.set(entry.slice(0, at), entry.slice(at + 1).toUpperCase());
  }
  return record;
}

function timeoutOf(inputs: Readonly<Record<string, unknown>>): number {
  return Number(inputs['timeoutSeconds'] ?? 10) * 1000;
}

function stringsOf(value: unknown): string[] {
  if (value === undefined || value === null || value === '') return [];
  return (Array.isArray(value) ? (value as unknown[]) : [value]).map(textOf);
}

/** A scalar input as text (a run-time value from PowerShell may be a string, number or boolean). */
function textOf(value: unknown): string {
  return typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : '';
}
