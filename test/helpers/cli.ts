import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { inject } from 'vitest';
import { repoRoot } from './plan.js';

/** The CLI built for this test run by the global setup. */
export const cliBin = join(inject('cliDist'), 'bin.js');

/**
 * The environment every CLI test starts with: a tenth of each runbook's retry delays
 * (src/cli/clock.ts), so that scenarios of retries and rollbacks do not sleep CI's time away.
 */
export const TEST_ENV: Readonly<Record<string, string>> = { EXCH_CERT_TEST_RETRY_DELAY_SCALE: '0.1' };

export interface CliResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the built CLI (dist/, built by the global setup) as a user would. */
export function runCli(args: readonly string[], options: { env?: Record<string, string | undefined>; cwd?: string; input?: string } = {}): CliResult {
  const env: Record<string, string | undefined> = { PATH: process.env['PATH'], HOME: process.env['HOME'], ...TEST_ENV, ...options.env };
  const result = spawnSync(process.execPath, [cliBin, ...args], {
    cwd: options.cwd ?? repoRoot,
    env: Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined)),
    encoding: 'utf8',
    input: options.input ?? '',
    timeout: 180_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** True when text contains an ANSI escape sequence. */
export const hasAnsi = (text: string): boolean => text.includes('\u001b[');

/** A stack trace line, which users must never see for known errors. */
export const STACK_LINE = /^\s+at .+[(:]\d+/m;
