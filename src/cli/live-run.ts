import { join, resolve } from 'node:path';
import { executePlan, type Clock } from '../engine/execute.js';
import { Journal, newRunId, planFingerprint, readJournal, type ResumeState } from '../engine/journal.js';
import { Masker } from '../engine/mask.js';
import { collectSecrets } from '../engine/secrets.js';
import { ExitCode, InputError, UserError } from '../errors.js';
import type { Plan } from '../plan/compile.js';
import type { RunOptions } from './commands/run.js';
import { canPrompt, promptForStep } from './confirm.js';
import { CtrlC } from './interrupt.js';
import { displayPath } from './load-plan.js';
import { FanOut, JsonReporter } from './reporters/json.js';
import { resolveShell } from './shell.js';
import { TextReporter } from './reporters/text.js';
import { ensureSimulatorState } from './simulator-state.js';
import type { CliIo, Terminal } from './terminal.js';

export interface LiveOptions extends RunOptions {
  /** With --simulate: the simulator's state file (created with the built-in default when missing). */
  readonly simulateState: string | undefined;
}

const realClock: Clock = {
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
 * Runs a plan for real. Everything that can stop the run is checked before the
 * first block is sent: confirmations that cannot be asked (exit 5), missing
 * secrets (exit 2), a changed runbook on --resume (exit 2).
 */
export async function runLive(plan: Plan, options: LiveOptions, io: CliIo, terminal: Terminal): Promise<number> {
  const interactive = canPrompt(io.stdin, io.stderr, io.env);
  const needConfirmation = plan.steps.filter((step) => step.confirm && !step.skipped);
  if (needConfirmation.length > 0 && !options.yes && !interactive) {
    throw new UserError(
      `step ${needConfirmation.map((step) => step.id).join(', ')} needs confirmation and there is no terminal to ask; nothing was run`,
      ExitCode.confirmationRequired,
      'review the plan with --dry-run, then run again with --yes',
    );
  }
  const secrets = collectSecrets(plan, io.env);
  const masker = new Masker(secrets.values);
  const journalDir = resolve(io.cwd, options.journalDir ?? join('.exch-cert', 'runs'));
  const resume = options.resume !== undefined ? checkResume(plan, journalDir, options.resume, options.force === true) : undefined;
  const shellEnv: Record<string, string> = { ...secrets.shellEnv };
  if (options.simulateState !== undefined) shellEnv['EXCH_CERT_SIMULATOR_STATE'] = options.simulateState;

  const { createNodePowerShellFactory } = await import('../powershell/node-powershell.js');
  const sessions = createNodePowerShellFactory({ shell: resolveShell(options.shell, io.env), mask: (text) => masker.mask(text) });
  if (options.simulateState !== undefined) await ensureSimulatorState(sessions, options.simulateState, plan, io, terminal);

  const runId = newRunId(new Date());
  const journal = Journal.create(journalDir, runId);
  // ora is loaded only where spinners are shown (it costs start-up time for nothing in CI and pipes).
  const ora = terminal.interactive && !options.json ? (await import('ora')).default : undefined;
  const text = new TextReporter(io, terminal, ora ? (label) => ora({ text: label, stream: io.stderr as NodeJS.WritableStream, discardStdin: false }) : undefined, options.verbose === true);
  const sink = new FanOut(journal, options.json ? new JsonReporter(io, runId) : text);
  const ctrlC = new CtrlC(sink);
  ctrlC.install();
  const keys = interactive ? captureCtrlC(io, ctrlC) : undefined;
  try {
    const result = await executePlan({
      plan,
      runId,
      sessions,
      shellEnv,
      sink,
      masker,
      interrupt: ctrlC,
      clock: realClock,
      ...(resume ? { resume } : {}),
      confirm: async (step) => {
        if (options.yes) return 'assumed-yes';
        text.stopSpinner();
        keys?.pause();
        try {
          return (await promptForStep(step, process.stdin, io.stderr as NodeJS.WritableStream, ctrlC.abortSignal)) ? 'yes' : 'no';
        } finally {
          keys?.resume();
        }
      },
    });
    io.stderr.write(terminal.color.dim(`journal: ${displayPath(journal.path, io.cwd)}\n`));
    return result.exitCode;
  } finally {
    keys?.stop();
    ctrlC.uninstall();
    journal.close();
  }
}

function checkResume(plan: Plan, journalDir: string, runId: string, force: boolean): ResumeState {
  const state = readJournal(journalDir, runId);
  if (state.rolledBack) {
    throw new InputError(
      `run ${runId} failed and its onFailure steps rolled back part of what it did; resuming would skip steps whose effect was undone`,
      'start a new run: the steps check what is already done and do not repeat it',
    );
  }
  if (state.fingerprint !== planFingerprint(plan) && !force) {
    throw new InputError(
      `the runbook, its params or the connection changed since run ${runId}; resuming could run steps that no longer match what already ran`,
      'run the same runbook with the same --var values, or pass --force to resume anyway',
    );
  }
  return state;
}

/**
 * On a terminal, Ctrl-C would also reach PowerShell (same process group) and
 * cut a step in half. Reading the keyboard in raw mode turns Ctrl-C into a
 * keystroke only exch-cert sees.
 */
function captureCtrlC(io: CliIo, ctrlC: CtrlC): { pause(): void; resume(): void; stop(): void } | undefined {
  const stdin = process.stdin;
  if (io.stdin !== stdin || !stdin.isTTY) return undefined;
  const onData = (data: Buffer): void => {
    if (data.includes(0x03)) ctrlC.press();
  };
  const start = (): void => {
    stdin.setRawMode(true);
    stdin.on('data', onData);
    stdin.resume();
  };
  const pause = (): void => {
    stdin.off('data', onData);
    stdin.setRawMode(false);
    stdin.pause();
  };
  start();
  return { pause, resume: start, stop: pause };
}
