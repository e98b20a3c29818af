import { read } from 'read';
import { ExitCode, UserError } from '../errors.js';
import type { Plan } from '../plan/compile.js';
import type { SecretCheck } from './local-pfx.js';

/** Asks for one line without showing what is typed; rejects on Ctrl-C. */
export type HiddenQuestion = (prompt: string) => Promise<string>;

/** The terminal's own hidden prompt: nothing typed is echoed, not even as asterisks. */
export function terminalQuestion(input: NodeJS.ReadableStream, output: NodeJS.WritableStream): HiddenQuestion {
  return async (prompt) => {
    try {
      return await read({ prompt, silent: true, input, output, terminal: true });
    } finally {
      // The Enter that ended the answer was not echoed either: end the prompt's line.
      output.write('\n');
    }
  };
}

/** Why exch-cert will not ask on this terminal: said in the error about a missing secret or confirmation. */
export function whyNoPrompt(stdin: { isTTY?: boolean } | undefined, stderr: { isTTY?: boolean }, env: Readonly<Record<string, string | undefined>>): string {
  const ci = env['CI'];
  if (ci !== undefined && ci !== '' && ci !== 'false' && stdin?.isTTY === true && stderr.isTTY === true) {
    return `CI is set (CI=${ci}), and exch-cert never asks anything in CI`;
  }
  return 'there is no terminal to ask';
}

const ATTEMPTS = 3;

/**
 * Asks, hidden, for each secret of the plan whose environment variable is not set: twice each, so
 * that a typo cannot protect a backup with a password nobody knows, or once when `check` can tell
 * a wrong one (the PFX password opens the PFX). The answers go into the returned environment only:
 * never into the plan, the journal or any output (they are masked like every secret). Ctrl-C at
 * the prompt stops with exit 130, before anything ran.
 */
export async function askForMissingSecrets(
  plan: Plan,
  env: Readonly<Record<string, string | undefined>>,
  descriptions: ReadonlyMap<string, string>,
  ask: HiddenQuestion,
  write: (text: string) => void,
  check?: SecretCheck,
): Promise<Record<string, string | undefined>> {
  const result: Record<string, string | undefined> = { ...env };
  for (const secret of plan.secrets) {
    if (result[secret.env] !== undefined && result[secret.env] !== '') continue;
    const what = descriptions.get(secret.param) ?? `Secret ${secret.param}`;
    write(`${secret.env} is not set. Typing is not shown.\n`);
    const verify = check?.param === secret.param ? (value: string) => check.problem(value) : undefined;
    result[secret.env] = await askUntilSure(what, secret.env, ask, write, verify);
  }
  return result;
}

async function askUntilSure(what: string, variable: string, ask: HiddenQuestion, write: (text: string) => void, verify: ((value: string) => string | undefined) | undefined): Promise<string> {
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    const first = await question(ask, `${what}:`, variable);
    if (first === '') {
      write('  empty; type it again (Ctrl-C stops)\n');
      continue;
    }
    if (verify) {
      const problem = verify(first);
      if (problem === undefined) return first;
      write(`  ${problem}; once more\n`);
      continue;
    }
    const second = await question(ask, `${what} (again):`, variable);
    if (first === second) return first;
    write('  the two did not match; once more\n');
  }
  throw new UserError(`${variable} was not given after ${ATTEMPTS} tries; nothing was run`, ExitCode.usage, `set the environment variable ${variable} instead`);
}

async function question(ask: HiddenQuestion, prompt: string, variable: string): Promise<string> {
  try {
    return await ask(prompt);
  } catch {
    throw new UserError(`stopped at the prompt for ${variable}; nothing was run`, ExitCode.interrupted);
  }
}
