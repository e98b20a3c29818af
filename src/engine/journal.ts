import { createHash, randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, lstatSync, openSync, readFileSync, writeSync } from 'node:fs';
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

/** The file operations the journal needs; tests pass failing ones (a full disk) in. */
export interface JournalFiles {
  open(path: string): number;
  write(fd: number, text: string): void;
  close(fd: number): void;
}

const realFiles: JournalFiles = {
  // 'wx': a journal is always a new file; 0600: it names servers and certificates.
  open: (path) => openSync(path, 'wx', 0o600),
  write: (fd, text) => {
    writeSync(fd, text);
    fsyncSync(fd);
  },
  close: (fd) => closeSync(fd),
};

/**
 * Appends every event of a run to `<dir>/<runId>.jsonl`, flushed to disk after each line, so a
 * crash or a killed process loses nothing that happened. The file is created when the first step
 * starts: a run that never got that far (a refused confirmation, a connection that failed) leaves
 * no journal. A write that fails (a full disk) is recorded in `problem` and ends the journal; the
 * engine then stops at the next step boundary. Events arrive masked; secrets are never in them.
 */
export class Journal implements EventSink {
  private fd: number | undefined;
  private readonly waiting: string[] = [];
  private failure: string | undefined;

  constructor(
    readonly path: string,
    private readonly runId: string,
    private readonly files: JournalFiles = realFiles,
    private readonly request?: Readonly<Record<string, unknown>>,
  ) {}

  /**
   * `request` is what the command line asked for (runbook file, param values, connection; never a
   * secret): it goes on the run-started line, so that `--resume RUN_ID` alone can make the same plan.
   */
  static create(dir: string, runId: string, files?: JournalFiles, request?: Readonly<Record<string, unknown>>): Journal {
    return new Journal(join(dir, `${runId}.jsonl`), runId, files, request);
  }

  /** Why the journal could not be written, once that happened. */
  get problem(): string | undefined {
    return this.failure;
  }

  /** Whether the file exists (the run reached its first step). */
  get created(): boolean {
    return this.fd !== undefined;
  }

  emit(event: RunEvent): void {
    if (this.failure !== undefined) return;
    const extra = event.type === 'run-started' && this.request !== undefined ? { request: this.request } : {};
    const line = JSON.stringify({ v: JOURNAL_VERSION, ts: new Date().toISOString(), runId: this.runId, ...event, ...extra }) + '\n';
    if (this.fd === undefined && event.type !== 'step-started') {
      this.waiting.push(line);
      return;
    }
    try {
      if (this.fd === undefined) {
        this.fd = this.files.open(this.path);
        for (const earlier of this.waiting.splice(0)) this.files.write(this.fd, earlier);
      }
      this.files.write(this.fd, line);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      this.failure = `${this.path}: ${code === 'ENOSPC' ? 'no space left on the disk' : error instanceof Error ? error.message : String(error)}`;
    }
  }

  close(): void {
    if (this.fd === undefined) return;
    try {
      this.files.close(this.fd);
    } catch {
      // Nothing more can be written anyway.
    }
    this.fd = undefined;
  }
}

/** One step as the journal last saw it. */
export interface JournaledStep {
  readonly id: string;
  readonly status: StepStatus;
  readonly position: number;
  readonly title: string;
}

/** What a journal says about an earlier run, for --resume. */
export interface ResumeState {
  readonly runId: string;
  readonly fingerprint: string;
  /** Main steps that finished (ok, changed, or skipped), with their outputs. */
  readonly completed: ReadonlyMap<string, { readonly status: StepStatus; readonly outputs: Readonly<Record<string, unknown>> }>;
  /** The onFailure steps ran (some may have been skipped or changed nothing). */
  readonly rolledBack: boolean;
  /** Where the run ran, and the process ids of exch-cert and of each shell it started. */
  readonly host: string | undefined;
  readonly pids: readonly number[];
}

