import type { Ora } from 'ora';
import type { EventSink, RunEvent, StepStatus } from '../../engine/events.js';
import type { Plan, PlannedStep } from '../../plan/compile.js';
import { escapeBlock, escapeControls, escapeUntrusted } from '../../text/untrusted.js';
import { pitfallAnchor } from '../pitfalls.js';
import type { CliIo, Terminal } from '../terminal.js';
import { describeErrorLine, stepNotes } from './step-output.js';

type StepFinished = Extract<RunEvent, { type: 'step-finished' }>;
type StepStarted = Extract<RunEvent, { type: 'step-started' }>;

const MARKS: Record<StepStatus, string> = { ok: '✔', changed: '✔', skipped: '-', failed: '✖', timed_out: '⏱' };

/** The clock and the repeating timer the reporter redraws with; tests pass their own. */
export interface ReporterTimer {
  now(): number;
  /** Calls `tick` every `ms` until the returned function is called. */
  every(ms: number, tick: () => void): () => void;
}

const realTimer: ReporterTimer = {
  now: () => Date.now(),
  every: (ms, tick) => {
    const handle = setInterval(tick, ms);
    // A redraw must never keep exch-cert alive.
    handle.unref();
    return () => clearInterval(handle);
  },
};

/** How often a long step says so where there is no spinner (CI logs, pipes). */
const PLAIN_PROGRESS_MS = 60_000;

export interface TextReporterOptions {
  /** The plan being run: each step's timeout, whether it changes anything, its script. */
  readonly plan: Plan;
  /** Spinners on a terminal; plain lines without. */
  readonly createSpinner: ((text: string) => Ora) | undefined;
  readonly verbose: boolean;
  /** docs/pitfalls.md as the operator can open it, for "more:" links. */
  readonly pitfalls: string;
  readonly timer?: ReporterTimer;
}

/**
 * Progress for people, on stderr: a spinner per step on a terminal (`[3/9] enable ...` with the
 * time it has run and its timeout, then a tick or cross and the duration), plain lines otherwise
 * (CI, pipes), and a summary table at the end. Warnings a step printed and the findings of
 * read-only steps are shown without --verbose; --verbose shows everything a step printed.
 */
export class TextReporter implements EventSink {
  private spinner: Ora | undefined;
  private stopTicking: (() => void) | undefined;
  private readonly finished: StepFinished[] = [];
  private readonly steps: ReadonlyMap<string, PlannedStep>;
  private readonly timer: ReporterTimer;

  constructor(
    private readonly io: CliIo,
    private readonly terminal: Terminal,
    private readonly options: TextReporterOptions,
  ) {
    this.steps = new Map([...options.plan.steps, ...options.plan.onFailure].map((step) => [keyOf(step.phase, step.id), step]));
    this.timer = options.timer ?? realTimer;
  }

  emit(event: RunEvent): void {
    const { color } = this.terminal;
    switch (event.type) {
      case 'run-started':
        this.line(`${color.bold('exch-cert')}: ${event.resumedFrom ? `resuming run ${event.resumedFrom} as ` : ''}run ${event.runId} of ${escapeUntrusted(event.runbook)} on ${escapeUntrusted(event.server)} (${event.steps.length} steps)`);
        return;
      case 'session-started':
        this.line(color.dim(`${event.restart ? 'restarted' : 'started'} ${escapeUntrusted(event.executable)} (PowerShell ${escapeUntrusted(event.version)} ${escapeUntrusted(event.edition)})`));
        return;
      case 'step-started':
        this.stepStarted(event);
        return;
      case 'step-retrying':
        this.stopSpinner();
        this.line(color.yellow(`  attempt ${event.attempt - 1} failed: ${escapeUntrusted(event.error.message)}; retrying in ${seconds(event.delayMs)}`));
        return;
      case 'step-finished':
        this.finished.push(event);
        this.stepFinished(event);
        return;
      case 'confirmation':
        if (event.answer === 'assumed-yes') this.line(color.dim(`  ${event.stepId}: confirmed by --yes`));
        return;
      case 'interrupt':
        this.stopSpinner();
        this.line(
          color.yellow(
            event.stage === 'stop-after-step'
              ? `${event.cause}: finishing ${event.stepId ? `step ${event.stepId}` : 'the current step'}, then stopping. ${event.cause === 'Ctrl-C' ? 'Press Ctrl-C again' : `Send ${event.cause} again`} to abort it.`
              : `${event.cause} again: aborting the running step.`,
          ),
        );
        return;
      case 'warning':
        this.stopSpinner();
        this.line(color.yellow(`warning: ${escapeControls(event.message)}`));
        return;
      case 'rollback-started':
        this.line(color.yellow(`running onFailure steps after ${event.failedStepId}: ${event.steps.join(', ')}`));
        return;
      case 'run-finished':
        this.stopSpinner();
        this.summary();
        for (const summaryLine of event.summary?.lines ?? []) this.line(summaryLine.startsWith('warning: ') ? color.yellow(escapeControls(summaryLine)) : escapeControls(summaryLine));
        this.line(`${event.outcome === 'ok' ? color.green('done') : color.red(event.outcome)}: ${escapeControls(event.message)} (${seconds(event.durationMs)}, exit ${event.exitCode})`);
        return;
    }
  }

