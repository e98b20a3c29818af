import { ExitCode, InputError } from '../../errors.js';
import { composeMaintenance, type MaintenancePlan } from '../../fleet/compose.js';
import { parseServerList, redirectTargets, type Inventory } from '../../fleet/servers.js';
import type { Plan } from '../../plan/compile.js';
import { renderScript } from '../../plan/render.js';
import type { Runbook } from '../../runbook/model.js';
import { escapeBlock, safeJson } from '../../text/untrusted.js';
import { parsePortList, type Protocol } from '../../tls/endpoint.js';
import { quoteUntrusted } from '../../text/untrusted.js';
import type { RunOptions } from '../commands/run.js';
import { loadRunbook, planFor, type NamedFlag, type PlanRequest } from '../load-plan.js';
import { shippedRunbook } from '../package-root.js';
import type { CliIo, Terminal } from '../terminal.js';
import type { FleetFlags } from './options.js';

/** `renew` with the fleet flags. */
export interface FleetRenewOptions extends RunOptions, FleetFlags {
  readonly server?: string;
  readonly resume?: string;
  readonly pfx?: string;
  readonly fqdn?: string;
}

/** What a fleet run is made of, from the command line: the same for the dry run and the real one. */
export interface FleetRequest {
  readonly names: readonly string[];
  readonly allServers: boolean;
  readonly maxParallel: number;
  readonly runbook: Runbook;
  readonly maintenance: MaintenancePlan | undefined;
  /** How each server's plan is made: --var, the named flags, the connection; the server and its redirect target are added per server. */
  readonly request: Omit<PlanRequest, 'runbookFile' | 'server'>;
  readonly ports: ReadonlyArray<{ readonly port: number; readonly protocol: Protocol }>;
  readonly tlsAddresses: ReadonlyMap<string, { readonly host: string; readonly port: number }>;
  /** With --simulate: the state file. */
  readonly simulateState: string | undefined;
}

/**
 * `renew --server A,B,...`, `--all-servers` or `--drain`: the renewal runbook on every server, as
 * src/fleet runs it. This layer reads the flags and the runbooks; the dry run prints every server's
 * plan, and the real run (fleet-live.ts) asks the organisation for its servers first.
 */
export async function renewFleet(runbookFile: string, options: FleetRenewOptions, named: ReadonlyMap<string, NamedFlag>, connect: string, simulateState: string | undefined, sessionModule: string | undefined, io: CliIo, terminal: Terminal): Promise<number> {
  if (options.output !== undefined) throw new InputError('--output writes one plan, and a run on several servers has one per server', 'use --dry-run alone: it prints every server\u2019s plan');
  if (options.resume !== undefined && options.dryRun) throw new InputError('--resume continues a run; it does not go with --dry-run');
  const names = parseServerList(options.server ?? '');
  const maxParallel = parseCount(options.maxParallel ?? '1', '--max-parallel', 64);
  // --server names several servers: each plan gets its own (planServers).
  const vars = new Map([...named].filter(([name]) => name !== 'server'));
  if (options.drain) vars.set('queueTimeoutSeconds', { flag: '--queue-timeout', value: String(parseCount(options.queueTimeout ?? '600', '--queue-timeout', 36_000)) });
  const renewal = await loadRunbook(runbookFile, io, terminal);
  const maintenance = options.drain ? composeMaintenance(renewal, await loadRunbook(shippedRunbook('maintenance-mode'), io, terminal)) : undefined;
  const fleet: FleetRequest = {
    names,
    allServers: options.allServers === true,
    maxParallel,
    runbook: maintenance?.runbook ?? renewal,
    maintenance,
    request: { varFlags: options.var ?? [], named: vars, connect, credentialEnv: options.credentialEnv, sessionModule },
    ports: parsePorts(options.verifyPorts ?? '443'),
    tlsAddresses: parseTlsAddresses(options.tlsAddress ?? []),
    simulateState,
  };
  if (options.dryRun) return printPlans(fleet, options, io, terminal);
  const { runFleetLive } = await import('./fleet-live.js');
  return runFleetLive(fleet, options, io, terminal);
}

