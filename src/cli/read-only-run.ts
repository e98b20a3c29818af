import { hostname } from 'node:os';
import type { RunEvent } from '../engine/events.js';
import { executePlan, type Clock } from '../engine/execute.js';
import { newRunId } from '../engine/journal.js';
import { Masker } from '../engine/mask.js';
import { collectSecrets } from '../engine/secrets.js';
import { EnvironmentError } from '../errors.js';
import type { Plan } from '../plan/compile.js';
import { resolveShell } from './shell.js';

export interface ReadOnlyRunOptions {
  /** --shell. */
  readonly shell: string | undefined;
  /** With --simulate: the simulator's state file, for the shell's environment. */
  readonly simulateState: string | undefined;
  /** This process's environment: secrets (--credential-env) and PATH. */
  readonly env: Readonly<Record<string, string | undefined>>;
}

const clock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise((done) => {
      if (signal.aborted || ms <= 0) return done();
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', () => {
        clearTimeout(timer);
        done();
      }, { once: true });
    }),
};

/**
 * Runs a plan that changes nothing (every step read-only) on the engine that runs renewals, the
 * same blocks the dry run prints, and returns each step's outputs. Monitoring runs it every few
 * minutes, so there is no journal, no server lock, no confirmation and no report: the outputs
 * are the result.
 * @throws EnvironmentError when PowerShell, the connection or a step fails (its message, masked)
 */
export async function runReadOnlyPlan(plan: Plan, options: ReadOnlyRunOptions): Promise<ReadonlyMap<string, Readonly<Record<string, unknown>>>> {
  const changing = [...plan.steps, ...plan.onFailure].filter((step) => step.changes);
  if (changing.length > 0) throw new Error(`${plan.runbook.name} is not read-only: ${changing.map((step) => step.id).join(', ')} change the server`);
  const secrets = collectSecrets(plan, options.env);
  const masker = new Masker(secrets.values);
  const shellEnv: Record<string, string> = { ...secrets.shellEnv };
  if (options.simulateState !== undefined) shellEnv['EXCH_CERT_SIMULATOR_STATE'] = options.simulateState;
  const { createNodePowerShellFactory } = await import('../powershell/node-powershell.js');
  const sessions = createNodePowerShellFactory({ shell: resolveShell(options.shell, options.env), mask: (text) => masker.mask(text) });

  const outputs = new Map<string, Readonly<Record<string, unknown>>>();
  let failure: string | undefined;
  const sink = {
    emit: (event: RunEvent): void => {
      if (event.type !== 'step-finished') return;
      if (event.status === 'failed' || event.status === 'timed_out') failure ??= `step ${event.stepId} ${event.status === 'failed' ? 'failed' : 'timed out'}: ${event.error?.message ?? ''}`;
      else outputs.set(event.stepId, event.outputs);
    },
  };
  const result = await executePlan({
    plan,
    runId: newRunId(new Date()),
    sessions,
    shellEnv,
    sink,
    masker,
    confirm: () => Promise.resolve('no'),
    interrupt: { stopRequested: false, abortSignal: new AbortController().signal },
    clock,
    runner: { host: hostname(), pid: process.pid },
  });
  // The engine's closing words say what changed; a read-only run changed nothing, so they say nothing here.
  if (result.outcome !== 'ok') throw new EnvironmentError(failure ?? result.message.replace(/\. Nothing on the server was changed$/, ''));
  return outputs;
}
