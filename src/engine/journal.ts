import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../errors.js';
import type { Plan } from '../plan/compile.js';
import type { EventSink, RunEvent, StepStatus } from './events.js';

/** Journals are JSON lines; this version tag is on every line. */
export const JOURNAL_VERSION = 1;

/** A new run id: sortable by time, unique enough for one operator's runs. */
export function newRunId(now: Date): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}

/**
 * What identifies a plan for --resume: the runbook text and everything that
 * was compiled from it (scripts, params, connection), but not where the file
 * was opened from.
 */
export function planFingerprint(plan: Plan): string {
  const content = {
    runbook: plan.runbook.sha256,
    tool: plan.tool.version,
    connection: plan.connection,
    params: plan.params,
    prologue: plan.prologue,
    steps: plan.steps.map((step) => [step.id, step.skipped ?? null, step.script]),
    onFailure: plan.onFailure.map((step) => [step.id, step.skipped ?? null, step.script]),
    epilogue: plan.epilogue,
  };
  return createHash('sha256').update(JSON.stringify(content)).digest('hex');
}

/**
 * Appends every event of a run to `<dir>/<runId>.jsonl`, flushed to disk
 * after each line, so a crash or a killed process loses nothing that happened.
 * Events arrive masked; secrets are never in them.
 */
export class Journal implements EventSink {
  private readonly fd: number;

  constructor(
    readonly path: string,
    private readonly runId: string,
  ) {
    this.fd = openSync(path, 'a', 0o600);
  }

  static create(dir: string, runId: string): Journal {
    mkdirSync(dir, { recursive: true });
    return new Journal(join(dir, `${runId}.jsonl`), runId);
  }

  emit(event: RunEvent): void {
    const line = JSON.stringify({ v: JOURNAL_VERSION, ts: new Date().toISOString(), runId: this.runId, ...event }) + '\n';
    writeSync(this.fd, line);
    fsyncSync(this.fd);
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** What a journal says about an earlier run, for --resume. */
export interface ResumeState {
  readonly runId: string;
  readonly fingerprint: string;
  /** Main steps that finished (ok, changed, or skipped), with their outputs. */
  readonly completed: ReadonlyMap<string, { readonly status: StepStatus; readonly outputs: Readonly<Record<string, unknown>> }>;
  /** The onFailure steps ran: what the finished steps did may have been undone. */
  readonly rolledBack: boolean;
}

/** Reads a run's journal; a missing or unreadable journal is an input error. */
export function readJournal(dir: string, runId: string): ResumeState {
  if (!/^[A-Za-z0-9-]+$/.test(runId)) throw new InputError(`--resume ${JSON.stringify(runId)} is not a run id`, 'run ids look like 20261126T064800Z-ab12cd');
  const path = join(dir, `${runId}.jsonl`);
  if (!existsSync(path)) throw new InputError(`no journal for run ${runId} in ${dir}`, 'pass the run id exch-cert printed, and --journal-dir if you used one');
  let fingerprint: string | undefined;
  let rolledBack = false;
  const completed = new Map<string, { status: StepStatus; outputs: Readonly<Record<string, unknown>> }>();
  const lines = readFileSync(path, 'utf8').split('\n');
  lines.forEach((line, index) => {
    if (line.trim() === '') return;
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(line) as Record<string, unknown>;
    } catch {
      // A run killed mid-write leaves a partial last line; anything else is damage.
      if (index === lines.length - 1 || lines.slice(index + 1).every((rest) => rest.trim() === '')) return;
      throw new InputError(`journal ${path} is damaged at line ${index + 1}`);
    }
    if (record['type'] === 'run-started' && typeof record['fingerprint'] === 'string') fingerprint = record['fingerprint'];
    if (record['type'] === 'rollback-started') rolledBack = true;
    if (record['type'] === 'step-finished' && record['phase'] === 'steps' && typeof record['stepId'] === 'string') {
      const status = record['status'] as StepStatus;
      if (status === 'ok' || status === 'changed' || status === 'skipped') {
        completed.set(record['stepId'], { status, outputs: (record['outputs'] as Record<string, unknown> | undefined) ?? {} });
      } else {
        completed.delete(record['stepId']);
      }
    }
  });
  if (fingerprint === undefined) throw new InputError(`journal ${path} has no run-started record`);
  return { runId, fingerprint, completed, rolledBack };
}
