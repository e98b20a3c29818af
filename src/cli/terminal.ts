import { Chalk, type ChalkInstance } from 'chalk';

/** What the process is connected to: streams, environment, and whether a person is watching. */
export interface CliIo {
  readonly stdout: { write(text: string): unknown; readonly isTTY?: boolean };
  readonly stderr: { write(text: string): unknown; readonly isTTY?: boolean; readonly columns?: number };
  readonly stdin?: { readonly isTTY?: boolean };
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
}

/** How to talk to a person on stderr: colours and spinners only where they belong. */
export interface Terminal {
  readonly color: ChalkInstance;
  /** A person is watching stderr: spinners and prompts make sense. */
  readonly interactive: boolean;
}

/**
 * Colours follow NO_COLOR (any non-empty value turns them off; chalk itself
 * ignores it), FORCE_COLOR, TERM=dumb and whether stderr is a terminal.
 * Spinners additionally need no CI variable and a terminal with a width.
 */
export function detectTerminal(io: CliIo): Terminal {
  const tty = io.stderr.isTTY === true;
  const dumb = io.env['TERM'] === 'dumb';
  const ci = io.env['CI'] !== undefined && io.env['CI'] !== '' && io.env['CI'] !== 'false';
  const force = io.env['FORCE_COLOR'];
  let level: 0 | 1 | 2 | 3 = tty && !dumb ? 1 : 0;
  if (io.env['NO_COLOR']) level = 0;
  if (force !== undefined && force !== '') level = force === '0' || force === 'false' ? 0 : 1;
  // A terminal that reports no width (a pty without a window size) would make spinner redraws misbehave.
  const sized = (io.stderr.columns ?? 0) > 0;
  return { color: new Chalk({ level }), interactive: tty && !dumb && !ci && sized };
}
