import type { ConfirmationAnswer, EventSink, RunEvent } from '../engine/events.js';
import { executePlan, type Clock, type Interrupt } from '../engine/execute.js';
import type { LocalStepRunners } from '../engine/local-step.js';
import type { ResumeState } from '../engine/journal.js';
import type { Masker } from '../engine/mask.js';
import { ExitCode } from '../errors.js';
import type { Plan, PlannedStep } from '../plan/compile.js';
import type { SessionFactory } from '../powershell/session.js';
import type { FleetSink, ServerSummary, VerifyResult } from './events.js';
import { summarizeRun, worstExitCode, type MaintenanceSteps } from './outcome.js';
import { runPool } from './pool.js';
import type { ServerResume } from './resume.js';

/** Preflights are read-only: at least this many run at once, whatever --max-parallel says. */
export const PREFLIGHT_PARALLEL = 4;

/** One server of a fleet run and the plan that renews it. */
export interface FleetServer {
  readonly name: string;
  /** Its own FQDN (from Get-ExchangeServer), where a client reaches this server and no other. */
  readonly fqdn: string;
  readonly plan: Plan;
  /** The environment of its shells: the plan's secrets, and for the simulator which server the shell is on. */
  readonly shellEnv: Readonly<Record<string, string>>;
}

/** A server run's journal: an event sink that can fail (a full disk) and is closed after the run. */
export interface ServerJournal extends EventSink {
  readonly problem: string | undefined;
  close(): void;
}

/** The one confirmation of a fleet run: these steps, on these servers. */
export interface FleetConfirmation {
  readonly steps: readonly PlannedStep[];
  readonly servers: readonly string[];
}

export interface FleetOptions {
  readonly runId: string;
  /** In order: the first is the canary. */
  readonly servers: readonly FleetServer[];
  readonly maxParallel: number;
  readonly sessions: SessionFactory;
  readonly masker: Masker;
  readonly interrupt: Interrupt;
  readonly clock: Clock;
  readonly runner: { readonly host: string; readonly pid: number };
  readonly sink: FleetSink;
  /** What identifies this fleet run for a later --resume (the servers and their plans). */
  readonly fingerprint: string;
  readonly toolVersion: string;
  /** With --drain: the steps of each plan that take its server out of service and back. */
  readonly maintenance?: MaintenanceSteps;
  /** Each server's state from the run being resumed, by lower-case name. */
  readonly resume?: { readonly runId: string; readonly servers: ReadonlyMap<string, ServerResume> };
  /** The journal of one server's renewal run. */
  openJournal(runId: string): ServerJournal;
  /** Asked once, after every preflight passed and before the first change, when steps need confirmation. */
  confirm(request: FleetConfirmation): Promise<ConfirmationAnswer>;
  /** The runners of the steps exch-cert runs itself (the renewal's TLS probe and check), for one server's plan. */
  localStepsFor?(server: FleetServer): LocalStepRunners;
  /** Whether clients that reach this server directly get the new certificate. */
  verify(server: FleetServer): Promise<VerifyResult>;
  /** Why the fleet journal can no longer be written, once that happened: no further server starts. */
  journalProblem?(): string | undefined;
}

export interface FleetResult {
  readonly outcome: 'ok' | 'failed' | 'refused' | 'declined' | 'interrupted';
  readonly exitCode: number;
  readonly message: string;
  readonly servers: readonly ServerSummary[];
}

/**
 * Renews every server of a fleet, never worse than it started:
 * 1. a preflight of every server (its plan up to its first changing step, read-only, several at
 *    once): one that cannot be reached or refuses stops the run before anything changed anywhere;
 * 2. one confirmation for the whole fleet, when the plans need one;
 * 3. the canary: the first server alone, renewed, then checked the way clients see it (TLS);
 * 4. the rest, at most `maxParallel` at once, one PowerShell session each; a failure (or Ctrl-C)
 *    starts no further server, while those running finish; servers renewed stay renewed;
 * 5. every renewed server checked again, so the namespace serves one certificate.
 * Each server's renewal is an engine run with its own journal (`<runId>-<server>`); the summary
 * has one line per server, and the exit code is the worst server's.
 */
