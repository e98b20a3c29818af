import { createHash } from 'node:crypto';
import { planFingerprint, type ResumeState } from '../engine/journal.js';
import { InputError } from '../errors.js';
import type { ServerOutcome } from './events.js';
import type { FleetResumeState } from './journal.js';
import type { FleetServer } from './run-fleet.js';

/**
 * What `--resume` does with one server:
 * - `done`: renewed by an earlier run; skipped (and checked again at the end);
 * - `resume`: its earlier renewal stopped part-way; the steps it finished are skipped;
 * - `fresh`: it never started, or its earlier run rolled back (the steps see what is already done).
 */
export type ServerResume =
  | { readonly kind: 'done'; readonly earlierRunId?: string; readonly outcome?: ServerOutcome }
  | { readonly kind: 'resume'; readonly state: ResumeState; readonly earlierRunId: string; readonly outcome?: ServerOutcome }
  | { readonly kind: 'fresh'; readonly earlierRunId?: string; readonly outcome?: ServerOutcome };

/** What identifies a fleet run: its servers in order, and the plan of each. */
export function fleetFingerprint(servers: readonly FleetServer[], drain: boolean): string {
  const content = { drain, servers: servers.map((server) => [server.name.toLowerCase(), planFingerprint(server.plan)]) };
  return createHash('sha256').update(JSON.stringify(content)).digest('hex');
}

const DONE: ReadonlySet<ServerOutcome> = new Set(['renewed', 'done-before', 'not-verified']);

/**
 * Decides, server by server, how a fleet run continues an earlier one. The servers and plans must
 * be those of the earlier run (unless `force`), as must each unfinished server's plan.
 */
export function resolveResume(
  earlier: FleetResumeState,
  servers: readonly FleetServer[],
  fingerprint: string,
  readServerJournal: (runId: string) => ResumeState | undefined,
  force: boolean,
): Map<string, ServerResume> {
  if (earlier.fingerprint !== fingerprint && !force) {
    throw new InputError(
      `the servers, the runbook, its params or the connection changed since run ${earlier.runId} (${earlier.servers.join(', ')}); resuming could run steps that no longer match what already ran`,
      'give the same --server list and flags, or pass --force to resume anyway',
    );
  }
  const decisions = new Map<string, ServerResume>();
  for (const server of servers) {
    const run = earlier.runs.get(server.name.toLowerCase());
    const carried = run ? { earlierRunId: run.runId, ...(run.outcome ? { outcome: run.outcome } : {}) } : {};
    if (run?.outcome !== undefined && DONE.has(run.outcome)) {
      decisions.set(server.name.toLowerCase(), { kind: 'done', ...carried });
      continue;
    }
    const state = run ? readServerJournal(run.runId) : undefined;
    if (!run || !state || state.rolledBack) {
      decisions.set(server.name.toLowerCase(), { kind: 'fresh', ...carried });
      continue;
    }
    if (state.fingerprint !== planFingerprint(server.plan) && !force) {
      throw new InputError(`the plan of ${server.name} changed since its run ${run.runId}`, 'resume with the same runbook and params, or pass --force');
    }
    decisions.set(server.name.toLowerCase(), { kind: 'resume', state, earlierRunId: run.runId, ...(run.outcome ? { outcome: run.outcome } : {}) });
  }
  return decisions;
}
