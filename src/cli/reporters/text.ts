import type { Ora } from 'ora';
import type { EventSink, RunEvent, StepStatus } from '../../engine/events.js';
import { escapeBlock, escapeControls, escapeUntrusted } from '../../text/untrusted.js';
import type { CliIo, Terminal } from '../terminal.js';

type StepFinished = Extract<RunEvent, { type: 'step-finished' }>;

const MARKS: Record<StepStatus, string> = { ok: '✔', changed: '✔', skipped: '-', failed: '✖', timed_out: '⏱' };

/**
 * Progress for people, on stderr: a spinner per step on a terminal
 * (`[3/9] enable ...` then a tick or cross and the duration), plain lines
 * otherwise (CI, pipes, NO_COLOR-friendly), and a summary table at the end.
 */
export class TextReporter implements EventSink {
  private spinner: Ora | undefined;
  private readonly finished: StepFinished[] = [];

  constructor(
    private readonly io: CliIo,
    private readonly terminal: Terminal,
    private readonly createSpinner: ((text: string) => Ora) | undefined,
    private readonly verbose: boolean,
  ) {}

  emit(event: RunEvent): void {
    const { color } = this.terminal;
    switch (event.type) {
      case 'run-started':
        this.line(`${color.bold('exch-cert')}: ${event.resumedFrom ? `resuming run ${event.resumedFrom} as ` : ''}run ${event.runId} of ${event.runbook} on ${event.server} (${event.steps.length} steps)`);
        return;
      case 'session-started':
        this.line(color.dim(`${event.restart ? 'restarted' : 'started'} ${event.executable} (PowerShell ${event.version} ${event.edition})`));
        return;
      case 'step-started': {
        const text = `${label(event)} ${event.stepId}: ${escapeUntrusted(event.title)}${event.attempt > 1 ? color.dim(` (attempt ${event.attempt})`) : ''}`;
        if (this.createSpinner) this.spinner = this.createSpinner(text).start();
        else this.line(`${text} ...`);
        return;
      }
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

  private stepFinished(event: StepFinished): void {
    const { color } = this.terminal;
    const detail = event.status === 'skipped' ? `skipped${event.reason ? `: ${event.reason}` : ''}` : `${event.status.replace('_', ' ')} in ${seconds(event.durationMs)}`;
    const text = `${label(event)} ${event.stepId}: ${escapeUntrusted(event.title)} ${color.dim(escapeUntrusted(detail))}`;
    const failed = event.status === 'failed' || event.status === 'timed_out';
    if (this.spinner) {
      if (failed) this.spinner.fail(text);
      else if (event.status === 'skipped') this.spinner.info(text);
      else this.spinner.succeed(text);
      this.spinner = undefined;
    } else {
      const mark = failed ? color.red(MARKS[event.status]) : event.status === 'skipped' ? color.dim(MARKS.skipped) : color.green(MARKS[event.status]);
      this.line(`${mark} ${text}`);
    }
    if (failed && event.error) {
      const where = event.error.line !== undefined ? ` (line ${event.error.line} of the step's block)` : '';
      for (const [index, errorLine] of escapeBlock(`${event.error.message}${where}`).split('\n').entries()) this.line(color.red(`  ${index > 0 ? '  ' : ''}${errorLine}`));
      if (event.continued) this.line(color.yellow('  continuing: the step has continueOnError'));
    }
    if (event.log && (failed || this.verbose)) {
      for (const logLine of escapeBlock(event.log.trimEnd()).split('\n')) this.line(color.dim(`  | ${logLine}`));
    }
  }

  private summary(): void {
    if (this.finished.length === 0) return;
    const { color } = this.terminal;
    const idWidth = Math.max(4, ...this.finished.map((event) => event.stepId.length));
    this.line('');
    this.line(color.bold(`${'step'.padEnd(idWidth)}  ${'status'.padEnd(9)}  ${'tries'.padStart(5)}  ${'time'.padStart(7)}`));
    for (const event of this.finished) {
      const status = event.status.padEnd(9);
      const painted = event.status === 'failed' || event.status === 'timed_out' ? color.red(status) : event.status === 'changed' ? color.green(status) : status;
      const name = event.phase === 'onFailure' ? `${event.stepId} (onFailure)` : event.stepId;
      this.line(`${name.padEnd(idWidth)}  ${painted}  ${String(event.attempts).padStart(5)}  ${seconds(event.durationMs).padStart(7)}`);
    }
    this.line('');
  }

  /** Stops the spinner before anything else writes to the terminal (prompts, interrupts). */
  stopSpinner(): void {
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

function label(event: { phase: 'steps' | 'onFailure'; position: number; total: number }): string {
  return event.phase === 'steps' ? `[${event.position}/${event.total}]` : `[onFailure ${event.position}/${event.total}]`;
}

function seconds(ms: number): string {
  return ms >= 60_000 ? `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1000)}s` : `${(ms / 1000).toFixed(1)}s`;
}
