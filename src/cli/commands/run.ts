import { dirname, join, resolve } from 'node:path';
import { InputError, ExitCode } from '../../errors.js';
import type { Plan } from '../../plan/compile.js';
import type { Runbook } from '../../runbook/model.js';
import { encodePs1File, renderScript } from '../../plan/render.js';
import { writeNewFile } from '../files.js';
import { checkRenewalPfx } from '../renewal-pfx.js';
import { displayPath, loadPlan, type NamedFlag, type PlanRequest } from '../load-plan.js';
import { DEFAULT_JOURNAL_DIR } from '../journal-dir.js';
import { checkLocalPfx, pfxPasswordCheck } from '../local-pfx.js';
import { escapeBlock, safeJson } from '../../text/untrusted.js';
import { shippedRunbook } from '../package-root.js';
import { resumeInvocation, type InvocationParts, type RunRecord } from '../resume.js';
import { simulatorModulePath, defaultSimulatorDir } from '../simulator.js';
import type { CliIo, Terminal } from '../terminal.js';
import { isFleetRun, type FleetFlags } from '../fleet/options.js';

export interface RunOptions {
  readonly var?: string[];
  readonly dryRun?: boolean;
  readonly output?: string;
  readonly json?: boolean;
  readonly connect?: string;
  readonly credentialEnv?: string;
  readonly remoteSessionModule?: string;
  readonly server?: string;
  readonly shell?: string;
  readonly yes?: boolean;
  readonly simulate?: string | boolean;
  readonly journalDir?: string;
  readonly resume?: string;
  readonly force?: boolean;
  readonly verbose?: boolean;
}

interface RenewOptions extends RunOptions, FleetFlags {
  readonly pfx?: string;
  readonly fqdn?: string;
  readonly friendlyName?: string;
  readonly services?: string;
  readonly backupDir?: string;
  readonly runbook?: string;
}

/**
 * What the command line asks for, before the runbook is read: the runbook, the param values
 * (--var and the named flags), the connection. It is recorded in the journal, so that --resume
 * can ask for the same again.
 */
export type Invocation = InvocationParts;

/** Renew's flags and the runbook params they set. */
const RENEW_FLAGS: ReadonlyArray<readonly [keyof RenewOptions, string, string]> = [
  ['server', 'server', '--server'],
  ['pfx', 'pfxPath', '--pfx'],
  ['fqdn', 'fqdn', '--fqdn'],
  ['friendlyName', 'friendlyName', '--friendly-name'],
  ['services', 'services', '--services'],
  ['backupDir', 'backupDirectory', '--backup-dir'],
];

/** `exch-cert renew`: the renewal runbook with its params taken from named flags. */
export async function renewCommand(options: RenewOptions, io: CliIo, terminal: Terminal): Promise<number> {
  const named = new Map<string, NamedFlag>();
  for (const [option, param, flag] of RENEW_FLAGS) named.set(param, { flag, value: options[option] as string | undefined });
  // A rehearsal must not write into C:\ on a Linux box: keep the backup next to the simulator's state.
  const simulateState = simulatorStateOf(options, io.cwd);
  if (simulateState !== undefined && options.backupDir === undefined) {
    named.set('backupDirectory', { flag: '--backup-dir', value: join(dirname(simulateState), 'backup'), implicit: true });
  }
  const runbookFile = options.runbook !== undefined ? resolve(io.cwd, options.runbook) : options.resume !== undefined ? undefined : shippedRunbook('renew-certificate');
  if (isFleetRun(options, io.cwd)) {
    if (simulateState !== undefined && options.connect !== undefined && options.connect !== 'remote') throw new InputError('--simulate sets the connection itself; leave out --connect');
    const { renewFleet } = await import('../fleet/renew-fleet.js');
    const sessionModule = options.remoteSessionModule !== undefined ? resolve(io.cwd, options.remoteSessionModule) : undefined;
    const connect = simulateState !== undefined && sessionModule === undefined ? `module:${simulatorModulePath()}` : (options.connect ?? 'remote');
    return renewFleet(runbookFile ?? shippedRunbook('renew-certificate'), options, named, connect, simulateState, sessionModule, io, terminal);
  }
  return execute(invocationOf('renew', runbookFile, options, named, simulateState, io.cwd), options, io, terminal);
}

