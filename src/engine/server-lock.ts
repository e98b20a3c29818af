import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../errors.js';

/** Who holds a server: written into its lock file. */
export interface LockHolder {
  readonly runId: string;
  readonly pid: number;
  readonly host: string;
  readonly startedAt: string;
  readonly server: string;
}

export interface LockOptions {
  /** Take over a stale lock (its process is gone). */
  readonly force: boolean;
  /** The run being resumed: its own stale lock is taken over without --force. */
  readonly resumeOf?: string | undefined;
  /** Whether a process of this machine still runs; `process.kill(pid, 0)` by default. */
  readonly isAlive?: (pid: number) => boolean;
}

export interface ServerLock {
  readonly path: string;
  /** Removes the lock file, if it is still this run's. */
  release(): void;
}

/**
 * One run per server at a time: an exclusive lock file per server in the journal folder
 * (`locks/<server>.lock`, created with O_EXCL) holding the run id, pid, host and start time. A
 * second run is refused (exit 2) naming the run that holds it; a lock whose process is gone is
 * named as stale and taken over only with --force (or by a --resume of that same run).
 */
export function acquireServerLock(dir: string, me: LockHolder, options: LockOptions): ServerLock {
  const folder = join(dir, 'locks');
  mkdirSync(folder, { recursive: true });
  // Server names are letters, digits, hyphens and dots (checked where the connection is built).
  const path = join(folder, `${me.server.toLowerCase()}.lock`);
  const content = JSON.stringify(me) + '\n';
  if (!create(path, content)) {
    const holder = readHolder(path);
    const alive = options.isAlive ?? isAlive;
    const running = holder === undefined || holder.host !== me.host || alive(holder.pid);
    if (running) throw heldError(me.server, path, holder);
    if (!options.force && holder.runId !== options.resumeOf) {
      throw new InputError(
        `a stale lock on ${me.server} from run ${holder.runId} (pid ${holder.pid} on ${holder.host}, since ${holder.startedAt}) is left: that process no longer runs`,
        `check what that run did (exch-cert renew --resume ${holder.runId} continues it), or pass --force to take the lock over`,
      );
    }
    takeOver(path, content, me);
  }
  return {
    path,
    release: () => {
      if (readHolder(path)?.runId === me.runId) unlinkSync(path);
    },
  };
}

/** Creates the lock file; false when it exists. */
function create(path: string, content: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new InputError(`cannot create the lock ${path}: ${(error as Error).message}`, 'choose a --journal-dir this user can write');
  }
  try {
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
  return true;
}

/**
 * Moves a stale lock aside and creates ours. Only one of two runs taking over at once can move
 * the stale file (the other finds it gone), and only one can then create the new one.
 */
function takeOver(path: string, content: string, me: LockHolder): void {
  const aside = `${path}.stale-${me.runId}`;
  try {
    renameSync(path, aside);
  } catch {
    // Someone else moved it first; whoever creates the lock next holds it.
  }
  if (existsSync(aside)) unlinkSync(aside);
  if (!create(path, content)) throw heldError(me.server, path, readHolder(path));
}

function readHolder(path: string): LockHolder | undefined {
  try {
    const value = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockHolder>;
    if (typeof value.runId === 'string' && typeof value.pid === 'number' && typeof value.host === 'string') {
      return { runId: value.runId, pid: value.pid, host: value.host, startedAt: String(value.startedAt ?? '?'), server: String(value.server ?? '?') };
    }
  } catch {
    // Being written right now, or damaged: treated as held.
  }
  return undefined;
}

function heldError(server: string, path: string, holder: LockHolder | undefined): InputError {
  return holder
    ? new InputError(
        `${server} is being changed by run ${holder.runId} (exch-cert pid ${holder.pid} on ${holder.host}, since ${holder.startedAt}); one run per server at a time`,
        'wait for that run to end; if it was stopped on another machine, check what it did, then remove ' + path,
      )
    : new InputError(`${server} is locked by ${path}, which cannot be read`, 'if no run is changing that server, remove the file');
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
