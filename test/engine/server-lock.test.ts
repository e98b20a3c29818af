import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { acquireServerLock, type LockHolder } from '../../src/engine/server-lock.js';
import { InputError } from '../../src/errors.js';

const holder = (runId: string, pid = process.pid, host = 'ADMINPC'): LockHolder => ({ runId, pid, host, startedAt: '2026-12-01T10:00:00.000Z', server: 'EXCH01' });

describe('server lock', () => {
  it('lets one run hold a server, refuses a second naming the first, and frees it on release', () => {
    const dir = mkdtempSync(join(tmpdir(), 'exch-cert-lock-'));
    const first = acquireServerLock(dir, holder('run-a'), { force: false });
    expect(JSON.parse(readFileSync(first.path, 'utf8'))).toMatchObject({ runId: 'run-a', pid: process.pid, host: 'ADMINPC', server: 'EXCH01' });
    expect(statSync(first.path).mode & 0o777).toBe(0o600);
    expect(() => acquireServerLock(dir, holder('run-b'), { force: false })).toThrow(
      `EXCH01 is being changed by run run-a (exch-cert pid ${process.pid} on ADMINPC, since 2026-12-01T10:00:00.000Z)`,
    );
    // --force does not take a lock whose run still runs.
    expect(() => acquireServerLock(dir, holder('run-b'), { force: true })).toThrow(InputError);
    first.release();
    expect(existsSync(first.path)).toBe(false);
    acquireServerLock(dir, holder('run-b'), { force: false }).release();
  });

  it('names a stale lock and takes it over only with --force, or for a --resume of that run', () => {
    const dir = mkdtempSync(join(tmpdir(), 'exch-cert-lock-'));
    acquireServerLock(dir, holder('run-dead', 999_999), { force: false });
    const dead = { isAlive: () => false };
    expect(() => acquireServerLock(dir, holder('run-c'), { force: false, ...dead })).toThrow('a stale lock on EXCH01 from run run-dead (pid 999999 on ADMINPC');
    const resumed = acquireServerLock(dir, holder('run-d'), { force: false, resumeOf: 'run-dead', ...dead });
    expect(JSON.parse(readFileSync(resumed.path, 'utf8'))).toMatchObject({ runId: 'run-d' });
    resumed.release();
    acquireServerLock(dir, holder('run-dead', 999_999), { force: false });
    const forced = acquireServerLock(dir, holder('run-e'), { force: true, ...dead });
    expect(JSON.parse(readFileSync(forced.path, 'utf8'))).toMatchObject({ runId: 'run-e' });
  });

  it('treats a lock from another machine as held: its process cannot be checked from here', () => {
    const dir = mkdtempSync(join(tmpdir(), 'exch-cert-lock-'));
    acquireServerLock(dir, holder('run-far', 1, 'OTHERPC'), { force: false });
    expect(() => acquireServerLock(dir, holder('run-f'), { force: true, isAlive: () => false })).toThrow('is being changed by run run-far (exch-cert pid 1 on OTHERPC');
  });

  it('never releases a lock another run holds now', () => {
    const dir = mkdtempSync(join(tmpdir(), 'exch-cert-lock-'));
    const mine = acquireServerLock(dir, holder('run-g'), { force: false });
    writeFileSync(mine.path, JSON.stringify(holder('run-h')));
    mine.release();
    expect(existsSync(mine.path)).toBe(true);
  });
});
