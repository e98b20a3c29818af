import type { Diagnostic } from './diagnostics.js';

/** Process exit codes; the contract documented in `--help` and the README. */
export const ExitCode = {
  ok: 0,
  /** lint found errors (or warnings with --strict), or a step failed and the server is as before (or the rollback restored it). */
  failed: 1,
  /** usage error, or an invalid runbook or input. */
  usage: 2,
  /** PowerShell could not start, or the connection failed. */
  environment: 3,
  /** a step failed and the server is left changed: a rollback step failed, or there was none to undo what changed. */
  leftChanged: 4,
  /** a confirmation was required but not given. */
  confirmationRequired: 5,
  /** a bug in exch-cert: the message says so and shows the stack. */
  internal: 70,
  /** interrupted (Ctrl-C). */
  interrupted: 130,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * An error a person can act on: one line saying what is wrong, and a hint
 * saying what to do. Printed without a stack trace.
 */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCodeValue,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'UserError';
  }
}

/** Bad flags or parameter values (exit 2). */
export class InputError extends UserError {
  constructor(message: string, hint?: string) {
    super(message, ExitCode.usage, hint);
    this.name = 'InputError';
  }
}

/** The runbook has errors (exit 2); the diagnostics say where. */
export class RunbookError extends UserError {
  constructor(readonly diagnostics: readonly Diagnostic[]) {
    super(`the runbook has ${diagnostics.filter((d) => d.severity === 'error').length} error(s)`, ExitCode.usage, 'run `exch-cert lint FILE` for the full report');
    this.name = 'RunbookError';
  }
}

/** PowerShell or the connection failed (exit 3). */
export class EnvironmentError extends UserError {
  constructor(message: string, hint?: string) {
    super(message, ExitCode.environment, hint);
    this.name = 'EnvironmentError';
  }
}
