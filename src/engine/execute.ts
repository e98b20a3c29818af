import type { Plan, PlannedStep } from '../plan/compile.js';
import { psLiteral, psString } from '../powershell/quote.js';
import type { InvokeOutcome, PowerShellSession, SessionFactory } from '../powershell/session.js';
import { ExitCode, UserError, type ExitCodeValue } from '../errors.js';
import type { ConfirmationAnswer, EventSink, InterruptCause, RunEvent, RunOutcome, StepError, StepStatus } from './events.js';
import { planFingerprint, type ResumeState } from './journal.js';
import { resolveLocalInputs, type LocalStepRunners } from './local-step.js';
import type { Masker } from './mask.js';

/** Ctrl-C or a stop signal, as the engine sees it: a first request to stop after the step, a second to abort it. */
export interface Interrupt {
  /** Set by the first Ctrl-C or signal: finish the current step, then stop. */
  readonly stopRequested: boolean;
  /** Fired by the second one: kill the step now. */
  readonly abortSignal: AbortSignal;
  /** What asked to stop (for messages); Ctrl-C when not known. */
  readonly cause?: InterruptCause | undefined;
}

export interface Clock {
  now(): number;
  /** Resolves after `ms`, or early when the signal fires. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

export interface ExecuteOptions {
  readonly plan: Plan;
  readonly runId: string;
  readonly sessions: SessionFactory;
  /** Environment handed to the shell: the secrets the prologue reads, the simulator's state file. */
  readonly shellEnv: Readonly<Record<string, string>>;
  readonly sink: EventSink;
  readonly masker: Masker;
  /** Asks the operator before a step that needs confirmation; the CLI decides how (prompt or --yes). */
  /** Asks before a step; `values` are the run-time values it will use (`steps.ID.outputs.NAME` to value). */
  confirm(step: PlannedStep, values: Readonly<Record<string, unknown>>): Promise<ConfirmationAnswer>;
  readonly interrupt: Interrupt;
  readonly clock: Clock;
  /** This machine and this process, recorded in the journal for a later --resume. */
  readonly runner: { readonly host: string; readonly pid: number };
  /** An earlier run of the same plan whose finished steps are skipped. */
  readonly resume?: ResumeState;
  /** Why the journal can no longer be written (a full disk), once that happened: the run stops at the next step boundary. */
  journalProblem?(): string | undefined;
  /** The runners of the steps exch-cert runs itself (the TLS check), by kind. */
  readonly localSteps?: LocalStepRunners;
  /** What the run did, in a few lines and as data, from the steps' outputs (the renewal's old and new certificate). */
  summarize?(outputs: ReadonlyMap<string, Readonly<Record<string, unknown>>>): RunSummary | undefined;
  /**
   * `first-change`: a preflight. Connect and run the steps up to, not including, the first step that
   * changes the server, then end `ok` with `stoppedBefore` naming it: every read-only check has run
   * and nothing on the server was changed.
   */
  readonly until?: 'first-change';
}

export interface StepResult {
  readonly id: string;
  readonly phase: 'steps' | 'onFailure';
  readonly status: StepStatus;
  readonly changedServer: boolean;
}

/** A run's outcome for people (lines) and machines (data). */
export interface RunSummary {
  readonly lines: readonly string[];
  readonly data: Readonly<Record<string, unknown>>;
}

export interface RunResult {
  readonly outcome: RunOutcome;
  readonly exitCode: ExitCodeValue;
  readonly message: string;
  readonly steps: readonly StepResult[];
  /** With `until: 'first-change'`: the step the run stopped before (absent when no step changes the server). */
  readonly stoppedBefore?: string;
  /** The outputs of the steps that ran (or were done in the run being resumed), by step id. */
  readonly outputs: ReadonlyMap<string, Readonly<Record<string, unknown>>>;
}

const EXIT_CODES: Record<RunOutcome, ExitCodeValue> = {
  ok: ExitCode.ok,
  failed: ExitCode.failed,
  declined: ExitCode.confirmationRequired,
  interrupted: ExitCode.interrupted,
  environment: ExitCode.environment,
};