/** Each server's plan, given the servers and (with --drain) where each one's messages go. */
export function planServers(fleet: FleetRequest, servers: readonly string[], targets: ReadonlyMap<string, string> | undefined): Plan[] {
  const given = fleet.request.varFlags.some((flag) => flag.startsWith('redirectTo='));
  return servers.map((server) => {
    const vars = new Map(fleet.request.named);
    vars.set('server', { flag: '--server', value: server });
    const target = targets?.get(server);
    if (target !== undefined && !given) vars.set('redirectTo', { flag: '--drain', value: target, implicit: true });
    return planFor(fleet.runbook, { ...fleet.request, named: vars, server }).plan;
  });
}

/** The dry run: every server's plan, in the order the servers would be renewed. */
function printPlans(fleet: FleetRequest, options: FleetRenewOptions, io: CliIo, terminal: Terminal): number {
  if (fleet.allServers) throw new InputError('--all-servers asks the organisation for its servers, and a dry run connects to nothing', 'name the servers: --server EXCH01,EXCH02 --dry-run');
  const given = fleet.request.varFlags.some((flag) => flag.startsWith('redirectTo='));
  const known: Inventory = { askedOf: fleet.names[0] ?? '', mailbox: fleet.names, mailboxFqdns: fleet.names, edge: [] };
  if (fleet.maintenance && fleet.names.length < 2 && !given) {
    throw new InputError('--drain sends the queued messages to another Mailbox server, which a dry run of one server cannot ask Exchange for', 'name it: --var redirectTo=EXCH02');
  }
  const plans = planServers(fleet, fleet.names, fleet.maintenance && !given ? redirectTargets(known.mailbox.map((name) => ({ name, fqdn: name })), known) : undefined);
  plans.forEach((plan, index) => {
    const server = plan.connection.server;
    if (options.json) {
      io.stdout.write(safeJson({ server, ...plan, script: renderScript(plan) }, undefined) + '\n');
      return;
    }
    const script = `# ===== ${server}: ${index === 0 ? 'the canary, renewed alone and checked first' : `server ${index + 1} of ${plans.length}`} =====\n${renderScript(plan)}`;
    io.stdout.write(io.stdout.isTTY === true ? escapeBlock(script) : script);
  });
  const steps = plans[0]?.steps.filter((step) => !step.skipped).length ?? 0;
  io.stderr.write(terminal.color.dim(`exch-cert: dry run of ${fleet.runbook.name} on ${fleet.names.join(', ')}: ${steps} step(s) each; ${fleet.names[0] ?? ''} first, then ${fleet.maxParallel} at a time; nothing was changed\n`));
  return ExitCode.ok;
}

function parseCount(text: string, flag: string, max: number): number {
  const value = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(value >= 1 && value <= max)) throw new InputError(`${flag} ${quoteUntrusted(text)} is not a whole number from 1 to ${max}`);
  return value;
}

function parsePorts(text: string): Array<{ port: number; protocol: Protocol }> {
  // Where this machine cannot reach the servers themselves, say so rather than fail every check.
  if (text === 'none') return [];
  try {
    return parsePortList(text);
  } catch (error) {
    throw new InputError(`--verify-ports: ${(error as Error).message}`);
  }
}

function parseTlsAddresses(items: readonly string[]): Map<string, { host: string; port: number }> {
  const addresses = new Map<string, { host: string; port: number }>();
  for (const item of items) {
    const match = /^([A-Za-z0-9-]+)=([A-Za-z0-9.-]+):(\d{1,5})$/.exec(item);
    if (!match) throw new InputError(`--tls-address ${quoteUntrusted(item)} is not NAME=HOST:PORT`);
    addresses.set((match[1] ?? '').toLowerCase(), { host: match[2] ?? '', port: Number(match[3]) });
  }
  return addresses;
}
