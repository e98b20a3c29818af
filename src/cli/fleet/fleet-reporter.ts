import { createInterface } from 'node:readline/promises';
import type { RunEvent, StepStatus } from '../../engine/events.js';
import type { FleetEvent, FleetSink, ServerOutcome, ServerSummary } from '../../fleet/events.js';
import type { FleetConfirmation } from '../../fleet/run-fleet.js';
import { escapeBlock, escapeControls, escapeUntrusted } from '../../text/untrusted.js';
import type { CliIo, Terminal } from '../terminal.js';

const MARKS: Record<StepStatus, string> = { ok: '✔', changed: '✔', skipped: '-', failed: '✖', timed_out: '⏱' };
const GOOD: ReadonlySet<ServerOutcome> = new Set(['renewed', 'done-before']);

/**
 * A fleet run for people, on stderr: one line per finished step, prefixed with its server (servers
 * run side by side, so there are no spinners), each server's start, end and TLS check, and a
 * summary table with one line per server.
 */
export class FleetTextReporter implements FleetSink {
  private width = 6;

  constructor(
    private readonly io: CliIo,
    private readonly terminal: Terminal,
    private readonly verbose: boolean,
    private readonly journalPath: (runId: string) => string,
  ) {}

  emit(event: FleetEvent): void {
    const { color } = this.terminal;
    switch (event.type) {
      case 'fleet-started':
        this.width = Math.max(6, ...event.servers.map((server) => server.length));
        this.line(
          `${color.bold('exch-cert')}: ${event.resumedFrom ? `resuming fleet run ${event.resumedFrom} as ` : ''}fleet run ${event.runId} on ${event.servers.join(', ')}: ${event.servers[0] ?? ''} first (the canary), then ${event.maxParallel} at a time${event.drain ? ', each in maintenance mode' : ''}`,
        );
        return;
      case 'interrupt':
        this.line(color.yellow(event.stage === 'stop-after-step' ? `${event.cause}: each server finishes its current step, then stops; no other server starts. ${event.cause === 'Ctrl-C' ? 'Press Ctrl-C' : `Send ${event.cause}`} again to abort the steps.` : `${event.cause} again: aborting the running steps.`));
        return;
      case 'preflight-finished':
        this.line(`${this.name(event.server)}  ${event.ok ? color.green('preflight ok') : color.red('preflight refused')}: ${escapeControls(event.message)}`);
        return;
      case 'server-started':
        this.line(`${this.name(event.server)}  ${color.bold(event.wave === 'canary' ? 'renewing (the canary)' : 'renewing')}${event.resumedFrom ? `, resuming run ${event.resumedFrom}` : ''}`);
        return;
      case 'server-event':
        if (event.phase === 'renewal' || event.event.type === 'step-finished') this.serverEvent(event.server, event.event);
        return;
      case 'server-verified':
        this.line(`${this.name(event.server)}  ${event.skipped ? color.yellow('TLS') : event.ok ? color.green('TLS') : color.red('TLS')} (${event.stage === 'canary' ? 'the canary' : 'every server'}): ${escapeUntrusted(event.summary)}`);
        return;
      case 'server-finished':
        if (event.outcome === 'not-started' || event.outcome === 'done-before') return;
        this.line(`${this.name(event.server)}  ${GOOD.has(event.outcome) ? color.green(event.outcome) : color.red(event.outcome)}: ${escapeControls(event.message)}`);
        return;
      case 'fleet-finished':
        this.summary(event.servers);
        this.line(`${event.outcome === 'ok' ? color.green('done') : color.red(event.outcome)}: ${escapeControls(event.message)} (${seconds(event.durationMs)}, exit ${event.exitCode})`);
        return;
    }
  }

