/** How a confirmation was answered; `interrupted` is Ctrl-C (or a signal) at the prompt. */
export type ConfirmationAnswer = 'yes' | 'no' | 'assumed-yes' | 'interrupted';

/** What asked a run to stop: Ctrl-C (the keyboard or SIGINT), or a stop signal. */
export type InterruptCause = 'Ctrl-C' | 'SIGTERM' | 'SIGHUP';

/** Final status of one step. */
export type StepStatus = 'ok' | 'changed' | 'skipped' | 'failed' | 'timed_out';

/** How a run ended, with the exit code it maps to. */
export type RunOutcome = 'ok' | 'failed' | 'declined' | 'interrupted' | 'environment';

/** The error of a failed step, masked. */
export interface StepError {
  readonly message: string;
  readonly category?: string;
  readonly fullyQualifiedErrorId?: string;
  /** Line within the step's block, when PowerShell knows it. */
  readonly line?: number;
}

/**
 * What happens during a run. The journal, `--json` (NDJSON) and the terminal
 * reporter all consume these same events; every string in them is masked.
 */
export type RunEvent =
  | {
      readonly type: 'run-started';
      readonly runId: string;
      readonly runbook: string;
      readonly file: string;
      readonly server: string;
      readonly fingerprint: string;
      readonly toolVersion: string;
      readonly params: Readonly<Record<string, unknown>>;
      readonly steps: readonly string[];
      /** Where and as which process exch-cert runs, so a later --resume can tell whether it still does. */
      readonly host: string;
      readonly pid: number;
      readonly resumedFrom?: string;
    }
  | { readonly type: 'session-started'; readonly executable: string; readonly edition: string; readonly version: string; readonly pid: number; readonly restart: boolean }
  | { readonly type: 'step-started'; readonly stepId: string; readonly phase: 'steps' | 'onFailure'; readonly position: number; readonly total: number; readonly title: string; readonly attempt: number }
  | {
      readonly type: 'step-finished';
      readonly stepId: string;
      readonly phase: 'steps' | 'onFailure';
      readonly position: number;
      readonly total: number;
      readonly title: string;
      readonly status: StepStatus;
      readonly attempts: number;
      readonly durationMs: number;
      readonly outputs: Readonly<Record<string, unknown>>;
      readonly error?: StepError;
      /** Why a skipped step did not run (a false `when`, or done in the run being resumed). */
      readonly reason?: string;
      /** Text the step printed (Write-Host, warnings), masked. */
      readonly log?: string;
      /** The step failed but has continueOnError. */
      readonly continued?: boolean;
    }
  | { readonly type: 'step-retrying'; readonly stepId: string; readonly attempt: number; readonly delayMs: number; readonly error: StepError }
  | { readonly type: 'confirmation'; readonly stepId: string; readonly answer: ConfirmationAnswer }
  | { readonly type: 'interrupt'; readonly stage: 'stop-after-step' | 'abort-step'; readonly cause: InterruptCause; readonly stepId?: string }
  | { readonly type: 'warning'; readonly message: string; readonly stepId?: string }
  | { readonly type: 'rollback-started'; readonly failedStepId: string; readonly steps: readonly string[] }
  | {
      readonly type: 'run-finished';
      readonly outcome: RunOutcome;
      readonly exitCode: number;
      readonly durationMs: number;
      readonly message: string;
      readonly counts: Readonly<Record<StepStatus, number>>;
      /** The run failed and what it changed on the server is still changed (exit 4). */
      readonly serverLeftChanged: boolean;
      /** Done, but steps after the committing one failed and were left undone (a warning says which). */
      readonly leftUndone?: boolean;
      /** What the run did, from its outputs (the renewal: old and new certificate, backup, decisions). */
      readonly summary?: { readonly lines: readonly string[]; readonly data: Readonly<Record<string, unknown>> };
    };

/** Something that consumes events (journal, reporter). */
export interface EventSink {
  emit(event: RunEvent): void;
}