  private stepStarted(event: StepStarted): void {
    const { color } = this.terminal;
    const step = this.steps.get(keyOf(event.phase, event.stepId));
    const text = `${label(event)} ${event.stepId}: ${escapeUntrusted(event.title)}${event.attempt > 1 ? color.dim(` (attempt ${event.attempt})`) : ''}`;
    const started = this.timer.now();
    const limit = step?.timeoutMs !== undefined ? `timeout ${duration(step.timeoutMs)}${step.retries > 0 ? ' per attempt' : ''}` : 'no timeout';
    this.stopTicking?.();
    if (this.options.createSpinner) {
      const spinner = this.options.createSpinner(`${text} ${color.dim(`(0s, ${limit})`)}`).start();
      this.spinner = spinner;
      this.stopTicking = this.timer.every(1000, () => {
        spinner.text = `${text} ${color.dim(`(${duration(this.timer.now() - started)}, ${limit})`)}`;
      });
    } else {
      this.line(`${text} ...`);
      this.stopTicking = this.timer.every(PLAIN_PROGRESS_MS, () => this.line(color.dim(`  ${event.stepId}: still running after ${duration(this.timer.now() - started)} (${limit})`)));
    }
  }

  private stepFinished(event: StepFinished): void {
    const { color } = this.terminal;
    this.stopTicking?.();
    this.stopTicking = undefined;
    const step = this.steps.get(keyOf(event.phase, event.stepId));
    const detail = event.status === 'skipped' ? `skipped${event.reason ? `: ${event.reason}` : ''}` : `${event.status.replace('_', ' ')} in ${seconds(event.durationMs)}`;
    const text = `${label(event)} ${event.stepId}: ${escapeUntrusted(event.title)} ${color.dim(escapeUntrusted(detail))}`;
    const failed = event.status === 'failed' || event.status === 'timed_out';
    const mark = failed ? color.red(MARKS[event.status]) : event.status === 'skipped' ? color.dim(MARKS.skipped) : color.green(MARKS[event.status]);
    if (this.spinner) {
      // Our own mark, coloured by our own rules (NO_COLOR), not the spinner library's.
      this.spinner.stopAndPersist({ symbol: mark, text });
      this.spinner = undefined;
    } else {
      this.line(`${mark} ${text}`);
    }
    const more: string[] = [];
    if (failed && event.error) {
      const where = describeErrorLine(event.error.line, step?.script);
      for (const [index, errorLine] of escapeBlock(`${event.error.message}${where}`).split('\n').entries()) this.line(color.red(`  ${index > 0 ? '  ' : ''}${errorLine}`));
      const anchor = pitfallAnchor(event.error.message, step?.action);
      if (anchor) more.push(anchor);
      if (event.continued) this.line(color.yellow('  continuing: the step has continueOnError'));
    }
    if (event.log && (failed || this.options.verbose)) {
      for (const logLine of escapeBlock(event.log.trimEnd()).split('\n')) this.line(color.dim(`  | ${logLine}`));
    } else if (event.log) {
      const notes = stepNotes(event.log, step?.changes === false);
      for (const warning of notes.warnings) {
        this.line(color.yellow(`  warning: ${escapeUntrusted(warning)}`));
        const anchor = pitfallAnchor(warning, step?.action);
        if (anchor) more.push(anchor);
      }
      for (const finding of notes.findings) this.line(`  ${escapeUntrusted(finding)}`);
    }
    for (const anchor of new Set(more)) this.line(color.dim(`  more: ${this.options.pitfalls}#${anchor}`));
  }

  private summary(): void {
    if (this.finished.length === 0) return;
    const { color } = this.terminal;
    const nameOf = (event: StepFinished): string => (event.phase === 'onFailure' ? `${event.stepId} (onFailure)` : event.stepId);
    const width = Math.max(4, ...this.finished.map((event) => nameOf(event).length));
    this.line('');
    this.line(color.bold(`${'step'.padEnd(width)}  ${'status'.padEnd(9)}  ${'tries'.padStart(5)}  ${'time'.padStart(7)}`));
    for (const event of this.finished) {
      const status = event.status.padEnd(9);
      const painted = event.status === 'failed' || event.status === 'timed_out' ? color.red(status) : event.status === 'changed' ? color.green(status) : status;
      // A skipped step did not run: it has no tries and no time.
      const ran = event.status !== 'skipped';
      this.line(`${nameOf(event).padEnd(width)}  ${painted}  ${(ran ? String(event.attempts) : '').padStart(5)}  ${(ran ? seconds(event.durationMs) : '').padStart(7)}`.trimEnd());
    }
    this.line('');
  }

  /** Stops the spinner before anything else writes to the terminal (prompts, interrupts). */
  stopSpinner(): void {
    this.stopTicking?.();
    this.stopTicking = undefined;
    this.spinner?.stop();
    this.spinner = undefined;
  }

  private line(text: string): void {
    try {
      this.io.stderr.write(`${text}\n`);
    } catch {
      // The terminal closed (SIGHUP): the journal still records everything.
    }
  }
}

function keyOf(phase: 'steps' | 'onFailure', id: string): string {
  return `${phase}:${id}`;
}

function label(event: { phase: 'steps' | 'onFailure'; position: number; total: number }): string {
  return event.phase === 'steps' ? `[${event.position}/${event.total}]` : `[onFailure ${event.position}/${event.total}]`;
}

function seconds(ms: number): string {
  return ms >= 60_000 ? `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1000)}s` : `${(ms / 1000).toFixed(1)}s`;
}

/** Whole seconds, minutes and hours, as a timeout is written in a runbook: 42s, 5m, 5m30s, 1h2m. */
export function duration(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const rest = total % 60;
  if (hours > 0) return `${hours}h${minutes > 0 ? `${minutes}m` : ''}`;
  if (minutes > 0) return `${minutes}m${rest > 0 ? `${rest}s` : ''}`;
  return `${rest}s`;
}