/** A failure to start or connect PowerShell; it ends the run with exit 3. */
class SessionFailure extends Error {}

/** The journal cannot be written; the run stops before the next step is sent. */
class JournalFailure extends Error {}

/**
 * Runs a plan on one PowerShell session, step by step, sending each block
 * exactly as the dry run prints it. Handles retries, timeouts (a killed shell
 * is replaced, reconnected and given back the earlier outputs), `when` at run
 * time (in the block), continueOnError, confirmation, Ctrl-C and the
 * onFailure rollback, and reports everything as events.
 */
export async function executePlan(options: ExecuteOptions): Promise<RunResult> {
  return new Run(options).execute();
}

class Run {
  private session: PowerShellSession | undefined;
  private readonly outputs = new Map<string, Readonly<Record<string, unknown>>>();
  private readonly results: StepResult[] = [];
  /** The step whose success committed the change (later failures no longer roll back). */
  private committedBy: string | undefined;
  private readonly started: number;

  constructor(private readonly options: ExecuteOptions) {
    this.started = options.clock.now();
  }

  async execute(): Promise<RunResult> {
    const { plan, resume } = this.options;
    this.emit({
      type: 'run-started',
      runId: this.options.runId,
      runbook: plan.runbook.name,
      file: plan.runbook.file,
      server: plan.connection.server,
      fingerprint: planFingerprint(plan),
      toolVersion: plan.tool.version,
      params: Object.fromEntries(plan.params.map((param) => [param.name, param.source === 'environment' ? `secret from $env:${param.env ?? ''}` : (param.value ?? null)])),
      steps: plan.steps.map((step) => step.id),
      host: this.options.runner.host,
      pid: this.options.runner.pid,
      ...(resume ? { resumedFrom: resume.runId } : {}),
    });
    try {
      return await this.runSteps();
    } catch (error) {
      if (error instanceof JournalFailure) {
        return this.finish('failed', `the journal cannot be written (${error.message}); stopped before the next step was sent${this.changedSummary()}`, this.serverChanged());
      }
      if (!(error instanceof SessionFailure)) throw error;
      return this.finish('environment', `PowerShell failed: ${error.message}${this.changedSummary()}`);
    } finally {
      await this.closeSession();
    }
  }

