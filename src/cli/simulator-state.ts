import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { EnvironmentError } from '../errors.js';
import type { Plan } from '../plan/compile.js';
import { psString } from '../powershell/quote.js';
import type { SessionFactory } from '../powershell/session.js';
import { simulatorModulePath } from './simulator.js';
import type { CliIo, Terminal } from './terminal.js';

/** The FQDN a plan renews, for a simulated server that matches it. */
function planFqdn(plan: Plan): string | undefined {
  const fqdn = plan.params.find((param) => param.name === 'fqdn');
  return typeof fqdn?.value === 'string' ? fqdn.value : undefined;
}

/** Runs simulator set-up commands in a short-lived shell; they are rehearsal scaffolding, not part of any plan. */
export async function runSimulatorSetup(sessions: SessionFactory, script: string, env: Readonly<Record<string, string>>): Promise<void> {
  const session = await sessions.start({ env });
  try {
    const outcome = await session.invoke(`Import-Module -Name ${psString(simulatorModulePath())} -Force -DisableNameChecking\n${script}`, { timeoutMs: 120_000 });
    if (outcome.kind !== 'completed') throw new EnvironmentError(`the simulator set-up did not finish (${outcome.kind})`);
    if (!outcome.envelope.ok) throw new EnvironmentError(`the simulator set-up failed: ${outcome.envelope.error.message}`);
  } finally {
    await session.dispose();
  }
}

/** Creates the built-in simulated server (EXCH01) unless the state file exists. */
export async function ensureSimulatorState(sessions: SessionFactory, statePath: string, plan: Plan, io: CliIo, terminal: Terminal): Promise<void> {
  if (existsSync(statePath)) return;
  mkdirSync(dirname(statePath), { recursive: true });
  const fqdn = planFqdn(plan);
  await runSimulatorSetup(
    sessions,
    `New-ExchCertSimulatorState -Path ${psString(statePath)} -Server ${psString(plan.connection.server)}${fqdn ? ` -Fqdn ${psString(fqdn)}` : ''}`,
    {},
  );
  io.stderr.write(terminal.color.dim(`exch-cert: created a simulated Exchange server in ${statePath}\n`));
}
