import { UserError } from '../../errors.js';
import { connectTls, type Connect } from '../../tls/connect.js';
import { parseTarget } from '../../tls/endpoint.js';
import { formatPluginFailure, formatPluginOutput, judgeExpiry, MONITORING_EXIT_CODES, overallState, type FixedThresholds, type Judgment } from '../../tls/expiry.js';
import { toSafeJson } from '../../tls/format.js';
import type { StoreCertificate } from '../../tls/store.js';
import { quoteUntrusted } from '../../text/untrusted.js';
import { verifyEndpoints } from '../../tls/verify.js';
import type { StoreRequest } from '../server-store.js';
import { detectTerminal, type CliIo, type Terminal } from '../terminal.js';

interface StatusOptions extends Partial<StoreRequest> {
  readonly warning?: string;
  readonly critical?: string;
  readonly timeout: string;
  readonly json?: boolean;
}

/** Reads the certificates a server uses (readServerStore; a parameter so that tests can fail it). */
export type ReadStore = (request: StoreRequest, io: CliIo, terminal: Terminal) => Promise<StoreCertificate[]>;

interface StoreResult {
  readonly judgments: readonly Judgment[];
  readonly json: Record<string, unknown>;
}

/** A bad argument: the plugin answers UNKNOWN, never with a usage exit code that would read as CRITICAL. */
class PluginInputError extends Error {}

/**
 * `exch-cert status TARGET...`: a Nagios/Icinga plugin. One status line and
 * performance data (or JSON), exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
 * Whatever goes wrong, including a bug, ends as UNKNOWN without a stack trace.
 */
export async function statusCommand(targets: readonly string[], options: StatusOptions, io: CliIo, connect: Connect = connectTls, readStore?: ReadStore): Promise<number> {
  try {
    if (targets.length === 0 && options.server === undefined) throw new PluginInputError('give at least one TARGET (HOST[:PORT[/PROTO]]) or --server NAME');
    // What --server needs loads only with it: a plain endpoint check starts no slower than it must.
    if (options.server !== undefined && !(await import('../../actions/fields.js')).SERVER_NAME_PATTERN.test(options.server)) {
      throw new PluginInputError(`--server ${quoteUntrusted(options.server)} is not a server name such as EXCH01 or exch01.contoso.com`);
    }
    const endpoints = targets.map((target) => {
      try {
        return parseTarget(target);
      } catch (error) {
        throw new PluginInputError(`TARGET ${messageOf(error)}`);
      }
    });
    const fixed: FixedThresholds = { ...days(options.warning, '--warning', 'warningDays'), ...days(options.critical, '--critical', 'criticalDays') };
    if (fixed.warningDays !== undefined && fixed.criticalDays !== undefined && fixed.warningDays < fixed.criticalDays) {
      throw new PluginInputError(`--warning (${fixed.warningDays}) must not be below --critical (${fixed.criticalDays})`);
    }
    const timeoutMs = seconds(options.timeout);
    const now = new Date();
    const [results, store] = await Promise.all([
      verifyEndpoints(endpoints, undefined, { connect, clock: { now: () => now }, timeoutMs }),
      options.server === undefined ? undefined : judgeServerStore({ ...options, server: options.server }, io, now, fixed, readStore),
    ]);
    const endpointJudgments: Judgment[] = results.map((result) =>
      result.handshake
        ? judgeExpiry({ label: result.label, thumbprint: result.handshake.certificate.thumbprint, notBefore: result.handshake.certificate.notBefore, notAfter: result.handshake.certificate.notAfter }, now, fixed)
        : { label: result.label, state: 'UNKNOWN', reason: result.error ?? 'not checked' },
    );
    const judgments = [...endpointJudgments, ...(store?.judgments ?? [])];
    const state = overallState(judgments);
    if (options.json) {
      io.stdout.write(`${toSafeJson({ state, exitCode: MONITORING_EXIT_CODES[state], endpoints: endpointJudgments.map(judgmentToJson), ...(store ? { store: store.json } : {}) })}\n`);
    } else {
      io.stdout.write(formatPluginOutput(judgments));
    }
    return MONITORING_EXIT_CODES[state];
  } catch (error) {
    const reason = error instanceof PluginInputError ? error.message : `internal error: ${messageOf(error)}`;
    io.stdout.write(formatPluginFailure(reason));
    return MONITORING_EXIT_CODES.UNKNOWN;
  }
}

/**
 * The server's certificates judged like endpoints; a store that cannot be read is one UNKNOWN
 * judgment, whatever the endpoints say.
 */
async function judgeServerStore(request: StoreRequest, io: CliIo, now: Date, fixed: FixedThresholds, readStore: ReadStore | undefined): Promise<StoreResult> {
  try {
    const read = readStore ?? (await import('../server-store.js')).readServerStore;
    const { judgeStore } = await import('../../tls/store.js');
    const judged = judgeStore(request.server, await read(request, io, detectTerminal(io)), now, fixed);
    return {
      judgments: judged.map(({ judgment }) => judgment),
      json: {
        server: request.server,
        certificates: judged.map(({ judgment, certificate }) => ({ ...judgmentToJson(judgment), thumbprint: certificate.thumbprint, subject: certificate.subject, services: certificate.services, uses: certificate.uses, inStore: certificate.inStore })),
      },
    };
  } catch (error) {
    const reason = error instanceof UserError ? `${error.message}${error.hint ? ` (${error.hint})` : ''}` : `internal error: ${messageOf(error)}`;
    return { judgments: [{ label: `${request.server} certificate store`, state: 'UNKNOWN', kind: 'unjudged', reason: `cannot be read: ${reason}` }], json: { server: request.server, error: reason, certificates: [] } };
  }
}

function judgmentToJson(judgment: Judgment): Record<string, unknown> {
  return judgment.state === 'UNKNOWN' ? { ...judgment } : { ...judgment, notBefore: judgment.notBefore.toISOString(), notAfter: judgment.notAfter.toISOString() };
}

function days<K extends keyof FixedThresholds>(text: string | undefined, flag: string, key: K): Partial<Record<K, number>> {
  if (text === undefined) return {};
  const value = /^\d+(\.\d+)?$/.test(text) ? Number(text) : NaN;
  if (!Number.isFinite(value)) throw new PluginInputError(`${flag}: ${quoteUntrusted(text)} is not a number of days`);
  return { [key]: value } as Partial<Record<K, number>>;
}

function seconds(text: string): number {
  const value = /^\d+(\.\d+)?$/.test(text) ? Number(text) : NaN;
  if (!(value > 0 && value <= 600)) throw new PluginInputError(`--timeout: ${quoteUntrusted(text)} is not a number of seconds from 0 to 600`);
  return value * 1000;
}

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));