export async function runFleet(options: FleetOptions): Promise<FleetResult> {
  return new Fleet(options).run();
}

class Fleet {
  private readonly summaries = new Map<string, ServerSummary>();
  private readonly started: number;
  private answer: ConfirmationAnswer = 'yes';
  /** Why no further server starts, once something went wrong. */
  private stopCause: string | undefined;
  private canaryChecked = false;

  constructor(private readonly options: FleetOptions) {
    this.started = options.clock.now();
  }

  async run(): Promise<FleetResult> {
    const { options } = this;
    const resume = options.resume;
    options.sink.emit({
      type: 'fleet-started',
      runId: options.runId,
      servers: options.servers.map((server) => server.name),
      maxParallel: options.maxParallel,
      drain: options.maintenance !== undefined,
      fingerprint: options.fingerprint,
      toolVersion: options.toolVersion,
      host: options.runner.host,
      pid: options.runner.pid,
      ...(resume
        ? {
            resumedFrom: resume.runId,
            previous: options.servers.flatMap((server) => {
              const earlier = resume.servers.get(key(server));
              return earlier?.earlierRunId !== undefined ? [{ server: server.name, runId: earlier.earlierRunId, ...(earlier.outcome ? { outcome: earlier.outcome } : {}) }] : [];
            }),
          }
        : {}),
    });
    for (const server of options.servers) {
      const earlier = resume?.servers.get(key(server));
      if (earlier?.kind === 'done') this.record({ server: server.name, outcome: 'done-before', exitCode: ExitCode.ok, message: `renewed by run ${earlier.earlierRunId ?? resume?.runId ?? ''}`, runId: earlier.earlierRunId ?? '', inMaintenance: false });
    }
    const pending = options.servers.filter((server) => !this.summaries.has(server.name));

    const refusal = await this.preflight(pending);
    if (refusal) return refusal;
    const declined = await this.confirm(pending);
    if (declined) return declined;

    const [canary, ...rest] = options.servers;
    if (canary && (await this.renewCanary(canary))) {
      await runPool(
        rest.filter((server) => !this.summaries.has(server.name)),
        options.maxParallel,
        () => this.mayStart(),
        (server) => this.renew(server, 'rest'),
      );
    }
    for (const server of options.servers) {
      if (!this.summaries.has(server.name)) this.record({ server: server.name, outcome: 'not-started', exitCode: ExitCode.ok, message: `not started: ${this.stopCause ?? 'the run stopped'}`, inMaintenance: false });
    }
    await this.verifyAll();
    return this.finish();
  }

  /** Every pending server's plan up to its first change. Returns the fleet's end when one refused. */
  private async preflight(pending: readonly FleetServer[]): Promise<FleetResult | undefined> {
    const { options } = this;
    const results = await runPool(pending, Math.max(options.maxParallel, PREFLIGHT_PARALLEL), () => !options.interrupt.stopRequested, async (server) => {
      const runId = `${options.runId}-${key(server)}-preflight`;
      const result = await executePlan({
        plan: server.plan,
        runId,
        sessions: options.sessions,
        shellEnv: server.shellEnv,
        sink: this.forward(server, runId, 'preflight'),
        masker: options.masker,
        confirm: () => Promise.resolve('assumed-yes'),
        interrupt: options.interrupt,
        clock: options.clock,
        runner: options.runner,
        ...(options.localStepsFor ? { localSteps: options.localStepsFor(server) } : {}),
        until: 'first-change',
      });
      options.sink.emit({ type: 'preflight-finished', server: server.name, ok: result.outcome === 'ok', exitCode: result.exitCode, message: result.message });
      return result;
    });
    const refused = pending.flatMap((server, index) => {
      const result = results[index];
      return result && result.outcome !== 'ok' && result.outcome !== 'interrupted' ? [{ server, result }] : [];
    });
    if (refused.length === 0 && !options.interrupt.stopRequested) return undefined;
    for (const { server, result } of refused) this.record({ server: server.name, outcome: 'refused', exitCode: result.exitCode, message: result.message, inMaintenance: false });
    const cause = refused.length > 0 ? `the preflight of ${refused.map(({ server }) => server.name).join(', ')} refused` : `stopped by ${options.interrupt.cause ?? 'Ctrl-C'} during the preflight`;
    for (const server of options.servers) {
      if (!this.summaries.has(server.name)) this.record({ server: server.name, outcome: 'not-started', exitCode: ExitCode.ok, message: `not started: ${cause}`, inMaintenance: false });
    }
    return refused.length > 0 ? this.finish(`${cause}; nothing was changed on any server`, 'refused') : this.finish(`${cause}; nothing was changed on any server`, 'interrupted', ExitCode.interrupted);
  }