/** Everything a journal tells about its run: for --resume and its refusals, and for `exch-cert runs`. */
export interface JournalState extends ResumeState {
  /** From the run-started line. */
  readonly startedAt: string | undefined;
  readonly runbook: string | undefined;
  readonly server: string | undefined;
  readonly stepIds: readonly string[];
  /** The run this one resumed, if it did. */
  readonly resumedFrom: string | undefined;
  /** What the command line asked for (see Journal.create), when the run recorded it. */
  readonly request: Readonly<Record<string, unknown>> | undefined;
  /** The last state of every step that finished, main steps and onFailure steps apart. */
  readonly steps: readonly JournaledStep[];
  readonly onFailure: readonly JournaledStep[];
  /** The run-finished line, when the run got that far. */
  readonly finished: { readonly outcome: string; readonly exitCode: number; readonly message: string; readonly at: string | undefined } | undefined;
}

/** Reads a run's journal; a missing, unreadable or foreign journal is an input error. */
export function readJournal(dir: string, runId: string): JournalState {
  if (!/^[A-Za-z0-9-]+$/.test(runId)) throw new InputError(`--resume ${JSON.stringify(runId)} is not a run id`, 'run ids look like 20261126T064800Z-ab12cd; `exch-cert runs` lists them');
  const path = join(dir, `${runId}.jsonl`);
  let kind: string;
  try {
    const stat = lstatSync(path);
    kind = stat.isFile() ? 'file' : stat.isSymbolicLink() ? 'a symbolic link' : stat.isFIFO() ? 'a FIFO' : 'not a regular file';
  } catch {
    throw new InputError(`no journal for run ${runId} in ${dir}`, 'pass the run id exch-cert printed (`exch-cert runs` lists them), and --journal-dir if you used one');
  }
  if (kind !== 'file') throw new InputError(`the journal of run ${runId} (${path}) is ${kind}; exch-cert reads only a regular file there`);
  let fingerprint: string | undefined;
  let host: string | undefined;
  let rolledBack = false;
  let started: Record<string, unknown> | undefined;
  let finished: JournalState['finished'];
  const pids: number[] = [];
  const completed = new Map<string, { status: StepStatus; outputs: Readonly<Record<string, unknown>> }>();
  const steps = new Map<string, JournaledStep>();
  const onFailure = new Map<string, JournaledStep>();
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
    if (record['runId'] !== runId) throw new InputError(`journal ${path} belongs to run ${JSON.stringify(record['runId'])}, not ${runId}, at line ${index + 1}`, 'resume a run by the id it printed; a journal copied under another name cannot be resumed');
    if (record['type'] === 'run-started' && typeof record['fingerprint'] === 'string') {
      fingerprint = record['fingerprint'];
      started = record;
      if (typeof record['host'] === 'string') host = record['host'];
      if (typeof record['pid'] === 'number') pids.push(record['pid']);
    }
    if (record['type'] === 'session-started' && typeof record['pid'] === 'number' && record['pid'] > 0) pids.push(record['pid']);
    if (record['type'] === 'rollback-started') rolledBack = true;
    if (record['type'] === 'run-finished') {
      finished = { outcome: String(record['outcome']), exitCode: Number(record['exitCode']), message: typeof record['message'] === 'string' ? record['message'] : '', at: typeof record['ts'] === 'string' ? record['ts'] : undefined };
    }
    if (record['type'] === 'step-finished' && typeof record['stepId'] === 'string') {
      const status = record['status'] as StepStatus;
      const step = { id: record['stepId'], status, position: Number(record['position']), title: typeof record['title'] === 'string' ? record['title'] : '' };
      (record['phase'] === 'onFailure' ? onFailure : steps).set(step.id, step);
      if (record['phase'] !== 'steps') return;
      if (status === 'ok' || status === 'changed' || status === 'skipped') {
        completed.set(record['stepId'], { status, outputs: (record['outputs'] as Record<string, unknown> | undefined) ?? {} });
      } else {
        completed.delete(record['stepId']);
      }
    }
  });
  if (fingerprint === undefined || started === undefined) throw new InputError(`journal ${path} has no run-started record`);
  const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
  const request = started['request'];
  return {
    runId,
    fingerprint,
    completed,
    rolledBack,
    host,
    pids,
    startedAt: text(started['ts']),
    runbook: text(started['runbook']),
    server: text(started['server']),
    resumedFrom: text(started['resumedFrom']),
    stepIds: Array.isArray(started['steps']) ? started['steps'].filter((id): id is string => typeof id === 'string') : [],
    request: request !== null && typeof request === 'object' && !Array.isArray(request) ? (request as Record<string, unknown>) : undefined,
    steps: [...steps.values()],
    onFailure: [...onFailure.values()],
    finished,
  };
}
