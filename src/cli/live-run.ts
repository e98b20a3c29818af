import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { executePlan } from '../engine/execute.js';
import { Journal, newRunId, planFingerprint, readJournal, type ResumeState } from '../engine/journal.js';
import { Masker, MIN_MASKABLE_LENGTH } from '../engine/mask.js';
import { collectSecrets } from '../engine/secrets.js';
import { acquireServerLock, type ServerLock } from '../engine/server-lock.js';
import { ExitCode, InputError, UserError } from '../errors.js';
import type { Plan } from '../plan/compile.js';
import type { RunOptions } from './commands/run.js';
import { canPrompt, promptForStep } from './confirm.js';
import { DEFAULT_JOURNAL_DIR } from './journal-dir.js';
import { pitfallsDocument } from './pitfalls.js';
import { judgeResume, type RunRecord } from './resume.js';
import { listRuns } from './run-history.js';
import type { SecretCheck } from './local-pfx.js';
import { askForMissingSecrets, terminalQuestion, whyNoPrompt } from './secret-prompt.js';
import { ensureWritableDirectory } from './files.js';
import { realClock } from './clock.js';
import { createLocalSteps } from './local-steps.js';
import { Interrupts } from './interrupt.js';
import { displayPath } from './load-plan.js';
import { FanOut, JsonReporter } from './reporters/json.js';
import { resolveShell } from './shell.js';
import { TextReporter } from './reporters/text.js';
import { renewalSummarizer } from './renewal-summary.js';
import { ensureSimulatorState } from './simulator-state.js';
import type { CliIo, Terminal } from './terminal.js';

export interface LiveOptions extends RunOptions {
  /** With --simulate: the simulator's state file (created with the built-in default when missing). */
  readonly simulateState: string | undefined;
  /** The command line as the journal keeps it, for a later --resume RUN_ID alone (renew-edge keeps none: it is resumed with its flags). */
  readonly record?: RunRecord;
  /** Param descriptions, for the prompt that asks for a missing secret. */
  readonly descriptions: ReadonlyMap<string, string>;
  /** A secret exch-cert can check before anything runs (the renewal's PFX password). */
  readonly secretCheck: SecretCheck | undefined;
  /** Servers the plan changes besides its connection's (an Edge that host steps reach): locked too. */
  readonly alsoLock?: readonly string[];
}


/**
 * Runs a plan for real. Everything that can stop the run is checked before the first block is
 * sent: confirmations that cannot be asked (exit 5), missing secrets, a journal folder that cannot
 * be written, a changed runbook or a live shell on --resume, a server another run holds (exit 2).
 */
export async function runLive(plan: Plan, options: LiveOptions, io: CliIo, terminal: Terminal): Promise<number> {
  const interactive = canPrompt(io.stdin, io.stderr, io.env);
  const needConfirmation = plan.steps.filter((step) => step.confirm && !step.skipped);
  if (needConfirmation.length > 0 && !options.yes && !interactive) {
    throw new UserError(
      `step ${needConfirmation.map((step) => step.id).join(', ')} needs confirmation and ${whyNoPrompt(io.stdin, io.stderr, io.env)}; nothing was run`,
      ExitCode.confirmationRequired,
      'review the plan with --dry-run, then run again with --yes',
    );
  }
  const journalDir = resolve(io.cwd, options.journalDir ?? DEFAULT_JOURNAL_DIR);
  ensureWritableDirectory(journalDir, '--journal-dir');
  const resume = options.resume !== undefined ? checkResume(plan, journalDir, options.resume, options.force === true, io, terminal) : undefined;
  const env = interactive
    ? await askForMissingSecrets(plan, io.env, options.descriptions, terminalQuestion(process.stdin, io.stderr as NodeJS.WritableStream), (text) => io.stderr.write(text), options.secretCheck)
    : io.env;
  const secrets = collectSecretsOrExplain(plan, env, interactive ? undefined : whyNoPrompt(io.stdin, io.stderr, io.env));
  checkSecret(plan, env, options.secretCheck);
  for (const variable of secrets.short) {
    warn(io, terminal, `the secret in ${variable} is shorter than ${MIN_MASKABLE_LENGTH} characters: exch-cert hides secrets in output by their value, which cannot protect one that short`);
  }
  const masker = new Masker(secrets.values);
  const shellEnv: Record<string, string> = { ...secrets.shellEnv };
  if (options.simulateState !== undefined) shellEnv['EXCH_CERT_SIMULATOR_STATE'] = options.simulateState;

  const runId = newRunId(new Date());
  const runner = { host: hostname(), pid: process.pid };
  const locks: ServerLock[] = [];
  try {
    for (const server of [plan.connection.server, ...(options.alsoLock ?? [])]) {
      locks.push(acquireServerLock(journalDir, { runId, ...runner, startedAt: new Date().toISOString(), server }, { force: options.force === true, resumeOf: options.resume }));
    }
  } catch (error) {
    for (const lock of locks) lock.release();
    throw error;
  }
  try {
    const { createNodePowerShellFactory } = await import('../powershell/node-powershell.js');
    const sessions = createNodePowerShellFactory({ shell: resolveShell(options.shell, io.env), mask: (text) => masker.mask(text) });
    if (options.simulateState !== undefined) await ensureSimulatorState(sessions, options.simulateState, plan, io, terminal);

    const journal = Journal.create(journalDir, runId, undefined, options.record);
    const summarize = renewalSummarizer(plan);
    // ora is loaded only where spinners are shown (it costs start-up time for nothing in CI and pipes).
    const ora = terminal.interactive && !options.json ? (await import('ora')).default : undefined;
    const text = new TextReporter(io, terminal, {
      plan,
      createSpinner: ora ? (label) => ora({ text: label, stream: io.stderr as NodeJS.WritableStream, discardStdin: false, color: terminal.color.level > 0 ? 'cyan' : false }) : undefined,
      verbose: options.verbose === true,
      pitfalls: pitfallsDocument(io.cwd),
    });
    const sink = new FanOut(journal, options.json ? new JsonReporter(io, runId) : text);
    const interrupts = new Interrupts(sink);
    interrupts.install();
    // After SIGHUP the terminal is gone and writes to it fail; the run must still stop cleanly.
    const ignoreWriteErrors = (): void => undefined;
    process.stderr.on('error', ignoreWriteErrors);
    const keys = interactive ? captureCtrlC(io, interrupts) : undefined;
    try {
      const result = await executePlan({
        plan,
        runId,
        sessions,
        shellEnv,
        sink,
        masker,
        interrupt: interrupts,
        clock: realClock(io.env),
        runner,
        journalProblem: () => journal.problem,
        localSteps: createLocalSteps(options.simulateState !== undefined ? { statePath: options.simulateState, server: plan.connection.server } : undefined),
        ...(summarize ? { summarize } : {}),
        ...(resume ? { resume } : {}),
        confirm: async (step, values) => {
          if (options.yes) return 'assumed-yes';
          text.stopSpinner();
          keys?.pause();
          try {
            return await promptForStep(step, values, process.stdin, io.stderr as NodeJS.WritableStream, interrupts.stopSignal);
          } finally {
            keys?.resume();
          }
        },
      });
      if (journal.created) io.stderr.write(terminal.color.dim(`journal: ${displayPath(journal.path, io.cwd)}\n`));
      return result.exitCode;
    } finally {
      keys?.stop();
      interrupts.uninstall();
      process.stderr.off('error', ignoreWriteErrors);
      journal.close();
    }
  } finally {
    for (const lock of locks) lock.release();
  }
}