  /** One confirmation for every server, before the first change. Returns the fleet's end when not given. */
  private async confirm(pending: readonly FleetServer[]): Promise<FleetResult | undefined> {
    const steps = pending[0]?.plan.steps.filter((step) => step.confirm && !step.skipped) ?? [];
    if (steps.length === 0) return undefined;
    this.answer = await this.options.confirm({ steps, servers: pending.map((server) => server.name) });
    if (this.answer !== 'no' && this.answer !== 'interrupted') return undefined;
    for (const server of pending) {
      this.record({ server: server.name, outcome: this.answer === 'no' ? 'declined' : 'interrupted', exitCode: ExitCode.ok, message: 'not started: the confirmation was not given', inMaintenance: false });
    }
    const what = this.answer === 'no' ? 'the confirmation was declined' : `stopped by ${this.options.interrupt.cause ?? 'Ctrl-C'} at the confirmation`;
    return this.finish(`${what}; nothing was changed on any server`, this.answer === 'no' ? 'declined' : 'interrupted', this.answer === 'no' ? ExitCode.confirmationRequired : ExitCode.interrupted);
  }

  /** The canary alone: renewed (unless done before), then checked as clients see it. True when the rest may follow. */
  private async renewCanary(canary: FleetServer): Promise<boolean> {
    const before = this.summaries.get(canary.name);
    const summary = before ?? (await this.renew(canary, 'canary'));
    if (summary.outcome !== 'renewed' && summary.outcome !== 'done-before') return false;
    const check = await this.options.verify(canary);
    this.canaryChecked = true;
    this.options.sink.emit({ type: 'server-verified', server: canary.name, stage: 'canary', ...check });
    if (check.ok) return true;
    this.record({ ...summary, outcome: 'not-verified', exitCode: ExitCode.failed, message: `renewed, but ${check.summary}` });
    this.stopCause = `the canary ${canary.name} does not serve the new certificate`;
    return false;
  }

  /** One server's renewal, in its own session and journal. */
  private async renew(server: FleetServer, wave: 'canary' | 'rest'): Promise<ServerSummary> {
    const { options } = this;
    const runId = `${options.runId}-${key(server)}`;
    const earlier = options.resume?.servers.get(key(server));
    const resume: ResumeState | undefined = earlier?.kind === 'resume' ? earlier.state : undefined;
    options.sink.emit({ type: 'server-started', server: server.name, runId, wave, ...(resume ? { resumedFrom: resume.runId } : {}) });
    const journal = options.openJournal(runId);
    const forward = this.forward(server, runId, 'renewal');
    try {
      const result = await executePlan({
        plan: server.plan,
        runId,
        sessions: options.sessions,
        shellEnv: server.shellEnv,
        sink: { emit: (event) => (journal.emit(event), forward.emit(event)) },
        masker: options.masker,
        confirm: () => Promise.resolve(this.answer),
        interrupt: options.interrupt,
        clock: options.clock,
        runner: options.runner,
        journalProblem: () => journal.problem,
        ...(options.localStepsFor ? { localSteps: options.localStepsFor(server) } : {}),
        ...(resume ? { resume } : {}),
      });
      const summary = summarizeRun(server.name, runId, result, options.maintenance, resume);
      this.record(summary);
      if (summary.outcome !== 'renewed') this.stopCause ??= `${server.name} ${summary.outcome === 'interrupted' ? 'was stopped' : 'was not renewed'}`;
      return summary;
    } finally {
      journal.close();
    }
  }