  private async runSteps(): Promise<RunResult> {
    const { plan, resume, interrupt } = this.options;
    // Outputs of steps finished in the run being resumed go to the shell with the connection.
    for (const [id, done] of resume?.completed ?? []) this.outputs.set(id, done.outputs);
    // Connect before the first step: a wrong server or a missing secret fails before anything changes.
    await this.ensureSession();
    for (const step of plan.steps) {
      this.assertJournal();
      if (interrupt.stopRequested || interrupt.abortSignal.aborted) {
        return this.finish('interrupted', `stopped by ${this.cause()} before step ${step.id}${this.changedSummary()}${this.resumeHint()}`);
      }
      const done = resume?.completed.get(step.id);
      if (done) {
        this.record(step, 'skipped', 0, 0, { outputs: done.outputs, reason: `done in run ${resume?.runId ?? ''}` });
        continue;
      }
      if (step.skipped) {
        this.record(step, 'skipped', 0, 0, { reason: step.skipped });
        continue;
      }
      // A run-time `when` is decided here too, before a confirmation is asked for a step that will not run.
      const unmet = this.unmetCondition(step);
      if (unmet !== undefined) {
        this.record(step, 'skipped', 0, 0, { reason: unmet });
        continue;
      }
      if (this.options.until === 'first-change' && step.changes) {
        const ran = this.results.filter((result) => result.status !== 'skipped').length;
        return this.finish('ok', `preflight: ${ran} read-only step(s) ran; stopped before step ${step.id}, the first that changes the server. Nothing on the server was changed`, false, { stoppedBefore: step.id });
      }
      if (step.confirm) {
        const answer = await this.options.confirm(step, this.knownValues(step));
        this.emit({ type: 'confirmation', stepId: step.id, answer });
        if (answer === 'no') return this.finish('declined', `step ${step.id} was not confirmed; it and the steps after it did not run${this.changedSummary()}`);
        if (answer === 'interrupted') return this.finish('interrupted', `stopped at the confirmation of step ${step.id}; it and the steps after it did not run${this.changedSummary()}${this.resumeHint()}`);
      }
      const status = await this.runStep(step);
      if (this.options.interrupt.abortSignal.aborted) {
        return this.finish('interrupted', `step ${step.id} was aborted by ${this.cause()} and may be half done${this.changedSummary()}${this.resumeHint()}`);
      }
      if ((status === 'failed' || status === 'timed_out') && !step.continueOnError && this.committedBy !== undefined) {
        // The change was done and checked: undoing it now would be worse than leaving this step undone.
        const left = plan.steps.slice(plan.steps.indexOf(step)).map((rest) => rest.id);
        this.emit({ type: 'warning', message: `step ${step.id} ${status === 'timed_out' ? 'timed out' : 'failed'} after step ${this.committedBy} committed the change; not rolled back`, stepId: step.id });
        return this.finish('ok', `done up to step ${this.committedBy}; step ${step.id} ${status === 'timed_out' ? 'timed out' : 'failed'} afterwards and was not rolled back: left undone: ${left.join(', ')}`, false, { leftUndone: true });
      }
      if (status !== 'failed' && status !== 'timed_out' && step.commit) this.committedBy = step.id;
      if ((status === 'failed' || status === 'timed_out') && !step.continueOnError) {
        // A preflight ran read-only steps only: there is nothing to roll back.
        if (this.options.until === 'first-change') return this.finish('failed', `preflight: step ${step.id} ${status === 'timed_out' ? 'timed out' : 'failed'}${this.changedSummary()}`);
        const changed = this.serverChanged();
        const rollback = await this.rollback(step);
        const leftChanged = changed && !rollback.restored;
        const message = `step ${step.id} ${status === 'timed_out' ? 'timed out' : 'failed'}${rollback.summary}${this.changedSummary()}${leftChanged ? '. The server is left changed' : ''}`;
        return this.finish('failed', message, leftChanged);
      }
    }
    if (interrupt.stopRequested) {
      // Ctrl-C came during the last step: everything ran, but the operator asked to stop.
      return this.finish('interrupted', `${this.cause()} came during the last step; all ${plan.steps.length} steps ran${this.changedSummary()}`);
    }
    return this.finish('ok', `all ${plan.steps.length} steps done`);
  }

