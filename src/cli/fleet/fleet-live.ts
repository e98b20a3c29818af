import { existsSync, mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { executePlan } from '../../engine/execute.js';
import { Journal, newRunId, readJournal, type ResumeState } from '../../engine/journal.js';
import { Masker, MIN_MASKABLE_LENGTH } from '../../engine/mask.js';
import { collectSecrets } from '../../engine/secrets.js';
import { acquireServerLock, type ServerLock } from '../../engine/server-lock.js';
import { EnvironmentError, ExitCode, InputError, UserError } from '../../errors.js';
import type { FleetSink } from '../../fleet/events.js';
import { FleetJournal, readFleetJournal } from '../../fleet/journal.js';
import { fleetFingerprint, resolveResume } from '../../fleet/resume.js';
import { runFleet, type FleetServer } from '../../fleet/run-fleet.js';
import { redirectTargets, selectServers, type Inventory } from '../../fleet/servers.js';
import { createTlsCheck, skippedTlsCheck } from '../../fleet/tls-check.js';
import { psString, psStringArray } from '../../powershell/quote.js';
import type { SessionFactory } from '../../powershell/session.js';
import { quoteUntrusted } from '../../text/untrusted.js';
import { canPrompt } from '../confirm.js';
import { ensureWritableDirectory } from '../files.js';
import { Interrupts } from '../interrupt.js';
import { realClock } from '../clock.js';
import { captureCtrlC } from '../live-run.js';
import { DEFAULT_JOURNAL_DIR } from '../journal-dir.js';
import { displayPath, loadRunbook, planFor } from '../load-plan.js';
import { createLocalSteps } from '../local-steps.js';
import { shippedRunbook } from '../package-root.js';
import { resolveShell } from '../shell.js';
import { runSimulatorSetup } from '../simulator-state.js';
import type { CliIo, Terminal } from '../terminal.js';
import { FleetJsonReporter, FleetTextReporter, promptForFleet } from './fleet-reporter.js';
import { planServers, type FleetRenewOptions, type FleetRequest } from './renew-fleet.js';

/**
 * A fleet run for real: everything that can stop it is settled before the first server is touched
 * (confirmations that cannot be asked, secrets, the journal folder, the PFX, the organisation's
 * servers, --resume, a lock on every server); then src/fleet runs it.
 */
export async function runFleetLive(fleet: FleetRequest, options: FleetRenewOptions, io: CliIo, terminal: Terminal): Promise<number> {
  const interactive = canPrompt(io.stdin, io.stderr, io.env);
  // The first server's plan before the organisation is asked: what every plan needs (secrets, confirmations) is the same.
  const first = fleet.names[0] ?? '';
  const [sample] = planServers(fleet, [first], fleet.maintenance ? new Map([[first, fleet.names[1] ?? first]]) : undefined);
  if (!sample) throw new InputError('no server given', 'pass --server NAME');
  const needConfirmation = sample.steps.filter((step) => step.confirm && !step.skipped);
  if (needConfirmation.length > 0 && !options.yes && !interactive) {
    throw new UserError(`step ${needConfirmation.map((step) => step.id).join(', ')} needs confirmation and there is no terminal to ask; nothing was run`, ExitCode.confirmationRequired, 'review the plans with --dry-run, then run again with --yes');
  }
  const secrets = collectSecrets(sample, io.env);
  for (const variable of secrets.short) io.stderr.write(`${terminal.color.yellow('exch-cert: warning:')} the secret in ${variable} is shorter than ${MIN_MASKABLE_LENGTH} characters: exch-cert hides secrets in output by their value, which cannot protect one that short\n`);
  const masker = new Masker(secrets.values);
  const journalDir = resolve(io.cwd, options.journalDir ?? DEFAULT_JOURNAL_DIR);
  ensureWritableDirectory(journalDir, '--journal-dir');
  const thumbprint = await newThumbprint(options, sample, io);

  const { createNodePowerShellFactory } = await import('../../powershell/node-powershell.js');
  const sessions = createNodePowerShellFactory({ shell: resolveShell(options.shell, io.env), mask: (text) => masker.mask(text) });
  const simulator = (server: string): Record<string, string> => (fleet.simulateState !== undefined ? { EXCH_CERT_SIMULATOR_STATE: fleet.simulateState, EXCH_CERT_SIMULATOR_HOST: server } : {});
  if (fleet.simulateState !== undefined) await ensureOrganisation(sessions, fleet.simulateState, fleet.names, io, terminal);

  const inventory = await askForServers(fleet, sessions, masker, { ...secrets.shellEnv, ...simulator(fleet.names[0] ?? '') }, io, terminal);
  const selected = selectServers(fleet.names, fleet.allServers, inventory);
  const plans = planServers(fleet, selected.map((server) => server.name), fleet.maintenance ? redirectTargets(selected, inventory) : undefined);
  const servers: FleetServer[] = selected.map((server, index) => ({ ...server, plan: plans[index] ?? sample, shellEnv: { ...secrets.shellEnv, ...simulator(server.name) } }));
  const fingerprint = fleetFingerprint(servers, fleet.maintenance !== undefined);
  const resume = options.resume !== undefined ? resumeOf(options.resume, journalDir, servers, fingerprint, options.force === true) : undefined;

  const runId = newRunId(new Date());
  const runner = { host: hostname(), pid: process.pid };
  const locks = lockAll(journalDir, servers, runId, runner, options);
  const journal = FleetJournal.create(journalDir, runId);
  const shown = (id: string): string => displayPath(join(journalDir, `${id}.jsonl`), io.cwd);
  const reporter: FleetSink = options.json ? new FleetJsonReporter(io, runId) : new FleetTextReporter(io, terminal, options.verbose === true, shown);
  const sink: FleetSink = { emit: (event) => (journal.emit(event), reporter.emit(event)) };
  const interrupts = new Interrupts({ emit: (event) => event.type === 'interrupt' && sink.emit({ type: 'interrupt', stage: event.stage, cause: event.cause }) });
  interrupts.install();
  const keys = interactive ? captureCtrlC(io, interrupts) : undefined;
  const ignoreWriteErrors = (): void => undefined;
  process.stderr.on('error', ignoreWriteErrors);
  try {
    const verify =
      fleet.ports.length === 0
        ? skippedTlsCheck('--verify-ports none')
        : fleet.simulateState !== undefined && fleet.tlsAddresses.size === 0
          ? skippedTlsCheck('in a rehearsal the verify step of each server\u2019s renewal checks its endpoints on loopback')
          : createTlsCheck({ connect: (await import('../../tls/connect.js')).connectTls, clock: { now: () => new Date() }, thumbprint, servername: String(sample.params.find((param) => param.name === 'fqdn')?.value ?? options.fqdn ?? ''), ports: fleet.ports, addresses: fleet.tlsAddresses });
    const result = await runFleet({
      runId,
      servers,
      maxParallel: fleet.maxParallel,
      sessions,
      masker,
      interrupt: interrupts,
      clock: realClock(io.env),
      runner,
      sink,
      fingerprint,
      toolVersion: sample.tool.version,
      ...(fleet.maintenance ? { maintenance: fleet.maintenance } : {}),
      ...(resume ? { resume } : {}),
      openJournal: (id) => Journal.create(journalDir, id),
      journalProblem: () => journal.problem,
      localStepsFor: (server) => createLocalSteps(fleet.simulateState !== undefined ? { statePath: fleet.simulateState, server: server.plan.connection.server } : undefined),
      verify,
      confirm: async (request) => {
        if (options.yes) return 'assumed-yes';
        keys?.pause();
        try {
          return await promptForFleet(request, process.stdin, io.stderr as NodeJS.WritableStream, interrupts.stopSignal);
        } finally {
          keys?.resume();
        }
      },
    });
    io.stderr.write(terminal.color.dim(`journal: ${shown(runId)}\n`));
    return result.exitCode;
  } finally {
    keys?.stop();
    interrupts.uninstall();
    process.stderr.off('error', ignoreWriteErrors);
    journal.close();
    for (const lock of locks) lock.release();
  }
}

/** The thumbprint every server must serve afterwards: the PFX's, read here as verify-tls --pfx reads it. */
async function newThumbprint(options: FleetRenewOptions, sample: { readonly secrets: ReadonlyArray<{ readonly param: string; readonly env: string }> }, io: CliIo): Promise<string> {
  if (options.pfx === undefined) throw new InputError('--pfx is needed: every server must serve its certificate afterwards');
  const env = sample.secrets.find((secret) => secret.param === 'pfxPassword')?.env ?? 'EXCH_CERT_PFX_PASSWORD';
  const { describePfx, readPfx, readPfxFile } = await import('../../certificate/index.js');
  try {
    return describePfx(readPfx(await readPfxFile(resolve(io.cwd, options.pfx), options.pfx), io.env[env] ?? '')).certificate.thumbprint;
  } catch (error) {
    throw new InputError(`--pfx ${quoteUntrusted(options.pfx)}: ${(error as Error).message}`, 'exch-cert inspect PFX says what is wrong with it');
  }
}

/** Get-ExchangeServer, asked of the first server named (runbooks/exchange-servers.yaml). */
async function askForServers(fleet: FleetRequest, sessions: SessionFactory, masker: Masker, shellEnv: Readonly<Record<string, string>>, io: CliIo, terminal: Terminal): Promise<Inventory> {
  const askedOf = fleet.names[0] ?? '';
  const plan = planFor(await loadRunbook(shippedRunbook('exchange-servers'), io, terminal), { ...fleet.request, varFlags: [], named: new Map([['server', { flag: '--server', value: askedOf }]]), server: askedOf }).plan;
  const never = new AbortController();
  const result = await executePlan({
    plan,
    runId: newRunId(new Date()),
    sessions,
    shellEnv,
    sink: { emit: () => undefined },
    masker,
    confirm: () => Promise.resolve('no'),
    interrupt: { stopRequested: false, abortSignal: never.signal },
    clock: realClock(io.env),
    runner: { host: hostname(), pid: process.pid },
  });
  const outputs = result.outputs.get('servers');
  const list = (name: string): string[] => (Array.isArray(outputs?.[name]) ? (outputs[name] as unknown[]).map(String) : []);
  if (result.outcome !== 'ok' || !outputs) {
    throw new UserError(`cannot ask ${askedOf} for the servers of the organisation (${result.message}); nothing was changed`, result.exitCode === ExitCode.ok ? ExitCode.environment : result.exitCode, 'check that the first --server can be reached, as a single-server renewal would');
  }
  return { askedOf, mailbox: list('mailbox'), mailboxFqdns: list('mailboxFqdns'), edge: list('edge') };
}

/** --resume of a fleet run: what each server does, and the run must no longer be running here. */
function resumeOf(id: string, journalDir: string, servers: readonly FleetServer[], fingerprint: string, force: boolean): { runId: string; servers: ReturnType<typeof resolveResume> } {
  const earlier = readFleetJournal(journalDir, id);
  if (earlier.host === hostname() && earlier.pid !== undefined && earlier.pid !== process.pid && isAlive(earlier.pid)) {
    throw new InputError(`fleet run ${id} is still running here (process ${earlier.pid}): resuming now would run its steps twice`, 'wait for it to end (or stop it), then resume');
  }
  const readServer = (runId: string): ResumeState | undefined => (existsSync(join(journalDir, `${runId}.jsonl`)) ? readJournal(journalDir, runId) : undefined);
  return { runId: id, servers: resolveResume(earlier, servers, fingerprint, readServer, force) };
}

/** A lock on every server, or on none: a second fleet run touching any of them is refused (exit 2). */
function lockAll(journalDir: string, servers: readonly FleetServer[], runId: string, runner: { host: string; pid: number }, options: FleetRenewOptions): ServerLock[] {
  const locks: ServerLock[] = [];
  try {
    for (const server of servers) locks.push(acquireServerLock(journalDir, { runId, ...runner, startedAt: new Date().toISOString(), server: server.name }, { force: options.force === true, resumeOf: options.resume }));
  } catch (error) {
    for (const lock of locks) lock.release();
    throw error;
  }
  return locks;
}

/** With --simulate: an organisation with the servers named, unless the state file exists. */
async function ensureOrganisation(sessions: SessionFactory, statePath: string, names: readonly string[], io: CliIo, terminal: Terminal): Promise<void> {
  if (existsSync(statePath)) return;
  mkdirSync(dirname(statePath), { recursive: true });
  try {
    await runSimulatorSetup(sessions, `New-ExchCertSimulatorState -Path ${psString(statePath)} -Servers ${psStringArray(names.map((name) => name.split('.')[0] ?? name))}`, {});
  } catch (error) {
    throw new EnvironmentError(`cannot create the simulated organisation: ${(error as Error).message}`);
  }
  io.stderr.write(terminal.color.dim(`exch-cert: created a simulated Exchange organisation (${names.join(', ')}) in ${statePath}\n`));
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
