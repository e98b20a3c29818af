import { hostname } from 'node:os';
import { z } from 'zod';
import { readJournal, type JournalState } from '../engine/journal.js';
import { InputError } from '../errors.js';
import { parseVarFlags } from '../plan/params.js';
import { quoteUntrusted } from '../text/untrusted.js';
import type { NamedFlag } from './load-plan.js';

/** What the journal keeps of a command line (the `request` of its run-started line): enough to make the same plan again, never a secret. */
export const RunRecordSchema = z.object({
  command: z.enum(['renew', 'run']),
  runbookFile: z.string(),
  vars: z.record(z.string(), z.string()),
  server: z.string().optional(),
  connect: z.string().optional(),
  credentialEnv: z.string().optional(),
  sessionModule: z.string().optional(),
  simulateState: z.string().optional(),
  cwd: z.string(),
});

export type RunRecord = z.infer<typeof RunRecordSchema>;

/** The parts of a command line that make a plan (see run.ts). */
export interface InvocationParts {
  readonly command: 'renew' | 'run';
  readonly runbookFile: string | undefined;
  readonly varFlags: readonly string[];
  readonly named: ReadonlyMap<string, NamedFlag>;
  readonly server: string | undefined;
  readonly connect: string | undefined;
  readonly credentialEnv: string | undefined;
  readonly sessionModule: string | undefined;
  readonly simulateState: string | undefined;
}

/**
 * `--resume RUN_ID`: the runbook, the param values and the connection come from the run's journal.
 * A flag given again must say the same (or --force, and then it wins); the plan's fingerprint is
 * checked afterwards all the same. A journal from before exch-cert recorded command lines needs
 * them given again, as it always did.
 */
export function resumeInvocation<T extends InvocationParts>(given: T, journalDir: string, runId: string, options: { readonly force: boolean; readonly cwd: string }): T {
  const state = readJournal(journalDir, runId);
  if (state.request === undefined) {
    if (given.runbookFile === undefined) throw new InputError(`the journal of run ${runId} does not say which runbook it ran`, 'give the runbook and the same flags again with --resume');
    return given;
  }
  const parsed = RunRecordSchema.safeParse(state.request);
  if (!parsed.success) throw new InputError(`the journal of run ${runId} has a command line exch-cert cannot read`, 'give the runbook and the same flags again with --resume');
  const record = parsed.data;
  if (record.cwd !== options.cwd) {
    throw new InputError(`run ${runId} was started in ${record.cwd}; relative paths in it (such as --pfx) are relative to that folder`, `cd ${record.cwd} and resume there`);
  }
  const conflicts: string[] = [];
  const overrides = new Map<string, string>();
  const compare = (flag: string, now: string | undefined, then: string | undefined): void => {
    if (now === undefined || same(now, then)) return;
    conflicts.push(`${flag} ${quoteUntrusted(now)} (run ${runId} had ${then === undefined ? 'none' : quoteUntrusted(then)})`);
  };
  if (given.runbookFile !== undefined && given.runbookFile !== record.runbookFile) conflicts.push(`the runbook ${quoteUntrusted(given.runbookFile)} (run ${runId} ran ${quoteUntrusted(record.runbookFile)})`);
  for (const [param, named] of given.named) {
    if (named.value === undefined || named.implicit) continue;
    if (param === 'server' && !(param in record.vars)) compare(named.flag, named.value, record.server);
    else compare(named.flag, named.value, record.vars[param]);
    overrides.set(param, named.value);
  }
  for (const [param, value] of parseVarFlags(given.varFlags)) {
    compare(`--var ${param}=`, value, record.vars[param]);
    overrides.set(param, value);
  }
  compare('--connect', given.connect, record.connect ?? 'remote');
  compare('--credential-env', given.credentialEnv, record.credentialEnv);
  compare('--remote-session-module', given.sessionModule, record.sessionModule);
  compare('--simulate', given.simulateState, record.simulateState);
  if (conflicts.length > 0 && !options.force) {
    throw new InputError(
      `--resume ${runId} takes the runbook, params and connection from the run's journal, and these flags say otherwise:\n${conflicts.join('\n')}`,
      'leave them out to resume the run as it was, or pass --force to resume with the new values',
    );
  }
  const vars = { ...record.vars, ...Object.fromEntries(overrides) };
  return {
    ...given,
    command: record.command,
    runbookFile: given.runbookFile ?? record.runbookFile,
    varFlags: Object.entries(vars).map(([name, value]) => `${name}=${value}`),
    named: new Map(),
    server: given.server ?? record.server,
    connect: given.connect ?? record.connect,
    credentialEnv: given.credentialEnv ?? record.credentialEnv,
    sessionModule: given.sessionModule ?? record.sessionModule,
    simulateState: given.simulateState ?? record.simulateState,
  };
}

