import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * An executable `pwsh` that runs test/fake-shell/fake-pwsh.mjs with this very
 * Node, whatever PATH the adapter passes on and whether or not git kept the
 * script's executable bit. Returns the path and a cleanup function.
 */
export function installFakeShell(): { readonly path: string; readonly dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'exch-cert-fake-pwsh-'));
  const path = join(dir, 'pwsh');
  const script = join(import.meta.dirname, '..', 'fake-shell', 'fake-pwsh.mjs');
  writeFileSync(path, `#!/bin/sh\nexec '${process.execPath}' '${script}' "$@"\n`, { mode: 0o755 });
  return { path, dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** True while `pid` is a live process (a zombie waiting to be reaped counts as gone). */
export function isRunning(pid: number): boolean {
  try {
    const state = execFileSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' }).trim();
    return state !== '' && !state.startsWith('Z');
  } catch {
    return false;
  }
}

/** The numbers printed after `label ` in a log, e.g. pids from `child 123`. */
export function numbersAfter(label: string, log: string): number[] {
  return [...log.matchAll(new RegExp(`^${label} (\\d+)$`, 'gm'))].map((match) => Number(match[1]));
}