  /** Runs one step with its retries; returns its final status. */
  private async runStep(step: PlannedStep): Promise<StepStatus> {
    const attempts = 1 + step.retries;
    const started = this.options.clock.now();
    let lastError: StepError | undefined;
    let lastLog = '';
    let status: StepStatus = 'failed';
    let made = 0;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      made = attempt;
      this.emit({ type: 'step-started', stepId: step.id, phase: step.phase, position: step.position, total: step.total, title: step.title, attempt });
      this.assertJournal();
      const result = step.local ? await this.attemptLocal(step) : await this.attemptShell(step);
      lastLog = result.log;
      if (result.status !== 'failed' && result.status !== 'timed_out') {
        this.outputs.set(step.id, result.outputs);
        // Later PowerShell steps read a local step's outputs as they read any other.
        if (step.local) await this.invokeSetup(await this.ensureSession(), restoreOutputsScript(new Map([[step.id, result.outputs]])), `handing on the outputs of step ${step.id}`);
        this.record(step, result.status, attempt, this.options.clock.now() - started, { outputs: result.outputs, log: lastLog });
        return result.status;
      }
      status = result.status;
      lastError = result.error;
      if (result.aborted || attempt === attempts || this.options.interrupt.stopRequested) break;
      this.emit({ type: 'step-retrying', stepId: step.id, attempt: attempt + 1, delayMs: step.retryDelayMs, error: result.error });
      await this.options.clock.sleep(step.retryDelayMs, this.options.interrupt.abortSignal);
      if (this.options.interrupt.abortSignal.aborted) break;
    }
    this.record(step, status, made, this.options.clock.now() - started, {
      ...(lastError ? { error: lastError } : {}),
      log: lastLog,
      ...(step.continueOnError ? { continued: true } : {}),
    });
    return status;
  }

  /** One attempt of a PowerShell step: its block, exactly as the dry run prints it. */
  private async attemptShell(step: PlannedStep): Promise<Attempt> {
    const session = await this.ensureSession();
    const outcome = await session.invoke(step.script, {
      ...(step.timeoutMs !== undefined ? { timeoutMs: step.timeoutMs } : {}),
      signal: this.options.interrupt.abortSignal,
    });
    return { ...this.interpret(step, outcome), log: this.options.masker.mask(outcome.log), aborted: outcome.kind === 'aborted' };
  }

  /** One attempt of a step exch-cert runs itself, with its run-time inputs resolved now, under the step's timeout. */
  private async attemptLocal(step: PlannedStep): Promise<Attempt> {
    const local = step.local;
    const runner = local ? this.options.localSteps?.[local.kind] : undefined;
    if (!local || !runner) {
      return { status: 'failed', outputs: {}, error: { message: `step ${step.id} is run by exch-cert itself (${local?.kind ?? 'unknown'}), and this command cannot run it` }, log: '', aborted: false };
    }
    const interrupt = this.options.interrupt.abortSignal;
    const controller = new AbortController();
    const abort = (): void => controller.abort();
    interrupt.addEventListener('abort', abort, { once: true });
    const timer = step.timeoutMs !== undefined ? setTimeout(abort, step.timeoutMs) : undefined;
    const started = this.options.clock.now();
    try {
      // A runner that does not heed the signal still cannot hold the run past its timeout or a second Ctrl-C.
      const stopped = new Promise<undefined>((done) => controller.signal.addEventListener('abort', () => done(undefined), { once: true }));
      const outcome = (await Promise.race([runner(resolveLocalInputs(local.inputs, this.outputs), controller.signal), stopped])) ?? { status: 'failed' as const, outputs: {} };
      if (interrupt.aborted) return { status: 'failed', outputs: {}, error: { message: `aborted by ${this.cause()} while the step ran` }, log: outcome.log ?? '', aborted: true };
      if (controller.signal.aborted) return { status: 'timed_out', outputs: {}, error: { message: `timed out after ${formatMs(this.options.clock.now() - started)}` }, log: outcome.log ?? '', aborted: false };
      const error = { message: outcome.error ?? '' };
      return { status: outcome.status, outputs: outcome.outputs, error, log: outcome.log ?? '', aborted: false };
    } finally {
      if (timer) clearTimeout(timer);
      interrupt.removeEventListener('abort', abort);
    }
  }

  /** Turns what the shell said into a step status, outputs and error. */
  private interpret(step: PlannedStep, outcome: InvokeOutcome): { status: StepStatus; outputs: Readonly<Record<string, unknown>>; error: StepError } {
    const mask = (text: string): string => this.options.masker.mask(text);
    switch (outcome.kind) {
      case 'completed': {
        const envelope = outcome.envelope;
        if (!envelope.ok) {
          return {
            status: 'failed',
            outputs: {},
            error: {
              message: mask(envelope.error.message),
              ...(envelope.error.category !== undefined ? { category: envelope.error.category } : {}),
              ...(envelope.error.fullyQualifiedErrorId !== undefined ? { fullyQualifiedErrorId: mask(envelope.error.fullyQualifiedErrorId) } : {}),
              ...(envelope.error.line !== undefined ? { line: envelope.error.line } : {}),
            },
          };
        }
        const report = envelope.step;
        if (report === null || report.id !== step.id) {
          return { status: 'failed', outputs: {}, error: { message: `the block of step ${step.id} did not report its result (Invoke-ExchCertStep did not run)` } };
        }
        return { status: report.status, outputs: this.options.masker.maskValue(report.outputs), error: { message: '' } };
      }
      case 'timed_out':
        return { status: 'timed_out', outputs: {}, error: { message: `timed out after ${formatMs(outcome.durationMs)}; PowerShell was stopped` } };
      case 'aborted':
        return { status: 'failed', outputs: {}, error: { message: `aborted by ${this.cause()}; PowerShell was stopped while the step ran` } };
      case 'crashed':
        return { status: 'failed', outputs: {}, error: { message: mask(`PowerShell stopped while the step ran: ${outcome.reason}`) } };
    }
  }

  /**
   * Runs the onFailure steps after `failed`. Returns a sentence for the summary, and whether they
   * could have restored the server: there were some, and none of them failed.
   */
  private async rollback(failed: PlannedStep): Promise<{ summary: string; restored: boolean }> {
    const steps = this.options.plan.onFailure;
    if (steps.length === 0) return { summary: '; there are no onFailure steps', restored: false };
    this.emit({ type: 'rollback-started', failedStepId: failed.id, steps: steps.map((step) => step.id) });
    const tally = { succeeded: 0, failed: 0, skipped: 0 };
    for (const step of steps) {
      if (this.options.interrupt.abortSignal.aborted) break;
      if (step.skipped) {
        this.record(step, 'skipped', 0, 0, { reason: step.skipped });
        tally.skipped++;
        continue;
      }
      let status: StepStatus;
      try {
        status = await this.runStep(step);
      } catch (error) {
        if (!(error instanceof SessionFailure)) throw error;
        this.record(step, 'failed', 1, 0, { error: { message: `PowerShell could not be restarted: ${error.message}` } });
        return { summary: '; the onFailure steps could not run (PowerShell could not be restarted)', restored: false };
      }
      if (status === 'failed' || status === 'timed_out') tally.failed++;
      else if (status === 'skipped') tally.skipped++;
      else tally.succeeded++;
    }
    const ran = tally.succeeded + tally.failed + tally.skipped;
    const others = [tally.failed > 0 && `${tally.failed} failed`, tally.skipped > 0 && `${tally.skipped} skipped`, ran < steps.length && `${steps.length - ran} not run`].filter(Boolean);
    return {
      summary: `; onFailure: ${tally.succeeded} of ${steps.length} step(s) succeeded${others.length > 0 ? `, ${others.join(', ')}` : ''}`,
      restored: tally.failed === 0 && ran === steps.length,
    };
  }

  /** Whether a main step changed the server, or may have (a changing step that failed). */
  private serverChanged(): boolean {
    return this.results.some((result) => result.phase === 'steps' && result.changedServer);
  }

  /** The live session, starting (or restarting after a timeout or crash) as needed: shell, prologue, earlier outputs. */
  private async ensureSession(): Promise<PowerShellSession> {
    if (this.session && !this.session.dead) return this.session;
    const restart = this.session !== undefined;
    await this.closeSession();
    let session: PowerShellSession;
    try {
      session = await this.options.sessions.start({ env: this.options.shellEnv });
    } catch (error) {
      const hint = error instanceof UserError && error.hint ? ` (${error.hint})` : '';
      throw new SessionFailure(this.options.masker.mask(`${error instanceof Error ? error.message : String(error)}${hint}`));
    }
    this.session = session;
    this.emit({ type: 'session-started', executable: session.info.executable, edition: session.info.edition, version: session.info.version, pid: session.info.pid, restart });
    await this.invokeSetup(session, this.options.plan.prologue, 'connecting (prologue)');
    const restore = restoreOutputsScript(this.outputs);
    if (restore !== '') await this.invokeSetup(session, restore, 'restoring earlier step outputs');
    return session;
  }

  /** Runs a block that is not a step (prologue, epilogue, restored outputs); any failure is a session failure. */
  private async invokeSetup(session: PowerShellSession, script: string, what: string): Promise<void> {
    const outcome = await session.invoke(script, { signal: this.options.interrupt.abortSignal });
    if (outcome.kind === 'completed' && outcome.envelope.ok) return;
    const detail =
      outcome.kind === 'completed' ? (outcome.envelope.ok ? '' : outcome.envelope.error.message) : outcome.kind === 'crashed' ? outcome.reason : outcome.kind.replace('_', ' ');
    throw new SessionFailure(this.options.masker.mask(`${what}: ${detail}`));
  }

  private async closeSession(): Promise<void> {
    const session = this.session;
    if (!session) return;
    if (!session.dead) {
      // Best effort: the epilogue closes the remote Exchange session so it does not count against the user's limit.
      await session.invoke(this.options.plan.epilogue, { timeoutMs: 30_000 }).catch(() => undefined);
    }
    await session.dispose();
  }

  private record(
    step: PlannedStep,
    status: StepStatus,
    attempts: number,
    durationMs: number,
    extra: { outputs?: Readonly<Record<string, unknown>>; error?: StepError; reason?: string; log?: string; continued?: boolean },
  ): void {
    this.results.push({ id: step.id, phase: step.phase, status, changedServer: status === 'changed' || ((status === 'failed' || status === 'timed_out') && step.changes) });
    this.emit({
      type: 'step-finished',
      stepId: step.id,
      phase: step.phase,
      position: step.position,
      total: step.total,
      title: step.title,
      status,
      attempts,
      durationMs,
      outputs: extra.outputs ?? {},
      ...(extra.error ? { error: extra.error } : {}),
      ...(extra.reason !== undefined ? { reason: extra.reason } : {}),
      ...(extra.log ? { log: extra.log } : {}),
      ...(extra.continued ? { continued: true } : {}),
    });
  }

  /** Says which steps changed the server (or may have), so a stopped run never leaves a half-changed server unmentioned. */
  private changedSummary(): string {
    const changed = this.results.filter((result) => result.phase === 'steps' && result.status === 'changed').map((result) => result.id);
    const maybe = this.results.filter((result) => result.phase === 'steps' && result.changedServer && result.status !== 'changed').map((result) => result.id);
    const parts: string[] = [];
    if (changed.length > 0) parts.push(`changed the server: ${changed.join(', ')}`);
    if (maybe.length > 0) parts.push(`may have partly changed it: ${maybe.join(', ')}`);
    return parts.length > 0 ? `. Steps that ${parts.join('; steps that ')}` : '. Nothing on the server was changed';
  }

  /** Nothing is sent to the server that the journal could not record. */
  private assertJournal(): void {
    const problem = this.options.journalProblem?.();
    if (problem !== undefined) throw new JournalFailure(problem);
  }

  private cause(): InterruptCause {
    return this.options.interrupt.cause ?? 'Ctrl-C';
  }

  private resumeHint(): string {
    return `. Resume with --resume ${this.options.runId}`;
  }

  /** Ends the run. `message` is exch-cert's own sentence; what it quotes from PowerShell was masked at the source. */
  private finish(outcome: RunOutcome, message: string, serverLeftChanged = false, end: { readonly leftUndone?: boolean; readonly stoppedBefore?: string } = {}): RunResult {
    const exitCode = serverLeftChanged ? ExitCode.leftChanged : EXIT_CODES[outcome];
    const counts: Record<StepStatus, number> = { ok: 0, changed: 0, skipped: 0, failed: 0, timed_out: 0 };
    for (const result of this.results) counts[result.status]++;
    const summary = this.options.summarize?.(this.outputs);
    this.emit({ type: 'run-finished', outcome, exitCode, durationMs: this.options.clock.now() - this.started, message, counts, serverLeftChanged, ...(end.leftUndone ? { leftUndone: true } : {}), ...(summary ? { summary } : {}) });
    return { outcome, exitCode, message, steps: this.results, outputs: this.outputs, ...(end.stoppedBefore !== undefined ? { stoppedBefore: end.stoppedBefore } : {}) };
  }

  /** The values a step reads from earlier outputs, as they are now. */
  private knownValues(step: PlannedStep): Record<string, unknown> {
    const values: Record<string, unknown> = {};
    for (const reference of step.reads) {
      const match = /^steps\.([^.]+)\.outputs\.(.+)$/.exec(reference);
      if (match?.[1] && match[2]) values[reference] = this.outputs.get(match[1])?.[match[2]];
    }
    return values;
  }

  /** Why a step's run-time `when` is false now, or undefined when it runs (no condition, or one is true). */
  private unmetCondition(step: PlannedStep): string | undefined {
    if (step.when.length === 0) return undefined;
    if (step.when.some((ref) => isTrue(this.outputs.get(ref.step)?.[ref.name]))) return undefined;
    return `when: ${step.when.map((ref) => `steps.${ref.step}.outputs.${ref.name}`).join(' or ')} is false`;
  }

  private emit(event: RunEvent): void {
    this.options.sink.emit(maskEvent(event, this.options.masker));
  }
}