/** Values compare as Exchange would read them: service lists in any case and spacing. */
function same(now: string, then: string | undefined): boolean {
  if (then === undefined) return false;
  const norm = (text: string): string =>
    text
      .split(',')
      .map((item) => item.trim().toLowerCase())
      .join(',');
  return now === then || norm(now) === norm(then);
}

/** Whether --resume can continue a run, and in words why not (or what to know first). */
export interface Resumability {
  readonly resumable: boolean;
  /** Why not; or, when it can, what happened in the run (for `exch-cert runs`). */
  readonly reason: string;
  /** The outcome in one word: ok, failed, declined, interrupted, environment, running, unfinished. */
  readonly outcome: string;
}

/**
 * Decides from a journal alone (the plan's fingerprint is checked when resuming). A run that
 * finished is done; a run whose onFailure steps changed the server back cannot be continued, since
 * steps it would skip were undone; a run still going cannot be continued twice. Everything else
 * can: failed without a rollback that changed anything, interrupted, declined, cut off.
 */
export function judgeResume(state: JournalState, isAlive: (pid: number) => boolean = isProcessAlive, host: string = hostname()): Resumability {
  const alive = state.host === host ? state.pids.filter(isAlive) : [];
  const where = whereItStopped(state);
  if (alive.length > 0 && state.finished === undefined) {
    return { resumable: false, outcome: 'running', reason: `still running here (process ${alive.join(', ')}): resuming now would run its steps twice` };
  }
  if (state.finished?.outcome === 'ok') return { resumable: false, outcome: 'ok', reason: `finished: ${state.finished.message}; there is nothing to resume` };
  const undoing = state.onFailure.filter((step) => step.status === 'changed' || step.status === 'failed' || step.status === 'timed_out');
  if (undoing.length > 0) {
    const back = undoing.filter((step) => step.status === 'changed').map((step) => step.id);
    const partly = undoing.filter((step) => step.status !== 'changed').map((step) => step.id);
    const what = [back.length > 0 && `its onFailure steps changed it back: ${back.join(', ')}`, partly.length > 0 && `onFailure steps that failed and may have partly changed it back: ${partly.join(', ')}`].filter(Boolean).join('; ');
    return { resumable: false, outcome: state.finished?.outcome ?? 'failed', reason: `${where}; ${what}. Resuming would skip steps whose effect was undone` };
  }
  const rollback = state.rolledBack ? `; its onFailure steps changed nothing (${state.onFailure.map((step) => `${step.id}: ${step.status}`).join(', ') || 'none ran'}), so nothing was rolled back` : '';
  return { resumable: true, outcome: state.finished?.outcome ?? 'unfinished', reason: `${where}${rollback}` };
}

/** "the run stopped at step 2 (import) before any change", in the journal's own terms. */
function whereItStopped(state: JournalState): string {
  const changed = state.steps.filter((step) => step.status === 'changed').map((step) => step.id);
  const failed = state.steps.find((step) => step.status === 'failed' || step.status === 'timed_out');
  const total = state.stepIds.length;
  const next = failed ?? nextStep(state);
  const at = next ? `step ${next.position}${total > 0 ? ` of ${total}` : ''} (${next.id})` : 'the end';
  const verb = failed ? (failed.status === 'timed_out' ? `timed out at ${at}` : `failed at ${at}`) : state.finished ? `stopped before ${at}` : `was cut off before ${at} finished`;
  const changes = changed.length > 0 ? `; steps before it changed the server: ${changed.join(', ')}` : '; no step before it had changed the server';
  return `the run ${verb}${changes}`;
}

function nextStep(state: JournalState): { id: string; position: number } | undefined {
  const index = state.stepIds.findIndex((id) => !state.completed.has(id));
  const id = state.stepIds[index];
  return id === undefined ? undefined : { id, position: index + 1 };
}

/** Whether a process with this id exists here (signal 0 only asks; EPERM means it exists under another user). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
