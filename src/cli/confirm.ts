import { createInterface } from 'node:readline/promises';
import type { PlannedStep } from '../plan/compile.js';

/** Whether a person can be asked: stdin and stderr are terminals and this is not CI. */
export function canPrompt(stdin: { isTTY?: boolean } | undefined, stderr: { isTTY?: boolean }, env: Readonly<Record<string, string | undefined>>): boolean {
  const ci = env['CI'] !== undefined && env['CI'] !== '' && env['CI'] !== 'false';
  return stdin?.isTTY === true && stderr.isTTY === true && !ci;
}

/** Asks on the terminal whether to run a step; anything but y/yes is no. */
export async function promptForStep(step: PlannedStep, input: NodeJS.ReadableStream, output: NodeJS.WritableStream): Promise<boolean> {
  const readline = createInterface({ input, output, terminal: true });
  try {
    const why = step.destructive ? 'cannot be undone' : 'asks for confirmation';
    const answer = await readline.question(`\nStep ${step.id} (${step.action}) ${why}: ${step.title}\nRun it? [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    readline.close();
  }
}