/** `exch-cert run RUNBOOK` and `exch-cert plan RUNBOOK`. */
export async function runCommand(runbookFile: string | undefined, options: RunOptions, io: CliIo, terminal: Terminal): Promise<number> {
  if (runbookFile === undefined && options.resume === undefined) throw new InputError('missing the RUNBOOK to run', 'exch-cert run RUNBOOK.yaml --server NAME (only --resume RUN_ID needs none: it reads the runbook from the journal)');
  const named = new Map<string, NamedFlag>([['server', { flag: '--server', value: options.server }]]);
  const invocation = invocationOf('run', runbookFile !== undefined ? resolve(io.cwd, runbookFile) : undefined, options, named, simulatorStateOf(options, io.cwd), io.cwd);
  return execute(invocation, options, io, terminal);
}

function invocationOf(command: 'renew' | 'run', runbookFile: string | undefined, options: RunOptions, named: ReadonlyMap<string, NamedFlag>, simulateState: string | undefined, cwd: string): Invocation {
  return {
    command,
    runbookFile,
    varFlags: options.var ?? [],
    named,
    server: options.server,
    connect: options.connect,
    credentialEnv: options.credentialEnv,
    sessionModule: options.remoteSessionModule !== undefined ? resolve(cwd, options.remoteSessionModule) : undefined,
    simulateState,
  };
}

async function execute(given: Invocation, options: RunOptions, io: CliIo, terminal: Terminal): Promise<number> {
  if (options.output !== undefined && !options.dryRun) throw new InputError('--output writes the dry-run script; add --dry-run');
  if (options.output !== undefined && options.json) throw new InputError('--output and --json do not go together', 'use one of them');
  if (options.resume !== undefined && options.dryRun) throw new InputError('--resume continues a run; it does not go with --dry-run');
  if (given.simulateState !== undefined && given.connect !== undefined && given.connect !== 'remote') throw new InputError('--simulate sets the connection itself; leave out --connect');
  const journalDir = resolve(io.cwd, options.journalDir ?? DEFAULT_JOURNAL_DIR);
  const invocation = options.resume !== undefined ? resumeInvocation(given, journalDir, options.resume, { force: options.force === true, cwd: io.cwd }) : given;
  const runbookFile = invocation.runbookFile;
  if (runbookFile === undefined) throw new InputError('missing the RUNBOOK to run');
  const { plan, runbook, vars } = await loadPlan(planRequestOf(invocation, runbookFile), io, terminal);
  warnAboutScripts(plan, io, terminal);
  if (invocation.command === 'renew') {
    // The PFX is read on this machine: a path that is wrong fails now, not at the import step.
    if (!options.dryRun) checkLocalPfx(plan, io.cwd, '--pfx');
    await checkRenewalPfx(plan, { dryRun: options.dryRun === true }, io, terminal);
  }
  if (options.dryRun) return printPlan(plan, options, io, terminal);
  const { runLive } = await import('../live-run.js');
  return runLive(plan, { ...options, journalDir, simulateState: invocation.simulateState, record: recordOf(invocation, runbookFile, vars, io.cwd), descriptions: paramDescriptions(runbook), secretCheck: invocation.command === 'renew' ? pfxPasswordCheck(plan, io.cwd) : undefined }, io, terminal);
}

