import { dirname, join, resolve } from 'node:path';
import { InputError, ExitCode } from '../../errors.js';
import type { Plan } from '../../plan/compile.js';
import { encodePs1File, renderScript } from '../../plan/render.js';
import { writeNewFile } from '../files.js';
import { displayPath, loadPlan } from '../load-plan.js';
import { escapeBlock, safeJson } from '../../text/untrusted.js';
import { shippedRunbook } from '../package-root.js';
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
  readonly runbook?: string;
}

/** `exch-cert renew`: the renewal runbook with its params taken from named flags. */
export async function renewCommand(options: RenewOptions, io: CliIo, terminal: Terminal): Promise<number> {
  const named = new Map<string, string>();
  if (options.pfx !== undefined) named.set('pfxPath', options.pfx);
  if (options.fqdn !== undefined) named.set('fqdn', options.fqdn);
  if (options.friendlyName !== undefined) named.set('friendlyName', options.friendlyName);
  if (options.services !== undefined) named.set('services', options.services);
  // A rehearsal must not write into C:\ on a Linux box: keep the backup next to the simulator's state.
  const simulation = simulationOf(options, io.cwd);
  if (simulation && !(options.var ?? []).some((flag) => flag.startsWith('backupDirectory='))) {
    named.set('backupDirectory', join(simulation.dir, 'backup'));
  }
  const runbookFile = options.runbook !== undefined ? resolve(io.cwd, options.runbook) : shippedRunbook('renew-certificate');
  if (isFleetRun(options, io.cwd)) {
    if (simulation && options.connect !== undefined && options.connect !== 'remote') throw new InputError('--simulate sets the connection itself; leave out --connect');
    const { renewFleet } = await import('../fleet/renew-fleet.js');
    const sessionModule = options.remoteSessionModule !== undefined ? resolve(io.cwd, options.remoteSessionModule) : undefined;
    return renewFleet(runbookFile, options, named, simulation ? `module:${simulatorModulePath()}` : (options.connect ?? 'remote'), simulation?.state, sessionModule, io, terminal);
  }
  return execute(runbookFile, options, named, io, terminal);
}

/** `exch-cert run RUNBOOK` and `exch-cert plan RUNBOOK`. */
export async function runCommand(runbookFile: string, options: RunOptions, io: CliIo, terminal: Terminal): Promise<number> {
  return execute(resolve(io.cwd, runbookFile), options, new Map(), io, terminal);
}

async function execute(runbookFile: string, options: RunOptions, named: ReadonlyMap<string, string>, io: CliIo, terminal: Terminal): Promise<number> {
  if (options.output !== undefined && !options.dryRun) throw new InputError('--output writes the dry-run script; add --dry-run');
  if (options.output !== undefined && options.json) throw new InputError('--output and --json do not go together', 'use one of them');
  if (options.resume !== undefined && options.dryRun) throw new InputError('--resume continues a run; it does not go with --dry-run');
  const simulation = simulationOf(options, io.cwd);
  if (simulation && options.connect !== undefined && options.connect !== 'remote') throw new InputError('--simulate sets the connection itself; leave out --connect');
  const { plan } = await loadPlan(
    {
      runbookFile,
      varFlags: options.var ?? [],
      namedVars: named,
      server: options.server,
      connect: simulation ? `module:${simulatorModulePath()}` : (options.connect ?? 'remote'),
      credentialEnv: options.credentialEnv,
      sessionModule: options.remoteSessionModule !== undefined ? resolve(io.cwd, options.remoteSessionModule) : undefined,
    },
    io,
    terminal,
  );
  warnAboutScripts(plan, io, terminal);
  if (options.dryRun) return printPlan(plan, options, io, terminal);
  const { runLive } = await import('../live-run.js');
  return runLive(plan, { ...options, simulateState: simulation?.state }, io, terminal);
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

/** With --simulate: the simulator's state file (the one named, or the default one) and its folder. */
export function simulationOf(options: RunOptions, cwd: string): { state: string; dir: string } | undefined {
  if (options.simulate === undefined || options.simulate === false) return undefined;
  const state = typeof options.simulate === 'string' ? resolve(cwd, options.simulate) : join(defaultSimulatorDir(cwd), 'state.json');
  return { state, dir: dirname(state) };
}
