import { createInterface } from 'node:readline/promises';
import type { PlannedStep } from '../plan/compile.js';
import { escapeUntrusted } from '../text/untrusted.js';

/** Whether a person can be asked: stdin and stderr are terminals and this is not CI. */
export function canPrompt(stdin: { isTTY?: boolean } | undefined, stderr: { isTTY?: boolean }, env: Readonly<Record<string, string | undefined>>): boolean {
  const ci = env['CI'] !== undefined && env['CI'] !== '' && env['CI'] !== 'false';
  return stdin?.isTTY === true && stderr.isTTY === true && !ci;
}

/**
 * Asks on the terminal whether to run a step; anything but y/yes is no. Ctrl-C at the prompt, or a
 * stop signal while it waits, is `interrupted`.
 */
export async function promptForStep(
  step: PlannedStep,
  values: Readonly<Record<string, unknown>>,
  input: NodeJS.ReadableStream,
  output: NodeJS.WritableStream,
  signal: AbortSignal,
): Promise<'yes' | 'no' | 'interrupted'> {
  const readline = createInterface({ input, output, terminal: true });
  const controller = new AbortController();
  const abort = (): void => controller.abort();
  signal.addEventListener('abort', abort, { once: true });
  readline.once('SIGINT', abort);
  try {
    const why = step.destructive ? 'cannot be undone' : 'asks for confirmation';
    // What the step will act on, as it is known now: the certificate to remove, its backup file.
    const known = Object.entries(values).map(([reference, value]) => `\n  ${reference.replace(/^steps\./, '').replace('.outputs.', ' ')}: ${escapeUntrusted(Array.isArray(value) ? value.join(', ') : String(value))}`);
    const answer = await readline.question(`\nStep ${step.id} (${step.action}) ${why}: ${escapeUntrusted(step.title)}${known.join('')}\nRun it? [y/N] `, { signal: controller.signal });
    return /^y(es)?$/i.test(answer.trim()) ? 'yes' : 'no';
  } catch (error) {
    if (controller.signal.aborted) return 'interrupted';
    throw error;
  } finally {
    signal.removeEventListener('abort', abort);
    readline.close();
  }
}
