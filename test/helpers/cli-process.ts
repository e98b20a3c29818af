import { spawn, type ChildProcess } from 'node:child_process';
import { cliBin, TEST_ENV } from './cli.js';

/** A running exch-cert, for tests that must act while it runs (Ctrl-C, prompts). */
export class CliProcess {
  stdout = '';
  stderr = '';
  private readonly child: ChildProcess;
  readonly exited: Promise<number | null>;

  /** `command` replaces `node`; with `noBin` it is the whole command line (e.g. script(1) wrapping exch-cert). */
  constructor(args: readonly string[], options: { env: Record<string, string | undefined>; cwd: string; command?: readonly string[]; noBin?: boolean }) {
    const env = Object.fromEntries(Object.entries({ PATH: process.env['PATH'], HOME: process.env['HOME'], ...TEST_ENV, ...options.env }).filter((entry): entry is [string, string] => entry[1] !== undefined));
    const [command, ...prefix] = options.command ?? [process.execPath];
    this.child = spawn(command ?? process.execPath, options.noBin ? [...prefix, ...args] : [...prefix, cliBin, ...args], { cwd: options.cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout?.on('data', (chunk: Buffer) => (this.stdout += chunk.toString('utf8')));
    this.child.stderr?.on('data', (chunk: Buffer) => (this.stderr += chunk.toString('utf8')));
    this.exited = new Promise((resolve) => this.child.once('close', (code) => resolve(code)));
  }

  /** Resolves once the combined output matches, or rejects after `timeoutMs`. */
  async waitFor(pattern: RegExp, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(this.stdout + this.stderr)) {
      if (Date.now() > deadline) {
        // Never leave a stuck exch-cert behind a failed test.
        this.child.kill('SIGKILL');
        throw new Error(`timed out waiting for ${String(pattern)}; output so far:\n${this.stdout.slice(-4000)}\n${this.stderr.slice(-4000)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  write(text: string): void {
    this.child.stdin?.write(text);
  }
}
