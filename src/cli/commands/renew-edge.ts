import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { InputError } from '../../errors.js';
import { compilePlan } from '../../plan/compile.js';
import type { Connection } from '../../plan/connection.js';
import { bindParams, parseVarFlags } from '../../plan/params.js';
import { VERSION } from '../../version.js';
import { loadRunbook, parseConnection } from '../load-plan.js';
import { shippedRunbook } from '../package-root.js';
import { simulatorModulePath } from '../simulator.js';
import type { CliIo, Terminal } from '../terminal.js';
import { pfxPasswordCheck } from '../local-pfx.js';
import { paramDescriptions, printPlan, simulatorStateOf, type RunOptions } from './run.js';

export interface RenewEdgeOptions extends RunOptions {
  readonly edge?: string;
  readonly mailbox?: string;
  readonly pfx?: string;
  readonly fqdn?: string;
  readonly friendlyName?: string;
  readonly site?: string;
  readonly internetSendConnector?: string;
  readonly inboundSendConnector?: string;
  readonly subscriptionMinutes?: string;
  readonly mailboxCredentialEnv?: string;
}

/**
 * `exch-cert renew-edge`: runbooks/renew-edge-certificate.yaml. The plan connects to the Mailbox
 * server (Exchange remote PowerShell, as every renewal does); the Edge, outside the domain, is
 * reached through remoting with the account of --credential-env, its steps running in its own
 * Exchange Management Shell. One lock for each of the two servers.
 */
export async function renewEdgeCommand(options: RenewEdgeOptions, io: CliIo, terminal: Terminal): Promise<number> {
  const edgeName = options.edge ?? '';
  const mailboxName = options.mailbox ?? '';
  if (options.output !== undefined && !options.dryRun) throw new InputError('--output writes the dry-run script; add --dry-run');
  if (options.resume !== undefined && options.dryRun) throw new InputError('--resume continues a run; it does not go with --dry-run');
  const simulateState = simulatorStateOf(options, io.cwd);
  const simulation = simulateState !== undefined ? { state: simulateState, dir: dirname(simulateState) } : undefined;
  // --simulate with --remote-session-module: the simulated organisation behind real PowerShell remoting (tests).
  const sessionModule = options.remoteSessionModule !== undefined ? resolve(io.cwd, options.remoteSessionModule) : undefined;
  if (simulation && options.connect !== undefined && (options.connect !== 'remote' || sessionModule === undefined)) throw new InputError('--simulate sets the connection itself; leave out --connect');
  if (simulation && sessionModule === undefined && options.credentialEnv !== undefined) throw new InputError('--credential-env is the account exch-cert reaches the Edge with over remoting; --simulate reaches it in this shell', 'leave out --credential-env');
  const named = new Map<string, string>([
    ['edge', edgeName],
    ['mailbox', mailboxName],
  ]);
  const flags: Array<[keyof RenewEdgeOptions, string]> = [
    ['pfx', 'pfxPath'],
    ['fqdn', 'fqdn'],
    ['friendlyName', 'friendlyName'],
    ['site', 'site'],
    ['internetSendConnector', 'internetSendConnector'],
    ['inboundSendConnector', 'inboundSendConnector'],
    ['subscriptionMinutes', 'subscriptionMinutes'],
  ];
  for (const [flag, param] of flags) {
    const value = options[flag];
    if (typeof value === 'string') named.set(param, value);
  }
  const given = (param: string): boolean => (options.var ?? []).some((flag) => flag.startsWith(`${param}=`));
  // A rehearsal keeps the backup and the subscription file next to the simulator's state, not in C:\.
  if (simulation && !given('backupDirectory')) named.set('backupDirectory', join(simulation.dir, 'backup'));
  if (simulation && !given('subscriptionFile')) named.set('subscriptionFile', join(simulation.dir, 'edge', 'EdgeSubscription.xml'));

  const runbook = await loadRunbook(shippedRunbook('renew-edge-certificate'), io, terminal);
  const mailbox = parseConnection(simulation && sessionModule === undefined ? `module:${simulatorModulePath()}` : (options.connect ?? 'remote'), options.mailboxCredentialEnv, mailboxName, sessionModule);
  // The Edge's own account: --credential-env (checked the way a connection's is).
  const edge = parseConnection('remote', options.credentialEnv, edgeName);
  if (options.credentialEnv !== undefined && mailbox.kind !== 'remote') throw new InputError('--credential-env (the Edge\u2019s account) works only with --connect remote');
  const connection: Connection = mailbox.kind === 'remote' && edge.kind === 'remote' && edge.credentialEnv ? { ...mailbox, hostCredentials: [{ server: edgeName, ...edge.credentialEnv }] } : mailbox;
  const vars = parseVarFlags(options.var ?? []);
  for (const [name, value] of named) vars.set(name, value);
  const plan = compilePlan(runbook, bindParams(runbook, vars), { connection, toolVersion: VERSION });
  if (options.dryRun) return printPlan(plan, options, io, terminal);

  if (simulation && !existsSync(simulation.state)) {
    throw new InputError(`no simulated organisation at ${simulation.state}`, `make one with an Edge first: exch-cert simulator init --servers ${mailboxName} --edge ${edgeName}`);
  }
  const { runLive } = await import('../live-run.js');
  // The plan's connection is the Mailbox server; the Edge is changed too, so it is locked as well.
  return runLive(plan, { ...options, simulateState: simulation?.state, alsoLock: [edgeName], descriptions: paramDescriptions(runbook), secretCheck: pfxPasswordCheck(plan, io.cwd) }, io, terminal);
}
