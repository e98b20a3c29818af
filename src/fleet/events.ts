import type { InterruptCause, RunEvent } from '../engine/events.js';

/**
 * How one server ended in a fleet run:
 * - `renewed`: its renewal ran to the end (and, for the canary, clients get the new certificate);
 * - `done-before`: renewed by the run being resumed;
 * - `failed`: a step failed and the rollback restored the server (exit 1);
 * - `left-changed`: a step failed and the server is left changed (exit 4);
 * - `unreachable`: PowerShell or the connection failed (exit 3);
 * - `interrupted`, `declined`: Ctrl-C or a stop signal, a confirmation answered no;
 * - `not-verified`: renewed, but clients do not get the new certificate (or it cannot be checked);
 * - `refused`: its preflight refused, so nothing anywhere was changed;
 * - `not-started`: another server's failure (or a stop) came first.
 */
export type ServerOutcome = 'renewed' | 'done-before' | 'failed' | 'left-changed' | 'unreachable' | 'interrupted' | 'declined' | 'not-verified' | 'refused' | 'not-started';

/** One server's line of the fleet summary. */
export interface ServerSummary {
  readonly server: string;
  readonly outcome: ServerOutcome;
  readonly exitCode: number;
  readonly message: string;
  /** Its renewal run (journal `<runId>.jsonl`), once one started. */
  readonly runId?: string;
  /** The run took it out of service and did not bring it back. */
  readonly inMaintenance: boolean;
}

/** What a TLS check of one server found. */
export interface VerifyResult {
  /** Every endpoint serves the new certificate (or the check was skipped). */
  readonly ok: boolean;
  /** The check could not run here (the simulated organisation serves no TLS). */
  readonly skipped: boolean;
  /** One line for people. */
  readonly summary: string;
}

/** What happens in a fleet run: the fleet journal and `--json` get these. Strings from PowerShell are masked. */
export type FleetEvent =
  | {
      readonly type: 'fleet-started';
      readonly runId: string;
      readonly servers: readonly string[];
      readonly maxParallel: number;
      readonly drain: boolean;
      readonly fingerprint: string;
      readonly toolVersion: string;
      readonly host: string;
      readonly pid: number;
      readonly resumedFrom?: string;
      /** On --resume: each server's renewal in the runs before, so a later --resume still finds them. */
      readonly previous?: ReadonlyArray<{ readonly server: string; readonly runId: string; readonly outcome?: ServerOutcome }>;
    }
  /** An event of one server's run: its preflight (kept in the fleet journal) or its renewal (in its own journal). */
  | { readonly type: 'server-event'; readonly server: string; readonly runId: string; readonly phase: 'preflight' | 'renewal'; readonly event: RunEvent }
  /** Ctrl-C or a stop signal: every server finishes its step and no other starts; a second one aborts the steps. */
  | { readonly type: 'interrupt'; readonly stage: 'stop-after-step' | 'abort-step'; readonly cause: InterruptCause }
  | { readonly type: 'preflight-finished'; readonly server: string; readonly ok: boolean; readonly exitCode: number; readonly message: string }
  | { readonly type: 'server-started'; readonly server: string; readonly runId: string; readonly wave: 'canary' | 'rest'; readonly resumedFrom?: string }
  | ({ readonly type: 'server-finished' } & ServerSummary)
  | { readonly type: 'server-verified'; readonly server: string; readonly stage: 'canary' | 'final' } & VerifyResult
  | {
      readonly type: 'fleet-finished';
      readonly outcome: 'ok' | 'failed' | 'refused' | 'declined' | 'interrupted';
      readonly exitCode: number;
      readonly durationMs: number;
      readonly message: string;
      readonly servers: readonly ServerSummary[];
    };

export interface FleetSink {
  emit(event: FleetEvent): void;
}