/** One attempt of a step, whoever ran it. */
interface Attempt {
  readonly status: StepStatus;
  readonly outputs: Readonly<Record<string, unknown>>;
  readonly error: StepError;
  readonly log: string;
  /** Stopped by the second Ctrl-C: no retry. */
  readonly aborted: boolean;
}

/**
 * Masks by value only what came from PowerShell or from the runbook (logs, errors, outputs,
 * titles, param values): a secret as short as one letter must not turn exch-cert's own event types,
 * ids and words into asterisks.
 */
function maskEvent(event: RunEvent, masker: Masker): RunEvent {
  const mask = (text: string): string => masker.mask(text);
  const maskError = (error: StepError): StepError => ({
    ...error,
    message: mask(error.message),
    ...(error.category !== undefined ? { category: mask(error.category) } : {}),
    ...(error.fullyQualifiedErrorId !== undefined ? { fullyQualifiedErrorId: mask(error.fullyQualifiedErrorId) } : {}),
  });
  switch (event.type) {
    case 'run-started':
      return { ...event, params: masker.maskValue(event.params) };
    case 'step-started':
      return { ...event, title: mask(event.title) };
    case 'step-retrying':
      return { ...event, error: maskError(event.error) };
    case 'step-finished':
      return {
        ...event,
        title: mask(event.title),
        outputs: masker.maskValue(event.outputs),
        ...(event.error ? { error: maskError(event.error) } : {}),
        ...(event.log !== undefined ? { log: mask(event.log) } : {}),
        ...(event.reason !== undefined ? { reason: mask(event.reason) } : {}),
      };
    case 'run-finished':
      return event.summary ? { ...event, summary: { lines: event.summary.lines.map(mask), data: masker.maskValue(event.summary.data) } } : event;
    default:
      return event;
  }
}