  private serverEvent(server: string, event: RunEvent): void {
    const { color } = this.terminal;
    if (event.type === 'rollback-started') this.line(`${this.name(server)}  ${color.yellow(`running onFailure steps after ${event.failedStepId}: ${event.steps.join(', ')}`)}`);
    if (event.type !== 'step-finished') return;
    const failed = event.status === 'failed' || event.status === 'timed_out';
    const mark = failed ? color.red(MARKS[event.status]) : event.status === 'skipped' ? color.dim(MARKS.skipped) : color.green(MARKS[event.status]);
    const label = event.phase === 'steps' ? `[${event.position}/${event.total}]` : `[onFailure ${event.position}/${event.total}]`;
    const detail = event.status === 'skipped' ? `skipped${event.reason ? `: ${event.reason}` : ''}` : `${event.status.replace('_', ' ')} in ${seconds(event.durationMs)}`;
    this.line(`${this.name(server)}  ${mark} ${label} ${event.stepId}: ${escapeUntrusted(event.title)} ${color.dim(escapeUntrusted(detail))}`);
    if (failed && event.error) for (const errorLine of escapeBlock(event.error.message).split('\n')) this.line(`${this.name(server)}    ${color.red(errorLine)}`);
    if (event.log && (failed || this.verbose)) for (const logLine of escapeBlock(event.log.trimEnd()).split('\n')) this.line(`${this.name(server)}    ${color.dim(`| ${logLine}`)}`);
  }

  private summary(servers: readonly ServerSummary[]): void {
    const { color } = this.terminal;
    this.line('');
    this.line(color.bold(`${'server'.padEnd(this.width)}  ${'outcome'.padEnd(13)}  exit  journal`));
    for (const server of servers) {
      const outcome = (server.inMaintenance ? `${server.outcome}!` : server.outcome).padEnd(13);
      const painted = GOOD.has(server.outcome) ? color.green(outcome) : server.outcome === 'not-started' ? color.dim(outcome) : color.red(outcome);
      const exit = server.outcome === 'not-started' ? '-' : String(server.exitCode);
      this.line(`${server.server.padEnd(this.width)}  ${painted}  ${exit.padStart(4)}  ${server.runId ? this.journalPath(server.runId) : ''}`);
    }
    const inMaintenance = servers.filter((server) => server.inMaintenance);
    if (inMaintenance.length > 0) this.line(color.red(`! still in maintenance mode (out of service): ${inMaintenance.map((server) => server.server).join(', ')}; bring each back with Set-ServerComponentState SERVER -Component ServerWideOffline -Requester Maintenance -State Active (and HubTransport), or --resume`));
    this.line('');
  }

  private name(server: string): string {
    return this.terminal.color.cyan(server.padEnd(this.width));
  }

  private line(text: string): void {
    try {
      this.io.stderr.write(`${text}\n`);
    } catch {
      // The terminal closed (SIGHUP): the journals still record everything.
    }
  }
}

/** `--json`: every fleet event as one JSON line on stdout; the last (`fleet-finished`) carries the exit code. */
export class FleetJsonReporter implements FleetSink {
  constructor(
    private readonly io: CliIo,
    private readonly runId: string,
  ) {}

  emit(event: FleetEvent): void {
    this.io.stdout.write(JSON.stringify({ v: 1, ts: new Date().toISOString(), fleetRunId: this.runId, ...event }) + '\n');
  }
}

/**
 * The fleet's one question, before the first change on any server: these steps, on every server
 * (each acting on its own certificates). Anything but y/yes is no; Ctrl-C is `interrupted`.
 */
export async function promptForFleet(request: FleetConfirmation, input: NodeJS.ReadableStream, output: NodeJS.WritableStream, signal: AbortSignal): Promise<'yes' | 'no' | 'interrupted'> {
  const readline = createInterface({ input, output, terminal: true });
  const controller = new AbortController();
  const abort = (): void => controller.abort();
  signal.addEventListener('abort', abort, { once: true });
  readline.once('SIGINT', abort);
  try {
    const steps = request.steps.map((step) => `  ${step.id} (${step.action})${step.destructive ? ', cannot be undone' : ''}: ${escapeUntrusted(step.title)}`).join('\n');
    const answer = await readline.question(`\nEvery preflight passed. On each of ${request.servers.join(', ')}, with that server's own certificates:\n${steps}\nRun the renewal on every server? [y/N] `, { signal: controller.signal });
    return /^y(es)?$/i.test(answer.trim()) ? 'yes' : 'no';
  } catch (error) {
    if (controller.signal.aborted) return 'interrupted';
    throw error;
  } finally {
    signal.removeEventListener('abort', abort);
    readline.close();
  }
}

function seconds(ms: number): string {
  return ms >= 60_000 ? `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1000)}s` : `${(ms / 1000).toFixed(1)}s`;
}