/** The plan request of an invocation: the simulator is a module connection, unless a session module puts it behind remoting. */
function planRequestOf(invocation: Invocation, runbookFile: string): PlanRequest {
  return {
    runbookFile,
    varFlags: invocation.varFlags,
    named: invocation.named,
    server: invocation.server,
    // --simulate with --remote-session-module: the simulated server behind real PowerShell remoting (tests).
    connect: invocation.simulateState !== undefined && invocation.sessionModule === undefined ? `module:${simulatorModulePath()}` : (invocation.connect ?? 'remote'),
    credentialEnv: invocation.credentialEnv,
    sessionModule: invocation.sessionModule,
  };
}

/** What the journal keeps of the invocation: enough to make the same plan again, and never a secret (secrets cannot be params on the command line). */
function recordOf(invocation: Invocation, runbookFile: string, vars: ReadonlyMap<string, string>, cwd: string): RunRecord {
  return {
    command: invocation.command,
    runbookFile,
    vars: Object.fromEntries(vars),
    ...(invocation.server !== undefined ? { server: invocation.server } : {}),
    ...(invocation.connect !== undefined ? { connect: invocation.connect } : {}),
    ...(invocation.credentialEnv !== undefined ? { credentialEnv: invocation.credentialEnv } : {}),
    ...(invocation.sessionModule !== undefined ? { sessionModule: invocation.sessionModule } : {}),
    ...(invocation.simulateState !== undefined ? { simulateState: invocation.simulateState } : {}),
    cwd,
  };
}

/** Each param's description, for the prompt that asks for a secret. */
export function paramDescriptions(runbook: Runbook): ReadonlyMap<string, string> {
  return new Map([...runbook.params].flatMap(([name, definition]) => (definition.description !== undefined ? [[name, definition.description] as const] : [])));
}

/** The dry run: the script on stdout (or --output, or --json), one line about it on stderr. */
export function printPlan(plan: Plan, options: RunOptions, io: CliIo, terminal: Terminal): number {
  const script = renderScript(plan);
  if (options.json) {
    io.stdout.write(safeJson({ ...plan, script }) + '\n');
  } else if (options.output !== undefined) {
    const target = options.output === '' ? '' : resolve(io.cwd, options.output);
    writeNewFile(target, encodePs1File(script), { force: options.force === true, flag: '--output' });
    io.stderr.write(`exch-cert: wrote the plan to ${displayPath(target, io.cwd)}\n`);
  } else {
    // On a terminal, a control character in a value or a script shows escaped; in a pipe the text is exact.
    io.stdout.write(io.stdout.isTTY === true ? escapeBlock(script) : script);
  }
  const active = plan.steps.filter((step) => !step.skipped);
  const destructive = active.filter((step) => step.confirm).length;
  io.stderr.write(
    terminal.color.dim(
      `exch-cert: dry run of ${plan.runbook.name} against ${plan.connection.server}: ${active.length} step(s)${destructive > 0 ? `, ${destructive} asking for confirmation` : ''}; nothing was changed\n`,
    ),
  );
  return ExitCode.ok;
}

/** The powershell escape hatch is trusted code: say which steps use it before anything runs. */
function warnAboutScripts(plan: Plan, io: CliIo, terminal: Terminal): void {
  const scripts = [...plan.steps, ...plan.onFailure].filter((step) => step.action === 'powershell' && !step.skipped);
  if (scripts.length === 0) return;
  io.stderr.write(
    `${terminal.color.yellow('exch-cert: warning:')} step${scripts.length > 1 ? 's' : ''} ${scripts.map((step) => step.id).join(', ')} run${scripts.length > 1 ? '' : 's'} a PowerShell script written in the runbook: exch-cert runs it as it is and cannot check what it does; review it before you run it\n`,
  );
}

/** With --simulate: the simulator's state file (the one named, or the default one). */
export function simulatorStateOf(options: RunOptions, cwd: string): string | undefined {
  if (options.simulate === undefined || options.simulate === false) return undefined;
  return typeof options.simulate === 'string' ? resolve(cwd, options.simulate) : join(defaultSimulatorDir(cwd), 'state.json');
}
