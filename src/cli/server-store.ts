import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InputError } from '../errors.js';
import { quoteUntrusted } from '../text/untrusted.js';
import { parseStoreCertificates, type StoreCertificate } from '../tls/store.js';
import { loadPlan } from './load-plan.js';
import { shippedRunbook } from './package-root.js';
import { runReadOnlyPlan } from './read-only-run.js';
import { defaultSimulatorDir, simulatorModulePath } from './simulator.js';
import type { CliIo, Terminal } from './terminal.js';

/** How to reach the server: the connection flags of `run`. */
export interface StoreRequest {
  readonly server: string;
  readonly connect?: string;
  readonly credentialEnv?: string;
  /** Test-only, as for `run`: a module that opens the remote sessions. */
  readonly remoteSessionModule?: string;
  readonly shell?: string;
  /** --simulate [STATE.json]: the simulator's state (which must exist: monitoring creates nothing). */
  readonly simulate?: string | boolean;
}

/** The shipped read-only runbook whose plan reads the store: `exch-cert plan` shows exactly what runs. */
export const STORE_RUNBOOK = 'server-certificates';

/**
 * Every certificate the server uses, read through PowerShell by compiling and running the
 * runbook server-certificates (the action list-certificates) with the connection flags `run`
 * takes, on the same plan and engine as a renewal.
 * @throws UserError when the flags are wrong, PowerShell or the connection fails, or a step fails
 */
export async function readServerStore(request: StoreRequest, io: CliIo, terminal: Terminal): Promise<StoreCertificate[]> {
  const simulateState = simulationState(request, io.cwd);
  if (simulateState !== undefined && request.connect !== undefined && request.connect !== 'remote') throw new InputError('--simulate sets the connection itself; leave out --connect');
  const { plan } = await loadPlan(
    {
      runbookFile: shippedRunbook(STORE_RUNBOOK),
      varFlags: [],
      named: new Map([['server', { flag: '--server', value: request.server }]]),
      server: request.server,
      // --simulate with --remote-session-module: the simulated server behind real PowerShell remoting (tests).
      connect: simulateState !== undefined && request.remoteSessionModule === undefined ? `module:${simulatorModulePath()}` : (request.connect ?? 'remote'),
      credentialEnv: request.credentialEnv,
      sessionModule: request.remoteSessionModule !== undefined ? resolve(io.cwd, request.remoteSessionModule) : undefined,
    },
    io,
    terminal,
  );
  const outputs = await runReadOnlyPlan(plan, { shell: request.shell, simulateState, env: io.env });
  return plan.steps.filter((step) => step.action === 'list-certificates').flatMap((step) => parseStoreCertificates(outputs.get(step.id)?.['certificates']));
}

function simulationState(request: StoreRequest, cwd: string): string | undefined {
  if (request.simulate === undefined || request.simulate === false) return undefined;
  const state = typeof request.simulate === 'string' ? resolve(cwd, request.simulate) : join(defaultSimulatorDir(cwd), 'state.json');
  if (!existsSync(state)) throw new InputError(`--simulate: there is no simulator state ${quoteUntrusted(state)}`, 'create one with `exch-cert simulator init`');
  return state;
}
