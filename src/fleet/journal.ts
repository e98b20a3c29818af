import { closeSync, fsyncSync, lstatSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { JOURNAL_VERSION } from '../engine/journal.js';
import { InputError } from '../errors.js';
import type { FleetEvent, FleetSink, ServerOutcome } from './events.js';

/**
 * The fleet run's own journal, `<dir>/<runId>.jsonl`, beside the journal of each server's renewal
 * (`<runId>-<server>.jsonl`): which servers, the preflight of each (their events too, since a
 * preflight has no journal of its own), and how each server ended. Flushed to disk line by line; a
 * write that fails (a full disk) is kept in `problem`, and the fleet starts no further server.
 */
export class FleetJournal implements FleetSink {
  private fd: number | undefined;
  private failure: string | undefined;

  constructor(
    readonly path: string,
    private readonly runId: string,
  ) {}

  static create(dir: string, runId: string): FleetJournal {
    return new FleetJournal(join(dir, `${runId}.jsonl`), runId);
  }

  get problem(): string | undefined {
    return this.failure;
  }

  emit(event: FleetEvent): void {
    // A renewal's events are in that server's own journal.
    if (this.failure !== undefined || (event.type === 'server-event' && event.phase === 'renewal')) return;
    try {
      // 'wx': never another run's file; 0600: it names servers and certificates.
      this.fd ??= openSync(this.path, 'wx', 0o600);
      writeSync(this.fd, JSON.stringify({ v: JOURNAL_VERSION, ts: new Date().toISOString(), fleetRunId: this.runId, ...event }) + '\n');
      fsyncSync(this.fd);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      this.failure = `${this.path}: ${code === 'ENOSPC' ? 'no space left on the disk' : error instanceof Error ? error.message : String(error)}`;
    }
  }

  close(): void {
    if (this.fd === undefined) return;
    try {
      closeSync(this.fd);
    } catch {
      // Nothing more can be written anyway.
    }
    this.fd = undefined;
  }
}

/** A server's renewal in an earlier fleet run: its run id and how it ended (no outcome: it did not finish). */
export interface EarlierServerRun {
  readonly runId: string;
  readonly outcome?: ServerOutcome;
}

/** What a fleet journal says, for --resume. */
export interface FleetResumeState {
  readonly runId: string;
  readonly fingerprint: string;
  readonly servers: readonly string[];
  readonly host: string | undefined;
  readonly pid: number | undefined;
  /** By server name in lower case; servers that never started are absent. */
  readonly runs: ReadonlyMap<string, EarlierServerRun>;
}

/** Whether `<dir>/<runId>.jsonl` is the journal of a fleet run (its first line says so). */
export function isFleetJournal(dir: string, runId: string): boolean {
  if (!/^[A-Za-z0-9-]+$/.test(runId)) return false;
  try {
    const first = readFileSync(join(dir, `${runId}.jsonl`), 'utf8').split('\n', 1)[0] ?? '';
    return (JSON.parse(first) as { type?: unknown }).type === 'fleet-started';
  } catch {
    return false;
  }
}

/** Reads a fleet journal; a missing, foreign or damaged one is an input error. */
export function readFleetJournal(dir: string, runId: string): FleetResumeState {
  if (!/^[A-Za-z0-9-]+$/.test(runId)) throw new InputError(`--resume ${JSON.stringify(runId)} is not a run id`, 'run ids look like 20261126T064800Z-ab12cd');
  const path = join(dir, `${runId}.jsonl`);
  try {
    if (!lstatSync(path).isFile()) throw new InputError(`the journal of run ${runId} (${path}) is not a regular file`);
  } catch (error) {
    if (error instanceof InputError) throw error;
    throw new InputError(`no journal for run ${runId} in ${dir}`, 'pass the run id exch-cert printed, and --journal-dir if you used one');
  }
  let started: Extract<FleetEvent, { type: 'fleet-started' }> | undefined;
  const runs = new Map<string, EarlierServerRun>();
  const lines = readFileSync(path, 'utf8').split('\n');
  lines.forEach((line, index) => {
    if (line.trim() === '') return;
    let record: FleetEvent & { fleetRunId?: unknown };
    try {
      record = JSON.parse(line) as FleetEvent & { fleetRunId?: unknown };
    } catch {
      if (lines.slice(index + 1).every((rest) => rest.trim() === '')) return;
      throw new InputError(`journal ${path} is damaged at line ${index + 1}`);
    }
    if (record.fleetRunId !== runId) throw new InputError(`journal ${path} belongs to run ${JSON.stringify(record.fleetRunId)}, not ${runId}, at line ${index + 1}`);
    switch (record.type) {
      case 'fleet-started':
        started = record;
        for (const earlier of record.previous ?? []) runs.set(earlier.server.toLowerCase(), { runId: earlier.runId, ...(earlier.outcome ? { outcome: earlier.outcome } : {}) });
        return;
      case 'server-started':
        runs.set(record.server.toLowerCase(), { runId: record.runId });
        return;
      case 'server-finished':
        if (record.runId !== undefined) runs.set(record.server.toLowerCase(), { runId: record.runId, outcome: record.outcome });
        return;
      default:
        return;
    }
  });
  if (!started) throw new InputError(`${path} is not the journal of a fleet run`, 'resume a single server with the id of its own run');
  return { runId, fingerprint: started.fingerprint, servers: started.servers, host: started.host, pid: started.pid, runs };
}