function warn(io: CliIo, terminal: Terminal, message: string): void {
  io.stderr.write(`${terminal.color.yellow('exch-cert: warning:')} ${message}\n`);
}

/** A secret that exch-cert can tell is wrong (it does not open the PFX) stops the run before anything connects. */
function checkSecret(plan: Plan, env: Readonly<Record<string, string | undefined>>, check: SecretCheck | undefined): void {
  const secret = plan.secrets.find((candidate) => candidate.param === check?.param);
  const value = secret ? env[secret.env] : undefined;
  const problem = check && value !== undefined ? check.problem(value) : undefined;
  if (problem !== undefined && secret) {
    throw new InputError(`${secret.env}: ${problem}; nothing was run`, `check the password (on a terminal, leave ${secret.env} unset and exch-cert asks for it)`);
  }
}

/** An unset secret is a usage error; where exch-cert could not ask, the message says why. */
function collectSecretsOrExplain(plan: Plan, env: Readonly<Record<string, string | undefined>>, noPrompt: string | undefined): ReturnType<typeof collectSecrets> {
  try {
    return collectSecrets(plan, env);
  } catch (error) {
    if (!(error instanceof InputError) || noPrompt === undefined) throw error;
    throw new InputError(`${error.message}\n(exch-cert asks for a secret that is not set only on a terminal; ${noPrompt})`, error.hint);
  }
}

function checkResume(plan: Plan, journalDir: string, runId: string, force: boolean, io: CliIo, terminal: Terminal): ResumeState {
  const state = readJournal(journalDir, runId);
  const later = listRuns(journalDir).find((run) => run.resumedFrom === runId);
  if (later !== undefined) {
    throw new InputError(`run ${runId} was resumed already, by run ${later.runId} (${later.outcome}): resuming it again would repeat what that run did`, later.resumable ? `resume the later run: --resume ${later.runId}` : `see \`exch-cert runs\`: ${later.reason}`);
  }
  const judged = judgeResume(state);
  if (!judged.resumable) {
    const hint =
      judged.outcome === 'running'
        ? 'wait for it to end (or stop it), then resume'
        : 'start a new run: the steps check what is already done and do not repeat it';
    throw new InputError(judged.outcome === 'running' ? `run ${runId} is ${judged.reason}` : `run ${runId} cannot be resumed: ${judged.reason}`, hint);
  }
  if (state.fingerprint !== planFingerprint(plan) && !force) {
    throw new InputError(
      `the runbook, its params or the connection changed since run ${runId}; resuming could run steps that no longer match what already ran`,
      'run the same runbook with the same --var values, or pass --force to resume anyway',
    );
  }
  io.stderr.write(terminal.color.dim(`exch-cert: resuming run ${runId}: ${judged.reason}\n`));
  return state;
}

/**
 * On a terminal, Ctrl-C would also reach PowerShell (same process group) and cut a step in half.
 * Reading the keyboard in raw mode turns Ctrl-C into a keystroke only exch-cert sees.
 */
export function captureCtrlC(io: CliIo, interrupts: Interrupts): { pause(): void; resume(): void; stop(): void } | undefined {
  const stdin = process.stdin;
  if (io.stdin !== stdin || !stdin.isTTY) return undefined;
  const onData = (data: Buffer): void => {
    if (data.includes(0x03)) interrupts.press('Ctrl-C');
  };
  // A terminal that closes (SIGHUP) makes reads fail; the run goes on and stops after the step.
  const onError = (): void => undefined;
  const start = (): void => {
    stdin.setRawMode(true);
    stdin.on('data', onData);
    stdin.on('error', onError);
    stdin.resume();
  };
  const pause = (): void => {
    stdin.off('data', onData);
    try {
      stdin.setRawMode(false);
    } catch {
      // The terminal is gone.
    }
    stdin.pause();
  };
  start();
  return { pause, resume: start, stop: pause };
}
