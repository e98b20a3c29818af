/**
 * The seam between the engine and PowerShell. The engine only knows this
 * interface; `node-powershell.ts` implements it over a real shell, and tests
 * use in-memory fakes.
 */

/** What a step block left behind: its status and outputs (set by Invoke-ExchCertStep). */
export interface StepReport {
  readonly id: string;
  readonly status: 'ok' | 'changed' | 'skipped';
  readonly outputs: Readonly<Record<string, unknown>>;
}

/** The error a block threw, as PowerShell describes it. */
export interface ScriptError {
  readonly message: string;
  readonly category?: string;
  readonly fullyQualifiedErrorId?: string;
  /** Line within the block that was sent, when PowerShell knows it. */
  readonly line?: number;
}

/** The one JSON result a block reports between the markers. */
export type Envelope =
  | { readonly ok: true; readonly step: StepReport | null }
  | { readonly ok: false; readonly error: ScriptError };

/** How one invocation ended. Only `completed` carries an envelope; everything else is a failure of the shell. */
export type InvokeOutcome =
  | { readonly kind: 'completed'; readonly envelope: Envelope; readonly log: string; readonly durationMs: number }
  /** The watchdog fired: the shell was killed and cannot be used again. */
  | { readonly kind: 'timed_out'; readonly log: string; readonly durationMs: number }
  /** The invocation was aborted (second Ctrl-C): the shell was killed. */
  | { readonly kind: 'aborted'; readonly log: string; readonly durationMs: number }
  /** The shell exited, or answered without an envelope. */
  | { readonly kind: 'crashed'; readonly log: string; readonly durationMs: number; readonly reason: string };

export interface InvokeOptions {
  /** Kill the shell when the block runs longer than this. */
  readonly timeoutMs?: number;
  /** Abort (kill the shell) when this fires. */
  readonly signal?: AbortSignal;
}

export interface ShellInfo {
  readonly executable: string;
  /** 'Desktop' is Windows PowerShell 5.1; 'Core' is PowerShell 7. */
  readonly edition: string;
  readonly version: string;
  /** The process id of the shell (0 when unknown). */
  readonly pid: number;
}

/** One long-lived PowerShell process. Blocks run one at a time, in one runspace, so state carries over. */
export interface PowerShellSession {
  readonly info: ShellInfo;
  /** True once the shell was killed or exited; a dead session only answers `crashed`. */
  readonly dead: boolean;
  /** Runs one block of script text exactly as given and reports its envelope. */
  invoke(script: string, options?: InvokeOptions): Promise<InvokeOutcome>;
  /** Stops the shell (and its child processes). Safe to call twice. */
  dispose(): Promise<void>;
}

export interface StartOptions {
  /**
   * Extra environment for the shell: the secrets the prologue reads, and the
   * simulator's state file. Set at spawn; nothing else of this process's
   * environment leaks through but a short allow-list (PATH, HOME, TEMP, ...).
   */
  readonly env: Readonly<Record<string, string>>;
}

/** Starts sessions; throws an EnvironmentError (exit 3) when the shell is missing or broken. */
export interface SessionFactory {
  start(options: StartOptions): Promise<PowerShellSession>;
}