/** A value as PowerShell's [bool] reads it, as Test-ExchCertOutput does: false, 0, '', null and an empty list are false. */
function isTrue(value: unknown): boolean {
  if (Array.isArray(value)) return value.length > 0;
  return value !== undefined && value !== null && value !== false && value !== 0 && value !== '';
}

/**
 * A block that gives a fresh shell the outputs of steps that already ran, so
 * later steps can read them after a restart or on --resume. Values are data:
 * every one is a quoted literal.
 */
export function restoreOutputsScript(outputs: ReadonlyMap<string, Readonly<Record<string, unknown>>>): string {
  const lines: string[] = [];
  for (const [stepId, values] of outputs) {
    const entries = Object.entries(values).map(([name, value]) => `${psString(name)} = ${literalOf(value)}`);
    lines.push(`$global:ExchCert.Outputs[${psString(stepId)}] = @{ ${entries.join('; ')} }`);
  }
  return lines.length === 0 ? '' : ['# exch-cert: outputs of the steps that already ran', ...lines].join('\n');
}

function literalOf(value: unknown): string {
  if (value === null || value === undefined) return '$null';
  if (typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value))) return psLiteral(value);
  if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return psLiteral(value);
  return psString(JSON.stringify(value));
}

function formatMs(ms: number): string {
  return ms >= 60_000 ? `${(ms / 60_000).toFixed(1)}m` : `${(ms / 1000).toFixed(1)}s`;
}