  private mayStart(): boolean {
    const { options } = this;
    if (options.interrupt.stopRequested) this.stopCause ??= `stopped by ${options.interrupt.cause ?? 'Ctrl-C'}`;
    const problem = options.journalProblem?.();
    if (problem !== undefined) this.stopCause ??= `the fleet journal cannot be written (${problem})`;
    return this.stopCause === undefined;
  }

  /** At the end, every renewed server once more: the namespace must serve one certificate. */
  private async verifyAll(): Promise<void> {
    const renewed = this.options.servers.filter((server) => {
      const outcome = this.summaries.get(server.name)?.outcome;
      return outcome === 'renewed' || outcome === 'done-before';
    });
    // A fleet of one: its canary check was the last word.
    if (renewed.length === 0 || (this.options.servers.length === 1 && this.canaryChecked)) return;
    const checks = await Promise.all(renewed.map(async (server) => ({ server, check: await this.options.verify(server) })));
    for (const { server, check } of checks) {
      this.options.sink.emit({ type: 'server-verified', server: server.name, stage: 'final', ...check });
      const summary = this.summaries.get(server.name);
      if (!check.ok && summary) this.record({ ...summary, outcome: 'not-verified', exitCode: ExitCode.failed, message: `renewed, but ${check.summary}` });
    }
  }

  private record(summary: ServerSummary): void {
    this.summaries.set(summary.server, summary);
    this.options.sink.emit({ type: 'server-finished', ...summary });
  }

  /** The events of one server's run, for the fleet's sink. */
  private forward(server: FleetServer, runId: string, phase: 'preflight' | 'renewal'): EventSink {
    return { emit: (event: RunEvent) => this.options.sink.emit({ type: 'server-event', server: server.name, runId, phase, event }) };
  }

  private finish(cause?: string, outcome?: FleetResult['outcome'], exitCode?: number): FleetResult {
    const servers = this.options.servers.map((server) => this.summaries.get(server.name)).filter((summary): summary is ServerSummary => summary !== undefined);
    const code = exitCode ?? worstExitCode(servers.map((summary) => summary.exitCode));
    const renewed = servers.filter((summary) => summary.outcome === 'renewed' || summary.outcome === 'done-before').length;
    const inMaintenance = servers.filter((summary) => summary.inMaintenance).map((summary) => summary.server);
    const message = [
      cause ?? `${renewed} of ${servers.length} server(s) renewed${this.stopCause ? `; ${this.stopCause}` : ''}`,
      inMaintenance.length > 0 && `still in maintenance mode: ${inMaintenance.join(', ')}`,
      code !== ExitCode.ok && cause === undefined && `resume with --resume ${this.options.runId}`,
    ]
      .filter(Boolean)
      .join('. ');
    const result: FleetResult = { outcome: outcome ?? outcomeOf(code), exitCode: code, message, servers };
    this.options.sink.emit({ type: 'fleet-finished', outcome: result.outcome, exitCode: code, durationMs: this.options.clock.now() - this.started, message, servers });
    return result;
  }
}

function outcomeOf(code: number): FleetResult['outcome'] {
  if (code === ExitCode.ok) return 'ok';
  if (code === ExitCode.interrupted) return 'interrupted';
  if (code === ExitCode.confirmationRequired) return 'declined';
  return 'failed';
}

function key(server: FleetServer): string {
  return server.name.toLowerCase();
}
