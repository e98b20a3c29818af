import { connectTls, type Connect } from '../../tls/connect.js';
import { parseTarget } from '../../tls/endpoint.js';
import { formatPluginFailure, formatPluginOutput, judgeExpiry, MONITORING_EXIT_CODES, overallState, type FixedThresholds, type Judgment } from '../../tls/expiry.js';
import { toSafeJson } from '../../tls/format.js';
import { quoteUntrusted } from '../../text/untrusted.js';
import { verifyEndpoints } from '../../tls/verify.js';
import type { CliIo } from '../terminal.js';

interface StatusOptions {
  readonly warning?: string;
  readonly critical?: string;
  readonly timeout: string;
  readonly json?: boolean;
}

/** A bad argument: the plugin answers UNKNOWN, never with a usage exit code that would read as CRITICAL. */
class PluginInputError extends Error {}

/**
 * `exch-cert status TARGET...`: a Nagios/Icinga plugin. One status line and
 * performance data (or JSON), exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
 * Whatever goes wrong, including a bug, ends as UNKNOWN without a stack trace.
 */
export async function statusCommand(targets: readonly string[], options: StatusOptions, io: CliIo, connect: Connect = connectTls): Promise<number> {
  try {
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
    const results = await verifyEndpoints(endpoints, undefined, { connect, clock: { now: () => now }, timeoutMs });
    const judgments: Judgment[] = results.map((result) =>
      result.handshake
        ? judgeExpiry({ label: result.label, thumbprint: result.handshake.certificate.thumbprint, notBefore: result.handshake.certificate.notBefore, notAfter: result.handshake.certificate.notAfter }, now, fixed)
        : { label: result.label, state: 'UNKNOWN', reason: result.error ?? 'not checked' },
    );
    const state = overallState(judgments);
    if (options.json) {
      const endpointsJson = judgments.map((judgment) =>
        judgment.state === 'UNKNOWN' ? judgment : { ...judgment, notBefore: judgment.notBefore.toISOString(), notAfter: judgment.notAfter.toISOString() },
      );
      io.stdout.write(`${toSafeJson({ state, exitCode: MONITORING_EXIT_CODES[state], endpoints: endpointsJson })}\n`);
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
